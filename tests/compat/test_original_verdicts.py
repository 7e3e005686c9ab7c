"""The original Stethoscope's verdicts, recorded as facts: policy and device → its answer.

Each row is a policy in one of the shapes Netflix's Stethoscope read (written for this table:
the 2018 spaced keys, `osVersion` brackets per platform, application rules with a platform
filter, the older application lists, …) and the facts of one device. `ORIGINAL` holds what
Stethoscope 5.0.6 — the last release — answered to `policy { validate }` for that policy on that
device, per key and overall: found by running the original's own verdict logic (its resolvers,
its patched semver 5.7.1, its GraphQL schema) under node with the device's facts injected,
the policy sent as the app's window sent its `policy.yaml` (through its `spacesToCamelCase`).

The test runs this app on the same device (its tables canned from the same facts) both ways a
verdict is given: the pure `evaluate` behind the window, on the policy file as our loader reads
it, and the local API's GraphQL `validate`, with the policy as a page would post it. Rows where
we answer differently are marked xfail(strict), naming the difference, so that a change that
makes them equal shows up (as an unexpected pass) and the list of remaining differences is
always this file's marks. Which differences stay, deliberately, is decided in the README.

A row the original rejects (a GraphQL error) has no verdict to compare; for those the test only
asks that each key the file names gets a verdict of ours.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from stethoscope_desktop.api.schema import QueryRunner, RequestContext, build_api_schema
from stethoscope_desktop.api.security import LOCAL_LABEL, ApiLimits, Caller
from stethoscope_desktop.api.service import ApiService, Freshness
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import Facts
from stethoscope_desktop.core.policy import merge_layers, parse_policy
from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.yamlfile import Problem, parse_yaml
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir
from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.common import StethoscopeAppTable
from stethoscope_desktop.tables.values import Row as TableRow
from tests.canned import CannedTable, canned_linux
from tests.compat.measure_original import (
    APPLICATION_KEYS,
    VALIDATE_QUERY,
    stethoscope_camel_case,
)
from tests.ui.reports import practices as bundled_practices

# -- devices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    """An installed application: a Debian package, a macOS bundle or a Windows program."""

    name: str
    version: str


@dataclass(frozen=True)
class Device:
    """One device's facts, as both apps read them.

    `os_version` is what Stethoscope read (Linux: os-release VERSION_ID, macOS: ProductVersion,
    Windows: Version); `our_os_version` is major.minor.patch as our os_version table gives it
    where it reads more (Debian's point release from /etc/debian_version).
    """

    platform: str  # linux, darwin, win32
    os_name: str
    os_version: str
    our_os_version: str = ""
    distribution: str = ""  # os-release ID on Linux
    os_release_version: str = ""  # os-release VERSION on Linux
    aws_workspace: bool = False
    firewall: bool = True
    disk_encryption: bool = True
    remote_login: bool = False
    automatic_updates: bool | str = True  # macOS also "partial"
    screen_lock: bool = True
    screen_idle: int = 300  # seconds until the screen locks
    open_wifi: bool = False  # an open Wi-Fi network is remembered
    applications: tuple[App, ...] = ()
    # The Stethoscope the original device runs: the last release. Ours runs this app.
    stethoscope_version: str = "5.0.6"

    def with_(self, **changes: Any) -> Device:
        return dataclasses.replace(self, **changes)

    @property
    def osquery_platform(self) -> str:
        return "windows" if self.platform == "win32" else self.platform

    def oracle_facts(self) -> dict[str, Any]:
        """The device facts as the original's scripts read them (the oracle's input)."""
        return {
            "platform": self.platform,
            "osName": self.os_name,
            "osVersion": self.os_version,
            "firewall": self.firewall,
            "diskEncryption": self.disk_encryption,
            "remoteLogin": self.remote_login,
            "automaticUpdates": self.automatic_updates,
            "screenLock": self.screen_lock,
            "screenIdle": self.screen_idle,
            "openWifiConnections": self.open_wifi,
            "applications": [{"name": a.name, "version": a.version} for a in self.applications],
            "stethoscopeVersion": self.stethoscope_version,
        }

    def tables(self) -> list[TablePlugin]:
        """The same facts as this app's tables give them on the device's platform.

        `stethoscope_app` is the app's own table: the device runs this app.
        """
        major, minor, patch = (self.our_os_version or self.os_version).split(".") + ["0"] * (
            3 - len((self.our_os_version or self.os_version).split("."))
        )
        common: dict[str, Sequence[TableRow]] = {
            "system_info": [
                {"computer_name": "laptop-42", "hostname": "laptop-42", "uuid": "abc-123",
                 "hardware_vendor": "Example", "hardware_serial": "",
                 "hardware_model": "Amazon WorkSpaces" if self.aws_workspace else "Laptop 14"}
            ],
            "stethoscope_firewall": [{"enabled": int(self.firewall), "source": "test", "detail": ""}],
            "stethoscope_disk_encryption": [
                {"name": "disk0", "mountpoint": "/", "encrypted": int(self.disk_encryption),
                 "type": "test", "detail": ""}
            ],
            "stethoscope_automatic_updates": [
                {"enabled": int(self.automatic_updates is not False), "source": "test", "detail": ""}
            ],
            "stethoscope_screen_lock": [
                {"enabled": int(self.screen_lock), "desktop": "test", "source": "test", "detail": "",
                 "lock_after_seconds": self.screen_idle if self.screen_lock else None}
            ],
            "stethoscope_remote_login": [
                {"enabled": int(self.remote_login), "source": "test", "detail": ""}
            ],
            "stethoscope_wifi_networks": [
                {"name": "Cafe", "uuid": "u1", "security": "none" if self.open_wifi else "wpa-psk",
                 "open": int(self.open_wifi)}
            ],
            "stethoscope_desktop_apps": [],
        }  # fmt: skip
        if self.platform == "linux":
            specific: dict[str, Sequence[TableRow]] = {
                "os_version": [
                    {"name": self.os_name, "version": self.os_release_version or self.os_version,
                     "major": int(major), "minor": int(minor), "patch": int(patch),
                     "platform": self.distribution, "build": ""}
                ],
                "deb_packages": [
                    {"name": a.name, "version": a.version, "status": "install ok installed"}
                    for a in self.applications
                ],
                "rpm_packages": [],
            }  # fmt: skip
            return [
                *(t for t in canned_linux(**common, **specific) if t.name != "stethoscope_app"),
                StethoscopeAppTable(),
            ]
        if self.platform == "darwin":
            specific = {
                "os_version": [
                    {"name": self.os_name, "version": self.os_version, "major": int(major),
                     "minor": int(minor), "patch": int(patch), "build": "23G93",
                     "platform": "darwin"}
                ],
                "alf": [{"global_state": int(self.firewall)}],
                "screenlock": [{"enabled": int(self.screen_lock), "grace_period": 0}],
                "sharing_preferences": [{"remote_login": int(self.remote_login), "screen_sharing": 0}],
                "apps": [
                    {"name": f"{a.name}.app", "path": f"/Applications/{a.name}.app",
                     "bundle_short_version": a.version}
                    for a in self.applications
                ],
            }  # fmt: skip
        else:
            specific = {
                "os_version": [
                    {"name": self.os_name, "version": self.os_version, "major": int(major),
                     "minor": int(minor), "patch": 0, "build": patch, "revision": 0,
                     "platform": "windows"}
                ],
                "programs": [
                    {"name": a.name, "version": a.version, "install_location": ""}
                    for a in self.applications
                ],
            }  # fmt: skip
        tables = {**common, **specific}
        return [*(CannedTable(name, rows) for name, rows in tables.items()), StethoscopeAppTable()]


DEBIAN = Device(
    "linux", "Debian GNU/Linux", "12", our_os_version="12.7.0", distribution="debian",
    os_release_version="12 (bookworm)",
    applications=(
        App("bash", "5.2.15-2+b7"),
        App("firefox-esr", "128.5.0esr-1~deb12u1"),
        App("openssh-client", "1:9.2p1-2+deb12u3"),
        App("qbittorrent", "4.5.2-3+deb12u1"),
    ),
)  # fmt: skip
UBUNTU = Device(
    "linux", "Ubuntu", "22.04", our_os_version="22.4.0", distribution="ubuntu",
    os_release_version="22.04.4 LTS (Jammy Jellyfish)",
    applications=(App("bash", "5.1-6ubuntu1.1"), App("firefox", "131.0.3+build1-0ubuntu0.22.04.1")),
)  # fmt: skip
MAC = Device(
    "darwin", "macOS", "14.6.1",
    applications=(App("Slack", "4.41.105"), App("Zoom", "6.2.5")),
)  # fmt: skip
WINDOWS = Device(
    "win32", "Microsoft Windows 10 Pro", "10.0.19045",
    applications=(App("Google Chrome", "130.0.6723.92"), App("Notepad++ (64-bit x64)", "8.7")),
)  # fmt: skip
WORKSPACE = Device(
    "win32", "Microsoft Windows Server 2016 Datacenter", "10.0.14393", aws_workspace=True
)


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A policy file (the original's shapes) on a device."""

    id: str
    policy: str
    device: Device
    # Where we answer differently from the original, for the window (evaluate) and the API.
    window_differs: str = ""
    api_differs: str = ""

    def policy_data(self) -> dict[str, Any]:
        data = yaml.safe_load(self.policy)
        assert isinstance(data, dict)
        return data


