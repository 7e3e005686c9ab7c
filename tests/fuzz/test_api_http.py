"""Fuzzing the local API's HTTP on real loopback: any bytes get a proper answer or a clean close.

One real server per test (`api_strategies.fuzz_server`: canned facts with identifiers, IT's
allowed origins), many raw requests drawn by `raw_requests`: request lines, methods, paths,
header sets with duplicates, odd spacing, folded lines, huge, non-ASCII and NUL values,
Content-Length and Transfer-Encoding combinations, bodies cut short or too long, Host and
Origin values, pipelined pairs. Each connection's sending side is closed after its bytes, so
a short body is answered at once instead of at the request deadline.

Every answer must be a well-formed HTTP/1.1 answer with a 2xx, 4xx or 5xx status that is not
500, or a clean close for bytes with no complete request; no identifier goes to a page that may
not see it, no CORS header to a refused origin; the server logs no traceback and answers a good
request after each example.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings

from tests.fuzz.api_strategies import (
    GOOD_QUERY,
    FuzzServer,
    RawRequest,
    check_http_answer,
    fuzz_server,
    raw_requests,
    send_raw,
)

# Refusals the server logs at WARNING by design (none is expected from one client at a time).
_EXPECTED_WARNINGS = ("too many requests waiting", "could not accept")


@pytest.fixture(scope="module")
def server() -> Iterator[FuzzServer]:
    with fuzz_server() as served:
        yield served


def good_request(port: int) -> bytes:
    body = json.dumps({"query": GOOD_QUERY}).encode()
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def unexpected(records: list[logging.LogRecord]) -> list[str]:
    return [
        f"{record.levelname} {record.getMessage()}"
        for record in records
        if not any(text in record.getMessage() for text in _EXPECTED_WARNINGS)
    ]


def _raw(kind: str, data: bytes, origin: str = "none") -> RawRequest:
    return RawRequest(kind, data, origin)


@given(request=raw_requests())
@settings(max_examples=800)
@example(request=_raw("body cut short", b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:%PORT%\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"query\":"))  # fmt: skip
@example(request=_raw("deep JSON body", b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:%PORT%\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 30000\r\n\r\n" + b"[" * 30000))  # fmt: skip
@example(request=_raw("deep variables", b"GET /graphql?query=%7Bstatus%7D&variables=" + b"%5B" * 8000
                      + b" HTTP/1.1\r\nHost: 127.0.0.1:%PORT%\r\n\r\n"))  # fmt: skip
@example(request=_raw("blank request line", b"\r\n\r\n"))
@example(
    request=_raw("rebinding", b"GET /raw HTTP/1.1\r\nHost: evil.example:%PORT%\r\n\r\n", "foreign")
)
@example(
    request=_raw(
        "pipelined",
        (b"GET /graphql?query=%7Bstatus%7D HTTP/1.1\r\nHost: 127.0.0.1:%PORT%\r\n\r\n") * 3,
    )
)
def test_every_request_gets_a_proper_answer_or_a_clean_close(
    server: FuzzServer, request: RawRequest
) -> None:
    server.log.take()
    data = request.render(server.port)
    answer = send_raw(server.port, data)
    problems = check_http_answer(request, data, answer)
    assert not problems, (request.kind, data[:500], answer.data[:500], problems)
    assert not unexpected(server.log.take()), (request.kind, data[:500])
    after = send_raw(server.port, good_request(server.port))
    assert after.status == 200, (request.kind, after.data[:500])
