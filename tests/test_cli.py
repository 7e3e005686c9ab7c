"""The command line: scan (text and JSON, exit codes), check-policy, convert-instructions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from stethoscope_desktop.cli import EXIT_STATUS, EXIT_USAGE, main
from stethoscope_desktop.commands import EXIT_CODES, EXIT_COULD_NOT_LISTEN, EXIT_COULD_NOT_SCAN
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.resources import practices_dir, resources_dir

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def write_practices(folder: Path, policy: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(policy)
    return folder


@pytest.mark.live_system
def test_scan_json_is_a_full_report_of_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", "--json", "--engine", "embedded"])
    report = json.loads(capsys.readouterr().out)
    schema = json.loads((resources_dir() / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    assert code == {"PASS": 0, "NUDGE": 1, "FAIL": 2}[report["status"]]
    keys = {p["key"] for p in report["practices"]}
    assert {
        "osVersion",
        "firewall",
        "diskEncryption",
        "automaticUpdates",
        "screenLock",
        "screenIdle",
        "remoteLogin",
        "openWifiConnections",
        "stethoscopeDesktopVersion",
    } <= keys
    for practice in report["practices"]:
        assert practice["status"] in ("PASS", "NUDGE", "FAIL", "UNKNOWN")
        if practice["status"] == "UNKNOWN":
            assert practice["reason"], practice["key"]
    assert report["engine"]["name"] == "embedded"
    assert report["device"]["platform"] == "linux"


def test_scan_exit_codes_follow_the_overall_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The override folder's policy is the policy: a failing practice makes it exit 2.
    failing = write_practices(tmp_path / "fail", 'stethoscopeVersion: ">=99.0.0"\n')
    assert main(["scan", "--json", "--engine", "embedded", "--practices", str(failing)]) == 2
    report = json.loads(capsys.readouterr().out)
    version = next(p for p in report["practices"] if p["key"] == "stethoscopeVersion")
    assert (report["status"], version["status"]) == ("FAIL", "FAIL")


def test_scan_text_is_ranked_and_uncoloured_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["scan", "--engine", "embedded", "--lang", "en"])
    out = capsys.readouterr().out
    assert "\033[" not in out
    assert out.startswith("Stethoscope Desktop")
    order = [line[:1] for line in out.splitlines() if line[:1] in "✗!?✓" and line[1:2] == " "][1:]
    assert order == sorted(order, key="✗!?✓".index)


def test_unknown_engine_choice_is_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["scan", "--engine", "warp"])
    assert exit_.value.code == EXIT_USAGE
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["bogus"], ["scan", "--bogus"], ["serve", "--port", "eighty"], ["check-policy"], ["--lang"]],
    ids=["command", "option", "value", "missing argument", "missing value"],
)
def test_a_usage_error_exits_with_a_code_no_verdict_uses(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == EXIT_USAGE == 64
    err = capsys.readouterr().err
    assert err.startswith("usage: stethoscope-desktop") and "error:" in err
    verdicts = {*EXIT_CODES.values(), EXIT_COULD_NOT_SCAN, EXIT_COULD_NOT_LISTEN}
    assert EXIT_USAGE not in verdicts


def test_every_exit_code_of_the_commands_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    status = help_text[help_text.index("exit status:") :]
    for code in (*EXIT_CODES.values(), EXIT_COULD_NOT_SCAN, EXIT_COULD_NOT_LISTEN, EXIT_USAGE):
        assert f"    {code:<4}" in status, code
    for command in ("scan", "serve", "check-policy", "convert-instructions", "import-fleet"):
        assert f"\n  {command}\n" in status
    scan = dict(EXIT_STATUS["scan"])  # Stethoscope's order of verdicts
    assert "passes" in scan[EXIT_CODES[Status.PASS]]
    assert "NUDGE" in scan[EXIT_CODES[Status.NUDGE]]
    assert "FAIL" in scan[EXIT_CODES[Status.FAIL]]
    assert "could not scan" in scan[EXIT_COULD_NOT_SCAN]
    assert "could not listen" in dict(EXIT_STATUS["serve"])[EXIT_COULD_NOT_LISTEN]


def test_the_help_hides_the_worker_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "worker" not in help_text and "SUPPRESS" not in help_text
    with pytest.raises(SystemExit):
        main(["bogus"])
    err = capsys.readouterr().err
    assert "'import-fleet'" in err and "worker" not in err


def test_osquery_engine_without_osquery_cannot_scan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--engine", "osquery"]) == 3
    assert "cannot use the osquery engine" in capsys.readouterr().err


def test_check_policy_accepts_the_shipped_practices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-policy", str(practices_dir())]) == 0
    assert " files valid." in capsys.readouterr().out


def test_check_policy_accepts_stethoscopes_own_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-policy", str(DATA / "stethoscope_policy.yaml")]) == 0


def test_check_policy_names_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "firewall: ALWAYS\nosVersion:\n  darwin:\n    ok: '>=abc'\nremotelogin: NEVER\n"
    )
    assert main(["check-policy", str(policy)]) == 1
    out = capsys.readouterr().out
    assert f"{policy}:4: osVersion.darwin.ok:" in out
    assert f'{policy}:5: remotelogin: unknown key (did you mean "remoteLogin"?)' in out


def test_check_policy_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-policy", str(tmp_path / "nope.yaml")]) == 1
    assert "no such file or folder" in capsys.readouterr().out


def test_convert_instructions_turns_handlebars_into_our_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "instructions.en.yaml"
    assert (
        main(
            [
                "convert-instructions",
                str(DATA / "stethoscope_instructions.en.yaml"),
                "-o",
                str(output),
            ]
        )
        == 0
    )
    converted = yaml.safe_load(output.read_text())
    firewall = converted["practices"]["firewall"]
    assert firewall["title"] == {
        "passing": "Firewall is on",
        "failing": "Firewall should be on",
        "unknown": "Firewall should be on",
    }
    assert "[Firewall & network protection](windowsdefender://network/)" in firewall["directions"][
        "win32"
    ].replace("&amp;", "&")
    older, newer = converted["practices"]["osVersion"]["directions"].values()
    assert "App Store" in older and "Software Update" in newer
    for darwin in (older, newer):
        assert "{{requirement}}" in darwin and "{{#" not in darwin
        assert "Install every update" in darwin
    assert "{{" not in converted["practices"]["diskEncryption"]["directions"]["darwin"]
    assert converted["strings"]["checkAgain"] == "rescan"
    assert main(["check-policy", str(output)]) == 0
    # Never overwrite what someone wrote.
    assert (
        main(
            [
                "convert-instructions",
                str(DATA / "stethoscope_instructions.en.yaml"),
                "-o",
                str(output),
            ]
        )
        == 1
    )


def test_stethoscope_instructions_load_directly_as_a_layer(tmp_path: Path) -> None:
    from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader

    folder = tmp_path / "it"
    folder.mkdir()
    (folder / "instructions.en.yaml").write_text(
        (DATA / "stethoscope_instructions.en.yaml").read_text()
    )
    practices = PracticesLoader(
        [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", folder)]
    ).load()
    assert practices.problems == ()
    assert practices.instructions.practice("firewall").title_failing == "Firewall should be on"
    # What the Stethoscope file does not have comes from the bundled texts.
    assert practices.instructions.practice("firewall").rating is not None
    assert practices.instructions.practice("screenLock").title_passing


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("stethoscope-desktop 0.")


def test_no_subcommand_without_display_says_so_and_prints_the_report(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        # No IT folder of this machine's (/etc/xdg/stethoscope where the app is installed).
        "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "--engine", "embedded"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No display found: printing the report instead")
    assert "Stethoscope Desktop" in result.stdout


def test_scan_does_not_import_qt() -> None:
    code = (
        "import sys; from stethoscope_desktop.cli import main; main(['scan','--json','--engine','embedded']);"
        "sys.stderr.write(str(sorted(m for m in sys.modules if 'PySide' in m or 'Qt' in m)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.stderr.strip() == "[]"


def test_check_policy_validates_check_files_as_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stethoscope_desktop.resources import checks_dir

    assert main(["check-policy", *map(str, sorted(checks_dir().glob("*.yaml")))]) == 0
    broken = tmp_path / "checks" / "my_check.yaml"
    broken.parent.mkdir()
    broken.write_text("kind: state\nsql:\n  macos: SELECT 1 AS enabled\n")
    assert main(["check-policy", str(broken)]) == 1
    assert "sql.macos: unknown key" in capsys.readouterr().out


def test_check_policy_counts_warnings_and_strict_makes_them_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = tmp_path / "checks.d" / "it.yaml"
    checks.parent.mkdir()
    checks.write_text(
        "- {name: IP forwarding off, query: SELECT 1 FROM sysctl, platform: linux}\n"
        "- {name: SSH off, query: SELECT 1 FROM systemd_units WHERE name = 'ssh', platform: linux}\n"
    )
    assert main(["check-policy", str(tmp_path)]) == 0  # valid files: warnings only
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if line.startswith("warning: ")]) == 2
    assert out[-1] == "1 file valid; 2 warnings."
    assert main(["check-policy", "--strict", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "1 file valid; 2 warnings (--strict fails on them)." in captured.err
    assert " valid" not in captured.out
    checks.write_text("- {name: Fine, query: SELECT 1 FROM system_controls, platform: linux}\n")
    assert main(["check-policy", "--strict", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 file valid."


def test_check_policy_help_explains_strict(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check-policy", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--strict exit 1 on warnings too" in out
    assert "do not fail, unless --strict" in out
