"""Signed device tokens from the local API: `attest` in GraphQL and `POST /attest` (issue 17).

A login page (or a local program) sends a nonce of its server's, and optionally its policy; the
answer is a device token (`device_trust.token`): a compact JWS signed by the device key whose
payload binds the nonce, the audience (the request's `Origin`, or "local" for a program without
one), the time and the verdict for that policy, the very report `validate` answers from (the
same cache and single flight of `ApiService`).

`DeviceTrust` is the API's one holder of the device key and its `Attester`: one per server, so
one per scan worker and per `serve` process. The nonce ledger is a file in the user's state
folder (`token.FileNonceLedger`; beside the key when a key folder is given, as tests do), shared
by every process of the user, so a worker may leave after its idle time although it signed a
token a moment ago; a ledger that cannot be used refuses tokens (`AttestationUnavailable`, 503).
The key is opened at the first token asked for, then kept while its file stays the same: when
`stethoscope-desktop device-key --new` replaced it (the key file's identity, size or time
changed, or another key file appeared), the next token opens the new key and is signed by it,
and `public-key.json` (the window's About line) follows. A key that cannot be opened (TPM gone,
file corrupt, another kind than config.yaml's `deviceKey`) is `DeviceKeyUnusable`, whose
message names the key file, and is tried again at the next request: it is never replaced here
(only `device-key --new` does). What a web page reads of these errors holds no path (a key
file, the ledger, the key folder are in the user's home folder, which is none of a page's
business, as the device's identifiers are not for every origin): it says what is wrong and that
`stethoscope-desktop device-key` on this device tells the rest; a local program (audience
"local") and the log get the whole message with the file. An origin that is no RFC 6454 origin
(an `allowRegex` may match one a browser never sends) gets no token (`OriginRefused`, 400).
Opening and signing run on the request's handler thread, never
on the accept loop; signatures are made one at a time (the Attester's lock).

Nothing from `device_trust` (and so no `cryptography`) is imported until a token is asked for.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stethoscope_desktop.api.service import ApiError

if TYPE_CHECKING:
    from stethoscope_desktop.core.report import Report
    from stethoscope_desktop.device_trust.keys import DeviceKey
    from stethoscope_desktop.device_trust.token import Attestation, Attester, NonceLedger

log = logging.getLogger(__name__)

KeyOpener = Callable[[str, "Path | None"], "DeviceKey"]


class NonceRefused(ApiError):
    """The nonce is not one the app signs (its length or characters), or too many were asked."""

    code = "BAD_NONCE"


class DeviceKeyUnusable(ApiError):
    """The device key cannot be opened or cannot sign; the message names its file."""

    code = "DEVICE_KEY_UNUSABLE"


class AttestationUnavailable(ApiError):
    """This server signs no tokens."""

    code = "ATTESTATION_UNAVAILABLE"


class OriginRefused(ApiError):
    """The request's origin is not one a token can name (scheme://host[:port])."""

    code = "BAD_REQUEST"


# What a web page reads when the key cannot be used or cannot sign: no path (see the module's
# docstring); a local program reads the whole message.
WEB_KEY_UNUSABLE = (
    "this device's key cannot sign a token now; `stethoscope-desktop device-key` on this device "
    "says why and what to do (or ask IT)"
)
WEB_LEDGER_UNUSABLE = (
    "the app cannot sign device tokens now: its nonce ledger cannot be read or written whole; "
    "the app's log names the file and until when (or ask IT)"
)


def check_nonce(nonce: object) -> str:
    """Return `nonce` if the app signs it (16 to 256 URL-safe characters); NonceRefused if not."""
    from stethoscope_desktop.device_trust.token import AttestationRefused, validate_nonce

    try:
        return validate_nonce(nonce)
    except AttestationRefused as error:
        raise NonceRefused(str(error)) from None


def _open_device_key(choice: str, folder: Path | None) -> DeviceKey:
    from stethoscope_desktop.device_trust.keys import open_device_key

    return open_device_key(choice, folder)


