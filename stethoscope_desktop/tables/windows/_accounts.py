"""The adapter through which Windows tables read local accounts: the NetAPI calls osquery makes.

osquery fills `users`, `groups` and `user_groups` from netapi32 (NetUserEnum, NetUserGetInfo,
NetLocalGroupEnum, NetUserGetLocalGroups) and advapi32 (LookupAccountName/LookupAccountSid).
Every user may make these calls on the local machine. `NetApiAccounts` makes the same calls
through ctypes, in-process: no PowerShell (whose LocalAccounts module is missing from 32-bit
PowerShell, fails on groups holding orphaned SIDs and may be locked down), no process per user.
It loads the DLLs only when first used, so this module imports anywhere; the tests give a fake
with the same methods (the ctypes layer itself runs only on Windows: numbers above C's int are
passed as DWORDs, buffers are freed with NetApiBufferFree/LocalFree). SIDs travel as strings
("S-1-5-21-…-1001").
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar


class AccountsError(Exception):
    """The account database could not be read; the message says which call failed and why."""


@dataclass(frozen=True)
class AccountUser:
    """A local user account as NetUserGetInfo (level 4) describes it."""

    name: str
    sid: str
    comment: str
    primary_group_id: int | None


@dataclass(frozen=True)
class AccountGroup:
    """A local group as NetLocalGroupEnum (level 1) and LookupAccountName describe it."""

    name: str
    sid: str
    comment: str


class Accounts(Protocol):
    """What the account tables read; `NetApiAccounts` on Windows, a fake in the tests."""

    def users(self) -> list[AccountUser]:
        """Return the normal local user accounts (NetUserEnum, FILTER_NORMAL_ACCOUNT)."""
        ...

    def user(self, name: str) -> AccountUser | None:
        """Return one user account by name (NetUserGetInfo), None when there is none."""
        ...

    def groups(self) -> list[AccountGroup]:
        """Return the local groups (NetLocalGroupEnum) with their SIDs."""
        ...

    def local_groups_of(self, name: str, *, indirect: bool) -> list[str]:
        """Return the local groups `name` is in (NetUserGetLocalGroups) by name; [] on error."""
        ...

    def account_name(self, sid: str) -> str | None:
        """Return the account name of a SID (LookupAccountSid), None when it cannot be resolved."""
        ...

    def account_sid(self, name: str) -> str | None:
        """Return the SID of an account name (LookupAccountName), None when there is none."""
        ...


NERR_SUCCESS = 0
ERROR_MORE_DATA = 234
ERROR_INSUFFICIENT_BUFFER = 122
FILTER_NORMAL_ACCOUNT = 2
LG_INCLUDE_INDIRECT = 1
MAX_PREFERRED_LENGTH = 0xFFFFFFFF
# Bounds on what one enumeration may return, so a broken API cannot loop forever.
MAX_ACCOUNTS = 100_000
_Entry = TypeVar("_Entry")

if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    class _UserInfo0(ctypes.Structure):
        _fields_ = [("name", wintypes.LPWSTR)]

    class _UserInfo4(ctypes.Structure):
        _fields_ = [
            ("name", wintypes.LPWSTR),
            ("password", wintypes.LPWSTR),
            ("password_age", wintypes.DWORD),
            ("priv", wintypes.DWORD),
            ("home_dir", wintypes.LPWSTR),
            ("comment", wintypes.LPWSTR),
            ("flags", wintypes.DWORD),
            ("script_path", wintypes.LPWSTR),
            ("auth_flags", wintypes.DWORD),
            ("full_name", wintypes.LPWSTR),
            ("usr_comment", wintypes.LPWSTR),
            ("parms", wintypes.LPWSTR),
            ("workstations", wintypes.LPWSTR),
            ("last_logon", wintypes.DWORD),
            ("last_logoff", wintypes.DWORD),
            ("acct_expires", wintypes.DWORD),
            ("max_storage", wintypes.DWORD),
            ("units_per_week", wintypes.DWORD),
            ("logon_hours", ctypes.c_void_p),
            ("bad_pw_count", wintypes.DWORD),
            ("num_logons", wintypes.DWORD),
            ("logon_server", wintypes.LPWSTR),
            ("country_code", wintypes.DWORD),
            ("code_page", wintypes.DWORD),
            ("user_sid", ctypes.c_void_p),
            ("primary_group_id", wintypes.DWORD),
            ("profile", wintypes.LPWSTR),
            ("home_dir_drive", wintypes.LPWSTR),
            ("password_expired", wintypes.DWORD),
        ]

    class _LocalGroupInfo1(ctypes.Structure):
        _fields_ = [("name", wintypes.LPWSTR), ("comment", wintypes.LPWSTR)]

    class _LocalGroupUsersInfo0(ctypes.Structure):
        _fields_ = [("name", wintypes.LPWSTR)]

    class NetApiAccounts:
        """The real adapter: netapi32 and advapi32 through ctypes, loaded on first use."""

        def __init__(self) -> None:
            self._netapi: ctypes.WinDLL | None = None
            self._advapi: ctypes.WinDLL | None = None
            self._kernel: ctypes.WinDLL | None = None

        def _dlls(self) -> tuple[ctypes.WinDLL, ctypes.WinDLL, ctypes.WinDLL]:
            if self._netapi is None or self._advapi is None or self._kernel is None:
                try:
                    self._netapi = ctypes.WinDLL("netapi32")
                    self._advapi = ctypes.WinDLL("advapi32", use_last_error=True)
                    self._kernel = ctypes.WinDLL("kernel32")
                except OSError as error:
                    raise AccountsError(f"cannot load the account APIs: {error}") from error
            return self._netapi, self._advapi, self._kernel

        def _sid_string(self, psid: int | None) -> str | None:
            _, advapi, kernel = self._dlls()
            if not psid:
                return None
            text = wintypes.LPWSTR()
            if not advapi.ConvertSidToStringSidW(ctypes.c_void_p(psid), ctypes.byref(text)):
                return None
            try:
                return text.value
            finally:
                kernel.LocalFree(text)

        def _user_info(self, name: str) -> AccountUser | None:
            netapi, _, _ = self._dlls()
            buffer = ctypes.c_void_p()
            status = netapi.NetUserGetInfo(None, name, 4, ctypes.byref(buffer))
            if status != NERR_SUCCESS or not buffer.value:
                return None
            try:
                info = ctypes.cast(buffer, ctypes.POINTER(_UserInfo4)).contents
                sid = self._sid_string(info.user_sid)
                if sid is None:
                    return None
                return AccountUser(
                    name=info.name or name,
                    sid=sid,
                    comment=info.comment or "",
                    primary_group_id=int(info.primary_group_id),
                )
            finally:
                netapi.NetApiBufferFree(buffer)

        def _enumerate(
            self,
            what: str,
            call: Callable[[Any, Any, Any], int],
            entry: type[ctypes.Structure],
            fields: Callable[[Any], _Entry | None],
        ) -> list[_Entry]:
            """Call a NetAPI enumeration until it has no more data; read each entry's fields."""
            netapi = self._dlls()[0]
            found: list[_Entry] = []
            while True:
                buffer = ctypes.c_void_p()
                read, total = wintypes.DWORD(0), wintypes.DWORD(0)
                status = call(ctypes.byref(buffer), ctypes.byref(read), ctypes.byref(total))
                if status not in (NERR_SUCCESS, ERROR_MORE_DATA):
                    raise AccountsError(f"{what} failed with error {status}")
                if buffer.value:
                    try:
                        entries = ctypes.cast(buffer, ctypes.POINTER(entry))
                        for index in range(read.value):
                            item = fields(entries[index])
                            if item is not None:
                                found.append(item)
                    finally:
                        netapi.NetApiBufferFree(buffer)
                if status != ERROR_MORE_DATA or len(found) > MAX_ACCOUNTS:
                    return found

        def users(self) -> list[AccountUser]:
            """Enumerate normal accounts (level 0), then read each one at level 4, as osquery."""
            netapi = self._dlls()[0]
            resume = wintypes.DWORD(0)
            names: list[str] = self._enumerate(
                "NetUserEnum",
                lambda buffer, read, total: netapi.NetUserEnum(
                    None,
                    0,
                    FILTER_NORMAL_ACCOUNT,
                    buffer,
                    wintypes.DWORD(MAX_PREFERRED_LENGTH),
                    read,
                    total,
                    ctypes.byref(resume),
                ),
                _UserInfo0,
                lambda item: item.name or None,
            )
            found = [self._user_info(name) for name in names]
            return [user for user in found if user is not None]

        def user(self, name: str) -> AccountUser | None:
            """Return one account at level 4, None when NetUserGetInfo fails."""
            return self._user_info(name)

        def groups(self) -> list[AccountGroup]:
            """Enumerate local groups (level 1); each one's SID from LookupAccountName."""
            netapi = self._dlls()[0]
            resume = ctypes.c_size_t(0)
            found: list[tuple[str, str]] = self._enumerate(
                "NetLocalGroupEnum",
                lambda buffer, read, total: netapi.NetLocalGroupEnum(
                    None,
                    1,
                    buffer,
                    wintypes.DWORD(MAX_PREFERRED_LENGTH),
                    read,
                    total,
                    ctypes.byref(resume),
                ),
                _LocalGroupInfo1,
                lambda item: (item.name, item.comment or "") if item.name else None,
            )
            groups: list[AccountGroup] = []
            for name, comment in found:
                sid = self.account_sid(name)
                if sid is not None:
                    groups.append(AccountGroup(name=name, sid=sid, comment=comment))
            return groups

        def local_groups_of(self, name: str, *, indirect: bool) -> list[str]:
            """NetUserGetLocalGroups at level 0; LG_INCLUDE_INDIRECT when `indirect`."""
            netapi, _, _ = self._dlls()
            buffer = ctypes.c_void_p()
            read, total = wintypes.DWORD(0), wintypes.DWORD(0)
            status = netapi.NetUserGetLocalGroups(
                None,
                name,
                0,
                LG_INCLUDE_INDIRECT if indirect else 0,
                ctypes.byref(buffer),
                wintypes.DWORD(MAX_PREFERRED_LENGTH),
                ctypes.byref(read),
                ctypes.byref(total),
            )
            if status not in (NERR_SUCCESS, ERROR_MORE_DATA) or not buffer.value:
                return []
            try:
                entries = ctypes.cast(buffer, ctypes.POINTER(_LocalGroupUsersInfo0))
                return [entries[i].name for i in range(read.value) if entries[i].name]
            finally:
                netapi.NetApiBufferFree(buffer)

        def account_name(self, sid: str) -> str | None:
            """LookupAccountSid on the local machine."""
            _, advapi, kernel = self._dlls()
            psid = ctypes.c_void_p()
            if not advapi.ConvertStringSidToSidW(sid, ctypes.byref(psid)):
                return None
            try:
                name_size, domain_size = wintypes.DWORD(256), wintypes.DWORD(256)
                name = ctypes.create_unicode_buffer(name_size.value)
                domain = ctypes.create_unicode_buffer(domain_size.value)
                use = wintypes.DWORD(0)
                if not advapi.LookupAccountSidW(
                    None,
                    psid,
                    name,
                    ctypes.byref(name_size),
                    domain,
                    ctypes.byref(domain_size),
                    ctypes.byref(use),
                ):
                    return None
                return name.value or None
            finally:
                kernel.LocalFree(psid)

        def account_sid(self, name: str) -> str | None:
            """LookupAccountName on the local machine, then the SID as a string."""
            _, advapi, _ = self._dlls()
            sid_size, domain_size = wintypes.DWORD(0), wintypes.DWORD(0)
            use = wintypes.DWORD(0)
            advapi.LookupAccountNameW(
                None,
                name,
                None,
                ctypes.byref(sid_size),
                None,
                ctypes.byref(domain_size),
                ctypes.byref(use),
            )
            if ctypes.get_last_error() != ERROR_INSUFFICIENT_BUFFER or not sid_size.value:
                return None
            sid = ctypes.create_string_buffer(sid_size.value)
            domain = ctypes.create_unicode_buffer(max(domain_size.value, 1))
            if not advapi.LookupAccountNameW(
                None,
                name,
                sid,
                ctypes.byref(sid_size),
                domain,
                ctypes.byref(domain_size),
                ctypes.byref(use),
            ):
                return None
            return self._sid_string(ctypes.addressof(sid))

else:

    class NetApiAccounts:
        """The account APIs exist only on Windows: every read says so."""

        def _fail(self) -> AccountsError:
            return AccountsError("the Windows account APIs exist only on Windows")

        def users(self) -> list[AccountUser]:
            """Fail: not Windows."""
            raise self._fail()

        def user(self, name: str) -> AccountUser | None:
            """Fail: not Windows."""
            raise self._fail()

        def groups(self) -> list[AccountGroup]:
            """Fail: not Windows."""
            raise self._fail()

        def local_groups_of(self, name: str, *, indirect: bool) -> list[str]:
            """Fail: not Windows."""
            raise self._fail()

        def account_name(self, sid: str) -> str | None:
            """Fail: not Windows."""
            raise self._fail()

        def account_sid(self, name: str) -> str | None:
            """Fail: not Windows."""
            raise self._fail()
