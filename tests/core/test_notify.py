"""The notification rules of `core.notify`: new criticals, reminders, snooze, IT's switch, UNKNOWN.

Reports are built by hand (`report_of`) with only what the rules read; the clock is a number.
A scenario runs reports through `decide` one after the other, the way the app does (`Run`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from stethoscope_desktop.core.instructions import (
    Instructions,
    merge_instructions,
    parse_instructions,
)
from stethoscope_desktop.core.notify import (
    FINDING_SNOOZE_SECONDS,
    MAX_LISTED_TITLES,
    MAX_SNOOZE_SECONDS,
    SNOOZE_CHOICES,
    Notification,
    NotificationSettings,
    NotifyState,
    SnoozeChoice,
    decide,
    snooze_findings,
    snooze_until,
)
from stethoscope_desktop.core.report import DeviceFacts, Evidence, PracticeResult, Report, rank
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.core.yamlfile import parse_yaml
from stethoscope_desktop.engines.info import EngineInfo
from stethoscope_desktop.resources import practices_dir

PASS, NUDGE, FAIL, UNKNOWN = Status.PASS, Status.NUDGE, Status.FAIL, Status.UNKNOWN
HOUR = 3600.0
T0 = datetime(2026, 11, 20, 9, 15, tzinfo=UTC).timestamp()
DEFAULT = NotificationSettings()  # enabled, reminder after 24 hours
TITLES = {
    "diskEncryption": "Disk encryption should be enabled",
    "firewall": "Your firewall should be on",
    "remoteLogin": "Remote login should be off",
    "screenLock": "Screen lock should be on",
    "osVersion": "Your OS should be updated",
}
RATINGS = {"diskEncryption": Rating.CRITICAL, "osVersion": Rating.CRITICAL}


@functools.cache
def english() -> Instructions:
    """The shipped English texts, so the strings `decide` asks for are the real ones."""
    path = practices_dir() / "instructions.en.yaml"
    layer = parse_instructions(parse_yaml(path.read_text("utf-8"), path.name))
    assert not layer.problems
    return merge_instructions([layer], "en")


def practice(key: str, status: Status) -> PracticeResult:
    """A practice result with just what the notification rules read filled in meaningfully."""
    return PracticeResult(
        key=key,
        practice=key,
        name=key,
        status=status,
        rating=RATINGS.get(key, Rating.HIGH),
        title=TITLES.get(key, f"{key} should be fixed"),
        description="",
        directions="",
        directions_platform="",
        links=(),
        requirement="ALWAYS",
        requirement_text="",
        observed="",
        reason="",
        held_against=True,
        evidence=Evidence(check=key),
    )


def report_of(**statuses: Status) -> Report:
    """A ranked report with these practice statuses."""
    practices = rank(practice(key, status) for key, status in statuses.items())
    return Report(
        status=FAIL if any(p.status is FAIL for p in practices) else PASS,
        summary="",
        practices=practices,
        device=DeviceFacts(),
        started_at="2026-11-20T09:15:00+00:00",
        duration_seconds=0.1,
        engine=EngineInfo("embedded"),
        language="en",
        organization="Example Corp",
    )


class Run:
    """The app's loop in miniature: one state, reports decided in turn, the clock moved by hand."""

    def __init__(self, settings: NotificationSettings = DEFAULT) -> None:
        self.state = NotifyState()
        self.now = T0
        self.settings = settings
        self.shown: list[Notification] = []

    def scan(self, after_hours: float = 1.0, **statuses: Status) -> Notification | None:
        """Advance the clock, decide on a report with `statuses`, keep the state."""
        self.now += after_hours * HOUR
        notification, self.state = decide(
            self.state,
            report_of(**statuses),
            now=self.now,
            settings=self.settings,
            instructions=english(),
        )
        if notification is not None:
            self.shown.append(notification)
        return notification


# ---------------------------------------------------------------------------------------------
# New critical findings
# ---------------------------------------------------------------------------------------------


def test_a_new_critical_finding_makes_exactly_one_notification() -> None:
    run = Run()
    notification = run.scan(diskEncryption=FAIL, firewall=PASS, screenLock=NUDGE)
    assert notification == Notification(
        title="Disk encryption should be enabled",
        body="Open Stethoscope to see how to fix it.",
        keys=("diskEncryption",),
        reminder=False,
    )
    assert run.state.failing == {"diskEncryption"}
    assert run.state.notified_at == {"diskEncryption": run.now}


