"""Hypothesis strategies for every file format the app reads, hostile ones above all.

The formats (`FORMATS`) are the files IT, the user or the app's own disk give the app: IT's
`config.yaml`, `policy.yaml` (ours and Netflix Stethoscope's layouts), `instructions.<lang>.yaml`
(ours and Stethoscope's), `checks.d/` files (our lists, Fleet's export documents, GitOps files),
the Fleet file `import-fleet` converts, our check definitions (`checks/*.yaml`, which
`check-policy` accepts), the app's `state.json` and the policy server's cached policy and its
metadata (and the policy the server answers with).

Each format is generated in three kinds (`KINDS`):

- `schema`: documents shaped by the format's JSON Schema (`resources/schemas/`, written from the
  declarations the app reads the files with), with values of the wrong type, huge and odd numbers,
  unicode, NUL, lone surrogates, very long strings and deep nesting, rendered as block YAML, flow
  YAML or JSON, then sometimes given YAML's own traps: alias bombs, self-referencing anchors,
  duplicate keys, merge keys, multi-document streams, directives and tags such as
  `!!python/object/apply`;
- `mutated`: the bundled and test files of that format (valid ones) with bytes flipped, cut,
  inserted or deleted, invalid UTF-8, byte order marks, CRLF line ends or another encoding;
- `bytes`: arbitrary bytes.

A generated input is a `FuzzInput`: its format, its kind and the file's bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from stethoscope_desktop.resources import checks_dir, practices_dir, resources_dir

_TESTS = Path(__file__).resolve().parents[1]
_DATA = _TESTS / "data"
SCHEMAS = resources_dir() / "schemas"
KINDS = ("schema", "mutated", "bytes")


@dataclass(frozen=True)
class FileKind:
    """One format: its JSON Schema (None where it has none) and valid files of it to mutate."""

    name: str
    schema: str | None
    seeds: tuple[Path, ...]
    # A JSON format (the app's own files) is rendered as JSON only.
    json: bool = False


def _files(*paths: Path) -> tuple[Path, ...]:
    return tuple(path for path in paths if path.is_file())


_STATE_SEED = _TESTS / "fuzz" / "seeds" / "state.json"
_META_SEED = _TESTS / "fuzz" / "seeds" / "policy-server-meta.json"

FORMATS: dict[str, FileKind] = {
    kind.name: kind
    for kind in (
        FileKind(
            "config",
            "config.schema.json",
            _files(practices_dir() / "config.yaml", _DATA / "it_sample" / "config.yaml"),
        ),
        FileKind(
            "policy",
            "policy.schema.json",
            _files(
                practices_dir() / "policy.yaml",
                _DATA / "it_sample" / "policy.yaml",
                _DATA / "stethoscope_policy.yaml",
            ),
        ),
        FileKind(
            "instructions",
            "instructions.schema.json",
            _files(
                _DATA / "it_sample" / "instructions.en.yaml",
                _DATA / "stethoscope_instructions.en.yaml",
                *sorted((_DATA / "stethoscope").glob("*.yaml")),
            ),
        ),
        FileKind(
            "checks.d",
            "checks.schema.json",
            _files(
                *sorted((_DATA / "it_sample" / "checks.d").glob("*.yaml")),
                *sorted((_DATA / "fleet").glob("*.yml")),
            ),
        ),
        FileKind(
            "fleet-import",
            "checks.schema.json",
            _files(
                *sorted((_DATA / "fleet").glob("*.yml")),
                _DATA / "fleet_coverage" / "policies.yml",
            ),
        ),
        FileKind(
            "check-definition", "check.schema.json", _files(*sorted(checks_dir().glob("*.yaml")))
        ),
        FileKind("state.json", None, _files(_STATE_SEED), json=True),
        FileKind(
            "policy-server-cache", "policy.schema.json", _files(practices_dir() / "policy.yaml")
        ),
        FileKind("policy-server-meta", None, _files(_META_SEED), json=True),
        FileKind(
            "policy-server-answer",
            "policy.schema.json",
            _files(_DATA / "it_sample" / "policy.yaml", _DATA / "stethoscope_policy.yaml"),
        ),
    )
}


@dataclass(frozen=True)
class FuzzInput:
    """One generated file: which format it stands for, how it was made, and its bytes."""

    format: str
    kind: str
    data: bytes

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"FuzzInput({self.format!r}, {self.kind!r}, {self.data!r})"


# -- values ----------------------------------------------------------------------------------

# Texts that mean something to one of the app's readers: YAML, versions, regular expressions,
# Handlebars, Markdown, SQL, HTML, paths and URLs.
TRICKY_TEXTS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff x",
    "\ufeff",
    "\u202e\u0627",
    "\u2028",
    "\x85",
    "é" * 3,
    "😀",
    "yes",
    "No",
    "~",
    "null",
    "2001-02-30",
    "0x1F",
    "0o17",
    "1e999",
    "-.inf",
    ".nan",
    "12:30:00",
    "<=600",
    ">=10.13",
    ">=99999999999999999999.0",
    ">=1.2.3 <1.2",
    "1.2.3-rc.1+build",
    "ALWAYS",
    "SUGGESTED",
    "NEVER",
    "IF_SUPPORTED",
    "(.+)+#",
    "a{99999999999}",
    "(?P<x>",
    "[",
    "\\",
    "https://([a-z0-9]+[-.]?)+\\.example\\.com",
    "{{",
    "{{title}}",
    "{{#if}}",
    "{{#each x}}{{/if}}",
    "{{> partial}}",
    "[link](javascript:alert(1))",
    "<h1>x</h1>",
    "<script>alert(1)</script>",
    "%s %d %(x)s {0} {x}",
    "SELECT 1;",
    "SELECT 1; SELECT 2;",
    "SELECT 1 WHERE 0;",
    "SELECT * FROM sysctl;",
    "SELECT * FROM nope WHERE",
    "SELECT randomblob(1000000000);",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c;",
    "SELECT 1 FROM os_version -- \x00",
    "ATTACH DATABASE '/tmp/x' AS x;",
    "darwin,linux,windows",
    "chrome",
    "https://",
    "https://example.com:99999/",
    "http://[::1",
    "mailto:",
    "file:///etc/passwd",
    "/dev/zero",
    "../../etc/shadow",
    "C:\\Windows\\",
    "-1",
    "0",
    "NaN",
)

_TEXT = st.one_of(
    st.sampled_from(TRICKY_TEXTS),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.builds(
        lambda piece, count: piece * count,
        st.sampled_from(["a", "é", "\x00", " ", "ab\n", "{{", "(a+)+"]),
        st.sampled_from([100, 5000, 70_000]),
    ),
)

_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(
        [0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**308, 10**400, 65536, 65535, 43200]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, -0.0, 1e-320, 1.7976931348623157e308]),
)

SCALARS: st.SearchStrategy[Any] = st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT)


def _hostile(depth: int) -> st.SearchStrategy[Any]:
    """Any value: a scalar, or a (shallow) list or mapping of them."""
    if depth <= 0:
        return SCALARS
    inner = _hostile(depth - 1)
    return st.one_of(
        SCALARS,
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(_TEXT, st.sampled_from(["name", "query", "platform"])), inner, max_size=4
        ),
    )


HOSTILE_VALUES = _hostile(2)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return a JSON Schema of `resources/schemas/`."""
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return data


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        reference = schema["$ref"]
        assert reference.startswith("#/$defs/"), reference
        schema = root["$defs"][reference.removeprefix("#/$defs/")]
    return schema


