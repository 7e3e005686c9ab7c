"""The osquery engine end to end against the osqueryd stand-in.

Spawn, typed rows, our tables registered as an extension, every fault (with a check that nothing
leaked), and the lifecycle.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.osquery import OsqueryEngine, OsqueryScanSession
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import (
    Column,
    Operator,
    QueryContext,
    Row,
    TablePlugin,
)
from tests.canned import CannedTable
from tests.engines.osquery_helpers import (
    assert_nothing_leaked,
    pid_alive,
    short_dir,
    standin_engine,
    wait_until,
)
from tests.osquery_standin import canned, extension_rows

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the stand-in runs on Linux")


class FilesTable(TablePlugin):
    """Like osquery's `file`: `path` is required, and must arrive in the context."""

    name = "stethoscope_test_files"
    columns = (
        Column("path", "text", index=True, required=True),
        Column("size", "bigint"),
        Column("ratio", "double"),
        Column("note", "text"),
        Column("secret", "text", hidden=True),
    )

    def __init__(self) -> None:
        self.contexts: list[QueryContext] = []

    def generate(self, context: QueryContext) -> Iterable[Row]:
        self.contexts.append(context)
        for path in sorted(context.equals("path")):
            if path == "/none":  # NULL everywhere but the key
                yield {"path": path, "size": None, "ratio": None, "note": None}
            else:
                yield {"path": path, "size": len(path), "ratio": 0.5, "note": "", "secret": "x"}


@pytest.fixture(scope="module")
def runtime_dir() -> Iterator[Path]:
    with short_dir() as path:
        yield path


@pytest.fixture(scope="module")
def files() -> FilesTable:
    return FilesTable()


@pytest.fixture(scope="module")
def engine(runtime_dir: Path, files: FilesTable) -> Iterator[OsqueryEngine]:
    """One engine on the stand-in for the tests that do not break it, kept running between them."""
    tables = [*canned(extension_rows("linux")), files]
    engine = standin_engine(runtime_dir, tables=tables, keep_alive=600)
    yield engine
    assert len(engine.started_pids) == 1, "the healthy stand-in was restarted"
    assert_nothing_leaked(engine, runtime_dir)


@pytest.fixture
def session(engine: OsqueryEngine) -> Iterator[OsqueryScanSession]:
    with engine.begin_scan() as session:
        yield session


# --- spawning and answering -------------------------------------------------------------------


def test_spawns_osqueryd_and_answers_with_typed_rows(
    engine: OsqueryEngine, session: OsqueryScanSession
) -> None:
    result = session.query("SELECT name, version, major, minor, patch, build FROM os_version")
    assert result.rows == (
        {
            "name": "Debian GNU/Linux",
            "version": "12 (bookworm)",
            "major": 12,
            "minor": 0,
            "patch": 0,
            "build": "",
        },
    )
    assert result.tables == ("os_version",)
    assert engine.running_pid is not None and pid_alive(engine.running_pid)
    assert engine.info.name == "osquery"
    assert engine.info.version == "5.12.1"


def test_expressions_are_typed_as_osquery_deduces_them(session: OsqueryScanSession) -> None:
    row = session.query(
        "SELECT major || '.' || minor AS text_value, COUNT(*) AS how_many, major + 1 AS next,"
        " CAST('7' AS INTEGER) AS cast_value, major > 1 AS modern, physical_memory "
        "FROM os_version CROSS JOIN system_info"
    ).rows[0]
    assert row == {
        "text_value": "12.0",
        "how_many": 1,
        "next": 13,
        "cast_value": 7,
        "modern": 1,
        "physical_memory": 17179869184,
    }


def test_an_empty_string_in_a_non_text_column_is_null(session: OsqueryScanSession) -> None:
    rows = session.query("SELECT name, size FROM deb_packages ORDER BY name").rows
    assert rows[-1] == {"name": "qbittorrent", "size": None}
    row = session.query(
        "SELECT path, size, ratio, note FROM stethoscope_test_files WHERE path = '/none'"
    ).rows
    # osquery gets '' for every NULL; typed by the column, only text stays ''.
    assert row == ({"path": "/none", "size": None, "ratio": None, "note": ""},)


