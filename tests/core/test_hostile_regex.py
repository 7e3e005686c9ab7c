r"""Regular expressions from IT's files and from web pages: bounded time, clear refusals.

Issue 14 items 1 and 2. An application name or a `hostLabels` pattern that backtracks
catastrophically on Python's `re` (`(.+)+#`, `https://([a-z0-9]+[-.]?)+\.example\.com`) must
answer at once, and a count `re` can't even compile (`a{99999999999}`, OverflowError) must be a
validation problem with file, line and key in `check-policy`, and an INVALID_POLICY error for a
page's policy over the API, never a traceback.

A hostile match is run in a child process with a timeout far above the expected figure (5 s for
a 50 ms target): Python's `re` holds the interpreter while it backtracks, so only a process can
be stopped from outside. tests/benchmarks/bench_hostile_regex.py prints the real figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.config import AppConfig, HostLabel
from stethoscope_desktop.core.outside_patterns import (
    PatternError,
    compile_outside_pattern,
    pattern_problem,
)
from stethoscope_desktop.core.policy import ApplicationRule, policy_from_mapping
from tests.api.helpers import make_service, post_json, running_server

REPO = Path(__file__).resolve().parents[2]
GENEROUS_SECONDS = 5.0
LONG_NAME = "a" * 5000
EVIL_ORIGIN = "https://aaaaaaaaaaaaaaaaaaaaaaaaaaa!.evil"
BACKTRACKING_LABEL = r"https://([a-z0-9]+[-.]?)+\.example\.com"
HUGE_COUNT = "a{99999999999}"


def run_within(code: str, seconds: float = GENEROUS_SECONDS) -> str:
    """Run `code` in a child Python (this worktree first on the path); return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=seconds,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_backtracking_application_name_answers_at_once_against_a_long_name() -> None:
    out = run_within(
        f"""
        from stethoscope_desktop.core.policy import ApplicationRule
        rule = ApplicationRule(name="(.+)+#")
        print(rule.matches({LONG_NAME!r}), rule.matches("x" * 40 + "#"))
        """
    )
    assert out.split() == ["False", "True"]


def test_a_backtracking_host_label_answers_at_once_for_a_foreign_origin() -> None:
    out = run_within(
        f"""
        from stethoscope_desktop.api.security import origin_allowed
        from stethoscope_desktop.core.config import AppConfig, HostLabel
        config = AppConfig(host_labels=(HostLabel({BACKTRACKING_LABEL!r}, "Login"),))
        print(origin_allowed({EVIL_ORIGIN!r}, config), config.lists_origin({EVIL_ORIGIN!r}))
        print(origin_allowed("https://login.example.com", config))
        """
    )
    assert out.split() == ["None", "False", "Login"]


def test_an_origin_longer_than_any_browser_sends_matches_no_pattern() -> None:
    label = HostLabel(r"https://a+", "")
    assert label.matches("https://" + "a" * 1000)
    assert not label.matches("https://" + "a" * 2000)
    # An application name is searched in its first 1024 characters.
    assert ApplicationRule(name="^Zoom").matches("Zoom" + " " * 5000)
    assert not ApplicationRule(name="Zoom").matches(" " * 5000 + "Zoom")


def test_matching_keeps_stethoscopes_meaning() -> None:
    rule = ApplicationRule(name="^Adobe Flash")
    assert rule.matches("adobe flash player 32") and not rule.matches("Get Adobe Flash")
    assert ApplicationRule(name=r"Notepad\+\+").matches("Notepad++ (64-bit x64)")
    assert ApplicationRule(name="[0-9]+ ?zip$").matches("7-Zip") is False
    assert ApplicationRule(name="[0-9]-?zip$").matches("7-Zip")
    assert ApplicationRule(name="(?i)SLACK|discord").matches("Discord")
    label = HostLabel(r"(meechum|stethoscope)[.]netflix[.]com", "")
    config = AppConfig(host_labels=(label,))
    assert config.lists_origin("https://meechum.netflix.com")
    assert not config.lists_origin("https://meechum.netflix.com.attacker.example")


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (HUGE_COUNT, "not a valid regular expression: a repetition count is too large"),
        ("a{1001}", "can't be run in linear time"),
        ("(.*a){1000}", "too complex to match quickly"),
        (r"(a)\1", "can't be run in linear time"),
        ("(?=x)y", "can't be run in linear time"),
        ("(?<!x)y", "can't be run in linear time"),
        ("(unclosed", "not a valid regular expression: missing )"),
        ("(" * 5000 + ")" * 5000, "not a valid regular expression"),
    ],
)
def test_patterns_that_cant_run_bounded_are_refused_with_a_reason(
    pattern: str, fragment: str
) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None and fragment in str(problem)
    with pytest.raises(PatternError):
        compile_outside_pattern(pattern)
    # A rule or label built in code from such a pattern matches nothing rather than raising.
    assert not ApplicationRule(name=pattern).matches("a" * 20)
    assert not HostLabel(pattern, "").matches("https://a.example")


