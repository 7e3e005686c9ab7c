"""The YAML loaders: libyaml's and PyYAML's pure-Python one read every file alike, within bounds.

Where PyYAML has libyaml, `core.yamlfile` reads with it (its C scanner and parser; composing and
building stay ours) and reads a text it refuses again with the pure-Python loader, whose verdict
and messages IT sees. Where PyYAML lacks libyaml, the pure-Python loader reads everything. Both
must give the same data, the same line of every key, and the same problem (file, line, key,
message) for a bad file; and both must refuse hostile files (deep nesting, many values, alias
bombs, huge files) by counting, with the same message. No test here is timed: a bound that did
not hold would show as a missing refusal, or as a test that never ends.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stethoscope_desktop.core import yamlfile
from stethoscope_desktop.core.yamlfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    YamlFileError,
    parse_yaml,
    parse_yaml_documents,
)

ROOT = Path(__file__).resolve().parents[2]
LIBYAML = yamlfile._FAST_LOADER
needs_libyaml = pytest.mark.skipif(LIBYAML is None, reason="PyYAML was built without libyaml here")

Outcome = tuple[object, ...]


def outcome(text: str | bytes, *, libyaml: bool, multiple: bool = True) -> Outcome:
    """Return what reading `text` gives with one loader: the documents, or the problem."""
    saved = yamlfile._FAST_LOADER
    yamlfile._FAST_LOADER = saved if libyaml else None
    try:
        docs = parse_yaml_documents(text, "f.yaml") if multiple else [parse_yaml(text, "f.yaml")]
        # repr, so that .nan equals itself and the types of values count.
        return ("read", repr([(doc.data, doc.lines) for doc in docs]))
    except YamlFileError as error:
        return ("refused", error.problem, repr([(doc.data, doc.lines) for doc in error.documents]))
    finally:
        yamlfile._FAST_LOADER = saved


def assert_alike(text: str | bytes) -> Outcome:
    """Assert both loaders read `text` alike, as one and as several documents; return it."""
    for multiple in (True, False):
        pure = outcome(text, libyaml=False, multiple=multiple)
        if LIBYAML is not None:
            assert outcome(text, libyaml=True, multiple=multiple) == pure, text
    return outcome(text, libyaml=False)


@pytest.fixture(params=["libyaml", "pure Python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test with each loader in turn."""
    if request.param == "libyaml" and LIBYAML is None:
        pytest.skip("PyYAML was built without libyaml here")
    if request.param == "pure Python":
        monkeypatch.setattr(yamlfile, "_FAST_LOADER", None)
    yield request.param


def project_yaml_files() -> list[Path]:
    return sorted(
        path
        for pattern in ("*.yaml", "*.yml")
        for path in ROOT.rglob(pattern)
        if not {".git", ".venv", "node_modules"} & set(path.parts)
    )


# -- Same results ----------------------------------------------------------------------------


def test_every_yaml_file_of_the_project_reads_alike() -> None:
    files = project_yaml_files()
    assert len(files) >= 20
    for path in files:
        assert_alike(path.read_bytes())


