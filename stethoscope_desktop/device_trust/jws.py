"""Compact JWS (RFC 7515) with ES256 (RFC 7518 §3.4), and P-256 public keys as JWK (RFC 7517).

ES256 signs with ECDSA on P-256 and SHA-256; the signature in a JWS is the raw `r || s` (32
bytes each, big-endian: 64 bytes), not the DER of X.509 and OpenSSL. Every part of a compact JWS
(and a JWK's `x` and `y`) is base64url without padding (RFC 7515 §2), read only in its canonical
spelling (`b64url_decode`). A key's `kid` is its RFC 7638 thumbprint: base64url of the SHA-256 of
the JSON object of its required members (`crv`, `kty`, `x`, `y`), keys sorted, no whitespace.

The JWK functions and `parse_compact` need no `cryptography`; `public_key_from_jwk`,
`jwk_from_public_key` and the DER conversions do, and import it when called.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

ALGORITHM = "ES256"
COORDINATE_BYTES = 32  # P-256
SIGNATURE_BYTES = 2 * COORDINATE_BYTES
# A token longer than this is refused unread (ours are well under 4 KiB).
MAX_TOKEN_CHARS = 16_384
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

Signer = Callable[[bytes], bytes]
"""Signs the bytes given (SHA-256 inside) and returns the raw 64-byte `r || s` signature."""


class JwsError(ValueError):
    """A token or key that is not what RFC 7515/7517 describe (the message says what)."""


def b64url_encode(data: bytes) -> str:
    """Return base64url of `data` without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str = "value") -> bytes:
    """Return the bytes of canonical unpadded base64url `text`; JwsError naming `what` if not.

    Canonical (RFC 4648 §3.5): no padding, and the bits of the last character that encode no
    byte are zero. Otherwise several texts would decode to the same bytes, and a token could be
    rewritten (its signature spelled another way) and still verify.
    """
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise JwsError(f"the {what} is not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise JwsError(f"the {what} is not base64url: {error}") from None
    if b64url_encode(data) != text:
        raise JwsError(
            f"the {what} is not canonical base64url (its last character has bits set that "
            "encode nothing)"
        )
    return data


def canonical_json(value: Any) -> bytes:
    """Return `value` as JSON with sorted keys, no whitespace, UTF-8 (not ASCII-escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def ec_jwk(x: bytes, y: bytes) -> dict[str, str]:
    """Return the public JWK of the P-256 point (x, y), big-endian coordinates, with its kid."""
    if len(x) > COORDINATE_BYTES or len(y) > COORDINATE_BYTES:
        raise JwsError("a P-256 coordinate has at most 32 bytes")
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(x.rjust(COORDINATE_BYTES, b"\0")),
        "y": b64url_encode(y.rjust(COORDINATE_BYTES, b"\0")),
    }
    jwk["kid"] = jwk_thumbprint(jwk)
    return jwk


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of an EC public JWK, base64url.

    Only the required members count (`crv`, `kty`, `x`, `y`), in that (sorted) order; any other
    member (`kid`, `use`, `alg`) is left out.
    """
    required = {}
    for member in ("crv", "kty", "x", "y"):
        value = jwk.get(member)
        if not isinstance(value, str):
            raise JwsError(f"the JWK has no {member} (a string)")
        required[member] = value
    if required["kty"] != "EC" or required["crv"] != "P-256":
        raise JwsError(f"the JWK is {required['kty']} {required['crv']}, not EC P-256")
    return b64url_encode(hashlib.sha256(canonical_json(required)).digest())


def jwk_from_public_key(key: EllipticCurvePublicKey) -> dict[str, str]:
    """Return the public JWK (with kid) of a `cryptography` P-256 public key."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key.curve, ec.SECP256R1):
        raise JwsError(f"the key is on {key.curve.name}, not P-256")
    numbers = key.public_numbers()
    return ec_jwk(
        numbers.x.to_bytes(COORDINATE_BYTES, "big"), numbers.y.to_bytes(COORDINATE_BYTES, "big")
    )


def public_key_from_jwk(jwk: Mapping[str, Any]) -> EllipticCurvePublicKey:
    """Return the `cryptography` public key of an EC P-256 JWK; JwsError if it is not one.

    The point must be on the curve (a point off it is refused, as RFC 7518 §6.2.1 asks).
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    jwk_thumbprint(jwk)  # checks kty, crv and the members
    x = b64url_decode(jwk["x"], "JWK's x")
    y = b64url_decode(jwk["y"], "JWK's y")
    if len(x) != COORDINATE_BYTES or len(y) != COORDINATE_BYTES:
        raise JwsError("the JWK's x and y must be 32 bytes each")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError:
        raise JwsError("the JWK's point is not on the P-256 curve") from None


def raw_signature_from_der(der: bytes) -> bytes:
    """Return the JOSE `r || s` form of a DER ECDSA signature (P-256)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    return r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")


def der_signature_from_raw(raw: bytes) -> bytes:
    """Return the DER form of a JOSE `r || s` ECDSA signature (P-256); JwsError if not 64 bytes."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if len(raw) != SIGNATURE_BYTES:
        raise JwsError(f"an ES256 signature has {SIGNATURE_BYTES} bytes, this one {len(raw)}")
    r = int.from_bytes(raw[:COORDINATE_BYTES], "big")
    s = int.from_bytes(raw[COORDINATE_BYTES:], "big")
    return encode_dss_signature(r, s)


def sign_compact(payload: Mapping[str, Any], kid: str, signer: Signer) -> str:
    """Return the compact JWS of `payload` (JSON) with header {alg: ES256, kid, typ: JWT}."""
    header = {"alg": ALGORITHM, "kid": kid, "typ": "JWT"}
    signing_input = (
        f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(payload))}"
    )
    signature = signer(signing_input.encode("ascii"))
    if len(signature) != SIGNATURE_BYTES:
        raise JwsError(f"the signer returned {len(signature)} bytes, not a raw ES256 signature")
    return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class CompactJws:
    """A compact JWS taken apart: its header and payload (JSON objects) and signature."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: str) -> CompactJws:
    """Take a compact JWS apart; JwsError saying what is malformed. Verifies nothing."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise JwsError(f"a token is text of at most {MAX_TOKEN_CHARS} characters")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwsError(f"a compact JWS has 3 parts separated by dots, this one {len(parts)}")
    header = _json_object(b64url_decode(parts[0], "header"), "header")
    payload = _json_object(b64url_decode(parts[1], "payload"), "payload")
    signature = b64url_decode(parts[2], "signature")
    return CompactJws(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_unique_members)
    except (UnicodeDecodeError, ValueError) as error:
        reason = str(error) if isinstance(error, JwsError) else "is not JSON"
        raise JwsError(f"the {what} {reason}") from None
    if not isinstance(value, dict):
        raise JwsError(f"the {what} is not a JSON object")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse a member named twice (RFC 7515 §4: a parser must reject or take the last)."""
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise JwsError("has a member named twice")
    return dict(pairs)
