"""`stethoscope_remote_login`: can someone log in to this machine over the network?

First, listening TCP sockets on the SSH port 22, the RDP port 3389 (xrdp) or the VNC ports
5900-5909: asked of the kernel through netlink's sock_diag for listeners only (as `ss -l` does;
any user may), else read from /proc/net/tcp and tcp6, where the kernel lists every connection
too. Which program owns a socket is not visible without root, so the detail names the port's usual
service, not a process. Sockets bound only to the loopback address accept no remote connection
and do not count (they are mentioned). Then, with systemd running, an SSH, xrdp or VNC unit
enabled (its link in /etc/systemd/system/*.wants/) counts even when nothing listens yet, since
it starts at boot.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.linux._common import FEATURE_STATE_COLUMNS, MachineTable
from stethoscope_desktop.tables.linux._systemd import (
    enablement_links,
    not_running_reason,
    systemd_running,
)
from stethoscope_desktop.tables.linux.network import IPPROTO_TCP, InetSocket, read_sockets

REMOTE_UNITS = (
    "ssh.service",
    "sshd.service",
    "ssh.socket",
    "sshd.socket",
    "xrdp.service",
    "x11vnc.service",
    "vncserver-x11-serviced.service",
)


def service_for_port(port: int) -> str | None:
    """Name the remote-login service a port belongs to, or None."""
    if port == 22:
        return "SSH"
    if port == 3389:
        return "RDP (xrdp)"
    if 5900 <= port <= 5909:
        return "VNC"
    return None


class RemoteLogin(MachineTable):
    """Whether SSH, RDP or VNC accepts connections (or starts at boot), one row."""

    name = "stethoscope_remote_login"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        sockets, failures = read_sockets(self._system, (IPPROTO_TCP,), listening_only=True)
        listeners: list[InetSocket] = [
            s for s in sockets if s.listening and service_for_port(s.local_port) is not None
        ]
        remote = [s for s in listeners if not s.loopback]
        if remote:
            said = "; ".join(
                f"{service_for_port(s.local_port)} port {s.local_port} is listening on "
                f"{s.endpoint()}"
                for s in remote
            )
            return [{"enabled": 1, "source": "listening_ports", "detail": said}]
        notes: list[str] = []
        local = [s for s in listeners if s.loopback]
        if local:
            notes.append(
                "only loopback listeners, which accept no remote connection: "
                + ", ".join(f"{service_for_port(s.local_port)} on {s.endpoint()}" for s in local)
            )

        systemd = systemd_running(self._system)
        enabled = enablement_links(self._system, *REMOTE_UNITS)
        if enabled and systemd:
            units = ", ".join(enabled)
            first_link = next(iter(enabled.values()))[0]
            return [
                {
                    "enabled": 1,
                    "source": "systemd",
                    "detail": f"{units} enabled, starts at boot (linked in {first_link})",
                }
            ]
        if failures and not sockets:
            return [
                {
                    "enabled": None,
                    "source": "listening_ports",
                    "detail": "cannot read the TCP socket tables ("
                    + "; ".join(failures)
                    + ")"
                    + "".join(f"; {note}" for note in notes),
                }
            ]
        if enabled:
            detail = "nothing listens on the SSH, RDP or VNC ports; " + (
                f"{', '.join(enabled)} is enabled, but {not_running_reason(self._system)}, "
                "so it does not start here"
            )
        else:
            detail = "nothing listens on the SSH, RDP or VNC ports and no SSH service is enabled"
        if notes:
            detail += " (" + "; ".join(notes) + ")"
        return [{"enabled": 0, "source": "listening_ports", "detail": detail}]
