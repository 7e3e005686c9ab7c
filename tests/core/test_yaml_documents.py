"""Multi-document YAML (`---`): every document with its own lines, the same bounds over the file."""

from __future__ import annotations

import pytest

from stethoscope_desktop.core.yamlfile import (
    MAX_FILE_BYTES,
    MAX_NODES,
    YamlFileError,
    parse_yaml,
    parse_yaml_documents,
)


def test_each_document_has_its_data_and_the_files_line_numbers() -> None:
    docs = parse_yaml_documents("---\na: 1\n---\nb:\n  - 2\n", "f.yaml")
    assert [doc.data for doc in docs] == [{"a": 1}, {"b": [2]}]
    assert docs[0].line(("a",)) == 2
    assert docs[1].line(("b", 0)) == 5
    assert docs[1].problem(("b", 0), "x").key == "b[0]"
    assert {doc.file for doc in docs} == {"f.yaml"}


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("", []),
        ("# only a comment\n", []),
        ("a: 1\n", [{"a": 1}]),
        ("---\n", [None]),
        ("a: 1\n---\n", [{"a": 1}, None]),
        ("a: 1\n...\n---\nb: 2\n", [{"a": 1}, {"b": 2}]),
    ],
)
def test_empty_and_single_documents(text: str, data: list[object]) -> None:
    assert [doc.data for doc in parse_yaml_documents(text, "f.yaml")] == data


def test_a_syntax_error_keeps_the_documents_before_it() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_documents("a: 1\n---\nb: 2\n---\nc: [\n---\nd: 4\n", "f.yaml")
    assert [doc.data for doc in raised.value.documents] == [{"a": 1}, {"b": 2}]
    assert raised.value.problem.file == "f.yaml"
    assert "not valid YAML" in raised.value.problem.message


def test_a_refused_tag_in_a_later_document_is_an_error_naming_its_line() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_documents("a: 1\n---\nb: !!python/object:os.system x\n", "f.yaml")
    assert raised.value.problem.line == 3
    assert [doc.data for doc in raised.value.documents] == [{"a": 1}]


def test_the_node_bound_covers_the_whole_file_not_each_document() -> None:
    per_document = MAX_NODES // 4
    document = "[" + ",".join(["1"] * per_document) + "]\n"
    text = "---\n".join([document] * 5)
    assert len(text) < MAX_FILE_BYTES
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_documents(text, "f.yaml")
    assert "more than" in raised.value.problem.message
    assert len(raised.value.documents) < 5


# An alias bomb of 58,320 values.
LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
)


def test_aliases_across_documents_are_bounded_too() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_documents("ok: 1\n---\n" + LAUGHS, "f.yaml")
    assert "refusing to load it" in raised.value.problem.message


def test_the_size_bound_applies() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml_documents(b"a: 1\n" * (MAX_FILE_BYTES // 5 + 1), "f.yaml")
    assert "larger than" in raised.value.problem.message


def test_the_single_document_parser_still_refuses_two_documents() -> None:
    with pytest.raises(YamlFileError) as raised:
        parse_yaml("a: 1\n---\nb: 2\n", "f.yaml")
    assert "expected a single document" in raised.value.problem.message
