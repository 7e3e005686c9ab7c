"""Hypothesis strategies for the local API (raw HTTP, GraphQL) and the worker protocol.

Shared by the suite's fuzz tests (`tests/fuzz/test_api_*.py`, `tests/fuzz/test_worker_*.py`) and
the long campaign (`tests/benchmarks/fuzz_surface.py`), with the checks of what an answer must
be. Nothing here starts a server or a process; `FuzzServer` and `send_raw` are the little the
tests and the campaign share to talk to one.

- **HTTP**: `raw_requests()` draws whole requests as bytes: request lines (methods, paths,
  versions, garbage), header sets (duplicates, odd spacing, folded lines, huge, non-ASCII, NUL),
  Content-Length and Transfer-Encoding combinations, bodies of the right length, cut short or
  too long, Host and Origin values (this server, foreign, rebinding, allowed, allowed over plain
  http), and pipelined pairs. `check_http_answer` says what is wrong with what came back.
- **GraphQL**: `graphql_requests()` draws documents from the API's own schema (random fields,
  aliases, arguments of the right and the wrong type, inline and named fragments, variables and
  their values, deep nesting, long lists, policies of random shapes) and mutations of real
  clients' requests (`tests/api/fixtures/client_requests.json`).
- **Protocol**: `commands()` and `events()` draw every command and event; `protocol_lines()`
  draws lines that may be anything: garbage, JSON of any shape, another version, a real
  message's JSON mutated, deep nesting, overlong.
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from hypothesis import strategies as st

from stethoscope_desktop.api.schema import build_api_schema
from stethoscope_desktop.api.security import ApiLimits, RateLimiter
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.core.notify import NotificationSettings
from stethoscope_desktop.core.protocol import (
    ApiChecked,
    Command,
    Event,
    Exit,
    PageFailed,
    PolicyServerChanged,
    Refused,
    Scan,
    ScanFailed,
    ScanReported,
    ScanResult,
    Sockets,
    TraySettings,
    encode,
)
from stethoscope_desktop.core.strings import UiStrings
from tests.api.helpers import ALLOWED_ORIGIN, FOREIGN_ORIGIN, CountingSource
from tests.api.test_client_requests import POLICIES, REQUESTS, query_text
from tests.api.test_device_data import (
    IDENTIFIERS,
    PLAIN_HTTP_ORIGIN,
    canned_source,
    service_over,
)

REBINDING_HOST = "evil.example:%PORT%"
PORT_MARK = b"%PORT%"
# How long a client waits for a whole answer before it counts a hang.
ANSWER_LIMIT_S = 10.0


# -- the server the HTTP and GraphQL fuzzing talks to ---------------------------------------------


class LogRecords(logging.Handler):
    """Collects the app's log records of WARNING and above, and every one with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.exc_info:
            self.records.append(record)

    def tracebacks(self) -> list[logging.LogRecord]:
        """Return the records that carry a traceback or say something failed."""
        return [r for r in self.records if r.exc_info or r.levelno >= logging.ERROR]

    def take(self) -> list[logging.LogRecord]:
        """Return the records so far and forget them."""
        taken, self.records = self.records, []
        return taken


@dataclass
class FuzzServer:
    """A real API server on a free loopback port over canned facts with identifiers."""

    server: ApiServer
    log: LogRecords
    source: CountingSource

    @property
    def port(self) -> int:
        return self.server.port


@contextmanager
def fuzz_server(log_file: Path | None = None, *, deadline_s: float = 2.0) -> Iterator[FuzzServer]:
    """Run the API on a free port for the block, its log records collected."""
    source = canned_source()
    service = service_over(source)
    server = ApiServer(
        service,
        port=0,
        limits=ApiLimits(request_deadline_s=deadline_s),
        rate_limiter=RateLimiter(1_000_000, 100_000.0),
        log_file=log_file,
    )
    records = LogRecords()
    app_log = logging.getLogger("stethoscope_desktop")
    app_log.addHandler(records)
    server.start()
    try:
        yield FuzzServer(server, records, source)
    finally:
        server.stop()
        app_log.removeHandler(records)


# -- raw HTTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawRequest:
    """Bytes to send as one connection's whole data, and what they mean for the answer."""

    kind: str
    data: bytes
    # The Origin the (first) request carries: none, allowed, allowed-http, foreign, null, …
    origin: str

    def render(self, port: int) -> bytes:
        """Return the bytes with this server's port where the request names it."""
        return self.data.replace(PORT_MARK, str(port).encode())

    @property
    def may_see_identifiers(self) -> bool:
        """Return True where the identifiers may be in the answer (local or allowed https)."""
        return self.origin in ("none", "allowed")


