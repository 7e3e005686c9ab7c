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

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stethoscope_desktop.core.facts import Fact, Facts, PlatformContext
from stethoscope_desktop.core.instructions import PracticeText
from stethoscope_desktop.core.report import DeviceFacts, Evidence
from stethoscope_desktop.core.status import FeatureState
from stethoscope_desktop.engines.info import EngineInfo
from stethoscope_desktop.tables.values import Row
from tests.compat import measure_original
from tests.compat.measure_original import (
    BUILD_DEB,
    WINDOW_VERDICTS,
    input_compatible,
    lost_texts,
    oracle_device,
    output_compatible,
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
    title: >
      {{#if passing}}
        The wall is up
      {{else}}
        Raise the wall
      {{/if}}
    description: >
      A wall keeps strangers out of this computer.
    directions:
      darwin: |
        1. Open [Network settings](x-apple.systempreferences:com.apple.preference.security).
        1. Turn the wall on.
      win32: |
        1. Open the wall's settings.
        1. Click "On".
"""
INSTRUCTIONS_LATER = INSTRUCTIONS_2018.replace("Raise the wall", "The wall should be up")
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
    assert "Device.bogusFieldOfTheFixture missing" in schemas[1]

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


def test_what_a_reading_of_the_texts_leaves_out_is_named() -> None:
    theirs = {
        "title": "{{#if passing}}Up{{else}}Down{{/if}}",
        "description": "Why it matters.",
        "directions": {
            "darwin": "1. Open it.\n{{#if old}}\n1. Click A.\n{{else}}\n1. Click B.\n{{/if}}\n"
        },
    }
    carried = PracticeText(
        title_passing="Up", title_failing="Down", description="Why it matters.",
        directions={"darwin@<13": "1. Open it.\n1. Click A.", "darwin@>=13": "1. Click B."},
    )  # fmt: skip
    assert lost_texts("firewall", theirs, carried) == []
    dropped = PracticeText(
        title_passing="Up", title_failing="Up", directions={"darwin": "1. Open it.\n1. Click A."}
    )
    assert lost_texts("firewall", theirs, dropped) == [
        "firewall.title (failing) 'Down' became 'Up'",
        "firewall.description lost 'Why it matters.'",
        "firewall.directions.darwin lost 1 line(s), e.g. 'Click B.'",
    ]
    assert lost_texts("firewall", theirs, None) == ["firewall: the practice is not read"]


def ref(
    kind: str, name: str | None = None, of: dict[str, object] | None = None
) -> dict[str, object]:
    return {"kind": kind, "name": name, "ofType": of}


STRING = ref("SCALAR", "String")


@pytest.mark.parametrize(
    ("ours", "theirs", "output", "input_"),
    [
        (STRING, STRING, True, True),
        (ref("NON_NULL", of=STRING), STRING, True, False),
        (STRING, ref("NON_NULL", of=STRING), False, True),
        (ref("SCALAR", "Semver"), STRING, False, False),
        (ref("LIST", of=STRING), STRING, False, False),
        (ref("LIST", of=ref("NON_NULL", of=STRING)), ref("LIST", of=STRING), True, False),
    ],
)
def test_type_compatibility_is_stricter_output_and_looser_input(
    ours: dict[str, object], theirs: dict[str, object], output: bool, input_: bool
) -> None:
    assert output_compatible(ours, theirs) is output
    assert input_compatible(ours, theirs) is input_


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


def test_verdicts_differ_per_key_and_overall() -> None:
    ours = ({"firewall": "PASS", "osVersion": "NUDGE"}, [("bash", "PASS")], "NUDGE")
    original = ({"firewall": "PASS", "osVersion": "FAIL"}, [("bash", "FAIL")], "FAIL")
    assert verdict_differences(ours, original, ["firewall", "osVersion", "applications"]) == [
        "osVersion: ours NUDGE, original FAIL",
        "applications: ours [('bash', 'PASS')], original [('bash', 'FAIL')]",
        "overall: ours NUDGE, original FAIL",
    ]
    assert verdict_differences(ours, ours, ["firewall", "osVersion", "applications"]) == []


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
