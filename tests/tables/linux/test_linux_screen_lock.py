"""stethoscope_screen_lock per desktop, from recorded gsettings/xfconf output and KDE files."""

from __future__ import annotations

from pathlib import Path

from stethoscope_desktop.tables.linux.screen_lock import NO_SESSION, ScreenLock, detect_desktop
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import fixture, make_root, one_row

GNOME_ENV = {"XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "WAYLAND_DISPLAY": "wayland-0"}
SAVER = ("gsettings", "list-recursively", "org.gnome.desktop.screensaver")
SESSION = ("gsettings", "list-recursively", "org.gnome.desktop.session")
LOCKDOWN = ("gsettings", "get", "org.gnome.desktop.lockdown", "disable-lock-screen")


def gnome(tmp_path: Path, saver: str, session: str, lockdown: str = "false") -> FakeSystem:
    commands = dict(
        [
            result(SAVER, fixture(f"commands/gsettings/{saver}")),
            result(SESSION, fixture(f"commands/gsettings/{session}")),
            result(LOCKDOWN, f"{lockdown}\n"),
        ]
    )
    return FakeSystem(tmp_path, env=GNOME_ENV, commands=commands)


def test_detect_desktop() -> None:
    assert detect_desktop({"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}) == ("ubuntu:GNOME", "gnome")
    assert detect_desktop({"XDG_CURRENT_DESKTOP": "X-Cinnamon"}) == ("X-Cinnamon", "cinnamon")
    assert detect_desktop({"XDG_SESSION_DESKTOP": "KDE"}) == ("KDE", "kde")
    assert detect_desktop({"DESKTOP_SESSION": "xfce"}) == ("xfce", "xfce")
    assert detect_desktop({"XDG_CURRENT_DESKTOP": "sway"}) == ("sway", None)
    assert detect_desktop({}) == (None, None)


def test_gnome_locks(tmp_path: Path) -> None:
    system = gnome(tmp_path, "gnome-screensaver-lock-on.txt", "gnome-session-300.txt")
    assert one_row(ScreenLock(system)) == {
        "enabled": 1,
        "lock_after_seconds": 330,
        "desktop": "ubuntu:GNOME",
        "source": "gsettings",
        "detail": "the screen locks after 330 s idle (org.gnome.desktop.session idle-delay 300 s "
        "+ org.gnome.desktop.screensaver lock-delay 30 s; lock-enabled is true)",
    }
    assert system.calls == [SAVER, SESSION, LOCKDOWN]


def test_gnome_lock_off(tmp_path: Path) -> None:
    row = one_row(
        ScreenLock(gnome(tmp_path, "gnome-screensaver-lock-off.txt", "gnome-session-300.txt"))
    )
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert row["detail"] == (
        "org.gnome.desktop.screensaver lock-enabled is false, so the screen blanks when idle "
        "but does not lock"
    )


def test_gnome_never_idle(tmp_path: Path) -> None:
    system = gnome(tmp_path, "gnome-screensaver-lock-on.txt", "gnome-session-never.txt")
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert "idle-delay is 0 (never)" in str(row["detail"])
    assert LOCKDOWN not in system.calls


def test_gnome_lock_screen_disabled_by_policy(tmp_path: Path) -> None:
    system = gnome(tmp_path, "gnome-screensaver-lock-on.txt", "gnome-session-300.txt", "true")
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert "disable-lock-screen is true" in str(row["detail"])


def test_no_desktop_session(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path, env={"HOME": "/root", "TERM": "xterm"})
    assert one_row(ScreenLock(system)) == {
        "enabled": None,
        "lock_after_seconds": None,
        "desktop": None,
        "source": "environment",
        "detail": NO_SESSION,
    }
    assert NO_SESSION == (
        "no desktop session: no DISPLAY, WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP, "
        "so nothing locks the screen"
    )
    assert system.calls == []


def test_missing_gsettings_schema(tmp_path: Path) -> None:
    missing = result(
        SAVER, stderr="No such schema \u201corg.gnome.desktop.screensaver\u201d\n", returncode=1
    )
    system = FakeSystem(tmp_path, env=GNOME_ENV, commands=dict([missing]))
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["source"]) == (None, "gsettings")
    assert row["detail"] == "gsettings has no schema org.gnome.desktop.screensaver"


def test_gsettings_not_installed(tmp_path: Path) -> None:
    row = one_row(ScreenLock(FakeSystem(tmp_path, env=GNOME_ENV)))
    assert row["enabled"] is None
    assert row["detail"] == (
        "gsettings is not installed, so org.gnome.desktop.screensaver cannot be read"
    )


def test_mate_counts_minutes(tmp_path: Path) -> None:
    commands = dict(
        [
            result(
                ("gsettings", "list-recursively", "org.mate.screensaver"),
                fixture("commands/gsettings/mate-screensaver.txt"),
            ),
            result(
                ("gsettings", "list-recursively", "org.mate.session"),
                fixture("commands/gsettings/mate-session.txt"),
            ),
        ]
    )
    system = FakeSystem(
        tmp_path, env={"XDG_CURRENT_DESKTOP": "MATE", "DISPLAY": ":0"}, commands=commands
    )
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"]) == (1, (10 + 2) * 60)


KDE_ENV = {"XDG_CURRENT_DESKTOP": "KDE", "WAYLAND_DISPLAY": "wayland-0"}


def test_kde_defaults(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path, env=KDE_ENV, home="/home/ada")
    assert one_row(ScreenLock(system)) == {
        "enabled": 1,
        "lock_after_seconds": 305,
        "desktop": "KDE",
        "source": "kscreenlockerrc",
        "detail": "the screen locks after 5 min idle and asks for the password 5 s later "
        "(Autolock=true (default), Timeout=5 (default), LockGrace=5 (default) in no "
        "kscreenlockerrc (all defaults))",
    }
    assert system.calls == []


def test_kde_autolock_false(tmp_path: Path) -> None:
    make_root(
        tmp_path, {"/home/ada/.config/kscreenlockerrc": fixture("kde/kscreenlockerrc-autolock-off")}
    )
    row = one_row(ScreenLock(FakeSystem(tmp_path, env=KDE_ENV, home="/home/ada")))
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert row["detail"] == (
        "Autolock=false in /home/ada/.config/kscreenlockerrc: the screen does not lock by itself"
    )


def test_kde_user_file_overrides_system_defaults(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/etc/xdg/kscreenlockerrc": "[Daemon]\nAutolock[$i]=true\nTimeout=3\n",
            "/cfg/kscreenlockerrc": fixture("kde/kscreenlockerrc-timeout-15"),
        },
    )
    env = {**KDE_ENV, "XDG_CONFIG_HOME": "/cfg"}
    row = one_row(ScreenLock(FakeSystem(tmp_path, env=env, home="/home/ada")))
    assert (row["enabled"], row["lock_after_seconds"]) == (1, 15 * 60 + 30)


def test_xfce(tmp_path: Path) -> None:
    commands = dict(
        [
            result(
                ("xfconf-query", "-c", "xfce4-screensaver", "-lv"),
                fixture("commands/xfconf/xfce4-screensaver.txt"),
            )
        ]
    )
    system = FakeSystem(
        tmp_path, env={"XDG_CURRENT_DESKTOP": "XFCE", "DISPLAY": ":0.0"}, commands=commands
    )
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"], row["source"]) == (1, 660, "xfconf-query")


def test_unrecognised_desktop(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path, env={"XDG_CURRENT_DESKTOP": "Hyprland", "WAYLAND_DISPLAY": "w-1"})
    row = one_row(ScreenLock(system))
    assert row["enabled"] is None
    assert row["desktop"] == "Hyprland"
    assert str(row["detail"]).startswith("the desktop 'Hyprland' is not one whose screen lock")