GOOD_TEXTS = [
    "a: 1\nb: [x, y]\nc: {d: e}\n",
    "- name: Disk\n  query: SELECT 1\n  critical: true\n",
    "apiVersion: v1\nkind: policy\nspec:\n  name: x\n  query: SELECT 1\n---\napiVersion: v1\nkind: query\n",
    "a: &x {b: 1}\nc: *x\nd: [*x, *x]\n",
    "a: |\n  SELECT 1\n  FROM t\nb: >-\n  folded\n  text\n\nc: |+\n  kept\n\n",
    "a: 'it''s'\nb: \"\\x41\\u263A\\U0001F600\\N\\_\\/\"\nc: 'multi\n  line'\n",
    "a: 1\r\nb: 2\r\n",
    "a: 1\rb: 2\r",
    "a: 1\u2028b: 2\x85c: 3\n",
    "? complex\n: value\n",
    "%YAML 1.1\n%TAG !e! tag:yaml.org,2002:\n---\na: !e!str 1\n",
    "a: 1\n...\n---\nb: 2\n",
    "---",
    "a: 1\n---",
    "---\n# only a comment",
    "",
    "# nothing\n",
    "a: ~\nb: yes\nc: .nan\nd: -.inf\ne: 0o17\nf: 0x1F\ng: 1_000\nh: 2001-12-14t21:59:43.10-05:00\n",
    "a: !!binary aGVsbG8=\nb: !!str 1\nc: !!float 1\n",
    "[a:b, {a:1}, [? a : b], {a: [b, {c: d}], e}]\n",
    "a: b#c\nd: e # comment\n  # indented comment\nf: 'g'\n",
    "k" * 1000 + ": long key\n",
    "a: \U0001f600 caf\u00e9 \u3000 \u00a0\n",
    "\ufeffa: 1\n",
    "a: 1\nb: 2\ufeff\n",
]
BAD_TEXTS = [
    "a: 1\n  b: 2\n",
    "a:\n  b: 1\n c: 2\n",
    "a: 'unclosed\nb: 2\n",
    "a: [1, 2\n",
    "a: *undefined\n",
    "a: &x 1\nb: &x 2\n",
    "@a: 1\n",
    "a: 1\na: 2\n",
    "a: !!python/object/apply:os.system ['true']\n",
    "a: !Ref x\n",
    "<<: {a: 1}\n",
    "? [a]\n: b\n",
    "a: 2024-02-30\n",
    "a: !!int x\n",
    "a: 1\n---\nb: [\n",
    "a: 1\n---\nb: 1\nb: 2\n",
    "%YAML 2.0\n---\na: 1\n",
    "%YAML 1.1\n%YAML 1.1\n---\na: 1\n",
    "k" * 1100 + ": key longer than a simple key may be\n",
    'a: "\\q"\n',
    # What libyaml accepts and PyYAML refuses: refused on both.
    "a:\tb\n",
    "a:\n\tb: 1\n",
    "a: |#\n  x\n",
    "a: >-2#c\n   x\n",
    "a: ALWAYS\x1b[0m\n",
    "a: \x00\n",
    b"a: caf\xe9\n",
    "a: 1\n".encode("utf-16"),
]


@pytest.mark.parametrize("text", GOOD_TEXTS)
def test_good_texts_read_alike(text: str) -> None:
    assert assert_alike(text)[0] == "read"


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_bad_texts_get_the_same_problem_on_both(text: str | bytes) -> None:
    refused = assert_alike(text)
    assert refused[0] == "refused"


def test_the_documents_before_a_broken_one_are_kept_alike(loader: str) -> None:
    with pytest.raises(YamlFileError) as caught:
        parse_yaml_documents("a: 1\n---\nb: 2\n---\nc: [\n", "f.yaml")
    assert [doc.data for doc in caught.value.documents] == [{"a": 1}, {"b": 2}]
    assert caught.value.problem.line == 5 and caught.value.problem.file == "f.yaml"


def mutants(seed: int, count: int) -> Iterator[str]:
    """Yield `count` texts: the project's YAML files (or a part), with a few edits each."""
    texts = [path.read_text(encoding="utf-8") for path in project_yaml_files()]
    pieces = [*":[]{}\"'&*!-#|>?,%@`\\ \n\r\t\x85\u2028", "- ", ": ", "\n  ", "---\n", "...\n"]
    pieces += ["&x ", "*x", "!!str ", "!!int ", "|-\n", ">2\n", "|#", "? ", "\ufeff", '"\\x']
    rng = random.Random(seed)
    for _ in range(count):
        text = rng.choice(texts)
        if len(text) > 1500:
            start = rng.randrange(len(text) - 1000)
            text = text[start : start + 1000]
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text) + 1)
            edit = rng.random()
            if edit < 0.4:
                text = text[:at] + rng.choice(pieces) + text[at:]
            elif edit < 0.7:
                text = text[:at] + text[at + rng.randint(1, 5) :]
            else:
                text = text[:at] + rng.choice(pieces) + text[at + 1 :]
        if rng.random() < 0.3:
            text = text[: rng.randrange(len(text) + 1)]
        yield text


