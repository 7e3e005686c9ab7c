"""The extension's two tables: every user's overall status, and each user's practices.

`stethoscope_status` has one row per local user with a report (or with a report that cannot be
read: status UNREADABLE, `error` saying why), plus one row per logged-in user with none
(NO_REPORT), so IT also sees machines where the app is not running. `stethoscope_practices` has
one row per user and practice of the readable reports. Each query reads the reports afresh; a
`uid = N` constraint limits the reading to that user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.report_store import report_path_in_home
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.fleet_extension.reading import ReadOutcome, read_report
from stethoscope_desktop.fleet_extension.users import LocalUser, UserSource
from stethoscope_desktop.tables.base import Column, QueryContext, TablePlugin
from stethoscope_desktop.tables.values import Row

log = logging.getLogger(__name__)

DEFAULT_STALE_AFTER_SECONDS = 86400
# A report may be dated a little ahead of this clock (two clocks, a few seconds apart); one dated
# further ahead counts as stale, or a clock that was once wrong would keep its verdict fresh.
FUTURE_TOLERANCE_SECONDS = 300
NO_REPORT = "NO_REPORT"
UNREADABLE = "UNREADABLE"

STATUS_COLUMNS = (
    Column("uid", "bigint"),
    Column("username"),
    Column("status"),
    Column("pass_count", "integer"),
    Column("nudge_count", "integer"),
    Column("fail_count", "integer"),
    Column("unknown_count", "integer"),
    Column("checked_at"),
    Column("checked_at_unix", "bigint"),
    Column("age_seconds", "bigint"),
    Column("stale", "integer"),
    Column("engine"),
    Column("app_version"),
    Column("policy_sha256"),
    Column("sources"),
    Column("logged_in", "integer"),
    Column("error"),
    Column("report_path"),
)
PRACTICES_COLUMNS = (
    Column("uid", "bigint"),
    Column("username"),
    Column("key"),
    Column("status"),
    Column("rating"),
    Column("title"),
    Column("observed"),
    Column("reason"),
    Column("checked_at"),
    Column("checked_at_unix", "bigint"),
)


@dataclass(frozen=True)
class UserReport:
    """One user's report as found: read, missing, or unreadable (with why)."""

    user: LocalUser
    path: PurePath
    outcome: ReadOutcome
    report: Report | None
    error: str
    logged_in: bool


class ReportCollector:
    """Finds each user's report: every local user (privileged) or this process's user only."""

    def __init__(
        self, users: UserSource, *, only_uid: int | None = None, only_name: str | None = None
    ) -> None:
        """Read the reports of `users`' users; `only_uid` or `only_name`: just that user's.

        (Unprivileged: the process's uid on POSIX, its user name on Windows.)
        """
        self.users = users
        self.only_uid = only_uid
        self.only_name = only_name

    def path_of(self, user: LocalUser) -> PurePath:
        """Return where `user`'s report is, as seen under the users' root."""
        return report_path_in_home(user.home, self.users.platform)

    def collect(self, uids: frozenset[str] = frozenset()) -> list[UserReport]:
        """Return the users' reports (of `uids` only, if any given), by uid then name."""
        wanted = {int(uid) for uid in uids if uid.lstrip("-").isdigit()}
        logged_in = self.users.logged_in()
        local = self.users.users()
        known = {user.name for user in local}
        for name in sorted(logged_in - known):
            found = self.users.lookup(name)
            if found is not None:
                local.append(found)
        found_reports: list[UserReport] = []
        for user in local:
            if self.only_uid is not None and user.uid != self.only_uid:
                continue
            if self.only_name is not None and user.name.casefold() != self.only_name.casefold():
                continue
            if wanted and user.uid not in wanted:
                continue
            path = self.path_of(user)
            owner = None if self.users.platform == "windows" else user.uid
            read = read_report(self.users.root, path, owner)
            is_logged_in = user.name in logged_in
            if read.outcome is ReadOutcome.MISSING and not is_logged_in:
                continue
            found_reports.append(
                UserReport(user, path, read.outcome, read.report, read.error, is_logged_in)
            )
        found_reports.sort(key=lambda found: (found.user.uid, found.user.name))
        return found_reports


