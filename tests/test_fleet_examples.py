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
two tables the osquery extension serves, declared here with the columns agreed for issue 18,
filled from a real report (tests/data/reports/).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from stethoscope_desktop.core.policy import Requirement, merge_layers, parse_policy
from stethoscope_desktop.core.yamlfile import load_yaml
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin

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

# The tables as agreed for issue 18 (both helpers' brief), in osquery's column types.
STATUS_COLUMNS = (
    Column("uid", "bigint"),
    Column("username"),
    Column("status"),
    Column("pass_count", "integer"),
    Column("nudge_count", "integer"),
    Column("fail_count", "integer"),
    Column("unknown_count", "integer"),
    Column("checked_at"),
    Column("checked_at_unix", "bigint"),
    Column("age_seconds", "bigint"),
    Column("stale", "integer"),
    Column("engine"),
    Column("app_version"),
    Column("policy_sha256"),
    Column("sources"),
    Column("logged_in", "integer"),
    Column("error"),
    Column("report_path"),
)
PRACTICE_COLUMNS = (
    Column("uid", "bigint"),
    Column("username"),
    Column("key"),
    Column("status"),
    Column("rating"),
    Column("title"),
    Column("observed"),
    Column("reason"),
    Column("checked_at"),
    Column("checked_at_unix", "bigint"),
)


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


class _RowsTable(TablePlugin):
    """One of the extension's tables, serving given rows (the embedded engine filters them)."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def generate(self, context: QueryContext) -> Iterable[Row]:
        return [dict(row) for row in self.rows]


class _Status(_RowsTable):
    name: ClassVar[str] = "stethoscope_status"
    columns = STATUS_COLUMNS


class _Practices(_RowsTable):
    name: ClassVar[str] = "stethoscope_practices"
    columns = PRACTICE_COLUMNS


def _user_rows(
    uid: int,
    username: str,
    report: Mapping[str, Any],
    *,
    age: int,
    stale_after: int = 86400,
    logged_in: bool = True,
) -> tuple[Row, list[Row]]:
    """Return the status row and the practice rows the extension gives for one user's report."""
    checked_at = report["started_at"]
    checked_at_unix = int(datetime.fromisoformat(checked_at).timestamp())
    counts = {state: 0 for state in ("PASS", "NUDGE", "FAIL", "UNKNOWN")}
    for practice in report["practices"]:
        counts[practice["status"]] += 1
    status: Row = {
        "uid": uid,
        "username": username,
        "status": report["status"],
        **{f"{state.lower()}_count": count for state, count in counts.items()},
        "checked_at": checked_at,
        "checked_at_unix": checked_at_unix,
        "age_seconds": age,
        "stale": int(age > stale_after),
        "engine": report["engine"]["name"],
        "app_version": "0.1.0",
        "policy_sha256": "",
        "sources": ",".join(report["policy_files"]),
        "logged_in": int(logged_in),
        "error": "",
        "report_path": f"/home/{username}/.local/state/stethoscope/last-report.json",
    }
    practices: list[Row] = [
        {
            "uid": uid,
            "username": username,
            **{name: practice[name] for name in ("key", "status", "rating", "title")},
            "observed": practice["observed"] or "",
            "reason": practice["reason"] or "",
            "checked_at": checked_at,
            "checked_at_unix": checked_at_unix,
        }
        for practice in report["practices"]
    ]
    return status, practices


def _no_report_row(uid: int, username: str) -> Row:
    """Return the extension's row for a logged-in user with no report.

    As the extension gives it: the report's columns NULL (stale too), status NO_REPORT, error
    saying why.
    """
    return {
        "uid": uid,
        "username": username,
        "status": "NO_REPORT",
        "logged_in": 1,
        "error": "no report: the app has not saved one for this user",
        "report_path": f"/home/{username}/.local/state/stethoscope/last-report.json",
    }


