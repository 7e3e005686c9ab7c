"""The macOS Secure Enclave device key, against a stand-in for its Swift helper.

The stand-in (secure_enclave_standin.py) speaks the helper's protocol with a software key
sealed to a fake enclave secret, so another Mac, a corrupt blob, a missing, hanging or talkative
helper can be played here. `sys.platform` is set to "darwin" where the choice of the key kind is
tested. What CryptoKit and the Secure Enclave do is not tested here (no Mac): only the app's side
of the protocol and what it does with the answers.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from stethoscope_desktop.api.attest import DeviceTrust
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.core.config import parse_config
from stethoscope_desktop.core.yamlfile import parse_yaml
from stethoscope_desktop.device_trust import macos_enclave
from stethoscope_desktop.device_trust.csr import certificate_request_pem
from stethoscope_desktop.device_trust.jws import der_signature_from_raw
from stethoscope_desktop.device_trust.keys import (
    KEY_CHOICES,
    SECURE_ENCLAVE_KEY_FILE,
    SOFTWARE_KEY_FILE,
    DeviceKey,
    DeviceKeyError,
    open_device_key,
    replace_device_key,
)
from stethoscope_desktop.device_trust.macos_enclave import (
    HELPER_NAME,
    HELPER_VARIABLE,
    EnclaveHelperFailed,
    SecureEnclaveDeviceKey,
    find_helper,
)
from stethoscope_desktop.device_trust.public_key import read_public_key_info, remember_public_key
from stethoscope_desktop.device_trust.token import Attester
from stethoscope_desktop.device_trust.verify import TokenRejected, verify_token
from tests.api.helpers import ALLOWED_ORIGIN, Response, make_service, request
from tests.ui.reports import mixed_report

ROOT = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).with_name("secure_enclave_standin.py")
SWIFT_HELPER = ROOT / "packaging" / "macos" / "secure-enclave-key" / "main.swift"
NONCE = "nonce-from-the-login-server"
ORIGIN = "https://login.example.com"
NOW = 1_800_000_000


@dataclass
class StandIn:
    """The stand-in helper as the app finds it, and the commands it was run with."""

    helper: Path
    log: Path
    monkeypatch: pytest.MonkeyPatch

    def commands(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def behave(self, behaviour: str) -> None:
        self.monkeypatch.setenv("STANDIN_BEHAVIOUR", behaviour)

    def move_to_another_mac(self) -> None:
        self.monkeypatch.setenv("STANDIN_ENCLAVE_SECRET", "another Mac")


@pytest.fixture
def enclave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    if sys.platform == "win32":
        pytest.skip("the stand-in helper is run through a POSIX shell script")
    helper = tmp_path / "bin" / HELPER_NAME
    helper.parent.mkdir()
    helper.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(STANDIN))} "$@"\n'
    )
    helper.chmod(0o755)
    log = tmp_path / "helper.log"
    monkeypatch.setenv(HELPER_VARIABLE, str(helper))
    monkeypatch.setenv("STANDIN_ENCLAVE_SECRET", "this Mac")
    monkeypatch.setenv("STANDIN_LOG", str(log))
    monkeypatch.delenv("STANDIN_BEHAVIOUR", raising=False)
    return StandIn(helper, log, monkeypatch)


@pytest.fixture
def mac(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Choose key kinds as on macOS."""
    with monkeypatch.context() as patch:
        patch.setattr(sys, "platform", "darwin")
        yield


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "device-key"


def _verifies(key: DeviceKey, data: bytes, signature: bytes) -> bool:
    try:
        key.public_key().verify(der_signature_from_raw(signature), data, ec.ECDSA(hashes.SHA256()))
    except Exception:
        return False
    return True


def _make_key(folder: Path) -> SecureEnclaveDeviceKey:
    helper = find_helper()
    assert helper is not None
    return SecureEnclaveDeviceKey.create(folder / SECURE_ENCLAVE_KEY_FILE, helper)


