"""fleetd's `parse_json` and `parse_jsonl` on fake roots, and through the embedded engine.

The engine queries are written in the shapes Fleet's policies use (a status file's keys and values
compared, GROUP BY with HAVING SUM(CASE …), datetime() on a value), on files of our own.
"""

from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest

from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables import parse_json as parse_json_module
from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.parse_json import (
    ParseJson,
    ParseJsonl,
    flatten,
    format_float,
    parse_json_stream,
)
from stethoscope_desktop.tables.system import LocalSystem
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import make_root
from tests.tables.linux.helpers import query_rows as query

EQ, LIKE = Operator.EQUALS, Operator.LIKE

STATUS = """{
  "attached": true,
  "expires": "2031-05-01T00:00:00+00:00",
  "contract": {"name": "Pro", "seats": 3, "price": 12.5, "tags": ["a", "b"], "none": null},
  "services": [
    {"name": "esm-infra", "status": "enabled"},
    {"name": "livepatch", "status": "disabled"}
  ],
  "empty": {}, "nothing": []
}
"""
EXPIRED = '{"attached": true, "expires": "2001-01-01T00:00:00+00:00"}'
DETACHED = '{"attached": false, "expires": "2031-05-01T00:00:00+00:00"}'


def context(*terms: tuple[str, Operator, str]) -> QueryContext:
    return QueryContext(tuple(Constraint(column, op, expr) for column, op, expr in terms))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(
        tmp_path,
        {
            "/var/lib/ua/status.json": STATUS,
            "/var/lib/ua/expired.json": EXPIRED,
            "/var/lib/ua/detached.json": DETACHED,
            "/var/lib/ua/broken.json": '{"attached": tru',
            "/var/log/events.jsonl": '{"id": 1, "ok": true}\n{"id": 2, "ok": false}\n\n"x"\n',
        },
    )


def flat(rows: list[dict[str, object]]) -> dict[object, object]:
    return {row["fullkey"]: row["value"] for row in rows}


def test_a_document_becomes_one_row_per_value(root: Path) -> None:
    table = ParseJson(LocalSystem(root), "linux")
    rows = list(table.generate(context(("path", EQ, "/var/lib/ua/status.json"))))
    assert flat(rows) == {
        "attached": "true",
        "expires": "2031-05-01T00:00:00+00:00",
        "contract/name": "Pro",
        "contract/seats": "3",
        "contract/price": "12.5",
        "contract/tags/0": "a",
        "contract/tags/1": "b",
        "services/0/name": "esm-infra",
        "services/0/status": "enabled",
        "services/1/name": "livepatch",
        "services/1/status": "disabled",
    }
    tag = next(row for row in rows if row["fullkey"] == "contract/tags/1")
    assert tag == {
        "path": "/var/lib/ua/status.json",
        "fullkey": "contract/tags/1",
        "parent": "contract/tags",
        "key": "1",
        "value": "b",
        "query": "*",
    }
    top = next(row for row in rows if row["fullkey"] == "attached")
    assert (top["parent"], top["key"]) == ("", "attached")


def test_numbers_are_written_as_go_writes_a_float64() -> None:
    assert [format_float(v) for v in (1.0, 0.5, 1e21, -0.0, 1e-7, 12345678901234567890.0)] == [
        "1",
        "0.5",
        "1000000000000000000000",
        "-0",
        "0.0000001",
        "12345678901234567000",
    ]


def test_dataflatten_queries_filter_and_rename() -> None:
    data = parse_json_stream(STATUS)[0]
    assert flatten(data, "contract/tags") == [
        (["contract", "tags", "0"], "a"),
        (["contract", "tags", "1"], "b"),
    ]
    assert flatten(data, "services/1/name") == [(["services", "1", "name"], "livepatch")]
    assert flatten(data, "services/status=>en*") == [
        (["services", "0", "name"], "esm-infra"),
        (["services", "0", "status"], "enabled"),
    ]
    assert flatten(data, "services/#name/status") == [
        (["services", "esm-infra", "status"], "enabled"),
        (["services", "livepatch", "status"], "disabled"),
    ]
    assert flatten(data, "*tract/*am*") == [(["contract", "name"], "Pro")]
    assert flatten(data, "attached/true") == [(["attached"], "true")]
    assert flatten(data, "attached/false") == []
    assert flatten(data, "") == flatten(data, "*")


def test_the_query_column_filters_and_is_returned(root: Path) -> None:
    table = ParseJson(LocalSystem(root), "linux")
    rows = list(
        table.generate(
            context(("path", EQ, "/var/lib/ua/status.json"), ("query", EQ, "services/#name"))
        )
    )
    assert {row["fullkey"] for row in rows} == {
        "services/esm-infra/name",
        "services/esm-infra/status",
        "services/livepatch/name",
        "services/livepatch/status",
    }
    assert {row["query"] for row in rows} == {"services/#name"}


