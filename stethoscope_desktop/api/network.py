"""This device's network identity for the API's `device { ipAddresses macAddresses }`.

Stethoscope read these from osquery's `interface_addresses` and `interface_details`; neither is
among our tables yet, so this adapter reads them on Linux (`ip -json address` for the addresses,
`/sys/class/net` for the interfaces) through the same `System` adapter the tables use, so tests
give it recorded outputs. Other platforms answer empty lists (Stethoscope's own resolver did
the same for `ipAddresses`) until tables exist there. When `interface_addresses` and
`interface_details` tables arrive, a check can replace this module.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from stethoscope_desktop.tables.system import CommandError, System

log = logging.getLogger(__name__)
_PLACEHOLDER_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class IpAddress:
    """One address of one interface (osquery's interface_addresses)."""

    interface: str
    address: str
    mask: str
    broadcast: str = ""


@dataclass(frozen=True)
class NetworkInterface:
    """One interface with a hardware address (osquery's interface_details)."""

    interface: str
    mac: str
    type: str = ""
    physical_adapter: bool = False
    last_change: str | None = None


@dataclass(frozen=True)
class NetworkFacts:
    """The addresses and interfaces read at one moment."""

    ip_addresses: tuple[IpAddress, ...] = ()
    interfaces: tuple[NetworkInterface, ...] = ()


class NetworkReader(Protocol):
    """Reads the network identity of this device; never raises."""

    def read(self) -> NetworkFacts:
        """Return the addresses and interfaces now."""
        ...


class NullNetworkReader:
    """For platforms without a reader yet: no addresses, no interfaces."""

    def read(self) -> NetworkFacts:
        """Return empty facts."""
        return NetworkFacts()


def prefix_mask(address: str, prefix: int) -> str:
    """Return the netmask of a prefix length: 255.255.255.0, ffff:ffff:ffff:ffff::."""
    version = ipaddress.ip_address(address.split("%")[0]).version
    network = ipaddress.ip_network(f"{'0.0.0.0' if version == 4 else '::'}/{prefix}")
    return str(network.netmask)


def parse_ip_json(text: str) -> tuple[IpAddress, ...]:
    """Return the addresses in the output of `ip -json address`."""
    try:
        links = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(links, list):
        return ()
    found: list[IpAddress] = []
    for link in links:
        if not isinstance(link, dict):
            continue
        name = str(link.get("ifname") or "")
        for info in link.get("addr_info") or ():
            address = _address(name, info)
            if address is not None:
                found.append(address)
    return tuple(found)


def _address(name: str, info: Any) -> IpAddress | None:
    if not isinstance(info, dict) or not isinstance(info.get("local"), str):
        return None
    local = info["local"]
    prefix = info.get("prefixlen")
    try:
        mask = prefix_mask(local, prefix) if isinstance(prefix, int) else ""
    except ValueError:
        return None
    return IpAddress(name, local, mask, str(info.get("broadcast") or ""))


def is_reportable_mac(mac: str) -> bool:
    """Return False for placeholder (all zero) and multicast hardware addresses."""
    parts = mac.strip().lower().split(":")
    if len(parts) != 6 or mac.strip().lower() == _PLACEHOLDER_MAC:
        return False
    try:
        first = int(parts[0], 16)
    except ValueError:
        return False
    return not first & 1


class LinuxNetworkReader:
    """Reads addresses with `ip -json address` and interfaces from `/sys/class/net`."""

    def __init__(self, system: System) -> None:
        self._system = system

    def read(self) -> NetworkFacts:
        """Return what could be read; a missing `ip` or folder gives empty lists."""
        return NetworkFacts(self._addresses(), self._interfaces())

    def _addresses(self) -> tuple[IpAddress, ...]:
        try:
            result = self._system.run(["ip", "-json", "address", "show"])
        except CommandError as error:
            log.debug("ip addresses: %s", error)
            return ()
        return parse_ip_json(result.stdout) if result.ok else ()

    def _interfaces(self) -> tuple[NetworkInterface, ...]:
        base = "/sys/class/net"
        try:
            names = sorted(self._system.list_dir(base))
        except OSError as error:
            log.debug("interfaces: %s", error)
            return ()
        found: list[NetworkInterface] = []
        for name in names:
            folder = f"{base}/{name}"
            try:
                mac = self._system.read_text(f"{folder}/address").strip()
                kind = self._system.read_text(f"{folder}/type").strip()
            except OSError:
                continue
            if is_reportable_mac(mac):
                physical = self._system.exists(f"{folder}/device")
                found.append(NetworkInterface(name, mac.lower(), kind, physical))
        return tuple(found)


def create_network_reader(platform: str, system: System) -> NetworkReader:
    """Return the reader for `platform` (osquery's name)."""
    if platform == "linux":
        return LinuxNetworkReader(system)
    return NullNetworkReader()


def address_entries(facts: NetworkFacts) -> list[dict[str, Any]]:
    """Return the addresses in the API's names (Stethoscope's `IpAddress`)."""
    return [
        {"interface": a.interface, "address": a.address, "mask": a.mask, "broadcast": a.broadcast}
        for a in facts.ip_addresses
    ]


def interface_entries(facts: NetworkFacts) -> list[dict[str, Any]]:
    """Return the interfaces in the API's names (Stethoscope's `NetworkInterface`)."""
    return [
        {
            "interface": i.interface,
            "type": i.type,
            "mac": i.mac,
            "physicalAdapter": i.physical_adapter,
            "lastChange": i.last_change,
        }
        for i in facts.interfaces
    ]
