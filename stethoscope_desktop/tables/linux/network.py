"""osquery's `listening_ports` table on Linux, from /proc/net/{tcp,tcp6,udp,udp6}.

A TCP socket listens when its state is 0A (TCP_LISTEN); a UDP socket is listed when it has no
remote end (remote port 0, state 07), which is osquery's rule. Every user can read these files.
Which process owns a socket is only visible through /proc/<pid>/fd of processes one may inspect,
so, as osquery does for sockets it cannot map, pid and fd are -1; socket is the inode number, path
is "" (we do not list Unix sockets). net_namespace is NULL: osquery takes it from the
/proc/<pid>/ns/net link, and reading a link's target is not something `System` offers.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, os_error_reason
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


def parse_proc_net(text: str, protocol: int, family: int) -> list[InetSocket]:
    """Parse the text of one /proc/net/{tcp,udp}[6] file; malformed lines are skipped."""
    sockets: list[InetSocket] = []
    for line in text.splitlines()[1:]:
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


def read_sockets(
    system: System, protocols: Iterable[int] = (IPPROTO_TCP, IPPROTO_UDP)
) -> tuple[list[InetSocket], list[str]]:
    """Read the sockets of the given protocols; return them and the files that could not be read.

    A missing tcp6/udp6 file means IPv6 is disabled, which is not a failure.
    """
    wanted = set(protocols)
    sockets: list[InetSocket] = []
    failures: list[str] = []
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
        sockets.extend(parse_proc_net(text, protocol, family))
    return sockets, failures


class ListeningPorts(MachineTable):
    """TCP and UDP sockets waiting for connections or datagrams."""

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
        sockets, failures = read_sockets(self._system)
        if failures and not sockets:
            raise TableError("cannot read the socket tables: " + "; ".join(failures))
        return [
            {
                "pid": -1,
                "port": s.local_port,
                "protocol": s.protocol,
                "family": s.family,
                "address": s.local_address,
                "fd": -1,
                "socket": s.inode,
                "path": "",
            }
            for s in sockets
            if s.listening
        ]
