"""The window's About line: the app's version and the device key's thumbprint and protection.

The tray reads the key's public part from `public-key.json` beside the key (the worker writes it
when it opens the key), so it loads no cryptography; a key file that is gone shows no kid.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from stethoscope_desktop import __version__
from stethoscope_desktop.device_trust.keys import device_key_folder, open_device_key
from stethoscope_desktop.device_trust.public_key import write_public_key_info
from stethoscope_desktop.ui.window import MainWindow
from tests.ui.test_app import SwitchableFirewall, build_app


def test_the_about_line_shows_the_version_and_the_key(qtbot: QtBot) -> None:
    window = MainWindow(lambda url: None, quit_on_close=False)
    qtbot.addWidget(window)
    assert window.about.text() == f"Stethoscope Desktop {__version__}"
    window.set_device_key("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "tpm")
    assert window.about.text() == (
        f"Stethoscope Desktop {__version__} · "
        "Device key NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs (tpm)"
    )
    window.set_device_key(None)
    assert "Device key" not in window.about.text()


def test_the_app_shows_the_kid_the_worker_kept_beside_the_key(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    it_folder = tmp_path / "it"
    it_folder.mkdir()
    app = build_app(qtbot, tmp_path, SwitchableFirewall(), it_folder)
    try:
        assert "Device key" not in app.window.about.text()  # no key yet
        key = open_device_key("software", device_key_folder())
        write_public_key_info(key)
        with qtbot.waitSignal(app.scans.report_ready, timeout=10_000):
            app.start()
        assert f"Device key {key.kid} (software)" in app.window.about.text()
    finally:
        app.shutdown()


def test_reading_the_kid_loads_no_cryptography(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    write_public_key_info(open_device_key("software", folder))
    code = (
        "import sys; from pathlib import Path; "
        "from stethoscope_desktop.device_trust.public_key import read_public_key_info; "
        f"info = read_public_key_info(Path({str(folder)!r})); "
        "print(info.protection, sorted(m for m in sys.modules if m.startswith('cryptography')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "software []", result.stderr
