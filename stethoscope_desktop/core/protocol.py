"""The scan worker's protocol: the commands the tray sends, the events the worker answers.

The tray (`stethoscope_desktop.app`) starts the scan worker (`stethoscope_desktop.worker`) and
talks to it in JSON lines, one object per line, UTF-8: commands on the worker's stdin, events on
its stdout (its stderr carries log records). This module is the whole contract, and both sides
import it: each command and event is a frozen dataclass, `encode` writes any of them as its
line, `decode` reads a line back. It imports no YAML, policy or Qt code, so the tray can read a
report without loading what made it.

Commands (tray → worker), named by `"op"`:

- `Scan(id)`: load the practices (so a changed file is read) and scan; answered by
  `ScanReported` or `ScanFailed` with the same id.
- `Exit()`: leave once the work under way is done. The end of stdin (the tray is gone) does too.
- `Sockets(shared)`: Windows only, the first line when the worker was started with
  `--api-shared`: the API's listening sockets as `socket.share` gave them. On other systems the
  sockets are inherited and named by `--api-fd`.

Events (worker → tray), named by `"event"`:

- `ScanReported(id, result)`: the report, the UI strings of its language, and what the tray
  needs of the config and practices (`TraySettings`: the scan interval, the API's port, when to
  notify, the files to watch, and IT's help links and notice for the menu and the window).
- `ScanFailed(id, message)`: the scan raised; the message says why.
- `ApiChecked(label)`: a web app's check was answered.
- `PageFailed(session_id, label, critical)`: once per session id, a page's check failed.
- `PolicyServerChanged(url)`: the policy server brought a new policy.
- `Refused(problem)`: the worker could not read a command of another protocol version.

**Versions.** Every line carries `"v": PROTOCOL_VERSION`. The two sides are the same code, but
an update can replace the files on disk under a running tray, whose next worker is then the new
code. A line of another version (or none) raises `VersionMismatch` instead of being guessed at:
the worker answers such a command with `Refused`, a line of its own version, so the tray learns
of the difference at once and says so, rather than waiting for an answer that never comes.

**Bad lines.** `decode` raises `ProtocolError` for anything that is not a command (or event) of
this version, naming what is wrong. Both sides log such a line and carry on; it is never fatal.
The worker reads commands with `LineReader`, which leaves out a line over `MAX_COMMAND_BYTES`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import IO, Any, ClassVar, Self, TypeGuard, TypeVar

from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.report import Report, ReportFormatError, texts_in
from stethoscope_desktop.core.strings import UiStrings
from stethoscope_desktop.core.support import Support

# The version of this protocol: raise it with any change the other side cannot read.
PROTOCOL_VERSION = 1
# How long the worker stays after its last piece of work, unless told otherwise (`--idle-seconds`).
DEFAULT_IDLE_SECONDS = 60.0
# The tray's idea of the config before the first report, and for a value missing from one.
DEFAULT_SCAN_INTERVAL_MINUTES = 60
# How much of a bad line an error message quotes.
_QUOTED = 120
# The longest command line (commands are short: Windows' shared sockets are a few KiB).
MAX_COMMAND_BYTES = 1 << 20
# How much a line reader asks the stream for at once.
_CHUNK_BYTES = 1 << 16


class ProtocolError(ValueError):
    """A line that is not a command or event of this protocol: log it and carry on.

    `scan_id` is the id the line named, when it named one (a report for that scan that cannot be
    read fails the scan rather than leaving it waiting).
    """

    def __init__(self, problem: str, *, scan_id: int | None = None) -> None:
        super().__init__(problem)
        self.scan_id = scan_id


class LineTooLong(ProtocolError):
    """A line longer than the reader takes: it was read to its end and left out."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"a line of {length} bytes, longer than the {limit} bytes taken")
        self.length = length


class VersionMismatch(ProtocolError):
    """A line of another protocol version: the other side is other code."""

    def __init__(self, version: object) -> None:
        if version is None:
            said = "no protocol version"
        elif _is_int(version):
            said = f"protocol version {version}"
        else:
            said = f"a protocol version that is no whole number ({version!r})"
        super().__init__(f"{said}, where this side speaks version {PROTOCOL_VERSION}")
        self.version = version


# -- what a report carries besides the report -------------------------------------------------


