"""osquery's `augeas` (our Sshd and Login_defs lenses) and fleetd's `dconf_read`, on fake roots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.augeas import Augeas, Node, match_expression
from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, Row, TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.linux.dconf_read import DconfRead
from stethoscope_desktop.tables.system import CommandError, LocalSystem
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import make_root
from tests.tables.linux.helpers import query_rows as query

EQ, LIKE = Operator.EQUALS, Operator.LIKE

SSHD_CONFIG = """\
# Our test server
Include /etc/ssh/sshd_config.d/*.conf

PermitRootLogin no
#PasswordAuthentication yes
AcceptEnv LANG LC_*
AcceptEnv "XMODIFIERS"
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com
ClientAliveInterval=300
Subsystem\tsftp\t/usr/lib/openssh/sftp-server -l INFO
Match User backup Address 10.0.0.*
\tX11Forwarding no
\t# only for backups
\tPermitTTY no
"""
LOGIN_DEFS = "# shadow settings\nPASS_MAX_DAYS\t365\nPASS_MIN_DAYS 1\n\nUMASK\t\t027\n"


def context(*terms: tuple[str, Operator, str]) -> QueryContext:
    return QueryContext(tuple(Constraint(column, op, expr) for column, op, expr in terms))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(
        tmp_path,
        {
            "/etc/ssh/sshd_config": SSHD_CONFIG,
            "/etc/ssh/sshd_config.d/50-cloud.conf": "PasswordAuthentication yes\n",
            "/etc/login.defs": LOGIN_DEFS,
            "/etc/hosts": "127.0.0.1 localhost\n",
        },
    )


def augeas(system: LocalSystem, *terms: tuple[str, Operator, str]) -> list[Row]:
    return list(Augeas(system).generate(context(*terms)))


def nodes(rows: list[Row]) -> dict[object, object]:
    return {row["node"]: row["value"] for row in rows}


def test_path_gives_the_file_node_and_every_node_below(root: Path) -> None:
    rows = augeas(LocalSystem(root), ("path", EQ, "/etc/ssh/sshd_config"))
    assert rows[0] == {
        "node": "/files/etc/ssh/sshd_config",
        "value": "",
        "label": "sshd_config",
        "path": "/etc/ssh/sshd_config",
    }
    assert {row["path"] for row in rows} == {"/etc/ssh/sshd_config"}
    base = "/files/etc/ssh/sshd_config"
    assert nodes(rows) == {
        base: "",
        f"{base}/#comment[1]": "Our test server",
        f"{base}/Include": "/etc/ssh/sshd_config.d/*.conf",
        f"{base}/PermitRootLogin": "no",
        f"{base}/#comment[2]": "PasswordAuthentication yes",
        f"{base}/AcceptEnv[1]": "",
        f"{base}/AcceptEnv[1]/1": "LANG",
        f"{base}/AcceptEnv[1]/2": "LC_*",
        f"{base}/AcceptEnv[2]": "",
        f"{base}/AcceptEnv[2]/3": "XMODIFIERS",
        f"{base}/HostKey[1]": "/etc/ssh/ssh_host_ed25519_key",
        f"{base}/HostKey[2]": "/etc/ssh/ssh_host_rsa_key",
        f"{base}/Ciphers": "",
        f"{base}/Ciphers/1": "aes256-gcm@openssh.com",
        f"{base}/Ciphers/2": "chacha20-poly1305@openssh.com",
        f"{base}/ClientAliveInterval": "300",
        f"{base}/Subsystem": "",
        f"{base}/Subsystem/sftp": "/usr/lib/openssh/sftp-server -l INFO",
        f"{base}/Match": "",
        f"{base}/Match/Condition": "",
        f"{base}/Match/Condition/User": "backup",
        f"{base}/Match/Condition/Address": "10.0.0.*",
        f"{base}/Match/Settings": "",
        f"{base}/Match/Settings/X11Forwarding": "no",
        f"{base}/Match/Settings/#comment": "only for backups",
        f"{base}/Match/Settings/PermitTTY": "no",
    }
    labels = {row["node"]: row["label"] for row in rows}
    assert labels[f"{base}/#comment[2]"] == "#comment"
    assert labels[f"{base}/AcceptEnv[2]/3"] == "3"


def test_login_defs(root: Path) -> None:
    rows = augeas(LocalSystem(root), ("path", EQ, "/etc/login.defs"))
    assert nodes(rows) == {
        "/files/etc/login.defs": "",
        "/files/etc/login.defs/#comment": "shadow settings",
        "/files/etc/login.defs/PASS_MAX_DAYS": "365",
        "/files/etc/login.defs/PASS_MIN_DAYS": "1",
        "/files/etc/login.defs/UMASK": "027",
    }


def test_node_constraints(root: Path) -> None:
    system = LocalSystem(root)
    assert nodes(augeas(system, ("node", EQ, "/files/etc/ssh/sshd_config/PermitRootLogin"))) == {
        "/files/etc/ssh/sshd_config/PermitRootLogin": "no"
    }
    assert list(nodes(augeas(system, ("node", EQ, "/files/etc/ssh/sshd_config/HostKey")))) == [
        "/files/etc/ssh/sshd_config/HostKey[1]",
        "/files/etc/ssh/sshd_config/HostKey[2]",
    ]
    assert nodes(augeas(system, ("node", EQ, "/files/etc/ssh/sshd_config/HostKey[2]"))) == {
        "/files/etc/ssh/sshd_config/HostKey[2]": "/etc/ssh/ssh_host_rsa_key"
    }
    children = augeas(system, ("node", LIKE, "/files/etc/ssh/sshd_config/%"))
    assert "/files/etc/ssh/sshd_config/Match" in nodes(children)
    assert "/files/etc/ssh/sshd_config/Match/Settings" not in nodes(children)
    everything = augeas(system, ("node", LIKE, "/files/etc/ssh/sshd_config/%%"))  # //*
    assert "/files/etc/ssh/sshd_config/Match/Settings/PermitTTY" in nodes(everything)


def test_path_like(root: Path) -> None:
    system = LocalSystem(root)
    # Augeas matches whole labels: "*.conf" or a partial name matches nothing, as in osquery.
    assert augeas(system, ("path", LIKE, "/etc/ssh/sshd_config.d/%.conf")) == []
    assert augeas(system, ("path", LIKE, "/etc/login%")) == []
    rows = augeas(system, ("path", LIKE, "/etc/ssh/sshd_config.d/%"))
    assert nodes(rows) == {"/files/etc/ssh/sshd_config.d/50-cloud.conf": ""}  # ends in *: no //*
    rows = augeas(system, ("path", LIKE, "/etc/ssh/sshd_config.d/50-cloud.conf"))
    assert nodes(rows)["/files/etc/ssh/sshd_config.d/50-cloud.conf/PasswordAuthentication"] == (
        "yes"
    )


def test_missing_file_gives_no_rows(tmp_path: Path) -> None:
    system = LocalSystem(tmp_path)
    assert augeas(system, ("path", EQ, "/etc/ssh/sshd_config")) == []
    assert augeas(system, ("path", EQ, "/etc/hosts")) == []  # whatever the lens
    assert augeas(system, ("node", EQ, "/files/etc/login.defs/UMASK")) == []


def test_what_the_subset_cannot_answer_fails_with_the_lens(root: Path) -> None:
    system = LocalSystem(root)
    with pytest.raises(TableError, match="/etc/hosts is read by augeas's Hosts lens"):
        augeas(system, ("path", EQ, "/etc/hosts"))
    with pytest.raises(TableError, match="/etc/hosts is read by augeas's Hosts lens"):
        augeas(system, ("node", EQ, "/files/etc/hosts/1/ipaddr"))
    with pytest.raises(TableError, match="/etc/hosts is read by augeas's Hosts lens"):
        augeas(system, ("path", LIKE, "/etc/%"))
    with pytest.raises(TableError, match="/etc is a folder"):
        augeas(system, ("path", EQ, "/etc"))
    with pytest.raises(TableError, match="needs a path or node constraint"):
        augeas(system)
    with pytest.raises(TableError, match="only file nodes"):
        augeas(system, ("node", EQ, "/augeas/load"))


def test_a_line_the_lens_cannot_parse_fails_with_its_number(tmp_path: Path) -> None:
    make_root(tmp_path, {"/etc/login.defs": "PASS_MAX_DAYS 90\nJUSTAKEY\n"})
    with pytest.raises(TableError, match=r"cannot parse line 2 of /etc/login\.defs"):
        augeas(LocalSystem(tmp_path), ("path", EQ, "/etc/login.defs"))


def test_unreadable_file_fails_with_the_reason(root: Path) -> None:
    system = FakeSystem(root, denied={"/etc/ssh/sshd_config"})
    with pytest.raises(TableError, match="cannot read /etc/ssh/sshd_config: permission denied"):
        augeas(system, ("path", EQ, "/etc/ssh/sshd_config"))


def test_match_expression_steps() -> None:
    root = Node("")
    folder = root.add("files").add("f")
    folder.add("a", "1")
    folder.add("a", "2").add("b", "3")
    assert [p.path for p in match_expression(root, "/files/f/a")] == [
        "/files/f/a[1]",
        "/files/f/a[2]",
    ]
    assert [p.path for p in match_expression(root, "/files/f//b")] == ["/files/f/a[2]/b"]
    assert [p.path for p in match_expression(root, "/files/*/a[1]")] == ["/files/f/a[1]"]
    assert match_expression(root, "files/f") == []
    assert match_expression(root, "/files/f/a*") == []


