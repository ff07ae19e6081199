"""How errors leave the schema: which reach the client as they are, and which are logged."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from gateway.clients import ProblemError
from upward_common.problems import PROBLEM_BASE

log = logging.getLogger(__name__)


class MaskUnexpectedErrors(MaskErrors):
    """Problems and GraphQL's own errors reach the client; a bug's message could leak internals."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._is_unexpected,
                         error_message="An unexpected error occurred; it has been logged")

    @staticmethod
    def _is_unexpected(error: GraphQLError) -> bool:
        original = error.original_error
        return original is not None and not isinstance(original, ProblemError | GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"status": 500, "type": PROBLEM_BASE + "internal",
                             "title": "Internal Server Error", "field": None, "errors": []}
        return masked


class GatewaySchema(strawberry.Schema):
    """Logs what is the gateway's or a service's fault, not every refused request."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            original = error.original_error
            if isinstance(original, ProblemError):
                if original.status >= 500:
                    log.warning("downstream failure", extra={"problem": original.extensions,
                                                             "path": error.path})
            elif original is None and error.path is None:
                # GraphQL's own refusal before anything ran (syntax, validation, limits).
                log.info("query refused", extra={"reason": error.message})
            else:
                super().process_errors([error], execution_context)
