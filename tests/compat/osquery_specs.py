"""Turn osquery's table specs (and fleetd's extra tables) into `resources/osquery/tables.json`.

The app needs to know every table and column real osquery has, to tell the truth when an IT
check can't run ("`sysctl` is not an osquery table; osquery's is `system_controls`"), and the tests
compare our tables against the same file. This script reads the facts (names, types, options and
platforms; no descriptions) from a checkout of osquery's `specs/` folder, which it never executes:
each `.table` file is parsed as a Python syntax tree and only literal arguments are read.

    python -m tests.compat.osquery_specs OSQUERY_SPECS_DIR [--fleet-tables FILE] [--out FILE]

OSQUERY_SPECS_DIR is osquery's `specs/` folder (with its CMakeLists.txt, which says which
platforms build each spec). `--fleet-tables` is a JSON file of fleetd's own tables in the same
shape (`{"name": {"columns": [[name, type, {options}]...], "platforms": [...]}}`), written by hand
from fleetd's documentation; they are marked `"source": "fleetd"` in the output.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "resources" / "osquery" / "tables.json"

_TYPES = {
    "TEXT": "text",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UNSIGNED_BIGINT": "bigint",
    "DATETIME": "text",
    "DOUBLE": "double",
    "BLOB": "text",
}
_PLATFORM_WORDS = {"linux": "linux", "macos": "darwin", "windows": "windows", "freebsd": None}
_SCHEMA_PLATFORMS = {
    "LINUX": ["linux"],
    "DARWIN": ["darwin"],
    "WINDOWS": ["windows"],
    "POSIX": ["darwin", "linux"],
}
_KEPT_OPTIONS = ("index", "required", "hidden", "additional", "optimized", "collate")


class SpecError(ValueError):
    """A spec file has a shape this script does not understand; the message names the file."""


def spec_platforms(cmakelists: str) -> dict[str, list[str]]:
    """Return, per spec file (relative to specs/), the platforms osquery builds it for."""
    platforms: dict[str, list[str]] = {}
    independent = re.search(r"set\(platform_independent_spec_files(.*?)\)", cmakelists, re.S)
    if independent is None:
        raise SpecError("CMakeLists.txt: no platform_independent_spec_files list")
    for name in independent.group(1).split():
        platforms[name] = ["darwin", "linux", "windows"]
    for name in re.findall(r"list\(APPEND platform_independent_spec_files ([^)\s]+)\)", cmakelists):
        platforms[name] = ["darwin", "linux", "windows"]
    for name, words in re.findall(r'"([^":]+\.table):([a-z,]+)"', cmakelists):
        chosen = {_PLATFORM_WORDS.get(word) for word in words.split(",")} - {None}
        platforms[name] = sorted(p for p in chosen if p)
    return platforms


def _literal(node: ast.expr, where: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError as error:
        raise SpecError(f"{where}: not a literal: {ast.dump(node)[:80]}") from error


def _column(call: ast.expr, where: str, only: list[str] | None) -> list[Any]:
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise SpecError(f"{where}: a schema entry is not a call")
    if call.func.id != "Column":
        return []  # ForeignKey(...) entries describe joins, not columns
    name = _literal(call.args[0], where)
    type_node = call.args[1]
    if not isinstance(type_node, ast.Name) or type_node.id not in _TYPES:
        raise SpecError(f"{where}: column {name!r} has an unknown type")
    options: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg in _KEPT_OPTIONS:
            value = _literal(keyword.value, where)
            if value:
                options[keyword.arg] = value
    if only is not None:
        options["platforms"] = only
    entry: list[Any] = [name, _TYPES[type_node.id]]
    if options:
        entry.append(options)
    return [entry]


def _extended_platforms(node: ast.expr, where: str) -> set[str]:
    """Return the platforms of an `extended_schema` first argument (`LINUX`, `LINUX + DARWIN`)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _extended_platforms(node.left, where) | _extended_platforms(node.right, where)
    if isinstance(node, ast.Name) and node.id in _SCHEMA_PLATFORMS:
        return set(_SCHEMA_PLATFORMS[node.id])
    raise SpecError(f"{where}: extended_schema for an unknown platform")


def parse_spec(text: str, where: str, platforms: list[str]) -> tuple[str, dict[str, Any]]:
    """Return (table name, {"columns", "platforms"}) for one `.table` file's text."""
    tree = ast.parse(text, filename=where)
    name: str | None = None
    columns: list[list[Any]] = []
    for statement in tree.body:
        if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
            continue
        call = statement.value
        if not isinstance(call.func, ast.Name):
            continue
        if call.func.id == "table_name":
            name = _literal(call.args[0], where)
        elif call.func.id in ("schema", "extended_schema"):
            only: list[str] | None = None
            entries = call.args[0]
            if call.func.id == "extended_schema":
                only = sorted(_extended_platforms(call.args[0], where))
                entries = call.args[1]
            if not isinstance(entries, ast.List):
                raise SpecError(f"{where}: schema is not a list")
            for entry in entries.elts:
                columns += _column(entry, where, only)
    if name is None:
        raise SpecError(f"{where}: no table_name")
    return name, {"columns": columns, "platforms": platforms}


def build(specs_dir: Path, fleet_tables: Path | None) -> dict[str, Any]:
    """Return the whole document: every table osquery builds on a platform we serve."""
    platforms = spec_platforms((specs_dir / "CMakeLists.txt").read_text("utf-8"))
    tables: dict[str, Any] = {}
    for relative, chosen in sorted(platforms.items()):
        if not chosen:
            continue
        path = specs_dir / relative
        if not path.is_file():
            raise SpecError(f"{relative}: named in CMakeLists.txt but missing")
        name, table = parse_spec(path.read_text("utf-8"), relative, chosen)
        tables[name] = table
    if fleet_tables is not None:
        for name, table in json.loads(fleet_tables.read_text("utf-8")).items():
            if name in tables:
                raise SpecError(f"{fleet_tables}: {name} is already an osquery table")
            tables[name] = {**table, "source": "fleetd"}
    return {
        "about": (
            "Every table real osquery builds on macOS, Linux and Windows (name, column types, "
            "options and platforms, from osquery's specs), plus fleetd's own tables marked "
            '"source": "fleetd". Written by tests/compat/osquery_specs.py.'
        ),
        "tables": dict(sorted(tables.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", type=Path, help="osquery's specs/ folder")
    parser.add_argument("--fleet-tables", type=Path, help="fleetd's tables, JSON")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        document = build(args.specs, args.fleet_tables)
    except (OSError, SyntaxError, SpecError) as error:
        print(f"osquery_specs: {error}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=0, sort_keys=False) + "\n", "utf-8")
    print(f"{len(document['tables'])} tables written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
