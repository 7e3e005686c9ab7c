"""How our GraphQL schema covers another: Stethoscope's, in any of its historical versions.

`schema_gaps(sdl_text)` reads a schema in SDL (leniently: Stethoscope's own files once defined a
field twice, which graphql-js accepted), introspects ours, and lists every way in which a client
of that schema could be let down by ours, one sentence each:

- a type, field, argument, input field or enum value it has and ours lacks;
- an output field whose type differs in kind or name (String and Semver both answer a JSON
  string, so one standing for the other is no gap), or that may be null in ours where it never
  was in theirs;
- an argument or input field that would not accept what theirs accepted (a different type, or
  required in ours where it was optional), and a required argument or input field of ours that
  theirs did not have.

A query valid against a schema without gaps is valid against ours and gets an answer of the same
shape. Where Stethoscope's versions contradict each other (a field that was a scalar in 2018 and
an object later), one schema cannot have both; `DELIBERATE_DIFFERENCES` names each such place
with how ours answers clients of the older form, and `schema_gaps` leaves those out;
`deliberate_differences(sdl_text)` lists the ones that apply to a given schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DefinitionNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeNode,
    UnionTypeDefinitionNode,
    get_introspection_query,
    graphql_sync,
    parse,
)

BUILT_IN_SCALARS = ("String", "Int", "Float", "Boolean", "ID")
# Scalars whose values are JSON strings: an output field of one may stand for another.
STRING_SCALARS = frozenset({"String", "Semver"})


@dataclass(frozen=True)
class FieldShape:
    """A field (or input field) with its type written as in SDL, and its arguments' types."""

    type: str
    args: Mapping[str, str] = field(default_factory=dict)
    has_default: bool = False


@dataclass
class TypeShape:
    """A named type: its kind, fields (objects, interfaces, input objects) and enum values."""

    kind: str
    fields: dict[str, FieldShape] = field(default_factory=dict)
    values: set[str] = field(default_factory=set)


@dataclass
class SchemaShape:
    """The named types of a schema and its query root's name."""

    types: dict[str, TypeShape]
    query: str = "Query"


# -- reading shapes --------------------------------------------------------------------------


def _type_text(node: TypeNode) -> str:
    if isinstance(node, NonNullTypeNode):
        return _type_text(node.type) + "!"
    if isinstance(node, ListTypeNode):
        return "[" + _type_text(node.type) + "]"
    assert isinstance(node, NamedTypeNode)
    return node.name.value


def _input_value(node: InputValueDefinitionNode) -> FieldShape:
    return FieldShape(_type_text(node.type), has_default=node.default_value is not None)


_KINDS: Mapping[type, str] = {
    ObjectTypeDefinitionNode: "OBJECT",
    ObjectTypeExtensionNode: "OBJECT",
    InterfaceTypeDefinitionNode: "INTERFACE",
    InputObjectTypeDefinitionNode: "INPUT_OBJECT",
    InputObjectTypeExtensionNode: "INPUT_OBJECT",
    EnumTypeDefinitionNode: "ENUM",
    EnumTypeExtensionNode: "ENUM",
    ScalarTypeDefinitionNode: "SCALAR",
    UnionTypeDefinitionNode: "UNION",
}


def shape_from_sdl(sdl_text: str) -> SchemaShape:
    """Read the shape of a schema written in SDL, without building it.

    A field defined twice in one type counts once (the later definition wins), as graphql-js
    merged them when Stethoscope's schema had one. Raises GraphQLSyntaxError for text that is
    not SDL.
    """
    document = parse(sdl_text, no_location=True)
    types: dict[str, TypeShape] = {name: TypeShape("SCALAR") for name in BUILT_IN_SCALARS}
    query = "Query"
    for node in document.definitions:
        if isinstance(node, SchemaDefinitionNode):
            for operation in node.operation_types:
                if operation.operation.value == "query":
                    query = operation.type.name.value
            continue
        kind = _KINDS.get(type(node))
        if kind is None:
            continue
        _add_definition(types, node, kind)
    return SchemaShape(types, query)


