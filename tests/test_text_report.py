"""The terminal report: Markdown rendered, links whole, steps numbered, colour only where wanted."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.resources import practices_dir
from stethoscope_desktop.terminal_text import Painter, colour_wanted, render_markdown, wrap_plain
from stethoscope_desktop.text_report import render_report
from tests.core.test_custom_checks import loader_for, scan, y

ESCAPE = "\033["
URL = "https://example.org/guides/firewall/turning-it-on-for-every-network-profile"


def md(text: str, width: int = 80, indent: str = "", colour: bool = False) -> list[str]:
    return render_markdown(text, width, indent, Painter(colour))


def test_bold_code_and_links_are_rendered_not_printed_as_markdown() -> None:
    lines = md(
        "Open **Settings**, run `sudo ufw enable` and read [the guide](https://example.org/ufw)."
    )
    assert lines == [
        "Open Settings, run sudo ufw enable and read the guide (https://example.org/ufw)."
    ]
    coloured = md("Open **Settings** and run `ufw`.", colour=True)[0]
    assert "\033[1mSettings\033[0m" in coloured and "\033[36mufw\033[0m" in coloured


def test_a_link_whose_text_is_its_url_is_printed_once() -> None:
    assert md(f"[{URL}]({URL}) or <{URL}> or <it@example.org>", width=300) == [
        f"{URL} or {URL} or it@example.org"
    ]


def test_a_link_is_never_split_across_lines_when_it_fits_on_one() -> None:
    text = f"Before you start, see [the guide of IT]({URL}) for the details of it."
    lines = md(text, width=100, indent="    ")
    assert any(f"the guide of IT ({URL})" in line for line in lines), lines
    assert all(len(line) <= 100 for line in lines)
    narrow = md(text, width=40)  # too long for one line: the URL itself stays whole
    assert f"({URL})" in narrow


def test_numbered_steps_are_numbered_in_order_as_markdown_counts_them() -> None:
    steps = "1. Open a terminal.\n1. Run `sudo apt update`.\n\n1. Restart.\n"
    assert md(steps) == ["1. Open a terminal.", "2. Run sudo apt update.", "3. Restart."]
    assert md("3) three\n9) four") == ["3) three", "4) four"]  # from the first item's number


def test_a_step_wraps_under_its_own_text_and_nested_lists_indent() -> None:
    text = "1. " + "word " * 20 + "\n   - inner one\n   - inner two\n2. next"
    lines = md(text, width=40, indent="  ")
    assert lines[0].startswith("  1. word") and lines[1].startswith("     word")
    assert "     • inner one" in lines and "     • inner two" in lines
    assert lines[-1] == "  2. next"


def test_escapes_entities_and_snake_case_show_as_written() -> None:
    assert md(r"Keep \*this\* & file_lines_x and 2018\. as is &amp; _italic_") == [
        "Keep *this* & file_lines_x and 2018. as is & italic"
    ]
    assert md("in\n2018. a year") == ["in 2018. a year"]  # no list: a paragraph goes on


def test_paragraphs_headings_and_code_blocks() -> None:
    text = "# Fix it\n\nFirst.\nSame paragraph.\n\n```\nsudo ufw enable\n  sudo ufw status\n```\n"
    assert md(text) == [
        "Fix it",
        "",
        "First. Same paragraph.",
        "",
        "  sudo ufw enable",
        "    sudo ufw status",
    ]


def test_plain_text_wraps_at_spaces_and_never_cuts_a_word() -> None:
    long_word = "x" * 50
    lines = wrap_plain(f"a b {long_word} c", 30, "  ", Painter(False))
    assert lines == ["  a b", f"  {long_word}", "  c"]


@pytest.mark.parametrize(
    ("choice", "terminal", "environ", "wanted"),
    [
        ("auto", True, {"TERM": "xterm-256color"}, True),
        ("auto", False, {"TERM": "xterm-256color"}, False),
        ("auto", True, {"TERM": "xterm", "NO_COLOR": "1"}, False),
        ("auto", True, {"TERM": "xterm", "NO_COLOR": ""}, True),  # no-color.org: not empty
        ("auto", True, {"TERM": "dumb"}, False),
        ("always", False, {"TERM": "dumb", "NO_COLOR": "1"}, True),  # the command line wins
        ("never", True, {"TERM": "xterm"}, False),
    ],
)
def test_colour_follows_no_color_term_and_the_terminal(
    choice: str, terminal: bool, environ: dict[str, str], wanted: bool
) -> None:
    assert colour_wanted(choice, is_terminal=terminal, environ=environ) is wanted


IT_FILES = {
    "policy.yaml": (practices_dir() / "policy.yaml").read_text(encoding="utf-8")
    + y(
        f"""
        customChecks:
          - name: Firewall profile is on
            platform: linux
            critical: true
            description: The **firewall** keeps others out.
            query: SELECT 1 FROM os_version WHERE major >= 99
            resolution: |
              1. Open **Settings**.
              1. Run `sudo ufw enable`.
              1. Read [the guide]({URL}).
        """
    ),
    "checks.d/benchmark.yml": "".join(
        y(
            f"""
            ---
            apiVersion: v1
            kind: policy
            spec:
              name: Benchmark {number} - by hand
              platform: linux
              query: SELECT 1 WHERE 0;
              purpose: Manual Validation Required
              resolution: {resolution}
            """
        )
        for number, resolution in [
            ("1.1", "Follow the benchmark's **audit** steps."),
            ("1.2", "Follow the benchmark's **audit** steps."),
            ("1.3", "Compare /etc/issue with the approved text."),
            ("1.4", "Follow the benchmark's **audit** steps."),
        ]
    ),
}


@pytest.fixture
def it_report(tmp_path: Path) -> tuple[Report, object]:
    practices = loader_for(tmp_path, IT_FILES).load()
    assert not practices.problems, practices.problems
    return scan(practices), practices.instructions


def test_its_steps_are_renumbered_and_its_markdown_rendered(
    it_report: tuple[Report, object],
) -> None:
    report, instructions = it_report
    text = render_report(report, instructions, colour=False)  # type: ignore[arg-type]
    block = text.split("Firewall profile is on", 1)[1].split("\n✗", 1)[0].split("\n!", 1)[0]
    words = " ".join(block.split())
    assert f"1. Open Settings. 2. Run sudo ufw enable. 3. Read the guide ({URL})." in words
    assert [line.strip()[:3] for line in block.splitlines() if line.strip()[1:3] == ". "] == [
        "1. ",
        "2. ",
        "3. ",
    ]
    assert "The firewall keeps others out." in block
    assert not re.search(r"\*\*|`|\]\(", text), text


def test_directions_shared_by_checks_by_hand_are_printed_once(
    it_report: tuple[Report, object],
) -> None:
    report, instructions = it_report
    text = render_report(report, instructions, colour=False)  # type: ignore[arg-type]
    tail = text[text.index("checks by hand") :]
    assert tail.count("Follow the benchmark's audit steps.") == 1
    assert tail.count("Compare /etc/issue with the approved text.") == 1
    lines = tail.splitlines()
    shared = lines.index("      Follow the benchmark's audit steps.")
    assert lines[shared - 3 : shared] == [
        "  - Benchmark 1.1 - by hand",
        "  - Benchmark 1.2 - by hand",
        "  - Benchmark 1.4 - by hand",
    ]


def test_every_line_fits_the_width_where_its_words_allow(it_report: tuple[Report, object]) -> None:
    report, instructions = it_report
    text = render_report(report, instructions, colour=False, width=60)  # type: ignore[arg-type]
    for line in text.splitlines():
        assert len(line) <= 60 or " " not in line.strip(), line


def _scan_text(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *options: str,
) -> str:
    for name in ("NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # as on a terminal
    main(["scan", "--engine", "embedded", "--lang", "en", *options])
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("env", "options", "coloured"),
    [
        ({"TERM": "xterm-256color"}, (), True),
        ({"TERM": "xterm-256color", "NO_COLOR": "1"}, (), False),
        ({"TERM": "dumb"}, (), False),
        ({"TERM": "xterm-256color"}, ("--no-color",), False),
        ({"TERM": "dumb", "NO_COLOR": "1"}, ("--color", "always"), True),
    ],
    ids=["terminal", "NO_COLOR", "TERM=dumb", "--no-color", "forced"],
)
def test_scan_on_a_terminal_colours_only_where_wanted(
    env: dict[str, str],
    options: tuple[str, ...],
    coloured: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _scan_text(monkeypatch, capsys, env, *options)
    assert out.startswith("\033[1mStethoscope Desktop" if coloured else "Stethoscope Desktop")
    assert (ESCAPE in out) is coloured


MARKDOWN_ALPHABET = "*_`[]()<>!\\&#;-.1) :/\nab"


@given(st.text(alphabet=MARKDOWN_ALPHABET, max_size=300), st.integers(20, 120))
def test_any_markdown_renders_within_the_width_where_words_allow(text: str, width: int) -> None:
    lines = md(text, width=width, indent="  ")
    for line in lines:
        assert "\033" not in line
        assert len(line) <= width or " " not in line.strip(), line


@given(st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=12), max_size=60))
def test_plain_words_come_out_all_and_in_order(words: list[str]) -> None:
    text = " ".join(words)
    assert " ".join(md(text, width=30)).split() == words


def test_a_hostile_text_of_openers_only_renders_as_text() -> None:
    """Delimiters that never close are text (the renderer stays linear: inline_pieces)."""
    for opener in ("*a ", "_a ", "**a ", "[a ", "![a ", "<a "):
        text = opener * 5000  # about IT's longest resolution (20,000 characters)
        assert "".join(md(text, width=100)).replace(" ", "") == text.replace(" ", ""), opener


def _scan_on_a_terminal(env: dict[str, str]) -> str:
    """Run `scan` with its output on a real pseudo-terminal; return what it printed."""
    master, slave = os.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS")}
    process = subprocess.Popen(
        [sys.executable, "-m", "stethoscope_desktop", "scan", "--engine", "embedded", "--lang", "en"],
        stdout=slave, stderr=subprocess.DEVNULL, env={**environ, "COLUMNS": "70", **env},
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    os.close(slave)
    chunks = []
    try:
        while data := os.read(master, 65536):
            chunks.append(data)
    except OSError:  # EIO: the terminal's other side closed
        pass
    finally:
        os.close(master)
    process.wait(timeout=60)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_real_terminal_colour_follows_term_and_no_color_and_lines_its_width() -> None:
    coloured = _scan_on_a_terminal({"TERM": "xterm-256color"})
    assert coloured.startswith("\033[1mStethoscope Desktop")
    plain = _scan_on_a_terminal({"TERM": "dumb"})
    assert plain.startswith("Stethoscope Desktop") and ESCAPE not in plain
    assert ESCAPE not in _scan_on_a_terminal({"TERM": "xterm-256color", "NO_COLOR": "1"})
    assert max(len(line) for line in plain.splitlines() if " " in line.strip()) <= 70


def test_the_person_reads_core_summaries_and_the_details_come_on_request(
    it_report: tuple[Report, object],
) -> None:
    report, instructions = it_report
    plain = render_report(report, instructions, colour=False)  # type: ignore[arg-type]
    detailed = render_report(report, instructions, colour=False, details=True)  # type: ignore[arg-type]
    words, detailed_words = " ".join(plain.split()), " ".join(detailed.split())
    for practice in report.practices:
        assert practice.summary and practice.summary in words, practice.key
        assert practice.status_text in plain
        for detail in practice.details:
            assert " ".join(detail.split()) in detailed_words, detail
    assert "Check: " not in plain and "Check: " in detailed
    coloured = render_report(report, instructions, colour=True, details=True)  # type: ignore[arg-type]
    assert "\033[2mCheck: " in coloured


def test_its_file_problems_are_one_plain_line_and_each_one_with_details(tmp_path: Path) -> None:
    practices = loader_for(
        tmp_path, {"policy.yaml": "screenIdel: ALWAYS\nfirewall: ALWAYS\n"}
    ).load()
    report = scan(practices)
    assert report.policy_problems and report.policy_problems_summary
    plain = render_report(report, practices.instructions, colour=False)
    assert report.policy_problems_summary in " ".join(plain.split())
    assert "screenIdel" not in plain
    detailed = render_report(report, practices.instructions, colour=False, details=True)
    assert "screenIdel" in detailed


def test_the_heading_names_an_organization_only_where_config_names_one(
    it_report: tuple[Report, object],
) -> None:
    report, instructions = it_report
    unnamed = dataclasses.replace(report, organization="Your organization")
    first = render_report(unnamed, instructions, colour=False).splitlines()[0]  # type: ignore[arg-type]
    assert first == "Stethoscope Desktop"
    named = dataclasses.replace(report, organization="Acme Corp")
    first = render_report(named, instructions, colour=False).splitlines()[0]  # type: ignore[arg-type]
    assert first == "Stethoscope Desktop — Acme Corp"
