"""The Fleet policies of packaging/fleet/: Fleet takes the file, and each query judges as it says.

Fleet reads a GitOps policies file (`policies: - path: ../lib/x.policies.yml`) with
`pkg/spec/gitops.go`: the YAML becomes JSON (ghodss/yaml) decoded into its policy spec
(`fleet.PolicySpec` plus `run_script`, `install_software`, `path`), `$VAR` and `${VAR}` outside
`description` and `resolution` are replaced from the environment (an unset one is an error), name
and query must not be blank, names must be unique, and `PolicySpec.Verify`
(`server/fleet/policies.go`) allows the platforms windows, linux, darwin and chrome, comma-
separated. `test_fleet_accepts_the_file` applies those rules here; Fleet's own Go code needs Go
1.24, and Debian's packages here have 1.19, so it does not judge in this suite.

The queries run on the embedded engine (SQLite with virtual tables, as osquery's are) over the
osquery extension's own two tables, reading the reports of a fake machine's users (a real
report, tests/data/reports/, saved in their homes), as the extension reads them as root.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from stethoscope_desktop.core.policy import Requirement, merge_layers, parse_policy
from stethoscope_desktop.core.yamlfile import load_yaml
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.fleet_extension.tables import (
    PRACTICES_COLUMNS,
    STATUS_COLUMNS,
    PracticesTable,
    ReportCollector,
    StatusTable,
)
from stethoscope_desktop.fleet_extension.users import LinuxUsers
from tests.fleet_extension.machine import AS_ROOT, FakeMachine

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "packaging" / "fleet" / "stethoscope.policies.yml"
DEFAULT_POLICY = ROOT / "practices" / "policy.yaml"
REPORT = ROOT / "tests" / "data" / "reports" / "debian-default-policy.json"

# fleet.PolicySpec's JSON fields and their JSON types, with GitOps' own (pkg/spec/gitops.go).
FLEET_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "query": str,
    "description": str,
    "critical": bool,
    "resolution": str,
    "team": str,
    "platform": str,
    "calendar_events_enabled": bool,
    "software_title_id": int,
    "script_id": int,
    "labels_include_any": list,
    "labels_exclude_any": list,
    "conditional_access_enabled": bool,
    "run_script": dict,
    "install_software": dict,
    "path": str,
}
FLEET_PLATFORMS = {"windows", "linux", "darwin", "chrome"}
# Fleet's MaybeExpand: $NAME or ${NAME}.
FLEET_VARIABLE = re.compile(r"\$\{?[A-Za-z_]")
# Our platform names in policy.yaml -> Fleet's.
FLEET_PLATFORM = {"darwin": "darwin", "linux": "linux", "win32": "windows"}


def _policies() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(POLICIES.read_text(encoding="utf-8"))
    assert isinstance(loaded, list)
    return loaded


def _practice_key(policy: Mapping[str, Any]) -> str | None:
    match = re.search(r"p\.key = '([^']+)'", policy["query"])
    return match.group(1) if match else None


def test_fleet_accepts_the_file() -> None:
    text = POLICIES.read_text(encoding="utf-8")
    # Fleet replaces $VAR outside description and resolution, and an unset one is an error:
    # the file has none anywhere.
    assert not FLEET_VARIABLE.search(text)
    policies = yaml.safe_load(text)
    # A policies file Fleet reads through `path:` is a list of policies (of non-null items).
    assert isinstance(policies, list) and policies
    names: list[str] = []
    for number, policy in enumerate(policies, start=1):
        assert isinstance(policy, dict), f"policy {number} is not a mapping"
        unknown = set(policy) - set(FLEET_FIELDS)
        # Fleet would ignore them silently: a misspelt field would be lost.
        assert not unknown, f"policy {number}: fields Fleet does not know: {unknown}"
        for field, value in policy.items():
            assert isinstance(value, FLEET_FIELDS[field]), f"policy {number}: {field}: {value!r}"
        assert "path" not in policy, "nested paths are not supported by Fleet"
        assert policy.get("name", "").strip(), f"policy {number}: name is required"
        assert policy.get("query", "").strip(), f"policy {number}: query is required"
        platforms = [item.strip() for item in policy.get("platform", "").split(",")]
        assert policy.get("platform", "") == "" or set(platforms) <= FLEET_PLATFORMS, policy
        assert not ("labels_include_any" in policy and "labels_exclude_any" in policy)
        # Automations and calendar events belong to team files: this file is for any of them.
        assert not {"run_script", "install_software", "calendar_events_enabled"} & set(policy)
        names.append(unicodedata.normalize("NFC", policy["name"]))
    duplicates = {name for name in names if names.count(name) > 1}
    assert not duplicates, f"duplicate policy names: {duplicates}"
    # Every policy says what it checks and how to fix it, for the people who read Fleet's page.
    assert all(p.get("description") and p.get("resolution") for p in policies)
    assert all(isinstance(p.get("critical"), bool) and p.get("platform") for p in policies)


def _default_practices() -> dict[str, tuple[set[str], bool]]:
    """Return each practice key the default policy gives, with its Fleet platforms.

    With each: whether it is a requirement (ALWAYS, NEVER) rather than a suggestion.
    """
    layer = parse_policy(load_yaml(DEFAULT_POLICY))
    policy, problems = merge_layers([layer])
    assert not problems and not layer.problems
    everywhere = set(FLEET_PLATFORM.values())
    practices: dict[str, tuple[set[str], bool]] = {}
    for key, requirement in policy.features.items():
        practices[key] = (everywhere, requirement in (Requirement.ALWAYS, Requirement.NEVER))
    if policy.os_version:
        practices["osVersion"] = (everywhere, True)
    if policy.screen_idle is not None:
        practices["screenIdle"] = (everywhere, True)
    if policy.stethoscope_desktop_version is not None:
        practices["stethoscopeDesktopVersion"] = (everywhere, False)
    for rule in policy.applications:
        platforms = (
            {FLEET_PLATFORM[name] for name in rule.platform} if rule.platform else everywhere
        )
        required = rule.assertion in (Requirement.ALWAYS, Requirement.NEVER)
        practices[f"applications/{rule.name}"] = (platforms, required)
    assert not policy.custom_checks and policy.security_software is None
    return practices


def test_there_is_one_policy_per_practice_of_the_default_policy() -> None:
    by_key: dict[str, dict[str, Any]] = {}
    for policy in _policies():
        key = _practice_key(policy)
        if key is not None:
            assert key not in by_key, f"two policies for {key}"
            by_key[key] = policy
    practices = _default_practices()
    assert set(by_key) == set(practices)
    for key, (platforms, required) in practices.items():
        policy = by_key[key]
        assert set(policy["platform"].split(",")) == platforms, key
        assert policy["critical"] is required, key
        assert f"(practice {key})" in " ".join(policy["description"].split()), key
    # And the two on the reports themselves.
    others = [p["name"] for p in _policies() if _practice_key(p) is None]
    assert others == [
        "Stethoscope - Reported within the last day",
        "Stethoscope - Every logged-in user has a fresh report",
    ]


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _report(changes: Mapping[str, str] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(REPORT.read_text(encoding="utf-8"))
    for practice in report["practices"]:
        practice["status"] = (changes or {}).get(practice["key"], practice["status"])
    return report


def _save(machine: FakeMachine, name: str, report: Mapping[str, Any], *, age: int) -> None:
    """Give the fake machine a user `name` whose last report was saved `age` seconds ago."""
    user = machine.add_user(name)
    started = NOW - timedelta(seconds=age)
    machine.put_report(
        user, json.dumps({**report, "started_at": started.isoformat(timespec="seconds")}).encode()
    )


def _passing(machine: FakeMachine) -> dict[str, bool]:
    """Run every Fleet policy on the extension's tables over the machine: name -> passes."""
    collector = ReportCollector(LinuxUsers(str(machine.root)))
    tables = [StatusTable(collector, clock=NOW.timestamp), PracticesTable(collector)]
    engine = EmbeddedEngine(tables, platform="linux")
    results: dict[str, bool] = {}
    with engine.begin_scan() as session:
        for policy in _policies():
            results[policy["name"]] = bool(session.query(policy["query"]).rows)
    return results


