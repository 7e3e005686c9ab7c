"""listening_ports and stethoscope_remote_login from recorded /proc/net files."""

from __future__ import annotations

import os
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
        "pid": -1,  # no process of this user holds it
        "port": 22,
        "protocol": 6,
        "family": 2,
        "address": "0.0.0.0",
        "fd": -1,
        "socket": 21987,
        "path": None,
        "net_namespace": None,
    }


UNIX = """Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 23817 /run/systemd/private
0000000000000000: 00000003 00000000 00000000 0001 03 50001
0000000000000000: 00000002 00000000 00010000 0001 01 50002 @/tmp/.X11-unix/X0
"""
PACKET = """sk               RefCnt Type Proto  Iface R Rmem   User   Inode
0000000000000000 3      3    0003   2     1 0      0      60001
"""
# A TCP socket bound but not listening (state 07) has remote port 0 too: osquery lists it.
TCP_BOUND = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout"
    " inode\n"
    "   0: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0"
    " 70001 1 0000000000000000 100 0 0 10 0\n"
)


def test_listening_ports_as_osquery_with_pid_and_fd_of_visible_processes(tmp_path: Path) -> None:
    root = net_root(tmp_path, "sshd", ("tcp", "udp"))
    make_root(root, {"/proc/net/unix": UNIX, "/proc/net/packet": PACKET, "/proc/net/tcp6": "",
                     "/proc/net/raw": TCP_BOUND.replace("1F90", "0001")})  # fmt: skip
    recorded = (root / "proc/net/tcp").read_text().rstrip("\n")
    (root / "proc/net/tcp").write_text(recorded + "\n" + TCP_BOUND.splitlines()[1] + "\n")
    links = {
        "/proc/1000/fd/3": "socket:[21987]",  # sshd
        "/proc/1000/fd/4": "/dev/null",
        "/proc/1000/fd/7": "socket:[23817]",
        "/proc/999/fd/5": "socket:[23817]",  # "999" > "1000" as text: the last holder wins
        "/proc/1000/fd/10": "socket:[50002]",
        "/proc/self/ns/net": "net:[4026531840]",
    }
    for path, target in links.items():
        link = root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    (root / "proc/4242/fd").mkdir(parents=True)  # another user's process: nothing readable
    system = FakeSystem(root, denied=["/proc/4242/fd"])
    generated = rows(ListeningPorts(system))
    assert [
        (r["pid"], r["fd"], r["protocol"], r["family"], r["address"], r["port"], r["socket"],
         r["path"])
        for r in generated
    ] == [
        (1000, 3, 6, 2, "0.0.0.0", 22, 21987, None),
        (-1, -1, 6, 2, "127.0.0.1", 631, 23451, None),
        (-1, -1, 6, 2, "127.0.0.1", 8080, 70001, None),  # bound, not listening
        (-1, -1, 17, 2, "127.0.0.53", 53, 20375, None),
        (-1, -1, 17, 2, "0.0.0.0", 68, 20111, None),
        (-1, -1, 255, 2, "127.0.0.1", 1, 70001, None),
        (999, 5, 0, 1, None, 0, 0, "/run/systemd/private"),
        (1000, 10, 0, 1, None, 0, 0, "@/tmp/.X11-unix/X0"),  # the unbound one is left out
        (-1, -1, 3, 17, "", 0, 60001, None),
    ]  # fmt: skip
    assert {r["net_namespace"] for r in generated} == {"4026531840"}


def test_listening_ports_without_ipv6_is_fine(tmp_path: Path) -> None:
    root = net_root(tmp_path, "sshd", ("tcp", "udp"))
    assert len(rows(ListeningPorts(FakeSystem(root)))) == 4


def test_listening_ports_without_proc_net_is_a_table_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="/proc/net/tcp: not found"):
        rows(ListeningPorts(FakeSystem(tmp_path)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads this machine's /proc")
def test_listening_ports_resolve_this_process_own_socket() -> None:
    import socket as sockets

    from stethoscope_desktop.tables.system import LocalSystem

    with sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        found = [r for r in rows(ListeningPorts(LocalSystem())) if r["port"] == port]
        assert [(r["pid"], r["fd"]) for r in found] == [(os.getpid(), server.fileno())]


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


def _established(count: int) -> str:
    """Lines of /proc/net/tcp for `count` established connections (state 01) to port 443."""
    return "".join(
        f"  {n + 10}: 0F02000A:{40000 + n:04X} 22D8B85D:01BB 01 00000000:00000000 00:00000000 "
        f"00000000  1000        0 {50000 + n} 1 0000000000000000 20 4 30 10 -1\n"
        for n in range(count)
    )


def test_remote_login_decodes_only_listening_sockets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 16: thousands of connections must cost a split each, not an address decoding each.
    tcp = fixture("net/sshd/tcp") + _established(3000)
    root = make_root(tmp_path, {"/proc/net/tcp": tcp, "/proc/net/tcp6": fixture("net/sshd/tcp6")})
    from stethoscope_desktop.tables.linux import network

    decoded: list[str] = []
    real = network.decode_address

    def counting(hex_address: str, family: int) -> str:
        decoded.append(hex_address)
        return real(hex_address, family)

    monkeypatch.setattr(network, "decode_address", counting)
    row = one_row(RemoteLogin(FakeSystem(root)))
    assert row["enabled"] == 1 and "0.0.0.0:22" in str(row["detail"])
    listening = sum(1 for line in tcp.splitlines()[1:] if line.split()[3] == "0A")
    listening += sum(
        1 for line in fixture("net/sshd/tcp6").splitlines()[1:] if line.split()[3] == "0A"
    )
    assert len(decoded) == 2 * listening  # local and remote address of each listener only
    # listening_ports still sees every socket's line (it lists UDP and resolves holders).
    assert len(rows(ListeningPorts(FakeSystem(root)))) >= 1
