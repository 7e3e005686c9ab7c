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


def _fake_root_with_links(root: Path) -> None:
    """A root whose links point the way real systems' do: absolute, relative, up and around."""
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system/dnf-automatic.timer").write_text("[Timer]\n")
    (root / "usr/lib/os-release").write_text("ID=fedora\n")
    wants = root / "etc/systemd/system/timers.target.wants"
    wants.mkdir(parents=True)
    # As `systemctl enable` and Fedora's package make them: absolute targets.
    (wants / "dnf-automatic.timer").symlink_to("/usr/lib/systemd/system/dnf-automatic.timer")
    (root / "etc/os-release").symlink_to("/usr/lib/os-release")
    (root / "etc/relative-os-release").symlink_to("../usr/lib/os-release")
    (root / "etc/above-the-root").symlink_to("../../../../../../../../usr/lib/os-release")
    (root / "etc/lib").symlink_to("/usr/lib")
    (root / "etc/loop-a").symlink_to("/etc/loop-b")
    (root / "etc/loop-b").symlink_to("/etc/loop-a")
    (root / "etc/machine-file").symlink_to("/etc/hostname")  # the root has none


def test_links_in_a_fake_root_resolve_inside_it_as_in_a_chroot(tmp_path: Path) -> None:
    _fake_root_with_links(tmp_path)
    system = LocalSystem(root=tmp_path)
    assert system.read_text("/etc/os-release") == "ID=fedora\n"
    assert system.read_text("/etc/relative-os-release") == "ID=fedora\n"
    assert system.read_text("/etc/above-the-root") == "ID=fedora\n"  # `..` stops at the root
    assert system.read_text("/etc/lib/os-release") == "ID=fedora\n"  # a link on the way
    timer = "/etc/systemd/system/timers.target.wants/dnf-automatic.timer"
    assert system.exists(timer) and system.stat(timer).is_regular
    assert system.stat(timer, follow_symlinks=False).is_symlink
    assert system.read_link(timer) == "/usr/lib/systemd/system/dnf-automatic.timer"
    assert system.list_dir("/etc/lib") == ["os-release", "systemd"]
    assert system.is_dir("/etc/lib/") and system.stat("/etc/lib/").is_dir


def test_a_fake_roots_link_never_reaches_this_machines_files(tmp_path: Path) -> None:
    # /etc/hostname exists on this machine (and on any Linux machine running the tests); the
    # root has none, so its link to it is dangling there, as it would be on the machine it
    # stands for.
    _fake_root_with_links(tmp_path)
    system = LocalSystem(root=tmp_path)
    assert not system.exists("/etc/machine-file")
    with pytest.raises(FileNotFoundError):
        system.read_text("/etc/machine-file")
    assert system.stat("/etc/machine-file", follow_symlinks=False).is_symlink
    with pytest.raises(OSError):
        system.read_text("/etc/loop-a")
    assert not system.exists("/etc/loop-a") and not system.is_dir("/etc/loop-a")
