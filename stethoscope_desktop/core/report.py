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
from stethoscope_desktop.engines.info import EngineInfo, TableTiming
from stethoscope_desktop.tables.values import Row

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """Return the report `to_dict` gave (how the scan worker hands it to the tray).

        Raises ReportFormatError, naming the field, for data that is not such a report.
        """
        if not isinstance(data, Mapping):
            raise ReportFormatError(f"report: must be an object, not {type(data).__name__}")
        try:
            return _report(data)
        except TypeError as error:  # a field the dataclass does not take, or one it lacks
            raise ReportFormatError(f"report: {error}") from error


class ReportFormatError(ValueError):
    """Data handed over as a report is not one."""


# The plain field types a report's records hold, checked when one is read back.
_PLAIN_TYPES: Mapping[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
}


def _object(data: Any, name: str) -> Mapping[str, Any]:
    if data is None:
        raise ReportFormatError(f"{name}: missing")
    if not isinstance(data, Mapping):
        raise ReportFormatError(f"{name}: must be an object, not {type(data).__name__}")
    return data


def _list(data: Mapping[str, Any], key: str, name: str, *, required: bool = False) -> list[Any]:
    if required and key not in data:
        raise ReportFormatError(f"{name}.{key}: missing")
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ReportFormatError(f"{name}.{key}: must be a list, not {type(value).__name__}")
    return value


def texts_in(data: Mapping[str, Any], key: str, name: str) -> tuple[str, ...]:
    """Return `data[key]`, a list of texts (none when missing); errors name `name.key`."""
    items = _list(data, key, name)
    if not all(isinstance(item, str) for item in items):
        raise ReportFormatError(f"{name}.{key}: must be a list of texts")
    return tuple(items)


def _record(kind: type[Any], data: Any, name: str, **converted: Any) -> Any:
    """Build the dataclass `kind` from a JSON object's own fields, `converted` overriding.

    Plain fields (texts, numbers, flags) must have their type; a missing field without a default
    is named.
    """
    values = {}
    for item in dataclasses.fields(kind):
        if item.name in converted:
            values[item.name] = converted[item.name]
        elif item.name in data:
            value = data[item.name]
            types = _PLAIN_TYPES.get(str(item.type))
            if types is not None and (
                not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
            ):
                raise ReportFormatError(f"{name}.{item.name}: must be {item.type}, not {value!r}")
            values[item.name] = value
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise ReportFormatError(f"{name}.{item.name}: missing")
    return kind(**values)


def _enum(kind: type[StrEnum], data: Mapping[str, Any], key: str, name: str) -> Any:
    value = data.get(key)
    if not isinstance(value, str) or value not in kind.__members__.values():
        raise ReportFormatError(f"{name}.{key}: not a {kind.__name__}: {value!r}")
    return kind(value)


def _practice(raw: Any, name: str) -> PracticeResult:
    data = _object(raw, name)
    evidence = _object(data.get("evidence"), f"{name}.evidence")
    rows = _list(evidence, "rows", f"{name}.evidence")
    if not all(isinstance(row, Mapping) for row in rows):
        raise ReportFormatError(f"{name}.evidence.rows: must be a list of objects")
    application = data.get("application")
    outcome = None
    if application is not None:
        where = f"{name}.application"
        app = _object(application, where)
        outcome = _record(
            ApplicationOutcome,
            app,
            where,
            state=_enum(AppState, app, "state", where),
            matched_names=texts_in(app, "matched_names", where),
        )
    links = [_object(link, f"{name}.links[]") for link in _list(data, "links", name)]
    return _record(  # type: ignore[no-any-return]
        PracticeResult,
        data,
        name,
        status=_enum(Status, data, "status", name),
        rating=_enum(Rating, data, "rating", name),
        links=tuple(_record(Link, link, f"{name}.links[]") for link in links),
        evidence=_record(
            Evidence,
            evidence,
            f"{name}.evidence",
            tables=texts_in(evidence, "tables", f"{name}.evidence"),
            rows=tuple(dict(row) for row in rows),
        ),
        application=outcome,
    )


def _report(data: Mapping[str, Any]) -> Report:
    engine = _object(data.get("engine"), "report.engine")
    practices = _list(data, "practices", "report", required=True)
    timings = _list(data, "table_timings", "report")
    return _record(  # type: ignore[no-any-return]
        Report,
        data,
        "report",
        status=_enum(Status, data, "status", "report"),
        practices=tuple(
            _practice(practice, f"report.practices[{index}]")
            for index, practice in enumerate(practices)
        ),
        device=_record(DeviceFacts, _object(data.get("device"), "report.device"), "report.device"),
        engine=_record(
            EngineInfo, engine, "report.engine", tables=texts_in(engine, "tables", "report.engine")
        ),
        policy_files=texts_in(data, "policy_files", "report"),
        policy_problems=texts_in(data, "policy_problems", "report"),
        check_problems=texts_in(data, "check_problems", "report"),
        table_timings=tuple(
            _record(TableTiming, _object(t, "report.table_timings[]"), "report.table_timings[]")
            for t in timings
        ),
    )


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