def test_several_new_findings_make_one_notification_with_their_count() -> None:
    run = Run()
    notification = run.scan(firewall=FAIL, diskEncryption=FAIL, screenLock=PASS)
    assert notification is not None
    assert notification.title == "2 new problems need attention"
    # Most important first (disk encryption is rated critical), then how to fix them.
    assert notification.body == (
        "• Disk encryption should be enabled\n"
        "• Your firewall should be on\n"
        "Open Stethoscope to see how to fix them."
    )
    assert notification.keys == ("diskEncryption", "firewall")
    assert not notification.reminder
    assert len(run.shown) == 1


def test_a_long_list_of_new_findings_is_cut_short() -> None:
    run = Run()
    notification = run.scan(
        diskEncryption=FAIL, firewall=FAIL, remoteLogin=FAIL, screenLock=FAIL, osVersion=FAIL
    )
    assert notification is not None
    assert notification.title == f"{len(TITLES)} new problems need attention"
    lines = notification.body.splitlines()
    assert len(lines) == MAX_LISTED_TITLES + 2
    assert lines[-2:] == ["…", "Open Stethoscope to see how to fix them."]
    assert set(notification.keys) == set(TITLES)


def test_only_the_newly_failing_practice_is_notified_when_others_already_fail() -> None:
    run = Run()
    run.scan(diskEncryption=FAIL, firewall=PASS)
    notification = run.scan(diskEncryption=FAIL, firewall=FAIL)
    assert notification is not None
    assert notification.keys == ("firewall",)
    assert notification.title == "Your firewall should be on"


def test_the_same_report_again_notifies_nothing() -> None:
    run = Run()
    assert run.scan(diskEncryption=FAIL, firewall=FAIL) is not None
    for _ in range(5):
        assert run.scan(diskEncryption=FAIL, firewall=FAIL) is None
    assert len(run.shown) == 1


def test_a_passing_or_nudging_report_notifies_nothing() -> None:
    run = Run()
    assert run.scan(diskEncryption=PASS, firewall=NUDGE, screenLock=UNKNOWN) is None
    assert run.scan(after_hours=48, diskEncryption=NUDGE, firewall=NUDGE) is None
    assert run.state == NotifyState()


def test_a_fixed_finding_that_fails_again_notifies_again() -> None:
    run = Run()
    assert run.scan(firewall=FAIL) is not None
    assert run.scan(firewall=PASS) is None
    assert run.state.failing == frozenset()
    assert run.state.notified_at == {}
    assert run.scan(firewall=FAIL) is not None
    assert run.scan(firewall=NUDGE) is None
    assert run.scan(firewall=FAIL) is not None
    assert len(run.shown) == 3


def test_a_practice_the_policy_dropped_is_forgotten() -> None:
    run = Run()
    run.scan(firewall=FAIL, diskEncryption=FAIL)
    run.scan(diskEncryption=FAIL)  # IT removed the firewall practice
    assert run.state.failing == {"diskEncryption"}
    assert set(run.state.notified_at) == {"diskEncryption"}


# ---------------------------------------------------------------------------------------------
# UNKNOWN keeps what was known
# ---------------------------------------------------------------------------------------------


def test_unknown_flapping_does_not_notify_again() -> None:
    run = Run()
    assert run.scan(firewall=FAIL) is not None
    notified = run.state.notified_at["firewall"]
    for _ in range(3):
        assert run.scan(firewall=UNKNOWN) is None  # a command timed out
        assert run.state.failing == {"firewall"}
        assert run.state.notified_at == {"firewall": notified}
        assert run.scan(firewall=FAIL) is None
    assert len(run.shown) == 1


def test_unknown_for_a_practice_that_was_not_failing_does_not_make_it_failing() -> None:
    run = Run()
    run.scan(firewall=PASS)
    assert run.scan(firewall=UNKNOWN) is None
    assert run.state.failing == frozenset()
    assert run.scan(firewall=FAIL) is not None  # it is new: it was never failing before


def test_unknown_then_passing_forgets_the_finding() -> None:
    run = Run()
    run.scan(firewall=FAIL)
    run.scan(firewall=UNKNOWN)
    run.scan(firewall=PASS)
    assert run.state == NotifyState()
    assert run.scan(firewall=FAIL) is not None