def _add_definition(types: dict[str, TypeShape], node: DefinitionNode, kind: str) -> None:
    name = node.name.value  # type: ignore[attr-defined]
    shape = types.setdefault(name, TypeShape(kind))
    if isinstance(node, EnumTypeDefinitionNode | EnumTypeExtensionNode):
        shape.values |= {value.name.value for value in node.values or ()}
    elif isinstance(node, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
        for input_field in node.fields or ():
            shape.fields[input_field.name.value] = _input_value(input_field)
    elif isinstance(
        node, ObjectTypeDefinitionNode | ObjectTypeExtensionNode | InterfaceTypeDefinitionNode
    ):
        for output in node.fields or ():
            shape.fields[output.name.value] = FieldShape(
                _type_text(output.type),
                {arg.name.value: _input_value(arg).type for arg in output.arguments or ()},
            )


def _introspected_type(ref: Mapping[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return _introspected_type(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return "[" + _introspected_type(ref["ofType"]) + "]"
    return str(ref["name"])


def shape_from_introspection(result: Mapping[str, Any]) -> SchemaShape:
    """Read the shape of a schema from the `data` of the standard introspection query."""
    schema = result["__schema"]
    types: dict[str, TypeShape] = {}
    for entry in schema["types"]:
        name = entry["name"]
        if name.startswith("__"):
            continue
        shape = TypeShape(entry["kind"])
        for output in entry.get("fields") or ():
            shape.fields[output["name"]] = FieldShape(
                _introspected_type(output["type"]),
                {arg["name"]: _introspected_type(arg["type"]) for arg in output["args"]},
            )
        for input_field in entry.get("inputFields") or ():
            shape.fields[input_field["name"]] = FieldShape(
                _introspected_type(input_field["type"]),
                has_default=input_field.get("defaultValue") is not None,
            )
        shape.values = {value["name"] for value in entry.get("enumValues") or ()}
        types[name] = shape
    return SchemaShape(types, schema["queryType"]["name"])


def introspect(schema: GraphQLSchema) -> SchemaShape:
    """Return our schema's shape as a client sees it: by running the introspection query."""
    result = graphql_sync(schema, get_introspection_query(descriptions=False))
    if result.errors or result.data is None:
        raise RuntimeError(f"introspection failed: {result.errors}")
    return shape_from_introspection(result.data)


# -- comparing shapes ------------------------------------------------------------------------


def _unwrap(type_text: str) -> tuple[bool, str]:
    """Split off one level: (non-null?, the rest)."""
    if type_text.endswith("!"):
        return True, type_text[:-1]
    return False, type_text


def _covers(ours: str, theirs: str, *, output: bool) -> bool:
    our_required, our_inner = _unwrap(ours)
    their_required, their_inner = _unwrap(theirs)
    # An output may promise more (non-null); an input may ask less (optional).
    if (their_required and not our_required) if output else (our_required and not their_required):
        return False
    our_list = our_inner.startswith("[")
    if our_list != their_inner.startswith("["):
        return False
    if our_list:
        return _covers(our_inner[1:-1], their_inner[1:-1], output=output)
    if our_inner == their_inner:
        return True
    return output and {our_inner, their_inner} <= STRING_SCALARS


def output_covers(ours: str, theirs: str) -> bool:
    """Return True if a field of type `ours` answers whatever a client of `theirs` expects."""
    return _covers(ours, theirs, output=True)


def input_accepts(ours: str, theirs: str) -> bool:
    """Return True if an argument of type `ours` accepts every value `theirs` accepted."""
    return _covers(ours, theirs, output=False)


def _compare_type(name: str, ours: TypeShape, theirs: TypeShape) -> Iterable[tuple[str, str]]:
    """Yield (place, gap) for one named type present in both."""
    if ours.kind != theirs.kind:
        yield name, f"{name} is {theirs.kind} in theirs, {ours.kind} in ours"
        return
    for value in sorted(theirs.values - ours.values):
        yield f"{name}.{value}", f"enum {name} lacks the value {value}"
    output = theirs.kind in ("OBJECT", "INTERFACE")
    for field_name, their_field in theirs.fields.items():
        place = f"{name}.{field_name}"
        our_field = ours.fields.get(field_name)
        if our_field is None:
            yield place, f"{place} is missing"
            continue
        if output:
            if not output_covers(our_field.type, their_field.type):
                yield (
                    place,
                    f"{place} is {our_field.type} in ours, {their_field.type} in theirs",
                )
            yield from _compare_args(place, our_field, their_field)
        elif not input_accepts(our_field.type, their_field.type):
            yield place, f"{place} is {our_field.type} in ours, {their_field.type} in theirs"
    if not output:
        for field_name, our_field in ours.fields.items():
            if (
                field_name not in theirs.fields
                and our_field.type.endswith("!")
                and not our_field.has_default
            ):
                yield (
                    f"{name}.{field_name}",
                    f"{name}.{field_name} is required in ours and unknown to theirs",
                )


def _compare_args(place: str, ours: FieldShape, theirs: FieldShape) -> Iterable[tuple[str, str]]:
    for arg, their_type in theirs.args.items():
        where = f"{place}({arg})"
        our_type = ours.args.get(arg)
        if our_type is None:
            yield where, f"{where} is missing"
        elif not input_accepts(our_type, their_type):
            yield where, f"{where} is {our_type} in ours, {their_type} in theirs"
    for arg, our_type in ours.args.items():
        if arg not in theirs.args and our_type.endswith("!"):
            yield f"{place}({arg})", f"{place}({arg}) is required in ours and unknown to theirs"


def compare(ours: SchemaShape, theirs: SchemaShape) -> list[tuple[str, str]]:
    """Return (place, gap) for every way `ours` does not cover `theirs`, in their type order."""
    gaps: list[tuple[str, str]] = []
    if ours.query != theirs.query:
        gaps.append(("schema", f"the query root is {ours.query} in ours, {theirs.query}"))
    for name, their_type in theirs.types.items():
        our_type = ours.types.get(name)
        if our_type is None and name in BUILT_IN_SCALARS:
            continue  # every schema has them; introspection lists only those in use
        if our_type is None:
            gaps.append((name, f"the type {name} ({their_type.kind}) is missing"))
            continue
        gaps.extend(_compare_type(name, our_type, their_type))
    return gaps


# -- where Stethoscope contradicted itself ---------------------------------------------------

# (place, Stethoscope's type there) -> how ours answers the clients of that form.
DELIBERATE_DIFFERENCES: Mapping[tuple[str, str], str] = {
    ("Policy.validate", "FeatureState!"): (
        "Stethoscope 1.0 answered validate with the overall status alone; from April 2018 it "
        "answers a PolicyResult. Ours is a PolicyResult, and a query that selects no fields of "
        "validate gets the overall status, as Stethoscope 1.0 answered it."
    ),
    ("DevicePolicy.osVersion", "PlatformStringRequirement"): (
        "Stethoscope 1.0 took one version range per platform; from April 2018 an {ok, nudge} "
        "bracket. Ours takes brackets, and a version range where a bracket is expected means "
        "{ok: range}, as it did."
    ),
    ("Security.osVersion(requirement)", "PlatformStringRequirement!"): (
        "Security is reachable from no query in any version; its osVersion argument follows "
        "DevicePolicy.osVersion's later form."
    ),
    ("Security.screenIdle(requirement)", "RequirementOption!"): (
        "Security is reachable from no query in any version; its screenIdle argument follows "
        "DevicePolicy.screenIdle's later form (NumericRange)."
    ),
    ("DevicePolicy.screenIdle", "String"): (
        "Stethoscope typed screenIdle String for a while and NumericRange later; ours is "
        "NumericRange, which accepts the same strings (only a variable declared String for it "
        "would be refused)."
    ),
    ("DevicePolicy.applications", "[AppRequirement]"): (
        "Stethoscope's applications list briefly took AppRequirement entries, then "
        "ApplicationRequirement ones. Ours takes ApplicationRequirement, which has every field "
        "of both (only a variable declared [AppRequirement] for it would be refused)."
    ),
    ("PlatformStringRequirement.all", "Boolean"): (
        "Stethoscope typed `all` Semver until November 2019 and Boolean since, as its "
        "documentation writes it ({all: true}). Ours is Semver, which takes true and false as "
        "well, so both forms are answered (only a variable declared Boolean for it would be "
        "refused)."
    ),
    ("Application.assertion", "RequirementOption!"): (
        "An installed application that no rule of the app's policy names has no assertion: ours "
        "answers null there. Stethoscope declared it non-null but never answered a list with it "
        "(its resolvers answered an empty list on macOS and failed elsewhere)."
    ),
    ("Application.installed", "RequirementOption!"): (
        "The 2019 name of Application.assertion; null where no rule names the application."
    ),
}


def _split(gaps: list[tuple[str, str]], sdl_text: str) -> tuple[list[str], list[str]]:
    theirs = shape_from_sdl(sdl_text)
    found: list[str] = []
    deliberate: list[str] = []
    for place, gap in gaps:
        their_type = _their_type(theirs, place)
        reason = DELIBERATE_DIFFERENCES.get((place, their_type or ""))
        if reason is None:
            found.append(gap)
        else:
            deliberate.append(f"{gap}: {reason}")
    return found, deliberate


def _their_type(theirs: SchemaShape, place: str) -> str | None:
    name, _, rest = place.partition(".")
    shape = theirs.types.get(name)
    if shape is None or not rest:
        return None
    field_name, _, arg = rest.partition("(")
    found = shape.fields.get(field_name)
    if found is None:
        return None
    return found.args.get(arg.rstrip(")")) if arg else found.type


def _our_shape() -> SchemaShape:
    from stethoscope_desktop.api.schema import build_api_schema

    return introspect(build_api_schema())


def schema_gaps(sdl_text: str) -> list[str]:
    """Return every way our schema does not cover the schema in `sdl_text`; [] when it does.

    Our schema is read by introspection. The places in `DELIBERATE_DIFFERENCES` are left out
    (see `deliberate_differences`). Raises GraphQLSyntaxError for text that is not SDL.
    """
    return _split(compare(_our_shape(), shape_from_sdl(sdl_text)), sdl_text)[0]


def deliberate_differences(sdl_text: str) -> list[str]:
    """Return the differences to the schema in `sdl_text` that are deliberate, with the reasons."""
    return _split(compare(_our_shape(), shape_from_sdl(sdl_text)), sdl_text)[1]
