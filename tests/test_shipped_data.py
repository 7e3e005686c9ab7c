"""Invariants of everything we ship in checks/ and practices/ (qutebrowser's test_configdata idea).

Every shipped file loads without a problem; every policy key is measured, explained and
answered by the API; every practice points at a check; every check has SQL
for each platform; every query names only tables that exist on its platform (in osquery's schema
or among our own tables) and only their real columns.
"""

from __future__ import annotations

import json

import apsw
import apsw.ext
import pytest

from stethoscope_desktop.api.schema import DEVICE_LIST_CHECKS, build_api_schema
from stethoscope_desktop.core.checks import PLATFORMS, CheckKind, load_checks
from stethoscope_desktop.core.facts import DEVICE_CHECK, PRACTICE_CHECKS
from stethoscope_desktop.core.instructions import PRACTICE_KEYS, STRING_KEYS, string_name
from stethoscope_desktop.core.policy import APPLICATION_LISTS, CUSTOM_CHECKS_KEY, POLICY_KEYS
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.resources import checks_dir, practices_dir, resources_dir
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.system import LocalSystem

OSQUERY = json.loads((resources_dir() / "osquery" / "tables.json").read_text())["tables"]
CHECKS = load_checks(checks_dir())
# Facts that have no unprivileged source on that platform yet; the scan says so (UNKNOWN).
KNOWN_GAPS: set[tuple[str, str]] = set()


def known_schema(platform: str) -> apsw.Connection:
    """A database with a plain table for every table a query may name on `platform`."""
    connection = apsw.Connection(":memory:")
    declared: set[str] = set()
    for table in builtin_tables(platform, LocalSystem()):
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        connection.execute(f'CREATE TABLE "{table.name}" ({columns})')
        declared.add(table.name)
    for name, spec in OSQUERY.items():
        if platform not in spec["platforms"] or name in declared:
            continue
        columns = [
            c[0]
            for c in spec["columns"]
            if len(c) < 3
            or platform in c[2].get("platforms", [platform])
            or (platform == "windows" and "win32" in c[2].get("platforms", []))
        ]
        connection.execute(f'CREATE TABLE "{name}" ({", ".join(f"{c!r}" for c in columns)})')
    return connection


def test_every_policy_key_is_measured_and_answered_by_the_api() -> None:
    # A new policy key is one declaration in core/policy.py POLICY plus its evaluation; this
    # names what else a built-in practice needs (its texts: test_english_instructions_are_complete).
    measured = [key for key in POLICY_KEYS if key not in (*APPLICATION_LISTS, CUSTOM_CHECKS_KEY)]
    unmeasured = [key for key in measured if key not in PRACTICE_CHECKS]
    assert unmeasured == [], "name the check that measures each in core/facts.py PRACTICE_CHECKS"
    schema = build_api_schema()
    given = set(schema.type_map["DevicePolicy"].fields)  # type: ignore[union-attr]
    answered = set(schema.type_map["PolicyResult"].fields)  # type: ignore[union-attr]
    # A web page's policy can't bring SQL of its own (customChecks is read only from IT's files).
    asked = set(POLICY_KEYS) - {CUSTOM_CHECKS_KEY}
    assert asked - given == set(), "add them to the GraphQL input DevicePolicy (api/schema.py)"
    assert asked - answered == set(), "add them to the GraphQL type PolicyResult (api/schema.py)"


def test_every_shipped_check_loads() -> None:
    assert CHECKS.problems == ()
    assert set(PRACTICE_CHECKS.values()) | {DEVICE_CHECK, *DEVICE_LIST_CHECKS} == set(CHECKS.checks)


@pytest.mark.parametrize("practice", sorted(PRACTICE_CHECKS))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_practice_has_a_check_for_every_platform(practice: str, platform: str) -> None:
    check = CHECKS.get(PRACTICE_CHECKS[practice])
    assert check is not None
    if (check.id, platform) in KNOWN_GAPS:
        assert check.sql_for(platform) is None, "a gap was filled: remove it from KNOWN_GAPS"
    else:
        assert check.sql_for(platform), f"{check.id} has no SQL for {platform}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_query_names_only_known_tables_and_columns(platform: str) -> None:
    connection = known_schema(platform)
    for check in CHECKS.checks.values():
        sql = check.sql_for(platform)
        if sql is None:
            continue
        try:
            info = apsw.ext.query_info(connection, sql, actions=True)
        except apsw.SQLError as error:
            pytest.fail(f"{check.file} ({platform}): {error}")
        tables = {a.table_name for a in info.actions or () if a.table_name}
        assert tables, f"{check.file} ({platform}) reads no table"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_queries_return_the_columns_their_kind_needs(platform: str) -> None:
    connection = known_schema(platform)
    needed = {
        CheckKind.STATE: {"enabled"},
        CheckKind.VALUE: {"value"},
        CheckKind.LIST: {"name", "version"},
        CheckKind.RECORD: {"deviceName", "osName", "osVersion"},
    }
    for check in CHECKS.checks.values():
        sql = check.sql_for(platform)
        if sql is None:
            continue
        info = apsw.ext.query_info(connection, sql)
        names = {d[0] for d in info.description or ()}
        assert needed[check.kind] <= names, f"{check.file} ({platform}) returns {names}"


def test_shipped_practices_load_without_problems_in_every_language() -> None:
    for language in ("en", "de"):
        practices = PracticesLoader([PracticesFolder("bundled", practices_dir())], language).load()
        assert practices.problems == (), [str(p) for p in practices.problems]
        assert practices.instructions.language == language


def test_english_instructions_are_complete() -> None:
    texts = PracticesLoader([PracticesFolder("bundled", practices_dir())], "en").load().instructions
    assert {string_name(key) for key in texts.strings} == set(STRING_KEYS)
    missing = set(PRACTICE_KEYS) - set(texts.practices)
    assert missing == set(), "write their texts in practices/instructions.en.yaml and .de.yaml"
    assert set(texts.practices) == set(PRACTICE_KEYS)
    for key, practice in texts.practices.items():
        assert practice.name and practice.rating and practice.description, key
        assert practice.title_passing and practice.title_failing and practice.title_unknown, key
        # Every platform has numbered steps for every OS version, plain or version-specific.
        for platform, versions in (
            ("darwin", ("12.7.6", "13.0", "15.7.1", "")),
            ("win32", ("10.0.19045", "10.0.22631", "")),
            ("linux", ("", "6.1")),
        ):
            for version in versions:
                chosen, text = practice.directions_for((platform,), version)
                assert chosen.partition("@")[0] == platform, (key, platform, version)
                assert "\n1. " in "\n" + text, (key, platform, version)


def test_other_languages_translate_every_practice_and_string() -> None:
    for path in practices_dir().glob("instructions.*.yaml"):
        language = path.name.split(".")[1]
        own = PracticesLoader([PracticesFolder("bundled", practices_dir())], language)
        texts = own.load().instructions
        english = (
            PracticesLoader([PracticesFolder("bundled", practices_dir())], "en").load().instructions
        )
        assert set(texts.practices) == set(english.practices), path
        if language != "en":
            differing = [k for k in english.strings if texts.strings[k] != english.strings[k]]
            assert len(differing) > len(english.strings) // 2, f"{path} looks untranslated"
