"""osquery's disk_encryption table against a fake sysfs built of real symlinks, as the kernel lays it out."""

from __future__ import annotations

import json
import os
from pathlib import Path

from stethoscope_desktop.tables.linux.osquery_disk_encryption import (
    LUKS_MAGIC,
    OsqueryDiskEncryption,
    parse_luks_cipher,
)
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import rows

NVME = "devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"
VIRTUAL = "devices/virtual/block"


def add_device(
    system: FakeSystem, folder: str, name: str, number: str, files: dict[str, str] | None = None
) -> None:
    """Create /sys/<folder>/<name> with uevent and dev, and /sys/class/block/<name> -> it."""
    system.write(f"/sys/{folder}/{name}/uevent", f"MAJOR={number.split(':')[0]}\nDEVNAME={name}\n")
    system.write(f"/sys/{folder}/{name}/dev", f"{number}\n")
    for relative, content in (files or {}).items():
        system.write(f"/sys/{folder}/{name}/{relative}", content)
    links = system.root / "sys/class/block"
    links.mkdir(parents=True, exist_ok=True)
    os.symlink(f"../../{folder}/{name}", links / name)


def luks_lvm_machine(tmp_path: Path) -> FakeSystem:
    """Ubuntu's encrypted install: LVM (dm-1 root, dm-2 swap) on LUKS2 (dm-0) on nvme0n1p3."""
    system = FakeSystem(tmp_path)
    system.write("/proc/mounts", "sysfs /sys sysfs rw 0 0\n/dev/mapper/vg-root / ext4 rw 0 0\n")
    add_device(system, NVME, "nvme0n1", "259:0")
    for index in (1, 2, 3):
        add_device(system, f"{NVME}/nvme0n1", f"nvme0n1p{index}", f"259:{index}")
    add_device(
        system,
        VIRTUAL,
        "dm-0",
        "253:0",
        {
            "dm/uuid": "CRYPT-LUKS2-6f1b4e9c2b8d4e0a9d3c5b7a1e2f3c4d-dm_crypt-0\n",
            "slaves/nvme0n1p3": "",
        },
    )
    for index, lv in ((1, "root"), (2, "swap")):
        add_device(
            system,
            VIRTUAL,
            f"dm-{index}",
            f"253:{index}",
            {"dm/uuid": f"LVM-abc{lv}\n", "slaves/dm-0": ""},
        )
    add_device(system, VIRTUAL, "loop0", "7:0")
    add_device(system, VIRTUAL, "dm-3", "253:3", {"dm/uuid": "CRYPT-VERITY-1234-usr\n"})
    system.write("/sys/class/block/stray/uevent", "")  # not a symlink: osquery skips it
    system.write("/run/udev/data/b259:1", "S:disk/by-uuid/1DDE-588F\nE:ID_FS_UUID=1DDE-588F\n")
    system.write("/run/udev/data/b259:3", "E:ID_FS_TYPE=crypto_LUKS\nE:ID_FS_UUID=2a2c7241\n")
    system.write("/run/udev/data/b253:1", "E:ID_FS_UUID=0b7c11aa-root\n")
    return system


def test_every_block_device_with_its_parents_answer(tmp_path: Path) -> None:
    generated = rows(OsqueryDiskEncryption(luks_lvm_machine(tmp_path)))
    table = [
        (r["name"], r["uuid"], r["encrypted"], r["type"], r["encryption_status"]) for r in generated
    ]
    assert table == [
        ("/dev/dm-0", "", 1, "LUKS2", "encrypted"),
        ("/dev/dm-1", "0b7c11aa-root", 1, "LUKS2", "encrypted"),
        ("/dev/dm-2", "", 1, "LUKS2", "encrypted"),
        ("/dev/dm-3", "", 0, "", "not encrypted"),
        ("/dev/loop0", "", 0, "", "not encrypted"),
        ("/dev/nvme0n1", "", 0, "", "not encrypted"),
        ("/dev/nvme0n1p1", "1DDE-588F", 0, "", "not encrypted"),
        ("/dev/nvme0n1p2", "", 0, "", "not encrypted"),
        # The partition holding the LUKS container is not itself a dm-crypt mapping.
        ("/dev/nvme0n1p3", "2a2c7241", 0, "", "not encrypted"),
    ]


def test_sysfs_mounted_elsewhere_is_followed(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    system.write("/proc/mounts", "sysfs /host/sys sysfs rw 0 0\n")
    system.write("/host/sys/devices/virtual/block/dm-0/uevent", "")
    system.write("/host/sys/devices/virtual/block/dm-0/dm/uuid", "CRYPT-PLAIN-x\n")
    (system.root / "host/sys/class/block").mkdir(parents=True)
    os.symlink("../../devices/virtual/block/dm-0", system.root / "host/sys/class/block/dm-0")
    assert rows(OsqueryDiskEncryption(system)) == [
        {
            "name": "/dev/dm-0",
            "uuid": "",
            "encrypted": 1,
            "type": "PLAIN",
            "encryption_status": "encrypted",
        }
    ]


def test_no_sysfs_gives_no_rows(tmp_path: Path) -> None:
    assert rows(OsqueryDiskEncryption(FakeSystem(tmp_path))) == []


def luks2_header(encryption: str) -> bytes:
    metadata = json.dumps(
        {"segments": {"0": {"type": "crypt", "encryption": encryption}}, "keyslots": {}}
    ).encode()
    size = 16384
    binary = LUKS_MAGIC + (2).to_bytes(2, "big") + size.to_bytes(8, "big")
    return binary.ljust(4096, b"\0") + metadata.ljust(size - 4096, b"\0") + b"payload"


def luks1_header(cipher: str, mode: str) -> bytes:
    fields = LUKS_MAGIC + (1).to_bytes(2, "big") + cipher.encode().ljust(32, b"\0")
    return (fields + mode.encode().ljust(32, b"\0") + b"sha256".ljust(32, b"\0")).ljust(592, b"\0")


def test_luks_headers_parse_like_cryptsetup() -> None:
    assert parse_luks_cipher(luks2_header("aes-xts-plain64")) == ("aes", "xts-plain64")
    assert parse_luks_cipher(luks1_header("aes", "cbc-essiv:sha256")) == ("aes", "cbc-essiv:sha256")
    assert parse_luks_cipher(b"\0" * 4096) is None
    broken = LUKS_MAGIC + (2).to_bytes(2, "big") + (8192).to_bytes(8, "big")
    assert parse_luks_cipher(broken.ljust(4096, b"\0") + b"{not json") is None


def test_readable_luks_header_gives_osquerys_full_type(tmp_path: Path) -> None:
    system = luks_lvm_machine(tmp_path)
    system.write("/dev/nvme0n1p3", luks2_header("aes-xts-plain64"))
    by_name = {r["name"]: r for r in rows(OsqueryDiskEncryption(system))}
    assert by_name["/dev/dm-0"]["type"] == "LUKS2-aes-xts-plain64"
    assert by_name["/dev/dm-1"]["type"] == "LUKS2-aes-xts-plain64"  # inherited from dm-0
    system.denied.add("/dev/nvme0n1p3")  # unprivileged: the header is root's (and disk's)
    assert rows(OsqueryDiskEncryption(system))[0]["type"] == "LUKS2"