def test_an_unknown_practice_is_never_itself_notified() -> None:
    run = Run(NotificationSettings(reminder_hours=1))
    run.scan(firewall=FAIL)
    # Well past the reminder period, but the practice cannot be checked: no reminder about it.
    assert run.scan(after_hours=10, firewall=UNKNOWN) is None
    # Back to FAIL and overdue: a reminder, not a "new" notification.
    notification = run.scan(firewall=FAIL)
    assert notification is not None
    assert notification.reminder


def test_nudge_never_notifies() -> None:
    run = Run(NotificationSettings(reminder_hours=1))
    for _ in range(5):
        assert run.scan(after_hours=24, firewall=NUDGE, diskEncryption=NUDGE) is None
    assert run.state.failing == frozenset()


# ---------------------------------------------------------------------------------------------
# Reminders
# ---------------------------------------------------------------------------------------------


def test_a_reminder_comes_after_the_period_and_not_before() -> None:
    run = Run(NotificationSettings(reminder_hours=24))
    run.scan(after_hours=0, firewall=FAIL)
    assert run.scan(after_hours=23.5, firewall=FAIL) is None
    reminder = run.scan(after_hours=0.5, firewall=FAIL)  # exactly 24 hours later
    assert reminder == Notification(
        title="Your firewall should be on",
        body="Open Stethoscope to see how to fix it.",
        keys=("firewall",),
        reminder=True,
    )
    # The clock restarts: the next reminder is another 24 hours away.
    assert run.scan(after_hours=23, firewall=FAIL) is None
    assert run.scan(after_hours=1, firewall=FAIL) is not None


def test_a_reminder_names_every_finding_still_failing() -> None:
    run = Run(NotificationSettings(reminder_hours=24))
    run.scan(after_hours=0, firewall=FAIL)
    run.scan(after_hours=12, firewall=FAIL, diskEncryption=FAIL)  # new: notified at once
    reminder = run.scan(after_hours=24, firewall=FAIL, diskEncryption=FAIL)
    assert reminder is not None
    assert reminder.reminder
    assert reminder.keys == ("diskEncryption", "firewall")
    assert reminder.title == "2 problems still need attention"  # not "new"
    assert reminder.body.splitlines()[:2] == [
        "• Disk encryption should be enabled",
        "• Your firewall should be on",
    ]
    assert set(run.state.notified_at.values()) == {run.now}


def test_a_new_finding_restarts_the_reminder_clock_of_the_others() -> None:
    run = Run(NotificationSettings(reminder_hours=24))
    run.scan(after_hours=0, firewall=FAIL)
    new = run.scan(after_hours=23.5, firewall=FAIL, diskEncryption=FAIL)
    assert new is not None
    assert new.keys == ("diskEncryption",)
    # The firewall's 24 hours end half an hour after the user was sent to the window: no
    # second notification so soon.
    assert run.scan(after_hours=0.5, firewall=FAIL, diskEncryption=FAIL) is None
    assert run.scan(after_hours=23.5, firewall=FAIL, diskEncryption=FAIL) is not None


def test_reminder_hours_zero_never_reminds() -> None:
    run = Run(NotificationSettings(reminder_hours=0))
    assert run.scan(firewall=FAIL) is not None
    for _ in range(10):
        assert run.scan(after_hours=24 * 30, firewall=FAIL) is None
    assert len(run.shown) == 1


def test_a_notification_time_in_the_future_counts_as_now() -> None:
    # The clock was set back a year after the last notification; a reminder comes one period
    # after now, not a year later.
    future = T0 + 365 * 24 * HOUR
    state = NotifyState(frozenset({"firewall"}), {"firewall": future})
    notification, state = decide(
        state, report_of(firewall=FAIL), now=T0, settings=DEFAULT, instructions=english()
    )
    assert notification is None
    assert state.notified_at == {"firewall": T0}
    notification, _ = decide(
        state,
        report_of(firewall=FAIL),
        now=T0 + 24 * HOUR,
        settings=DEFAULT,
        instructions=english(),
    )
    assert notification is not None
    assert notification.reminder


# ---------------------------------------------------------------------------------------------
# Snooze and IT's switch
# ---------------------------------------------------------------------------------------------


