"""Netflix Stethoscope's instructions, in every layout it shipped: what the report shows.

Each fixture in tests/data/stethoscope/ is written for these tests in one historical layout (the
March 2018 plain titles, the April 2018 ifPassing helper, the 2018 titles per state and `[key]`
checklists, the Spanish file, the v3+ Handlebars texts with the `applications` card). Each is
loaded as IT would ship it, unchanged and after `convert-instructions`, and a scan of hand-made
facts that pass or fail must show IT's title and IT's directions.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import Fact, Facts, PlatformContext
from stethoscope_desktop.core.instructions import parse_instructions
from stethoscope_desktop.core.policy import policy_from_mapping
from stethoscope_desktop.core.practices import Practices, PracticesFolder, PracticesLoader
from stethoscope_desktop.core.report import DeviceFacts, Evidence, PracticeResult
from stethoscope_desktop.core.status import FeatureState, Status
from stethoscope_desktop.core.stethoscope_instructions import (
    APPLICATION_PRACTICES,
    ConversionNote,
    convert_stethoscope,
    is_stethoscope_format,
)
from stethoscope_desktop.core.yamlfile import parse_yaml
from stethoscope_desktop.engines.info import EngineInfo
from stethoscope_desktop.resources import practices_dir

DATA = Path(__file__).parents[1] / "data" / "stethoscope"
# Fixture -> the language of the file IT ships it as.
LAYOUTS = {
    "instructions-2018-03.yaml": "en",
    "instructions-2018-04-ifpassing.yaml": "en",
    "instructions-2018-per-state.yaml": "en",
    "instructions.es.yaml": "es",
    "instructions-v3.en.yaml": "en",
}
PASS, FAIL, UNKNOWN = Status.PASS, Status.FAIL, Status.UNKNOWN
MAC = PlatformContext("darwin", "darwin", "", "14.6.0")
OLD_MAC = PlatformContext("darwin", "darwin", "", "10.13.6")
WINDOWS = PlatformContext("windows", "win32", "", "10.0.22631")
DEBIAN = PlatformContext("linux", "linux", "debian", "12.7.0")
APP = "Slack"
APP_SOURCE = "https://apps.example.com/slack"


def it_folder(tmp_path: Path, fixture: str, *, converted: bool) -> Path:
    """Return IT's folder holding the fixture as it ships: unchanged, or converted first."""
    folder = tmp_path / ("converted" if converted else "unchanged")
    folder.mkdir()
    target = folder / f"instructions.{LAYOUTS[fixture]}.yaml"
    if converted:
        assert main(["convert-instructions", str(DATA / fixture), "-o", str(target)]) == 0
    else:
        shutil.copy(DATA / fixture, target)
    return folder


