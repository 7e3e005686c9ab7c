"""`stethoscope_screen_lock`: does the desktop lock the screen by itself, and after how long?

The desktop is read from XDG_CURRENT_DESKTOP (a colon-separated list), else XDG_SESSION_DESKTOP,
else DESKTOP_SESSION. With none of DISPLAY, WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP set there is no
graphical session and nothing to lock. Then, per desktop:
- GNOME and the desktops built on its settings (Ubuntu, Unity, Budgie, Pantheon):
  `gsettings list-recursively` of org.gnome.desktop.screensaver (lock-enabled, lock-delay) and of
  org.gnome.desktop.session (idle-delay; 0 = never idle). The screen locks after idle-delay +
  lock-delay seconds; an administrator's org.gnome.desktop.lockdown disable-lock-screen, read
  only when everything else says "locks", overrides it.
- Cinnamon: org.cinnamon.desktop.screensaver and org.cinnamon.desktop.session, same keys
  (seconds), plus idle-activation-enabled, which cinnamon-screensaver honours.
- MATE: org.mate.screensaver (lock-enabled, idle-activation-enabled, lock-delay in minutes) and
  org.mate.session idle-delay (minutes).
- KDE Plasma: kscreenlockerrc ([Daemon] Autolock, default true; Timeout in minutes, default 5,
  at least 1; Lock, default true, whether a password is asked; LockGrace in seconds, default 5,
  the time after locking during which no password is needed) from /etc/xdg and then
  $XDG_CONFIG_HOME (default ~/.config), the user's file winning. No process is needed.
- Xfce: `xfconf-query -c xfce4-screensaver -lv` (all properties in one call), with
  xfce4-screensaver's built-in defaults for properties never set (saver and lock on, idle after
  5 minutes, lock 0 minutes after the saver starts) — believed only when xfce4-screensaver is
  installed, since nothing else reads that channel (Debian 12 does not ship it). Without it, Xfce
  locks with light-locker or xscreensaver, whose timeouts we do not read (UNKNOWN, naming the
  locker); with none of them nothing locks (off).
- sway and Hyprland: swayidle's command line in the sway configuration and hypridle.conf (see
  `wayland_idle`).
lock_after_seconds is NULL whenever the screen does not lock by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from stethoscope_desktop.tables._shared import SCREEN_LOCK_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    command_reason,
    read_optional,
    run_quiet,
)
from stethoscope_desktop.tables.linux.wayland_idle import (
    IdleConfigError,
    IdleLock,
    hypridle_lock,
    program_installed,
    swayidle_lock,
)

NO_SESSION = (
    "no desktop session: no DISPLAY, WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP, "
    "so nothing locks the screen"
)

_GNOME_FAMILY = frozenset(
    {
        "gnome",
        "ubuntu",
        "unity",
        "budgie",
        "budgie-desktop",
        "pantheon",
        "gnome-flashback",
        "gnome-classic",
        "pop",
        "zorin",
    }
)
_FAMILIES = {
    **{name: "gnome" for name in _GNOME_FAMILY},
    "kde": "kde",
    "plasma": "kde",
    "plasmawayland": "kde",
    "x-cinnamon": "cinnamon",
    "cinnamon": "cinnamon",
    "mate": "mate",
    "xfce": "xfce",
    "xfce4": "xfce",
    "xubuntu": "xfce",
    "sway": "sway",
    "hyprland": "hyprland",
}

# Xfce's screen lockers (xflock4 tries them): only xfce4-screensaver reads the xfconf channel.
XFCE_OTHER_LOCKERS = {
    "light-locker": "light-locker locks when the X screensaver starts (after the X server's "
    "blanking time, which Xfce's power manager sets) and its lock-after-screensaver delay "
    "(gsettings apps.light-locker); this app does not read those",
    "xscreensaver": "xscreensaver keeps its lock settings in ~/.xscreensaver (lock, timeout, "
    "lockTimeout), which this app does not read",
}
OTHER_IDLE_LOCKERS = ("xss-lock", "xautolock", "xidlehook", "xsecurelock")


class SettingsError(Exception):
    """A desktop setting could not be read; the message says why."""


def detect_desktop(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Return (desktop as named by the session, family) from the environment."""
    for variable in ("XDG_CURRENT_DESKTOP", "XDG_SESSION_DESKTOP", "DESKTOP_SESSION"):
        value = env.get(variable, "").strip()
        if not value:
            continue
        for token in value.split(":"):
            family = _FAMILIES.get(token.strip().lower())
            if family is not None:
                return value, family
        return value, None
    return None, None


