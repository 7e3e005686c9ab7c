"""The device's lists for the local API: installed applications, browser extensions, hotfixes.

Pure functions of the rows the checks returned (`Scanner.gather_every_check`, through
`ApiService.device_facts`), in the shapes of Stethoscope's `Application`, `Extension` and
`HotfixFeatureState` types:

- `installed_applications`: one entry per installed application (on Linux, per installed
  package too), with the assertion, description and install source of the first rule of the
  app's own policy that names it and applies to this device (null where none does).
- `browser_extensions`: Chrome extensions and Firefox add-ons of this user's profiles, all of
  them or one browser's (`safari` has none here: Safari's extensions are apps, listed as such).
- `installed_hotfixes` and the requiredHotfixes answers: the Windows updates Windows lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stethoscope_desktop.core.evaluate import rule_applies
from stethoscope_desktop.core.facts import PlatformContext
from stethoscope_desktop.core.policy import ApplicationRule, match_applications
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.tables.values import Row

ALL_BROWSERS = "all"
WINDOWS = "win32"


def _text(row: Row, column: str) -> str | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    return str(value)


def _time(row: Row, column: str) -> str | None:
    """A time column as text; osquery's -1 ("not known") is null."""
    value = row.get(column)
    if value is None or value == "" or value in (-1, -1.0, "-1"):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def installed_applications(
    rows: Iterable[Row], rules: Sequence[ApplicationRule], context: PlatformContext
) -> list[dict[str, Any]]:
    """Return Stethoscope's `Application` entries for the installed applications' rows."""
    applicable = [rule for rule in rules if rule_applies(rule, context)]
    named = [(row, name) for row in rows if (name := _text(row, "name")) is not None]
    # Every rule against every name at once; each name takes the first rule that matches it.
    first_rule: dict[int, ApplicationRule] = {}
    for applicable_rule, matched in zip(
        applicable, match_applications(applicable, [name for _, name in named]), strict=True
    ):
        for index in matched:
            first_rule.setdefault(index, applicable_rule)
    found: list[dict[str, Any]] = []
    for index, (row, name) in enumerate(named):
        rule = first_rule.get(index)
        last_opened = _time(row, "last_opened_time")
        installed_on = _text(row, "install_date")
        assertion = rule.assertion.value if rule is not None else None
        found.append(
            {
                "name": name,
                "displayName": _text(row, "display_name") or name,
                "version": _text(row, "version") or "",
                "path": _text(row, "path"),
                "lastOpenedTime": last_opened,
                "last_opened_time": last_opened,
                "installDate": installed_on,
                "install_date": installed_on,
                "assertion": assertion,
                "installed": assertion,
                "description": (rule.description or None) if rule is not None else None,
                "installFrom": (rule.install_from or None) if rule is not None else None,
            }
        )
    return found


def browser_extensions(rows: Iterable[Row], browser: str | None) -> list[dict[str, str]]:
    """Return Stethoscope's `Extension` entries, of one browser or (None, `all`) of every one."""
    wanted = None if browser in (None, ALL_BROWSERS) else browser
    found: list[dict[str, str]] = []
    for row in rows:
        kind = _text(row, "browser") or ""
        if wanted is not None and kind != wanted:
            continue
        found.append(
            {
                "name": _text(row, "name") or _text(row, "identifier") or "",
                "path": _text(row, "path") or "",
                "version": _text(row, "version") or "",
                "author": _text(row, "author") or "",
                "identifier": _text(row, "identifier") or "",
                "browser": kind,
            }
        )
    return found


def installed_hotfixes(rows: Iterable[Row]) -> list[dict[str, str | None]]:
    """Return Stethoscope's `HotfixFeatureState` entries for the rows of Windows' hotfix list."""
    return [
        {
            "hotfix_id": _text(row, "hotfix_id"),
            "caption": _text(row, "caption"),
            "installed_on": _text(row, "installed_on"),
        }
        for row in rows
        if _text(row, "hotfix_id") is not None
    ]


def _normal_id(hotfix_id: str) -> str:
    return hotfix_id.strip().upper()


def required_hotfixes(
    installed: Sequence[Mapping[str, str | None]], wanted: Iterable[str]
) -> list[Mapping[str, str | None]]:
    """Return the installed hotfixes among those a policy requires (ids compared ignoring case)."""
    ids = {_normal_id(hotfix) for hotfix in wanted if hotfix}
    return [entry for entry in installed if _normal_id(entry.get("hotfix_id") or "") in ids]


def required_hotfixes_state(
    platform: str,
    installed: Sequence[Mapping[str, str | None]] | None,
    wanted: Sequence[str],
) -> str:
    """Return `SecurityInfo.requiredHotfixes`: PASS, FAIL or UNKNOWN (see the schema)."""
    ids = {_normal_id(hotfix) for hotfix in wanted if hotfix}
    if not ids:
        return Status.UNKNOWN.value
    if platform != WINDOWS:
        return Status.PASS.value
    if installed is None:
        return Status.UNKNOWN.value
    present = {_normal_id(entry.get("hotfix_id") or "") for entry in installed}
    return Status.PASS.value if ids <= present else Status.FAIL.value
