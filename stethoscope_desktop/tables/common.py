"""Tables that are the same on every platform: facts about Stethoscope Desktop itself."""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable

from stethoscope_desktop import STETHOSCOPE_RELEASE, __version__
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin


class StethoscopeAppTable(TablePlugin):
    """`stethoscope_app`: this app's version, the Stethoscope release it answers as, its runtime."""

    name = "stethoscope_app"
    columns = (
        Column("version"),
        Column("stethoscope_release"),
        Column("python_version"),
        Column("executable"),
        Column("frozen", "integer"),
    )

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Yield the app's own facts."""
        yield {
            "version": __version__,
            "stethoscope_release": STETHOSCOPE_RELEASE,
            "python_version": platform.python_version(),
            "executable": sys.executable,
            "frozen": int(bool(getattr(sys, "frozen", False))),
        }
