"""`scan --root` (and STETHOSCOPE_ROOT) end to end: Fedora, openSUSE and Arch fake roots.

Each root (fixtures/distro-roots/*.tree, our own files in each distribution's shapes) ends with
its `.stethoscope-root.yaml`: the environment and what the tables' commands print there. The
command runs in a process of its own, as IT runs it, with no IT folder of this machine's, and
every practice's verdict in its JSON report is asserted. Verdicts that are wrong today because a
table does not know the distribution yet are strict xfails that say what is right and why, so
they fail as soon as the table learns it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.tables.linux.updates import parse_sysconfig
from stethoscope_desktop.tables.recorded_root import (
    RecordedRootError,
    RecordedRootSystem,
    load_recorded_root,
    parse_recording,
)
from stethoscope_desktop.tables.system import CommandError
from tests.tables.linux.helpers import FIXTURES, make_root, parse_tree

ROOT = Path(__file__).resolve().parents[3]
EXIT_FAIL = 2
EXIT_COULD_NOT_SCAN = 3


def write_root(name: str, folder: Path) -> Path:
    """Write fixtures/distro-roots/<name>.tree into `folder`, with what a tree cannot hold."""
    make_root(folder, parse_tree((FIXTURES / "distro-roots" / f"{name}.tree").read_text("utf-8")))
    if name == "opensuse-leap-15.6":
        cron = folder / "etc/cron.daily/opensuse.org-online_update"
        cron.parent.mkdir(parents=True, exist_ok=True)
        cron.symlink_to("/usr/lib/YaST2/bin/online_update")
    return folder


def run_scan(
    tmp_path: Path, args: list[str], extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        # No IT folder of this machine's (/etc/xdg/stethoscope where the app is installed).
        "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "scan", "--json", "--lang", "en", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def scan_root(tmp_path: Path, name: str) -> tuple[int, dict[str, Any]]:
    root = write_root(name, tmp_path / name)
    result = run_scan(tmp_path, ["--root", str(root)])
    assert result.returncode in (0, 1, 2), result.stderr
    report = json.loads(result.stdout)
    assert report["engine"]["reason"] == f"the fake root {root}"
    return result.returncode, report


def scan_changed_root(tmp_path: Path, root: Path) -> dict[str, Any]:
    """Scan a root a test changed after writing it; return the JSON report."""
    result = run_scan(tmp_path, ["--root", str(root)])
    assert result.returncode in (0, 1, 2), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def verdicts(report: Mapping[str, Any]) -> dict[str, str]:
    return {p["key"]: p["status"] for p in report["practices"]}


def observed(report: Mapping[str, Any], key: str) -> str:
    (practice,) = [p for p in report["practices"] if p["key"] == key]
    return str(practice["observed"] or practice["reason"])


def test_fedora_40_workstation(tmp_path: Path) -> None:
    code, report = scan_root(tmp_path, "fedora-40-workstation")
    assert code == EXIT_FAIL
    assert verdicts(report) == {
        "osVersion": "FAIL",  # 40 is below the bundled policy's fedora bracket (43 nudges)
        "applications/clamav": "NUDGE",
        "applications/firefox": "PASS",
        "applications/openssh-server": "PASS",
        "applications/qbittorrent": "PASS",
        "diskEncryption": "PASS",
        "automaticUpdates": "PASS",
        "firewall": "FAIL",  # FedoraWorkstation lets in TCP and UDP 1025-65535
        "remoteLogin": "PASS",
        "screenLock": "PASS",
        "screenIdle": "PASS",
        "openWifiConnections": "PASS",
        "stethoscopeDesktopVersion": "PASS",
    }
    assert "zone FedoraWorkstation lets in TCP and UDP ports 1025-65535" in observed(
        report, "firewall"
    )
    assert observed(report, "automaticUpdates") == (
        "ON (dnf-automatic.timer is enabled and apply_updates = yes in /etc/dnf/automatic.conf, "
        "so updates are installed)"
    )
    assert "LUKS2" in observed(report, "diskEncryption")
    assert observed(report, "applications/firefox") == "version 133.0 is installed"
    # The kernel is the recorded one, not this machine's: no command of this machine ran.
    assert report["device"]["os_build"] == "6.11.9-200.fc40.x86_64"
    device = report["device"]
    assert (device["device_name"], device["distribution"], device["os_version"]) == (
        "fedora-laptop",
        "fedora",
        "40.0.0",
    )


def test_fedora_with_the_timer_disabled_says_so(tmp_path: Path) -> None:
    root = write_root("fedora-40-workstation", tmp_path / "fedora")
    (root / "etc/systemd/system/timers.target.wants/dnf-automatic.timer").unlink()
    result = run_scan(tmp_path, ["--root", str(root)])
    report = json.loads(result.stdout)
    assert verdicts(report)["automaticUpdates"] == "NUDGE"  # SUGGESTED in the bundled policy
    assert "none of its timers is enabled" in observed(report, "automaticUpdates")


def test_opensuse_leap_15_6(tmp_path: Path) -> None:
    code, report = scan_root(tmp_path, "opensuse-leap-15.6")
    assert code == EXIT_FAIL
    got = verdicts(report)
    assert got == {
        "automaticUpdates": "PASS",  # YaST's cron link (see below)
        "osVersion": "PASS",  # no opensuse bracket: the policy's linux one (any version)
        "diskEncryption": "FAIL",
        "remoteLogin": "FAIL",
        "applications/clamav": "NUDGE",
        "applications/firefox": "PASS",  # MozillaFirefox matches the name "firefox"
        "applications/openssh-server": "PASS",
        "applications/qbittorrent": "PASS",
        "firewall": "PASS",
        "screenLock": "PASS",
        "screenIdle": "PASS",
        "openWifiConnections": "PASS",
        "stethoscopeDesktopVersion": "PASS",
    }
    assert observed(report, "openWifiConnections") == (
        "ON (saved Wi-Fi networks this account can read: 2, none of them open and joined by "
        "itself; open but joined only when picked (automatic connection off): WIFI@DB)"
    )
    assert observed(report, "osVersion") == "15.6.0"


def test_opensuse_automatic_online_update_is_on(tmp_path: Path) -> None:
    _, report = scan_root(tmp_path, "opensuse-leap-15.6")
    assert verdicts(report)["automaticUpdates"] == "PASS"
    assert observed(report, "automaticUpdates") == (
        "ON (YaST's automatic online update is on (cron link "
        '/etc/cron.daily/opensuse.org-online_update, AOU_ENABLE_CRONJOB "true" in '
        "/etc/sysconfig/automatic_online_update): zypper patch installs the categories "
        '"security recommended"; patches that need a reboot, a message or a license are '
        "skipped (AOU_SKIP_INTERACTIVE_PATCHES))"
    )


def test_opensuse_yast_configured_without_its_cron_link_is_off(tmp_path: Path) -> None:
    # What YaST leaves when the automatic online update is switched off: the settings stay,
    # the link goes (removeOnlineUpdateCronjobs).
    root = write_root("opensuse-leap-15.6", tmp_path / "leap")
    (root / "etc/cron.daily/opensuse.org-online_update").unlink()
    report = scan_changed_root(tmp_path, root)
    assert verdicts(report)["automaticUpdates"] == "NUDGE"  # SUGGESTED in the bundled policy
    assert observed(report, "automaticUpdates") == (
        "OFF (YaST's automatic online update is off (yast2-online-update-configuration is "
        "installed, but there is no opensuse.org-online_update link in /etc/cron.daily, "
        "/etc/cron.weekly, /etc/cron.monthly))"
    )


def _set_sysconfig(root: Path, name: str, value: str) -> None:
    path = root / "etc/sysconfig/automatic_online_update"
    lines = [
        f'{name}="{value}"' if line.startswith(f"{name}=") else line
        for line in path.read_text("utf-8").splitlines()
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")


@pytest.mark.parametrize(
    ("name", "value", "verdict", "said"),
    [
        (
            "AOU_PATCH_CATEGORIES",
            "recommended optional",
            "NUDGE",
            'AOU_PATCH_CATEGORIES is "recommended optional" in '
            "/etc/sysconfig/automatic_online_update, without security, so security patches are "
            "not installed",
        ),
        ("AOU_PATCH_CATEGORIES", "", "PASS", "all patches (AOU_PATCH_CATEGORIES is empty)"),
        (
            "AOU_ENABLE_CRONJOB",
            "false",
            "NUDGE",
            'AOU_ENABLE_CRONJOB is "false" in /etc/sysconfig/automatic_online_update, so '
            "/usr/lib/YaST2/bin/online_update stops without updating",
        ),
    ],
)
def test_opensuse_what_the_cron_job_does(
    tmp_path: Path, name: str, value: str, verdict: str, said: str
) -> None:
    root = write_root("opensuse-leap-15.6", tmp_path / "leap")
    _set_sysconfig(root, name, value)
    report = scan_changed_root(tmp_path, root)
    assert verdicts(report)["automaticUpdates"] == verdict
    assert said in observed(report, "automaticUpdates")


def test_opensuse_a_dangling_cron_link_runs_nothing(tmp_path: Path) -> None:
    root = write_root("opensuse-leap-15.6", tmp_path / "leap")
    (root / "usr/lib/YaST2/bin/online_update").unlink()
    report = scan_changed_root(tmp_path, root)
    assert verdicts(report)["automaticUpdates"] == "NUDGE"
    assert observed(report, "automaticUpdates") == (
        "OFF (YaST's automatic online update: /etc/cron.daily/opensuse.org-online_update points "
        "to /usr/lib/YaST2/bin/online_update, which is missing, so cron runs nothing)"
    )


def test_opensuse_cron_link_without_cron_running_is_off(tmp_path: Path) -> None:
    root = write_root("opensuse-leap-15.6", tmp_path / "leap")
    (root / "etc/systemd/system/multi-user.target.wants/cron.service").unlink()
    report = scan_changed_root(tmp_path, root)
    assert verdicts(report)["automaticUpdates"] == "NUDGE"
    assert observed(report, "automaticUpdates") == (
        "OFF (YaST's automatic online update has its cron link "
        "/etc/cron.daily/opensuse.org-online_update, but cron.service is not enabled, so "
        "nothing runs it)"
    )


def tumbleweed_root(folder: Path) -> Path:
    """The Leap root made Tumbleweed: no YaST online update (dropped there), os-update's timer."""
    root = write_root("opensuse-leap-15.6", folder)
    (root / "etc/cron.daily/opensuse.org-online_update").unlink()
    (root / "etc/sysconfig/automatic_online_update").unlink()
    (root / "usr/lib/YaST2/bin/online_update").unlink()
    make_root(
        root,
        parse_tree((FIXTURES / "distro-roots" / "opensuse-tumbleweed-os-update.tree").read_text()),
    )
    return root


