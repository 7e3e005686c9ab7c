"""Fleet policy files: loaded as they are from `checks.d/`, and converted by `import-fleet`.

The fixtures in `tests/data/fleet/` are realistic multi-platform Fleet files written for these
tests: `fleet-policies.yml` is a `fleetctl get policies`-style export (`apiVersion: v1`,
`kind: policy` documents, with one of Fleet's `kind: query` documents in between and Fleet's
bookkeeping keys), `gitops-policies.yml` a GitOps `lib/` file (a plain list of policies).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.custom_checks import (
    ChecksFile,
    dump_checks,
    import_fleet,
    parse_checks_documents,
    read_checks_file,
)
from stethoscope_desktop.core.practices import PracticesLoader, practices_folders
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.core.yamlfile import parse_yaml_documents
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from tests.canned import canned_linux

FLEET = Path(__file__).parents[1] / "data" / "fleet"
EXPORT = FLEET / "fleet-policies.yml"
GITOPS = FLEET / "gitops-policies.yml"

MACOS = [
    "Gatekeeper enabled (macOS)",
    "Full disk encryption enabled (macOS)",
    "Password required after screen saver (macOS)",
]
WINDOWS = [
    "Full disk encryption enabled (Windows)",
    "Ensure 'Minimum password length' is set to '14 or more characters'",
]
LINUX = ["Automatic updates installed (Debian, Ubuntu)", "Full disk encryption enabled (Linux)"]
BOTH = ["No unencrypted SSH keys"]


@pytest.fixture(scope="module")
def export() -> ChecksFile:
    return read_checks_file(EXPORT)


def test_a_fleet_export_loads_as_it_is(export: ChecksFile) -> None:
    assert export.problems == []
    names = [check.name for check in export.checks]
    assert names == [*MACOS, *WINDOWS, *LINUX, *BOTH, "Screen lock on ChromeOS"]
    # Fleet's query document is valid Fleet content, passed over without an error.
    assert [(p.key, p.line, p.message) for p in export.passed_over] == [
        ("kind", 57, "a Fleet query document, not a policy")
    ]
    checks = {check.name: check for check in export.checks}
    gatekeeper = checks["Gatekeeper enabled (macOS)"]
    assert (gatekeeper.platforms, gatekeeper.critical, gatekeeper.rating) == (
        ("darwin",),
        True,
        Rating.CRITICAL,
    )
    assert gatekeeper.query == "SELECT 1 FROM gatekeeper WHERE assessments_enabled = 1;"
    assert gatekeeper.resolution.splitlines()[0] == (
        "1. Open **System Settings → Privacy & Security**."
    )
    assert (gatekeeper.where, gatekeeper.line) == ("spec", 7)
    assert checks["No unencrypted SSH keys"].platforms == ("darwin", "linux")
    assert checks["Screen lock on ChromeOS"].platforms == ()
    assert checks["Password required after screen saver (macOS)"].critical is False
    assert checks["Password required after screen saver (macOS)"].query.startswith(
        "SELECT 1 WHERE\n  EXISTS ("
    )


def test_a_fleet_gitops_file_loads_and_names_what_it_cannot_follow() -> None:
    gitops = read_checks_file(GITOPS)
    assert [check.name for check in gitops.checks] == [
        "macOS - Firewall enabled",
        "Windows - Firewall enabled",
        "Linux - Debian 12 or later",
        "Firefox is up to date",
    ]
    assert gitops.checks[3].platforms == ("darwin", "linux", "windows")
    assert [(p.key, p.line) for p in gitops.problems] == [("[4].path", 39)]
    assert "refers to another file" in gitops.problems[0].message


@pytest.mark.parametrize(
    ("platform", "kept"),
    [
        ("darwin", [*MACOS, *BOTH]),
        ("windows", WINDOWS),
        ("linux", [*LINUX, *BOTH]),
        ("all", [*MACOS, *WINDOWS, *LINUX, *BOTH]),
    ],
)
def test_import_keeps_the_policies_of_a_platform(
    export: ChecksFile, platform: str, kept: list[str]
) -> None:
    result = import_fleet(export, platform)
    assert [check.name for check in result.checks] == kept
    reasons = [problem.message for problem in result.skipped]
    assert "'Screen lock on ChromeOS' is only for ChromeOS (chrome)" in reasons
    assert "a Fleet query document, not a policy" in reasons
    if platform == "linux":
        assert "'Gatekeeper enabled (macOS)' is only for darwin, not linux" in reasons
    assert len(result.checks) + len(result.skipped) == len(export.checks) + 1


def test_the_converted_file_reads_back_as_the_same_checks(export: ChecksFile) -> None:
    checks = import_fleet(export, "all").checks
    text = dump_checks(checks, "a header\nof two lines")
    assert text.startswith("# a header\n# of two lines\n- name: Gatekeeper enabled (macOS)\n")
    assert "resolution: |-\n    1. Open **System Settings" in text  # Markdown stays readable
    back = parse_checks_documents(parse_yaml_documents(text, "converted.yaml"), "converted.yaml")
    assert back.problems == []
    fields = [
        (c.name, c.query, c.platforms, c.critical, c.description, c.resolution) for c in checks
    ]
    assert [
        (c.name, c.query, c.platforms, c.critical, c.description, c.resolution) for c in back.checks
    ] == fields


# ---------------------------------------------------------------------------------------------
# stethoscope-desktop import-fleet
# ---------------------------------------------------------------------------------------------


def test_import_fleet_prints_the_checks_and_the_skipped_entries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["import-fleet", str(EXPORT), "--platform", "linux"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# Stethoscope Desktop checks converted from fleet-policies.yml")
    assert "(platform: linux)" in out
    assert [line for line in out.splitlines() if line.startswith("- name: ")] == [
        f"- name: {name}" for name in [*LINUX, *BOTH]
    ]
    assert f"skipped: {EXPORT}:7: spec.name: 'Gatekeeper enabled (macOS)' is only for darwin" in err
    assert f"skipped: {EXPORT}:57: kind: a Fleet query document, not a policy" in err
    assert "'Screen lock on ChromeOS' is only for ChromeOS (chrome)" in err


def test_import_fleet_writes_a_file_and_never_overwrites_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "fleet.yaml"
    assert main(["import-fleet", str(EXPORT), "-o", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote 8 checks to {target}\n"
    written = target.read_text("utf-8")
    assert main(["import-fleet", str(GITOPS), "-o", str(target)]) == 1
    assert f"{target}: exists already; not overwriting it" in capsys.readouterr().err
    assert target.read_text("utf-8") == written


def test_import_fleet_into_a_folder_names_the_file_after_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks_d = tmp_path / "checks.d"
    checks_d.mkdir()
    assert main(["import-fleet", str(GITOPS), "--platform", "windows", "-o", str(checks_d)]) == 0
    target = checks_d / "gitops-policies.yaml"
    assert capsys.readouterr().out == f"wrote 2 checks to {target}\n"
    assert [c.name for c in read_checks_file(target).checks] == [
        "Windows - Firewall enabled",
        "Firefox is up to date",
    ]
    assert main(["import-fleet", str(GITOPS), "--platform", "windows", "-o", str(checks_d)]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "no such file", id="missing-file"),
        pytest.param(
            "- {name: Only Chrome, query: SELECT 1, platform: chrome}\n",
            "no policy to convert for platform all",
            id="nothing-left",
        ),
        pytest.param("apiVersion: v1\nkind: policy\nspec: [\n", "not valid YAML", id="broken"),
        pytest.param("- {name: A, platform: linux}\n", "missing; the osquery SQL", id="invalid"),
    ],
)
def test_import_fleet_fails_when_it_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    source = tmp_path / "fleet.yml"
    if content is not None:
        source.write_text(content)
    target = tmp_path / "out.yaml"
    assert main(["import-fleet", str(source), "-o", str(target)]) == 1
    assert message in capsys.readouterr().err
    assert not target.exists()


def test_import_fleet_refuses_an_unknown_platform(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["import-fleet", str(EXPORT), "--platform", "macos"])
    assert raised.value.code == 64  # a usage error (cli.EXIT_USAGE)
    assert "invalid choice: 'macos'" in capsys.readouterr().err


def test_a_converted_file_in_checks_d_is_scanned(tmp_path: Path) -> None:
    it = tmp_path / "it"
    (it / "checks.d").mkdir(parents=True)
    assert main(["import-fleet", str(EXPORT), "-o", str(it / "checks.d")]) == 0
    assert main(["import-fleet", str(GITOPS), "-o", str(it / "checks.d")]) == 0
    folders = practices_folders(practices_dir(), None, machine=it, env={})
    practices = PracticesLoader(folders).load()
    assert practices.problems == ()
    engine = EmbeddedEngine(canned_linux())
    try:
        report = Scanner(engine, load_checks(checks_dir()), platform="linux").scan(practices)
    finally:
        engine.close()
    statuses = {p.name: p.status for p in report.practices if p.practice == "custom"}
    assert statuses == {
        # deb_packages has no unattended-upgrades: a suggestion (not critical).
        "Automatic updates installed (Debian, Ubuntu)": Status.NUDGE,
        # osquery's disk_encryption and users tables are not built in.
        "Full disk encryption enabled (Linux)": Status.UNKNOWN,
        "No unencrypted SSH keys": Status.UNKNOWN,
        "Linux - Debian 12 or later": Status.PASS,
        "Firefox is up to date": Status.PASS,
    }
    disk = report.practice("custom/full-disk-encryption-enabled-linux")
    assert disk is not None and disk.reason.startswith("needs osquery: table disk_encryption")


def test_the_fleet_export_loads_directly_from_checks_d(tmp_path: Path) -> None:
    it = tmp_path / "it"
    (it / "checks.d").mkdir(parents=True)
    (it / "checks.d" / EXPORT.name).write_text(EXPORT.read_text("utf-8"), "utf-8")
    practices = PracticesLoader(practices_folders(practices_dir(), None, machine=it, env={})).load()
    assert practices.problems == ()
    assert len(practices.policy.custom_checks) == 9


# Fleet's standard query library gives fix-it scripts beside some policies' queries (written
# here in its shape, with queries and scripts of our own).
WITH_SCRIPTS = """\
apiVersion: v1
kind: policy
spec:
  name: Firewall service running
  platform: linux
  query: SELECT 1 FROM systemd_units WHERE id = 'ufw.service' AND active_state = 'active'
  bash: |
    sudo ufw enable