def checked_at_unix(report: Report) -> int | None:
    """Return the scan's start as seconds since the epoch, None if the time cannot be read."""
    try:
        return int(datetime.fromisoformat(report.started_at).timestamp())
    except ValueError:
        return None


class StatusTable(TablePlugin):
    """`stethoscope_status`: each user's overall verdict, how old it is, and where it came from."""

    name = "stethoscope_status"
    columns = STATUS_COLUMNS

    def __init__(
        self,
        collector: ReportCollector,
        *,
        stale_after: float = DEFAULT_STALE_AFTER_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._collector = collector
        self._stale_after = stale_after
        self._clock = clock

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Return one row per user with a report, or logged in without one."""
        now = self._clock()
        return [self._row(found, now) for found in self._collector.collect(context.equals("uid"))]

    def _row(self, found: UserReport, now: float) -> Row:
        row: Row = {
            "uid": found.user.uid,
            "username": found.user.name,
            "logged_in": 1 if found.logged_in else 0,
            "report_path": str(found.path),
            "error": found.error,
        }
        report = found.report
        if found.outcome is ReadOutcome.MISSING:
            row["status"] = NO_REPORT
            row["error"] = (
                "no report: the app has not saved one for this user (not installed, not "
                "started in this session, or not yet scanned)"
            )
            return row
        if report is None:
            row["status"] = UNREADABLE
            return row
        counts = report.counts()
        when = checked_at_unix(report)
        age = None if when is None else int(now - when)
        if when is None:
            row["error"] = (
                "started_at is not a time (ISO 8601 with a UTC offset): the report's age can't be "
                "told, so it counts as stale"
            )
        elif age is not None and age < -FUTURE_TOLERANCE_SECONDS:
            row["error"] = (
                f"started_at is {-age} s in the future (a clock that was wrong when the scan ran, "
                "or an edited report): it counts as stale until a new scan"
            )
        stale = age is None or age > self._stale_after or age < -FUTURE_TOLERANCE_SECONDS
        row.update(
            {
                "status": str(report.status),
                "pass_count": counts[Status.PASS],
                "nudge_count": counts[Status.NUDGE],
                "fail_count": counts[Status.FAIL],
                "unknown_count": counts[Status.UNKNOWN],
                "checked_at": report.started_at,
                "checked_at_unix": when,
                "age_seconds": age,
                "stale": 1 if stale else 0,
                "engine": report.engine.name,
                "app_version": report.device.app_version,
                "policy_sha256": report.policy_sha256,
                "sources": ",".join(report.policy_files),
            }
        )
        return row


class PracticesTable(TablePlugin):
    """`stethoscope_practices`: each user's verdict on each practice of their last report."""

    name = "stethoscope_practices"
    columns = PRACTICES_COLUMNS

    def __init__(self, collector: ReportCollector) -> None:
        self._collector = collector

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Return one row per user and practice of the readable reports."""
        rows: list[Row] = []
        for found in self._collector.collect(context.equals("uid")):
            report = found.report
            if report is None:
                continue
            when = checked_at_unix(report)
            for practice in report.practices:
                rows.append(
                    {
                        "uid": found.user.uid,
                        "username": found.user.name,
                        "key": practice.key,
                        "status": str(practice.status),
                        "rating": str(practice.rating),
                        "title": practice.title,
                        "observed": practice.observed,
                        "reason": practice.reason,
                        "checked_at": report.started_at,
                        "checked_at_unix": when,
                    }
                )
        return rows


def extension_tables(
    collector: ReportCollector, *, stale_after: float = DEFAULT_STALE_AFTER_SECONDS
) -> list[TablePlugin]:
    """Return the extension's tables over `collector`'s reports."""
    return [StatusTable(collector, stale_after=stale_after), PracticesTable(collector)]
