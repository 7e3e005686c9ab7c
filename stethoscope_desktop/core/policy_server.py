"""IT's policy from a policy server: fetched over HTTPS on a schedule, cached, used offline.

`config.yaml` may name an `https://` URL in `policyServer` (Stethoscope's key). The server answers
a GET with a policy in `policy.yaml`'s format (YAML, or JSON, which YAML reads too). The policy
it serves is one more layer of IT's policy, between the bundled defaults and IT's machine-wide
folder:

    bundled defaults < policy server < IT's machine-wide folder < --practices / override

so a key IT's folder sets always wins over the server's (the server can never weaken the
machine-wide policy, nor tighten it behind IT's back), and keys from either one are IT's: a
user's override cannot weaken them (`merge_layers` locks both layers' keys).

Fetching (`PolicyServerClient`):

- **When.** Each load of the practices asks for the policy with a maximum age, the scan interval;
  the copy is fetched again when it is older than that (after a failure, again after
  `retry_seconds` at the soonest). In the tray app (`background=True`) the fetch runs in a thread
  of its own and the load goes on with the cached copy; listeners hear when a new copy arrived,
  so the app can check again at once. `stethoscope-desktop scan` fetches in the foreground.
- **How.** HTTPS only, the server's certificate verified against the system's trust store (or a
  CA bundle given to `https_opener`, as the tests do), redirects only to https, one request
  with a time limit for the whole answer, at most 1 MiB, `If-None-Match` with the last ETag.
- **Cache.** The last good copy (one that loads without a single problem) is kept in the user's
  cache folder (`<user cache>/policy-server/<hash of the URL>.yaml`, with a `.json` beside it
  saying when it was fetched and checked). It is what is in force, also after a restart and
  while the server cannot be reached; a bad answer never replaces it.
- **Problems.** A server that answers with an error status, too much, or a policy with problems
  is reported like a broken policy file (named by its URL, with line and key); the last good
  copy stays in force. Not reaching the server at all (offline, a captive portal's certificate,
  a time-out) is normal on a laptop: it is only logged, and the cached copy is used.

The module never imports Qt; the clock and the opener are injectable for tests.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from stethoscope_desktop.core.files import remove_stale_temporaries_in, write_atomically
from stethoscope_desktop.core.policy import PolicyLayer, parse_policy
from stethoscope_desktop.core.yamlfile import MAX_FILE_BYTES, Problem, YamlFileError, parse_yaml

if TYPE_CHECKING:
    import ssl
    import urllib.request

# The HTTPS stack (ssl, http.client, urllib.request: OpenSSL's libraries, about 8 MiB) and
# hashlib are imported only where a policy server is configured: every scan worker loads this
# module, few machines have a policy server.
log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
RETRY_SECONDS = 300.0
MAX_POLICY_BYTES = MAX_FILE_BYTES
CACHE_FOLDER = "policy-server"
_CHUNK = 64 * 1024
# The moments the cache's metadata may name: from the epoch to the year 3000 (Windows'
# time.localtime goes no further); anything else there is unknown.
_LAST_MOMENT = 32_503_680_000.0


class PolicyServerError(Exception):
    """A fetch that brought no policy; `answered` says whether the server itself said so."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True)
class Answer:
    """What the server answered: the body, or None for 304 Not Modified, and its ETag."""

    body: bytes | None
    etag: str = ""


Opener = Callable[[str, float, str], Answer]
"""Fetch (url, time limit in seconds, ETag or ""); raise PolicyServerError when no policy came."""