---
apiVersion: v1
kind: policy
spec:
  name: Screen saver on (Windows)
  platform: windows
  query: SELECT 1 FROM registry WHERE path LIKE 'HKEY_USERS\\\\%\\\\ScreenSaveActive' AND data = 1
  powershell: |
    Set-ItemProperty -Path 'HKCU:\\Control Panel\\Desktop' -Name ScreenSaveActive -Value 1
  script: fix-screen-saver.ps1
"""


def test_fix_it_scripts_are_kept_out_never_run_and_the_checks_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "library.yml"
    source.write_text(WITH_SCRIPTS, encoding="utf-8")
    loaded = read_checks_file(source)
    assert loaded.problems == []
    assert [check.name for check in loaded.checks] == [
        "Firewall service running",
        "Screen saver on (Windows)",
    ]
    assert [(note.key, note.line) for note in loaded.passed_over] == [
        ("spec.bash", 7),
        ("spec.powershell", 16),
        ("spec.script", 18),
    ]
    assert all("is not run here (the check is)" in note.message for note in loaded.passed_over)
    assert main(["import-fleet", str(source), "--platform", "all"]) == 0
    out, err = capsys.readouterr()
    assert "- name: Firewall service running" in out and "- name: Screen saver on" in out
    assert "sudo ufw enable" not in out
    assert "bash fix-it script is not run here" in err
