"""The one place that knows where `checks/`, `practices/` and `resources/` live.

In an installed wheel (and in a frozen bundle, whose spec copies them to the same place) they are
`stethoscope_desktop/_data/<name>`; in a source checkout they are the top-level folders of the repo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

DataFolder = Literal["checks", "practices", "resources"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: DataFolder) -> Path:
    """Return the folder holding the bundled `name` data, wherever the app is running from."""
    shipped = _PACKAGE_DIR / "_data" / name
    if shipped.is_dir():
        return shipped
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"bundled folder {name!r} is missing: looked in {shipped} and {checkout}"
    )


def checks_dir() -> Path:
    """Return the folder of bundled check definitions."""
    return data_dir("checks")


def practices_dir() -> Path:
    """Return the folder of bundled default practices (policy, instructions, config)."""
    return data_dir("practices")


def resources_dir() -> Path:
    """Return the folder of icons, style sheets and other UI resources."""
    return data_dir("resources")
