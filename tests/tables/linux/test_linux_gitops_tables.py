"""interface_details (fake sysfs), sudoers and ssh_configs (fake /etc and homes), iptables' reason.

Also the shapes IT's policies use them in, through the embedded engine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.linux.interface_details import (
    InterfaceDetails,
    interface_flags,
    mac_from_address,
)
from stethoscope_desktop.tables.linux.root_only import Iptables, Sudoers
from stethoscope_desktop.tables.linux.ssh_configs import SshConfigs
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import equals, make_root, query_rows, rows

PCI_DEVICE = "/sys/devices/pci0000:00/0000:00:1f.6"
VIRTIO_DEVICE = "/sys/devices/pci0000:00/0000:00:03.0/virtio1"


def _interface(root: Path, name: str, device: str | None, files: dict[str, str]) -> None:
    real = f"{device}/net/{name}" if device else f"/sys/devices/virtual/net/{name}"
    make_root(root, {f"{real}/{path}": f"{value}\n" for path, value in files.items()})
    link = root / f"sys/class/net/{name}"
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(root / real.lstrip("/"), link.parent), link)
    if device:
        os.symlink(
            os.path.relpath(root / device.lstrip("/"), root / real.lstrip("/")),
            root / real.lstrip("/") / "device",
        )


def _counters(rx_packets: int, tx_packets: int) -> dict[str, str]:
    counters = {
        "rx_packets": rx_packets,
        "tx_packets": tx_packets,
        "rx_bytes": rx_packets * 100,
        "tx_bytes": tx_packets * 100,
        "rx_errors": 1,
        "tx_errors": 2,
        "rx_dropped": 3,
        "tx_dropped": 4,
        "collisions": 0,
    }
    return {f"statistics/{name}": str(value) for name, value in counters.items()}


@pytest.fixture
def net_root(tmp_path: Path) -> Path:
    _interface(
        tmp_path,
        "lo",
        None,
        {
            "ifindex": "1",
            "address": "00:00:00:00:00:00",
            "type": "772",
            "mtu": "65536",
            "flags": "0x9",
            "operstate": "unknown",
            "carrier": "1",
            **_counters(50, 50),
        },
    )
    _interface(
        tmp_path,
        "enp0s31f6",
        PCI_DEVICE,
        {
            "ifindex": "2",
            "address": "8C:16:45:AA:BB:01",
            "type": "1",
            "mtu": "1500",
            "flags": "0x1003",
            "operstate": "up",
            "carrier": "1",
            "speed": "1000",
            # 2**32 + 7 packets: osquery's counters are 32 bits wide.
            **_counters(2**32 + 7, 9),
        },
    )
    _interface(
        tmp_path,
        "eth1",
        VIRTIO_DEVICE,
        {
            "ifindex": "3",
            "address": "52:54:00:12:34:56",
            "type": "1",
            "mtu": "1400",
            "flags": "0x1002",  # down
            "operstate": "down",
            "carrier": "0",
            "speed": "-1",
            **_counters(0, 0),
        },
    )
    _interface(
        tmp_path,
        "tun0",
        None,
        {
            "ifindex": "4",
            "address": "",
            "type": "65534",
            "mtu": "1500",
            "flags": "0x1091",
            "operstate": "unknown",
            **_counters(5, 5),
        },
    )
    make_root(tmp_path, {"/sys/class/net/bonding_masters": "\n"})
    return tmp_path


def test_mac_as_osquery_prints_it() -> None:
    assert mac_from_address("8C:16:45:AA:BB:01") == "8c:16:45:aa:bb:01"
    assert mac_from_address("") == "00:00:00:00:00:00"
    assert mac_from_address(None) == "00:00:00:00:00:00"
    assert mac_from_address("0a:00:00:01") == "0a:00:00:01:00:00"  # 4-byte tunnel address
    assert mac_from_address("80:00:02:08:fe:80:00:00:00:00") == "80:00:02:08:fe:80"


def test_flags_add_the_operational_bits_as_netlink_does() -> None:
    assert interface_flags(0x1003, "up", 1) == 0x1003 | 0x40 | 0x10000
    assert interface_flags(0x9, "unknown", 1) == 0x9 | 0x40 | 0x10000
    assert interface_flags(0x1002, "down", 0) == 0x1002  # down: no running bit
    assert interface_flags(0x1003, "dormant", 1) == 0x1003 | 0x10000 | 0x20000
    assert interface_flags(0x1003, "lowerlayerdown", 0) == 0x1003


def test_interface_details_rows(net_root: Path) -> None:
    generated = rows(InterfaceDetails(FakeSystem(net_root)))
    assert [r["interface"] for r in generated] == ["lo", "enp0s31f6", "eth1", "tun0"]
    wired = generated[1]
    assert wired == {
        "interface": "enp0s31f6",
        "mac": "8c:16:45:aa:bb:01",
        "type": 1,
        "mtu": 1500,
        "metric": 0,
        "flags": 0x11043,
        "ipackets": 7,
        "opackets": 9,
        "ibytes": (((2**32 + 7) * 100) & 0xFFFFFFFF),
        "obytes": 900,
        "ierrors": 1,
        "oerrors": 2,
        "idrops": 3,
        "odrops": 4,
        "collisions": 0,
        "last_change": -1,
        "link_speed": 1000,
        "pci_slot": "0000:00:1f.6",
    }
    lo, virtio, tun = generated[0], generated[2], generated[3]
    assert (lo["mac"], lo["type"], lo["link_speed"], lo["pci_slot"]) == (
        "00:00:00:00:00:00",
        772,
        0,
        None,
    )
    assert (virtio["pci_slot"], virtio["link_speed"], virtio["flags"]) == (
        "0000:00:03.0",
        0,
        0x1002,
    )
    assert (tun["mac"], tun["type"], tun["flags"]) == ("00:00:00:00:00:00", 65534, 0x1091 | 0x40)


def test_interface_details_without_sysfs_has_no_rows(tmp_path: Path) -> None:
    assert rows(InterfaceDetails(FakeSystem(tmp_path))) == []


ASSET_INVENTORIED = (
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM interface_details "
    "WHERE mac != '00:00:00:00:00:00' LIMIT 1)"
)


def test_interface_details_in_a_policy_shape(net_root: Path, tmp_path: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("linux", FakeSystem(net_root)))
    assert query_rows(engine, ASSET_INVENTORIED) == [{"1": 1}]
    assert query_rows(
        engine, "SELECT interface FROM interface_details WHERE flags & 0x40 AND type = 1"
    ) == [{"interface": "enp0s31f6"}]
    only_loopback = tmp_path / "lo-only"
    _interface(only_loopback, "lo", None, {"ifindex": "1", "address": "00:00:00:00:00:00"})
    lonely = EmbeddedEngine(builtin_tables("linux", FakeSystem(only_loopback)))
    assert query_rows(lonely, ASSET_INVENTORIED) == []


SUDOERS = """\
# sudoers file: comments and blank lines are no rows
Defaults\tenv_reset
Defaults   secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"

