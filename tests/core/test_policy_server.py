"""The policy server: HTTPS with a verified certificate, a cache used offline, IT's folder first.

A local HTTPS server with a certificate from a CA made for the test (openssl) serves the policy;
the client trusts that CA only where a test gives it. The schedule and the cache are also tested
with a fake opener and a fake clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stethoscope_desktop.core.policy_server import (
    Answer,
    PolicyServerClient,
    PolicyServerError,
    https_opener,
)
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.resources import practices_dir

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600.0
OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = Stethoscope test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Tls:
    ca: Path
    certificate: Path
    key: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A CA and a certificate it signed for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    (folder / "openssl.cnf").write_text(OPENSSL_CONFIG, encoding="utf-8")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    for name in ("ca", "server"):
        run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")
    run("req", "-new", "-x509", "-key", "ca.key", "-out", "ca.pem", "-days", "2",
        "-config", "openssl.cnf", "-extensions", "ca", "-subj", "/CN=Stethoscope test CA")  # fmt: skip
    run("req", "-new", "-key", "server.key", "-out", "server.csr", "-config", "openssl.cnf",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "openssl.cnf",
        "-extensions", "server")  # fmt: skip
    return Tls(folder / "ca.pem", folder / "server.pem", folder / "server.key")


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class HttpsTestServer:
    """`handler` served over TLS (the test CA's certificate for 127.0.0.1) in a thread."""

    def __init__(self, tls: Tls, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.httpd.block_on_close = False
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.certificate, tls.key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/policy.yaml") -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class PolicyHttpsServer(HttpsTestServer):
    """A local HTTPS server answering each path from `routes`, counting requests."""

    def __init__(self, tls: Tls) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []  # (path, If-None-Match)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("If-None-Match", "")))
                route = server.routes.get(self.path, Route(404, b"not found"))
                time.sleep(route.delay)
                etag = route.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # a client that gave up waiting
                    self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(tls, Handler)


@pytest.fixture
def server(tls: Tls) -> Iterator[PolicyHttpsServer]:
    https = PolicyHttpsServer(tls)
    yield https
    https.close()


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _it_folder(base: Path, url: str, policy: str = 'screenIdle: "<=300"\n') -> Path:
    folder = base / "it"
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(f"policyServer: {url}\n", encoding="utf-8")
    (folder / "policy.yaml").write_text(policy, encoding="utf-8")
    return folder


def _loader(client: PolicyServerClient, it: Path, override: Path | None = None) -> PracticesLoader:
    folders = [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it)]
    if override is not None:
        folders.append(PracticesFolder("override", override))
    return PracticesLoader(folders, policy_server=client)


SERVER_POLICY = b"""\
# Example Corp's policy, from the policy server.
automaticUpdates: ALWAYS
screenIdle: "<=60"
applications:
  - name: example-vpn
    assertion: ALWAYS
    platform:
      linux: ">=1.0.0"
"""


def test_the_servers_policy_is_in_force_below_it_folder(
    server: PolicyHttpsServer, tls: Tls, tmp_path: Path
) -> None:
    server.routes["/policy.yaml"] = Route(body=SERVER_POLICY)
    it = _it_folder(tmp_path, server.url())
    client = PolicyServerClient(
        tmp_path / "cache", opener=https_opener(str(tls.ca)), background=False
    )
    practices = _loader(client, it).load()
    assert practices.problems == ()
    policy = practices.policy
    assert policy.features["automaticUpdates"] == "ALWAYS"  # the server's (bundled: SUGGESTED)
    assert policy.sources["automaticUpdates"] == server.url()
    assert policy.screen_idle is not None
    assert policy.screen_idle.text == "<=300"  # IT's folder wins over the server's "<=60"
    assert policy.sources["screenIdle"] == str(it / "policy.yaml")
    assert [rule.name for rule in policy.applications if rule.name == "example-vpn"]
    # The bundled policy.yaml is replaced by IT's (the server's and the folder's): not in force.
    assert practices.files[: practices.files.index(server.url()) + 2] == (
        str(practices_dir() / "config.yaml"),
        server.url(),
        str(it / "policy.yaml"),
    )
    assert len(server.requests) == 1


def test_a_users_override_cannot_weaken_the_servers_policy(
    server: PolicyHttpsServer, tls: Tls, tmp_path: Path
) -> None:
    server.routes["/policy.yaml"] = Route(body=SERVER_POLICY)
    it = _it_folder(tmp_path, server.url())
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "policy.yaml").write_text("automaticUpdates: SUGGESTED\n", encoding="utf-8")
    client = PolicyServerClient(
        tmp_path / "cache", opener=https_opener(str(tls.ca)), background=False
    )
    practices = _loader(client, it, mine).load()
    assert practices.policy.features["automaticUpdates"] == "ALWAYS"
    assert [str(p) for p in practices.problems] == [
        f"{mine / 'policy.yaml'}:1: automaticUpdates: "
        "ignored: IT's policy sets this and cannot be weakened here"
    ]