# -- dconf_read -----------------------------------------------------------------------------------

KEY = "/org/gnome/shell/enabled-extensions"
DCONF = ("dconf", "read", KEY)


def dconf(tmp_path: Path, *commands: tuple[tuple[str, ...], object]) -> FakeSystem:
    return FakeSystem(tmp_path, env={"LOGNAME": "ana"}, commands=dict(commands))  # type: ignore[arg-type]


def read(system: FakeSystem, username: str = "ana", key: str = KEY) -> list[Row]:
    terms = [("username", EQ, username)] if username else []
    terms += [("key", EQ, key)] if key else []
    return list(DconfRead(system).generate(context(*terms)))


def test_dconf_read_own_setting(tmp_path: Path) -> None:
    system = dconf(tmp_path, result(DCONF, "['appindicatorsupport@rgcjonas.gmail.com']\n"))
    assert read(system) == [
        {
            "username": "ana",
            "key": KEY,
            "value": "['appindicatorsupport@rgcjonas.gmail.com']\n",  # as fleetd: newline kept
        }
    ]
    assert system.calls == [DCONF]


def test_dconf_read_unset_key_is_empty(tmp_path: Path) -> None:
    assert read(dconf(tmp_path, result(DCONF, "")))[0]["value"] == ""


def test_dconf_read_failures(tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"only your own settings \(ana\).*bo's"):
        read(dconf(tmp_path, result(DCONF, "")), username="bo")
    with pytest.raises(TableError, match="needs a username"):
        read(dconf(tmp_path), username="")
    with pytest.raises(TableError, match="needs a key"):
        read(dconf(tmp_path), key="")
    with pytest.raises(TableError, match="dconf: not installed"):
        read(dconf(tmp_path))
    with pytest.raises(TableError, match="timed out"):
        read(dconf(tmp_path, (DCONF, CommandError("dconf: timed out after 5 s"))))
    with pytest.raises(TableError, match="error: invalid key"):
        read(dconf(tmp_path, result(DCONF, "", stderr="error: invalid key\n", returncode=1)))
    with pytest.raises(TableError, match="cannot tell which user"):
        read(FakeSystem(tmp_path, env={}))