def _by_key(results: Mapping[str, bool]) -> dict[str, bool]:
    return {
        key: results[policy["name"]]
        for policy in _policies()
        if (key := _practice_key(policy)) is not None
    }


def test_one_fresh_report_passes_exactly_its_passing_practices(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path / "root")
    report = _report()
    _save(machine, "alice", report, age=600)
    results = _passing(machine)
    statuses = {p["key"]: p["status"] for p in report["practices"]}
    expected = {key: statuses.get(key) == "PASS" for key in _by_key(results)}
    # NUDGE (osVersion 12 in the nudge bracket, a suggested app) and UNKNOWN (no desktop
    # session) fail; a practice this platform's report has not (utorrent) fails too.
    assert statuses["osVersion"] == "NUDGE" and statuses["screenLock"] == "UNKNOWN"
    assert _by_key(results) == expected
    assert expected["remoteLogin"] and not expected["diskEncryption"]
    assert results["Stethoscope - Reported within the last day"]
    assert results["Stethoscope - Every logged-in user has a fresh report"]


@pytest.mark.skipif(not AS_ROOT, reason="two users of their own need root (chown)")
def test_every_fresh_report_on_the_host_must_pass(tmp_path: Path) -> None:
    passing = _report({"diskEncryption": "PASS", "screenLock": "PASS"})
    failing = _report({"diskEncryption": "PASS", "screenLock": "FAIL"})
    machine = FakeMachine(tmp_path / "fresh")
    _save(machine, "alice", passing, age=60)
    _save(machine, "bob", failing, age=60)
    by_key = _by_key(_passing(machine))
    assert by_key["diskEncryption"] is True
    assert by_key["screenLock"] is False  # bob's screen does not lock
    # A stale report does not count: bob's, two days old, no longer holds the host back...
    machine = FakeMachine(tmp_path / "bob-stale")
    _save(machine, "alice", passing, age=60)
    _save(machine, "bob", failing, age=2 * 86400)
    results = _passing(machine)
    assert _by_key(results)["screenLock"] is True
    assert results["Stethoscope - Every logged-in user has a fresh report"]
    # ...and with only stale reports nothing passes, and the freshness policy says why.
    machine = FakeMachine(tmp_path / "all-stale")
    _save(machine, "bob", failing, age=2 * 86400)
    results = _passing(machine)
    assert not any(_by_key(results).values())
    assert not results["Stethoscope - Reported within the last day"]


