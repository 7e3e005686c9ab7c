"""A real browser: headless Chromium runs a page's fetch() against the API, from two origins.

The page is served from a second loopback port. From an allowed origin its script reads the
verdict and writes it into the DOM; from an origin IT did not allow, the browser blocks the
answer (CORS) and the script writes that instead. Both pages are read back with --dump-dom.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from stethoscope_desktop.api.server import ApiServer
from tests.api.helpers import (
    CLASSIC_QUERY,
    CLASSIC_VARIABLES,
    RecordingObserver,
    app_practices,
    make_service,
    running_server,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs the Debian package chromium (.ci/install-debian-packages installs it as root)",
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Login</title></head>
<body>
<p id="post">waiting</p>
<p id="get">waiting</p>
<script>
const api = "__API__";
const show = (id, text) => { document.getElementById(id).textContent = text; };
fetch(api, {
  method: "POST",
  headers: {"Content-Type": "application/json"},
  body: JSON.stringify({query: __QUERY__, variables: __VARIABLES__, sessionId: "browser-1"}),
})
  .then(response => response.json())
  .then(answer => {
    const verdict = answer.data.policy.validate;
    const device = answer.data.device;
    show("post", `answered status=${verdict.status} osVersion=${verdict.osVersion} ` +
      `firewall=${verdict.firewall} device=${device.deviceName} serial=${device.deviceId}`);
  })
  .catch(error => show("post", `blocked ${error.name}`));
fetch(api + "?query=" + encodeURIComponent("{ device { deviceName } }"))
  .then(response => response.json())
  .then(answer => show("get", `answered device=${answer.data.device.deviceName}`))
  .catch(error => show("get", `blocked ${error.name}`));
</script>
</body></html>
"""


def page_for(api: ApiServer) -> bytes:
    return (
        PAGE.replace("__API__", api.url)
        .replace("__QUERY__", json.dumps(CLASSIC_QUERY))
        .replace("__VARIABLES__", json.dumps(CLASSIC_VARIABLES))
        .encode()
    )


@contextmanager
def page_server(page: dict[str, bytes]) -> Iterator[str]:
    """Serve `page["html"]` (filled in once the API's port is known); yield the origin."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page["html"]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def dump_dom(url: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="stethoscope-chromium-") as profile:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_page_from_an_allowed_origin_reads_the_verdict_and_a_foreign_one_is_blocked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="stethoscope_desktop.api")
    observer = RecordingObserver()
    page = {"html": b""}
    with page_server(page) as allowed, page_server(page) as foreign:
        practices = app_practices(allow_hosts=(allowed,), host_labels=())
        service, source = make_service(practices=practices)
        with running_server(service, observer=observer) as api:
            page["html"] = page_for(api)
            allowed_dom = dump_dom(allowed + "/login.html")
            foreign_dom = dump_dom(foreign + "/login.html")
    assert 'id="post">answered status=' in allowed_dom, allowed_dom
    # The policy names only darwin and win32 OS versions: this Linux device fails, as in Stethoscope.
    assert "osVersion=FAIL firewall=PASS device=laptop-42 serial=abc-123" in allowed_dom
    assert 'id="get">answered device=laptop-42' in allowed_dom
    assert 'id="post">blocked TypeError' in foreign_dom, foreign_dom
    assert 'id="get">blocked TypeError' in foreign_dom
    assert "laptop-42" not in foreign_dom
    # The POST evaluated a policy (the GET asked none); the label is the allowed origin's host.
    assert observer.checked == ["127.0.0.1"]
    assert source.scans  # (one or two: the GET may come before the POST's scan starts)
    # The browser did ask from the foreign page (a preflight for the POST, the simple GET): refused.
    refused = [
        r.getMessage()
        for r in caplog.records
        if f"from {foreign} (refused) -> 403" in r.getMessage()
    ]
    assert {line.split()[0] for line in refused} == {"OPTIONS", "GET"}
