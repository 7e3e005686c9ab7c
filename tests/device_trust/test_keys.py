"""The device key: software key files, choosing the kind, errors, replacing only on request."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from stethoscope_desktop.device_trust.jws import der_signature_from_raw
from stethoscope_desktop.device_trust.keys import (
    SOFTWARE_KEY_FILE,
    TPM_KEY_FILE,
    DeviceKeyError,
    SoftwareDeviceKey,
    device_key_folder,
    open_device_key,
    replace_device_key,
    replaced_key_notice,
    tpm2_pytss_missing,
    tpm_device_denied,
    tpm_expected,
    tpm_tcti,
    write_new_file,
)
from tests.device_trust.helpers import closed_port


@pytest.fixture(autouse=True)
def _no_real_tpm(monkeypatch: pytest.MonkeyPatch) -> None:
    # `auto` must not find this machine's TPM: it is pointed at a port nobody answers on.
    monkeypatch.delenv("TPM2TOOLS_TCTI", raising=False)
    monkeypatch.setenv("TSS2_TCTI", f"swtpm:host=127.0.0.1,port={closed_port()}")


def _verifies(key: SoftwareDeviceKey, data: bytes, signature: bytes) -> bool:
    try:
        key.public_key().verify(der_signature_from_raw(signature), data, ec.ECDSA(hashes.SHA256()))
    except Exception:
        return False
    return True


def test_the_folder_is_in_the_users_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert device_key_folder() == tmp_path / "stethoscope" / "device-key"


def test_a_software_key_is_made_once_in_a_0600_file(tmp_path: Path) -> None:
    key = open_device_key("software", tmp_path / "keys")
    path = tmp_path / "keys" / SOFTWARE_KEY_FILE
    assert key.protection == "software" and key.path == path
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "keys").st_mode & 0o777 == 0o700
    assert not [p for p in path.parent.iterdir() if p.name != SOFTWARE_KEY_FILE]
    again = open_device_key("auto", tmp_path / "keys")
    assert again.public_jwk == key.public_jwk
    signature = again.sign(b"data")
    assert len(signature) == 64 and _verifies(key, b"data", signature)


@pytest.mark.allow_warnings
def test_auto_makes_a_software_key_where_no_tpm_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert open_device_key("auto", tmp_path).protection == "software"
    if sys.platform == "linux":
        # TSS2_TCTI names a TPM, which did not answer: the software key stays until --new.
        [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert "a TPM seems to be here (swtpm:host=127.0.0.1" in warning.getMessage()
        assert "kept until `stethoscope-desktop device-key --new`" in warning.getMessage()
        assert "no TPM answers" in warning.getMessage()


def test_auto_falls_back_quietly_where_no_tpm_is_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("TSS2_TCTI")
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda path: path != "/dev/tpmrm0" and real_exists(path))
    caplog.set_level(logging.INFO, logger="stethoscope_desktop.device_trust.keys")
    assert open_device_key("auto", tmp_path).protection == "software"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("making a software key" in r.getMessage() for r in caplog.records)


def test_a_tpm_is_expected_where_a_tcti_is_named_or_the_device_is_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert tpm_expected({"TPM2TOOLS_TCTI": "swtpm:port=2321"})
    assert tpm_expected({"TSS2_TCTI": "device:/dev/tpm0"})
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda path: path != "/dev/tpmrm0" and real_exists(path))
    assert not tpm_expected({"TSS2_TCTI": "  "})
    monkeypatch.setattr(os.path, "exists", lambda path: path == "/dev/tpmrm0" or real_exists(path))
    assert tpm_expected({})


def test_tpm_without_a_tpm_is_an_error_and_no_key_is_made(tmp_path: Path) -> None:
    with pytest.raises(DeviceKeyError, match=r"TPM|tpm2-pytss"):
        open_device_key("tpm", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_key_file_is_an_error_naming_it_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / SOFTWARE_KEY_FILE
    write_new_file(path, b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    for choice in ("auto", "software"):
        with pytest.raises(DeviceKeyError, match=rf"{path}.*corrupt.*device-key --new"):
            open_device_key(choice, tmp_path)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\ngarbage")
    assert sorted(p.name for p in tmp_path.iterdir()) == [SOFTWARE_KEY_FILE]


def test_an_empty_or_huge_key_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / SOFTWARE_KEY_FILE
    write_new_file(path, b"")
    with pytest.raises(DeviceKeyError, match="corrupt"):
        open_device_key("software", tmp_path)
    path.unlink()
    write_new_file(path, b"x" * 100_000)
    with pytest.raises(DeviceKeyError, match="corrupt"):
        open_device_key("software", tmp_path)


def test_a_key_file_others_may_read_is_not_used(tmp_path: Path) -> None:
    key = open_device_key("software", tmp_path)
    os.chmod(key.path, 0o644)
    with pytest.raises(DeviceKeyError, match=rf"{key.path} has mode 0644.*chmod 600"):
        open_device_key("software", tmp_path)
    os.chmod(key.path, 0o600)
    assert open_device_key("software", tmp_path).kid == key.kid


def test_a_key_of_another_kind_than_config_asks_is_an_error(tmp_path: Path) -> None:
    open_device_key("software", tmp_path)
    with pytest.raises(DeviceKeyError, match=r"deviceKey: tpm.*software key.*--new"):
        open_device_key("tpm", tmp_path)


def test_two_kinds_of_key_files_at_once_is_an_error(tmp_path: Path) -> None:
    open_device_key("software", tmp_path)
    write_new_file(tmp_path / TPM_KEY_FILE, b"anything")
    with pytest.raises(DeviceKeyError, match="several device keys"):
        open_device_key("auto", tmp_path)


def test_new_replaces_the_key_and_keeps_the_old_one_dated(tmp_path: Path) -> None:
    old = open_device_key("software", tmp_path)
    old_bytes = old.path.read_bytes()
    new, backups = replace_device_key("software", tmp_path, now=1_800_000_000)
    assert new.kid != old.kid
    assert [b.name for b in backups] == [f"{SOFTWARE_KEY_FILE}.replaced-20270115T080000Z"]
    assert backups[0].read_bytes() == old_bytes
    # Twice in the same second: the second backup gets its own name.
    _, more = replace_device_key("software", tmp_path, now=1_800_000_000)
    assert more[0].name.endswith("-2")
    assert open_device_key("software", tmp_path).kid != new.kid


@pytest.mark.allow_warnings  # auto, with a TCTI named that does not answer
def test_new_replaces_a_corrupt_key(tmp_path: Path) -> None:
    write_new_file(tmp_path / SOFTWARE_KEY_FILE, b"corrupt")
    key, backups = replace_device_key("auto", tmp_path)
    assert key.protection == "software" and backups[0].read_bytes() == b"corrupt"


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX command")
def test_the_notice_of_a_kept_key_says_it_still_signs_and_how_to_delete_it(tmp_path: Path) -> None:
    old = SoftwareDeviceKey.create(tmp_path / SOFTWARE_KEY_FILE)
    _new, [backup] = replace_device_key("software", tmp_path)
    notice = replaced_key_notice(backup)
    assert notice.startswith(f"the old device key is kept as {backup}: it can still sign")
    assert "login servers that enrolled the old key accept" in notice
    assert notice.endswith(f"once IT has enrolled the new key, delete it (rm {backup})")
    # What it says is so: the backup still signs, with the old key.
    assert SoftwareDeviceKey.load(backup).kid == old.kid
    odd = tmp_path / "it's here" / "software-key.pem.replaced-20260101T000000Z"
    assert f"(rm '{tmp_path}/it'\"'\"'s here/software-key.pem.replaced-" in replaced_key_notice(odd)


def test_a_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "file"
    assert write_new_file(path, b"first")
    assert not write_new_file(path, b"second")
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_keys_made_at_once_by_several_threads_are_one_key(tmp_path: Path) -> None:
    kids: list[str] = []
    start = threading.Barrier(4)

    def make() -> None:
        start.wait()
        kids.append(open_device_key("software", tmp_path).kid)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kids)) == 1 and len(kids) == 4


def test_the_tcti_comes_from_the_environment() -> None:
    assert tpm_tcti({}) == "device:/dev/tpmrm0"
    assert tpm_tcti({"TSS2_TCTI": "swtpm:port=1"}) == "swtpm:port=1"
    assert tpm_tcti({"TPM2TOOLS_TCTI": "mssim:port=2", "TSS2_TCTI": "x"}) == "mssim:port=2"


def test_an_unknown_choice_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        DeviceKeyError, match="deviceKey must be one of auto, tpm, secure-enclave, software"
    ):
        open_device_key("hsm", tmp_path)


def test_the_tray_and_the_worker_do_not_load_cryptography_at_start() -> None:
    # OpenSSL through `cryptography` is loaded only where a key is used (the tray's RSS counts).
    import subprocess
    import sys

    code = (
        "import sys, stethoscope_desktop.app, stethoscope_desktop.worker, "
        "stethoscope_desktop.commands, stethoscope_desktop.api.server, "
        "stethoscope_desktop.device_trust.token, stethoscope_desktop.device_trust.verify; "
        "print(sorted(m for m in sys.modules if m.startswith(('cryptography', 'tpm2_pytss'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_a_fifo_in_the_keys_place_is_an_error_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / SOFTWARE_KEY_FILE, 0o600)
    with pytest.raises(DeviceKeyError, match="not a regular file"):
        open_device_key("software", tmp_path)


def test_new_keeps_the_old_key_in_force_when_no_new_one_can_be_made(tmp_path: Path) -> None:
    old = open_device_key("software", tmp_path)
    with pytest.raises(DeviceKeyError, match=r"TPM|tpm2-pytss"):
        replace_device_key("tpm", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [SOFTWARE_KEY_FILE]
    assert open_device_key("software", tmp_path).kid == old.kid


# --- hints a person can act on ------------------------------------------------------------------


@pytest.mark.allow_warnings  # auto falls back where a TPM is named
def test_a_tpm_this_user_may_not_open_says_which_group_and_how_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = tmp_path / "tpmrm0"
    device.write_bytes(b"")
    monkeypatch.setenv("TSS2_TCTI", f"device:{device}")
    real_access = os.access

    def access(path: str, mode: int, **kwargs: bool) -> bool:
        # Tests may run as root, who may open anything: this user may not open the device.
        return False if str(path) == str(device) else real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(DeviceKeyError) as raised:
        open_device_key("tpm", tmp_path / "keys")
    message = str(raised.value)
    assert message.startswith(f"no permission to use the TPM at {device}, so the device key ")
    assert "on Debian and Ubuntu the tss group" in message
    assert "sudo usermod -aG " in message and "it counts from the next login" in message
    assert not (tmp_path / "keys" / TPM_KEY_FILE).exists()
    # `auto` makes a software key instead, as where no TPM answers.
    assert open_device_key("auto", tmp_path / "auto").protection == "software"


def test_the_tpm_hint_names_the_devices_group_and_the_user(tmp_path: Path) -> None:
    import grp

    device = tmp_path / "tpmrm0"
    device.write_bytes(b"")
    if os.geteuid() == 0:  # give the device a group other than root's, as udev does
        os.chown(device, -1, next(g for g in grp.getgrall() if g.gr_gid != 0).gr_gid)
    group = grp.getgrgid(os.stat(device).st_gid).gr_name
    expected_group = "tss" if group == "root" else group
    message = tpm_device_denied(str(device), tmp_path / TPM_KEY_FILE, user="alice")
    assert f"the TPM is open to the members of the group {expected_group} " in message
    assert f"`sudo usermod -aG {expected_group} alice`" in message


def test_a_tpm_owned_by_root_alone_points_to_the_tss_group(tmp_path: Path) -> None:
    device = tmp_path / "tpmrm0"
    device.write_bytes(b"")
    if os.geteuid() == 0:
        os.chown(device, 0, 0)
    elif os.stat(device).st_gid != 0:
        pytest.skip("only root can give a file to the root group")
    message = tpm_device_denied(str(device), tmp_path / TPM_KEY_FILE, user="alice")
    assert "`sudo usermod -aG tss alice`" in message


def test_without_tpm2_pytss_the_hint_fits_how_the_app_was_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "tpm2_pytss", None)
    with pytest.raises(DeviceKeyError) as raised:
        open_device_key("tpm", tmp_path)
    message = str(raised.value)
    assert message.startswith("tpm2-pytss is not installed (")
    assert "pip install 'stethoscope-desktop[tpm]' adds it" in message
    deb = tpm2_pytss_missing(
        ImportError("No module named 'tpm2_pytss'"),
        "/opt/stethoscope-desktop/lib/stethoscope_desktop/device_trust/keys.py",
    )
    assert "this .deb was built without it (build-deb.sh --tpm yes packs it" in deb
    assert "pip install" not in deb
