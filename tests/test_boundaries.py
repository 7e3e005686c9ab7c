"""The boundaries between the app's rooms, held by tests rather than hoped for.

- The tray process stays small: `import stethoscope_desktop.app` in a fresh interpreter brings
  none of YAML, APSW, GraphQL, osquery or Thrift (the scan worker's business).
- The scan worker stays small too: a default scan loads none of the HTTPS stack and OpenSSL
  (`ssl`, `http.client`, `urllib.request`, `hashlib`: only with a policy server or a hashing SQL
  function), the `regex` module (only for `regex_match`/`regex_split`), Python's `sqlite3` (only
  for IT's placeholder checks), the text report, GraphQL or the API server.
- The logic knows no Qt: nothing under `core/`, `engines/`, `tables/` or `api/` imports Qt or the
  Qt side of the app, read from the source (`ast`, every import, however deep in a function) and
  seen in a fresh interpreter that imported them all.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stethoscope_desktop"
# What only the scan worker may load.
NOT_IN_THE_TRAY = ("yaml", "apsw", "graphql", "osquery", "thrift")
# What a scan worker's default scan does not load (each about 1 to 8 MiB of its RSS).
NOT_IN_A_DEFAULT_SCAN = (
    "ssl",
    "_ssl",
    "http.client",
    "urllib.request",
    "hashlib",
    "_hashlib",
    "regex",
    "sqlite3",
    "graphql",
    "stethoscope_desktop.api",
    "stethoscope_desktop.text_report",
    "stethoscope_desktop.terminal_text",
)
QT_FREE = ("core", "engines", "tables", "api")
# Qt itself, and the app's modules that are built on it.
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "stethoscope_desktop.ui", "stethoscope_desktop.app")


def loaded_after(code: str) -> list[str]:
    """Return the names in sys.modules after running `code` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout.splitlines()[-1])
    return names


def within(name: str, roots: tuple[str, ...]) -> bool:
    """Return True when module `name` is one of `roots` or inside one."""
    return any(name == root or name.startswith(root + ".") for root in roots)


def test_the_tray_process_imports_nothing_of_the_scan_workers() -> None:
    loaded = loaded_after("import stethoscope_desktop.app")
    assert "stethoscope_desktop.app" in loaded and "PySide6.QtWidgets" in loaded
    assert [name for name in loaded if within(name, NOT_IN_THE_TRAY)] == []


def test_a_default_scan_in_the_worker_loads_only_what_it_needs(tmp_path: Path) -> None:
    # What the worker runs for a scan (worker.run_worker), on the bundled practices only.
    loaded = loaded_after(
        "import os\n"
        f"os.environ['XDG_CONFIG_HOME'] = os.environ['HOME'] = {str(tmp_path)!r}\n"
        "from stethoscope_desktop.cli import _parser\n"
        "import stethoscope_desktop.worker\n"
        "from stethoscope_desktop.commands import open_scanner, practices_loader\n"
        "args = _parser().parse_args(['worker', '--engine', 'embedded'])\n"
        "loader = practices_loader(args)\n"
        "practices = loader.load()\n"
        "scanner = open_scanner(args, practices)\n"
        "assert not isinstance(scanner, str), scanner\n"
        "scanner.scan(practices)"
    )
    assert "stethoscope_desktop.worker" in loaded and "apsw" in loaded
    assert [name for name in loaded if within(name, NOT_IN_A_DEFAULT_SCAN)] == []


def qt_free_modules() -> list[Path]:
    return sorted(path for folder in QT_FREE for path in (PACKAGE / folder).rglob("*.py"))


def imported_names(source: str, package: str) -> list[str]:
    """Return every module an `import` or `from … import` in `source` names, at any depth.

    `package` is the package the module lives in, to make relative imports absolute.
    """
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return names


@pytest.mark.parametrize("path", qt_free_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_logic_imports_no_qt_in_its_source(path: Path) -> None:
    package = ".".join(path.relative_to(ROOT).parts[:-1])
    names = imported_names(path.read_text(encoding="utf-8"), package)
    assert [name for name in names if within(name, QT)] == []


def test_the_source_scan_sees_every_kind_of_import() -> None:
    source = (
        "import PySide6.QtCore\n"
        "def later():\n    from PySide6 import QtWidgets\n"
        "from ..ui import tray\n"
        "from .. import app\n"
        "from . import report\n"
    )
    names = imported_names(source, "stethoscope_desktop.core")
    assert {name for name in names if within(name, QT)} == {
        "PySide6.QtCore",
        "PySide6",
        "PySide6.QtWidgets",
        "stethoscope_desktop.ui",
        "stethoscope_desktop.ui.tray",
        "stethoscope_desktop.app",
    }
    assert "stethoscope_desktop.core.report" in names


def test_the_logic_loads_no_qt_when_all_of_it_is_imported() -> None:
    code = (
        "import importlib, pkgutil\n"
        f"for package in {QT_FREE!r}:\n"
        "    root = importlib.import_module('stethoscope_desktop.' + package)\n"
        "    prefix = root.__name__ + '.'\n"
        "    for info in pkgutil.walk_packages(root.__path__, prefix):\n"
        "        importlib.import_module(info.name)\n"
    )
    loaded = loaded_after(code)
    assert (
        "stethoscope_desktop.engines.embedded" in loaded
        and "stethoscope_desktop.api.server" in loaded
    )
    assert [name for name in loaded if within(name, QT)] == []
