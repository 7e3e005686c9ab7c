"""stethoscope_browser_extensions against fake home folders: Chrome-family and Firefox profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.browser_extensions import MAX_EXTENSIONS, BrowserExtensions, join
from tests.fakes import FakeSystem, write_file

HOME = "/home/tester"
CHROME = f"{HOME}/.config/google-chrome"
FIREFOX = f"{HOME}/.mozilla/firefox"


def manifest(**fields: Any) -> str:
    return json.dumps({"manifest_version": 3, **fields})


def rows(system: FakeSystem, platform: str = "linux") -> list[Row]:
    return list(BrowserExtensions(system, platform).generate(QueryContext()))


def firefox_profile(addons: list[dict[str, Any]]) -> str:
    return json.dumps({"schemaVersion": 36, "addons": addons})


def test_chrome_extensions_take_the_newest_version_and_localised_names(tmp_path: Path) -> None:
    ext = f"{CHROME}/Default/Extensions/aapbdbdomjkkjkaonfhkkikfgjllcleb"
    write_file(tmp_path, f"{ext}/2.0.9_0/manifest.json", manifest(name="old", version="2.0.9"))
    write_file(
        tmp_path,
        f"{ext}/2.0.16_0/manifest.json",
        manifest(name="__MSG_extName__", version="2.0.16", default_locale="en",
                 author={"email": "translate@example.com"}),
    )  # fmt: skip
    write_file(
        tmp_path,
        f"{ext}/2.0.16_0/_locales/en/messages.json",
        json.dumps({"EXTNAME": {"message": "Translator", "description": "its name"}}),
    )
    write_file(tmp_path, f"{ext}/Temp/manifest.json", manifest(name="half installed"))
    assert rows(FakeSystem(tmp_path, home=HOME)) == [
        {
            "browser": "chrome",
            "browser_name": "Google Chrome",
            "profile": "Default",
            "identifier": "aapbdbdomjkkjkaonfhkkikfgjllcleb",
            "name": "Translator",
            "version": "2.0.16",
            "author": "translate@example.com",
            "path": f"{ext}/2.0.16_0",
        }
    ]


def test_every_profile_of_every_chrome_family_browser(tmp_path: Path) -> None:
    for folder, ident in (
        (f"{CHROME}/Default", "a" * 32),
        (f"{CHROME}/Profile 2", "b" * 32),
        (f"{HOME}/.config/BraveSoftware/Brave-Browser/Default", "c" * 32),
    ):
        write_file(tmp_path, f"{folder}/Extensions/{ident}/1.0_0/manifest.json",
                   manifest(name=f"ext {ident[0]}", version="1.0", author="Someone"))  # fmt: skip
    write_file(tmp_path, f"{CHROME}/Local State", "{}")
    found = [
        (r["browser_name"], r["profile"], r["name"], r["author"])
        for r in rows(FakeSystem(tmp_path, home=HOME))
    ]
    assert found == [
        ("Google Chrome", "Default", "ext a", "Someone"),
        ("Google Chrome", "Profile 2", "ext b", "Someone"),
        ("Brave", "Default", "ext c", "Someone"),
    ]


def test_an_unreadable_manifest_leaves_only_that_extension_out(tmp_path: Path) -> None:
    base = f"{CHROME}/Default/Extensions"
    write_file(tmp_path, f"{base}/{'a' * 32}/1.0_0/manifest.json", "{ not json")
    write_file(
        tmp_path, f"{base}/{'b' * 32}/3.1_0/manifest.json", manifest(name="Fine", version="3.1")
    )
    assert [r["name"] for r in rows(FakeSystem(tmp_path, home=HOME))] == ["Fine"]


def test_firefox_lists_the_users_extensions_not_firefoxs_own(tmp_path: Path) -> None:
    addons = [
        {"id": "uBlock0@raymondhill.net", "type": "extension", "location": "app-profile",
         "version": "1.61.2", "path": f"{FIREFOX}/x1.default/extensions/uBlock0@raymondhill.net.xpi",
         "defaultLocale": {"name": "uBlock Origin", "creator": "Raymond Hill"}},
        {"id": "formautofill@mozilla.org", "type": "extension", "location": "app-system-defaults",
         "version": "1.0.1", "defaultLocale": {"name": "Form Autofill"}},
        {"id": "default-theme@mozilla.org", "type": "theme", "location": "app-builtin",
         "version": "1.3", "defaultLocale": {"name": "System theme"}},
        {"id": "corp-vpn@example.com", "type": "extension", "location": "app-system-share",
         "version": "4.2", "defaultLocale": {"name": "Corporate VPN", "creator": None}},
    ]  # fmt: skip
    write_file(tmp_path, f"{FIREFOX}/x1.default/extensions.json", firefox_profile(addons))
    write_file(tmp_path, f"{FIREFOX}/profiles.ini", "[Profile0]\nPath=x1.default\n")
    assert rows(FakeSystem(tmp_path, home=HOME)) == [
        {
            "browser": "firefox",
            "browser_name": "Firefox",
            "profile": "x1.default",
            "identifier": "uBlock0@raymondhill.net",
            "name": "uBlock Origin",
            "version": "1.61.2",
            "author": "Raymond Hill",
            "path": f"{FIREFOX}/x1.default/extensions/uBlock0@raymondhill.net.xpi",
        },
        {
            "browser": "firefox",
            "browser_name": "Firefox",
            "profile": "x1.default",
            "identifier": "corp-vpn@example.com",
            "name": "Corporate VPN",
            "version": "4.2",
            "author": "",
            "path": "",
        },
    ]


def test_windows_profiles_are_found_through_localappdata_and_appdata(tmp_path: Path) -> None:
    # The fake root stands for C:; the folders are named as Windows' environment names them.
    local, roaming = "/Users/tester/AppData/Local", "/Users/tester/AppData/Roaming"
    edge = f"{local}/Microsoft/Edge/User Data/Default/Extensions/{'e' * 32}/1.5_0"
    write_file(tmp_path, f"{edge}/manifest.json", manifest(name="Edge one", version="1.5"))
    profile = f"{roaming}/Mozilla/Firefox/Profiles/p.default-release"
    addon = {"id": "x@y", "type": "extension", "location": "app-profile", "version": "2"}
    write_file(tmp_path, f"{profile}/extensions.json", firefox_profile([addon]))
    system = FakeSystem(tmp_path, env={"LOCALAPPDATA": local, "APPDATA": roaming}, home="/")
    found = [(r["browser"], r["name"], r["path"]) for r in rows(system, "windows")]
    assert found == [("chrome", "Edge one", edge), ("firefox", "x@y", "")]


def test_paths_keep_the_separator_of_their_folder() -> None:
    assert join("C:\\Users\\t\\AppData\\Local", "Google", "Chrome") == (
        "C:\\Users\\t\\AppData\\Local\\Google\\Chrome"
    )
    assert join("/home/t/", ".config", "chromium") == "/home/t/.config/chromium"


def test_no_browsers_no_rows(tmp_path: Path) -> None:
    assert rows(FakeSystem(tmp_path, home=HOME)) == []
    assert rows(FakeSystem(tmp_path, home=HOME), "darwin") == []


def test_the_number_of_rows_is_bounded(tmp_path: Path) -> None:
    addons = [
        {"id": f"a{i}@example.com", "type": "extension", "location": "app-profile", "version": "1"}
        for i in range(MAX_EXTENSIONS + 5)
    ]
    write_file(tmp_path, f"{FIREFOX}/many.default/extensions.json", firefox_profile(addons))
    assert len(rows(FakeSystem(tmp_path, home=HOME))) == MAX_EXTENSIONS