@dataclass(frozen=True)
class TraySettings:
    """What the tray acts on and shows besides the report.

    How often to scan, the API's port, when to notify, which files to watch for IT's changes,
    and what IT offers the person: help links, the all-devices page and a notice.
    """

    scan_interval_minutes: int = DEFAULT_SCAN_INTERVAL_MINUTES
    api_port: int | None = None
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    watch_folders: tuple[str, ...] = ()
    watch_files: tuple[str, ...] = ()
    support: Support = field(default_factory=Support)

    def to_json(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        return {
            "scan_interval_minutes": self.scan_interval_minutes,
            "api_port": self.api_port,
            "notifications": self.notifications.to_json(),
            "watch_folders": list(self.watch_folders),
            "watch_files": list(self.watch_files),
            "support": self.support.to_json(),
        }

    @classmethod
    def from_json(cls, data: object) -> TraySettings:
        """Return settings from `to_json` data; raise ReportFormatError naming a bad field."""
        if not isinstance(data, Mapping):
            raise ReportFormatError("settings: must be an object")
        interval = data.get("scan_interval_minutes")
        port = data.get("api_port")
        if not _is_int(interval) or interval <= 0:
            raise ReportFormatError(f"settings.scan_interval_minutes: {interval!r}")
        if port is not None and (not _is_int(port) or not 0 <= port <= 65535):
            raise ReportFormatError(f"settings.api_port: {port!r}")
        support = data.get("support")
        return cls(
            interval,
            port,
            NotificationSettings.from_json(data.get("notifications")),
            texts_in(data, "watch_folders", "settings"),
            texts_in(data, "watch_files", "settings"),
            Support.from_json(support, "settings.support") if support is not None else Support(),
        )


@dataclass(frozen=True)
class ScanResult:
    """A report with what the tray needs to show it."""

    report: Report
    strings: UiStrings
    settings: TraySettings

    def to_json(self) -> dict[str, Any]:
        """Return the report, its strings and the settings as JSON-ready data."""
        return {
            "report": self.report.to_dict(),
            "strings": {"language": self.strings.language, "strings": dict(self.strings.strings)},
            "settings": self.settings.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScanResult:
        """Read `to_json` data back; raise ReportFormatError naming what is wrong with it."""
        strings = data.get("strings")
        if not isinstance(strings, Mapping) or not isinstance(strings.get("strings"), Mapping):
            raise ReportFormatError("strings: must be an object with a strings table")
        table = strings["strings"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
            raise ReportFormatError("strings.strings: every key and text must be a string")
        report = data.get("report")
        if not isinstance(report, Mapping):
            raise ReportFormatError("report: must be an object")
        return cls(
            Report.from_dict(report),
            UiStrings(str(strings.get("language", "en")), dict(table)),
            TraySettings.from_json(data.get("settings")),
        )


# -- commands and events ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    """What commands and events share: a name on the wire, and fields as JSON.

    Fields that are texts or whole numbers cross as they are; a message with other fields
    overrides `to_json` and `from_json`.
    """

    # The key that names a message's kind on the wire, and this message's name there.
    KEY: ClassVar[str]
    NAME: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """Return the message's fields as JSON-ready data (its kind and version not included)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Read the fields back; raise ProtocolError (or ReportFormatError) naming a bad one."""
        return cls(**{field.name: _READERS[field.type](data, field.name) for field in fields(cls)})


class Command(_Message):
    """A line the tray writes to the worker's stdin."""

    KEY = "op"


class Event(_Message):
    """A line the worker writes to its stdout."""

    KEY = "event"


@dataclass(frozen=True)
class Scan(Command):
    """Load the practices and scan; answered by `ScanReported` or `ScanFailed` with this id."""

    NAME = "scan"
    id: int


@dataclass(frozen=True)
class Exit(Command):
    """Leave once the work under way is done."""

    NAME = "exit"


@dataclass(frozen=True)
class Sockets(Command):
    """Windows: the API's listening sockets, each as `socket.share` gave it for the worker."""

    NAME = "sockets"
    shared: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the fields as JSON-ready data (the sockets in base64)."""
        return {"shared": [base64.b64encode(data).decode("ascii") for data in self.shared]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Read the fields back."""
        shared = data.get("shared")
        if not isinstance(shared, list) or not all(isinstance(item, str) for item in shared):
            raise ProtocolError("shared must be a list of base64 texts")
        try:
            return cls(tuple(base64.b64decode(item, validate=True) for item in shared))
        except ValueError as error:  # binascii.Error, or a text that is not ASCII
            raise ProtocolError(f"shared: {error}") from None


@dataclass(frozen=True)
class ScanReported(Event):
    """The scan `id` asked for is done: its report, strings and the tray's settings."""

    NAME = "report"
    id: int
    result: ScanResult

    def to_json(self) -> dict[str, Any]:
        """Return the fields as JSON-ready data."""
        return {"id": self.id, **self.result.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Read the fields back."""
        return cls(_int(data, "id"), ScanResult.from_json(data))


@dataclass(frozen=True)
class ScanFailed(Event):
    """The scan `id` asked for raised; `message` says why."""

    NAME = "scan-failed"
    id: int
    message: str


@dataclass(frozen=True)
class ApiChecked(Event):
    """A web app's check was answered; `label` names the web app."""

    NAME = "api-checked"
    label: str


@dataclass(frozen=True)
class PageFailed(Event):
    """A web page's check found `critical` critical problems (once per session id)."""

    NAME = "page-failed"
    session_id: str
    label: str
    critical: int


@dataclass(frozen=True)
class PolicyServerChanged(Event):
    """The policy server at `url` brought a new policy."""

    NAME = "policy-server"
    url: str


@dataclass(frozen=True)
class Refused(Event):
    """The worker could not read a command of another protocol version; `problem` says how."""

    NAME = "refused"
    problem: str


COMMANDS: Mapping[str, type[Command]] = {kind.NAME: kind for kind in (Scan, Exit, Sockets)}
EVENTS: Mapping[str, type[Event]] = {
    kind.NAME: kind
    for kind in (ScanReported, ScanFailed, ApiChecked, PageFailed, PolicyServerChanged, Refused)
}
_KINDS: Mapping[type[_Message], Mapping[str, type[_Message]]] = {Command: COMMANDS, Event: EVENTS}
M = TypeVar("M", Command, Event)


def encode(message: Command | Event) -> str:
    """Return a command or event as its line (ending in a newline)."""
    data = {"v": PROTOCOL_VERSION, message.KEY: message.NAME, **message.to_json()}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def decode(line: str | bytes, kind: type[M]) -> M:
    """Read a line as a `Command` or an `Event` (`kind`).

    Raise VersionMismatch for a line of another protocol version, and ProtocolError naming the
    problem for anything else that is not a `kind` of this protocol.
    """
    try:
        data = json.loads(line)
    except ValueError:  # UnicodeDecodeError too
        raise ProtocolError(f"not JSON: {_quote(line)}") from None
    except RecursionError:
        raise ProtocolError(f"JSON nested too deeply to read: {_quote(line)}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"not a JSON object: {_quote(line)}")
    version = data.get("v")
    if not _is_int(version) or version != PROTOCOL_VERSION:
        raise VersionMismatch(version)
    name = data.get(kind.KEY)
    message = _KINDS[kind].get(name) if isinstance(name, str) else None
    if message is None:
        raise ProtocolError(f"not a known {kind.__name__.lower()}: {kind.KEY} {name!r}")
    try:
        decoded = message.from_json(data)
    except (ProtocolError, ReportFormatError) as error:
        scan_id = data.get("id")
        raise ProtocolError(
            f"{name}: {error}", scan_id=scan_id if _is_int(scan_id) else None
        ) from None
    assert isinstance(decoded, kind)
    return decoded


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not _is_int(value):
        raise ProtocolError(f"{key} must be a whole number, not {value!r}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{key} must be a text, not {value!r}")
    return value


# How `_Message.from_json` reads a field of each plain type (annotations are strings here).
_READERS: Mapping[object, Callable[[Mapping[str, Any], str], object]] = {"int": _int, "str": _text}


def _quote(line: str | bytes) -> str:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    return repr(text if len(text) <= _QUOTED else text[:_QUOTED] + "…")


class LineReader:
    """Reads the lines of a byte stream in chunks, leaving out any longer than `limit` bytes.

    A chunk at a time, not a byte at a time (a stream opened unbuffered would otherwise cost a
    system call per byte), and never more than `limit` bytes of one line held: a line that is
    too long is read to its end and given as `LineTooLong`, so the next line is read as usual.
    """

    def __init__(self, stream: IO[bytes], limit: int = MAX_COMMAND_BYTES) -> None:
        """Read `stream`, taking lines of at most `limit` bytes."""
        self._stream = stream
        self._limit = limit
        self._pending = bytearray()
        self._skipped: int | None = None  # bytes of a too-long line left out so far
        self._lines: list[bytes | LineTooLong] = []
        self._ended = False

    def __iter__(self) -> Iterator[bytes | LineTooLong]:
        """Yield each line (without its newline), or LineTooLong for one left out."""
        while (line := self.next_line()) is not None:
            yield line

    def next_line(self) -> bytes | LineTooLong | None:
        """Return the next line, LineTooLong for one left out, or None at the end."""
        while not self._lines and not self._ended:
            chunk = self._stream.read(_CHUNK_BYTES)
            if chunk:
                self._take(chunk)
            else:
                self._end()
        return self._lines.pop(0) if self._lines else None

    def _take(self, chunk: bytes) -> None:
        *complete, rest = chunk.split(b"\n")
        for part in complete:
            self._add(part)
            self._finish_line()
        self._add(rest)

    def _add(self, part: bytes) -> None:
        if self._skipped is not None:
            self._skipped += len(part)
            return
        self._pending += part
        if len(self._pending) > self._limit:
            self._skipped = len(self._pending)
            self._pending.clear()

    def _finish_line(self) -> None:
        if self._skipped is not None:
            self._lines.append(LineTooLong(self._skipped, self._limit))
        else:
            self._lines.append(bytes(self._pending))
        self._pending.clear()
        self._skipped = None

    def _end(self) -> None:
        self._ended = True
        if self._pending or self._skipped is not None:
            self._finish_line()
