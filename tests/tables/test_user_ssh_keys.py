"""osquery's `user_ssh_keys` on fake roots, and through the embedded engine in Fleet's shapes.

The key files are built here from DER structures of our own (numbers of the right sizes, no real
key): the table reads only their structure. Their expected columns are the values OpenSSL gives
for real keys of the same kinds (checked by hand against OpenSSL 3.0 when the table was written).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables import user_ssh_keys as ssh_keys_module
from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.user_ssh_keys import (
    DarwinUserSshKeys,
    LinuxUserSshKeys,
    ec_security_bits,
    ffc_security_bits,
    ifc_security_bits,
    parse_private_key,
)
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import make_root
from tests.tables.linux.helpers import query_rows as query

EQ = Operator.EQUALS


def der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def seq(*items: bytes) -> bytes:
    return der(0x30, b"".join(items))


def integer(bits: int) -> bytes:
    """A DER INTEGER with exactly `bits` significant bits (a stand-in, not a key's number)."""
    value = (1 << (bits - 1)) | 1 if bits else 0
    body = value.to_bytes(max(1, (bits + 8) // 8), "big")
    return der(0x02, body)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, bytes(body))


def octets(content: bytes) -> bytes:
    return der(0x04, content)


def pem(label: str, body: bytes, headers: str = "") -> bytes:
    text = base64.b64encode(body).decode()
    lines = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{headers}{lines}\n-----END {label}-----\n".encode()


def openssh(cipher: str) -> bytes:
    name = cipher.encode()
    body = b"openssh-key-v1\x00" + len(name).to_bytes(4, "big") + name + b"\x00" * 40
    text = base64.b64encode(body).decode()
    return (
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{text}\n-----END OPENSSH PRIVATE KEY-----\n"
    ).encode()


def rsa_pkcs1(bits: int) -> bytes:
    return seq(integer(0), integer(bits), *(integer(bits // 2) for _ in range(7)))


RSA_2048 = pem("RSA PRIVATE KEY", rsa_pkcs1(2048))
RSA_1500_PKCS8 = pem(
    "PRIVATE KEY",
    seq(integer(0), seq(oid("1.2.840.113549.1.1.1"), der(0x05, b"")), octets(rsa_pkcs1(1500))),
)
EC_384 = pem(
    "EC PRIVATE KEY",
    seq(integer(1), octets(b"\x01" * 48), der(0xA0, oid("1.3.132.0.34")), der(0xA1, b"\x00")),
)
EC_256_PKCS8 = pem(
    "PRIVATE KEY",
    seq(
        integer(0),
        seq(oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")),
        octets(seq(integer(1), octets(b"\x01" * 32))),
    ),
)
ED25519_PKCS8 = pem("PRIVATE KEY", seq(integer(0), seq(oid("1.3.101.112")), octets(b"\x02" * 34)))
DSA_1024 = pem(
    "DSA PRIVATE KEY", seq(integer(0), integer(1024), integer(160), *(integer(1000),) * 3)
)
LEGACY_ENCRYPTED = pem(
    "RSA PRIVATE KEY",
    b"\x07" * 64,
    "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n",
)
PKCS8_ENCRYPTED = pem("ENCRYPTED PRIVATE KEY", seq(seq(oid("1.2.840.113549.1.5.13")), octets(b"x")))

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
    "bob:x:1001:1001:Bob:/home/bob/:/bin/bash\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_root(
        tmp_path,
        {
            "/etc/passwd": PASSWD,
            "/home/alice/.ssh/id_rsa": RSA_2048,
            "/home/alice/.ssh/id_rsa.pub": "ssh-rsa AAAAB3Nza alice@host\n",
            "/home/alice/.ssh/id_ed25519": openssh("none"),
            "/home/alice/.ssh/id_ecdsa": EC_384,
            "/home/alice/.ssh/known_hosts": "host ssh-ed25519 AAAAC3Nz\n",
            "/home/alice/.ssh/.old_key": RSA_2048,
            "/home/alice/.ssh/archive/id_rsa": RSA_2048,
            "/home/bob/.ssh/id_ed25519": openssh("aes256-ctr"),
            "/home/bob/.ssh/legacy": LEGACY_ENCRYPTED,
            "/home/bob/.ssh/pkcs8_encrypted": PKCS8_ENCRYPTED,
            "/home/bob/.ssh/pkcs8_ed25519": ED25519_PKCS8,
            "/home/bob/.ssh/pkcs8_ec": EC_256_PKCS8,
            "/home/bob/.ssh/pkcs8_rsa": RSA_1500_PKCS8,
            "/home/bob/.ssh/dsa": DSA_1024,
            "/root/.profile": "",
        },
    )
    return tmp_path


def context(*terms: tuple[str, Operator, str]) -> QueryContext:
    return QueryContext(tuple(Constraint(column, op, expr) for column, op, expr in terms))


def key_rows(system: FakeSystem, *terms: tuple[str, Operator, str], uid: int = 1000):
    return list(LinuxUserSshKeys(system, uid=uid).generate(context(*terms)))


def summary(rows: list[dict[str, object]]) -> dict[object, tuple[object, ...]]:
    return {
        row["path"]: (
            row["encrypted"],
            row["key_type"],
            row["key_group_name"],
            row["key_length"],
            row["key_security_bits"],
        )
        for row in rows
    }


def test_private_keys_are_told_apart_as_openssl_tells_them(root: Path) -> None:
    alice = key_rows(FakeSystem(root), ("uid", EQ, "1000"))
    assert summary(alice) == {
        "/home/alice/.ssh/id_ecdsa": (0, "ec", "secp384r1", 384, 192),
        "/home/alice/.ssh/id_ed25519": (0, "", "", -1, -1),
        "/home/alice/.ssh/id_rsa": (0, "rsa", "", 2048, 112),
    }
    assert [row["path"] for row in alice] == sorted(row["path"] for row in alice)
    assert {(row["uid"], row["pid_with_namespace"]) for row in alice} == {(1000, 0)}
    bob = key_rows(FakeSystem(root), ("uid", EQ, "1001"))
    assert summary(bob) == {
        "/home/bob/.ssh/dsa": (0, "dsa", "", 1024, 80),
        "/home/bob/.ssh/id_ed25519": (1, "", "", -1, -1),
        "/home/bob/.ssh/legacy": (1, "", "", -1, -1),
        "/home/bob/.ssh/pkcs8_ec": (0, "ec", "prime256v1", 256, 128),
        "/home/bob/.ssh/pkcs8_ed25519": (0, "", "", 256, 128),
        "/home/bob/.ssh/pkcs8_encrypted": (1, "", "", -1, -1),
        "/home/bob/.ssh/pkcs8_rsa": (0, "rsa", "", 1500, 96),
    }


def test_security_bits_follow_openssl() -> None:
    assert [ifc_security_bits(b) for b in (512, 1024, 1500, 2048, 3072, 4096, 5000, 8192)] == [
        56,
        80,
        96,
        112,
        128,
        152,
        160,
        200,
    ]
    assert ffc_security_bits(1024, 160) == 80
    assert ffc_security_bits(2048, 224) == 112
    assert ffc_security_bits(3072, 256) == 128
    assert [ec_security_bits(b) for b in (192, 224, 256, 384, 521)] == [80, 112, 128, 192, 256]


def test_files_that_are_no_private_keys_give_no_rows() -> None:
    for content in (
        b"",
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me@host\n",
        b"Host *\n  IdentityFile ~/.ssh/id_rsa\n",
        b"-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----\n",
        pem("RSA PRIVATE KEY", seq(integer(0), integer(2048))),
        pem("CERTIFICATE", seq(integer(1))),
        pem("PRIVATE KEY", seq(integer(0), seq(oid("1.2.3.4")), octets(b"x"))),
    ):
        assert parse_private_key(content) is None, content


def test_openssh_encryption_is_read_from_the_cipher_name() -> None:
    assert parse_private_key(openssh("none")).encrypted is False  # type: ignore[union-attr]
    assert parse_private_key(openssh("aes256-ctr")).encrypted is True  # type: ignore[union-attr]
    # osquery skips exactly one character after the header: with CRLF it sees "\n" and calls
    # the key encrypted.
    crlf = openssh("none").replace(b"\n", b"\r\n")
    assert parse_private_key(crlf).encrypted is True  # type: ignore[union-attr]


def test_without_a_uid_only_the_running_users_keys_are_listed(root: Path) -> None:
    assert {row["uid"] for row in key_rows(FakeSystem(root), uid=1001)} == {1001}
    assert key_rows(FakeSystem(root), uid=4321) == []  # no such user: no keys


def test_a_user_not_in_passwd_is_asked_of_nss(root: Path) -> None:
    system = FakeSystem(
        root,
        commands=dict(
            [
                result(["getent", "passwd", "5001"], "carol:x:5001:5001::/home/alice:/bin/sh\n"),
                result(["getent", "passwd", "404"], returncode=2),
            ]
        ),
    )
    found = key_rows(system, ("uid", EQ, "5001"), ("uid", EQ, "404"))
    assert {row["uid"] for row in found} == {5001}
    assert len(found) == 3


def test_a_home_only_root_could_look_into_fails_with_the_reason(root: Path) -> None:
    system = FakeSystem(root, denied={"/home/bob/.ssh"})
    with pytest.raises(TableError, match=r"cannot list /home/bob/\.ssh: permission denied \(osq"):
        key_rows(system, ("uid", EQ, "1001"))
    system = FakeSystem(root, denied={"/home/bob/.ssh/legacy"})
    with pytest.raises(TableError, match=r"cannot read /home/bob/\.ssh/legacy: permission") as err:
        key_rows(system, ("uid", EQ, "1001"))
    assert "ENCRYPTED" not in str(err.value)


def test_only_a_bounded_part_of_each_file_is_read(root: Path, monkeypatch) -> None:
    monkeypatch.setattr(ssh_keys_module, "MAX_KEY_FILE_BYTES", 40)
    assert key_rows(FakeSystem(root), ("uid", EQ, "1000")) != []  # OpenSSH header fits
    assert summary(key_rows(FakeSystem(root), ("uid", EQ, "1000"))).keys() == {
        "/home/alice/.ssh/id_ed25519"
    }


def test_keys_in_a_process_namespace(root: Path) -> None:
    system = FakeSystem(root)
    system.write("/proc/77/root/etc/passwd", "app:x:900:900::/srv/app:/bin/false\n")
    system.write("/proc/77/root/srv/app/.ssh/id_rsa", RSA_2048)
    found = key_rows(system, ("uid", EQ, "900"), ("pid_with_namespace", EQ, "77"))
    assert [(r["path"], r["uid"], r["pid_with_namespace"]) for r in found] == [
        ("/srv/app/.ssh/id_rsa", 900, 77)
    ]


def test_macos_columns_have_no_namespace() -> None:
    assert "pid_with_namespace" not in {c.name for c in DarwinUserSshKeys.columns}
    assert "pid_with_namespace" in {c.name for c in LinuxUserSshKeys.columns}


def engine_for(system: FakeSystem, uid: int) -> EmbeddedEngine:
    tables = [t for t in builtin_tables("linux", system) if t.name != "user_ssh_keys"]
    return EmbeddedEngine([*tables, LinuxUserSshKeys(system, uid=uid)])


NO_UNENCRYPTED_KEYS = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM users CROSS JOIN user_ssh_keys USING (uid) "
    "WHERE encrypted = '0')"
)


def test_fleet_shapes_through_the_embedded_engine(root: Path) -> None:
    engine = engine_for(FakeSystem(root), uid=1000)
    unencrypted = query(
        engine,
        "SELECT uid, username, description, path, encrypted FROM users "
        "CROSS JOIN user_ssh_keys USING (uid) WHERE encrypted = 0 ORDER BY path",
    )
    assert [(r["username"], r["path"]) for r in unencrypted] == [
        ("alice", "/home/alice/.ssh/id_ecdsa"),
        ("alice", "/home/alice/.ssh/id_ed25519"),
        ("alice", "/home/alice/.ssh/id_rsa"),
        ("bob", "/home/bob/.ssh/dsa"),
        ("bob", "/home/bob/.ssh/pkcs8_ec"),
        ("bob", "/home/bob/.ssh/pkcs8_ed25519"),
        ("bob", "/home/bob/.ssh/pkcs8_rsa"),
    ]
    assert query(engine, NO_UNENCRYPTED_KEYS) == []  # fails: unencrypted keys exist
    assert query(engine, "SELECT COUNT(*) AS n FROM user_ssh_keys") == [{"n": 3}]


def test_fleet_policy_passes_when_every_key_is_encrypted(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/etc/passwd": PASSWD,
            "/home/bob/.ssh/id_ed25519": openssh("aes256-ctr"),
            "/home/bob/.ssh/legacy": LEGACY_ENCRYPTED,
        },
    )
    assert query(engine_for(FakeSystem(tmp_path), uid=1001), NO_UNENCRYPTED_KEYS) == [{"1": 1}]


def test_fleet_policy_cannot_judge_a_home_it_cannot_see(root: Path) -> None:
    engine = engine_for(FakeSystem(root, denied={"/root/.ssh", "/root"}), uid=1000)
    (root / "root/.ssh").mkdir()
    with pytest.raises(QueryError, match="permission denied"):
        query(engine, NO_UNENCRYPTED_KEYS)
