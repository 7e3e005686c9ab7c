r"""The installers put the osquery extension into osquery's autoload file, and take it out again.

`packaging/osquery-extension/autoload.sh` holds the editing: the Debian package's postinst and
prerm and the macOS package's postinstall and uninstall.sh source it. It runs here with sh (dash:
POSIX only, as macOS's /bin/sh must take it too) and bash, on files in a temporary folder; the
Debian maintainer scripts run whole on a private root through DPKG_ROOT (dpkg's own variable for
installing into another root), with stand-ins for dpkg-query and systemctl that record what
they are asked; macOS's uninstall.sh runs on a private root through UNINSTALL_ROOT. The Windows
installer's Pascal code cannot run here: its text is checked for the same rules.

osquery's rules these follow (osquery/extensions/extensions.cpp, filesystem/, process/): the
autoload file (--extensions_autoload; /etc/osquery/extensions.load on Linux,
/var/osquery/extensions.load on macOS, \Program Files\osquery\extensions.load on Windows) is
read when osqueryd starts, one path a line, trimmed, # and ; lines ignored; a path is started if
it ends in .ext (on Windows .exe; .ext there means a Python script), is owned by root (Windows:
Administrators or SYSTEM), executable, not writable by others, in a folder without the sticky
bit; osqueryd runs it with `[--verbose] --socket PATH --timeout S --interval S` (execve: a script
with a #! line runs).
"""

from __future__ import annotations

import os
import runpy
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AUTOLOAD_SH = ROOT / "packaging" / "osquery-extension" / "autoload.sh"
LAUNCHER = ROOT / "packaging" / "osquery-extension" / "stethoscope_desktop.ext.in"
POSTINST = ROOT / "packaging" / "linux" / "debian" / "postinst"
PRERM = ROOT / "packaging" / "linux" / "debian" / "prerm"
BUILD_DEB = ROOT / "packaging" / "linux" / "build-deb.sh"
BUILD_PKG = ROOT / "packaging" / "macos" / "build-pkg.sh"
POSTINSTALL = ROOT / "packaging" / "macos" / "scripts" / "postinstall"
UNINSTALL = ROOT / "packaging" / "macos" / "uninstall.sh"
ISS = ROOT / "packaging" / "windows" / "stethoscope-desktop.iss"
BUILD_INSTALLER = ROOT / "packaging" / "windows" / "build-installer.sh"
SPEC = ROOT / "packaging" / "stethoscope-desktop.spec"
WINDOWS_MAIN = ROOT / "packaging" / "windows" / "osquery_extension_main.py"

OURS = "/opt/stethoscope-desktop/osquery/stethoscope_desktop.ext"
STATE = "/var/lib/stethoscope-desktop/osquery-autoload"
SHELLS = [name for name in ("sh", "bash") if shutil.which(name)]

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="the POSIX installers' scripts run on Linux and macOS"
)


def _text(path: Path) -> str:
    """Return a file's text with its line ends as they are."""
    return path.read_bytes().decode("utf-8")


