"""`stethoscope-desktop serve`: the headless API in its own process, stopped by SIGTERM."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.helpers import get_query, request

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://login.example.com"


def start_serve(practices: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stethoscope_desktop",
            "serve",
            "--practices",
            str(practices),
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    assert ready, "serve printed nothing within a minute"
    return process.stdout.readline()


@pytest.fixture
def practices(tmp_path: Path) -> Path:
    folder = tmp_path / "practices"
    folder.mkdir()
    (folder / "config.yaml").write_text(f"allowHosts: ['{ORIGIN}']\n")
    (folder / "policy.yaml").write_text("firewall: ALWAYS\n")
    return folder


@pytest.mark.live_system
def test_serve_prints_its_url_answers_and_stops_on_sigterm(practices: Path) -> None:
    process = start_serve(practices, "--port", "0", "--engine", "embedded", "--max-age", "60")
    try:
        line = first_line(process)
        assert line.startswith("Stethoscope API listening on http://127.0.0.1:"), line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        answer = get_query(
            port,
            "{ policy { validate(policy: {screenLock: IF_SUPPORTED}) { status screenLock } } }",
            headers={"Origin": ORIGIN},
        )
        assert answer.status == 200, answer.body
        assert answer.body["data"]["policy"]["validate"]["screenLock"] in (
            "PASS", "FAIL", "NUDGE", "UNKNOWN",
        )  # fmt: skip
        assert answer.header("Access-Control-Allow-Origin") == ORIGIN
        introspection = get_query(port, "{ __schema { queryType { name } } }")
        assert introspection.status == 400  # not in debug mode
        raw = request(port, "GET", "/raw", headers={"Origin": ORIGIN})
        assert raw.status == 200 and raw.header("Access-Control-Allow-Origin") == ORIGIN
        assert raw.body["device"]["osBuild"]  # this machine's kernel release
        assert raw.body["checks"]["device"]["error"] is None
        debugger = request(port, "GET", "/debugger")
        assert debugger.status == 200 and "(this process writes no log file)" in debugger.body
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Stethoscope API stopped." in out
    assert f"from {ORIGIN} (" in err and "-> 200" in err  # each request is logged


def test_serve_on_a_port_in_use_says_so_and_exits_4(practices: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_serve(practices, "--port", str(port), "--engine", "embedded")
        out, err = process.communicate(timeout=60)
    assert process.returncode == 4
    assert f"port {port}" in err and "apiPort in config.yaml" in err
    assert "Traceback" not in err and out == ""


def test_serve_debug_answers_introspection(practices: Path) -> None:
    process = start_serve(practices, "--port", "0", "--engine", "embedded", "--debug")
    try:
        port = int(first_line(process).split("http://127.0.0.1:")[1].split("/")[0])
        answer = get_query(port, '{ __type(name: "FeatureState") { enumValues { name } } }')
        assert answer.status == 200
        names = [value["name"] for value in answer.body["data"]["__type"]["enumValues"]]
        assert names == ["PASS", "FAIL", "NUDGE", "ON", "OFF", "UNKNOWN", "UNSUPPORTED"]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0