Host_Alias OFFICE = 10.0.0.0/8
root\tALL=(ALL:ALL) ALL
%sudo   ALL=(ALL:ALL) ALL
#include extra
@includedir /etc/sudoers.d
"""


@pytest.fixture
def sudo_root(tmp_path: Path) -> Path:
    return make_root(
        tmp_path,
        {
            "/etc/sudoers": SUDOERS,
            "/etc/extra": "Cmnd_Alias SHUTDOWN = /sbin/halt, \\\n    /sbin/reboot\n",
            "/etc/sudoers.d/README": "# files here are read\n",
            "/etc/sudoers.d/alice": "alice ALL=(ALL) NOPASSWD: ALL\n",
            "/etc/sudoers.d/skipped.conf": "mallory ALL=(ALL) ALL\n",
            "/etc/sudoers.d/backup~": "mallory ALL=(ALL) ALL\n",
        },
    )


def test_sudoers_rows_as_osquery_gives_them(sudo_root: Path) -> None:
    generated = rows(Sudoers(FakeSystem(sudo_root)))
    assert [(r["source"], r["header"], r["rule_details"]) for r in generated] == [
        ("/etc/sudoers", "Defaults", "env_reset"),
        (
            "/etc/sudoers",
            "Defaults",
            'secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"',
        ),
        ("/etc/sudoers", "Host_Alias", "OFFICE = 10.0.0.0/8"),
        ("/etc/sudoers", "root", "ALL=(ALL:ALL) ALL"),
        ("/etc/sudoers", "%sudo", "ALL=(ALL:ALL) ALL"),
        ("/etc/sudoers", "#include", "extra"),
        ("/etc/extra", "Cmnd_Alias", "SHUTDOWN = /sbin/halt, /sbin/reboot"),
        ("/etc/sudoers", "@includedir", "/etc/sudoers.d"),
        ("/etc/sudoers.d/alice", "alice", "ALL=(ALL) NOPASSWD: ALL"),
    ]


def test_sudoers_continuation_of_a_bare_header(tmp_path: Path) -> None:
    make_root(tmp_path, {"/etc/sudoers": "Defaults\\\n  requiretty\n"})
    assert rows(Sudoers(FakeSystem(tmp_path))) == [
        {"source": "/etc/sudoers", "header": "Defaults", "rule_details": "requiretty"}
    ]


def test_sudoers_including_itself_stops_at_128_levels(tmp_path: Path) -> None:
    make_root(tmp_path, {"/etc/sudoers": "#include sudoers\n"})
    generated = rows(Sudoers(FakeSystem(tmp_path)))
    assert len(generated) == 128
    assert generated[0] == {
        "source": "/etc/sudoers",
        "header": "#include",
        "rule_details": "sudoers",
    }


def test_sudoers_unreadable_says_root_only(sudo_root: Path) -> None:
    with pytest.raises(TableError, match="only root can read"):
        rows(Sudoers(FakeSystem(sudo_root, denied={"/etc/sudoers"})))
    with pytest.raises(
        TableError, match=re.escape("/etc/sudoers.d/alice, which only root can read")
    ):
        rows(Sudoers(FakeSystem(sudo_root, denied={"/etc/sudoers.d/alice"})))


def test_sudoers_missing_has_no_rows(tmp_path: Path) -> None:
    assert rows(Sudoers(FakeSystem(tmp_path))) == []


ONLY_GROUPS_IN_SUDOERS = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM sudoers WHERE header NOT IN "
    "('root', 'Defaults', '#include', '#includedir', '@include', '@includedir') "
    "AND substr(header, 1, 1) != '%' AND header NOT LIKE '%\\_Alias' ESCAPE '\\')"
)


def test_sudoers_in_a_policy_shape(sudo_root: Path, tmp_path: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("linux", FakeSystem(sudo_root)))
    assert query_rows(engine, ONLY_GROUPS_IN_SUDOERS) == []  # alice has her own rule
    (sudo_root / "etc/sudoers.d/alice").unlink()
    assert query_rows(engine, ONLY_GROUPS_IN_SUDOERS) == [{"1": 1}]
    denied = EmbeddedEngine(builtin_tables("linux", FakeSystem(sudo_root, denied={"/etc/sudoers"})))
    session = denied.begin_scan()
    try:
        with pytest.raises(Exception, match="only root can read"):
            session.query(ONLY_GROUPS_IN_SUDOERS)
    finally:
        session.close()


def test_iptables_never_tries_and_says_why(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="libiptc"):
        rows(Iptables(FakeSystem(tmp_path)))


SSH_PASSWD = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
ALICE_SSH_CONFIG = """\
# my hosts
ForwardAgent no

