"""The measuring script, run on a tiny history of our own in the original's layouts.

`tests/compat/measure_original.py` is meant for a clone of Netflix's Stethoscope, which CI does
not have. Here it runs on a git repository built in tmp_path, with files written for this test in
the original's layouts — a 2018 `practices/` folder, then the later `src/practices/` — whose
last commit breaks one file of each kind on purpose. The script must say that the good files
hold and the broken ones do not, and why, count distinct versions once (a file that moved is one
version at two paths), and exit 1. Its oracle comparison needs node and the oracle workspace, so
its pieces are tested directly: the device facts it hands the original, and the comparison.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import Fact, Facts, PlatformContext
from stethoscope_desktop.core.instructions import PracticeText
from stethoscope_desktop.core.report import DeviceFacts, Evidence
from stethoscope_desktop.core.status import FeatureState
from stethoscope_desktop.engines.info import EngineInfo
from stethoscope_desktop.tables.values import Row
from tests.compat import measure_original
from tests.compat.measure_original import (
    BUILD_DEB,
    REPO,
    WINDOW_VERDICTS,
    Situation,
    VerdictDifference,
    judged_outcome,
    lost_texts,
    macos_newer,
    not_shown,
    oracle_device,
    original_directions,
    original_titles,
    stethoscope_camel_case,
    text_lines,
    verdict_differences,
)

SCRIPT = Path(__file__).with_name("measure_original.py")

GOOD_POLICY = """\
firewall: ALWAYS
diskEncryption: ALWAYS
remoteLogin: NEVER
"""
BROKEN_POLICY = GOOD_POLICY.replace("firewall: ALWAYS", "firewall: SOMETIMES")
INSTRUCTIONS_2018 = """\
organization: Example
practices:
  firewall:
    title:
      PASS: The wall is up
      FAIL: Raise the wall
    description: >
      A wall keeps strangers out of this computer.
    directions:
      darwin: |
        1. Open [Network settings](x-apple.systempreferences:com.apple.preference.security).
        1. Turn the wall on.
      win32: |
        1. Open the wall's settings.
        1. Click "On".
          - [privateFirewall] The wall at home
          - [publicFirewall] The wall in town