def test_a_snooze_is_respected_and_what_appeared_during_it_is_notified_after() -> None:
    run = Run()
    run.scan(firewall=PASS, diskEncryption=PASS)
    run.state = dataclasses.replace(run.state, snoozed_until=run.now + 4 * HOUR)
    assert run.scan(firewall=FAIL, diskEncryption=PASS) is None
    assert run.state.failing == {"firewall"}
    assert run.state.notified_at == {}  # pending
    assert run.state.snoozed_until == T0 + 5 * HOUR
    assert run.scan(firewall=FAIL, diskEncryption=FAIL) is None
    # A practice that failed and was fixed during the snooze is not notified afterwards.
    assert run.scan(firewall=FAIL, diskEncryption=PASS) is None
    notification = run.scan(after_hours=1.5, firewall=FAIL, diskEncryption=PASS)
    assert notification is not None
    assert notification.keys == ("firewall",)
    assert not notification.reminder
    assert run.state.snoozed_until == 0.0  # over
    assert run.scan(firewall=FAIL, diskEncryption=PASS) is None


def test_a_snooze_holds_back_reminders_until_it_ends() -> None:
    run = Run(NotificationSettings(reminder_hours=1))
    run.scan(firewall=FAIL)
    run.state = dataclasses.replace(run.state, snoozed_until=run.now + 4 * HOUR)
    for _ in range(3):
        assert run.scan(firewall=FAIL) is None
    reminder = run.scan(firewall=FAIL)
    assert reminder is not None
    assert reminder.reminder


def test_a_snooze_implausibly_far_ahead_is_ignored() -> None:
    state = NotifyState(snoozed_until=T0 + MAX_SNOOZE_SECONDS + 1)
    notification, state = decide(
        state, report_of(firewall=FAIL), now=T0, settings=DEFAULT, instructions=english()
    )
    assert notification is not None
    assert state.snoozed_until == 0.0


def test_disabled_by_it_notifies_nothing_and_enabling_later_notifies_what_still_fails() -> None:
    run = Run(NotificationSettings(enabled=False, reminder_hours=1))
    assert run.scan(firewall=FAIL, diskEncryption=FAIL) is None
    assert run.scan(after_hours=48, firewall=FAIL, diskEncryption=PASS, remoteLogin=FAIL) is None
    assert run.state.failing == {"firewall", "remoteLogin"}
    assert run.state.notified_at == {}
    run.settings = NotificationSettings(enabled=True)
    notification = run.scan(firewall=FAIL, diskEncryption=PASS, remoteLogin=FAIL)
    assert notification is not None
    assert set(notification.keys) == {"firewall", "remoteLogin"}
    assert notification.title == "2 new problems need attention"
    assert run.scan(firewall=FAIL, diskEncryption=PASS, remoteLogin=FAIL) is None


def test_disabling_keeps_what_was_notified() -> None:
    run = Run()
    run.scan(firewall=FAIL)
    notified = run.state.notified_at["firewall"]
    run.settings = NotificationSettings(enabled=False)
    run.scan(firewall=FAIL)
    run.settings = DEFAULT
    assert run.scan(firewall=FAIL) is None
    assert run.state.notified_at == {"firewall": notified}


# ---------------------------------------------------------------------------------------------
# Persistence: a restart does not notify again
# ---------------------------------------------------------------------------------------------


def test_after_a_restart_the_same_findings_do_not_notify_again(tmp_path: Path) -> None:
    report = report_of(firewall=FAIL, diskEncryption=FAIL, screenLock=UNKNOWN)
    notification, state = decide(
        NotifyState(), report, now=T0, settings=DEFAULT, instructions=english()
    )
    assert notification is not None
    store = StateStore(tmp_path / "stethoscope" / "state.json")
    assert store.save({"notify": state.to_json(), "other": 1})

    restored = NotifyState.from_json(StateStore(store.path).load().get("notify"))
    assert restored == state
    notification, _ = decide(
        restored, report, now=T0 + HOUR, settings=DEFAULT, instructions=english()
    )
    assert notification is None


