"""Fuzzing the worker protocol: every message round-trips, and any line is read or refused cleanly.

`encode` then `decode` gives every command and event back, whatever its fields hold. Any other
line — garbage bytes, JSON of any shape, another version, a real message's JSON mutated, nesting
deeper than the parser's recursion, overlong — raises a `ProtocolError` (or one of its kinds)
from `decode`, and `LineReader` hands every line of a stream on, whole or as `LineTooLong`,
without holding more than its limit. Pure functions: many examples, a second or two.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stethoscope_desktop.core.protocol import (
    Command,
    Event,
    LineReader,
    LineTooLong,
    ProtocolError,
    decode,
    encode,
)
from tests.fuzz.api_strategies import commands, events, protocol_lines


@given(st.one_of(commands(), events()))
@settings(max_examples=200)
def test_every_command_and_event_round_trips(message: Command | Event) -> None:
    line = encode(message)
    assert line.endswith("\n") and "\n" not in line[:-1]
    kind = Command if isinstance(message, Command) else Event
    assert decode(line, kind) == message
    assert decode(line.encode("utf-8"), kind) == message


@pytest.mark.parametrize("kind", [Command, Event])
@given(line=protocol_lines())
@settings(max_examples=300)
@example(line=b'{"v":1,"op":"sockets","shared":["\xc3\xa9"]}')
@example(line=b"[" * 100_000)
@example(line=b'{"v":1,"op":"scan","id":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
@example(line=b'{"v":1,"event":"report","id":1,"report":' + b"[" * 100_000 + b"}")
def test_any_line_decodes_or_raises_a_protocol_error(
    kind: type[Command] | type[Event], line: bytes
) -> None:
    for form in (line, line.decode("utf-8", "replace")):
        try:
            decoded = decode(form, kind)
        except ProtocolError as error:
            assert str(error), "a protocol error says what is wrong"
            assert len(str(error)) < 2000, "and quotes the line short"
        else:
            assert isinstance(decoded, kind)
            assert decode(encode(decoded), kind) == decoded


class _Chunks(io.RawIOBase):
    """A stream that gives its data in the chunk sizes it is told (a pipe's partial reads)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = data
        self._sizes = sizes or [1]
        self._turn = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        step = self._sizes[self._turn % len(self._sizes)]
        self._turn += 1
        taken = self._data[: min(step, size if size >= 0 else step)]
        self._data = self._data[len(taken) :]
        return taken


@given(
    lines=st.lists(protocol_lines(), max_size=8),
    sizes=st.lists(st.integers(1, 70_000), min_size=1, max_size=5).filter(lambda s: sum(s) > 2000),
    limit=st.sampled_from([16, 1000, 1 << 20]),
    ending=st.sampled_from([b"", b"\n"]),
)
@settings(max_examples=150)
def test_line_reader_gives_every_line_whole_or_as_too_long(
    lines: list[bytes], sizes: list[int], limit: int, ending: bytes
) -> None:
    data = b"\n".join(lines) + (ending if lines else b"")
    read = list(LineReader(_Chunks(data, sizes), limit))  # type: ignore[arg-type]
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    assert len(read) == len(expected)
    for got, want in zip(read, expected, strict=True):
        if len(want) > limit:
            assert isinstance(got, LineTooLong) and got.length == len(want)
        else:
            assert got == want
        if isinstance(got, bytes):
            with contextlib.suppress(ProtocolError):
                decode(got, Command)
