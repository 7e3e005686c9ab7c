"""The nonce ledger file, and the signer noticing a replaced key (issue 17).

A nonce is signed once per origin however many workers come and go: the ledger is a file in the
user's state folder that a worker started later reads, so a worker need not stay up while its
nonces are remembered. A ledger that cannot be read whole refuses tokens until every nonce it
may hold has expired (failing safe), never taking itself as empty. And a key replaced by
`device-key --new` while a worker runs signs the next token.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from stethoscope_desktop.api.attest import AttestationUnavailable, DeviceKeyUnusable, DeviceTrust
from stethoscope_desktop.device_trust import token as token_module
from stethoscope_desktop.device_trust.jws import parse_compact
from stethoscope_desktop.device_trust.keys import SOFTWARE_KEY_FILE, replace_device_key
from stethoscope_desktop.device_trust.public_key import read_public_key_info
from stethoscope_desktop.device_trust.token import (
    LEDGER_FILE,
    NONCE_KEEP_SECONDS,
    AttestationRefused,
    FileNonceLedger,
    NonceLedgerUnusable,
)
from stethoscope_desktop.device_trust.verify import verify_token
from tests.api.helpers import request
from tests.test_worker import (  # noqa: F401 (start_worker: the fixture)
    StartWorker,
    start_worker,
    worker_on_api_sockets,
)
from tests.ui.reports import mixed_report

NONCE = "nonce-of-the-login-server-0123"
ORIGIN = "https://login.example.com"
NOW = 1_800_000_000.0


def _attest(trust: DeviceTrust, nonce: str = NONCE, origin: str = ORIGIN) -> str:
    attestation = trust.attest(
        mixed_report(), nonce=nonce, audience=origin, page_policy=None, policy_version=""
    )
    return attestation.token


def _trust(folder: Path, now: list[float]) -> DeviceTrust:
    return DeviceTrust(lambda: "software", folder=folder, clock=lambda: now[0])


# -- the ledger file --------------------------------------------------------------------------


def test_a_second_ledger_on_the_file_gives_the_first_ones_token(tmp_path: Path) -> None:
    path = tmp_path / "state" / LEDGER_FILE
    first = FileNonceLedger(path)
    assert first.record(ORIGIN, NONCE, "token-a", NOW) == "token-a"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = FileNonceLedger(path)  # another process, later
    assert second.token_for(ORIGIN, NONCE, NOW + 10) == "token-a"
    assert second.record(ORIGIN, NONCE, "token-b", NOW + 10) == "token-a"
    assert second.token_for("https://other.example.com", NONCE, NOW + 10) is None
    assert second.record("https://other.example.com", NONCE, "token-c", NOW + 10) == "token-c"
    assert len(json.loads(path.read_text())["entries"]) == 2


def test_a_nonce_is_forgotten_once_its_token_and_the_margin_are_over(tmp_path: Path) -> None:
    path = tmp_path / LEDGER_FILE
    ledger = FileNonceLedger(path)
    ledger.record(ORIGIN, NONCE, "token-a", NOW)
    assert ledger.token_for(ORIGIN, NONCE, NOW + NONCE_KEEP_SECONDS - 1) == "token-a"
    assert ledger.token_for(ORIGIN, NONCE, NOW + NONCE_KEEP_SECONDS) is None
    ledger.record(ORIGIN, "another-nonce-0123456", "token-b", NOW + NONCE_KEEP_SECONDS)
    assert [entry["token"] for entry in json.loads(path.read_text())["entries"]] == ["token-b"]


def test_the_file_holds_a_bounded_number_of_nonces(tmp_path: Path) -> None:
    ledger = FileNonceLedger(tmp_path / LEDGER_FILE, max_remembered=2)
    ledger.record(ORIGIN, "nonce-one-0123456789", "a", NOW)
    ledger.record(ORIGIN, "nonce-two-0123456789", "b", NOW)
    with pytest.raises(AttestationRefused, match="more than 2 tokens"):
        ledger.record(ORIGIN, "nonce-three-01234567", "c", NOW)
    assert ledger.record(ORIGIN, "nonce-three-01234567", "c", NOW + NONCE_KEEP_SECONDS) == "c"


def test_two_ledgers_at_once_hand_out_one_token_per_nonce(tmp_path: Path) -> None:
    """Threads of two ledgers on one file (the lock file serialises them, as between processes)."""
    path = tmp_path / LEDGER_FILE
    ledgers = [FileNonceLedger(path), FileNonceLedger(path)]
    handed: list[str] = []
    start = threading.Barrier(8)

    def sign(number: int) -> None:
        start.wait()
        handed.append(ledgers[number % 2].record(ORIGIN, NONCE, f"token-{number}", NOW))

    threads = [threading.Thread(target=sign, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handed) == 8 and len(set(handed)) == 1


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"format": 2, "entries": []}).encode(),
        json.dumps({"format": 1, "entries": [{"origin": ORIGIN, "nonce": NONCE, "at": NOW}]}).encode(),
        json.dumps(
            {"format": 1, "entries": [{"origin": ORIGIN, "nonce": NONCE, "at": True, "token": "t"}]}
        ).encode(),
        b"",
        json.dumps(
            {"format": 1, "entries": [{"origin": ORIGIN, "nonce": NONCE, "at": NOW, "token": t} for t in "ab"]}
        ).encode(),
    ],
)  # fmt: skip
@pytest.mark.allow_warnings
def test_a_corrupt_ledger_refuses_tokens_until_every_nonce_it_may_hold_expired(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / LEDGER_FILE
    path.write_bytes(content)
    os.utime(path, (NOW - 10, NOW - 10))  # last written ten seconds ago
    ledger = FileNonceLedger(path)
    with pytest.raises(NonceLedgerUnusable, match=f"{LEDGER_FILE} is corrupt"):
        ledger.token_for(ORIGIN, NONCE, NOW)
    with pytest.raises(NonceLedgerUnusable, match="no device token until"):
        ledger.record(ORIGIN, NONCE, "token-b", NOW + NONCE_KEEP_SECONDS - 11)
    assert path.read_bytes() == content  # left as it was
    # Once every nonce it may have held has expired, a new ledger starts in its place.
    later = NOW - 10 + NONCE_KEEP_SECONDS
    assert ledger.record(ORIGIN, NONCE, "token-b", later) == "token-b"
    assert FileNonceLedger(path).token_for(ORIGIN, NONCE, later) == "token-b"


def test_a_ledger_too_large_or_not_a_file_is_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / LEDGER_FILE
    ledger = FileNonceLedger(path)
    ledger.record(ORIGIN, NONCE, "x" * 200, NOW)
    monkeypatch.setattr(token_module, "MAX_LEDGER_FILE_BYTES", 100)
    os.utime(path, (NOW, NOW))
    with pytest.raises(NonceLedgerUnusable, match="larger than 100 bytes"):
        ledger.token_for(ORIGIN, NONCE, NOW + 1)
    path.unlink()
    path.mkdir()
    os.utime(path, (NOW, NOW))
    with pytest.raises(NonceLedgerUnusable, match="not a regular file"):
        ledger.token_for(ORIGIN, NONCE, NOW + 1)


@pytest.mark.allow_warnings
def test_a_ledger_that_cannot_be_written_hands_out_no_token(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    now = [NOW]
    trust = DeviceTrust(
        lambda: "software",
        folder=tmp_path / "keys",
        clock=lambda: now[0],
        ledger=FileNonceLedger(blocker / LEDGER_FILE),
    )
    with pytest.raises(AttestationUnavailable, match="nonce ledger"):
        _attest(trust)


# -- through the API's DeviceTrust: workers one after another ----------------------------------


def test_a_worker_started_later_gives_the_same_token_for_a_nonce(tmp_path: Path) -> None:
    now = [NOW]
    first = _trust(tmp_path, now)
    token = _attest(first)
    assert (tmp_path / LEDGER_FILE).is_file()
    assert not first.remembering()  # it may leave at once
    del first
    now[0] += 60
    second = _trust(tmp_path, now)
    assert _attest(second) == token
    assert _attest(second, origin="https://other.example.com") != token


@pytest.mark.allow_warnings
def test_a_corrupt_ledger_is_503_through_the_api(tmp_path: Path) -> None:
    now = [time.time()]
    (tmp_path / LEDGER_FILE).write_text("{corrupt")
    # A local program reads the file and why; a web page what is wrong, without the path.
    with pytest.raises(AttestationUnavailable, match=f"{tmp_path / LEDGER_FILE}.*corrupt"):
        _attest(_trust(tmp_path, now), origin="local")
    with pytest.raises(AttestationUnavailable, match="nonce ledger cannot be read") as raised:
        _attest(_trust(tmp_path, now))
    assert str(tmp_path) not in str(raised.value)


@pytest.mark.live_system
@pytest.mark.skipif(sys.platform == "win32", reason="Windows hands sockets over with --api-shared")
def test_two_worker_processes_in_a_row_sign_a_nonce_once(
    start_worker: StartWorker,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    machine = tmp_path / "etc-xdg" / "stethoscope"
    machine.mkdir(parents=True)
    (machine / "config.yaml").write_text("deviceKey: software\n", encoding="utf-8")

    def attest_in_a_worker(nonce: str) -> dict[str, str]:
        with worker_on_api_sockets(start_worker, idle_seconds="2") as (worker, port):
            answer = request(
                port,
                "POST",
                "/attest",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"nonce": nonce}).encode(),
                host=f"127.0.0.1:{port}",
            )
            assert answer.status == 200, (answer.body, worker.stderr())
            # It leaves after its idle time although it signed a token just now.
            assert worker.wait(timeout=30) == 0, worker.stderr()
        body: dict[str, str] = answer.body
        return body

    first = attest_in_a_worker(NONCE)
    second = attest_in_a_worker(NONCE)
    assert second == first  # not a second, different token
    third = attest_in_a_worker("another-nonce-0123456789")
    assert third["token"] != first["token"]
    ledger = tmp_path / "home" / ".local" / "state" / "stethoscope" / LEDGER_FILE
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
    assert [entry["nonce"] for entry in json.loads(ledger.read_text())["entries"]] == [
        NONCE,
        "another-nonce-0123456789",
    ]


# -- a key replaced while the signer runs ------------------------------------------------------


def test_a_key_replaced_while_the_worker_runs_signs_the_next_token(tmp_path: Path) -> None:
    now = [time.time()]
    trust = _trust(tmp_path, now)
    before = _attest(trust)
    old_kid = parse_compact(before).header["kid"]
    assert read_public_key_info(tmp_path).kid == old_kid  # type: ignore[union-attr]

    new_key, backups = replace_device_key("software", tmp_path)  # device-key --new, elsewhere
    assert new_key.kid != old_kid and backups
    after = _attest(trust, nonce="a-nonce-after-the-new-key")
    assert parse_compact(after).header["kid"] == new_key.kid
    verify_token(after, new_key.public_jwk, nonce="a-nonce-after-the-new-key", origin=ORIGIN)
    assert trust.key().kid == new_key.kid
    info = read_public_key_info(tmp_path)  # the window's About line follows
    assert info is not None and info.kid == new_key.kid
    # A nonce signed before keeps its token: one token per nonce, whichever key.
    assert _attest(trust) == before


@pytest.mark.allow_warnings
def test_a_replaced_key_that_cannot_be_used_signs_nothing(tmp_path: Path) -> None:
    now = [time.time()]
    trust = _trust(tmp_path, now)
    _attest(trust)
    key_file = tmp_path / SOFTWARE_KEY_FILE
    replacement = tmp_path / "replacement"
    replacement.write_text("not a key")
    replacement.chmod(0o600)
    os.replace(replacement, key_file)  # replaced by something corrupt
    with pytest.raises(DeviceKeyUnusable, match="corrupt"):
        _attest(trust, nonce="a-nonce-after-the-new-key", origin="local")
    with pytest.raises(DeviceKeyUnusable, match="stethoscope-desktop device-key` on this device"):
        _attest(trust, nonce="a-nonce-after-the-new-key")
