"""stethoscope_automatic_updates: apt's merged configuration and dnf-automatic's timers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.tables.base import Row
from stethoscope_desktop.tables.linux.unattended_upgrades import (
    Origin,
    UnattendedUpgradeStops,
    allowed_origins,
    blacklisted,
    pattern_matches,
    read_distribution,
)
from stethoscope_desktop.tables.linux.updates import (
    APT_CONF,
    AptValue,
    AutomaticUpdates,
    apt_conf_d_names,
    apt_config_files,
    apt_list,
    parse_apt_config,
    read_apt_config,
)
from stethoscope_desktop.tables.system import LocalSystem
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import (
    WatchedSystem,
    fixture,
    make_root,
    one_row,
    replace_keeping_mtime,
)

D = "/etc/apt/apt.conf.d"


LISTS = "/var/lib/apt/lists"
DEBIAN_SECURITY_LIST = f"{LISTS}/deb.debian.org_debian-security_dists_bookworm-security_InRelease"
DEBIAN_MAIN_LIST = f"{LISTS}/deb.debian.org_debian_dists_bookworm_InRelease"
UBUNTU_SECURITY_LIST = f"{LISTS}/security.ubuntu.com_ubuntu_dists_noble-security_InRelease"
DEBIAN_LISTS = {
    DEBIAN_SECURITY_LIST: fixture("apt/lists/debian-security_InRelease"),
    DEBIAN_MAIN_LIST: fixture("apt/lists/debian-main_InRelease"),
}


def apt_root(
    tmp_path: Path,
    files: dict[str, str],
    status: str = "dpkg/status",
    *,
    lists: bool = True,
    os_release: str = "os-release/debian-12",
) -> FakeSystem:
    base = {
        f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades"),
        "/var/lib/dpkg/status": fixture(status),
        "/etc/os-release": fixture(os_release),
        **(DEBIAN_LISTS if lists else {}),
    }
    return FakeSystem(make_root(tmp_path, {**base, **files}))


def test_20auto_upgrades_on(tmp_path: Path) -> None:
    system = apt_root(tmp_path, {f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on")})
    assert one_row(AutomaticUpdates(system)) == {
        "enabled": 1,
        "source": "apt",
        "detail": 'APT::Periodic::Unattended-Upgrade is "1" (set in '
        '/etc/apt/apt.conf.d/20auto-upgrades), APT::Periodic::Update-Package-Lists is "1" '
        "(set in /etc/apt/apt.conf.d/20auto-upgrades), unattended-upgrades is installed and it "
        'takes the security updates ("origin=Debian,codename=bookworm-security,'
        'label=Debian-Security" '
        "matches origin=Debian,label=Debian-Security,archive=stable-security,"
        "codename=bookworm-security,site=deb.debian.org, from "
        f"{DEBIAN_SECURITY_LIST})",
    }
    assert system.calls == []


def test_20auto_upgrades_off(tmp_path: Path) -> None:
    system = apt_root(tmp_path, {f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-off")})
    row = one_row(AutomaticUpdates(system))
    assert row["enabled"] == 0
    assert row["detail"] == (
        'APT::Periodic::Unattended-Upgrade is "0" (set in /etc/apt/apt.conf.d/20auto-upgrades), '
        'APT::Periodic::Update-Package-Lists is "0" (set in /etc/apt/apt.conf.d/20auto-upgrades)'
    )


def test_not_configured_at_all(tmp_path: Path) -> None:
    row = one_row(AutomaticUpdates(apt_root(tmp_path, {})))
    assert row["enabled"] == 0
    assert row["detail"] == (
        "APT::Periodic::Unattended-Upgrade is not set (apt's default is 0, off), "
        "APT::Periodic::Update-Package-Lists is not set (apt's default is 0, off)"
    )


def test_a_later_file_overrides_in_a_nested_block(tmp_path: Path) -> None:
    system = apt_root(
        tmp_path,
        {
            f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on"),
            f"{D}/99local-no-unattended": fixture("apt/99local-no-unattended"),
            # Ignored by apt: backup suffixes and unknown extensions.
            f"{D}/99local-no-unattended.dpkg-old": 'APT::Periodic::Unattended-Upgrade "1";\n',
            f"{D}/99zz.list": 'APT::Periodic::Unattended-Upgrade "1";\n',
        },
    )
    row = one_row(AutomaticUpdates(system))
    assert row["enabled"] == 0
    assert str(row["detail"]).startswith(
        'APT::Periodic::Unattended-Upgrade is "0" (set in /etc/apt/apt.conf.d/99local-no-unattended)'
    )


def test_apt_conf_is_read_last(tmp_path: Path) -> None:
    system = apt_root(
        tmp_path,
        {
            f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on"),
            f"{D}/99local-no-unattended": fixture("apt/99local-no-unattended"),
            "/etc/apt/apt.conf": fixture("apt/apt.conf-back-on"),
        },
    )
    assert apt_config_files(system)[-1] == "/etc/apt/apt.conf"
    row = one_row(AutomaticUpdates(system))
    assert row["enabled"] == 1
    assert "(set in /etc/apt/apt.conf)" in str(row["detail"])


def test_unattended_upgrades_package_missing(tmp_path: Path) -> None:
    system = apt_root(
        tmp_path,
        {f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on")},
        status="dpkg/status-without-unattended-upgrades",
    )
    row = one_row(AutomaticUpdates(system))
    assert row["enabled"] == 0
    assert str(row["detail"]).endswith(
        "but the unattended-upgrades package is not installed, so nothing installs the updates"
    )


def test_periodic_enable_0_switches_everything_off(tmp_path: Path) -> None:
    system = apt_root(
        tmp_path,
        {
            f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on"),
            f"{D}/10periodic": 'APT::Periodic::Enable "0";\n',
        },
    )
    row = one_row(AutomaticUpdates(system))
    assert row["enabled"] == 0
    assert str(row["detail"]).startswith('APT::Periodic::Enable is "0"')


def test_masked_upgrade_timer_with_systemd(tmp_path: Path) -> None:
    system = apt_root(
        tmp_path,
        {
            f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on"),
            "/run/systemd/system/.keep": "",
            "/lib/systemd/system/apt-daily-upgrade.timer": "[Timer]\n",
            "/etc/systemd/system/apt-daily-upgrade.timer": "",  # an empty file masks the unit
        },
    )
    row = one_row(AutomaticUpdates(system))
    assert row["enabled"] == 0
    assert "apt-daily-upgrade.timer is masked" in str(row["detail"])


def test_apt_syntax() -> None:
    merged: dict[str, AptValue] = {}
    parse_apt_config(
        """
        // comment "with quotes"
        APT { Periodic { Update-Package-Lists "1"; Unattended-Upgrade "7"; }; };
        apt::periodic::AutocleanInterval 21;  # unquoted value, case-insensitive names
        /* APT::Periodic::Update-Package-Lists "0"; */
        Unattended-Upgrade::Allowed-Origins { "a"; "b"; };
        Dpkg::Options { "--force-confdef"; };
        Some::Path "value with // slashes";
        """,
        "f1",
        merged,
    )
    assert merged["apt::periodic::update-package-lists"] == AptValue("1", "f1")
    assert merged["apt::periodic::unattended-upgrade"] == AptValue("7", "f1")
    assert merged["apt::periodic::autocleaninterval"] == AptValue("21", "f1")
    assert merged["some::path"] == AptValue("value with // slashes", "f1")
    parse_apt_config("#clear APT::Periodic;\n", "f2", merged)
    assert "apt::periodic::unattended-upgrade" not in merged


def test_dnf_automatic_install_timer(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/etc/dnf/dnf.conf": "[main]\n",
            "/usr/lib/systemd/system/dnf-automatic-install.timer": "[Timer]\n",
            "/etc/systemd/system/timers.target.wants/dnf-automatic-install.timer": "[Timer]\n",
        },
    )
    row = one_row(AutomaticUpdates(FakeSystem(tmp_path)))
    assert (row["enabled"], row["source"]) == (1, "dnf")


@pytest.mark.parametrize(
    ("conf", "enabled"),
    [("dnf/automatic.conf-apply", 1), ("dnf/automatic.conf-download-only", 0)],
)
def test_dnf5_automatic_timer_and_apply_updates(tmp_path: Path, conf: str, enabled: int) -> None:
    make_root(
        tmp_path,
        {
            "/etc/dnf/dnf.conf": "[main]\n",
            "/usr/share/dnf5/dnf5-plugins/automatic.conf": "[commands]\napply_updates = no\n",
            "/etc/dnf/automatic.conf": fixture(conf),
            "/usr/lib/systemd/system/dnf5-automatic.timer": "[Timer]\n",
            "/etc/systemd/system/timers.target.wants/dnf5-automatic.timer": "[Timer]\n",
        },
    )
    row = one_row(AutomaticUpdates(FakeSystem(tmp_path)))
    assert row["enabled"] == enabled
    assert "in /etc/dnf/automatic.conf" in str(row["detail"])


def test_dnf_automatic_installed_but_no_timer_enabled(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {"/etc/dnf/dnf.conf": "[main]\n", "/usr/lib/systemd/system/dnf-automatic.timer": "x\n"},
    )
    row = one_row(AutomaticUpdates(FakeSystem(tmp_path)))
    assert row["enabled"] == 0
    assert "none of its timers is enabled" in str(row["detail"])


def test_neither_apt_nor_dnf(tmp_path: Path) -> None:
    row = one_row(AutomaticUpdates(FakeSystem(tmp_path)))
    assert row["enabled"] is None
    assert row["source"] is None
    assert "neither apt" in str(row["detail"])


@pytest.mark.live_system
def test_merge_agrees_with_apt_config(tmp_path: Path) -> None:
    """Differential test: apt-config (where installed) merges the fixtures as we do."""
    real = LocalSystem()
    if real.which("apt-config") is None:
        pytest.skip("apt-config is not installed")
    fixtures = {
        "20auto-upgrades": fixture("apt/20auto-upgrades-on"),
        "50unattended-upgrades": fixture("apt/50unattended-upgrades"),
        "99local-no-unattended": fixture("apt/99local-no-unattended"),
        "99local-no-unattended.dpkg-old": 'APT::Periodic::Unattended-Upgrade "5";\n',
    }
    for with_main in (False, True):
        root = tmp_path / f"main-{with_main}"
        files = {f"{D}/{name}": text for name, text in fixtures.items()}
        if with_main:
            files["/etc/apt/apt.conf"] = fixture("apt/apt.conf-back-on")
        make_root(root, files)
        make_root(
            root,
            {"/cfg": f'Dir::Etc::parts "{root}{D}";\nDir::Etc::main "{root}/etc/apt/apt.conf";\n'},
        )
        env = {"PATH": real.env.get("PATH", "/usr/bin:/bin"), "APT_CONFIG": f"{root}/cfg"}
        dump = LocalSystem(env=env).run(["apt-config", "dump", "APT::Periodic"])
        assert dump.ok, dump.stderr
        theirs = {
            line.split(" ", 1)[0].lower(): line.split(" ", 1)[1].strip('";')
            for line in dump.stdout.splitlines()
            if line.startswith("APT::Periodic::")
        }
        assert theirs["apt::periodic::unattended-upgrade"] == ("1" if with_main else "0")
        ours = read_apt_config(FakeSystem(root))
        assert {k: v.value for k, v in ours.items() if k.startswith("apt::periodic::")} == theirs


# apt's configuration, dpkg's status and dnf's configuration are kept parsed between scans.

ON = fixture("apt/20auto-upgrades-on")
OFF = fixture("apt/20auto-upgrades-off")


def watched_apt_root(tmp_path: Path, **kwargs: bool) -> WatchedSystem:
    system = WatchedSystem(tmp_path, **kwargs)
    system.write("/etc/os-release", fixture("os-release/debian-12"))
    system.write(f"{D}/50unattended-upgrades", fixture("apt/50unattended-upgrades"))
    system.write("/var/lib/dpkg/status", fixture("dpkg/status"))
    return system


def test_unchanged_apt_files_are_parsed_once(tmp_path: Path) -> None:
    system = watched_apt_root(tmp_path, aged=True)
    system.write(f"{D}/20auto-upgrades", ON)
    table = AutomaticUpdates(system)
    assert one_row(table) == one_row(table)
    assert one_row(table)["enabled"] == 1
    assert system.reads[f"{D}/20auto-upgrades"] == 1
    assert system.reads["/var/lib/dpkg/status"] == 1


def test_a_changed_apt_file_is_seen(tmp_path: Path) -> None:
    system = watched_apt_root(tmp_path, aged=True)
    target = system.write(f"{D}/20auto-upgrades", ON)
    table = AutomaticUpdates(system)
    assert one_row(table)["enabled"] == 1
    assert len(ON) == len(OFF)  # the same size: only the change time tells
    replace_keeping_mtime(target, OFF)
    assert one_row(table)["enabled"] == 0


def test_a_racy_apt_file_with_an_identical_stat_is_seen(tmp_path: Path) -> None:
    system = watched_apt_root(tmp_path)
    system.write(f"{D}/20auto-upgrades", ON)
    system.freeze(f"{D}/20auto-upgrades")
    table = AutomaticUpdates(system)
    assert one_row(table)["enabled"] == 1
    system.write(f"{D}/20auto-upgrades", OFF)
    assert one_row(table)["enabled"] == 0


def test_a_file_added_to_and_removed_from_apt_conf_d_is_seen(tmp_path: Path) -> None:
    system = watched_apt_root(tmp_path, aged=True)
    system.write(f"{D}/20auto-upgrades", ON)
    table = AutomaticUpdates(system)
    assert one_row(table)["enabled"] == 1
    added = system.write(f"{D}/99local-no-unattended", fixture("apt/99local-no-unattended"))
    assert one_row(table)["enabled"] == 0
    added.unlink()
    assert one_row(table)["enabled"] == 1
    system.write(APT_CONF, 'APT::Periodic::Unattended-Upgrade "0";\n')
    assert one_row(table)["enabled"] == 0


def test_an_unreadable_apt_file_that_becomes_readable_is_read(tmp_path: Path) -> None:
    system = watched_apt_root(tmp_path, aged=True, denied=[f"{D}/20auto-upgrades"])
    system.write(f"{D}/20auto-upgrades", ON)
    table = AutomaticUpdates(system)
    assert one_row(table)["enabled"] == 0  # unreadable files are skipped, as apt does
    system.denied.clear()
    assert one_row(table)["enabled"] == 1


def test_unattended_upgrades_removed_from_dpkg_is_seen(tmp_path: Path) -> None:
    system = watched_apt_root(tmp_path, aged=True)
    system.write(f"{D}/20auto-upgrades", ON)
    table = AutomaticUpdates(system)
    assert one_row(table)["enabled"] == 1
    status = fixture("dpkg/status").replace("Package: unattended-upgrades", "Package: other-one")
    system.write("/var/lib/dpkg/status", status)
    row = one_row(table)
    assert row["enabled"] == 0
    assert "the unattended-upgrades package is not installed" in str(row["detail"])


def test_a_changed_dnf_automatic_configuration_is_seen(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    system.write("/etc/dnf/dnf.conf", "[main]\n")
    system.write("/usr/lib/systemd/system/dnf-automatic.timer", "[Timer]\n")
    system.write("/etc/systemd/system/timers.target.wants/dnf-automatic.timer", "[Timer]\n")
    conf = system.write("/etc/dnf/automatic.conf", "[commands]\napply_updates = yes\n")
    table = AutomaticUpdates(system)
    assert one_row(table)["enabled"] == 1
    replace_keeping_mtime(conf, "[commands]\napply_updates = off\n")
    assert one_row(table)["enabled"] == 0
    assert system.reads["/etc/dnf/automatic.conf"] == 2


# unattended-upgrades: which origins it takes and which packages it holds back (issue 19, 5).

ON_FILES = {f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on")}


def uu_row(tmp_path: Path, files: dict[str, str], **kwargs: Any) -> Row:
    return one_row(AutomaticUpdates(apt_root(tmp_path, {**ON_FILES, **files}, **kwargs)))


def test_no_allowed_origins_upgrades_nothing(tmp_path: Path) -> None:
    row = uu_row(
        tmp_path, {f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades-no-origins")}
    )
    assert row["enabled"] == 0
    assert str(row["detail"]).endswith(
        "unattended-upgrades is installed, but it allows no origin "
        "(Unattended-Upgrade::Allowed-Origins and Unattended-Upgrade::Origins-Pattern are "
        "empty or unset in apt's configuration), so it upgrades nothing"
    )


def test_origins_without_the_security_archive(tmp_path: Path) -> None:
    only_main = 'Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=${distro_codename},label=Debian"; };\n'
    row = uu_row(tmp_path, {f"{D}/50unattended-upgrades": only_main})
    assert row["enabled"] == 0
    assert str(row["detail"]).endswith(
        'none of the origins it allows ("origin=Debian,codename=bookworm,label=Debian") is the '
        "security archive (origin=Debian,label=Debian-Security,archive=stable-security,"
        f"codename=bookworm-security,site=deb.debian.org, from {DEBIAN_SECURITY_LIST}), so "
        "security updates are not installed"
    )


def test_a_later_file_clears_the_origins(tmp_path: Path) -> None:
    row = uu_row(
        tmp_path,
        {
            f"{D}/52local": "#clear Unattended-Upgrade::Origins-Pattern;\n"
            'Unattended-Upgrade::Origins-Pattern:: "o=Debian,a=stable-updates";\n'
        },
    )
    assert row["enabled"] == 0
    assert 'none of the origins it allows ("o=Debian,a=stable-updates")' in str(row["detail"])


def test_origins_added_in_a_later_file_and_through_an_include(tmp_path: Path) -> None:
    row = uu_row(
        tmp_path,
        {
            f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades-no-origins"),
            f"{D}/60site:security": '#include "/etc/apt/site/security-origins";\n',
            "/etc/apt/site/security-origins": "Unattended-Upgrade { Origins-Pattern {\n"
            '  "origin=Debian,label=Debian-Security"; }; };\n',
        },
    )
    assert row["enabled"] == 1, row
    assert '"origin=Debian,label=Debian-Security" matches' in str(row["detail"])


@pytest.mark.parametrize("pattern", [".*", ".", "^.*$", "[a-z0-9]", ""])
def test_a_blacklist_matching_every_package_upgrades_nothing(tmp_path: Path, pattern: str) -> None:
    row = uu_row(
        tmp_path,
        {f"{D}/51blacklist": f'Unattended-Upgrade::Package-Blacklist {{ "{pattern}"; }};\n'},
    )
    assert row["enabled"] == 0
    assert str(row["detail"]).endswith(
        f'Unattended-Upgrade::Package-Blacklist ("{pattern}") matches every installed package '
        "(4), so nothing is upgraded"
    )


def test_a_blacklist_of_some_packages_is_named(tmp_path: Path) -> None:
    row = uu_row(
        tmp_path,
        {f"{D}/51blacklist": 'Unattended-Upgrade::Package-Blacklist { "libc6$"; "vim"; };\n'},
    )
    assert row["enabled"] == 1
    assert str(row["detail"]).endswith(
        "; Unattended-Upgrade::Package-Blacklist holds back 2 of 4 installed packages (libc6, vim)"
    )


def test_a_blacklist_that_is_not_a_regular_expression_stops_it(tmp_path: Path) -> None:
    row = uu_row(
        tmp_path, {f"{D}/51blacklist": 'Unattended-Upgrade::Package-Blacklist { "linux-(["; };\n'}
    )
    assert row["enabled"] == 0
    assert 'Package-Blacklist "linux-([" is not a regular expression' in str(row["detail"])
    assert str(row["detail"]).endswith(
        "unattended-upgrade stops with an error, so nothing is upgraded"
    )


def test_an_unknown_pattern_key_stops_it(tmp_path: Path) -> None:
    row = uu_row(
        tmp_path,
        {f"{D}/52local": 'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,release=12";\n'},
    )
    assert row["enabled"] == 0
    assert 'has the key "release", which unattended-upgrade does not know' in str(row["detail"])


def test_ubuntu_allowed_origins(tmp_path: Path) -> None:
    row = uu_row(
        tmp_path,
        {
            f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades-ubuntu"),
            UBUNTU_SECURITY_LIST: fixture("apt/lists/ubuntu-security_InRelease"),
        },
        lists=False,
        os_release="os-release/ubuntu-24.04",
    )
    assert row["enabled"] == 1
    assert (
        '("o=Ubuntu,a=noble-security" matches origin=Ubuntu,label=Ubuntu,archive=noble-security'
        in str(row["detail"])
    )


def test_ubuntu_without_lists_is_judged_by_its_published_security_archive(tmp_path: Path) -> None:
    no_security = (
        "#clear Unattended-Upgrade::Allowed-Origins;\n"
        'Unattended-Upgrade::Allowed-Origins { "${distro_id}:${distro_codename}-updates"; };\n'
    )
    row = uu_row(
        tmp_path,
        {
            f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades-ubuntu"),
            f"{D}/99x": no_security,
        },
        lists=False,
        os_release="os-release/ubuntu-24.04",
    )
    assert row["enabled"] == 0
    assert "from Ubuntu's security archive for noble as published" in str(row["detail"])


def test_debian_without_lists_a_suite_pattern_cannot_be_judged(tmp_path: Path) -> None:
    suite_only = 'Unattended-Upgrade::Origins-Pattern { "o=Debian,a=stable-security"; };\n'
    row = uu_row(tmp_path, {f"{D}/50unattended-upgrades": suite_only}, lists=False)
    assert row["enabled"] is None
    assert 'whether "o=Debian,a=stable-security" takes the security updates depends on' in str(
        row["detail"]
    )
    # with apt's lists fetched the suite is known: stable-security is the security archive
    assert (
        uu_row(tmp_path / "with-lists", {f"{D}/50unattended-upgrades": suite_only})["enabled"] == 1
    )


def test_debian_without_lists_the_codename_patterns_are_enough(tmp_path: Path) -> None:
    row = uu_row(tmp_path, {}, lists=False)
    assert row["enabled"] == 1
    assert "from Debian's security archive for bookworm as published" in str(row["detail"])


def test_apt_conf_d_names_as_apt_reads_them() -> None:
    names = [
        "10a:b",
        "11x.y.conf",
        "12x.list",
        ".13hidden",
        "14a+b",
        "15a~",
        "16A.CONF",
        "09z",
        "20x.conf.bak",
    ]
    assert apt_conf_d_names(names) == ["09z", "10a:b", "11x.y.conf"]


def test_apt_lists_syntax() -> None:
    merged: dict[str, AptValue] = {}
    parse_apt_config(
        'T::L { "one"; "two"; };\nT { L:: "three"; };\nT::N { named "v1"; };\n', "f1", merged
    )
    parse_apt_config('T::L { "four"; };\nT::N::named "v2";\n', "f2", merged)
    assert [v.value for v in apt_list(merged, "t::l")] == ["one", "two", "three", "four"]
    assert apt_list(merged, "T::N") == [AptValue("v2", "f2")]
    parse_apt_config('#clear T::L;\nT::L:: "five";\n', "f3", merged)
    assert [v.value for v in apt_list(merged, "T::L")] == ["five"]


# The real programs judge our reading of the same fixtures: apt-config for the merged lists,
# unattended-upgrade's own functions (loaded from /usr/bin/unattended-upgrade into the system
# Python that has python3-apt) for the allowed origins, their matching and the blacklist.

UU_FIXTURES: dict[str, dict[str, str]] = {
    "debian": {f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades")},
    "no-origins": {f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades-no-origins")},
    "ubuntu": {f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades-ubuntu")},
    "cleared-and-more": {
        f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades"),
        f"{D}/52local:x": "#clear Unattended-Upgrade::Origins-Pattern;\n"
        'Unattended-Upgrade::Origins-Pattern:: "o=Debian,a=stable-updates";\n'
        'Unattended-Upgrade { Origins-Pattern { "site=deb.debian.org,l=Debian*"; }; };\n'
        'Unattended-Upgrade::Allowed-Origins { "Debian bookworm-security"; '
        '"${distro_id}:${distro_codename}"; };\n'
        'Unattended-Upgrade::Package-Blacklist { ".*"; "libc6$"; };\n',
        f"{D}/53ignored.list": 'Unattended-Upgrade::Origins-Pattern:: "o=Ignored";\n',
        "/etc/apt/apt.conf": 'Unattended-Upgrade::Origins-Pattern { "c=main,n=bookworm"; };\n',
    },
}

ORACLE = """
import importlib.machinery, importlib.util, json, sys, types
loader = importlib.machinery.SourceFileLoader("uu", "/usr/bin/unattended-upgrade")
spec = importlib.util.spec_from_loader("uu", loader)
uu = importlib.util.module_from_spec(spec)
loader.exec_module(uu)
import apt_pkg
query = json.load(sys.stdin)
allowed = uu.get_allowed_origins()
blacklist = apt_pkg.config.value_list("Unattended-Upgrade::Package-Blacklist")
matches = []
for origin in query["origins"]:
    found = []
    for pattern in allowed:
        try:
            found.append(bool(uu.match_whitelist_string(pattern, types.SimpleNamespace(**origin))))
        except Exception:
            found.append("stops")
    matches.append(found)
