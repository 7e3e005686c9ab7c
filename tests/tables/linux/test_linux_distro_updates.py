"""`stethoscope_automatic_updates` on openSUSE and Arch, table by table.

The whole scan of their roots is in test_linux_fake_root_scan.py. These roots are the shapes
YaST, os-update, transactional-update, pacroller and pacman-auto-update leave on disk, written
for these tests.
"""

from __future__ import annotations

from pathlib import Path

from stethoscope_desktop.tables.linux.updates import AutomaticUpdates
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import make_root, one_row

AOU = (
    '## Type:        yesno\nAOU_ENABLE_CRONJOB="true"\nAOU_SKIP_INTERACTIVE_PATCHES="false"\n'
    'AOU_PATCH_CATEGORIES=""\n'
)
TIMER = "[Unit]\nDescription=t\n\n[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n"
WANTS = "/etc/systemd/system/timers.target.wants"


def suse_root(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_root(tmp_path, {"/etc/zypp/zypp.conf": "[main]\n", **files})


def test_weekly_link_relative_to_its_folder_all_patches(tmp_path: Path) -> None:
    root = suse_root(
        tmp_path,
        {"/etc/sysconfig/automatic_online_update": AOU, "/etc/cron.weekly/online_update": "#!\n"},
    )
    (root / "etc/cron.weekly/opensuse.org-online_update").symlink_to("online_update")
    row = one_row(AutomaticUpdates(FakeSystem(root)))
    assert row == {
        "enabled": 1,
        "source": "zypper",
        "detail": "YaST's automatic online update is on (cron link "
        '/etc/cron.weekly/opensuse.org-online_update, AOU_ENABLE_CRONJOB "true" in '
        "/etc/sysconfig/automatic_online_update): zypper patch installs all patches "
        "(AOU_PATCH_CATEGORIES is empty)",
    }


def test_a_copy_of_the_script_in_cron_monthly_runs_too(tmp_path: Path) -> None:
    root = suse_root(
        tmp_path,
        {
            "/etc/sysconfig/automatic_online_update": AOU,
            "/etc/cron.monthly/opensuse.org-online_update": "#!/bin/bash\n",
        },
    )
    row = one_row(AutomaticUpdates(FakeSystem(root)))
    assert row["enabled"] == 1
    assert "/etc/cron.monthly/opensuse.org-online_update" in str(row["detail"])


def test_link_without_settings_does_nothing(tmp_path: Path) -> None:
    # The script sources the file; without it AOU_ENABLE_CRONJOB is unset and it stops.
    root = suse_root(tmp_path, {"/usr/lib/YaST2/bin/online_update": "#!\n"})
    (root / "etc/cron.daily").mkdir(parents=True)
    (root / "etc/cron.daily/opensuse.org-online_update").symlink_to(
        "/usr/lib/YaST2/bin/online_update"  # absolute, as YaST makes it: inside the root
    )
    row = one_row(AutomaticUpdates(FakeSystem(root)))
    assert row["enabled"] == 0
    assert "AOU_ENABLE_CRONJOB is not set in /etc/sysconfig/automatic_online_update" in str(
        row["detail"]
    )


def test_unreadable_settings_with_the_link_is_unknown(tmp_path: Path) -> None:
    root = suse_root(
        tmp_path,
        {"/etc/sysconfig/automatic_online_update": AOU, "/etc/cron.daily/online_update": "#!\n"},
    )
    (root / "etc/cron.daily/opensuse.org-online_update").symlink_to("online_update")
    system = FakeSystem(root, denied=["/etc/sysconfig/automatic_online_update"])
    row = one_row(AutomaticUpdates(system))
    assert row["enabled"] is None
    assert "/etc/sysconfig/automatic_online_update cannot be read (permission denied)" in str(
        row["detail"]
    )


def test_microos_transactional_update_timer(tmp_path: Path) -> None:
    root = suse_root(
        tmp_path,
        {
            "/usr/lib/systemd/system/transactional-update.timer": TIMER,
            f"{WANTS}/transactional-update.timer": TIMER,
        },
    )
    row = one_row(AutomaticUpdates(FakeSystem(root)))
    assert row == {
        "enabled": 1,
        "source": "zypper",
        "detail": f"transactional-update.timer is enabled ({WANTS}/transactional-update.timer): "
        "transactional-update installs updates into a new snapshot, used from the next boot",
    }


def test_a_masked_timer_is_off_even_with_its_link(tmp_path: Path) -> None:
    root = suse_root(
        tmp_path,
        {
            "/usr/lib/systemd/system/os-update.timer": TIMER,
            f"{WANTS}/os-update.timer": TIMER,
            "/etc/systemd/system/os-update.timer": "",
        },
    )
    row = one_row(AutomaticUpdates(FakeSystem(root)))
    assert row["enabled"] == 0
    assert row["detail"] == "os-update.timer is masked (/etc/systemd/system/os-update.timer)"


def test_opensuse_with_no_updater_at_all(tmp_path: Path) -> None:
    row = one_row(AutomaticUpdates(FakeSystem(suse_root(tmp_path, {}))))
    assert row["enabled"] == 0
    assert str(row["detail"]).startswith("nothing installs updates by itself: neither YaST's")


def test_arch_pacman_auto_update_installed_but_off(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "/etc/pacman.conf": "[options]\n",
            "/usr/lib/systemd/system/pacman-auto-update.timer": TIMER,
        },
    )
    row = one_row(AutomaticUpdates(FakeSystem(root)))
    assert row == {
        "enabled": 0,
        "source": "pacman",
        "detail": "Arch ships no automatic updater: pacman installs updates only when asked "
        "(pacman -Syu), as Arch's maintainers advise; pacman-auto-update.timer is not enabled",
    }
