"""osquery's `disk_encryption` table on Linux, read without root.

osquery lists every block device of /sys/class/block as /dev/<kernel name> (/dev/dm-0, not
/dev/mapper/...; the same name `mounts.device_alias` gives, so the two join) and asks
libcryptsetup whether it is an active dm-crypt mapping; a device that is not one takes the answer
of its parent (the disk of a partition, else the first device in its `slaves/`), so a logical
volume on LUKS is encrypted and the partition holding the LUKS container is not. osquery returns
no rows at all unless it runs as root; this table gives its rows to any user:
- encrypted 1 and encryption_status "encrypted" for a device-mapper device whose dm/uuid marks a
  cryptsetup mapping that encrypts (CRYPT-LUKS1/LUKS2/PLAIN/LOOPAES/TCRYPT/BITLK/FVAULT2);
  dm-verity and dm-integrity mappings (CRYPT-VERITY, CRYPT-INTEGRITY) do not encrypt and count as
  not encrypted; everything else 0 and "not encrypted", or its parent's answer.
- type: osquery joins cryptsetup's type, cipher and mode ("LUKS2-aes-xts-plain64"). The cipher
  is read from the LUKS header on the device under the mapping, as cryptsetup reads it, where
  that device may be read (root, or the `disk` group); otherwise, and for mappings without a
  LUKS header (PLAIN, whose cipher only the root-only device-mapper table holds), type is
  cryptsetup's type alone ("LUKS2"). '' for devices that are not encrypted, as osquery gives.
- uuid: osquery probes the device with libblkid (root only); udev records the same probe in
  /run/udev/data/b<major>:<minor> (ID_FS_UUID), which any user may read. '' when absent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import Column, QueryContext, Row
from stethoscope_desktop.tables.linux._common import MachineTable, list_optional, read_line
from stethoscope_desktop.tables.linux.disk_encryption import crypt_type
from stethoscope_desktop.tables.linux.mounts import parse_proc_mounts
from stethoscope_desktop.tables.system import System

ENCRYPTED = "encrypted"
NOT_ENCRYPTED = "not encrypted"
# sysfs lists a few hundred block devices at most (loop devices, partitions, dm); bound it anyway.
MAX_DEVICES = 4096
LUKS_MAGIC = b"LUKS\xba\xbe"
LUKS2_BINARY_HEADER = 4096
# LUKS2 allows metadata areas up to 4 MiB; cryptsetup's default is 16 KiB.
LUKS2_MAX_HEADER = 4 * 1024 * 1024


def _c_string(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("ascii", "replace")


def parse_luks_cipher(header: bytes) -> tuple[str, str] | None:
    """Return (cipher, mode) from a LUKS1 or LUKS2 header ("aes", "xts-plain64"), or None."""
    if not header.startswith(LUKS_MAGIC) or len(header) < 72:
        return None
    version = int.from_bytes(header[6:8], "big")
    if version == 1:
        cipher, mode = _c_string(header[8:40]), _c_string(header[40:72])
        return (cipher, mode) if cipher else None
    if version != 2:
        return None
    header_size = int.from_bytes(header[8:16], "big")
    area = header[LUKS2_BINARY_HEADER : min(header_size, len(header))]
    try:
        metadata = json.loads(area.split(b"\0", 1)[0].decode("utf-8"))
        segments = metadata["segments"]
        first = segments[min(segments, key=int)]
        encryption = str(first["encryption"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    cipher, _, mode = encryption.partition("-")
    return (cipher, mode) if cipher else None


def read_luks_cipher(system: System, device: str) -> tuple[str, str] | None:
    """Return the cipher and mode in the LUKS header of `device`, None when it cannot be read."""
    try:
        header = system.read_bytes(device, limit=LUKS2_BINARY_HEADER)
        if header.startswith(LUKS_MAGIC) and int.from_bytes(header[6:8], "big") == 2:
            size = int.from_bytes(header[8:16], "big")
            header = system.read_bytes(device, limit=max(min(size, LUKS2_MAX_HEADER), 72))
    except OSError:
        return None
    return parse_luks_cipher(header)


@dataclass(frozen=True)
class BlockDevice:
    """One entry of /sys/class/block: its /dev name and its parent's /dev name ('' if none)."""

    name: str
    kernel_name: str
    parent: str


