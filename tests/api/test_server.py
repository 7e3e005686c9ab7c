"""The local API end to end over real HTTP on a free port: answers, refusals, storms, shutdown."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from stethoscope_desktop.api.listen import PortInUseError
from stethoscope_desktop.api.security import ApiLimits, RateLimiter
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.api.service import ApiService
from tests.api.helpers import (
    ALLOWED_ORIGIN,
    CLASSIC_QUERY,
    CLASSIC_VARIABLES,
    FOREIGN_ORIGIN,
    CountingSource,
    RecordingObserver,
    get_query,
    make_service,
    post_json,
    request,
    running_server,
)

SIMPLE = "{ policy { validate { status } } device { deviceName } }"
FAILING_PAGE = {"policy": {"firewall": "NEVER"}}  # the canned firewall is on


@dataclass
class Api:
    server: ApiServer
    service: ApiService
    source: CountingSource
    observer: RecordingObserver

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
def api() -> Iterator[Api]:
    service, source = make_service()
    observer = RecordingObserver()
    with running_server(service, observer=observer) as server:
        yield Api(server, service, source, observer)


def raw_exchange(port: int, data: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    """Send raw bytes and read the whole answer (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def test_get_and_post_answer_the_classic_client_alike(api: Api) -> None:
    posted = post_json(
        api.port,
        {
            "query": CLASSIC_QUERY,
            "variables": CLASSIC_VARIABLES,
            "operationName": "ValidateDevice",
            "sessionId": "034fad3d-9352-f41f-848b-76794010fc25",
        },
    )
    got = get_query(
        api.port,
        CLASSIC_QUERY,
        CLASSIC_VARIABLES,
        path="/scan",  # Stethoscope's other name for the endpoint
        extra="&sessionId=fa8b411b-e241-5b83-e1c2-a18aa58143b4&operationName=ValidateDevice",
    )
    assert posted.status == got.status == 200
    assert "errors" not in posted.body and "errors" not in got.body
    assert posted.body == got.body
    validate = posted.body["data"]["policy"]["validate"]
    assert validate["osVersion"] == "FAIL"  # the policy names only darwin and win32
    assert validate["firewall"] == "PASS"
    assert posted.body["data"]["device"]["security"]["remoteLogin"] == "OFF"
    assert posted.header("Content-Type") == "application/json; charset=utf-8"
    assert posted.header("Cache-Control") == "no-store"
    assert posted.header("Access-Control-Allow-Origin") is None  # a local program: no CORS
    assert api.source.count == 1  # the second request was answered from the fresh report


def test_an_allowed_origin_gets_cors_headers_naming_it_and_its_preflight_passes(api: Api) -> None:
    preflight = request(
        api.port,
        "OPTIONS",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 204 and preflight.body is None
    assert preflight.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert "POST" in (preflight.header("Access-Control-Allow-Methods") or "")
    assert "Content-Type" in (preflight.header("Access-Control-Allow-Headers") or "")
    answer = post_json(api.port, {"query": SIMPLE}, {"Origin": ALLOWED_ORIGIN})
    assert answer.status == 200 and answer.body["data"]["device"]["deviceName"] == "laptop-42"
    assert answer.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert answer.header("Vary") == "Origin"
    intranet = get_query(api.port, SIMPLE, headers={"Origin": "https://hr.intranet.example.com"})
    assert intranet.header("Access-Control-Allow-Origin") == "https://hr.intranet.example.com"
    assert api.observer.checked == ["Example Login", "Intranet"]


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_a_disallowed_origin_is_refused_without_cors_headers_and_nothing_is_scanned(
    api: Api, method: str
) -> None:
    headers = {"Origin": FOREIGN_ORIGIN, "Access-Control-Request-Method": "POST"}
    if method == "GET":
        answer = get_query(api.port, SIMPLE, headers=headers)
    elif method == "POST":
        answer = post_json(api.port, {"query": SIMPLE}, headers)
    else:
        answer = request(api.port, "OPTIONS", headers=headers)
    assert answer.status == 403
    assert answer.body["errors"][0]["extensions"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert not [name for name in answer.headers if name.startswith("access-control-")]
    assert api.source.count == 0 and api.observer.checked == []


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, "NO_ORIGIN"),
        ({"Referer": "https://evil.example/"}, "REFERER"),
        ({"Origin": "null"}, "ORIGIN_NOT_ALLOWED"),
    ],
)
def test_a_foreign_page_without_a_usable_origin_is_refused(
    api: Api, headers: dict[str, str], code: str
) -> None:
    answer = get_query(api.port, SIMPLE, headers=headers)
    assert (answer.status, answer.body["errors"][0]["extensions"]["code"]) == (403, code)
    assert api.source.count == 0