def from_schema(
    schema: dict[str, Any], root: dict[str, Any], depth: int = 0
) -> st.SearchStrategy[Any]:
    """Return values shaped by `schema` (its keys, enums, nesting), each one sometimes hostile."""
    schema = _resolve(schema, root)
    wrong: st.SearchStrategy[Any] = HOSTILE_VALUES if depth < 6 else SCALARS
    if depth > 8:
        return wrong
    shaped: list[st.SearchStrategy[Any]] = []
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            shaped += [from_schema(option, root, depth + 1) for option in schema[combined]]
    for branch in ("then", "else"):
        if branch in schema:
            shaped.append(from_schema(schema[branch], root, depth + 1))
    if "const" in schema:
        shaped.append(st.just(schema["const"]))
    if "enum" in schema:
        shaped.append(st.sampled_from(schema["enum"]))
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if "properties" in schema or "patternProperties" in schema or "object" in types:
        shaped.append(_object(schema, root, depth))
    if "items" in schema or "array" in types:
        items = schema.get("items", {})
        shaped.append(st.lists(from_schema(items, root, depth + 1), max_size=4))
    simple = {
        "string": _TEXT,
        "integer": _NUMBER,
        "number": _NUMBER,
        "boolean": st.booleans(),
        "null": st.none(),
    }
    shaped += [simple[kind] for kind in types if kind in simple]
    if not shaped:
        return wrong
    # Mostly the shape, sometimes a value of any type at all.
    return st.one_of(*shaped, wrong) if depth > 0 else st.one_of(*shaped)


