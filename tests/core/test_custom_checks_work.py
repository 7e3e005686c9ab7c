"""IT's checks cost their queries, not their loading: the work done per check is counted.

A scan with 300 of IT's checks must cost at most 1.5x the CPU of one with none
(`tests/benchmarks/bench_custom_checks.py` measures it). These tests hold the parts of that which
can be counted rather than timed: the tables a query reads are found (an EXPLAIN) once per
distinct query in a scan, each query runs once, and a check's key is made once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from stethoscope_desktop.core import custom_checks
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesLoader, practices_folders
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine, EmbeddedScanSession
from stethoscope_desktop.resources import checks_dir, practices_dir
from tests.canned import canned_linux

QUERIES = (
    "SELECT 1 FROM os_version WHERE major >= {n}",
    "SELECT 1 FROM deb_packages WHERE name = 'package-{n}'",
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM systemd_units WHERE id = 'unit-{n}.service')",
)


def checks_file(count: int, distinct: int) -> str:
    """Return a Fleet export of `count` checks whose queries are `distinct` different ones."""
    return "".join(
        "---\napiVersion: v1\nkind: policy\nspec:\n"
        f"  name: Check {n}\n  platform: linux\n"
        f'  query: "{QUERIES[(n % distinct) % len(QUERIES)].format(n=n % distinct)}"\n'
        for n in range(count)
    )


def loader(tmp_path: Path, count: int, distinct: int) -> PracticesLoader:
    machine = tmp_path / "it"
    (machine / "checks.d").mkdir(parents=True)
    (machine / "checks.d" / "it.yml").write_text(checks_file(count, distinct), encoding="utf-8")
    folders = practices_folders(practices_dir(), None, machine=machine, env={})
    return PracticesLoader(folders, "en")


def test_each_distinct_query_is_explained_once_and_run_once_per_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    practices = loader(tmp_path, count=60, distinct=20).load()
    assert len(practices.policy.custom_checks) == 60 and not practices.problems
    explained: Counter[str] = Counter()
    ran: Counter[str] = Counter()
    engine = EmbeddedEngine(canned_linux())
    explain, run = engine._find_tables_read_by, engine.run_query

    def counted_explain(sql: str) -> list[str]:
        explained[sql] += 1
        return explain(sql)

    def counted_run(
        session: EmbeddedScanSession, sql: str, *, time_limit: float | None = None
    ) -> object:
        ran[sql] += 1
        return run(session, sql, time_limit=time_limit)

    monkeypatch.setattr(engine, "_find_tables_read_by", counted_explain)
    monkeypatch.setattr(engine, "run_query", counted_run)
    try:
        scanner = Scanner(engine, load_checks(checks_dir()), platform="linux")
        for scan in (1, 2):
            report = scanner.scan(practices)
            custom = [p for p in report.practices if p.key.startswith("custom/")]
            assert len(custom) == 60
            queries = {check.query for check in practices.policy.custom_checks}
            assert len(queries) == 20
            # Once for the engine's life: the second scan explains none again.
            assert all(explained[sql] == 1 for sql in queries), explained
            assert all(ran[sql] == 3 * scan for sql in queries)  # three checks share each one
            assert set(explained.values()) == {1}  # the built-in checks' queries too
    finally:
        engine.close()


def test_a_checks_key_is_made_once_however_often_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: Counter[str] = Counter()
    real_slug = custom_checks.slug

    def counted_slug(name: str) -> str:
        made[name] += 1
        return real_slug(name)

    monkeypatch.setattr(custom_checks, "slug", counted_slug)
    practices = loader(tmp_path, count=40, distinct=40).load()
    engine = EmbeddedEngine(canned_linux())
    try:
        Scanner(engine, load_checks(checks_dir()), platform="linux").scan(practices)
    finally:
        engine.close()
    assert len(made) == 40
    assert set(made.values()) == {1}