FINAL_SHAPE = """
osVersion:
  darwin: {ok: ">=14.6", nudge: ">=13.6"}
  win32: {ok: ">=10.0.19045", nudge: ">=10.0.19044"}
  awsWorkspace: {ok: ">=10.0.14393", nudge: ">=10.0.10240"}
  ubuntu: {ok: ">=22.04.3", nudge: ">=20.04.5"}
  linux: {ok: ">=22.04.3", nudge: ">=20.04.5"}
firewall: ALWAYS
diskEncryption: ALWAYS
automaticUpdates: SUGGESTED
screenLock: IF_SUPPORTED
screenIdle: "<=600"
remoteLogin: NEVER
openWifiConnections: SUGGESTED
"""
SPACED_2018 = """
os version:
  darwin: {ok: ">=10.13.4", nudge: ">=10.12.6"}
  win32: {ok: ">=10.0.16299", nudge: ">=10.0.15063"}
  linux: {ok: ">=12", nudge: ">=11"}
firewall: always
disk encryption: Always
automatic updates: SUGGESTED
screen lock: if_supported
remote login: NEVER
"""
APPS_DOCS_SHAPE = """
applications:
  - {name: CommonApp, description: on every device, assertion: SUGGESTED}
  - {name: Terminal, assertion: ALWAYS, platform: {darwin: ">=10.0.0"}}
  - {name: bash, assertion: ALWAYS, platform: {linux: ">=12.04.0"}}
  - {name: Notepad.exe, assertion: ALWAYS, platform: {win32: ">=10.0.0"}}
"""


