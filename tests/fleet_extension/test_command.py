"""The `osquery-extension` command line: osqueryd's flags, unknown ones, and its program name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from stethoscope_desktop import cli
from stethoscope_desktop.fleet_extension.service import machine_stale_after


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/usr/lib/stethoscope/stethoscope-osquery-extension.ext", ["osquery-extension"]),
        (r"C:\Program Files\Stethoscope\Stethoscope-Osquery-Extension.exe", ["osquery-extension"]),
        ("/usr/bin/stethoscope-desktop", []),
    ],
)
def test_run_under_the_extensions_name_it_is_the_extension(
    monkeypatch: pytest.MonkeyPatch, argv0: str, expected: list[str]
) -> None:
    flags = ["--socket", "/var/osquery/osquery.em", "--timeout", "3", "--interval", "3"]
    monkeypatch.setattr("sys.argv", [argv0, *flags])
    if "\\" in argv0:  # a Windows path, read on this machine by its last part
        monkeypatch.setattr("sys.argv", [argv0.rsplit("\\", 1)[1], *flags])
    assert cli._program_arguments() == [*expected, *flags]


def test_osqueryds_flags_and_unknown_ones_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def run(options: object) -> int:
        seen["options"] = options
        return 0

    monkeypatch.setattr("stethoscope_desktop.fleet_extension.service.extension_command", run)
    argv = ["osquery-extension", "--verbose", "--socket", "/s.em", "--timeout", "4"]
    root = logging.getLogger()
    level = root.level
    try:
        assert cli.main([*argv, "--interval", "2", "--future_flag=1", "--stale-after", "60"]) == 0
    finally:
        root.setLevel(level)
    options = seen["options"]
    assert (options.socket, options.timeout, options.interval) == ("/s.em", 4.0, 2.0)  # type: ignore[attr-defined]
    assert options.verbose and options.stale_after == 60.0  # type: ignore[attr-defined]


def test_other_commands_still_refuse_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["scan", "--future_flag=1"])
    assert exited.value.code == cli.EXIT_USAGE
    assert "unrecognized arguments: --future_flag=1" in capsys.readouterr().err


@pytest.mark.allow_warnings
@pytest.mark.parametrize(
    ("text", "hours"),
    [
        (None, 24),
        ("organization: Example\n", 24),
        ("reportStaleAfterHours: 72\n", 72),
        ("reportStaleAfterHours: 0\n", 24),  # out of range: reported, the default kept
        ("reportStaleAfterHours: [\n", 24),  # not YAML: reported, the default kept
    ],
)
def test_the_stale_limit_comes_from_its_machine_wide_config(
    tmp_path: Path, text: str | None, hours: int
) -> None:
    if text is not None:
        (tmp_path / "config.yaml").write_text(text)
    assert machine_stale_after(tmp_path) == hours * 3600


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "soon"])
def test_a_stale_limit_that_is_not_a_positive_number_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["osquery-extension", "--socket", "/nonexistent/osquery.em", f"--stale-after={value}"]
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 64
    assert "--stale-after" in capsys.readouterr().err
