"""Issue 14's figures in one run: hostile input never hangs, crashes or starves the app.

Runs each measurement as a process of its own and prints one table of figure, target and result:

- the fuzzing campaigns: `fuzz_files.py` (generated files of every format, each loaded by the
  app's own paths under a watchdog) and `fuzz_surface.py` (HTTP and GraphQL on a real loopback
  server, the worker protocol on a real worker);
- `bench_slowloris.py`: a good client's answers while 500 slow connections hold the API;
- `bench_hostile_regex.py`: the worst time of a pattern from IT or a page against a hostile name;
- `bench_kill_during_write.py`: kill -9 during state writes, then the start-up sweep;

then the suite's tests of every numbered item of the issue (`ITEMS`), each item passing only if
all its tests pass. Exits 1 if a target is missed or an item's test fails.
Run: `python tests/benchmarks/hostile_input.py [--files N] [--requests N] [--lines N]
[--slow N] [--kills N] [--seed S] [--skip-tests]`; `--quick` runs everything small.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Issue 14's numbered items → the tests that prove each (files, or file::test).
ITEMS: dict[str, tuple[str, ...]] = {
    "1 backtracking regular expressions": (
        "tests/core/test_hostile_regex.py",
        "tests/core/test_scan_bounds.py::test_a_backtracking_regex_in_an_it_check_stops_at_the_checks_time_limit",
        "tests/core/test_scan_bounds.py::test_a_backtracking_regex_over_many_rows_stops_at_the_same_deadline",
        "tests/core/test_scan_bounds.py::test_fleets_lookahead_patterns_still_match",
    ),
    "2 a{99999999999}": (
        "tests/core/test_hostile_regex.py::test_patterns_that_cant_run_bounded_are_refused_with_a_reason",
        "tests/core/test_hostile_regex.py::test_check_policy_refuses_a_huge_count_in_a_host_pattern",
        "tests/core/test_hostile_regex.py::test_a_pages_policy_with_a_huge_count_is_an_invalid_policy_error_over_http",
        "tests/core/test_hostile_regex.py::test_a_huge_count_from_a_page_is_a_problem_of_policy_from_mapping",
        "tests/core/test_hostile_regex.py::test_scan_with_a_huge_count_in_policy_and_config_reports_instead_of_crashing",
    ),
    "3 slowloris": (
        "tests/api/test_http_bounds.py::test_a_header_line_every_fraction_of_a_second_does_not_hold_a_connection",
        "tests/api/test_http_bounds.py::test_a_client_that_sends_nothing_gets_408_at_its_deadline",
        "tests/api/test_http_bounds.py::test_300_slow_connections_do_not_keep_a_good_client_waiting",
        "tests/api/test_http_bounds.py::test_over_the_cap_the_oldest_slow_connection_is_closed_and_good_clients_get_in",
    ),
    "4 a NUL in an IT check": (
        "tests/core/test_scan_bounds.py::test_query_problem_refuses_a_nul_character_with_its_line",
        "tests/core/test_scan_bounds.py::test_a_nul_in_an_it_check_costs_that_check_only",
        "tests/core/test_scan_bounds.py::test_check_policy_refuses_an_it_check_with_a_nul",
        "tests/engines/test_embedded_bounds.py::test_a_nul_character_fails_that_query_only",
        "tests/engines/test_osquery_bounds.py::test_a_nul_in_an_it_check_costs_that_check_only_on_osquery",
    ),
    "5 limits on IT's SQL, a scan deadline": (
        "tests/engines/test_embedded_bounds.py",
        "tests/core/test_scan_bounds.py::test_an_engine_failing_unexpectedly_costs_that_check_only",
        "tests/core/test_scan_bounds.py::test_checks_not_run_by_the_scan_deadline_are_unknown_with_the_reason",
        "tests/core/test_scan_bounds.py::test_it_checks_get_their_own_time_limit_on_the_embedded_engine",
    ),
    "6 values that are not numbers": (
        "tests/core/test_scan_bounds.py::test_a_lock_time_that_is_not_a_number_is_unknown_with_the_reason",
        "tests/core/test_scan_bounds.py::test_number_value",
        "tests/engines/test_osquery_bounds.py::test_an_empty_lock_time_from_osqueryd_makes_screen_idle_unknown_with_the_reason",
    ),
    "7 osqueryd's children": (
        "tests/engines/test_osquery_bounds.py::test_close_ends_osqueryds_children_too",
        "tests/engines/test_osquery_bounds.py::test_close_ends_a_child_of_osqueryd_that_left_its_session",
        "tests/engines/test_process_tree.py",
    ),
    "8 HTTP parsing": (
        "tests/api/test_http_bounds.py::test_two_different_content_lengths_are_refused",
        "tests/api/test_http_bounds.py::test_the_same_content_length_twice_is_one_length",
        "tests/api/test_http_bounds.py::test_any_transfer_encoding_is_refused",
        "tests/api/test_http_bounds.py::test_a_malformed_header_line_is_refused",
        "tests/api/test_http_bounds.py::test_a_short_body_is_400_at_the_deadline_without_a_traceback",
        "tests/api/test_http_bounds.py::test_a_short_body_of_a_client_that_stopped_sending_is_400_at_once",
        "tests/api/test_http_bounds.py::test_json_nested_30000_deep_in_a_post_body_is_400",
        "tests/api/test_http_bounds.py::test_json_nested_8000_deep_in_get_variables_is_400",
    ),
    "9 temporary files of killed writes": (
        "tests/core/test_state.py::test_the_start_up_sweep_removes_what_a_killed_save_left",
        "tests/core/test_state.py::test_the_sweep_leaves_everything_that_is_not_surely_our_leftover",
        "tests/core/test_state.py::test_the_sweep_leaves_a_temporary_file_a_live_writer_holds",
        "tests/test_autostart.py::test_the_start_up_sweep_removes_a_killed_switchs_leftovers_on_linux",
        "tests/test_autostart.py::test_the_start_up_sweep_removes_a_killed_switchs_leftovers_on_macos",
        "tests/core/test_policy_server.py::test_a_new_client_removes_what_a_killed_cache_write_left",
        "tests/test_bench_kill_during_write_script.py",
    ),
    "10 machine and IT text shown as plain text": (
        "tests/ui/test_plain_text.py",
        "tests/core/test_directions_escaping.py",
        "tests/desktop/test_freedesktop_notifier.py",
    ),
    "fuzzing in the suite": ("tests/fuzz",),
}


@dataclass(frozen=True)
class Row:
    """One line of the table: what was measured, its target, the result, and whether it held."""

    figure: str
    target: str
    result: str
    held: bool


def run_json(script: str, arguments: Sequence[str], timeout: float) -> tuple[dict[str, Any], str]:
    """Run a benchmark with `--json`; return its figures (empty on failure) and what went wrong."""
    command = [sys.executable, str(HERE / script), *arguments, "--json"]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {}, f"{script} did not finish within {timeout:.0f} s"
    # The figures are the last JSON object the script printed (on one line or indented).
    starts = [i for i, line in enumerate(result.stdout.splitlines()) if line.startswith("{")]
    for start in reversed(starts):
        text = "\n".join(result.stdout.splitlines()[start:])
        try:
            figures = json.loads(text)
        except ValueError:
            continue
        if isinstance(figures, dict):
            return figures, ""
    tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
    return {}, f"{script} exited {result.returncode} without figures: {' | '.join(tail)}"


def _count(figures: dict[str, Any], *keys: str) -> int:
    return sum(int(figures.get(key, 0) or 0) for key in keys)


def fuzz_files_rows(files: int, seed: int, timeout: float) -> list[Row]:
    """Generated files of every format → tracebacks and hangs."""
    figures, problem = run_json(
        "fuzz_files.py", ["--files", str(files), "--seed", str(seed)], timeout
    )
    if problem:
        return [Row("generated files", f">= {files}, 0 tracebacks, 0 hangs", problem, False)]
    generated = int(figures.get("files", 0))
    tracebacks, hangs = _count(figures, "tracebacks"), _count(figures, "hangs")
    unclear = _count(figures, "unclear")
    formats = len(figures.get("per_format", {}))
    result = (
        f"{generated} files of {formats} formats: {tracebacks} tracebacks, {hangs} hangs, "
        f"{unclear} problems not naming their file"
    )
    if "slowest_s" in figures:
        result += f" (slowest {float(figures['slowest_s']):.2f} s)"
    held = generated >= files and tracebacks == 0 and hangs == 0 and unclear == 0
    return [Row("generated files", f">= {files}: 0 tracebacks, 0 hangs", result, held)]


def fuzz_surface_rows(requests: int, lines: int, seed: int, timeout: float) -> list[Row]:
    """Generated HTTP/GraphQL requests and worker protocol lines → 500s, tracebacks, hangs."""
    arguments = ["--requests", str(requests), "--lines", str(lines), "--seed", str(seed)]
    figures, problem = run_json("fuzz_surface.py", arguments, timeout)
    if problem:
        return [
            Row("generated API requests", "0 failures", problem, False),
            Row("generated worker protocol lines", "0 failures", problem, False),
        ]
    http, worker = figures.get("requests", {}), figures.get("worker", {})
    http_failures = _count(http, "internal_errors", "wrong_answers", "tracebacks", "hangs")
    sent = int(http.get("sent", 0))
    statuses = ", ".join(f"{n} x {code}" for code, n in sorted(http.get("statuses", {}).items()))
    http_result = (
        f"{sent} requests: {http.get('internal_errors', 0)} 500s, "
        f"{http.get('wrong_answers', 0)} wrong answers, {http.get('tracebacks', 0)} tracebacks, "
        f"{http.get('hangs', 0)} hangs (slowest {http.get('slowest_ms', 0)} ms; {statuses})"
    )
    worker_failures = _count(worker, "failed_scans", "crashes", "hangs", "tracebacks")
    sent_lines = int(worker.get("lines", 0))
    worker_result = (
        f"{sent_lines} lines: {worker.get('crashes', 0)} crashes, {worker.get('hangs', 0)} hangs, "
        f"{worker.get('tracebacks', 0)} tracebacks; {worker.get('answered', 0)} of "
        f"{worker.get('scans', 0)} scans answered after them"
    )
    return [
        Row(
            "generated API requests",
            f"{requests}: 0 500s, tracebacks, hangs",
            http_result,
            sent >= requests and http_failures == 0,
        ),
        Row(
            "generated worker protocol lines",
            f"{lines}: 0 crashes, hangs",
            worker_result,
            sent_lines >= lines
            and worker_failures == 0
            and worker.get("answered") == worker.get("scans"),
        ),
    ]


def slowloris_rows(slow: int, tries: int, timeout: float) -> list[Row]:
    """A good client's answer times while `slow` connections trickle headers."""
    arguments = ["--slow", str(slow), "--tries", str(tries)]
    figures, problem = run_json("bench_slowloris.py", arguments, timeout)
    target = f"{slow} slow connections: every answer <= 1 s"
    if problem:
        return [Row("slowloris", target, problem, False)]
    within, answered = int(figures["within_target"]), int(figures["tries"])
    result = (
        f"{within} of {answered} within 1 s (max {figures['max_ms']} ms, "
        f"median {figures['median_ms']} ms)"
    )
    return [Row("slowloris", target, result, within == answered == tries)]


