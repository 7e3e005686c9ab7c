"""The TPM 2.0 device key against a software TPM (swtpm), started here on free ports.

Skipped with the reason where swtpm or tpm2-pytss is missing (`make test` installs them on
Debian: .ci/install-debian-packages and .ci/install-tpm2-pytss).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from stethoscope_desktop.device_trust.csr import certificate_request_pem
from stethoscope_desktop.device_trust.keys import (
    TPM_KEY_FILE,
    DeviceKeyError,
    TpmDeviceKey,
    open_device_key,
    replace_device_key,
)
from stethoscope_desktop.device_trust.token import sign_token
from stethoscope_desktop.device_trust.verify import verify_token
from tests.device_trust.helpers import SoftwareTpm, closed_port

NONCE = "a-nonce-of-the-login-server"
ORIGIN = "https://login.example.com"


@pytest.fixture
def tpm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftwareTpm]:
    software_tpm = SoftwareTpm(tmp_path / "tpm-state")
    software_tpm.start()
    monkeypatch.delenv("TPM2TOOLS_TCTI", raising=False)
    monkeypatch.setenv("TSS2_TCTI", software_tpm.tcti)
    try:
        yield software_tpm
    finally:
        software_tpm.stop()


def _token(key: TpmDeviceKey, now: int) -> str:
    payload = {"nonce": NONCE, "aud": ORIGIN, "iat": now, "exp": now + 300}
    return sign_token(key, payload)


def test_a_tpm_key_signs_and_is_loaded_again_after_the_tpm_restarts(
    tpm: SoftwareTpm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "keys"
    key = open_device_key("auto", folder)
    assert isinstance(key, TpmDeviceKey) and key.protection == "tpm"
    path = folder / TPM_KEY_FILE
    assert key.path == path and os.stat(path).st_mode & 0o777 == 0o600
    jwk = key.public_jwk
    token = _token(key, 1_800_000_000)
    assert verify_token(token, jwk, nonce=NONCE, origin=ORIGIN, now=1_800_000_010)["aud"] == ORIGIN

    tpm.stop()
    tpm.start()  # the same state folder, on new ports
    monkeypatch.setenv("TSS2_TCTI", tpm.tcti)
    again = open_device_key("tpm", folder)
    assert again.public_jwk == jwk
    token = _token(again, 1_800_000_100)  # type: ignore[arg-type]
    verify_token(token, jwk, nonce=NONCE, origin=ORIGIN, now=1_800_000_110)


def test_a_certificate_request_signed_by_the_tpm_key_verifies(
    tpm: SoftwareTpm, tmp_path: Path
) -> None:
    key = open_device_key("tpm", tmp_path)
    request = x509.load_pem_x509_csr(certificate_request_pem(key).encode())
    assert request.is_signature_valid
    assert request.public_key() == key.public_key()


def test_tpm_gone_is_a_clear_error_and_the_key_is_kept(
    tpm: SoftwareTpm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_device_key("tpm", tmp_path)
    blob = key.path.read_bytes()
    tpm.stop()
    with pytest.raises(DeviceKeyError, match=rf"no TPM answers at swtpm.*{key.path}"):
        key.sign(b"data")
    for choice in ("auto", "tpm"):
        with pytest.raises(DeviceKeyError, match=rf"no TPM answers.*{key.path}"):
            open_device_key(choice, tmp_path)
    # Asked for a software key, the app says the TPM key exists instead of making another.
    with pytest.raises(DeviceKeyError, match=r"software.*tpm key|no TPM answers"):
        open_device_key("software", tmp_path)
    assert key.path.read_bytes() == blob
    assert sorted(p.name for p in tmp_path.iterdir()) == [TPM_KEY_FILE, "tpm-state"]
    monkeypatch.setenv("TSS2_TCTI", f"swtpm:host=127.0.0.1,port={closed_port()}")
    with pytest.raises(DeviceKeyError, match="no TPM answers"):
        open_device_key("tpm", tmp_path)


def test_another_tpm_refuses_the_key(
    tpm: SoftwareTpm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_device_key("tpm", tmp_path / "keys")
    other = SoftwareTpm(tmp_path / "other-state")
    other.start()
    try:
        monkeypatch.setenv("TSS2_TCTI", other.tcti)
        with pytest.raises(DeviceKeyError, match=rf"refuses the device key {key.path}"):
            open_device_key("tpm", tmp_path / "keys")
    finally:
        other.stop()


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda blob: b"",
        lambda blob: b"not a tpm key",
        lambda blob: blob[:-5],
        lambda blob: blob + b"extra",
        lambda blob: blob[:40] + bytes([blob[40] ^ 0xFF]) + blob[41:],
    ],
)
def test_a_corrupt_blob_is_a_clear_error_and_is_kept(
    tpm: SoftwareTpm, tmp_path: Path, corrupt: object
) -> None:
    key = open_device_key("tpm", tmp_path)
    assert callable(corrupt)
    damaged = corrupt(key.path.read_bytes())
    key.path.write_bytes(damaged)
    with pytest.raises(DeviceKeyError, match=rf"{key.path}.*corrupt"):
        open_device_key("tpm", tmp_path)
    assert key.path.read_bytes() == damaged


def test_new_replaces_a_tpm_key(tpm: SoftwareTpm, tmp_path: Path) -> None:
    old = open_device_key("tpm", tmp_path)
    new, backups = replace_device_key("tpm", tmp_path)
    assert new.protection == "tpm" and new.kid != old.kid
    assert backups[0].name.startswith(f"{TPM_KEY_FILE}.replaced-")
