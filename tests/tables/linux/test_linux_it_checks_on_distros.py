"""IT's Fleet-style Linux checks, scanned end to end on fake Debian 12, Ubuntu 24.04 and Fedora 40.

The checks (fixtures/it-checks/linux-hardening.yml, our own) use together every table, column,
SQL function and SQL pattern of Fleet's automated Linux policies (the inventory
tests/compat/fleet_coverage.py measures over Fleet's real files; asserted below). They are loaded
the way the app loads IT's checks (a `checks.d` file of IT's folder, through `PracticesLoader`)
and scanned by the app's `Scanner` on the built-in engine over each fake root, and every check's
verdict is asserted per distribution.

The roots (fixtures/roots/it-*.tree) differ where a hardened machine differs from a default one,
so that every check that gets a verdict passes on one root and not on another: a check that
passed everywhere would not notice a table returning everything, one that failed everywhere a
table returning nothing; and a table the checks read that gives no rows changes some verdict
(each is silenced in turn). What the tree files cannot hold is set here: owners and modes of files
(answered by `stat` from a table of our own, so the tests mean the same run as root or not),
/sys/class/block's symbolic links, file times, the recorded `systemctl` and `dconf` output and an
rpm database.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.custom_checks import CHECKS_FOLDER, read_checks_file, slug
from stethoscope_desktop.core.practices import PracticesLoader, practices_folders
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.tables.base import QueryContext, Row, TablePlugin
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.linux.packages import RPM_QUERYFORMAT
from stethoscope_desktop.tables.system import DEFAULT_TIMEOUT_S, CommandResult, FileStat
from tests.compat.fleet_coverage import OsquerySchema, run_checks
from tests.fakes import FakeSystem, Recorded, result
from tests.tables.linux.helpers import FIXTURES, load_root

CHECKS_FILE = FIXTURES / "it-checks" / "linux-hardening.yml"
LIST_FLAGS = ("--plain", "--no-legend", "--no-pager")
SYSTEMCTL_SHOW = (
    "systemctl",
    "show",
    "--no-pager",
    "--property=Id,Following,FragmentPath,SourcePath,User,UnitFileState",
    "*",
)
DCONF_LOCK = ("dconf", "read", "/org/gnome/desktop/screensaver/lock-enabled")
# 2025-01-15 and 2023-03-01, 12:00 UTC: file times of the audit rules.
RECENT, OLD = 1_736_942_400, 1_677_672_000


@dataclass(frozen=True)
class Unit:
    """A loaded systemd unit as `systemctl list-units` and `systemctl show` print it."""

    id: str
    active: str
    sub: str
    file_state: str
    description: str


@dataclass(frozen=True)
class RpmPackage:
    """One package of a fake rpm database."""

    name: str
    version: str
    release: str
    arch: str = "x86_64"


class DistroMachine(FakeSystem):
    """A fake root whose files have the owners and modes given, and that may have an rpm database.

    `stat` answers uid, gid and permission bits from `owners` (path → (mode, uid, gid)); any other
    file is root's, 0644 (0755 for a folder), whoever runs the tests. `rpm` answers
    `rpm -qa`/`rpm -q NAME…` with the query format as rpm does, from `rpm_database`.
    """

    def __init__(
        self,
        root: Path,
        *,
        owners: Mapping[str, tuple[int, int, int]],
        rpm_database: Sequence[RpmPackage] | None,
        commands: Mapping[tuple[str, ...], Recorded],
    ) -> None:
        super().__init__(root, env={"PATH": "/usr/bin:/bin", "USER": "alice"}, commands=commands)
        self.owners = dict(owners)
        self.rpm_database = rpm_database

    def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        """stat(2) of the fake root, with the owner and permission bits this machine gives."""
        real = super().stat(path, follow_symlinks=follow_symlinks)
        default = 0o755 if stat.S_ISDIR(real.mode) or stat.S_ISLNK(real.mode) else 0o644
        mode, uid, gid = self.owners.get(path.rstrip("/") or "/", (default, 0, 0))
        return dataclasses.replace(real, mode=stat.S_IFMT(real.mode) | mode, uid=uid, gid=gid)

    def which(self, program: str) -> str | None:
        """rpm is on the PATH where there is an rpm database; else as FakeSystem."""
        if program == "rpm":
            return "/usr/bin/rpm" if self.rpm_database is not None else None
        return super().which(program)

    def run(self, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Answer rpm queries from the rpm database; other commands as recorded."""
        if self.rpm_database is None or list(argv[:1]) != ["rpm"]:
            return super().run(argv, timeout=timeout)
        self.calls.append(tuple(argv))
        assert list(argv[-2:]) == ["--queryformat", RPM_QUERYFORMAT], argv
        by_name = {package.name: package for package in self.rpm_database}
        names = list(argv[2:-2]) if argv[1] == "-q" else sorted(by_name)
        assert argv[1] in ("-q", "-qa"), argv
        out: list[str] = []
        for name in names:
            package = by_name.get(name)
            if package is None:
                out.append(f"package {name} is not installed\n")
                continue
            fields = [
                package.name,
                package.version,
                package.release,
                "(none)",
                "1024",
                "",
                package.arch,
            ]
            fields += ["(none)", "1735689600", "Fedora Project", "Unspecified"]
            out.append("\x1f".join(fields) + "\x1e")
        missing = any(name not in by_name for name in names)
        return CommandResult(tuple(argv), 1 if missing else 0, "".join(out), "")


