"""osquery's `ssh_configs` on Linux: the SSH client's options, per user and system-wide.

As osquery's ssh_configs.cpp: for each user the query names (`uid = N`; without one, the user
running the query) their ~/.ssh/config, then /etc/ssh/ssh_config with uid 0. Every line is trimmed
and lowercased; blank lines and comments are no rows; a line starting `host ` or `match ` opens a
block (the line itself is `block` for the option lines that follow it, until the next); every other
line is a row with `option` the whole line and `ssh_config_file` the file. `Include` lines are rows
like any option (osquery does not follow them). A missing file gives no rows; one osquery (root)
would read and this user cannot fails the query with that reason.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.file import permission_denied
from stethoscope_desktop.tables.linux._common import MachineTable, os_error_reason
from stethoscope_desktop.tables.linux._users import current_uid, users_from_context
from stethoscope_desktop.tables.system import System

USER_SSH_CONFIG = ".ssh/config"
SYSTEM_SSH_CONFIG = "/etc/ssh/ssh_config"
_CONFIG_LIMIT = 1024 * 1024


def parse_ssh_config(text: str, uid: int, path: str) -> list[Row]:
    """Return the rows osquery gives for one ssh_config file's text."""
    rows: list[Row] = []
    block = ""
    for raw in text.split("\n"):
        line = raw.strip().lower()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("host ", "match ")):
            block = line
            continue
        rows.append({"uid": uid, "block": block, "option": line, "ssh_config_file": path})
    return rows


class SshConfigs(MachineTable):
    """SSH client options from the users' ~/.ssh/config and /etc/ssh/ssh_config."""

    name = "ssh_configs"
    columns = (
        Column("uid", "bigint"),
        Column("block", "text"),
        Column("option", "text"),
        Column("ssh_config_file", "text"),
    )
    platforms = ("linux",)

    def __init__(self, system: System, *, uid: int | None = None) -> None:
        super().__init__(system)
        self._uid = uid if uid is not None else current_uid()

    def key_columns(self) -> tuple[str, ...]:
        """Return uid: the users osquery reads the files of."""
        return ("uid",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        rows: list[Row] = []
        for user in users_from_context(self._system, context, self._uid):
            rows += self._file(posixpath.join(user.home, USER_SSH_CONFIG), user.uid)
        rows += self._file(SYSTEM_SSH_CONFIG, 0)
        return rows

    def _file(self, path: str, uid: int) -> list[Row]:
        try:
            text = self._system.read_text(path, limit=_CONFIG_LIMIT)
        except FileNotFoundError:
            return []
        except PermissionError:
            raise permission_denied(path) from None
        except NotADirectoryError:
            return []
        except OSError as error:
            raise TableError(f"cannot read {path}: {os_error_reason(error)}") from error
        return parse_ssh_config(text, uid, path)
