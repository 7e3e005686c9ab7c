"""osquery's `user_ssh_keys` on Linux and macOS: the private keys in users' ~/.ssh folders.

As osquery fills it (osquery/tables/system/ssh_keys.cpp):
- Which users: with `uid = N` constraints, each user with that uid in `users` (on Linux, when
  /etc/passwd has none, the one NSS gives: `users` with `include_remote = 1`); without one, only
  the user running the query (osquery's usersFromContext). That is why Fleet's policies join
  `users CROSS JOIN user_ssh_keys USING (uid)`: every user's uid then reaches the table.
- Which files: every file directly in `<home>/.ssh` (glob `*`: no dot files, no folders), in
  name order; a missing ~/.ssh gives no rows. A file is a row only if it parses as a private key:
  a PEM private key (PKCS#1 `RSA PRIVATE KEY`, `DSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, PKCS#8
  `PRIVATE KEY` and `ENCRYPTED PRIVATE KEY`), or a file starting with OpenSSH's own
  `-----BEGIN OPENSSH PRIVATE KEY-----` header. Public keys, known_hosts and config are no rows.
- `encrypted`: 1 for a PEM key with a `Proc-Type: 4,ENCRYPTED` header or in PKCS#8's encrypted
  form; for an OpenSSH key, 0 exactly when its base64 body begins with the encoding of
  "openssh-key-v1", NUL, and the cipher name "none" (osquery compares that prefix after the
  header and one line break character).
- `key_type` as osquery names OpenSSL's key ids: "rsa", "dsa", "ec", or "" (Ed25519/Ed448/X25519
  keys, OpenSSH-format keys and encrypted keys, which OpenSSL does not open without the
  passphrase). `key_length` is OpenSSL's EVP_PKEY_bits (the modulus or prime size, the curve's
  order size, 256 for Ed25519) and `key_security_bits` OpenSSL's security bits; both -1 when
  unknown (encrypted and OpenSSH-format keys). `key_group_name` is the curve as OpenSSL names it
  ("prime256v1", "secp384r1", "secp521r1"), "" otherwise.
- On Linux, `pid_with_namespace = N` reads users and homes as process N sees them
  (/proc/N/root/...): only your own processes' roots are readable without root.

Differences, because this runs as you and osquery as root: when a user's ~/.ssh (or one of its
files) is something osquery would see and you may not (another user's home that is private), the
query fails with a reason instead of answering from fewer keys, as `file` does: a policy "no
unencrypted keys" must not pass because the keys it should judge were unreadable. Without a `uid`
constraint the keys are yours (osquery as a daemon would give root's).

Bounds: only the first MAX_KEY_FILE_BYTES of each file are read (a private key is a few kB; a
key further into a larger file is not seen), a ~/.ssh with more than MAX_FILES entries fails.
No key material leaves this module: rows carry only the columns above and errors name paths.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from stethoscope_desktop.tables.base import (
    Column,
    Constraint,
    Operator,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
)
from stethoscope_desktop.tables.file import PathStyle, permission_denied
from stethoscope_desktop.tables.system import System

MAX_KEY_FILE_BYTES = 1024 * 1024
MAX_FILES = 10_000
SSH_FOLDER = ".ssh"

OPENSSH_HEADER = b"-----BEGIN OPENSSH PRIVATE KEY-----"
# base64 of b"openssh-key-v1\0" + uint32 4 + b"none": an OpenSSH key whose cipher is "none".
OPENSSH_UNENCRYPTED_PREFIX = base64.b64encode(b"openssh-key-v1\x00\x00\x00\x00\x04none")[:31]

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_PRIVATE_KEY_LABELS = frozenset(
    {"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "DSA PRIVATE KEY", "EC PRIVATE KEY"}
)

_OID_RSA = "1.2.840.113549.1.1.1"
_OID_DSA = "1.2.840.10040.4.1"
_OID_EC = "1.2.840.10045.2.1"
# Keys OpenSSL opens but osquery's key_type names "": (bits, security bits).
_OID_EDWARDS = {
    "1.3.101.110": (253, 128),  # X25519
    "1.3.101.111": (448, 224),  # X448
    "1.3.101.112": (256, 128),  # Ed25519 (OpenSSL 3; 1.1 said 253)
    "1.3.101.113": (456, 224),  # Ed448
}
# Named curves: OpenSSL's short name and the size of the group's order in bits.
_CURVES = {
    "1.2.840.10045.3.1.7": ("prime256v1", 256),
    "1.3.132.0.34": ("secp384r1", 384),
    "1.3.132.0.35": ("secp521r1", 521),
    "1.3.132.0.10": ("secp256k1", 256),
    "1.3.132.0.33": ("secp224r1", 224),
    "1.2.840.10045.3.1.1": ("prime192v1", 192),
}

_COLUMNS = (
    Column("uid", "bigint"),
    Column("path", "text", index=True),
    Column("encrypted", "integer"),
    Column("key_type"),
    Column("key_group_name"),
    Column("key_length", "integer"),
    Column("key_security_bits", "integer"),
)


@dataclass(frozen=True)
class PrivateKeyInfo:
    """What osquery reports of a private key: never any of the key itself."""

    encrypted: bool
    key_type: str = ""
    group_name: str = ""
    length: int = -1
    security_bits: int = -1


class _DerError(ValueError):
    """The bytes are not the DER structure expected."""


def _der_item(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """Return (tag, content, next offset) of the DER item at `offset`."""
    if offset + 2 > len(data):
        raise _DerError("truncated")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise _DerError("bad length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise _DerError("truncated")
    return tag, data[offset : offset + length], offset + length


def _der_items(content: bytes) -> list[tuple[int, bytes]]:
    """Return the (tag, content) items that fill `content`."""
    items: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(content):
        tag, item, offset = _der_item(content, offset)
        items.append((tag, item))
    return items


def _der_sequence(data: bytes) -> list[tuple[int, bytes]]:
    """Return the items of the DER SEQUENCE at the start of `data`."""
    tag, content, _ = _der_item(data, 0)
    if tag != 0x30:
        raise _DerError("not a sequence")
    return _der_items(content)


def _der_integer_bits(item: tuple[int, bytes]) -> int:
    tag, content = item
    if tag != 0x02 or not content:
        raise _DerError("not an integer")
    return int.from_bytes(content, "big", signed=False).bit_length()


def _der_oid(item: tuple[int, bytes]) -> str:
    tag, content = item
    if tag != 0x06 or not content:
        raise _DerError("not an object identifier")
    parts = [content[0] // 40, content[0] % 40]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(part) for part in parts)


def ifc_security_bits(bits: int) -> int:
    """Return OpenSSL's security bits of an RSA modulus (ossl_ifc_ffc_compute_security_bits)."""
    canonical = {2048: 112, 3072: 128, 4096: 152, 6144: 176, 7680: 192, 8192: 200, 15360: 256}
    if bits in canonical:
        return canonical[bits]
    if bits >= 687737:
        return 1200
    if bits < 8:
        return 0
    cap = 192 if bits <= 7680 else 256 if bits <= 15360 else 1200
    x = bits * math.log(2)
    estimate = (1.923 * math.cbrt(x * math.log(x) ** 2) - 4.69) / math.log(2)
    return min((int(estimate) + 4) & ~7, cap)


