"""Hand-written fakes and helpers for the local API's tests: sources, clocks, observers, HTTP."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stethoscope_desktop.api.security import ApiLimits, RateLimiter
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.api.service import ApiService, Freshness
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.config import HostLabel
from stethoscope_desktop.core.facts import Facts
from stethoscope_desktop.core.policy import policy_from_mapping
from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir
from stethoscope_desktop.tables.base import TablePlugin
from tests.canned import canned_linux
from tests.ui.reports import practices as bundled_practices

FIXTURES = Path(__file__).parent / "fixtures"
CLASSIC_QUERY = (FIXTURES / "classic_validate_device.graphql").read_text()
CLASSIC_VARIABLES: dict[str, Any] = json.loads((FIXTURES / "classic_variables.json").read_text())
ALLOWED_ORIGIN = "https://login.example.com"
INTRANET_PATTERN = r"https://[a-z0-9-]+\.intranet\.example\.com"
FOREIGN_ORIGIN = "https://evil.example"


def app_practices(
    *,
    allow_hosts: tuple[str, ...] = (ALLOWED_ORIGIN,),
    host_labels: tuple[HostLabel, ...] = (
        HostLabel(r"https://login\.example\.com", "Example Login"),
        HostLabel(INTRANET_PATTERN, "Intranet"),
    ),
    policy: Mapping[str, Any] | None = None,
) -> Practices:
    """Return the bundled practices with these allowed origins (and optionally a policy)."""
    practices = bundled_practices()
    config = dataclasses.replace(practices.config, allow_hosts=allow_hosts, host_labels=host_labels)
    practices = dataclasses.replace(practices, config=config)
    if policy is not None:
        parsed, problems = policy_from_mapping(policy, "test policy")
        assert not problems, problems
        practices = dataclasses.replace(practices, policy=parsed)
    return practices


class CountingSource:
    """A ReportSource that scans canned tables, counts scans, and can hold a scan open."""

    def __init__(self, tables: list[TablePlugin] | None = None, latest: Report | None = None):
        self._scanner = Scanner(
            EmbeddedEngine(tables if tables is not None else canned_linux()),
            load_checks(checks_dir()),
            platform="linux",
        )
        self._latest = latest
        self.scans: list[Practices] = []
        self.gatherings = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.fail_with: Exception | None = None
        self._lock = threading.Lock()

    def latest(self) -> Report | None:
        return self._latest

    def scan(self, practices: Practices) -> Report:
        with self._lock:
            self.scans.append(practices)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        if self.fail_with is not None:
            raise self.fail_with
        return self._scanner.scan(practices)

    def facts(self) -> Facts:
        with self._lock:
            self.gatherings += 1
        if self.fail_with is not None:
            raise self.fail_with
        return self._scanner.gather_every_check()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.scans)


class FakeClock:
    """A monotonic clock the test moves; `sleep` moves it too and records the wait."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class RecordingObserver:
    """An ApiObserver that records what it is told."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.failed: list[tuple[str, str, Report]] = []
        self._lock = threading.Lock()

    def on_checked(self, label: str) -> None:
        with self._lock:
            self.checked.append(label)

    def on_page_failed(self, session_id: str, label: str, report: Report) -> None:
        with self._lock:
            self.failed.append((session_id, label, report))


def make_service(
    source: CountingSource | None = None,
    practices: Practices | None = None,
    *,
    freshness: Freshness | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> tuple[ApiService, CountingSource]:
    """Return a service over a counting source of canned tables."""
    source = source or CountingSource()
    chosen = practices or app_practices()
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    if sleep is not None:
        kwargs["sleep"] = sleep
    service = ApiService(
        source,
        lambda: chosen,
        freshness=freshness or Freshness(max_report_age=300.0, min_scan_interval=0.0),
        **kwargs,
    )
    return service, source


@contextmanager
def running_server(
    service: ApiService,
    *,
    limits: ApiLimits | None = None,
    rate_limiter: RateLimiter | None = None,
    observer: RecordingObserver | None = None,
    debug: bool = False,
    log_file: Path | None = None,
) -> Iterator[ApiServer]:
    """Run an API server on a free port for the duration of the block."""
    server = ApiServer(
        service,
        port=0,
        limits=limits,
        rate_limiter=rate_limiter or RateLimiter(10_000, 1000.0),
        observer=observer,
        debug=debug,
        log_file=log_file,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclasses.dataclass
class Response:
    """What a test request got back."""

    status: int
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def request(
    port: int,
    method: str,
    path: str = "/graphql",
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    host: str | None = None,
    address: str = "127.0.0.1",
) -> Response:
    """Send one HTTP request with exactly these headers (and Host) and read the answer."""
    connection = http.client.HTTPConnection(address, port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        raw = response.read()
        received = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    if not raw:
        parsed: Any = None
    elif received.get("content-type", "").startswith("text/plain"):
        parsed = raw.decode("utf-8")
    else:
        parsed = json.loads(raw)
    return Response(response.status, received, parsed)


def post_json(port: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """POST a JSON body to /graphql."""
    return request(
        port,
        "POST",
        headers={"Content-Type": "application/json", **(headers or {})},
        body=json.dumps(payload).encode(),
    )


def get_query(
    port: int,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    path: str = "/graphql",
    headers: Mapping[str, str] | None = None,
    extra: str = "",
) -> Response:
    """GET /graphql?query=…&variables=… (URL-encoded JSON)."""
    target = f"{path}?query={quote(query)}"
    if variables is not None:
        target += f"&variables={quote(json.dumps(variables))}"
    return request(port, "GET", target + extra, headers=headers)


class SlowClients:
    """Slowloris: `count` connections that each send a header line every `interval` seconds.

    One thread keeps them all; a connection the server closes is opened again, so the
    pressure stays at `count` connections for as long as the block lasts.
    """

    def __init__(self, port: int, count: int, interval: float = 0.5) -> None:
        self.port = port
        self.count = count
        self.interval = interval
        self.opened = 0
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, name="slowloris", daemon=True)

    def __enter__(self) -> SlowClients:
        self._thread.start()
        assert self.ready.wait(60), "the slow connections could not be opened"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(30)
        for connection in self._sockets:
            connection.close()

    def _open(self) -> socket.socket | None:
        try:
            connection = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            connection.sendall(b"GET /graphql HTTP/1.1\r\n")
        except OSError:
            return None
        connection.setblocking(False)
        self.opened += 1
        return connection

    def _run(self) -> None:
        while len(self._sockets) < self.count and not self._stop.is_set():
            connection = self._open()
            if connection is not None:
                self._sockets.append(connection)
        self.ready.set()
        while not self._stop.wait(self.interval):
            for index, connection in enumerate(self._sockets):
                try:
                    connection.send(b"X-Slow: 1\r\n")
                    with contextlib.suppress(BlockingIOError):
                        if connection.recv(4096) == b"":
                            raise ConnectionResetError
                except OSError:
                    connection.close()
                    replacement = self._open()
                    if replacement is None:
                        self._stop.wait(0.1)
                        replacement = self._open()
                    if replacement is not None:
                        self._sockets[index] = replacement
