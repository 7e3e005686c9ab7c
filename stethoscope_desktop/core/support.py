"""What IT offers the person besides the verdict: where to get help, and a notice.

IT sets them in `config.yaml` with Stethoscope's keys: `menu.help` (the Help menu's entries, a
label and a link each: the support e-mail, a chat channel, a web page), `stethoscopeWebURI`
(Stethoscope's "view all devices" page) and `deprecationNotice` (a banner at the top of the
window). The scan worker reads them with the config (`core.config`) and hands them to the tray
with each report (`core.protocol.TraySettings`); the tray shows them in its menu and the window.

No YAML or policy code here: the tray process imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stethoscope_desktop.core.report import ReportFormatError


@dataclass(frozen=True)
class HelpLink:
    """One entry of the Help menu: the text shown and the link it opens (mailto:, https:, …)."""

    label: str
    url: str

    def to_json(self) -> dict[str, Any]:
        """Return the link as JSON-ready data."""
        return {"label": self.label, "url": self.url}

    @classmethod
    def from_json(cls, data: object, name: str) -> HelpLink:
        """Return a link from `to_json` data; raise ReportFormatError naming `name`."""
        if not isinstance(data, Mapping):
            raise ReportFormatError(f"{name}: must be an object")
        return cls(_text(data, "label", name), _text(data, "url", name))


@dataclass(frozen=True)
class Notice:
    """IT's notice, shown as a banner: a heading, a line below it, and a link to read more."""

    heading: str = ""
    sub_heading: str = ""
    link_url: str = ""
    link_text: str = ""

    @property
    def link_label(self) -> str:
        """Return the link's text: IT's, or the link itself when IT gave none."""
        return self.link_text or self.link_url

    @property
    def headline(self) -> str:
        """Return the notice in one line: the heading, else the line below it, else the link."""
        return self.heading or self.sub_heading or self.link_label

    def is_empty(self) -> bool:
        """Return True when the notice has nothing to show."""
        return not self.headline

    def to_json(self) -> dict[str, Any]:
        """Return the notice as JSON-ready data."""
        return {
            "heading": self.heading,
            "sub_heading": self.sub_heading,
            "link_url": self.link_url,
            "link_text": self.link_text,
        }

    @classmethod
    def from_json(cls, data: object, name: str) -> Notice:
        """Return a notice from `to_json` data; raise ReportFormatError naming `name`."""
        if not isinstance(data, Mapping):
            raise ReportFormatError(f"{name}: must be an object")
        return cls(
            _text(data, "heading", name),
            _text(data, "sub_heading", name),
            _text(data, "link_url", name),
            _text(data, "link_text", name),
        )


@dataclass(frozen=True)
class Support:
    """What IT offers the person: help links, the all-devices page and a notice (or none)."""

    help_links: tuple[HelpLink, ...] = ()
    devices_url: str = ""
    notice: Notice | None = None

    def entries(self, devices_label: str) -> tuple[HelpLink, ...]:
        """Return the Help entries: IT's links, then the all-devices page as `devices_label`."""
        page = (HelpLink(devices_label, self.devices_url),) if self.devices_url else ()
        return (*self.help_links, *page)

    def to_json(self) -> dict[str, Any]:
        """Return it as JSON-ready data."""
        return {
            "help_links": [link.to_json() for link in self.help_links],
            "devices_url": self.devices_url,
            "notice": self.notice.to_json() if self.notice is not None else None,
        }

    @classmethod
    def from_json(cls, data: object, name: str) -> Support:
        """Return it from `to_json` data; raise ReportFormatError naming `name` and the field."""
        if not isinstance(data, Mapping):
            raise ReportFormatError(f"{name}: must be an object")
        links = data.get("help_links", [])
        if not isinstance(links, list):
            raise ReportFormatError(f"{name}.help_links: must be a list")
        notice = data.get("notice")
        return cls(
            tuple(
                HelpLink.from_json(link, f"{name}.help_links[{index}]")
                for index, link in enumerate(links)
            ),
            _text(data, "devices_url", name),
            Notice.from_json(notice, f"{name}.notice") if notice is not None else None,
        )


def _text(data: Mapping[str, Any], key: str, name: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ReportFormatError(f"{name}.{key}: must be a text, not {value!r}")
    return value
