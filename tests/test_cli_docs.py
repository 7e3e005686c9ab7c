"""The man page and the shell completions: written from the parser, shipped, never stale.

The files in packaging/linux/cli/ must be what `python -m stethoscope_desktop.cli_docs` writes
now; bash completes from the real script; zsh and fish check its syntax (fish completes too)
where they are installed (`make test` installs them on Debian as root; with CI=true on Linux a
missing tool fails instead of skipping).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stethoscope_desktop.cli import EXIT_STATUS, EXIT_USAGE, _parser
from stethoscope_desktop.cli_docs import (
    FILE_NAMES,
    WRITERS,
    bash_completion,
    commands,
    fish_completion,
    man_page,
    zsh_completion,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "packaging" / "linux" / "cli"
# The commands --help lists, in its order.
COMMANDS = [
    "scan",
    "serve",
    "check-policy",
    "convert-instructions",
    "import-fleet",
    "device-key",
    "verify-token",
    "osquery-extension",
]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make test installs it on Debian as root)"
        if os.environ.get("CI") == "true" and sys.platform.startswith("linux"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_the_shipped_file_is_what_the_parser_writes_now(kind: str) -> None:
    shipped = (SHIPPED / FILE_NAMES[kind]).read_text(encoding="utf-8")
    assert shipped == WRITERS[kind](), (
        f"packaging/linux/cli/{FILE_NAMES[kind]} is stale: run "
        "`PYTHONPATH=. python -m stethoscope_desktop.cli_docs packaging/linux/cli`"
    )


def test_every_command_and_option_the_help_lists_is_in_every_file() -> None:
    listed = commands()
    assert [c.name for c in listed] == ["", *COMMANDS]
    texts = {kind: write() for kind, write in WRITERS.items()}
    for command in listed[1:]:
        for kind, text in texts.items():
            name = command.name.replace("-", "\\-") if kind == "man" else command.name
            assert name in text, (kind, command.name)
    for command in listed:
        for option in command.options:
            long_name = option.names[-1]
            assert long_name.replace("-", "\\-") in texts["man"], long_name
            assert long_name in texts["bash"] and long_name in texts["zsh"], long_name
            assert f"-l {long_name[2:]}" in texts["fish"], long_name
    for text in texts.values():
        assert "worker" not in text and "api-fd" not in text and "SUPPRESS" not in text


def test_a_new_option_of_the_parser_reaches_every_file() -> None:
    parser = _parser()
    scan = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ).choices["scan"]
    scan.add_argument("--brand-new", choices=("one", "two"), help="a new option")
    assert "\\-\\-brand\\-new" in man_page(parser)
    assert "--brand-new) COMPREPLY=($(compgen -W 'one two'" in bash_completion(parser)
    assert "--brand-new[a new option]:BRAND_NEW:(one two)" in zsh_completion(parser)
    assert "-l brand-new -x -a 'one two' -d 'a new option'" in fish_completion(parser)


def test_the_man_page_has_every_exit_code_and_renders_without_warnings(tmp_path: Path) -> None:
    page = man_page()
    section = page[page.index(".SH EXIT STATUS") : page.index(".SH ENVIRONMENT")]
    for codes in EXIT_STATUS.values():
        for code, _ in codes:
            assert f"\\fB{code}\\fR" in section
    assert f"\\fB{EXIT_USAGE}\\fR" in section
    assert all(ord(character) < 128 for character in page)
    groff = _tool("groff")
    path = tmp_path / "page.1"
    path.write_text(page, encoding="ascii")
    rendered = subprocess.run(
        [groff, "-man", "-Tutf8", "-ww", "-P-cbou", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0 and not rendered.stderr, rendered.stderr
    assert "EXIT STATUS" in rendered.stdout and "NO_COLOR" in rendered.stdout


def _bash_complete(*words: str) -> list[str]:
    script = SHIPPED / FILE_NAMES["bash"]
    quoted = " ".join(f"'{word}'" for word in words)
    code = (
        f"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1));"
        ' _stethoscope_desktop; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", code],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return done.stdout.split()


def test_bash_completes_commands_options_choices_and_files(tmp_path: Path) -> None:
    _tool("bash")
    assert _bash_complete("stethoscope-desktop", "") == COMMANDS
    assert _bash_complete("stethoscope-desktop", "wor") == []  # the worker is the tray's own
    assert _bash_complete("stethoscope-desktop", "scan", "--c") == ["--color"]
    assert _bash_complete("stethoscope-desktop", "--engine", "embedded", "sc") == ["scan"]
    assert _bash_complete("stethoscope-desktop", "scan", "--engine", "") == [
        "auto", "embedded", "osquery",
    ]  # fmt: skip
    (tmp_path / "policy.yaml").touch()
    assert _bash_complete("stethoscope-desktop", "check-policy", f"{tmp_path}/pol") == [
        f"{tmp_path}/policy.yaml"
    ]


def test_zsh_reads_its_completion(tmp_path: Path) -> None:
    zsh = _tool("zsh")
    path = SHIPPED / FILE_NAMES["zsh"]
    assert subprocess.run([zsh, "-n", str(path)], capture_output=True, check=False).returncode == 0
    code = (
        f"fpath=('{SHIPPED}' $fpath); autoload -Uz compinit; compinit -u -d '{tmp_path}/dump';"
        " print -r -- $_comps[stethoscope-desktop]"
    )
    done = subprocess.run(
        [zsh, "-f", "-c", code], capture_output=True, text=True, check=False, timeout=30
    )
    assert done.stdout.strip() == "_stethoscope-desktop", done.stderr


def test_fish_completes_commands_and_choices() -> None:
    fish = _tool("fish")
    path = SHIPPED / FILE_NAMES["fish"]

    def complete(line: str) -> list[str]:
        done = subprocess.run(
            [fish, "--no-config", "-c", f"source '{path}'; complete -C '{line}'"],
            capture_output=True, text=True, check=True, timeout=30,
        )  # fmt: skip
        return sorted(entry.split("\t")[0] for entry in done.stdout.splitlines())

    assert complete("stethoscope-desktop ") == sorted(COMMANDS)
    assert complete("stethoscope-desktop import-fleet --platform ") == [
        "all", "darwin", "linux", "windows",
    ]  # fmt: skip
    assert "--json" in complete("stethoscope-desktop scan --")
