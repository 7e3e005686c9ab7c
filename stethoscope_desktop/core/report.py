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
    """What was found for an application rule.

    Installed (in the required version), not installed, installed but outside the required
    version, or a banned application present.
    """

    INSTALLED = "INSTALLED"
    NOT_INSTALLED = "NOT_INSTALLED"
    OUTDATED = "OUTDATED"
    BANNED_PRESENT = "BANNED_PRESENT"


@dataclass(frozen=True)
class Link:
    """A link found in a practice's directions."""

    text: str
    """The link's text."""
    url: str
    """The target: https:, ms-settings:, x-apple.systempreferences: ..."""


@dataclass(frozen=True)
class Evidence:
    """What the verdict rests on: the check, its query, the tables read and the rows returned."""

    check: str
    """The id of the check that measured the fact."""
    sql: str = ""
    """The osquery SQL that ran; empty if none ran."""
    tables: tuple[str, ...] = ()
    """The tables the query read."""
    rows: tuple[Row, ...] = ()
    """The rows the query returned (column name to value)."""
    error: str | None = None
    """Why the check could not be run or answered; null if it was."""
    query_mistake: bool = False
    """true when `error` is a mistake in the check's query itself (a table or column osquery
    lacks on this platform, text that is not valid SQL): osquery could not run it either, and
    nothing about the device is at fault."""


@dataclass(frozen=True)
class ApplicationOutcome:
    """The verdict's details for one application rule."""

    name: str
    """The rule's name (a regular expression unless exactMatch)."""
    assertion: str
    """The rule's requirement option."""
    state: AppState
    """What was found."""
    installed: bool
    """Whether an application matching the rule is installed."""
    installed_version: str = ""
    """The version found; empty if none."""
    required_version: str = ""
    """The rule's version range; empty if it has none."""
    matched_names: tuple[str, ...] = ()
    """The installed applications' names that match the rule."""


@dataclass(frozen=True)
class PracticeResult:
    """One practice's verdict with everything needed to explain and fix it."""

    key: str
    """Unique within the report: the policy key (osVersion, firewall, screenIdle, ...) or
    applications/<rule name>.
    """
    practice: str
    """The practice whose texts and rating apply: a policy key, or requiredApplications,
    bannedApplications or suggestedApplications for an application rule.
    """
    name: str
    """The practice's short name."""
    status: Status
    """The practice's verdict."""
    rating: Rating
    """How much the practice matters."""
    title: str
    """A title that says the state, e.g. 'Disk encryption should be enabled'."""
    description: str
    """Why the practice matters (Markdown)."""
    directions: str
    """Numbered steps for this platform (Markdown with links); empty if there are none."""
    directions_platform: str
    """The directions key the text was chosen by: a platform (e.g. ubuntu, linux, darwin) or a
    platform with an OS version range for version-specific text (e.g. darwin@<13,
    win32@>=10.0.22000); empty if none.
    """
    links: tuple[Link, ...]
    """The links found in the directions, in order."""
    requirement: str
    """What the policy requires, as written there: a requirement option (ALWAYS), a range (>=14.6,
    <=900), or an assertion and range (NEVER <9.0.0).
    """
    requirement_text: str
    """The requirement in words, e.g. 'must be on', '14.6 or later'."""
    observed: str
    """What was seen on the device, e.g. ON, OFF (reason), 12.7.0, 300 seconds; empty if nothing."""
    reason: str
    """Why the status is UNKNOWN; empty otherwise."""
    held_against: bool
    """false where an UNKNOWN is not held against the user (IF_SUPPORTED)."""
    evidence: Evidence
    """What the verdict rests on."""
    application: ApplicationOutcome | None = None
    """For an application rule whose list could be read: what was found; else null."""
    status_text: str = ""
    """The status in the report's language, in the words every front end shows: 'Needs
    attention' (FAIL), 'Suggestion' (NUDGE), "Couldn't check" (UNKNOWN), 'All good' (PASS)."""
    rating_text: str = ""
    """The rating in words where it adds something (e.g. 'High importance' beside 'Needs
    attention', ordering what to fix first); empty where it does not: a suggestion, a practice
    that could not be checked or one that is all good."""
    summary: str = ""
    """One plain sentence for the person using the device: what was found, against what is
    required (e.g. 'openssh-server 9.2 is installed; only versions below 9.0 are not
    allowed.'). No check data, file names or environment variables: those are in details."""
    details: tuple[str, ...] = ()
    """The technical lines behind the summary, for a collapsed 'Details': what the check saw as
    measured, why it could not be checked (as the engine said it), what the policy requires as
    written, the check, its tables and rows."""

    def unknown_by_query_mistake(self) -> bool:
        """Return True when the status is UNKNOWN because the check's query has a mistake."""
        return self.status is Status.UNKNOWN and self.evidence.query_mistake


@dataclass(frozen=True)
class ManualCheck:
    """One of IT's checks done by hand: listed apart, never evaluated, never a FAIL or NUDGE.

    Fleet's manual-check placeholders are such checks: their query never returns rows whatever
    the device (`SELECT 1 WHERE 0;`), so it is not run.
    """

    key: str
    """Unique within the report: custom/<the check's name as a slug>."""
    title: str
    """The check's name."""
    description: str
    """What the check is about (Markdown); empty if IT gave nothing."""
    directions: str
    """IT's resolution: how to check it by hand (Markdown with links); empty if none."""
    links: tuple[Link, ...] = ()
    """The links found in the directions, in order."""


