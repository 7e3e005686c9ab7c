"""Tray status icons and the app icon, rendered crisply from the SVGs in `resources/icons/`.

Every status has a shield badge whose glyph carries the meaning (check, exclamation mark, cross,
question mark, circular arrow), so the status never rests on colour alone. Each comes in three
variants: `status-<name>.svg` for light panels, `status-<name>-dark.svg` for dark panels and
`status-<name>-template.svg` (black and alpha only) for macOS, which tints template images itself.

The SVGs are the source. The tray draws their PNG renderings in `resources/icons/tray/` (every
tray size, at 1x and 2x; `make icons` renders them again with `render_tray_pngs`, and a test
checks they match the SVGs): rendering SVG at run time would load QtSvg and its XML parser into
the idle tray for about 3 MiB. PNG needs no plugin (a frozen bundle may leave those out). The app
icon, needed only once the window opens, is rendered from its SVG then. Rendering needs a
`QGuiApplication`; the results are cached per argument set.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPalette, QPixmap

from stethoscope_desktop.core.status import Status
from stethoscope_desktop.resources import resources_dir

if TYPE_CHECKING:
    from PySide6.QtGui import QImage
    from PySide6.QtSvg import QSvgRenderer

TRAY_SIZES = (16, 22, 24, 32, 48, 64)
"""Logical sizes the status icons are drawn at (each also at 2x): the tray sizes of the desktops."""

APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
"""Logical sizes the app icon is drawn at (each also at 2x): title bars, task bars, launchers."""

SCALES = (1, 2)
"""Device pixel ratios each size is drawn at."""

APP_ICON_FILE = "stethoscope-desktop.svg"


class TrayIconState(StrEnum):
    """What the tray icon shows; the value is the `<name>` in `status-<name>*.svg`."""

    PASS = "pass"
    NUDGE = "nudge"
    FAIL = "fail"
    UNKNOWN = "unknown"
    SCANNING = "scanning"


_STATE_OF_STATUS = {
    Status.PASS: TrayIconState.PASS,
    Status.NUDGE: TrayIconState.NUDGE,
    Status.FAIL: TrayIconState.FAIL,
    Status.UNKNOWN: TrayIconState.UNKNOWN,
}


def state_for(status: Status | None, scanning: bool) -> TrayIconState:
    """Return the tray icon state for the device's status; `None` means no report yet.

    A scan in progress shows as SCANNING whatever the last verdict was.
    """
    if scanning:
        return TrayIconState.SCANNING
    if status is None:
        return TrayIconState.UNKNOWN
    return _STATE_OF_STATUS[status]


def icons_dir() -> Path:
    """Return the folder of the bundled SVG icons."""
    return resources_dir() / "icons"


def tray_pngs_dir() -> Path:
    """Return the folder of the status icons' PNG renderings."""
    return icons_dir() / "tray"


def tray_pixel_sizes() -> list[int]:
    """Return the pixel sizes the status icons are rendered at (every tray size, 1x and 2x)."""
    return sorted({size * scale for size in TRAY_SIZES for scale in SCALES})


def tray_png_path(svg: Path, pixels: int) -> Path:
    """Return the PNG rendering of a status icon's SVG at `pixels` wide."""
    return tray_pngs_dir() / f"{svg.stem}-{pixels}.png"


def status_icon_path(state: TrayIconState, *, dark: bool, template: bool = False) -> Path:
    """Return the SVG file for a status icon; a template icon is the same on any panel."""
    if template:
        suffix = "-template"
    elif dark:
        suffix = "-dark"
    else:
        suffix = ""
    return icons_dir() / f"status-{state.value}{suffix}.svg"


def status_icon(state: TrayIconState, *, dark: bool, template: bool = False) -> QIcon:
    """Return the tray icon for `state`, for a dark or a light panel, or as a macOS template.

    A template icon is a mask (`QIcon.isMask()`): macOS tints it to suit the menu bar, so `dark`
    does not matter for it.
    """
    # Normalise the arguments so a template is rendered once, not once per `dark`.
    return _status_icon(TrayIconState(state), dark=dark and not template, template=template)


@cache
def _status_icon(state: TrayIconState, *, dark: bool, template: bool) -> QIcon:
    svg = status_icon_path(state, dark=dark, template=template)
    icon = QIcon()
    for pixels in tray_pixel_sizes():
        path = tray_png_path(svg, pixels)
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            raise FileNotFoundError(f"icon {path} is missing or not a PNG (run `make icons`)")
        icon.addPixmap(pixmap)
    icon.setIsMask(template)
    return icon


