"""The device token a login page gets: its payload, the nonce rules, and signing it.

The payload (a JSON object, signed as a compact JWS with ES256 by the device key):

- `nonce`: the login server's nonce, as the page passed it (`validate_nonce`: 16 to 256 URL-safe
  characters, A-Z a-z 0-9 - _ . ~);
- `aud`: the page's origin in its RFC 6454 serialisation (`verify.serialize_origin`: scheme and
  host in lower case, no default port, no trailing slash; what browsers send), or "local" for a
  local program;
- `iat`, `exp`: seconds since the epoch; `exp` is `iat` + `TOKEN_LIFETIME_SECONDS` (300);
- `status`: the device's overall status (PASS, NUDGE, FAIL), `practices`: each practice's key
  and status;
- `policySha256`: hex SHA-256 of the page's policy in canonical form (`canonical_policy`), or
  null when the page sent none; `policyVersion`: the version of IT's policy in force
  (`policy_files_version`: a SHA-256 over IT's policy files);
- `appVersion`, `keyProtection` (tpm, secure-enclave or software).

The canonical form of a page policy is RFC 8785's JSON Canonicalization Scheme for the JSON a
page sends: object members sorted by name, no whitespace, UTF-8 (characters beyond ASCII as
they are), numbers as JavaScript writes them (`JSON.stringify`: 2.0 is `2`). A page computes
the same bytes with `JSON.stringify` of the policy with sorted keys.

A nonce is signed once per origin: a ledger remembers each (origin, nonce), the origin in the
same serialisation as `aud` (so `HTTPS://LOGIN.EXAMPLE.COM` is the same origin as
`https://login.example.com`, and gets the same token), with its token for
the token's lifetime and a clock-skew margin (`NONCE_KEEP_SECONDS`, six minutes), and gives the
same token again when asked again, never a second, different one; it holds a bounded number of
nonces (then it refuses new ones until some expire).

Where the ledger lives (a decision): in a file, `FileNonceLedger`, `nonce-ledger.json` in the
user's state folder (`platformdirs.user_state_dir("stethoscope")`), not only in the signing
process's memory (`NonceLedger`). With a ledger in memory, the scan worker that signed a token
had to stay up for six minutes after it, since a worker started later would not know the nonce
and could sign it again; with the file, the worker leaves after its normal idle time, and a
worker started later, a `serve` process, or two of them at once (a lock file serialises them)
all see the same ledger. The file is small and bounded (`MAX_FILE_REMEMBERED` entries, at most
`MAX_LEDGER_FILE_BYTES`), mode 0600, and replaced whole on each change (a temporary file
renamed over it), so a reader never sees half of it.

Failing safe: the ledger exists so that no nonce ends up in two different tokens, so a ledger
that cannot be read whole is never taken as empty. A corrupt file (not JSON, an entry of the
wrong shape, too large, not a regular file) may have held any nonce signed until it was last
written: no token is signed until `NONCE_KEEP_SECONDS` after its modification time (then every
nonce it may have held has expired and a new ledger starts), and `NonceLedgerUnusable` says
until when. A file that cannot be read or written (permissions, a full disk) refuses tokens the
same way, naming the file: a token is handed out only after its nonce is on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import stat
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from stethoscope_desktop import __version__
from stethoscope_desktop.core.files import (
    make_private_folder,
    remove_stale_temporaries,
    write_atomically,
)
from stethoscope_desktop.core.origins import LOCAL_AUDIENCE as LOCAL_AUDIENCE
from stethoscope_desktop.core.origins import serialize_origin
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.report_store import file_sha256
from stethoscope_desktop.device_trust.jws import sign_compact
from stethoscope_desktop.device_trust.keys import DeviceKey

TOKEN_LIFETIME_SECONDS = 300
# How long past a token's exp its nonce is still remembered (a verifier's clock-skew leeway).
NONCE_MARGIN_SECONDS = 60
NONCE_KEEP_SECONDS = TOKEN_LIFETIME_SECONDS + NONCE_MARGIN_SECONDS
MAX_REMEMBERED = 10_000
# The ledger file's bounds: each entry holds its token (well under 4 KiB).
MAX_FILE_REMEMBERED = 1_000
MAX_LEDGER_FILE_BYTES = 8 * 1024 * 1024
LEDGER_FILE = "nonce-ledger.json"
_LEDGER_FORMAT = 1
NONCE_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,256}")


log = logging.getLogger(__name__)


class AttestationRefused(ValueError):
    """A request the app does not sign (a bad nonce, too many at once); the message says why."""


class AudienceRefused(AttestationRefused):
    """The audience is not an origin (scheme://host[:port]) nor "local"."""


def token_audience(origin: str) -> str:
    """Return the `aud` of a token for `origin` (and its nonce ledger key); AudienceRefused.

    The RFC 6454 serialisation of the origin (`verify.serialize_origin`), "local" as it is: one
    origin has one spelling, so two spellings of it never get two tokens for one nonce.
    """
    audience = serialize_origin(origin)
    if audience is None:
        raise AudienceRefused(f"{origin!r} is not an origin (scheme://host[:port]) nor local")
    return audience


class NonceLedgerUnusable(Exception):
    """The nonce ledger file cannot be read or written whole: no token until it can (it says)."""


def validate_nonce(nonce: object) -> str:
    """Return `nonce` if it is 16 to 256 URL-safe characters; AttestationRefused if not."""
    if not isinstance(nonce, str) or NONCE_PATTERN.fullmatch(nonce) is None:
        raise AttestationRefused(
            "the nonce must be 16 to 256 URL-safe characters (A-Z, a-z, 0-9, -, _, ., ~)"
        )
    return nonce


def canonical_policy(policy: Any) -> bytes:
    """Return the canonical bytes of a page's policy (JSON values: dict, list, str, numbers...)."""
    return _canonical(policy).encode("utf-8")


def _canonical(value: Any) -> str:
    if isinstance(value, Mapping):
        members = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_canonical(k)}:{_canonical(v)}" for k, v in members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, float) and not isinstance(value, bool):
        return _number(value)
    return json.dumps(value, ensure_ascii=False)