def test_the_state_round_trips_through_json_text() -> None:
    state = NotifyState(
        frozenset({"firewall", "applications/^uTorrent$"}),
        {"firewall": T0, "applications/^uTorrent$": T0 + 1.5},
        snoozed_until=T0 + HOUR,
    )
    data = json.loads(json.dumps(state.to_json()))
    assert data == {
        "failing": ["applications/^uTorrent$", "firewall"],
        "notified_at": {"applications/^uTorrent$": T0 + 1.5, "firewall": T0},
        "snoozed_until": T0 + HOUR,
        "snoozed": {},
    }
    assert NotifyState.from_json(data) == state


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "failing",
        42,
        {},
        {"failing": "firewall"},
        {"failing": {"firewall": 1}},
        {"failing": None, "notified_at": None, "snoozed_until": None},
        {"notified_at": [1, 2], "snoozed_until": "tomorrow"},
        {"snoozed_until": True},
        {"snoozed_until": float("nan")},
        {"snoozed_until": 10**400},
    ],
)
def test_garbage_state_loads_as_the_first_start_state(data: object) -> None:
    assert NotifyState.from_json(data) == NotifyState()


def test_the_valid_parts_of_a_damaged_state_are_kept() -> None:
    data = {
        "failing": ["firewall", 3, None, "", ["x"], "diskEncryption", "remoteLogin"],
        "notified_at": {
            "firewall": 100,
            "diskEncryption": "yesterday",
            "remoteLogin": float("inf"),
            "screenLock": 5.0,  # not failing: dropped
        },
        "snoozed_until": -1,
        "unknown": "ignored",
    }
    assert NotifyState.from_json(data) == NotifyState(
        frozenset({"firewall", "diskEncryption", "remoteLogin"}),
        {"firewall": 100.0},
        snoozed_until=-1.0,
    )


def test_the_state_does_not_change_when_the_callers_containers_do() -> None:
    failing = {"firewall"}
    times = {"firewall": T0}
    state = NotifyState(failing, times)  # type: ignore[arg-type]  # a set where a frozenset goes
    failing.add("diskEncryption")
    times["firewall"] = 0.0
    assert state.failing == frozenset({"firewall"})
    assert state.notified_at == {"firewall": T0}
    assert isinstance(state.failing, frozenset)


def test_a_notification_time_for_a_key_that_was_not_failing_does_not_count() -> None:
    # An inconsistent state built by hand: the firewall was not failing, so it is new now.
    state = NotifyState(frozenset(), {"firewall": T0})
    notification, state = decide(
        state, report_of(firewall=FAIL), now=T0 + HOUR, settings=DEFAULT, instructions=english()
    )
    assert notification is not None
    assert not notification.reminder
    assert state.notified_at == {"firewall": T0 + HOUR}


def test_decide_does_not_change_the_previous_state() -> None:
    previous = NotifyState(frozenset({"firewall"}), {"firewall": T0})
    copy = NotifyState.from_json(previous.to_json())
    decide(
        previous,
        report_of(firewall=PASS, diskEncryption=FAIL),
        now=T0 + 48 * HOUR,
        settings=DEFAULT,
        instructions=english(),
    )
    assert previous == copy


# ---------------------------------------------------------------------------------------------
# snooze_until
# ---------------------------------------------------------------------------------------------

CEST = timezone(timedelta(hours=2))


def local(tz: tzinfo, year: int, month: int, day: int, hour: int, minute: int) -> float:
    """Return the epoch time of a local wall-clock time in `tz`."""
    return datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()


def test_snooze_for_one_and_four_hours() -> None:
    assert snooze_until(T0, "1h", local_tz=CEST) == T0 + HOUR
    assert snooze_until(T0, "4h", local_tz=CEST) == T0 + 4 * HOUR


@pytest.mark.parametrize(
    ("at", "until"),
    [
        ((2026, 6, 10, 15, 30), (2026, 6, 11, 9, 0)),
        ((2026, 6, 10, 9, 0), (2026, 6, 11, 9, 0)),
        ((2026, 6, 10, 23, 59), (2026, 6, 11, 9, 0)),
        ((2026, 6, 30, 18, 0), (2026, 7, 1, 9, 0)),  # across a month
        ((2026, 12, 31, 18, 0), (2027, 1, 1, 9, 0)),  # across a year
        # Before 04:00 the night is not over: "tomorrow" is the coming morning.
        ((2026, 6, 11, 0, 30), (2026, 6, 11, 9, 0)),
        ((2026, 6, 11, 3, 59), (2026, 6, 11, 9, 0)),
        ((2026, 6, 11, 4, 0), (2026, 6, 12, 9, 0)),
    ],
)
def test_snooze_until_tomorrow_is_nine_in_the_morning_local_time(
    at: tuple[int, int, int, int, int], until: tuple[int, int, int, int, int]
) -> None:
    assert snooze_until(local(CEST, *at), "tomorrow", local_tz=CEST) == local(CEST, *until)


