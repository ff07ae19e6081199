"""What one GraphQL request may cost: refused before it runs, or stopped while it runs.

Before anything runs, in this order: the query's size in bytes, the parser's token
limit, the number of fields once every fragment is expanded (and fragment cycles),
then depth and aliases (Strawberry's own limiters) with the rest of GraphQL's
validation. Those limiters walk a fragment again wherever it is spread, and so does
much of GraphQL's validation, so 1.3 KB of fragments each spreading the one before
twice kept them busy for about a minute. The expanded count is taken first, in time
linear in the document, and bounds the work of everything after it.

While it runs: the items of every list in the answer are counted, so an answer that
nests lists (programmes, their pairs, each pair's programme, its pairs, ...) stops at a
bound instead of growing with the data; and the whole request has a deadline and ends
when its client hangs up (`BoundedGraphQLRouter`).

Every refusal is a client error (4xx in `extensions.status`), logged at INFO.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sized
from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from fastapi import Request, Response
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql import (
    ExecutionResult as GraphQLExecutionResult,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from gateway.clients import ProblemError, gateway_problem
from gateway.config import GatewaySettings
from gateway.context import GatewayContext

log = logging.getLogger(__name__)

Extension = Callable[[], SchemaExtension]


def _refused(detail: str, *, kind: str, status: int = 400) -> ProblemError:
    log.info("query refused", extra={"reason": detail})
    return gateway_problem(status, detail, kind=kind)


# --- before it runs -------------------------------------------------------------------------


class FragmentCycle(Exception):
    """A fragment spreads itself, directly or through others."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def expanded_selections(document: DocumentNode) -> int:
    """How many fields the document's operations select once each fragment spread is
    replaced by its fragment: the work validation and execution would face.

    Each fragment is counted once and its count reused wherever it is spread, so this
    takes time linear in the document, while the count itself doubles with each level
    of a fragment spread twice in a fragment spread twice, which is what it is for.
    Raises `FragmentCycle` for a fragment that spreads itself.
    """
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    counted: dict[str, int] = {}
    open_fragments: set[str] = set()

    def fragment(name: str) -> int:
        if name in counted:
            return counted[name]
        if name in open_fragments:
            raise FragmentCycle(name)
        definition = fragments.get(name)
        if definition is None:
            return 0  # an unknown fragment: validation names it
        open_fragments.add(name)
        counted[name] = selections(definition.selection_set)
        open_fragments.discard(name)
        return counted[name]

    def selections(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + selections(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += selections(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment(selection.name.value)
        return total

    return sum(selections(d.selection_set) for d in document.definitions
               if isinstance(d, OperationDefinitionNode))


class QueryGuard(SchemaExtension):
    """Refuses a query too large to read, or whose fragments expand past the limit."""

    def __init__(self, *, max_query_bytes: int, max_selections: int) -> None:
        super().__init__()
        self.max_query_bytes = max_query_bytes
        self.max_selections = max_selections

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        size = len(query.encode())
        if size > self.max_query_bytes:
            raise _refused(f"The query is {size} bytes; at most {self.max_query_bytes} are read",
                           kind="query-too-large", status=413)
        yield

    def on_validate(self) -> Iterator[None]:
        # Raised, not recorded as errors: the validation that follows would otherwise run
        # (and take the time this check exists to save).
        document = self.execution_context.graphql_document
        assert document is not None
        try:
            count = expanded_selections(document)
        except FragmentCycle as cycle:
            raise _refused(f"Fragment {cycle.name} spreads itself", kind="query-too-complex",
                           ) from None
        except RecursionError:
            raise _refused("The query nests too deeply to be read", kind="query-too-complex",
                           ) from None
        if count > self.max_selections:
            raise _refused(
                f"The query selects {count} fields once its fragments are expanded; at most "
                f"{self.max_selections} are allowed", kind="query-too-complex")
        yield


class OperationChosen(SchemaExtension):
    """GraphQL's GetOperation(): a document of several operations needs an `operationName`.

    Strawberry would run the first one, which the client may not have meant (and which a
    GET's check of "queries only" would then judge by the wrong operation).
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        # Strawberry answers `operation_name` with the first operation's name when the
        # request names none; only what the request said tells the two apart.
        if operations > 1 and context._provided_operation_name is None:
            raise GraphQLError("The document has several operations: operationName must name "
                               "the one to run")
        yield


def _introspection(context: IgnoreContext) -> bool:
    # GraphiQL's own schema query nests `ofType` deeper than any data query needs;
    # GraphQL's validation bounds introspection depth itself.
    return context.field_name in ("__schema", "__type")


def query_limits(settings: GatewaySettings) -> list[Extension]:
    """The schema extensions enforcing `settings`' query limits, in the order they must run.

    Each is made per request (Strawberry's extensions hold the request's state); the
    validation rules are made once, so the validation cache recognises them. Without
    introspection, `__schema` and `__type` fail validation (`__typename` stays).
    """
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(settings.max_depth, should_ignore=_introspection).validation_rules,
        *MaxAliasesLimiter(settings.max_aliases).validation_rules]
    if not settings.introspection_allowed:
        rules.append(NoSchemaIntrospectionCustomRule)
    cache_size = settings.query_cache_size
    return [
        lambda: QueryGuard(max_query_bytes=settings.max_query_bytes,
                           max_selections=settings.max_selections),
        lambda: MaxTokensLimiter(settings.max_tokens),
        OperationChosen,
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=cache_size),
        lambda: ValidationCache(maxsize=cache_size),
    ]


# --- while it runs --------------------------------------------------------------------------


def result_budget(max_items: int) -> type[StrawberryGraphQLCoreExecutionContext]:
    """Strawberry's executor, counting the items of every list it completes.

    Counted per list, not per field, so scalars cost nothing extra. Once the items of
    one answer pass `max_items`, that list and every list after it fails, and the
    answer is replaced by that one error: a part of it would mislead, and an error per
    list would be an answer of its own.
    """

    class ResultBudget(StrawberryGraphQLCoreExecutionContext):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.items = 0
            self.exceeded: ProblemError | None = None

        def complete_list_value(
            self, return_type: Any, field_details_list: Any, info: Any,
            path: Any, result: Any, position_context: Any,
        ) -> Any:
            if self.exceeded is None and isinstance(result, Sized):
                self.items += len(result)
                if self.items > max_items:
                    self.exceeded = _refused(
                        f"The answer would hold more than {max_items} list items; ask for "
                        "fewer nested lists or narrower ones", kind="answer-too-large")
            if self.exceeded is not None:
                raise self.exceeded
            return super().complete_list_value(return_type, field_details_list, info, path,
                                               result, position_context)

        def build_response(self, data: dict[str, Any] | None) -> Any:
            response = super().build_response(data)
            if self.exceeded is None or not isinstance(response, GraphQLExecutionResult):
                return response
            first = next(e for e in response.errors or [] if e.original_error is self.exceeded)
            return GraphQLExecutionResult(None, [first])

    return ResultBudget


# --- the request as a whole -------------------------------------------------------------


async def _hung_up(request: Request) -> None:
    """Returns once the client has closed the connection.

    By the time a query runs its body has been read, so the next message the server
    has for this request is the disconnect (a GET's one empty body message aside).
    """
    while (await request.receive())["type"] != "http.disconnect":
        pass


class BoundedGraphQLRouter(GraphQLRouter[GatewayContext, None]):
    """Runs each operation within `timeout_seconds`, and stops it when its client hangs up.

    Either way the execution is cancelled and the request's downstream calls with it
    (those its DataLoaders run apart from the execution included), so no work goes on
    for an answer nobody will read.
    """

    def __init__(self, *args: Any, timeout_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_seconds = timeout_seconds

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: GatewayContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        work = asyncio.ensure_future(super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data))
        hang_up = asyncio.ensure_future(_hung_up(request))
        try:
            done, _ = await asyncio.wait({work, hang_up}, timeout=self.timeout_seconds,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            hang_up.cancel()
            if not work.done():
                work.cancel()
                context.cancel()
        if work in done:
            return work.result()
        await asyncio.gather(work, return_exceptions=True)
        if hang_up in done:
            # Nobody reads this answer; it only closes the view's flow.
            log.info("client disconnected; query cancelled")
            return ExecutionResult(data=None, errors=None)
        log.warning("query timed out", extra={"seconds": self.timeout_seconds})
        problem = gateway_problem(
            504, f"The query did not finish within {self.timeout_seconds:g} s; ask for less",
            kind="query-timeout")
        return ExecutionResult(data=None, errors=[
            GraphQLError(problem.message, extensions=problem.extensions, original_error=problem)])