def ffc_security_bits(p_bits: int, q_bits: int) -> int:
    """Return OpenSSL's security bits of a DSA key (BN_security_bits(L, N))."""
    levels = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))
    strength = next((bits for threshold, bits in levels if p_bits >= threshold), 0)
    if strength == 0:
        return 0
    half = q_bits // 2
    return 0 if half < 80 else min(half, strength)


def ec_security_bits(order_bits: int) -> int:
    """Return OpenSSL's security bits of an elliptic curve key of that order size."""
    for threshold, secbits in ((512, 256), (384, 192), (256, 128), (224, 112), (160, 80)):
        if order_bits >= threshold:
            return secbits
    return order_bits // 2


def _rsa(pkcs1: bytes) -> PrivateKeyInfo:
    items = _der_sequence(pkcs1)
    if len(items) < 9:
        raise _DerError("not an RSA private key")
    bits = _der_integer_bits(items[1])
    return PrivateKeyInfo(False, "rsa", "", bits, ifc_security_bits(bits))


def _dsa(p_bits: int, q_bits: int) -> PrivateKeyInfo:
    return PrivateKeyInfo(False, "dsa", "", p_bits, ffc_security_bits(p_bits, q_bits))


def _ec(curve_oid: str) -> PrivateKeyInfo:
    if curve_oid not in _CURVES:
        raise _DerError("unknown curve")
    name, bits = _CURVES[curve_oid]
    return PrivateKeyInfo(False, "ec", name, bits, ec_security_bits(bits))


