"""The local users whose reports the extension reads, and the users logged in now.

Linux reads the account database from `<root>/etc/passwd` (and, on the real root, NSS for a
logged-in user it lacks) and the logged-in users from utmp (`<root>/run/utmp` or
`<root>/var/run/utmp`, osquery's `logged_in_users`) and from systemd-logind's session files
(`<root>/run/systemd/sessions/*`), since systems without utmp record sessions only there. macOS
reads the directory service's users through `pwd` and the logged-in user from the console's owner
(what macOS's own tools do: remote ssh sessions are not counted there); Windows
reads the user profiles from the registry (uid: the SID's last part, as osquery's `users`) and the
logged-in users from the terminal services' sessions.

A root folder other than `/` (tests, a hidden option of the command) sees files under it only.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux.accounts import parse_passwd

# Account and session files are small; these bounds only stop a runaway read.
ACCOUNTS_LIMIT = 16 * 1024 * 1024
UTMP_LIMIT = 16 * 1024 * 1024
SESSION_FILE_LIMIT = 64 * 1024
MAX_SESSIONS = 4096

# glibc's struct utmp on Linux (every 64-bit ABI and i386): type, pid, line, id, user, host, exit,
# session, tv, addr_v6, unused.
UTMP_RECORD = struct.Struct("<hxxi32s4s32s256shhi8s16s20s")
UTMP_USER_PROCESS = 7


@dataclass(frozen=True)
class LocalUser:
    """A local user: id, name and home folder (as the account database gives it)."""

    uid: int
    name: str
    home: str


class UserSource(Protocol):
    """Where the users come from, on one platform."""

    platform: str
    """osquery's name of the platform: linux, darwin or windows."""
    root: str
    """The folder the users' homes are under (`/` on the real machine)."""

    def users(self) -> list[LocalUser]:
        """Return the local users, at most once per uid and home."""

    def logged_in(self) -> set[str]:
        """Return the names of the users logged in now (empty where it cannot be read)."""

    def lookup(self, name: str) -> LocalUser | None:
        """Return the user called `name` if the account database (or NSS) knows it."""


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as file:
        return file.read(limit)


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "replace")


def _unique(users: Iterable[LocalUser]) -> list[LocalUser]:
    seen: set[tuple[int, str]] = set()
    result: list[LocalUser] = []
    for user in users:
        if (user.uid, user.home) in seen:
            continue
        seen.add((user.uid, user.home))
        result.append(user)
    return result


class LinuxUsers:
    """Users from `<root>/etc/passwd`; logged-in users from utmp and logind's session files."""

    platform = "linux"

    def __init__(self, root: str = "/") -> None:
        self.root = root
        self._root = Path(root)

    @property
    def real_root(self) -> bool:
        """Return True when this is the machine itself (NSS may be asked)."""
        return os.path.realpath(self.root) == "/"

    def users(self) -> list[LocalUser]:
        """Return the users of the passwd file; raise TableError if it cannot be read."""
        path = self._root / "etc" / "passwd"
        try:
            raw = _read_bounded(path, ACCOUNTS_LIMIT)
        except OSError as error:
            reason = f"cannot read the account database {path}: {error.strerror or error}"
            raise TableError(reason) from None
        entries = parse_passwd(raw.decode("utf-8", "replace"))
        return _unique(LocalUser(e.uid, e.name, e.directory) for e in entries if e.directory)

    def lookup(self, name: str) -> LocalUser | None:
        """Return `name`'s account from the passwd file, else (on the real root) from NSS."""
        for user in self.users():
            if user.name == name:
                return user
        if not self.real_root or sys.platform == "win32":
            return None
        try:
            import pwd

            entry = pwd.getpwnam(name)
        except (KeyError, ImportError):
            return None
        return LocalUser(entry.pw_uid, entry.pw_name, entry.pw_dir)

    def logged_in(self) -> set[str]:
        """Return the users of utmp's user processes and of logind's sessions."""
        return self._utmp_users() | self._logind_users()

    def _utmp_users(self) -> set[str]:
        for place in ("run/utmp", "var/run/utmp"):
            try:
                data = _read_bounded(self._root / place, UTMP_LIMIT)
            except OSError:
                continue
            return set(utmp_users(data))
        return set()

    def _logind_users(self) -> set[str]:
        folder = self._root / "run" / "systemd" / "sessions"
        try:
            names = sorted(os.listdir(folder))[:MAX_SESSIONS]
        except OSError:
            return set()
        found: set[str] = set()
        for name in names:
            if name.endswith(".ref") or name.startswith("."):
                continue
            try:
                text = _read_bounded(folder / name, SESSION_FILE_LIMIT).decode("utf-8", "replace")
            except OSError:
                continue
            fields = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
            user = fields.get("USER", "")
            if user and fields.get("STATE", "active") != "closing":
                found.add(user)
        return found


