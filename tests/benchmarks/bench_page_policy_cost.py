"""Benchmark: what a page's big policy costs, and how long a good client waits meanwhile.

Any local program may post a policy to the local API; each application rule is matched against
every installed name. Prints:

1. the matching cost of a 500-rule policy (each rule a different pattern, the red team's
   `(.+)+#|z…`) against `--installed` names (default 770 and 3,000): all rules at once, as
   evaluation does now (one RE2 Set call per name), and one rule and name at a time, twice, as
   before (measured on `--sample` rules and scaled to 500, as it takes seconds);
2. what the API answers a 500-rule page policy (refused: a page may name 100), and how long;
3. a good client's answer times (`{ device { deviceName } }` and a one-practice page policy)
   while `--hostile` clients keep posting different 100-rule policies, on a server in this
   process whose device has `--installed` applications (the last of the sizes given).

Run: `python tests/benchmarks/bench_page_policy_cost.py [--installed N ...] [--hostile N]
[--tries N] [--json]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stethoscope_desktop.api.service import MAX_PAGE_APPLICATIONS
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import Fact, Facts
from stethoscope_desktop.core.policy import ApplicationRule, Requirement, match_applications
from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.core.report import Evidence, Report
from stethoscope_desktop.tables.values import Row
from tests.api.helpers import (
    CountingSource,
    Response,
    get_query,
    make_service,
    post_json,
    running_server,
)

RULES = 500
VALIDATE = "query ($p: DevicePolicy!) { policy { validate(policy: $p) { status } } }"
DEVICE = "{ device { deviceName } }"


def installed_names(count: int) -> list[str]:
    """Names like a Linux desktop's: packages, and long Flatpak application IDs."""
    return [
        f"org.example.Desktop.Application{i:05d}.Plugin" if i % 5 == 0 else f"lib-package{i}-dev"
        for i in range(count)
    ]


def hostile_rules(count: int, tag: str = "") -> list[dict[str, str]]:
    """The red team's rules: every one a different pattern, none matching."""
    return [{"name": f"(.+)+#|z{tag}{i}_{i}", "assertion": "NEVER"} for i in range(count)]


class ManyAppsSource(CountingSource):
    """Canned tables' facts, with `count` installed applications; a scan only evaluates."""

    def __init__(self, count: int) -> None:
        super().__init__()
        facts = super().facts()
        rows: tuple[Row, ...] = tuple(
            {"name": name, "version": "1.0"} for name in installed_names(count)
        )
        evidence = Evidence("applications", "SELECT name FROM apps", ("apps",), rows)
        self._facts = dataclasses.replace(
            facts, checks={**facts.checks, "applications": Fact(evidence, rows=rows)}
        )

    def scan(self, practices: Practices) -> Report:
        with self._lock:
            self.scans.append(practices)
        return evaluate(practices.policy, self._facts, practices.instructions)

    def facts(self) -> Facts:
        return self._facts


def matching_cost(count: int, sample: int) -> dict[str, float]:
    """Seconds to match 500 different patterns against `count` names, now and before.

    Now includes building the RE2 Set of the 500 patterns (each size gets patterns of its own).
    """
    rules = [
        ApplicationRule(rule["name"], Requirement.NEVER)
        for rule in hostile_rules(RULES, f"m{count}x")
    ]
    names = installed_names(count)
    started = time.perf_counter()
    match_applications(rules, names)
    at_once = time.perf_counter() - started
    started = time.perf_counter()
    for rule in rules[:sample]:
        for _ in range(2):  # the verdict, then the evidence, each matched every name
            [name for name in names if rule.matches(name)]
    one_by_one = (time.perf_counter() - started) * RULES / sample
    return {"installed": count, "at_once_s": at_once, "one_by_one_s": one_by_one}


def timed(ask: Callable[[], Response]) -> tuple[float, int]:
    """Return the seconds `ask` took and the HTTP status it got."""
    started = time.perf_counter()
    answer = ask()
    return time.perf_counter() - started, answer.status


def good_client_waits(count: int, hostile: int, tries: int) -> dict[str, object]:
    """Answer times of a good client while `hostile` clients post 100-rule policies."""
    service, _ = make_service(ManyAppsSource(count))
    stop = threading.Event()
    posted = [0]

    def attack(worker: int) -> None:
        round_ = 0
        while not stop.is_set():
            rules = hostile_rules(MAX_PAGE_APPLICATIONS, f"w{worker}r{round_}x")
            post_json(server.port, {"query": VALIDATE, "variables": {"p": {"applications": rules}}})
            posted[0] += 1
            round_ += 1

    with running_server(service) as server:
        get_query(server.port, DEVICE)  # the device's facts, read once
        too_big, status = timed(
            lambda: post_json(
                server.port,
                {"query": VALIDATE, "variables": {"p": {"applications": hostile_rules(RULES)}}},
            )
        )
        refused = post_json(
            server.port,
            {"query": VALIDATE, "variables": {"p": {"applications": hostile_rules(RULES)}}},
        ).body["errors"][0]["message"]
        workers = [threading.Thread(target=attack, args=(i,)) for i in range(hostile)]
        for worker in workers:
            worker.start()
        time.sleep(0.5)
        device_ms, policy_ms = [], []
        for i in range(tries):
            seconds, _ = timed(lambda: get_query(server.port, DEVICE))
            device_ms.append(seconds * 1000)
            page = {"firewall": "ALWAYS", "screenIdle": f"<= {600 + i}"}
            payload = {"query": VALIDATE, "variables": {"p": page}}
            seconds, _ = timed(functools.partial(post_json, server.port, payload))
            policy_ms.append(seconds * 1000)
        stop.set()
        for worker in workers:
            worker.join()
    return {
        "installed": count,
        "refused_500_rules_ms": round(too_big * 1000, 1),
        "refused_status": status,
        "refused_message": refused,
        "hostile_clients": hostile,
        "hostile_posts": posted[0],
        "device_max_ms": round(max(device_ms), 1),
        "device_median_ms": round(statistics.median(device_ms), 1),
        "page_policy_max_ms": round(max(policy_ms), 1),
        "page_policy_median_ms": round(statistics.median(policy_ms), 1),
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--installed", type=int, nargs="+", default=[770, 3000])
    parser.add_argument("--sample", type=int, default=25, help="rules matched one by one")
    parser.add_argument("--hostile", type=int, default=6, help="clients posting big policies")
    parser.add_argument("--tries", type=int, default=10, help="good client requests of each kind")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    costs = [matching_cost(count, args.sample) for count in args.installed]
    waits = good_client_waits(args.installed[-1], args.hostile, args.tries)
    if args.json:
        print(json.dumps({"matching": costs, "serve": waits}))
        return
    for cost in costs:
        print(
            f"{RULES} rules x {cost['installed']} installed names: all at once "
            f"{cost['at_once_s'] * 1000:.0f} ms; one rule and name at a time, twice (before) "
            f"{cost['one_by_one_s']:.1f} s (from {args.sample} rules)"
        )
    print(
        f"a {RULES}-rule page policy: HTTP {waits['refused_status']} in "
        f"{waits['refused_500_rules_ms']} ms: {waits['refused_message']}"
    )
    print(
        f"while {waits['hostile_clients']} clients posted {MAX_PAGE_APPLICATIONS}-rule policies "
        f"({waits['hostile_posts']} posts) against {waits['installed']} names, a good client "
        f"waited: device max {waits['device_max_ms']} ms (median {waits['device_median_ms']}), "
        f"page policy max {waits['page_policy_max_ms']} ms "
        f"(median {waits['page_policy_median_ms']})"
    )


if __name__ == "__main__":
    main()
