r"""osquery's `mounts` table on Linux, plus the mount and block-device helpers other tables use.

Rows come from /proc/mounts in its order, as osquery's getmntent loop reads them, with octal
escapes (\040 for a space) decoded. device_alias is the device's canonical /dev name (what
osquery's realpath gives): /dev/mapper/x and /dev/disk/by-*/x resolve to /dev/dm-N or /dev/sdXN
through the mount's major:minor in /proc/self/mountinfo and /sys/dev/block/M:m/uevent, so no
symlink needs to be followed. The block and inode counts are statfs(2) of the mount's path, as in
osquery: f_bsize, f_blocks, f_bfree, f_bavail, f_files and f_ffree, each cut to 32 bits as osquery
stores them; autofs mounts (which statfs would trigger) and mounts statfs fails on (or takes over
`STATFS_TIMEOUT_S` for: a dead network share) have 0 in all six, as osquery gives them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    list_optional,
    os_error_reason,
    read_line,
    read_optional,
)
from stethoscope_desktop.tables.system import System

_OCTAL = re.compile(r"\\([0-7]{3})")
_SIZE_COLUMNS = (
    "blocks_size",
    "blocks",
    "blocks_free",
    "blocks_available",
    "inodes",
    "inodes_free",
)
_UINT32 = 0xFFFFFFFF  # osquery casts each statfs count to a 32-bit unsigned integer


def unescape_mount_field(text: str) -> str:
    r"""Decode the octal escapes the kernel writes into mount table fields (\040 = space)."""
    return _OCTAL.sub(lambda match: chr(int(match.group(1), 8)), text)


@dataclass(frozen=True)
class Mount:
    """One mounted filesystem."""

    device: str
    path: str
    type: str
    options: str
    major: int | None = None
    minor: int | None = None


def parse_proc_mounts(text: str) -> list[Mount]:
    """Parse /proc/mounts (fstab format)."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mounts.append(
            Mount(
                device=unescape_mount_field(fields[0]),
                path=unescape_mount_field(fields[1]),
                type=fields[2],
                options=fields[3],
            )
        )
    return mounts


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse /proc/self/mountinfo, which adds each mount's device major:minor."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        tail = right.split()
        if not sep or len(fields) < 6 or len(tail) < 2:
            continue
        major_text, _, minor_text = fields[2].partition(":")
        try:
            major, minor = int(major_text), int(minor_text)
        except ValueError:
            continue
        mounts.append(
            Mount(
                device=unescape_mount_field(tail[1]),
                path=unescape_mount_field(fields[4]),
                type=tail[0],
                options=fields[5],
                major=major,
                minor=minor,
            )
        )
    return mounts


def read_mounts(system: System) -> list[Mount]:
    """Return the mount table with device numbers (mountinfo), else without (/proc/mounts).

    Raises OSError when neither can be read.
    """
    text = read_optional(system, "/proc/self/mountinfo", limit=16 * 1024 * 1024)
    if text is not None:
        mounts = parse_mountinfo(text)
        if mounts:
            return mounts
    return parse_proc_mounts(system.read_text("/proc/mounts", limit=16 * 1024 * 1024))


def mount_at(mounts: list[Mount], path: str) -> Mount | None:
    """Return what is mounted at `path` (the last, topmost mount there), or None."""
    found = [mount for mount in mounts if mount.path == path]
    return found[-1] if found else None


def block_name_for_number(system: System, major: int, minor: int) -> str | None:
    """Return the kernel name ("sda1", "dm-0") of block device major:minor, or None."""
    uevent = read_optional(system, f"/sys/dev/block/{major}:{minor}/uevent")
    for line in (uevent or "").splitlines():
        if line.startswith("DEVNAME="):
            return line[len("DEVNAME=") :].strip() or None
    return None


