"""One broken document of a multi-document checks file costs only that document.

Fleet's exports are one file of hundreds of `---`-separated policy documents. When such a file
does not parse, it is cut at its column-0 document markers and each document is read alone, with
the file's line numbers: the documents that parse are kept (in scan, check-policy and
import-fleet), each broken one is reported with file, line and its check's name, and the bounds
(size, depth, values, aliases) stay the whole file's. A file of one document stays
all-or-nothing. Both loaders (libyaml's and the pure-Python one) give the same results.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.core import yamlfile
from stethoscope_desktop.core.custom_checks import check_names_in_text, read_checks_file
from stethoscope_desktop.core.yamlfile import (
    MAX_FILE_BYTES,
    MAX_NODES,
    YamlFileError,
    document_texts,
    parse_yaml_documents,
    parse_yaml_stream,
)
from tests.core.test_custom_checks import loader_for
from tests.core.test_yaml_documents import LAUGHS
from tests.core.test_yamlfile_loaders import loader, project_yaml_files  # noqa: F401 (a fixture)

LIBYAML = yamlfile._FAST_LOADER


def policy(name: str, critical: str = "  critical: true\n") -> str:
    """A Fleet export document (9 lines) for one policy."""
    return (
        "apiVersion: v1\n"
        "kind: policy\n"
        "spec:\n"
        f"  name: {name}\n"
        "  platform: linux\n"
        f"{critical}"
        "  query: |\n"
        "    SELECT 1 FROM os_version WHERE major >= 12\n"
        "  resolution: Upgrade.\n"
    )


# The third of five documents has its `critical:` indented one space too far (line 26).
NAMES = ["One", "Two", "Three", "Four", "Five"]
BROKEN = "---\n".join(
    policy(name, "   critical: true\n" if name == "Three" else "  critical: true\n")
    for name in NAMES
)
FIXED = "---\n".join(policy(name) for name in NAMES)
BROKEN_LINE = 26


# -- The YAML layer ----------------------------------------------------------------------------


@pytest.mark.usefixtures("loader")
def test_a_broken_document_is_left_out_and_the_others_keep_the_files_lines() -> None:
    stream = parse_yaml_stream(BROKEN, "fleet.yml")
    whole = parse_yaml_documents(FIXED, "fleet.yml")
    assert [doc.data["spec"]["name"] for doc in stream.documents] == ["One", "Two", "Four", "Five"]
    # Every key of the documents before and after the broken one is on its line in the file.
    assert [doc.lines for doc in stream.documents] == [
        doc.lines for i, doc in enumerate(whole) if i != 2
    ]
    assert stream.documents[2].line(("spec", "name")) == 34
    (broken,) = stream.broken
    assert (broken.problem.file, broken.problem.line, broken.line) == ("fleet.yml", BROKEN_LINE, 20)
    assert broken.problem.message == (
        "not valid YAML: mapping values are not allowed here"
        " (is a key indented differently from the keys beside it?)"
    )
    assert broken.text.startswith("---\napiVersion: v1\n")
    assert stream.parts == 5


@pytest.mark.usefixtures("loader")
def test_a_valid_file_reads_as_the_strict_parser_reads_it() -> None:
    stream = parse_yaml_stream(FIXED, "fleet.yml")
    whole = parse_yaml_documents(FIXED, "fleet.yml")
    assert [(d.data, d.lines) for d in stream.documents] == [(d.data, d.lines) for d in whole]
    assert stream.broken == ()


MULTI_DOCUMENT_FILES = [
    path for path in project_yaml_files() if len(document_texts(path.read_text("utf-8"))) > 1
]


@pytest.mark.parametrize("path", MULTI_DOCUMENT_FILES, ids=lambda p: p.name)
@pytest.mark.usefixtures("loader")
def test_read_one_by_one_every_document_is_as_in_the_whole_file(path: Path) -> None:
    # A broken first document makes the file be read document by document: every other document
    # must come out as the whole file gives it, data and lines.
    text = path.read_text("utf-8")
    whole = parse_yaml_documents(text, str(path))
    content = [line for line in text.splitlines() if line.strip() and line[0] != "#"]
    broken = "broken: [\n" if content[0].startswith("---") else "broken: [\n---\n"
    stream = parse_yaml_stream(broken + text, str(path))
    assert [doc.data for doc in stream.documents] == [doc.data for doc in whole]
    added = broken.count("\n")
    assert [doc.lines for doc in stream.documents] == [
        {key: line + added for key, line in doc.lines.items()} for doc in whole
    ]
    assert [broken.line for broken in stream.broken] == [1]


def test_both_loaders_report_the_same() -> None:
    if LIBYAML is None:
        pytest.skip("PyYAML was built without libyaml here")
    results = []
    for fast in (LIBYAML, None):
        saved, yamlfile._FAST_LOADER = yamlfile._FAST_LOADER, fast
        try:
            stream = parse_yaml_stream(BROKEN + "---\nx: 'open\n", "f.yml")
        finally:
            yamlfile._FAST_LOADER = saved
        results.append(
            ([(d.data, d.lines) for d in stream.documents], [b.problem for b in stream.broken])
        )
    assert results[0] == results[1]
    assert [p.line for p in results[0][1]] == [BROKEN_LINE, 51]
    assert "not closed before the end of the document" in results[0][1][1].message


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n  b: 2\n",  # no marker at all
        "---\na: 1\n  b: 2\n",  # one document
        "# a comment\n---\na: [\n",  # comments before the one document
    ],
)
@pytest.mark.usefixtures("loader")
def test_a_file_of_one_document_stays_all_or_nothing(text: str) -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_stream(text, "f.yaml")
    assert raised.value.problem.file == "f.yaml"
    assert raised.value.documents == ()


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a: 1\n---\nb: 2\n", [(1, "a: 1\n"), (2, "---\nb: 2\n")]),
        # Comments and directives go with the document the `---` after them starts.
        (
            "# c\n---\na: 1\n...\n%YAML 1.1\n---\nb\n",
            [(1, "# c\n---\na: 1\n...\n"), (5, "%YAML 1.1\n---\nb\n")],
        ),
        # A `---` inside a block scalar's text is indented: not a marker.
        ("q: |\n  x\n  ---\n---\nz\n", [(1, "q: |\n  x\n  ---\n"), (4, "---\nz\n")]),
        # `---x` is text, not a marker.
        ("a: 1\n---x\n---\tb\n", [(1, "a: 1\n---x\n"), (3, "---\tb\n")]),
        # What follows a `...` without a `---` stays with its document, an error there as in the file.
        ("a\n...\nstray\n---\nb\n", [(1, "a\n...\nstray\n"), (4, "---\nb\n")]),
        ("a\r\n---\r\nb", [(1, "a\r\n"), (2, "---\r\nb")]),
    ],
)
def test_documents_are_cut_at_column_0_markers(text: str, parts: list[tuple[int, str]]) -> None:
    cut = document_texts(text)
    assert [(part.line, part.text) for part in cut] == parts
    assert "".join(part.text for part in cut) == text


@pytest.mark.usefixtures("loader")
def test_the_value_bound_covers_the_whole_file_when_read_one_by_one() -> None:
    document = "[" + ",".join(["1"] * (MAX_NODES // 4)) + "]\n"
    text = "---\n".join(["a: [\n", *[document] * 5])
    assert len(text) < MAX_FILE_BYTES
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_stream(text, "f.yaml")
    assert "more than" in raised.value.problem.message
    assert len(raised.value.documents) < 4


@pytest.mark.usefixtures("loader")
def test_an_alias_bomb_is_refused_when_read_one_by_one() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_stream("a: [\n---\nok: 1\n---\n" + LAUGHS, "f.yaml")
    assert "refusing to load it" in raised.value.problem.message
    assert [doc.data for doc in raised.value.documents] == [{"ok": 1}]


@pytest.mark.usefixtures("loader")
def test_what_broken_documents_expand_to_counts_towards_the_files_bound() -> None:
    # Each document expands to some 21,000 values, then is refused for a tag: one by one each is
    # within the bound, but what they all cost together is not.
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    bomb += "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [" + "*c, " * 17 + "*c]\n"
    bomb += "z: !!python/name:os.system x\n"
    assert len(parse_yaml_stream("ok: 1\n---\n" + bomb, "f.yaml").broken) == 1
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_stream("ok: 1\n---\n" + "---\n".join([bomb] * 4), "f.yaml")
    assert "refusing to load it" in raised.value.problem.message


def test_the_size_bound_is_the_files() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_stream(b"a: [\n---\n" + b"a: 1\n" * (MAX_FILE_BYTES // 5 + 1), "f.yaml")
    assert "larger than" in raised.value.problem.message


# -- Names read off a broken document's text ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (policy("Disk encrypted", "   critical: true\n"), ["Disk encrypted"]),
        ("spec:\n  name: 'Quoted: yes' # c\n   x: 1\n", ["Quoted: yes"]),
        ('spec:\n  name: "Double"\n', ["Double"]),
        ("- name: A\n  query: |\n    name: not a check\n- name: B\n", ["A", "B"]),
        ("spec:\n  name: |\n    folded\n", []),
        ("spec: {name: A, query: [\n", []),
    ],
)
def test_check_names_are_read_off_the_text(text: str, names: list[str]) -> None:
    assert check_names_in_text(text) == names


# -- Everywhere a checks file is read ----------------------------------------------------------


def write_broken(folder: Path) -> Path:
    path = folder / "checks.d" / "fleet.yml"
    path.parent.mkdir(parents=True)
    path.write_text(BROKEN, encoding="utf-8")
    return path


@pytest.mark.usefixtures("loader")
def test_read_checks_file_keeps_four_and_names_the_fifth(tmp_path: Path) -> None:
    path = write_broken(tmp_path)
    loaded = read_checks_file(path)
    assert [check.name for check in loaded.checks] == ["One", "Two", "Four", "Five"]
    assert not loaded.unreadable
    first, summary = loaded.problems
    assert (first.file, first.line) == (str(path), BROKEN_LINE)
    assert "mapping values are not allowed here" in first.message
    assert "the document from line 20 (the check 'Three') is left out" in first.message
    assert summary.message == (
        "1 check(s) left out until fixed: 1 of the file's 5 documents are not valid YAML;"
        " the other 4 are read"
    )
    # The checks after the broken document are located on their lines in the file.
    assert loaded.checks[2].problem("x").line == 34


def test_a_file_of_broken_documents_only_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "all.yml"
    path.write_text("- {name: A, query: [\n---\n- {name: B, query: [\n", encoding="utf-8")
    loaded = read_checks_file(path)
    assert loaded.checks == []
    assert loaded.unreadable
    assert [p.line for p in loaded.problems] == [1, 3, None]


def test_a_list_file_with_an_error_stays_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "list.yml"
    path.write_text("- name: A\n  query: SELECT 1\n- name: B\n   query: SELECT 1\n")
    loaded = read_checks_file(path)
    assert loaded.checks == []
    assert loaded.unreadable
    assert [(p.line, p.message.endswith("beside it?)")) for p in loaded.problems] == [(4, True)]


@pytest.mark.usefixtures("loader")
def test_scan_loads_the_four_good_checks(tmp_path: Path) -> None:
    practices = loader_for(tmp_path, {"checks.d/fleet.yml": BROKEN}).load()
    assert [c.name for c in practices.policy.custom_checks] == ["One", "Two", "Four", "Five"]
    assert [(p.line, "'Three'" in p.message) for p in practices.problems] == [
        (BROKEN_LINE, True),
        (None, False),
    ]


def test_scan_keeps_the_broken_checks_last_good_version(tmp_path: Path) -> None:
    practices_loader = loader_for(tmp_path, {"checks.d/fleet.yml": FIXED})
    assert len(practices_loader.load().policy.custom_checks) == 5
    (tmp_path / "it" / "checks.d" / "fleet.yml").write_text(BROKEN, encoding="utf-8")
    practices = practices_loader.load()
    assert [c.name for c in practices.policy.custom_checks] == [*NAMES[:2], *NAMES[3:], "Three"]
    assert practices.problems[-1].message == (
        "until this file is fixed, the last good version stays in force for: the check 'Three'"
    )


def test_check_policy_reports_the_broken_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_broken(tmp_path)
    assert main(["check-policy", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{BROKEN_LINE}: not valid YAML: mapping values are not allowed here" in out
    assert "(the check 'Three') is left out" in out
    assert "1 check(s) left out until fixed" in out


def test_import_fleet_converts_four_and_reports_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_broken(tmp_path)
    target = tmp_path / "converted.yaml"
    assert main(["import-fleet", str(path), "-o", str(target)]) == 0
    err = capsys.readouterr().err
    assert f"skipped: {path}:{BROKEN_LINE}: not valid YAML" in err
    assert "(the check 'Three') is left out" in err
    converted = read_checks_file(target)
    assert [check.name for check in converted.checks] == ["One", "Two", "Four", "Five"]
    assert converted.problems == []


def test_the_message_is_kept_exact_for_a_single_document() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_documents(textwrap.dedent("a: 1\n  b: 2\n"), "f.yaml")
    assert raised.value.problem.line == 2
    assert raised.value.problem.message.endswith(
        "(is a key indented differently from the keys beside it?)"
    )
