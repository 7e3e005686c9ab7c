"""When to notify the user: a pure decision from the last state, a new report and the clock.

The tray shows a notification when a practice newly becomes a critical finding (status FAIL),
never on every scan. How it is shown is a UI adapter's job; this module only decides, so that
every rule has a test without Qt, a clock or a file system.

The rules `decide` applies:

- **New findings.** A practice that is FAIL now and about which the user has not been notified
  while it was failing is new. All new findings of one report make *one* notification: the
  practice's title when there is one, "N new critical problems" with a short list when several.
- **Pending findings.** While notifications are off (IT's `notifications.enabled: false`) or
  snoozed, nothing is shown, but the state still records what fails. A finding that appeared
  then and still fails when notifications become possible again was never notified, so it is
  new then: a snooze delays a notification, it does not swallow it.
- **Fixed, then failing again.** A practice that stops failing (PASS or NUDGE, or no longer in
  the report because the policy dropped it) is forgotten; if it fails later it is new again.
- **UNKNOWN keeps what was known.** A check that could not run (a timed-out command) says
  nothing about the practice: one that was failing stays failing with its notification time, one
  that was not stays not failing. FAIL -> UNKNOWN -> FAIL therefore notifies once, not twice. An
  UNKNOWN practice is never itself the subject of a notification.
- **Reminders.** When nothing is new but some finding still FAILs and the user has not been
  notified about it for `reminder_hours` (0 = never remind), one reminder names every finding
  that fails now. Any notification restarts the reminder clock of every finding failing at the
  time: the user was just sent to the window, which shows them all, so a reminder never follows
  a notification by less than the reminder period.
- **Snooze.** `snooze_until` turns a menu choice into a time; until then `decide` shows nothing.
  A snooze more than `MAX_SNOOZE_SECONDS` ahead (a clock set back, a hand-edited file) is
  ignored rather than silencing the app for good.
- **Snoozing findings.** The notification's own Snooze (`snooze_findings`) holds back the
  findings it was about for `FINDING_SNOOZE_SECONDS` (4 hours): no reminder names them until
  then, while a *new* critical finding still notifies at once. When the snooze ends and a
  finding still fails, the next report reminds of it (whatever the reminder period). A finding
  that stops failing forgets its snooze; UNKNOWN keeps it.

`NotifyState` is what the app persists between runs (through `core.state.StateStore`), so that
a restart does not notify about the same findings again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Literal

from stethoscope_desktop.core.report import PracticeResult, Report
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import UiStrings

SnoozeChoice = Literal["1h", "4h", "tomorrow"]
SNOOZE_CHOICES: tuple[SnoozeChoice, ...] = ("1h", "4h", "tomorrow")
# "Until tomorrow" wakes at this local hour.
TOMORROW_HOUR = 9
# Before this local hour the night is not over: "until tomorrow" means this morning at 09:00,
# not the morning after (a snooze at 00:30 should not silence the whole next working day).
NIGHT_ENDS_HOUR = 4
# The longest snooze any choice can give (09:00 the day after, from just past 04:00, plus a
# daylight-saving hour) is at most 30 hours; anything further ahead is not a snooze we set.
MAX_SNOOZE_SECONDS = 2 * 24 * 3600.0
# A notification about several findings lists at most this many titles.
MAX_LISTED_TITLES = 3
# How long a notification's Snooze holds back the findings it was about: long enough to finish
# what the person is doing (a meeting, a morning's work), short enough that a critical problem
# comes back the same working day. The button says so (`notifySnooze`).
FINDING_SNOOZE_SECONDS = 4 * 3600.0


@dataclass(frozen=True)
class NotificationSettings:
    """When the app may notify the user (IT's `notifications:` in config.yaml)."""

    enabled: bool = True
    reminder_hours: float = 24.0

    def to_json(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        return {"enabled": self.enabled, "reminder_hours": self.reminder_hours}

    @classmethod
    def from_json(cls, data: object) -> NotificationSettings:
        """Return settings from `to_json` data; anything malformed keeps its default."""
        if not isinstance(data, Mapping):
            return cls()
        enabled = data.get("enabled")
        hours = _time(data.get("reminder_hours"))
        return cls(
            enabled if isinstance(enabled, bool) else cls.enabled,
            hours if hours is not None and hours >= 0 else cls.reminder_hours,
        )


@dataclass(frozen=True)
class NotifyState:
    """What the last decision knew: the failing practices and when the user last heard of them.

    `failing` holds the keys that were FAIL in the last evaluated report (or UNKNOWN there after
    being FAIL). `notified_at` maps each failing key the user was notified about to the epoch
    seconds of that notification; a failing key without an entry is pending. `snoozed_until` is
    the epoch second notifications resume, 0.0 when not snoozed. `NotifyState()` is the state of
    a first start. Snooze with `dataclasses.replace(state, snoozed_until=snooze_until(...))`.
    `snoozed` maps failing keys whose notification was snoozed (`snooze_findings`) to the epoch
    second that snooze ends; an entry stays past its end until the reminder it owes is shown.
    """

    failing: frozenset[str] = frozenset()
    notified_at: Mapping[str, float] = field(default_factory=dict)
    snoozed_until: float = 0.0
    snoozed: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Copies, so that a caller's set or dict changing later cannot change this state.
        object.__setattr__(self, "failing", frozenset(self.failing))
        object.__setattr__(self, "notified_at", dict(self.notified_at))
        object.__setattr__(self, "snoozed", dict(self.snoozed))

    def to_json(self) -> dict[str, Any]:
        """Return the state as JSON-ready data (sorted, so the file is stable)."""
        return {
            "failing": sorted(self.failing),
            "notified_at": {key: self.notified_at[key] for key in sorted(self.notified_at)},
            "snoozed_until": self.snoozed_until,
            "snoozed": {key: self.snoozed[key] for key in sorted(self.snoozed)},
        }

    @classmethod
    def from_json(cls, data: object) -> NotifyState:
        """Return the state `to_json` wrote; never raises.

        Whatever is malformed falls back to its default: a value of the wrong type, a list entry
        that is not text, a time that is not a finite number. Times for keys that are not in
        `failing` are dropped (notified or snoozed).
        """
        if not isinstance(data, Mapping):
            return cls()
        raw_failing = data.get("failing")
        failing = frozenset(
            key for key in (raw_failing if isinstance(raw_failing, list) else ()) if _is_key(key)
        )
        notified_at = _times(data.get("notified_at"), failing)
        snoozed_until = _time(data.get("snoozed_until"))
        return cls(failing, notified_at, snoozed_until or 0.0, _times(data.get("snoozed"), failing))


@dataclass(frozen=True)
class Notification:
    """One notification to show; clicking it opens the window.

    `keys` are the practices it is about, most important first; `reminder` is True for a
    reminder about findings the user has been told of before.
    """

    title: str
    body: str
    keys: tuple[str, ...]
    reminder: bool


def decide(
    previous: NotifyState,
    report: Report,
    *,
    now: float,
    settings: NotificationSettings,
    instructions: UiStrings,
) -> tuple[Notification | None, NotifyState]:
    """Return the notification to show for `report` (or None) and the state to keep.

    `now` is the current epoch time. Always keep the returned state, whether or not there is a
    notification: it records what fails even while notifications are off or snoozed.
    """
    failing_now = tuple(p for p in report.practices if p.status is Status.FAIL)
    still_unknown = {
        p.key for p in report.practices if p.status is Status.UNKNOWN and p.key in previous.failing
    }
    failing = frozenset(p.key for p in failing_now) | still_unknown
    # A notification time from the future (the clock was set back) counts as now, so that a
    # reminder comes at most one period late.
    notified_at = {
        key: min(at, now)
        for key, at in previous.notified_at.items()
        if key in previous.failing and key in failing
    }
    # A finding's snooze further ahead than any we set (a clock set back) ends now.
    finding_snoozes = {
        key: min(until, now + FINDING_SNOOZE_SECONDS)
        for key, until in previous.snoozed.items()
        if key in previous.failing and key in failing
    }
    snoozed = now < previous.snoozed_until <= now + MAX_SNOOZE_SECONDS
    snoozed_until = previous.snoozed_until if snoozed else 0.0
    if not settings.enabled or snoozed:
        return None, NotifyState(failing, notified_at, snoozed_until, finding_snoozes)

    held_back = {key for key, until in finding_snoozes.items() if now < until}
    snooze_over = {key for key in finding_snoozes if key not in held_back}
    notification: Notification | None = None
    new = tuple(p for p in failing_now if p.key not in notified_at and p.key not in held_back)
    remindable = tuple(p for p in failing_now if p.key not in held_back)
    period = settings.reminder_hours * 3600.0
    if new:
        notification = _notification(new, instructions, reminder=False)
    elif any(
        p.key in snooze_over or (period > 0 and now - notified_at[p.key] >= period)
        for p in remindable
    ):
        notification = _notification(remindable, instructions, reminder=True)
    if notification is not None:
        notified_at.update(dict.fromkeys((p.key for p in failing_now), now))
        if notification.reminder:
            # The reminder a snooze owed is shown: those snoozes are over.
            finding_snoozes = {k: u for k, u in finding_snoozes.items() if k in held_back}
    return notification, NotifyState(failing, notified_at, snoozed_until, finding_snoozes)


def snooze_findings(state: NotifyState, keys: tuple[str, ...], *, now: float) -> NotifyState:
    """Return `state` with the findings `keys` snoozed for `FINDING_SNOOZE_SECONDS` from `now`.

    Keys that no longer fail are left out: a fixed finding has nothing to snooze.
    """
    until = now + FINDING_SNOOZE_SECONDS
    snoozed = {**state.snoozed, **{key: until for key in keys if key in state.failing}}
    return replace(state, snoozed=snoozed)


def snooze_until(now: float, choice: SnoozeChoice, *, local_tz: tzinfo) -> float:
    """Return the epoch time a snooze chosen at `now` ends.

    "1h" and "4h" are that long from now. "tomorrow" is 09:00 local time (`local_tz`) on the next
    calendar day, except between midnight and 04:00, when it is 09:00 the same day: the person
    has not slept yet and means the coming morning. The wall-clock time holds across a
    daylight-saving change when `local_tz` knows the rules (a `zoneinfo.ZoneInfo`).
    """
    if choice == "1h":
        return now + 3600.0
    if choice == "4h":
        return now + 4 * 3600.0
    if choice == "tomorrow":
        local = datetime.fromtimestamp(now, tz=local_tz)
        day = local.date()
        if local.hour >= NIGHT_ENDS_HOUR:
            day += timedelta(days=1)
        return datetime.combine(day, time(TOMORROW_HOUR), tzinfo=local_tz).timestamp()
    raise ValueError(f"unknown snooze choice {choice!r}; expected one of {SNOOZE_CHOICES}")


def _notification(
    practices: tuple[PracticeResult, ...], instructions: UiStrings, *, reminder: bool
) -> Notification:
    keys = tuple(p.key for p in practices)
    body = instructions.plural("notifyHowToFix", len(practices))
    if len(practices) == 1:
        title = instructions.string("notifyTitleOne", title=_title(practices[0]))
        return Notification(title, body, keys, reminder)
    # A reminder is about findings the user knows of: not "new", just how many still fail.
    title_key = "notifyStillCritical" if reminder else "notifyNewCritical"
    title = instructions.plural(title_key, len(practices))
    lines = [f"• {_title(p)}" for p in practices[:MAX_LISTED_TITLES]]
    if len(practices) > MAX_LISTED_TITLES:
        lines.append("…")
    return Notification(title, "\n".join([*lines, body]), keys, reminder)


def _title(practice: PracticeResult) -> str:
    return practice.title or practice.name or practice.key


def _times(raw: object, failing: frozenset[str]) -> dict[str, float]:
    """Return the valid `key: epoch seconds` entries of `raw` whose key is failing."""
    return {
        key: at
        for key, value in (raw.items() if isinstance(raw, Mapping) else ())
        if key in failing and (at := _time(value)) is not None
    }


def _is_key(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _time(value: object) -> float | None:
    """Return `value` as epoch seconds if it is a finite number (JSON may hold 1e999 or 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None