def test_opensuse_tumbleweed_os_update_timer_is_on(tmp_path: Path) -> None:
    root = tumbleweed_root(tmp_path / "tw")
    report = scan_changed_root(tmp_path, root)
    assert verdicts(report)["automaticUpdates"] == "PASS"
    assert observed(report, "automaticUpdates") == (
        "ON (os-update.timer is enabled (/etc/systemd/system/timers.target.wants/os-update.timer)"
        ": os-update installs updates with zypper and reboots when they need it)"
    )


def test_opensuse_tumbleweed_os_update_installed_but_off(tmp_path: Path) -> None:
    root = tumbleweed_root(tmp_path / "tw")
    (root / "etc/systemd/system/timers.target.wants/os-update.timer").unlink()
    report = scan_changed_root(tmp_path, root)
    assert verdicts(report)["automaticUpdates"] == "NUDGE"
    assert observed(report, "automaticUpdates") == "OFF (os-update.timer is not enabled)"


def test_arch(tmp_path: Path) -> None:
    code, report = scan_root(tmp_path, "arch")
    assert code == EXIT_FAIL
    assert verdicts(report) == {
        "automaticUpdates": "NUDGE",  # no automatic updater (see below)
        "applications/firefox": "PASS",  # from pacman's local database (see below)
        "osVersion": "PASS",  # rolling: no VERSION_ID, 0.0.0 meets the linux bracket
        "screenLock": "FAIL",
        "screenIdle": "FAIL",
        "applications/clamav": "NUDGE",
        "applications/openssh-server": "PASS",
        "applications/qbittorrent": "PASS",
        "diskEncryption": "PASS",
        "firewall": "PASS",
        "remoteLogin": "PASS",
        "openWifiConnections": "PASS",
        "stethoscopeDesktopVersion": "PASS",
    }
    # The open "Lobby" is limited to root: named as unreadable, not denied.
    assert observed(report, "openWifiConnections") == (
        "ON (saved Wi-Fi networks this account can read: 1, none of them open and joined by "
        "itself; saved connections this account cannot read without administrator rights "
        "(limited to other accounts, joined only while one of them is signed in): Lobby)"
    )
    assert "Autolock=false" in observed(report, "screenLock")


