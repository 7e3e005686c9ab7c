"""What /raw and /debugger answer, as pure functions: identifiers withheld, sizes bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stethoscope_desktop.api.debug import (
    MAX_LOG_BYTES,
    WITHHELD,
    debug_text,
    known_identifiers,
    log_tail,
    raw_facts,
    withhold,
)
from stethoscope_desktop.api.network import IpAddress, NetworkFacts, NetworkInterface
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.facts import Facts
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir
from tests.canned import canned_linux

SERIAL = "PF4K8L2M"
UUID = "4c4c4544-0042-3510-8052-b4c04f4e3732"
NETWORK = NetworkFacts(
    (IpAddress("wlp3s0", "192.168.7.23", "255.255.255.0", "192.168.7.255"),
     IpAddress("wlp3s0", "fe80::5a3b:6ff:fe12:3456", "ffff:ffff:ffff:ffff::")),
    (NetworkInterface("wlp3s0", "5c:3a:45:12:34:56", "1", True),),
)  # fmt: skip


def gathered(**tables: object) -> Facts:
    defaults: dict[str, object] = {
        "system_info": [{"computer_name": "laptop-42", "uuid": UUID, "hardware_vendor": "LENOVO",
                         "hardware_model": "ThinkPad T14", "hardware_serial": SERIAL}],
        "stethoscope_remote_login": [{"enabled": 1, "source": "sshd",
                                      "detail": "sshd listens on 192.168.7.23:22 and [fe80::5a3b:6ff:fe12:3456]:22"}],
    }  # fmt: skip
    defaults.update(tables)
    engine = EmbeddedEngine(canned_linux(**defaults))  # type: ignore[arg-type]
    try:
        return Scanner(engine, load_checks(checks_dir()), platform="linux").gather_every_check()
    finally:
        engine.close()


def test_raw_facts_for_a_caller_who_may_see_identifiers() -> None:
    raw = raw_facts(gathered(), NETWORK, identifiers=True, osquery_version="UNSUPPORTED")
    assert raw["device"]["deviceId"] == UUID and raw["device"]["hardwareSerial"] == SERIAL
    assert raw["device"]["osBuild"] == "6.1.0-28-amd64"
    assert raw["network"]["ipAddresses"][0]["address"] == "192.168.7.23"
    assert raw["checks"]["device"]["rows"][0]["hardwareSerial"] == SERIAL
    assert {"applications", "browser_extensions", "firewall", "os_version"} <= set(raw["checks"])
    assert "hotfixes" not in raw["checks"]  # Windows only: no check runs on Linux
    assert raw["truncated"] == {}


def test_raw_facts_withhold_every_identifier_from_other_callers() -> None:
    raw = raw_facts(gathered(), NETWORK, identifiers=False, osquery_version="UNSUPPORTED")
    text = json.dumps(raw)
    for identifier in (
        SERIAL,
        UUID,
        "192.168.7.23",
        "fe80::5a3b:6ff:fe12:3456",
        "5c:3a:45:12:34:56",
    ):
        assert identifier not in text.lower(), identifier
    assert raw["device"]["deviceId"] is None and raw["device"]["hardwareSerial"] is None
    assert raw["network"] == {"ipAddresses": [], "macAddresses": []}
    assert raw["checks"]["device"]["rows"][0]["deviceName"] == "laptop-42"
    detail = raw["checks"]["remote_login"]["rows"][0]["detail"]
    assert detail == f"sshd listens on {WITHHELD}:22 and [{WITHHELD}]:22"
    # Versions that look like addresses in a non-free-text column are left alone.
    assert any(r["version"] == "5.2.15-2+b7" for r in raw["checks"]["applications"]["rows"])


def test_known_identifiers_are_withheld_anywhere_in_a_text() -> None:
    known = known_identifiers(gathered().device, NETWORK)
    assert {SERIAL, UUID, "192.168.7.23", "5c:3a:45:12:34:56"} <= known
    assert withhold(f"serial {SERIAL.lower()} here", known) == f"serial {WITHHELD} here"
    assert withhold("MAC 00-1a-2b-3c-4d-5e seen", (), free_text=True) == f"MAC {WITHHELD} seen"
    assert withhold("version 1.2.3.4", ()) == "version 1.2.3.4"


def test_raw_facts_are_cut_to_the_size_bound_largest_list_first() -> None:
    packages = [
        {"name": f"package-{n}", "version": "1.0-1", "status": "install ok installed"}
        for n in range(3000)
    ]
    raw = raw_facts(
        gathered(deb_packages=packages),
        NETWORK,
        identifiers=True,
        osquery_version="UNSUPPORTED",
        max_bytes=64 * 1024,
    )
    size = len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= 64 * 1024
    kept = len(raw["checks"]["applications"]["rows"])
    assert 0 < kept < 3000
    assert raw["truncated"] == {"applications": f"{kept} of 3000 rows"}
    assert raw["checks"]["firewall"]["rows"]  # the small lists are whole


def test_a_long_text_cell_is_cut() -> None:
    raw = raw_facts(
        gathered(stethoscope_firewall=[{"enabled": 1, "source": "ufw", "detail": "x" * 10_000}]),
        NETWORK,
        identifiers=True,
        osquery_version="UNSUPPORTED",
    )
    assert len(raw["checks"]["firewall"]["rows"][0]["detail"]) == 2049


def test_log_tail_is_the_end_of_the_log_from_a_line_start(tmp_path: Path) -> None:
    log = tmp_path / "stethoscope.log"
    log.write_text("".join(f"line {n:06d}\n" for n in range(20_000)))
    tail = log_tail(log)
    assert len(tail.encode()) <= MAX_LOG_BYTES
    assert tail.startswith("line ") and tail.endswith("line 019999\n")
    assert "cannot be read" in log_tail(tmp_path / "missing.log")
    assert log_tail(None) == "(this process writes no log file)"


@pytest.mark.parametrize("log", ["2026-12-03 INFO started\n", None])
def test_debug_text_says_versions_engine_policy_files_log_and_device(log: str | None) -> None:
    raw = raw_facts(gathered(), NETWORK, identifiers=True, osquery_version="UNSUPPORTED")
    text = debug_text(
        app_version="0.1.0",
        raw=raw,
        policy_files=("/etc/xdg/stethoscope/policy.yaml",),
        problems=("policy.yaml:3: firewall: not one of ALWAYS, …",),
        log=log,
    )
    assert text.startswith(
        "Stethoscope Desktop version: 0.1.0 (the API and policies of Stethoscope 5.0.6)\n"
        "Engine: embedded SQLite "
    )
    assert "Platform: linux Debian GNU/Linux 12.7.0 (build 6.1.0-28-amd64)" in text
    assert "Policy files, in layer order: /etc/xdg/stethoscope/policy.yaml" in text
    assert "policy.yaml:3: firewall" in text
    assert (log or "(the log is only for programs on this computer)") in text
    device_data = text.split("DEVICE DATA\n" + "=" * 20 + "\n", 1)[1]
    assert json.loads(device_data) == raw