GOOD_QUERY = "{ device { deviceName hardwareSerial } policy { validate { status } } }"
_PATHS = ["/graphql", "/scan", "/raw", "/debugger", "/", "/graphql/", "/GRAPHQL", "*",
          "/graphql?query=%7B%20status%20%7D", "/scan?query=%7Bdevice%7BdeviceId%7D%7D",
          "/graphql?query=%7B&variables=%7B", "/graphql?query=x&query=y",
          "http://127.0.0.1:%PORT%/graphql", "//graphql", "/graphql#frag", "/%00", "/../etc/passwd",
          "/graphql?" + "a=1&" * 40, "/raw?x=1", "/debugger/"]  # fmt: skip
_METHODS = ["GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "get",
            "PRI", "BREW", "G ET", ""]  # fmt: skip
_VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1 extra", "", "HTTP/x.y",
             "http/1.1", "HTTP/1.10", "HTTP/99999999999999999999.1"]  # fmt: skip
_ORIGINS: dict[str, list[str]] = {
    "allowed": [ALLOWED_ORIGIN, ALLOWED_ORIGIN.upper(), ALLOWED_ORIGIN + "/",
                "https://team.intranet.example.com"],
    "allowed-http": [PLAIN_HTTP_ORIGIN],
    "foreign": [FOREIGN_ORIGIN, "https://login.example.com.evil.example",
                "https://evil.example/https://login.example.com", "http://127.0.0.1:%PORT%",
                "https://login.example.com:8443", "https://xn--lgin-pqa.example.com",
                "https://\u0430pple.com", "file://", "https://login\x00.example.com"],
    "null": ["null", "", " ", "*"],
}  # fmt: skip
_HOSTS = ["127.0.0.1:%PORT%", "localhost:%PORT%", "[::1]:%PORT%", "LOCALHOST:%PORT%",
          REBINDING_HOST, "127.0.0.1", "127.0.0.1:1", "127.0.0.1:%PORT%:%PORT%", "",
          "127.0.0.1:%PORT%\x00", "127.0.0.1.:%PORT%", "0x7f.1:%PORT%"]  # fmt: skip

_known_names = st.sampled_from(["Content-Type", "Accept", "User-Agent", "Sec-Fetch-Site",
                                "Access-Control-Request-Method", "Access-Control-Request-Headers",
                                "Expect", "Connection", "X-Requested-With"])  # fmt: skip
_header_names = st.one_of(
    st.sampled_from(["Content-Type", "Accept", "User-Agent", "Referer", "Sec-Fetch-Site",
                     "Expect", "Connection", "Cookie", "X-Forwarded-For", "Forwarded",
                     "Access-Control-Request-Method", "Access-Control-Request-Headers",
                     "Access-Control-Request-Private-Network", "Upgrade", "Range",
                     "content-length", "Content-length"]),
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n:"), min_size=0, max_size=20),
)  # fmt: skip
_header_values = st.one_of(
    st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                     "application/graphql", "application/json; charset=utf-16", "multipart/form-data",
                     "application/vnd.api+json", "100-continue", "cross-site", "same-origin", "none",
                     "POST", "GET, POST", "Content-Type, Authorization", "true", "keep-alive",
                     "h2c", "bytes=0-1", "https://evil.example/page"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40),
    st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")),
    st.integers(1000, 70_000).map(lambda n: "x" * n),
)  # fmt: skip


def _line(name: str, value: str, spacing: str = ": ") -> bytes:
    return (name + spacing + value).encode("utf-8", "surrogatepass") + b"\r\n"


@st.composite
def _headers(draw: st.DrawFn, origin: str) -> list[bytes]:
    """Header lines: Host, Origin, and random others with odd spellings."""
    lines: list[bytes] = []
    host_count = draw(st.sampled_from([1, 1, 1, 1, 0, 2]))
    for _ in range(host_count):
        lines.append(_line("Host", draw(st.sampled_from(_HOSTS[:4] * 6 + _HOSTS))))
    if origin != "none":
        lines.append(_line("Origin", draw(st.sampled_from(_ORIGINS[origin]))))
        if draw(st.integers(0, 15)) == 0:
            lines.append(_line("Origin", draw(st.sampled_from(_ORIGINS["allowed"]))))
    for _ in range(draw(st.integers(0, 4))):
        name = draw(_header_names) if draw(st.integers(0, 5)) == 0 else draw(_known_names)
        value = draw(_header_values)
        spacing = draw(st.sampled_from([": "] * 10 + [":", ":\t", " : ", ":  ", "\t:", ": \x00"]))
        lines.append(_line(name, value, spacing))
    if draw(st.integers(0, 9)) == 0:
        lines.append(b" folded continuation\r\n")
    if draw(st.integers(0, 12)) == 0:
        lines.append(b"no colon here\r\n")
    return draw(st.permutations(lines)) if draw(st.booleans()) else lines