# How we differ from the original, where a row shows it (the xfail reasons).
OS_VERSION_ID = (
    "Linux OS version: the original reads os-release VERSION_ID (Debian 12.7 is 12.0.0); ours "
    "reads the point release (12.7.0)"
)
OS_UBUNTU_KEY = (
    "osVersion on Ubuntu: the original uses the `linux` bracket only (process.platform), never "
    "`ubuntu`; ours uses the most specific key"
)
OS_ALL_KEY = "osVersion `all` bracket: the original never reads it (FAIL); ours applies it"
LINUX_UPDATES = (
    "automaticUpdates on a Linux other than Ubuntu: the original cannot tell (UNKNOWN), which it "
    "counts as PASS (and as FAIL under NEVER); ours judges apt's setting"
)
OPEN_WIFI_LINUX = (
    "openWifiConnections off macOS: the original could not tell (UNSUPPORTED), which it counts "
    "as PASS (and as FAIL under NEVER); ours reads the saved networks"
)
LINUX_SCREEN_IDLE = (
    "screenIdle on Linux: the original always FAILs (semver 5 coerces a number to null); ours "
    "compares the seconds"
)
MAC_UPDATES = (
    "macOS automaticUpdates: the original NUDGEs unless all five Software Update switches and "
    "App Store updates are on; ours is ON when checking, security responses and system data "
    "files are on"
)
MAC_SCREEN = (
    "macOS screenLock and screenIdle: never checked by the original (always PASS); ours reads them"
)
WIN_SCREEN_LOCK = (
    "Windows screenLock: the original FAILs when the display timeout exceeds "
    "windowsMaxScreenLockTimeout (default 600 s); ours ignores that key"
)
WIN_SCREEN_IDLE = (
    "screenIdle on Windows: unsupported by the original (PASS); ours compares the seconds"
)
APP_EPOCH = (
    "a Debian version with an epoch (1:9.2p1-2): the original coerces it to 1.0.0; ours compares "
    "9.2"
)
APP_NEVER_RANGE = (
    "a banned application with a version range: the original FAILs whatever version is "
    "installed; ours bans only the versions in the range"
)
APP_SHIFTED = (
    "the original's bug: a rule its platform filter drops shifts the next rule's result onto the "
    "dropped rule's assertion (qbittorrent judged as ALWAYS); ours judges each rule as written"
)
APP_PLATFORM_VERSION = (
    "an application's platform filter {linux: '>=12.04.0'} on Debian 12.7: the original compares "
    "os-release VERSION_ID (12.0.0) and drops the rule; ours compares 12.7.0 and applies it"
)

