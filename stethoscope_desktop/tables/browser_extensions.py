"""`stethoscope_browser_extensions`: the extensions in this user's Chrome and Firefox profiles.

One row per extension of each profile, on every platform, read from the browsers' own files in
the user's home folder (no browser needs to run):

- **Chrome and the browsers built on it** (Chromium, Microsoft Edge, Brave), browser `chrome`:
  each profile folder (`Default`, `Profile 1`, …) of the browser's user data folder holds
  `Extensions/<id>/<version>/manifest.json`; the newest version folder is read. A name or
  author written as `__MSG_key__` is looked up in the extension's `_locales/<default_locale>/
  messages.json`, as Chrome does.
- **Firefox**, browser `firefox`: each profile's `extensions.json` lists its add-ons; those of
  type `extension` are listed, except Firefox's own built-in and system ones (locations
  `app-builtin`, `app-system-defaults`, `app-system-addons`).

Safari's extensions are parts of applications, listed with the applications. Files are read
with a size bound and at most `MAX_PROFILES` profiles per browser and `MAX_EXTENSIONS` rows; a
file that cannot be read or parsed leaves its extension (or profile) out, so one broken profile
does not hide the others. The columns are ours and the same on every platform: browser
(`chrome` or `firefox`), browser_name, profile, identifier, name, version, author, path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin
from stethoscope_desktop.tables.system import System

MAX_PROFILES = 32
MAX_EXTENSIONS = 1000
MANIFEST_LIMIT = 1024 * 1024
EXTENSIONS_JSON_LIMIT = 8 * 1024 * 1024
CHROME = "chrome"
FIREFOX = "firefox"
# Firefox's own add-ons, shipped with the browser.
FIREFOX_BUILT_IN_LOCATIONS = frozenset({"app-builtin", "app-system-defaults", "app-system-addons"})


@dataclass(frozen=True)
class BrowserHome:
    """Where one browser keeps its profiles on one platform, relative to a base folder."""

    browser: str
    name: str
    base: str
    """`home`, or an environment variable (LOCALAPPDATA, APPDATA) that names the folder."""
    parts: tuple[str, ...]


def _chrome(name: str, base: str, *parts: str) -> BrowserHome:
    return BrowserHome(CHROME, name, base, parts)


def _firefox(base: str, *parts: str) -> BrowserHome:
    return BrowserHome(FIREFOX, "Firefox", base, parts)


BROWSER_HOMES: Mapping[str, tuple[BrowserHome, ...]] = {
    "linux": (
        _chrome("Google Chrome", "home", ".config", "google-chrome"),
        _chrome("Chromium", "home", ".config", "chromium"),
        _chrome("Chromium", "home", "snap", "chromium", "common", "chromium"),
        _chrome("Microsoft Edge", "home", ".config", "microsoft-edge"),
        _chrome("Brave", "home", ".config", "BraveSoftware", "Brave-Browser"),
        _firefox("home", ".mozilla", "firefox"),
        _firefox("home", "snap", "firefox", "common", ".mozilla", "firefox"),
        _firefox("home", ".var", "app", "org.mozilla.firefox", ".mozilla", "firefox"),
    ),
    "darwin": (
        _chrome("Google Chrome", "home", "Library", "Application Support", "Google", "Chrome"),
        _chrome("Chromium", "home", "Library", "Application Support", "Chromium"),
        _chrome("Microsoft Edge", "home", "Library", "Application Support", "Microsoft Edge"),
        _chrome(
            "Brave", "home", "Library", "Application Support", "BraveSoftware", "Brave-Browser"
        ),
        _firefox("home", "Library", "Application Support", "Firefox", "Profiles"),
    ),
    "windows": (
        _chrome("Google Chrome", "LOCALAPPDATA", "Google", "Chrome", "User Data"),
        _chrome("Chromium", "LOCALAPPDATA", "Chromium", "User Data"),
        _chrome("Microsoft Edge", "LOCALAPPDATA", "Microsoft", "Edge", "User Data"),
        _chrome("Brave", "LOCALAPPDATA", "BraveSoftware", "Brave-Browser", "User Data"),
        _firefox("APPDATA", "Mozilla", "Firefox", "Profiles"),
    ),
}


def join(base: str, *parts: str) -> str:
    """Join path parts with the base's own separator (a backslash for a Windows folder)."""
    separator = "\\" if "\\" in base else "/"
    return separator.join([base.rstrip("/\\"), *parts])


def _list(system: System, path: str) -> list[str]:
    try:
        return system.list_dir(path)
    except OSError:
        return []


def _json(system: System, path: str, limit: int) -> Any:
    """Return a JSON file's value, or None when it cannot be read or parsed."""
    try:
        text = system.read_text(path, limit=limit)
        return json.loads(text.lstrip("\ufeff"))
    except (OSError, ValueError):
        return None


def _version_key(folder: str) -> tuple[tuple[int, ...], str]:
    """Order Chrome's version folders (`1.2.3_0`) by their numbers."""
    numbers = []
    for part in folder.split("_")[0].split("."):
        numbers.append(int(part) if part.isdigit() else -1)
    return tuple(numbers), folder