def sysfs_block_folder(system: System) -> str:
    """Return where sysfs lists block devices: <sysfs mount>/class/block, /sys by default."""
    try:
        text = system.read_text("/proc/mounts", limit=16 * 1024 * 1024)
    except OSError:
        text = ""
    for mount in parse_proc_mounts(text):
        if mount.type == "sysfs":
            return f"{mount.path.rstrip('/')}/class/block"
    return "/sys/class/block"


def list_block_devices(system: System, folder: str) -> list[BlockDevice]:
    """Return the block devices of `folder` as osquery enumerates them (symlinks with a uevent)."""
    devices: list[BlockDevice] = []
    for entry in list_optional(system, folder)[:MAX_DEVICES]:
        try:
            target = system.read_link(f"{folder}/{entry}")
        except OSError:
            continue  # not a symlink: osquery skips it
        if not system.exists(f"{folder}/{entry}/uevent"):
            continue
        parts = [part for part in target.split("/") if part]
        kernel_name = parts[-1] if parts else entry
        parent = parts[-2] if len(parts) >= 2 else "block"
        if parent == "block":
            slaves = list_optional(system, f"{folder}/{entry}/slaves")
            parent = slaves[0] if slaves else ""
        devices.append(
            BlockDevice(f"/dev/{kernel_name}", entry, f"/dev/{parent}" if parent else "")
        )
    return devices


def udev_uuid(system: System, folder: str, kernel_name: str) -> str:
    """Return the filesystem (or LUKS) UUID udev's blkid probe recorded for a device, or ''."""
    number = read_line(system, f"{folder}/{kernel_name}/dev")
    if not number:
        return ""
    text = ""
    try:
        text = system.read_text(f"/run/udev/data/b{number}", limit=256 * 1024)
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith("E:ID_FS_UUID="):
            return line[len("E:ID_FS_UUID=") :].strip()
    return ""


class OsqueryDiskEncryption(MachineTable):
    """Whether each block device is (on) an active dm-crypt mapping (osquery's disk_encryption)."""

    name = "disk_encryption"
    columns = (
        Column("name", "text", index=True),
        Column("uuid", "text"),
        Column("encrypted", "integer"),
        Column("type", "text"),
        Column("encryption_status", "text"),
    )
    platforms = ("linux",)

    def _own_status(self, folder: str, device: BlockDevice) -> tuple[int, str, str] | None:
        dm_uuid = read_line(self._system, f"{folder}/{device.kernel_name}/dm/uuid")
        if crypt_type(dm_uuid) is None or dm_uuid is None:
            return None
        kind = dm_uuid[len("CRYPT-") :].split("-", 1)[0]
        if kind.startswith("LUKS"):
            slaves = list_optional(self._system, f"{folder}/{device.kernel_name}/slaves")
            cipher = read_luks_cipher(self._system, f"/dev/{slaves[0]}") if slaves else None
            if cipher is not None:
                return 1, ENCRYPTED, "-".join((kind, *cipher))
        return 1, ENCRYPTED, kind

    def generate(self, context: QueryContext) -> Iterable[Row]:
        folder = sysfs_block_folder(self._system)
        devices = sorted(list_block_devices(self._system, folder), key=lambda d: d.name)
        by_name = {device.name: device for device in devices}
        status: dict[str, tuple[int, str, str]] = {}

        def resolve(device: BlockDevice, seen: frozenset[str]) -> tuple[int, str, str]:
            if device.name in status:
                return status[device.name]
            answer = self._own_status(folder, device) or (0, NOT_ENCRYPTED, "")
            if answer[0] == 0 and device.parent in by_name and device.parent not in seen:
                answer = resolve(by_name[device.parent], seen | {device.name})
            status[device.name] = answer
            return answer

        rows: list[Row] = []
        for device in devices:
            encrypted, encryption_status, kind = resolve(device, frozenset())
            rows.append(
                {
                    "name": device.name,
                    "uuid": udev_uuid(self._system, folder, device.kernel_name),
                    "encrypted": encrypted,
                    "type": kind,
                    "encryption_status": encryption_status,
                }
            )
        return rows
