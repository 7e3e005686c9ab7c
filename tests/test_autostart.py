"""Starting at login: XDG Desktop Entries, the macOS LaunchAgent, the Windows Run key, the factory."""

from __future__ import annotations

import configparser
import os
import plistlib
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stethoscope_desktop.autostart import app_command, create_autostart
from stethoscope_desktop.autostart.abc import (
    Autostart,
    AutostartError,
    NullAutostart,
    display_path,
)
from stethoscope_desktop.autostart.linux import (
    LinuxAutostart,
    escape_string_value,
    exec_value,
    quote_exec_argument,
    xdg_config_dirs,
    xdg_config_home,
)
from stethoscope_desktop.autostart.macos import MacAutostart
from stethoscope_desktop.autostart.windows import (
    RUN_KEY,
    VALUE_NAME,
    WindowsAutostart,
    WinregAccess,
    command_line,
)

COMMAND = ["/opt/stethoscope/bin/stethoscope-desktop", "--tray"]
NASTY_ARGUMENTS = [
    "plain",
    "with space",
    'double"quote',
    "single'quote",
    "back\\slash",
    "trailing\\",
    "dollar$HOME",
    "${HOME}",
    "tick`id`",
    "percent%u",
    "100%",
    "%%",
    "",
    "tab\there",
    "new\nline",
    "~tilde",
    "a;b|c&d",
    "(x)*?#<>",
    " leading space",
    "=equals",
    "ünïcödé",
    '\\"',
    "\\\\$",
]


# --- Desktop Entry Exec quoting -----------------------------------------------------------------


def parse_exec(value: str) -> list[str]:
    """Read an Exec value back as the Desktop Entry spec says, independently of the module."""
    string_escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    unescaped, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in string_escapes:
            unescaped.append(string_escapes[value[i + 1]])
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text = "".join(unescaped)
    arguments: list[str] = []
    current: list[str] | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == " ":
            if current is not None:
                arguments.append("".join(current))
                current = None
            i += 1
        elif char == '"':
            current = current if current is not None else []
            i += 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '"`$\\':
                    i += 1
                current.append(text[i])
                i += 1
            i += 1
        else:
            assert char not in "\"'\\><~|&;$*?#()`\t\n", f"unquoted reserved {char!r} in {text!r}"
            current = current if current is not None else []
            current.append(char)
            i += 1
    if current is not None:
        arguments.append("".join(current))
    # Field codes are expanded after unquoting; the only one we may produce is %%.
    for argument in arguments:
        assert "%" not in argument.replace("%%", ""), f"stray field code in {argument!r}"
    return [argument.replace("%%", "%") for argument in arguments]


@pytest.mark.parametrize(
    ("argument", "quoted"),
    [
        ("stethoscope-desktop", "stethoscope-desktop"),
        ("/usr/bin/python3", "/usr/bin/python3"),
        ("with space", '"with space"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("it's", '"it\'s"'),
        ("C:\\dir", '"C:\\\\dir"'),
        ("$HOME", '"\\$HOME"'),
        ("`id`", '"\\`id\\`"'),
        ("50%", "50%%"),
        ("50% off", '"50%% off"'),
        ("~", '"~"'),
        ("", '""'),
    ],
)
def test_arguments_are_quoted_as_the_desktop_entry_spec_says(argument: str, quoted: str) -> None:
    assert quote_exec_argument(argument) == quoted


def test_string_escapes_come_after_quoting() -> None:
    # The spec: a literal backslash in a quoted argument is four backslashes in the file,
    # a literal dollar sign is \\$.
    assert exec_value(["a\\b c"]) == '"a\\\\\\\\b c"'
    assert exec_value(["$x"]) == '"\\\\$x"'
    assert exec_value(["tab\there", "new\nline"]) == '"tab\\there" "new\\nline"'
    assert exec_value([" lead"]) == '" lead"'
    assert escape_string_value(" lead") == "\\slead"


@pytest.mark.parametrize("argument", NASTY_ARGUMENTS)
def test_every_argument_reads_back_unchanged(argument: str) -> None:
    argv = ["/opt/My Apps/stethoscope", argument, "--last"]
    assert parse_exec(exec_value(argv)) == argv


def test_control_characters_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="control characters"):
        exec_value(["bell\x07"])
    autostart = LinuxAutostart(["app", "bell\x07"], config_home=tmp_path, system_dirs=[])
    with pytest.raises(AutostartError, match=r"stethoscope-desktop\.desktop"):
        autostart.enable()
    assert not autostart.path.exists()


