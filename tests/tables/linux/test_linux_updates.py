"""stethoscope_automatic_updates: apt's merged configuration and dnf-automatic's timers."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables.linux.updates import (
    APT_CONF,
    AptValue,
    AutomaticUpdates,
    apt_config_files,
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


def apt_root(tmp_path: Path, files: dict[str, str], status: str = "dpkg/status") -> FakeSystem:
    base = {
        f"{D}/50unattended-upgrades": fixture("apt/50unattended-upgrades"),
        "/var/lib/dpkg/status": fixture(status),
    }
    return FakeSystem(make_root(tmp_path, {**base, **files}))


def test_20auto_upgrades_on(tmp_path: Path) -> None:
    system = apt_root(tmp_path, {f"{D}/20auto-upgrades": fixture("apt/20auto-upgrades-on")})
    assert one_row(AutomaticUpdates(system)) == {
        "enabled": 1,
        "source": "apt",
        "detail": 'APT::Periodic::Unattended-Upgrade is "1" (set in '
        '/etc/apt/apt.conf.d/20auto-upgrades), APT::Periodic::Update-Package-Lists is "1" '
        "(set in /etc/apt/apt.conf.d/20auto-upgrades) and unattended-upgrades is installed",
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