def load(folder: Path, language: str) -> Practices:
    folders = [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", folder)]
    return PracticesLoader(folders, language).load()


def found(check: str, *rows: dict[str, Any], **fields: Any) -> Fact:
    return Fact(
        Evidence(check, f"SELECT * FROM {check}", (check,), tuple(rows)), rows=tuple(rows), **fields
    )


@dataclass(frozen=True)
class Scenario:
    """A policy for one practice and the facts that make it pass and fail."""

    policy: Mapping[str, Any]
    passing: Mapping[str, Fact]
    failing: Mapping[str, Fact]
    key: str


def scenario(practice: str, context: PlatformContext) -> Scenario:
    on, off = FeatureState.ON, FeatureState.OFF
    checks = {
        "firewall": "firewall",
        "diskEncryption": "disk_encryption",
        "automaticUpdates": "automatic_updates",
    }
    if practice in checks:
        check = checks[practice]
        return Scenario(
            {practice: "ALWAYS"},
            {check: found(check, state=on)},
            {check: found(check, state=off)},
            practice,
        )
    if practice == "remoteLogin":
        check = "remote_login"
        return Scenario(
            {practice: "NEVER"},
            {check: found(check, state=off)},
            {check: found(check, state=on)},
            practice,
        )
    if practice == "screenIdle":
        lock = {"enabled": 1}
        return Scenario(
            {practice: "<=600"},
            {"screen_idle": found("screen_idle", lock, value=300)},
            {"screen_idle": found("screen_idle", lock, value=3600)},
            practice,
        )
    if practice == "osVersion":
        return Scenario(
            {practice: {context.stethoscope: {"ok": ">=10.0.0"}}},
            {"os_version": found("os_version", value=context.os_version)},
            {"os_version": found("os_version", value="9.0.0")},
            practice,
        )
    if practice == "stethoscopeVersion":
        check = "stethoscope_version"
        return Scenario(
            {practice: ">=0.1.0"},
            {check: found(check, value="0.2.0")},
            {check: found(check, value="0.0.9")},
            practice,
        )
    assertion = {"requiredApplications": "ALWAYS", "bannedApplications": "NEVER"}[practice]
    rule = {"name": APP, "assertion": assertion, "installFrom": APP_SOURCE}
    present = {"applications": found("applications", {"name": APP, "version": "4.0"})}
    absent = {"applications": found("applications")}
    passing, failing = (absent, present) if assertion == "NEVER" else (present, absent)
    return Scenario({"applications": [rule]}, passing, failing, f"applications/{APP}")  # fmt: skip


def shown(
    practices: Practices, practice: str, status: Status, context: PlatformContext
) -> PracticeResult:
    """Return what the report shows for a practice in a state on a device."""
    case = scenario(practice, context)
    policy, problems = policy_from_mapping(case.policy, "policy")
    assert problems == []
    facts = {PASS: case.passing, FAIL: case.failing, UNKNOWN: {}}[status]
    device = DeviceFacts(platform=context.stethoscope, os_version=context.os_version)
    report = evaluate(
        policy,
        Facts(
            checks=facts,
            custom={},
            device=device,
            context=context,
            engine=EngineInfo("embedded"),
            started_at="2026-11-20T09:00:00+00:00",
            duration_seconds=0.1,
        ),
        practices.instructions,
        organization=practices.config.organization,
    )
    result = report.practice(case.key)
    assert result is not None and result.status is status
    return result


# layout, practice, device, state -> the title shown, the directions key, a part of them
SHOWN = [
    ("instructions-2018-03.yaml", "firewall", MAC, PASS, "Firewall", "", ""),
    ("instructions-2018-03.yaml", "firewall", MAC, FAIL, "Firewall", "darwin", "1. Switch the firewall on."),
    ("instructions-2018-03.yaml", "firewall", WINDOWS, FAIL, "Firewall", "win32", "1. Open the firewall panel.\n"),
    ("instructions-2018-03.yaml", "stethoscopeVersion", MAC, FAIL, "Checker up to date", "darwin", "Get the new checker"),
    ("instructions-2018-03.yaml", "stethoscopeVersion", WINDOWS, FAIL, "Checker up to date", "win32", "[Get the new checker](https://downloads.example.com/checker)"),
    ("instructions-2018-04-ifpassing.yaml", "remoteLogin", MAC, PASS, "Logins from other computers are off", "", ""),
    ("instructions-2018-04-ifpassing.yaml", "remoteLogin", MAC, FAIL, "Logins from other computers should be off", "darwin", "1. Clear the Remote Login box."),
    ("instructions-2018-04-ifpassing.yaml", "remoteLogin", WINDOWS, FAIL, "Logins from other computers should be off", "win32", "1. Open Remote settings.\n"),
    ("instructions-2018-per-state.yaml", "firewall", WINDOWS, PASS, "The firewall is switched on", "", ""),
    ("instructions-2018-per-state.yaml", "firewall", WINDOWS, FAIL, "Switch the firewall on", "win32", "  - Domain network\n  - Private network\n  - Public network"),
    ("instructions-2018-per-state.yaml", "firewall", WINDOWS, UNKNOWN, "Switch the firewall on", "win32", "1. Open the firewall console.\n"),
    ("instructions-2018-per-state.yaml", "automaticUpdates", MAC, FAIL, "Let updates install by themselves", "darwin", "[App Store settings](x-apple.systempreferences:com.apple.preferences.appstore)"),
    ("instructions-2018-per-state.yaml", "automaticUpdates", MAC, FAIL, "Let updates install by themselves", "darwin", "    - Install system updates"),
    ("instructions.es.yaml", "firewall", WINDOWS, PASS, "El cortafuegos está activado", "", ""),
    ("instructions.es.yaml", "firewall", WINDOWS, FAIL, "Active el cortafuegos", "win32", "1. Abra el cortafuegos.\n"),
    ("instructions.es.yaml", "diskEncryption", MAC, UNKNOWN, "Cifre el disco", "darwin", "[FileVault](x-apple.systempreferences:com.apple.preference.security?FDE)"),
    ("instructions-v3.en.yaml", "automaticUpdates", MAC, PASS, "Updates install by themselves", "", ""),
    ("instructions-v3.en.yaml", "automaticUpdates", MAC, FAIL, "Let updates install by themselves", "darwin@>=10.14.0", "1. Open [Software Update](x-apple.systempreferences:com.apple.preferences.softwareupdate)."),
    ("instructions-v3.en.yaml", "automaticUpdates", OLD_MAC, FAIL, "Let updates install by themselves", "darwin@<10.14.0", "1. Open [App Store settings](x-apple.systempreferences:com.apple.preferences.appstore)."),
    ("instructions-v3.en.yaml", "automaticUpdates", MAC, FAIL, "Let updates install by themselves", "darwin@>=10.14.0", "  - Download updates in the background\n  - Install system updates"),
    ("instructions-v3.en.yaml", "diskEncryption", MAC, FAIL, "Encrypt the disk", "darwin", "1. Turn FileVault on."),
    ("instructions-v3.en.yaml", "screenIdle", DEBIAN, FAIL, "Lock the screen sooner", "linux", "1. Lock the screen sooner than this:\nat most 600 seconds"),
    ("instructions-v3.en.yaml", "screenIdle", MAC, FAIL, "Lock the screen sooner", "darwin", "[Screen Saver](file:///System/Library/PreferencePanes/DesktopScreenEffectsPref.prefPane/)"),
    ("instructions-v3.en.yaml", "osVersion", WINDOWS, FAIL, "Update the system", "win32", "1. Install every update.\n\n10.0.0 or later"),
    ("instructions-v3.en.yaml", "osVersion", MAC, FAIL, "Update the system", "darwin", "1. Open the App Store.\n"),
    ("instructions-v3.en.yaml", "requiredApplications", MAC, PASS, f"Apps follow the rules ({APP})", "", ""),
    ("instructions-v3.en.yaml", "requiredApplications", WINDOWS, FAIL, f"Apps do not follow the rules ({APP})", "win32", f"Look at each app below:\n\n{APP_SOURCE}"),
    ("instructions-v3.en.yaml", "bannedApplications", DEBIAN, FAIL, f"Apps do not follow the rules ({APP})", "linux", "Look at each app below:"),
]  # fmt: skip


@pytest.mark.parametrize("converted", [False, True], ids=["unchanged", "converted"])
@pytest.mark.parametrize(
    ("layout", "practice", "context", "status", "title", "key", "part"),
    SHOWN,
    ids=[
        f"{row[0]}-{row[1]}-{row[2].stethoscope}@{row[2].os_version}-{row[3].value}"
        for row in SHOWN
    ],
)
def test_a_stethoscope_layout_shows_its_titles_and_directions(
    tmp_path: Path,
    converted: bool,
    layout: str,
    practice: str,
    context: PlatformContext,
    status: Status,
    title: str,
    key: str,
    part: str,
) -> None:
    practices = load(it_folder(tmp_path, layout, converted=converted), LAYOUTS[layout])
    assert practices.problems == ()
    result = shown(practices, practice, status, context)
    assert result.title == title
    if status is not PASS:
        assert result.directions_platform == key
        assert part in result.directions
        assert "{{" not in result.directions and "<" not in result.directions


@pytest.mark.parametrize("layout", LAYOUTS)
def test_loading_a_stethoscope_file_unchanged_is_loading_its_conversion(
    tmp_path: Path, layout: str
) -> None:
    language = LAYOUTS[layout]
    unchanged = load(it_folder(tmp_path, layout, converted=False), language)
    converted = load(it_folder(tmp_path, layout, converted=True), language)
    assert unchanged.problems == converted.problems == ()
    assert dataclasses.replace(unchanged.instructions, organization_file="") == (
        dataclasses.replace(converted.instructions, organization_file="")
    )
    assert unchanged.config.organization == converted.config.organization


@pytest.mark.parametrize("layout", LAYOUTS)
def test_converting_loses_no_title_description_or_platform(layout: str) -> None:
    original = yaml.safe_load((DATA / layout).read_text("utf-8"))
    result = convert_stethoscope(original)
    for practice, texts in original["practices"].items():
        targets = APPLICATION_PRACTICES if practice == "applications" else (practice,)
        for target in targets:
            ours = result["practices"][target]
            assert set(ours["title"]) == {"passing", "failing", "unknown"}
            assert all(ours["title"].values())
            assert " ".join(texts["description"].split()) in ours["description"]
            platforms = {key.partition("@")[0] for key in ours["directions"]}
            assert platforms == set(texts["directions"])
            assert all(text.strip() for text in ours["directions"].values())


def test_the_strings_and_organization_of_stethoscope_files_are_shown(tmp_path: Path) -> None:
    spanish = load(it_folder(tmp_path, "instructions.es.yaml", converted=False), "es")
    assert spanish.config.organization == "Ejemplo S.A."
    strings = spanish.instructions.strings
    assert strings["summaryPass"] == "Este equipo cumple las normas"
    assert strings["summaryFail"] == "Algunos ajustes de este equipo deben corregirse."
    assert strings["checkAgain"] == "revisar otra vez"
    assert strings["lastCheckedBy"] == "Revisado por última vez por {{label}}"
    # What the Spanish file does not say, the bundled English texts say.
    assert spanish.instructions.practice("screenLock").title_passing


def test_a_config_of_its_own_names_the_organization_over_the_instructions(
    tmp_path: Path,
) -> None:
    folder = it_folder(tmp_path, "instructions-v3.en.yaml", converted=False)
    assert load(folder, "en").config.organization == "Example Corp"
    (folder / "config.yaml").write_text("organization: Example Corp Europe\n")
    assert load(folder, "en").config.organization == "Example Corp Europe"


def test_convert_instructions_names_the_language_and_lists_what_it_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "instructions.es.yaml"
    assert (
        main(["convert-instructions", str(DATA / "instructions.es.yaml"), "-o", str(output)]) == 0
    )
    converted = yaml.safe_load(output.read_text("utf-8"))
    assert converted["language"] == "es"
    assert "version" not in converted and "policyFormat" not in converted
    notes = capsys.readouterr().err
    assert "strings.policyDescription: left out" in notes
    assert "practices.firewall.directions.win32: ps://wf.msc: it ran 'wf.msc'" in notes
    # The written file reads back as texts with line breaks, not escaped strings.
    assert "win32: |\n" in output.read_text("utf-8")
    assert main(["check-policy", str(output)]) == 0


def test_convert_instructions_fails_on_what_stethoscope_would_have_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "instructions.en.yaml"
    source.write_text(
        "practices:\n  firewall:\n    title: '{{#if passing}}On'\n    directions:\n"
        "      linux: Run ufw\n"
    )
    assert main(["convert-instructions", str(source)]) == 1
    err = capsys.readouterr().err
    assert "practices.firewall.title: Handlebars cannot read this text: {{#if passing}}" in err


# text in a Stethoscope file -> where the loader reports it, and what it says
MISTAKES = [
    ("    title: '{{#if passing}}On{{else}}Off'\n", 3, "practices.firewall.title", "{{#if passing}} is not closed"),
    ("    title: 'On{{/if}}'\n", 3, "practices.firewall.title", "{{/if}} without an opening {{#if}}"),
    ("    title: '{{#ifpassing}}On{{else}}Off{{/ifpassing}}'\n", 3, "practices.firewall.title", "Handlebars has no helper {{#ifpassing}}"),
    ("    title: 'Firewall'\n    directions:\n      linux: 'Run {{comand}}'\n", 5, "practices.firewall.directions.linux", "unknown placeholder {{comand}}"),
    ("    title: 'Firewall'\n    directions:\n      darwin: '{{requirment \"osVersion\" \"darwin\"}}'\n", 5, "practices.firewall.directions.darwin", 'did you mean "requirement"?'),
]  # fmt: skip


@pytest.mark.parametrize(("practice", "line", "key", "message"), MISTAKES)
def test_a_mistake_in_a_stethoscope_text_is_reported_where_it_is_written(
    tmp_path: Path, practice: str, line: int, key: str, message: str
) -> None:
    file = tmp_path / "instructions.en.yaml"
    layer = parse_instructions(parse_yaml(f"practices:\n  firewall:\n{practice}", str(file)))
    found_ = [(p.line, p.key) for p in layer.problems if message in p.message]
    assert found_ == [(line, key)], layer.problems


@pytest.mark.parametrize(
    ("text", "passing", "failing", "notes"),
    [
        ("Firewall", "Firewall", "Firewall", []),
        ("{{#if passing}} On {{else}} Off {{/if}}", "On", "Off", []),
        ("{{#unless passing}}Off{{else}}On{{/unless}}", "On", "Off", []),
        ("{{^passing}}Off{{/passing}}", "", "Off", []),
        ("Firewall {{#ifPassing}} on {{else}} off {{/ifPassing}}", "Firewall on", "Firewall off", []),
        ("{{#if passing}}On{{else if mojave}}New{{else}}Old{{/if}}", "On", "Old", ["{{#if mojave}}: mojave has no value here, so it counts as false"]),
        ("{{!-- a note --}}On {{! another }}", "On", "On", []),
        ("Now {{passing}}", "Now true", "Now false", []),
        ("Hello {{friendlyName}}", "Hello", "Hello", ["left out {{friendlyName}}: it has no value here"]),
        ("Needs {{requirement 'osVersion' 'darwin'}}", "Needs {{requirement}}", "Needs {{requirement}}", []),
    ],
)  # fmt: skip
def test_a_handlebars_title_in_each_state(
    text: str, passing: str, failing: str, notes: list[str]
) -> None:
    found_: list[ConversionNote] = []
    result = convert_stethoscope({"practices": {"firewall": {"title": text}}}, found_)
    title = result["practices"]["firewall"]["title"]
    assert title == {"passing": passing, "failing": failing, "unknown": failing}
    assert [note.message for note in found_] == notes


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ({"PASS": "On", "FAIL": "Off"}, {"passing": "On", "failing": "Off", "unknown": "Off"}),
        ({"FAIL": "Off"}, {"passing": "Off", "failing": "Off", "unknown": "Off"}),
        (
            {"passing": "On", "failing": "Off"},
            {"passing": "On", "failing": "Off"},
        ),
    ],
)
def test_titles_per_state_become_ours(title: dict[str, str], expected: dict[str, str]) -> None:
    result = convert_stethoscope({"policyFormat": 1.0, "practices": {"firewall": {"title": title}}})
    assert result["practices"]["firewall"]["title"] == expected


