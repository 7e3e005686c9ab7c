"""The report: an immutable, JSON-serialisable record of one scan, ranked for the person reading it.

The tray, the notifier, the local API and the CLI all read this one object. Its JSON form is
described by `resources/schemas/report.schema.json`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from stethoscope_desktop.core.status import RATING_RANK, STATUS_RANK, Rating, Status
from stethoscope_desktop.engines.base import EngineInfo, TableTiming
from stethoscope_desktop.tables.base import Row

REPORT_SCHEMA_VERSION = 1
_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BARE_URL = re.compile(
    r"(?<![(\[])\b((?:https?|ms-settings|x-apple\.systempreferences|windowsdefender):[^\s)>\]]+)"
)


class AppState(StrEnum):
    """What was found for one application rule."""

    INSTALLED = "INSTALLED"
    NOT_INSTALLED = "NOT_INSTALLED"
    OUTDATED = "OUTDATED"
    BANNED_PRESENT = "BANNED_PRESENT"


@dataclass(frozen=True)
class Link:
    """A link found in a practice's directions."""

    text: str
    url: str


@dataclass(frozen=True)
class Evidence:
    """What the verdict rests on: the check, its query, the tables read and the rows returned."""

    check: str
    sql: str = ""
    tables: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class ApplicationOutcome:
    """The verdict's details for one application rule."""

    name: str
    assertion: str
    state: AppState
    installed: bool
    installed_version: str = ""
    required_version: str = ""
    matched_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PracticeResult:
    """One practice's verdict with everything needed to explain and fix it."""

    key: str
    practice: str
    name: str
    status: Status
    rating: Rating
    title: str
    description: str
    directions: str
    directions_platform: str
    links: tuple[Link, ...]
    requirement: str
    requirement_text: str
    observed: str
    reason: str
    held_against: bool
    evidence: Evidence
    application: ApplicationOutcome | None = None


@dataclass(frozen=True)
class DeviceFacts:
    """Who this device is: what the header of the window and the API's `device` show."""

    device_id: str = ""
    device_name: str = ""
    platform: str = ""
    platform_name: str = ""
    distribution: str = ""
    os_name: str = ""
    os_version: str = ""
    os_build: str = ""
    hardware_vendor: str = ""
    hardware_model: str = ""
    hardware_serial: str = ""
    stethoscope_version: str = ""
    running_as_admin: bool = False


@dataclass(frozen=True)
class Report:
    """One scan's result, ranked: failures first, then nudges, unknowns, passes; by rating."""

    status: Status
    summary: str
    practices: tuple[PracticeResult, ...]
    device: DeviceFacts
    started_at: str
    duration_seconds: float
    engine: EngineInfo
    language: str
    organization: str
    policy_files: tuple[str, ...] = ()
    policy_problems: tuple[str, ...] = ()
    check_problems: tuple[str, ...] = ()
    table_timings: tuple[TableTiming, ...] = ()
    schema_version: int = REPORT_SCHEMA_VERSION

    def counts(self) -> Mapping[Status, int]:
        """Return how many practices have each status."""
        counts = dict.fromkeys(Status, 0)
        for practice in self.practices:
            counts[practice.status] += 1
        return counts

    def critical(self) -> tuple[PracticeResult, ...]:
        """Return the critical findings: practices that fail."""
        return tuple(p for p in self.practices if p.status is Status.FAIL)

    def practice(self, key: str) -> PracticeResult | None:
        """Return the practice result with this key, if present."""
        return next((p for p in self.practices if p.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        data: dict[str, Any] = _plain(dataclasses.asdict(self))
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def rank(practices: Iterable[PracticeResult]) -> tuple[PracticeResult, ...]:
    """Order practices: FAIL, NUDGE, UNKNOWN, PASS; within each by rating, then by name."""
    return tuple(
        sorted(
            practices,
            key=lambda p: (STATUS_RANK[p.status], RATING_RANK[p.rating], p.name.casefold(), p.key),
        )
    )


def links_in(markdown: str) -> tuple[Link, ...]:
    """Return the links in Markdown text, in order, without duplicates."""
    found: dict[str, Link] = {}
    for text, url in _MARKDOWN_LINK.findall(markdown):
        found.setdefault(url, Link(text, url))
    for url in _BARE_URL.findall(_MARKDOWN_LINK.sub("", markdown)):
        found.setdefault(url, Link(url, url))
    return tuple(found.values())