CASES: tuple[Case, ...] = (
    # osVersion: which bracket applies, and how the version is read
    Case("os-darwin-win32-only-on-linux",
         'osVersion: {darwin: {ok: ">=10.13.4"}, win32: {ok: ">=10.0.16299"}}', DEBIAN),
    Case("os-linux-ok", 'osVersion: {linux: {ok: ">=12", nudge: ">=11"}}', DEBIAN),
    Case("os-linux-nudge", 'osVersion: {linux: {ok: ">=13", nudge: ">=12"}}', DEBIAN),
    Case("os-linux-fail", 'osVersion: {linux: {ok: ">=14", nudge: ">=13"}}', DEBIAN),
    Case("os-linux-point-release", 'osVersion: {linux: {ok: ">=12.5", nudge: ">=11"}}', DEBIAN,
         window_differs=OS_VERSION_ID, api_differs=OS_VERSION_ID),
    Case("os-ubuntu-and-linux-on-ubuntu",
         'osVersion: {ubuntu: {ok: ">=22.04"}, linux: {ok: ">=24.04", nudge: ">=23.10"}}', UBUNTU,
         window_differs=OS_UBUNTU_KEY, api_differs=OS_UBUNTU_KEY),
    Case("os-ubuntu-only-on-ubuntu", 'osVersion: {ubuntu: {ok: ">=22.04"}}', UBUNTU,
         window_differs=OS_UBUNTU_KEY, api_differs=OS_UBUNTU_KEY),
    Case("os-leading-zero-minor", 'osVersion: {linux: {ok: ">=22.04.3", nudge: ">=20.04"}}', UBUNTU),
    Case("os-all-only-on-linux", 'osVersion: {all: {ok: ">=1"}}', DEBIAN,
         window_differs=OS_ALL_KEY, api_differs=OS_ALL_KEY),
    Case("os-debian-key", 'osVersion: {debian: {ok: ">=12"}, linux: {ok: ">=24.04"}}', DEBIAN),
    Case("os-2018-plain-strings",
         'os version: {darwin: ">=10.3.2", win32: ">=10.0.1", linux: ">=4.3.3"}', DEBIAN),
    Case("os-darwin-nudge", 'osVersion: {darwin: {ok: ">=14.7", nudge: ">=13.6"}}', MAC),
    Case("os-darwin-range-with-or",
         'osVersion: {darwin: {ok: "<14 >=13.6.9 || >=14.6.1", nudge: ">=13"}}', MAC),
    Case("os-win32-ok", 'osVersion: {win32: {ok: ">=10.0.19045", nudge: ">=10.0.19044"}}', WINDOWS),
    Case("os-aws-workspace",
         'osVersion: {win32: {ok: ">=10.0.19045"}, awsWorkspace: {ok: ">=10.0.14393"}}', WORKSPACE),
    # the requirement options, on Linux
    Case("firewall-always-on", "firewall: ALWAYS", DEBIAN),
    Case("firewall-always-off", "firewall: ALWAYS", DEBIAN.with_(firewall=False)),
    Case("firewall-suggested-off", "firewall: SUGGESTED", DEBIAN.with_(firewall=False)),
    Case("firewall-never-on", "firewall: NEVER", DEBIAN),
    Case("firewall-if-supported-off", "firewall: IF_SUPPORTED", DEBIAN.with_(firewall=False)),
    Case("remote-login-never-on", "remoteLogin: NEVER", DEBIAN.with_(remote_login=True)),
    Case("remote-login-never-off", "remoteLogin: NEVER", DEBIAN),
    Case("disk-encryption-always-off", "diskEncryption: ALWAYS",
         DEBIAN.with_(disk_encryption=False)),
    Case("updates-always-off-debian", "automaticUpdates: ALWAYS",
         DEBIAN.with_(automatic_updates=False),
         window_differs=LINUX_UPDATES, api_differs=LINUX_UPDATES),
    Case("updates-never-debian", "automaticUpdates: NEVER", DEBIAN.with_(automatic_updates=False),
         window_differs=LINUX_UPDATES, api_differs=LINUX_UPDATES),
    Case("updates-always-off-ubuntu", "automaticUpdates: ALWAYS",
         UBUNTU.with_(automatic_updates=False)),
    Case("updates-suggested-off-ubuntu", "automaticUpdates: SUGGESTED",
         UBUNTU.with_(automatic_updates=False)),
    Case("screen-lock-if-supported-on", "screenLock: IF_SUPPORTED", DEBIAN),
    Case("screen-lock-if-supported-off", "screenLock: IF_SUPPORTED", DEBIAN.with_(screen_lock=False)),
    Case("screen-idle-linux-within", 'screenIdle: "<=600"', DEBIAN,
         window_differs=LINUX_SCREEN_IDLE, api_differs=LINUX_SCREEN_IDLE),
    Case("screen-idle-linux-too-long", 'screenIdle: "<=120"', DEBIAN),
    Case("open-wifi-suggested-linux-open", "openWifiConnections: SUGGESTED",
         DEBIAN.with_(open_wifi=True),
         window_differs=OPEN_WIFI_LINUX, api_differs=OPEN_WIFI_LINUX),
    Case("open-wifi-never-linux-closed", "openWifiConnections: NEVER", DEBIAN),
    Case("stethoscope-version-documented", 'stethoscopeVersion: ">=1.0.0"', DEBIAN),
    Case("stethoscope-version-real-org", 'stethoscopeVersion: ">=2.3.0"', DEBIAN),
    Case("stethoscope-version-too-new", 'stethoscopeVersion: ">=6.0.0"', DEBIAN),
    Case("windows-max-screen-lock-timeout-only",
         "firewall: ALWAYS\nwindowsMaxScreenLockTimeout: 900", DEBIAN),
    # macOS
    Case("mac-updates-partial-suggested", "automaticUpdates: SUGGESTED",
         MAC.with_(automatic_updates="partial"),
         window_differs=MAC_UPDATES, api_differs=MAC_UPDATES),
    Case("mac-updates-partial-always", "automaticUpdates: ALWAYS",
         MAC.with_(automatic_updates="partial"),
         window_differs=MAC_UPDATES, api_differs=MAC_UPDATES),
    Case("mac-updates-off-always", "automaticUpdates: ALWAYS", MAC.with_(automatic_updates=False)),
    Case("mac-screen-lock-off", "screenLock: ALWAYS", MAC.with_(screen_lock=False),
         window_differs=MAC_SCREEN, api_differs=MAC_SCREEN),
    Case("mac-screen-idle-too-long", 'screenIdle: "<=120"', MAC.with_(screen_idle=900),
         window_differs=MAC_SCREEN, api_differs=MAC_SCREEN),
    Case("mac-open-wifi-suggested-open", "openWifiConnections: SUGGESTED", MAC.with_(open_wifi=True)),
    Case("mac-open-wifi-suggested-closed", "openWifiConnections: SUGGESTED", MAC),
    Case("mac-open-wifi-never-closed", "openWifiConnections: NEVER", MAC),
    Case("mac-firewall-off", "firewall: ALWAYS", MAC.with_(firewall=False)),
    # Windows
    Case("win-screen-lock-over-default-timeout", "screenLock: ALWAYS", WINDOWS.with_(screen_idle=900),
         window_differs=WIN_SCREEN_LOCK, api_differs=WIN_SCREEN_LOCK),
    Case("win-screen-lock-within-own-timeout",
         "screenLock: ALWAYS\nwindowsMaxScreenLockTimeout: 1200", WINDOWS.with_(screen_idle=900)),
    Case("win-screen-idle", 'screenIdle: "<=120"', WINDOWS.with_(screen_idle=900),
         window_differs=WIN_SCREEN_IDLE, api_differs=WIN_SCREEN_IDLE),
    Case("win-remote-desktop-never-on", "remoteLogin: NEVER", WINDOWS.with_(remote_login=True)),
    Case("win-updates-always-off", "automaticUpdates: ALWAYS", WINDOWS.with_(automatic_updates=False)),
    # applications
    Case("apps-always-installed-version-ok",
         'applications: [{name: bash, assertion: ALWAYS, version: ">=5.0.0"}]', DEBIAN),
    Case("apps-always-installed-too-old",
         'applications: [{name: bash, assertion: ALWAYS, version: ">=6.0.0"}]', DEBIAN),
    Case("apps-always-missing", "applications: [{name: slack-desktop, assertion: ALWAYS}]", DEBIAN),
    Case("apps-epoch-version",
         'applications: [{name: openssh-client, assertion: ALWAYS, version: ">=9.0.0"}]', DEBIAN,
         window_differs=APP_EPOCH, api_differs=APP_EPOCH),
    Case("apps-name-is-a-pattern", "applications: [{name: firefox, assertion: ALWAYS}]", DEBIAN),
    Case("apps-exact-match", "applications: [{name: firefox, assertion: ALWAYS, exactMatch: true}]",
         DEBIAN),
    Case("apps-never-installed", "applications: [{name: qbittorrent, assertion: NEVER}]", DEBIAN),
    Case("apps-never-missing", "applications: [{name: transmission, assertion: NEVER}]", DEBIAN),
    Case("apps-never-with-version-range",
         'applications: [{name: firefox, assertion: NEVER, version: "<100"}]', DEBIAN,
         window_differs=APP_NEVER_RANGE, api_differs=APP_NEVER_RANGE),
    Case("apps-suggested-missing", "applications: [{name: clamav, assertion: SUGGESTED}]", DEBIAN),
    Case("apps-suggested-too-old",
         'applications: [{name: bash, assertion: SUGGESTED, version: ">=6"}]', DEBIAN),
    Case("apps-if-supported-missing", "applications: [{name: clamav, assertion: IF_SUPPORTED}]",
         DEBIAN),
    Case("apps-if-supported-too-old",
         'applications: [{name: bash, assertion: IF_SUPPORTED, version: ">=6"}]', DEBIAN),
    Case("apps-platform-all-true",
         "applications: [{name: bash, assertion: ALWAYS, platform: {all: true}}]", DEBIAN),
    Case("apps-platform-other-only",
         'applications: [{name: Terminal, assertion: ALWAYS, platform: {darwin: ">=10.0.0"}}]',
         DEBIAN),
    Case("apps-docs-example-on-debian", APPS_DOCS_SHAPE, DEBIAN,
         window_differs=APP_PLATFORM_VERSION, api_differs=APP_PLATFORM_VERSION),
    Case("apps-docs-example-on-ubuntu", APPS_DOCS_SHAPE, UBUNTU),
    Case("apps-filtered-rule-shifts-the-next",
         "applications:\n"
         '  - {name: Terminal, assertion: ALWAYS, platform: {darwin: ">=10.0.0"}}\n'
         "  - {name: qbittorrent, assertion: NEVER}", DEBIAN,
         window_differs=APP_SHIFTED, api_differs=APP_SHIFTED),
    Case("apps-mac-bundles",
         "applications:\n"
         '  - {name: Slack, assertion: ALWAYS, version: ">=4.0.0"}\n'
         "  - {name: Zoom, assertion: NEVER}\n"
         "  - {name: 1Password, assertion: SUGGESTED}", MAC),
    Case("apps-windows-programs",
         "applications:\n"
         '  - {name: Notepad, assertion: NEVER}\n'
         r"  - {name: 'Notepad\+\+', assertion: ALWAYS, version: '>=8.6.0'}" "\n"
         "  - {name: Google Chrome, assertion: ALWAYS}", WINDOWS),
    Case("apps-windows-four-part-version",
         'applications: [{name: Google Chrome, assertion: ALWAYS, version: ">=120.0.0"}]', WINDOWS),
    Case("apps-2018-lists",
         "requiredApplications: [{name: bash}]\nbannedApplications: [{name: qbittorrent}]\n"
         "suggestedApplications: [{name: clamav}]", DEBIAN),
    # whole policies
    Case("final-shape-on-debian", FINAL_SHAPE, DEBIAN,
         window_differs=LINUX_SCREEN_IDLE, api_differs=LINUX_SCREEN_IDLE),
    Case("final-shape-on-ubuntu", FINAL_SHAPE, UBUNTU.with_(open_wifi=True),
         window_differs=f"{LINUX_SCREEN_IDLE}; {OPEN_WIFI_LINUX}", api_differs=f"{LINUX_SCREEN_IDLE}; {OPEN_WIFI_LINUX}"),
    Case("final-shape-on-mac", FINAL_SHAPE, MAC),
    Case("final-shape-on-windows", FINAL_SHAPE, WINDOWS.with_(remote_login=True)),
    Case("final-shape-on-workspace", FINAL_SHAPE, WORKSPACE),
    Case("spaced-2018-on-debian", SPACED_2018, DEBIAN.with_(firewall=False)),
    Case("spaced-2018-on-mac", SPACED_2018, MAC),
)  # fmt: skip


