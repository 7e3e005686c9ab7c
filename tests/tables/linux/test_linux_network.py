"""listening_ports and stethoscope_remote_login from recorded /proc/net files."""

from __future__ import annotations

import errno
import os
import struct
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


def _inet_diag(family: int, address: bytes, port: int, inode: int, *, state: int = 10) -> bytes:
    """One inet_diag_msg as the kernel answers it (a listener: remote address and port zero)."""
    return (
        struct.pack("=BBBB", family, state, 0, 0)
        + struct.pack(">HH", port, 0)
        + address.ljust(16, b"\0")
        + bytes(16)
        + struct.pack("=IQIIIII", 0, 0, 0, 0, 0, 1000, inode)
    )


class NetlinkMachine(FakeSystem):
    """A fake root whose kernel answers sock_diag with recorded messages, per family."""

    def __init__(self, root: Path, answers: dict[int, list[bytes] | OSError]) -> None:
        super().__init__(root)
        self.answers = answers
        self.asked: list[tuple[int, int, int, int]] = []

    def netlink_dump(self, protocol: int, message_type: int, request: bytes) -> list[bytes]:
        family, _protocol, _, _, states = struct_request(request)
        self.asked.append((protocol, message_type, family, states))
        answer = self.answers[family]
        if isinstance(answer, OSError):
            raise answer
        return answer


def struct_request(request: bytes) -> tuple[int, int, int, int, int]:
    assert len(request) == 56  # inet_diag_req_v2
    family, protocol, extensions, pad, states = struct.unpack_from("=BBBBI", request)
    assert protocol == 6
    return family, protocol, extensions, pad, states


def test_decode_inet_diag_messages() -> None:
    from stethoscope_desktop.tables.linux.network import decode_inet_diag

    v4 = _inet_diag(2, bytes([10, 0, 2, 15]), 22, 111)
    v6 = _inet_diag(10, bytes(15) + b"\1", 5900, 222)
    assert [
        (s.local_address, s.local_port, s.inode, s.listening) for s in decode_inet_diag([v4], 2)
    ] == [("10.0.2.15", 22, 111, True)]
    (ipv6,) = decode_inet_diag([v6], 10)
    assert (ipv6.endpoint(), ipv6.loopback, ipv6.remote_address) == ("[::1]:5900", True, "::")
    # A short message or one of another family is skipped, never misread.
    assert decode_inet_diag([v4[:40], v6], 2) == []


def test_remote_login_asks_the_kernel_for_listeners_only(tmp_path: Path) -> None:
    # No /proc/net files at all: the answer must come from sock_diag, asked for TCP_LISTEN only.
    machine = NetlinkMachine(
        tmp_path,
        {2: [_inet_diag(2, bytes(4), 22, 7)], 10: [_inet_diag(10, bytes(15) + b"\1", 3389, 8)]},
    )
    row = one_row(RemoteLogin(machine))
    assert row == {
        "enabled": 1,
        "source": "listening_ports",
        "detail": "SSH port 22 is listening on 0.0.0.0:22",
    }
    assert machine.asked == [(4, 20, 2, 1 << 10), (4, 20, 10, 1 << 10)]


def test_remote_login_without_netlink_reads_proc_net(tmp_path: Path) -> None:
    refused = OSError(errno.EPERM, "Operation not permitted")
    row = one_row(
        RemoteLogin(NetlinkMachine(net_root(tmp_path, "sshd"), {2: refused, 10: refused}))
    )
    assert row["enabled"] == 1 and "0.0.0.0:22" in str(row["detail"])


def test_remote_login_without_ipv6_asks_netlink_for_ipv4_only(tmp_path: Path) -> None:
    machine = NetlinkMachine(
        tmp_path, {2: [], 10: OSError(errno.EAFNOSUPPORT, "Address family not supported")}
    )
    row = one_row(RemoteLogin(machine))
    assert row["enabled"] == 0  # not UNKNOWN: the kernel answered for IPv4, IPv6 is off