def test_snooze_until_tomorrow_uses_the_given_time_zone_not_the_machines() -> None:
    now = datetime(2026, 6, 10, 20, 0, tzinfo=UTC).timestamp()  # 22:00 in CEST, 06:00 in Sydney
    sydney = timezone(timedelta(hours=10))
    assert snooze_until(now, "tomorrow", local_tz=CEST) == local(CEST, 2026, 6, 11, 9, 0)
    assert snooze_until(now, "tomorrow", local_tz=sydney) == local(sydney, 2026, 6, 12, 9, 0)
    assert snooze_until(now, "tomorrow", local_tz=UTC) == local(UTC, 2026, 6, 11, 9, 0)


def test_snooze_until_tomorrow_keeps_nine_oclock_across_a_daylight_saving_change() -> None:
    try:
        berlin = ZoneInfo("Europe/Berlin")
    except ZoneInfoNotFoundError:
        pytest.skip("no time zone database on this machine")
    # The clocks go back an hour in the night of 24-25 October 2026: 25 hours to 09:00.
    now = local(berlin, 2026, 10, 24, 9, 0)
    until = snooze_until(now, "tomorrow", local_tz=berlin)
    assert datetime.fromtimestamp(until, tz=berlin).replace(tzinfo=None) == datetime(
        2026, 10, 25, 9, 0
    )
    assert until - now == 25 * HOUR


@pytest.mark.parametrize("choice", SNOOZE_CHOICES)
def test_every_snooze_choice_is_in_the_future_and_within_the_plausible_limit(
    choice: SnoozeChoice,
) -> None:
    for hour in range(24):
        now = local(CEST, 2026, 6, 10, hour, 1)
        until = snooze_until(now, choice, local_tz=CEST)
        assert now < until <= now + MAX_SNOOZE_SECONDS
        # And decide honours it until it ends.
        state = NotifyState(snoozed_until=until)
        report = report_of(firewall=FAIL)
        during, _ = decide(state, report, now=until - 1, settings=DEFAULT, instructions=english())
        after, _ = decide(state, report, now=until, settings=DEFAULT, instructions=english())
        assert during is None
        assert after is not None


def test_an_unknown_snooze_choice_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown snooze choice"):
        snooze_until(T0, "forever", local_tz=UTC)  # type: ignore[arg-type]


# -- the notification's own Snooze: per finding ------------------------------------------------


def test_a_snoozed_finding_is_not_reminded_of_until_its_snooze_ends() -> None:
    run = Run(NotificationSettings(reminder_hours=1))
    assert run.scan(after_hours=0, firewall=FAIL) is not None
    run.state = snooze_findings(run.state, ("firewall",), now=run.now)
    assert run.state.snoozed == {"firewall": run.now + FINDING_SNOOZE_SECONDS}
    assert FINDING_SNOOZE_SECONDS == 4 * HOUR
    # The reminder period (1 hour) passes several times: the snooze holds.
    for _ in range(3):
        assert run.scan(after_hours=1, firewall=FAIL) is None
    reminder = run.scan(after_hours=1, firewall=FAIL)  # 4 hours: the snooze is over
    assert reminder is not None and reminder.reminder and reminder.keys == ("firewall",)
    assert run.state.snoozed == {}, "the reminder it owed was shown"
    assert run.scan(after_hours=0.5, firewall=FAIL) is None
    assert run.scan(after_hours=0.5, firewall=FAIL) is not None, "then the usual period again"


