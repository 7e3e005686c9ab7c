r"""Recorded Windows machines for the table tests: a registry export, command outputs, environment.

`fixtures/<machine>/registry.reg` is in regedit's export format (`reg export` writes the same),
read by `FakeRegistry`; `denied.txt` lists keys this user may not open; `env.txt` the environment
(KEY=value lines); `commands/<name>.out|.err|.rc` what a command printed and its exit status,
`<name>` standing for an argv in `COMMANDS` or `netsh-wlan-show-profile--<profile>` for
`netsh wlan show profile name=<profile>`. Files are UTF-8 here; Windows writes UTF-16 exports and
OEM-code-page console output, which the adapters decode before a table sees them.
"""

from __future__ import annotations

import errno
import json
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.system import CommandResult
from stethoscope_desktop.tables.windows import AutomaticUpdates
from stethoscope_desktop.tables.windows._accounts import AccountGroup, AccountsError, AccountUser
from stethoscope_desktop.tables.windows._common import powershell_argv
from stethoscope_desktop.tables.windows._registry import RegistryData, RegistryValue, normalize_key
from stethoscope_desktop.tables.windows.disk_encryption import BITLOCKER_SCRIPT
from stethoscope_desktop.tables.windows.firewall import NETSH
from stethoscope_desktop.tables.windows.processes import PROCESSES_SCRIPT
from stethoscope_desktop.tables.windows.remote_login import SC_QUERY
from stethoscope_desktop.tables.windows.security_software import PRODUCTS_SCRIPT
from stethoscope_desktop.tables.windows.system_info import HARDWARE_SCRIPT
from stethoscope_desktop.tables.windows.wifi import SHOW_PROFILES, show_profile_argv
from tests.fakes import FakeSystem

FIXTURES = Path(__file__).parent / "fixtures"
COMMANDS: dict[str, list[str]] = {
    "powershell-hardware": powershell_argv(HARDWARE_SCRIPT),
    "powershell-bitlocker": powershell_argv(BITLOCKER_SCRIPT),
    "netsh-advfirewall-show-allprofiles-state": NETSH,
    "netsh-wlan-show-profiles": SHOW_PROFILES,
    "sc-query-sshd": SC_QUERY,
    "powershell-security-center": powershell_argv(PRODUCTS_SCRIPT),
    "powershell-processes": powershell_argv(PROCESSES_SCRIPT),
}
PROFILE_PREFIX = "netsh-wlan-show-profile--"
# When each machine was recorded: "now" for the tables that compare times.
RECORDED_AT = {
    "win10-22h2": datetime(2024, 9, 2, 10, 0, tzinfo=UTC),
    "win11-23h2": datetime(2024, 10, 14, 9, 30, tzinfo=UTC),
    "win11-24h2-de": datetime(2024, 11, 5, 16, 45, tzinfo=UTC),
}
MACHINES = tuple(RECORDED_AT)


class FakeRegistry:
    """A registry made of keys and values, as a `.reg` export lists them."""

    def __init__(
        self,
        keys: Mapping[str, Mapping[str, RegistryValue]] | None = None,
        denied: Iterable[str] = (),
    ) -> None:
        self._keys: dict[str, tuple[str, dict[str, RegistryValue]]] = {}
        for key, values in (keys or {}).items():
            self.add(key, values)
        self.denied = {normalize_key(key).casefold() for key in denied}
        self.reads: list[str] = []

    def add(self, key: str, values: Mapping[str, RegistryValue] | None = None) -> None:
        """Create `key` (and its parents) with `values` added to those it has."""
        normalized = normalize_key(key)
        parts = normalized.split("\\")
        for depth in range(1, len(parts) + 1):
            partial = "\\".join(parts[:depth])
            self._keys.setdefault(partial.casefold(), (partial, {}))
        self._keys[normalized.casefold()][1].update(values or {})

    def set(self, key: str, name: str, data: RegistryData, kind: str = "REG_DWORD") -> None:
        """Set one value."""
        self.add(key, {name: RegistryValue(name, kind, data)})

    def delete(self, key: str, name: str) -> None:
        """Delete one value."""
        found = self._keys.get(normalize_key(key).casefold())
        if found is not None:
            found[1].pop(name, None)

    def _check(self, key: str) -> str:
        folded = normalize_key(key).casefold()
        self.reads.append(folded)
        if any(folded == d or folded.startswith(d + "\\") for d in self.denied):
            raise PermissionError(errno.EACCES, "Access is denied", key)
        return folded

    def values(self, key: str) -> Mapping[str, RegistryValue] | None:
        """Return the values of `key`, or None when it does not exist."""
        found = self._keys.get(self._check(key))
        return dict(found[1]) if found is not None else None

    def subkeys(self, key: str) -> list[str] | None:
        """Return the names of `key`'s direct subkeys, or None when it does not exist."""
        folded = self._check(key)
        if folded not in self._keys:
            return None
        prefix = folded + "\\"
        return sorted(
            original.rsplit("\\", 1)[-1]
            for other, (original, _) in self._keys.items()
            if other.startswith(prefix) and "\\" not in other[len(prefix) :]
        )


