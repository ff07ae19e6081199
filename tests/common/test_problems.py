"""Validation errors read in the API's words: the field named, never the library's phrasing."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import FastAPI
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from upward_common.problems import install_problem_handlers, message_of


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Annotated[int, Field(ge=1, le=20)]
    name: Annotated[str, Field(max_length=5)]
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        return {}

    return app


async def test_a_422_names_each_field_and_says_what_it_must_be_in_our_words() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/things", json={"level": 25, "name": "too long",
                                                      "extra": 1})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors == {
        "level": "Must be less than or equal to 20",
        "name": "String should have at most 5 characters",
        "count": "Required",
        "extra": "Not a known field",
    }
    assert "Input should" not in response.text and "pydantic" not in response.text


def test_value_errors_lose_the_library_prefix() -> None:
    def positive(value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    adapter: TypeAdapter[int] = TypeAdapter(Annotated[int, AfterValidator(positive)])
    try:
        adapter.validate_python(0)
    except ValidationError as exc:
        assert message_of(exc.errors()[0]) == "Must be at least 1"
    else:  # pragma: no cover - the value is invalid
        raise AssertionError("0 was accepted")
    try:
        adapter.validate_python("x")
    except ValidationError as exc:
        assert message_of(exc.errors()[0]) == (
            "Must be a valid integer, unable to parse string as an integer")
