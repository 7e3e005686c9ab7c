"""The login server's side: verify a device token (compact JWS, ES256) against an enrolled key.

`verify_token(token, jwk, nonce=..., origin=...)` returns the token's payload when every check
holds, else raises `TokenRejected` whose `check` names the one that failed:

- `malformed`: not a compact JWS of JSON header and payload, a part that is not canonical
  base64url (padding, other characters, or bits set in its last character that encode nothing:
  the message names the part), or a payload member of the wrong type;
- `alg`: the header's alg is not ES256 (`none`, HS256 and every other algorithm are refused,
  whatever the key);
- `kid`: the header's kid is not the RFC 7638 thumbprint of the key given;
- `key`: the key given is not an EC P-256 public JWK (its `x` and `y` canonical base64url);
- `signature`: the signature does not verify with that key (another key, an edited header or
  payload);
- `nonce`: not the nonce the server issued for this login;
- `audience`: `aud` is not the origin of the login page: both are compared in their RFC 6454
  serialisation (`serialize_origin`: scheme and host in lower case, the scheme's default port
  left out, no trailing slash), the form the app signs; an `aud` that is no origin never
  matches, and an `origin` argument that is no origin (a path, a user name) is a ValueError;
- `expired`, `not-yet-valid`, `lifetime`: `exp` has passed, `iat` is in the future, or `exp` is
  more than `MAX_LIFETIME_SECONDS` after `iat` (each with `leeway_seconds` of clock skew).

The server must also remember each nonce it accepted and refuse it a second time (a replay):
a nonce is single-use on the server's side; this function cannot know what it accepted before.

Depends on `cryptography` only (and the standard library), so a Python login server can copy
this package's `jws.py` and this file, or install the app's package.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stethoscope_desktop.core.origins import LOCAL_AUDIENCE as LOCAL_AUDIENCE
from stethoscope_desktop.core.origins import serialize_origin as serialize_origin
from stethoscope_desktop.device_trust.jws import (
    ALGORITHM,
    JwsError,
    der_signature_from_raw,
    jwk_thumbprint,
    parse_compact,
    public_key_from_jwk,
)

MAX_LIFETIME_SECONDS = 300
DEFAULT_LEEWAY_SECONDS = 30


class TokenRejected(ValueError):
    """A token that does not verify; `check` names the check that failed."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check
        self.message = message


def load_jwk(text_or_path: str) -> dict[str, Any]:
    """Return a JWK given as JSON text or as the path of a file holding it.

    Text that starts with `{` is JSON; anything else is a path. ValueError saying what is wrong.
    """
    text = text_or_path
    source = "the key"
    if not text_or_path.lstrip().startswith("{"):
        path = Path(text_or_path)
        source = str(path)
        try:
            with path.open("rb") as file:
                text = file.read(65_536).decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read the key {path}: {error}") from None
    try:
        jwk = json.loads(text)
    except ValueError:
        raise ValueError(f"{source} is not JSON (a JWK such as device-key prints)") from None
    if not isinstance(jwk, dict):
        raise ValueError(f"{source} is not a JSON object (a JWK such as device-key prints)")
    return jwk


def verify_token(
    token: str,
    jwk: Mapping[str, Any],
    *,
    nonce: str,
    origin: str,
    now: float | None = None,
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
) -> dict[str, Any]:
    """Return the payload of `token` if it verifies; TokenRejected naming the failed check.

    ValueError (not TokenRejected) if `origin` is not an origin nor `local`: the server's own
    mistake, whatever the token.
    """
    if serialize_origin(origin) is None:
        raise ValueError(
            f"{origin!r} is not an origin (scheme://host[:port], as a browser sends it) nor local"
        )
    try:
        jws = parse_compact(token)
    except JwsError as error:
        raise TokenRejected("malformed", str(error)) from None
    alg = jws.header.get("alg")
    if alg != ALGORITHM:
        raise TokenRejected("alg", f"the token's alg is {alg!r}; only {ALGORITHM} is accepted")
    if "crit" in jws.header:
        raise TokenRejected("malformed", "the header has crit extensions, which none understand")
    try:
        thumbprint = jwk_thumbprint(jwk)
        public_key = public_key_from_jwk(jwk)
    except JwsError as error:
        raise TokenRejected("key", str(error)) from None
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or not hmac.compare_digest(kid, thumbprint):
        raise TokenRejected("kid", f"the token's kid {kid!r} is not the key's {thumbprint}")
    _check_signature(public_key, jws.signing_input, jws.signature)
    payload = jws.payload
    _check_claims(payload, nonce, origin, time.time() if now is None else now, leeway_seconds)
    return payload


def _check_signature(public_key: Any, signing_input: bytes, signature: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        der = der_signature_from_raw(signature)
    except JwsError as error:
        raise TokenRejected("signature", str(error)) from None
    try:
        public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TokenRejected(
            "signature", "the signature does not verify with this key (another key, or edited)"
        ) from None


def _check_claims(
    payload: Mapping[str, Any], nonce: str, origin: str, now: float, leeway: float
) -> None:
    got_nonce = payload.get("nonce")
    if not isinstance(got_nonce, str) or not hmac.compare_digest(
        got_nonce.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
    ):
        raise TokenRejected("nonce", "the token's nonce is not the one issued for this login")
    audience = payload.get("aud")
    if not isinstance(audience, str) or serialize_origin(audience) != serialize_origin(origin):
        raise TokenRejected("audience", f"the token is for {audience!r}, not {origin!r}")
    issued, expires = payload.get("iat"), payload.get("exp")
    for name, value in (("iat", issued), ("exp", expires)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TokenRejected("malformed", f"the payload's {name} is not a number of seconds")
    assert isinstance(issued, int | float) and isinstance(expires, int | float)
    if expires - issued > MAX_LIFETIME_SECONDS:
        raise TokenRejected(
            "lifetime",
            f"exp is {expires - issued:g} s after iat; at most {MAX_LIFETIME_SECONDS} s is allowed",
        )
    if expires <= issued:
        raise TokenRejected("lifetime", "exp is not after iat")
    if now >= expires + leeway:
        raise TokenRejected("expired", f"the token expired {now - expires:.0f} s ago")
    if issued > now + leeway:
        raise TokenRejected("not-yet-valid", f"iat is {issued - now:.0f} s in the future")