def test_arch_has_no_automatic_updates(tmp_path: Path) -> None:
    _, report = scan_root(tmp_path, "arch")
    assert verdicts(report)["automaticUpdates"] == "NUDGE"  # SUGGESTED in the bundled policy
    assert observed(report, "automaticUpdates") == (
        "OFF (Arch ships no automatic updater: pacman installs updates only when asked "
        "(pacman -Syu), as Arch's maintainers advise; neither pacroller nor pacman-auto-update "
        "(the updaters that would count) is installed)"
    )


def test_arch_with_pacroller_timer_enabled(tmp_path: Path) -> None:
    root = write_root("arch", tmp_path / "arch")
    unit = "[Unit]\nDescription=pacroller\n\n[Timer]\nOnCalendar=daily\n\n[Install]\n"
    unit += "WantedBy=timers.target\n"
    make_root(
        root,
        {
            "/usr/lib/systemd/system/pacroller.timer": unit,
            "/etc/systemd/system/timers.target.wants/pacroller.timer": unit,
        },
    )
    report = scan_changed_root(tmp_path, root)
    assert verdicts(report)["automaticUpdates"] == "PASS"
    assert "pacroller.timer is enabled" in observed(report, "automaticUpdates")


def test_arch_firefox_from_pacman_is_installed(tmp_path: Path) -> None:
    _, report = scan_root(tmp_path, "arch")
    assert verdicts(report)["applications/firefox"] == "PASS"
    assert observed(report, "applications/firefox") == "version 133.0.3 is installed"