class DeviceTrust:
    """The device key and its Attester for one API server, opened at the first token asked."""

    def __init__(
        self,
        key_choice: Callable[[], str],
        *,
        folder: Path | None = None,
        open_key: KeyOpener = _open_device_key,
        clock: Callable[[], float] = time.time,
        ledger: NonceLedger | None = None,
    ) -> None:
        """Sign with the key of `folder` (default: the user's data folder's).

        `key_choice` returns config.yaml's `deviceKey`; `open_key` opens the key
        (`keys.open_device_key`); `ledger` remembers the nonces signed (default: the file in the
        user's state folder, or in `folder` when one is given).
        """
        self._key_choice = key_choice
        self._folder = folder
        self._open_key = open_key
        self._clock = clock
        self._ledger = ledger
        self._attester: Attester | None = None
        self._key_stamp: tuple[object, ...] = ()
        self._lock = threading.Lock()
        self._last_token_at: float | None = None

    def key(self) -> DeviceKey:
        """Return the device key, opening it the first time; DeviceKeyUnusable if it can't be.

        Shared by the tokens and the enrollment (`device_trust.enroll`): one open per process.
        """
        return self.attester().key

    def attester(self) -> Attester:
        """Return the Attester, opening the device key the first time; DeviceKeyUnusable.

        A key replaced since (`device-key --new`) is opened again: the Attester then signs with
        the new key, with the same ledger.
        """
        with self._lock:
            if self._attester is not None:
                if _key_stamp(self._attester.key) == self._key_stamp:
                    return self._attester
                log.info(
                    "the device key %s was replaced: opening the new one", self._attester.key.kid
                )
                self._attester = None  # never sign with a key that was replaced
            from stethoscope_desktop.device_trust.keys import DeviceKeyError
            from stethoscope_desktop.device_trust.token import (
                Attester,
                FileNonceLedger,
                default_ledger_path,
            )

            try:
                key = self._open_key(self._key_choice(), self._folder)
            except DeviceKeyError as error:
                log.error("the device key cannot be used: %s", error)
                raise DeviceKeyUnusable(f"the device key cannot be used: {error}") from None
            except OSError as error:  # its folder cannot be made or written
                where = error.filename or self._folder or "the user's data folder"
                log.error("the device key cannot be made in %s: %s", where, error.strerror)
                raise DeviceKeyUnusable(
                    f"the device key cannot be made in {where}: {error.strerror}"
                ) from None
            log.info("device key %s (%s) in %s", key.kid, key.protection, key.path)
            _remember_public_key(key)
            if self._ledger is None:
                from stethoscope_desktop.device_trust.token import LEDGER_FILE

                path = default_ledger_path() if self._folder is None else self._folder / LEDGER_FILE
                self._ledger = FileNonceLedger(path)
            self._key_stamp = _key_stamp(key)
            self._attester = Attester(key, self._ledger)
            return self._attester

    def attest(
        self,
        report: Report,
        *,
        nonce: str,
        audience: str,
        page_policy: Any,
        policy_version: str,
    ) -> Attestation:
        """Return the token for `report` (see `token.Attester.attest`), as an ApiError if not."""
        from stethoscope_desktop.device_trust.keys import DeviceKeyError
        from stethoscope_desktop.device_trust.token import (
            LOCAL_AUDIENCE,
            AttestationRefused,
            AudienceRefused,
            NonceLedgerUnusable,
        )

        local = audience == LOCAL_AUDIENCE
        try:
            attester = self.attester()
        except DeviceKeyUnusable:
            if local:
                raise
            raise DeviceKeyUnusable(WEB_KEY_UNUSABLE) from None  # the log has the whole message
        try:
            attestation = attester.attest(
                report,
                nonce=nonce,
                audience=audience,
                page_policy=page_policy,
                policy_version=policy_version,
                now=self._clock(),
            )
        except AudienceRefused as error:
            raise OriginRefused(str(error)) from None
        except AttestationRefused as error:
            raise NonceRefused(str(error)) from None
        except NonceLedgerUnusable as error:
            log.error("no device token: %s", error)
            raise AttestationUnavailable(str(error) if local else WEB_LEDGER_UNUSABLE) from None
        except DeviceKeyError as error:
            log.error("no device token: %s", error)
            message = f"the device key cannot sign: {error}" if local else WEB_KEY_UNUSABLE
            raise DeviceKeyUnusable(message) from None
        with self._lock:
            self._last_token_at = self._clock()
        return attestation

    def remembering(self) -> bool:
        """Return True while a nonce signed here is remembered by this process alone.

        Only a ledger in memory (given to the constructor) does that: then the scan worker stays
        while this holds, so that a worker started later never signs that nonce again into a
        different token. The ledger file (the default) outlives the process: always False.
        """
        if self._ledger is None or self._ledger.persistent:
            return False
        from stethoscope_desktop.device_trust.token import (
            NONCE_MARGIN_SECONDS,
            TOKEN_LIFETIME_SECONDS,
        )

        with self._lock:
            last = self._last_token_at
        kept = TOKEN_LIFETIME_SECONDS + NONCE_MARGIN_SECONDS
        return last is not None and self._clock() - last < kept


def _key_stamp(key: DeviceKey) -> tuple[object, ...]:
    """Return what changes when the key is replaced.

    That is its file's identity, size and time, and the key files in its folder (a key of
    another kind made in its place).
    """
    from stethoscope_desktop.device_trust.keys import existing_key_files

    try:
        info = os.stat(key.path)
        identity: tuple[object, ...] = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    except OSError:
        identity = ("gone",)
    return (*identity, *(path.name for path in existing_key_files(key.path.parent)))


def _remember_public_key(key: DeviceKey) -> None:
    """Keep the key's public JWK beside it for the window (which loads no cryptography)."""
    from stethoscope_desktop.device_trust.public_key import remember_public_key

    remember_public_key(key)
