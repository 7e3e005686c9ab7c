"""The tray app checks again when the policy server brings a new policy (fetched off the UI thread)."""

from __future__ import annotations

import threading
from pathlib import Path

from pytestqt.qtbot import QtBot

from stethoscope_desktop.core.policy_server import Answer
from tests.ui.test_app import SwitchableFirewall, build_app, loader_of


def test_a_new_policy_from_the_policy_server_starts_a_scan(qtbot: QtBot, tmp_path: Path) -> None:
    url = "https://policy.example.com/policy.yaml"
    it = tmp_path / "it"
    it.mkdir()
    (it / "config.yaml").write_text(f"policyServer: {url}\n", encoding="utf-8")
    release = threading.Event()

    def opener(url: str, timeout: float, etag: str) -> Answer:
        release.wait(10)
        return Answer(b"automaticUpdates: ALWAYS\n")

    app = build_app(qtbot, tmp_path, SwitchableFirewall(), it)
    client = loader_of(app).policy_server
    client.cache_dir = tmp_path / "cache"
    client._opener = opener
    try:
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000) as first:
            app.start()  # the first load starts the fetch in the background and scans without it
        assert first.args is not None
        updates = first.args[0].report.practice("automaticUpdates")
        assert updates is not None and updates.requirement == "SUGGESTED"
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000) as second:
            release.set()  # the fetch ends on its own thread; the app checks again on its own
        assert second.args is not None
        updates = second.args[0].report.practice("automaticUpdates")
        assert updates is not None and updates.requirement == "ALWAYS"
        assert url in second.args[0].report.policy_files
    finally:
        release.set()
        client.wait(10)
        app.shutdown()