def test_a_certificate_not_from_a_trusted_ca_is_refused(
    server: PolicyHttpsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.routes["/policy.yaml"] = Route(body=SERVER_POLICY)
    with pytest.raises(PolicyServerError, match="CERTIFICATE_VERIFY_FAILED") as refused:
        https_opener()(server.url(), 5.0, "")
    assert refused.value.answered is False
    it = _it_folder(tmp_path, server.url())
    client = PolicyServerClient(tmp_path / "cache", opener=https_opener(), background=False)
    with caplog.at_level("INFO", logger="stethoscope_desktop.core.policy_server"):
        practices = _loader(client, it).load()
    assert server.url() not in practices.files
    assert practices.problems == ()  # like being offline: logged, not held against IT's files
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert not list((tmp_path / "cache").glob("*.yaml"))


def test_the_last_good_copy_is_used_offline_and_after_a_restart(
    server: PolicyHttpsServer, tls: Tls, tmp_path: Path
) -> None:
    server.routes["/policy.yaml"] = Route(body=SERVER_POLICY)
    url = server.url()
    it = _it_folder(tmp_path, url)
    clock = Clock()
    client = PolicyServerClient(
        tmp_path / "cache", opener=https_opener(str(tls.ca)), clock=clock, background=False
    )
    assert _loader(client, it).load().policy.features["automaticUpdates"] == "ALWAYS"
    server.close()  # offline from now on

    # The same process, an hour later: the fetch fails; the cached copy stays, without a word.
    clock.now += 2 * HOUR
    practices = _loader(client, it).load()
    assert practices.policy.features["automaticUpdates"] == "ALWAYS"
    assert practices.problems == ()
    # A new process (the next login): the cache is read from disk.
    restarted = PolicyServerClient(
        tmp_path / "cache", opener=https_opener(str(tls.ca)), clock=clock, background=False,
        timeout=2.0,
    )  # fmt: skip
    practices = _loader(restarted, it).load()
    assert practices.policy.features["automaticUpdates"] == "ALWAYS"
    assert url in practices.files


def test_a_bad_answer_is_reported_and_the_last_good_copy_stays(
    server: PolicyHttpsServer, tls: Tls, tmp_path: Path
) -> None:
    server.routes["/policy.yaml"] = Route(body=SERVER_POLICY)
    url = server.url()
    it = _it_folder(tmp_path, url)
    clock = Clock()
    client = PolicyServerClient(
        tmp_path / "cache", opener=https_opener(str(tls.ca)), clock=clock, background=False
    )
    _loader(client, it).load()
    server.routes["/policy.yaml"] = Route(body=b"automaticUpdates: ALWAYS\nfirewall: SOMETIMES\n")
    clock.now += 2 * HOUR
    practices = _loader(client, it).load()
    assert practices.policy.features["automaticUpdates"] == "ALWAYS"
    assert practices.policy.applications  # example-vpn, from the last good copy
    messages = [str(problem) for problem in practices.problems]
    assert messages[0].startswith(f"{url}:2: firewall: ")
    assert "SOMETIMES" in messages[0]
    assert messages[1].startswith(f"{url}: the last good copy (fetched ")
    assert messages[1].endswith(") stays in force")

    server.routes["/policy.yaml"] = Route(status=500, body=b"oops")
    clock.now += 2 * HOUR
    messages = [str(problem) for problem in _loader(client, it).load().problems]
    assert messages[0] == f"{url}: the server answered 500 Internal Server Error"

    # Fixed: the problems go, the new copy is in force.
    server.routes["/policy.yaml"] = Route(body=b"automaticUpdates: NEVER\n")
    clock.now += 2 * HOUR
    practices = _loader(client, it).load()
    assert practices.problems == ()
    assert practices.policy.features["automaticUpdates"] == "NEVER"


def test_no_copy_yet_and_a_bad_answer_leaves_only_it_folder_in_force(
    server: PolicyHttpsServer, tls: Tls, tmp_path: Path
) -> None:
    server.routes["/policy.yaml"] = Route(body=b"- just\n- a list\n")
    it = _it_folder(tmp_path, server.url())
    client = PolicyServerClient(
        tmp_path / "cache", opener=https_opener(str(tls.ca)), background=False
    )
    practices = _loader(client, it).load()
    assert [str(p) for p in practices.problems] == [
        f"{server.url()}: the policy server's answer is not a policy (a mapping of keys)",
        f"{server.url()}: nothing from the policy server is in force until it answers with a "
        "valid policy",
    ]
    # IT's folder's policy is the whole policy: none of the bundled one applies.
    assert practices.policy.features == {}
    assert str(practices.policy.screen_idle) == "<=300"


def test_redirects_go_to_https_only_and_answers_are_bounded(
    server: PolicyHttpsServer, tls: Tls
) -> None:
    opener = https_opener(str(tls.ca), max_bytes=100)
    server.routes["/moved"] = Route(302, headers={"Location": server.url("/policy.yaml")})
    server.routes["/policy.yaml"] = Route(body=b"firewall: ALWAYS\n", headers={"ETag": '"v1"'})
    assert opener(server.url("/moved"), 5.0, "") == Answer(b"firewall: ALWAYS\n", '"v1"')
    assert opener(server.url(), 5.0, '"v1"') == Answer(None, '"v1"')  # 304 Not Modified
    plain = f"http://127.0.0.1:{server.httpd.server_address[1]}/policy.yaml"
    server.routes["/downgrade"] = Route(302, headers={"Location": plain})
    with pytest.raises(PolicyServerError, match="not https; refused"):
        opener(server.url("/downgrade"), 5.0, "")
    server.routes["/big"] = Route(body=b"#" * 101)
    with pytest.raises(PolicyServerError, match="101 bytes; at most 100"):
        opener(server.url("/big"), 5.0, "")
    with pytest.raises(PolicyServerError, match="must be an https:// URL"):
        opener(plain, 5.0, "")


def test_a_server_that_does_not_answer_in_time_is_given_up(
    server: PolicyHttpsServer, tls: Tls, tmp_path: Path
) -> None:
    server.routes["/policy.yaml"] = Route(body=SERVER_POLICY, delay=3.0)
    it = _it_folder(tmp_path, server.url())
    client = PolicyServerClient(
        tmp_path / "cache", opener=https_opener(str(tls.ca)), timeout=0.3, background=False
    )
    started = time.monotonic()
    practices = _loader(client, it).load()
    assert time.monotonic() - started < 2.0
    assert server.url() not in practices.files
    assert practices.problems == ()


class FakeOpener:
    """Answers from a list, records the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.answers: list[Answer | PolicyServerError] = []

    def __call__(self, url: str, timeout: float, etag: str) -> Answer:
        self.calls.append((url, etag))
        answer = self.answers.pop(0) if self.answers else PolicyServerError("down", answered=False)
        if isinstance(answer, PolicyServerError):
            raise answer
        return answer


def test_fetches_follow_the_schedule(tmp_path: Path) -> None:
    url = "https://policy.example.com/policy.yaml"
    opener = FakeOpener()
    clock = Clock()
    client = PolicyServerClient(
        tmp_path, opener=opener, clock=clock, background=False, retry_seconds=300
    )
    opener.answers = [Answer(b"firewall: ALWAYS\n", '"a"')]
    assert client.policy(url, HOUR).layer is not None
    assert opener.calls == [(url, "")]
    clock.now += HOUR - 1
    client.policy(url, HOUR)
    assert len(opener.calls) == 1  # not due yet
    clock.now += 1
    opener.answers = [Answer(None, '"a"')]  # not modified
    assert client.policy(url, HOUR).layer is not None
    assert opener.calls[-1] == (url, '"a"')
    clock.now += HOUR
    client.policy(url, HOUR)  # fails: down
    assert len(opener.calls) == 3
    clock.now += 299
    client.policy(url, HOUR)
    assert len(opener.calls) == 3  # retried after retry_seconds, not at once
    clock.now += 1
    client.policy(url, HOUR)
    assert len(opener.calls) == 4
    # A restarted app with a fresh copy on disk does not fetch again at once.
    opener.answers = [Answer(b"firewall: NEVER\n", '"b"')]
    clock.now += HOUR
    assert client.refresh(url) is True
    restarted = PolicyServerClient(tmp_path, opener=opener, clock=clock, background=False)
    layer = restarted.policy(url, HOUR).layer
    assert layer is not None and layer.values["firewall"] == "NEVER"
    assert len(opener.calls) == 5
    meta = json.loads(next(tmp_path.glob("*.json")).read_text(encoding="utf-8"))
    assert meta["url"] == url and meta["etag"] == '"b"'


def test_a_tampered_cache_is_not_used(tmp_path: Path) -> None:
    url = "https://policy.example.com/policy.yaml"
    opener = FakeOpener()
    opener.answers = [Answer(b"firewall: ALWAYS\n")]
    client = PolicyServerClient(tmp_path, opener=opener, background=False)
    assert client.policy(url, HOUR).layer is not None
    (cached,) = tmp_path.glob("*.yaml")
    cached.write_text("firewall: NEVER\n", encoding="utf-8")
    assert client.policy(url, HOUR).layer is None


def test_in_the_background_the_load_does_not_wait_and_listeners_hear_of_news(
    tmp_path: Path,
) -> None:
    url = "https://policy.example.com/policy.yaml"
    release = threading.Event()
    heard: list[str] = []

    def slow_opener(url: str, timeout: float, etag: str) -> Answer:
        release.wait(5)
        return Answer(b"firewall: ALWAYS\n")

    client = PolicyServerClient(tmp_path, opener=slow_opener, background=True)
    client.add_listener(heard.append)
    started = time.monotonic()
    assert client.policy(url, HOUR).layer is None  # nothing cached yet; the fetch runs on
    assert time.monotonic() - started < 1.0
    assert client.policy(url, HOUR).layer is None  # one fetch at a time
    release.set()
    assert client.wait(5)
    assert heard == [url]
    layer = client.policy(url, HOUR).layer
    assert layer is not None and layer.values["firewall"] == "ALWAYS"


def test_scan_fetches_from_the_policy_server(
    server: PolicyHttpsServer, tls: Tls, tmp_path: Path
) -> None:
    """`stethoscope-desktop scan` fetches before scanning, trusting the CA in SSL_CERT_FILE."""
    server.routes["/policy.yaml"] = Route(body=SERVER_POLICY)
    folder = _it_folder(tmp_path, server.url(), policy="firewall: ALWAYS\n")
    env = {
        **os.environ,
        "SSL_CERT_FILE": str(tls.ca),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LOCALAPPDATA": str(tmp_path / "cache"),
    }
    scan = subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "scan", "--json", "--engine", "embedded",
         "--practices", str(folder)],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert scan.returncode in (0, 1, 2), scan.stderr
    report = json.loads(scan.stdout)
    assert server.url() in report["policy_files"]
    requirements = {p["key"]: p["requirement"] for p in report["practices"]}
    assert requirements["automaticUpdates"] == "ALWAYS"
    assert requirements["screenIdle"] == "<=60"
    assert "applications/example-vpn" in requirements
    assert list((tmp_path / "cache").rglob("*.yaml"))


def test_a_new_client_removes_what_a_killed_cache_write_left(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    key = "0123456789abcdef01234567"
    kept = [cache / f"{key}.yaml", cache / f"{key}.json", cache / ".notes.txt.abcd1234.tmp"]
    stale = [cache / f".{key}.yaml.abcd1234.tmp", cache / f".{key}.json.zz9_0xyq.tmp"]
    for path in kept + stale:
        path.write_text("half", "utf-8")
        os.utime(path, (1_000_000_000, 1_000_000_000))
    PolicyServerClient(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(p.name for p in kept)


def _cached_copy(folder: Path, url: str, meta: str) -> PolicyServerClient:
    """Return a client offline whose cache holds a valid policy and the metadata `meta`.

    `meta` is JSON text; `<sha256>` in it stands for the cached policy's digest.
    """
    client = PolicyServerClient(folder, opener=FakeOpener(), background=False, clock=Clock())
    folder.mkdir(exist_ok=True)
    body = SERVER_POLICY
    (folder / f"{client._key(url)}.yaml").write_bytes(body)  # the cache's own names
    digest = hashlib.sha256(body).hexdigest()
    (folder / f"{client._key(url)}.json").write_text(
        meta.replace("<sha256>", digest), encoding="utf-8"
    )
    return client


def test_metadata_nested_too_deeply_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    # Found by tests/fuzz: json.loads raised RecursionError out of _read_meta.
    url = "https://policy.example.com/policy.yaml"
    deep = "[" * 100_000 + "]" * 100_000
    client = _cached_copy(tmp_path, url, f'{{"url": "{url}", "sha256": "<sha256>", "x": {deep}}}')
    remote = client.policy(url, HOUR)
    assert remote.layer is None  # without readable metadata the copy cannot be trusted
    assert all(problem.file == url for problem in remote.problems)


@pytest.mark.parametrize(
    "times",
    [
        '"fetched_at": 1e300',
        '"fetched_at": -1e20',
        '"fetched_at": NaN',
        f'"fetched_at": {10**400}',
        f'"checked_at": {10**400}',
        '"checked_at": NaN',
        '"checked_at": Infinity',
    ],
)
def test_a_time_in_the_metadata_that_is_no_moment_counts_as_unknown(
    tmp_path: Path, times: str
) -> None:
    # Found by tests/fuzz: float() and time.localtime() raised OverflowError or ValueError, and
    # a checked_at of NaN made the copy never due again.
    url = "https://policy.example.com/policy.yaml"
    client = _cached_copy(tmp_path, url, f'{{"url": "{url}", "sha256": "<sha256>", {times}}}')
    opener = FakeOpener()
    client._opener = opener
    remote = client.policy(url, HOUR)
    assert remote.layer is not None and remote.layer.values["automaticUpdates"] == "ALWAYS"
    if "checked_at" in times:
        assert opener.calls == [(url, "")]  # when it was checked is unknown: fetch
    if "fetched_at" in times:
        assert remote.fetched_at is None  # shown without a date
