"""/raw and /debugger end to end over real HTTP on a free port: who gets what, and every rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from stethoscope_desktop.api.network import IpAddress, NetworkFacts, NetworkInterface
from stethoscope_desktop.api.security import RateLimiter
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.api.service import ApiService, Freshness
from tests.api.helpers import (
    ALLOWED_ORIGIN,
    FOREIGN_ORIGIN,
    CountingSource,
    app_practices,
    request,
    running_server,
)
from tests.canned import canned_linux

PLAIN_HTTP_ORIGIN = "http://portal.intranet.example.com"
SERIAL = "PF4K8L2M"
UUID = "4c4c4544-0042-3510-8052-b4c04f4e3732"
IP = "192.168.7.23"
MAC = "5c:3a:45:12:34:56"
IDENTIFIERS = (SERIAL, UUID, IP, MAC)
LOG_LINE = "2026-12-03 10:00:00 INFO     stethoscope_desktop.api.server: GET /graphql from …"


class FixedNetwork:
    def read(self) -> NetworkFacts:
        return NetworkFacts(
            (IpAddress("wlp3s0", IP, "255.255.255.0"),),
            (NetworkInterface("wlp3s0", MAC, "1", True),),
        )


@dataclass
class Api:
    server: ApiServer
    source: CountingSource

    @property
    def port(self) -> int:
        return self.server.port


def service_over(source: CountingSource) -> ApiService:
    practices = app_practices(allow_hosts=(ALLOWED_ORIGIN, PLAIN_HTTP_ORIGIN))
    return ApiService(
        source,
        lambda: practices,
        freshness=Freshness(max_report_age=300.0, min_scan_interval=0.0),
        network=FixedNetwork(),
    )


def canned_source() -> CountingSource:
    return CountingSource(
        canned_linux(
            system_info=[{"computer_name": "laptop-42", "uuid": UUID, "hardware_vendor": "LENOVO",
                          "hardware_model": "ThinkPad T14", "hardware_serial": SERIAL}]
        )
    )  # fmt: skip


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    log = tmp_path / "stethoscope.log"
    log.write_text(f"{LOG_LINE}\n")
    source = canned_source()
    with running_server(service_over(source), log_file=log) as server:
        yield Api(server, source)


def test_raw_gives_a_local_program_every_fact(api: Api) -> None:
    answer = request(api.port, "GET", "/raw")
    assert answer.status == 200
    assert answer.header("Content-Type") == "application/json; charset=utf-8"
    assert answer.header("Access-Control-Allow-Origin") is None
    raw = answer.body
    assert (raw["device"]["deviceId"], raw["device"]["hardwareSerial"]) == (UUID, SERIAL)
    assert raw["device"]["osBuild"] == "6.1.0-28-amd64"
    assert raw["network"]["macAddresses"][0]["mac"] == MAC
    assert {"name": "bash", "version": "5.2.15-2+b7", "source": "deb", "path": ""} in raw["checks"][
        "applications"
    ]["rows"]
    assert raw["engine"]["name"] == "embedded"


def test_raw_gives_a_secure_allowed_origin_the_identifiers_with_cors(api: Api) -> None:
    answer = request(api.port, "GET", "/raw", headers={"Origin": ALLOWED_ORIGIN})
    assert answer.status == 200
    assert answer.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    text = json.dumps(answer.body)
    assert all(identifier in text for identifier in IDENTIFIERS)


@pytest.mark.parametrize("path", ["/raw", "/debugger"])
def test_a_plain_http_allowed_origin_gets_the_facts_without_identifiers(
    api: Api, path: str
) -> None:
    answer = request(api.port, "GET", path, headers={"Origin": PLAIN_HTTP_ORIGIN})
    assert answer.status == 200
    assert answer.header("Access-Control-Allow-Origin") == PLAIN_HTTP_ORIGIN
    text = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
    assert "laptop-42" in text
    for identifier in IDENTIFIERS:
        assert identifier not in text, identifier


@pytest.mark.parametrize("path", ["/raw", "/debugger"])
@pytest.mark.parametrize(
    ("headers", "host", "status", "code"),
    [
        ({"Origin": FOREIGN_ORIGIN}, None, 403, "ORIGIN_NOT_ALLOWED"),
        ({"Origin": "null"}, None, 403, "ORIGIN_NOT_ALLOWED"),
        ({}, "evil.example:{port}", 403, "HOST"),
        ({"Sec-Fetch-Site": "cross-site"}, None, 403, "NO_ORIGIN"),
        ({"Referer": "https://evil.example/page"}, None, 403, "REFERER"),
    ],
)
def test_the_rules_of_the_api_apply(
    api: Api, path: str, headers: dict[str, str], host: str | None, status: int, code: str
) -> None:
    answer = request(
        api.port, "GET", path, headers=headers, host=host.format(port=api.port) if host else None
    )
    assert answer.status == status
    assert answer.body["errors"][0]["extensions"]["code"] == code
    assert answer.header("Access-Control-Allow-Origin") is None
    assert api.source.gatherings == 0  # nothing was read for a refused request


@pytest.mark.parametrize("path", ["/raw", "/debugger"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_only_get(api: Api, path: str, method: str) -> None:
    answer = request(api.port, method, path, headers={"Origin": ALLOWED_ORIGIN}, body=b"{}")
    assert answer.status == 405
    assert answer.header("Allow") == "GET, OPTIONS"
    assert answer.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


def test_a_preflight_for_raw_allows_get_only(api: Api) -> None:
    get = request(
        api.port,
        "OPTIONS",
        "/raw",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert get.status == 204 and get.header("Access-Control-Allow-Methods") == "GET"
    post = request(
        api.port,
        "OPTIONS",
        "/raw",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert post.status == 405 and post.header("Access-Control-Allow-Origin") is None


def test_an_overlong_url_is_414(api: Api) -> None:
    answer = request(api.port, "GET", "/raw?x=" + "a" * (65 * 1024))
    assert answer.status == 414


def test_the_rate_limit_covers_raw_and_debugger() -> None:
    source = canned_source()
    with running_server(service_over(source), rate_limiter=RateLimiter(2, 0.0)) as server:
        statuses = [
            request(server.port, "GET", path, headers={"Origin": ALLOWED_ORIGIN}).status
            for path in ("/raw", "/debugger", "/raw")
        ]
        limited = request(server.port, "GET", "/raw", headers={"Origin": ALLOWED_ORIGIN})
    assert statuses == [200, 200, 429]
    assert limited.header("Retry-After") == "3600"


def test_concurrent_requests_share_one_gathering(api: Api) -> None:
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: request(api.port, "GET", "/raw").status, range(20)))
    assert results == [200] * 20
    assert api.source.gatherings == 1 and api.source.count == 0


@pytest.mark.allow_warnings
def test_a_failed_gathering_is_503_saying_why() -> None:
    source = canned_source()
    source.fail_with = RuntimeError("the engine went away")
    with running_server(service_over(source)) as server:
        answer = request(server.port, "GET", "/raw")
    assert answer.status == 503
    assert answer.body["errors"][0]["extensions"]["code"] == "SCAN_FAILED"
    assert "the engine went away" in answer.body["errors"][0]["message"]


def test_debugger_gives_a_local_program_versions_log_and_device_data(api: Api) -> None:
    answer = request(api.port, "GET", "/debugger")
    assert answer.status == 200
    assert answer.header("Content-Type") == "text/plain; charset=utf-8"
    text = answer.body
    assert text.startswith("Stethoscope Desktop version: ")
    assert "Policy files, in layer order: " in text
    assert LOG_LINE in text
    device_data = json.loads(text.split("DEVICE DATA\n" + "=" * 20 + "\n", 1)[1])
    assert device_data["device"]["hardwareSerial"] == SERIAL


def test_debugger_gives_a_web_page_no_log(api: Api) -> None:
    answer = request(api.port, "GET", "/debugger", headers={"Origin": ALLOWED_ORIGIN})
    assert answer.status == 200
    assert answer.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert LOG_LINE not in answer.body
    assert "(the log is only for programs on this computer)" in answer.body
    assert SERIAL in answer.body  # a secure allowed origin may see the identifiers


def test_debugger_is_bounded_in_size(tmp_path: Path) -> None:
    log = tmp_path / "stethoscope.log"
    log.write_text("x" * 100 + "\n" + "y" * 5_000_000 + "\n")
    packages = [
        {
            "name": f"package-{n:05d}-" + "z" * 200,
            "version": "1.0-1",
            "status": "install ok installed",
        }
        for n in range(20_000)
    ]
    source = CountingSource(canned_linux(deb_packages=packages))
    with running_server(service_over(source), log_file=log) as server:
        answer = request(server.port, "GET", "/debugger")
    assert answer.status == 200
    assert len(answer.body.encode()) < 2 * 1024 * 1024 + 64 * 1024 + 16 * 1024
    assert '"applications": "' in answer.body  # said what was cut