# -- the original's answers ------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the original answered: overall, per practice, per application rule; or its error."""

    status: str | None = None
    practices: Mapping[str, str] = field(default_factory=dict)
    applications: tuple[tuple[str, str], ...] | None = None
    error: str = ""


# Recorded from the original (Stethoscope 5.0.6) on node 20 with semver 5.7.1, graphql 14.5.8.
ORIGINAL: Mapping[str, Verdict] = {
    "os-darwin-win32-only-on-linux": Verdict("FAIL", {"osVersion": "FAIL"}, None),
    "os-linux-ok": Verdict("PASS", {"osVersion": "PASS"}, None),
    "os-linux-nudge": Verdict("NUDGE", {"osVersion": "NUDGE"}, None),
    "os-linux-fail": Verdict("FAIL", {"osVersion": "FAIL"}, None),
    "os-linux-point-release": Verdict("NUDGE", {"osVersion": "NUDGE"}, None),
    "os-ubuntu-and-linux-on-ubuntu": Verdict("FAIL", {"osVersion": "FAIL"}, None),
    "os-ubuntu-only-on-ubuntu": Verdict("FAIL", {"osVersion": "FAIL"}, None),
    "os-leading-zero-minor": Verdict("NUDGE", {"osVersion": "NUDGE"}, None),
    "os-all-only-on-linux": Verdict("FAIL", {"osVersion": "FAIL"}, None),
    "os-debian-key": Verdict(
        error='Variable "$policy" got invalid value { debian: { ok: ">=12" }, linux: { ok: ">=24.04" } } at "policy.osVersion"; Field "debian" is not defined by type PlatformBracketRequirement.'
    ),
    "os-2018-plain-strings": Verdict(
        error='Variable "$policy" got invalid value ">=10.3.2" at "policy.osVersion.darwin"; Expected type VersionBracket to be an object.'
    ),
    "os-darwin-nudge": Verdict("NUDGE", {"osVersion": "NUDGE"}, None),
    "os-darwin-range-with-or": Verdict("PASS", {"osVersion": "PASS"}, None),
    "os-win32-ok": Verdict("PASS", {"osVersion": "PASS"}, None),
    "os-aws-workspace": Verdict("PASS", {"osVersion": "PASS"}, None),
    "firewall-always-on": Verdict("PASS", {"firewall": "PASS"}, None),
    "firewall-always-off": Verdict("FAIL", {"firewall": "FAIL"}, None),
    "firewall-suggested-off": Verdict("NUDGE", {"firewall": "NUDGE"}, None),
    "firewall-never-on": Verdict("FAIL", {"firewall": "FAIL"}, None),
    "firewall-if-supported-off": Verdict("FAIL", {"firewall": "FAIL"}, None),
    "remote-login-never-on": Verdict("FAIL", {"remoteLogin": "FAIL"}, None),
    "remote-login-never-off": Verdict("PASS", {"remoteLogin": "PASS"}, None),
    "disk-encryption-always-off": Verdict("FAIL", {"diskEncryption": "FAIL"}, None),
    "updates-always-off-debian": Verdict("PASS", {"automaticUpdates": "PASS"}, None),
    "updates-never-debian": Verdict("FAIL", {"automaticUpdates": "FAIL"}, None),
    "updates-always-off-ubuntu": Verdict("FAIL", {"automaticUpdates": "FAIL"}, None),
    "updates-suggested-off-ubuntu": Verdict("NUDGE", {"automaticUpdates": "NUDGE"}, None),
    "screen-lock-if-supported-on": Verdict("PASS", {"screenLock": "PASS"}, None),
    "screen-lock-if-supported-off": Verdict("FAIL", {"screenLock": "FAIL"}, None),
    "screen-idle-linux-within": Verdict("FAIL", {"screenIdle": "FAIL"}, None),
    "screen-idle-linux-too-long": Verdict("FAIL", {"screenIdle": "FAIL"}, None),
    "open-wifi-suggested-linux-open": Verdict("PASS", {"openWifiConnections": "PASS"}, None),
    "open-wifi-never-linux-closed": Verdict("FAIL", {"openWifiConnections": "FAIL"}, None),
    "stethoscope-version-documented": Verdict("PASS", {"stethoscopeVersion": "PASS"}, None),
    "stethoscope-version-real-org": Verdict("PASS", {"stethoscopeVersion": "PASS"}, None),
    "stethoscope-version-too-new": Verdict("FAIL", {"stethoscopeVersion": "FAIL"}, None),
    "windows-max-screen-lock-timeout-only": Verdict("PASS", {"firewall": "PASS"}, None),
    "mac-updates-partial-suggested": Verdict("NUDGE", {"automaticUpdates": "NUDGE"}, None),
    "mac-updates-partial-always": Verdict("NUDGE", {"automaticUpdates": "NUDGE"}, None),
    "mac-updates-off-always": Verdict("FAIL", {"automaticUpdates": "FAIL"}, None),
    "mac-screen-lock-off": Verdict("PASS", {"screenLock": "PASS"}, None),
    "mac-screen-idle-too-long": Verdict("PASS", {"screenIdle": "PASS"}, None),
    "mac-open-wifi-suggested-open": Verdict("NUDGE", {"openWifiConnections": "NUDGE"}, None),
    "mac-open-wifi-suggested-closed": Verdict("PASS", {"openWifiConnections": "PASS"}, None),
    "mac-open-wifi-never-closed": Verdict("FAIL", {"openWifiConnections": "FAIL"}, None),
    "mac-firewall-off": Verdict("FAIL", {"firewall": "FAIL"}, None),
    "win-screen-lock-over-default-timeout": Verdict("FAIL", {"screenLock": "FAIL"}, None),
    "win-screen-lock-within-own-timeout": Verdict("PASS", {"screenLock": "PASS"}, None),
    "win-screen-idle": Verdict("PASS", {"screenIdle": "PASS"}, None),
    "win-remote-desktop-never-on": Verdict("FAIL", {"remoteLogin": "FAIL"}, None),
    "win-updates-always-off": Verdict("FAIL", {"automaticUpdates": "FAIL"}, None),
    "apps-always-installed-version-ok": Verdict("PASS", {}, (("bash", "PASS"),)),
    "apps-always-installed-too-old": Verdict("FAIL", {}, (("bash", "FAIL"),)),
    "apps-always-missing": Verdict("FAIL", {}, (("slack-desktop", "FAIL"),)),
    "apps-epoch-version": Verdict("FAIL", {}, (("openssh-client", "FAIL"),)),
    "apps-name-is-a-pattern": Verdict("PASS", {}, (("firefox", "PASS"),)),
    "apps-exact-match": Verdict(
        error='Variable "$policy" got invalid value { name: "firefox", assertion: "ALWAYS", exactMatch: true } at "policy.applications[0]"; Field "exactMatch" is not defined by type ApplicationRequirement.'
    ),
    "apps-never-installed": Verdict("FAIL", {}, (("qbittorrent", "FAIL"),)),
    "apps-never-missing": Verdict("PASS", {}, (("transmission", "PASS"),)),
    "apps-never-with-version-range": Verdict("FAIL", {}, (("firefox", "FAIL"),)),
    "apps-suggested-missing": Verdict("NUDGE", {}, (("clamav", "NUDGE"),)),
    "apps-suggested-too-old": Verdict("NUDGE", {}, (("bash", "NUDGE"),)),
    "apps-if-supported-missing": Verdict("PASS", {}, (("clamav", "PASS"),)),
    "apps-if-supported-too-old": Verdict("FAIL", {}, (("bash", "FAIL"),)),
    "apps-platform-all-true": Verdict("PASS", {}, (("bash", "PASS"),)),
    "apps-platform-other-only": Verdict("PASS", {}, ()),
    "apps-docs-example-on-debian": Verdict("NUDGE", {}, (("CommonApp", "NUDGE"),)),
    "apps-docs-example-on-ubuntu": Verdict("NUDGE", {}, (("CommonApp", "NUDGE"), ("bash", "PASS"))),
    "apps-filtered-rule-shifts-the-next": Verdict("PASS", {}, (("qbittorrent", "PASS"),)),
    "apps-mac-bundles": Verdict(
        "FAIL", {}, (("Slack", "PASS"), ("Zoom", "FAIL"), ("1Password", "NUDGE"))
    ),
    "apps-windows-programs": Verdict(
        "FAIL", {}, (("Notepad", "FAIL"), ("Notepad\\+\\+", "PASS"), ("Google Chrome", "PASS"))
    ),
    "apps-windows-four-part-version": Verdict(error="Invalid Version: 130.0.6723.92"),
    "apps-2018-lists": Verdict(
        error='Variable "$policy" got invalid value { requiredApplications: [[Object]], bannedApplications: [[Object]], suggestedApplications: [[Object]] }; Field "requiredApplications" is not defined by type DevicePolicy. Did you mean applications?'
    ),
    "final-shape-on-debian": Verdict(
        "FAIL",
        {
            "osVersion": "FAIL",
            "firewall": "PASS",
            "diskEncryption": "PASS",
            "screenLock": "PASS",
            "screenIdle": "FAIL",
            "automaticUpdates": "PASS",
            "remoteLogin": "PASS",
            "openWifiConnections": "PASS",
        },
        None,
    ),
    "final-shape-on-ubuntu": Verdict(
        "FAIL",
        {
            "osVersion": "NUDGE",
            "firewall": "PASS",
            "diskEncryption": "PASS",
            "screenLock": "PASS",
            "screenIdle": "FAIL",
            "automaticUpdates": "PASS",
            "remoteLogin": "PASS",
            "openWifiConnections": "PASS",
        },
        None,
    ),
    "final-shape-on-mac": Verdict(
        "PASS",
        {
            "osVersion": "PASS",
            "firewall": "PASS",
            "diskEncryption": "PASS",
            "screenLock": "PASS",
            "screenIdle": "PASS",
            "automaticUpdates": "PASS",
            "remoteLogin": "PASS",
            "openWifiConnections": "PASS",
        },
        None,
    ),
    "final-shape-on-windows": Verdict(
        "FAIL",
        {
            "osVersion": "PASS",
            "firewall": "PASS",
            "diskEncryption": "PASS",
            "screenLock": "PASS",
            "screenIdle": "PASS",
            "automaticUpdates": "PASS",
            "remoteLogin": "FAIL",
            "openWifiConnections": "PASS",
        },
        None,
    ),
    "final-shape-on-workspace": Verdict(
        "PASS",
        {
            "osVersion": "PASS",
            "firewall": "PASS",
            "diskEncryption": "PASS",
            "screenLock": "PASS",
            "screenIdle": "PASS",
            "automaticUpdates": "PASS",
            "remoteLogin": "PASS",
            "openWifiConnections": "PASS",
        },
        None,
    ),
    "spaced-2018-on-debian": Verdict(
        "FAIL",
        {
            "osVersion": "PASS",
            "firewall": "FAIL",
            "diskEncryption": "PASS",
            "screenLock": "PASS",
            "automaticUpdates": "PASS",
            "remoteLogin": "PASS",
        },
        None,
    ),
    "spaced-2018-on-mac": Verdict(
        "PASS",
        {
            "osVersion": "PASS",
            "firewall": "PASS",
            "diskEncryption": "PASS",
            "screenLock": "PASS",
            "automaticUpdates": "PASS",
            "remoteLogin": "PASS",
        },
        None,
    ),
}


