"""Every real Stethoscope client's request, from its recorded shape, answered completely over HTTP.

`fixtures/client_requests.json` holds the shapes of the requests Stethoscope's documentation,
its app and the example pages sent, with policies in their shapes. Each query is built from its
shape and sent as its client sent it (GET or POST, /graphql or /scan, operationName as given) to
a server on a free port over canned tables, from an allowed https origin: the answer must be 200
with no errors, and have every field the client selected. A field is null only where that is the
answer's meaning: a practice the request's policy does not name, and `lastChange`, which no
system here reports. With `live_system`, the same requests go to `stethoscope-desktop serve`.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from stethoscope_desktop.api.security import RateLimiter
from stethoscope_desktop.api.service import ApiService, Freshness
from tests.api.helpers import (
    ALLOWED_ORIGIN,
    CountingSource,
    Response,
    app_practices,
    request,
    running_server,
)
from tests.api.test_device_data import FixedNetwork
from tests.canned import canned_linux

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "client_requests.json").read_text())
POLICIES: dict[str, Any] = FIXTURE["policies"]
REQUESTS: list[dict[str, Any]] = FIXTURE["requests"]
VALIDATE_FIELDS = re.compile(r"validate(WithDetails|V2)?\b")
# Leaves no system here answers: the time an interface last changed (osquery's is -1 on Linux).
NULL_LEAVES = frozenset({"lastChange"})
FEATURE_STATES = {"PASS", "FAIL", "NUDGE", "ON", "OFF", "UNKNOWN"}


def selection_text(selection: Sequence[str | Mapping[str, Any]]) -> str:
    """Write a selection tree as GraphQL: a leaf is a name, a mapping a field with its own."""
    parts = []
    for item in selection:
        if isinstance(item, str):
            parts.append(item)
        else:
            ((field, inner),) = item.items()
            parts.append(f"{field} {{ {selection_text(inner)} }}")
    return " ".join(parts)


def query_text(spec: Mapping[str, Any]) -> str:
    body = "{ " + selection_text(spec["selection"]) + " }"
    variables = spec["variables"]
    if not variables:
        return body
    definitions = ", ".join(f"${name}: {kind}" for name, kind in variables.items())
    return f"query {spec['operationName'] or ''}({definitions}) {body}"


def send(port: int, spec: Mapping[str, Any], headers: Mapping[str, str]) -> Response:
    query = query_text(spec)
    variables = {"policy": POLICIES[spec["policy"]]} if spec["policy"] else None
    if spec["transport"] == "GET":
        target = f"{spec['path']}?query={quote(query)}"
        target += f"&variables={quote(json.dumps(variables))}" if variables else "&variables="
        if spec["operationName"] is not None:
            target += f"&operationName={quote(spec['operationName'])}"
        return request(port, "GET", target, headers=headers)
    payload = {"query": query, "variables": variables, "operationName": spec["operationName"]}
    return request(
        port,
        "POST",
        spec["path"],
        headers={"Content-Type": "application/json", **headers},
        body=json.dumps(payload).encode(),
    )


def missing_fields(
    answer: Any, selection: Sequence[str | Mapping[str, Any]], policy: Mapping[str, Any], path: str
) -> list[str]:
    """Return where the answer lacks a selected field or holds an unexplained null."""
    if isinstance(answer, list):
        return [
            problem
            for index, item in enumerate(answer)
            for problem in missing_fields(item, selection, policy, f"{path}[{index}]")
        ]
    if not isinstance(answer, dict):
        return [f"{path} is {answer!r}, not an object"]
    problems = []
    for item in selection:
        field, inner = (item, None) if isinstance(item, str) else next(iter(item.items()))
        name = field.split("(")[0]
        where = f"{path}.{name}"
        if name not in answer:
            problems.append(f"{where} is missing")
            continue
        value = answer[name]
        if value is None:
            in_validate = VALIDATE_FIELDS.search(path) is not None
            if not (name in NULL_LEAVES or (in_validate and name not in policy)):
                problems.append(f"{where} is null")
        elif inner is not None:
            problems.extend(missing_fields(value, inner, policy, where))
    return problems


@dataclass
class Device:
    port: int


@pytest.fixture(scope="module")
def device() -> Iterator[Device]:
    tables = canned_linux(
        system_info=[{"computer_name": "laptop-42", "uuid": "abc-123", "hardware_vendor": "LENOVO",
                      "hardware_model": "ThinkPad T14", "hardware_serial": "PF4K8L2M"}],
    )  # fmt: skip
    practices = app_practices()
    service = ApiService(
        CountingSource(tables),
        lambda: practices,
        freshness=Freshness(max_report_age=300.0, min_scan_interval=0.0),
        network=FixedNetwork(),
    )
    with running_server(service, rate_limiter=RateLimiter(10_000, 1000.0)) as server:
        yield Device(server.port)


def request_id(spec: Mapping[str, Any]) -> str:
    return f"{spec['clients'][0]} {spec['transport']} {spec['path']} {spec['policy']}"


@pytest.mark.parametrize("spec", REQUESTS, ids=request_id)
def test_each_real_clients_request_is_answered_completely(
    device: Device, spec: dict[str, Any]
) -> None:
    answer = send(device.port, spec, {"Origin": ALLOWED_ORIGIN})
    assert answer.status == 200, answer.body
    assert "errors" not in answer.body, answer.body["errors"]
    policy = POLICIES[spec["policy"]] if spec["policy"] else {}
    assert missing_fields(answer.body["data"], spec["selection"], policy, "data") == []


def test_the_fixture_covers_every_kind_of_client() -> None:
    clients = " ".join(client for spec in REQUESTS for client in spec["clients"])
    for name in ("docs/GRAPHQL.md", "docs/POLICIES.md", "src/lib/Stethoscope.js", "examples"):
        assert name in clients
    assert {spec["transport"] for spec in REQUESTS} == {"GET", "POST"}
    assert {spec["path"] for spec in REQUESTS} == {"/graphql", "/scan"}
    assert set(POLICIES) == {spec["policy"] for spec in REQUESTS if spec["policy"]}


def test_validate_alone_answers_the_status_as_stethoscope_1_0_did(device: Device) -> None:
    (spec,) = [
        s for s in REQUESTS if s["transport"] == "POST" and s["selection"] == [
            {"policy": ["validate(policy: $policy)"]}
        ]
    ]  # fmt: skip
    answer = send(device.port, spec, {"Origin": ALLOWED_ORIGIN})
    assert answer.body["data"]["policy"]["validate"] in FEATURE_STATES


def test_a_graphiql_links_operation_name_null_means_none(device: Device) -> None:
    (spec,) = [s for s in REQUESTS if s["operationName"] == "null"]
    answer = send(device.port, spec, {})
    assert answer.status == 200 and answer.body["data"]["device"]["deviceName"] == "laptop-42"


@pytest.mark.live_system
def test_each_real_clients_request_is_answered_by_serve(tmp_path: Path) -> None:
    from tests.api.test_serve_cli import first_line, start_serve

    practices = tmp_path / "practices"
    practices.mkdir()
    (practices / "config.yaml").write_text(f"allowHosts: ['{ALLOWED_ORIGIN}']\n")
    process = start_serve(practices, "--port", "0", "--engine", "embedded", "--max-age", "60")
    try:
        port = int(first_line(process).split("http://127.0.0.1:")[1].split("/")[0])
        for spec in REQUESTS:
            answer = send(port, spec, {"Origin": ALLOWED_ORIGIN})
            assert answer.status == 200 and "errors" not in answer.body, (
                request_id(spec),
                answer.body,
            )
            missing = missing_fields(answer.body["data"], spec["selection"], {}, "data")
            assert not [m for m in missing if m.endswith("is missing")], (request_id(spec), missing)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