def _object(
    schema: dict[str, Any], root: dict[str, Any], depth: int
) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    names = sorted(properties)
    extra_keys = st.one_of(
        _TEXT, st.sampled_from(["darwin", "linux", "debian", "win32", "ok", "nudge"])
    )
    extra_values = (
        from_schema(schema["additionalProperties"], root, depth + 1)
        if isinstance(schema.get("additionalProperties"), dict)
        else HOSTILE_VALUES
    )
    for pattern_schema in schema.get("patternProperties", {}).values():
        extra_values = st.one_of(extra_values, from_schema(pattern_schema, root, depth + 1))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = (
            draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
            if names
            else []
        )
        result = {name: draw(from_schema(properties[name], root, depth + 1)) for name in chosen}
        for _ in range(draw(st.integers(0, 2))):
            result[draw(extra_keys)] = draw(extra_values)
        return result

    return build()


# -- rendering and YAML's traps --------------------------------------------------------------


def _render_yaml(value: Any, flow: bool) -> str:
    try:
        return yaml.safe_dump(
            value, default_flow_style=flow, allow_unicode=True, sort_keys=False, width=80
        )
    except yaml.YAMLError:
        return _render_json(value, True)


def _render_json(value: Any, ascii_only: bool) -> str:
    # A float that is not finite becomes NaN/Infinity, which YAML reads as text.
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True, default=str)


RENDERERS: dict[str, Callable[[Any], str]] = {
    "yaml": lambda value: _render_yaml(value, False),
    "flow": lambda value: _render_yaml(value, True),
    "json": lambda value: _render_json(value, False),
    "json-ascii": lambda value: _render_json(value, True),
}


def alias_bomb(levels: int, width: int) -> str:
    """Return a "billion laughs" document: each level an anchor of `width` aliases of the last."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def _first_key_line(text: str) -> str | None:
    for line in text.splitlines():
        if line and not line.startswith((" ", "-", "#", "{", "[", '"')) and ":" in line:
            return line
    return None


def _with_trap(text: str, trap: str, other: str, number: int) -> str:
    """Return `text` given one of YAML's traps (see `TRAPS`)."""
    if trap == "alias-bomb":
        return alias_bomb(3 + number % 8, 2 + number % 10) + text
    if trap == "self-alias":
        return "loop: &loop [*loop, *loop]\n" + text
    if trap == "undefined-alias":
        return "x: *nowhere\n" + text
    if trap == "duplicate-key":
        line = _first_key_line(text)
        return text + ("\n" if not text.endswith("\n") else "") + (line or "a: 1\na: 2") + "\n"
    if trap == "merge-key":
        return "base: &base {x: 1}\nother:\n  <<: *base\n" + text
    if trap == "multi-document":
        return text + "\n---\n" + other
    if trap == "document-end":
        return "---\n" + text + "\n...\n" + other
    if trap == "directives":
        return "%YAML 1.1\n%TAG !e! tag:example.com,2000:\n---\n" + text
    if trap == "python-tag":
        return "!!python/object/apply:os.system ['echo pwned']\n"
    if trap == "python-tag-value":
        line = _first_key_line(text)
        key = line.split(":", 1)[0] if line else "name"
        return f"{key}: !!python/name:os.system\n" + text
    if trap == "tags":
        tag = ("!!binary", "!!set", "!!omap", "!!timestamp", "!custom", "!!int", "!!float", "!e!x")[
            number % 8
        ]
        return f"value: {tag} abc\n" + text
    if trap == "deep":
        depth = (70, 1000, 30_000)[number % 3]
        return "x: " + "[" * depth + "]" * depth + "\n" + text
    if trap == "deep-mapping":
        depth = (70, 2000)[number % 2]
        return "x: " + "{a: " * depth + "1" + "}" * depth + "\n" + text
    if trap == "too-big":
        return text + "# " + "x" * (1024 * 1024) + "\n"
    if trap == "many-values":
        return "x: [" + ",".join(["1"] * 60_000) + "]\n" + text
    if trap == "tab-indent":
        return text.replace("  ", "\t")
    if trap == "complex-key":
        return "? [a, b]\n: 1\n" + text
    return text