def _run(shell: str, script: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `script` with autoload.sh sourced; return its output, which ends with the change flag."""
    done = subprocess.run(
        [shell, "-c", f'. "$0"; {script}; echo "changed=$AUTOLOAD_CHANGED"', str(AUTOLOAD_SH), *args],
        capture_output=True, text=True, check=False, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _add(shell: str, file: Path, line: str = OURS) -> bool:
    return _run(shell, 'autoload_add "$1" "$2"', str(file), line).endswith("changed=yes\n")


def _remove(shell: str, file: Path, line: str = OURS) -> bool:
    return _run(shell, 'autoload_remove "$1" "$2"', str(file), line).endswith("changed=yes\n")


@pytest.mark.parametrize("shell", SHELLS)
def test_adding_makes_a_missing_file_and_folder(shell: str, tmp_path: Path) -> None:
    load = tmp_path / "etc" / "osquery" / "extensions.load"
    assert _add(shell, load)
    assert _text(load) == f"{OURS}\n"
    assert stat.S_IMODE(load.stat().st_mode) == 0o644
    assert stat.S_IMODE(load.parent.stat().st_mode) == 0o755
    assert not _add(shell, load)  # once
    assert _text(load) == f"{OURS}\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_adding_keeps_it_s_lines_and_the_file_s_mode(shell: str, tmp_path: Path) -> None:
    load = tmp_path / "extensions.load"
    # IT's file: a comment, a Windows line end, an extension, no newline at the end.
    its = "# IT's extensions\r\n/usr/lib/osquery/acme.ext\n; off: /opt/old.ext\n/opt/b.ext"
    load.write_text(its)
    load.chmod(0o640)
    assert _add(shell, load)
    assert _text(load) == f"{its}\n{OURS}\n"
    assert stat.S_IMODE(load.stat().st_mode) == 0o640
    assert not list(tmp_path.glob("*.stethoscope-new"))
    assert not _add(shell, load)
    # osquery trims each line: ours with spaces or a carriage return around it is ours.
    load.write_text(f"/opt/b.ext\n  {OURS} \r\n")
    assert not _add(shell, load)


@pytest.mark.parametrize("shell", SHELLS)
def test_removing_takes_out_only_our_line(shell: str, tmp_path: Path) -> None:
    load = tmp_path / "extensions.load"
    others = f"# {OURS}\n/usr/lib/osquery/acme.ext\n{OURS}.old\n"
    load.write_text(f"# {OURS}\n/usr/lib/osquery/acme.ext\n {OURS}\t\r\n{OURS}.old\n{OURS}\n")
    load.chmod(0o600)
    assert _remove(shell, load)
    assert _text(load) == others
    assert stat.S_IMODE(load.stat().st_mode) == 0o600
    assert not _remove(shell, load)
    assert _text(load) == others


@pytest.mark.parametrize("shell", SHELLS)
def test_removing_the_only_line_removes_the_file_and_a_missing_file_is_fine(
    shell: str, tmp_path: Path
) -> None:
    load = tmp_path / "osquery" / "extensions.load"
    assert not _remove(shell, load)
    assert _add(shell, load)
    assert _remove(shell, load)
    assert not load.exists() and load.parent.is_dir()


@pytest.mark.parametrize("shell", SHELLS)
def test_a_linked_autoload_file_is_written_through(shell: str, tmp_path: Path) -> None:
    target = tmp_path / "managed.load"
    target.write_text("/opt/a.ext\n")
    link = tmp_path / "extensions.load"
    link.symlink_to(target)
    assert _add(shell, link)
    assert link.is_symlink() and _text(target) == f"/opt/a.ext\n{OURS}\n"
    assert _remove(shell, link)
    assert link.is_symlink() and _text(target) == "/opt/a.ext\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_apply_moves_the_line_to_the_file_named_and_withdraw_takes_it_out(
    shell: str, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    first = root / "etc" / "osquery" / "extensions.load"
    second = root / "opt" / "orbit" / "osquery.load"
    second.parent.mkdir(parents=True)
    second.write_text("/opt/orbit/x.ext\n")
    apply = 'autoload_apply "$1" "$2" "$3" "$4"'
    assert _run(shell, apply, str(root), "/etc/osquery/extensions.load", OURS, STATE).endswith(
        "changed=yes\n"
    )
    assert _text(first) == f"{OURS}\n"
    assert (root / STATE.lstrip("/")).read_text() == "/etc/osquery/extensions.load\n"
    _run(shell, apply, str(root), "/opt/orbit/osquery.load", OURS, STATE)
    assert not first.exists()
    assert _text(second) == f"/opt/orbit/x.ext\n{OURS}\n"
    # Built without the option: the line goes, and so does the state.
    _run(shell, apply, str(root), "", OURS, STATE)
    assert _text(second) == "/opt/orbit/x.ext\n"
    assert not (root / STATE.lstrip("/")).exists()
    _run(shell, apply, str(root), "/opt/orbit/osquery.load", OURS, STATE)
    out = _run(shell, 'autoload_withdraw "$1" "$2" "$3"', str(root), OURS, STATE)
    assert out.endswith("changed=yes\n")
    assert _text(second) == "/opt/orbit/x.ext\n"
    assert not (root / STATE.lstrip("/")).exists()


def _stand_ins(folder: Path, log: Path, *, darwin: bool = False) -> dict[str, str]:
    """Stand-ins for systemctl, launchctl, uname and dpkg-query that record their calls."""
    folder.mkdir(exist_ok=True)
    scripts = {
        # osqueryd runs, fleetd's orbit does not.
        "systemctl": 'echo "systemctl $*" >>"$LOG"\n'
        'case "$*" in "is-active --quiet osqueryd.service") exit 0 ;; is-active*) exit 3 ;; esac',
        "launchctl": 'echo "launchctl $*" >>"$LOG"\n'
        'case "$*" in "print system/io.osquery.agent") exit 0 ;; print*) exit 113 ;; esac',
        "uname": f"echo {'Darwin' if darwin else 'Linux'}",
        "dpkg-query": 'printf "%s\\n" "dpkg-query $*" >>"$LOG"',
    }
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}", "LOG": str(log)}


def test_a_running_osqueryd_is_restarted_and_nothing_else_is_started(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    env = _stand_ins(tmp_path / "bin", log)
    (tmp_path / "systemd").mkdir()
    env["AUTOLOAD_SYSTEMD_DIR"] = str(tmp_path / "systemd")
    _run("sh", "autoload_restart_running", env=env)
    assert log.read_text().splitlines() == [
        "systemctl is-active --quiet osqueryd.service",
        "systemctl restart osqueryd.service",
        "systemctl is-active --quiet orbit.service",
    ]
    log.unlink()
    env = _stand_ins(tmp_path / "bin", log, darwin=True)
    _run("sh", "autoload_restart_running", env=env)
    assert log.read_text().splitlines() == [
        "launchctl print system/io.osquery.agent",
        "launchctl kickstart -k system/io.osquery.agent",
        "launchctl print system/com.fleetdm.orbit",
    ]


def _debian_root(tmp_path: Path, autoload_file: str | None) -> Path:
    """A private root with what the package installs for the maintainer scripts."""
    root = tmp_path / "root"
    folder = root / OURS.lstrip("/").rsplit("/", 1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(AUTOLOAD_SH, folder / "autoload.sh")
    marker = folder / "autoload-file"
    if autoload_file is None:
        marker.unlink(missing_ok=True)
    else:
        marker.write_text(f"{autoload_file}\n")
    return root


def _maintainer_script(script: Path, action: str, root: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", str(script), action, "0.1.0-1"], capture_output=True, text=True, check=False,
        timeout=60, env={**os.environ, **env, "DPKG_ROOT": str(root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_debian_maintainer_scripts_add_and_remove_exactly_our_line(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    env = _stand_ins(tmp_path / "bin", log)
    root = _debian_root(tmp_path, "/etc/osquery/extensions.load")
    load = root / "etc" / "osquery" / "extensions.load"
    load.parent.mkdir(parents=True)
    its = "# Example Corp\n/usr/lib/osquery/acme.ext\n"
    load.write_text(its)
    load.chmod(0o640)

    out = _maintainer_script(POSTINST, "configure", root, env)
    assert "osquery extension added to /etc/osquery/extensions.load" in out
    assert _text(load) == f"{its}{OURS}\n"
    assert stat.S_IMODE(load.stat().st_mode) == 0o640
    _maintainer_script(POSTINST, "configure", root, env)  # a reconfigure: still once
    assert _text(load) == f"{its}{OURS}\n"
    _maintainer_script(PRERM, "upgrade", root, env)  # the new postinst decides
    assert _text(load) == f"{its}{OURS}\n"
    _maintainer_script(PRERM, "remove", root, env)
    assert _text(load) == its
    assert not (root / "var" / "lib" / "stethoscope-desktop").exists()
    # In a private root nothing is restarted; postinst asked dpkg about its conffiles only.
    calls = log.read_text().splitlines()
    assert calls == ["dpkg-query -W -f=${Conffiles}\\n stethoscope-desktop"] * 2

    # A revision built without the option takes out the line an earlier one added.
    _maintainer_script(POSTINST, "configure", root, env)
    root = _debian_root(tmp_path, None)
    _maintainer_script(POSTINST, "configure", root, env)
    assert _text(load) == its
    # And with none added, removal leaves IT's file alone.
    _maintainer_script(PRERM, "remove", root, env)
    assert _text(load) == its


def test_the_debian_scripts_make_the_file_when_osquery_is_not_installed_yet(
    tmp_path: Path,
) -> None:
    env = _stand_ins(tmp_path / "bin", tmp_path / "calls")
    root = _debian_root(tmp_path, "/etc/osquery/extensions.load")
    _maintainer_script(POSTINST, "configure", root, env)
    load = root / "etc" / "osquery" / "extensions.load"
    assert _text(load) == f"{OURS}\n"
    _maintainer_script(PRERM, "remove", root, env)
    assert not load.exists()


def test_the_launcher_passes_osqueryd_s_flags_to_the_command(tmp_path: Path) -> None:
    program = tmp_path / "stethoscope-desktop"
    program.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    program.chmod(0o755)
    launcher = tmp_path / "stethoscope_desktop.ext"
    launcher.write_text(LAUNCHER.read_text().replace("@PROGRAM@", str(program)))
    launcher.chmod(0o755)
    argv = ["--verbose", "--socket", "/var/osquery/osquery.em", "--timeout", "3", "--interval", "3"]
    done = subprocess.run([str(launcher), *argv], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["osquery-extension", *argv]
    assert "@PROGRAM@" in LAUNCHER.read_text()


def test_the_deb_build_installs_the_launcher_and_names_the_file_only_with_the_option() -> None:
    text = BUILD_DEB.read_text()
    assert 'osquery_autoload="${osquery_autoload:-/etc/osquery/extensions.load}"' in text
    assert (
        'install -D -m 0755 "$work/stethoscope_desktop.ext" "$folder/stethoscope_desktop.ext"'
        in text
    )
    assert 'if [ -n "$osquery_autoload" ]; then' in text
    assert '"$HERE/debian/prerm"' in text
    # The launcher lands where the maintainer scripts look for it.
    assert "PREFIX=/opt/stethoscope-desktop" in text and 'folder="$root$PREFIX/osquery"' in text
    for script in (POSTINST, PRERM):
        assert f"OSQUERY_FOLDER={OURS.rsplit('/', 1)[0]}" in script.read_text()


def test_the_macos_package_installs_the_launcher_and_the_uninstaller() -> None:
    build = BUILD_PKG.read_text()
    assert "${osquery_autoload:-/var/osquery/extensions.load}" in build
    assert '"$work/scripts/osquery-autoload-file"' in build
    assert "/Applications/Stethoscope.app/Contents/MacOS/stethoscope-desktop" in build
    post = POSTINSTALL.read_text()
    # root:wheel and 0755 as osqueryd requires, in /opt (root's, never a user's).
    assert (
        'install -o root -g wheel -m 0755 "$HERE/stethoscope_desktop.ext" '
        '"$OSQUERY_FOLDER/stethoscope_desktop.ext"' in post
    )
    assert "OPT=/opt/stethoscope-desktop" in post and 'OSQUERY_FOLDER="$OPT/osquery"' in post
    assert 'autoload_apply "" "$target" "$OSQUERY_FOLDER/stethoscope_desktop.ext" ' \
        '"$OSQUERY_FOLDER/added-to"' in post  # fmt: skip
    assert '"$HERE/osquery-autoload-file"' in post
    # The uninstaller reads the same state and takes out the same line.
    uninstall = UNINSTALL.read_text()
    assert 'autoload_withdraw "$ROOT" "$OSQUERY_FOLDER/stethoscope_desktop.ext" ' \
        '"$OSQUERY_FOLDER/added-to"' in uninstall  # fmt: skip
    subprocess.run(["bash", "-n", str(POSTINSTALL)], check=True)
    subprocess.run(["bash", "-n", str(BUILD_PKG)], check=True)


@pytest.mark.parametrize("keep", [False, True])
def test_the_macos_uninstaller_undoes_the_package(tmp_path: Path, keep: bool) -> None:
    root = tmp_path / "root"
    osquery = root / "opt" / "stethoscope-desktop" / "osquery"
    osquery.mkdir(parents=True)
    shutil.copy(AUTOLOAD_SH, osquery / "autoload.sh")
    (osquery / "added-to").write_text("/var/osquery/extensions.load\n")
    load = root / "var" / "osquery" / "extensions.load"
    load.parent.mkdir(parents=True)
    load.write_text(f"/opt/acme/acme.ext\n{OURS}\n")
    agent = root / "Users" / "alice" / "Library" / "LaunchAgents" / "com.stethoscope.desktop.plist"
    agent.parent.mkdir(parents=True)
    agent.write_text("<plist/>")
    other_agent = agent.parent / "com.example.other.plist"
    other_agent.write_text("<plist/>")
    app = root / "Applications" / "Stethoscope.app" / "Contents" / "MacOS"
    app.mkdir(parents=True)
    it_folder = root / "Library" / "Application Support" / "stethoscope"
    it_folder.mkdir(parents=True)
    (it_folder / "policy.yaml").write_text("firewall: ALWAYS\n")
    mine = root / "Users" / "alice" / "Library" / "Application Support" / "stethoscope"
    mine.mkdir(parents=True)
    (mine / "last-report.json").write_text("{}")
    done = subprocess.run(
        ["bash", str(UNINSTALL), *(["--keep-it-files"] if keep else [])],
        capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, "UNINSTALL_ROOT": str(root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _text(load) == "/opt/acme/acme.ext\n"
    assert not agent.exists() and other_agent.exists()
    assert not (root / "Applications" / "Stethoscope.app").exists()
    assert not (root / "opt" / "stethoscope-desktop").exists()
    assert it_folder.exists() is keep
    assert (mine / "last-report.json").exists()


def test_the_windows_installer_edits_the_autoload_file_as_osquery_reads_it() -> None:
    iss = ISS.read_text()
    assert '#define ExtensionProgram "stethoscope_desktop.ext.exe"' in iss
    # Built without the option, nothing is added unless /OSQUERYAUTOLOAD= names a file.
    assert '#define OsqueryAutoload ""' in iss
    assert "ExpandConstant('{param:OSQUERYAUTOLOAD|*}')" in iss
    # A line is ours when equal to the program's path after trimming, case ignored.
    assert "CompareText(Trim(Text), AutoloadLine) = 0" in iss
    # No byte order mark, which osqueryd would read as part of the first path.
    assert "SaveStringsToUTF8FileWithoutBOM(FileName, Lines, False)" in iss
    assert "SaveStringsToUTF8FileWithoutBOM(FileName, Kept, False)" in iss
    assert "SaveStringsToFile(" not in iss and "SaveStringsToUTF8File(" not in iss
    assert "ForceDirectories(ExtractFileDir(FileName))" in iss
    # Taken out before the files go, and the state is kept where uninstall finds it.
    assert "if CurUninstallStep = usUninstall then\n    WithdrawOsqueryAutoload;" in iss
    assert "RegWriteStringValue(HKLM, AutoloadStateKey, AutoloadStateValue, Target)" in iss
    # Only a running service is restarted: osquery's and fleetd's.
    assert "''osqueryd'', ''Fleet osquery''" in iss and "Status -eq ''Running''" in iss
    # Owned by Administrators, as osqueryd requires of an extension.
    assert '"""{app}\\{#ExtensionProgram}"" /setowner *S-1-5-32-544"' in iss
    assert 'Parameters: "/F /IM {#ExtensionProgram}"' in iss
    build = BUILD_INSTALLER.read_text()
    assert "DEFAULT_OSQUERY_AUTOLOAD='{commonpf64}\\osquery\\extensions.load'" in build
    assert 'osquery_define=("-DOsqueryAutoload=$osquery_autoload")' in build
    assert '"${osquery_define[@]+"${osquery_define[@]}"}"' in build
    subprocess.run(["bash", "-n", str(BUILD_INSTALLER)], check=True)
    # The frozen app's third program has the name the installer uses.
    assert 'name="stethoscope_desktop.ext.exe"' in SPEC.read_text()


def test_the_windows_extension_program_runs_the_osquery_extension_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import stethoscope_desktop.cli

    calls: list[list[str]] = []

    def main(argv: list[str]) -> int:
        calls.append(argv)
        return 0

    monkeypatch.setattr(stethoscope_desktop.cli, "main", main)
    monkeypatch.setattr(sys, "argv", ["stethoscope_desktop.ext.exe", "--socket", r"\\.\pipe\x"])
    with pytest.raises(SystemExit) as exit_code:
        runpy.run_path(str(WINDOWS_MAIN), run_name="__main__")
    assert exit_code.value.code == 0
    assert calls == [["osquery-extension", "--socket", r"\\.\pipe\x"]]
