"""The tray app on a real (virtual) desktop.

The icon registers with the tray host, a new critical finding notifies exactly once through
org.freedesktop.Notifications, and the next scan does not notify again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.desktop.session import VirtualDesktop, app_env, registered_app, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_tray_registers_and_a_new_critical_finding_notifies_once(
    virtual_desktop: VirtualDesktop,
    tmp_path: Path,
) -> None:
    practices = tmp_path / "practices"
    practices.mkdir()
    (practices / "policy.yaml").write_text('stethoscopeVersion: ">=99.0.0"\n')
    env = app_env(virtual_desktop, tmp_path)
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
    summary = critical[0] if len(critical) == 1 else f"{len(critical)} new problems need attention"

    with registered_app(virtual_desktop, practices, tmp_path) as app:
        wait_for(lambda: app.notifications(virtual_desktop), 20, "a notification")
        first = app.notifications(virtual_desktop)
        assert [(summary_ := n[1]) for n in first] == [summary], first
        assert summary_ == summary

        # The next scan (here triggered by IT's file changing) finds the same problems: no notification.
        (practices / "policy.yaml").write_text('stethoscopeVersion: ">=99.0.0"\n# touched\n')
        wait_for(lambda: app.log.read_text().count("scan finished") >= 2, 20, "the second scan")
        time.sleep(1.0)
        assert [n[1] for n in app.notifications(virtual_desktop)] == [summary]
        assert app.process.poll() is None, "the app is still running"
