"""The local API's listening sockets: 127.0.0.1 and, where the machine has IPv6, ::1 on one port.

Binding is apart from serving so that the tray process can hold the port for the whole session
while the scan worker, started on the first connection, serves it (see `stethoscope_desktop.
worker`). Needs only the standard library's `socket`: the tray must stay small.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys

log = logging.getLogger(__name__)

LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
# Connections the kernel queues before the server accepts them (a login burst, a worker start).
BACKLOG = 1024
_PORT_RETRIES = 5


class ApiServerError(RuntimeError):
    """The server could not start."""


class PortInUseError(ApiServerError):
    """The configured port is taken by another program."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"cannot listen on {host} port {port}: another program (perhaps another "
            "Stethoscope) is using it. Stop that program, or set apiPort in config.yaml "
            "to a free port."
        )
        self.host = host
        self.port = port


class _PortRace(Exception):
    """Port 0 gave a port free on one address but taken on another: try another."""


def bind_loopback(
    port: int, addresses: tuple[str, ...] = LOOPBACK_ADDRESSES
) -> list[socket.socket]:
    """Return listening sockets on `port` (0: one free on every address) of each address.

    The first address is required; a later one the machine lacks (no IPv6) is left out. Raises
    PortInUseError when the port is taken, ApiServerError for anything else.
    """
    for attempt in range(_PORT_RETRIES):
        try:
            return _bind_all(port, addresses)
        except _PortRace:
            if attempt == _PORT_RETRIES - 1:
                raise ApiServerError(
                    "could not find a port free on every loopback address"
                ) from None
    raise AssertionError("unreachable")


def close_all(sockets: list[socket.socket]) -> None:
    """Close listening sockets."""
    for listening in sockets:
        listening.close()


def _bind_all(port: int, addresses: tuple[str, ...]) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    requested = port
    try:
        for host in addresses:
            listening = _bind(host, port, requested, required=not sockets)
            if listening is None:
                continue
            sockets.append(listening)
            port = int(listening.getsockname()[1])
    except BaseException:
        close_all(sockets)
        raise
    if not sockets:
        raise ApiServerError("no loopback address to listen on")
    return sockets


def _bind(host: str, port: int, requested: int, *, required: bool) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listening = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        if not required and error.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            log.info("not listening on %s: %s", host, error.strerror)
            return None
        raise ApiServerError(f"cannot listen on {host}: {error.strerror}") from error
    try:
        if family == socket.AF_INET6:
            listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if sys.platform == "win32":
            # SO_REUSEADDR would let another program take the port over: use it exclusively.
            listening.setsockopt(
                socket.SOL_SOCKET,
                socket.SO_EXCLUSIVEADDRUSE,  # type: ignore[attr-defined, unused-ignore]
                1,
            )
        else:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(BACKLOG)
        return listening
    except OSError as error:
        listening.close()
        if error.errno == errno.EADDRINUSE:
            if not required and requested == 0:
                raise _PortRace from error
            raise PortInUseError(host, port) from error
        if not required and error.errno in (
            errno.EADDRNOTAVAIL,
            errno.EAFNOSUPPORT,
            errno.EPROTONOSUPPORT,
        ):
            log.info("not listening on %s: %s", host, error.strerror)
            return None
        raise ApiServerError(f"cannot listen on {host} port {port}: {error.strerror}") from error
