"""/graphql over HTTP: the GraphQL-over-HTTP specification's rules, the caches, the switches.

Each test names the rule of https://graphql.github.io/graphql-over-http/draft/ it holds the
gateway to (section, and the key word the spec uses).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import graphql.language.parser
import httpx
import pytest
import strawberry.schema.schema

from gateway.config import GatewaySettings
from gateway.persisted import load_allow_list, sha256
from gateway.transport import negotiate
from tests.gateway.conftest import Stack

StartStack = Callable[..., AbstractAsyncContextManager[Stack]]

GRAPHQL_RESPONSE = "application/graphql-response+json"
RESPONSE_ACCEPT = {"Accept": GRAPHQL_RESPONSE}
JSON_ACCEPT = {"Accept": "application/json"}
QUERY = "{ programmes { nodes { id name } } }"
MUTATION = 'mutation { createProgramme(input: {name: "X"}) { id } }'


async def _post(stack: Stack, body: Any, *, token: str, headers: dict[str, str] | None = None,
                ) -> httpx.Response:
    async with stack.client(token) as client:
        return await client.post("/graphql", json=body, headers=headers)


async def _raw(stack: Stack, content: bytes, *, token: str, headers: dict[str, str],
               ) -> httpx.Response:
    async with stack.client(token) as client:
        return await client.post("/graphql", content=content, headers=headers)


async def _get(stack: Stack, params: dict[str, str], *, token: str,
               headers: dict[str, str] | None = None) -> httpx.Response:
    async with stack.client(token) as client:
        return await client.get("/graphql", params=params, headers=headers)


def _no_calls(stack: Stack) -> bool:
    return all(not recorder.calls for recorder in stack.recorders.values())


def _media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def _only_error(response: httpx.Response) -> dict[str, Any]:
    [error] = response.json()["errors"]
    return dict(error)


# --- media types (spec: Accept, Body, Legacy watershed) ----------------------------------------


@pytest.mark.parametrize(("accept", "expected"), [
    (None, GRAPHQL_RESPONSE),  # watershed: no Accept is graphql-response+json since 2025
    ("", GRAPHQL_RESPONSE),
    ("*/*", GRAPHQL_RESPONSE),
    ("application/*", GRAPHQL_RESPONSE),
    (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
    ("application/json", "application/json"),
    # the client the spec RECOMMENDS
    ("application/graphql-response+json; charset=utf-8, application/json; charset=utf-8",
     GRAPHQL_RESPONSE),
    ("application/json, application/graphql-response+json", "application/json"),
    ("application/json;q=0.9, application/graphql-response+json", GRAPHQL_RESPONSE),
    ("application/graphql-response+json;q=0.5, application/json", "application/json"),
    ("*/*, application/graphql-response+json;q=0", "application/json"),
    ("application/json; charset=latin-1, application/graphql-response+json;q=0.1",
     GRAPHQL_RESPONSE),
    ("text/html", None),
    ("application/graphql-response+json;q=0, application/json;q=0", None),
    ("application/xml, text/csv", None),
])
def test_accept_picks_the_highest_priority_supported_type(accept: str | None,
                                                          expected: str | None) -> None:
    """Body: the server MUST respect Accept and use the highest priority media type listed
    that it supports; without Accept it SHOULD use graphql-response+json (watershed)."""
    assert negotiate(accept) == expected


async def test_the_answer_is_in_the_accepted_media_type_with_utf8(
    stack: Stack, token: Callable[..., str]
) -> None:
    """Body: the server MUST indicate the media type in Content-Type, and SHOULD indicate
    the encoding; it MUST support a request accepting either GraphQL media type."""
    admin = token("hr_admin")
    modern = await _post(stack, {"query": QUERY}, token=admin, headers=RESPONSE_ACCEPT)
    legacy = await _post(stack, {"query": QUERY}, token=admin, headers=JSON_ACCEPT)
    unsaid = await _raw(stack, json.dumps({"query": QUERY}).encode(), token=admin,
                        headers={"Content-Type": "application/json"})

    assert modern.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert legacy.headers["content-type"] == "application/json; charset=utf-8"
    assert _media(unsaid) == GRAPHQL_RESPONSE
    assert modern.status_code == legacy.status_code == unsaid.status_code == 200
    assert modern.json() == legacy.json() == unsaid.json()
    assert modern.json()["data"]["programmes"]["nodes"]


async def test_an_accept_naming_no_supported_type_is_406_before_anything_runs(
    stack: Stack, token: Callable[..., str]
) -> None:
    """Body: without a supported media type in Accept the server responds 406 Not
    Acceptable and stops processing the request (RECOMMENDED)."""
    response = await _post(stack, {"query": QUERY}, token=token("hr_admin"),
                           headers={"Accept": "text/csv"})

    assert response.status_code == 406
    assert _media(response) == "application/problem+json"
    assert response.json()["field"] == "Accept"
    assert _no_calls(stack)


# --- status codes (spec: Status Codes) -------------------------------------------------------


@pytest.mark.parametrize(("body", "message"), [
    ({"query": "{ programmes { nodes { id "}, "Syntax Error"),  # document parsing failure
    ({"query": "{ programmes { nodes { nope } } }"}, "Cannot query field 'nope'"),  # validation
    ({"query": "query A { programmes { nodes { id } } } query B { programmes { nodes { name } } }"},
     "operationName must name"),  # operation cannot be determined
    ({"query": "query A { programmes { nodes { id } } }", "operationName": "B"},
     'Unknown operation named "B"'),
    ({"query": "query ($id: ID!) { programme(programmeId: $id) { id } }", "variables": {}},
     "Variable '$id'"),  # variable coercion failure
])
async def test_a_request_error_is_400_without_data_in_graphql_response_json(
    stack: Stack, token: Callable[..., str], body: dict[str, Any], message: str,
) -> None:
    """Status Codes, application/graphql-response+json: parsing, validation, operation and
    variable failures SHOULD be 400, and a response without a data entry MUST be 4xx/5xx."""
    response = await _post(stack, body, token=token("hr_admin"), headers=RESPONSE_ACCEPT)

    assert response.status_code == 400, response.text
    assert _media(response) == GRAPHQL_RESPONSE
    assert "data" not in response.json()
    assert message in _only_error(response)["message"]
    assert _no_calls(stack)


@pytest.mark.parametrize("query", [
    "{ programmes { id ", "{ programmes { nodes { nope } } }",
    "query A { programmes { nodes { id } } } query B { programmes { nodes { name } } }",
])
async def test_a_request_error_is_200_with_application_json(
    stack: Stack, token: Callable[..., str], query: str,
) -> None:
    """Status Codes, application/json: the server SHOULD use 200 for every response to a
    well-formed request, independent of any request error raised."""
    response = await _post(stack, {"query": query}, token=token("hr_admin"),
                           headers=JSON_ACCEPT)

    assert response.status_code == 200
    assert _media(response) == "application/json"
    assert response.json()["data"] is None
    assert response.json()["errors"]


async def test_a_partial_answer_is_200_with_its_data_in_graphql_response_json(
    start_stack: StartStack, token: Callable[..., str]
) -> None:
    """Status Codes, application/graphql-response+json: a response whose data entry is not
    null MUST be 2xx (SHOULD be 200), field errors included."""
    async with start_stack(analytics=None) as stack:
        response = await _post(
            stack, {"query": "{ programmes { nodes { id summary { pairsFormed } } } }"},
            token=token("hr_admin"), headers=RESPONSE_ACCEPT)

    assert response.status_code == 200
    body = response.json()
    assert body["data"]["programmes"]["nodes"][0]["id"]
    assert body["data"]["programmes"]["nodes"][0]["summary"] is None
    assert body["errors"][0]["extensions"]["status"] == 503


async def test_a_refused_query_takes_the_status_of_its_problem_in_graphql_response_json(
    stack: Stack, token: Callable[..., str]
) -> None:
    """Status Codes: a request error is 4xx "as appropriate"; the limits say which."""
    big = "{ programmes { nodes { id } } }" + " " * 40_000
    response = await _post(stack, {"query": big}, token=token("hr_admin"),
                           headers=RESPONSE_ACCEPT)

    assert response.status_code == 413
    assert "data" not in response.json()
    assert _only_error(response)["extensions"]["type"].endswith("/query-too-large")


# --- requests (spec: Request, GET, POST, JSON Encoding) --------------------------------------


async def test_a_query_runs_over_get(stack: Stack, token: Callable[..., str]) -> None:
    """GET: the parameters are in the URL query, variables as a JSON string."""
    response = await _get(stack, {
        "query": "query ($id: ID!) { programme(programmeId: $id) { id } }",
        "variables": json.dumps({"id": "prog1"}), "operationName": ""},
        token=token("hr_admin"), headers=RESPONSE_ACCEPT)

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"programme": {"id": "prog1"}}}


async def test_a_mutation_over_get_is_405_allow_post_and_nothing_runs(
    stack: Stack, token: Callable[..., str]
) -> None:
    """GET: GET requests MUST NOT be used for mutations; the server MUST respond 405 and
    halt execution (and HTTP's 405 names the allowed methods)."""
    for accept in (RESPONSE_ACCEPT, JSON_ACCEPT):
        response = await _get(stack, {"query": MUTATION}, token=token("hr_admin"),
                              headers=accept)

        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert "data" not in response.json()
        assert "POST" in _only_error(response)["message"]
    assert _no_calls(stack)


async def test_another_method_is_405_naming_get_and_post(
    stack: Stack, token: Callable[..., str]
) -> None:
    """Request: a server MUST accept POST and MAY accept GET; it accepts nothing else."""
    async with stack.client(token("hr_admin")) as client:
        for method in ("PUT", "DELETE", "PATCH"):
            response = await client.request(method, "/graphql", json={"query": QUERY})
            assert response.status_code == 405, method
            assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
            assert _media(response) == "application/problem+json"


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1", "application/graphql",
])
async def test_a_body_that_is_not_json_in_utf8_is_415(
    stack: Stack, token: Callable[..., str], content_type: str | None,
) -> None:
    """POST: a server MUST support application/json in UTF-8; a request without a
    Content-Type SHOULD be rejected with a 4xx (415 Unsupported Media Type here)."""
    headers = {"Content-Type": content_type} if content_type else {}
    async with stack.client(token("hr_admin")) as client:
        # httpx sends no Content-Type for bytes unless told to.
        response = await client.post(
            "/graphql", content=b'{"query": "{ programmes { nodes { id } } }"}', headers=headers)

    assert response.status_code == 415
    assert response.json()["field"] == "Content-Type"
    assert _no_calls(stack)