def _policy_file(folder: Path, name: str) -> Path:
    path = folder / "policy.yaml"
    path.write_text(f"applications:\n  - name: '{name}'\n    assertion: NEVER\n")
    return path


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        (HUGE_COUNT, "a repetition count is too large"),
        ("(?=Zoom)Zoom", "can't be run in linear time"),
    ],
)
def test_check_policy_refuses_an_application_name_with_file_line_and_key(
    name: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _policy_file(tmp_path, name)
    assert main(["check-policy", str(path)]) == 1
    out, err = capsys.readouterr()
    line = next(line for line in out.splitlines() if line.startswith(f"{path}:2:"))
    assert "applications[0].name" in line and fragment in line, out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("key", ["hostLabels", "allowRegex"])
def test_check_policy_refuses_a_huge_count_in_a_host_pattern(
    key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    entry = (
        f"pattern: '{HUGE_COUNT}'\n    name: Login" if key == "hostLabels" else f"'{HUGE_COUNT}'"
    )
    path.write_text(f"{key}:\n  - {entry}\n")
    assert main(["check-policy", str(path)]) == 1
    out, err = capsys.readouterr()
    where = f"{key}[0].pattern" if key == "hostLabels" else f"{key}[0]"
    assert any(
        line.startswith(f"{path}:2:") and where in line and "repetition count" in line
        for line in out.splitlines()
    ), out
    assert "Traceback" not in out + err


def test_a_pages_policy_with_a_huge_count_is_an_invalid_policy_error_over_http() -> None:
    service, source = make_service()
    query = "query ($p: DevicePolicy) { policy { validate(policy: $p) { status } } }"
    policy = {"applications": [{"name": HUGE_COUNT, "assertion": "NEVER"}]}
    with running_server(service) as server:
        answer = post_json(server.port, {"query": query, "variables": {"p": policy}})
    assert answer.status < 500
    (error,) = answer.body["errors"]
    assert error["extensions"] == {"code": "INVALID_POLICY"}
    assert "applications[0].name" in error["message"]
    assert "repetition count is too large" in error["message"]
    assert source.scans == []


def test_a_pages_backtracking_policy_is_judged_at_once_over_the_api() -> None:
    out = run_within(
        f"""
        from tests.api.helpers import make_service, post_json, running_server
        from tests.canned import canned_linux
        from tests.api.helpers import CountingSource
        package = {{"name": {LONG_NAME!r}, "version": "1.0", "status": "install ok installed"}}
        service, _ = make_service(CountingSource(canned_linux(deb_packages=[package])))
        query = "query ($p: DevicePolicy) {{ policy {{ validate(policy: $p) {{ status }} }} }}"
        policy = {{"applications": [{{"name": "(.+)+#", "assertion": "NEVER"}}]}}
        with running_server(service) as server:
            answer = post_json(server.port, {{"query": query, "variables": {{"p": policy}}}})
        print(answer.status, answer.body["data"]["policy"]["validate"]["status"])
        """,
        seconds=2 * GENEROUS_SECONDS,
    )
    assert out.split() == ["200", "PASS"]


def test_a_huge_count_from_a_page_is_a_problem_of_policy_from_mapping() -> None:
    policy, problems = policy_from_mapping(
        {"applications": [{"name": HUGE_COUNT, "assertion": "NEVER"}]}, "page"
    )
    assert not policy.applications
    assert [problem.key for problem in problems] == ["applications[0].name"]


def test_scan_with_a_huge_count_in_policy_and_config_reports_instead_of_crashing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _policy_file(tmp_path, HUGE_COUNT)
    config = tmp_path / "config.yaml"
    config.write_text(f"hostLabels:\n  - pattern: '{HUGE_COUNT}'\n    name: Login\n")
    argv = ["scan", "--json", "--practices", str(tmp_path), "--engine", "embedded", "--lang", "en"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2, 3), err
    assert "Traceback" not in err
    problems = json.loads(out)["policy_problems"]
    assert any(p.startswith(f"{policy}:2") and "applications[0].name" in p for p in problems)
    assert any(p.startswith(f"{config}:2") and "hostLabels[0].pattern" in p for p in problems)


def test_a_name_with_a_byte_that_was_not_utf8_is_matched_without_a_crash() -> None:
    # A package or app name read with surrogateescape holds lone surrogates; RE2 takes UTF-8.
    pattern = compile_outside_pattern("zoom")
    assert pattern.search("zoom-\udcff")
    assert not pattern.fullmatch("zoom-\udcff")
    assert compile_outside_pattern("zoom-.").fullmatch("zoom-\udcff")


def test_a_pattern_with_a_lone_surrogate_is_refused_as_not_a_character() -> None:
    problem = pattern_problem("zoom\ud800")
    assert problem is not None and problem.syntax
    assert str(problem) == "holds \\ud800, half of a UTF-16 pair, which is not a character"
