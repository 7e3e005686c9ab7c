"""`securitySoftware` in whole scans on every platform's real tables over recorded machines.

IT's policy requires security software, any or named products; the shipped check reads
`stethoscope_security_software` on the embedded engine and the card says which product it saw.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.core.report import PracticeResult
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.catalog import builtin_tables
from tests.fakes import FakeSystem, result
from tests.tables.darwin.helpers import load_mac
from tests.tables.linux.helpers import fixture, load_root
from tests.tables.scanning import scan
from tests.tables.windows.helpers import machine_tables

P, F, N, U = Status.PASS, Status.FAIL, Status.NUDGE, Status.UNKNOWN


def it_policy(folder: Path, rule: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "policy.yaml").write_text(f"securitySoftware: {rule}\n", encoding="utf-8")
    return folder


def practice_of(platform: str, tables: list[TablePlugin], folder: Path) -> PracticeResult:
    practice = scan(platform, tables, it_policy=folder).practice("securitySoftware")
    assert practice is not None
    assert practice.evidence.error is None or practice.status is U
    return practice


ANY = "ALWAYS"
FALCON = "{requirement: ALWAYS, products: [CrowdStrike]}"
DEFENDER = "{requirement: SUGGESTED, products: [Defender]}"


@pytest.mark.parametrize(
    ("machine", "rule", "status", "seen"),
    [
        ("win11-23h2", FALCON, P, "CrowdStrike Falcon Sensor (antivirus) is on"),
        ("win10-22h2", FALCON, F, "none of CrowdStrike was found; found: Windows Defender"),
        ("win10-22h2", ANY, P, "Windows Defender (antivirus) is on"),
        ("win11-24h2-de", DEFENDER, P, "Windows Defender (antivirus) is on"),
    ],
)
def test_windows(machine: str, rule: str, status: Status, seen: str, tmp_path: Path) -> None:
    tables, _, _ = machine_tables(machine, tmp_path / "root")
    practice = practice_of("windows", tables, it_policy(tmp_path / "it", rule))
    assert practice.status is status
    assert seen in practice.observed


@pytest.mark.parametrize(
    ("machine", "rule", "status", "seen"),
    [
        ("sonoma-14", FALCON, P, "CrowdStrike Falcon is running"),
        ("monterey-12", FALCON, F, "has no endpoint security extension"),
        ("monterey-12", ANY, P, "XProtect is built in and always on"),  # the Mac's own
        ("ventura-13", DEFENDER, N, "waits for the user to allow it"),
        ("sequoia-15", "{requirement: ALWAYS, products: [jamf]}", P, "Jamf Protect is running"),
    ],
)
def test_macos(machine: str, rule: str, status: Status, seen: str, tmp_path: Path) -> None:
    tables = builtin_tables("darwin", load_mac(machine, tmp_path / "root"))
    practice = practice_of("darwin", tables, it_policy(tmp_path / "it", rule))
    assert practice.status is status
    assert seen in practice.observed
    assert practice.directions_platform.startswith("darwin@")


def ubuntu_with_falcon(root: Path) -> FakeSystem:
    system = FakeSystem(
        load_root("security-falcon-ubuntu", root),
        env={"PATH": "/usr/bin:/bin"},
        commands=dict(
            [
                result(
                    ["systemctl", "is-active", "falcon-sensor.service", "clamav-daemon.service"],
                    fixture("commands/systemctl/is-active-falcon-clamav.txt"),
                    returncode=3,
                )
            ]
        ),
    )
    system.write("/etc/os-release", fixture("os-release/ubuntu-24.04"))
    return system


@pytest.mark.parametrize(
    ("rule", "status", "seen"),
    [
        (FALCON, P, "CrowdStrike Falcon is running (falcon-sensor.service is active)"),
        ("{requirement: ALWAYS, products: [ClamAV]}", F, "clamav-daemon.service is inactive"),
        ("{requirement: SUGGESTED, products: [SentinelOne]}", N, "found: CrowdStrike Falcon"),
    ],
)
def test_linux(rule: str, status: Status, seen: str, tmp_path: Path) -> None:
    tables = builtin_tables("linux", ubuntu_with_falcon(tmp_path / "root"))
    practice = practice_of("linux", tables, it_policy(tmp_path / "it", rule))
    assert practice.status is status
    assert seen in practice.observed
    assert practice.directions_platform == "ubuntu"


def test_a_fresh_linux_desktop_without_any(tmp_path: Path) -> None:
    system = FakeSystem(load_root("security-none-debian", tmp_path / "root"))
    system.write("/etc/os-release", fixture("os-release/debian-12"))
    tables = builtin_tables("linux", system)
    practice = practice_of("linux", tables, it_policy(tmp_path / "it", "SUGGESTED"))
    assert practice.status is N
    assert practice.observed == (
        "OFF (ClamAV is installed (/usr/bin/clamscan) but not running (no clamd process))"
    )
    assert practice.directions_platform == "debian"
    assert "sudo apt install clamav-daemon" in practice.directions