def regex_rows(timeout: float) -> list[Row]:
    """The worst time of a hostile pattern against hostile names and origins."""
    figures, problem = run_json("bench_hostile_regex.py", [], timeout)
    if problem:
        return [Row("worst regex case", "<= 50 ms", problem, False)]
    worst = float(figures["worst_ms"])
    result = f"{worst:.1f} ms over {figures['patterns']} patterns"
    return [Row("worst regex case", f"<= {figures['target_ms']:.0f} ms", result, worst <= 50.0)]


def kill_rows(kills: int, seed: int, timeout: float) -> list[Row]:
    """kill -9 during state writes → corrupt and stray files."""
    arguments = ["--runs", str(kills), "--seed", str(seed)]
    figures, problem = run_json("bench_kill_during_write.py", arguments, timeout)
    if problem:
        return [Row("kill -9 during writes", "0 corrupt, 0 stray", problem, False)]
    corrupt, stray = int(figures["corrupt"]), int(figures["stray"])
    result = (
        f"{figures['runs']} kills: {corrupt} corrupt, {stray} stray "
        f"({figures['removed_by_sweep']} leftovers swept)"
    )
    return [
        Row(
            "kill -9 during writes",
            f"{kills} kills: 0 corrupt, 0 stray",
            result,
            not corrupt and not stray,
        )
    ]


