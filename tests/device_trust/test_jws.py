"""Compact JWS with ES256 and P-256 JWKs: round trips, known answers, cross-checks."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stethoscope_desktop.device_trust.jws import (
    JwsError,
    b64url_decode,
    b64url_encode,
    der_signature_from_raw,
    jwk_from_public_key,
    jwk_thumbprint,
    parse_compact,
    public_key_from_jwk,
    raw_signature_from_der,
    sign_compact,
)

# RFC 7515 Appendix A.3: the ES256 example's key (d and its public point) and its JWS.
RFC7515_A3_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
RFC7515_A3_D = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
RFC7515_A3_JWS = (
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)


def _rfc_private_key() -> ec.EllipticCurvePrivateKey:
    d = int.from_bytes(b64url_decode(RFC7515_A3_D), "big")
    return ec.derive_private_key(d, ec.SECP256R1())


def _software_signer(key: ec.EllipticCurvePrivateKey):  # type: ignore[no-untyped-def]
    return lambda data: raw_signature_from_der(key.sign(data, ec.ECDSA(hashes.SHA256())))


def test_base64url_has_no_padding_and_refuses_other_alphabets() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    for bad in ("+/8", "-_8=", "a", "ab c"):
        with pytest.raises(JwsError):
            b64url_decode(bad)


@pytest.mark.parametrize(
    "spelling",
    [
        "-_9",  # \xfb\xff with a spare bit set in its last character ("-_8" is canonical)
        "-_-",
        "AB",  # \x00 with spare bits ("AA" is canonical)
        "-_8=",
        "AA==",
    ],
)
def test_base64url_refuses_non_canonical_spellings_naming_the_part(spelling: str) -> None:
    with pytest.raises(JwsError, match="the signature is not"):
        b64url_decode(spelling, "signature")


def test_a_token_with_a_non_canonical_part_is_malformed() -> None:
    header, payload, signature = RFC7515_A3_JWS.split(".")
    assert len(signature) % 4 == 2  # 64 bytes: the last character has 4 spare bits
    respelled = signature[:-1] + chr(ord(signature[-1]) + 1)  # Q -> R: the same 64 bytes
    assert base64.urlsafe_b64decode(respelled + "==") == base64.urlsafe_b64decode(signature + "==")
    with pytest.raises(JwsError, match="signature is not canonical"):
        parse_compact(f"{header}.{payload}.{respelled}")


def test_the_rfc_7515_es256_example_verifies_with_its_key() -> None:
    key = public_key_from_jwk(RFC7515_A3_JWK)
    jws = parse_compact(RFC7515_A3_JWS)
    assert jws.header == {"alg": "ES256"}
    assert jws.payload["iss"] == "joe"
    key.verify(der_signature_from_raw(jws.signature), jws.signing_input, ec.ECDSA(hashes.SHA256()))


def test_the_rfc_key_gives_the_rfc_public_jwk() -> None:
    jwk = jwk_from_public_key(_rfc_private_key().public_key())
    assert {k: jwk[k] for k in ("kty", "crv", "x", "y")} == RFC7515_A3_JWK


def test_thumbprint_follows_rfc_7638_rules() -> None:
    # Computed here by RFC 7638 §3's rules, by hand: the required members in lexicographic
    # order, no whitespace, SHA-256, base64url.
    text = (
        '{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",'
        '"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}'
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
    assert jwk_thumbprint(RFC7515_A3_JWK) == expected.decode()
    # Other members do not count.
    assert jwk_thumbprint({**RFC7515_A3_JWK, "kid": "x", "use": "sig"}) == expected.decode()


def test_thumbprint_and_jwk_agree_with_node_crypto() -> None:
    # An independent implementation: Node's own JWK export of the same key, and its SHA-256.
    node = "node"
    try:
        subprocess.run([node, "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("node is not installed: the cross-check with Node's crypto cannot run")
    pem = (
        _rfc_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    script = """
const crypto = require('crypto');
const jwk = crypto.createPublicKey(process.argv[1]).export({format: 'jwk'});
const canonical = JSON.stringify({crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y});
const kid = crypto.createHash('sha256').update(canonical).digest('base64url');
console.log(JSON.stringify({...jwk, kid}));
"""
    output = subprocess.run(
        [node, "-e", script, "--", pem], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(output) == jwk_from_public_key(_rfc_private_key().public_key())


def test_node_verifies_our_signature_in_the_jose_encoding() -> None:
    try:
        subprocess.run(["node", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("node is not installed: the cross-check with Node's crypto cannot run")
    private = _rfc_private_key()
    token = sign_compact({"hello": "world"}, "kid-1", _software_signer(private))
    script = """
const crypto = require('crypto');
const [h, p, s] = process.argv[1].split('.');
const key = crypto.createPublicKey({key: JSON.parse(process.argv[2]), format: 'jwk'});
const ok = crypto.verify('sha256', Buffer.from(h + '.' + p), {key, dsaEncoding: 'ieee-p1363'},
  Buffer.from(s, 'base64url'));
console.log(ok ? 'valid' : 'invalid');
"""
    result = subprocess.run(
        ["node", "-e", script, "--", token, json.dumps(RFC7515_A3_JWK)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "valid"


def test_round_trip_and_the_signature_is_64_raw_bytes() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    token = sign_compact({"n": 1, "text": "é"}, "the-kid", _software_signer(private))
    jws = parse_compact(token)
    assert jws.header == {"alg": "ES256", "kid": "the-kid", "typ": "JWT"}
    assert jws.payload == {"n": 1, "text": "é"}
    assert len(jws.signature) == 64
    assert "=" not in token
    private.public_key().verify(
        der_signature_from_raw(jws.signature), jws.signing_input, ec.ECDSA(hashes.SHA256())
    )


def test_der_and_raw_signatures_convert_both_ways() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.sign(b"data", ec.ECDSA(hashes.SHA256()))
    assert der_signature_from_raw(raw_signature_from_der(der)) == der
    with pytest.raises(JwsError, match="64 bytes"):
        der_signature_from_raw(b"\x01" * 63)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("a.b", "3 parts"),
        ("a.b.c.d", "3 parts"),
        ("!!.e30.AA", "base64url"),
        (f"{b64url_encode(b'not json')}.e30.AA", "header is not JSON"),
        (f"{b64url_encode(b'[1]')}.e30.AA", "not a JSON object"),
        (b64url_encode(b'{"a":1,"a":2}') + ".e30.AA", "named twice"),
        ("x" * 20_000, "at most"),
    ],
)
def test_malformed_tokens_say_what_is_wrong(token: str, message: str) -> None:
    with pytest.raises(JwsError, match=message):
        parse_compact(token)


def test_a_jwk_off_the_curve_or_of_another_kind_is_refused() -> None:
    with pytest.raises(JwsError, match="not on the P-256 curve"):
        public_key_from_jwk({**RFC7515_A3_JWK, "y": b64url_encode(b"\x01" * 32)})
    with pytest.raises(JwsError, match="not EC P-256"):
        public_key_from_jwk({**RFC7515_A3_JWK, "crv": "P-384"})
    with pytest.raises(JwsError, match="no x"):
        jwk_thumbprint({"kty": "EC", "crv": "P-256", "y": "AA"})