async def test_a_content_type_without_charset_is_utf8(
    stack: Stack, token: Callable[..., str]
) -> None:
    """Media Types: without encoding information UTF-8 MUST be assumed."""
    query = '{ programmes { nodes { id } } } # café'
    response = await _raw(stack, json.dumps({"query": query}, ensure_ascii=False).encode(),
                          token=token("hr_admin"), headers={"Content-Type": "application/json"})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("content", "field", "message"), [
    (b"NONSENSE", "body", "The body is not valid JSON"),
    (b'{"query":', "body", "The body is not valid JSON"),
    (b'"{ programmes { nodes { id } } }"', "body", "must be a JSON object"),
    (b'{"qeury": "{ programmes { nodes { id } } }"}', "query", "has no query"),
    (b'{"query": 7}', "query", "query must be a string"),
    (b'{"query": "{ programmes { nodes { id } } }", "variables": [7]}', "variables",
     "variables must be an object"),
    (b'{"query": "{ programmes { nodes { id } } }", "variables": "{}"}', "variables",
     "variables must be an object"),
    (b'{"query": "{ programmes { nodes { id } } }", "operationName": 1}', "operationName",
     "operationName must be a string"),
    (b'{"query": "{ programmes { nodes { id } } }", "extensions": [1]}', "extensions",
     "extensions must be an object"),
])
async def test_a_request_that_is_not_well_formed_is_400_naming_the_parameter(
    stack: Stack, token: Callable[..., str], content: bytes, field: str, message: str,
) -> None:
    """Status Codes examples, both media types: JSON parsing failure and invalid parameters
    SHOULD be 400 (and, with graphql-response+json, carry no data entry)."""
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        response = await _raw(stack, content, token=token("hr_admin"),
                              headers={"Content-Type": "application/json", "Accept": accept})

        assert response.status_code == 400, (content, response.text)
        assert _media(response) == accept
        assert "data" not in response.json()
        error = _only_error(response)
        assert message in error["message"]
        assert error["extensions"]["field"] == field
    assert _no_calls(stack)