def item_rows(timeout: float) -> list[Row]:
    """Run every item's tests in one pytest session; an item holds if all its tests pass."""
    with tempfile.TemporaryDirectory(prefix="hostile-input-") as folder:
        report = Path(folder) / "junit.xml"
        wanted = {target for targets in ITEMS.values() for target in targets}
        missing = {target for target in wanted if not (ROOT / target.split("::")[0]).exists()}
        targets = sorted(wanted - missing)
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *targets,
        ]
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        try:
            subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                cwd=ROOT,
                env=env,
            )
        except subprocess.TimeoutExpired:
            return [Row("the items' tests", "all pass", f"not done within {timeout:.0f} s", False)]
        outcomes = _outcomes(report)
    rows = []
    for item, targets in ITEMS.items():
        matched = [
            outcome
            for node, outcome in outcomes.items()
            if any(
                node == t
                or node.startswith(t + "::")
                or node.startswith(t + "/")
                or node.startswith(t + "[")
                for t in targets
            )
        ]
        passed = sum(1 for outcome in matched if outcome == "passed")
        skipped = sum(1 for outcome in matched if outcome == "skipped")
        failed = len(matched) - passed - skipped
        result = (
            f"{passed} passed"
            + (f", {failed} failed" if failed else "")
            + (f", {skipped} skipped" if skipped else "")
        )
        absent = [target for target in targets if target in missing]
        if absent:
            result += f"; missing: {', '.join(absent)}"
        held = passed > 0 and failed == 0 and not absent
        rows.append(Row(f"item {item}", "its tests pass", result, held))
    return rows


