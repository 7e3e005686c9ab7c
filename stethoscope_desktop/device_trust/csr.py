"""A PKCS#10 certificate signing request (RFC 2986) signed by the device key, for IT's CA.

`cryptography` can sign a request only with a private key it holds, and a TPM key is not one:
so the request's to-be-signed part (CertificationRequestInfo: version 0, the subject, the
SubjectPublicKeyInfo and no attributes) is put together here from `cryptography`'s DER of the
name and the public key, signed by the device key (ECDSA with SHA-256), and wrapped with the
algorithm and the signature as a BIT STRING (the DER form of the signature, as X.509 wants).
"""

from __future__ import annotations

import base64

from stethoscope_desktop.device_trust.jws import der_signature_from_raw
from stethoscope_desktop.device_trust.keys import DeviceKey

# ecdsa-with-SHA256, 1.2.840.10045.4.3.2, with no parameters (RFC 5758 §3.2).
_ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        encoded = bytes([length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded = bytes([0x80 | len(size)]) + size
    return bytes([tag]) + encoded + content


def certificate_request_der(key: DeviceKey, common_name: str = "") -> bytes:
    """Return the DER of a PKCS#10 request for `key`, subject CN=`common_name` (default kid)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or key.kid)])
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    version = _der(0x02, b"\x00")
    attributes = _der(0xA0, b"")  # [0] IMPLICIT SET OF Attribute: none
    info = _der(0x30, version + subject.public_bytes() + spki + attributes)
    signature = der_signature_from_raw(key.sign(info))
    return _der(0x30, info + _ECDSA_WITH_SHA256 + _der(0x03, b"\x00" + signature))


def certificate_request_pem(key: DeviceKey, common_name: str = "") -> str:
    """Return the PEM ("CERTIFICATE REQUEST") of `certificate_request_der`."""
    body = base64.encodebytes(certificate_request_der(key, common_name)).decode("ascii")
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"