@needs_libyaml
def test_edited_project_files_read_alike() -> None:
    # Each outcome is compared, read or refused: a text libyaml accepted where PyYAML refused
    # it (tabs, a comment after `|`) would show here.
    refused = 0
    for text in mutants(seed=13, count=400):
        pure = outcome(text, libyaml=False)
        assert outcome(text, libyaml=True) == pure, text
        refused += pure[0] == "refused"
    assert 40 < refused < 360  # the edits broke some files and not others


# -- libyaml does the work ---------------------------------------------------------------------


def test_without_libyaml_the_pure_python_loader_reads_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    assert yamlfile._libyaml_loader() is None


@needs_libyaml
def test_libyaml_reads_ordinary_files_and_pure_python_only_what_it_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pure_reads: list[str] = []
    real = yamlfile._loader

    def counted(text: str, file: str, composed: int = 0) -> yamlfile._BoundedLoader:
        pure_reads.append(file)
        return real(text, file, composed)

    monkeypatch.setattr(yamlfile, "_loader", counted)
    checks = "".join(
        f"---\napiVersion: v1\nkind: policy\nspec:\n  name: Check {n}\n  query: SELECT {n}\n"
        for n in range(50)
    )
    assert len(parse_yaml_documents(checks, "checks.yml")) == 50
    refused = []
    for path in project_yaml_files():
        try:
            parse_yaml_documents(path.read_bytes(), str(path))
        except YamlFileError:
            refused.append(str(path))  # read again by the pure-Python loader, for the message
    assert pure_reads == refused
    pure_reads.clear()
    with pytest.raises(YamlFileError):
        parse_yaml("a: [1\n", "broken.yaml")
    parse_yaml("a: 'tab\there'\n", "tab.yaml")
    assert pure_reads == ["broken.yaml", "tab.yaml"]