def _report(changes: Mapping[str, str] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(REPORT.read_text(encoding="utf-8"))
    for practice in report["practices"]:
        practice["status"] = (changes or {}).get(practice["key"], practice["status"])
    return report


def _passing(status_rows: list[Row], practice_rows: list[Row]) -> dict[str, bool]:
    """Run every Fleet policy on the extension's tables: name -> passes (returns rows)."""
    engine = EmbeddedEngine([_Status(status_rows), _Practices(practice_rows)], platform="linux")
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


def test_one_fresh_report_passes_exactly_its_passing_practices() -> None:
    report = _report()
    status, practices = _user_rows(1000, "alice", report, age=600)
    results = _passing([status], practices)
    statuses = {p["key"]: p["status"] for p in report["practices"]}
    expected = {key: statuses.get(key) == "PASS" for key in _by_key(results)}
    # NUDGE (osVersion 12 in the nudge bracket, a suggested app) and UNKNOWN (no desktop
    # session) fail; a practice this platform's report has not (utorrent) fails too.
    assert statuses["osVersion"] == "NUDGE" and statuses["screenLock"] == "UNKNOWN"
    assert _by_key(results) == expected
    assert expected["remoteLogin"] and not expected["diskEncryption"]
    assert results["Stethoscope - Reported within the last day"]
    assert results["Stethoscope - Every logged-in user has a fresh report"]


def test_every_fresh_report_on_the_host_must_pass() -> None:
    passing = _report({"diskEncryption": "PASS", "screenLock": "PASS"})
    failing = _report({"diskEncryption": "PASS", "screenLock": "FAIL"})
    alice, alice_practices = _user_rows(1000, "alice", passing, age=60)
    bob, bob_practices = _user_rows(1001, "bob", failing, age=60, logged_in=False)
    by_key = _by_key(_passing([alice, bob], alice_practices + bob_practices))
    assert by_key["diskEncryption"] is True
    assert by_key["screenLock"] is False  # bob's screen does not lock
    # A stale report does not count: bob's, two days old, no longer holds the host back...
    bob, bob_practices = _user_rows(1001, "bob", failing, age=2 * 86400, logged_in=False)
    results = _passing([alice, bob], alice_practices + bob_practices)
    assert _by_key(results)["screenLock"] is True
    assert results["Stethoscope - Every logged-in user has a fresh report"]
    # ...and with only stale reports nothing passes, and the freshness policy says why.
    results = _passing([bob], bob_practices)
    assert not any(_by_key(results).values())
    assert not results["Stethoscope - Reported within the last day"]


def test_a_logged_in_user_without_a_report_fails_the_every_user_policy() -> None:
    alice, alice_practices = _user_rows(1000, "alice", _report(), age=60)
    results = _passing([alice, _no_report_row(1002, "carol")], alice_practices)
    assert results["Stethoscope - Reported within the last day"]  # alice's report is fresh
    assert not results["Stethoscope - Every logged-in user has a fresh report"]
    results = _passing([_no_report_row(1002, "carol")], [])
    assert not results["Stethoscope - Reported within the last day"]
    assert not any(_by_key(results).values())


@pytest.mark.parametrize("column_set", ["status", "practices"])
def test_the_queries_name_only_columns_the_tables_have(column_set: str) -> None:
    """Each column a query names of a table is one of its agreed columns.

    SQLite says so too, above; this names the column when one is renamed.
    """
    columns = {c.name for c in (STATUS_COLUMNS if column_set == "status" else PRACTICE_COLUMNS)}
    alias = "s" if column_set == "status" else "p"
    for policy in _policies():
        query = policy["query"]
        named = set(re.findall(rf"\b{alias}\.(\w+)", query))
        if f"stethoscope_{column_set}" in query and " AS " not in query:
            named |= set(re.findall(r"\b(stale|status|logged_in|key)\b", query))
        assert named <= columns, (policy["name"], named - columns)
