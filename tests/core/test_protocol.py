"""The scan worker's protocol (`core.protocol`) and the report it carries (`Report.from_dict`).

Commands and events cross a pipe as lines: each comes back equal to what was sent. A line that
is not a command or event of this protocol version raises a `ProtocolError` that names what is
wrong; a report, its strings and the tray's settings that are not such things are refused
naming the field, never let through to fail later in the tray.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.protocol import (
    COMMANDS,
    DEFAULT_SCAN_INTERVAL_MINUTES,
    EVENTS,
    PROTOCOL_VERSION,
    ApiChecked,
    Command,
    Event,
    Exit,
    LineReader,
    LineTooLong,
    PageFailed,
    PolicyServerChanged,
    ProtocolError,
    Refused,
    Scan,
    ScanFailed,
    ScanReported,
    ScanResult,
    Sockets,
    TraySettings,
    VersionMismatch,
    decode,
    encode,
)
from stethoscope_desktop.core.report import Report, ReportFormatError
from stethoscope_desktop.core.strings import UiStrings
from tests.ui.reports import mixed_report, passing_report, practices

Mutation = Callable[[dict[str, Any]], object]


def crossed(data: Any) -> Any:
    """Return `data` as it arrives on the other side of the pipe."""
    return json.loads(json.dumps(data))


@pytest.fixture(scope="module")
def report() -> Report:
    """One mixed report (each scan has its own timings)."""
    return mixed_report()


@pytest.fixture(scope="module")
def report_data(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = crossed(report.to_dict())
    return data


def mutated(data: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    mutation(changed)
    return changed


SETTINGS = TraySettings(
    scan_interval_minutes=15,
    api_port=38123,
    notifications=NotificationSettings(enabled=False, reminder_hours=4.5),
    watch_folders=("/etc/xdg/stethoscope", "/etc/xdg/stethoscope/checks.d"),
    watch_files=("/etc/xdg/stethoscope/policy.yaml", "/etc/xdg/stethoscope/config.yaml"),
)


# -- Report.from_dict ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [mixed_report, passing_report], ids=["mixed", "passing"])
def test_a_report_round_trips_through_json(make: Callable[[], Report]) -> None:
    report = make()
    back = Report.from_dict(json.loads(report.to_json()))
    assert back == report
    assert back.to_dict() == report.to_dict()


def test_the_round_trip_keeps_types_not_just_equal_values() -> None:
    report = mixed_report()
    back = Report.from_dict(json.loads(report.to_json()))
    assert isinstance(back.practices, tuple) and isinstance(back.policy_files, tuple)
    assert back.status is report.status
    assert [p.status for p in back.practices] == [p.status for p in report.practices]
    assert [p.rating for p in back.practices] == [p.rating for p in report.practices]
    with_app = [p for p in back.practices if p.application is not None]
    assert with_app, "the mixed report has an application rule"
    assert all(isinstance(p.application.matched_names, tuple) for p in with_app)  # type: ignore[union-attr]
    assert all(isinstance(p.evidence.tables, tuple) for p in back.practices)
    assert back.critical() == report.critical()
    assert back.counts() == report.counts()


def test_fields_a_newer_worker_adds_are_ignored(
    report: Report, report_data: dict[str, Any]
) -> None:
    data = mutated(report_data, lambda d: d.update(future_field=[1, 2]))
    data["practices"][0]["future_field"] = {"x": 1}
    data["device"]["future_field"] = "x"
    assert Report.from_dict(data) == report


@pytest.mark.parametrize(
    ("mutation", "named"),
    [
        (lambda d: d.pop("status"), "status"),
        (lambda d: d.pop("summary"), "summary"),
        (lambda d: d.pop("practices"), "practices"),
        (lambda d: d.pop("device"), "device"),
        (lambda d: d.pop("engine"), "engine"),
        (lambda d: d.pop("started_at"), "started_at"),
        (lambda d: d.pop("duration_seconds"), "duration_seconds"),
        (lambda d: d.pop("language"), "language"),
        (lambda d: d.pop("organization"), "organization"),
        (lambda d: d["engine"].pop("name"), "name"),
        (lambda d: d["practices"][0].pop("key"), "key"),
        (lambda d: d["practices"][0].pop("status"), "status"),
        (lambda d: d["practices"][0].pop("evidence"), "evidence"),
        (lambda d: d["practices"][0]["evidence"].pop("check"), "check"),
        (lambda d: d["table_timings"][0].pop("seconds"), "seconds"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_missing_field_is_refused_by_name(
    report_data: dict[str, Any], mutation: Mutation, named: str
) -> None:
    with pytest.raises(ReportFormatError, match=rf"\.{named}(\[\d+\])?: (missing|not a)"):
        Report.from_dict(mutated(report_data, mutation))


@pytest.mark.parametrize(
    ("mutation", "problem"),
    [
        (lambda d: d.update(status="BOGUS"), "report.status: not a Status: 'BOGUS'"),
        (
            lambda d: d["practices"][0].update(status="MAYBE"),
            "report.practices[0].status: not a Status: 'MAYBE'",
        ),
        (
            lambda d: d["practices"][0].update(rating="meh"),
            "report.practices[0].rating: not a Rating: 'meh'",
        ),
        (lambda d: d.update(device=[]), "report.device: must be an object, not list"),
        (
            lambda d: d["practices"][0].update(links=[1]),
            "report.practices[0].links[]: must be an object, not int",
        ),
        (
            lambda d: d["practices"][0].update(links=[{"url": "x"}]),
            "report.practices[0].links[].text: missing",
        ),
        (
            lambda d: d.update(table_timings=["fast"]),
            "report.table_timings[]: must be an object, not str",
        ),
        (lambda d: d.update(practices=5), "report.practices: must be a list, not int"),
        (
            lambda d: d["practices"][0]["evidence"].update(rows=[1]),
            "report.practices[0].evidence.rows: must be a list of objects",
        ),
    ],
    ids=[
        "status",
        "practice-status",
        "rating",
        "device",
        "link",
        "link-text",
        "timing",
        "practices",
        "rows",
    ],
)
def test_an_ill_typed_field_is_refused_naming_the_problem(
    report_data: dict[str, Any], mutation: Mutation, problem: str
) -> None:
    with pytest.raises(ReportFormatError) as raised:
        Report.from_dict(mutated(report_data, mutation))
    assert problem in str(raised.value)


def test_an_application_with_an_unknown_state_is_refused(report_data: dict[str, Any]) -> None:
    data = copy.deepcopy(report_data)
    practice = next(p for p in data["practices"] if p.get("application") is not None)
    practice["application"]["state"] = "SOMETIMES"
    with pytest.raises(ReportFormatError, match=r"application\.state: not a AppState: 'SOMETIMES'"):
        Report.from_dict(data)


@pytest.mark.parametrize("data", [[], None, "report", 5], ids=repr)
def test_data_that_is_not_an_object_is_refused(data: Any) -> None:
    with pytest.raises(ReportFormatError, match="report: must be an object"):
        Report.from_dict(data)


@pytest.mark.parametrize(
    "mutation",
    [
        lambda d: d.update(practices=[5]),
        lambda d: d.update(engine="embedded"),
        lambda d: d["practices"][0].update(evidence="none"),
    ],
    ids=["practice", "engine", "evidence"],
)
def test_a_nested_record_that_is_not_an_object_is_a_report_format_error(
    report_data: dict[str, Any], mutation: Mutation
) -> None:
    with pytest.raises(ReportFormatError):
        Report.from_dict(mutated(report_data, mutation))


@pytest.mark.parametrize(
    ("mutation", "named"),
    [
        (lambda d: d.update(summary=5), "summary"),
        (lambda d: d.update(duration_seconds="fast"), "duration_seconds"),
        (lambda d: d.update(policy_files="/etc/xdg/stethoscope/policy.yaml"), "policy_files"),
        (lambda d: d["practices"][0].update(title=None), "title"),
    ],
    ids=["summary", "duration", "policy_files", "title"],
)
def test_a_scalar_of_the_wrong_type_is_refused_by_name(
    report_data: dict[str, Any], mutation: Mutation, named: str
) -> None:
    with pytest.raises(ReportFormatError, match=named):
        Report.from_dict(mutated(report_data, mutation))


# -- TraySettings --------------------------------------------------------------------------------


def test_tray_settings_round_trip_through_json() -> None:
    assert TraySettings.from_json(crossed(SETTINGS.to_json())) == SETTINGS


def test_default_tray_settings_round_trip_and_mean_no_api_port() -> None:
    default = TraySettings()
    assert default.scan_interval_minutes == DEFAULT_SCAN_INTERVAL_MINUTES
    assert default.api_port is None and default.notifications == NotificationSettings()
    assert TraySettings.from_json(crossed(default.to_json())) == default


def test_missing_watch_lists_and_notifications_take_their_defaults() -> None:
    settings = TraySettings.from_json({"scan_interval_minutes": 30, "api_port": 0})
    assert settings == TraySettings(30, 0)


@pytest.mark.parametrize("value", [0, -5, "60", 1.5, True, None, [60]], ids=repr)
def test_a_bad_scan_interval_is_refused_by_name(value: object) -> None:
    data = {**SETTINGS.to_json(), "scan_interval_minutes": value}
    with pytest.raises(ReportFormatError, match=r"settings\.scan_interval_minutes"):
        TraySettings.from_json(data)


def test_a_missing_scan_interval_is_refused_by_name() -> None:
    data = SETTINGS.to_json()
    del data["scan_interval_minutes"]
    with pytest.raises(ReportFormatError, match=r"settings\.scan_interval_minutes"):
        TraySettings.from_json(data)


@pytest.mark.parametrize("value", [-1, 65536, "37370", 80.0, [80]], ids=repr)
def test_a_bad_api_port_is_refused_by_name(value: object) -> None:
    data = {**SETTINGS.to_json(), "api_port": value}
    with pytest.raises(ReportFormatError, match=r"settings\.api_port"):
        TraySettings.from_json(data)


@pytest.mark.parametrize("port", [None, 0, 65535])
def test_no_api_port_and_the_limits_are_accepted(port: int | None) -> None:
    data = {**SETTINGS.to_json(), "api_port": port}
    assert TraySettings.from_json(data).api_port == port


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_api_port_is_refused(value: bool) -> None:
    with pytest.raises(ReportFormatError, match=r"settings\.api_port"):
        TraySettings.from_json({**SETTINGS.to_json(), "api_port": value})


@pytest.mark.parametrize("key", ["watch_files", "watch_folders"])
@pytest.mark.parametrize(
    "value", ["/etc/xdg/stethoscope/policy.yaml", [1], ["ok", None], {"a": "b"}, None], ids=repr
)
def test_a_bad_watch_list_is_refused_by_name(key: str, value: object) -> None:
    data = {**SETTINGS.to_json(), key: value}
    with pytest.raises(ReportFormatError, match=rf"settings\.{key}"):
        TraySettings.from_json(data)


@pytest.mark.parametrize("data", [None, [], "settings", 60], ids=repr)
def test_settings_that_are_not_an_object_are_refused(data: object) -> None:
    with pytest.raises(ReportFormatError, match="settings"):
        TraySettings.from_json(data)


# -- NotificationSettings.from_json --------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [None, [], "on", 1, {}, {"enabled": "yes"}, {"enabled": 0}, {"enabled": None}],
    ids=repr,
)
def test_malformed_notification_settings_keep_the_defaults(data: object) -> None:
    assert NotificationSettings.from_json(data) == NotificationSettings()


@pytest.mark.parametrize(
    "hours", [-1, "4", True, None, [4], json.loads("1e999"), float("nan")], ids=repr
)
def test_a_malformed_reminder_period_keeps_its_default(hours: object) -> None:
    settings = NotificationSettings.from_json({"enabled": False, "reminder_hours": hours})
    assert settings == NotificationSettings(enabled=False, reminder_hours=24.0)


def test_notification_settings_round_trip_and_zero_hours_is_kept() -> None:
    for settings in (NotificationSettings(False, 0.0), NotificationSettings(True, 4)):
        assert NotificationSettings.from_json(crossed(settings.to_json())) == settings


# -- the report event: ScanReported and its ScanResult --------------------------------------------


def scan_event(
    scan_id: int, report: Report, strings: UiStrings, settings: TraySettings
) -> dict[str, Any]:
    """Return the report event's line as JSON data, for a test to change before reading it."""
    data: dict[str, Any] = json.loads(
        encode(ScanReported(scan_id, ScanResult(report, strings, settings)))
    )
    return data