async def test_null_parameters_are_as_if_absent(stack: Stack, token: Callable[..., str]) -> None:
    """Request Parameters: specifying null for an optional parameter is equivalent to not
    specifying it at all."""
    response = await _post(stack, {"query": QUERY, "variables": None, "operationName": None,
                                   "extensions": None}, token=token("hr_admin"))

    assert response.status_code == 200
    assert response.json()["data"]["programmes"]["nodes"]


async def test_get_variables_that_are_not_json_are_400(
    stack: Stack, token: Callable[..., str]
) -> None:
    """GET: variables and extensions, if used, MUST be encoded as JSON strings."""
    response = await _get(stack, {"query": QUERY, "variables": "{id: 1}"},
                          token=token("hr_admin"))

    assert response.status_code == 400
    assert _only_error(response)["extensions"]["field"] == "variables"


async def test_a_batch_is_refused_with_400_and_nothing_runs(
    stack: Stack, token: Callable[..., str]
) -> None:
    """Batching is beyond the spec; the gateway accepts one operation per request."""
    response = await _post(stack, [{"query": QUERY}, {"query": QUERY}],
                           token=token("hr_admin"))

    assert response.status_code == 400
    assert "Batched requests" in _only_error(response)["message"]
    assert _no_calls(stack)


# --- the parse and validation caches ---------------------------------------------------------


