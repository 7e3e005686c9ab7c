"""osquery's `listening_ports` table on Linux, from /proc/net and the /proc/<pid>/fd links.

As osquery builds it (from its process_open_sockets): every socket of this network namespace in
/proc/net/{icmp,tcp,udp,udplite,raw}[6], unix and packet; an internet socket is listed when its
remote port is 0 (a listening or bound-only TCP socket, an unconnected UDP one), a Unix socket
when it has a path, a packet socket always. pid and fd are those of the process holding the
socket, found through the `socket:[<inode>]` links in /proc/<pid>/fd of every process this user
may inspect (their own at least); a socket no visible process holds has -1 for both. Where
several hold one, the last in osquery's order wins (pids compared as text, then fds). A Unix
socket has port 0, socket 0 and no address; an internet socket no path. net_namespace is the
inode of this process's /proc/self/ns/net link (osquery also walks other namespaces through
their processes; we read our own only).
"""

from __future__ import annotations

import contextlib
import errno
import re
import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    list_optional,
    os_error_reason,
    read_optional,
)
from stethoscope_desktop.tables.system import System

TCP_LISTEN = 0x0A
IPPROTO_TCP = 6
IPPROTO_UDP = 17
AF_INET = 2
AF_INET6 = 10

# (file, protocol, family)
PROC_NET_FILES = (
    ("/proc/net/tcp", IPPROTO_TCP, AF_INET),
    ("/proc/net/tcp6", IPPROTO_TCP, AF_INET6),
    ("/proc/net/udp", IPPROTO_UDP, AF_INET),
    ("/proc/net/udp6", IPPROTO_UDP, AF_INET6),
)


@dataclass(frozen=True)
class InetSocket:
    """One line of /proc/net/{tcp,udp}[6]."""

    protocol: int
    family: int
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    state: int
    inode: int

    @property
    def listening(self) -> bool:
        """Return True for a listening TCP socket or an unconnected UDP socket."""
        if self.protocol == IPPROTO_TCP:
            return self.state == TCP_LISTEN
        return self.remote_port == 0

    @property
    def loopback(self) -> bool:
        """Return True when the socket only accepts connections from this machine."""
        return self.local_address.startswith("127.") or self.local_address in (
            "::1",
            "::ffff:127.0.0.1",
        )

    def endpoint(self) -> str:
        """Return address:port, with brackets around IPv6 addresses."""
        if self.family == AF_INET6:
            return f"[{self.local_address}]:{self.local_port}"
        return f"{self.local_address}:{self.local_port}"


def decode_address(hex_address: str, family: int) -> str:
    """Decode /proc/net's hex address (host-order 32-bit words) to dotted or colon text."""
    words = [hex_address[i : i + 8] for i in range(0, len(hex_address), 8)]
    raw = b"".join(int(word, 16).to_bytes(4, sys.byteorder) for word in words)
    return socket.inet_ntop(socket.AF_INET6 if family == AF_INET6 else socket.AF_INET, raw)


def parse_proc_net(
    text: str, protocol: int, family: int, *, listening_only: bool = False
) -> list[InetSocket]:
    """Parse the text of one /proc/net/{tcp,udp}[6] file; malformed lines are skipped.

    `listening_only` keeps listening sockets only, found by their state (TCP) or remote port
    (UDP) in one pass over the whole text before anything is decoded (`_listening_lines`): a
    machine with thousands of connections costs a search in C, not a split per line.
    """
    lines = _listening_lines(text, protocol) if listening_only else text.splitlines()[1:]
    sockets: list[InetSocket] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local, local_port = fields[1].split(":")
            remote, remote_port = fields[2].split(":")
            sockets.append(
                InetSocket(
                    protocol=protocol,
                    family=family,
                    local_address=decode_address(local, family),
                    local_port=int(local_port, 16),
                    remote_address=decode_address(remote, family),
                    remote_port=int(remote_port, 16),
                    state=int(fields[3], 16),
                    inode=int(fields[9]),
                )
            )
        except (ValueError, OSError):
            continue
    return sockets


# A /proc/net line: "  sl: local:port remote:port st ...". A TCP listener's state is 0A; an
# unconnected UDP socket's remote port is 0000.
_TCP_LISTENING_LINE = re.compile(r"^[ \t]*\d+:[ \t]+\S+[ \t]+\S+[ \t]+0[aA][ \t].*$", re.MULTILINE)
_UDP_LISTENING_LINE = re.compile(r"^[ \t]*\d+:[ \t]+\S+[ \t]+\S*:0000[ \t].*$", re.MULTILINE)