def test_the_environment_variable_names_the_root_too(tmp_path: Path) -> None:
    root = write_root("arch", tmp_path / "arch")
    result = run_scan(tmp_path, [], {"STETHOSCOPE_ROOT": str(root)})
    report = json.loads(result.stdout)
    assert report["engine"]["reason"] == f"the fake root {root}"
    assert verdicts(report)["screenLock"] == "FAIL"


def test_a_broken_recording_stops_the_scan_naming_file_and_key(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_root(root, {"/.stethoscope-root.yaml": "commands:\n  - argv: [nmcli]\n    stout: x\n"})
    result = run_scan(tmp_path, ["--root", str(root)])
    assert result.returncode == EXIT_COULD_NOT_SCAN
    assert result.stdout == ""
    assert result.stderr == (
        f"stethoscope-desktop: cannot scan the fake root: {root}/.stethoscope-root.yaml: "
        "commands[0]: unknown key stout (known: argv, fails, status, stderr, stdout)\n"
    )


def test_the_osquery_engine_is_refused_for_a_fake_root(tmp_path: Path) -> None:
    result = run_scan(tmp_path, ["--root", str(tmp_path), "--engine", "osquery"])
    assert result.returncode == EXIT_COULD_NOT_SCAN
    assert "read by the built-in engine only: osqueryd reads this machine" in result.stderr


def test_a_root_that_is_no_folder(tmp_path: Path) -> None:
    result = run_scan(tmp_path, ["--root", str(tmp_path / "missing")])
    assert result.returncode == EXIT_COULD_NOT_SCAN
    assert "not a folder" in result.stderr


def test_recorded_commands_only(tmp_path: Path) -> None:
    (tmp_path / ".stethoscope-root.yaml").write_text(
        "home: /home/ada\nenv: {XDG_CURRENT_DESKTOP: GNOME}\nadmin: true\ncommands:\n"
        '  - argv: [uname, -r]\n    stdout: "6.1.0\\n"\n'
        "  - argv: [nmcli, general]\n    fails: timed out after 5 s\n"
        '  - argv: ["false"]\n    status: 1\n    stderr: "no"\n',
        encoding="utf-8",
    )
    system = load_recorded_root(tmp_path)
    assert isinstance(system, RecordedRootSystem)
    assert (system.home, dict(system.env), system.admin) == (
        "/home/ada",
        {"XDG_CURRENT_DESKTOP": "GNOME"},
        True,
    )
    assert system.run(["uname", "-r"]).stdout == "6.1.0\n"
    assert (system.run(["false"]).returncode, system.run(["false"]).stderr) == (1, "no")
    assert system.which("uname") == "/usr/bin/uname"
    assert system.which("ls") is None  # on this machine, not on the fake one
    with pytest.raises(CommandError, match=r"^nmcli: timed out after 5 s$"):
        system.run(["nmcli", "general"])
    with pytest.raises(CommandError, match=r"^uname: this command's output is not in "):
        system.run(["uname", "-m"])
    with pytest.raises(CommandError, match=r"^ls: not installed \(not recorded in "):
        system.run(["ls"])
    with pytest.raises(OSError, match="statfs is not asked of a fake root"):
        system.filesystem_stats("/")
    with pytest.raises(OSError, match="netlink is only asked of the real machine"):
        system.netlink_dump(0, 0, b"")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", "f: must be a mapping (home, env, admin, commands)"),
        ("homes: /x\n", "f: unknown key homes (known: admin, commands, env, home)"),
        ("env: {A: 1}\n", "f: env.A: must be text, not int"),
        ("admin: yes please\n", "f: admin must be true or false"),
        ("commands: {}\n", "f: commands must be a list"),
        ("commands: [{argv: []}]\n", "f: commands[0].argv: must be a non-empty list of texts"),
        ("commands: [{argv: [a], status: x}]\n", "f: commands[0].status: must be a whole number"),
        (
            "commands: [{argv: [a], fails: x, stdout: y}]\n",
            "f: commands[0]: fails means it printed nothing: no stdout/status",
        ),
        ("commands: [{argv: [a]}, {argv: [a]}]\n", "f: commands[1]: ['a'] is recorded twice"),
        ("a: [\n", "f: not valid YAML: "),
        ("a: &x [1]\nb: [*x, *x]\n", "f: not valid YAML: aliases (*name) are not allowed"),
    ],
)
def test_recording_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(RecordedRootError) as raised:
        parse_recording(text, "f")
    assert str(raised.value).startswith(message)


def test_sysconfig_is_read_as_the_shell_sources_it() -> None:
    assert parse_sysconfig(
        "## Type: yesno\n"
        'AOU_ENABLE_CRONJOB="false"\n'
        "AOU_ENABLE_CRONJOB='true'\n"
        '# AOU_PATCH_CATEGORIES="optional"\n'
        "AOU_PATCH_CATEGORIES=security # only these\n"
        "not an assignment\n"
    ) == {"AOU_ENABLE_CRONJOB": "true", "AOU_PATCH_CATEGORIES": "security"}