TRAPS = (
    "none",
    "alias-bomb",
    "self-alias",
    "undefined-alias",
    "duplicate-key",
    "merge-key",
    "multi-document",
    "document-end",
    "directives",
    "python-tag",
    "python-tag-value",
    "tags",
    "deep",
    "deep-mapping",
    "too-big",
    "many-values",
    "tab-indent",
    "complex-key",
)


@st.composite
def schema_shaped(draw: st.DrawFn, name: str) -> FuzzInput:
    """Return a document of format `name` shaped by its schema, rendered, maybe with a trap."""
    kind = FORMATS[name]
    if kind.schema is None:
        value = draw(_json_shaped(name))
    else:
        schema = load_schema(kind.schema)
        value = draw(from_schema(schema, schema))
    if kind.json:
        return FuzzInput(name, "schema", _json_bytes(value, draw))
    renderer = draw(st.sampled_from(sorted(RENDERERS)))
    text = RENDERERS[renderer](value)
    trap = draw(st.sampled_from(TRAPS))
    if trap != "none":
        other = RENDERERS[renderer](draw(HOSTILE_VALUES))
        text = _with_trap(text, trap, other, draw(st.integers(0, 1000)))
    return FuzzInput(name, "schema", text.encode("utf-8", "surrogatepass"))


def _json_bytes(value: Any, draw: st.DrawFn) -> bytes:
    text = _render_json(value, draw(st.booleans()))
    if draw(st.booleans()):
        depth = draw(st.sampled_from([100, 5000, 100_000]))
        text = '{"deep": ' + "[" * depth + "]" * depth + ', "v": ' + text + "}"
    return text.encode("utf-8", "surrogatepass")


def _json_shaped(name: str) -> st.SearchStrategy[Any]:
    """Return values shaped as the app's own JSON files (no schema: read from the code)."""
    times = st.one_of(_NUMBER, _TEXT, st.none())
    if name == "state.json":
        notify = st.fixed_dictionaries(
            {},
            optional={
                "failing": st.one_of(
                    st.lists(st.one_of(_TEXT, _NUMBER), max_size=4), HOSTILE_VALUES
                ),
                "notified_at": st.one_of(st.dictionaries(_TEXT, times, max_size=4), HOSTILE_VALUES),
                "snoozed_until": times,
            },
        )
        return st.one_of(
            st.fixed_dictionaries(
                {}, optional={"notify": st.one_of(notify, HOSTILE_VALUES), "api_port": times}
            ),
            HOSTILE_VALUES,
        )
    meta = st.fixed_dictionaries(
        # Mostly metadata of this URL and this copy, so that its times and ETag are read.
        {
            "url": st.sampled_from([POLICY_SERVER_URL] * 4 + ["https://other.example.com/", ""]),
            "sha256": st.sampled_from(["<sha256>"] * 4 + ["0" * 64, ""]),
        },
        optional={
            "etag": st.one_of(_TEXT, _NUMBER, st.none()),
            "fetched_at": times,
            "checked_at": times,
        },
    )
    return st.one_of(meta, HOSTILE_VALUES)


POLICY_SERVER_URL = "https://policy.example.com/stethoscope/policy.yaml"


# -- mutations of valid files ----------------------------------------------------------------

