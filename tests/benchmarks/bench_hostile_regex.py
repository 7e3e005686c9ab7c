"""Benchmark: regular expressions from IT and from pages against hostile names and origins.

For each known-bad pattern (catastrophic backtracking on a backtracking engine, huge counts,
syntax RE2 refuses) prints the worst time in ms of what the app does with it: validating it
(compiling, as `check-policy` and a page's policy do), then matching it as an application name
(`ApplicationRule.matches`, searched, ignoring case) and as a `hostLabels` pattern
(`HostLabel.matches`, whole origin or host) against every hostile subject. A refused pattern
shows its validation time and the reason. Target (issue 14): worst case <= 50 ms per pattern and
name. Run: `python tests/benchmarks/bench_hostile_regex.py [--length N] [--repeat N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stethoscope_desktop.core.config import HostLabel
from stethoscope_desktop.core.outside_patterns import compile_outside_pattern, pattern_problem
from stethoscope_desktop.core.policy import ApplicationRule

TARGET_MS = 50.0
# Classic ReDoS shapes, the two from issue 14 first, and patterns RE2 (or Python) refuses.
PATTERNS = (
    r"(.+)+#",
    r"https://([a-z0-9]+[-.]?)+\.example\.com",
    r"(a+)+$",
    r"(a|aa)+$",
    r"(a|a?)+$",
    r"(\w+\s?)*$",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"(.*a){20}",
    r"(x+x+)+y",
    r"^(\d+)*$",
    r"([a-zA-Z0-9]+[-.]?)+@example\.com",
    r"(?i)(adobe|adobe flash|flash)+ player$",
    r"(.*a){90}",
    r"(\w*a){60}b",
    r"[\s\S]{300}",
    r"(.*a){1000}",
    r"(?:.*a|.*b|.*c|.*d|.*e){1000}",
    r"(a{1,1000}){1,1000}",
    r"a{1000}",
    r"a{99999999999}",
    r"(a)\1",
    r"(?=a)a",
    r"(" * 3000 + ")" * 3000,
)


def subjects(length: int) -> list[str]:
    """Return hostile subjects of about `length` characters (and the issue's origin)."""
    runs = ("a", "0", "x", " ", "-", ".", "ab", "a ", "a.", "aA")
    made = ["https://aaaaaaaaaaaaaaaaaaaaaaaaaaa!.evil", "https://" + "a-" * (length // 2) + "!"]
    for run in runs:
        body = (run * length)[:length]
        made += [body, body + "!", body + "#", "https://" + body + "!.evil"]
    return made


def worst_ms(action: Callable[[], object], repeat: int) -> float:
    """Return the slowest of `repeat` runs of `action`, in ms."""
    slowest = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        slowest = max(slowest, time.perf_counter() - start)
    return slowest * 1000


def main() -> int:
    """Print the worst case per pattern and over all of them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=10_000, help="hostile subject length")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    options = parser.parse_args()
    say = (lambda _line: None) if options.json else print
    hostile = subjects(options.length)
    say(f"{len(PATTERNS)} patterns x {len(hostile)} subjects of up to {options.length} chars")
    overall = 0.0
    for pattern in PATTERNS:
        shown = pattern if len(pattern) <= 48 else pattern[:45] + "..."

        def validate(text: str = pattern) -> object:
            compile_outside_pattern.cache_clear()
            return pattern_problem(text, ignore_case=True), pattern_problem(text)

        validating = worst_ms(validate, options.repeat)
        problem = pattern_problem(pattern, ignore_case=True)
        if problem is not None:
            overall = max(overall, validating)
            say(f"{validating:9.3f} ms  refused  {shown}  ({problem})")
            continue
        rule, label = ApplicationRule(name=pattern), HostLabel(pattern, "")

        def match(subject: str, rule: ApplicationRule = rule, label: HostLabel = label) -> object:
            return rule.matches(subject), label.matches(subject)

        matching = max(worst_ms(lambda s=subject: match(s), options.repeat) for subject in hostile)
        worst = max(validating, matching)
        overall = max(overall, worst)
        say(f"{worst:9.3f} ms  matched  {shown}  (validating {validating:.3f} ms)")
    verdict = "within" if overall <= TARGET_MS else "OVER"
    if options.json:
        print(
            json.dumps(
                {"patterns": len(PATTERNS), "worst_ms": round(overall, 3), "target_ms": TARGET_MS}
            )
        )
        return 0
    print(
        f"worst case {overall:.3f} ms per pattern and name: {verdict} the {TARGET_MS:.0f} ms target"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