def test_auto_on_a_mac_makes_a_secure_enclave_key_in_a_0600_file(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    assert isinstance(key, SecureEnclaveDeviceKey)
    assert key.protection == "secure-enclave"
    assert key.path == folder / SECURE_ENCLAVE_KEY_FILE
    assert os.stat(key.path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in folder.iterdir()) == [SECURE_ENCLAVE_KEY_FILE]
    header, blob, public = key.path.read_text().splitlines()
    assert header == "stethoscope-desktop secure-enclave key 1"
    assert blob.startswith("blob ") and public.startswith("public ")
    assert enclave.commands() == ["available", "create"]
    signature = key.sign(b"data")
    assert len(signature) == 64 and _verifies(key, b"data", signature)
    assert not _verifies(key, b"other data", signature)


def test_the_key_is_loaded_from_its_file_and_checked_by_the_enclave(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    again = open_device_key("auto", folder)
    assert again.public_jwk == key.public_jwk and again.kid == key.kid
    # Opening it had the enclave sign a probe; no new key was made.
    assert enclave.commands() == ["available", "create", "sign"]
    assert _verifies(key, b"later", again.sign(b"later"))


def test_a_token_from_attest_verifies_with_the_keys_jwk(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    attestation = Attester(key).attest(mixed_report(), nonce=NONCE, audience=ORIGIN, now=NOW)
    assert attestation.key_protection == "secure-enclave"
    payload = verify_token(
        attestation.token, key.public_jwk, nonce=NONCE, origin=ORIGIN, now=NOW + 1
    )
    assert payload["keyProtection"] == "secure-enclave" and payload["nonce"] == NONCE
    # Another key's JWK does not verify it.
    other = _make_key(folder.parent / "other")
    with pytest.raises(TokenRejected):
        verify_token(attestation.token, other.public_jwk, nonce=NONCE, origin=ORIGIN, now=NOW + 1)


def _post_attest(folder: Path, nonce: str, origin: str | None = ALLOWED_ORIGIN) -> Response:
    """POST /attest to a fresh API server whose key is the Secure Enclave key of `folder`."""
    service, _ = make_service()
    trust = DeviceTrust(lambda: "secure-enclave", folder=folder)
    server = ApiServer(service, port=0, device_trust=trust)
    server.start()
    headers = {"Content-Type": "application/json"}
    if origin is not None:
        headers["Origin"] = origin
    try:
        return request(
            server.port,
            "POST",
            "/attest",
            headers=headers,
            body=json.dumps({"nonce": nonce}).encode(),
        )
    finally:
        server.stop()


@pytest.mark.allow_warnings  # the refused key is logged as an error
def test_post_attest_answers_with_a_token_of_the_enclave_key(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    answer = _post_attest(folder, NONCE)
    assert answer.status == 200, answer.body
    assert answer.body["keyProtection"] == "secure-enclave"
    jwk = open_device_key("secure-enclave", folder).public_jwk
    payload = verify_token(answer.body["token"], jwk, nonce=NONCE, origin=ALLOWED_ORIGIN)
    assert payload["keyProtection"] == "secure-enclave"
    # On another Mac the key file is refused: 503 and no token; a local program reads the file,
    # a web page what to do without the path.
    enclave.move_to_another_mac()
    refused = _post_attest(folder, NONCE + "-2", origin=None)
    assert refused.status == 503, refused.body
    assert "DEVICE_KEY_UNUSABLE" in json.dumps(refused.body)
    assert str(folder / SECURE_ENCLAVE_KEY_FILE) in json.dumps(refused.body)
    for_the_page = _post_attest(folder, NONCE + "-3")
    assert for_the_page.status == 503, for_the_page.body
    assert "DEVICE_KEY_UNUSABLE" in json.dumps(for_the_page.body)
    assert str(folder) not in json.dumps(for_the_page.body)


def test_a_certificate_request_is_signed_by_the_enclave_key(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    request = x509.load_pem_x509_csr(certificate_request_pem(key).encode())
    assert request.is_signature_valid
    assert request.public_key() == key.public_key()
    assert enclave.commands()[-1] == "sign"


def test_device_key_prints_the_enclave_keys_jwk(
    enclave: StandIn, mac: None, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "stethoscope" / "device-key"
    key = open_device_key("secure-enclave", folder)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "STETHOSCOPE_PRACTICES": "",
    }
    run = subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "device-key"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == key.public_jwk
    assert run.stderr == f"a secure-enclave key: {key.path}\n"
    enclave.move_to_another_mac()
    env["STANDIN_ENCLAVE_SECRET"] = os.environ["STANDIN_ENCLAVE_SECRET"]
    refused = subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "device-key"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and f"refuses the device key {key.path}" in refused.stderr


def test_the_window_learns_the_keys_protection(enclave: StandIn, mac: None, folder: Path) -> None:
    key = open_device_key("auto", folder)
    remember_public_key(key)
    info = read_public_key_info(folder)
    assert info is not None
    assert (info.kid, info.protection, info.key_file) == (key.kid, "secure-enclave", key.path)


def test_a_blob_from_another_mac_is_refused_and_kept(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    before = key.path.read_bytes()
    enclave.move_to_another_mac()
    for choice in ("auto", "tpm", "secure-enclave"):
        with pytest.raises(
            DeviceKeyError,
            match=rf"Secure Enclave refuses the device key {key.path} \(made on another Mac.*--new",
        ):
            open_device_key(choice, folder)
    with pytest.raises(EnclaveHelperFailed, match="refuses") as refused:
        key.sign(b"data")
    assert refused.value.kind == "refused"
    assert key.path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [SECURE_ENCLAVE_KEY_FILE]


def test_a_corrupt_blob_is_refused_and_a_corrupt_file_is_corrupt(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    header, blob_line, public_line = key.path.read_text().splitlines()
    blob = bytearray(base64.b64decode(blob_line.removeprefix("blob ")))
    blob[-1] ^= 1
    changed = f"{header}\nblob {base64.b64encode(bytes(blob)).decode()}\n{public_line}\n"
    key.path.write_text(changed)
    with pytest.raises(DeviceKeyError, match=rf"refuses the device key {key.path}"):
        open_device_key("auto", folder)
    for text in (
        "",
        "garbage\n",
        f"{header}\nblob !!!\n{public_line}\n",
        f"{header}\n{public_line}\n",
    ):
        key.path.write_text(text)
        with pytest.raises(DeviceKeyError, match=rf"{key.path} is corrupt.*--new"):
            open_device_key("auto", folder)
    assert key.path.read_text() == f"{header}\n{public_line}\n"


def test_a_public_key_that_is_not_the_blobs_is_caught(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    other = _make_key(folder.parent / "other")
    header, blob_line, _ = key.path.read_text().splitlines()
    other_public = other.path.read_text().splitlines()[2]
    key.path.write_text(f"{header}\n{blob_line}\n{other_public}\n")
    with pytest.raises(DeviceKeyError, match=rf"does not match the public key in {key.path}"):
        open_device_key("auto", folder)


def test_a_helper_that_signs_with_another_key_is_caught(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    key = open_device_key("auto", folder)
    enclave.behave("wrong-signature")
    with pytest.raises(DeviceKeyError, match="does not match the public key"):
        key.sign(b"data")


def test_without_the_helper_auto_makes_a_software_key_and_tpm_is_an_error(
    enclave: StandIn, mac: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(HELPER_VARIABLE, str(tmp_path / "no-such-helper"))
    for choice in ("tpm", "secure-enclave"):
        with pytest.raises(
            DeviceKeyError,
            match=rf"deviceKey: {choice} asks for .*Secure Enclave.*, but {HELPER_VARIABLE} names .*no-such-helper",
        ):
            open_device_key(choice, tmp_path / choice)
        assert not (tmp_path / choice).exists()
    assert open_device_key("auto", tmp_path / "auto").protection == "software"
    # Not frozen and no variable: the app has no helper to run.
    monkeypatch.delenv(HELPER_VARIABLE)
    with pytest.raises(
        DeviceKeyError,
        match=r"helper stethoscope-secure-enclave comes with the app built for macOS",
    ):
        open_device_key("secure-enclave", tmp_path / "none")


def test_a_key_whose_helper_is_gone_is_an_error_naming_it(
    enclave: StandIn, mac: None, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_device_key("auto", folder)
    enclave.helper.unlink()
    with pytest.raises(
        DeviceKeyError,
        match=rf"the device key {key.path} is in the Secure Enclave, but {HELPER_VARIABLE} names",
    ):
        open_device_key("auto", folder)
    with pytest.raises(DeviceKeyError, match=rf"helper {enclave.helper} cannot be run"):
        key.sign(b"data")
    assert key.path.exists()


def test_a_mac_without_a_secure_enclave_gets_a_software_key_with_auto(
    enclave: StandIn, mac: None, tmp_path: Path
) -> None:
    enclave.behave("unavailable")
    assert open_device_key("auto", tmp_path / "auto").protection == "software"
    for choice in ("tpm", "secure-enclave"):
        with pytest.raises(DeviceKeyError, match=r"this Mac has none.*deviceKey: software"):
            open_device_key(choice, tmp_path / choice)
        assert not (tmp_path / choice).exists()


def test_tpm_on_a_mac_is_the_secure_enclave(
    enclave: StandIn, mac: None, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HELPER_VARIABLE, str(folder / "missing"))
    with pytest.raises(
        DeviceKeyError,
        match=r"deviceKey: tpm asks for a hardware key: on a Mac, the Secure Enclave \(Macs have no TPM\)",
    ):
        open_device_key("tpm", folder)
    monkeypatch.setenv(HELPER_VARIABLE, str(enclave.helper))
    key = open_device_key("tpm", folder)
    assert key.protection == "secure-enclave"
    assert open_device_key("secure-enclave", folder).kid == key.kid
    assert open_device_key("tpm", folder).kid == key.kid
    with pytest.raises(DeviceKeyError, match=r"deviceKey: software.*secure-enclave key.*--new"):
        open_device_key("software", folder)


def test_a_software_key_is_not_replaced_when_config_asks_for_the_enclave(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    software = open_device_key("software", folder)
    with pytest.raises(DeviceKeyError, match=r"deviceKey: secure-enclave.*software key"):
        open_device_key("secure-enclave", folder)
    assert open_device_key("auto", folder).kid == software.kid
    assert enclave.commands() == []


def test_config_yaml_takes_every_choice_and_no_other() -> None:
    for choice in KEY_CHOICES:
        layer = parse_config(parse_yaml(f"deviceKey: {choice}\n", "config.yaml"))
        assert layer.problems == [] and layer.values["device_key"] == choice
    schema = json.loads((ROOT / "resources" / "schemas" / "config.schema.json").read_text())
    assert schema["properties"]["deviceKey"]["enum"] == list(KEY_CHOICES)
    assert parse_config(parse_yaml("deviceKey: enclave\n", "config.yaml")).problems


def test_secure_enclave_elsewhere_than_macos_is_an_error(
    enclave: StandIn, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(DeviceKeyError, match="Secure Enclave is on Macs only"):
        open_device_key("secure-enclave", folder)
    assert not folder.exists()


def test_new_keeps_the_old_blob_dated_and_makes_another_enclave_key(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    old = open_device_key("auto", folder)
    old_bytes = old.path.read_bytes()
    new, backups = replace_device_key("auto", folder, now=NOW)
    assert new.protection == "secure-enclave" and new.kid != old.kid
    assert [b.name for b in backups] == [f"{SECURE_ENCLAVE_KEY_FILE}.replaced-20270115T080000Z"]
    assert backups[0].read_bytes() == old_bytes
    assert open_device_key("auto", folder).kid == new.kid


def test_new_replaces_a_blob_from_another_mac(enclave: StandIn, mac: None, folder: Path) -> None:
    old = open_device_key("auto", folder)
    enclave.move_to_another_mac()
    new, backups = replace_device_key("auto", folder, now=NOW)
    assert new.kid != old.kid and backups[0].name.startswith(SECURE_ENCLAVE_KEY_FILE)


def test_a_secure_enclave_key_and_another_file_at_once_is_an_error(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    open_device_key("auto", folder)
    (folder / SOFTWARE_KEY_FILE).write_bytes(b"x")
    with pytest.raises(DeviceKeyError, match="several device keys"):
        open_device_key("auto", folder)


def test_a_hanging_helper_is_stopped_in_bounded_time(
    enclave: StandIn, mac: None, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(macos_enclave, "HELPER_TIMEOUT_SECONDS", 1.0)
    enclave.behave("hang")
    started = time.monotonic()
    # A helper that is there but broken is an error, not a silent software key.
    with pytest.raises(
        DeviceKeyError, match=r"did not answer available within 1 s; it was stopped"
    ):
        open_device_key("auto", folder)
    assert time.monotonic() - started < 10
    assert not folder.exists()


def test_a_helper_that_hangs_while_signing_is_stopped(
    enclave: StandIn, mac: None, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = open_device_key("auto", folder)
    monkeypatch.setattr(macos_enclave, "HELPER_TIMEOUT_SECONDS", 1.0)
    enclave.behave("hang")
    started = time.monotonic()
    with pytest.raises(DeviceKeyError, match=r"did not answer sign within 1 s"):
        key.sign(b"data")
    assert time.monotonic() - started < 10


def test_a_helper_that_prints_too_much_is_stopped(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    enclave.behave("flood")
    with pytest.raises(DeviceKeyError, match=r"more than 16384 bytes; it was stopped"):
        open_device_key("auto", folder)


@pytest.mark.parametrize("behaviour", ["garbage", "crash"])
def test_an_answer_outside_the_protocol_is_an_error(
    enclave: StandIn, mac: None, folder: Path, behaviour: str
) -> None:
    enclave.behave(behaviour)
    with pytest.raises(DeviceKeyError, match=r"no answer the app understands to available"):
        open_device_key("auto", folder)
    assert not folder.exists()


def test_an_enclave_that_makes_no_key_leaves_no_file(
    enclave: StandIn, mac: None, folder: Path
) -> None:
    enclave.behave("refuse-create")
    with pytest.raises(
        DeviceKeyError, match=r"Secure Enclave failed with the device key .*made no key"
    ):
        open_device_key("auto", folder)
    assert not (folder / SECURE_ENCLAVE_KEY_FILE).exists()


def test_a_message_too_large_is_not_sent(enclave: StandIn, mac: None, folder: Path) -> None:
    key = open_device_key("auto", folder)
    with pytest.raises(DeviceKeyError, match="more than 1048576"):
        key.sign(b"x" * (macos_enclave.MAX_MESSAGE_BYTES + 1))
    assert enclave.commands() == ["available", "create"]


def test_the_frozen_app_finds_its_helper_in_the_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    contents = tmp_path / "Stethoscope.app" / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    (contents / "Frameworks").mkdir()
    executable = contents / "MacOS" / "stethoscope-desktop"
    executable.write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(executable))
    monkeypatch.setattr(sys, "_MEIPASS", str(contents / "Frameworks"), raising=False)
    assert find_helper({}) is None
    assert macos_enclave.usable_helper({})[1] == (
        f"the app's Secure Enclave helper is missing (not in {contents / 'Frameworks' / HELPER_NAME}, "
        f"{contents / 'MacOS' / HELPER_NAME})"
    )
    helper = contents / "Frameworks" / HELPER_NAME
    helper.write_bytes(b"")
    assert find_helper({}) == helper
    assert macos_enclave.usable_helper({}) == (helper, "")
    assert find_helper({HELPER_VARIABLE: "/elsewhere/helper"}) == Path("/elsewhere/helper")


def test_the_swift_helper_speaks_the_protocol_the_app_expects() -> None:
    # The Swift helper cannot be built here (no macOS): its source must at least name the
    # commands, answers and kinds of error that the app and the stand-in use.
    source = SWIFT_HELPER.read_text(encoding="utf-8")
    for command in ("available", "create", "sign"):
        assert f'case "{command}":' in source
    for kind in ("unavailable", "refused", "failed", "input"):
        assert f'fail("{kind}"' in source
    assert 'answer([SecureEnclave.isAvailable ? "yes" : "no"])' in source
    assert "SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: blob)" in source
    assert "signature.derRepresentation.base64EncodedString()" in source
    assert "key.publicKey.x963Representation.base64EncodedString()" in source
    assert "maximumInputBytes = 1_048_576 + 4_096" in source
    # What the helper reads, the app never exceeds.
    assert macos_enclave.MAX_MESSAGE_BYTES == 1_048_576


def test_the_standin_answers_as_the_protocol_says(enclave: StandIn) -> None:
    run = subprocess.run(
        [str(enclave.helper), "frobnicate"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (run.returncode, run.stdout.split()[:2]) == (2, ["error", "input"])
