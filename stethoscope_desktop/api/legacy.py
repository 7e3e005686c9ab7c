"""Stethoscope 1.0's forms of a request, answered by today's schema.

Stethoscope's schema changed shape twice in ways one schema cannot hold both of, and its own
documentation shows the older forms, so pages may still send them:

- **`validate` without a selection.** Until April 2018 `validate(policy: …)` answered the overall
  status alone (`"validate": "PASS"`); since, a `PolicyResult` object. A `validate` field on
  `Policy` that selects nothing is rewritten, before validation, to select `status` under a
  marker alias, and the answer's `{marker: status}` objects are unwrapped to the status string.
- **A version range where a bracket is expected.** Until April 2018 a policy's `osVersion` gave
  one range per platform (`{darwin: ">=10.13"}`); since, an `{ok, nudge}` bracket. A string in a
  `VersionBracket` position, in the query's literals or its variables, means `{ok: range}` (pass
  inside it, fail outside), which is what the range meant.

Both are pure functions of the document, the schema and the variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    NameNode,
    ObjectFieldNode,
    ObjectValueNode,
    SelectionSetNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    get_operation_ast,
    type_from_ast,
    visit,
)

POLICY_TYPE = "Policy"
VALIDATE_FIELD = "validate"
BRACKET_TYPE = "VersionBracket"
# The alias under which a bare `validate` selects its status; no page would choose it.
BARE_STATUS_ALIAS = "stethoscope_1_0_validate_status"


class _LegacyForms(Visitor):
    """Rewrites bare `validate` fields and string brackets; records whether it did."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.bare_validate = False

    def enter_field(self, node: FieldNode, *_args: Any) -> FieldNode | None:
        parent = self.type_info.get_parent_type()
        if (
            node.selection_set is None
            and node.name.value == VALIDATE_FIELD
            and parent is not None
            and parent.name == POLICY_TYPE
        ):
            self.bare_validate = True
            status = FieldNode(
                alias=NameNode(value=BARE_STATUS_ALIAS),
                name=NameNode(value="status"),
                arguments=(),
                directives=(),
            )
            return FieldNode(
                alias=node.alias,
                name=node.name,
                arguments=node.arguments,
                directives=node.directives,
                selection_set=SelectionSetNode(selections=(status,)),
            )
        return None

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> ObjectFieldNode | None:
        expected = self.type_info.get_input_type()
        if (
            expected is not None
            and get_named_type(expected).name == BRACKET_TYPE
            and isinstance(node.value, StringValueNode)
        ):
            ok = ObjectFieldNode(name=NameNode(value="ok"), value=node.value)
            return ObjectFieldNode(name=node.name, value=ObjectValueNode(fields=(ok,)))
        return None


def rewrite_legacy_forms(
    schema: GraphQLSchema, document: DocumentNode
) -> tuple[DocumentNode, bool]:
    """Return the document in today's forms, and whether a bare `validate` was rewritten.

    Run before validation; a document without the older forms is returned unchanged.
    """
    type_info = TypeInfo(schema)
    rewriter = _LegacyForms(type_info)
    rewritten = visit(document, TypeInfoVisitor(type_info, rewriter))
    assert isinstance(rewritten, DocumentNode)
    return rewritten, rewriter.bare_validate


def normalize_variables(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """Return the variables with a version range in each `VersionBracket` place made a bracket.

    The types come from the chosen operation's variable definitions; variables it does not
    define, and operations that cannot be chosen, are left for execution to report.
    """
    if variables is None:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return dict(variables)
    normalized = dict(variables)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in normalized:
            continue
        declared = type_from_ast(schema, definition.type)
        if declared is not None:
            normalized[name] = _normalized(normalized[name], declared)  # type: ignore[arg-type]
    return normalized


def _normalized(value: Any, expected: GraphQLInputType) -> Any:
    if isinstance(expected, GraphQLNonNull):
        return _normalized(value, expected.of_type)
    if isinstance(expected, GraphQLList):
        if isinstance(value, list):
            return [_normalized(item, expected.of_type) for item in value]
        return _normalized(value, expected.of_type)
    if isinstance(expected, GraphQLInputObjectType):
        if expected.name == BRACKET_TYPE and isinstance(value, str):
            return {"ok": value}
        if isinstance(value, dict):
            return {
                key: _normalized(item, expected.fields[key].type)
                if key in expected.fields
                else item
                for key, item in value.items()
            }
    return value


def unwrap_bare_validate(data: Any) -> Any:
    """Return the answer with each `{marker: status}` object replaced by the status."""
    if isinstance(data, dict):
        if len(data) == 1 and BARE_STATUS_ALIAS in data:
            return data[BARE_STATUS_ALIAS]
        return {key: unwrap_bare_validate(value) for key, value in data.items()}
    if isinstance(data, list):
        return [unwrap_bare_validate(item) for item in data]
    return data
