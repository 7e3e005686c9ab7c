r"""`stethoscope_screen_lock` on Windows: does the screen lock by itself, and after how long?

Two things lock an idle Windows session:
- a secure screen saver: `HKCU\Control Panel\Desktop` ScreenSaveActive = "1", a screen saver
  chosen (SCRNSAVE.EXE), ScreenSaverIsSecure = "1" ("On resume, display logon screen") and
  ScreenSaveTimeOut seconds; a user policy under `HKCU\Software\Policies\Microsoft\Windows\
  Control Panel\Desktop` overrides each of these;
- the machine inactivity limit, `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System`
  InactivityTimeoutSecs, which locks the session after that many seconds whatever the user set.
The screen locks after the sooner of the two. A screen saver of "(None)", one that is not secure,
or a timeout of 0 does not lock; with no inactivity limit either, the screen never locks by
itself (enabled 0, lock_after_seconds NULL). Turning the display off does not lock Windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from stethoscope_desktop.tables._shared import (
    SCREEN_LOCK_COLUMNS,
    os_error_reason,
)
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import RegistryValue, read_value, value_of

DESKTOP = r"HKEY_CURRENT_USER\Control Panel\Desktop"
DESKTOP_POLICY = r"HKEY_CURRENT_USER\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
SYSTEM_POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"


def _effective(
    name: str,
    user: Mapping[str, RegistryValue] | None,
    policy: Mapping[str, RegistryValue] | None,
) -> tuple[RegistryValue | None, str]:
    forced = value_of(policy, name)
    if forced is not None:
        return forced, "policy"
    return value_of(user, name), "user"


class ScreenLock(WindowsTable):
    """Whether the screen locks by itself and after how many seconds, one row."""

    name = "stethoscope_screen_lock"
    columns = SCREEN_LOCK_COLUMNS
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        row: Row = {"desktop": "Windows", "source": "registry"}
        try:
            user = self._registry.values(DESKTOP)
            policy = self._registry.values(DESKTOP_POLICY)
        except OSError as error:
            row.update(
                enabled=None,
                lock_after_seconds=None,
                detail=f"cannot read the screen saver settings: {os_error_reason(error)}",
            )
            return [row]
        try:
            limit_value = read_value(self._registry, SYSTEM_POLICY, "InactivityTimeoutSecs")
        except OSError:
            limit_value = None
        if user is None and policy is None:
            row.update(
                enabled=None,
                lock_after_seconds=None,
                detail=f"{DESKTOP} is missing, so the screen saver settings cannot be read",
            )
            return [row]
        active, active_from = _effective("ScreenSaveActive", user, policy)
        secure, secure_from = _effective("ScreenSaverIsSecure", user, policy)
        timeout, timeout_from = _effective("ScreenSaveTimeOut", user, policy)
        program, _ = _effective("SCRNSAVE.EXE", user, policy)
        seconds = timeout.as_int() if timeout is not None else None
        notes: list[str] = []
        saver_after: int | None = None
        if active is not None and active.as_int() == 0:
            notes.append(f"the screen saver is turned off (ScreenSaveActive = 0, {active_from})")
        elif program is None or not program.as_text().strip():
            notes.append("no screen saver is chosen (SCRNSAVE.EXE not set)")
        elif not seconds:
            notes.append(f"the screen saver never starts (ScreenSaveTimeOut = {seconds or 0})")
        elif secure is None or secure.as_int() != 1:
            notes.append(
                f"the screen saver starts after {seconds} s but does not ask for the password "
                f"(ScreenSaverIsSecure = {secure.as_text() if secure else 'not set'})"
            )
        else:
            saver_after = seconds
            where = "set by policy" if "policy" in (timeout_from, secure_from) else "user setting"
            notes.append(f"a secure screen saver starts after {seconds} s ({where})")
        limit = limit_value.as_int() if limit_value is not None else None
        if limit:
            notes.append(f"the machine locks after {limit} s of inactivity (InactivityTimeoutSecs)")
        candidates = [value for value in (saver_after, limit) if value]
        if not candidates:
            row.update(
                enabled=0,
                lock_after_seconds=None,
                detail="the screen never locks by itself: " + "; ".join(notes),
            )
            return [row]
        after = min(candidates)
        row.update(
            enabled=1,
            lock_after_seconds=after,
            detail=f"the screen locks after {after} s: " + "; ".join(notes),
        )
        return [row]
