"""osquery's `systemd_units` table, from `systemctl list-units` and `systemctl show`.

osquery asks systemd over D-Bus (ListUnits: every loaded unit, active or not). We run
`systemctl list-units --all --plain --no-legend --no-pager` for id, load/active/sub state, job
type and description. object_path is computed the way systemd builds it (bus-escaped id under
/org/freedesktop/systemd1/unit/), and a unit without a job has job_id 0, job_type "" and job_path
"/", as ListUnits reports. Job ids come
from `systemctl list-jobs`, run only when some unit has a pending job.

following, fragment_path, source_path, user and unit_file_state are per-unit D-Bus properties,
which osquery reads unit by unit; one `systemctl show --property=… '*'` prints them for every
loaded unit at once. As in osquery each is text, "" where the unit has none (user: only services
have it). Where `show` fails, unit_file_state comes from `systemctl list-unit-files` (an instance
such as getty@tty1.service taking its template's state) and the other four are NULL.

Without systemd as the init system (containers, WSL without systemd, other init systems: no
/run/systemd/system, the test sd_booted(3) makes) no unit is loaded, and the table has no rows, as
osquery's has (its D-Bus call finds no systemd). A check such as "auditd.service is active" then
fails and "avahi-daemon.service is not active" passes, which is true of such a machine.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, command_reason, run_quiet
from stethoscope_desktop.tables.linux._systemd import systemd_running

_LIST_FLAGS = ("--plain", "--no-legend", "--no-pager")
_JOB_TYPES = frozenset(
    {
        "start",
        "stop",
        "reload",
        "restart",
        "verify-active",
        "verify-started",
        "try-restart",
        "try-reload",
        "reload-or-start",
        "reload-or-restart",
        "nop",
    }
)
_UNIT_PATH = "/org/freedesktop/systemd1/unit/"
_JOB_PATH = "/org/freedesktop/systemd1/job/"


def bus_path_escape(text: str) -> str:
    """Escape a unit name for a D-Bus object path, as sd_bus_path_encode does."""
    if not text:
        return "_"
    out: list[str] = []
    for index, char in enumerate(text):
        if (char.isascii() and char.isalpha()) or (char.isascii() and char.isdigit() and index):
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode())
    return "".join(out)


def parse_list_units(text: str) -> list[Row]:
    """Parse `systemctl list-units --all --plain --no-legend` lines into partial rows."""
    rows: list[Row] = []
    for line in text.splitlines():
        line = line.strip().removeprefix("\u25cf").removeprefix("*")
        fields = line.split(None, 4)
        if len(fields) < 4:
            continue
        unit, load, active, sub = fields[:4]
        rest = fields[4] if len(fields) == 5 else ""
        job_type = ""
        first, _, remainder = rest.partition(" ")
        if first in _JOB_TYPES and remainder.strip():
            job_type, rest = first, remainder
        rows.append(
            {
                "id": unit,
                "description": rest.strip(),
                "load_state": load,
                "active_state": active,
                "sub_state": sub,
                "job_type": job_type,
            }
        )
    return rows


def parse_list_unit_files(text: str) -> dict[str, str]:
    """Parse `systemctl list-unit-files --plain --no-legend` into unit -> state."""
    states: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            states[fields[0]] = fields[1]
    return states


def parse_list_jobs(text: str) -> dict[str, int]:
    """Parse `systemctl list-jobs --plain --no-legend` into unit -> job id."""
    jobs: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit():
            jobs[fields[1]] = int(fields[0])
    return jobs


# D-Bus property -> column, for `systemctl show`.
_PROPERTIES = {
    "Id": "id",
    "Following": "following",
    "FragmentPath": "fragment_path",
    "SourcePath": "source_path",
    "User": "user",
    "UnitFileState": "unit_file_state",
}


def parse_show(text: str) -> dict[str, dict[str, str]]:
    """Parse `systemctl show` of several units (blocks of Key=value lines) by unit Id."""
    units: dict[str, dict[str, str]] = {}
    for block in text.split("\n\n"):
        values: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key] = value
        if values.get("Id"):
            units[values["Id"]] = values
    return units


def _template(unit: str) -> str | None:
    prefix, at, rest = unit.partition("@")
    if not at or "." not in rest:
        return None
    return f"{prefix}@.{rest.rsplit('.', 1)[1]}"


class SystemdUnits(MachineTable):
    """The units systemd has loaded."""

    name = "systemd_units"
    columns = (
        Column("id", "text"),
        Column("description", "text"),
        Column("load_state", "text"),
        Column("active_state", "text"),
        Column("sub_state", "text"),
        Column("unit_file_state", "text"),
        Column("following", "text"),
        Column("object_path", "text"),
        Column("job_id", "bigint"),
        Column("job_type", "text"),
        Column("job_path", "text"),
        Column("fragment_path", "text"),
        Column("user", "text"),
        Column("source_path", "text"),
    )
    platforms = ("linux",)

    def _systemctl(self, *args: str) -> str:
        result = run_quiet(self._system, ["systemctl", *args, *_LIST_FLAGS])
        if isinstance(result, str):
            raise TableError(f"cannot list systemd units: {result}")
        if not result.ok:
            raise TableError(f"systemctl {args[0]} failed: {command_reason(result)}")
        return result.stdout

    def _unit_properties(self) -> dict[str, dict[str, str]] | None:
        """Return the per-unit properties osquery reads, by unit id; None when `show` fails."""
        argv = ["systemctl", "show", "--no-pager", "--property=" + ",".join(_PROPERTIES), "*"]
        result = run_quiet(self._system, argv)
        if isinstance(result, str) or not result.ok:
            return None
        return parse_show(result.stdout)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if not systemd_running(self._system):
            return []
        rows = parse_list_units(self._systemctl("list-units", "--all"))
        properties = self._unit_properties()
        if properties is not None:
            for row in rows:
                found = properties.get(str(row["id"]), {})
                for prop, column in _PROPERTIES.items():
                    if column != "id":
                        row[column] = found.get(prop, "")
            file_states: dict[str, str] = {}
        else:
            file_states = parse_list_unit_files(self._systemctl("list-unit-files"))
        jobs: dict[str, int] = {}
        if any(row["job_type"] for row in rows):
            jobs = parse_list_jobs(self._systemctl("list-jobs"))
        for row in rows:
            unit = str(row["id"])
            if properties is None:
                template = _template(unit)
                state = file_states.get(unit)
                if state is None and template is not None:
                    state = file_states.get(template)
                row["unit_file_state"] = state if state is not None else ""
            row["object_path"] = _UNIT_PATH + bus_path_escape(unit)
            job_id = jobs.get(unit, 0) if row["job_type"] else 0
            row["job_id"] = job_id
            row["job_path"] = f"{_JOB_PATH}{job_id}" if job_id else "/"
        return rows