# -- through the embedded engine --------------------------------------------------------------


@pytest.fixture
def engine(root: Path) -> Iterator[EmbeddedEngine]:
    system = FakeSystem(
        root,
        env={"LOGNAME": "ana"},
        commands=dict([result(DCONF, "['appindicatorsupport@rgcjonas.gmail.com']\n")]),
    )
    built = EmbeddedEngine(builtin_tables("linux", system))
    yield built
    built.close()


def test_sshd_shapes(engine: EmbeddedEngine) -> None:
    no_root = """
        SELECT 1 WHERE EXISTS (
          SELECT 1 FROM augeas WHERE path = '/etc/ssh/sshd_config'
            AND label = 'PermitRootLogin' AND value = 'no')
    """
    assert query(engine, no_root) == [{"1": 1}]
    passwords = """
        SELECT COUNT(*) AS n FROM augeas
        WHERE (path = '/etc/ssh/sshd_config' OR path LIKE '/etc/ssh/sshd_config.d/%.conf')
          AND label = 'PasswordAuthentication' AND value = 'yes'
    """
    # "%.conf" is no augeas step (osquery matches no node with it), and the commented-out line
    # is a #comment node, not a setting.
    assert query(engine, passwords) == [{"n": 0}]
    drop_in = """
        SELECT COUNT(*) AS n FROM augeas
        WHERE (path = '/etc/ssh/sshd_config' OR path = '/etc/ssh/sshd_config.d/50-cloud.conf')
          AND label = 'PasswordAuthentication' AND value = 'yes'
    """
    assert query(engine, drop_in) == [{"n": 1}]
    max_days = """
        SELECT 1 WHERE (SELECT CAST(value AS INTEGER) FROM augeas
          WHERE path = '/etc/login.defs' AND label = 'PASS_MAX_DAYS') <= 365
    """
    assert query(engine, max_days) == [{"1": 1}]


def test_augeas_outside_the_subset_is_unknown(engine: EmbeddedEngine) -> None:
    with pytest.raises(QueryError, match="Hosts lens"):
        query(engine, "SELECT * FROM augeas WHERE path = '/etc/hosts'")
    with pytest.raises(QueryError, match="names its files by wildcard"):
        query(engine, "SELECT * FROM augeas WHERE node LIKE '%/PermitRootLogin'")
    # The same node pattern is fine where a path names the file.
    sql = (
        "SELECT value FROM augeas WHERE path = '/etc/ssh/sshd_config' "
        "AND node LIKE '%/PermitRootLogin'"
    )
    assert query(engine, sql) == [{"value": "no"}]


def test_dconf_shape(engine: EmbeddedEngine) -> None:
    sql = """
        SELECT 1 WHERE EXISTS (
          SELECT 1 FROM dconf_read WHERE username = 'ana'
            AND key = '/org/gnome/shell/enabled-extensions'
            AND value LIKE '%appindicatorsupport@rgcjonas.gmail.com%')
    """
    assert query(engine, sql) == [{"1": 1}]
    with pytest.raises(QueryError, match="only your own settings"):
        query(engine, sql.replace("'ana'", "'bo'"))