def _listening_lines(text: str, protocol: int) -> list[str]:
    """Return the lines of a /proc/net file that are listening sockets', found in one pass.

    TCP as the kernel writes it (spaces; addresses and state in upper case, told by the first
    socket line) is searched for the listening state " 0A " with str.find (3,000 sockets: about
    0.7 ms instead of the regular expression's 2.6 ms, which tries each character as a line
    start); each hit's line is checked by the regular expression. A token " 0A " can only be the
    state: the other fields are decimal, or hex joined to another by ':'. Other spacing or case
    take the regular expression's pass.
    """
    if protocol != IPPROTO_TCP:
        return _UDP_LISTENING_LINE.findall(text)
    header_end = text.find("\n")
    first_end = text.find("\n", header_end + 1)
    addresses_and_state = "".join(text[header_end + 1 : first_end].split(None, 4)[1:4])
    if "\t" in text or addresses_and_state != addresses_and_state.upper():
        return _TCP_LISTENING_LINE.findall(text)
    lines: list[str] = []
    hit = text.find(" 0A ")
    while hit >= 0:
        start = text.rfind("\n", 0, hit) + 1
        end = text.find("\n", hit)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if _TCP_LISTENING_LINE.fullmatch(line):
            lines.append(line)
        hit = text.find(" 0A ", end)
    return lines


# NETLINK_SOCK_DIAG's inet_diag: ask the kernel for the listening TCP sockets only. It then walks
# its table of listeners, not every connection as reading /proc/net/tcp does (1.6 ms per file
# here even with no connection at all, since the kernel visits each bucket of its hash table).
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
_INET_DIAG_REQUEST = struct.Struct("=BBBBI48x")  # family, protocol, extensions, pad, states
# inet_diag_msg: family, state, timer, retransmits, the socket id (ports in network order,
# read apart; source and destination addresses; interface; cookie), expires, receive and send
# queues, uid, inode.
_INET_DIAG_MESSAGE = struct.Struct("=BBBB4x16s16sIQIIIII")
_PORTS = struct.Struct(">HH")


def listening_tcp_sockets(system: System) -> list[InetSocket]:
    """Return the listening TCP sockets (IPv4 and IPv6) the kernel reports through sock_diag.

    Raise OSError where it can't be asked (a fake root, no netlink, inet_diag not available):
    the caller then reads /proc/net. IPv6 turned off is not a failure.
    """
    sockets: list[InetSocket] = []
    for family in (AF_INET, AF_INET6):
        request = _INET_DIAG_REQUEST.pack(family, IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN)
        try:
            answers = system.netlink_dump(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, request)
        except OSError as error:
            if family == AF_INET6 and error.errno in (errno.EAFNOSUPPORT, errno.ENOENT):
                continue
            raise
        sockets.extend(decode_inet_diag(answers, family))
    return sockets


def decode_inet_diag(answers: Iterable[bytes], family: int) -> list[InetSocket]:
    """Decode inet_diag_msg payloads of one family; a short or foreign message is skipped."""
    address_family = socket.AF_INET6 if family == AF_INET6 else socket.AF_INET
    address_length = 16 if family == AF_INET6 else 4
    sockets: list[InetSocket] = []
    for answer in answers:
        if len(answer) < _INET_DIAG_MESSAGE.size:
            continue
        fields = _INET_DIAG_MESSAGE.unpack_from(answer)
        message_family, state = fields[0], fields[1]
        if message_family != family:
            continue
        local_port, remote_port = _PORTS.unpack_from(answer, 4)
        sockets.append(
            InetSocket(
                protocol=IPPROTO_TCP,
                family=family,
                local_address=socket.inet_ntop(address_family, fields[4][:address_length]),
                local_port=local_port,
                remote_address=socket.inet_ntop(address_family, fields[5][:address_length]),
                remote_port=remote_port,
                state=state,
                inode=fields[-1],
            )
        )
    return sockets


def read_sockets(
    system: System,
    protocols: Iterable[int] = (IPPROTO_TCP, IPPROTO_UDP),
    *,
    listening_only: bool = False,
) -> tuple[list[InetSocket], list[str]]:
    """Read the sockets of the given protocols; return them and the files that could not be read.

    A missing tcp6/udp6 file means IPv6 is disabled, which is not a failure. `listening_only`:
    only the listening ones, filtered before they are decoded (see `parse_proc_net`).
    """
    wanted = set(protocols)
    sockets: list[InetSocket] = []
    failures: list[str] = []
    if listening_only and IPPROTO_TCP in wanted:
        with contextlib.suppress(OSError):
            sockets.extend(listening_tcp_sockets(system))
            wanted.discard(IPPROTO_TCP)
    for path, protocol, family in PROC_NET_FILES:
        if protocol not in wanted:
            continue
        try:
            text = system.read_text(path, limit=16 * 1024 * 1024)
        except FileNotFoundError:
            if family == AF_INET6:
                continue
            failures.append(f"{path}: not found")
            continue
        except OSError as error:
            failures.append(f"{path}: {os_error_reason(error)}")
            continue
        sockets.extend(parse_proc_net(text, protocol, family, listening_only=listening_only))
    return sockets, failures


# osquery's protocols of an internet socket, in its order, with their /proc/net file names.
OSQUERY_INET_PROTOCOLS = ((1, "icmp"), (IPPROTO_TCP, "tcp"), (IPPROTO_UDP, "udp"), (136, "udplite"),
                          (255, "raw"))  # fmt: skip
