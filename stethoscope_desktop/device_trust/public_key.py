"""The device key's public part, kept beside the key for those who must not load `cryptography`.

Whenever the app opens the device key (for a token, for enrollment, for `device-key`), it writes
`public-key.json` in the key's folder: `{"kid", "keyProtection", "keyFile", "jwk"}`. The window
shows the kid and the protection from it (the tray process loads neither OpenSSL nor a TPM
library). It is what the app last saw, not a proof: it is shown only while the key file it names
is there and its kid is the thumbprint of its JWK; the token's signature is what a server trusts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stethoscope_desktop.device_trust.jws import JwsError, jwk_thumbprint

if TYPE_CHECKING:
    from stethoscope_desktop.device_trust.keys import DeviceKey

log = logging.getLogger(__name__)

PUBLIC_KEY_FILE = "public-key.json"
_MAX_BYTES = 4096
_PROTECTIONS = ("tpm", "secure-enclave", "software")


@dataclass(frozen=True)
class PublicKeyInfo:
    """The device key as the app last opened it."""

    kid: str
    protection: str
    key_file: Path
    jwk: dict[str, str]


def public_key_document(key: DeviceKey) -> dict[str, object]:
    """Return what `public-key.json` holds for `key`."""
    return {
        "kid": key.kid,
        "keyProtection": key.protection,
        "keyFile": key.path.name,
        "jwk": key.public_jwk,
    }


def write_public_key_info(key: DeviceKey) -> bool:
    """Write `public-key.json` beside the key unless it says the same already; True if written.

    Written whole (a temporary file renamed over it); OSError if it cannot be.
    """
    path = key.path.parent / PUBLIC_KEY_FILE
    data = (json.dumps(public_key_document(key), indent=2, sort_keys=True) + "\n").encode()
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return False
    fd, temporary = tempfile.mkstemp(prefix=f".{PUBLIC_KEY_FILE}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return True


def remember_public_key(key: DeviceKey) -> None:
    """`write_public_key_info`, logging (not raising) a folder it cannot write."""
    try:
        write_public_key_info(key)
    except OSError as error:
        log.warning("cannot keep the device key's public part beside it: %s", error)


def read_public_key_info(folder: Path | None = None) -> PublicKeyInfo | None:
    """Return the device key's public part as last kept in `folder`; None if there is none.

    None too when the file is unreadable, too large, malformed, names a key file that is gone,
    or holds a kid that is not its JWK's thumbprint. `folder` defaults to the key's folder.
    """
    if folder is None:
        from stethoscope_desktop.device_trust.keys import device_key_folder

        folder = device_key_folder()
    try:
        with open(folder / PUBLIC_KEY_FILE, "rb") as file:
            data = file.read(_MAX_BYTES + 1)
        if len(data) > _MAX_BYTES:
            return None
        document = json.loads(data)
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    kid, protection, name, jwk = (
        document.get(member) for member in ("kid", "keyProtection", "keyFile", "jwk")
    )
    if not (
        isinstance(kid, str)
        and protection in _PROTECTIONS
        and isinstance(name, str)
        and isinstance(jwk, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in jwk.items())
    ):
        return None
    if Path(name).name != name or not (folder / name).exists():
        return None
    try:
        if jwk_thumbprint(jwk) != kid:
            return None
    except JwsError:
        return None
    assert isinstance(protection, str)
    return PublicKeyInfo(kid, protection, folder / name, dict(jwk))