def systemctl(units: Sequence[Unit]) -> dict[tuple[str, ...], Recorded]:
    """Recorded `systemctl list-units` and `systemctl show` of these units."""
    listing = "".join(f"{u.id} loaded {u.active} {u.sub} {u.description}\n" for u in units)
    shown = "\n".join(
        f"Id={u.id}\nUser=\nFollowing=\nUnitFileState={u.file_state}\n"
        f"FragmentPath=/usr/lib/systemd/system/{u.id}\nSourcePath=\n"
        for u in units
    )
    return dict(
        [
            result(["systemctl", "list-units", "--all", *LIST_FLAGS], listing),
            result(SYSTEMCTL_SHOW, shown),
        ]
    )


@dataclass(frozen=True)
class Distro:
    """How to build one fake machine: its tree and what a tree file cannot hold."""

    name: str
    tree: str
    owners: dict[str, tuple[int, int, int]]
    block_devices: dict[str, str]  # /sys/class/block entry → its folder under /sys/devices
    units: tuple[Unit, ...]
    file_times: dict[str, int] = field(default_factory=dict)
    dconf_lock: str | None = None  # what `dconf read` prints; None: dconf is not installed
    rpm_database: tuple[RpmPackage, ...] | None = None

    def build(self, root: Path) -> DistroMachine:
        load_root(self.tree, root)
        for entry, target in self.block_devices.items():
            link = root / "sys/class/block" / entry
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f"../../devices/{target}", link)
        for path, seconds in self.file_times.items():
            os.utime(root / path.lstrip("/"), (seconds, seconds))
        commands = systemctl(self.units)
        if self.dconf_lock is not None:
            commands.update([result(list(DCONF_LOCK), self.dconf_lock)])
        machine = DistroMachine(
            root, owners=self.owners, rpm_database=self.rpm_database, commands=commands
        )
        # An unprivileged user: the password hashes are out of reach, whatever the mode says.
        machine.denied.add("/etc/shadow")
        return machine


