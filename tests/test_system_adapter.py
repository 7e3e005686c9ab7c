"""The machine adapter tables use: argv commands with timeout, bounded output and LC_ALL=C."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stethoscope_desktop.tables.system import CommandError, LocalSystem

PYTHON = sys.executable


def test_commands_run_as_argv_without_a_shell_and_with_lc_all_c() -> None:
    system = LocalSystem(env={"PATH": "/usr/bin:/bin", "LC_ALL": "de_DE.UTF-8"})
    result = system.run(
        [PYTHON, "-c", "import os,sys; print(os.environ['LC_ALL'], sys.argv[1])", "$HOME;ls"]
    )
    assert result.ok
    assert result.stdout.strip() == "C $HOME;ls"


def test_exit_status_and_stderr_are_reported() -> None:
    result = LocalSystem().run([PYTHON, "-c", "import sys; sys.stderr.write('nope'); sys.exit(3)"])
    assert (result.returncode, result.stderr, result.ok) == (3, "nope", False)


def test_a_hanging_command_is_killed_at_its_timeout() -> None:
    with pytest.raises(CommandError, match=r"timed out after 0.3 s"):
        LocalSystem().run([PYTHON, "-c", "import time; time.sleep(30)"], timeout=0.3)


def test_output_beyond_the_limit_is_refused() -> None:
    system = LocalSystem(output_limit=1000)
    with pytest.raises(CommandError, match="printed more than 1000 bytes"):
        system.run([PYTHON, "-c", "print('x' * 5000)"])


def test_a_missing_program_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no-such-tool: not installed"):
        LocalSystem().run(["no-such-tool", "--version"])


def test_files_are_read_through_the_root_and_bounded(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("ID=debian\n" + "x" * 100)
    system = LocalSystem(root=tmp_path)
    assert system.read_text("/etc/os-release", limit=9) == "ID=debian"
    assert system.exists("/etc/os-release") and system.is_dir("/etc")
    assert system.list_dir("/etc") == ["os-release"]
    with pytest.raises(OSError):
        system.read_text("/etc/shadow")