def _sec1(der: bytes) -> PrivateKeyInfo:
    for tag, content in _der_sequence(der)[2:]:
        if tag == 0xA0:  # [0] parameters: the named curve
            return _ec(_der_oid(_der_items(content)[0]))
    raise _DerError("no curve")


def _pkcs8(der: bytes) -> PrivateKeyInfo:
    items = _der_sequence(der)
    if len(items) < 3 or items[1][0] != 0x30 or items[2][0] != 0x04:
        raise _DerError("not a PKCS#8 key")
    algorithm = _der_items(items[1][1])
    oid = _der_oid(algorithm[0])
    if oid == _OID_RSA:
        return _rsa(items[2][1])
    if oid == _OID_EC:
        return _ec(_der_oid(algorithm[1]))
    if oid == _OID_DSA:
        if algorithm[1][0] != 0x30:
            raise _DerError("no DSA parameters")
        params = _der_items(algorithm[1][1])
        return _dsa(_der_integer_bits(params[0]), _der_integer_bits(params[1]))
    if oid in _OID_EDWARDS:
        bits, security = _OID_EDWARDS[oid]
        return PrivateKeyInfo(False, "", "", bits, security)
    raise _DerError("unknown algorithm")


def _pem_info(label: str, headers: list[bytes], der: bytes) -> PrivateKeyInfo:
    if label == "ENCRYPTED PRIVATE KEY" or any(
        h.replace(b" ", b"").upper() == b"PROC-TYPE:4,ENCRYPTED" for h in headers
    ):
        return PrivateKeyInfo(True)
    if label == "RSA PRIVATE KEY":
        return _rsa(der)
    if label == "DSA PRIVATE KEY":
        items = _der_sequence(der)
        return _dsa(_der_integer_bits(items[1]), _der_integer_bits(items[2]))
    if label == "EC PRIVATE KEY":
        return _sec1(der)
    return _pkcs8(der)


def parse_private_key(content: bytes) -> PrivateKeyInfo | None:
    """Return what osquery reports of a key file's content, or None if it is no private key."""
    for match in _PEM_BLOCK.finditer(content):
        label = match.group(1).decode("ascii")
        if label not in _PRIVATE_KEY_LABELS:
            continue
        lines = match.group(2).splitlines()
        headers = [line for line in lines if b":" in line]
        body = b"".join(line.strip() for line in lines if b":" not in line)
        try:
            der = base64.b64decode(body, validate=True)
            return _pem_info(label, headers, der)
        except (binascii.Error, ValueError, IndexError):
            break
    if content.startswith(OPENSSH_HEADER):
        start = len(OPENSSH_HEADER) + 1
        prefix = content[start : start + len(OPENSSH_UNENCRYPTED_PREFIX)]
        return PrivateKeyInfo(prefix != OPENSSH_UNENCRYPTED_PREFIX)
    return None


def _current_uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return int(getuid()) if getuid is not None else None


