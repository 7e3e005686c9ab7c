"""Benchmark: a good client's answer time while 500 slowloris connections hold the local API.

Opens `--slow` connections (default 500) that each send a header line every half second and
are opened again when the server closes them (at their request deadline, or when a newer
connection pushes the oldest out), then asks `--tries` times (default 20) for a small GraphQL
answer as a good client and prints the answer times: max, median, p90 and how many came within
the target of 1 s (issue 14: "500 slow connections must not keep a good client waiting more
than a second"). The server runs in this process with its default limits and canned facts, so
the figures are the HTTP server's alone. Run: `python tests/benchmarks/bench_slowloris.py
[--slow N] [--tries N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.helpers import SlowClients, get_query, make_service, running_server

TARGET_S = 1.0
QUERY = "{ device { deviceName } }"


def answer_time(port: int) -> float:
    """Ask once as a good client; return the seconds until the whole answer came."""
    started = time.perf_counter()
    answer = get_query(port, QUERY)
    elapsed = time.perf_counter() - started
    if answer.status != 200:
        raise SystemExit(f"the good client got {answer.status}: {answer.body}")
    return elapsed


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slow", type=int, default=500, help="slow connections held open")
    parser.add_argument("--tries", type=int, default=20, help="good client requests")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between tries")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    service, _ = make_service()
    with running_server(service) as server:
        answer_time(server.port)  # the first answer scans the canned facts once
        with SlowClients(server.port, args.slow, interval=0.5) as slow:
            times = []
            for _ in range(args.tries):
                times.append(answer_time(server.port))
                time.sleep(args.pause)
            opened = slow.opened
    times_ms = sorted(seconds * 1000 for seconds in times)
    p90 = times_ms[min(len(times_ms) - 1, int(len(times_ms) * 0.9))]
    within = sum(1 for ms in times_ms if ms <= TARGET_S * 1000)
    if args.json:
        figures = {
            "slow_connections": args.slow,
            "opened": opened,
            "tries": len(times_ms),
            "max_ms": round(times_ms[-1], 1),
            "median_ms": round(statistics.median(times_ms), 1),
            "p90_ms": round(p90, 1),
            "within_target": within,
            "target_s": TARGET_S,
        }
        print(json.dumps(figures))
        return
    print(f"slowloris: {args.slow} slow connections ({opened} opened in all)")
    print(
        f"good client, {len(times_ms)} tries: max {times_ms[-1]:.1f} ms   "
        f"median {statistics.median(times_ms):.1f} ms   p90 {p90:.1f} ms"
    )
    print(f"answered within {TARGET_S:.0f} s: {within} of {len(times_ms)}")


if __name__ == "__main__":
    main()