_TOKENS = (
    b"\x00",
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xef\xbb\xbf",
    b"\t",
    b"\r",
    b"\r\n",
    b"\x85",
    b"\xe2\x80\xa8",
    b"&a ",
    b"*a",
    b"*a0",
    b"<<: ",
    b"!!python/object:os.system ",
    b"!!binary ",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"? ",
    b": ",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"'",
    b'"',
    b"|",
    b">-",
    b"#",
    b"\\",
    b"{{",
    b"}}",
    b"~",
    b"99999999999999999999999",
    b"1e999",
)


def mutate(seed: bytes, operations: Sequence[tuple[str, int, bytes]]) -> bytes:
    """Apply byte-level mutations to `seed`; each is (what, where as a fraction of 10**6, bytes)."""
    data = bytearray(seed)
    for what, where, payload in operations:
        at = len(data) * where // 1_000_000
        if what == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << (payload[0] % 8 if payload else 0)
        elif what == "truncate":
            del data[at:]
        elif what == "insert":
            data[at:at] = payload
        elif what == "delete":
            del data[at : at + 1 + len(payload) * 7]
        elif what == "duplicate":
            line_start = data.rfind(b"\n", 0, at) + 1
            line_end = data.find(b"\n", at)
            line = bytes(data[line_start : (line_end if line_end >= 0 else len(data)) + 1])
            data[line_start:line_start] = line
        elif what == "crlf":
            data = bytearray(bytes(data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        elif what == "cr":
            data = bytearray(bytes(data).replace(b"\n", b"\r"))
        elif what == "bom":
            data[0:0] = b"\xef\xbb\xbf"
        elif what == "utf-16":
            text = bytes(data).decode("utf-8", "replace")
            data = bytearray(text.encode("utf-16-le" if payload and payload[0] % 2 else "utf-16"))
        elif what == "latin-1":
            data = bytearray(bytes(data).decode("utf-8", "replace").encode("latin-1", "replace"))
        elif what == "indent":
            line_start = data.rfind(b"\n", 0, at) + 1
            data[line_start:line_start] = b" " * (1 + (payload[0] % 5 if payload else 0))
    return bytes(data)


_OPERATION = st.tuples(
    st.sampled_from(
        [
            "flip",
            "flip",
            "truncate",
            "insert",
            "insert",
            "delete",
            "duplicate",
            "crlf",
            "cr",
            "bom",
            "utf-16",
            "latin-1",
            "indent",
        ]
    ),
    st.integers(0, 1_000_000),
    st.one_of(st.sampled_from(_TOKENS), st.binary(min_size=1, max_size=12)),
)


@cache
def _seed_bytes(path: Path) -> bytes:
    return path.read_bytes()


@st.composite
def mutated(draw: st.DrawFn, name: str) -> FuzzInput:
    """Return a valid file of format `name` (bundled, or a test fixture) with mutations."""
    seeds = FORMATS[name].seeds
    seed = _seed_bytes(draw(st.sampled_from(seeds)))
    operations = draw(st.lists(_OPERATION, min_size=1, max_size=6))
    return FuzzInput(name, "mutated", mutate(seed, operations))


@st.composite
def arbitrary(draw: st.DrawFn, name: str) -> FuzzInput:
    """Return arbitrary bytes, or arbitrary text, as a file of format `name`."""
    data = draw(
        st.one_of(
            st.binary(max_size=600),
            st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
            st.lists(st.sampled_from(_TOKENS), max_size=40).map(b"".join),
        )
    )
    return FuzzInput(name, "bytes", data)


def fuzz_inputs(name: str, kinds: Sequence[str] = KINDS) -> st.SearchStrategy[FuzzInput]:
    """Return inputs of format `name` of the given kinds."""
    makers = {"schema": schema_shaped, "mutated": mutated, "bytes": arbitrary}
    return st.one_of(*(makers[kind](name) for kind in kinds))


def any_input(names: Sequence[str] = tuple(FORMATS)) -> st.SearchStrategy[FuzzInput]:
    """Return inputs of any of the formats `names`, of every kind."""
    return st.sampled_from(list(names)).flatmap(fuzz_inputs)