def parse_gsettings(text: str) -> dict[str, str]:
    """Parse `gsettings list-recursively SCHEMA` lines into key -> value text."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            values[parts[1]] = parts[2].strip()
    return values


def gvariant_int(text: str) -> int:
    """Parse a printed GVariant integer ("uint32 300", "5"); raise ValueError otherwise."""
    return int(text.split()[-1])


def gvariant_bool(text: str) -> bool:
    """Parse a printed GVariant boolean; raise ValueError otherwise."""
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(text)


def kconfig_bool(text: str) -> bool:
    """Read a KConfig boolean as KConfig does: true, on, yes or 1 (any case) is true."""
    return text.strip().lower() in ("true", "on", "yes", "1")


def parse_kde_config(text: str, into: dict[str, dict[str, str]]) -> None:
    """Merge a KConfig (INI) file into group -> key -> value; "Key[$i]" markers are stripped."""
    group = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            group = line[1 : line.find("]")] if "]" in line else line[1:]
            continue
        key, sep, value = line.partition("=")
        if sep:
            into.setdefault(group, {})[key.split("[", 1)[0].strip()] = value.strip()


class ScreenLock(MachineTable):
    """Whether the screen locks when the user is away, one row."""

    name = "stethoscope_screen_lock"
    columns = SCREEN_LOCK_COLUMNS
    platforms = ("linux",)

    # -- gsettings -------------------------------------------------------------------------

    def _schema(self, schema: str) -> dict[str, str]:
        if self._system.which("gsettings") is None:
            raise SettingsError(f"gsettings is not installed, so {schema} cannot be read")
        result = run_quiet(self._system, ["gsettings", "list-recursively", schema])
        if isinstance(result, str):
            raise SettingsError(f"cannot run gsettings: {result}")
        if "No such schema" in result.stderr or "No such schema" in result.stdout:
            raise SettingsError(f"gsettings has no schema {schema}")
        if not result.ok:
            raise SettingsError(
                f"gsettings list-recursively {schema} failed: {command_reason(result)}"
            )
        values = parse_gsettings(result.stdout)
        if not values:
            raise SettingsError(f"gsettings printed nothing for {schema}")
        return values

    def _gsettings(
        self,
        saver_schema: str,
        session_schema: str,
        *,
        minutes: bool,
        idle_activation: bool,
        lockdown: bool,
    ) -> Row:
        saver = self._schema(saver_schema)
        session = self._schema(session_schema)
        unit = 60 if minutes else 1
        shown = "min" if minutes else "s"
        try:
            lock_enabled = gvariant_bool(saver["lock-enabled"])
            lock_delay = gvariant_int(saver.get("lock-delay", "0"))
            idle_delay = gvariant_int(session["idle-delay"])
            activation = gvariant_bool(saver.get("idle-activation-enabled", "true"))
        except KeyError as missing:
            raise SettingsError(
                f"gsettings has no key {missing.args[0]} in {saver_schema} or {session_schema}"
            ) from None
        except ValueError as bad:
            raise SettingsError(f"gsettings printed an unexpected value: {bad}") from None
        if not lock_enabled:
            return {
                "enabled": 0,
                "detail": f"{saver_schema} lock-enabled is false, so the screen "
                "blanks when idle but does not lock",
            }
        if idle_delay <= 0:
            return {
                "enabled": 0,
                "detail": f"{saver_schema} lock-enabled is true, but "
                f"{session_schema} idle-delay is 0 (never), so the session never goes idle "
                "and the screen never locks by itself",
            }
        if idle_activation and not activation:
            return {
                "enabled": 0,
                "detail": f"{saver_schema} lock-enabled is true, but "
                "idle-activation-enabled is false, so the screensaver (and its lock) never "
                "starts when idle",
            }
        if lockdown and self._lock_screen_disabled():
            return {
                "enabled": 0,
                "detail": f"{saver_schema} lock-enabled is true, but "
                "org.gnome.desktop.lockdown disable-lock-screen is true, so the screen "
                "cannot lock",
            }
        seconds = (idle_delay + lock_delay) * unit
        return {
            "enabled": 1,
            "lock_after_seconds": seconds,
            "detail": f"the screen locks after {seconds} s idle ({session_schema} idle-delay "
            f"{idle_delay} {shown} + {saver_schema} lock-delay {lock_delay} {shown}; "
            "lock-enabled is true)",
        }

    def _lock_screen_disabled(self) -> bool:
        result = run_quiet(
            self._system, ["gsettings", "get", "org.gnome.desktop.lockdown", "disable-lock-screen"]
        )
        return not isinstance(result, str) and result.ok and result.stdout.strip() == "true"

    # -- KDE -------------------------------------------------------------------------------

    def _kde(self) -> Row:
        config_home = self._system.env.get("XDG_CONFIG_HOME") or f"{self._system.home}/.config"
        merged: dict[str, dict[str, str]] = {}
        read: list[str] = []
        for path in ("/etc/xdg/kscreenlockerrc", f"{config_home}/kscreenlockerrc"):
            text = read_optional(self._system, path)
            if text is not None:
                parse_kde_config(text, merged)
                read.append(path)
        daemon = merged.get("Daemon", {})

        def setting(key: str, default: str) -> tuple[str, str]:
            if key in daemon:
                return daemon[key], f"{key}={daemon[key]}"
            return default, f"{key}={default} (default)"

        autolock, autolock_said = setting("Autolock", "true")
        password, password_said = setting("Lock", "true")
        timeout_text, timeout_said = setting("Timeout", "5")
        grace_text, grace_said = setting("LockGrace", "5")
        where = " and ".join(read) if read else "no kscreenlockerrc (all defaults)"
        if not kconfig_bool(autolock):
            return {
                "enabled": 0,
                "detail": f"{autolock_said} in {where}: the screen does not lock by itself",
            }
        if not kconfig_bool(password):
            return {
                "enabled": 0,
                "detail": f"{autolock_said} but {password_said} in {where}: "
                "the lock screen asks for no password",
            }
        try:
            timeout = max(int(timeout_text), 1)
            grace = min(max(int(grace_text), 0), 300)
        except ValueError:
            raise SettingsError(
                f"kscreenlockerrc has a non-numeric {timeout_said} or {grace_said}"
            ) from None
        seconds = timeout * 60 + grace
        return {
            "enabled": 1,
            "lock_after_seconds": seconds,
            "detail": f"the screen locks after {timeout} min idle and asks for the password "
            f"{grace} s later ({autolock_said}, {timeout_said}, {grace_said} in {where})",
        }

    # -- Xfce ------------------------------------------------------------------------------

    def _xfce(self) -> Row:
        if not program_installed(self._system, "xfce4-screensaver"):
            return self._xfce_without_xfce4_screensaver()
        if self._system.which("xfconf-query") is None:
            raise SettingsError("xfconf-query is not installed, so Xfce's settings cannot be read")
        result = run_quiet(self._system, ["xfconf-query", "-c", "xfce4-screensaver", "-lv"])
        if isinstance(result, str):
            raise SettingsError(f"cannot run xfconf-query: {result}")
        values: dict[str, str] = {}
        if result.ok:
            for line in result.stdout.splitlines():
                key, _, value = line.strip().partition(" ")
                if key.startswith("/"):
                    values[key] = value.strip()
        elif "contains no properties" not in (result.stdout + result.stderr):
            raise SettingsError(
                f"xfconf-query -c xfce4-screensaver failed: {command_reason(result)}"
            )

        def setting(key: str, default: str) -> tuple[str, str]:
            if key in values:
                return values[key], f"{key}={values[key]}"
            return default, f"{key}={default} (default)"

        checks = [
            setting(key, "true")
            for key in (
                "/saver/enabled",
                "/saver/idle-activation/enabled",
                "/lock/enabled",
                "/lock/saver-activation/enabled",
            )
        ]
        for value, said in checks:
            if value.lower() != "true":
                return {
                    "enabled": 0,
                    "detail": f"xfce4-screensaver {said}: the screen does not lock when idle",
                }
        idle_text, idle_said = setting("/saver/idle-activation/delay", "5")
        lock_text, lock_said = setting("/lock/saver-activation/delay", "0")
        try:
            idle = max(int(idle_text), 1)
            lock = max(int(lock_text), 0)
        except ValueError:
            raise SettingsError(
                f"xfce4-screensaver has a non-numeric {idle_said} or {lock_said}"
            ) from None
        seconds = (idle + lock) * 60
        return {
            "enabled": 1,
            "lock_after_seconds": seconds,
            "detail": f"the screen locks after {seconds} s idle (xfce4-screensaver {idle_said} min "
            f"+ {lock_said} min)",
        }

    def _xfce_without_xfce4_screensaver(self) -> Row:
        for locker, reason in XFCE_OTHER_LOCKERS.items():
            if program_installed(self._system, locker):
                raise SettingsError(
                    f"Xfce locks the screen with {locker} here (xfce4-screensaver is not "
                    f"installed, so the lock settings in xfconf are not used): {reason}; "
                    "with xfce4-screensaver installed and its lock on, the lock can be checked"
                )
        for locker in OTHER_IDLE_LOCKERS:
            if program_installed(self._system, locker):
                raise SettingsError(
                    f"xfce4-screensaver is not installed and {locker} is, whose settings this "
                    "app does not read; with xfce4-screensaver installed and its lock on, the "
                    "lock can be checked"
                )
        return {
            "enabled": 0,
            "detail": "none of Xfce's screen lockers is installed (xfce4-screensaver, "
            "light-locker, xscreensaver), so nothing locks the screen when idle, whatever "
            "xfconf's lock settings say; install xfce4-screensaver and turn its lock on",
        }

    # -- sway and Hyprland --------------------------------------------------------------------

    @staticmethod
    def _idle_row(judged: IdleLock) -> Row:
        if judged.seconds is None:
            return {"enabled": 0, "lock_after_seconds": None, "detail": judged.detail}
        return {"enabled": 1, "lock_after_seconds": judged.seconds, "detail": judged.detail}

    # -- table -----------------------------------------------------------------------------

    def generate(self, context: QueryContext) -> Iterable[Row]:
        env = self._system.env
        desktop, family = detect_desktop(env)
        row: Row = {"enabled": None, "lock_after_seconds": None, "desktop": desktop}
        if not any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP")):
            row.update(source="environment", detail=NO_SESSION)
            return [row]
        if family is None:
            named = (
                f"the desktop {desktop!r}"
                if desktop
                else "an unnamed desktop (no XDG_CURRENT_DESKTOP, XDG_SESSION_DESKTOP or "
                "DESKTOP_SESSION)"
            )
            row.update(
                source="environment",
                detail=f"{named} is not one whose screen lock settings we know how to read "
                "(GNOME, KDE Plasma, Cinnamon, MATE, Xfce, sway, Hyprland)",
            )
            return [row]
        try:
            if family == "gnome":
                row["source"] = "gsettings"
                row.update(
                    self._gsettings(
                        "org.gnome.desktop.screensaver",
                        "org.gnome.desktop.session",
                        minutes=False,
                        idle_activation=False,
                        lockdown=True,
                    )
                )
            elif family == "cinnamon":
                row["source"] = "gsettings"
                row.update(
                    self._gsettings(
                        "org.cinnamon.desktop.screensaver",
                        "org.cinnamon.desktop.session",
                        minutes=False,
                        idle_activation=True,
                        lockdown=False,
                    )
                )
            elif family == "mate":
                row["source"] = "gsettings"
                row.update(
                    self._gsettings(
                        "org.mate.screensaver",
                        "org.mate.session",
                        minutes=True,
                        idle_activation=True,
                        lockdown=False,
                    )
                )
            elif family == "kde":
                row["source"] = "kscreenlockerrc"
                row.update(self._kde())
            elif family == "sway":
                row["source"] = "swayidle"
                row.update(self._idle_row(swayidle_lock(self._system)))
            elif family == "hyprland":
                row["source"] = "hypridle"
                row.update(self._idle_row(hypridle_lock(self._system)))
            else:
                row["source"] = "xfconf-query"
                row.update(self._xfce())
        except (SettingsError, IdleConfigError) as error:
            row["enabled"] = None
            row["lock_after_seconds"] = None
            row["detail"] = str(error)
        return [row]