# -- ours ------------------------------------------------------------------------------------

TEXTS = bundled_practices("en").instructions
CHECKS = load_checks(checks_dir())


def scanner_for(device: Device) -> Scanner:
    return Scanner(EmbeddedEngine(device.tables()), CHECKS, platform=device.osquery_platform)


def verdict_of_report(report: Report) -> Verdict:
    practices = {p.key: p.status.value for p in report.practices if "/" not in p.key}
    apps = tuple(
        sorted((p.key.split("/", 1)[1], p.status.value) for p in report.practices if "/" in p.key)
    )
    return Verdict(report.status.value, practices, apps)


def window_verdict(case: Case) -> tuple[Verdict, list[Problem]]:
    """Our verdict as the window gives it: IT's policy file read by our loader, then evaluate."""
    layer = parse_policy(parse_yaml(case.policy, "policy.yaml"))
    policy, problems = merge_layers([layer], locked_from=0)
    report = evaluate(policy, scanner_for(case.device).gather(policy), TEXTS)
    return verdict_of_report(report), [*layer.problems, *problems]


class DeviceSource:
    """The API's report source: scans of the case's device (canned tables)."""

    def __init__(self, device: Device) -> None:
        self._scanner = scanner_for(device)

    def latest(self) -> Report | None:
        return None

    def scan(self, practices: Practices) -> Report:
        return self._scanner.scan(practices)

    def facts(self) -> Facts:
        return self._scanner.gather_every_check()