def utmp_users(data: bytes) -> list[str]:
    """Return the user names of the user processes in Linux utmp records."""
    users: list[str] = []
    size = UTMP_RECORD.size
    for offset in range(0, len(data) - size + 1, size):
        record = UTMP_RECORD.unpack_from(data, offset)
        kind, user = record[0], _text(record[4])
        if kind == UTMP_USER_PROCESS and user:
            users.append(user)
    return users


class DarwinUsers:
    """macOS: users from the directory service (`pwd`); logged in: the owner of the console."""

    platform = "darwin"

    def __init__(self, root: str = "/") -> None:
        self.root = root

    def users(self) -> list[LocalUser]:
        """Return the directory service's users with a home under /Users (people, not daemons)."""
        if sys.platform == "win32":
            return []
        import pwd

        return _unique(
            LocalUser(entry.pw_uid, entry.pw_name, entry.pw_dir)
            for entry in pwd.getpwall()
            if entry.pw_dir.startswith("/Users/")
        )

    def lookup(self, name: str) -> LocalUser | None:
        """Return `name`'s account from the directory service."""
        if sys.platform == "win32":
            return None
        import pwd

        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return LocalUser(entry.pw_uid, entry.pw_name, entry.pw_dir)

    def logged_in(self) -> set[str]:
        """Return the user at the login window's console (`/dev/console`'s owner), if any."""
        if sys.platform == "win32":
            return set()
        import pwd

        try:
            owner = (Path(self.root) / "dev" / "console").stat().st_uid
            return {pwd.getpwuid(owner).pw_name} if owner != 0 else set()
        except (OSError, KeyError):
            return set()


PROFILE_LIST = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"


class WindowsUsers:
    """Windows: users from the registry's profile list, logged-in users from WTS sessions."""

    platform = "windows"

    def __init__(self, root: str = "/") -> None:
        self.root = root

    def users(self) -> list[LocalUser]:
        """Return the profiles of people's accounts (S-1-5-21-…): uid their RID, their folder."""
        if sys.platform != "win32":
            return []
        import winreg

        found: list[LocalUser] = []
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, PROFILE_LIST) as profiles:
            index = 0
            while True:
                try:
                    sid = winreg.EnumKey(profiles, index)
                except OSError:
                    break
                index += 1
                if not sid.startswith("S-1-5-21-"):
                    continue
                try:
                    with winreg.OpenKey(profiles, sid) as key:
                        folder, _ = winreg.QueryValueEx(key, "ProfileImagePath")
                except OSError:
                    continue
                home = os.path.expandvars(str(folder))
                found.append(LocalUser(int(sid.rsplit("-", 1)[1]), os.path.basename(home), home))
        return _unique(found)

    def lookup(self, name: str) -> LocalUser | None:
        """Return the profile whose folder is named `name`."""
        return next(
            (user for user in self.users() if user.name.casefold() == name.casefold()), None
        )

    def logged_in(self) -> set[str]:
        """Return the user names of the active and disconnected terminal-services sessions."""
        if sys.platform != "win32":
            return set()
        return set(_wts_users())


def _wts_users() -> list[str]:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    class SessionInfo(ctypes.Structure):
        _fields_ = [
            ("SessionId", wintypes.DWORD),
            ("pWinStationName", wintypes.LPWSTR),
            ("State", ctypes.c_int),
        ]

    wtsapi = ctypes.WinDLL("wtsapi32")  # type: ignore[attr-defined, unused-ignore]
    sessions = ctypes.POINTER(SessionInfo)()
    count = wintypes.DWORD()
    if not wtsapi.WTSEnumerateSessionsW(None, 0, 1, ctypes.byref(sessions), ctypes.byref(count)):
        return []
    users: list[str] = []
    try:
        for index in range(count.value):
            buffer = wintypes.LPWSTR()
            size = wintypes.DWORD()
            user_name = 5  # WTS_INFO_CLASS WTSUserName
            if wtsapi.WTSQuerySessionInformationW(
                None, sessions[index].SessionId, user_name, ctypes.byref(buffer), ctypes.byref(size)
            ):
                if buffer.value:
                    users.append(buffer.value)
                wtsapi.WTSFreeMemory(buffer)
    finally:
        wtsapi.WTSFreeMemory(sessions)
    return users


def user_source(platform: str, root: str = "/") -> UserSource:
    """Return the users of `platform` (osquery's name), seen under `root`."""
    if platform == "darwin":
        return DarwinUsers(root)
    if platform == "windows":
        return WindowsUsers(root)
    return LinuxUsers(root)