SHADOW_GID = 42
DEBIAN = Distro(
    "debian-12",
    "it-debian-12-hardened",
    owners={
        "/etc/shadow": (0o640, 0, SHADOW_GID),
        "/etc/shadow-": (0o640, 0, SHADOW_GID),
        "/etc/gshadow": (0o640, 0, SHADOW_GID),
        "/etc/gshadow-": (0o640, 0, SHADOW_GID),
        "/home/alice": (0o750, 1000, 1000),
        "/home/bob": (0o750, 1001, 1001),
        "/var/log/syslog": (0o640, 0, 4),
        "/var/log/auth.log": (0o640, 0, 4),
    },
    block_devices={
        "dm-0": "virtual/block/dm-0",
        "dm-1": "virtual/block/dm-1",
        "vda": "pci0000:00/virtio3/block/vda",
        "vda3": "pci0000:00/virtio3/block/vda/vda3",
    },
    units=(
        Unit("auditd.service", "active", "running", "enabled", "Security Auditing Service"),
        Unit("ssh.service", "active", "running", "enabled", "OpenBSD Secure Shell server"),
    ),
    file_times={"/etc/audit/rules.d/cis.rules": RECENT},
    dconf_lock="true\n",
)
UBUNTU = Distro(
    "ubuntu-24.04",
    "it-ubuntu-24.04-default",
    owners={
        "/etc/shadow": (0o640, 0, SHADOW_GID),
        "/etc/shadow-": (0o640, 0, SHADOW_GID),
        "/etc/gshadow": (0o640, 0, SHADOW_GID),
        "/etc/gshadow-": (0o644, 0, SHADOW_GID),  # an old backup, readable by all
        "/home/alice": (0o750, 1000, 1000),
        "/home/bob": (0o750, 1000, 1000),  # alice's, not bob's
        "/var/log/syslog": (0o640, 104, 4),
        "/var/log/cloud-init.log": (0o666, 0, 0),
    },
    block_devices={
        "nvme0n1": "pci0000:00/nvme/nvme0/nvme0n1",
        "nvme0n1p1": "pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p1",
        "nvme0n1p2": "pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p2",
    },
    units=(
        Unit("ssh.service", "active", "running", "enabled", "OpenBSD Secure Shell server"),
        Unit("avahi-daemon.service", "active", "running", "enabled", "Avahi mDNS/DNS-SD Stack"),
    ),
    dconf_lock="false\n",
)
FEDORA = Distro(
    "fedora-40",
    "it-fedora-40",
    owners={
        "/etc/shadow": (0o000, 0, 0),
        "/etc/shadow-": (0o000, 0, 0),
        "/etc/gshadow": (0o000, 0, 0),
        "/etc/gshadow-": (0o000, 0, 0),
        "/home/alice": (0o700, 1000, 1000),
        "/home/ghost": (0o700, 1002, 2000),
        "/var/log/messages": (0o600, 0, 0),
        "/var/log/audit": (0o700, 0, 0),
    },
    block_devices={
        "dm-0": "virtual/block/dm-0",
        "nvme0n1": "pci0000:00/nvme/nvme0/nvme0n1",
        "nvme0n1p3": "pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p3",
    },
    units=(
        Unit("auditd.service", "inactive", "dead", "disabled", "Security Audit Logging Service"),
        Unit("sshd.service", "active", "running", "enabled", "OpenSSH server daemon"),
    ),
    file_times={"/etc/audit/rules.d/audit.rules": OLD},
    rpm_database=(
        RpmPackage("audit", "4.0.1", "1.fc40"),
        RpmPackage("openssh-server", "9.6p1", "1.fc40.4"),
        RpmPackage("bash", "5.2.26", "3.fc40"),
    ),
)
DISTROS = (DEBIAN, UBUNTU, FEDORA)