def api_verdict(case: Case) -> Verdict:
    """Our verdict as the local API gives it to a page posting the policy."""
    app_practices = bundled_practices("en")
    service = ApiService(
        DeviceSource(case.device),
        lambda: app_practices,
        freshness=Freshness(max_report_age=300.0, min_scan_interval=0.0),
    )
    runner = QueryRunner(build_api_schema(), ApiLimits())
    variables = {"policy": stethoscope_camel_case(case.policy_data())}
    outcome = runner.run(
        VALIDATE_QUERY, variables, None, RequestContext(service, Caller(None, LOCAL_LABEL))
    )
    errors = outcome.body.get("errors")
    if errors:
        return Verdict(error=" ".join(str(errors[0].get("message", errors[0])).split()))
    validate = outcome.body["data"]["policy"]["validate"]
    practices = {
        key: value
        for key, value in validate.items()
        if key not in ("status", "applications") and value is not None
    }
    apps = validate.get("applications")
    return Verdict(
        validate["status"],
        practices,
        tuple(sorted((a["name"], a["status"]) for a in apps or ())),
    )


def comparable(verdict: Verdict) -> Verdict:
    """The original's verdict in our report's terms: applications sorted, none for an empty list."""
    return dataclasses.replace(verdict, applications=tuple(sorted(verdict.applications or ())))