def dm_name_to_kernel(system: System, mapper_name: str) -> str | None:
    """Return the dm-N whose device-mapper name (as in /dev/mapper/) is `mapper_name`."""
    for entry in list_optional(system, "/sys/class/block"):
        if entry.startswith("dm-") and read_line(system, f"/sys/class/block/{entry}/dm/name") == (
            mapper_name
        ):
            return entry
    return None


def block_name_for_path(system: System, device: str) -> str | None:
    """Resolve a /dev path to its kernel block device name without following symlinks.

    Handles /dev/NAME, /dev/mapper/NAME, LVM's /dev/VG/LV and, for btrfs,
    /dev/disk/by-uuid/FSID (through /sys/fs/btrfs/FSID/devices). Returns None otherwise.
    """
    if not device.startswith("/dev/"):
        return None
    rest = device[len("/dev/") :]
    if rest.startswith("mapper/"):
        return dm_name_to_kernel(system, rest[len("mapper/") :])
    if rest.startswith("disk/by-uuid/"):
        members = list_optional(system, f"/sys/fs/btrfs/{rest[len('disk/by-uuid/') :]}/devices")
        return members[0] if members else None
    if "/" not in rest:
        return rest if system.exists(f"/sys/class/block/{rest}") else None
    parts = rest.split("/")
    if len(parts) == 2 and not rest.startswith("disk/"):
        volume_group, logical_volume = parts
        escaped = volume_group.replace("-", "--") + "-" + logical_volume.replace("-", "--")
        return dm_name_to_kernel(system, escaped)
    return None


def block_name_for_mount(system: System, mount: Mount) -> str | None:
    """Return the kernel name of the block device a mount sits on, or None if it has none."""
    if mount.major:
        name = block_name_for_number(system, mount.major, mount.minor or 0)
        if name:
            return name
    return block_name_for_path(system, mount.device)


class Mounts(MachineTable):
    """Mounted filesystems."""

    name = "mounts"
    columns = (
        Column("device", "text"),
        Column("device_alias", "text"),
        Column("path", "text"),
        Column("type", "text"),
        Column("blocks_size", "bigint"),
        Column("blocks", "bigint"),
        Column("blocks_free", "bigint"),
        Column("blocks_available", "bigint"),
        Column("inodes", "bigint"),
        Column("inodes_free", "bigint"),
        Column("flags", "text"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            mounts = parse_proc_mounts(
                self._system.read_text("/proc/mounts", limit=16 * 1024 * 1024)
            )
        except OSError as error:
            raise TableError(f"cannot read /proc/mounts: {os_error_reason(error)}") from error
        numbers = {
            (m.device, m.path): m
            for m in parse_mountinfo(
                read_optional(self._system, "/proc/self/mountinfo", limit=16 * 1024 * 1024) or ""
            )
        }
        rows: list[Row] = []
        for mount in mounts:
            alias = mount.device
            if mount.device.startswith("/dev/"):
                numbered = numbers.get((mount.device, mount.path), mount)
                name = block_name_for_mount(self._system, numbered)
                if name:
                    alias = f"/dev/{name}"
            rows.append(
                {
                    "device": mount.device,
                    "device_alias": alias,
                    "path": mount.path,
                    "type": mount.type,
                    **self._sizes(mount),
                    "flags": mount.options,
                }
            )
        return rows

    def _sizes(self, mount: Mount) -> Row:
        """Return the block and inode columns from statfs of the mount, or 0s as osquery does."""
        stats = None
        if mount.type != "autofs":
            try:
                stats = self._system.filesystem_stats(mount.path)
            except OSError:
                stats = None
        if stats is None:
            return dict.fromkeys(_SIZE_COLUMNS, 0)
        values = (
            stats.block_size,
            stats.blocks,
            stats.blocks_free,
            stats.blocks_available,
            stats.inodes,
            stats.inodes_free,
        )
        return {name: value & _UINT32 for name, value in zip(_SIZE_COLUMNS, values, strict=True)}
