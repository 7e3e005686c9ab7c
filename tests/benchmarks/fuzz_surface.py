"""Campaign: a long randomized fuzzing of the local API (HTTP, GraphQL) and the scan worker's stdin.

Draws from the suite's own strategies (`tests/fuzz/api_strategies.py`), with a seed of its
own instead of the suite's fixed examples:

- `--requests N` (default 5000): half raw HTTP requests (`raw_requests`: request lines,
  headers, framing, Host and Origin, pipelining), half GraphQL requests (`graphql_requests`:
  documents from the schema, mutated real client requests, deep ones) POSTed as JSON, to a real
  server on a free loopback port over canned facts. Each answer is checked as the suite checks
  it; a connection with no whole answer within 10 s counts as a hang and the campaign goes on.
- `--lines N` (default 2000): lines drawn by `protocol_lines` (garbage, JSON of any shape,
  other versions, mutated real messages, deep nesting) written to a real `stethoscope-desktop
  worker` (the built-in engine) in batches, each followed by a `Scan` that must be answered
  within 10 s. A worker that exits is a crash, one that does not answer a hang; either way a
  new one is started and the campaign goes on.

It prints the requests sent by kind, the statuses seen, 500s, other wrong answers, tracebacks in
the server's log, hangs and the slowest answer; the protocol lines sent, the scans asked, the
worker's crashes, hangs and tracebacks (`--json`: the same as one JSON object). Exit status 1 if
there was any 500, traceback, hang, crash or wrong answer. Run:
`python tests/benchmarks/fuzz_surface.py [--requests N] [--lines N] [--seed S] [--json]`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from stethoscope_desktop.core.protocol import (  # noqa: E402
    Command,
    Event,
    Exit,
    ProtocolError,
    Scan,
    ScanFailed,
    ScanReported,
    decode,
    encode,
)
from tests.fuzz.api_strategies import (  # noqa: E402
    ANSWER_LIMIT_S,
    GraphQLRequest,
    RawRequest,
    check_graphql_answer,
    check_http_answer,
    fuzz_server,
    graphql_requests,
    protocol_lines,
    raw_requests,
    send_raw,
)
from tests.test_worker import WorkerProcess  # noqa: E402

# Lines written to the worker before each Scan that must be answered.
BATCH_LINES = 20
# How many wrong answers are quoted in the output.
_QUOTED = 5


def campaign(examples: int, campaign_seed: int) -> Callable[[Callable[..., None]], Any]:
    """Return the settings of a campaign: `examples` generated with the seed, none shrunk."""

    def apply(test: Callable[..., None]) -> Any:
        return seed(campaign_seed)(
            settings(
                max_examples=max(1, examples),
                database=None,
                deadline=None,
                derandomize=False,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(test)
        )

    return apply


@dataclass
class HttpFigures:
    """What the HTTP and GraphQL part saw."""

    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    internal_errors: int = 0
    wrong: int = 0
    hangs: int = 0
    tracebacks: int = 0
    slowest_s: float = 0.0
    slowest_kind: str = ""
    examples: list[str] = field(default_factory=list)

    def note(self, kind: str, status: int | None, seconds: float, problems: list[str]) -> None:
        self.sent[kind] += 1
        self.statuses["closed" if status is None else str(status)] += 1
        if status == 500:
            self.internal_errors += 1
        if problems:
            self.wrong += 1
            if len(self.examples) < _QUOTED:
                self.examples.append(f"{kind}: {'; '.join(problems)[:300]}")
        if seconds > self.slowest_s:
            self.slowest_s, self.slowest_kind = seconds, kind


def graphql_bytes(graphql: GraphQLRequest, port: int) -> bytes:
    """Return a POST of the request as JSON from a program on this computer."""
    body = json.dumps(graphql.payload()).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def graphql_body(data: bytes) -> Any:
    """Return the JSON body of an answer, or None."""
    _, _, body = data.partition(b"\r\n\r\n")
    try:
        return json.loads(body)
    except ValueError:
        return None


def run_http(requests: int, campaign_seed: int) -> HttpFigures:
    """Send `requests` drawn requests to a real server; return what came back."""
    figures = HttpFigures()
    with fuzz_server() as server:
        port = server.port

        @campaign(requests, campaign_seed)
        @given(st.booleans().flatmap(lambda raw: raw_requests() if raw else graphql_requests()))
        def one(drawn: RawRequest | GraphQLRequest) -> None:
            if isinstance(drawn, RawRequest):
                data = drawn.render(port)
                answer = send_raw(port, data, ANSWER_LIMIT_S)
                problems = check_http_answer(drawn, data, answer)
                kind = "http " + drawn.kind.split(":")[0]
            else:
                data = graphql_bytes(drawn, port)
                answer = send_raw(port, data, ANSWER_LIMIT_S)
                problems = (
                    [f"no answer within {ANSWER_LIMIT_S} s"]
                    if answer.hung
                    else check_graphql_answer(answer.status, graphql_body(answer.data))
                )
                kind = "graphql " + drawn.kind.split(":")[0]
            figures.hangs += answer.hung
            figures.note(kind, answer.status, answer.seconds, problems)

        one()
        figures.tracebacks = len(server.log.tracebacks())
    return figures


# -- the worker -------------------------------------------------------------------------------


def write(worker: WorkerProcess, data: bytes, limit_s: float = ANSWER_LIMIT_S) -> str:
    """Write to the worker's stdin: 'ok', 'crash' (it is gone) or 'hang' (it stopped reading).

    The write runs in a thread: a worker that no longer reads its stdin fills the pipe, and the
    write would block for ever.
    """
    outcome = ["hang"]

    def run() -> None:
        try:
            worker.write(data)
        except OSError:
            outcome[0] = "crash"
        else:
            outcome[0] = "ok"

    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    writer.join(limit_s)
    return outcome[0]


def answered(worker: WorkerProcess, scan_id: int, limit_s: float) -> str:
    """Wait for the scan's answer: 'answered', 'failed', 'crash' or 'hang'."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            line = worker.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return "hang"
        if line is None:
            return "crash"
        try:
            event = decode(line, Event)
        except ProtocolError:
            continue
        if isinstance(event, ScanReported | ScanFailed) and event.id == scan_id:
            return "answered" if isinstance(event, ScanReported) else "failed"