def silently_ignored(case: Case, ours: Verdict, problems: Sequence[Problem] = ()) -> list[str]:
    """The keys the file names that got neither a verdict of ours nor a problem naming them."""
    named = {re.split(r"[.\[]", problem.key)[0] for problem in problems}
    ignored = []
    for key, value in case.policy_data().items():
        (name,) = stethoscope_camel_case({key: value})
        if name == "windowsMaxScreenLockTimeout" or key in named:
            continue
        if name in APPLICATION_KEYS:
            if value and not ours.applications:
                ignored.append(key)
        elif name not in ours.practices:
            ignored.append(key)
    return ignored


def _param(case: Case, differs: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=differs)] if differs else []
    return pytest.param(case, id=case.id, marks=marks)


def test_every_case_has_the_originals_answer() -> None:
    assert [case.id for case in CASES] == list(ORIGINAL)


@pytest.mark.parametrize("case", [_param(c, c.window_differs) for c in CASES])
def test_the_window_judges_as_the_original(case: Case) -> None:
    original = ORIGINAL[case.id]
    ours, problems = window_verdict(case)
    if original.error:  # the original rejected it: judged or reported, key by key
        assert silently_ignored(case, ours, problems) == []
        return
    assert ours == comparable(original), [str(problem) for problem in problems]


@pytest.mark.parametrize("case", [_param(c, c.api_differs) for c in CASES])
def test_the_api_answers_as_the_original(case: Case) -> None:
    original = ORIGINAL[case.id]
    ours = api_verdict(case)
    if original.error:  # the original rejected it: so may we, or judge every key
        assert ours.error or silently_ignored(case, ours) == []
        return
    assert ours == comparable(original)