def _alias(request: pytest.FixtureRequest) -> str:
    """A field alias unique to the test: validation caches by the document, not its text."""
    return "a" + sha256(request.node.nodeid)[:16]


@contextmanager
def _counting() -> Iterator[dict[str, int]]:
    """How often documents are really parsed and validated meanwhile."""
    counts = {"parsed": 0, "validated": 0}
    parse_document = graphql.language.parser.Parser.parse_document
    validate = strawberry.schema.schema.validate

    def counted_parse(self: graphql.language.parser.Parser) -> Any:
        counts["parsed"] += 1
        return parse_document(self)

    def counted_validate(*args: Any, **kwargs: Any) -> Any:
        counts["validated"] += 1
        return validate(*args, **kwargs)

    with mock.patch.object(graphql.language.parser.Parser, "parse_document", counted_parse), \
            mock.patch.object(strawberry.schema.schema, "validate", counted_validate):
        yield counts


async def test_a_repeated_query_is_parsed_and_validated_once(
    stack: Stack, token: Callable[..., str], request: pytest.FixtureRequest,
) -> None:
    # A document no other test sends: the caches live as long as the process.
    query = f"{{ {_alias(request)}: programmes {{ nodes {{ id }} }} }}"
    with _counting() as counts:
        for _ in range(3):
            response = await _post(stack, {"query": query}, token=token("hr_admin"))
            assert response.status_code == 200

    assert counts == {"parsed": 1, "validated": 1}


async def test_the_caches_are_bounded(
    start_stack: StartStack, token: Callable[..., str], request: pytest.FixtureRequest,
) -> None:
    # One entry each: two queries in turn push each other out, so each is parsed again.
    async with start_stack(settings={"query_cache_size": 1}) as stack:
        queries = [f"{{ {_alias(request)}{n}: programmes {{ nodes {{ id }} }} }}" for n in (1, 2)]
        with _counting() as counts:
            for query in queries * 2:
                assert (await _post(stack, {"query": query},
                                    token=token("hr_admin"))).status_code == 200

    assert counts == {"parsed": 4, "validated": 4}


# --- introspection -------------------------------------------------------------------------


INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_introspection_is_on_in_development_and_test(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await _post(stack, {"query": INTROSPECTION}, token=token("hr_admin"))

    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_introspection_off_refuses_the_schema_but_not_typename_nor_the_page(
    start_stack: StartStack, token: Callable[..., str]
) -> None:
    async with start_stack(settings={"introspection": False}) as stack:
        schema = await _post(stack, {"query": INTROSPECTION}, token=token("hr_admin"),
                             headers=RESPONSE_ACCEPT)
        one_type = await _post(stack, {"query": '{ __type(name: "Programme") { name } }'},
                               token=token("hr_admin"), headers=RESPONSE_ACCEPT)
        typename = await _post(
            stack, {"query": "{ __typename programmes { nodes { __typename } } }"},
            token=token("hr_admin"), headers=RESPONSE_ACCEPT)
        async with stack.client() as client:
            page = await client.get("/graphql", headers={"Accept": "text/html"})

    assert schema.status_code == one_type.status_code == 400
    for refused in (schema, one_type):
        assert "data" not in refused.json()
        assert refused.json()["errors"][0]["message"].startswith(
            "GraphQL introspection has been disabled")
    assert typename.status_code == 200
    assert typename.json()["data"]["__typename"] == "Query"
    assert page.status_code == 200 and "GraphiQL" in page.text


def test_introspection_defaults_off_in_production_only() -> None:
    secret = {"jwt_secret": "a-production-secret-that-is-not-the-default-0123456789"}
    assert not GatewaySettings(environment="production", **secret).introspection_allowed
    assert GatewaySettings(environment="production", introspection=True,
                           **secret).introspection_allowed
    assert GatewaySettings(environment="development").introspection_allowed
    assert GatewaySettings(environment="test", **secret).introspection_allowed
    assert not GatewaySettings(environment="development", introspection=False
                               ).introspection_allowed


# --- automatic persisted queries -----------------------------------------------------------


def _apq(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


async def test_an_unknown_hash_is_persisted_query_not_found_as_apollo_clients_expect(
    stack: Stack, token: Callable[..., str]
) -> None:
    """APQ: Apollo's clients resend the text on PERSISTED_QUERY_NOT_FOUND, and stop using
    persisted queries after a 400 or 500: so 200 with data null (which the spec allows)."""
    for accept in (RESPONSE_ACCEPT, JSON_ACCEPT):
        response = await _post(
            stack, {"extensions": _apq("{ programmes { nodes { id } } } # unseen")},
            token=token("hr_admin"), headers=accept)

        assert response.status_code == 200
        assert response.json()["data"] is None
        error = _only_error(response)
        assert error["message"] == "PersistedQueryNotFound"
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        assert "no-cache" in response.headers["cache-control"]
    assert _no_calls(stack)


async def test_a_query_sent_with_its_hash_is_then_run_by_hash_alone(
    stack: Stack, token: Callable[..., str], request: pytest.FixtureRequest,
) -> None:
    query = f"{{ programmes {{ nodes {{ id name }} }} }} # {request.node.nodeid}"
    admin = token("hr_admin")

    first = await _post(stack, {"query": query, "extensions": _apq(query)}, token=admin)
    by_post = await _post(stack, {"extensions": _apq(query)}, token=admin)
    by_get = await _get(stack, {"extensions": json.dumps(_apq(query))}, token=admin)

    assert first.status_code == by_post.status_code == by_get.status_code == 200
    assert first.json() == by_post.json() == by_get.json()
    assert first.json()["data"]["programmes"]["nodes"]
    assert len(stack.recorders["enrolment"].paths()) == 3


async def test_a_hash_that_is_not_the_querys_is_refused_and_not_kept(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")
    lying = {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ __typename }")}}

    refused = await _post(stack, {"query": QUERY, "extensions": lying}, token=admin,
                          headers=RESPONSE_ACCEPT)
    after = await _post(stack, {"extensions": lying}, token=admin)

    assert refused.status_code == 400
    assert "data" not in refused.json()
    assert _only_error(refused)["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert _only_error(after)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert _no_calls(stack)


@pytest.mark.parametrize(("persisted", "field"), [
    ({"version": 2, "sha256Hash": "0" * 64}, "extensions.persistedQuery.version"),
    ({"version": 1, "sha256Hash": "abc"}, "extensions.persistedQuery.sha256Hash"),
    ({"version": 1, "sha256Hash": "A" * 64}, "extensions.persistedQuery.sha256Hash"),
    ("yes", "extensions.persistedQuery"),
])
async def test_a_malformed_persisted_query_is_400_naming_it(
    stack: Stack, token: Callable[..., str], persisted: Any, field: str,
) -> None:
    response = await _post(stack, {"extensions": {"persistedQuery": persisted}},
                           token=token("hr_admin"), headers=RESPONSE_ACCEPT)

    assert response.status_code == 400
    assert _only_error(response)["extensions"]["field"] == field


async def test_a_query_that_does_not_validate_is_not_kept(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")
    query = "{ programmes { nodes { nope } } }"

    await _post(stack, {"query": query, "extensions": _apq(query)}, token=admin)
    after = await _post(stack, {"extensions": _apq(query)}, token=admin)

    assert _only_error(after)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_the_persisted_queries_are_bounded_least_recently_used_out(
    start_stack: StartStack, token: Callable[..., str], request: pytest.FixtureRequest,
) -> None:
    admin = token("hr_admin")
    first, second, third = (f"{{ programmes {{ nodes {{ id }} }} }} # {request.node.nodeid} {n}"
                            for n in (1, 2, 3))
    async with start_stack(settings={"apq_cache_size": 2}) as stack:
        for query in (first, second):
            await _post(stack, {"query": query, "extensions": _apq(query)}, token=admin)
        await _post(stack, {"extensions": _apq(first)}, token=admin)  # first is used again
        await _post(stack, {"query": third, "extensions": _apq(third)}, token=admin)
        answers = {name: await _post(stack, {"extensions": _apq(query)}, token=admin)
                   for name, query in (("first", first), ("second", second),
                                       ("third", third))}

    assert "errors" not in answers["first"].json()
    assert _only_error(answers["second"])["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert "errors" not in answers["third"].json()


async def test_apq_off_answers_not_supported(
    start_stack: StartStack, token: Callable[..., str]
) -> None:
    async with start_stack(settings={"apq": False}) as stack:
        response = await _post(stack, {"query": QUERY, "extensions": _apq(QUERY)},
                               token=token("hr_admin"), headers=RESPONSE_ACCEPT)
        plain = await _post(stack, {"query": QUERY}, token=token("hr_admin"))

    assert response.status_code == 200
    assert _only_error(response)["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert plain.json()["data"]["programmes"]["nodes"]


# --- the allow-list ----------------------------------------------------------------------------


LISTED = "query Programmes { programmes { nodes { id name } } }"


@pytest.fixture
def allow_list(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-queries.json"
    path.write_text(json.dumps({sha256(LISTED): LISTED}))
    return path


async def test_the_allow_list_runs_its_queries_by_text_or_hash_and_refuses_others(
    start_stack: StartStack, token: Callable[..., str], allow_list: Path,
) -> None:
    admin = token("hr_admin")
    other = "{ programmes { nodes { id } } }"
    async with start_stack(settings={"persisted_queries_file": allow_list}) as stack:
        by_text = await _post(stack, {"query": LISTED}, token=admin)
        by_hash = await _post(stack, {"extensions": _apq(LISTED)}, token=admin)
        calls = len(stack.recorders["enrolment"].calls)
        refused = await _post(stack, {"query": other}, token=admin, headers=RESPONSE_ACCEPT)
        legacy = await _post(stack, {"query": other}, token=admin, headers=JSON_ACCEPT)
        # APQ registers nothing here: a text sent with its hash is refused all the same.
        registering = await _post(stack, {"query": other, "extensions": _apq(other)},
                                  token=admin, headers=RESPONSE_ACCEPT)
        unknown = await _post(stack, {"extensions": _apq(other)}, token=admin)
        assert len(stack.recorders["enrolment"].calls) == calls

    assert by_text.json()["data"]["programmes"]["nodes"]
    assert by_hash.json() == by_text.json()
    assert refused.status_code == registering.status_code == 403
    assert "data" not in refused.json()
    error = _only_error(refused)
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert "allow-list" in error["message"]
    assert legacy.status_code == 200
    assert _only_error(legacy)["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert _only_error(unknown)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_an_allow_list_whose_hash_is_not_its_querys_is_refused_at_start(
    tmp_path: Path,
) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({sha256("{ __typename }"): LISTED}))
    not_json = tmp_path / "not.json"
    not_json.write_text("{")
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([LISTED]))

    for path in (wrong, not_json, listed, tmp_path / "missing.json"):
        with pytest.raises(ValueError, match="GATEWAY_PERSISTED_QUERIES_FILE"):
            load_allow_list(path)
