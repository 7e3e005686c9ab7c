"""The local API's connections: accepted in one loop, read whole with a deadline, then answered.

One thread (`ConnectionLoop.run`) accepts on every listening socket and reads every connection
without blocking, so a slow client never holds the accept loop or a thread. A connection has
`deadline_s` (`ApiLimits.request_deadline_s`, 5 s) from its accept for its whole request (header
section and body); one that has not sent its header section by then is answered 408 and closed,
one whose body is shorter than its Content-Length is handed on as it is (and answered 400 for
its short body). At most `max_connections` connections are read at once: a new connection beyond
that closes the oldest one still reading its header section, or the oldest one if all have sent
theirs (loopback clients cannot be told apart by address, and the peer's user is not cheaply
known for TCP, so the cap is global and the slowest-oldest goes first; a good client sends its
request at once and is done long before). A complete request
goes to a handler thread (at most `max_handlers` at once, the others wait in a queue), which
answers it and closes it.

The framing of a request (where its body ends) is decided here, by `security.frame_request`,
before any byte of the body is awaited: a request whose framing is refused is answered at once.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stethoscope_desktop.api.security import Rejection, frame_request

log = logging.getLogger(__name__)

# The largest header section (request line included) read before answering 414 or 431.
MAX_HEAD_BYTES = 128 * 1024
# How many connections are accepted per listening socket per round of the loop.
_ACCEPTS_PER_ROUND = 64
_RECV_BYTES = 65536
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_HEAD_TOO_LARGE = Rejection(431, "the request's header section is too large", "head too large")
_URL_TOO_LONG = Rejection(414, "the URL is too long; POST the query instead", "url too long")
# The most bytes of complete requests waiting for a handler; beyond, a request is answered 503.
MAX_QUEUED_BYTES = 16 * 1024 * 1024


def _answer_bytes(status: str, message: str, code: str, extra: str = "") -> bytes:
    """Return a whole JSON refusal, for the loop to send without a handler."""
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n{extra}"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


_TIMEOUT_ANSWER = _answer_bytes(
    "408 Request Timeout", "the request was not sent in time", "REQUEST_TIMEOUT"
)
_BUSY_ANSWER = _answer_bytes(
    "503 Service Unavailable", "too many requests at once", "BUSY", "Retry-After: 1\r\n"
)


@dataclass
class Request:
    """A request read whole (or as much as came before its deadline), ready to be answered."""

    connection: socket.socket
    address: tuple[str, int]
    data: bytes
    # Set when the framing was refused: answer this and nothing else.
    refusal: Rejection | None = None


@dataclass
class _Reading:
    connection: socket.socket
    address: tuple[str, int]
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)
    # Where the header section ends (the blank line included) and the whole request's length.
    head_end: int = -1
    total: int = -1


def _head_end(buffer: bytearray) -> int:
    """Return the length of the header section when it is complete, else -1."""
    ends = [end for end in (buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")) if end >= 0]
    if not ends:
        return -1
    end = min(ends)
    return end + (4 if buffer.startswith(b"\r\n\r\n", end) else 2)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.close()


class ConnectionLoop:
    """Accepts, reads whole requests within their deadline and hands them to `answer`."""

    def __init__(
        self,
        listening: list[socket.socket],
        answer: Callable[[Request], None],
        *,
        max_connections: int,
        max_handlers: int,
        max_body_bytes: int,
        deadline_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the loop over `listening` sockets; `run` serves until `stop`."""
        self._listening = listening
        self._answer = answer
        self._max_connections = max_connections
        self._max_handlers = max_handlers
        self._max_body_bytes = max_body_bytes
        self._deadline_s = deadline_s
        self._clock = clock
        # Oldest first (dicts keep insertion order): the one dropped when over the cap.
        self._reading: dict[socket.socket, _Reading] = {}
        self._queue: collections.deque[Request] = collections.deque()
        self._queued_bytes = 0
        self._handlers: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._stopping = threading.Event()
        self.dropped = 0
        self.timed_out = 0

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until `stop`: accept, read, time out; never blocks on one connection."""
        for listening in self._listening:
            listening.setblocking(False)
            self._selector.register(listening, selectors.EVENT_READ, None)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        try:
            while not self._stopping.is_set():
                for key, _ in self._selector.select(self._wait()):
                    if self._stopping.is_set():
                        return
                    fileobj = key.fileobj
                    if fileobj is self._wake_read:
                        return
                    assert isinstance(fileobj, socket.socket)
                    if key.data is None:
                        self._accept(fileobj)
                    else:
                        self._read(key.data)
                self._expire()
        finally:
            for reading in list(self._reading.values()):
                self._forget(reading)
                _close(reading.connection)
            self._selector.close()

    def _wait(self) -> float:
        if not self._reading:
            return 1.0
        first = min(reading.deadline for reading in self._reading.values())
        return max(0.0, min(1.0, first - self._clock()))

    def _accept(self, listening: socket.socket) -> None:
        for _ in range(_ACCEPTS_PER_ROUND):
            try:
                connection, address = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                # Out of descriptors, or the connection went away before accept: keep serving.
                log.warning("could not accept a connection: %s", error.strerror)
                if error.errno in (errno.EMFILE, errno.ENFILE) and self._reading:
                    self._drop_oldest()
                return
            connection.setblocking(False)
            if len(self._reading) >= self._max_connections:
                self._drop_oldest()
            reading = _Reading(connection, address, self._clock() + self._deadline_s)
            with self._lock:
                self._reading[connection] = reading
            self._selector.register(connection, selectors.EVENT_READ, reading)

    def _drop_oldest(self) -> None:
        """Close the oldest connection whose header section has not come, else the oldest.

        A flood of connections that send a request line and stop must not push out a good
        client that sent its headers and is sending its body (loopback clients share an address).
        """
        readings = self._reading.values()
        oldest = next((r for r in readings if r.head_end < 0), next(iter(readings)))
        log.info("too many connections: closing the oldest one still sending (%s)", oldest.address)
        self.dropped += 1
        self._forget(oldest)
        _close(oldest.connection)

    def _read(self, reading: _Reading) -> None:
        try:
            chunk = reading.connection.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
            reading.buffer.clear()
            reading.head_end = -1
        if not chunk:
            # The client closed its side: answer what came if the header section did.
            if reading.head_end < 0:
                self._forget(reading)
                _close(reading.connection)
            else:
                self._hand_on(reading)
            return
        reading.buffer += chunk
        if reading.head_end < 0:
            end = _head_end(reading.buffer)
            if end < 0:
                if len(reading.buffer) > MAX_HEAD_BYTES:
                    too_long = _URL_TOO_LONG if b"\n" not in reading.buffer else _HEAD_TOO_LARGE
                    self._hand_on(reading, too_long)
                return
            if end > MAX_HEAD_BYTES:
                self._hand_on(reading, _HEAD_TOO_LARGE)
                return
            reading.head_end = end
            framing = frame_request(bytes(reading.buffer[:end]), self._max_body_bytes)
            if isinstance(framing, Rejection):
                self._hand_on(reading, framing)
                return
            reading.total = end + framing.body_length
            if framing.expects_continue and len(reading.buffer) < reading.total:
                with contextlib.suppress(OSError):
                    reading.connection.send(_CONTINUE)
        if len(reading.buffer) >= reading.total:
            self._hand_on(reading)

    def _expire(self) -> None:
        now = self._clock()
        late = [reading for reading in self._reading.values() if reading.deadline <= now]
        for reading in late:
            self.timed_out += 1
            if reading.head_end >= 0:
                # The header section came, the body did not all come: answered for its body.
                self._hand_on(reading)
            else:
                self._forget(reading)
                with contextlib.suppress(OSError):
                    reading.connection.send(_TIMEOUT_ANSWER)
                _close(reading.connection)

    def _forget(self, reading: _Reading) -> None:
        with self._lock:
            self._reading.pop(reading.connection, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(reading.connection)

    # -- handing on ----------------------------------------------------------------------------

    def _hand_on(self, reading: _Reading, refusal: Rejection | None = None) -> None:
        self._forget(reading)
        data = bytes(reading.buffer if reading.total < 0 else reading.buffer[: reading.total])
        request = Request(reading.connection, reading.address, data, refusal)
        with self._lock:
            if len(self._handlers) < self._max_handlers:
                thread = threading.Thread(
                    target=self._handle, args=(request,), name="api-request", daemon=True
                )
                self._handlers.add(thread)
                thread.start()
                return
            if self._queued_bytes + len(data) <= MAX_QUEUED_BYTES:
                self._queue.append(request)
                self._queued_bytes += len(data)
                return
        log.warning("too many requests waiting for an answer: refusing one")
        with contextlib.suppress(OSError):
            request.connection.send(_BUSY_ANSWER)
        _close(request.connection)

    def _handle(self, request: Request) -> None:
        current = threading.current_thread()
        next_request: Request | None = request
        while next_request is not None:
            try:
                self._answer(next_request)
            except Exception:
                log.exception("the local API failed to answer a connection")
            finally:
                _close(next_request.connection)
            with self._lock:
                next_request = self._queue.popleft() if self._queue else None
                if next_request is None:
                    self._handlers.discard(current)
                else:
                    self._queued_bytes -= len(next_request.data)

    # -- state and stopping --------------------------------------------------------------------

    def busy(self) -> bool:
        """Return True while a connection is being read or a request answered."""
        with self._lock:
            return bool(self._reading or self._queue or self._handlers)

    def reading(self) -> int:
        """Return how many connections are still sending their request."""
        with self._lock:
            return len(self._reading)

    def stop(self) -> None:
        """Make `run` return (it closes the connections still sending)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def wait_for_handlers(self) -> None:
        """Wait for the requests under way to be answered; drop the ones still queued."""
        with self._lock:
            queued = list(self._queue)
            self._queue.clear()
            self._queued_bytes = 0
        for request in queued:
            _close(request.connection)
        while True:
            with self._lock:
                handlers = list(self._handlers)
            if not handlers:
                break
            for thread in handlers:
                thread.join()
        self._wake_read.close()
        self._wake_write.close()