@pytest.mark.parametrize(
    ("platform", "text", "expected"),
    [
        ("darwin", "{{#if mojaveOrLater}}New{{else}}Old{{/if}}", {"darwin@<10.14.0": "Old\n", "darwin@>=10.14.0": "New\n"}),
        ("darwin", "{{#if mohave}}New{{/if}}\n1. Go", {"darwin@<10.14.0": "1. Go\n", "darwin@>=10.14.0": "New\n1. Go\n"}),
        ("win32", "{{#if mojave}}New{{else}}Old{{/if}}", {"win32": "Old\n"}),
        ("darwin", "{{#if passing}}Done{{else}}1. Fix it{{/if}}", {"darwin": "1. Fix it\n"}),
        ("darwin", "1. Go\n  {{#unless passing}}\n  1. Then this\n  {{/unless}}\n1. End", {"darwin": "1. Go\n  1. Then this\n1. End\n"}),
        ("darwin", "- {{{statusIcon automaticOsUpdates 'System updates'}}}", {"darwin": "- System updates\n"}),
        ("win32", "- [publicFirewall] Public network", {"win32": "- Public network\n"}),
        ("win32", "1. Open [Firewall] (x-apple.systempreferences:x)", {"win32": "1. Open [Firewall] (x-apple.systempreferences:x)\n"}),
        ("darwin", "1. Go\n\n{{#each disks}}\n<li>{{{okIcon this.label}}}</li>\n{{/each}}\n", {"darwin": "1. Go\n"}),
        ("darwin", "{{securitySetting \"screenIdle\"}}", {"darwin": "{{requirement}}\n"}),
        ("darwin", "<a href='link://https://example.com/x' class=\"btn\">Get it</a>", {"darwin": "[Get it](https://example.com/x)\n"}),
        ("darwin", "[Pane](prefs://com.apple.preference.security)", {"darwin": "[Pane](x-apple.systempreferences:com.apple.preference.security)\n"}),
        ("win32", "[Encryption](prefs://BitLocker)", {"win32": "Encryption\n"}),
        ("darwin", "[Store](app://App%20Store)", {"darwin": "Store\n"}),
        ("darwin", "[Panel](open:///System/Library/My%20Pane.prefPane/)", {"darwin": "[Panel](file:///System/Library/My%20Pane.prefPane/)\n"}),
        ("win32", "<a href='stethoscope://update'>Update</a>.", {"win32": "Update.\n"}),
        ("linux", "Run `a &amp;&amp; b`<br>then <b>wait</b>", {"linux": "Run `a && b`\nthen wait\n"}),
    ],
)  # fmt: skip
def test_handlebars_directions_become_ours(
    platform: str, text: str, expected: dict[str, str]
) -> None:
    result = convert_stethoscope(
        {"practices": {"firewall": {"title": "Firewall", "directions": {platform: text}}}}
    )
    assert result["practices"]["firewall"]["directions"] == expected


