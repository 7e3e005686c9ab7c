"""The macOS screen lock: osquery's `screenlock` and our `stethoscope_screen_lock`.

Whether a password is asked, and after how long, is what Lock Screen settings calls "Require
password after screen saver begins or display is turned off". Since macOS 10.13 it no longer
lives in com.apple.screensaver; `sysadminctl -screenLock status` tells the logged-in user (on
stderr, after a timestamp): "screenLock delay is immediate", "screenLock delay is 300 seconds" or
"screenLock is off" (some versions print a delay of -1 for off).

When the screen locks by itself is the sooner of the screen saver starting and the display
sleeping, plus that delay:
- the screen saver's idle time is `defaults -currentHost read com.apple.screensaver idleTime`
  (seconds; 0 = never). When it was never set the key is missing and macOS uses its default of
  20 minutes;
- the display's sleep is the `displaysleep` line of `pmset -g` (minutes; 0 = never).
When neither ever starts, the screen never locks by itself: enabled is 0 (as on Linux, "locks by
itself") and lock_after_seconds NULL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables._shared import (
    SCREEN_LOCK_COLUMNS,
    MachineTable,
    run_quiet,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.system import System

SYSADMINCTL = ["/usr/sbin/sysadminctl", "-screenLock", "status"]
IDLE_TIME = ["/usr/bin/defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime"]
PMSET = ["/usr/bin/pmset", "-g"]
DEFAULT_IDLE_TIME_S = 1200
_DELAY = re.compile(r"screenLock delay is (-?[\d.]+|immediate)", re.IGNORECASE)
_OFF = re.compile(r"screenLock is off", re.IGNORECASE)
_DISPLAYSLEEP = re.compile(r"^\s*displaysleep\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class LockSetting:
    """Whether a password is asked after the screen saver or display sleep, and how soon."""

    enabled: bool
    grace_period: int  # seconds; -1 when no password is asked
    said: str


def parse_screenlock_status(text: str) -> LockSetting | None:
    """Parse `sysadminctl -screenLock status` output; None when it says neither on nor off."""
    line = next((ln.strip() for ln in text.splitlines() if "screenLock" in ln), "")
    said = line[line.find("screenLock") :] if line else ""
    if _OFF.search(text):
        return LockSetting(False, -1, said)
    match = _DELAY.search(text)
    if not match:
        return None
    if match.group(1).lower() == "immediate":
        return LockSetting(True, 0, said)
    seconds = float(match.group(1))
    if seconds < 0:
        return LockSetting(False, -1, said)
    return LockSetting(True, round(seconds), said)


def read_lock_setting(system: System) -> LockSetting:
    """Ask sysadminctl for the screen lock setting; raise TableError when it cannot tell."""
    result = run_quiet(system, SYSADMINCTL)
    if isinstance(result, str):
        raise TableError(f"cannot read the screen lock setting: {result}")
    setting = parse_screenlock_status(result.stderr + "\n" + result.stdout)
    if setting is None:
        output = (result.stderr or result.stdout).strip()
        raise TableError(
            "cannot read the screen lock setting: sysadminctl -screenLock status said "
            + (repr(output[:200]) if output else "nothing")
        )
    return setting


def parse_displaysleep(text: str) -> int | None:
    """Return the display sleep minutes from `pmset -g` output, or None when not listed."""
    match = _DISPLAYSLEEP.search(text)
    return int(match.group(1)) if match else None


class ScreenLock(MachineTable):
    """osquery's `screenlock`: is a password asked on wake, after how long; one row."""

    name = "screenlock"
    columns = (Column("enabled", "integer"), Column("grace_period", "integer"))
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        setting = read_lock_setting(self._system)
        return [{"enabled": int(setting.enabled), "grace_period": setting.grace_period}]


class ScreenLockTiming(MachineTable):
    """`stethoscope_screen_lock`: does the screen lock by itself, and after how many seconds."""

    name = "stethoscope_screen_lock"
    columns = SCREEN_LOCK_COLUMNS
    platforms = ("darwin",)

    def _idle_time(self) -> tuple[int | None, str]:
        result = run_quiet(self._system, IDLE_TIME)
        if isinstance(result, str):
            return None, f"the screen saver's idle time cannot be read ({result})"
        value = result.stdout.strip()
        if result.ok and value.lstrip("-").isdigit():
            seconds = int(value)
            if seconds <= 0:
                return 0, "the screen saver never starts (idleTime 0)"
            return seconds, f"the screen saver starts after {seconds} s"
        if "does not exist" in (result.stderr + result.stdout):
            return (
                DEFAULT_IDLE_TIME_S,
                f"the screen saver starts after {DEFAULT_IDLE_TIME_S} s "
                "(idleTime not set: macOS's default)",
            )
        return None, f"the screen saver's idle time cannot be read ({value or result.stderr!r})"

    def _display_sleep(self) -> tuple[int | None, str]:
        result = run_quiet(self._system, PMSET)
        if isinstance(result, str) or not result.ok:
            return None, "the display's sleep time cannot be read"
        minutes = parse_displaysleep(result.stdout)
        if minutes is None:
            return None, "pmset lists no display sleep time"
        if minutes == 0:
            return 0, "the display never sleeps"
        return minutes * 60, f"the display sleeps after {minutes} min"

    def generate(self, context: QueryContext) -> Iterable[Row]:
        row: Row = {"desktop": "macOS", "source": "sysadminctl, defaults, pmset"}
        try:
            setting = read_lock_setting(self._system)
        except TableError as error:
            row.update(enabled=None, lock_after_seconds=None, detail=str(error))
            return [row]
        idle, idle_said = self._idle_time()
        display, display_said = self._display_sleep()
        notes = f"{idle_said}; {display_said}"
        if not setting.enabled:
            row.update(
                enabled=0,
                lock_after_seconds=None,
                detail=f"no password is asked after the screen saver or display sleep ({notes})",
            )
            return [row]
        delay = "immediately" if setting.grace_period == 0 else f"{setting.grace_period} s later"
        starts = [value for value in (idle, display) if value]
        if not starts:
            if idle is None or display is None:
                # Nothing known starts, and one cannot be read: "never" would be a guess.
                row.update(enabled=None, lock_after_seconds=None, detail=notes)
                return [row]
            row.update(
                enabled=0,
                lock_after_seconds=None,
                detail=f"the screen never locks by itself: {notes}",
            )
            return [row]
        after = min(starts) + setting.grace_period
        row.update(
            enabled=1,
            lock_after_seconds=after,
            detail=f"the screen locks after {after} s: {notes}; a password is asked {delay}",
        )
        return [row]