def test_our_tables_are_registered_as_an_extension(session: OsqueryScanSession) -> None:
    registered = session.query(
        "SELECT name, owner_uuid FROM osquery_registry WHERE name LIKE 'stethoscope_%'"
    ).rows
    assert {row["name"] for row in registered} == {
        *extension_rows("linux"),
        "stethoscope_test_files",
    }
    assert all(isinstance(row["owner_uuid"], int) and row["owner_uuid"] > 0 for row in registered)
    extensions = session.query("SELECT name, type FROM osquery_extensions").rows
    assert {"name": "stethoscope", "type": "extension"} in extensions


def test_a_core_table_joins_one_of_ours(session: OsqueryScanSession) -> None:
    result = session.query(
        "SELECT o.name AS os, f.enabled, f.detail FROM os_version AS o"
        " CROSS JOIN stethoscope_firewall AS f"
    )
    assert result.rows == ({"os": "Debian GNU/Linux", "enabled": 1, "detail": "ufw is active"},)
    assert set(result.tables) == {"os_version", "stethoscope_firewall"}


def test_constraints_reach_our_table_as_osquery_sends_them(
    session: OsqueryScanSession, files: FilesTable
) -> None:
    files.contexts.clear()
    rows = session.query(
        "SELECT path, size FROM stethoscope_test_files WHERE path IN ('/a', '/bb') ORDER BY path"
    ).rows
    assert rows == ({"path": "/a", "size": 2}, {"path": "/bb", "size": 3})
    asked = sorted(e for context in files.contexts for e in context.equals("path"))
    assert asked == ["/a", "/bb"]
    assert {c.op for ctx in files.contexts for c in ctx.constraints} == {Operator.EQUALS}
    assert (
        "secret"
        not in session.query("SELECT * FROM stethoscope_test_files WHERE path = '/a'").rows[0]
    )


def test_our_tables_generate_once_per_scan_and_report_timings(engine: OsqueryEngine) -> None:
    firewall = CannedTable("stethoscope_firewall", [{"enabled": 1}])
    with short_dir() as runtime_dir:
        counting = standin_engine(runtime_dir, tables=[firewall])
        with counting.begin_scan() as session:
            session.prepare(["SELECT enabled FROM stethoscope_firewall"])
            for _ in range(3):
                assert session.query("SELECT enabled FROM stethoscope_firewall").rows == (
                    {"enabled": 1},
                )
            timings = session.table_timings()
        assert firewall.calls == 1
        assert timings["stethoscope_firewall"].rows == 1
        assert_nothing_leaked(counting, runtime_dir)


def test_a_sql_error_is_an_answer_not_a_fault(
    engine: OsqueryEngine, session: OsqueryScanSession
) -> None:
    with pytest.raises(QueryError) as error:
        session.query("SELECT * FROM no_such_table")
    assert error.value.message == "`no_such_table` is not an osquery table"
    assert error.value.query_mistake  # the query is wrong, not the device
    with pytest.raises(QueryError) as error:
        session.query("SELECT 1 FROM system_controls")  # osquery's, which the stand-in lacks
    assert error.value.message == "needs a table osquery 5.12.1 does not have here: system_controls"
    assert not error.value.query_mistake
    with pytest.raises(QueryError) as error:
        session.query("SELECT 1 FROM sysctl")
    assert error.value.message == "`sysctl` is not an osquery table; osquery's is `system_controls`"
    assert error.value.query_mistake
    with pytest.raises(QueryError) as error:
        session.query("SELECT o.no_such_column FROM os_version AS o")
    assert error.value.message.startswith("`os_version` has no column `no_such_column` (its")
    assert error.value.query_mistake
    assert session.query("SELECT major FROM os_version").rows == ({"major": 12},)


def test_our_tables_error_is_the_reason_and_costs_no_restart() -> None:
    broken = CannedTable("stethoscope_firewall", error="cannot run ufw: permission denied")
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, tables=[broken])
        with engine.begin_scan() as session:
            session.prepare(["SELECT enabled FROM stethoscope_firewall"])
            with pytest.raises(QueryError) as error:
                session.query("SELECT enabled, detail FROM stethoscope_firewall")
            assert error.value.message == "cannot run ufw: permission denied"
            assert error.value.tables == ("stethoscope_firewall",)
            assert session.query("SELECT major FROM os_version").rows == ({"major": 12},)
        assert len(engine.started_pids) == 1
        assert_nothing_leaked(engine, runtime_dir)


# --- faults: one timeout, one restart, then UNKNOWN with the reason; nothing leaked ----------

