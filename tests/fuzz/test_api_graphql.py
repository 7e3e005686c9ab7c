"""Fuzzing the local API's GraphQL over real HTTP: any document gets a clean GraphQL answer.

One real server per test over canned facts. Documents are drawn from the API's own schema
(random fields, aliases, arguments of the right and wrong types, inline and named fragments,
variables with values of any shape, page policies of random shapes, long lists, deep nesting)
and from real clients' requests mutated (`api_strategies.graphql_requests`), sent as POST JSON
or as GET, from a local program or an allowed page.

Every answer must be a GraphQL response: 200 with `data` (and field errors) or 400 with
`errors`, each error a message that is no traceback and no "internal error"; never a 500, and
the server logs no failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.api.helpers import ALLOWED_ORIGIN, request
from tests.fuzz.api_strategies import (
    FuzzServer,
    GraphQLRequest,
    check_graphql_answer,
    fuzz_server,
    graphql_requests,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FuzzServer]:
    with fuzz_server() as served:
        yield served


def ask(
    port: int, graphql: GraphQLRequest, *, method: str, origin: str | None
) -> tuple[int, object]:
    """Send the request as a client would; return the status and the parsed body."""
    headers = {"Origin": origin} if origin else {}
    if method == "GET":
        target = f"/graphql?query={quote(graphql.query)}"
        if graphql.variables is not None:
            target += f"&variables={quote(json.dumps(graphql.variables))}"
        if graphql.operation_name is not None:
            target += f"&operationName={quote(graphql.operation_name)}"
        answer = request(port, "GET", target, headers=headers)
    else:
        body = json.dumps(graphql.payload()).encode()
        answer = request(
            port, "POST", headers={"Content-Type": "application/json", **headers}, body=body
        )
    return answer.status, answer.body


@given(
    graphql=graphql_requests(),
    method=st.sampled_from(["POST", "POST", "GET"]),
    origin=st.sampled_from([None, ALLOWED_ORIGIN]),
)
@settings(max_examples=300)
@example(
    graphql=GraphQLRequest("huge list", "query ($p: DevicePolicy) { policy { validate(policy: $p) { status applications { name status } } } }",
                           {"p": {"applications": [{"name": f"app{i}", "assertion": "ALWAYS"} for i in range(500)]}}),
    method="POST", origin=None,
)  # fmt: skip
@example(
    graphql=GraphQLRequest("two policies", "query ($p: DevicePolicy) { policy { a: validate(policy: $p) { status } "
                           "b: validate(policy: $p) { status } c: validateV2(policy: {firewall: ALWAYS}) { status } } }",
                           {"p": {"firewall": "NEVER"}}),
    method="POST", origin=ALLOWED_ORIGIN,
)  # fmt: skip
def test_every_document_gets_a_clean_graphql_answer(
    server: FuzzServer, graphql: GraphQLRequest, method: str, origin: str | None
) -> None:
    server.log.take()
    if method == "GET" and len(quote(graphql.query)) > 60_000:
        method = "POST"  # a GET that long is refused for its URL, tested over HTTP
    status, body = ask(server.port, graphql, method=method, origin=origin)
    problems = check_graphql_answer(status, body)
    assert not problems, (graphql, problems)
    failures = [f"{r.levelname} {r.getMessage()}" for r in server.log.take()]
    assert not failures, (graphql, failures)
