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
    assert detect_desktop({"XDG_CURRENT_DESKTOP": "sway"}) == ("sway", "sway")
    assert detect_desktop({"XDG_CURRENT_DESKTOP": "Hyprland"}) == ("Hyprland", "hyprland")
    assert detect_desktop({"XDG_CURRENT_DESKTOP": "niri"}) == ("niri", None)
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
    make_root(tmp_path, {"/usr/bin/xfce4-screensaver": ""})
    system = FakeSystem(tmp_path, env=XFCE_ENV, commands=commands)
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"], row["source"]) == (1, 660, "xfconf-query")


XFCE_ENV = {"XDG_CURRENT_DESKTOP": "XFCE", "DISPLAY": ":0.0"}
XFCONF_LOCK_3_MIN = result(
    ("xfconf-query", "-c", "xfce4-screensaver", "-lv"),
    "/lock/enabled                    true\n/saver/idle-activation/delay     3\n",
)


def test_xfce_settings_without_xfce4_screensaver_lock_nothing(tmp_path: Path) -> None:
    """Debian 12: xfconf says lock after 3 min, but no program reads those settings."""
    system = FakeSystem(tmp_path, env=XFCE_ENV, commands=dict([XFCONF_LOCK_3_MIN]))
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert row["detail"] == (
        "none of Xfce's screen lockers is installed (xfce4-screensaver, light-locker, "
        "xscreensaver), so nothing locks the screen when idle, whatever xfconf's lock settings "
        "say; install xfce4-screensaver and turn its lock on"
    )
    assert system.calls == []


def test_xfce_with_light_locker_is_unknown_naming_it(tmp_path: Path) -> None:
    make_root(tmp_path, {"/usr/bin/light-locker": ""})
    system = FakeSystem(tmp_path, env=XFCE_ENV, commands=dict([XFCONF_LOCK_3_MIN]))
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"]) == (None, None)
    assert str(row["detail"]).startswith(
        "Xfce locks the screen with light-locker here (xfce4-screensaver is not installed, so "
        "the lock settings in xfconf are not used): light-locker locks when the X screensaver"
    )


def test_xfce_with_xfce4_screensaver_believes_xfconf(tmp_path: Path) -> None:
    make_root(tmp_path, {"/usr/bin/xfce4-screensaver": ""})
    system = FakeSystem(tmp_path, env=XFCE_ENV, commands=dict([XFCONF_LOCK_3_MIN]))
    row = one_row(ScreenLock(system))
    assert (row["enabled"], row["lock_after_seconds"]) == (1, 180)


# sway (swayidle) and Hyprland (hypridle)

SWAY_ENV = {"XDG_CURRENT_DESKTOP": "sway", "WAYLAND_DISPLAY": "wayland-1"}
HYPR_ENV = {"XDG_CURRENT_DESKTOP": "Hyprland", "WAYLAND_DISPLAY": "wayland-1"}
HOME = "/home/ada"
PROGRAMS = {"/usr/bin/swayidle": "", "/usr/bin/swaylock": "", "/usr/bin/hypridle": ""}


def sway_row(tmp_path: Path, files: dict[str, str]) -> dict[str, object]:
    make_root(tmp_path, files)
    return dict(one_row(ScreenLock(FakeSystem(tmp_path, env=SWAY_ENV, home=HOME))))


def test_sway_default_config_starts_no_swayidle(tmp_path: Path) -> None:
    row = sway_row(tmp_path, {**PROGRAMS, "/etc/sway/config": fixture("sway/etc-sway-config")})
    assert (row["enabled"], row["lock_after_seconds"], row["source"]) == (0, None, "swayidle")
    assert row["detail"] == (
        "/etc/sway/config does not start swayidle, so nothing locks the screen when idle"
    )


def test_sway_swayidle_in_an_included_file(tmp_path: Path) -> None:
    row = sway_row(
        tmp_path,
        {
            **PROGRAMS,
            "/etc/sway/config": fixture("sway/etc-sway-config"),
            "/etc/sway/config.d/50-idle.conf": "exec swayidle -w timeout 300 'swaylock -f -c 000000' \\\n"
            "    before-sleep 'swaylock -f -c 000000'\n",
        },
    )
    assert (row["enabled"], row["lock_after_seconds"]) == (1, 300)
    assert row["detail"] == (
        "the screen locks after 300 s idle (swayidle timeout 300 runs 'swaylock -f -c 000000'); "
        "from /etc/sway/config"
    )


def test_sway_user_config_with_variables_wins_over_etc(tmp_path: Path) -> None:
    row = sway_row(
        tmp_path,
        {
            **PROGRAMS,
            "/etc/sway/config": "exec swayidle timeout 60 swaylock\n",
            f"{HOME}/.config/sway/config": fixture("sway/user-config"),
        },
    )
    assert (row["enabled"], row["lock_after_seconds"]) == (1, 600)


def test_sway_lock_session_needs_a_lock_event(tmp_path: Path) -> None:
    files = {**PROGRAMS, f"{HOME}/.config/sway/config": fixture("sway/lock-session-config")}
    row = sway_row(tmp_path, files)
    assert (row["enabled"], row["lock_after_seconds"]) == (1, 240)
    assert "and its lock event runs 'swaylock -f'" in str(row["detail"])
    no_lock_event = "exec swayidle -w timeout 240 'loginctl lock-session'\n"
    row = sway_row(tmp_path / "b", {**PROGRAMS, f"{HOME}/.config/sway/config": no_lock_event})
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)