QUERIES = [f"SELECT major, {n} AS n FROM os_version" for n in range(6)]


def run_queries(engine: OsqueryEngine, queries: list[str]) -> list[str]:
    """Run `queries` in one scan; return 'ok' or the QueryError's message for each."""
    outcomes: list[str] = []
    with engine.begin_scan() as session:
        session.prepare(queries)
        for sql in queries:
            try:
                session.query(sql)
                outcomes.append("ok")
            except QueryError as error:
                outcomes.append(error.message)
    return outcomes


@pytest.mark.allow_warnings
def test_osqueryd_that_exits_on_start_makes_every_check_unknown_with_the_reason() -> None:
    practices = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, STANDIN_FAULT="exit-on-start")
        report = Scanner(engine, load_checks(checks_dir()), platform="linux").scan(practices)
        assert {p.status for p in report.practices} == {Status.UNKNOWN}
        reasons = {p.reason for p in report.practices}
        assert len(reasons) == 1
        (reason,) = reasons
        assert "osqueryd did not start (status 1)" in reason
        assert "stand-in: injected start failure" in reason
        assert len(engine.started_pids) == 2  # the first start and one restart
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.allow_warnings
def test_osqueryd_that_never_opens_its_socket_times_out_twice() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, start_timeout=0.4, STANDIN_FAULT="hang-on-start")
        started = time.monotonic()
        outcomes = run_queries(engine, QUERIES[:3])
        assert time.monotonic() - started < 4.0
        assert len(set(outcomes)) == 1
        assert "osqueryd did not open its socket within 0.4 s" in outcomes[0]
        assert len(engine.started_pids) == 2
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.allow_warnings
def test_osqueryd_that_dies_mid_scan_is_restarted_once() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, STANDIN_FAULT="die-after-2-queries")
        outcomes = run_queries(engine, QUERIES)
        # Two answered, the third kills it; the restarted one answers two (the third again and
        # the fourth), then dies on the fifth: no second restart, the rest of the scan is unknown.
        assert outcomes[:4] == ["ok"] * 4
        assert outcomes[4] == outcomes[5]
        assert "osqueryd exited (status 1)" in outcomes[4]
        assert outcomes[4].startswith("osquery failed twice in this scan")
        assert len(engine.started_pids) == 2
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.allow_warnings
def test_osqueryd_that_hangs_costs_the_query_timeout_then_a_restart() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(
            runtime_dir, query_timeout=0.3, STANDIN_FAULT="hang-on-query", STANDIN_FAULT_AFTER="1"
        )
        started = time.monotonic()
        outcomes = run_queries(engine, QUERIES[:5])
        assert time.monotonic() - started < 5.0
        assert outcomes[:2] == ["ok", "ok"]  # the second after a timeout and a restart
        assert "osqueryd did not answer within 0.3 s" in outcomes[2]
        assert outcomes[2:] == [outcomes[2]] * 3
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.allow_warnings
def test_osqueryd_that_answers_garbage_is_restarted_then_unknown() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, STANDIN_FAULT="garbage")
        outcomes = run_queries(engine, QUERIES[:3])
        assert len(set(outcomes)) == 1
        assert "not osquery's Thrift protocol" in outcomes[0]
        assert len(engine.started_pids) == 2
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.allow_warnings
def test_osqueryd_that_answers_an_error_status_is_restarted_then_unknown() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, STANDIN_FAULT="error-status")
        outcomes = run_queries(engine, QUERIES[:3])
        assert len(set(outcomes)) == 1
        assert "stand-in: injected error status (status 1)" in outcomes[0]
        assert len(engine.started_pids) == 2
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.allow_warnings
def test_one_restart_recovers_a_scan_and_the_report_is_complete(tmp_path: Path) -> None:
    practices = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    checks = load_checks(checks_dir())
    with short_dir() as runtime_dir:
        engine = standin_engine(
            runtime_dir,
            STANDIN_FAULT="die-after-3-queries",
            STANDIN_FAULT_ONCE=str(tmp_path / "fault-done"),
        )
        report = Scanner(engine, checks, platform="linux").scan(practices)
        assert Status.UNKNOWN not in {p.status for p in report.practices}
        assert len(engine.started_pids) == 2
        # A new scan on a healthy osqueryd has its own restart to spend.
        again = Scanner(engine, checks, platform="linux").scan(practices)
        assert [p.status for p in again.practices] == [p.status for p in report.practices]
        assert_nothing_leaked(engine, runtime_dir)