Host build.example.com
    HostName 10.0.0.5
    User Builder
  Hostname-only-line
Match host *.corp exec "true"
\tPasswordAuthentication No
"""
SYSTEM_SSH_CONFIG = """\
Include /etc/ssh/ssh_config.d/*.conf
Host *
    SendEnv LANG LC_*
    PasswordAuthentication yes
"""


@pytest.fixture
def ssh_root(tmp_path: Path) -> Path:
    return make_root(
        tmp_path,
        {
            "/etc/passwd": SSH_PASSWD,
            "/home/alice/.ssh/config": ALICE_SSH_CONFIG,
            "/etc/ssh/ssh_config": SYSTEM_SSH_CONFIG,
        },
    )


def test_ssh_configs_rows_as_osquery_gives_them(ssh_root: Path) -> None:
    generated = rows(SshConfigs(FakeSystem(ssh_root), uid=1000))
    alice, system = "/home/alice/.ssh/config", "/etc/ssh/ssh_config"
    assert [(r["uid"], r["block"], r["option"], r["ssh_config_file"]) for r in generated] == [
        (1000, "", "forwardagent no", alice),
        (1000, "host build.example.com", "hostname 10.0.0.5", alice),
        (1000, "host build.example.com", "user builder", alice),
        (1000, "host build.example.com", "hostname-only-line", alice),
        (1000, 'match host *.corp exec "true"', "passwordauthentication no", alice),
        (0, "", "include /etc/ssh/ssh_config.d/*.conf", system),
        (0, "host *", "sendenv lang lc_*", system),
        (0, "host *", "passwordauthentication yes", system),
    ]
    # A uid constraint picks that user instead of the one running the query; root has no file.
    by_root = rows(SshConfigs(FakeSystem(ssh_root), uid=1000), equals("uid", "0"))
    assert {r["ssh_config_file"] for r in by_root} == {system}


def test_ssh_configs_unreadable_config_is_a_reason(ssh_root: Path) -> None:
    system = FakeSystem(ssh_root, denied={"/home/alice/.ssh/config"})
    with pytest.raises(TableError, match="permission denied"):
        rows(SshConfigs(system, uid=1000))


PASSWORDS_OFF_FOR_ALL_HOSTS = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM ssh_configs WHERE block IN ('', 'host *') "
    "AND option LIKE 'passwordauthentication %' AND option != 'passwordauthentication no')"
)


def test_ssh_configs_in_a_policy_shape(ssh_root: Path) -> None:
    system = FakeSystem(ssh_root)
    tables = [t for t in builtin_tables("linux", system) if t.name != "ssh_configs"]
    engine = EmbeddedEngine([*tables, SshConfigs(system, uid=1000)])
    assert query_rows(engine, PASSWORDS_OFF_FOR_ALL_HOSTS) == []  # system-wide says yes
    (ssh_root / "etc/ssh/ssh_config").write_text("Host *\n  PasswordAuthentication no\n")
    assert query_rows(engine, PASSWORDS_OFF_FOR_ALL_HOSTS) == [{"1": 1}]
    (ssh_root / "home/alice/.ssh/config").write_text("PasswordAuthentication yes\n")
    assert query_rows(engine, PASSWORDS_OFF_FOR_ALL_HOSTS) == []  # alice's own says yes
