"""Tray and app icons: every variant ships and parses, renders crisply, and says its status by shape."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPalette
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from stethoscope_desktop.core.status import Status
from stethoscope_desktop.ui.icons import (
    TrayIconState,
    app_icon,
    icons_dir,
    panel_is_dark,
    render_svg_icon,
    render_tray_pngs,
    state_for,
    status_icon,
    status_icon_path,
    tray_pixel_sizes,
    tray_png_path,
    tray_pngs_dir,
)

VARIANTS = {
    "light": {"dark": False},
    "dark": {"dark": True},
    "template": {"template": True, "dark": False},
}
SVG = "{http://www.w3.org/2000/svg}"


def render(icon: QIcon, size: int, scale: float = 1.0) -> QImage:
    return (
        icon.pixmap(QSize(size, size), scale).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    )


def opaque(image: QImage) -> set[tuple[int, int]]:
    """Pixels that are more than half covered: the shape, whatever its colour."""
    return {
        (x, y)
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).alpha() > 127
    }


def relative_luminance(colour: str) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    c = QColor(colour)
    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: str, b: str) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("state", TrayIconState)
def test_every_status_and_variant_ships_as_a_valid_svg(
    qapp: QApplication, state: TrayIconState, variant: str
) -> None:
    path = status_icon_path(state, **VARIANTS[variant])
    assert path.is_file()
    assert QSvgRenderer(str(path)).isValid()
    assert ET.parse(path).getroot().find(f"{SVG}title") is not None, "a title names the shape"


def test_the_icons_folder_holds_only_known_files() -> None:
    expected = {
        status_icon_path(state, **kwargs).name
        for state in TrayIconState
        for kwargs in VARIANTS.values()
    } | {"stethoscope-desktop.svg", "tray", "practices"}
    assert {p.name for p in icons_dir().iterdir()} == expected


def test_the_tray_folder_holds_a_png_per_status_svg_and_size() -> None:
    expected = {
        tray_png_path(status_icon_path(state, **kwargs), pixels).name
        for state in TrayIconState
        for kwargs in VARIANTS.values()
        for pixels in tray_pixel_sizes()
    }
    assert {p.name for p in tray_pngs_dir().iterdir()} == expected
    assert tray_pixel_sizes() == [16, 22, 24, 32, 44, 48, 64, 96, 128]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("state", TrayIconState)
def test_the_shipped_pngs_are_renderings_of_the_svgs(
    qapp: QApplication, tmp_path: Path, state: TrayIconState, variant: str
) -> None:
    """After an edit of an SVG, `make icons` renders the PNGs again; this says when it is due."""
    render_tray_pngs(tmp_path)
    svg = status_icon_path(state, **VARIANTS[variant])
    for pixels in tray_pixel_sizes():
        name = tray_png_path(svg, pixels).name
        shipped = QImage(str(tray_pngs_dir() / name)).convertToFormat(QImage.Format.Format_ARGB32)
        fresh = QImage(str(tmp_path / name)).convertToFormat(QImage.Format.Format_ARGB32)
        assert shipped.size() == fresh.size() == QSize(pixels, pixels), name
        worst = max(
            abs(a - b)
            for y in range(pixels)
            for x in range(pixels)
            for a, b in zip(
                shipped.pixelColor(x, y).getRgb(), fresh.pixelColor(x, y).getRgb(), strict=True
            )
        )
        # Antialiasing may differ by a shade between Qt builds; a changed drawing differs more.
        assert worst <= 8, f"{name} no longer matches {svg.name}: run `make icons`"


def test_a_missing_png_is_an_error_that_names_it(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("stethoscope_desktop.ui.icons.tray_pngs_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match=r"status-unknown-dark-16\.png.*make icons"):
        status_icon(TrayIconState.UNKNOWN, dark=True).availableSizes()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("state", TrayIconState)
def test_icons_have_crisp_pixmaps_at_tray_sizes_and_at_2x(
    qapp: QApplication, state: TrayIconState, variant: str
) -> None:
    icon = status_icon(state, **VARIANTS[variant])
    assert not icon.isNull()
    for size in (16, 22, 24, 32):
        assert QSize(size, size) in icon.availableSizes()
        image = render(icon, size)
        assert image.size() == QSize(size, size)
        assert len(opaque(image)) > size * size // 2, "the badge fills most of the square"
        hidpi = icon.pixmap(QSize(size, size), 2.0)
        assert hidpi.size() == QSize(2 * size, 2 * size)
        assert hidpi.devicePixelRatio() == 2.0


@pytest.mark.parametrize("size", [16, 32])
def test_statuses_differ_in_shape_not_only_colour(qapp: QApplication, size: int) -> None:
    masks = {
        state: opaque(render(status_icon(state, dark=False, template=True), size))
        for state in TrayIconState
    }
    for a, b in itertools.combinations(TrayIconState, 2):
        differing = len(masks[a] ^ masks[b])
        assert differing >= size * size // 16, f"{a} and {b} look alike at {size} px"


@pytest.mark.parametrize("state", TrayIconState)
def test_template_icons_are_masks_of_black_and_alpha_only(
    qapp: QApplication, state: TrayIconState
) -> None:
    icon = status_icon(state, dark=False, template=True)
    assert icon.isMask()
    assert status_icon(state, dark=True, template=True) is icon, "a template ignores the panel"
    image = render(icon, 32)
    colours = {
        image.pixelColor(x, y).rgb() & 0xFFFFFF
        for y in range(32)
        for x in range(32)
        if image.pixelColor(x, y).alpha() > 0
    }
    assert colours == {0}
    assert not status_icon(state, dark=False).isMask()
    assert not status_icon(state, dark=True).isMask()


@pytest.mark.parametrize("state", TrayIconState)
def test_the_dark_variant_differs_from_the_light_one(
    qapp: QApplication, state: TrayIconState
) -> None:
    light = render(status_icon(state, dark=False), 32)
    dark = render(status_icon(state, dark=True), 32)
    assert light != dark


def shield_and_glyph_colours(path: Path) -> tuple[str, str]:
    """The badge's fill (its first shape) and the colour its glyph is drawn in."""
    root = ET.parse(path).getroot()
    shield = root.find(f"{SVG}path")
    assert shield is not None
    glyph = {g.get("stroke") or g.get("fill") for g in root.iter(f"{SVG}g")}
    assert len(glyph) == 1, f"{path.name}: one glyph colour"
    return shield.get("fill", ""), glyph.pop() or ""