AF_UNIX = 1
AF_PACKET = 17
MAX_DESCRIPTORS = 200_000  # fd links read per table generation, over every process


def _proc_net_inet(text: str, protocol: int, family: int) -> list[InetSocket]:
    """Parse an internet socket file; the header must start with sl or sk, as osquery checks."""
    first = text.lstrip().split("\n", 1)[0].strip()
    if not first.startswith(("sl", "sk")):
        return []
    return parse_proc_net(text, protocol, family)


def socket_holders(system: System) -> dict[int, tuple[int, int]]:
    """Return socket inode -> (pid, fd) from the /proc/<pid>/fd links this user may read."""
    holders: dict[int, tuple[int, int]] = {}
    budget = MAX_DESCRIPTORS
    pids = sorted(entry for entry in list_optional(system, "/proc") if entry.isdigit())
    for pid in pids:  # as text, as osquery's std::set<std::string> orders them
        try:
            descriptors = system.list_dir(f"/proc/{pid}/fd")
        except OSError:
            continue  # another user's process, or gone
        for fd in sorted((d for d in descriptors if d.isdigit()), key=int):
            if budget <= 0:
                return holders
            budget -= 1
            try:
                target = system.read_link(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target.endswith("]"):
                with contextlib.suppress(ValueError):
                    holders[int(target[8:-1])] = (int(pid), int(fd))
    return holders


def network_namespace(system: System) -> str | None:
    """Return the inode number of this process's network namespace, or None."""
    try:
        target = system.read_link("/proc/self/ns/net")
    except OSError:
        return None
    if target.startswith("net:[") and target.endswith("]"):
        return target[5:-1]
    return None


class ListeningPorts(MachineTable):
    """Sockets waiting for connections or datagrams, and bound Unix and packet sockets."""

    name = "listening_ports"
    columns = (
        Column("pid", "integer"),
        Column("port", "integer"),
        Column("protocol", "integer"),
        Column("family", "integer"),
        Column("address", "text"),
        Column("fd", "bigint"),
        Column("socket", "bigint"),
        Column("path", "text"),
        Column("net_namespace", "text"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        try:  # every Linux with IPv4 has it: not there, /proc is not what we expect
            self._system.read_bytes("/proc/net/tcp", limit=1)
        except OSError as error:
            reason = f"/proc/net/tcp: {os_error_reason(error)}"
            raise TableError(f"cannot read the socket tables: {reason}") from error
        holders = socket_holders(self._system)
        namespace = network_namespace(self._system)
        rows: list[Row] = []

        def add(socket_inode: int, row: Row) -> None:
            pid, fd = holders.get(socket_inode, (-1, -1))
            rows.append({"pid": pid, "fd": fd, **row, "net_namespace": namespace})

        for protocol, name in OSQUERY_INET_PROTOCOLS:
            for family, suffix in ((AF_INET, ""), (AF_INET6, "6")):
                text = read_optional(self._system, f"/proc/net/{name}{suffix}", limit=_NET_LIMIT)
                for s in _proc_net_inet(text or "", protocol, family):
                    if s.remote_port == 0:
                        add(s.inode, {"port": s.local_port, "protocol": protocol,
                                      "family": family, "address": s.local_address,
                                      "socket": s.inode, "path": None})  # fmt: skip
        for inode, protocol, path in _unix_sockets(self._system):
            if path:
                add(inode, {"port": 0, "protocol": protocol, "family": AF_UNIX,
                            "address": None, "socket": 0, "path": path})  # fmt: skip
        for inode, protocol in _packet_sockets(self._system):
            add(inode, {"port": 0, "protocol": protocol, "family": AF_PACKET,
                        "address": "", "socket": inode, "path": None})  # fmt: skip
        return rows


_NET_LIMIT = 16 * 1024 * 1024


def _unix_sockets(system: System) -> list[tuple[int, int, str]]:
    """Return (inode, protocol, path) of each line of /proc/net/unix; path "" when unbound."""
    text = read_optional(system, "/proc/net/unix", limit=_NET_LIMIT) or ""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Num"):
        return []
    found: list[tuple[int, int, str]] = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) < 7:
            continue
        with contextlib.suppress(ValueError):
            path = fields[7] if len(fields) >= 8 else ""  # osquery keeps the first word
            found.append((int(fields[6]), int(fields[2], 10), path))
    return found


def _packet_sockets(system: System) -> list[tuple[int, int]]:
    """Return (inode, protocol) of each line of /proc/net/packet."""
    text = read_optional(system, "/proc/net/packet", limit=_NET_LIMIT) or ""
    lines = text.splitlines()
    if not lines or not lines[0].startswith(("sl", "sk")):
        return []
    found: list[tuple[int, int]] = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) < 9:
            continue
        with contextlib.suppress(ValueError):
            protocol = int(fields[3], 16) if len(fields[3]) == 4 else 0
            found.append((int(fields[8]), protocol))
    return found