def test_the_applications_card_gives_every_rules_texts_unless_the_file_names_them() -> None:
    notes: list[ConversionNote] = []
    result = convert_stethoscope(
        {
            "practices": {
                "applications": {"title": "Apps", "directions": {"linux": "See below:"}},
                "bannedApplications": {"title": "Remove {{name}}"},
            }
        },
        notes,
    )
    practices = result["practices"]
    assert set(practices) == {"requiredApplications", "bannedApplications", "suggestedApplications"}
    assert practices["requiredApplications"]["title"]["failing"] == "Apps ({{name}})"
    assert practices["requiredApplications"]["directions"] == {
        "linux": "See below:\n\n{{installFrom}}\n"
    }
    assert practices["bannedApplications"]["title"]["failing"] == "Remove {{name}}"
    assert [str(note) for note in notes] == [
        "practices.applications: the texts of every application rule's card: "
        "requiredApplications, suggestedApplications"
    ]


def test_what_stethoscope_did_nothing_with_is_left_out_with_a_note() -> None:
    notes: list[ConversionNote] = []
    result = convert_stethoscope(
        {
            "organization": "Example Corp",
            "version": 1.0,
            "policyFormat": 1.0,
            "theme": "dark",
            "practices": {
                "firewall": {"title": "Firewall", "actions": "", "link": "https://x.example"},
                "requiredHotfixes": {"title": "Hotfixes"},
            },
        },
        notes,
    )
    assert result == {
        "organization": "Example Corp",
        "practices": {
            "firewall": {
                "title": {"passing": "Firewall", "failing": "Firewall", "unknown": "Firewall"},
                "description": "https://x.example",
            }
        },
    }
    assert [str(note) for note in notes] == [
        "practices.firewall.actions: left out: Stethoscope did nothing with it",
        "practices.requiredHotfixes: left out: there is no such practice here",
        "theme: left out: Stethoscope did nothing with it",
    ]


@pytest.mark.parametrize(
    ("data", "stethoscope"),
    [
        ({"practices": {"firewall": {"title": "{{#if passing}}On{{/if}}"}}}, True),
        ({"practices": {"firewall": {"title": {"PASS": "On", "FAIL": "Off"}}}}, True),
        ({"practices": {"applications": {}}}, True),
        ({"strings": {"rescanButton": "rescan"}}, True),
        ({"policyFormat": 1.0, "practices": {}}, True),
        ({"practices": {"firewall": {"title": {"passing": "On", "failing": "Off"}}}}, False),
        ({"strings": {"checkAgain": "Check"}, "practices": None}, False),
        ({"organization": "Example Corp"}, False),
    ],
)
def test_what_makes_a_file_stethoscopes(data: dict[str, Any], stethoscope: bool) -> None:
    assert is_stethoscope_format(data) is stethoscope
