"""Enrollment: the app posts the device key's public part to IT's `enrollmentUrl`, once per key.

config.yaml may name an `https://` URL in `enrollmentUrl`. After a scan of the scan worker (the
report says who the device is), `Enroller` posts, in a thread of its own so that no scan waits:

    POST <enrollmentUrl>   Content-Type: application/json
    {"jwk": {kty, crv, x, y, kid}, "kid": "...", "keyProtection": "tpm",
     "user": "alice",
     "device": {"deviceId", "deviceName", "hardwareSerial", "hardwareModel", "platform",
                "osName", "osVersion"},
     "appVersion": "..."}

A 2xx answer enrolls the key: `enrolled.json` beside the key records the kid, the URL and when,
and the app posts again only for another key or another URL. Anything else — another status, a
redirect (never followed: the key goes only where IT said), a certificate that does not verify,
no complete answer within `ENROLL_TIMEOUT_SECONDS` — is logged with the reason and tried again
at a later start of the worker (at most once per process). At most `MAX_ANSWER_BYTES` of the
answer are read, for the log. The outcome is always in the log.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stethoscope_desktop import __version__

if TYPE_CHECKING:
    from stethoscope_desktop.core.practices import Practices
    from stethoscope_desktop.core.report import Report
    from stethoscope_desktop.device_trust.keys import DeviceKey

log = logging.getLogger(__name__)

ENROLLED_FILE = "enrolled.json"
ENROLL_TIMEOUT_SECONDS = 15.0
MAX_ANSWER_BYTES = 4096
_MAX_ENROLLED_BYTES = 4096

Poster = Callable[[str, bytes, float], int]
"""POST (url, JSON body, time limit in seconds); return the 2xx status, else EnrollmentError."""


class EnrollmentError(Exception):
    """The enrollment endpoint did not take the key; the message says why."""


def https_poster(ca_file: str | None = None) -> Poster:
    """Return a Poster over HTTPS that verifies the server's certificate.

    `ca_file` (a PEM CA bundle) replaces the system's trust store, for a private CA or a test.
    """
    # The HTTPS stack (OpenSSL's libraries) is loaded only where an enrollmentUrl is set.
    import http.client
    import urllib.error
    import urllib.request

    from stethoscope_desktop.core.policy_server import tls_client_context

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # urllib then raises HTTPError with the 3xx status

    context = tls_client_context(ca_file)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), NoRedirects()
    )

    def post(url: str, body: bytes, timeout: float) -> int:
        if not url.lower().startswith("https://"):
            raise EnrollmentError("enrollmentUrl must be an https:// URL")
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json, */*"},
        )
        deadline = time.monotonic() + timeout
        try:
            with opener.open(request, timeout=timeout) as response:
                _read_bounded(response, deadline, timeout)
                return int(response.status)
        except urllib.error.HTTPError as error:
            answer = _read_bounded(error, deadline, timeout).decode("utf-8", "replace").strip()
            said = f": {answer[:200]}" if answer else ""
            raise EnrollmentError(
                f"the server answered {error.code} {error.reason}{said}"
            ) from None
        except urllib.error.URLError as error:
            raise EnrollmentError(f"cannot reach it: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise EnrollmentError(f"cannot reach it: {error}") from None

    return post


def _read_bounded(response: Any, deadline: float, timeout: float) -> bytes:
    import http.client

    body = bytearray()
    with contextlib.suppress(OSError, http.client.HTTPException):
        while len(body) < MAX_ANSWER_BYTES:
            chunk = response.read1(MAX_ANSWER_BYTES - len(body))
            if not chunk:
                break
            body += chunk
            if time.monotonic() > deadline:
                raise EnrollmentError(f"no complete answer within {timeout:g} s")
    return bytes(body)


def login_name() -> str:
    """Return the login name of the account the app runs as ("" if it cannot be told)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


def enrollment_document(key: DeviceKey, report: Report, user: str) -> dict[str, Any]:
    """Return what the app posts: the key's public part, the user, the device's identifiers."""
    device = report.device
    return {
        "jwk": key.public_jwk,
        "kid": key.kid,
        "keyProtection": key.protection,
        "user": user,
        "device": {
            "deviceId": device.device_id,
            "deviceName": device.device_name,
            "hardwareSerial": device.hardware_serial,
            "hardwareModel": device.hardware_model,
            "platform": device.platform,
            "osName": device.os_name,
            "osVersion": device.os_version,
        },
        "appVersion": __version__,
    }


def enrolled_at(folder: Path) -> Mapping[str, Any]:
    """Return what `enrolled.json` in `folder` says (empty if nothing readable)."""
    try:
        with open(folder / ENROLLED_FILE, "rb") as file:
            data = json.loads(file.read(_MAX_ENROLLED_BYTES + 1))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(folder: Path, kid: str, url: str, now: float) -> None:
    data = json.dumps({"kid": kid, "url": url, "at": int(now)}, indent=2).encode() + b"\n"
    fd, temporary = tempfile.mkstemp(prefix=f".{ENROLLED_FILE}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, folder / ENROLLED_FILE)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def enroll(
    url: str,
    key: DeviceKey,
    report: Report,
    *,
    post: Poster,
    user: str | None = None,
    timeout: float = ENROLL_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.time,
) -> bool:
    """Post `key` to `url` unless it is enrolled there already; return True when it is now.

    The outcome is logged; a failure is logged as a warning and not recorded, so the next try
    posts again.
    """
    folder = key.path.parent
    known = enrolled_at(folder)
    if known.get("kid") == key.kid and known.get("url") == url:
        log.debug("the device key %s is enrolled at %s already", key.kid, url)
        return True
    body = json.dumps(
        enrollment_document(key, report, login_name() if user is None else user)
    ).encode()
    try:
        status = post(url, body, timeout)
    except EnrollmentError as error:
        log.warning(
            "the device key %s could not be enrolled at %s: %s (tried again at a later start)",
            key.kid,
            url,
            error,
        )
        return False
    try:
        _record(folder, key.kid, url, clock())
    except OSError as error:
        log.warning(
            "the device key %s was enrolled, but %s cannot be written: %s",
            key.kid,
            folder / ENROLLED_FILE,
            error,
        )
    log.info("the device key %s (%s) is enrolled at %s (%d)", key.kid, key.protection, url, status)
    return True


class Enroller:
    """Enrolls the device key after a scan, at most once per process, in a thread of its own."""

    def __init__(
        self,
        key: Callable[[], DeviceKey],
        *,
        post: Poster | None = None,
        user: str | None = None,
    ) -> None:
        """`key` returns the device key (opening it once per process); `post` sends the key."""
        self._key = key
        self._post = post
        self._user = user
        self._lock = threading.Lock()
        self._started = False
        self.thread: threading.Thread | None = None

    def after_scan(self, practices: Practices, report: Report) -> None:
        """Start enrolling if config.yaml names an enrollmentUrl and no try was made yet."""
        url = practices.config.enrollment_url
        if not url:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
        self.thread = threading.Thread(
            target=self._run, args=(url, report), name="enroll", daemon=True
        )
        self.thread.start()

    def _run(self, url: str, report: Report) -> None:
        try:
            key = self._key()
        except Exception as error:  # DeviceKeyUnusable, already logged with its file
            log.warning("the device key is not enrolled at %s: %s", url, error)
            return
        try:
            enroll(url, key, report, post=self._post or https_poster(), user=self._user)
        except Exception:  # a bug must not pass silently in a thread
            log.exception("enrolling the device key at %s failed", url)