def read(event: dict[str, Any]) -> ScanResult:
    """Read a report event's JSON data back as the tray does."""
    decoded = decode(json.dumps(event), Event)
    assert isinstance(decoded, ScanReported)
    return decoded.result


def good_event() -> dict[str, Any]:
    return scan_event(7, passing_report(), practices("de").instructions.ui, SETTINGS)


def test_a_scan_event_reads_back_as_what_was_sent(report: Report) -> None:
    strings = practices("de").instructions.ui
    event = crossed(scan_event(7, report, strings, SETTINGS))
    assert event["event"] == "report" and event["id"] == 7
    result = read(event)
    assert result.report == report
    assert result.strings == strings and result.strings.language == "de"
    assert result.settings == SETTINGS


def test_a_missing_language_means_english() -> None:
    event = good_event()
    del event["strings"]["language"]
    assert read(event).strings.language == "en"


def test_an_empty_strings_table_is_accepted() -> None:
    event = good_event()
    event["strings"] = {"language": "fr", "strings": {}}
    assert read(event).strings == UiStrings("fr", {})


@pytest.mark.parametrize(
    ("strings", "named"),
    [
        (None, "strings: must be an object"),
        ("hello", "strings: must be an object"),
        ({"language": "en"}, "strings: must be an object with a strings table"),
        ({"language": "en", "strings": [["a", "b"]]}, "strings table"),
        ({"language": "en", "strings": "a=b"}, "strings table"),
        ({"language": "en", "strings": {"summaryPass": 5}}, "strings.strings"),
        ({"language": "en", "strings": {"summaryPass": None}}, "strings.strings"),
        ({"language": "en", "strings": {"a": "b", "c": ["d"]}}, "strings.strings"),
    ],
    ids=[
        "none",
        "text",
        "no-table",
        "list-table",
        "text-table",
        "number",
        "null",
        "list-text",
    ],
)
def test_a_bad_strings_table_is_refused(strings: object, named: str) -> None:
    event = good_event()
    event["strings"] = strings
    with pytest.raises(ProtocolError, match=named) as raised:
        read(event)
    assert raised.value.scan_id == 7, "the scan it answered, so that the tray fails that scan"


