"""Reading the Handlebars that Stethoscope's instruction texts are written in (core.handlebars)."""

from __future__ import annotations

import pytest

from stethoscope_desktop.core.handlebars import (
    Block,
    Literal,
    Mustache,
    Node,
    TemplateError,
    Text,
    parse,
    text_of,
)


@pytest.mark.parametrize(
    ("template", "nodes"),
    [
        ("plain", (Text("plain"),)),
        ("{{name}}", (Mustache("name"),)),
        ("{{{raw}}}", (Mustache("raw", raw=True),)),
        ("{{ requirement \"osVersion\" 'darwin' }}", (Mustache("requirement", (Literal("osVersion"), Literal("darwin"))),)),
        ("{{{statusIcon key 'it\\'s on'}}}", (Mustache("statusIcon", ("key", Literal("it's on")), raw=True),)),
        ("{{{statusIcon key 'a \\*b\\*'}}}", (Mustache("statusIcon", ("key", Literal("a \\*b\\*")), raw=True),)),
        ("{{#if passing}}A{{else}}B{{/if}}", (Block("if", ("passing",), (Text("A"),), (Text("B"),)),)),
        ("{{#if a}}A{{^}}B{{/if}}", (Block("if", ("a",), (Text("A"),), (Text("B"),)),)),
        ("{{^passing}}B{{/passing}}", (Block("unless", ("passing",), (Text("B"),)),)),
        ("{{#if a}}A{{else if b}}B{{else}}C{{/if}}", (Block("if", ("a",), (Text("A"),), (Block("if", ("b",), (Text("B"),), (Text("C"),)),)),)),
        ("{{#unless a}}A{{else if b}}B{{/unless}}", (Block("unless", ("a",), (Text("A"),), (Block("if", ("b",), (Text("B"),)),)),)),
        ("a {{!-- has }} inside --}} b {{! short }}c", (Text("a "), Text(" b "), Text("c"))),
        ("a  {{~name~}}  b", (Text("a"), Mustache("name"), Text("b"))),
        ("1. One\n  {{#if x}}\n1. Two\n  {{/if}}\n1. Three", (Text("1. One\n"), Block("if", ("x",), (Text("1. Two\n"),)), Text("1. Three"))),
    ],
)  # fmt: skip
def test_a_template_is_read_into_nodes(template: str, nodes: tuple[Node, ...]) -> None:
    assert parse(template) == nodes


def test_a_tag_sharing_its_line_with_text_keeps_the_line() -> None:
    assert parse("1. One {{#if a}}\n1. Two\n{{/if}}") == (
        Text("1. One "),
        Block("if", ("a",), (Text("\n1. Two\n"),)),
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{#if passing}}A", "{{#if passing}} is not closed"),
        ("{{#if passing}}A{{else}}B", "{{#if passing}} is not closed"),
        ("A{{/if}}", "{{/if}} without an opening {{#if}}"),
        ("{{#if a}}A{{/unless}}", "{{#if a}} is closed by {{/unless}}"),
        (
            "{{#each disks}}{{#if this.encrypted}}x{{/each}}",
            "{{#if this.encrypted}} is closed by {{/each}}",
        ),
    ],
)
def test_what_handlebars_refuses_is_refused(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse(template)


def test_the_text_of_a_template_leaves_every_tag_out() -> None:
    assert text_of("{{#if passing}}On{{else}}Off") == "OnOff"