class UserSshKeys(TablePlugin):
    """osquery's `user_ssh_keys`: each private key file in the users' ~/.ssh folders."""

    name = "user_ssh_keys"
    columns: ClassVar[tuple[Column, ...]] = _COLUMNS
    platforms: ClassVar[tuple[str, ...]] = ("linux", "darwin")
    platform: ClassVar[str] = "linux"

    def __init__(self, system: System, *, uid: int | None = None) -> None:
        self._system = system
        self._uid = uid if uid is not None else _current_uid()
        self._style = PathStyle.for_platform(self.platform)

    def key_columns(self) -> tuple[str, ...]:
        """Return uid and pid_with_namespace: the constraints osquery's table reads by."""
        return ("uid", "pid_with_namespace")

    def _users_table(self) -> TablePlugin:
        if self.platform == "darwin":
            from stethoscope_desktop.tables.darwin.accounts import Users as DarwinUsers

            return DarwinUsers(self._system)
        from stethoscope_desktop.tables.linux.accounts import Users as LinuxUsers

        return LinuxUsers(self._system)

    def _users(self, context: QueryContext, namespace: list[Constraint]) -> list[Row]:
        users = self._users_table()
        uids = sorted(context.equals("uid"))
        # Only a uid the query names is also asked of NSS (osquery's usersFromContext).
        ask_nss = bool(uids) and self.platform == "linux" and not namespace
        if not uids:
            if self._uid is None:
                return []
            uids = [str(self._uid)]
        found: list[Row] = []
        for uid in uids:
            by_uid = Constraint("uid", Operator.EQUALS, uid)
            chosen = list(users.generate(QueryContext((by_uid, *namespace))))
            if not chosen and ask_nss:
                remote = Constraint("include_remote", Operator.EQUALS, "1")
                chosen = list(users.generate(QueryContext((by_uid, remote))))
            found += chosen
        return found

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Return a row per private key file in the ~/.ssh of each user the query names."""
        pids: list[int] = []
        if self.platform == "linux":
            from stethoscope_desktop.tables.linux.accounts import namespace_pids

            pids = namespace_pids(context)
        rows: list[Row] = []
        for pid in pids or [0]:
            namespace = [Constraint("pid_with_namespace", Operator.EQUALS, str(pid))] if pid else []
            prefix = f"/proc/{pid}/root" if pid else ""
            for user in self._users(context, namespace):
                home, uid = user.get("directory"), user.get("uid")
                if not isinstance(home, str) or not home or uid is None:
                    continue
                for path, info in self._keys(prefix, self._style.join(home, SSH_FOLDER)):
                    row: Row = {
                        "uid": uid,
                        "path": path,
                        "encrypted": int(info.encrypted),
                        "key_type": info.key_type,
                        "key_group_name": info.group_name,
                        "key_length": info.length,
                        "key_security_bits": info.security_bits,
                    }
                    if self.platform == "linux":
                        row["pid_with_namespace"] = pid
                    rows.append(row)
        return rows

    def _keys(self, prefix: str, folder: str) -> list[tuple[str, PrivateKeyInfo]]:
        try:
            if not self._system.stat(prefix + folder).is_dir:
                return []
            names = sorted(self._system.list_dir(prefix + folder))
        except PermissionError:
            raise permission_denied(folder, "list") from None
        except OSError:
            return []
        if len(names) > MAX_FILES:
            raise TableError(f"{folder} holds more than {MAX_FILES:,} entries")
        keys: list[tuple[str, PrivateKeyInfo]] = []
        for name in names:
            if name.startswith("."):
                continue
            path = self._style.join(folder, name)
            try:
                if not self._system.stat(prefix + path).is_regular:
                    continue
                content = self._system.read_bytes(prefix + path, limit=MAX_KEY_FILE_BYTES)
            except PermissionError:
                raise permission_denied(path) from None
            except OSError:
                continue
            info = parse_private_key(content)
            if info is not None:
                keys.append((path, info))
        return keys


class LinuxUserSshKeys(UserSshKeys):
    """`user_ssh_keys` with osquery's Linux columns."""

    columns = (*_COLUMNS, Column("pid_with_namespace", "integer", hidden=True))
    platforms = ("linux",)
    platform = "linux"


class DarwinUserSshKeys(UserSshKeys):
    """`user_ssh_keys` with osquery's macOS columns."""

    columns = _COLUMNS
    platforms = ("darwin",)
    platform = "darwin"
