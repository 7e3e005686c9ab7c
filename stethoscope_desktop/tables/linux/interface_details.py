"""osquery's `interface_details` on Linux: one row per network interface, read from sysfs.

osquery takes the link entries getifaddrs(3) gives (one per interface the kernel has, in ifindex
order) and fills them from netlink statistics and a few ioctls. Every one of those facts is also in
/sys/class/net/<interface>/, readable by any user, so this table reads it there:
- mac: the first 6 bytes of `address` (zero-padded, as SIOCGIFHWADDR's sa_data), so an interface
  with no hardware address (lo, tun) is 00:00:00:00:00:00;
- type: `type` (the ARPHRD number SIOCGIFHWADDR reports); mtu: `mtu`; metric: 0 (Linux keeps
  none, SIOCGIFMETRIC answers 0);
- flags: the kernel's dev_get_flags, as netlink gives it: `flags` without the operational bits,
  plus IFF_RUNNING when the interface is up and its `operstate` is up or unknown, IFF_LOWER_UP when
  up with `carrier` 1, IFF_DORMANT when up and dormant;
- ipackets … collisions: `statistics/*`, cut to 32 bits as osquery's rtnl_link_stats are;
- last_change: -1 (Linux keeps none); link_speed: `speed` in Mb/s, 0 where the driver reports none
  (lo, virtual interfaces, a link that is down), as osquery's ETHTOOL_GSET;
- pci_slot: the bus id of the `device` the interface belongs to (what drivers report as ethtool's
  bus_info; for virtio_net its parent's, as that driver reports); NULL for interfaces without a
  device (lo, bridges, tunnels), where osquery asks the driver and the answer varies by driver.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    os_error_reason,
    read_line,
    to_int,
)

NET_FOLDER = "/sys/class/net"
BLANK_MAC = "00:00:00:00:00:00"

IFF_UP = 0x1
IFF_RUNNING = 0x40
IFF_LOWER_UP = 0x10000
IFF_DORMANT = 0x20000
_OPERATIONAL = IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT
_UINT32 = 0xFFFFFFFF
_SPEED_UNKNOWN = 0xFFFFFFFF

_STATISTICS = (
    ("ipackets", "rx_packets"),
    ("opackets", "tx_packets"),
    ("ibytes", "rx_bytes"),
    ("obytes", "tx_bytes"),
    ("ierrors", "rx_errors"),
    ("oerrors", "tx_errors"),
    ("idrops", "rx_dropped"),
    ("odrops", "tx_dropped"),
    ("collisions", "collisions"),
)


def mac_from_address(address: str | None) -> str:
    """Return the first 6 bytes of a sysfs hardware address as osquery prints a MAC."""
    octets: list[int] = []
    for part in (address or "").split(":"):
        try:
            octets.append(int(part, 16) & 0xFF)
        except ValueError:
            return BLANK_MAC
    octets = (octets + [0] * 6)[:6]
    return ":".join(f"{octet:02x}" for octet in octets)


def interface_flags(sysfs_flags: int, operstate: str | None, carrier: int | None) -> int:
    """Return the flags netlink reports (dev_get_flags) from sysfs's device flags and state."""
    flags = sysfs_flags & ~_OPERATIONAL & _UINT32
    if flags & IFF_UP:
        if operstate in ("up", "unknown"):
            flags |= IFF_RUNNING
        if carrier == 1:
            flags |= IFF_LOWER_UP
        if operstate == "dormant":
            flags |= IFF_DORMANT
    return flags


class InterfaceDetails(MachineTable):
    """Network interfaces' link details and counters (osquery's `interface_details`)."""

    name = "interface_details"
    columns = (
        Column("interface", "text"),
        Column("mac", "text"),
        Column("type", "integer"),
        Column("mtu", "integer"),
        Column("metric", "integer"),
        Column("flags", "integer"),
        Column("ipackets", "bigint"),
        Column("opackets", "bigint"),
        Column("ibytes", "bigint"),
        Column("obytes", "bigint"),
        Column("ierrors", "bigint"),
        Column("oerrors", "bigint"),
        Column("idrops", "bigint"),
        Column("odrops", "bigint"),
        Column("collisions", "bigint"),
        Column("last_change", "bigint"),
        Column("link_speed", "bigint"),
        Column("pci_slot", "text"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:
            names = self._system.list_dir(NET_FOLDER)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise TableError(f"cannot list {NET_FOLDER}: {os_error_reason(error)}") from error
        rows: list[tuple[int, str, Row]] = []
        for name in names:
            folder = f"{NET_FOLDER}/{name}"
            index = to_int(read_line(self._system, f"{folder}/ifindex"))
            if index is None:
                continue  # not an interface (bonding_masters and the like)
            rows.append((index, name, self._row(name, folder)))
        return [row for _, _, row in sorted(rows, key=lambda item: (item[0], item[1]))]

    def _number(self, path: str) -> int | None:
        text = read_line(self._system, path)
        if text is None:
            return None
        try:
            return int(text, 0)
        except ValueError:
            return None

    def _row(self, name: str, folder: str) -> Row:
        sysfs_flags = self._number(f"{folder}/flags") or 0
        operstate = read_line(self._system, f"{folder}/operstate")
        carrier = self._number(f"{folder}/carrier")
        speed = self._number(f"{folder}/speed")
        row: Row = {
            "interface": name,
            "mac": mac_from_address(read_line(self._system, f"{folder}/address")),
            "type": self._number(f"{folder}/type") or 0,
            "mtu": self._number(f"{folder}/mtu") or 0,
            "metric": 0,
            "flags": interface_flags(sysfs_flags, operstate, carrier),
            "last_change": -1,
            "link_speed": speed & _UINT32 if speed is not None and speed >= 0 else 0,
            "pci_slot": self._bus_id(folder),
        }
        if row["link_speed"] == _SPEED_UNKNOWN:
            row["link_speed"] = 0
        for column, counter in _STATISTICS:
            value = self._number(f"{folder}/statistics/{counter}")
            row[column] = (value & _UINT32) if value is not None else 0
        return row

    def _bus_id(self, folder: str) -> str | None:
        try:
            target = self._system.read_link(f"{folder}/device")
        except OSError:
            return None
        try:
            # /sys/class/net/<if> is itself a link into /sys/devices; `device` is relative to that.
            real = posixpath.join(NET_FOLDER, self._system.read_link(folder))
        except OSError:
            real = folder
        device = posixpath.normpath(posixpath.join(real, target))
        parts = [part for part in device.split("/") if part]
        if not parts:
            return None
        # virtio_net reports the bus id of the virtio device's parent (its PCI function).
        if parts[-1].startswith("virtio") and len(parts) > 1:
            return parts[-2]
        return parts[-1]
