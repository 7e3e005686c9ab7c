"""The tray offers Start at login only where the system's autostart is supported."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from stethoscope_desktop.autostart import NullAutostart
from stethoscope_desktop.ui.tray import Tray
from tests.ui.fakes import MemoryAutostart


def menu_texts(tray: Tray) -> list[str]:
    texts = []
    for action in tray.menu.actions():
        texts.append(action.text())
        if action.menu() is not None:
            texts += [f"  {sub.text()}" for sub in action.menu().actions()]
    return [text for text in texts if text.strip()]


def tray_for(autostart: MemoryAutostart | NullAutostart) -> Tray:
    tray = Tray(
        template_icons=False,
        autostart_enabled=autostart.is_enabled,
        snoozed_until=lambda: 0.0,
        autostart_supported=autostart.supported,
    )
    tray.rebuild_menu()
    return tray


def test_start_at_login_is_offered_where_autostart_works(qtbot: QtBot) -> None:
    texts = menu_texts(tray_for(MemoryAutostart()))
    assert "Start at login" in texts


def test_start_at_login_is_not_offered_where_the_system_has_no_autostart(qtbot: QtBot) -> None:
    tray = tray_for(NullAutostart())
    texts = menu_texts(tray)
    assert "Start at login" not in texts
    assert texts[-1] == "Quit" and "Snooze notifications" in texts, texts
    tray._rebuild_if_stale()  # what opening the menu does: no question to the null autostart
    assert "Start at login" not in menu_texts(tray)
