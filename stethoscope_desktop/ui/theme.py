"""Colours and the style sheet, for light and dark palettes; the window follows the system's."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette

from stethoscope_desktop.core.status import Status
from stethoscope_desktop.resources import resources_dir


@dataclass(frozen=True)
class StatusColours:
    """The colours that say one status: a strong one for chips, a soft one for backgrounds."""

    strong: str
    soft: str
    text_on_strong: str


LIGHT = {
    Status.FAIL: StatusColours("#cf222e", "#ffebe9", "#ffffff"),
    Status.NUDGE: StatusColours("#855a00", "#fff8c5", "#ffffff"),
    Status.UNKNOWN: StatusColours("#57606a", "#eaeef2", "#ffffff"),
    Status.PASS: StatusColours("#1a7f37", "#dafbe1", "#ffffff"),
}
DARK = {
    Status.FAIL: StatusColours("#ff7b72", "#3d1418", "#1b1f24"),
    Status.NUDGE: StatusColours("#d29922", "#3a2d0a", "#1b1f24"),
    Status.UNKNOWN: StatusColours("#8c959f", "#2d333b", "#1b1f24"),
    Status.PASS: StatusColours("#3fb950", "#12301d", "#1b1f24"),
}
# The window's surfaces and text, by the `$name` the style sheet uses. Text on its background
# reaches WCAG AA (4.5:1) in both palettes, muted text included; `focus` is the keyboard focus ring.
LIGHT_SURFACES = {
    "page_background": "#f6f8fa",
    "card_background": "#ffffff",
    "card_border": "#d0d7de",
    "text": "#1f2328",
    "muted": "#59636e",
    "accent": "#0b5cad",
    "accent_hover": "#0a4f94",
    "accent_text": "#ffffff",
    "focus": "#0969da",
    "code_background": "#eff2f5",
    "hover": "#f0f3f6",
}
DARK_SURFACES = {
    "page_background": "#1c2128",
    "card_background": "#22272e",
    "card_border": "#444c56",
    "text": "#e6edf3",
    "muted": "#9ea7b3",
    "accent": "#4493f8",
    "accent_hover": "#6cb0ff",
    "accent_text": "#0d1117",
    "focus": "#6cb6ff",
    "code_background": "#2d333b",
    "hover": "#2d333b",
}
SYMBOLS = {Status.FAIL: "✕", Status.NUDGE: "!", Status.UNKNOWN: "?", Status.PASS: "✓"}


def palette_is_dark(palette: QPalette | None = None) -> bool:
    """Return True when the system (or the given palette) is dark."""
    application = QGuiApplication.instance()
    if palette is None and isinstance(application, QGuiApplication):
        scheme = QGuiApplication.styleHints().colorScheme()
        if scheme is Qt.ColorScheme.Dark:
            return True
        if scheme is Qt.ColorScheme.Light:
            return False
        palette = QGuiApplication.palette()
    if palette is None:
        return False
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def link_colour(dark: bool | None = None) -> str:
    """Return the colour of links in rich text for the palette (None: the system's now).

    Rich text takes links' colour from the HTML or the palette, never from the style sheet, so
    the window writes this colour into the HTML it builds.
    """
    return (DARK_SURFACES if (palette_is_dark() if dark is None else dark) else LIGHT_SURFACES)[
        "accent"
    ]


def colours(dark: bool) -> dict[Status, StatusColours]:
    """Return the status colours for a light or dark palette."""
    return DARK if dark else LIGHT


@lru_cache(maxsize=4)
def style_sheet(dark: bool) -> str:
    """Return the application style sheet, its `$names` filled for the palette."""
    template = string.Template((resources_dir() / "style.qss").read_text(encoding="utf-8"))
    values: dict[str, str] = {}
    for status, palette in colours(dark).items():
        name = status.value.lower()
        values[f"{name}_strong"] = palette.strong
        values[f"{name}_soft"] = palette.soft
        values[f"{name}_text"] = palette.text_on_strong
    for name, value in (DARK_SURFACES if dark else LIGHT_SURFACES).items():
        values[name] = value
    return template.safe_substitute(values)