# -- Bounds, on both -------------------------------------------------------------------------

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    for previous, name in zip("abcdefghijkl", "bcdefghijklm", strict=True)
)
# Every document is small; the file expands to 15 x 4,000 values.
LAUGHS_PER_DOCUMENT = "".join(
    "---\na: &a [" + ", ".join(["x"] * 40) + "]\nb: &b [" + ", ".join(["*a"] * 100) + "]\n"
    for _ in range(15)
)
HOSTILE = [
    (
        "deep-flow-list",
        "[" * 500_000,
        "[0]" * (MAX_DEPTH + 1),
        1,
        f"nested deeper than {MAX_DEPTH}",
    ),
    (
        "deep-closed-list",
        "a: " + "[" * 300_000 + "]" * 300_000,
        "a" + "[0]" * MAX_DEPTH,
        1,
        "nested",
    ),
    ("deep-flow-map", "{a: " * 200_000, ".".join(["a"] * MAX_DEPTH), 1, "nested deeper"),
    (
        "deep-block",
        "".join("  " * n + f"k{n}:\n" for n in range(400)),
        ".".join(f"k{n}" for n in range(MAX_DEPTH)),
        MAX_DEPTH + 1,
        "nested deeper",
    ),
    ("recursive-alias", "a: &a [*a]\n", "a" + "[0]" * MAX_DEPTH, 1, "nested deeper"),
    ("flat-list", "[" + "1, " * MAX_NODES + "1]", "", None, f"more than {MAX_NODES} values"),
    ("many-documents", "---\na: 1\n" * (MAX_NODES // 2), "", None, f"more than {MAX_NODES}"),
    ("billion-laughs", BILLION_LAUGHS, "", None, f"expands to more than {MAX_NODES} values"),
    ("laughs-per-document", LAUGHS_PER_DOCUMENT, "", None, f"expands to more than {MAX_NODES}"),
    ("too-big", "a: " + "x" * MAX_FILE_BYTES, "", None, "larger than 1024 KiB"),
]


@pytest.mark.parametrize(
    ("text", "key", "line", "message"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_files_are_refused_by_counting_on_both(
    loader: str, text: str, key: str, line: int | None, message: str
) -> None:
    multiple = "---" in text
    with pytest.raises(YamlFileError) as caught:
        if multiple:
            parse_yaml_documents(text, "hostile.yaml")
        else:
            parse_yaml(text, "hostile.yaml")
    problem = caught.value.problem
    assert message in problem.message
    assert (problem.file, problem.key, problem.line) == ("hostile.yaml", key, line)


@needs_libyaml
@pytest.mark.parametrize(
    "name", ["deep-flow-list", "deep-flow-map", "deep-block", "recursive-alias", "billion-laughs"]
)
def test_hostile_files_get_the_same_problem_on_both(name: str) -> None:
    # (Each refusal but the value bound's is the pure-Python loader's: what libyaml's read stops
    # at is read again.)
    text = next(case[1] for case in HOSTILE if case[0] == name)
    assert outcome(text, libyaml=True) == outcome(text, libyaml=False)


def test_a_huge_scalar_within_the_size_bound_is_read(loader: str) -> None:
    text = "a: " + "x" * (MAX_FILE_BYTES - 10) + "\n"
    assert len(parse_yaml(text, "big.yaml").data["a"]) == MAX_FILE_BYTES - 10


def test_aliases_within_the_bound_expand(loader: str) -> None:
    text = "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n"
    document = parse_yaml(text, "aliases.yaml")
    assert sum(len(item) for item in document.data["b"]) == 10_000
    assert document.lines[("b",)] == 2


@needs_libyaml
def test_past_the_value_bound_libyaml_s_refusal_stands_without_a_second_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found by tests/fuzz: reading such a file again in pure Python cost some 2 s per read for
    # the same message, which names no line or key.
    text = "x: [" + ",".join(["1"] * (MAX_NODES + 10)) + "]\n"
    expected = outcome(text, libyaml=False)
    pure_reads: list[str] = []
    original = yamlfile._loader

    def counted(decoded: str, file: str, composed: int = 0) -> yamlfile._Bounds:
        pure_reads.append(file)
        return original(decoded, file, composed)

    monkeypatch.setattr(yamlfile, "_loader", counted)
    assert outcome(text, libyaml=True) == expected
    assert outcome("a: 1\n---\n" + text, libyaml=True)[0] == "refused"
    assert pure_reads == []


@pytest.mark.parametrize(
    ("text", "key", "half"),
    [
        ('name: "\\ud800"\n', "name", "\\ud800"),
        ('"\\udfff": 1\n', "", "\\udfff"),
        ('a:\n  - "\\ude00\\ud83d"\n', "a[0]", "\\ude00"),
        ('a: !!int "\\ud800"\n', "a", "\\ud800"),
    ],
)
def test_a_lone_half_of_a_utf16_pair_is_refused_on_both(
    loader: str, text: str, key: str, half: str
) -> None:
    # Found by tests/fuzz: a "\ud800" escape gave a text no output or file can take, so check-
    # policy, scan's report and import-fleet raised UnicodeEncodeError printing or preparing it.
    with pytest.raises(YamlFileError) as caught:
        parse_yaml(text, "f.yaml")
    problem = caught.value.problem
    assert (problem.file, problem.key, problem.line) == (
        "f.yaml",
        key,
        text.count("\n", 0, text.index(half)) + 1,
    )
    assert problem.message.startswith(f"{half} is half of a UTF-16 surrogate pair, not a character")
    str(problem).encode("utf-8")  # the message itself prints


def test_an_escaped_utf16_pair_is_its_character_as_in_json(loader: str) -> None:
    # What JSON tools write for characters beyond the BMP (json.dumps' ensure_ascii).
    doc = parse_yaml('{"\\ud83d\\ude00 key": "a \\ud83d\\ude00 b"}', "f.yaml")
    assert doc.data == {"😀 key": "a 😀 b"}
    assert doc.lines[("😀 key",)] == 1
