"""`stethoscope-desktop device-key` and `verify-token`, run as a person runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from stethoscope_desktop.device_trust.jws import jwk_thumbprint
from stethoscope_desktop.device_trust.keys import SoftwareDeviceKey
from stethoscope_desktop.device_trust.token import sign_token
from tests.device_trust.helpers import SoftwareTpm, closed_port

ROOT = Path(__file__).resolve().parents[2]
NONCE = "nonce-for-the-command-line"
ORIGIN = "https://login.example.com"


def _environment(tmp_path: Path, tcti: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "TSS2_TCTI": tcti,
    }


def _run(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # No TPM answers: `auto` makes a software key.
    return _environment(tmp_path, f"swtpm:host=127.0.0.1,port={closed_port()}")


def _key_file(tmp_path: Path, name: str = "software-key.pem") -> Path:
    return tmp_path / "data" / "stethoscope" / "device-key" / name


def test_device_key_prints_the_public_jwk_and_keeps_the_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = _run(env, "device-key")
    assert first.returncode == 0, first.stderr
    jwk = json.loads(first.stdout)
    assert set(jwk) == {"kty", "crv", "x", "y", "kid"}
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    assert jwk["kid"] == jwk_thumbprint(jwk)
    assert "d" not in jwk
    assert os.stat(_key_file(tmp_path)).st_mode & 0o777 == 0o600
    # A TCTI variable names a TPM that does not answer: `auto` makes a software key, and says
    # on stderr that it stays until --new.
    warning, made = first.stderr.splitlines()
    assert warning.startswith("WARNING ") and "a TPM seems to be here (swtpm:" in warning
    assert "so it is a software key, kept until `stethoscope-desktop device-key --new`" in warning
    assert made == f"a software key: {_key_file(tmp_path)}"
    second = _run(env, "device-key")
    assert second.stderr == f"a software key: {_key_file(tmp_path)}\n"  # no warning: it exists
    assert json.loads(second.stdout) == jwk
    # The window's About reads the kid from beside the key.
    kept = json.loads(_key_file(tmp_path, "public-key.json").read_text())
    assert kept["kid"] == jwk["kid"] and kept["keyProtection"] == "software"


def test_device_key_csr_is_a_request_signed_by_the_device_key(env: dict[str, str]) -> None:
    jwk = json.loads(_run(env, "device-key").stdout)
    result = _run(env, "device-key", "--csr")
    assert result.returncode == 0, result.stderr
    request = x509.load_pem_x509_csr(result.stdout.encode())
    assert request.is_signature_valid
    numbers = request.public_key().public_numbers()  # type: ignore[union-attr]
    assert numbers.x.to_bytes(32, "big") == _b64(jwk["x"])
    assert jwk["kid"] in request.subject.rfc4514_string()


def _b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_corrupt_key_is_reported_and_replaced_only_by_new(
    env: dict[str, str], tmp_path: Path
) -> None:
    old = json.loads(_run(env, "device-key").stdout)
    path = _key_file(tmp_path)
    path.write_bytes(b"corrupt")
    result = _run(env, "device-key")
    assert result.returncode == 1 and result.stdout == ""
    assert str(path) in result.stderr and "corrupt" in result.stderr
    assert "device-key --new" in result.stderr
    assert path.read_bytes() == b"corrupt"
    replaced = _run(env, "device-key", "--new")
    assert replaced.returncode == 0, replaced.stderr
    new = json.loads(replaced.stdout)
    assert new["kid"] != old["kid"]
    backups = list(path.parent.glob("software-key.pem.replaced-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == b"corrupt"
    # The backup is kept, and the person is told it still signs and how to delete it.
    assert (
        f"the old device key is kept as {backups[0]}: it can still sign device tokens, which "
        "login servers that enrolled the old key accept; once IT has enrolled the new key, "
        f"delete it (rm {backups[0]})"
    ) in replaced.stderr


def test_csr_and_new_go_not_together(env: dict[str, str]) -> None:
    result = _run(env, "device-key", "--csr", "--new")
    assert result.returncode == 64 and "not allowed with" in result.stderr


def test_verify_token_exits_0_for_a_valid_token_and_1_naming_the_check(
    env: dict[str, str], tmp_path: Path
) -> None:
    key = SoftwareDeviceKey.create(tmp_path / "server-side-test-key.pem")
    now = int(time.time())
    token = sign_token(key, {"nonce": NONCE, "aud": ORIGIN, "iat": now, "exp": now + 300})
    jwk_file = tmp_path / "device.jwk"
    jwk_file.write_text(json.dumps(key.public_jwk))
    for key_argument in (json.dumps(key.public_jwk), str(jwk_file)):
        valid = _run(
            env, "verify-token", token, "--key", key_argument, "--nonce", NONCE, "--origin", ORIGIN
        )
        assert valid.returncode == 0, valid.stderr
        assert json.loads(valid.stdout)["nonce"] == NONCE
    wrong = _run(
        env, "verify-token", token, "--key", str(jwk_file), "--nonce", "x" * 20, "--origin", ORIGIN
    )
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert "token refused: nonce:" in wrong.stderr
    other = _run(
        env, "verify-token", token, "--key", str(jwk_file), "--nonce", NONCE, "--origin", "local"
    )
    assert other.returncode == 1 and "audience" in other.stderr
    # The origin in another spelling of the same origin verifies; one that is no origin is the
    # server's mistake, said as such.
    spelled, path = (
        _run(env, "verify-token", token, "--key", str(jwk_file), "--nonce", NONCE, "--origin", o)
        for o in ("HTTPS://Login.Example.COM:443/", ORIGIN + "/login")
    )
    assert spelled.returncode == 0, spelled.stderr
    assert path.returncode == 1 and "is not an origin" in path.stderr
    missing = _run(
        env,
        "verify-token",
        token,
        "--key",
        str(tmp_path / "nope"),
        "--nonce",
        NONCE,
        "--origin",
        ORIGIN,
    )
    assert missing.returncode == 1 and "cannot read the key" in missing.stderr


@pytest.fixture
def tpm(tmp_path: Path) -> Iterator[SoftwareTpm]:
    software_tpm = SoftwareTpm(tmp_path / "tpm-state")
    software_tpm.start()
    try:
        yield software_tpm
    finally:
        software_tpm.stop()


def test_device_key_with_a_tpm_as_config_asks(tmp_path: Path, tpm: SoftwareTpm) -> None:
    env = _environment(tmp_path, tpm.tcti)
    practices = tmp_path / "practices"
    practices.mkdir()
    (practices / "config.yaml").write_text("deviceKey: tpm\n")
    result = _run(env, "device-key", "--practices", str(practices))
    assert result.returncode == 0, result.stderr
    jwk = json.loads(result.stdout)
    assert result.stderr == f"a tpm key: {_key_file(tmp_path, 'tpm-key.blob')}\n"
    csr = _run(env, "device-key", "--practices", str(practices), "--csr")
    assert x509.load_pem_x509_csr(csr.stdout.encode()).is_signature_valid
    tpm.stop()
    gone = _run(env, "device-key", "--practices", str(practices))
    assert gone.returncode == 1 and "no TPM answers" in gone.stderr
    assert "start the TPM" in gone.stderr and "device-key --new" in gone.stderr
    assert str(_key_file(tmp_path, "tpm-key.blob")) in gone.stderr
    # config.yaml asking for a software key does not replace the TPM key silently either.
    (practices / "config.yaml").write_text("deviceKey: software\n")
    assert _run(env, "device-key", "--practices", str(practices)).returncode == 1
    assert _key_file(tmp_path, "tpm-key.blob").exists()
    assert json.loads(result.stdout) == jwk


def test_device_key_help_names_every_choice_of_device_key() -> None:
    from stethoscope_desktop.cli import _parser
    from stethoscope_desktop.core.config import AppConfig
    from stethoscope_desktop.device_trust.keys import KEY_CHOICES

    commands = next(
        action
        for action in _parser()._actions
        if isinstance(action.choices, dict) and "device-key" in action.choices
    )
    text = " ".join(str(commands.choices["device-key"].description).split())  # type: ignore[index]
    for choice in KEY_CHOICES:
        assert f"{choice} (" in text
    assert f"{AppConfig.device_key} (the default:" in text
    assert "Secure Enclave on a Mac" in text and "TPM 2.0 on Linux" in text
