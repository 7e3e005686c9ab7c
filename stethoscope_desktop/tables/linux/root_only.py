r"""osquery's `sudoers` and `iptables` on Linux: tables osquery fills as root.

sudoers: /etc/sudoers is mode 0440 root, and so are the files it includes. Unprivileged, the table
fails with that reason (a check on it is UNKNOWN rather than passing on no rows). Where the files
can be read, rows are as osquery's sudoers.cpp gives them: one per line that is not blank or a
comment, `header` its first word and `rule_details` the rest (spaces and tabs trimmed), `source` the
file; a line ending in a backslash continues on the next, which is appended (without the backslash)
to the row's rule_details, or its header when it has none; `#include`/`@include` rows are followed
by the file's own rows, `#includedir`/`@includedir` rows by those of each file in the folder whose
name has no '.' and does not end in '~' (in name order), relative paths from the including file's
folder, at most 128 levels deep. A missing /etc/sudoers gives no rows; a missing included file is
skipped.

iptables: osquery reads the kernel's netfilter tables through libiptc, which only root may do; there
is no file to read. The table fails saying so and never tries.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import (
    MachineTable,
    root_only_read_error,
)

SUDOERS_PATH = "/etc/sudoers"
_SUDOERS_LIMIT = 4 * 1024 * 1024
_MAX_NEST = 128
_BLANKS = "\t\v "
_MAX_ROWS = 100_000


def _root_only(path: str, error: OSError) -> TableError:
    return root_only_read_error("sudoers", path, error, "who may use sudo")


class Sudoers(MachineTable):
    """The rules of /etc/sudoers and the files it includes (osquery's `sudoers`); root only."""

    name = "sudoers"
    columns = (
        Column("source", "text"),
        Column("header", "text"),
        Column("rule_details", "text"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rows: list[Row] = []
        try:
            text = self._system.read_text(SUDOERS_PATH, limit=_SUDOERS_LIMIT)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise _root_only(SUDOERS_PATH, error) from error
        self._parse(SUDOERS_PATH, text, 1, rows)
        return rows

    def _include(self, path: str, level: int, rows: list[Row]) -> None:
        if level > _MAX_NEST:
            return
        try:
            text = self._system.read_text(path, limit=_SUDOERS_LIMIT)
        except FileNotFoundError:
            return
        except OSError as error:
            raise _root_only(path, error) from error
        self._parse(path, text, level, rows)

    def _parse(self, path: str, text: str, level: int, rows: list[Row]) -> None:
        continued = False
        for raw in text.split("\n"):
            line = raw.strip(_BLANKS)
            if not line:
                continue
            if continued and rows:
                continued = line.endswith("\\")
                last = rows[-1]
                if last["rule_details"]:
                    last["rule_details"] = str(last["rule_details"])[:-1] + line
                else:
                    last["header"] = str(last["header"])[:-1]
                    last["rule_details"] = line
                continue
            cut = next((i for i, char in enumerate(line) if char in _BLANKS), len(line))
            header = line[:cut].strip(_BLANKS)
            is_include = header in ("#include", "@include")
            is_includedir = header in ("#includedir", "@includedir")
            if line.startswith("#") and not (is_include or is_includedir):
                continue
            details = line[cut:].strip(_BLANKS)
            if not details and (is_include or is_includedir):
                continue
            if not (is_include or is_includedir) and line.endswith("\\"):
                continued = True
            rows.append({"header": header, "source": path, "rule_details": details})
            if len(rows) > _MAX_ROWS:
                raise TableError(f"sudoers: more than {_MAX_ROWS:,} rules under {SUDOERS_PATH}")
            target = (
                details
                if details.startswith("/")
                else posixpath.join(posixpath.dirname(path), details)
            )
            if is_includedir:
                for name in self._folder_files(target):
                    if "." in name or name.endswith("~"):
                        continue
                    level += 1  # as osquery's ++level: each include deepens the ones after it
                    self._include(posixpath.join(target, name), level, rows)
            elif is_include:
                level += 1
                self._include(target, level, rows)

    def _folder_files(self, folder: str) -> list[str]:
        try:
            names = self._system.list_dir(folder)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise _root_only(folder, error) from error
        files: list[str] = []
        for name in names:
            try:
                if self._system.stat(posixpath.join(folder, name)).is_regular:
                    files.append(name)
            except OSError:
                continue
        return files


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


class Iptables(MachineTable):
    """The netfilter rules (osquery's `iptables`): only root can read them; never tried here."""

    name = "iptables"
    columns = (
        Column("filter_name", "text"),
        Column("chain", "text"),
        Column("policy", "text"),
        Column("target", "text"),
        Column("protocol", "integer"),
        Column("src_port", "text"),
        Column("dst_port", "text"),
        Column("src_ip", "text"),
        Column("src_mask", "text"),
        Column("iniface", "text"),
        Column("iniface_mask", "text"),
        Column("dst_ip", "text"),
        Column("dst_mask", "text"),
        Column("outiface", "text"),
        Column("outiface_mask", "text"),
        Column("match", "text"),
        Column("packets", "integer"),
        Column("bytes", "integer"),
    )
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if _is_root():
            raise TableError(
                "osquery's iptables table reads the kernel's netfilter rules through libiptc; "
                "the built-in engine does not read them (run the check on osquery)"
            )
        raise TableError(
            "osquery's iptables table reads the kernel's netfilter rules (libiptc), which only "
            "root can read; this app runs as you, so the firewall rules cannot be listed here "
            "(osquery run as root can)"
        )
