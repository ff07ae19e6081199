"""The GraphQL context: the token is checked before anything runs, loaders live one request."""

from __future__ import annotations

from collections.abc import Callable

from tests.gateway.conftest import Stack
from upward_common.auth import mint_token
from upward_common.settings import UpwardSettings

PROGRAMMES = "{ programmes { nodes { id name } } }"


async def test_a_query_without_a_token_is_refused_with_401_before_reaching_any_service(
    stack: Stack,
) -> None:
    response = await stack.graphql(PROGRAMMES, token=None)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"].endswith("/unauthorised")
    assert all(not recorder.calls for recorder in stack.recorders.values())


async def test_a_token_signed_with_another_secret_is_refused_with_401(stack: Stack) -> None:
    forged = mint_token(UpwardSettings(jwt_secret="someone-elses-secret-0123456789abcdef"),
                        roles=["hr_admin"])

    response = await stack.graphql(PROGRAMMES, token=forged)

    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]
    assert not stack.recorders["enrolment"].calls


async def test_a_query_sent_by_get_needs_a_token_too(stack: Stack) -> None:
    async with stack.client() as client:
        response = await client.get("/graphql", params={"query": PROGRAMMES})

    assert response.status_code == 401


async def test_the_graphiql_page_loads_without_a_token_and_runs_nothing(stack: Stack) -> None:
    async with stack.client() as client:
        response = await client.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    assert all(not recorder.calls for recorder in stack.recorders.values())


async def test_loaders_cache_within_one_request_only(stack: Stack,
                                                    token: Callable[..., str]) -> None:
    admin = token("hr_admin")
    query = """{ a: participant(participantId: "m1") { id }
                 b: participant(participantId: "m1") { role } }"""

    first = await stack.graphql(query, token=admin)
    second = await stack.graphql(query, token=admin)

    assert first.json()["data"] == {"a": {"id": "m1"}, "b": {"role": "MENTOR"}}
    assert second.json()["data"] == first.json()["data"]
    # One call per request: cached inside a request, never across requests (or callers).
    assert stack.recorders["enrolment"].paths() == ["/api/v1/batch/participants"] * 2