def render_tray_pngs(folder: Path | None = None) -> list[Path]:
    """Render every status icon's SVG to the PNGs the tray draws; return the files written."""
    target = tray_pngs_dir() if folder is None else folder
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for svg in sorted(icons_dir().glob("status-*.svg")):
        renderer = _svg_renderer(svg)
        for pixels in tray_pixel_sizes():
            path = target / tray_png_path(svg, pixels).name
            if not render_svg_image(renderer, pixels).save(str(path)):  # PNG, by its name
                raise OSError(f"cannot write {path}")
            written.append(path)
    return written


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """Return the application icon (window, task bar, the .desktop entry's image)."""
    return render_svg_icon(icons_dir() / APP_ICON_FILE, APP_SIZES)


def render_svg_icon(path: Path, sizes: tuple[int, ...]) -> QIcon:
    """Render the SVG at `path` into an icon holding a pixmap per size, at 1x and 2x.

    Raises `FileNotFoundError` if the file is missing and `ValueError` if Qt cannot parse it.
    """
    renderer = _svg_renderer(path)
    icon = QIcon()
    for pixels in sorted({size * scale for size in sizes for scale in SCALES}):
        icon.addPixmap(QPixmap.fromImage(render_svg_image(renderer, pixels)))
    return icon


def _svg_renderer(path: Path) -> QSvgRenderer:
    from PySide6.QtSvg import QSvgRenderer  # only here: the idle tray does without QtSvg

    if not path.is_file():
        raise FileNotFoundError(f"icon {path} is missing")
    renderer = QSvgRenderer(str(path))
    if not renderer.isValid():
        raise ValueError(f"icon {path} is not an SVG that Qt can render")
    return renderer


def render_svg_image(renderer: QSvgRenderer, pixels: int) -> QImage:
    """Draw the whole SVG into a transparent square image `pixels` wide."""
    from PySide6.QtGui import QImage, QPainter  # only for rendering: not in the idle tray

    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, pixels, pixels))
    finally:
        painter.end()
    return image


def panel_is_dark(palette: QPalette, scheme: Qt.ColorScheme | None = None) -> bool:
    """Guess whether the panel that holds the tray icon is dark.

    The system's colour scheme decides when it is known (`QStyleHints.colorScheme()`, Qt 6.5+;
    `scheme` overrides it, for tests): panels follow the system, not a palette the app may have
    set. Otherwise the palette's window colour decides by its lightness. Some panels (GNOME's top
    bar) are dark whatever the scheme; no heuristic sees that.
    """
    if scheme is None:
        scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


# Each practice's icon in the window: `resources/icons/practices/<name>.svg`, line drawings whose
# strokes are `currentColor`, tinted for the palette when drawn.
PRACTICE_ICONS = {
    "osVersion": "system-update",
    "diskEncryption": "disk-encryption",
    "firewall": "firewall",
    "automaticUpdates": "automatic-updates",
    "screenLock": "screen-lock",
    "screenIdle": "screen-idle",
    "remoteLogin": "remote-login",
    "openWifiConnections": "wifi",
    "securitySoftware": "security-software",
    "stethoscopeVersion": "app-version",
    "stethoscopeDesktopVersion": "app-version",
    "requiredApplications": "applications",
    "bannedApplications": "applications",
    "suggestedApplications": "applications",
    "custom": "it-check",
}
DEFAULT_PRACTICE_ICON = "practice"


def practice_icon_path(practice: str) -> Path:
    """Return the SVG of a practice's icon (`PracticeResult.practice`); others get a circle."""
    name = PRACTICE_ICONS.get(practice, DEFAULT_PRACTICE_ICON)
    return icons_dir() / "practices" / f"{name}.svg"


@lru_cache(maxsize=128)
def practice_icon(practice: str, colour: str, pixels: int) -> QPixmap:
    """Return a practice's icon drawn in `colour` (#rrggbb), `pixels` wide (device pixels)."""
    from PySide6.QtCore import QByteArray
    from PySide6.QtSvg import QSvgRenderer

    path = practice_icon_path(practice)
    if not path.is_file():
        raise FileNotFoundError(f"icon {path} is missing")
    svg = path.read_text(encoding="utf-8").replace("currentColor", colour)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        raise ValueError(f"icon {path} is not an SVG that Qt can render")
    return QPixmap.fromImage(render_svg_image(renderer, pixels))
