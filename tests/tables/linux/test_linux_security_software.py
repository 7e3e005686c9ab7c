"""stethoscope_security_software on Linux: known products from fake roots and recorded systemctl."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables.linux.security_software import (
    PRODUCTS,
    KnownProduct,
    SecuritySoftware,
)
from stethoscope_desktop.tables.system import CommandError
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import fixture, load_root, rows

FALCON_AND_CLAMAV = ["systemctl", "is-active", "falcon-sensor.service", "clamav-daemon.service"]


def summary(system: FakeSystem) -> dict[str, tuple[int | None, str, str]]:
    found = rows(SecuritySoftware(system))
    assert all(row["type"] == "antivirus" for row in found)
    assert all(row["version"] is None and row["up_to_date"] is None for row in found)
    return {
        str(row["name"]): (
            None if row["enabled"] is None else int(row["enabled"]),
            str(row["source"]),
            str(row["detail"]),
        )
        for row in found
    }


def test_a_running_product_and_an_installed_daemon_that_is_not(tmp_path: Path) -> None:
    active = result(
        FALCON_AND_CLAMAV,
        fixture("commands/systemctl/is-active-falcon-clamav.txt"),
        returncode=3,  # not every unit is active
    )
    system = FakeSystem(load_root("security-falcon-ubuntu", tmp_path), commands=dict([active]))
    assert summary(system) == {
        "CrowdStrike Falcon": (
            1,
            "systemd",
            "CrowdStrike Falcon is running (falcon-sensor.service is active)",
        ),
        "ClamAV": (
            0,
            "systemd",
            "ClamAV is installed (/usr/sbin/clamd) but not running "
            "(clamav-daemon.service is inactive)",
        ),
    }
    assert system.calls == [tuple(FALCON_AND_CLAMAV)]  # one systemctl call for every unit


def test_an_instance_of_a_template_unit(tmp_path: Path) -> None:
    active = result(
        ["systemctl", "is-active", "clamd@scan.service"],
        fixture("commands/systemctl/is-active-clamd-scan.txt"),
    )
    system = FakeSystem(load_root("security-clamd-fedora", tmp_path), commands=dict([active]))
    assert summary(system) == {
        "ClamAV": (1, "systemd", "ClamAV is running (clamd@scan.service is active)"),
    }


def test_a_process_counts_where_systemd_does_not_run(tmp_path: Path) -> None:
    system = FakeSystem(load_root("security-mdatp-container", tmp_path))
    assert summary(system) == {
        "Microsoft Defender for Endpoint": (
            1,
            "processes",
            "Microsoft Defender for Endpoint is running (process wdavdaemon)",
        ),
    }
    assert system.calls == []  # systemctl is not asked without systemd


def test_hidden_processes_and_no_systemd_cannot_tell(tmp_path: Path) -> None:
    system = FakeSystem(load_root("security-hidepid", tmp_path))
    assert summary(system) == {
        "SentinelOne": (
            None,
            "files",
            "SentinelOne is installed (/opt/sentinelone); cannot tell whether it runs: "
            "/proc shows only this user's processes",
        ),
    }


def test_a_fresh_desktop_has_only_an_on_demand_scanner(tmp_path: Path) -> None:
    # clamscan alone scans only when someone runs it: installed, not running.
    system = FakeSystem(load_root("security-none-debian", tmp_path))
    assert summary(system) == {
        "ClamAV": (
            0,
            "processes",
            "ClamAV is installed (/usr/bin/clamscan) but not running (no clamd process)",
        ),
    }


def test_nothing_installed_gives_no_rows(tmp_path: Path) -> None:
    system = FakeSystem(load_root("security-none-debian", tmp_path))
    (tmp_path / "usr/bin/clamscan").unlink()
    assert rows(SecuritySoftware(system)) == []


def test_systemctl_failing_falls_back_to_processes(tmp_path: Path) -> None:
    system = FakeSystem(
        load_root("security-falcon-ubuntu", tmp_path),
        commands={tuple(FALCON_AND_CLAMAV): CommandError("systemctl: timed out after 5 s")},
    )
    found = summary(system)
    assert found["CrowdStrike Falcon"] == (
        1,
        "processes",
        "CrowdStrike Falcon is running (process falcon-sensor)",
    )
    assert found["ClamAV"] == (
        0,
        "processes",
        "ClamAV is installed (/usr/sbin/clamd) but not running (no clamd process)",
    )


def test_a_unit_without_processes_to_look_for_and_no_answer_is_unknown(tmp_path: Path) -> None:
    system = FakeSystem(load_root("security-hidepid", tmp_path))
    system.write("/usr/lib/systemd/system/traps_pmd.service", "[Service]\n")
    found = summary(system)
    assert found["Cortex XDR"] == (
        None,
        "files",
        "Cortex XDR is installed (/usr/lib/systemd/system/traps_pmd.service); cannot tell whether "
        "it runs: systemd is not running (PID 1 is unknown: /proc/1/comm is unreadable); /proc "
        "shows only this user's processes",
    )


@pytest.mark.parametrize(
    "product", [p for p in PRODUCTS if p.processes], ids=lambda product: product.name
)
def test_every_known_product_is_found_by_its_process(product: KnownProduct, tmp_path: Path) -> None:
    system = FakeSystem(load_root("security-mdatp-container", tmp_path))
    (tmp_path / "opt/microsoft").rename(tmp_path / "opt/elsewhere")
    (tmp_path / "usr/lib/systemd/system/mdatp.service").unlink()
    # The kernel cuts a process's name to 15 characters.
    system.write("/proc/38/comm", product.processes[0][:15] + "\n")
    assert summary(system)[product.name][0] == 1
