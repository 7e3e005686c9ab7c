"""The device's addresses and interfaces on Linux, from recorded `ip -json` output and /sys files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.api.network import (
    IpAddress,
    LinuxNetworkReader,
    NetworkFacts,
    NetworkInterface,
    NullNetworkReader,
    create_network_reader,
    is_reportable_mac,
    parse_ip_json,
    prefix_mask,
)
from stethoscope_desktop.tables.system import CommandResult, LocalSystem
from tests.fakes import FakeSystem

RECORDED = (Path(__file__).parent / "fixtures" / "network" / "ip-json-address.json").read_text()
IP = ("ip", "-json", "address", "show")


def test_addresses_from_ip_json() -> None:
    assert parse_ip_json(RECORDED) == (
        IpAddress("lo", "127.0.0.1", "255.0.0.0", ""),
        IpAddress("lo", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""),
        IpAddress("wlp0s20f3", "192.168.1.23", "255.255.255.0", "192.168.1.255"),
        IpAddress("wlp0s20f3", "fe80::1c2d:3e4f:5a6b:7c8d", "ffff:ffff:ffff:ffff::", ""),
        IpAddress("docker0", "172.17.0.1", "255.255.0.0", "172.17.255.255"),
    )


@pytest.mark.parametrize(
    "text", ["", "not json", "{}", "[1, 2]", '[{"addr_info": [{"local": 5}]}]']
)
def test_unexpected_output_gives_no_addresses(text: str) -> None:
    assert parse_ip_json(text) == ()


@pytest.mark.parametrize(
    ("address", "prefix", "mask"),
    [
        ("10.0.0.1", 8, "255.0.0.0"),
        ("10.0.0.1", 32, "255.255.255.255"),
        ("fe80::1", 64, "ffff:ffff:ffff:ffff::"),
        ("fe80::1%eth0", 10, "ffc0::"),
    ],
)
def test_prefix_masks(address: str, prefix: int, mask: str) -> None:
    assert prefix_mask(address, prefix) == mask


@pytest.mark.parametrize(
    ("mac", "reported"),
    [
        ("3c:58:c2:11:22:33", True),
        ("02:42:ac:11:00:01", True),  # locally administered (docker, randomised Wi-Fi): kept
        ("00:00:00:00:00:00", False),  # a placeholder (loopback)
        ("01:00:5e:00:00:01", False),  # multicast
        ("", False),
        ("zz:00:00:00:00:00", False),
    ],
)
def test_which_hardware_addresses_are_reported(mac: str, reported: bool) -> None:
    assert is_reportable_mac(mac) is reported


def test_linux_reader_reads_ip_and_sys_class_net(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path, commands={IP: CommandResult(IP, 0, RECORDED, "")})
    for name, mac, physical in (
        ("lo", "00:00:00:00:00:00", False),
        ("wlp0s20f3", "3C:58:C2:11:22:33", True),
        ("docker0", "02:42:ac:11:00:01", False),
    ):
        system.write(f"/sys/class/net/{name}/address", mac + "\n")
        system.write(f"/sys/class/net/{name}/type", "772\n" if name == "lo" else "1\n")
        if physical:
            system.write(f"/sys/class/net/{name}/device/uevent", "")
    facts = LinuxNetworkReader(system).read()
    assert len(facts.ip_addresses) == 5
    assert facts.interfaces == (
        NetworkInterface("docker0", "02:42:ac:11:00:01", "1", False),
        NetworkInterface("wlp0s20f3", "3c:58:c2:11:22:33", "1", True),
    )


def test_linux_reader_without_ip_or_sys_reads_nothing(tmp_path: Path) -> None:
    assert LinuxNetworkReader(FakeSystem(tmp_path)).read() == NetworkFacts()


def test_other_platforms_have_no_reader_yet() -> None:
    assert isinstance(create_network_reader("darwin", LocalSystem()), NullNetworkReader)
    assert isinstance(create_network_reader("linux", LocalSystem()), LinuxNetworkReader)
    assert NullNetworkReader().read() == NetworkFacts()
