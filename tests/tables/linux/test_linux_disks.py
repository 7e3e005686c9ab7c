"""mounts, stethoscope_disk_encryption and secureboot against fake /proc and /sys trees."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux.disk_encryption import DiskEncryption, crypt_type
from stethoscope_desktop.tables.linux.mounts import Mounts, unescape_mount_field
from stethoscope_desktop.tables.linux.secureboot import SecureBoot
from stethoscope_desktop.tables.system import FilesystemStats, LocalSystem
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import load_root, make_root, one_row, rows

# sysfs device numbers ("253:1") are not valid file names on Windows.
needs_posix_names = pytest.mark.skipif(sys.platform == "win32", reason="':' in file names")


def test_unescape_mount_field() -> None:
    assert unescape_mount_field(r"/media/usb\040stick") == "/media/usb stick"
    assert unescape_mount_field(r"a\011b\134c") == "a\tb\\c"


@needs_posix_names
def test_mounts_resolve_device_aliases_through_sysfs(tmp_path: Path) -> None:
    generated = rows(Mounts(FakeSystem(load_root("luks-lvm", tmp_path))))
    assert [(r["device"], r["device_alias"], r["path"], r["type"]) for r in generated] == [
        ("/dev/mapper/vgubuntu-root", "/dev/dm-1", "/", "ext4"),
        ("proc", "proc", "/proc", "proc"),
        ("/dev/nvme0n1p2", "/dev/nvme0n1p2", "/boot", "ext4"),
        ("/dev/nvme0n1p1", "/dev/nvme0n1p1", "/boot/efi", "vfat"),
        ("tmpfs", "tmpfs", "/run", "tmpfs"),
    ]
    assert generated[0] == {
        "device": "/dev/mapper/vgubuntu-root",
        "device_alias": "/dev/dm-1",
        "path": "/",
        "type": "ext4",
        **dict.fromkeys(SIZE_COLUMNS, 0),  # the fake root answers no statfs: 0s, as osquery
        "flags": "rw,relatime,errors=remount-ro",
    }


SIZE_COLUMNS = ("blocks_size", "blocks", "blocks_free", "blocks_available", "inodes", "inodes_free")


@needs_posix_names
def test_mounts_have_statfs_sizes_as_osquery_stores_them(tmp_path: Path) -> None:
    system = FakeSystem(
        load_root("luks-lvm", tmp_path),
        filesystems={
            "/": FilesystemStats(4096, 120_000_000, 50_000_000, 44_000_000, 7_000_000, 6_000_000),
            # osquery keeps 32 bits of each count: 2**32 + 5 blocks read as 5.
            "/boot": FilesystemStats(1024, 2**32 + 5, 3, 2, 65536, 65000),
            "/run": FilesystemStats(4096, 400_000, 399_000, 399_000, 1_000_000, 999_000),
        },
    )
    by_path = {row["path"]: row for row in rows(Mounts(system))}
    sizes = {path: tuple(row[c] for c in SIZE_COLUMNS) for path, row in by_path.items()}
    assert sizes == {
        "/": (4096, 120_000_000, 50_000_000, 44_000_000, 7_000_000, 6_000_000),
        "/proc": (0, 0, 0, 0, 0, 0),  # statfs failed (not given): 0s, not NULL
        "/boot": (1024, 5, 3, 2, 65536, 65000),
        "/boot/efi": (0, 0, 0, 0, 0, 0),
        "/run": (4096, 400_000, 399_000, 399_000, 1_000_000, 999_000),
    }


def test_autofs_mounts_are_not_statted(tmp_path: Path) -> None:
    make_root(tmp_path, {"/proc/mounts": "systemd-1 /mnt/nas autofs rw,fd=1 0 0\n"})
    system = FakeSystem(tmp_path, filesystems={"/mnt/nas": FilesystemStats(1, 2, 3, 4, 5, 6)})
    assert [row["blocks"] for row in rows(Mounts(system))] == [0]  # statfs would mount it


def test_local_statfs_reads_the_real_filesystem(tmp_path: Path) -> None:
    stats = LocalSystem(tmp_path).filesystem_stats("/")
    assert stats.block_size > 0 and stats.blocks >= stats.blocks_free >= stats.blocks_available


def test_mounts_without_proc_is_a_table_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot read /proc/mounts: not found"):
        rows(Mounts(FakeSystem(tmp_path)))


def test_crypt_types() -> None:
    assert crypt_type("CRYPT-LUKS2-6f1b4e9c2b8d4e0a9d3c5b7a1e2f3c4d-dm_crypt-0") == "LUKS2"
    assert crypt_type("CRYPT-LUKS1-0123-sda2_crypt") == "LUKS1"
    assert crypt_type("CRYPT-PLAIN-swap") == "dm-crypt (plain)"
    assert crypt_type("CRYPT-BITLK-abcd-usb") == "BitLocker"
    assert crypt_type("CRYPT-VERITY-abcd-root") is None  # integrity, not encryption
    assert crypt_type("LVM-Xq2lN3pVfV8bN0aR") is None
    assert crypt_type(None) is None


@needs_posix_names
def test_luks_root_under_lvm(tmp_path: Path) -> None:
    assert rows(DiskEncryption(FakeSystem(load_root("luks-lvm", tmp_path)))) == [
        {
            "name": "/dev/mapper/vgubuntu-root",
            "mountpoint": "/",
            "encrypted": 1,
            "type": "LUKS2",
            "detail": "/ is on /dev/mapper/vgubuntu-root (ext4), which sits on the dm-crypt "
            "device /dev/mapper/dm_crypt-0 (LUKS2) over /dev/nvme0n1p3",
        }
    ]


@needs_posix_names
def test_plain_ext4_root_and_separate_home(tmp_path: Path) -> None:
    assert rows(DiskEncryption(FakeSystem(load_root("plain-ext4", tmp_path)))) == [
        {
            "name": "/dev/vda2",
            "mountpoint": "/",
            "encrypted": 0,
            "type": None,
            "detail": "/ is on /dev/vda2 (ext4), not on an encrypted (dm-crypt/LUKS) device",
        },
        {
            "name": "/dev/vdb1",
            "mountpoint": "/home",
            "encrypted": 0,
            "type": None,
            "detail": "/home is on /dev/vdb1 (ext4), not on an encrypted (dm-crypt/LUKS) device",
        },
    ]


@needs_posix_names
def test_dev_root_is_resolved_by_device_number(tmp_path: Path) -> None:
    root = load_root("plain-ext4", tmp_path)
    make_root(root, {"/proc/self/mountinfo": "21 1 254:2 / / rw,relatime - ext4 /dev/root rw\n"})
    row = one_row(DiskEncryption(FakeSystem(root)))
    assert row["encrypted"] == 0
    assert row["detail"] == (
        "/ is on /dev/root (/dev/vda2, ext4), not on an encrypted (dm-crypt/LUKS) device"
    )


def test_overlay_root_is_unknown(tmp_path: Path) -> None:
    row = one_row(DiskEncryption(FakeSystem(load_root("overlay", tmp_path))))
    assert row["name"] == "overlay"
    assert row["encrypted"] is None
    assert row["detail"] == (
        "/ is on overlay (overlay), an overlay filesystem, as in a container or a live system, "
        "not a local disk, so whether the storage underneath is encrypted cannot be seen from here"
    )


def test_btrfs_subvolumes_on_luks_without_device_numbers(tmp_path: Path) -> None:
    generated = rows(DiskEncryption(FakeSystem(load_root("btrfs-luks", tmp_path))))
    luks = "/dev/mapper/luks-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    assert [(r["mountpoint"], r["encrypted"], r["type"]) for r in generated] == [
        ("/", 1, "LUKS2"),
        ("/home", 1, "LUKS2"),
    ]
    assert generated[0]["detail"] == (
        f"/ is on {luks} (btrfs), a dm-crypt (LUKS2) device over /dev/nvme0n1p3"
    )


@needs_posix_names
def test_lvm_spanning_an_unencrypted_disk_is_not_encrypted(tmp_path: Path) -> None:
    root = load_root("luks-lvm", tmp_path)
    make_root(root, {"/sys/class/block/dm-1/slaves/sda1": "", "/sys/class/block/sda1/dev": "8:1\n"})
    row = one_row(DiskEncryption(FakeSystem(root)))
    assert row["encrypted"] == 0
    assert row["detail"] == (
        "/ is on /dev/mapper/vgubuntu-root (ext4), which spans the encrypted "
        "/dev/mapper/dm_crypt-0 and the unencrypted /dev/sda1"
    )


def test_unresolvable_device_is_unknown(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {"/proc/self/mountinfo": "21 1 0:30 / / rw - ext4 /dev/disk/by-label/root rw\n"},
    )
    row = one_row(DiskEncryption(FakeSystem(tmp_path)))
    assert row["encrypted"] is None
    assert "could not be found in /sys" in str(row["detail"])


def test_zfs_native_encryption_is_asked_of_zfs(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {"/proc/self/mountinfo": "21 1 0:25 / / rw - zfs rpool/ROOT/ubuntu_1 rw,xattr,posixacl\n"},
    )
    argv = ["zfs", "get", "-H", "-o", "value", "encryption", "rpool/ROOT/ubuntu_1"]
    system = FakeSystem(tmp_path, commands=dict([result(argv, "aes-256-gcm\n")]))
    row = one_row(DiskEncryption(system))
    assert (row["encrypted"], row["type"]) == (1, "ZFS native (aes-256-gcm)")


def test_zfs_without_the_zfs_command_is_unknown(tmp_path: Path) -> None:
    make_root(tmp_path, {"/proc/self/mountinfo": "21 1 0:25 / / rw - zfs rpool/ROOT/ubuntu rw\n"})
    row = one_row(DiskEncryption(FakeSystem(tmp_path)))
    assert row["encrypted"] is None
    assert row["detail"] == (
        "/ is on the ZFS dataset rpool/ROOT/ubuntu; ZFS encryption can only be read with the zfs "
        "command, which is not installed"
    )


def efi_root(tmp_path: Path, secure_boot: bytes | None, setup_mode: bytes | None) -> FakeSystem:
    guid = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
    files: dict[str, str | bytes] = {"/sys/firmware/efi/efivars/Boot0000-" + guid: b"\x07\0\0\0"}
    if secure_boot is not None:
        files[f"/sys/firmware/efi/efivars/SecureBoot-{guid}"] = b"\x06\x00\x00\x00" + secure_boot
    if setup_mode is not None:
        files[f"/sys/firmware/efi/efivars/SetupMode-{guid}"] = b"\x06\x00\x00\x00" + setup_mode
    return FakeSystem(make_root(tmp_path, files))


def test_secureboot_on(tmp_path: Path) -> None:
    assert rows(SecureBoot(efi_root(tmp_path, b"\x01", b"\x00"))) == [
        {"secure_boot": 1, "setup_mode": 0}
    ]


def test_secureboot_off_in_setup_mode(tmp_path: Path) -> None:
    assert rows(SecureBoot(efi_root(tmp_path, b"\x00", b"\x01"))) == [
        {"secure_boot": 0, "setup_mode": 1}
    ]


def test_secureboot_odd_value_and_missing_variable(tmp_path: Path) -> None:
    assert rows(SecureBoot(efi_root(tmp_path, b"\x07", None))) == [
        {"secure_boot": -1, "setup_mode": None}
    ]


def test_secureboot_legacy_bios_has_no_rows(tmp_path: Path) -> None:
    assert rows(SecureBoot(FakeSystem(tmp_path))) == []


def test_secureboot_efi_without_efivarfs_is_a_table_error(tmp_path: Path) -> None:
    make_root(tmp_path, {"/sys/firmware/efi/systab": "ACPI20=0x7ffe\n"})
    with pytest.raises(TableError, match="efivarfs is not mounted"):
        rows(SecureBoot(FakeSystem(tmp_path)))
