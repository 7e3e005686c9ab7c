"""The values a table row holds, in osquery's four column types.

Kept apart from `tables.base` so that a report can name its rows' type without loading the table
machinery.
"""

from __future__ import annotations

Value = str | int | float | None
Row = dict[str, Value]