def test_a_new_finding_notifies_while_another_is_snoozed_and_names_only_itself() -> None:
    run = Run()
    run.scan(after_hours=0, firewall=FAIL)
    run.state = snooze_findings(run.state, ("firewall",), now=run.now)
    new = run.scan(after_hours=1, firewall=FAIL, diskEncryption=FAIL)
    assert new is not None and not new.reminder
    assert new.keys == ("diskEncryption",)
    assert new.title == "Disk encryption should be enabled"
    # The firewall's snooze still holds; when it ends, the reminder comes.
    assert run.scan(after_hours=2, firewall=FAIL, diskEncryption=FAIL) is None
    reminder = run.scan(after_hours=1, firewall=FAIL, diskEncryption=FAIL)
    assert reminder is not None and reminder.reminder
    assert reminder.keys == ("diskEncryption", "firewall")


def test_a_snoozed_finding_that_is_fixed_forgets_its_snooze() -> None:
    run = Run()
    run.scan(after_hours=0, firewall=FAIL)
    run.state = snooze_findings(run.state, ("firewall",), now=run.now)
    assert run.scan(after_hours=1, firewall=PASS) is None
    assert run.state.snoozed == {}
    again = run.scan(after_hours=1, firewall=FAIL)
    assert again is not None and not again.reminder, "failing again is new again"


def test_unknown_keeps_a_findings_snooze() -> None:
    run = Run()
    run.scan(after_hours=0, firewall=FAIL)
    run.state = snooze_findings(run.state, ("firewall",), now=run.now)
    until = run.state.snoozed["firewall"]
    assert run.scan(after_hours=1, firewall=UNKNOWN) is None
    assert run.state.snoozed == {"firewall": until}
    assert run.scan(after_hours=1, firewall=FAIL) is None, "still snoozed, not new"


def test_snoozing_a_finding_that_no_longer_fails_does_nothing() -> None:
    run = Run()
    run.scan(after_hours=0, firewall=FAIL)
    run.scan(after_hours=1, firewall=PASS)
    assert snooze_findings(run.state, ("firewall",), now=run.now).snoozed == {}


def test_a_findings_snooze_owed_while_notifications_are_off_comes_when_they_are_on() -> None:
    run = Run()
    run.scan(after_hours=0, firewall=FAIL)
    run.state = snooze_findings(run.state, ("firewall",), now=run.now)
    run.settings = NotificationSettings(enabled=False)
    assert run.scan(after_hours=5, firewall=FAIL) is None
    assert "firewall" in run.state.snoozed, "the reminder it owes is kept"
    run.settings = DEFAULT
    reminder = run.scan(after_hours=0.1, firewall=FAIL)
    assert reminder is not None and reminder.reminder


def test_a_findings_snooze_from_a_clock_set_back_ends_within_its_length() -> None:
    run = Run()
    run.scan(after_hours=0, firewall=FAIL)
    run.state = dataclasses.replace(run.state, snoozed={"firewall": run.now + 1000 * HOUR})
    assert run.scan(after_hours=1, firewall=FAIL) is None
    assert run.state.snoozed["firewall"] <= run.now + FINDING_SNOOZE_SECONDS
    assert run.scan(after_hours=4, firewall=FAIL) is not None


def test_the_findings_snoozes_survive_a_restart(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    run = Run()
    run.scan(after_hours=0, firewall=FAIL)
    run.state = snooze_findings(run.state, ("firewall",), now=run.now)
    store.save({"notify": run.state.to_json()})
    loaded = NotifyState.from_json(store.load()["notify"])
    assert loaded == run.state
    bad = {**run.state.to_json(), "snoozed": {"firewall": "soon", "other": T0}}
    assert NotifyState.from_json(bad).snoozed == {}


# -- plural forms in the notifications' titles ---------------------------------------------------


def test_several_new_findings_are_counted_in_the_languages_plural_form() -> None:
    polish = dataclasses.replace(
        english(),
        language="pl",
        strings={
            **english().strings,
            "notifyNewCritical.one": "{{count}} nowy problem krytyczny",
            "notifyNewCritical.few": "{{count}} nowe problemy krytyczne",
            "notifyNewCritical.many": "{{count}} nowych problemów krytycznych",
            "notifyNewCritical.other": "{{count}} nowego problemu krytycznego",
        },
    )
    keys = [f"check{n}" for n in range(5)]
    for count, title in ((2, "2 nowe problemy krytyczne"), (5, "5 nowych problemów krytycznych")):
        notification, _ = decide(
            NotifyState(),
            report_of(**dict.fromkeys(keys[:count], FAIL)),
            now=T0,
            settings=DEFAULT,
            instructions=polish,
        )
        assert notification is not None and notification.title == title