@pytest.mark.parametrize("host", ["evil.example:{port}", "localhost:1", "", None])
def test_a_rebinding_host_is_refused(api: Api, host: str | None) -> None:
    if host is None:
        status, _, body = raw_exchange(
            api.port, b"GET /graphql?query=%7Bdevice%7BdeviceName%7D%7D HTTP/1.1\r\n\r\n"
        )
    else:
        answer = request(
            api.port, "GET", f"/graphql?query={quote(SIMPLE)}", host=host.format(port=api.port)
        )
        status, body = answer.status, answer.body
    assert status == 403
    assert body["errors"][0]["extensions"]["code"] == "HOST"  # type: ignore[index]
    assert api.source.count == 0


def test_every_loopback_name_is_a_good_host_and_ipv6_is_served_where_available(api: Api) -> None:
    for host in (f"localhost:{api.port}", f"[::1]:{api.port}", f"127.0.0.1:{api.port}"):
        answer = request(api.port, "GET", f"/graphql?query={quote(SIMPLE)}", host=host)
        assert answer.status == 200, host
    if len(api.server.urls) > 1:
        assert api.server.urls[1] == f"http://[::1]:{api.port}/graphql"
        answer = request(
            api.port,
            "GET",
            f"/graphql?query={quote(SIMPLE)}",
            host=f"[::1]:{api.port}",
            address="::1",
        )
        assert answer.status == 200


def test_an_oversized_body_is_refused_unread() -> None:
    service, source = make_service()
    with running_server(service, limits=ApiLimits(max_body_bytes=2048)) as server:
        answer = post_json(server.port, {"query": SIMPLE, "variables": {"x": "y" * 4096}})
        assert answer.status == 413
        assert answer.body["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
        long_url = get_query(server.port, SIMPLE, {"x": "y" * 4096})
        assert long_url.status == 414
    assert source.count == 0


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        (b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 411),
        (b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: x\r\n\r\n", 400),
        (b"GET /graphql HTTP/x.y\r\n\r\n", 400),
        (b"BREW /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 501),
    ],
    ids=["chunked", "no length", "bad length", "bad version", "unknown method"],
)
def test_malformed_http_gets_a_json_refusal(api: Api, head: bytes, status: int) -> None:
    got, headers, body = raw_exchange(api.port, head.replace(b"{port}", str(api.port).encode()))
    assert got == status
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert body["errors"]  # type: ignore[truthy-bool]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ a { b { c { d { e { f { g { h { i } } } } } } } } }", "QUERY_TOO_LARGE"),
        (
            "{ device { " + " ".join(f"f{i}: deviceName" for i in range(201)) + " } }",
            "QUERY_TOO_LARGE",
        ),
        ("{" * 40 + "}" * 40, "QUERY_TOO_DEEP"),
    ],
    ids=["deep", "many fields", "nested braces"],
)
def test_deep_queries_and_too_many_fields_are_refused(api: Api, query: str, code: str) -> None:
    answer = post_json(api.port, {"query": query})
    assert answer.status == 400
    assert answer.body["errors"][0]["extensions"]["code"] == code
    assert api.source.count == 0


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"query": ', "application/json", "not valid JSON"),
        (b'[{"query": "{ device { deviceName } }"}]', "application/json", "one JSON object"),
        (b'{"variables": {}}', "application/json", "a GraphQL query is required"),
        (
            b'{"query": "{ device { deviceName } }", "variables": "{"}',
            "application/json",
            "variables are not valid JSON",
        ),
        (
            b'{"query": "{ device { deviceName } }", "variables": [1]}',
            "application/json",
            "must be a JSON object",
        ),
        (
            b'{"query": "{ device { deviceName } }", "sessionId": 5}',
            "application/json",
            "sessionId",
        ),
        (b'{"query": "{ device { deviceName "}', "application/json", "Syntax Error"),
        (b'{"query": "{ device { deviceNam } }"}', "application/json", "Cannot query field"),
        (b"\xff\xfe", "application/json", "not UTF-8"),
        (b"query=x", "application/xml", "send the body as application/json"),
    ],
    ids=[
        "truncated json",
        "batch",
        "no query",
        "bad variables",
        "variables not object",
        "bad session",
        "graphql syntax",
        "unknown field",
        "not utf-8",
        "media type",
    ],
)
def test_malformed_json_and_graphql_are_a_bad_request(
    api: Api, body: bytes, content_type: str, message: str
) -> None:
    answer = request(api.port, "POST", headers={"Content-Type": content_type}, body=body)
    assert answer.status in (400, 415)
    assert message in answer.body["errors"][0]["message"]