def test_paths_expand_like_file_lines_and_bad_files_give_no_rows(root: Path) -> None:
    table = ParseJson(LocalSystem(root), "linux")
    rows = list(table.generate(context(("path", LIKE, "/var/lib/ua/%.json"))))
    assert {row["path"] for row in rows} == {
        "/var/lib/ua/status.json",
        "/var/lib/ua/expired.json",
        "/var/lib/ua/detached.json",
    }
    for missing in ("/var/lib/ua/absent.json", "/var/lib/ua", "/var/lib/ua/broken.json"):
        assert list(table.generate(context(("path", EQ, missing)))) == []


def test_a_nested_property_list_string_is_flattened_in_place(tmp_path: Path) -> None:
    inner = plistlib.dumps({"Enabled": True, "Count": 2}).decode()
    make_root(tmp_path, {"/data.json": json.dumps({"settings": inner})})
    rows = ParseJson(LocalSystem(tmp_path), "linux").generate(context(("path", EQ, "/data.json")))
    assert flat(list(rows)) == {"settings/Enabled": "true", "settings/Count": "2"}


def test_parse_jsonl_indexes_each_document(root: Path) -> None:
    rows = ParseJsonl(LocalSystem(root), "linux").generate(
        context(("path", EQ, "/var/log/events.jsonl"))
    )
    assert flat(list(rows)) == {"0/id": "1", "0/ok": "true", "1/id": "2", "1/ok": "false", "2": "x"}


def test_what_cannot_be_read_fails_with_a_reason(root: Path, monkeypatch) -> None:
    denied = ParseJson(FakeSystem(root, denied={"/var/lib/ua/status.json"}), "linux")
    with pytest.raises(TableError, match=r"cannot read /var/lib/ua/status\.json: permission"):
        list(denied.generate(context(("path", EQ, "/var/lib/ua/status.json"))))
    with pytest.raises(TableError, match="needs a path"):
        list(ParseJson(LocalSystem(root), "linux").generate(context()))
    monkeypatch.setattr(parse_json_module, "MAX_FILE_BYTES", 10)
    with pytest.raises(TableError, match="larger than"):
        list(
            ParseJson(LocalSystem(root), "linux").generate(
                context(("path", EQ, "/var/lib/ua/status.json"))
            )
        )


def test_deep_nesting_fails_with_a_reason(tmp_path: Path) -> None:
    depth = parse_json_module.MAX_NESTING + 5
    make_root(tmp_path, {"/deep.json": "[" * depth + "1" + "]" * depth, "/ok.json": "[[[1]]]"})
    table = ParseJson(LocalSystem(tmp_path), "linux")
    with pytest.raises(TableError, match="nests deeper than"):
        list(table.generate(context(("path", EQ, "/deep.json"))))
    assert flat(list(table.generate(context(("path", EQ, "/ok.json"))))) == {"0/0/0": "1"}
    make_root(tmp_path, {"/deeper.json": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(TableError, match="nests deeper than"):
        list(table.generate(context(("path", EQ, "/deeper.json"))))


UBUNTU_PRO = (
    "SELECT 1 FROM parse_json WHERE path = '{path}' AND ((key = 'attached' AND value = 'true') "
    "OR (key = 'expires' AND datetime(value) > datetime('now'))) GROUP BY path HAVING "
    "SUM(CASE WHEN key = 'attached' AND value = 'true' THEN 1 ELSE 0 END) = 1 AND "
    "SUM(CASE WHEN key = 'expires' AND datetime(value) > datetime('now') THEN 1 ELSE 0 END) = 1"
)


@pytest.mark.parametrize(
    ("path", "passes"),
    [
        ("/var/lib/ua/status.json", True),
        ("/var/lib/ua/expired.json", False),
        ("/var/lib/ua/detached.json", False),
        ("/var/lib/ua/broken.json", False),
        ("/var/lib/ua/absent.json", False),
    ],
)
def test_policy_shapes_through_the_embedded_engine(root: Path, path: str, passes: bool) -> None:
    engine = EmbeddedEngine(builtin_tables("linux", LocalSystem(root)))
    assert bool(query(engine, UBUNTU_PRO.format(path=path))) is passes


def test_more_query_shapes_through_the_embedded_engine(root: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("linux", LocalSystem(root)))
    assert query(
        engine,
        "SELECT value FROM parse_json WHERE path = '/var/lib/ua/status.json' "
        "AND query = 'services/#name/status' AND key = 'status' AND parent = 'services/livepatch'",
    ) == [{"value": "disabled"}]
    assert query(
        engine,
        "SELECT COUNT(*) AS n FROM parse_json WHERE path LIKE '/var/lib/ua/%.json' "
        "AND key = 'attached' AND value = 'true'",
    ) == [{"n": 2}]
    assert query(
        engine,
        "SELECT 1 AS ok FROM parse_jsonl WHERE path = '/var/log/events.jsonl' "
        "AND fullkey = '1/ok' AND value = 'false'",
    ) == [{"ok": 1}]
    with pytest.raises(QueryError):
        query(engine, "SELECT * FROM parse_json WHERE key = 'attached'")