def _localized(value: Any, messages: Mapping[str, Any] | None) -> str:
    """Return a manifest string, looking `__MSG_key__` up in the default locale's messages."""
    if not isinstance(value, str):
        return ""
    if value.startswith("__MSG_") and value.endswith("__") and messages is not None:
        key = value[len("__MSG_") : -2].casefold()
        for name, entry in messages.items():
            if name.casefold() == key and isinstance(entry, dict):
                message = entry.get("message")
                if isinstance(message, str):
                    return message
    return value


def _author(manifest: Mapping[str, Any], messages: Mapping[str, Any] | None) -> str:
    author = manifest.get("author")
    if isinstance(author, dict):
        author = author.get("email")
    return _localized(author, messages)


def chrome_extension(
    system: System, home: BrowserHome, profile: str, folder: str, identifier: str
) -> Row | None:
    """Return the row for one Chrome extension folder, None when it has no readable manifest."""
    versions = sorted((name for name in _list(system, folder) if name != "Temp"), key=_version_key)
    if not versions:
        return None
    path = join(folder, versions[-1])
    manifest = _json(system, join(path, "manifest.json"), MANIFEST_LIMIT)
    if not isinstance(manifest, dict):
        return None
    locale = manifest.get("default_locale")
    messages = None
    if isinstance(locale, str) and locale and "/" not in locale and "\\" not in locale:
        found = _json(system, join(path, "_locales", locale, "messages.json"), MANIFEST_LIMIT)
        messages = found if isinstance(found, dict) else None
    version = manifest.get("version")
    return {
        "browser": CHROME,
        "browser_name": home.name,
        "profile": profile,
        "identifier": identifier,
        "name": _localized(manifest.get("name"), messages) or identifier,
        "version": version if isinstance(version, str) else "",
        "author": _author(manifest, messages),
        "path": path,
    }


def chrome_extensions(system: System, home: BrowserHome, user_data: str) -> Iterator[Row]:
    """Yield the extensions of each profile in a Chrome-family user data folder."""
    profiles = [
        p for p in _list(system, user_data) if system.is_dir(join(user_data, p, "Extensions"))
    ]
    for profile in profiles[:MAX_PROFILES]:
        extensions = join(user_data, profile, "Extensions")
        for identifier in _list(system, extensions):
            row = chrome_extension(system, home, profile, join(extensions, identifier), identifier)
            if row is not None:
                yield row


def firefox_addon(home: BrowserHome, profile: str, addon: Any) -> Row | None:
    """Return the row for one entry of a Firefox profile's extensions.json, None to leave out."""
    if not isinstance(addon, dict) or addon.get("type") != "extension":
        return None
    if addon.get("location") in FIREFOX_BUILT_IN_LOCATIONS:
        return None
    identifier = addon.get("id")
    if not isinstance(identifier, str) or not identifier:
        return None
    locale = addon.get("defaultLocale")
    texts = locale if isinstance(locale, dict) else {}
    name, creator = texts.get("name"), texts.get("creator")
    version, path = addon.get("version"), addon.get("path")
    return {
        "browser": FIREFOX,
        "browser_name": home.name,
        "profile": profile,
        "identifier": identifier,
        "name": name if isinstance(name, str) and name else identifier,
        "version": version if isinstance(version, str) else "",
        "author": creator if isinstance(creator, str) else "",
        "path": path if isinstance(path, str) else "",
    }


def firefox_extensions(system: System, home: BrowserHome, profiles_dir: str) -> Iterator[Row]:
    """Yield the extensions of each Firefox profile in a profiles folder."""
    profiles = [p for p in _list(system, profiles_dir) if system.is_dir(join(profiles_dir, p))]
    for profile in profiles[:MAX_PROFILES]:
        data = _json(system, join(profiles_dir, profile, "extensions.json"), EXTENSIONS_JSON_LIMIT)
        addons = data.get("addons") if isinstance(data, dict) else None
        for addon in addons if isinstance(addons, list) else ():
            row = firefox_addon(home, profile, addon)
            if row is not None:
                yield row


class BrowserExtensions(TablePlugin):
    """Chrome-family extensions and Firefox add-ons of this user's profiles, one row each."""

    name = "stethoscope_browser_extensions"
    columns = (
        Column("browser"),
        Column("browser_name"),
        Column("profile"),
        Column("identifier"),
        Column("name"),
        Column("version"),
        Column("author"),
        Column("path"),
    )

    def __init__(self, system: System, platform: str) -> None:
        self._system = system
        self._homes = BROWSER_HOMES.get(platform, ())

    def _base(self, home: BrowserHome) -> str | None:
        base = self._system.home if home.base == "home" else self._system.env.get(home.base)
        return join(base, *home.parts) if base else None

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rows: list[Row] = []
        for home in self._homes:
            folder = self._base(home)
            if folder is None or not self._system.is_dir(folder):
                continue
            found = (
                chrome_extensions(self._system, home, folder)
                if home.browser == CHROME
                else firefox_extensions(self._system, home, folder)
            )
            for row in found:
                rows.append(row)
                if len(rows) >= MAX_EXTENSIONS:
                    return rows
        return rows
