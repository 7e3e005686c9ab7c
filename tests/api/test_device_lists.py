"""The device's lists (applications, extensions, hotfixes, user) from every check's facts."""

from __future__ import annotations

from typing import Any

import pytest

from stethoscope_desktop.api.device_lists import (
    browser_extensions,
    installed_applications,
    installed_hotfixes,
    required_hotfixes,
    required_hotfixes_state,
)
from stethoscope_desktop.api.schema import osquery_version
from stethoscope_desktop.api.security import Caller
from stethoscope_desktop.core.facts import PlatformContext
from stethoscope_desktop.core.policy import ApplicationRule, Requirement
from stethoscope_desktop.core.versions import VersionRange
from stethoscope_desktop.engines.info import EngineInfo
from tests.api.helpers import CountingSource
from tests.api.test_schema import run
from tests.canned import canned_linux

DEBIAN = PlatformContext("linux", "linux", "debian", "12.7.0")
FIREFOX_RULE = ApplicationRule(
    "firefox", Requirement.SUGGESTED, description="Keep it current", install_from="https://x"
)
DARWIN_ONLY = ApplicationRule(
    "bash", Requirement.NEVER, platform={"darwin": VersionRange.parse(">=1")}
)


def test_applications_carry_the_words_of_the_rule_that_names_them() -> None:
    rows = [
        {"name": "firefox-esr", "version": "128.5.0esr-1", "path": "", "source": "deb"},
        {"name": "bash", "version": None, "path": "/usr/bin/bash"},
        {"name": "", "version": "1"},
    ]
    assert installed_applications(rows, [DARWIN_ONLY, FIREFOX_RULE], DEBIAN) == [
        {
            "name": "firefox-esr",
            "displayName": "firefox-esr",
            "version": "128.5.0esr-1",
            "path": None,
            "lastOpenedTime": None,
            "last_opened_time": None,
            "installDate": None,
            "install_date": None,
            "assertion": "SUGGESTED",
            "installed": "SUGGESTED",
            "description": "Keep it current",
            "installFrom": "https://x",
        },
        {
            "name": "bash",
            "displayName": "bash",
            "version": "",  # String!: the system does not say
            "path": "/usr/bin/bash",
            "lastOpenedTime": None,
            "last_opened_time": None,
            "installDate": None,
            "install_date": None,
            "assertion": None,  # the only rule naming it is for macOS
            "installed": None,
            "description": None,
            "installFrom": None,
        },
    ]


def test_application_times_as_osquery_gives_them() -> None:
    rows = [
        {"name": "Safari", "display_name": "Safari", "last_opened_time": 1733212800.0},
        {"name": "Notes", "last_opened_time": -1.0},  # osquery: not known
        {"name": "7-Zip", "install_date": "20240311"},
    ]
    found = installed_applications(rows, [], DEBIAN)
    assert [(a["lastOpenedTime"], a["installDate"]) for a in found] == [
        ("1733212800", None),
        (None, None),
        (None, "20240311"),
    ]


ROWS = [
    {"browser": "firefox", "identifier": "a@b", "name": "A", "version": "1", "author": None,
     "path": "/p/a.xpi"},
    {"browser": "chrome", "identifier": "c" * 32, "name": None, "version": "2", "author": "Me",
     "path": "/p/c"},
]  # fmt: skip


@pytest.mark.parametrize(
    ("browser", "names"),
    [(None, ["A", "c" * 32]), ("all", ["A", "c" * 32]), ("chrome", ["c" * 32]), ("safari", [])],
)
def test_extensions_of_one_browser_or_all(browser: str | None, names: list[str]) -> None:
    found = browser_extensions(ROWS, browser)
    assert [e["name"] for e in found] == names
    assert all(isinstance(value, str) for e in found for value in e.values())  # String!


def test_hotfixes_and_what_a_policy_requires_of_them() -> None:
    installed = installed_hotfixes(
        [
            {"hotfix_id": "KB5034441", "caption": "https://support.microsoft.com/help/5034441", "installed_on": "1/9/2024"},
            {"hotfix_id": None},
        ]
    )  # fmt: skip
    assert installed == [
        {
            "hotfix_id": "KB5034441",
            "caption": "https://support.microsoft.com/help/5034441",
            "installed_on": "1/9/2024",
        }
    ]
    assert required_hotfixes(installed, ["kb5034441", "KB1"]) == installed
    assert required_hotfixes_state("win32", installed, ["KB5034441"]) == "PASS"
    assert required_hotfixes_state("win32", installed, ["KB5034441", "KB1"]) == "FAIL"
    assert required_hotfixes_state("win32", None, ["KB1"]) == "UNKNOWN"
    assert required_hotfixes_state("linux", None, ["KB1"]) == "PASS"  # nothing asked of Linux
    assert required_hotfixes_state("win32", installed, []) == "UNKNOWN"


def test_osquery_version_says_which_engine_answered() -> None:
    assert osquery_version(EngineInfo("osquery", "5.12.1", "osqueryd 5.12.1 at …")) == "5.12.1"
    assert osquery_version(EngineInfo("embedded", "0.1.0", "no osqueryd found")) == "UNSUPPORTED"


def answer(query: str, caller: Caller | None = None, **tables: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"source": CountingSource(canned_linux(**tables))}
    if caller is not None:
        kwargs["caller"] = caller
    status, body, _ = run(query, **kwargs)
    assert status == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def test_the_device_lists_over_graphql() -> None:
    data = answer(
        "{ device { applications { name version } extensions(browser: firefox) { name browser } "
        "hotfixes { hotfix_id } user { name email } } }"
    )
    device = data["device"]
    assert {"name": "bash", "version": "5.2.15-2+b7"} in device["applications"]
    assert device["extensions"] == [{"name": "uBlock Origin", "browser": "firefox"}]
    assert device["hotfixes"] == []  # Linux has no Windows updates
    assert device["user"]["email"] is None and device["user"]["name"]


def test_the_account_name_is_an_identifier() -> None:
    data = answer("{ device { user { name } } }", Caller("http://intranet.example.com", "Intranet"))
    assert data["device"]["user"] == {"name": None}


def test_a_list_that_cannot_be_read_is_a_field_error_naming_why() -> None:
    status, body, _ = run(
        "{ device { deviceName extensions { name } } }",
        source=CountingSource(canned_linux(stethoscope_browser_extensions="profiles unreadable")),
    )
    assert status == 200 and body["data"]["device"]["deviceName"] == "laptop-42"
    assert body["data"]["device"]["extensions"] is None
    assert "browser extensions cannot be read" in body["errors"][0]["message"]
    assert "profiles unreadable" in body["errors"][0]["message"]


def test_the_device_lists_are_gathered_once_per_request() -> None:
    source = CountingSource()
    status, body, _ = run(
        "{ device { applications { name } extensions { name } a: applications { name } } }",
        source=source,
    )
    assert status == 200 and "errors" not in body
    assert source.gatherings == 1 and source.count == 0  # no policy scan was needed
