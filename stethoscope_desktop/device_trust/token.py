"""The device token a login page gets: its payload, the nonce rules, and signing it.

The payload (a JSON object, signed as a compact JWS with ES256 by the device key):

- `nonce`: the login server's nonce, as the page passed it (`validate_nonce`: 16 to 256 URL-safe
  characters, A-Z a-z 0-9 - _ . ~);
- `aud`: the page's origin as the browser sent it, or "local" for a local program;
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

A nonce is signed once per origin: `NonceLedger` remembers each (origin, nonce) with its token
for the token's lifetime and a clock-skew margin, and gives the same token again when asked
again, never a second, different one; it holds at most `MAX_REMEMBERED` nonces (then it refuses
new ones until some expire).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from stethoscope_desktop import __version__
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.device_trust.jws import sign_compact
from stethoscope_desktop.device_trust.keys import DeviceKey

TOKEN_LIFETIME_SECONDS = 300
# How long past a token's exp its nonce is still remembered (a verifier's clock-skew leeway).
NONCE_MARGIN_SECONDS = 60
MAX_REMEMBERED = 10_000
LOCAL_AUDIENCE = "local"
NONCE_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,256}")


class AttestationRefused(ValueError):
    """A request the app does not sign (a bad nonce, too many at once); the message says why."""


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
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        try:
            digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
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

    def __init__(
        self,
        *,
        keep_seconds: float = TOKEN_LIFETIME_SECONDS + NONCE_MARGIN_SECONDS,
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
            found = self._tokens.get((origin, nonce))
            if found:
                return found[1]
            if len(self._tokens) >= self._max:
                raise AttestationRefused(
                    f"more than {self._max} tokens were asked for in {self._keep:.0f} seconds; "
                    "try again later"
                )
            self._tokens[(origin, nonce)] = (now, token)
            return token

    def _forget_old(self, now: float) -> None:
        while self._tokens:
            first_time, _ = next(iter(self._tokens.values()))
            if now - first_time < self._keep:
                break
            self._tokens.popitem(last=False)


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
        self.ledger = ledger or NonceLedger()
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

        AttestationRefused for a bad nonce or too many; DeviceKeyError if the key cannot sign.
        """
        validate_nonce(nonce)
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
