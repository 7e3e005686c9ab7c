"""The local API bounds whole requests: deadlines, connection caps, framing, JSON nesting.

Over real sockets on loopback. No assertion on a tight time: a good client must be answered
within generous bounds (far above the expected milliseconds), and deadlines are shortened
through `ApiLimits` so that the tests wait little.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from stethoscope_desktop.api.security import (
    ApiLimits,
    Framing,
    Rejection,
    frame_request,
    json_nesting,
)
from stethoscope_desktop.api.server import ApiServer
from tests.api.helpers import (
    CountingSource,
    SlowClients,
    get_query,
    make_service,
    request,
    running_server,
)

SIMPLE = "{ device { deviceName } }"
# Far above the few milliseconds a good client's answer takes, even on a loaded machine.
GENEROUS_S = 5.0


@pytest.fixture
def served() -> Iterator[tuple[ApiServer, CountingSource]]:
    service, source = make_service()
    with running_server(service, limits=ApiLimits(request_deadline_s=1.0)) as server:
        yield server, source


def exchange(port: int, data: bytes, *, close_write: bool = False) -> tuple[int, dict[str, object]]:
    """Send raw bytes, keep the connection open (unless `close_write`), read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        if close_write:
            connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def post_head(port: int, *lines: str) -> bytes:
    text = "".join(f"{line}\r\n" for line in (f"Host: 127.0.0.1:{port}", *lines))
    return f"POST /graphql HTTP/1.1\r\n{text}\r\n".encode()


def answered_within(port: int) -> float:
    started = time.monotonic()
    answer = get_query(port, SIMPLE)
    assert answer.status == 200
    return time.monotonic() - started


# -- framing (issue 14 item 8) ---------------------------------------------------------------


def test_two_different_content_lengths_are_refused(
    served: tuple[ApiServer, CountingSource],
) -> None:
    server, source = served
    body = json.dumps({"query": SIMPLE}).encode()
    head = post_head(
        server.port,
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Content-Length: 2",
    )
    status, answer = exchange(server.port, head + body)
    assert status == 400
    assert "Content-Length" in answer["errors"][0]["message"]  # type: ignore[index]
    assert source.count == 0


def test_the_same_content_length_twice_is_one_length(
    served: tuple[ApiServer, CountingSource],
) -> None:
    server, _ = served
    body = json.dumps({"query": SIMPLE}).encode()
    length = f"Content-Length: {len(body)}"
    head = post_head(server.port, "Content-Type: application/json", length, length)
    status, _ = exchange(server.port, head + body)
    assert status == 200


@pytest.mark.parametrize(
    "line",
    [
        "Transfer-Encoding: chunked",
        "Transfer-Encoding : chunked",
        "transfer-encoding: identity",
        "TRANSFER-ENCODING:\tgzip, chunked",
        "Transfer-Encoding:",
    ],
    ids=["chunked", "space before colon", "identity", "list", "empty"],
)
def test_any_transfer_encoding_is_refused(
    served: tuple[ApiServer, CountingSource], line: str
) -> None:
    server, source = served
    body = json.dumps({"query": SIMPLE}).encode()
    head = post_head(
        server.port, "Content-Type: application/json", f"Content-Length: {len(body)}", line
    )
    status, answer = exchange(server.port, head + body)
    assert status in (400, 501)
    assert answer["errors"]
    assert source.count == 0


@pytest.mark.parametrize(
    "line", ["Content-Length : 5", "X-Folded: a", " continued", "no colon"], ids=str
)
def test_a_malformed_header_line_is_refused(
    served: tuple[ApiServer, CountingSource], line: str
) -> None:
    server, source = served
    status, _ = exchange(server.port, post_head(server.port, "Content-Length: 0", line))
    assert status == 400
    assert source.count == 0


def test_a_short_body_is_400_at_the_deadline_without_a_traceback(
    served: tuple[ApiServer, CountingSource], caplog: pytest.LogCaptureFixture
) -> None:
    server, source = served
    head = post_head(server.port, "Content-Type: application/json", "Content-Length: 100")
    with caplog.at_level(logging.DEBUG):
        status, answer = exchange(server.port, head + b'{"query": ')
    assert status == 400
    assert "ended early" in answer["errors"][0]["message"]  # type: ignore[index]
    assert not [record for record in caplog.records if record.exc_info]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert source.count == 0


def test_a_short_body_of_a_client_that_stopped_sending_is_400_at_once() -> None:
    service, _ = make_service()
    # A deadline that the test would notice: the answer must come on the client's EOF.
    with running_server(service, limits=ApiLimits(request_deadline_s=60.0)) as server:
        head = post_head(server.port, "Content-Type: application/json", "Content-Length: 100")
        started = time.monotonic()
        status, _ = exchange(server.port, head + b'{"query": ', close_write=True)
        assert status == 400
        assert time.monotonic() - started < 30


# -- JSON nesting (issue 14 item 8) ----------------------------------------------------------