def test_sway_locker_not_installed(tmp_path: Path) -> None:
    files = {
        "/usr/bin/swayidle": "",
        f"{HOME}/.config/sway/config": "exec swayidle -w timeout 300 'swaylock -f'\n",
    }
    row = sway_row(tmp_path, files)
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert row["detail"] == (
        "swayidle would run swaylock to lock the screen, but swaylock is not installed, so the "
        "screen never locks; from /home/ada/.config/sway/config"
    )


def test_swayidle_reads_its_config_file_too(tmp_path: Path) -> None:
    files = {
        **PROGRAMS,
        f"{HOME}/.config/sway/config": "exec swayidle -w\n",
        f"{HOME}/.config/swayidle/config": "# idle\ntimeout 420 'swaylock -f'\n"
        "before-sleep 'swaylock -f'\n",
    }
    row = sway_row(tmp_path, files)
    assert (row["enabled"], row["lock_after_seconds"]) == (1, 420)
    assert str(row["detail"]).endswith(
        "from /home/ada/.config/sway/config and /home/ada/.config/swayidle/config"
    )
    given = {
        **PROGRAMS,
        f"{HOME}/.config/sway/config": "exec swayidle -w -C ~/idle.conf timeout 900 swaylock\n",
        f"{HOME}/idle.conf": "timeout 120 'swaylock -f'\n",
    }
    assert sway_row(tmp_path / "given", given)["lock_after_seconds"] == 120


def test_swayidle_stops_on_a_word_it_does_not_know(tmp_path: Path) -> None:
    files = {
        **PROGRAMS,
        f"{HOME}/.config/sway/config": "exec swayidle -w timeout 300 'swaylock -f'\n",
        f"{HOME}/.config/swayidle/config": "timout 60 'swaylock -f'\n",
    }
    row = sway_row(tmp_path, files)
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert row["detail"] == (
        "swayidle stops at start (line 1 of /home/ada/.config/swayidle/config has 'timout', "
        "which is not a swayidle event), so nothing locks the screen"
    )


def test_a_zero_swayidle_timeout_is_off(tmp_path: Path) -> None:
    files = {**PROGRAMS, f"{HOME}/.config/sway/config": "exec swayidle timeout 0 swaylock\n"}
    assert sway_row(tmp_path, files)["enabled"] == 0


def hypr_row(tmp_path: Path, files: dict[str, str]) -> dict[str, object]:
    make_root(tmp_path, files)
    return dict(one_row(ScreenLock(FakeSystem(tmp_path, env=HYPR_ENV, home=HOME))))


HYPR_FILES = {
    **PROGRAMS,
    "/usr/bin/hyprlock": "",
    f"{HOME}/.config/hypr/hypridle.conf": fixture("hypr/hypridle.conf"),
    f"{HOME}/.config/hypr/hyprland.conf": fixture("hypr/hyprland.conf"),
    f"{HOME}/.config/hypr/autostart.conf": fixture("hypr/autostart.conf"),
}


def test_hypridle_locks_through_lock_session(tmp_path: Path) -> None:
    row = hypr_row(tmp_path, HYPR_FILES)
    assert (row["enabled"], row["lock_after_seconds"], row["source"]) == (1, 300, "hypridle")
    assert row["detail"] == (
        "the screen locks after 300 s idle (hypridle timeout 300 runs 'loginctl lock-session', "
        "and its lock_cmd runs 'pidof hyprlock || hyprlock'); from "
        "/home/ada/.config/hypr/hypridle.conf, started by exec-once = hypridle in "
        "/home/ada/.config/hypr/autostart.conf"
    )


def test_hypridle_not_started(tmp_path: Path) -> None:
    files = {**HYPR_FILES, f"{HOME}/.config/hypr/autostart.conf": "exec-once = nm-applet\n"}
    row = hypr_row(tmp_path, files)
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert "but hypridle is not started" in str(row["detail"])


def test_hypridle_with_a_config_file_given(tmp_path: Path) -> None:
    files = {
        **HYPR_FILES,
        f"{HOME}/.config/hypr/autostart.conf": "exec-once = hypridle -c ~/.idle.conf\n",
        f"{HOME}/.idle.conf": "listener {\n  timeout = 90\n  on-timeout = hyprlock\n}\n",
    }
    row = hypr_row(tmp_path, files)
    assert (row["enabled"], row["lock_after_seconds"]) == (1, 90)


def test_hypridle_without_hyprlock_installed(tmp_path: Path) -> None:
    files = {k: v for k, v in HYPR_FILES.items() if k != "/usr/bin/hyprlock"}
    row = hypr_row(tmp_path, files)
    assert (row["enabled"], row["lock_after_seconds"]) == (0, None)
    assert "hyprlock is not installed" in str(row["detail"])


def test_unrecognised_desktop(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path, env={"XDG_CURRENT_DESKTOP": "niri", "WAYLAND_DISPLAY": "w-1"})
    row = one_row(ScreenLock(system))
    assert row["enabled"] is None
    assert row["desktop"] == "niri"
    assert str(row["detail"]).startswith("the desktop 'niri' is not one whose screen lock")
