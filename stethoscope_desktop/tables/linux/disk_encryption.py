"""`stethoscope_disk_encryption`: are / and /home on an encrypted (dm-crypt/LUKS) device?

osquery's own disk_encryption table returns nothing unless root. Everything needed here is
readable by any user, and no process is started:
1. /proc/self/mountinfo names the filesystem mounted at / (and at /home when that is a separate
   mount) and its device number; /sys/dev/block/MAJ:MIN/uevent turns the number into the kernel
   name (dm-1, nvme0n1p2), so /dev/mapper/*, /dev/VG/LV, /dev/disk/by-* and /dev/root all resolve.
   btrfs reports an anonymous device number, so for it the /dev path is resolved through the
   device-mapper names in /sys/class/block/dm-*/dm/name (or /sys/fs/btrfs/FSID/devices).
2. From that device we walk down /sys/class/block/<dev>/slaves (LVM, RAID, crypt layers) until
   every path reaches either a device whose /sys/class/block/dm-*/dm/uuid starts with "CRYPT-"
   and names an encryption (LUKS1, LUKS2, PLAIN, BITLK, TCRYPT, FVAULT2) or a device with no
   slaves.
3. / is encrypted when every path down passes an encrypting layer.

dm-verity and dm-integrity also carry "CRYPT-" uuids (VERITY, INTEGRITY) but do not encrypt, so
they are walked through, not counted. Overlay, tmpfs and network roots (containers, live systems,
NFS roots) have no local block device: encrypted is NULL and the detail names the filesystem. ZFS
native encryption is read with `zfs get encryption` when the zfs command is present.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from stethoscope_desktop.tables._shared import DISK_ENCRYPTION_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    command_reason,
    find_program,
    list_optional,
    os_error_reason,
    read_line,
    run_quiet,
)
from stethoscope_desktop.tables.linux.mounts import (
    Mount,
    block_name_for_mount,
    mount_at,
    read_mounts,
)
from stethoscope_desktop.tables.system import System

MOUNTPOINTS = ("/", "/home")
_ENCRYPTING = {
    "LUKS1": "LUKS1",
    "LUKS2": "LUKS2",
    "PLAIN": "dm-crypt (plain)",
    "LOOPAES": "loop-AES",
    "BITLK": "BitLocker",
    "TCRYPT": "TrueCrypt/VeraCrypt",
    "FVAULT2": "FileVault2",
}
_MAX_DEPTH = 16


def crypt_type(dm_uuid: str | None) -> str | None:
    """Return the encryption a device-mapper uuid names ("CRYPT-LUKS2-..." -> "LUKS2"), or None."""
    if not dm_uuid or not dm_uuid.startswith("CRYPT-"):
        return None
    kind = dm_uuid[len("CRYPT-") :].split("-", 1)[0]
    return _ENCRYPTING.get(kind)


@dataclass
class Walk:
    """What lies under a block device: the encrypting layers found and the unencrypted bottoms."""

    crypt: list[tuple[str, str, list[str]]] = field(default_factory=list)  # dev, type, under
    plain: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def display_name(system: System, kernel_name: str) -> str:
    """Return the name a person knows a device by: /dev/mapper/NAME for dm devices."""
    if kernel_name.startswith("dm-"):
        mapper = read_line(system, f"/sys/class/block/{kernel_name}/dm/name")
        if mapper:
            return f"/dev/mapper/{mapper}"
    return f"/dev/{kernel_name}"


def walk_device(system: System, kernel_name: str, walk: Walk | None = None, depth: int = 0) -> Walk:
    """Walk from a block device down its slaves, recording crypt layers and plain bottoms."""
    walk = walk if walk is not None else Walk()
    base = f"/sys/class/block/{kernel_name}"
    if depth > _MAX_DEPTH:
        walk.problems.append(f"{base}: device stack deeper than {_MAX_DEPTH} layers")
        return walk
    if not system.exists(base):
        walk.problems.append(f"{base} does not exist")
        return walk
    slaves = list_optional(system, f"{base}/slaves")
    kind = crypt_type(read_line(system, f"{base}/dm/uuid"))
    if kind is not None:
        under = [display_name(system, slave) for slave in slaves]
        walk.crypt.append((display_name(system, kernel_name), kind, under))
        return walk
    if not slaves:
        walk.plain.append(display_name(system, kernel_name))
        return walk
    for slave in slaves:
        walk_device(system, slave, walk, depth + 1)
    return walk


_NO_BLOCK_DEVICE = {
    "overlay": "an overlay filesystem, as in a container or a live system",
    "tmpfs": "a RAM-backed filesystem",
    "ramfs": "a RAM-backed filesystem",
    "rootfs": "the kernel's initial RAM filesystem",
    "aufs": "a union filesystem, as in a container or a live system",
    "nfs": "a network filesystem",
    "nfs4": "a network filesystem",
    "cifs": "a network filesystem",
    "smb3": "a network filesystem",
    "9p": "a filesystem shared by the host (9p), as in a VM or WSL",
    "virtiofs": "a filesystem shared by the host (virtiofs)",
    "ceph": "a network filesystem",
    "glusterfs": "a network filesystem",
}


class DiskEncryption(MachineTable):
    """Whether the filesystems at / and /home are on encrypted block devices."""

    name = "stethoscope_disk_encryption"
    columns = DISK_ENCRYPTION_COLUMNS
    platforms = ("linux",)

    def _zfs(self, mount: Mount) -> Row:
        where = f"{mount.path} is on the ZFS dataset {mount.device}"
        zfs = find_program(self._system, "zfs")
        if zfs is None:
            return {
                "encrypted": None,
                "detail": f"{where}; ZFS encryption can only be read with the zfs command, "
                "which is not installed",
            }
        result = run_quiet(
            self._system, [zfs, "get", "-H", "-o", "value", "encryption", mount.device]
        )
        if isinstance(result, str):
            return {
                "encrypted": None,
                "detail": f"{where}; its encryption cannot be read: {result}",
            }
        value = result.stdout.strip()
        if not result.ok or not value:
            reason = command_reason(result)
            return {"encrypted": None, "detail": f"{where}; zfs get encryption failed: {reason}"}
        if value == "-":
            return {"encrypted": None, "detail": f"{where}; zfs reports no encryption property"}
        if value == "off":
            return {"encrypted": 0, "detail": f"{where}, which has ZFS encryption off"}
        return {
            "encrypted": 1,
            "type": f"ZFS native ({value})",
            "detail": f"{where}, which is encrypted with ZFS native encryption ({value})",
        }

    def _row(self, mount: Mount) -> Row:
        row: Row = {"name": mount.device, "mountpoint": mount.path, "type": None}
        what = f"{mount.path} is on {mount.device} ({mount.type})"
        if mount.type == "zfs":
            row.update(self._zfs(mount))
            return row
        if mount.type in _NO_BLOCK_DEVICE or mount.type.startswith("fuse"):
            kind = _NO_BLOCK_DEVICE.get(mount.type, "a FUSE filesystem")
            row["encrypted"] = None
            row["detail"] = (
                f"{what}, {kind}, not a local disk, so whether the storage underneath is "
                "encrypted cannot be seen from here"
            )
            return row
        kernel_name = block_name_for_mount(self._system, mount)
        if kernel_name is None:
            row["encrypted"] = None
            row["detail"] = (
                f"{what}, but the block device behind it could not be found in /sys "
                "(no /sys/dev/block entry for its device number and no matching device name)"
            )
            return row
        walk = walk_device(self._system, kernel_name)
        device = display_name(self._system, kernel_name)
        if device != mount.device:
            what = f"{mount.path} is on {mount.device} ({device}, {mount.type})"
        if walk.problems:
            row["encrypted"] = None
            row["detail"] = f"{what}, but its device stack cannot be read: " + "; ".join(
                walk.problems
            )
            return row
        if walk.crypt and not walk.plain:
            row["encrypted"] = 1
            row["type"] = ", ".join(sorted({kind for _, kind, _ in walk.crypt}))
            if len(walk.crypt) == 1 and walk.crypt[0][0] == device:
                _, kind, under = walk.crypt[0]
                row["detail"] = f"{what}, a dm-crypt ({kind}) device over {_joined(under)}"
            else:
                layers = "; ".join(
                    f"{dev} ({kind}) over {_joined(under)}" for dev, kind, under in walk.crypt
                )
                row["detail"] = f"{what}, which sits on the dm-crypt device {layers}"
            return row
        row["encrypted"] = 0
        if walk.crypt:
            encrypted = ", ".join(dev for dev, _, _ in walk.crypt)
            row["detail"] = (
                f"{what}, which spans the encrypted {encrypted} and the unencrypted "
                f"{', '.join(walk.plain)}"
            )
        elif walk.plain == [device]:
            row["detail"] = f"{what}, not on an encrypted (dm-crypt/LUKS) device"
        else:
            row["detail"] = (
                f"{what} over {', '.join(walk.plain)}, not on an encrypted (dm-crypt/LUKS) device"
            )
        return row

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            mounts = read_mounts(self._system)
        except OSError as error:
            reason = os_error_reason(error)
            return [
                {
                    "name": None,
                    "mountpoint": "/",
                    "encrypted": None,
                    "detail": f"cannot read the mount table (/proc/mounts: {reason})",
                }
            ]
        rows: list[Row] = []
        for path in MOUNTPOINTS:
            mount = mount_at(mounts, path)
            if mount is None:
                if path == "/":
                    rows.append(
                        {
                            "name": None,
                            "mountpoint": "/",
                            "encrypted": None,
                            "detail": "nothing is mounted at / according to /proc/self/mountinfo",
                        }
                    )
                continue
            rows.append(self._row(mount))
        return rows


def _joined(devices: list[str]) -> str:
    return ", ".join(devices) if devices else "an unknown device"