_bodies = st.one_of(
    st.just(json.dumps({"query": GOOD_QUERY}).encode()),
    st.just(json.dumps({"query": "{ status }", "variables": None, "operationName": None}).encode()),
    st.builds(
        lambda depth: (
            '{"query":"{status}","variables":' + "[" * depth + "]" * depth + "}"
        ).encode(),
        st.integers(50, 40_000),
    ),
    st.builds(lambda depth: ("[" * depth).encode(), st.integers(1, 30_000)),
    st.just(b"query=%7Bstatus%7D&sessionId=abc"),
    st.just(b"{ status }"),
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.just(b"\xff\xfe{\x00}"),
    st.just(json.dumps({"query": 5}).encode()),
    st.just(json.dumps([{"query": "{status}"}]).encode()),
)


@st.composite
def _single_request(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """One request: (kind, bytes, origin class)."""
    origin = draw(st.sampled_from(["none"] * 3 + ["allowed"] * 2 + ["allowed-http", "foreign",
                                                                    "foreign", "null"]))  # fmt: skip
    shape = draw(st.sampled_from(["good-ish", "good-ish", "framing", "line", "garbage"]))
    method = draw(st.sampled_from(_METHODS[:3] * 4 + _METHODS))
    path = draw(st.one_of(st.sampled_from(_PATHS), st.text(max_size=30).map(lambda t: "/" + t)))
    version = draw(st.sampled_from(_VERSIONS[:2] * 6 + _VERSIONS))
    if shape == "garbage":
        data = draw(st.one_of(st.binary(max_size=300),
                              st.binary(max_size=200).map(lambda b: b + b"\r\n\r\n"),
                              st.just(b"\r\n\r\n"), st.just(b"\n\n"), st.just(b""),
                              st.just(b"GET"), st.just(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
                              st.just(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")))  # fmt: skip
        return "garbage", data, origin
    if shape == "line":
        request_line = draw(st.one_of(
            st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.builds(lambda n: b"GET /" + b"a" * n + b" HTTP/1.1", st.integers(1000, 140_000)),
            st.just(b"GET /graphql HTTP/1.1 HTTP/1.1"), st.just(b"GET\t/graphql\tHTTP/1.1"),
            st.just(b" GET /graphql HTTP/1.1"), st.just(b"GET  /graphql  HTTP/1.1"),
        ))  # fmt: skip
    else:
        request_line = f"{method} {path} {version}".rstrip().encode("utf-8", "surrogatepass")
    headers = draw(_headers(origin))
    body = draw(_bodies) if method != "GET" or draw(st.integers(0, 5)) == 0 else b""
    framing = draw(st.sampled_from(
        ["exact"] * 6 + ["none", "short", "long", "twice-same", "twice-different", "list",
                         "negative", "hex", "huge", "plus", "spaces", "te-chunked", "te-space",
                         "te-identity", "te-and-cl", "empty"] if shape == "framing" else ["exact"]
    ))  # fmt: skip
    cut = draw(st.integers(0, max(0, len(body) - 1))) if body else 0
    length = len(body)
    framing_lines = {
        "exact": [f"Content-Length: {length}"],
        "none": [],
        "short": [f"Content-Length: {length}"],
        "long": [f"Content-Length: {length + draw(st.integers(1, 100))}"],
        "twice-same": [f"Content-Length: {length}", f"Content-Length: {length}"],
        "twice-different": [f"Content-Length: {length}", f"Content-Length: {length + 1}"],
        "list": [f"Content-Length: {length}, {length}"],
        "negative": ["Content-Length: -1"],
        "hex": [f"Content-Length: 0x{length:x}"],
        "huge": ["Content-Length: 99999999999999999999999999"],
        "plus": [f"Content-Length: +{length}"],
        "spaces": [f"Content-Length:    {length}   "],
        "te-chunked": ["Transfer-Encoding: chunked"],
        "te-space": ["Transfer-Encoding : chunked"],
        "te-identity": ["Transfer-Encoding: identity", f"Content-Length: {length}"],
        "te-and-cl": [f"Content-Length: {length}", "Transfer-Encoding: chunked"],
        "empty": ["Content-Length:"],
    }[framing]
    if framing == "short":
        body = body[:cut]
    if framing == "te-chunked" and body:
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    if body or framing != "exact" or method == "POST":
        headers = headers + [line.encode() + b"\r\n" for line in framing_lines]
    ending = draw(st.sampled_from([b"\r\n"] * 8 + [b"\n"]))
    head = request_line + b"\r\n" + b"".join(headers)
    if ending == b"\n":
        head = head.replace(b"\r\n", b"\n")
    return f"{shape}:{framing}", head + ending + body, origin


@st.composite
def raw_requests(draw: st.DrawFn) -> RawRequest:
    """One connection's data: a request (of any quality), sometimes two pipelined."""
    kind, data, origin = draw(_single_request())
    if draw(st.integers(0, 7)) == 0:
        second_kind, second, _ = draw(_single_request())
        return RawRequest(f"pipelined:{kind}+{second_kind}", data + second, origin)
    return RawRequest(kind, data, origin)


@dataclass
class HttpAnswer:
    """What came back on a connection: the bytes, or that none came in time."""

    data: bytes
    seconds: float
    hung: bool = False
    reset: bool = False

    @property
    def status(self) -> int | None:
        """Return the status of a well-formed final status line, else None."""
        data = self.data
        while data.startswith(b"HTTP/1.1 100 "):  # an interim answer to Expect: 100-continue
            data = data.partition(b"\r\n\r\n")[2]
        first = data.split(b"\r\n", 1)[0].split(b" ")
        if len(first) >= 2 and first[0] == b"HTTP/1.1" and first[1].isdigit():
            return int(first[1])
        return None


def send_raw(port: int, data: bytes, limit_s: float = ANSWER_LIMIT_S) -> HttpAnswer:
    """Send `data` on a new connection, close the sending side, read the answer to its end."""
    started = time.monotonic()
    chunks: list[bytes] = []
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=limit_s) as connection:
            try:
                connection.sendall(data)
                connection.shutdown(socket.SHUT_WR)
            except TimeoutError:
                raise
            except OSError:
                pass  # the server answered and closed before it took everything: read on
            while True:
                left = limit_s - (time.monotonic() - started)
                if left <= 0:
                    raise TimeoutError
                connection.settimeout(left)
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except TimeoutError:
        return HttpAnswer(b"".join(chunks), time.monotonic() - started, hung=True)
    except ConnectionResetError:
        return HttpAnswer(b"".join(chunks), time.monotonic() - started, reset=True)
    return HttpAnswer(b"".join(chunks), time.monotonic() - started)


def _head_complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data


def check_http_answer(request: RawRequest, data: bytes, answer: HttpAnswer) -> list[str]:
    """Return what is wrong with the answer to `data` (empty when it is right).

    Right is: a well-formed HTTP/1.1 answer (status line, headers, a body of its
    Content-Length) with a 2xx, 4xx or 5xx status other than 500; or, for data whose request
    line is blank or whose header section never ended, no answer and a clean close. A request
    from a page that may not see the device's identifiers gets none of them, and a refused
    origin no CORS header.
    """
    if answer.hung:
        return [f"no answer within {ANSWER_LIMIT_S} s"]
    problems: list[str] = []
    if not answer.data:
        first_line = data.split(b"\n", 1)[0].strip()
        if _head_complete(data) and first_line:
            problems.append("a complete request was closed without an answer")
        return problems
    received = answer.data
    while received.startswith(b"HTTP/1.1 100 "):
        received = received.partition(b"\r\n\r\n")[2]
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return [f"the answer has no end of its header section: {answer.data[:200]!r}"]
    status = HttpAnswer(received, answer.seconds).status
    if status is None:
        return [f"not an HTTP/1.1 status line: {head[:100]!r}"]
    if status == 500:
        problems.append(f"500: {body[:300]!r}")
    if not (200 <= status < 300 or 400 <= status < 600):
        problems.append(f"status {status}")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            problems.append(f"malformed answer header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        if int(headers["content-length"]) != len(body) and not data.startswith(b"HEAD "):
            problems.append(f"Content-Length {headers['content-length']}, body {len(body)} bytes")
    elif status != 204:
        problems.append("no Content-Length")
    if headers.get("content-type", "").startswith("application/json") and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            problems.append(f"a JSON answer that is not JSON: {body[:200]!r}")
        else:
            if not isinstance(parsed, dict) or not ({"data", "errors", "device"} & set(parsed)):
                problems.append(f"a JSON answer of no known shape: {body[:200]!r}")
    if not request.may_see_identifiers:
        leaked = [value for value in IDENTIFIERS if value.encode() in answer.data]
        if leaked:
            problems.append(f"identifiers {leaked} answered to origin class {request.origin}")
    if request.origin in ("foreign", "null") and "access-control-allow-origin" in headers:
        problems.append("CORS headers for a refused origin")
    if headers.get("access-control-allow-origin") == "*":
        problems.append("a CORS wildcard")
    return problems


# -- GraphQL ----------------------------------------------------------------------------------------

SCHEMA: GraphQLSchema = build_api_schema()


@dataclass(frozen=True)
class EnumValue:
    """An enum value, written bare in GraphQL text."""

    name: str


_SCALAR_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "String": st.one_of(st.text(max_size=20), st.sampled_from(["Firefox", "zoom", ".*", "(.+)+#"])),
    "Int": st.one_of(st.integers(-10, 1000), st.sampled_from([2**31, -(2**31) - 1, 2**70])),
    "Float": st.floats(allow_nan=False, allow_infinity=False),
    "Boolean": st.booleans(),
    "ID": st.text(max_size=10),
    "Semver": st.sampled_from([">=1.0.0", "<9.0.0", ">=14.6.0", "1.2.3", "*", "", ">=", "x",
                               ">=1.0.0 <2.0.0 || >=3", "~1.2", "^0.0.1", "true", "false"]),
    "NumericRange": st.sampled_from(["<=600", ">=0", "600", "<600", "", "a", "<=-1", "<=1e9"]),
    "SecuritySoftwareRequirement": st.sampled_from(["ALWAYS", "SUGGESTED", "IF_SUPPORTED", "NEVER",
                                                    "sometimes"]),
}  # fmt: skip


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Lists and objects of `inner` (a named function: hypothesis reads whether it recurses)."""
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    _containers,
    max_leaves=8,
)


def input_values(
    kind: GraphQLInputType, depth: int = 0, *, wrong: bool = True
) -> st.SearchStrategy[Any]:
    """Values for an input type: mostly of its shape, sometimes of the wrong type, long lists."""
    if isinstance(kind, GraphQLNonNull):
        return input_values(kind.of_type, depth, wrong=wrong)
    right: st.SearchStrategy[Any]
    if isinstance(kind, GraphQLList):
        item = input_values(kind.of_type, depth + 1, wrong=wrong)
        right = st.one_of(
            st.lists(item, max_size=3),
            st.lists(item, min_size=100, max_size=300) if depth == 0 else st.nothing(),
            item,  # a single value where a list is expected (GraphQL coerces it)
        )
    elif isinstance(kind, GraphQLInputObjectType):
        names = sorted(kind.fields)
        if depth > 3:
            right = st.just({})
        else:
            required = [n for n in names if isinstance(kind.fields[n].type, GraphQLNonNull)]
            right = st.lists(st.sampled_from(names), max_size=6, unique=True).flatmap(
                lambda chosen: st.fixed_dictionaries(
                    {
                        name: input_values(kind.fields[name].type, depth + 1, wrong=wrong)
                        for name in dict.fromkeys([*required, *chosen])
                    }
                )
            )
            if wrong:
                right = st.one_of(right, right.map(lambda value: {**value, "notAField": 1}))
    elif isinstance(kind, GraphQLEnumType):
        right = st.sampled_from(sorted(kind.values)).map(EnumValue)
    elif isinstance(kind, GraphQLScalarType):
        right = _SCALAR_VALUES.get(kind.name, _ANY_JSON)
    else:
        right = _ANY_JSON
    if not wrong:
        return right
    return st.one_of(*[right] * 12, _ANY_JSON, st.none())


def literal(value: Any) -> str:
    """Write a value as a GraphQL literal."""
    if isinstance(value, EnumValue):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        parts = []
        for index, (key, item) in enumerate(value.items()):
            name = key if key.isidentifier() and key.isascii() else f"bad_name{index}"
            parts.append(f"{name}: {literal(item)}")
        return "{" + ", ".join(parts) + "}"
    raise TypeError(value)


def json_ready(value: Any) -> Any:
    """Return the value as a variable's JSON (an enum value is its name)."""
    if isinstance(value, EnumValue):
        return value.name
    if isinstance(value, list):
        return [json_ready(item) for item in value]
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    return value


@dataclass
class _Document:
    """A document being drawn: its fragments, variables and their values."""

    fragments: list[str] = field(default_factory=list)
    # Mistakes on purpose (unknown fields, wrong types, …); a document without is mostly valid.
    noisy: bool = True
    aliases: int = 0
    definitions: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


_NAMES = st.sampled_from(["a", "b", "x1", "_", "status", "device", "policy", "Zz"])
_INPUT_TYPE_NAMES = ["DevicePolicy", "DevicePolicy!", "DevicePolicyV2", "String", "Int", "[String]",
                     "Boolean!", "Browser", "RequirementOption", "NotAType"]  # fmt: skip


@st.composite
def _selection(draw: st.DrawFn, owner: Any, depth: int, document: _Document) -> str:
    """A selection set of `owner` (an object, interface or union type)."""
    noise = 1 if document.noisy else 0
    if isinstance(owner, GraphQLUnionType):
        member = draw(st.sampled_from(owner.types))
        inner = draw(_selection(member, depth + 1, document))
        return "{ __typename ... on " + member.name + " " + inner + " }"
    fields = owner.fields
    names = sorted(fields)
    parts = []
    answered: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(1 - noise, 19))
        if choice == 0:
            parts.append(
                draw(st.sampled_from(["__typename", "notAField", "__schema { types { name } }"]))
            )
            continue
        if choice == 1 and depth < 6:
            parts.append(f"... {draw(_selection(owner, depth + 1, document))}")
            continue
        if choice == 2 and depth < 6:
            name = f"F{len(document.fragments)}"
            document.fragments.append("")  # the name is taken before the inner ones are drawn
            on = owner.name
            if document.noisy:
                on = draw(st.sampled_from([owner.name] * 6 + ["Query", "Device", "Nope"]))
            inner = draw(_selection(owner, depth + 1, document))
            document.fragments[int(name[1:])] = f"fragment {name} on {on} {inner}"
            parts.append(f"...{name}")
            continue
        name = draw(st.sampled_from(names))
        definition = fields[name]
        text = name
        if draw(st.integers(0, 4)) == 0 or (not noise and (definition.args or name in answered)):
            # Unique aliases keep fields with arguments from conflicting across fragments.
            document.aliases += 1
            text = f"{draw(_NAMES)}{document.aliases}: {name}"
        answered.add(text.split(":")[0])
        arguments = []
        for arg_name, argument in sorted(definition.args.items()):
            mode = draw(st.sampled_from(["literal", "variable", "variable", "none"]))
            if mode == "none":
                continue
            if mode == "literal":
                value = draw(input_values(argument.type, wrong=document.noisy))
                arguments.append(f"{arg_name}: {literal(value)}")
            else:
                variable = f"v{len(document.definitions)}"
                declared = str(argument.type)
                if document.noisy and draw(st.integers(0, 9)) == 0:
                    declared = draw(st.sampled_from(_INPUT_TYPE_NAMES))
                document.definitions.append(f"${variable}: {declared}")
                if draw(st.integers(0, 5)) != 0:
                    document.variables[variable] = json_ready(
                        draw(input_values(argument.type, wrong=document.noisy))
                    )
                arguments.append(f"{arg_name}: ${variable}")
        if noise and draw(st.integers(0, 12)) == 0:
            arguments.append(
                f"unknownArg: {literal(draw(_ANY_JSON.filter(lambda v: not isinstance(v, dict))))}"
            )
        if arguments:
            text += "(" + ", ".join(arguments) + ")"
        inner = get_named_type(definition.type)
        if isinstance(inner, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            if depth < 7 and (not noise or draw(st.integers(0, 19)) != 0):
                text += " " + draw(_selection(inner, depth + 1, document))
        elif noise and draw(st.integers(0, 19)) == 0:
            text += " { name }"  # a selection on a leaf
        parts.append(text)
    return "{ " + " ".join(parts) + " }"


@dataclass(frozen=True)
class GraphQLRequest:
    """A GraphQL request's parameters as a client sends them."""

    kind: str
    query: str
    variables: Any = None
    operation_name: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"query": self.query}
        if self.variables is not None:
            data["variables"] = self.variables
        if self.operation_name is not None:
            data["operationName"] = self.operation_name
        return data


@st.composite
def schema_documents(draw: st.DrawFn) -> GraphQLRequest:
    """A document drawn from the schema: valid more often than not, never meant to be."""
    document = _Document(noisy=draw(st.booleans()))
    query_type = SCHEMA.query_type
    assert query_type is not None
    selection = draw(_selection(query_type, 0, document))
    name = draw(st.sampled_from([None, None, "Check", "ValidateDevice"]))
    head = "query"
    if name:
        head += f" {name}"
    if document.definitions:
        head += "(" + ", ".join(document.definitions) + ")"
    text = " ".join([f"{head} {selection}", *document.fragments])
    if not document.definitions and not name and draw(st.booleans()):
        text = " ".join([selection, *document.fragments])
    variables: Any = document.variables or None
    operation = name
    if document.noisy and draw(st.integers(0, 10)) == 0:
        variables = draw(_ANY_JSON)
    if document.noisy and draw(st.integers(0, 4)) == 0:
        operation = draw(st.sampled_from([None, "Other", ""]))
    return GraphQLRequest("schema", text, variables, operation)


CLIENT_QUERIES: list[tuple[str, Any, str | None]] = [
    (
        query_text(spec),
        {"policy": POLICIES[spec["policy"]]} if spec["policy"] else None,
        spec["operationName"],
    )
    for spec in REQUESTS
]


@st.composite
def mutated_client_requests(draw: st.DrawFn) -> GraphQLRequest:
    """A real client's request, its text or its policy changed a little."""
    query, variables, operation = draw(st.sampled_from(CLIENT_QUERIES))
    for _ in range(draw(st.integers(1, 3))):
        mutation = draw(st.sampled_from(["delete", "insert", "duplicate", "policy", "policy-value",
                                         "swap-brace", "none"]))  # fmt: skip
        if mutation in ("delete", "insert", "duplicate", "swap-brace") and query:
            start = draw(st.integers(0, len(query) - 1))
            end = draw(st.integers(start, min(len(query), start + 20)))
            if mutation == "delete":
                query = query[:start] + query[end:]
            elif mutation == "insert":
                query = query[:start] + draw(st.text(max_size=8)) + query[start:]
            elif mutation == "duplicate":
                query = query[:end] + query[start:end] * draw(st.integers(1, 50)) + query[end:]
            else:
                query = query.replace("{", "(", 1) if draw(st.booleans()) else query + "}"
        elif mutation == "policy":
            variables = {"policy": json_ready(draw(input_values(SCHEMA.type_map["DevicePolicy"])))}  # type: ignore[arg-type]
        elif mutation == "policy-value" and isinstance(variables, dict):
            current = variables.get("policy")
            policy = dict(current) if isinstance(current, dict) else {}
            if policy:
                key = draw(st.sampled_from(sorted(policy)))
                policy[key] = draw(_ANY_JSON)
                variables = {"policy": policy}
    return GraphQLRequest("client", query, variables, operation)


@st.composite
def _deep_documents(draw: st.DrawFn) -> GraphQLRequest:
    depth = draw(st.integers(2, 3000))
    kind = draw(st.sampled_from(["braces", "fields", "lists", "fragments", "aliases", "tokens"]))
    if kind == "braces":
        query = "{" * depth + "}" * depth
    elif kind == "fields":
        query = "{ device " * min(depth, 60) + "{ deviceName }" + " }" * min(depth, 60)
    elif kind == "lists":
        query = (
            "{ policy { validate(policy: {requiredHotfixes: "
            + "[" * depth
            + '"a"'
            + "]" * depth
            + "}) { status } } }"
        )
    elif kind == "fragments":
        count = min(depth, 40)
        fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(count))
        query = "{ ...F0 } " + fragments + f" fragment F{count} on Query {{ status }}"
    elif kind == "aliases":
        query = "{ " + " ".join(f"a{i}: status" for i in range(min(depth, 3000))) + " }"
    else:
        query = "{ status " + "," * depth + " }"
    return GraphQLRequest(f"deep:{kind}", query)


def graphql_requests() -> st.SearchStrategy[GraphQLRequest]:
    """Every kind of GraphQL request the fuzzing sends."""
    return st.one_of(
        schema_documents(), schema_documents(), mutated_client_requests(), _deep_documents()
    )


def check_graphql_answer(status: int | None, body: Any) -> list[str]:
    """Return what is wrong with a GraphQL answer: not 200/400 JSON with data or errors, unclean."""
    problems: list[str] = []
    if status not in (200, 400, 413, 414):
        problems.append(f"status {status}: {str(body)[:300]}")
    if not isinstance(body, dict) or not ({"data", "errors"} & set(body)):
        return [*problems, f"not a GraphQL response: {str(body)[:300]}"]
    if status == 200 and "data" not in body:
        problems.append("200 without data")
    for error in body.get("errors") or []:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            problems.append(f"an error without a message: {error!r}")
            continue
        message = error["message"]
        if "Traceback" in message or "internal error" in message or len(message) > 2000:
            problems.append(f"an unclean error message: {message[:300]!r}")
    return problems


# -- the worker protocol --------------------------------------------------------------------------

_texts = st.text(max_size=30)


@functools.cache
def _scan_results() -> st.SearchStrategy[ScanResult]:
    from tests.ui.reports import mixed_report, passing_report, practices

    reports = st.sampled_from([passing_report(), mixed_report()])
    strings = st.one_of(
        st.builds(
            UiStrings,
            st.sampled_from(["en", "de", ""]),
            st.dictionaries(_texts, _texts, max_size=4),
        ),
        st.just(practices("de").instructions.ui),
    )
    settings = st.builds(
        TraySettings,
        st.integers(1, 10_000),
        st.one_of(st.none(), st.integers(0, 65535)),
        st.builds(NotificationSettings),
        st.lists(_texts, max_size=3).map(tuple),
        st.lists(_texts, max_size=3).map(tuple),
    )
    return st.builds(ScanResult, reports, strings, settings)


@functools.cache
def commands() -> st.SearchStrategy[Command]:
    """Every command, with any field values it can carry."""
    return st.one_of(
        st.builds(Scan, st.integers()),
        st.just(Exit()),
        st.builds(Sockets, st.lists(st.binary(max_size=64), max_size=3).map(tuple)),
    )


@functools.cache
def events() -> st.SearchStrategy[Event]:
    """Every event, with any field values it can carry."""
    return st.one_of(
        st.builds(ScanReported, st.integers(), _scan_results()),
        st.builds(ScanFailed, st.integers(), st.text()),
        st.builds(ApiChecked, st.text()),
        st.builds(PageFailed, st.text(), st.text(), st.integers()),
        st.builds(PolicyServerChanged, st.text()),
        st.builds(Refused, st.text()),
    )


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    _containers,
    max_leaves=12,
)


@st.composite
def _mutated_message(draw: st.DrawFn) -> bytes:
    message = draw(st.one_of(commands(), events()))
    data = json.loads(encode(message))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(
            st.sampled_from([*sorted(data), "id", "shared", "report", "strings", "settings"])
        )
        action = draw(st.sampled_from(["drop", "replace", "replace", "nest"]))
        if action == "drop":
            data.pop(key, None)
        elif action == "replace":
            data[key] = draw(_json_values)
        elif isinstance(data.get(key), dict) and data[key]:
            inner = draw(st.sampled_from(sorted(data[key])))
            data[key] = {**data[key], inner: draw(_json_values)}
    return json.dumps(data, allow_nan=True).encode()


@st.composite
def protocol_lines(draw: st.DrawFn) -> bytes:
    """One line (no newline in it) that may be anything a pipe could carry."""
    kind = draw(st.sampled_from(["garbage", "json", "version", "mutated", "mutated", "deep", "real",
                                 "special"]))  # fmt: skip
    if kind == "garbage":
        line = draw(st.binary(max_size=200))
    elif kind == "json":
        line = json.dumps(draw(_json_values)).encode()
    elif kind == "version":
        version = draw(st.one_of(st.none(), _json_values, st.integers()))
        body = json.loads(encode(draw(st.one_of(commands(), events()))))
        body["v"] = version
        if version is None and draw(st.booleans()):
            del body["v"]
        line = json.dumps(body).encode()
    elif kind == "mutated":
        line = draw(_mutated_message())
    elif kind == "deep":
        depth = draw(st.integers(500, 20_000))
        opener = draw(st.sampled_from(["[", '{"a":', '{"v":1,"op":"scan","id":1,"x":']))
        line = (opener * (1 if opener.startswith('{"v"') else depth)).encode()
        if opener.startswith('{"v"'):
            line += b"[" * depth + b"]" * depth + b"}"
        elif opener == "[":
            line += b"]" * depth
    elif kind == "real":
        line = encode(draw(st.one_of(commands(), events()))).encode().rstrip(b"\n")
    else:
        line = draw(st.sampled_from([
            b'{"v":1,"op":"sockets","shared":["\xc3\xa9"]}', b'{"v":1,"op":"scan","id":1e999}',
            b'{"v":1,"op":"scan","id":' + b"9" * 5000 + b"}", b'{"v":1,"op":"scan","id":NaN}',
            b'{"v":1.0,"op":"scan","id":1}', b'{"v":true,"op":"scan","id":1}', b"\xef\xbb\xbf{}",
            b'{"v":1,"op":"scan","id":1,"id":2}', b'{"v":1,"op":"scan","id":-0}', b"\x00",
            b'{"v":1,"event":"report","id":1,"report":[],"strings":{},"settings":{}}',
            b'"\\ud800"', b'{"v":1,"op":"sockets","shared":["AA=="," "]}',
        ]))  # fmt: skip
    return line.replace(b"\n", b" ")
