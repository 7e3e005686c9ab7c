"""The osquery engine's parts without a process.

Typing osquery's strings, the extension's answers to osqueryd, which errors are faults, and
choosing the engine (the factory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.engines.factory import (
    EngineUnavailable,
    create_engine,
    find_osqueryd,
    osqueryd_candidates,
)
from stethoscope_desktop.engines.osquery import (
    OsqueryEngine,
    is_sql_error,
    typed_rows,
    typed_value,
)
from stethoscope_desktop.engines.osquery_extension import (
    ExtensionHandler,
    ExtensionTables,
    extension_tables_in,
    routes,
    to_text,
)
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin
from stethoscope_desktop.tables.system import LocalSystem
from tests.canned import CannedTable
from tests.osquery_standin import STANDIN, standin_env

# --- typing osquery's strings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("12", "INTEGER", 12),
        ("-1", "BIGINT", -1),
        ("18446744073709551615", "UNSIGNED BIGINT", 18446744073709551615),
        ("0.5", "DOUBLE", 0.5),
        ("", "INTEGER", None),
        ("", "DOUBLE", None),
        ("", "TEXT", ""),
        ("", "UNKNOWN", None),
        ("12", "TEXT", "12"),
        ("12", "UNKNOWN", "12"),
        ("n/a", "INTEGER", "n/a"),  # kept, not lost
        (None, "TEXT", None),
    ],
)
def test_typed_value_follows_the_column_type(text: str | None, kind: str, value: object) -> None:
    assert typed_value(text, kind) == value
    assert type(typed_value(text, kind)) is type(value)


def test_typed_rows_keep_getquerycolumns_order_and_fill_missing_columns() -> None:
    rows = typed_rows(
        [{"b": "2", "a": "x"}, {"a": "y"}, {"a": "z", "b": "", "extra": "e"}],
        [("a", "TEXT"), ("b", "INTEGER")],
    )
    assert rows == ({"a": "x", "b": 2}, {"a": "y", "b": None}, {"a": "z", "b": None, "extra": "e"})
    assert list(rows[0]) == ["a", "b"]


@pytest.mark.parametrize(
    ("message", "sql_error"),
    [
        ("no such table: plist", True),
        ("no such column: bogus", True),
        ('near "SELEC": syntax error', True),
        ("ambiguous column name: name", True),
        ("stand-in: injected error status", False),
        ("Error calling extension", False),
    ],
)
def test_sql_errors_are_answers_other_statuses_are_faults(message: str, sql_error: bool) -> None:
    assert is_sql_error(message) is sql_error


def test_tables_named_in_sql_are_found_as_whole_words() -> None:
    names = ["os_version", "stethoscope_firewall", "stethoscope_firewall_rules", "users"]
    sql = "SELECT * FROM stethoscope_firewall_rules JOIN os_version USING (x) -- users_x"
    assert extension_tables_in(sql, names) == ["os_version", "stethoscope_firewall_rules"]


# --- the extension's answers -----------------------------------------------------------------


class PathTable(TablePlugin):
    name = "stethoscope_paths"
    columns = (
        Column("path", "text", index=True, required=True),
        Column("size", "bigint"),
        Column("ratio", "double"),
        Column("flag", "integer"),
        Column("secret", "text", hidden=True),
    )

    def __init__(self) -> None:
        self.contexts: list[QueryContext] = []

    def generate(self, context: QueryContext) -> Iterable[Row]:
        self.contexts.append(context)
        for path in sorted(context.equals("path")):
            yield {"path": path, "size": 3, "ratio": 0.25, "flag": True, "secret": None}


class BuggyTable(TablePlugin):
    name = "stethoscope_buggy"
    columns = (Column("x"),)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        raise ZeroDivisionError("oops")


def test_routes_carry_osquerys_type_names_and_option_bits() -> None:
    assert routes(PathTable()) == [
        {"id": "column", "name": "path", "type": "TEXT", "op": "3"},
        {"id": "column", "name": "size", "type": "BIGINT", "op": "0"},
        {"id": "column", "name": "ratio", "type": "DOUBLE", "op": "0"},
        {"id": "column", "name": "flag", "type": "INTEGER", "op": "0"},
        {"id": "column", "name": "secret", "type": "TEXT", "op": "16"},
        {"id": "attributes", "attributes": "0"},
    ]


def test_values_are_stringified_as_osquery_expects() -> None:
    assert [to_text(v) for v in (None, 0, 12, 0.5, True, False, "x")] == [
        "", "0", "12", "0.5", "1", "0", "x",
    ]  # fmt: skip


def test_generate_hands_osquerys_context_to_the_table() -> None:
    table = PathTable()
    handler = ExtensionHandler(ExtensionTables([table]))
    context = {
        "constraints": [
            {"name": "path", "list": [{"op": 2, "expr": "/etc/hosts"}], "affinity": "TEXT"},
            {"name": "size", "list": [], "affinity": "BIGINT"},
        ],
        "colsUsed": ["path", "size"],
    }
    answer = handler.call(
        "table", "stethoscope_paths", {"action": "generate", "context": json.dumps(context)}
    )
    assert answer.status.code == 0
    assert answer.response == [
        {"path": "/etc/hosts", "size": "3", "ratio": "0.25", "flag": "1", "secret": ""}
    ]
    assert table.contexts[0].equals("path") == {"/etc/hosts"}


def test_the_columns_action_answers_the_routes() -> None:
    handler = ExtensionHandler(ExtensionTables([PathTable()]))
    answer = handler.call("table", "stethoscope_paths", {"action": "columns"})
    assert answer.status.code == 0
    assert answer.response == routes(PathTable())


def test_a_table_error_is_status_1_with_its_message() -> None:
    broken = CannedTable("stethoscope_firewall", error="ufw: permission denied")
    handler = ExtensionHandler(ExtensionTables([broken]))
    answer = handler.call("table", "stethoscope_firewall", {"action": "generate"})
    assert (answer.status.code, answer.status.message, answer.response) == (
        1,
        "ufw: permission denied",
        [],
    )


@pytest.mark.allow_warnings
def test_a_bug_in_a_table_is_status_1_not_an_exception() -> None:
    handler = ExtensionHandler(ExtensionTables([BuggyTable()]))
    answer = handler.call("table", "stethoscope_buggy", {"action": "generate"})
    assert answer.status.code == 1
    assert "ZeroDivisionError: oops" in answer.status.message


@pytest.mark.parametrize(
    ("registry", "item", "request_", "message"),
    [
        ("config", "x", {"action": "generate"}, "no 'config' plugins"),
        ("table", "nope", {"action": "generate"}, "no table 'nope'"),
        ("table", "stethoscope_paths", {"action": "insert"}, "unknown table plugin action"),
        ("table", "stethoscope_paths", {"action": "generate", "context": "{oops"}, "context"),
    ],
)
def test_bad_calls_are_refused_with_a_status(
    registry: str, item: str, request_: dict[str, str], message: str
) -> None:
    handler = ExtensionHandler(ExtensionTables([PathTable()]))
    answer = handler.call(registry, item, request_)
    assert answer.status.code == 1
    assert message in answer.status.message


def test_ping_and_shutdown() -> None:
    handler = ExtensionHandler(ExtensionTables([]))
    assert handler.ping().code == 0
    assert handler.shutdown().code == 0
    assert handler.shutdown_requested.is_set()


def test_the_registry_lists_every_table_with_its_routes() -> None:
    tables = ExtensionTables([PathTable(), CannedTable("stethoscope_firewall", [])])
    registry = tables.registry()
    assert list(registry) == ["table"]
    assert sorted(registry["table"]) == ["stethoscope_firewall", "stethoscope_paths"]


# --- choosing the engine ---------------------------------------------------------------------


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_osqueryd_is_looked_for_in_order(tmp_path: Path) -> None:
    configured = executable(tmp_path / "configured", "#!/bin/sh\n")
    from_env = executable(tmp_path / "from_env", "#!/bin/sh\n")
    standard = executable(tmp_path / "standard", "#!/bin/sh\n")
    env = {"STETHOSCOPE_OSQUERYD": str(from_env), "PATH": str(tmp_path / "empty")}
    assert find_osqueryd("linux", str(configured), env, standard_paths=[str(standard)]) == str(
        configured
    )
    assert find_osqueryd("linux", "", env, standard_paths=[str(standard)]) == str(from_env)
    assert find_osqueryd("linux", "", {"PATH": ""}, standard_paths=[str(standard)]) == str(standard)
    (tmp_path / "bin").mkdir()
    on_path = executable(tmp_path / "bin" / "osqueryd", "#!/bin/sh\n")
    assert find_osqueryd("linux", "", {"PATH": str(tmp_path / "bin")}, standard_paths=[]) == str(
        on_path
    )
    places = osqueryd_candidates("linux", "", {"PATH": ""}, standard_paths=["/opt/x"])
    assert places[0] == "osqueryd on PATH"
    assert places[-1] == "/opt/x"
    assert any(p.endswith(os.path.join("resources", "osquery", "osqueryd")) for p in places)


def test_auto_without_osqueryd_runs_embedded_and_says_where_it_looked() -> None:
    engine = create_engine(
        "auto", "linux", system=LocalSystem(), env={"PATH": ""}, standard_paths=["/opt/q/osqueryd"]
    )
    try:
        assert isinstance(engine, EmbeddedEngine)
        assert engine.info.reason.startswith("no osqueryd found (looked in osqueryd on PATH")
        assert "/opt/q/osqueryd" in engine.info.reason
    finally:
        engine.close()


def test_osquery_chosen_without_osqueryd_is_unavailable() -> None:
    with pytest.raises(EngineUnavailable, match="no osqueryd found"):
        create_engine("osquery", "linux", env={"PATH": ""}, standard_paths=[])


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for osqueryd")
def test_auto_picks_a_working_osqueryd_and_says_which(tmp_path: Path) -> None:
    env = standin_env("linux", STETHOSCOPE_OSQUERYD=str(STANDIN))
    engine = create_engine(
        "auto", "linux", system=LocalSystem(tmp_path), env=env, standard_paths=[]
    )
    try:
        assert isinstance(engine, OsqueryEngine)
        assert engine.info.reason == f"osqueryd 5.12.1 at {STANDIN}"
        assert engine.info.version == "5.12.1"
        assert set(engine.extension_table_names()) >= {"stethoscope_app", "stethoscope_firewall"}
        # Until osqueryd says which it has, no osquery table is offered: only ours and fleetd's.
        others = {n for n in engine.extension_table_names() if not n.startswith("stethoscope_")}
        assert others == {"file_lines", "dconf_read", "parse_json", "parse_jsonl"}
        assert engine.running_pid is None  # nothing started until a scan needs it
    finally:
        engine.close()
    chosen = create_engine("osquery", "linux", env=env, standard_paths=[])
    try:
        assert chosen.info.reason.endswith(", chosen in the configuration")
    finally:
        chosen.close()


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for osqueryd")
def test_an_osqueryd_that_does_not_run_falls_back_to_embedded(tmp_path: Path) -> None:
    broken = executable(tmp_path / "osqueryd", "#!/bin/sh\necho 'cannot load libz' >&2\nexit 3\n")
    env = {"PATH": "", "STETHOSCOPE_OSQUERYD": str(broken)}
    engine = create_engine("auto", "linux", env=env, standard_paths=[])
    try:
        assert isinstance(engine, EmbeddedEngine)
        assert engine.info.reason == (
            f"osqueryd at {broken} does not run (`{broken} --version` exited with status 3: "
            "cannot load libz), so the built-in engine runs the checks"
        )
    finally:
        engine.close()
    with pytest.raises(EngineUnavailable, match="exited with status 3"):
        create_engine("osquery", "linux", env=env, standard_paths=[])


def test_the_embedded_engine_never_imports_thrift() -> None:
    code = (
        "import sys; from stethoscope_desktop.engines.factory import create_engine;"
        "create_engine('embedded', 'linux').close();"
        "print('thrift' in sys.modules, 'osquery' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "False"]