# --- Linux: XDG autostart -----------------------------------------------------------------------


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


def write_system_entry(folder: Path, extra: str = "") -> Path:
    path = folder / "autostart" / "stethoscope-desktop.desktop"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[Desktop Entry]\nType=Application\nName=Stethoscope\nExec=stethoscope-desktop\n" + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".config"


@pytest.fixture
def system_dir(tmp_path: Path) -> Path:
    return tmp_path / "etc" / "xdg"


@pytest.fixture
def linux(config_home: Path, system_dir: Path) -> LinuxAutostart:
    return LinuxAutostart(COMMAND, config_home=config_home, system_dirs=[system_dir])


def test_enable_writes_a_valid_desktop_entry(linux: LinuxAutostart, config_home: Path) -> None:
    assert not linux.is_enabled()
    linux.enable()
    assert linux.path == config_home / "autostart" / "stethoscope-desktop.desktop"
    entry = read_entry(linux.path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Stethoscope"
    assert entry["Comment"]
    assert parse_exec(entry["Exec"]) == COMMAND
    assert entry["Icon"] == "stethoscope-desktop"
    assert entry["Terminal"] == "false"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Categories"] == "System;Security;"
    assert entry["X-Stethoscope-Managed"] == "true"
    assert "Hidden" not in entry
    assert linux.is_enabled()


def test_disable_removes_our_file(linux: LinuxAutostart) -> None:
    linux.enable()
    linux.disable()
    assert not linux.path.exists()
    assert not linux.is_enabled()
    linux.disable()  # nothing to do the second time
    assert not linux.path.exists()


def test_enable_twice_is_harmless_and_refreshes_the_command(
    config_home: Path, system_dir: Path
) -> None:
    LinuxAutostart(["/old/place/stethoscope"], config_home=config_home, system_dirs=[]).enable()
    moved = LinuxAutostart(COMMAND, config_home=config_home, system_dirs=[system_dir])
    moved.enable()
    moved.enable()
    assert parse_exec(read_entry(moved.path)["Exec"]) == COMMAND
    assert [p.name for p in moved.path.parent.iterdir()] == ["stethoscope-desktop.desktop"]


def test_a_system_entry_is_hidden_by_a_user_override_and_shown_again(
    linux: LinuxAutostart, system_dir: Path
) -> None:
    system_file = write_system_entry(system_dir)
    system_text = system_file.read_text(encoding="utf-8")
    assert linux.is_enabled()

    linux.disable()
    override = read_entry(linux.path)
    assert override["Hidden"] == "true"
    assert override["X-Stethoscope-Managed"] == "true"
    assert not linux.is_enabled()

    linux.enable()
    assert not linux.path.exists()
    assert linux.is_enabled()
    assert system_file.read_text(encoding="utf-8") == system_text


def test_enabling_over_a_switched_off_system_entry_writes_our_own(
    linux: LinuxAutostart, system_dir: Path
) -> None:
    write_system_entry(system_dir, "X-GNOME-Autostart-enabled=false\n")
    assert not linux.is_enabled()
    linux.enable()
    assert read_entry(linux.path).get("Hidden") is None
    assert linux.is_enabled()
    linux.disable()
    assert not linux.path.exists()
    assert not linux.is_enabled()


def test_the_first_system_folder_wins(config_home: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_system_entry(first, "Hidden=true\n")
    write_system_entry(second)
    autostart = LinuxAutostart(COMMAND, config_home=config_home, system_dirs=[first, second])
    assert not autostart.is_enabled()


def test_a_users_own_file_is_never_overwritten(linux: LinuxAutostart) -> None:
    linux.path.parent.mkdir(parents=True)
    own = "[Desktop Entry]\nType=Application\nName=My Stethoscope\nExec=stethoscope-desktop --my-flag\n"
    linux.path.write_text(own, encoding="utf-8")
    assert linux.is_enabled()

    linux.enable()
    assert linux.path.read_text(encoding="utf-8") == own

    with pytest.raises(AutostartError, match=r"stethoscope-desktop\.desktop was not written by"):
        linux.disable()
    assert linux.path.read_text(encoding="utf-8") == own
    assert linux.is_enabled()


@pytest.mark.parametrize("switch_off", ["Hidden=true", "X-GNOME-Autostart-enabled=false"])
def test_a_users_own_switched_off_file_is_left_alone(
    linux: LinuxAutostart, system_dir: Path, switch_off: str
) -> None:
    write_system_entry(system_dir)
    linux.path.parent.mkdir(parents=True)
    own = f"[Desktop Entry]\nType=Application\nName=Stethoscope\nExec=x\n{switch_off}\n"
    linux.path.write_text(own, encoding="utf-8")
    assert not linux.is_enabled()

    with pytest.raises(AutostartError, match="remove that file"):
        linux.enable()
    linux.disable()
    assert linux.path.read_text(encoding="utf-8") == own
    assert not linux.is_enabled()


def test_keys_outside_the_desktop_entry_group_do_not_count(linux: LinuxAutostart) -> None:
    linux.path.parent.mkdir(parents=True)
    linux.path.write_text(
        "# Hidden=true\n[Desktop Entry]\nType=Application\nExec=x\n"
        "X-Stethoscope-Managed = true\n[Desktop Action x]\nHidden=true\n",
        encoding="utf-8",
    )
    assert linux.is_enabled()
    linux.disable()  # ours (spaces around = are allowed), so it may be removed
    assert not linux.path.exists()


def test_a_failed_write_names_the_file(config_home: Path) -> None:
    config_home.mkdir(parents=True)
    (config_home / "autostart").write_text("a file where the folder should be", encoding="utf-8")
    autostart = LinuxAutostart(COMMAND, config_home=config_home, system_dirs=[])
    with pytest.raises(AutostartError, match=r"cannot write .*stethoscope-desktop\.desktop"):
        autostart.enable()


@pytest.mark.allow_warnings
def test_an_unreadable_file_is_not_enabled_and_cannot_be_switched(linux: LinuxAutostart) -> None:
    linux.path.mkdir(parents=True)  # a folder where the file should be
    assert not linux.is_enabled()
    with pytest.raises(AutostartError, match=r"cannot read .*stethoscope-desktop\.desktop"):
        linux.enable()


def test_description_is_the_users_file() -> None:
    autostart = LinuxAutostart(COMMAND, config_home=Path.home() / ".config", system_dirs=[])
    assert autostart.description == "~/.config/autostart/stethoscope-desktop.desktop"


def test_xdg_folders_follow_the_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert xdg_config_home({}, home) == home / ".config"
    assert xdg_config_home({"XDG_CONFIG_HOME": "relative/cfg"}, home) == home / ".config"
    assert xdg_config_home({"XDG_CONFIG_HOME": "/cfg"}, home) == Path("/cfg")
    assert xdg_config_dirs({}) == [Path("/etc/xdg")]
    assert xdg_config_dirs({"XDG_CONFIG_DIRS": ""}) == [Path("/etc/xdg")]
    assert xdg_config_dirs({"XDG_CONFIG_DIRS": "/a:rel:/b"}) == [Path("/a"), Path("/b")]


def test_an_empty_command_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exec_command"):
        LinuxAutostart([], config_home=tmp_path, system_dirs=[])


# --- macOS: LaunchAgent -------------------------------------------------------------------------


@pytest.fixture
def mac(tmp_path: Path) -> MacAutostart:
    return MacAutostart(tmp_path, ["/Applications/Stethoscope.app/Contents/MacOS/Stethoscope"])


def test_the_launch_agent_round_trips_through_plistlib(mac: MacAutostart, tmp_path: Path) -> None:
    assert not mac.is_enabled()
    mac.enable()
    path = tmp_path / "Library" / "LaunchAgents" / "com.stethoscope.desktop.plist"
    assert mac.path == path
    with path.open("rb") as file:
        agent = plistlib.load(file)
    assert agent == {
        "Label": "com.stethoscope.desktop",
        "ProgramArguments": ["/Applications/Stethoscope.app/Contents/MacOS/Stethoscope"],
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    assert path.read_bytes().startswith(b"<?xml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert mac.is_enabled()
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_the_launch_agent_is_removed(mac: MacAutostart) -> None:
    mac.enable()
    mac.disable()
    assert not mac.path.exists()
    assert not mac.is_enabled()
    mac.disable()


def test_the_mac_description_is_under_the_home(mac: MacAutostart) -> None:
    assert mac.description == "~/Library/LaunchAgents/com.stethoscope.desktop.plist"


def test_a_disabled_agent_is_not_enabled(mac: MacAutostart) -> None:
    mac.path.parent.mkdir(parents=True)
    mac.path.write_bytes(plistlib.dumps({**mac.agent(), "Disabled": True}))
    assert not mac.is_enabled()


@pytest.mark.allow_warnings
def test_a_broken_agent_is_not_enabled(mac: MacAutostart) -> None:
    mac.path.parent.mkdir(parents=True)
    mac.path.write_bytes(b"<?xml version='1.0'?><plist><dict><key>Label")
    assert not mac.is_enabled()
    mac.enable()
    assert mac.is_enabled()


def test_a_failed_agent_write_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "Library").write_text("not a folder", encoding="utf-8")
    with pytest.raises(AutostartError, match=r"com\.stethoscope\.desktop\.plist"):
        MacAutostart(tmp_path, ["/x"]).enable()


# --- Windows: the Run key -----------------------------------------------------------------------


class FakeRegistry:
    """HKCU as a dictionary of (key, value name) -> string; `fail` makes every call raise."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}
        self.fail: OSError | None = None

    def get_string(self, key: str, name: str) -> str | None:
        if self.fail:
            raise self.fail
        return self.values.get((key, name))

    def set_string(self, key: str, name: str, value: str) -> None:
        if self.fail:
            raise self.fail
        self.values[(key, name)] = value

    def delete_value(self, key: str, name: str) -> None:
        if self.fail:
            raise self.fail
        self.values.pop((key, name), None)


WINDOWS_COMMAND = [r"C:\Program Files\Stethoscope\Stethoscope.exe", "--tray"]


def test_the_run_value_holds_the_quoted_command_line() -> None:
    registry = FakeRegistry()
    autostart = WindowsAutostart(WINDOWS_COMMAND, registry)
    assert not autostart.is_enabled()
    autostart.enable()
    assert registry.values == {
        (r"Software\Microsoft\Windows\CurrentVersion\Run", "Stethoscope"): (
            r'"C:\Program Files\Stethoscope\Stethoscope.exe" --tray'
        )
    }
    assert autostart.is_enabled()
    autostart.disable()
    assert registry.values == {}
    assert not autostart.is_enabled()
    autostart.disable()


def test_other_run_values_are_untouched() -> None:
    registry = FakeRegistry()
    registry.values[(RUN_KEY, "OneDrive")] = "onedrive.exe /background"
    autostart = WindowsAutostart(WINDOWS_COMMAND, registry)
    autostart.enable()
    autostart.disable()
    assert registry.values == {(RUN_KEY, "OneDrive"): "onedrive.exe /background"}


def test_the_windows_description_names_the_key() -> None:
    autostart = WindowsAutostart(WINDOWS_COMMAND, FakeRegistry())
    assert autostart.description == (
        r'HKCU\Software\Microsoft\Windows\CurrentVersion\Run (value "Stethoscope")'
    )


@pytest.mark.allow_warnings
def test_registry_failures_become_autostart_errors() -> None:
    registry = FakeRegistry()
    registry.fail = PermissionError(5, "Access is denied")
    autostart = WindowsAutostart(WINDOWS_COMMAND, registry)
    assert not autostart.is_enabled()
    with pytest.raises(AutostartError, match=r"CurrentVersion\\Run.*Access is denied"):
        autostart.enable()
    with pytest.raises(AutostartError, match=VALUE_NAME):
        autostart.disable()


def parse_windows_arguments(line: str) -> list[str]:
    """Split a command line as the Microsoft C runtime does, independently of the module."""
    arguments: list[str] = []
    current: list[str] = []
    in_argument = in_quotes = False
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            count = 0
            while i < len(line) and line[i] == "\\":
                count += 1
                i += 1
            if i < len(line) and line[i] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    i += 1
            else:
                current.append("\\" * count)
            in_argument = True
        elif char == '"':
            in_quotes = not in_quotes
            in_argument = True
            i += 1
        elif char in " \t" and not in_quotes:
            if in_argument:
                arguments.append("".join(current))
                current, in_argument = [], False
            i += 1
        else:
            current.append(char)
            in_argument = True
            i += 1
    if in_argument:
        arguments.append("".join(current))
    return arguments


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["app.exe", "--tray"], "app.exe --tray"),
        ([r"C:\Program Files\S\s.exe"], r'"C:\Program Files\S\s.exe"'),
        (["x", 'say "hi"'], r'x "say \"hi\""'),
        (["x", "dir with\\"], r'x "dir with\\"'),
        (["x", r"a\b"], r"x a\b"),
        (["x", ""], 'x ""'),
    ],
)
def test_windows_command_lines_are_quoted(argv: list[str], line: str) -> None:
    assert command_line(argv) == line


@pytest.mark.parametrize("argument", NASTY_ARGUMENTS)
def test_windows_arguments_read_back_unchanged(argument: str) -> None:
    argv = ["app.exe", argument, "--last"]
    assert parse_windows_arguments(command_line(argv)) == argv


@pytest.mark.skipif(sys.platform == "win32", reason="the real registry is there")
def test_winreg_access_fails_cleanly_off_windows() -> None:
    with pytest.raises(OSError, match="only on Windows"):
        WinregAccess().get_string(RUN_KEY, VALUE_NAME)
    autostart = WindowsAutostart(["x"], WinregAccess())
    with pytest.raises(AutostartError):
        autostart.enable()


# --- the factory, Null and the app's own command ------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "kind"),
    [
        ("linux", LinuxAutostart),
        ("darwin", MacAutostart),
        ("windows", WindowsAutostart),
        ("freebsd", NullAutostart),
        ("", NullAutostart),
    ],
)
def test_the_factory_picks_the_platforms_class(platform: str, kind: type[Autostart]) -> None:
    autostart = create_autostart(platform, ["stethoscope-desktop"])
    assert type(autostart) is kind


def test_the_factory_imports_only_the_module_it_needs() -> None:
    code = (
        "import sys\n"
        "from stethoscope_desktop.autostart import create_autostart\n"
        "create_autostart('freebsd', ['x'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('stethoscope_desktop.autostart.'))\n"
        "assert loaded == ['stethoscope_desktop.autostart.abc'], loaded\n"
        "create_autostart('linux', ['x'])\n"
        "assert 'stethoscope_desktop.autostart.linux' in sys.modules\n"
        "assert 'stethoscope_desktop.autostart.macos' not in sys.modules\n"
        "assert 'stethoscope_desktop.autostart.windows' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_null_autostart_is_never_enabled_and_cannot_be_switched() -> None:
    null = NullAutostart()
    assert not null.supported
    assert not null.is_enabled()
    for switch in (null.enable, null.disable):
        with pytest.raises(AutostartError, match="not supported on this system"):
            switch()
    assert null.description == "starting at login is not supported on this system"
    assert LinuxAutostart(["x"], config_home=Path("/nowhere"), system_dirs=[]).supported


def test_display_path_shortens_the_home(tmp_path: Path) -> None:
    assert display_path(tmp_path / "a" / "b", tmp_path) == "~/a/b"
    assert display_path(tmp_path, tmp_path) == "~"
    assert display_path(Path("/etc/xdg"), tmp_path) == "/etc/xdg"


def test_a_frozen_bundle_starts_itself() -> None:
    assert app_command(executable="/opt/Stethoscope/stethoscope", frozen=True) == [
        "/opt/Stethoscope/stethoscope"
    ]


def test_an_installed_console_script_is_preferred(tmp_path: Path) -> None:
    scripts = tmp_path / "bin"
    scripts.mkdir()
    script = scripts / ("stethoscope-desktop.exe" if os.name == "nt" else "stethoscope-desktop")
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    python = str(scripts / "python3")
    assert app_command(executable=python, frozen=False, script_dirs=[str(scripts)]) == [str(script)]


def test_otherwise_the_package_is_run_as_a_module(tmp_path: Path) -> None:
    python = str(tmp_path / "python3")
    assert app_command(executable=python, frozen=False, script_dirs=[str(tmp_path)]) == [
        python,
        "-m",
        "stethoscope_desktop",
    ]


def test_the_real_command_names_a_program() -> None:
    command = app_command()
    assert command
    assert Path(command[0]).is_absolute()


def _stale(path: Path, random_part: str = "k1ll3d_0") -> Path:
    """Write what a switch killed mid-write leaves next to `path`: an old temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    leftover = path.parent / f".{path.name}.{random_part}.tmp"
    leftover.write_text("[Desktop Entr", "utf-8")
    os.utime(leftover, (1_000_000_000, 1_000_000_000))
    return leftover


def test_the_start_up_sweep_removes_a_killed_switchs_leftovers_on_linux(
    linux: LinuxAutostart,
) -> None:
    linux.enable()
    leftover = _stale(linux.path)
    other = _stale(linux.path.parent / "someone-else.desktop")
    assert linux.remove_stale_temporaries() == 1
    assert not leftover.exists() and other.exists() and linux.is_enabled()


def test_the_start_up_sweep_removes_a_killed_switchs_leftovers_on_macos(
    mac: MacAutostart,
) -> None:
    leftover = _stale(mac.path)
    assert mac.remove_stale_temporaries() == 1
    assert not leftover.exists()
    assert NullAutostart().remove_stale_temporaries() == 0
