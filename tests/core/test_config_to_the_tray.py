"""IT's help links and notice go from config.yaml through the worker protocol to the tray.

The tray reads no YAML: what it shows of the config comes with each report in `TraySettings`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.protocol import (
    Event,
    ScanReported,
    ScanResult,
    TraySettings,
    decode,
    encode,
)
from stethoscope_desktop.core.report import ReportFormatError
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.support import HelpLink, Notice, Support
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.worker import tray_settings
from tests.canned import canned_linux

CONFIG = """\
menu:
  help:
    - label: Email Support
      link: helpdesk@example.org
    - label: Chat
      link: "msteams:/l/channel/19%3Aabc/IT"
stethoscopeWebURI: https://devices.example.org/mine
deprecationNotice:
  heading: Moving to a new checkup app
  subHeading: It arrives in May.
  linkUrl: https://intranet.example.org/new
"""


def loader(tmp_path: Path, config: str) -> PracticesLoader:
    folder = tmp_path / "it"
    folder.mkdir()
    (folder / "config.yaml").write_text(config, encoding="utf-8")
    return PracticesLoader(
        [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", folder)], "en"
    )


def crossed(data: dict[str, Any]) -> dict[str, Any]:
    """Return `data` as the other side reads it: through JSON text."""
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


def test_the_worker_hands_the_tray_its_help_links_and_notice(tmp_path: Path) -> None:
    practices_loader = loader(tmp_path, CONFIG)
    settings = tray_settings(practices_loader.load(), practices_loader)
    assert settings.support == Support(
        (
            HelpLink("Email Support", "mailto:helpdesk@example.org"),
            HelpLink("Chat", "msteams:/l/channel/19%3Aabc/IT"),
        ),
        "https://devices.example.org/mine",
        Notice(
            "Moving to a new checkup app", "It arrives in May.", "https://intranet.example.org/new"
        ),
    )
    assert settings.support.entries("All devices")[-1] == HelpLink(
        "All devices", "https://devices.example.org/mine"
    )
    assert TraySettings.from_json(crossed(settings.to_json())) == settings


def test_the_bundled_config_offers_no_help_links_and_no_notice(tmp_path: Path) -> None:
    practices_loader = loader(tmp_path, "organization: Example\n")
    settings = tray_settings(practices_loader.load(), practices_loader)
    assert settings.support == Support()
    assert settings.support.entries("All devices") == ()


def test_a_notice_with_nothing_to_show_is_no_notice(tmp_path: Path) -> None:
    practices_loader = loader(tmp_path, "deprecationNotice:\n  heading:\n  subHeading:\n")
    assert tray_settings(practices_loader.load(), practices_loader).support.notice is None


def test_settings_of_a_worker_before_help_links_read_as_none() -> None:
    settings = TraySettings.from_json({"scan_interval_minutes": 30, "api_port": None})
    assert settings.support == Support()


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("help_links", {"label": "x"}, "settings.support.help_links: must be a list"),
        ("help_links", ["mailto:x"], r"settings.support.help_links\[0\]: must be an object"),
        ("help_links", [{"label": "x", "url": 3}], r"settings.support.help_links\[0\].url"),
        ("devices_url", ["https://x"], "settings.support.devices_url: must be a text"),
        ("notice", "Retired", "settings.support.notice: must be an object"),
        ("notice", {"heading": None}, "settings.support.notice.heading: must be a text"),
    ],
)
def test_malformed_help_links_and_notices_are_refused_by_name(
    key: str, value: object, named: str
) -> None:
    data = {"scan_interval_minutes": 30, "support": {key: value}}
    with pytest.raises(ReportFormatError, match=named):
        TraySettings.from_json(data)


def test_a_report_event_carries_them_across_one_line(tmp_path: Path) -> None:
    practices_loader = loader(tmp_path, CONFIG)
    practices = practices_loader.load()
    report = Scanner(
        EmbeddedEngine(canned_linux()), load_checks(checks_dir()), platform="linux"
    ).scan(practices)
    sent = ScanReported(
        7,
        ScanResult(report, practices.instructions.ui, tray_settings(practices, practices_loader)),
    )
    received = decode(encode(sent), Event)
    assert isinstance(received, ScanReported)
    assert received.result.settings.support == sent.result.settings.support != Support()


def test_support_that_is_not_an_object_is_refused_by_name() -> None:
    with pytest.raises(ReportFormatError, match=r"settings\.support: must be an object"):
        TraySettings.from_json({"scan_interval_minutes": 30, "support": ["help"]})