@dataclass(frozen=True)
class DeviceFacts:
    """Who this device is: what the header of the window and the API's `device` show.

    Empty strings where unknown.
    """

    device_id: str = ""
    """A stable identifier of the device (hardware UUID)."""
    device_name: str = ""
    """The device's name (computer name or host name)."""
    platform: str = ""
    """Stethoscope's platform name: darwin, win32 or linux."""
    platform_name: str = ""
    """The platform's display name, e.g. macOS, Windows 11 Pro, Debian GNU/Linux."""
    distribution: str = ""
    """On Linux, the os-release ID (debian, ubuntu, fedora, ...); empty elsewhere."""
    os_name: str = ""
    """The operating system's name as it reports it."""
    os_version: str = ""
    """The operating system's version."""
    os_build: str = ""
    """The operating system's build (on Linux the kernel's release, as `uname -r` prints it)."""
    hardware_vendor: str = ""
    """The hardware vendor."""
    hardware_model: str = ""
    """The hardware model."""
    hardware_serial: str = ""
    """The hardware serial number; often empty without administrator rights."""
    firmware_version: str = ""
    """The firmware's (BIOS, UEFI) version; empty where it cannot be read."""
    stethoscope_version: str = ""
    """The release of Netflix's Stethoscope this app answers as: the one whose policy format and
    local API it implements."""
    app_version: str = ""
    """This app's (Stethoscope Desktop's) own version."""
    running_as_admin: bool = False
    """Whether the scan ran as root or an elevated administrator (it should not need to)."""


@dataclass(frozen=True)
class Report:
    """One scan's result, ranked: failures first, then nudges, unknowns, passes; by rating."""

    status: Status
    """The device's overall status: FAIL if any practice fails, else NUDGE if any nudges, else
    PASS.
    """
    summary: str
    """One sentence that sums up the status for the person using the device."""
    practices: tuple[PracticeResult, ...]
    """Every practice the policy asks for, ranked."""
    device: DeviceFacts
    """The device that was checked."""
    started_at: str
    """When the scan started: ISO 8601 with a UTC offset, to the second."""
    duration_seconds: float
    """How long the scan took."""
    engine: EngineInfo
    """The engine that ran the checks."""
    language: str
    """The language of the texts (title, description, directions, summary), e.g. en."""
    organization: str
    """The organization named in config.yaml."""
    policy_files: tuple[str, ...] = ()
    """The policy files that were layered to make the policy, in order."""
    policy_problems: tuple[str, ...] = ()
    """Problems found in the policy, config and instruction files (file:line: key: message);
    the keys they name were left out.
    """
    check_problems: tuple[str, ...] = ()
    """Problems found in the check definitions."""
    table_timings: tuple[TableTiming, ...] = ()
    """How long each table took to generate, slowest first."""
    manual_checks: tuple[ManualCheck, ...] = ()
    """IT's checks for this platform that are done by hand (Fleet's manual-check placeholders,
    whose query never returns rows), in the policy's order: not evaluated, so neither in
    practices nor in the overall status.
    """
    manual_checks_left_out: int = 0
    """How many checks done by hand IT's setting left out of manual_checks (manualChecks: skip
    in config.yaml); 0 when they are shown.
    """
    policy_problems_summary: str = ""
    """One plain sentence for the person when IT's files have problems (the technical lines,
    with file, line and key, are policy_problems); empty when they have none."""
    policy_sha256: str = ""
    """The hex SHA-256 over the contents of the policy files, in layer order (a policy server's
    layer by its URL): the same on every device given the same policy, wherever it is installed;
    empty where it was not computed."""
    schema_version: int = REPORT_SCHEMA_VERSION
    """The version of this report format; it changes when a field changes meaning or is removed."""

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
        details=texts_in(data, "details", name),
    )


def _report(data: Mapping[str, Any]) -> Report:
    engine = _object(data.get("engine"), "report.engine")
    practices = _list(data, "practices", "report", required=True)
    timings = _list(data, "table_timings", "report")
    manual = _list(data, "manual_checks", "report")
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
        manual_checks=tuple(
            _manual_check(check, f"report.manual_checks[{index}]")
            for index, check in enumerate(manual)
        ),
    )


def _manual_check(raw: Any, name: str) -> ManualCheck:
    data = _object(raw, name)
    links = [_object(link, f"{name}.links[]") for link in _list(data, "links", name)]
    return _record(  # type: ignore[no-any-return]
        ManualCheck,
        data,
        name,
        links=tuple(_record(Link, link, f"{name}.links[]") for link in links),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_DIGITS = re.compile(r"(\d+)")


def natural_sort_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Return a key that orders names as people read them: runs of digits as numbers.

    CIS section numbers sort as sections do: "1.1.1.2" before "1.1.1.11". Case is ignored.
    """
    folded = name.casefold()
    # re.split with a group alternates text and digits, text first: the parts line up.
    parts = _DIGITS.split(folded)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), folded


def rank(practices: Iterable[PracticeResult]) -> tuple[PracticeResult, ...]:
    """Order practices: FAIL, NUDGE, UNKNOWN, PASS; within each by rating, then by name.

    Names sort naturally (`natural_sort_key`): IT's "1.1.1.2" comes before its "1.1.1.11".
    """
    return tuple(
        sorted(
            practices,
            key=lambda p: (
                STATUS_RANK[p.status],
                RATING_RANK[p.rating],
                natural_sort_key(p.name),
                p.key,
            ),
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
