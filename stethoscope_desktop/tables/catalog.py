"""Which of our tables exist on which platform; platform modules are imported only there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stethoscope_desktop.tables.augeas import Augeas
from stethoscope_desktop.tables.base import TablePlugin
from stethoscope_desktop.tables.browser_extensions import BrowserExtensions
from stethoscope_desktop.tables.common import StethoscopeAppTable
from stethoscope_desktop.tables.file import file_table
from stethoscope_desktop.tables.file_lines import FileLines
from stethoscope_desktop.tables.parse_json import ParseJson, ParseJsonl
from stethoscope_desktop.tables.system import System
from stethoscope_desktop.tables.user_ssh_keys import DarwinUserSshKeys, LinuxUserSshKeys

if TYPE_CHECKING:
    from stethoscope_desktop.tables.windows import Registry


def builtin_tables(
    platform: str, system: System, *, registry: Registry | None = None
) -> list[TablePlugin]:
    """Return instances of every table the embedded engine serves on `platform`.

    `registry` is the Windows registry adapter (the real one when not given); other platforms
    ignore it.
    """
    tables: list[TablePlugin] = [StethoscopeAppTable(), BrowserExtensions(system, platform)]
    # The same on every platform (through `system`): osquery's file, fleetd's file_lines and,
    # where osquery has it, augeas over the lenses tables/augeas.py implements.
    if platform in ("linux", "darwin", "windows"):
        tables += [file_table(system, platform), FileLines(system, platform)]
        # fleetd's parse_json / parse_jsonl (dataflatten).
        tables += [ParseJson(system, platform), ParseJsonl(system, platform)]
    if platform in ("linux", "darwin"):
        tables.append(Augeas(system))
        # osquery's user_ssh_keys (posix): users from that platform's `users`.
        ssh_keys = LinuxUserSshKeys if platform == "linux" else DarwinUserSshKeys
        tables.append(ssh_keys(system))
    if platform == "linux":
        from stethoscope_desktop.tables.linux import linux_tables

        tables += linux_tables(system)
    elif platform == "darwin":
        from stethoscope_desktop.tables.darwin import darwin_tables

        tables += darwin_tables(system)
    elif platform == "windows":
        from stethoscope_desktop.tables.windows import windows_tables

        tables += windows_tables(system, registry)
    return tables