def test_a_missing_strings_table_is_refused() -> None:
    event = good_event()
    del event["strings"]
    with pytest.raises(ProtocolError, match="strings"):
        read(event)


@pytest.mark.parametrize("report", [None, [], "FAIL"], ids=repr)
def test_a_report_that_is_not_an_object_is_refused(report: object) -> None:
    event = good_event()
    event["report"] = report
    with pytest.raises(ProtocolError, match="report: must be an object"):
        read(event)


def test_a_bad_report_or_bad_settings_in_the_event_are_refused() -> None:
    event = good_event()
    del event["report"]["practices"]
    with pytest.raises(ProtocolError, match="practices"):
        read(event)
    event = good_event()
    del event["settings"]
    with pytest.raises(ProtocolError, match="settings"):
        read(event)
    event = good_event()
    event["settings"]["api_port"] = 70000
    with pytest.raises(ProtocolError, match=r"settings\.api_port"):
        read(event)


# -- every command and event: one encode, one decode -----------------------------------------------


MESSAGES: list[Command | Event] = [
    Scan(1),
    Scan(2**40),
    Exit(),
    Sockets(()),
    Sockets((b"\x00\x01shared socket\xff", b"")),
    ScanReported(7, ScanResult(passing_report(), UiStrings("en", {"open": "Open"}), SETTINGS)),
    ScanReported(0, ScanResult(mixed_report(), practices("de").instructions.ui, TraySettings())),
    ScanFailed(3, "the engine fell over"),
    ScanFailed(4, ""),
    ApiChecked("Anmeldung im Büro"),
    PageFailed("034fad3d", "Example Login", 2),
    PolicyServerChanged("https://policy.example.com/p\nq"),
    Refused("protocol version 2, where this side speaks version 1"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_command_and_event_round_trips_as_one_line(message: Command | Event) -> None:
    line = encode(message)
    assert line.endswith("\n") and "\n" not in line[:-1], "exactly one line"
    kind = Command if isinstance(message, Command) else Event
    assert decode(line, kind) == message
    assert decode(line.encode("utf-8"), kind) == message, "bytes as read from the pipe"
    data = json.loads(line)
    assert data["v"] == PROTOCOL_VERSION
    assert data[message.KEY] == message.NAME


def test_every_kind_has_a_round_trip_and_a_name_of_its_own() -> None:
    tested = {type(message) for message in MESSAGES}
    assert set(COMMANDS.values()) | set(EVENTS.values()) == tested
    assert len(COMMANDS) + len(EVENTS) == len({*COMMANDS, *EVENTS})


def test_the_wire_names_are_the_ones_the_worker_has_always_used() -> None:
    assert list(COMMANDS) == ["scan", "exit", "sockets"]
    assert list(EVENTS) == [
        "report", "scan-failed", "api-checked", "page-failed", "policy-server", "refused",
    ]  # fmt: skip
    assert json.loads(encode(Scan(5))) == {"v": PROTOCOL_VERSION, "op": "scan", "id": 5}
    assert json.loads(encode(PageFailed("s", "l", 1))) == {
        "v": PROTOCOL_VERSION, "event": "page-failed", "session_id": "s", "label": "l", "critical": 1,
    }  # fmt: skip


def test_a_command_is_not_an_event_nor_the_other_way_round() -> None:
    with pytest.raises(ProtocolError, match="not a known event: event None"):
        decode(encode(Scan(1)), Event)
    with pytest.raises(ProtocolError, match="not a known command: op None"):
        decode(encode(ApiChecked("x")), Command)


V = PROTOCOL_VERSION


@pytest.mark.parametrize(
    ("kind", "line", "problem"),
    [
        (Command, "", "not JSON"),
        (Command, "not json", "not JSON: 'not json'"),
        (Command, b"\xff\xfe", "not JSON"),
        (Command, '{"v": 1, "op": "scan", "id": 1', "not JSON"),
        (Command, '"scan"', "not a JSON object"),
        (Command, "[1, 2]", "not a JSON object"),
        (Command, "42", "not a JSON object"),
        (Command, "null", "not a JSON object"),
        (Command, f'{{"v": {V}}}', "not a known command: op None"),
        (Command, f'{{"v": {V}, "op": "dance"}}', "not a known command: op 'dance'"),
        (Command, f'{{"v": {V}, "op": 5}}', "not a known command: op 5"),
        (Command, f'{{"v": {V}, "op": "scan"}}', "scan: id must be a whole number, not None"),
        (Command, f'{{"v": {V}, "op": "scan", "id": "1"}}', "scan: id must be a whole number"),
        (Command, f'{{"v": {V}, "op": "scan", "id": true}}', "scan: id must be a whole number"),
        (Command, f'{{"v": {V}, "op": "scan", "id": 1.5}}', "scan: id must be a whole number"),
        (Command, f'{{"v": {V}, "op": "sockets"}}', "sockets: shared must be a list"),
        (Command, f'{{"v": {V}, "op": "sockets", "shared": [1]}}', "sockets: shared must be"),
        (Command, f'{{"v": {V}, "op": "sockets", "shared": ["%%"]}}', "sockets: shared: "),
        (Event, f'{{"v": {V}, "event": "dance"}}', "not a known event: event 'dance'"),
        (Event, f'{{"v": {V}, "event": "scan-failed", "id": 1}}', "message must be a text"),
        (Event, f'{{"v": {V}, "event": "api-checked", "label": 5}}', "label must be a text"),
        (Event, f'{{"v": {V}, "event": "page-failed", "label": "x"}}', "session_id must be"),
        (Event, f'{{"v": {V}, "event": "policy-server"}}', "url must be a text, not None"),
        (Event, f'{{"v": {V}, "event": "refused"}}', "problem must be a text"),
        (Event, f'{{"v": {V}, "event": "report", "id": 1}}', "report: strings: must be"),
    ],
    ids=lambda value: "" if isinstance(value, str | bytes) else value.__name__,
)
def test_a_malformed_line_raises_a_protocol_error_naming_the_problem(
    kind: type[Command] | type[Event], line: str | bytes, problem: str
) -> None:
    with pytest.raises(ProtocolError) as raised:
        decode(line, kind)
    assert problem in str(raised.value)
    assert not isinstance(raised.value, VersionMismatch)


def test_a_long_bad_line_is_quoted_short() -> None:
    with pytest.raises(ProtocolError) as raised:
        decode("x" * 100_000, Command)
    assert len(str(raised.value)) < 200


@pytest.mark.parametrize(
    ("version", "said"),
    [
        (None, "no protocol version"),
        (V + 1, f"protocol version {V + 1}"),
        (0, "protocol version 0"),
        ("1", "a protocol version that is no whole number ('1')"),
        (True, "a protocol version that is no whole number (True)"),
        (1.0, "a protocol version that is no whole number (1.0)"),
    ],
    ids=repr,
)
def test_a_line_of_another_version_is_a_version_mismatch(version: object, said: str) -> None:
    data = json.loads(encode(Scan(1)))
    if version is None:
        del data["v"]
    else:
        data["v"] = version
    with pytest.raises(VersionMismatch) as raised:
        decode(json.dumps(data), Command)
    assert raised.value.version == version
    assert str(raised.value) == f"{said}, where this side speaks version {V}"


def test_the_version_is_checked_before_the_kind() -> None:
    with pytest.raises(VersionMismatch):
        decode('{"v": 999, "event": "something-new-entirely"}', Event)


def test_fields_a_newer_worker_adds_to_an_event_are_ignored() -> None:
    data = json.loads(encode(ApiChecked("x")))
    data["future_field"] = [1, 2]
    assert decode(json.dumps(data), Event) == ApiChecked("x")


# -- LineReader -----------------------------------------------------------------------------


class ChunkedStream:
    """A stream that gives at most `size` bytes a read, as a pipe gives what it has."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = data
        self._size = size
        self.reads = 0

    def read(self, wanted: int) -> bytes:
        self.reads += 1
        chunk, self._data = (
            self._data[: min(wanted, self._size)],
            self._data[min(wanted, self._size) :],
        )
        return chunk


def read_all(data: bytes, *, limit: int, chunk: int) -> list[bytes | int]:
    """Return the lines LineReader gives, a left-out line as its length."""
    reader = LineReader(ChunkedStream(data, chunk), limit)  # type: ignore[arg-type]
    return [line.length if isinstance(line, LineTooLong) else line for line in reader]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 16])
@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"", []),
        (b"\n", [b""]),
        (b"a\nbb\n", [b"a", b"bb"]),
        (b"a\nbb", [b"a", b"bb"]),  # the last line without a newline
        (b"12345678\nok\n", [b"12345678", b"ok"]),  # exactly the limit
        (b"123456789\nok\n", [9, b"ok"]),  # one byte over: left out, the next is read
        (b"ok\n" + b"x" * 30 + b"\n\nend", [b"ok", 30, b"", b"end"]),
        (b"x" * 30, [30]),  # a long last line without a newline
    ],
)
def test_line_reader_gives_lines_and_leaves_out_long_ones(
    data: bytes, lines: list[bytes | int], chunk: int
) -> None:
    assert read_all(data, limit=8, chunk=chunk) == lines


def test_line_reader_reads_in_chunks_not_bytes() -> None:
    stream = ChunkedStream(b"".join(encode(Scan(n)).encode() for n in range(100)), 1 << 16)
    reader = LineReader(stream)  # type: ignore[arg-type]
    assert [decode(line, Command) for line in reader] == [Scan(n) for n in range(100)]  # type: ignore[arg-type]
    assert stream.reads == 2  # the data, then the end


def test_a_line_too_long_is_held_only_up_to_the_limit() -> None:
    reader = LineReader(ChunkedStream(b"y" * (10 << 20) + b"\nnext\n", 1 << 16), 1 << 10)  # type: ignore[arg-type]
    first = reader.next_line()
    assert isinstance(first, LineTooLong) and first.length == 10 << 20
    assert len(reader._pending) == 0  # nothing of the long line kept
    assert reader.next_line() == b"next"
    assert reader.next_line() is None


# -- lines found by fuzzing (tests/fuzz/test_worker_protocol.py) --------------------------------


def test_a_socket_that_is_not_ascii_base64_is_a_protocol_error() -> None:
    line = json.dumps({"v": PROTOCOL_VERSION, "op": "sockets", "shared": ["é"]}, ensure_ascii=False)
    with pytest.raises(ProtocolError, match="sockets: shared: "):
        decode(line, Command)
    with pytest.raises(ProtocolError, match="sockets: shared: "):
        decode(line.encode("utf-8"), Command)


@pytest.mark.parametrize(
    "line",
    [
        "[" * 100_000,
        f'{{"v": {PROTOCOL_VERSION}, "op": "scan", "id": 1, "x": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",
    ],
    ids=["unclosed", "in an unknown field"],
)
def test_a_line_nested_deeper_than_json_can_read_is_a_protocol_error(line: str) -> None:
    for form in (line, line.encode()):
        with pytest.raises(ProtocolError, match="nested too deeply"):
            decode(form, Command)