@dataclass
class WorkerFigures:
    """What the worker part saw."""

    lines: int = 0
    scans: int = 0
    answered: int = 0
    failed_scans: int = 0
    crashes: int = 0
    hangs: int = 0
    tracebacks: int = 0
    slowest_s: float = 0.0


def is_exit(line: bytes) -> bool:
    """Return True for a line the worker reads as Exit (it leaves, as it should)."""
    try:
        return isinstance(decode(line, Command), Exit)
    except (ProtocolError, ValueError, RecursionError):  # not a command, whatever the error
        return False


def draw_lines(count: int, campaign_seed: int) -> list[bytes]:
    """Return `count` protocol lines drawn with the seed (no Exit among them)."""
    lines: list[bytes] = []

    @campaign(count + count // 4 + 10, campaign_seed)  # enough left after leaving out Exit
    @given(protocol_lines())
    def one(line: bytes) -> None:
        if not is_exit(line) and len(lines) < count:
            lines.append(line)

    one()
    return lines


def run_worker(count: int, campaign_seed: int) -> WorkerFigures:
    """Write `count` drawn lines to real workers, a Scan after each batch; return the figures."""
    figures = WorkerFigures()
    lines = draw_lines(count, campaign_seed)
    ids = itertools.count(-(10**15), -1)
    started_workers = itertools.count()
    with tempfile.TemporaryDirectory(prefix="fuzz-surface-") as folder:

        def start() -> WorkerProcess:
            home = Path(folder) / f"worker-{next(started_workers)}"
            home.mkdir()
            return WorkerProcess(home, "--idle-seconds", "600", "--lang", "en")

        def stop(worker: WorkerProcess) -> None:
            if worker.process.poll() is None and write(worker, encode(Exit()).encode(), 1) == "ok":
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.process.wait(timeout=10)
            worker.close()
            figures.tracebacks += worker.stderr_path.read_text(errors="replace").count("Traceback")

        worker = start()
        try:
            for first in range(0, len(lines), BATCH_LINES):
                batch = lines[first : first + BATCH_LINES]
                figures.lines += len(batch)
                outcome = write(worker, b"".join(line + b"\n" for line in batch))
                scan_id = next(ids)
                asked = time.monotonic()
                if outcome == "ok":
                    outcome = write(worker, encode(Scan(scan_id)).encode())
                figures.scans += 1
                if outcome == "ok":
                    outcome = answered(worker, scan_id, ANSWER_LIMIT_S)
                figures.slowest_s = max(figures.slowest_s, time.monotonic() - asked)
                if outcome == "answered":
                    figures.answered += 1
                    continue
                if outcome == "failed":
                    figures.failed_scans += 1
                    continue
                if outcome == "crash":
                    figures.crashes += 1
                else:
                    figures.hangs += 1
                stop(worker)
                worker = start()
        finally:
            stop(worker)
    return figures


def main() -> int:
    """Run the campaign, print its figures; return 1 if anything went wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="HTTP and GraphQL requests")
    parser.add_argument("--lines", type=int, default=2000, help="lines written to the worker")
    parser.add_argument("--seed", type=int, default=None, help="the seed (default: a random one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    campaign_seed = args.seed if args.seed is not None else random.randrange(2**32)
    started = time.monotonic()
    http = run_http(args.requests, campaign_seed) if args.requests > 0 else HttpFigures()
    worker = run_worker(args.lines, campaign_seed) if args.lines > 0 else WorkerFigures()
    elapsed = time.monotonic() - started
    failed = bool(
        http.internal_errors or http.tracebacks or http.hangs or http.wrong
        or worker.crashes or worker.hangs or worker.tracebacks or worker.failed_scans
    )  # fmt: skip
    if args.json:
        print(json.dumps({
            "seed": campaign_seed,
            "seconds": round(elapsed, 1),
            "requests": {"sent": sum(http.sent.values()), "by_kind": dict(sorted(http.sent.items())),
                         "statuses": dict(sorted(http.statuses.items())),
                         "internal_errors": http.internal_errors, "wrong_answers": http.wrong,
                         "tracebacks": http.tracebacks, "hangs": http.hangs,
                         "slowest_ms": round(http.slowest_s * 1000, 1),
                         "slowest_kind": http.slowest_kind, "examples": http.examples},
            "worker": {"lines": worker.lines, "scans": worker.scans, "answered": worker.answered,
                       "failed_scans": worker.failed_scans, "crashes": worker.crashes,
                       "hangs": worker.hangs, "tracebacks": worker.tracebacks,
                       "slowest_scan_ms": round(worker.slowest_s * 1000, 1)},
            "ok": not failed,
        }, indent=2))  # fmt: skip
        return 1 if failed else 0
    print(f"fuzz surface campaign, seed {campaign_seed}, {elapsed:.1f} s")
    print(f"requests sent: {sum(http.sent.values())}")
    for kind, count in sorted(http.sent.items()):
        print(f"  {kind}: {count}")
    print("statuses: " + ", ".join(f"{s} x{n}" for s, n in sorted(http.statuses.items())))
    print(
        f"500s: {http.internal_errors}   wrong answers: {http.wrong}   "
        f"tracebacks in the server log: {http.tracebacks}   hangs: {http.hangs}"
    )
    print(f"slowest answer: {http.slowest_s * 1000:.1f} ms ({http.slowest_kind or 'none'})")
    for quoted in http.examples:
        print(f"  wrong: {quoted}")
    print(
        f"protocol lines sent: {worker.lines}   scans asked: {worker.scans}   "
        f"answered: {worker.answered}   failed: {worker.failed_scans}"
    )
    print(
        f"worker crashes: {worker.crashes}   worker hangs: {worker.hangs}   "
        f"tracebacks in the worker log: {worker.tracebacks}   "
        f"slowest scan after a batch: {worker.slowest_s * 1000:.1f} ms"
    )
    print("result: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