def test_a_form_body_and_a_graphql_body_work_as_in_stethoscope(api: Api) -> None:
    form = "query=" + quote(SIMPLE) + "&variables=&sessionId=abc"
    answer = request(
        api.port,
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=form.encode(),
    )
    assert answer.status == 200 and answer.body["data"]["device"]["deviceName"] == "laptop-42"
    answer = request(
        api.port, "POST", headers={"Content-Type": "application/graphql"}, body=SIMPLE.encode()
    )
    assert answer.status == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
def test_a_wrong_method_is_405_with_allow(api: Api, method: str) -> None:
    answer = request(
        api.port, method, f"/graphql?query={quote(SIMPLE)}", headers={"Origin": ALLOWED_ORIGIN}
    )
    assert answer.status == 405
    assert answer.header("Allow") == "GET, POST, OPTIONS"
    assert answer.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    if method != "HEAD":
        assert answer.body["errors"][0]["extensions"]["code"] == "METHOD"


@pytest.mark.parametrize(
    "path", ["/", "/graphiql", "/policy", "/config", "/debugger/x", "/raw/", "/graphql/x"]
)
def test_an_unknown_path_is_404(api: Api, path: str) -> None:
    answer = request(api.port, "GET", path)
    assert answer.status == 404 and answer.body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_the_rate_limit_answers_429_with_retry_after_per_origin() -> None:
    service, _ = make_service()
    with running_server(service, rate_limiter=RateLimiter(2, 0.0)) as server:
        allowed = {"Origin": ALLOWED_ORIGIN}
        assert [get_query(server.port, SIMPLE, headers=allowed).status for _ in range(2)] == [
            200,
            200,
        ]
        limited = get_query(server.port, SIMPLE, headers=allowed)
        assert limited.status == 429
        assert limited.header("Retry-After") == "3600"
        assert limited.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN  # readable by it
        assert limited.body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert get_query(server.port, SIMPLE).status == 200  # local programs count separately


