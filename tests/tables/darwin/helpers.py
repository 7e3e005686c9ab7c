"""Recorded macOS machines for the table tests: command outputs and a fake root per machine.

`fixtures/<machine>/commands/<name>.out|.err|.rc` hold what a command printed (stdout, stderr)
and its exit status, `<name>` standing for the argv in `COMMANDS`; `fixtures/<machine>/root/` is
copied into the fake root, every property list written in binary form as macOS stores them. As
on a real Mac, /Library/Preferences/com.apple.wifi.known-networks.plist (where a machine has it)
is readable by root only.
"""

from __future__ import annotations

import plistlib
from pathlib import Path

from stethoscope_desktop.tables.darwin import (
    accounts,
    disk_encryption,
    firewall,
    os_version,
    processes,
    screen_lock,
    security_software,
    sharing,
    system_controls,
    system_info,
)
from stethoscope_desktop.tables.darwin._common import SW_VERS
from stethoscope_desktop.tables.darwin.wifi import KNOWN_NETWORKS
from stethoscope_desktop.tables.system import CommandResult
from tests.fakes import FakeSystem, write_file

FIXTURES = Path(__file__).parent / "fixtures"
COMMANDS: dict[str, list[str]] = {
    "sw_vers": SW_VERS,
    "uname-m": os_version.UNAME_M,
    "sysctl": system_info.SYSCTL,
    "scutil-ComputerName": system_info.COMPUTER_NAME,
    "scutil-LocalHostName": system_info.LOCAL_HOSTNAME,
    "system_profiler-SPHardwareDataType": system_info.HARDWARE,
    "fdesetup-status": disk_encryption.FDESETUP_STATUS,
    "fdesetup-isactive": disk_encryption.FDESETUP_ISACTIVE,
    "socketfilterfw-getglobalstate": firewall.GLOBAL_STATE,
    "sysadminctl-screenLock-status": screen_lock.SYSADMINCTL,
    "defaults-currentHost-screensaver-idleTime": screen_lock.IDLE_TIME,
    "pmset-g": screen_lock.PMSET,
    "launchctl-print-disabled-system": sharing.PRINT_DISABLED,
    "spctl-status": security_software.SPCTL_STATUS,
    "systemextensionsctl-list": security_software.SYSTEM_EXTENSIONS,
    "dscl-users": accounts.READ_USERS,
    "dscl-groups": accounts.READ_GROUPS,
    "sysctl-a": system_controls.SYSCTL_ALL,
    "ps-fields": processes.PS_FIELDS,
    "ps-args": processes.PS_ARGS,
}
# The user each recorded Mac belongs to.
USERS = {"monterey-12": "ben", "ventura-13": "carla", "sonoma-14": "dana", "sequoia-15": "eli"}
MACHINES = tuple(USERS)


def recorded_commands(machine: str) -> dict[tuple[str, ...], CommandResult]:
    """Return the recorded results of `machine`'s commands, keyed by argv."""
    folder = FIXTURES / machine / "commands"
    recorded: dict[tuple[str, ...], CommandResult] = {}
    for name, argv in COMMANDS.items():
        parts = {ext: folder / f"{name}.{ext}" for ext in ("out", "err", "rc")}
        if not any(path.exists() for path in parts.values()):
            continue
        text = {
            ext: path.read_text(encoding="utf-8") if path.exists() else ""
            for ext, path in parts.items()
        }
        key = tuple(argv)
        recorded[key] = CommandResult(key, int(text["rc"] or 0), text["out"], text["err"])
    return recorded


def load_mac(machine: str, root: Path) -> FakeSystem:
    """Build the recorded Mac `machine` in the folder `root`."""
    source = FIXTURES / machine / "root"
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        target = "/" + path.relative_to(source).as_posix()
        data = path.read_bytes()
        if path.suffix == ".plist":
            data = plistlib.dumps(plistlib.loads(data), fmt=plistlib.FMT_BINARY)
        write_file(root, target, data)
    user = USERS[machine]
    return FakeSystem(
        root,
        env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": f"/Users/{user}", "USER": user},
        home=f"/Users/{user}",
        commands=recorded_commands(machine),
        denied=[KNOWN_NETWORKS] if (source / KNOWN_NETWORKS.lstrip("/")).exists() else [],
    )
