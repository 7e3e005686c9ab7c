"""Every file format the app reads, fuzzed through the app's real loading paths.

For each format of `tests.fuzz.file_strategies` (schema-shaped documents with hostile values and
YAML's traps, mutated valid files, arbitrary bytes), `tests.fuzz.file_loaders` runs what `scan`,
the worker, `check-policy`, `convert-instructions` and `import-fleet` do with it. The property:
nothing raises, every problem names the file it is about and says something, a scan is reported
to the tray, everything printed can be written to a UTF-8 terminal, and what `import-fleet`
writes loads cleanly. Examples are derandomized (tests/conftest.py), so CI runs the same ones
every time; `tests/benchmarks/fuzz_files.py` runs a long randomized campaign over the same
strategies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings

from tests.fuzz.file_loaders import FileLoading
from tests.fuzz.file_strategies import FORMATS, FuzzInput, alias_bomb, fuzz_inputs

# Examples per format: the whole file set stays well under a minute on two cores.
_FOLDER_EXAMPLES = 25  # a load, a scan on canned tables and check-policy each
_CHEAP_EXAMPLES = 60


@pytest.fixture(scope="module")
def loading() -> Iterator[FileLoading]:
    runner = FileLoading()
    yield runner
    runner.close()


def _assert_clear(loading: FileLoading, generated: FuzzInput, folder: Path) -> None:
    unclear = loading.run(generated, folder).unclear
    assert not unclear, "\n".join(unclear)


def test_every_format_has_valid_files_to_mutate() -> None:
    for kind in FORMATS.values():
        assert kind.seeds, f"{kind.name}: no valid file to mutate"


def test_the_seeds_themselves_load_clearly(loading: FileLoading, tmp_path: Path) -> None:
    for kind in FORMATS.values():
        for seed in kind.seeds:
            _assert_clear(
                loading, FuzzInput(kind.name, "seed", seed.read_bytes()), tmp_path / "run"
            )


@pytest.mark.parametrize("name", ["config", "policy", "instructions", "checks.d"])
def test_its_files(
    loading: FileLoading, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    @settings(max_examples=_FOLDER_EXAMPLES)
    @given(generated=fuzz_inputs(name))
    @example(generated=FuzzInput(name, "schema", alias_bomb(9, 9).encode()))
    @example(generated=FuzzInput(name, "schema", b"!!python/object/apply:os.system ['false']\n"))
    @example(generated=FuzzInput(name, "bytes", b"\xff\xfe\x00\x00"))
    @example(
        generated=FuzzInput(name, "schema", b'{"\\ud800": ["\\udfff"], "name": "\\ud83d\\ude00"}')
    )
    def run(generated: FuzzInput) -> None:
        _assert_clear(loading, generated, tmp_path_factory.mktemp("run"))

    run()


@pytest.mark.parametrize("name", ["fleet-import", "check-definition"])
def test_fleets_file_and_our_check_definitions(
    loading: FileLoading, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    @settings(max_examples=_CHEAP_EXAMPLES)
    @given(generated=fuzz_inputs(name))
    @example(generated=FuzzInput(name, "schema", b'[{"name": "x", "query": "SELECT 1;\\u0000"}]'))
    def run(generated: FuzzInput) -> None:
        _assert_clear(loading, generated, tmp_path_factory.mktemp("run"))

    run()


@pytest.mark.allow_warnings  # a corrupt state file is logged as a warning and ignored
@settings(max_examples=_CHEAP_EXAMPLES * 2)
@given(generated=fuzz_inputs("state.json"))
@example(
    generated=FuzzInput(
        "state.json", "schema", b'{"x": NaN, "notify": {"snoozed_until": Infinity}}'
    )
)
@example(generated=FuzzInput("state.json", "schema", b"[" * 100_000 + b"]" * 100_000))
def test_the_state_file(
    loading: FileLoading, tmp_path_factory: pytest.TempPathFactory, generated: FuzzInput
) -> None:
    _assert_clear(loading, generated, tmp_path_factory.mktemp("run"))


@pytest.mark.parametrize(
    "name", ["policy-server-cache", "policy-server-meta", "policy-server-answer"]
)
def test_the_policy_servers_files(
    loading: FileLoading, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    @settings(max_examples=_FOLDER_EXAMPLES)
    @given(generated=fuzz_inputs(name))
    def run(generated: FuzzInput) -> None:
        _assert_clear(loading, generated, tmp_path_factory.mktemp("run"))

    run()