def test_a_storm_of_concurrent_requests_starts_at_most_one_scan() -> None:
    service, source = make_service()
    with running_server(service) as server:
        start = threading.Barrier(200)
        statuses: list[int] = []
        failures: list[BaseException] = []
        lock = threading.Lock()

        def ask() -> None:
            start.wait()
            try:
                answer = post_json(
                    server.port,
                    {"query": CLASSIC_QUERY, "variables": CLASSIC_VARIABLES},
                    {"Origin": ALLOWED_ORIGIN},
                )
                with lock:
                    statuses.append(answer.status if "errors" not in answer.body else -1)
            except BaseException as error:
                with lock:
                    failures.append(error)

        threads = [threading.Thread(target=ask) for _ in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert statuses == [200] * 200
    assert source.count == 1


def test_observer_hears_checks_and_one_failure_notice_per_session(api: Api) -> None:
    headers = {"Origin": ALLOWED_ORIGIN}
    query = "query ($policy: DevicePolicy) { policy { validate(policy: $policy) { status } } }"
    for session in ("s-1", "s-1", "s-2"):
        answer = post_json(
            api.port, {"query": query, "variables": FAILING_PAGE, "sessionId": session}, headers
        )
        assert answer.body["data"]["policy"]["validate"]["status"] == "FAIL"
    post_json(api.port, {"query": query, "variables": FAILING_PAGE}, headers)  # no session
    post_json(api.port, {"query": "{ device { deviceName } }", "sessionId": "s-3"}, headers)
    assert api.observer.checked == ["Example Login"] * 4  # a device-only query checks nothing
    assert [(session, label) for session, label, _ in api.observer.failed] == [
        ("s-1", "Example Login"),
        ("s-2", "Example Login"),
    ]
    report = api.observer.failed[0][2]
    assert [p.key for p in report.critical()] == ["firewall"]


class FailingObserver(RecordingObserver):
    def on_checked(self, label: str) -> None:
        raise RuntimeError("the app's slot broke")


@pytest.mark.allow_warnings
def test_an_observer_that_raises_does_not_break_the_answer() -> None:
    service, _ = make_service()
    with running_server(service, observer=FailingObserver()) as server:
        assert get_query(server.port, SIMPLE).status == 200
        assert get_query(server.port, SIMPLE).status == 200


def test_introspection_over_http_only_in_debug_mode() -> None:
    service, _ = make_service()
    query = "{ __schema { types { name } } }"
    with running_server(service) as server:
        assert get_query(server.port, query).status == 400
    with running_server(service, debug=True) as server:
        answer = get_query(server.port, query)
        assert answer.status == 200
        assert "DevicePolicy" in {t["name"] for t in answer.body["data"]["__schema"]["types"]}


def test_a_port_in_use_is_a_clear_error_and_the_holder_keeps_it() -> None:
    service, _ = make_service()
    with running_server(service) as first:
        second = ApiServer(service, port=first.port)
        with pytest.raises(PortInUseError) as raised:
            second.start()
        assert f"port {first.port}" in str(raised.value)
        assert "apiPort in config.yaml" in str(raised.value)
        second.stop()
        assert get_query(first.port, SIMPLE).status == 200


def test_stop_closes_the_port_and_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())
    service, _ = make_service()
    server = ApiServer(service, port=0)
    server.start()
    port = server.port
    assert get_query(port, SIMPLE).status == 200
    server.stop()
    server.stop()  # idempotent
    assert set(threading.enumerate()) <= before
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=5),
    ):
        pass


def test_each_request_is_logged_with_its_origin_and_outcome(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stethoscope_desktop.api")
    get_query(api.port, SIMPLE, headers={"Origin": ALLOWED_ORIGIN})
    get_query(api.port, SIMPLE, headers={"Origin": FOREIGN_ORIGIN})
    lines = [r.getMessage() for r in caplog.records if r.name == "stethoscope_desktop.api.server"]
    assert any(
        f"from {ALLOWED_ORIGIN} (Example Login) -> 200 answered app policy" in line
        for line in lines
    )
    assert any(
        f"from {FOREIGN_ORIGIN} (refused) -> 403 origin not allowed" in line for line in lines
    )
    assert not any("firewall" in line for line in lines)  # never the policy or the answer
