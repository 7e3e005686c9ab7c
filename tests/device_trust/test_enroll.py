"""Enrollment: the device key's public part posted once to IT's enrollmentUrl over verified HTTPS.

A local HTTPS server with a certificate of a CA made for the test (the policy server tests'
`tls` fixture) takes the posts; the app trusts that CA only where a test gives it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.core.practices import Practices
from stethoscope_desktop.device_trust.enroll import (
    ENROLLED_FILE,
    Enroller,
    enroll,
    enrolled_at,
    https_poster,
)
from stethoscope_desktop.device_trust.keys import SoftwareDeviceKey, open_device_key
from stethoscope_desktop.worker import WorkerSession
from tests.core.test_policy_server import HttpsTestServer, Tls, tls  # noqa: F401 (the fixture)
from tests.ui.reports import mixed_report, practices


class EnrollmentServer(HttpsTestServer):
    """A local HTTPS server taking POSTs: status, delay, answer and headers set by the test."""

    def __init__(self, tls: Tls) -> None:  # noqa: F811
        self.posts: list[dict[str, Any]] = []
        self.status = 201
        self.delay = 0.0
        self.answer = b'{"ok": true}'
        self.headers: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.posts.append(
                    {"path": self.path, "type": self.headers["Content-Type"], **json.loads(body)}
                )
                time.sleep(server.delay)
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(server.answer)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(server.answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(tls, Handler)

    def url(self, path: str = "/keys") -> str:
        return super().url(path)


@pytest.fixture
def server(tls: Tls) -> Iterator[EnrollmentServer]:  # noqa: F811
    https = EnrollmentServer(tls)
    yield https
    https.close()


@pytest.fixture
def key(tmp_path: Path) -> SoftwareDeviceKey:
    made = open_device_key("software", tmp_path / "device-key")
    assert isinstance(made, SoftwareDeviceKey)
    return made


def test_the_key_is_posted_once_with_the_user_and_the_device(
    server: EnrollmentServer,
    tls: Tls,  # noqa: F811
    key: SoftwareDeviceKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="stethoscope_desktop.device_trust")
    report = mixed_report()
    post = https_poster(str(tls.ca))
    assert enroll(server.url(), key, report, post=post, user="alice")
    assert enroll(server.url(), key, report, post=post, user="alice")  # enrolled already
    [posted] = server.posts
    assert posted["type"] == "application/json"
    assert posted["jwk"] == key.public_jwk and "d" not in posted["jwk"]
    assert posted["kid"] == key.kid and posted["keyProtection"] == "software"
    assert posted["user"] == "alice"
    assert posted["device"]["deviceName"] == report.device.device_name
    assert posted["device"]["deviceId"] == report.device.device_id
    assert posted["device"]["platform"] == "linux"
    assert enrolled_at(key.path.parent)["kid"] == key.kid
    assert f"the device key {key.kid} (software) is enrolled at {server.url()}" in caplog.text
    # Another URL (IT moved the endpoint): posted there too.
    assert enroll(server.url("/v2/keys"), key, report, post=post, user="alice")
    assert [p["path"] for p in server.posts] == ["/keys", "/v2/keys"]


@pytest.mark.allow_warnings
def test_a_refusal_is_logged_not_recorded_and_tried_again(
    server: EnrollmentServer,
    tls: Tls,  # noqa: F811
    key: SoftwareDeviceKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.status, server.answer = 500, b"database down"
    post = https_poster(str(tls.ca))
    assert not enroll(server.url(), key, mixed_report(), post=post)
    assert "500 Internal Server Error: database down (tried again at a later start)" in caplog.text
    assert not (key.path.parent / ENROLLED_FILE).exists()
    server.status = 200
    assert enroll(server.url(), key, mixed_report(), post=post)
    assert len(server.posts) == 2


@pytest.mark.allow_warnings
def test_a_certificate_not_trusted_a_redirect_and_a_slow_server_enroll_nothing(
    server: EnrollmentServer,
    tls: Tls,  # noqa: F811
    key: SoftwareDeviceKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    report = mixed_report()
    # The system's trust store does not know the test's CA.
    assert not enroll(server.url(), key, report, post=https_poster())
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    # A redirect is not followed: the key goes only where IT said.
    server.status, server.headers = 307, {"Location": server.url("/elsewhere")}
    assert not enroll(server.url(), key, report, post=https_poster(str(tls.ca)))
    assert [p["path"] for p in server.posts] == ["/keys"]
    assert "307" in caplog.text
    # No answer within the time limit.
    server.status, server.headers, server.delay = 200, {}, 3.0
    started = time.monotonic()
    assert not enroll(server.url(), key, report, post=https_poster(str(tls.ca)), timeout=0.5)
    assert time.monotonic() - started < 2.5
    assert not (key.path.parent / ENROLLED_FILE).exists()


def test_a_large_answer_is_read_only_in_part(
    server: EnrollmentServer,
    tls: Tls,  # noqa: F811
    key: SoftwareDeviceKey,
) -> None:
    server.answer = b"x" * 5_000_000
    assert enroll(server.url(), key, mixed_report(), post=https_poster(str(tls.ca)))


def test_an_http_url_is_refused_before_anything_is_sent(key: SoftwareDeviceKey) -> None:
    from stethoscope_desktop.device_trust.enroll import EnrollmentError

    with pytest.raises(EnrollmentError, match="https://"):
        https_poster()("http://127.0.0.1:9/keys", b"{}", 1.0)


def _with_url(url: str) -> Practices:
    bundled = practices()
    return dataclasses.replace(
        bundled, config=dataclasses.replace(bundled.config, enrollment_url=url)
    )


def test_the_worker_enrolls_after_a_scan_in_a_thread_once_per_process(
    server: EnrollmentServer,
    tls: Tls,  # noqa: F811
    key: SoftwareDeviceKey,
) -> None:
    opened: list[SoftwareDeviceKey] = []

    def device_key() -> SoftwareDeviceKey:
        opened.append(key)
        return key

    enroller = Enroller(device_key, post=https_poster(str(tls.ca)), user="bob")
    enroller.after_scan(_with_url(""), mixed_report())
    assert enroller.thread is None  # no enrollmentUrl: nothing
    server.delay = 1.0
    started = time.monotonic()
    enroller.after_scan(_with_url(server.url()), mixed_report())
    assert time.monotonic() - started < 0.5  # the scan does not wait for the server
    first = enroller.thread
    assert first is not None
    first.join(10)
    enroller.after_scan(_with_url(server.url()), mixed_report())
    assert enroller.thread is first  # once per process
    assert [p["user"] for p in server.posts] == ["bob"]
    assert opened == [key]


def test_the_worker_session_hands_each_report_to_after_scan(tmp_path: Path) -> None:
    from tests.test_worker import canned_scanner, make_loader

    heard: list[str] = []
    events: list[object] = []
    it_folder = tmp_path / "it"
    it_folder.mkdir()
    session = WorkerSession(
        make_loader(it_folder),
        canned_scanner(),
        events.append,
        after_scan=lambda practices, report: heard.append(str(report.status)),
    )
    session.scan(1)
    assert len(events) == 1 and len(heard) == 1


def test_a_worker_without_enrollment_url_loads_nothing_of_device_trust() -> None:
    from tests.test_boundaries import NOT_IN_A_DEFAULT_SCAN, loaded_after, within

    loaded = loaded_after(
        "from stethoscope_desktop.worker import WorkerDeviceKey\n"
        "from tests.ui.reports import mixed_report, practices\n"
        "holder = WorkerDeviceKey(lambda: 'software')\n"
        "holder.after_scan(practices(), mixed_report())"
    )
    assert "stethoscope_desktop.worker" in loaded
    unwanted = (*NOT_IN_A_DEFAULT_SCAN, "stethoscope_desktop.device_trust", "cryptography")
    assert [name for name in loaded if within(name, unwanted)] == []
