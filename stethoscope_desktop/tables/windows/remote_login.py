r"""`stethoscope_remote_login` on Windows: can someone log in over the network (RDP or SSH)?

Remote Desktop accepts connections when `HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server`
fDenyTSConnections is 0. Group Policy's `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal
Services` fDenyTSConnections, when set, overrides it (1 = denied whatever the Settings switch
says). The OpenSSH server is the `sshd` service: its key under
`HKLM\SYSTEM\CurrentControlSet\Services\sshd` exists once it is installed, Start 2 starts it at
boot, 3 starts it by hand, 4 disables it; for a manual service `sc.exe query sshd` tells whether
it runs (its STATE number, 4 = RUNNING, is the same in every language).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import FEATURE_STATE_COLUMNS, os_error_reason, run_quiet
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import read_value

TERMINAL_SERVER = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server"
TERMINAL_POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
SSHD_SERVICE = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\sshd"
SC_QUERY = ["sc.exe", "query", "sshd"]
# sc.exe translates the labels ("STATE", "STATUS", "ÉTAT") but not the state's number and name.
_STATE = re.compile(
    r":\s*(\d)\s+(?:STOPPED|START_PENDING|STOP_PENDING|RUNNING|CONTINUE_PENDING|PAUSE_PENDING|PAUSED)\b"
)
SERVICE_STATES = {1: "stopped", 2: "starting", 3: "stopping", 4: "running", 7: "paused"}


def parse_sc_state(text: str) -> int | None:
    """Return the STATE number of `sc.exe query` output ("STATE : 4  RUNNING"), else None."""
    match = _STATE.search(text)
    return int(match.group(1)) if match else None


class RemoteLogin(WindowsTable):
    """Whether Remote Desktop or the OpenSSH server accepts logins, one row."""

    name = "stethoscope_remote_login"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("windows",)

    def _rdp(self) -> tuple[bool | None, str]:
        try:
            forced = read_value(self._registry, TERMINAL_POLICY, "fDenyTSConnections")
            local = read_value(self._registry, TERMINAL_SERVER, "fDenyTSConnections")
        except OSError as error:
            return None, f"Remote Desktop: cannot read its setting ({os_error_reason(error)})"
        forced_value = forced.as_int() if forced is not None else None
        local_value = local.as_int() if local is not None else None
        if forced_value is not None:
            on = forced_value == 0
            overridden = local_value is not None and (local_value == 0) != on
            note = (
                f"; the Settings switch (fDenyTSConnections = {local_value}) is overridden"
                if overridden
                else ""
            )
            state = "allowed" if on else "turned off"
            return (
                on,
                f"Remote Desktop is {state} by policy (fDenyTSConnections = {forced_value}){note}",
            )
        if local_value is None:
            return False, "Remote Desktop is not set up (no fDenyTSConnections)"
        on = local_value == 0
        return on, f"Remote Desktop is {'on' if on else 'off'} (fDenyTSConnections = {local_value})"

    def _ssh(self) -> tuple[bool | None, str]:
        try:
            start = read_value(self._registry, SSHD_SERVICE, "Start")
        except OSError as error:
            return None, f"OpenSSH server: cannot read its service ({os_error_reason(error)})"
        if start is None:
            return False, "the OpenSSH server is not installed"
        mode = start.as_int()
        if mode == 2:
            return True, "the OpenSSH server (sshd) starts automatically"
        if mode == 4:
            return False, "the OpenSSH server (sshd) is installed but disabled"
        result = run_quiet(self._system, SC_QUERY)
        state = None if isinstance(result, str) else parse_sc_state(result.stdout)
        if state is None:
            return None, "the OpenSSH server (sshd) starts by hand and its state cannot be read"
        running = state in (2, 4)
        words = SERVICE_STATES.get(state, f"in state {state}")
        return running, f"the OpenSSH server (sshd) starts by hand and is {words}"

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rdp, rdp_said = self._rdp()
        ssh, ssh_said = self._ssh()
        detail = f"{rdp_said}; {ssh_said}"
        if rdp or ssh:
            enabled: int | None = 1
        elif rdp is None or ssh is None:
            enabled = None
        else:
            enabled = 0
        return [{"enabled": enabled, "source": "registry", "detail": detail}]