@pytest.mark.skipif(not AS_ROOT, reason="two users of their own need root (chown)")
def test_a_logged_in_user_without_a_report_fails_the_every_user_policy(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path / "root")
    _save(machine, "alice", _report(), age=60)
    machine.add_user("carol")
    machine.log_in("alice", "carol")
    results = _passing(machine)
    assert results["Stethoscope - Reported within the last day"]  # alice's report is fresh
    assert not results["Stethoscope - Every logged-in user has a fresh report"]
    machine = FakeMachine(tmp_path / "carol-only")
    machine.add_user("carol")
    machine.log_in("carol")
    results = _passing(machine)
    assert not results["Stethoscope - Reported within the last day"]
    assert not any(_by_key(results).values())


@pytest.mark.parametrize("column_set", ["status", "practices"])
def test_the_queries_name_only_columns_the_tables_have(column_set: str) -> None:
    """Each column a query names of a table is one of its agreed columns.

    SQLite says so too, above; this names the column when one is renamed.
    """
    columns = {c.name for c in (STATUS_COLUMNS if column_set == "status" else PRACTICES_COLUMNS)}
    alias = "s" if column_set == "status" else "p"
    for policy in _policies():
        query = policy["query"]
        named = set(re.findall(rf"\b{alias}\.(\w+)", query))
        if f"stethoscope_{column_set}" in query and " AS " not in query:
            named |= set(re.findall(r"\b(stale|status|logged_in|key)\b", query))
        assert named <= columns, (policy["name"], named - columns)