"""
INSTRUCTIONS_LATER = """\
organization: Example
policyFormat: "1.0"
practices:
  firewall:
    title: >
      {{#if passing}}
        The wall is up
      {{else}}
        The wall should be up
      {{/if}}
    description: >
      A wall keeps strangers out of this computer.
    directions:
      darwin: |
        1. Open the settings.
        {{#if mojaveOrLater}}
        1. Click [Walls](x-apple.systempreferences:com.apple.preference.security).
        {{else}}
        1. Click [Old walls](prefs://com.apple.preference.security).
        {{/if}}
        {{#unless passing}}
        1. Make sure these are on:

        - {{{statusIcon privateFirewall 'The wall at home'}}}
        {{/unless}}
      win32: |
        1. Open the wall's settings.
  applications:
    title: >
      {{#if passing}}
        The programs are as IT asks
      {{else}}
        The programs are not as IT asks
      {{/if}}
    description: >
      IT requires some programs and bans others.
    directions:
      darwin: |
        See the list below.
"""
BROKEN_INSTRUCTIONS = "practices:\n  firewall: [unclosed\n"
CONFIG = """\
allowHosts:
  - "https://login.example.com"
hostLabels:
  - pattern: "^https://login\\\\.example\\\\.com$"
    name: Example Login
policyServer:
"""
BROKEN_CONFIG = "allowHosts: [unclosed\n"
SCHEMA = """\
scalar Semver
type Query {
  device: Device
  policy: Policy
}
type Policy {
  validate(policy: DevicePolicy): PolicyResult!
}
type Device {
  deviceId: String
  platform: String
  osVersion: String
}
input DevicePolicy {
  firewall: RequirementOption
}
type PolicyResult {
  status: FeatureState
  firewall: FeatureState
}
enum FeatureState { PASS FAIL NUDGE }
enum RequirementOption { ALWAYS SUGGESTED NEVER IF_SUPPORTED }
"""
BROKEN_SCHEMA = SCHEMA.replace(
    "  osVersion: String\n", "  osVersion: String\n  bogusFieldOfTheFixture: String\n"
)
GRAPHQL_MD = """\
# Querying

```graphql
query ValidateDevice($policy: DevicePolicy!) {
  policy { validate(policy: $policy) { status firewall } }
  device { platform osVersion }
}
```

Parameters

```json
{"policy": {"firewall": "ALWAYS"}}
```
"""
BROKEN_GRAPHQL_MD = GRAPHQL_MD + "\n```graphql\n{ device { bogusFieldOfTheFixture } }\n```\n"
POLICIES_MD = """\
# Policies

```json
{
  "diskEncryption": "ALWAYS",
}
```
"""
CLIENT = (
    "const query = `query ValidateDevice($policy: DevicePolicy!) {\n"
    "  policy { validate(policy: $policy) { status remoteLogin } }\n}`\n"
)
EXAMPLE_CLIENT = (
    'var query =\n  "query ValidateDevice($policy: DevicePolicy!) { \\\n'
    '  policy { validate(policy: $policy) { status screenLock } } \\\n  }";\n'
)
EXAMPLE_PAGE = (
    '<script>\n  checkStethoscope({\n    screenLock: "IF_SUPPORTED",\n  })\n'
    "    .then(function(result) {});\n</script>\n"
)


def git(repo: Path, *args: str, date: str = "2018-03-07T12:00:00") -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
    }  # fmt: skip
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str, date: str) -> str:
    for path, text in files.items():
        target = repo / path
        if text is None:
            git(repo, "rm", "-q", path)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        git(repo, "add", path)
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | Path]:
    """The original's layouts over three commits, the last breaking one file of each kind."""
    original = tmp_path_factory.mktemp("original")
    git(original, "init", "-q", "-b", "main")
    first = commit(original, {
        "practices/policy.yaml": GOOD_POLICY,
        "practices/instructions.yaml": INSTRUCTIONS_2018,
        "practices/config.yaml": CONFIG,
        "schema.graphql": SCHEMA,
        "docs/GRAPHQL.md": GRAPHQL_MD,
        "src/lib/Stethoscope.js": CLIENT,
    }, "2018 layout", "2018-03-07T12:00:00")  # fmt: skip
    second = commit(original, {
        "practices/policy.yaml": None,
        "practices/instructions.yaml": None,
        "practices/config.yaml": None,
        "src/practices/policy.yaml": GOOD_POLICY,
        "src/practices/instructions.en.yaml": INSTRUCTIONS_LATER,
        "src/practices/config.yaml": CONFIG,
        "docs/POLICIES.md": POLICIES_MD,
    }, "src/practices layout", "2019-07-12T12:00:00")  # fmt: skip
    third = commit(original, {
        "src/practices/policy.yaml": BROKEN_POLICY,
        "src/practices/instructions.en.yaml": BROKEN_INSTRUCTIONS,
        "src/practices/config.yaml": BROKEN_CONFIG,
        "schema.graphql": BROKEN_SCHEMA,
        "docs/GRAPHQL.md": BROKEN_GRAPHQL_MD,
    }, "broken on purpose", "2021-08-02T12:00:00")  # fmt: skip
    examples = tmp_path_factory.mktemp("examples")
    git(examples, "init", "-q", "-b", "main")
    commit(examples, {"public/stethoscope.js": EXAMPLE_CLIENT, "public/banner.html": EXAMPLE_PAGE},
           "examples", "2018-05-29T12:00:00")  # fmt: skip
    return {
        "original": original / ".git",
        "examples": examples / ".git",
        "first": first[:7],
        "second": second[:7],
        "third": third[:7],
    }


@pytest.fixture(scope="module")
def measured(histories: dict[str, str | Path]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STETHOSCOPE_PRACTICES"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(histories["original"]),
         "--examples", str(histories["examples"])],
        capture_output=True, text=True, check=False, timeout=600, env=env,
    )  # fmt: skip


def section(output: str, title: str) -> list[str]:
    """The outcome lines of one category (each with its notes joined on)."""
    text = output.split(f"== {title}", 1)[1].split("\n== ", 1)[0]
    lines: list[str] = []
    for line in text.splitlines()[1:]:
        if line.startswith("          note:") and lines:
            lines[-1] += line.strip()
        elif line.strip():
            lines.append(line.strip())
    return lines


def summary(output: str) -> dict[str, str]:
    rows = output.split("== summary", 1)[1].strip().splitlines()
    return {
        title.strip(): figure.strip()
        for row in rows
        if "  " in row.strip()
        for title, figure in [row.strip().rsplit("  ", 1)]
    }


@pytest.mark.live_system
def test_the_good_versions_hold_and_the_broken_ones_do_not(
    histories: dict[str, str | Path], measured: subprocess.CompletedProcess[str]
) -> None:
    out = measured.stdout
    assert measured.returncode == 1, measured.stderr
    first, third = histories["first"], histories["third"]

    policies = section(out, "policy.yaml: passes check-policy")
    assert len(policies) == 3  # two versions, and the count
    assert policies[0].startswith(f"ok   practices/policy.yaml@{first} 2018-03-07")
    assert "(also at src/practices/policy.yaml)" in policies[0]
    assert policies[1].startswith(f"FAIL src/practices/policy.yaml@{third} 2021-08-02")
    assert "firewall" in policies[1] and "SOMETIMES" in policies[1]
    judged = section(out, "policy.yaml: each key it names gets a verdict")
    assert judged[0].startswith("ok   practices/policy.yaml")
    assert judged[1].startswith("FAIL src/practices/policy.yaml") and "'firewall'" in judged[1]

    loads = section(out, "instructions: load unchanged or through convert-instructions")
    assert [line[:4] for line in loads[:3]] == ["ok  ", "ok  ", "FAIL"]
    assert f"practices/instructions.yaml@{first}" in loads[0]
    assert "instructions.en.yaml" in loads[2]
    shown = section(out, "instructions: IT's titles and directions are the ones shown")
    assert [line[:4] for line in shown[:3]] == ["ok  ", "ok  ", "FAIL"]

    configs = section(out, "config.yaml: check-policy accepts a folder with it")
    assert configs[0].startswith(f"ok   practices/config.yaml@{first}")
    assert configs[1].startswith(f"FAIL src/practices/config.yaml@{third}")
    assert "config.yaml" in configs[1].split(":", 1)[1]

    schemas = section(out, "schema.graphql: our schema is a superset")
    assert schemas[0].startswith(f"ok   schema.graphql@{first}")
    assert schemas[1].startswith(f"FAIL schema.graphql@{third}")
    assert "Device.bogusFieldOfTheFixture is missing" in schemas[1]

    queries = section(out, "client queries: answered completely over HTTP")
    failing = [line for line in queries if line.startswith("FAIL")]
    assert len(failing) == 1 and "bogusFieldOfTheFixture" in failing[0]
    held = [line for line in queries if line.startswith("ok")]
    sources = " ".join(held)
    for source in ("docs/GRAPHQL.md", "docs/POLICIES.md", "src/lib/Stethoscope.js",
                   "examples public/banner.html"):  # fmt: skip
        assert source in sources
    # The documented query is sent once, though two versions of GRAPHQL.md carry it.
    assert "the same request as docs/GRAPHQL.md" in sources

    figures = summary(out)
    assert figures["policy.yaml: passes check-policy"] == "1 of 2 hold"
    assert figures["config.yaml: check-policy accepts a folder with it"] == "1 of 2 hold"
    assert figures["schema.graphql: our schema is a superset (introspection)"] == "1 of 2 hold"
    assert figures["client queries: answered completely over HTTP (serve --port 0)"] == (
        f"{len(held)} of {len(held) + 1} hold"
    )
    assert figures[WINDOW_VERDICTS] == "skipped"
    assert figures[BUILD_DEB] == "skipped"
    assert out.rstrip().endswith("do not hold")


def test_a_clean_history_exits_zero(tmp_path: Path) -> None:
    """Nothing but a schema that ours covers: everything measured holds."""
    repo = tmp_path / "original"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"schema.graphql": SCHEMA}, "schema only", "2018-03-07T12:00:00")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(repo / ".git")],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert summary(run.stdout)["schema.graphql: our schema is a superset (introspection)"] == (
        "1 of 1 hold"
    )
    assert run.stdout.rstrip().endswith("everything measured holds")


def test_spaced_keys_become_camel_case_and_words_upper_case() -> None:
    assert stethoscope_camel_case(
        {"os version": {"linux": {"ok": ">=1"}}, "Disk Encryption": "always", "screenIdle": "<=60"}
    ) == {"osVersion": {"linux": {"ok": ">=1"}}, "diskEncryption": "ALWAYS", "screenIdle": "<=60"}


def test_texts_compare_by_their_words_not_their_markup() -> None:
    html = "<a href='x://y' class='btn'>Update  now</a>\n{{#each disks}}<li>{{{ok this}}}</li>{{/each}}"
    assert text_lines(html) == ["Update now"]
    assert text_lines("1. Open [Settings](ms-settings:x).\n\n- Click *On*") == [
        "Open Settings.",
        "Click *On*",
    ]


MAC_2019_TEXTS: dict[str, Any] = {
    "title": "{{#if passing}}\n  Updates are on\n{{else}}\n  Updates should be on\n{{/if}}\n",
    "description": "Updates fix holes.",
    "directions": {
        "darwin": (
            "1. Open the settings.\n"
            "{{#if mojave}}\n1. Click Software Update.\n{{else}}\n1. Click App Store.\n{{/if}}\n"
            "{{#unless passing}}\n"
            "- {{{statusIcon automaticOsUpdates 'Install macOS updates'}}}\n"
            "{{/unless}}\n"
            "{{#each disks}}<li>{{{okIcon this.label}}}</li>{{/each}}\n"
            '{{requirement "osVersion" "darwin"}}\n'
        ),
        "win32": "1. Open Windows Update.\n",
    },
}


def test_the_originals_titles_are_rendered_per_state() -> None:
    assert original_titles({"PASS": "It is on", "FAIL": "Turn it on"}) == ("It is on", "Turn it on")
    # April 2018's helper, and the Handlebars titles from August 2018 on.
    assert original_titles("The wall {{#ifPassing}} is {{else}} should be {{/ifPassing}} up") == (
        "The wall is up",
        "The wall should be up",
    )
    assert original_titles(MAC_2019_TEXTS["title"]) == ("Updates are on", "Updates should be on")
    assert original_titles("Firewall") == ("Firewall", "Firewall")


def test_the_originals_directions_are_what_it_showed_while_failing() -> None:
    """Checklist labels shown, markers and the device's values not; one branch per macOS."""
    older = original_directions(MAC_2019_TEXTS["directions"]["darwin"], macos_newer=False)
    newer = original_directions(MAC_2019_TEXTS["directions"]["darwin"], macos_newer=True)
    assert older == ["Open the settings.", "Click App Store.", "Install macOS updates"]
    assert newer == ["Open the settings.", "Click Software Update.", "Install macOS updates"]
    assert original_directions(
        "1. Click OK\n  - [privateFirewall] The wall at home\n  - [Firewall] stays\n", False
    ) == ["Click OK", "The wall at home", "[Firewall] stays"]
    assert (macos_newer("10.13.6"), macos_newer("10.14"), macos_newer("15.1.0")) == (
        False,
        True,
        True,
    )


def converted(directions: dict[str, str], **titles: str) -> PracticeText:
    return PracticeText(
        title_passing=titles.get("passing", "Updates are on"),
        title_failing=titles.get("failing", "Updates should be on"),
        description="Updates fix holes.",
        directions=directions,
    )


CARRIED = {
    "darwin@<10.14.0": "1. Open the settings.\n1. Click App Store.\n- Install macOS updates\n",
    "darwin@>=10.14.0": "1. Open the settings.\n1. Click Software Update.\n- Install macOS updates\n",
    "win32": "1. Open Windows Update.\n",
}


def test_what_a_reading_of_the_texts_leaves_out_is_named() -> None:
    named = ["automaticUpdates"]
    ours = {"automaticUpdates": converted(CARRIED)}
    assert lost_texts("automaticUpdates", MAC_2019_TEXTS, ours, named) == []
    dropped = {
        "automaticUpdates": PracticeText(
            title_passing="Updates are on",
            title_failing="Updates are on",
            directions={"darwin": "1. Open the settings.\n1. Click App Store.\n"},
        )
    }
    assert lost_texts("automaticUpdates", MAC_2019_TEXTS, dropped, named) == [
        "automaticUpdates.title (failing) IT's 'Updates should be on', shown 'Updates are on'",
        "automaticUpdates.description lacks 'Updates fix holes.'",
        "automaticUpdates.directions.darwin lost 2 line(s), e.g. 'Click Software Update.'",
        "automaticUpdates.directions.win32 lost 1 line(s), e.g. 'Open Windows Update.'",
    ]
    assert lost_texts("automaticUpdates", MAC_2019_TEXTS, {}, named) == [
        "automaticUpdates: the practice is not read"
    ]


def test_the_applications_texts_are_each_application_cards() -> None:
    """v3+ `applications`: on every rule's card not named by the file, followed by its name."""
    theirs = {"title": "{{#if passing}}Apps are fine{{else}}Apps are not fine{{/if}}",
              "directions": {"darwin": "See below."}}  # fmt: skip
    card = PracticeText(
        title_passing="Apps are fine ({{name}})",
        title_failing="Apps are not fine ({{name}})",
        directions={"darwin": "See below.\n{{installFrom}}\n"},
    )
    named = ["applications", "bannedApplications"]
    ours = {"requiredApplications": card, "suggestedApplications": card}
    assert lost_texts("applications", theirs, ours, named) == []
    wrong = PracticeText(title_passing="Apps are fine (x)", title_failing="Apps are not fine")
    assert lost_texts("applications", theirs, {**ours, "suggestedApplications": wrong}, named) == [
        "applications (as suggestedApplications).title (passing) IT's 'Apps are fine', "
        "shown 'Apps are fine (x)'",
        "applications (as suggestedApplications).directions.darwin lost 1 line(s), "
        "e.g. 'See below.'",
    ]


def test_each_macos_branch_is_shown_on_a_version_the_original_showed_it_on() -> None:
    named = ["automaticUpdates"]
    assert not_shown("automaticUpdates", MAC_2019_TEXTS, lambda _k: converted(CARRIED), named) == []
    both = "1. Open the settings.\n1. Click App Store.\n1. Click Software Update.\n- Install macOS updates\n"
    problems = not_shown(
        "automaticUpdates",
        MAC_2019_TEXTS,
        lambda _k: converted({"darwin": both, "win32": "1. Open Windows Update.\n"}),
        named,
    )
    assert problems == [
        "automaticUpdates: on darwin 10.13.6 the 'darwin' directions shown include what the "
        "original showed only on the other macOS versions, e.g. 'Click Software Update.'"
    ]  # the first device that shows it; the others are not listed again
    older_only = {**CARRIED, "darwin@>=10.14.0": CARRIED["darwin@<10.14.0"]}
    assert not_shown(
        "automaticUpdates", MAC_2019_TEXTS, lambda _k: converted(older_only), named
    ) == [
        "automaticUpdates: on darwin 12.7.6 the 'darwin@>=10.14.0' directions shown lack 1 "
        "line(s) the original showed, e.g. 'Click Software Update.'"
    ]


def facts(checks: dict[str, Fact]) -> Facts:
    return Facts(
        checks=checks,
        device=DeviceFacts(platform="linux", platform_name="Debian GNU/Linux",
                           os_name="Debian GNU/Linux", os_version="12.7.0"),
        context=PlatformContext("linux", "linux", "debian", "12.7.0"),
        engine=EngineInfo("embedded"),
        started_at="2026-11-20T09:00:00+00:00",
        duration_seconds=0.1,
    )  # fmt: skip


def test_the_original_gets_this_machines_facts_as_its_scripts_read_them() -> None:
    rows: tuple[Row, ...] = ({"value": "12.7.0", "version": "12 (bookworm)"},)
    scanned = facts({
        "os_version": Fact(Evidence("os_version", rows=rows), value="12.7.0", rows=rows),
        "firewall": Fact(Evidence("firewall"), FeatureState.ON),
        "remote_login": Fact(Evidence("remote_login"), FeatureState.OFF),
        "screen_idle": Fact(Evidence("screen_idle"), reason="no desktop session"),
        "applications": Fact(Evidence("applications"), rows=({"name": "bash", "version": "5.2"},)),
    })  # fmt: skip
    device, unknown = oracle_device(scanned, "5.0.6")
    assert device["osVersion"] == "12"  # os-release VERSION_ID, as Stethoscope read it
    assert (device["firewall"], device["remoteLogin"]) == (True, False)
    assert device["applications"] == [{"name": "bash", "version": "5.2"}]
    assert device["stethoscopeVersion"] == "5.0.6"
    assert unknown["screenIdle"] == "no desktop session"
    assert "diskEncryption" in unknown and "diskEncryption" not in device


def test_verdicts_differ_per_key_per_rule_and_overall() -> None:
    ours = (
        {"firewall": "PASS", "osVersion": "NUDGE"},
        [("bash", "PASS"), ("vim", "PASS")],
        "NUDGE",
    )
    original = (
        {"firewall": "PASS", "osVersion": "FAIL"},
        [("bash", "FAIL"), ("vim", "PASS")],
        "FAIL",
    )
    compared = ["firewall", "osVersion", "applications", "bannedApplications"]
    assert [str(d) for d in verdict_differences(ours, original, compared)] == [
        "osVersion: ours NUDGE, original FAIL",
        "applications/bash: ours PASS, original FAIL",
        "overall: ours NUDGE, original FAIL",
    ]
    assert verdict_differences(ours, ours, compared) == []


def test_a_key_is_left_out_only_where_the_original_reads_what_we_could_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each key goes to the original alone; a key it judges without the fact stays compared."""
    sent: list[dict[str, Any]] = []

    def oracle(_path: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sent.extend(cases)
        needs = {"screenLock": "screenLock", "openWifiConnections": None}  # unsupported: no fact
        answers = []
        for case in cases:
            fact = needs[
                measure_original.practice_name(next(iter(yaml.safe_load(case["policyYaml"]))))
            ]
            missing = fact and fact not in case["device"]
            errors = (
                [f'device facts have no "{fact}" (the linux resolvers read it)']
                if missing
                else None
            )
            answers.append({"errors": errors})
        return answers

    monkeypatch.setattr(measure_original, "run_oracle", oracle)
    policy = measure_original.JudgedPolicy(
        blob=measure_original.Blob(
            "0" * 40, "policy.yaml", "c" * 40, "2021-08-02", ("policy.yaml",)
        ),
        data={"screen lock": "IF_SUPPORTED", "openWifiConnections": "SUGGESTED"},
        report=None,  # type: ignore[arg-type]
        facts=None,  # type: ignore[arg-type]
    )
    left_out = measure_original.keys_the_original_cannot_judge(
        Path("oracle"), [policy], [{"platform": "linux"}], [{"screenLock": "no desktop session"}]
    )
    assert left_out == [{"screenLock": "no desktop session"}]
    assert [yaml.safe_load(case["policyYaml"]) for case in sent] == [
        {"screen lock": "IF_SUPPORTED"},
        {"openWifiConnections": "SUGGESTED"},
    ]


# -- deliberate differences ------------------------------------------------------------------

ORACLE = Path(os.environ.get("STETHOSCOPE_ORACLE", "/work/oracle"))
ORACLE_MISSING = not (ORACLE / "verdict.js").is_file() or shutil.which("node") is None


def _at_least(version: str, requirement: object) -> bool:
    """`>=x.y` as semver 5 compared a version coerced to x.y.z (enough for these tests)."""
    if not isinstance(requirement, str):
        return False

    def padded(text: str) -> tuple[int, ...]:
        numbers = tuple(int(n) for n in re.findall(r"\d+", text)[:3])
        return numbers + (0,) * (3 - len(numbers))

    return padded(version) >= padded(requirement.removeprefix(">="))


def _verdict(state: bool | None, requirement: str) -> str:
    if state is None:  # UNSUPPORTED
        return "FAIL" if requirement == "NEVER" else "PASS"
    if requirement == "NEVER":
        return "FAIL" if state else "PASS"
    return "PASS" if state else "NUDGE" if requirement == "SUGGESTED" else "FAIL"


def fake_original(case: dict[str, Any]) -> dict[str, Any]:
    """Stethoscope 5.0.6's answer on Linux, for the keys these tests ask about.

    As the oracle recorded it (test_original_verdicts.py): automaticUpdates is read on Ubuntu
    only, else UNSUPPORTED (PASS, FAIL under NEVER); screenLock holds only with an idle delay;
    osVersion compares os-release's VERSION_ID with the `linux` bracket; a missing fact is an
    error naming it.
    """
    policy = stethoscope_camel_case(yaml.safe_load(case["policyYaml"]))
    device = case["device"]

    def fact(name: str) -> Any:
        if device.get(name) is None:
            raise KeyError(name)
        return device[name]

    verdicts: dict[str, str] = {}
    try:
        for key, requirement in policy.items():
            if key == "osVersion":
                version, bracket = str(fact("osVersion")), requirement.get("linux") or {}
                verdicts[key] = (
                    "PASS" if _at_least(version, bracket.get("ok"))
                    else "NUDGE" if _at_least(version, bracket.get("nudge"))
                    else "FAIL"
                )  # fmt: skip
                continue
            if key == "automaticUpdates":
                state = fact(key) if device["osName"] == "Ubuntu" else None
            elif key == "screenLock":
                state = bool(fact("screenLock")) and int(fact("screenIdle")) > 0
            else:
                state = bool(fact(key))
            verdicts[key] = _verdict(state, requirement)
    except KeyError as missing:
        error = f'device facts have no "{missing.args[0]}" (the linux resolvers read it)'
        return {"errors": [error], "validate": None}
    worst = max(verdicts.values(), key=["PASS", "NUDGE", "FAIL"].index, default="PASS")
    return {"errors": None, "validate": {**verdicts, "status": worst, "applications": None}}


@pytest.fixture(params=["fake", "real"])
def oracle(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The original: recorded here (everywhere), or the oracle workspace where there is one."""
    if request.param == "real":
        if ORACLE_MISSING:
            pytest.skip(f"no oracle workspace at {ORACLE} (STETHOSCOPE_ORACLE) or no node")
        return ORACLE
    monkeypatch.setattr(
        measure_original, "run_oracle", lambda _path, cases: [fake_original(c) for c in cases]
    )
    return Path("fake-oracle")


DEBIAN_FACTS = {
    "platform": "linux", "osName": "Debian GNU/Linux", "osVersion": "12",
    "stethoscopeVersion": "5.0.6", "firewall": True, "automaticUpdates": False,
    "screenLock": True, "screenIdle": 0,
}  # fmt: skip
ON_DEBIAN = Situation(
    policy={"automaticUpdates": "ALWAYS", "screenLock": "ALWAYS",
            "osVersion": {"linux": {"ok": ">=12.5", "nudge": ">=11"}}},
    device=DEBIAN_FACTS,
    point_release="12.7.0",
    platform_keys=("debian", "linux", "all"),
)  # fmt: skip
ON_UBUNTU = Situation(
    policy={"automaticUpdates": "ALWAYS"},
    device={**DEBIAN_FACTS, "osName": "Ubuntu", "osVersion": "22.04", "automaticUpdates": True},
    point_release="22.4.4",
    platform_keys=("ubuntu", "linux", "all"),
)


def test_a_difference_is_deliberate_only_where_the_originals_answers_show_it(
    oracle: Path,
) -> None:
    asked = [
        # Deliberate: on Debian the original does not read automatic updates (flipped, the
        # same PASS), and given the point release it answers our PASS.
        (ON_DEBIAN, VerdictDifference("automaticUpdates", "FAIL", "PASS")),
        (ON_DEBIAN, VerdictDifference("osVersion", "PASS", "NUDGE")),
        # Not: given the point release the original says PASS, not our FAIL; no row covers
        # screenLock on Linux; on Ubuntu the original reads automatic updates.
        (ON_DEBIAN, VerdictDifference("osVersion", "FAIL", "NUDGE")),
        (ON_DEBIAN, VerdictDifference("screenLock", "PASS", "FAIL")),
        (ON_UBUNTU, VerdictDifference("automaticUpdates", "FAIL", "PASS")),
    ]
    explained = measure_original.attribute(oracle, asked)
    cases = [[row.case for row in e.rows] if e else None for e in explained]
    assert cases == [
        ["automatic updates on Linux other than Ubuntu, Windows screen idle, macOS screen lock "
         "and idle, open Wi-Fi off macOS"],
        ["Linux OS version"],
        None,
        None,
        None,
    ]  # fmt: skip
    assert "asked with automaticUpdates True and False, answers PASS both times" in str(
        explained[0]
    )
    assert "given the point release 12.7.0 for VERSION_ID 12, answers PASS as ours" in str(
        explained[1]
    )


def test_the_overall_difference_is_deliberate_only_when_every_key_difference_is() -> None:
    updates = VerdictDifference("automaticUpdates", "FAIL", "PASS")
    lock = VerdictDifference("screenLock", "PASS", "FAIL")
    overall = VerdictDifference("overall", "FAIL", "PASS")
    why = measure_original.Explanation(
        (measure_original.DELIBERATE[3],), "answers PASS both times", (), "PASS"
    )
    held = judged_outcome("p", [updates, overall], {updates: why}, ["a note"])
    assert (held.holds, held.deliberate) == (True, ["automaticUpdates", "overall"])
    assert held.notes[0].startswith("deliberately different: automaticUpdates: ours FAIL")
    mixed = judged_outcome("p", [updates, lock, overall], {updates: why, lock: None}, [])
    assert not mixed.holds
    assert mixed.reason == "screenLock: ours PASS, original FAIL; overall: ours FAIL, original PASS"
    alone = judged_outcome("p", [overall], {}, [], extra=["securitySoftware"])
    assert not alone.holds
    assert alone.reason == (
        "overall: ours FAIL, original PASS; ours also judges what the policy does not name: "
        "securitySoftware"
    )


class FakeServer:
    """Our local API's validate, answering what our report says (the window's verdicts)."""

    def __init__(self, reports: dict[str, Any]) -> None:
        self.reports = reports

    def graphql(self, _query: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        report = self.reports[json.dumps(variables["policy"], sort_keys=True)]
        validate: dict[str, Any] = {p.key: p.status.value for p in report.practices}
        validate.update(status=report.status.value, applications=None)
        return 200, {"data": {"policy": {"validate": validate}}}


def judged_on_debian(tmp_path: Path, name: str, policy: str) -> measure_original.JudgedPolicy:
    """A policy.yaml as IT's policy on a Debian 12.7, judged by us.

    Its automatic updates are off, its firewall is on, its screen locks but never goes idle.
    """
    folder = tmp_path / name
    folder.mkdir()
    (folder / "policy.yaml").write_text(policy, encoding="utf-8")
    rows: tuple[Row, ...] = ({"value": "12.7.0", "version": "12 (bookworm)"},)
    scanned = facts({
        "os_version": Fact(Evidence("os_version", rows=rows), value="12.7.0", rows=rows),
        "firewall": Fact(Evidence("firewall"), FeatureState.ON),
        "automatic_updates": Fact(Evidence("automatic_updates"), FeatureState.OFF),
        "screen_lock": Fact(Evidence("screen_lock"), FeatureState.ON),
        "screen_idle": Fact(Evidence("screen_idle"), rows=({"enabled": 0},)),
    })  # fmt: skip
    practices = measure_original.load_practices(folder)
    report = evaluate(practices.policy, scanned, practices.instructions)
    blob = measure_original.Blob(name * 40, "policy.yaml", name * 40, "2021-08-02", ())
    data = yaml.safe_load(policy)
    return measure_original.JudgedPolicy(blob, data, report, scanned)


def test_verdicts_hold_where_they_differ_deliberately_and_fail_where_not(
    oracle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deliberate = judged_on_debian(
        tmp_path,
        "a",
        "os version:\n  linux: {ok: '>=12.5', nudge: '>=11'}\nautomatic updates: always\n",
    )
    not_deliberate = judged_on_debian(tmp_path, "b", "screenLock: ALWAYS\nfirewall: ALWAYS\n")
    server = FakeServer({
        json.dumps(stethoscope_camel_case(j.data), sort_keys=True): j.report
        for j in (deliberate, not_deliberate)
    })  # fmt: skip
    fake_server: Any = server
    window, api = measure_original.measure_verdicts(
        [deliberate, not_deliberate], oracle, fake_server, "5.0.6"
    )
    for category in (window, api):
        first, second = category.outcomes
        assert first.holds, first.reason
        assert first.deliberate == ["osVersion", "automaticUpdates", "overall"]
        assert not second.holds
        assert second.reason == (
            "screenLock: ours PASS, original FAIL; overall: ours PASS, original FAIL"
        )
        assert (category.held, len(category.counted)) == (1, 2)
    measure_original.print_category(window)
    printed = capsys.readouterr().out
    assert (
        "ok   policy.yaml@aaaaaaa 2021-08-02 (blob aaaaaaa) (differs deliberately: osVersion, "
        "automaticUpdates, overall)" in printed
    )
    assert "FAIL policy.yaml@bbbbbbb" in printed


def test_each_deliberate_difference_is_a_row_of_the_readme() -> None:
    """The table the script attributes differences to is the README's, row by row."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Switching from Netflix's Stethoscope", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")}
    for row in measure_original.DELIBERATE:
        assert row.case in rows, row.case
        assert row.reason and row.where
        assert bool(row.unmeasured) != (row.rewrite is not None), row.case


@pytest.mark.skipif(ORACLE_MISSING, reason=f"no oracle workspace at {ORACLE} or no node")
def test_the_recorded_differences_are_attributed_to_their_rows() -> None:
    """Each difference test_original_verdicts.py records (its xfail rows) is one of the table's.

    Our window's verdict on each recorded case against the original's recorded answer: where
    the row says we differ, every key's difference is attributed, on the original's own answers
    to the questions the table asks; where it does not, there is no difference to attribute.
    """
    from tests.compat import test_original_verdicts as recorded

    asked, expected = [], []
    for case in recorded.CASES:
        original = recorded.ORIGINAL[case.id]
        if original.error:
            continue
        ours = recorded.window_verdict(case)[0]
        compared = [
            measure_original.practice_name(str(key))
            for key in case.policy_data()
            if measure_original.practice_name(str(key)) not in measure_original.SETTING_KEYS
        ]
        differences = verdict_differences(
            (dict(ours.practices), list(ours.applications or ()), str(ours.status)),
            (dict(original.practices), list(original.applications or ()), str(original.status)),
            compared,
        )
        assert bool(differences) == bool(case.window_differs), case.id
        device = case.device
        version = device.our_os_version or device.os_version
        context = PlatformContext(
            device.osquery_platform, device.platform, device.distribution, version,
            device.aws_workspace,
        )  # fmt: skip
        situation = Situation(
            stethoscope_camel_case(case.policy_data()),
            device.oracle_facts(),
            version,
            context.policy_keys(),
        )
        for difference in differences:
            if difference.key != "overall":
                asked.append((situation, difference))
                expected.append(case.id)
    explained = measure_original.attribute(ORACLE, asked)
    unexplained = [
        f"{case_id}: {difference}"
        for case_id, (_situation, difference), explanation in zip(
            expected, asked, explained, strict=True
        )
        if explanation is None
    ]
    assert asked and unexplained == []