def _https_only_redirects() -> urllib.request.HTTPRedirectHandler:
    """Return a redirect handler that follows a redirect only to another https:// URL."""
    import urllib.request

    class HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: Any,
            code: int,
            msg: str,
            headers: Any,
            newurl: str,
        ) -> urllib.request.Request | None:
            if not newurl.lower().startswith("https://"):
                raise PolicyServerError(
                    f"the server redirected to {newurl}, which is not https; refused",
                    answered=True,
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return HttpsOnlyRedirects()


def tls_client_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Return a TLS client context that verifies the server's certificate and name.

    `ca_file` (a PEM CA bundle) replaces the system's trust store, for a private CA or a test.
    Without it, the system's trust store: `truststore` (where installed) reads the OS's own
    store, which the macOS Keychain needs; otherwise OpenSSL's default paths (Linux) or the
    Windows store, as `ssl` loads them. The policy server's fetches and the device key's
    enrollment (`device_trust.enroll`) both use it.
    """
    import ssl

    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    try:
        import truststore  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return ssl.create_default_context()
    context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return context


def https_opener(ca_file: str | None = None, *, max_bytes: int = MAX_POLICY_BYTES) -> Opener:
    """Return an opener that GETs an https:// URL, verifying the certificate.

    `ca_file` (a PEM bundle) replaces the system's trust store, for a private CA or a test.
    """
    import http.client
    import urllib.error
    import urllib.request

    context = tls_client_context(ca_file)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _https_only_redirects()
    )

    def fetch(url: str, timeout: float, etag: str) -> Answer:
        if not url.lower().startswith("https://"):
            raise PolicyServerError("the policy server must be an https:// URL", answered=True)
        request = urllib.request.Request(url, headers={"Accept": "application/yaml, */*"})
        if etag:
            request.add_header("If-None-Match", etag)
        deadline = time.monotonic() + timeout
        try:
            with opener.open(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > max_bytes:
                    raise PolicyServerError(
                        f"the policy is {int(length)} bytes; at most {max_bytes} are read",
                        answered=True,
                    )
                body = bytearray()
                while chunk := response.read1(_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise PolicyServerError(
                            f"the policy is larger than {max_bytes} bytes", answered=True
                        )
                    if time.monotonic() > deadline:
                        raise PolicyServerError(
                            f"no complete answer within {timeout:g} s", answered=False
                        )
                return Answer(bytes(body), response.headers.get("ETag", "") or "")
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return Answer(None, etag)
            raise PolicyServerError(
                f"the server answered {error.code} {error.reason}", answered=True
            ) from error
        except urllib.error.URLError as error:
            raise PolicyServerError(f"cannot reach it: {error.reason}", answered=False) from error
        except (OSError, http.client.HTTPException) as error:
            raise PolicyServerError(f"cannot reach it: {error}", answered=False) from error

    return fetch


def _sha256_hex(data: bytes) -> str:
    """Return the SHA-256 of `data` in hex (hashlib loads OpenSSL: only when it is needed)."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def default_cache_dir() -> Path:
    """Return the user's cache folder for policy server copies."""
    return Path(platformdirs.user_cache_dir("stethoscope", appauthor=False)) / CACHE_FOLDER


@dataclass(frozen=True)
class RemotePolicy:
    """The policy server's layer in force (None if no good copy yet) and what is wrong."""

    url: str
    layer: PolicyLayer | None
    problems: tuple[Problem, ...] = ()
    fetched_at: float | None = None


@dataclass
class _State:
    """What this process knows about one URL."""

    checked_at: float | None = None  # the last answer that left a good copy in force
    failed_at: float | None = None  # the last fetch that did not
    problems: tuple[Problem, ...] = ()
    thread: threading.Thread | None = field(default=None, repr=False)


# A cached policy is `<key>.yaml` with its `<key>.json`; the key is the URL's hash.
KEY_LENGTH = 24
CACHED_FILE_NAMES = rf"[0-9a-f]{{{KEY_LENGTH}}}\.(?:yaml|json)"


class PolicyServerClient:
    """Fetches and caches the policy server's policy; thread-safe."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        opener: Opener | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.time,
        background: bool = True,
    ) -> None:
        self.cache_dir = default_cache_dir() if cache_dir is None else cache_dir
        self._opener = opener
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self._clock = clock
        self.background = background
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}
        self._listeners: list[Callable[[str], None]] = []
        # What a fetch killed mid-write left (a live writer's file is held, so it stays).
        remove_stale_temporaries_in(self.cache_dir, CACHED_FILE_NAMES)

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """Call `callback(url)` (in the fetching thread) when a background fetch brought news."""
        with self._lock:
            self._listeners.append(callback)

    def policy(self, url: str, max_age: float) -> RemotePolicy:
        """Return the copy in force for `url`, fetching first when it is older than `max_age`.

        In the background mode the fetch starts in a thread and this returns the cached copy at
        once; otherwise it waits for the fetch (at most the time limit).
        """
        if self._due(url, max_age):
            if self.background:
                self._start_background(url)
            else:
                self.refresh(url)
        return self._cached(url)

    def refresh(self, url: str) -> bool:
        """Fetch `url` now; return True when a new copy replaced the one in force."""
        meta = self._read_meta(url)
        etag = str(meta.get("etag", "")) if self._body_path(url).is_file() else ""
        try:
            answer = self._open()(url, self.timeout, etag)
        except PolicyServerError as error:
            self._failed(url, error)
            return False
        now = self._clock()
        if answer.body is None:
            self._write_meta(url, {**meta, "url": url, "checked_at": now})
            self._succeeded(url, now)
            log.info("policy server %s: not modified", url)
            return False
        problems = _problems_of(answer.body, url)
        if problems:
            self._failed(url, PolicyServerError("", answered=True), problems)
            return False
        digest = _sha256_hex(answer.body)
        changed = digest != meta.get("sha256") or not self._body_path(url).is_file()
        try:
            if changed:
                write_atomically(self._body_path(url), answer.body)
            self._write_meta(
                url,
                {
                    "url": url,
                    "sha256": digest,
                    "etag": answer.etag,
                    "fetched_at": now if changed else meta.get("fetched_at", now),
                    "checked_at": now,
                },
            )
        except OSError as error:
            log.info("policy server %s: cannot cache the policy: %s", url, error)
        self._succeeded(url, now)
        log.info("policy server %s: %s", url, "new policy" if changed else "unchanged")
        return changed

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for background fetches to end; return False if one is still running."""
        with self._lock:
            threads = [s.thread for s in self._states.values() if s.thread is not None]
        for thread in threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in threads)

    # -- internals ---------------------------------------------------------------------------

    def _open(self) -> Opener:
        if self._opener is None:
            self._opener = https_opener()
        return self._opener

    def _key(self, url: str) -> str:
        return _sha256_hex(url.encode("utf-8"))[:KEY_LENGTH]

    def _body_path(self, url: str) -> Path:
        return self.cache_dir / f"{self._key(url)}.yaml"

    def _meta_path(self, url: str) -> Path:
        return self.cache_dir / f"{self._key(url)}.json"

    def _read_meta(self, url: str) -> dict[str, Any]:
        try:
            meta = json.loads(self._meta_path(url).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # absent, not UTF-8 or JSON, absurd nesting
            return {}
        return meta if isinstance(meta, dict) and meta.get("url") == url else {}

    def _write_meta(self, url: str, meta: dict[str, Any]) -> None:
        try:
            write_atomically(self._meta_path(url), json.dumps(meta, indent=1).encode("utf-8"))
        except OSError as error:
            log.info("policy server %s: cannot write %s: %s", url, self._meta_path(url), error)

    def _state(self, url: str) -> _State:
        state = self._states.get(url)
        if state is None:
            state = _State()
            checked = _moment(self._read_meta(url).get("checked_at"))
            if checked is not None and self._body_path(url).is_file():
                state.checked_at = checked
            self._states[url] = state
        return state

    def _due(self, url: str, max_age: float) -> bool:
        now = self._clock()
        with self._lock:
            state = self._state(url)
            if state.thread is not None and state.thread.is_alive():
                return False
            if state.failed_at is not None and (
                state.checked_at is None or state.failed_at >= state.checked_at
            ):
                return now >= state.failed_at + min(self.retry_seconds, max_age) or (
                    now < state.failed_at
                )
            if state.checked_at is None:
                return True
            # A clock that went back makes the copy's age unknown: fetch.
            return now >= state.checked_at + max_age or now < state.checked_at

    def _start_background(self, url: str) -> None:
        def run() -> None:
            changed = self.refresh(url)
            if changed:
                with self._lock:
                    listeners = list(self._listeners)
                for listener in listeners:
                    listener(url)

        with self._lock:
            state = self._state(url)
            if state.thread is not None and state.thread.is_alive():
                return
            state.thread = threading.Thread(target=run, name="policy-server", daemon=True)
            state.thread.start()

    def _succeeded(self, url: str, now: float) -> None:
        with self._lock:
            state = self._state(url)
            state.checked_at = now
            state.failed_at = None
            state.problems = ()

    def _failed(
        self, url: str, error: PolicyServerError, problems: tuple[Problem, ...] = ()
    ) -> None:
        with self._lock:
            state = self._state(url)
            state.failed_at = self._clock()
            if error.answered:
                state.problems = problems or (Problem(url, str(error)),)
            # Not reaching the server leaves what the last answer said.
        log.info(
            "policy server %s: %s",
            url,
            "; ".join(p.message for p in problems) if problems else error,
        )

    def _cached(self, url: str) -> RemotePolicy:
        with self._lock:
            problems = self._state(url).problems
        meta = self._read_meta(url)
        try:
            body = self._body_path(url).read_bytes()
        except OSError:
            body = None
        if body is None or _sha256_hex(body) != meta.get("sha256"):
            note = "nothing from the policy server is in force until it answers with a valid policy"
            return RemotePolicy(url, None, _with_note(problems, url, note))
        try:
            layer = parse_policy(parse_yaml(body, url))
        except YamlFileError as error:  # a cache that this version of the app cannot read
            return RemotePolicy(url, None, (*problems, error.problem))
        fetched_at = _moment(meta.get("fetched_at"))
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(fetched_at)) if fetched_at else ""
        note = f"the last good copy{f' (fetched {when})' if when else ''} stays in force"
        return RemotePolicy(
            url, layer, (*_with_note(problems, url, note), *layer.problems), fetched_at
        )


def _moment(value: object) -> float | None:
    """Return a time of the cache's metadata as epoch seconds, None where it names no moment.

    The file may have been damaged or written by hand: a time that is not a number, not finite
    (NaN would make a copy never due again) or out of any clock's range is unknown.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and not 0 <= value <= _LAST_MOMENT:
        return None  # (an int too large for a float, too)
    seconds = float(value)
    return seconds if math.isfinite(seconds) and 0.0 <= seconds <= _LAST_MOMENT else None


def _problems_of(body: bytes, url: str) -> tuple[Problem, ...]:
    """Return what is wrong with a policy the server sent (nothing: it may be cached)."""
    try:
        doc = parse_yaml(body, url)
    except YamlFileError as error:
        return (error.problem,)
    if not isinstance(doc.data, dict):
        return (Problem(url, "the policy server's answer is not a policy (a mapping of keys)"),)
    return tuple(parse_policy(doc).problems)


def _with_note(problems: tuple[Problem, ...], url: str, note: str) -> tuple[Problem, ...]:
    return (*problems, Problem(url, note)) if problems else ()