def _outcomes(report: Path) -> dict[str, str]:
    """Return node id (file::test[param]) → passed/failed/skipped from a JUnit XML report."""
    if not report.is_file():
        return {}
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "")
        name = case.get("name", "")
        file = module.replace(".", "/") + ".py"
        node = f"{file}::{name}"
        if case.find("skipped") is not None:
            outcomes[node] = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            outcomes[node] = "failed"
        else:
            outcomes[node] = "passed"
    return outcomes


def print_table(rows: Sequence[Row]) -> None:
    """Print the rows as a table."""
    width = max(len(row.figure) for row in rows)
    target_width = max(len(row.target) for row in rows)
    for row in rows:
        mark = "ok  " if row.held else "MISS"
        print(f"{mark}  {row.figure:<{width}}  {row.target:<{target_width}}  {row.result}")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table, and return 1 if anything missed its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="generated files to load")
    parser.add_argument("--requests", type=int, default=5000, help="generated API requests")
    parser.add_argument("--lines", type=int, default=2000, help="generated worker protocol lines")
    parser.add_argument("--slow", type=int, default=500, help="slowloris connections")
    parser.add_argument("--tries", type=int, default=20, help="good client requests")
    parser.add_argument("--kills", type=int, default=100, help="kill -9 during state writes")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--skip-tests", action="store_true", help="only the figures")
    parser.add_argument("--quick", action="store_true", help="everything small (for a smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.requests, args.lines = 30, 60, 30
        args.slow, args.tries, args.kills = 50, 3, 3
    print(f"hostile input, seed {args.seed}", flush=True)
    rows: list[Row] = []
    steps = [
        lambda: fuzz_files_rows(args.files, args.seed, timeout=3600),
        lambda: fuzz_surface_rows(args.requests, args.lines, args.seed, timeout=3600),
        lambda: slowloris_rows(args.slow, args.tries, timeout=600),
        lambda: regex_rows(timeout=600),
        lambda: kill_rows(args.kills, args.seed, timeout=1800),
    ]
    if not args.skip_tests:
        steps.append(lambda: item_rows(timeout=1800))
    for step in steps:
        started = time.monotonic()
        new = step()
        rows.extend(new)
        print(f"  measured {new[0].figure} in {time.monotonic() - started:.0f} s", flush=True)
    print()
    print_table(rows)
    missed = [row for row in rows if not row.held]
    print()
    print("all targets met" if not missed else f"{len(missed)} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