@pytest.mark.parametrize(
    ("dark", "panels"),
    [(False, ["#ffffff", "#f3f3f3", "#eff0f1"]), (True, ["#000000", "#1f1f1f", "#2b2b2b"])],
)
@pytest.mark.parametrize("state", TrayIconState)
def test_colours_meet_non_text_contrast(
    state: TrayIconState, dark: bool, panels: list[str]
) -> None:
    # WCAG 2.1 SC 1.4.11 asks 3:1 for the parts of a graphic needed to understand it.
    shield, glyph = shield_and_glyph_colours(status_icon_path(state, dark=dark))
    assert contrast(shield, glyph) >= 3.0
    for panel in panels:
        assert contrast(shield, panel) >= 3.0, f"{shield} on a {panel} panel"


@pytest.mark.parametrize(
    ("status", "scanning", "expected"),
    [
        (None, False, TrayIconState.UNKNOWN),
        (Status.PASS, False, TrayIconState.PASS),
        (Status.NUDGE, False, TrayIconState.NUDGE),
        (Status.FAIL, False, TrayIconState.FAIL),
        (Status.UNKNOWN, False, TrayIconState.UNKNOWN),
        (None, True, TrayIconState.SCANNING),
        (Status.PASS, True, TrayIconState.SCANNING),
        (Status.FAIL, True, TrayIconState.SCANNING),
    ],
)
def test_state_for(status: Status | None, scanning: bool, expected: TrayIconState) -> None:
    assert state_for(status, scanning) is expected


def test_every_status_has_an_icon_state() -> None:
    assert {state_for(status, False) for status in Status} | {TrayIconState.SCANNING} == set(
        TrayIconState
    )


def palette_with_window(colour: str) -> QPalette:
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(colour))
    return palette


@pytest.mark.parametrize(
    ("window", "scheme", "expected"),
    [
        ("#1e1e1e", Qt.ColorScheme.Unknown, True),
        ("#f3f3f3", Qt.ColorScheme.Unknown, False),
        ("#f3f3f3", Qt.ColorScheme.Dark, True),
        ("#1e1e1e", Qt.ColorScheme.Light, False),
    ],
)
def test_panel_is_dark(
    qapp: QApplication, window: str, scheme: Qt.ColorScheme, expected: bool
) -> None:
    assert panel_is_dark(palette_with_window(window), scheme) is expected


def test_panel_is_dark_asks_the_system_by_default(qapp: QApplication) -> None:
    system = qapp.styleHints().colorScheme()
    palette = palette_with_window("#1e1e1e")
    assert panel_is_dark(palette) is panel_is_dark(palette, system)


def test_app_icon(qapp: QApplication) -> None:
    icon = app_icon()
    assert not icon.isNull()
    assert not icon.isMask()
    for size in (16, 32, 256):
        assert opaque(render(icon, size)), f"app icon is blank at {size} px"
    assert app_icon() is icon


def test_icons_are_cached(qapp: QApplication) -> None:
    assert status_icon(TrayIconState.FAIL, dark=True) is status_icon(TrayIconState.FAIL, dark=True)
    assert status_icon(TrayIconState.FAIL, dark=True) is not status_icon(
        TrayIconState.FAIL, dark=False
    )


def test_a_missing_icon_is_an_error_that_names_it(qapp: QApplication, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.svg"):
        render_svg_icon(tmp_path / "nothing.svg", (16,))
