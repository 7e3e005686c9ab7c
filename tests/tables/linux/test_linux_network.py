"""listening_ports and stethoscope_remote_login from recorded /proc/net files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux.network import ListeningPorts, decode_address
from stethoscope_desktop.tables.linux.remote_login import RemoteLogin
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import fixture, make_root, one_row, rows

pytestmark = pytest.mark.skipif(
    sys.byteorder != "little", reason="the /proc/net fixtures were recorded on a little-endian host"
)


def net_root(tmp_path: Path, case: str, files: tuple[str, ...] = ("tcp", "tcp6")) -> Path:
    return make_root(
        tmp_path, {f"/proc/net/{name}": fixture(f"net/{case}/{name}") for name in files}
    )


def test_decode_address() -> None:
    assert decode_address("0100007F", 2) == "127.0.0.1"
    assert decode_address("0F02000A", 2) == "10.0.2.15"
    assert decode_address("0" * 32, 10) == "::"
    assert decode_address("00000000000000000000000001000000", 10) == "::1"
    assert decode_address("0000000000000000FFFF00000100007F", 10) == "::ffff:127.0.0.1"


def test_listening_ports_lists_tcp_listeners_and_unconnected_udp(tmp_path: Path) -> None:
    root = net_root(tmp_path, "sshd", ("tcp", "tcp6", "udp", "udp6"))
    generated = rows(ListeningPorts(FakeSystem(root)))
    assert [(r["protocol"], r["family"], r["address"], r["port"]) for r in generated] == [
        (6, 2, "0.0.0.0", 22),
        (6, 2, "127.0.0.1", 631),
        (6, 10, "::", 22),
        (6, 10, "::1", 631),
        (17, 2, "127.0.0.53", 53),
        (17, 2, "0.0.0.0", 68),
        (17, 10, "::", 5353),
    ]
    assert generated[0] == {
        "pid": -1,
        "port": 22,
        "protocol": 6,
        "family": 2,
        "address": "0.0.0.0",
        "fd": -1,
        "socket": 21987,
        "path": "",
    }


def test_listening_ports_without_ipv6_is_fine(tmp_path: Path) -> None:
    root = net_root(tmp_path, "sshd", ("tcp", "udp"))
    assert len(rows(ListeningPorts(FakeSystem(root)))) == 4


def test_listening_ports_without_proc_net_is_a_table_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="/proc/net/tcp: not found"):
        rows(ListeningPorts(FakeSystem(tmp_path)))


def test_remote_login_sshd_listening(tmp_path: Path) -> None:
    row = one_row(RemoteLogin(FakeSystem(net_root(tmp_path, "sshd"))))
    assert row == {
        "enabled": 1,
        "source": "listening_ports",
        "detail": "SSH port 22 is listening on 0.0.0.0:22; SSH port 22 is listening on [::]:22",
    }


def test_remote_login_nothing_listening(tmp_path: Path) -> None:
    row = one_row(RemoteLogin(FakeSystem(net_root(tmp_path, "quiet"))))
    assert row["enabled"] == 0
    assert row["detail"] == (
        "nothing listens on the SSH, RDP or VNC ports and no SSH service is enabled "
        "(only loopback listeners, which accept no remote connection: VNC on 127.0.0.1:5900)"
    )


def test_remote_login_ssh_enabled_in_systemd_counts(tmp_path: Path) -> None:
    root = net_root(tmp_path, "quiet")
    make_root(
        root,
        {
            "/run/systemd/system/.keep": "",
            "/lib/systemd/system/ssh.service": "[Service]\nExecStart=/usr/sbin/sshd -D\n",
            "/etc/systemd/system/multi-user.target.wants/ssh.service": "[Service]\n",
        },
    )
    row = one_row(RemoteLogin(FakeSystem(root)))
    assert row == {
        "enabled": 1,
        "source": "systemd",
        "detail": "ssh.service enabled, starts at boot "
        "(linked in /etc/systemd/system/multi-user.target.wants/ssh.service)",
    }


def test_remote_login_enabled_unit_without_systemd_does_not_start(tmp_path: Path) -> None:
    root = net_root(tmp_path, "quiet")
    make_root(
        root,
        {
            "/proc/1/comm": "tini\n",
            "/etc/systemd/system/multi-user.target.wants/ssh.service": "[Service]\n",
        },
    )
    row = one_row(RemoteLogin(FakeSystem(root)))
    assert row["enabled"] == 0
    assert str(row["detail"]).startswith(
        "nothing listens on the SSH, RDP or VNC ports; ssh.service is enabled, but systemd is "
        "not running (PID 1 is tini), so it does not start here"
    )


def test_remote_login_unreadable_sockets_is_unknown(tmp_path: Path) -> None:
    row = one_row(RemoteLogin(FakeSystem(tmp_path)))
    assert row["enabled"] is None
    assert row["detail"] == "cannot read the TCP socket tables (/proc/net/tcp: not found)"