def _number(value: float) -> str:
    """Write a float as JavaScript's Number.prototype.toString does (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise AttestationRefused("the policy holds a number JSON cannot write (NaN, Infinity)")
    if value == 0:
        return "0"
    # The shortest digits that read back (Python's repr and JavaScript agree on them), and n
    # such that the value is 0.<digits> x 10^n.
    parts = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in parts.digits)
    assert isinstance(parts.exponent, int)
    n = parts.exponent + len(digits)
    sign = "-" if value < 0 else ""
    if len(digits) <= n <= 21:
        return sign + digits + "0" * (n - len(digits))
    if 0 < n <= 21:
        return f"{sign}{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"{sign}0.{'0' * -n}{digits}"
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if n - 1 > 0 else '-'}{abs(n - 1)}"


def policy_sha256(policy: Any) -> str | None:
    """Return the hex SHA-256 of the canonical page policy, None when there is none."""
    return None if policy is None else hashlib.sha256(canonical_policy(policy)).hexdigest()


def policy_files_version(paths: Iterable[str | Path]) -> str:
    """Return "sha256:<hex>" over IT's policy files in force (their names and contents).

    A file that cannot be read counts by its name and the error, so a version is always given.
    Each file is read as the report's `policy_sha256` reads it (`report_store.file_sha256`:
    bounded, and a named pipe is an error instead of a wait).
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        try:
            digest.update(file_sha256(str(path)))
        except OSError as error:
            digest.update(f"unreadable: {error.strerror}".encode())
    return f"sha256:{digest.hexdigest()}"


def token_payload(
    report: Report,
    *,
    nonce: str,
    audience: str,
    key_protection: str,
    page_policy: Any = None,
    policy_version: str = "",
    now: float | None = None,
    app_version: str = __version__,
) -> dict[str, Any]:
    """Return the payload of a device token for `report` (see the module's docstring)."""
    validate_nonce(nonce)
    issued = int(time.time() if now is None else now)
    return {
        "nonce": nonce,
        "aud": audience,
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME_SECONDS,
        "status": str(report.status),
        "practices": {practice.key: str(practice.status) for practice in report.practices},
        "policySha256": policy_sha256(page_policy),
        "policyVersion": policy_version,
        "appVersion": app_version,
        "keyProtection": key_protection,
    }


def sign_token(key: DeviceKey, payload: Mapping[str, Any]) -> str:
    """Return `payload` signed by the device key as a compact JWS (alg ES256, kid)."""
    return sign_compact(payload, key.kid, key.sign)


