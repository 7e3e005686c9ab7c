"""Tables that are the same on every platform: facts about Stethoscope Desktop itself."""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable

from stethoscope_desktop import __version__
from stethoscope_desktop.tables.base import Column, QueryContext, Row, TablePlugin


class StethoscopeAppTable(TablePlugin):
    """`stethoscope_app`: this app's version and the runtime it runs on (one row)."""

    name = "stethoscope_app"
    columns = (
        Column("version"),
        Column("python_version"),
        Column("executable"),
        Column("frozen", "integer"),
    )

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Yield the app's own facts."""
        yield {
            "version": __version__,
            "python_version": platform.python_version(),
            "executable": sys.executable,
            "frozen": int(bool(getattr(sys, "frozen", False))),
        }