P, N, F, U = Status.PASS, Status.NUDGE, Status.FAIL, Status.UNKNOWN
# Each check's verdict on (Debian 12 hardened, Ubuntu 24.04 default, Fedora 40), and why.
EXPECTED: dict[str, tuple[Status, Status, Status]] = {
    "Only root has user ID 0": (P, P, F),  # Fedora: toor
    "Every account's primary group exists": (P, P, N),  # Fedora: ghost's group 2000
    "The shadow group has no members": (P, N, P),  # Ubuntu: bob; Fedora has no shadow group
    "Home folders belong to their users": (P, N, P),  # Ubuntu: /home/bob is alice's
    "Every login account has its home folder": (P, N, P),  # Ubuntu: carol's was never made
    "Password files are closed to other users": (P, N, P),  # Ubuntu: gshadow- 0644
    "/etc/shadow is readable by root alone": (F, F, P),  # 0640 root:shadow vs 0000 root:root
    "cramfs cannot be loaded": (P, N, N),  # Ubuntu: not blacklisted; Fedora: commented, loaded
    "USB storage driver not loaded": (P, N, P),  # Ubuntu: usb_storage, uas
    "/tmp is a separate nodev nosuid noexec mount": (P, N, N),  # Ubuntu: none; Fedora: exec
    "The root filesystem is encrypted": (P, F, P),  # LVM on LUKS, plain, btrfs on LUKS
    "No telnet client": (P, N, P),  # Debian: removed, config left; Ubuntu: inetutils-telnet
    "The audit daemon is installed": (P, N, P),  # auditd (deb), none, audit (rpm)
    "The audit daemon runs and starts at boot": (P, N, N),  # Fedora: inactive and disabled
    "Audit rules are locked and from the 2024 baseline or later": (P, N, N),  # Fedora: 2023
    "IP forwarding is off now and after a reboot": (P, N, N),  # Ubuntu: live 1; Fedora: no config
    "Address space randomization is configured": (P, N, P),  # Ubuntu: commented out
    "SSH: PermitRootLogin no": (P, F, F),  # Ubuntu: commented out; Fedora: yes
    "SSH: nothing lets root log in": (P, N, N),  # Ubuntu: the drop-in; Fedora: yes after a tab
    "SSH: at most 4 login attempts": (P, N, N),  # Ubuntu: not set; Fedora: 6
    "Passwords expire within a year": (P, N, P),  # 365, 99999, 90
    "No world-writable log files": (P, N, P),  # Ubuntu: cloud-init.log 0666
    "avahi-daemon is not running": (P, N, P),
    "A supported release": (P, P, N),  # Fedora 40 is past its end of life
    "No two accounts share a user ID": (P, P, N),  # Fedora: root and toor
    "Only root of the system accounts has a login shell": (P, N, N),  # sync's /bin/sync; toor
    "The SSH banner warns": (P, N, N),  # Ubuntu: the release's name; Fedora: no banner
    "The audit backlog holds at least 8192 events": (P, N, N),  # Ubuntu: unset; Fedora: 1024
    "GNOME locks the screen": (P, N, U),  # Fedora: no dconf
    "No account without a password": (U, U, U),  # shadow: root only
    "Mistake: ASLR through a sysctl table": (U, U, U),
    "Mistake: auditd by systemd_units.name": (U, U, U),
}
# The UNKNOWN reasons, which must tell what to do.
EXPECTED_REASONS = {
    "No account without a password": "only root can read",
    "Mistake: ASLR through a sysctl table": (
        "`sysctl` is not an osquery table; osquery's is `system_controls`"
    ),
    "Mistake: auditd by systemd_units.name": (
        "`systemd_units` has no column `name`; osquery's is `id`"
    ),
}
FEDORA_DCONF_REASON = "dconf: not installed"

# What Fleet's automated Linux policies use (tests/compat/fleet_coverage.py over Fleet's CIS
# benchmark, standard query library and device-health policies), with osquery's `id` and
# `system_controls` standing in for the mistakes `systemd_units.name` and `sysctl`.
FLEET_TABLE_COLUMNS = {
    "file_lines": {"path", "line"},
    "file": {"path", "mode", "uid", "gid", "type"},
    "mounts": {"path", "flags", "device_alias"},
    "deb_packages": {"name"},
    "rpm_packages": {"name"},
    "kernel_modules": {"name"},
    "users": {"uid", "username", "gid", "directory", "shell"},
    "groups": {"gid", "groupname"},
    "user_groups": {"uid", "gid"},
    "disk_encryption": {"name", "encrypted"},
    "system_controls": {"name", "current_value", "config_value"},
    "processes": {"name"},
    "shadow": {"password_status"},
    "augeas": {"node", "path", "label", "value"},
    "systemd_units": {"id", "active_state", "unit_file_state"},
    "os_version": {"platform", "name", "major"},
    "dconf_read": {"username", "key", "value"},
}
FLEET_FUNCTIONS = {
    "count", "sum", "ltrim", "trim", "substr", "instr", "replace", "length", "char", "datetime",
}  # fmt: skip
FLEET_PATTERNS = {
    "subquery",
    "EXISTS / NOT EXISTS",
    "path = constraint",
    "path IN (…) constraint",
    "LIKE on path/directory",
    "COUNT(*) compared",
    "GROUP BY / HAVING",
    "CASE",
    "WITH (CTE)",
    "CAST",
    "JOIN",
    "comma join (FROM a, b)",
}


def it_folder(tmp_path: Path) -> Path:
    """IT's machine folder with the checks file in its checks.d."""
    folder = tmp_path / "it" / CHECKS_FOLDER
    folder.mkdir(parents=True)
    shutil.copy(CHECKS_FILE, folder / CHECKS_FILE.name)
    return tmp_path / "it"


