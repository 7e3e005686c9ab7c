"""The tray app on a real (virtual) desktop.

The icon registers with the tray host, a new critical finding notifies exactly once through
org.freedesktop.Notifications, and the next scan does not notify again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.desktop.session import VirtualDesktop

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_tray_registers_and_a_new_critical_finding_notifies_once(
    virtual_desktop: VirtualDesktop,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    practices = tmp_path / "practices"
    practices.mkdir()
    (practices / "policy.yaml").write_text('stethoscopeVersion: ">=99.0.0"\n')
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_DIRS": str(tmp_path / "no-machine-folder"),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "xcb",
        **virtual_desktop.env,
    }
    expected = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "stethoscope_desktop",
                "scan",
                "--json",
                "--practices",
                str(practices),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=False,
        ).stdout
    )
    critical = [p["title"] for p in expected["practices"] if p["status"] == "FAIL"]
    assert critical, "the test policy makes at least one practice fail"
    summary = critical[0] if len(critical) == 1 else f"{len(critical)} new critical problems"

    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen(
        [sys.executable, "-m", "stethoscope_desktop", "--debug", "--practices", str(practices)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for(lambda: virtual_desktop.tray_items(), 20, "the tray icon to register")
        wait_for(lambda: virtual_desktop.notifications(), 20, "a notification")
        first = virtual_desktop.notifications()
        assert [(summary_ := n[1]) for n in first] == [summary], first
        assert summary_ == summary

        # The next scan (here triggered by IT's file changing) finds the same problems: no notification.
        app_log = tmp_path / "app.log"
        (practices / "policy.yaml").write_text('stethoscopeVersion: ">=99.0.0"\n# touched\n')
        wait_for(lambda: app_log.read_text().count("scan finished") >= 2, 20, "the second scan")
        time.sleep(1.0)
        assert [n[1] for n in virtual_desktop.notifications()] == [summary]
        assert app.poll() is None, "the app is still running"
    finally:
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.kill()
            pytest.fail("the app did not quit on SIGTERM")
        finally:
            log.close()