def test_osqueryd_gone_while_idle_is_replaced_quietly() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, keep_alive=600)
        assert run_queries(engine, QUERIES[:1]) == ["ok"]
        first = engine.running_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not pid_alive(first))
        assert run_queries(engine, QUERIES[:2]) == ["ok", "ok"]
        assert engine.running_pid not in (None, first)
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.allow_warnings
def test_a_binary_that_cannot_run_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    with short_dir() as runtime_dir:
        engine = OsqueryEngine(str(tmp_path / "osqueryd"), [], runtime_dir=str(runtime_dir))
        with engine.begin_scan() as session, pytest.raises(QueryError) as error:
            session.query("SELECT 1")
        assert "cannot run" in error.value.message and "osqueryd" in error.value.message
        engine.close()
        assert engine.started_pids == []
        assert list(runtime_dir.iterdir()) == []


@pytest.mark.allow_warnings
def test_a_runtime_folder_that_cannot_be_used_is_a_reason(tmp_path: Path) -> None:
    engine = standin_engine(tmp_path / "missing")
    with engine.begin_scan() as session, pytest.raises(QueryError) as error:
        session.query("SELECT 1")
    assert "cannot prepare osqueryd's folder" in error.value.message
    engine.close()
    assert engine.started_pids == []


# --- lifecycle -----------------------------------------------------------------------------


def test_without_keep_alive_osqueryd_stops_when_the_scan_ends() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, keep_alive=0)
        assert run_queries(engine, QUERIES[:1]) == ["ok"]
        assert engine.running_pid is None
        assert not pid_alive(engine.started_pids[0])
        assert list(runtime_dir.iterdir()) == []
        assert_nothing_leaked(engine, runtime_dir)


def test_kept_alive_osqueryd_serves_the_next_scan_then_stops_when_idle() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, keep_alive=0.3)
        assert run_queries(engine, QUERIES[:1]) == ["ok"]
        assert run_queries(engine, QUERIES[:1]) == ["ok"]
        assert len(engine.started_pids) == 1
        assert wait_until(lambda: engine.running_pid is None, 3.0)
        assert not pid_alive(engine.started_pids[0])
        assert_nothing_leaked(engine, runtime_dir)


def test_close_stops_a_kept_osqueryd() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, keep_alive=600)
        assert run_queries(engine, QUERIES[:1]) == ["ok"]
        assert engine.running_pid is not None
        assert_nothing_leaked(engine, runtime_dir)
        with engine.begin_scan() as session, pytest.raises(QueryError, match="closed"):
            session.query(QUERIES[0])


def test_available_tables_are_osquerys_and_ours() -> None:
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, keep_alive=0)
        tables = engine.available_tables()
        assert {"os_version", "deb_packages", "stethoscope_firewall"} <= tables
        assert engine.running_pid is None  # started to learn them, then stopped
        assert_nothing_leaked(engine, runtime_dir)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_osqueryd_dies_with_our_process() -> None:
    repo = Path(__file__).resolve().parents[2]
    with short_dir() as runtime_dir:
        script = textwrap.dedent(
            f"""
            import sys, time
            sys.path.insert(0, {str(repo)!r})
            from tests.engines.osquery_helpers import standin_engine
            from pathlib import Path
            engine = standin_engine(Path({str(runtime_dir)!r}), tables=[], keep_alive=600)
            with engine.begin_scan() as session:
                session.query("SELECT version FROM osquery_info")
            print(engine.running_pid, flush=True)
            time.sleep(60)
            """
        )
        app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert app.stdout is not None
            osqueryd = int(app.stdout.readline())
            assert _running(osqueryd)
        finally:
            app.kill()
            app.wait()
            if app.stdout is not None:
                app.stdout.close()
        assert wait_until(lambda: not _running(osqueryd), 5.0)
        # The killed process could not remove its folder; the next start sweeps it away.
        assert len(list(runtime_dir.iterdir())) == 1
        engine = standin_engine(runtime_dir, tables=[])
        assert run_queries(engine, QUERIES[:1]) == ["ok"]
        assert_nothing_leaked(engine, runtime_dir)


def _running(pid: int) -> bool:
    """Return True if `pid` runs (a zombie waiting for a reaper has stopped running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