held = [uu.is_pkgname_in_blacklist(name, blacklist) for name in query["names"]]
print(json.dumps({"allowed": allowed, "blacklist": blacklist, "matches": matches, "held": held}))
"""


def _apt_config_file(root: Path) -> Path:
    cfg = root / "apt-config-for-test"
    cfg.write_text(
        f'Dir::Etc::parts "{root}{D}";\nDir::Etc::main "{root}/etc/apt/apt.conf";\n',
        encoding="utf-8",
    )
    return cfg


@pytest.mark.parametrize("name", sorted(UU_FIXTURES))
def test_lists_agree_with_apt_config(tmp_path: Path, name: str) -> None:
    real = LocalSystem()
    if real.which("apt-config") is None:
        pytest.skip("apt-config is not installed")
    make_root(tmp_path, UU_FIXTURES[name])
    env = {
        "PATH": real.env.get("PATH", "/usr/bin:/bin"),
        "APT_CONFIG": str(_apt_config_file(tmp_path)),
    }
    dump = LocalSystem(env=env).run(["apt-config", "dump", "Unattended-Upgrade"])
    assert dump.ok, dump.stderr
    theirs: dict[str, list[str]] = {}
    for line in dump.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key.endswith("::"):
            theirs.setdefault(key[:-2].lower(), []).append(value.removesuffix(";").strip('"'))
    ours = read_apt_config(FakeSystem(tmp_path))
    for key in (
        "unattended-upgrade::origins-pattern",
        "unattended-upgrade::allowed-origins",
        "unattended-upgrade::package-blacklist",
    ):
        assert [v.value for v in apt_list(ours, key)] == theirs.get(key, []), key


@pytest.mark.parametrize("name", sorted(UU_FIXTURES))
@pytest.mark.parametrize("os_release", ["os-release/debian-12", "os-release/ubuntu-24.04"])
def test_origins_and_blacklist_agree_with_unattended_upgrade(
    tmp_path: Path, name: str, os_release: str
) -> None:
    real = LocalSystem()
    python = "/usr/bin/python3"
    if not (real.exists("/usr/bin/unattended-upgrade") and real.exists(python)):
        pytest.skip("unattended-upgrades is not installed (the Debian package the tests use)")
    make_root(tmp_path, {**UU_FIXTURES[name], "/etc/os-release": fixture(os_release)})
    system = FakeSystem(tmp_path)
    distribution = read_distribution(system)
    config = read_apt_config(system)
    origins = [
        Origin(
            "Debian",
            "Debian-Security",
            "stable-security",
            "bookworm-security",
            ("main",),
            "deb.debian.org",
            "",
        ),
        Origin("Debian", "Debian", "stable", "bookworm", ("main",), "deb.debian.org", ""),
        Origin(
            "Ubuntu", "Ubuntu", "noble-security", "noble", ("universe",), "security.ubuntu.com", ""
        ),
    ]
    names = ["libc6", "libc6-dev", "vim", "linux-image-amd64", "a", "g++"]
    env = {
        "PATH": real.env.get("PATH", "/usr/bin:/bin"),
        "APT_CONFIG": str(_apt_config_file(tmp_path)),
        "LSB_OS_RELEASE": str(tmp_path / "etc/os-release"),
    }
    query = {
        "origins": [
            {
                "origin": o.origin,
                "label": o.label,
                "archive": o.archive,
                "codename": o.codename,
                "component": (o.components or ("",))[0],
                "site": o.site,
            }
            for o in origins
        ],
        "names": names,
    }
    script = tmp_path / "oracle.py"
    script.write_text(ORACLE, encoding="utf-8")
    result = subprocess.run(
        [python, str(script)],
        input=json.dumps(query),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout)
    legacy = [v.value for v in apt_list(config, "Unattended-Upgrade::Allowed-Origins")]
    patterns = [v.value for v in apt_list(config, "Unattended-Upgrade::Origins-Pattern")]
    allowed = allowed_origins(legacy, patterns, distribution)
    assert allowed == theirs["allowed"]
    blacklist = [v.value for v in apt_list(config, "Unattended-Upgrade::Package-Blacklist")]
    assert blacklist == theirs["blacklist"]
    assert [blacklisted(n, blacklist) for n in names] == theirs["held"]
    for origin, their_matches in zip(origins, theirs["matches"], strict=True):
        ours: list[bool | str | None] = []
        for pattern in allowed:
            try:
                ours.append(pattern_matches(pattern, origin, distribution))
            except UnattendedUpgradeStops:
                ours.append("stops")
        assert ours == their_matches, (origin, allowed)


def test_the_distributions_own_security_archive_is_the_one_judged(tmp_path: Path) -> None:
    """Ubuntu's ESM archive is "-security" too; allowing only it does not take Ubuntu's fixes."""
    esm = fixture("apt/lists/ubuntu-security_InRelease").replace(
        "Origin: Ubuntu\nLabel: Ubuntu\nSuite: noble-security",
        "Origin: UbuntuESM\nLabel: Ubuntu ESM\nSuite: noble-infra-security",
    )
    esm_only = (
        "#clear Unattended-Upgrade::Allowed-Origins;\n"
        'Unattended-Upgrade::Allowed-Origins:: "${distro_id}ESM:${distro_codename}-infra-security";\n'
    )
    files = {
        f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades-ubuntu"),
        UBUNTU_SECURITY_LIST: fixture("apt/lists/ubuntu-security_InRelease"),
        f"{LISTS}/esm.ubuntu.com_infra_ubuntu_dists_noble-infra-security_InRelease": esm,
    }
    kwargs: dict[str, Any] = {"lists": False, "os_release": "os-release/ubuntu-24.04"}
    assert uu_row(tmp_path, files, **kwargs)["enabled"] == 1
    row = uu_row(tmp_path / "esm-only", {**files, f"{D}/99esm-only": esm_only}, **kwargs)
    assert row["enabled"] == 0
    assert "is the security archive (origin=Ubuntu,label=Ubuntu,archive=noble-security" in str(
        row["detail"]
    )


def test_release_files_are_read_once_and_a_changed_one_is_seen(tmp_path: Path) -> None:
    system = watched_apt_root(tmp_path, aged=True)
    system.write(f"{D}/20auto-upgrades", ON)
    security = system.write(DEBIAN_SECURITY_LIST, fixture("apt/lists/debian-security_InRelease"))
    system.write(DEBIAN_MAIN_LIST, fixture("apt/lists/debian-main_InRelease"))
    table = AutomaticUpdates(system)
    assert one_row(table)["enabled"] == 1
    assert one_row(table)["enabled"] == 1
    assert system.reads[DEBIAN_SECURITY_LIST] == 1
    # A security archive relabelled so that no allowed origin matches it any more.
    replace_keeping_mtime(
        security,
        fixture("apt/lists/debian-security_InRelease").replace(
            "Codename: bookworm-security", "Codename: bookworm-securitx"
        ),
    )
    assert one_row(table)["enabled"] == 0