def test_listening_filter_reads_odd_spacing_and_case() -> None:
    from stethoscope_desktop.tables.linux.network import parse_proc_net

    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    rest = " 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0 100 0 0 10 0\n"
    text = (
        header
        + "   0: 00000000:0016 00000000:0000 0a"
        + rest.format(inode=1)
        + "\t1:\t0100007F:1770\t00000000:0000\t0A"
        + rest.format(inode=2)
        + "   2: 0F02000A:9C40 22D8B85D:01BB 01"
        + rest.format(inode=3)
        + "   3: 0F02000A:0A0A 22D8B85D:01BB 0A0"
        + rest.format(inode=4)  # not a state of 0A
    )
    listeners = parse_proc_net(text, 6, 2, listening_only=True)
    assert [(s.local_port, s.inode) for s in listeners] == [(22, 1), (6000, 2)]
    assert [s.inode for s in parse_proc_net(text, 6, 2)] == [1, 2, 3, 4]
    udp = header + "   5: 00000000:14E9 00000000:0000 07" + rest.format(inode=5)
    udp += "   6: 0F02000A:A000 08080808:0035 01" + rest.format(inode=6)
    assert [s.inode for s in parse_proc_net(udp, 17, 2, listening_only=True)] == [5]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="asks this machine's kernel")
def test_sock_diag_finds_this_process_listener_and_not_its_connections() -> None:
    import socket as sockets

    from stethoscope_desktop.tables.linux.network import listening_tcp_sockets, parse_proc_net
    from stethoscope_desktop.tables.system import LocalSystem

    with sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with sockets.create_connection(("127.0.0.1", port)) as client, server.accept()[0]:
            client_port = client.getsockname()[1]
            try:
                found = listening_tcp_sockets(LocalSystem())
            except OSError as error:  # pragma: no cover - a kernel without inet_diag
                pytest.skip(f"sock_diag is not available here: {error}")
            inode = os.fstat(server.fileno()).st_ino
            mine = [s for s in found if s.local_port == port]
            assert [(s.local_address, s.inode, s.state) for s in mine] == [("127.0.0.1", inode, 10)]
            assert not [s for s in found if client_port in (s.local_port, s.remote_port)]
            # The same listener as /proc/net/tcp shows it.
            proc = parse_proc_net(Path("/proc/net/tcp").read_text(), 6, 2, listening_only=True)
            assert [s for s in proc if s.local_port == port] == mine


def test_netlink_is_not_asked_on_a_fake_root(tmp_path: Path) -> None:
    with pytest.raises(OSError) as refused:
        FakeSystem(tmp_path).netlink_dump(4, 20, bytes(56))
    assert refused.value.errno == errno.ENOTSUP


def test_listening_filter_finds_the_same_lines_either_way() -> None:
    from stethoscope_desktop.tables.linux.network import _TCP_LISTENING_LINE, parse_proc_net

    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    rest = " 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1 0 20 4 30 10 -1\n"
    lines = [
        "   0: 00000000:0016 00000000:0000 0A" + rest.format(inode=1),
        "   1: 0F02000A:9C40 22D8B85D:01BB 01" + rest.format(inode=2),
        "   2: 0F02000A:0A0A 2200000A:0A0A 06" + rest.format(inode=3),  # 0A in addresses
        "   3: 0100007F:1770 00000000:0000 0A" + rest.format(inode=4).rstrip("\n"),  # no newline
    ]
    text = header + "".join(lines)
    listeners = parse_proc_net(text, 6, 2, listening_only=True)
    assert [(s.local_port, s.inode) for s in listeners] == [(22, 1), (6000, 4)]
    assert [s.inode for s in listeners] == [
        s.inode for s in parse_proc_net(text, 6, 2) if s.listening
    ]
    assert len(_TCP_LISTENING_LINE.findall(text)) == 2
