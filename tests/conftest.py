"""Test-wide setup: Qt offscreen, no configuration of this machine's, warnings fail a test.

A test that logs an unexpected warning fails.

The app reads IT's files from `/etc/xdg/stethoscope` and the user's from `~/.config`; a test that
scans "this machine" must not see what another test (or an installed package) left there, so the
XDG configuration folders point at empty folders of the test session's own.

Property-based tests (hypothesis) run the same examples on every run and machine (derandomized,
no example database), with no per-example deadline: a test asserts behaviour, never speed. Long
randomized campaigns are `tests/benchmarks/fuzz_files.py` and `fuzz_surface.py`; issue 14's
figures in one run are `tests/benchmarks/hostile_input.py`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_SESSION_CONFIG = tempfile.mkdtemp(prefix="stethoscope-tests-config-")
os.environ["XDG_CONFIG_DIRS"] = os.path.join(_SESSION_CONFIG, "system")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_SESSION_CONFIG, "user")
# The last report a scan saves (core.report_store) goes to the session's own state folder.
os.environ["XDG_STATE_HOME"] = os.path.join(_SESSION_CONFIG, "state")

settings.register_profile(
    "suite",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("suite")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_warnings: the test expects warnings in the log")


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _fail_on_logged_warnings(request: pytest.FixtureRequest) -> Iterator[None]:
    collector = _WarningCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield
    finally:
        root.removeHandler(collector)
    if collector.records and request.node.get_closest_marker("allow_warnings") is None:
        messages = "\n".join(f"{r.name}: {r.getMessage()}" for r in collector.records)
        pytest.fail(f"unexpected warnings were logged:\n{messages}")
