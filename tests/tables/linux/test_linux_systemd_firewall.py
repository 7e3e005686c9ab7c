"""systemd_units and stethoscope_firewall from fake roots and recorded systemctl output."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux.firewall import Firewall
from stethoscope_desktop.tables.linux.systemd import SystemdUnits, bus_path_escape
from stethoscope_desktop.tables.system import CommandError, CommandResult
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import fixture, make_root, one_row, rows

LIST_FLAGS = ("--plain", "--no-legend", "--no-pager")


def systemd_root(tmp_path: Path, files: dict[str, str | bytes] | None = None) -> Path:
    return make_root(tmp_path, {"/run/systemd/system/.keep": "", **(files or {})})


def systemctl_commands(
    *extra: tuple[tuple[str, ...], CommandResult],
) -> dict[tuple[str, ...], CommandResult | CommandError]:
    """Recorded list-units, list-unit-files and list-jobs (no `show`), plus `extra`."""
    recorded = [
        result(
            ["systemctl", verb, *(["--all"] if verb == "list-units" else []), *LIST_FLAGS],
            fixture(f"commands/systemctl/{verb}.txt"),
        )
        for verb in ("list-units", "list-unit-files", "list-jobs")
    ]
    return dict([*recorded, *extra])


def test_systemd_units_without_systemd_has_no_units_as_in_osquery(tmp_path: Path) -> None:
    # No /run/systemd/system: systemd is not the init system, so no unit is loaded; systemctl is
    # not even asked (a recorded answer would be used if it were).
    make_root(tmp_path, {"/proc/1/comm": "process_api\n"})
    assert rows(SystemdUnits(FakeSystem(tmp_path, commands=systemctl_commands()))) == []


def test_systemd_units_from_systemctl(tmp_path: Path) -> None:
    commands = systemctl_commands()
    generated = rows(SystemdUnits(FakeSystem(systemd_root(tmp_path), commands=commands)))
    by_id = {r["id"]: r for r in generated}
    assert list(by_id) == [
        "-.mount",
        "apt-daily-upgrade.timer",
        "apt-daily.service",
        "getty@tty1.service",
        "nonexistent.service",
        "ssh.service",
        "ufw.service",
    ]
    assert by_id["ssh.service"] == {
        "id": "ssh.service",
        "description": "OpenBSD Secure Shell server",
        "load_state": "loaded",
        "active_state": "active",
        "sub_state": "running",
        "job_type": "",
        "unit_file_state": "enabled",
        "object_path": "/org/freedesktop/systemd1/unit/ssh_2eservice",
        "job_id": 0,
        "job_path": "/",
    }
    job = by_id["apt-daily.service"]
    assert (job["job_type"], job["job_id"], job["job_path"], job["description"]) == (
        "start",
        2718,
        "/org/freedesktop/systemd1/job/2718",
        "Daily apt download activities",
    )
    assert by_id["getty@tty1.service"]["unit_file_state"] == "enabled"  # from getty@.service
    assert by_id["-.mount"]["unit_file_state"] == "generated"
    assert by_id["-.mount"]["object_path"] == "/org/freedesktop/systemd1/unit/_2d_2emount"
    assert by_id["nonexistent.service"]["load_state"] == "not-found"
    assert by_id["nonexistent.service"]["unit_file_state"] == ""


SHOW = [
    "systemctl",
    "show",
    "--no-pager",
    "--property=Id,Following,FragmentPath,SourcePath,User,UnitFileState",
    "*",
]


def test_systemd_units_properties_from_systemctl_show(tmp_path: Path) -> None:
    commands = dict(
        [
            result(
                ["systemctl", "list-units", "--all", *LIST_FLAGS],
                fixture("commands/systemctl/list-units.txt")
                + "dev-sda1.device loaded active plugged SAMSUNG 1\n",
            ),
            result(SHOW, fixture("commands/systemctl/show.txt")),
            result(
                ["systemctl", "list-jobs", *LIST_FLAGS],
                fixture("commands/systemctl/list-jobs.txt"),
            ),
        ]
    )
    system = FakeSystem(systemd_root(tmp_path), commands=commands)
    by_id = {r["id"]: r for r in rows(SystemdUnits(system))}
    assert ("systemctl", "list-unit-files", *LIST_FLAGS) not in system.calls  # show had it all
    columns = ("unit_file_state", "following", "fragment_path", "source_path", "user")
    assert {unit: tuple(row[c] for c in columns) for unit, row in by_id.items()} == {
        "-.mount": ("generated", "", "", "/etc/fstab", ""),  # no User: not a service
        "apt-daily-upgrade.timer": ("enabled", "", "/lib/systemd/system/apt-daily-upgrade.timer",
                                    "", ""),
        "apt-daily.service": ("static", "", "/lib/systemd/system/apt-daily.service", "", ""),
        "getty@tty1.service": ("enabled", "", "/lib/systemd/system/getty@.service", "", ""),
        "nonexistent.service": ("", "", "", "", ""),
        "ssh.service": ("enabled", "", "/lib/systemd/system/ssh.service", "", ""),
        "ufw.service": ("enabled", "", "/lib/systemd/system/ufw.service", "", ""),
        "dev-sda1.device": (
            "", "sys-devices-pci0000:00-0000:00:17.0-ata1-host0-target0:0:0-0:0:0:0-block-sda-sda1"
            ".device", "", "", "",
        ),
    }  # fmt: skip
    assert by_id["ssh.service"]["object_path"] == "/org/freedesktop/systemd1/unit/ssh_2eservice"


def test_systemd_units_without_show_leave_its_properties_unknown(tmp_path: Path) -> None:
    commands = systemctl_commands(result(SHOW, stderr="Unknown command verb show.\n", returncode=1))
    row = {
        r["id"]: r
        for r in rows(SystemdUnits(FakeSystem(systemd_root(tmp_path), commands=commands)))
    }["ssh.service"]
    assert row["unit_file_state"] == "enabled"
    assert [row.get(c) for c in ("following", "fragment_path", "source_path", "user")] == [None] * 4


def test_systemctl_failing_is_a_table_error(tmp_path: Path) -> None:
    failing = result(
        ["systemctl", "list-units", "--all", *LIST_FLAGS],
        stderr="Failed to connect to bus: Permission denied\n",
        returncode=1,
    )
    system = FakeSystem(systemd_root(tmp_path), commands=dict([failing]))
    with pytest.raises(TableError, match="Failed to connect to bus: Permission denied"):
        rows(SystemdUnits(system))


def test_bus_path_escape() -> None:
    assert bus_path_escape("dbus.service") == "dbus_2eservice"
    assert bus_path_escape("systemd-journald.service") == "systemd_2djournald_2eservice"
    assert bus_path_escape("1st.service") == "_31st_2eservice"
    assert bus_path_escape("") == "_"


# -- firewall ---------------------------------------------------------------------------------

UFW_ENABLED = fixture("firewall/ufw.conf-enabled")
UFW_DISABLED = fixture("firewall/ufw.conf-disabled")
UFW_PROGRAM = "/usr/sbin/ufw"  # not on an ordinary user's PATH on Debian and Ubuntu


def is_active(units: list[str], states: list[str]) -> tuple[tuple[str, ...], CommandResult]:
    code = 0 if all(state == "active" for state in states) else 3
    return result(
        ["systemctl", "is-active", *units], "".join(f"{s}\n" for s in states), returncode=code
    )


def test_ufw_enabled_and_active(tmp_path: Path) -> None:
    root = systemd_root(
        tmp_path, {"/etc/ufw/ufw.conf": UFW_ENABLED, UFW_PROGRAM: "#!/usr/bin/python3\n"}
    )
    system = FakeSystem(root, commands=dict([is_active(["ufw.service"], ["active"])]))
    assert one_row(Firewall(system)) == {
        "enabled": 1,
        "source": "ufw",
        "detail": "ufw: ENABLED=yes in /etc/ufw/ufw.conf and the ufw unit is active",
    }


def test_ufw_disabled(tmp_path: Path) -> None:
    root = systemd_root(
        tmp_path, {"/etc/ufw/ufw.conf": UFW_DISABLED, UFW_PROGRAM: "#!/usr/bin/python3\n"}
    )
    system = FakeSystem(root, commands=dict([is_active(["ufw.service"], ["active"])]))
    assert one_row(Firewall(system)) == {
        "enabled": 0,
        "source": "ufw",
        "detail": "ufw: ENABLED=no in /etc/ufw/ufw.conf",
    }


def test_ufw_enabled_but_unit_inactive_is_unknown(tmp_path: Path) -> None:
    root = systemd_root(
        tmp_path, {"/etc/ufw/ufw.conf": UFW_ENABLED, UFW_PROGRAM: "#!/usr/bin/python3\n"}
    )
    system = FakeSystem(root, commands=dict([is_active(["ufw.service"], ["failed"])]))
    row = one_row(Firewall(system))
    assert row["enabled"] is None
    assert row["detail"] == (
        "ufw: ENABLED=yes in /etc/ufw/ufw.conf, but the ufw unit is failed, so whether its "
        "rules are loaded cannot be told without root"
    )


def test_ufw_enabled_without_systemd_is_unknown_naming_the_modules(tmp_path: Path) -> None:
    # Nothing a user can read confirms that the rules were loaded; the netfilter modules Docker
    # loads as well prove nothing, but are named.
    root = make_root(
        tmp_path,
        {
            "/etc/ufw/ufw.conf": UFW_ENABLED,
            "/lib/systemd/system/ufw.service": "[Unit]\n",
            "/proc/1/comm": "init\n",
            "/proc/modules": fixture("firewall/proc-modules-docker"),
        },
    )
    system = FakeSystem(root)
    row = one_row(Firewall(system))
    assert row["enabled"] is None
    assert row["detail"] == (
        "ufw: ENABLED=yes in /etc/ufw/ufw.conf, but systemd is not running (PID 1 is init), so "
        "whether its rules are loaded cannot be told: `ufw status` and the rules loaded now "
        "can't be read without root (netfilter modules loaded: nft_chain_nat, nft_compat, "
        "nf_tables)"
    )
    assert system.calls == []


def test_ufw_conf_left_behind_by_a_removed_ufw_is_not_a_firewall(tmp_path: Path) -> None:
    make_root(tmp_path, {"/etc/ufw/ufw.conf": UFW_ENABLED})
    row = one_row(Firewall(FakeSystem(tmp_path)))
    assert (row["enabled"], row["source"]) == (0, "none")


PUBLIC_ZONE = fixture("firewall/firewalld/zone-public.xml")
PUBLIC_ZONE_SAYS = (
    "its default zone is public (there is no /etc/firewalld/firewalld.conf), which rejects "
    "incoming connections it does not allow (target default in "
    "/usr/lib/firewalld/zones/public.xml)"
)


def test_firewalld_running(tmp_path: Path) -> None:
    root = systemd_root(
        tmp_path,
        {
            "/usr/lib/systemd/system/firewalld.service": "[Unit]\n",
            "/usr/lib/firewalld/zones/public.xml": PUBLIC_ZONE,
        },
    )
    commands = dict(
        [
            is_active(["firewalld.service"], ["active"]),
            result(["firewall-cmd", "--state"], "running\n"),
        ]
    )
    system = FakeSystem(root, commands=commands)
    assert one_row(Firewall(system)) == {
        "enabled": 1,
        "source": "firewalld",
        "detail": f"firewalld: the firewalld unit is active and {PUBLIC_ZONE_SAYS}",
    }
    assert ("firewall-cmd", "--state") not in system.calls  # systemd answered; no slow Python


def test_firewalld_without_systemd_asks_firewall_cmd(tmp_path: Path) -> None:
    make_root(tmp_path, {"/usr/lib/firewalld/zones/public.xml": PUBLIC_ZONE})
    system = FakeSystem(tmp_path, commands=dict([result(["firewall-cmd", "--state"], "running\n")]))
    assert one_row(Firewall(system)) == {
        "enabled": 1,
        "source": "firewalld",
        "detail": f"firewalld: firewall-cmd --state says running and {PUBLIC_ZONE_SAYS}",
    }


def test_firewalld_not_running(tmp_path: Path) -> None:
    not_running = result(["firewall-cmd", "--state"], stderr="not running\n", returncode=252)
    row = one_row(Firewall(FakeSystem(tmp_path, commands=dict([not_running]))))
    assert (row["enabled"], row["source"]) == (0, "firewalld")


def test_nothing_installed(tmp_path: Path) -> None:
    make_root(tmp_path, {"/proc/modules": fixture("firewall/proc-modules-none")})
    assert one_row(Firewall(FakeSystem(tmp_path))) == {
        "enabled": 0,
        "source": "none",
        "detail": "no firewall (ufw, firewalld or nftables) is installed",
    }


def test_nothing_installed_but_netfilter_in_use_says_so(tmp_path: Path) -> None:
    make_root(tmp_path, {"/proc/modules": fixture("firewall/proc-modules-docker")})
    row = one_row(Firewall(FakeSystem(tmp_path)))
    assert (row["enabled"], row["source"]) == (0, "none")
    assert str(row["detail"]).startswith(
        "no firewall (ufw, firewalld or nftables) is installed; netfilter modules are loaded"
    )


def test_debian_stock_nftables_filters_nothing(tmp_path: Path) -> None:
    root = systemd_root(
        tmp_path,
        {
            "/etc/nftables.conf": fixture("firewall/nftables.conf-debian-default"),
            "/lib/systemd/system/nftables.service": "[Unit]\n",
            "/etc/ufw/ufw.conf": UFW_DISABLED,
            "/lib/systemd/system/ufw.service": "[Unit]\n",
        },
    )
    commands = dict([is_active(["ufw.service", "nftables.service"], ["inactive", "active"])])
    assert one_row(Firewall(FakeSystem(root, commands=commands))) == {
        "enabled": 0,
        "source": "ufw, nftables",
        "detail": "ufw: ENABLED=no in /etc/ufw/ufw.conf; nftables: nftables.service is active "
        "but /etc/nftables.conf lets new incoming connections in (inet filter input: policy "
        "accept, no rules); judged from /etc/nftables.conf; the rules loaded now can't be read "
        "without root",
    }


def test_nftables_with_rules_and_module_without_systemd_is_unknown(tmp_path: Path) -> None:
    # Without systemd nothing says the file was loaded; nf_tables is loaded by Docker too.
    make_root(
        tmp_path,
        {
            "/etc/nftables.conf": fixture("firewall/nftables.conf-filtering"),
            "/proc/modules": fixture("firewall/proc-modules-docker"),
            "/proc/1/comm": "runit\n",
        },
    )
    row = one_row(Firewall(FakeSystem(tmp_path)))
    assert (row["enabled"], row["source"]) == (None, "nftables")
    assert "the nf_tables module is loaded (Docker and others load it too)" in str(row["detail"])