def _string(text: str) -> tuple[str, str]:
    """Read a quoted .reg string at the start of `text`; return it and the rest."""
    assert text.startswith('"'), text
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), text[index + 1 :]
        out.append(char)
        index += 1
    raise ValueError(f"unterminated string in {text!r}")


def _hex_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.replace("\\", "").split(",") if part.strip())


def parse_reg(text: str) -> dict[str, dict[str, RegistryValue]]:
    """Parse a regedit export into {key: {name: value}}."""
    keys: dict[str, dict[str, RegistryValue]] = {}
    current: dict[str, RegistryValue] | None = None
    logical: list[str] = []
    pending = ""
    for raw in text.lstrip("\ufeff").splitlines():
        line = pending + raw.strip() if pending else raw.rstrip()
        if line.endswith("\\") and "=hex" in line:
            pending = line[:-1]
            continue
        pending = ""
        logical.append(line)
    for line in logical:
        stripped = line.strip()
        if not stripped or stripped.startswith((";", "Windows Registry Editor", "REGEDIT4")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = keys.setdefault(normalize_key(stripped[1:-1]), {})
            continue
        assert current is not None, line
        if stripped.startswith("@="):
            name, rest = "", stripped[1:]
        else:
            name, rest = _string(stripped)
        assert rest.startswith("="), line
        data_text = rest[1:]
        kind: str
        data: RegistryData
        if data_text.startswith('"'):
            kind, data = "REG_SZ", _string(data_text)[0]
        elif data_text.startswith("dword:"):
            kind, data = "REG_DWORD", int(data_text[6:], 16)
        elif data_text.startswith("hex(b):"):
            kind, data = "REG_QWORD", int.from_bytes(_hex_bytes(data_text[7:]), "little")
        elif data_text.startswith("hex(2):"):
            kind = "REG_EXPAND_SZ"
            data = _hex_bytes(data_text[7:]).decode("utf-16-le").rstrip("\0")
        elif data_text.startswith("hex(7):"):
            kind = "REG_MULTI_SZ"
            data = tuple(p for p in _hex_bytes(data_text[7:]).decode("utf-16-le").split("\0") if p)
        elif data_text.startswith("hex:"):
            kind, data = "REG_BINARY", _hex_bytes(data_text[4:])
        else:
            raise ValueError(f"unknown value type in {line!r}")
        current[name] = RegistryValue(name, kind, data)
    return keys


def load_registry(machine: str) -> FakeRegistry:
    """Return the recorded registry of `machine`."""
    folder = FIXTURES / machine
    denied_file = folder / "denied.txt"
    denied = denied_file.read_text("utf-8").split("\n") if denied_file.exists() else []
    return FakeRegistry(
        parse_reg((folder / "registry.reg").read_text("utf-8")),
        denied=[line.strip() for line in denied if line.strip()],
    )


def recorded_commands(machine: str) -> dict[tuple[str, ...], CommandResult]:
    """Return the recorded results of `machine`'s commands, keyed by argv."""
    folder = FIXTURES / machine / "commands"
    names = {path.name.rsplit(".", 1)[0] for path in folder.glob("*.*")}
    recorded: dict[tuple[str, ...], CommandResult] = {}
    for name in sorted(names):
        if name.startswith(PROFILE_PREFIX):
            # macOS checkouts may decompose accented file names; netsh's listing is composed.
            argv = show_profile_argv(unicodedata.normalize("NFC", name[len(PROFILE_PREFIX) :]))
        else:
            argv = COMMANDS[name]
        text = {
            ext: (folder / f"{name}.{ext}").read_text("utf-8")
            if (folder / f"{name}.{ext}").exists()
            else ""
            for ext in ("out", "err", "rc")
        }
        key = tuple(argv)
        recorded[key] = CommandResult(key, int(text["rc"] or 0), text["out"], text["err"])
    return recorded


def load_windows(machine: str, root: Path) -> tuple[FakeSystem, FakeRegistry]:
    """Build the recorded Windows machine `machine` (its files, if any, in `root`)."""
    env: dict[str, str] = {}
    for line in (FIXTURES / machine / "env.txt").read_text("utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key.strip()] = value.strip()
    system = FakeSystem(
        root,
        env=env,
        home=env.get("USERPROFILE", "C:\\Users\\user"),
        commands=recorded_commands(machine),
    )
    return system, load_registry(machine)


def machine_tables(machine: str, root: Path) -> tuple[list[TablePlugin], FakeSystem, FakeRegistry]:
    """Return builtin_tables("windows", …) for a recorded machine, its clock set to the recording."""
    system, registry = load_windows(machine, root)
    tables = [
        AutomaticUpdates(system, registry, now=lambda: RECORDED_AT[machine])
        if table.name == "stethoscope_automatic_updates"
        else table
        for table in builtin_tables("windows", system, registry=registry)
    ]
    return tables, system, registry


class FakeAccounts:
    """Recorded answers of the NetAPI account calls (`fixtures/<machine>/accounts.json`)."""

    def __init__(self, recorded: Mapping[str, Any]) -> None:
        self._users = [AccountUser(**user) for user in recorded.get("users", [])]
        self._groups = [AccountGroup(**group) for group in recorded.get("groups", [])]
        self._local_groups: dict[str, dict[str, list[str]]] = dict(recorded.get("local_groups", {}))
        self._sids: dict[str, str] = dict(recorded.get("sids", {}))
        self.failing = False

    def users(self) -> list[AccountUser]:
        """NetUserEnum and NetUserGetInfo, as recorded."""
        if self.failing:
            raise AccountsError("NetUserEnum failed with error 5")
        return list(self._users)

    def user(self, name: str) -> AccountUser | None:
        """NetUserGetInfo: only local accounts are known to it."""
        return next((u for u in self._users if u.name.casefold() == name.casefold()), None)

    def groups(self) -> list[AccountGroup]:
        """NetLocalGroupEnum with LookupAccountName, as recorded."""
        if self.failing:
            raise AccountsError("NetLocalGroupEnum failed with error 5")
        return list(self._groups)

    def local_groups_of(self, name: str, *, indirect: bool) -> list[str]:
        """NetUserGetLocalGroups, as recorded; [] for accounts it does not know."""
        found = self._local_groups.get(name, {})
        return list(found.get("indirect" if indirect else "direct", []))

    def account_name(self, sid: str) -> str | None:
        """LookupAccountSid: recorded names of SIDs, and every local account's."""
        names = {**self._sids, **{u.sid: u.name for u in self._users}}
        return names.get(sid)

    def account_sid(self, name: str) -> str | None:
        """LookupAccountName: the recorded groups' and users' SIDs."""
        known = [*self._groups, *self._users]
        return next((a.sid for a in known if a.name.casefold() == name.casefold()), None)


def load_accounts(machine: str) -> FakeAccounts:
    """Return the recorded account database of `machine`."""
    recorded = json.loads((FIXTURES / machine / "accounts.json").read_text("utf-8"))
    return FakeAccounts(recorded)