def scan(tmp_path: Path, distro: Distro) -> Report:
    """Scan `distro` as the app does, with IT's checks in checks.d."""
    machine = distro.build(tmp_path / distro.name)
    folders = practices_folders(practices_dir(), machine=it_folder(tmp_path), env={})
    practices = PracticesLoader(folders, "en").load()
    assert not practices.problems, practices.problems
    engine = EmbeddedEngine(builtin_tables("linux", machine), platform="linux")
    try:
        return Scanner(engine, load_checks(checks_dir()), platform="linux").scan(practices)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    return {d.name: scan(tmp_path_factory.mktemp(d.name), d) for d in DISTROS}


def custom_results(report: Report) -> dict[str, tuple[Status, str]]:
    """Each of IT's checks in the report by name: (status, reason)."""
    return {p.name: (p.status, p.reason) for p in report.practices if p.key.startswith("custom/")}


@pytest.mark.parametrize("index", range(len(DISTROS)), ids=[d.name for d in DISTROS])
def test_every_check_gets_its_verdict_on_each_distribution(
    reports: dict[str, Report], index: int
) -> None:
    distro = DISTROS[index]
    found = custom_results(reports[distro.name])
    assert set(found) == set(EXPECTED)
    wrong = {
        name: (found[name][0].name, expected[index].name, found[name][1])
        for name, expected in EXPECTED.items()
        if found[name][0] is not expected[index]
    }
    assert not wrong, "\n".join(
        f"{name}: got {got}, expected {want}: {why}" for name, (got, want, why) in wrong.items()
    )


@pytest.mark.parametrize("index", range(len(DISTROS)), ids=[d.name for d in DISTROS])
def test_unknown_reasons_say_what_to_do(reports: dict[str, Report], index: int) -> None:
    found = custom_results(reports[DISTROS[index].name])
    for name, reason in EXPECTED_REASONS.items():
        assert reason in found[name][1], (name, found[name][1])
    if DISTROS[index] is FEDORA:
        assert FEDORA_DCONF_REASON in found["GNOME locks the screen"][1]


def test_every_judged_check_passes_somewhere_and_not_everywhere() -> None:
    # A check whose verdict is the same on the three roots would not notice a broken table.
    for name, verdicts in EXPECTED.items():
        if name in EXPECTED_REASONS:
            continue
        assert P in verdicts and (N in verdicts or F in verdicts), name


def test_the_checks_use_every_table_column_function_and_pattern_fleets_policies_use() -> None:
    loaded = read_checks_file(CHECKS_FILE)
    assert not loaded.problems and len(loaded.checks) == len(EXPECTED)
    assert {check.name for check in loaded.checks} == set(EXPECTED)
    assert len({slug(check.name) for check in loaded.checks}) == len(EXPECTED)
    schema = OsquerySchema()
    columns: dict[str, set[str]] = {}
    functions: set[str] = set()
    patterns: set[str] = set()
    for check in loaded.checks:
        use = schema.use_of(check.query)
        for table, column in use.columns:
            columns.setdefault(table, set()).add(column)
        functions |= use.functions
        patterns |= use.patterns
    missing = {
        table: wanted - columns.get(table, set())
        for table, wanted in FLEET_TABLE_COLUMNS.items()
        if wanted - columns.get(table, set())
    }
    assert missing == {}
    assert FLEET_FUNCTIONS - functions == set()
    assert FLEET_PATTERNS - patterns == set()


def silenced(table: TablePlugin) -> TablePlugin:
    """The same table (name, columns) giving no rows: a table that misbehaves."""

    class Silent(TablePlugin):
        name = table.name
        columns = table.columns
        platforms = table.platforms

        def generate(self, context: QueryContext) -> Iterable[Row]:
            return []

    return Silent()


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> list[DistroMachine]:
    return [d.build(tmp_path_factory.mktemp(d.name)) for d in DISTROS]


@pytest.mark.parametrize("table", sorted(FLEET_TABLE_COLUMNS))
def test_a_table_giving_no_rows_changes_some_verdict(
    machines: list[DistroMachine], table: str
) -> None:
    checks = read_checks_file(CHECKS_FILE).checks
    changed: list[str] = []
    for index, machine in enumerate(machines):
        tables = [silenced(t) if t.name == table else t for t in builtin_tables("linux", machine)]
        engine = EmbeddedEngine(tables, platform="linux")
        try:
            outcomes = run_checks(engine, checks)
        finally:
            engine.close()
        changed += [o.check.name for o in outcomes if o.status is not EXPECTED[o.check.name][index]]
    assert changed, f"no verdict depends on {table}"