def test_json_nested_30000_deep_in_a_post_body_is_400(
    served: tuple[ApiServer, CountingSource], caplog: pytest.LogCaptureFixture
) -> None:
    server, source = served
    deep = '{"query": "' + SIMPLE + '", "variables": {"a": ' + "[" * 30000 + "]" * 30000 + "}}"
    with caplog.at_level(logging.DEBUG):
        answer = request(
            server.port,
            "POST",
            headers={"Content-Type": "application/json"},
            body=deep.encode(),
        )
    assert answer.status == 400
    assert "nested deeper than" in answer.body["errors"][0]["message"]
    assert not [record for record in caplog.records if record.exc_info]
    assert source.count == 0


def test_json_nested_8000_deep_in_get_variables_is_400(
    served: tuple[ApiServer, CountingSource],
) -> None:
    server, source = served
    variables = '{"a": ' + "[" * 8000 + "]" * 8000 + "}"
    answer = request(
        server.port, "GET", f"/graphql?query={quote(SIMPLE)}&variables={quote(variables)}"
    )
    assert answer.status == 400
    assert "nested deeper than" in answer.body["errors"][0]["message"]
    assert source.count == 0


def test_json_nesting_skips_strings_and_counts_arrays_and_objects() -> None:
    assert json_nesting('{"a": "[[[{{{", "b": [[1], {"c": []}]}') == 4
    assert json_nesting('"\\"[["') == 0
    assert json_nesting("[" * 100) == 100


def test_framing_of_good_requests() -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n"
    assert frame_request(head, 100) == Framing(12, expects_continue=True)
    assert frame_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 100) == Framing(0)
    assert frame_request(head, 11) == Rejection(
        413, "the body is larger than 11 bytes", "body too large"
    )


# -- deadlines and connection caps (issue 14 item 3) -----------------------------------------


def test_a_header_line_every_fraction_of_a_second_does_not_hold_a_connection(
    served: tuple[ApiServer, CountingSource],
) -> None:
    server, _ = served  # a deadline of 1 s
    with socket.create_connection(("127.0.0.1", server.port), timeout=GENEROUS_S) as slow:
        slow.sendall(b"GET /graphql HTTP/1.1\r\n")
        received = b""
        closed_after = None
        started = time.monotonic()
        while time.monotonic() - started < 30:
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed_after = time.monotonic() - started
                break
            slow.settimeout(0.2)
            try:
                chunk = slow.recv(4096)
            except TimeoutError:
                continue
            except ConnectionError:  # closed while we were still sending: reset, not a FIN
                closed_after = time.monotonic() - started
                break
            received += chunk
            if not chunk:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "the server kept a trickling connection open for 30 s"
    if received:  # the answer can be lost to a reset, as the client never stopped sending
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert f"Content-Length: {len(body)}".encode() in head
        assert json.loads(body)["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


def test_a_client_that_sends_nothing_gets_408_at_its_deadline(
    served: tuple[ApiServer, CountingSource],
) -> None:
    server, _ = served  # a deadline of 1 s
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as silent:
        silent.sendall(b"GET /graphql HTTP/1.1\r\n")
        chunks = []
        while chunk := silent.recv(4096):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


def test_300_slow_connections_do_not_keep_a_good_client_waiting() -> None:
    service, _ = make_service()
    with running_server(service) as server, SlowClients(server.port, 300, interval=0.5) as slow:
        assert slow.opened >= 300
        # Several tries, spread over the slow connections' life and reconnections.
        for _ in range(5):
            assert answered_within(server.port) < GENEROUS_S
            time.sleep(0.3)


def test_over_the_cap_the_oldest_slow_connection_is_closed_and_good_clients_get_in() -> None:
    service, _ = make_service()
    limits = ApiLimits(max_connections=20, request_deadline_s=60.0)
    with running_server(service, limits=limits) as server:
        slow = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(50)]
        try:
            for connection in slow:
                connection.sendall(b"GET /graphql HTTP/1.1\r\n")
            # The oldest ones are closed (no answer, end of stream), the newest still wait.
            slow[0].settimeout(30)
            # Closed with data unread, the close may come as a reset.
            with contextlib.suppress(ConnectionResetError):
                assert slow[0].recv(4096) == b""
            assert answered_within(server.port) < GENEROUS_S
            assert server.busy()  # the newest slow ones are still being read
        finally:
            for connection in slow:
                connection.close()


def test_a_flood_of_request_lines_does_not_push_out_a_client_sending_its_body() -> None:
    # Seen by a red team: connections opened non-stop, each sending a request line, closed a
    # good client that had sent its headers and was about to send its body.
    service, _ = make_service()
    limits = ApiLimits(max_connections=8, request_deadline_s=60.0)
    body = json.dumps({"query": SIMPLE}).encode()
    with running_server(service, limits=limits) as server:
        good = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        flood: list[socket.socket] = []
        try:
            good.sendall(
                post_head(
                    server.port, "Content-Type: application/json", f"Content-Length: {len(body)}"
                )
            )
            waited = time.monotonic() + GENEROUS_S
            while not server.busy() and time.monotonic() < waited:
                time.sleep(0.01)  # polling for the accept, not timing anything
            assert server.busy()
            for _ in range(30):
                connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                connection.sendall(b"GET /graphql HTTP/1.1\r\n")
                flood.append(connection)
            # The oldest request-line-only connection went first, not the good client.
            with contextlib.suppress(ConnectionResetError):
                assert flood[0].recv(4096) == b""
            good.sendall(body)
            answer = good.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        finally:
            good.close()
            for connection in flood:
                connection.close()