class NonceLedger:
    """The tokens signed in the last few minutes, by (origin, nonce). Thread-safe."""

    persistent = False
    """True when the ledger outlives the process (a file)."""

    def __init__(
        self,
        *,
        keep_seconds: float = NONCE_KEEP_SECONDS,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        """Remember each nonce `keep_seconds`, at most `max_remembered` at once."""
        self._keep = keep_seconds
        self._max = max_remembered
        self._tokens: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Return how many nonces are remembered."""
        return len(self._tokens)

    def token_for(self, origin: str, nonce: str, now: float | None = None) -> str | None:
        """Return the token already signed for this origin and nonce, if any."""
        now = time.time() if now is None else now
        with self._lock:
            self._forget_old(now)
            found = self._tokens.get((origin, nonce))
            return found[1] if found else None

    def record(self, origin: str, nonce: str, token: str, now: float | None = None) -> str:
        """Remember `token` as this origin's for `nonce`; return the token to hand out.

        That is the one recorded first if the nonce was already signed for this origin (two
        requests at once), so a nonce never ends up in two different tokens. AttestationRefused
        when `max_remembered` nonces are remembered.
        """
        now = time.time() if now is None else now
        with self._lock:
            self._forget_old(now)
            handed, _ = self._admit(self._tokens, origin, nonce, token, now)
            return handed

    def _admit(
        self,
        tokens: OrderedDict[tuple[str, str], tuple[float, str]],
        origin: str,
        nonce: str,
        token: str,
        now: float,
    ) -> tuple[str, bool]:
        """Return the token to hand out for (origin, nonce) and whether `token` was added.

        The one in `tokens` already, else `token`, added; AttestationRefused when it is full.
        """
        found = tokens.get((origin, nonce))
        if found:
            return found[1], False
        if len(tokens) >= self._max:
            raise AttestationRefused(
                f"more than {self._max} tokens were asked for in {self._keep:.0f} seconds; "
                "try again later"
            )
        tokens[(origin, nonce)] = (now, token)
        return token, True

    def _forget_old(self, now: float) -> None:
        while self._tokens:
            first_time, _ = next(iter(self._tokens.values()))
            if now - first_time < self._keep:
                break
            self._tokens.popitem(last=False)


def default_ledger_path() -> Path:
    """Return the nonce ledger file in the user's state folder."""
    import platformdirs

    return Path(platformdirs.user_state_dir("stethoscope", appauthor=False)) / LEDGER_FILE


class FileNonceLedger(NonceLedger):
    """The nonce ledger in a file shared by this user's processes (see the module docstring)."""

    persistent = True

    def __init__(
        self,
        path: Path,
        *,
        keep_seconds: float = NONCE_KEEP_SECONDS,
        max_remembered: int = MAX_FILE_REMEMBERED,
    ) -> None:
        """Keep the ledger in `path` (its folder is made when the first nonce is recorded)."""
        super().__init__(keep_seconds=keep_seconds, max_remembered=max_remembered)
        self.path = path
        self._swept = False

    def __len__(self) -> int:
        """Return how many nonces the file remembers now."""
        with self._locked():
            return len(self._load(time.time()))

    def token_for(self, origin: str, nonce: str, now: float | None = None) -> str | None:
        """Return the token already signed for this origin and nonce (by any process), if any."""
        now = time.time() if now is None else now
        with self._locked():
            found = self._load(now).get((origin, nonce))
        return found[1] if found else None

    def record(self, origin: str, nonce: str, token: str, now: float | None = None) -> str:
        """Record `token` in the file unless the nonce is there; return the token to hand out.

        NonceLedgerUnusable if the file cannot be read or written whole.
        """
        now = time.time() if now is None else now
        with self._locked():
            tokens = self._load(now)
            handed, added = self._admit(tokens, origin, nonce, token, now)
            if not added:
                return handed
            if not self._swept:  # what a writer killed mid-write left, once per process
                remove_stale_temporaries(self.path)
                self._swept = True
            entries = [
                {"origin": o, "nonce": n, "at": at, "token": t}
                for (o, n), (at, t) in tokens.items()
            ]
            data = json.dumps({"format": _LEDGER_FORMAT, "entries": entries}).encode()
            try:
                write_atomically(self.path, data, mode=0o600)
            except OSError as error:
                raise NonceLedgerUnusable(
                    f"cannot write the nonce ledger {self.path}: {error.strerror or error}; no "
                    "device token is handed out before its nonce is recorded"
                ) from None
            return token

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold this process's lock and the lock file beside the ledger (other processes)."""
        with self._lock:
            lock_path = self.path.with_name(f"{self.path.name}.lock")
            try:
                make_private_folder(self.path.parent)
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as error:
                raise NonceLedgerUnusable(
                    f"cannot lock the nonce ledger {self.path} ({lock_path}): "
                    f"{error.strerror or error}"
                ) from None
            try:
                with _file_locked(fd, lock_path):
                    yield
            finally:
                os.close(fd)

    def _load(self, now: float) -> OrderedDict[tuple[str, str], tuple[float, str]]:
        """Return the file's live entries, oldest first; fail safe on a file not read whole."""
        try:
            # Non-blocking: a FIFO in its place must not hang the app; binary on Windows.
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            return OrderedDict()
        except OSError as error:
            raise NonceLedgerUnusable(
                f"cannot read the nonce ledger {self.path}: {error.strerror or error}"
            ) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            problem: str | None = "not a regular file"
            data = b""
        else:
            problem = None
            with os.fdopen(fd, "rb") as file:
                data = file.read(MAX_LEDGER_FILE_BYTES + 1)
        if problem is None and len(data) > MAX_LEDGER_FILE_BYTES:
            problem = f"larger than {MAX_LEDGER_FILE_BYTES} bytes"
        tokens: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
        if problem is None:
            try:
                for origin, nonce, at, token in _ledger_entries(data):
                    if (origin, nonce) in tokens:  # never written so: which one was handed out?
                        raise ValueError("a nonce is in it twice")
                    if now - at < self._keep:
                        tokens[(origin, nonce)] = (at, token)
            except ValueError as error:
                problem = str(error)
        if problem is not None:
            # Any nonce signed until it was last written may be in it: none is signed again
            # until all of those have expired.
            until = info.st_mtime + self._keep
            if now < until:
                raise NonceLedgerUnusable(
                    f"the nonce ledger {self.path} is corrupt ({problem}); no device token until "
                    f"{time.strftime('%H:%M:%S', time.localtime(until))}, when every nonce it may "
                    "hold has expired"
                )
            log.warning(
                "the nonce ledger %s was corrupt (%s); starting a new one", self.path, problem
            )
            return OrderedDict()
        return OrderedDict(sorted(tokens.items(), key=lambda item: item[1][0]))


def _ledger_entries(data: bytes) -> Iterator[tuple[str, str, float, str]]:
    """Yield (origin, nonce, at, token) of a ledger file; ValueError naming what is wrong."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("not JSON") from None
    if not isinstance(document, dict) or document.get("format") != _LEDGER_FORMAT:
        raise ValueError(f"not a ledger of format {_LEDGER_FORMAT}")
    entries = document.get("entries")
    if not isinstance(entries, list):
        raise ValueError("no list of entries")
    for entry in entries:
        values = [entry.get(k) if isinstance(entry, dict) else None for k in _ENTRY_MEMBERS]
        origin, nonce, at, token = values
        if not (
            isinstance(origin, str)
            and isinstance(nonce, str)
            and isinstance(at, int | float)
            and not isinstance(at, bool)
            and math.isfinite(at)
            and isinstance(token, str)
        ):
            raise ValueError("an entry is not {origin, nonce, at, token}")
        yield origin, nonce, float(at), token


_ENTRY_MEMBERS = ("origin", "nonce", "at", "token")


@contextlib.contextmanager
def _file_locked(fd: int, path: Path) -> Iterator[None]:
    """Hold the exclusive lock on the open file `fd` (its first byte on Windows)."""
    try:
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for about 10 s, then OSError
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as error:
        raise NonceLedgerUnusable(
            f"cannot lock the nonce ledger's lock file {path}: {error.strerror or error}"
        ) from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if sys.platform == "win32":
                import msvcrt

                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Attestation:
    """A signed device token and how its key is kept."""

    token: str
    key_protection: str


class Attester:
    """Signs device tokens with one device key, each nonce once per origin."""

    def __init__(self, key: DeviceKey, ledger: NonceLedger | None = None) -> None:
        """Sign with `key`; `ledger` remembers the nonces signed (a new one by default)."""
        self.key = key
        self.ledger = ledger if ledger is not None else NonceLedger()
        self._signing = threading.Lock()

    def attest(
        self,
        report: Report,
        *,
        nonce: str,
        audience: str,
        page_policy: Any = None,
        policy_version: str = "",
        now: float | None = None,
    ) -> Attestation:
        """Return the token for this nonce and audience (the same one if asked again).

        `audience` is the page's origin as it came, or "local": the token's `aud` and the
        ledger's key are its serialisation (`token_audience`). AttestationRefused for a bad
        nonce or too many (AudienceRefused for an audience that is no origin); DeviceKeyError
        if the key cannot sign.
        """
        validate_nonce(nonce)
        audience = token_audience(audience)
        now = time.time() if now is None else now
        # One signature at a time: a TPM signs one after another anyway, and two requests with
        # the same nonce then get the same token without signing twice.
        with self._signing:
            known = self.ledger.token_for(audience, nonce, now)
            if known is None:
                payload = token_payload(
                    report,
                    nonce=nonce,
                    audience=audience,
                    key_protection=self.key.protection,
                    page_policy=page_policy,
                    policy_version=policy_version,
                    now=now,
                )
                known = self.ledger.record(audience, nonce, sign_token(self.key, payload), now)
        return Attestation(known, self.key.protection)
