"""``POST /query``: the GraphQL endpoint, in the same Tornado process as the REST API.

Authentication is the one of the pages and the API: an API token (``X-Auth-Token`` or
``Authorization: Bearer``, any role) or the login session cookie. A request with neither,
or with a token or session that is not valid, is refused with HTTP 401 and an error coded
``UNAUTHENTICATED``. Like cc-backend, only POST with a JSON body
(``{"query", "variables", "operationName"}``) is served; other methods get 405, other
content types 415.

Execution is ``await ariadne.graphql(...)`` on the IOLoop. Every resolver that touches the
database or the archive is ``async`` and hands that work to the default executor
(:meth:`~cc_backend.web.graphql.context.GraphQLContext.run`), so the loop stays free and the
top-level fields of a query run side by side. Requests over the depth or cost limit
(:mod:`~cc_backend.web.graphql.limits`) are refused before anything runs.

Two things keep the GraphQL layer's own cost per request small (a page of 50 jobs selects
about 1,500 fields): parsed documents are kept per query text together with whether they
passed graphql-core's specified validation rules (:class:`DocumentCache`; the project's
depth and cost rules run on every request), and :class:`PlainValueExecutor` reads fields
that need no resolver straight from their parent.

Status codes: 200 whenever the operation ran (errors of single fields are in ``errors``);
422 when the query did not parse or validate; 400 for a body that is not a JSON object.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any

import orjson
from ariadne import graphql
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    TypeInfo,
    parse,
    specified_rules,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.execution.executor import default_field_resolver
from graphql.execution.executor_throwing_on_incremental import ExecutorThrowingOnIncremental
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel, is_awaitable

from cc_backend.auth.sessions import SessionAuth, SessionKeyMissing
from cc_backend.domain.errors import CCError, InvalidInput, Unauthenticated
from cc_backend.domain.user import User
from cc_backend.web.auth import token_from_headers
from cc_backend.web.errors import ApiError, client_message, status_of
from cc_backend.web.graphql.context import GraphQLContext
from cc_backend.web.graphql.errors import (
    BAD_USER_INPUT,
    INTERNAL_SERVER_ERROR,
    error_body,
    make_error_formatter,
)
from cc_backend.web.graphql.limits import (
    RequestLimits,
    validate_with_codes,
    validation_rules,
)
from cc_backend.web.graphql.schema import executable_schema
from cc_backend.web.rest.base import BaseAPIHandler

__all__ = ["DocumentCache", "GraphQLHandler", "PlainValueExecutor", "graphql_options"]

log = logging.getLogger(__name__)

#: Status of a request whose query did not parse or validate (as gqlgen answers).
UNPROCESSABLE = 422


class _NoLogging(logging.LoggerAdapter[logging.Logger]):
    """Stands in for ariadne's error logging: the error formatter logs each error once,
    with the request id."""

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        return None


_ARIADNE_LOG = _NoLogging(log, {})


class DocumentCache:
    """Parsed documents by query text, and which of them passed validation (ariadne's
    ``query_parser`` and ``query_validator``).

    graphql-core's specified rules and the project's :class:`RequestLimits` depend on the
    schema, the document and the limits in force only, so a document that passed them once
    is not checked against them again while those stay the same; any other rule runs on
    every request. A document is validated with all rules together until it has passed.
    Holds at most ``size`` query texts, dropping the least recently used first; thread-safe.
    """

    #: Rules whose verdict depends on the schema, the document and the limits only.
    _CACHEABLE = frozenset(specified_rules) | {RequestLimits}

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        #: Query text by id of each cached document (ids stay unique while it is cached).
        self._texts: dict[int, str] = {}
        #: ids of cached documents that passed the cacheable rules: schema and limits then.
        self._passed: dict[int, tuple[GraphQLSchema, tuple[int, int]]] = {}
        self._lock = threading.Lock()

    def parse(self, _context: Any, data: Mapping[str, Any]) -> DocumentNode:
        """The document of ``data["query"]``; raises ``GraphQLSyntaxError`` as ``parse``."""
        text = data["query"]
        with self._lock:
            document = self._documents.get(text)
            if document is not None:
                self._documents.move_to_end(text)
                return document
        document = parse(text)
        with self._lock:
            cached = self._documents.setdefault(text, document)
            if cached is document:
                self._texts[id(document)] = text
            while len(self._documents) > self.size:
                _, dropped = self._documents.popitem(last=False)
                self._texts.pop(id(dropped), None)
                self._passed.pop(id(dropped), None)
        return cached

    def validate(
        self,
        schema: GraphQLSchema,
        document_ast: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        type_info: TypeInfo | None = None,
    ) -> list[GraphQLError]:
        """:func:`~cc_backend.web.graphql.limits.validate_with_codes`, leaving out the
        cacheable rules for a cached document that passed them before."""
        every = tuple(rules) if rules is not None else tuple(specified_rules)
        key = id(document_ast)
        verdict = (schema, RequestLimits.settings())
        with self._lock:
            stored = self._passed.get(key)
        if stored is not None and stored[0] is schema and stored[1] == verdict[1]:
            own = [rule for rule in every if rule not in self._CACHEABLE]
            return validate_with_codes(schema, document_ast, own, max_errors) if own else []
        errors = validate_with_codes(schema, document_ast, every, max_errors)
        if not errors and set(every) >= self._CACHEABLE:
            with self._lock:
                if key in self._texts:
                    self._passed[key] = verdict
        return errors


#: Marks a field value that is not plain: graphql-core's field execution handles it.
_NOT_PLAIN: Any = object()

#: Reads one field's value from its parent, completed, or :data:`_NOT_PLAIN`.
_Reader = Callable[[Any], Any]
#: One field of a selection: response name, graphql-core's field details, reader or None,
#: the field's name (the key read from a parent dict) and the type of values its scalar
#: type outputs as they are (:data:`_AS_IS_TYPES`; ``None``: none or not known).
_Step = tuple[str, Any, _Reader | None, str, type | None]


def _field_value(source: Any, name: str) -> Any:
    """What graphql-core's default resolver reads: a mapping's key, else an attribute."""
    if type(source) is dict or isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


#: Types whose values graphql-core completes as they are (never called, awaited or raised).
_PLAIN_TYPES = frozenset({str, int, float, bool, dict, list, tuple})


def _is_plain(value: Any) -> bool:
    """Whether graphql-core would complete ``value`` as it is (not call, await or raise it)."""
    if type(value) in _PLAIN_TYPES:
        return True
    return not (callable(value) or isinstance(value, BaseException) or is_awaitable(value))


def _leaf(value: Any, coerce: Callable[[Any], Any], non_null: bool) -> Any:
    """``value`` coerced by a scalar or enum type, or :data:`_NOT_PLAIN` where graphql-core
    would do more (report a null or a refused value, call, await or raise it)."""
    if value is None:
        return _NOT_PLAIN if non_null else None
    if not _is_plain(value):
        return _NOT_PLAIN
    try:
        coerced = coerce(value)
    except Exception:  # graphql-core reports it the way it knows
        return _NOT_PLAIN
    return _NOT_PLAIN if coerced is None or coerced is Undefined else coerced


#: The built-in scalars, each with the Python type of the values it outputs unchanged
#: when :func:`_fits` (checked before calling the scalar's coercion).
_AS_IS_TYPES: dict[GraphQLScalarType | GraphQLEnumType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
    GraphQLInt: int,
    GraphQLFloat: float,
}
#: The range of GraphQL's ``Int``.
_INT_MIN: int = -(2**31)
_INT_MAX: int = 2**31 - 1


def _fits(value: object) -> bool:
    """Whether a value of an as-is type is output unchanged: an ``int`` within ``Int``'s
    range, a finite ``float``, any ``str`` or ``bool``."""
    if type(value) is int:
        return _INT_MIN <= value <= _INT_MAX
    if type(value) is float:
        return math.isfinite(value)
    return True


def _object(value: Any, steps: list[_Step], non_null: bool) -> Any:
    """``value`` completed as an object whose fields all have readers.

    A field of a dict whose value is of its scalar's as-is type and fits is taken without
    calling its reader (the step a page of jobs takes about a thousand times).
    """
    if value is None:
        return _NOT_PLAIN if non_null else None
    if type(value) is dict:
        get = value.get
    elif _is_plain(value):
        get = None
    else:
        return _NOT_PLAIN
    completed = {}
    for name, _, read, key, as_is in steps:
        if get is not None and as_is is not None:
            field = get(key)
            if type(field) is as_is and (as_is is str or as_is is bool or _fits(field)):
                completed[name] = field
                continue
        field = read(value) if read is not None else _NOT_PLAIN
        if field is _NOT_PLAIN:
            return _NOT_PLAIN
        completed[name] = field
    return completed


def _unwrapped(field_type: Any) -> tuple[bool, Any]:
    """Whether ``field_type`` is non-null, and the type inside."""
    if isinstance(field_type, GraphQLNonNull):
        return True, field_type.of_type
    return False, field_type


class PlainValueExecutor(ExecutorThrowingOnIncremental):
    """graphql-core's executor, reading plain values of fields without resolver calls.

    A field without a resolver of its own and without arguments is read from its parent as
    graphql-core's default resolver reads it, when its type is a scalar or an enum (coerced
    by the type), an object type whose selected fields are all read that way, or a list of
    those. Everything else, and any value that is not plain (a null where the type forbids
    one, a callable, an awaitable, an exception, a value the type refuses), goes through
    graphql-core's own field execution, so data and errors are the same as without this
    class; what is saved is the per-field cost (a resolve-info object, a resolver call and
    the completion passes), which dominates a page of 50 jobs.

    It overrides graphql-core 3.3's ``execute_fields`` and uses its ``execute_field`` and
    ``collect_subfields``, which are not public API: ``tests/web/graphql/test_plain_values.py``
    holds its answers to graphql-core's own, value by value.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_plans: dict[int, tuple[GroupedFieldSet, list[_Step]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: None,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """Like graphql-core's ``execute_fields``, reading plain values directly."""
        if self.middleware_manager is not None or self.field_resolver is not default_field_resolver:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        pending: list[str] = []
        try:
            for name, details, read, _, _ in self._plan(parent_type, grouped_field_set):
                if read is not None:
                    value = read(source_value)
                    if value is not _NOT_PLAIN:
                        results[name] = value
                        continue
                field_path = Path(path, name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, details, field_path, position_context
                )
                if result is not Undefined:
                    results[name] = result
                    if self.is_awaitable(result):
                        pending.append(name)
        except Exception:
            if pending:
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results

        async def gathered() -> dict[str, Any]:
            values = await gather_with_cancel(*(results[name] for name in pending))
            results.update(zip(pending, values, strict=True))
            return results

        return gathered()

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[_Step]:
        """The steps of a selection set on ``parent_type``, made once per request
        (graphql-core memoizes the grouped field set of a selection, so every item of a
        list shares it)."""
        found = self._plain_plans.get(id(grouped_field_set))
        if found is not None:
            return found[1]
        steps: list[_Step] = []
        for name, details in grouped_field_set.items():
            node = details[0].node
            field = self.schema.get_field(parent_type, node.name.value)
            read, as_is = None, None
            if field is not None and field.resolve is None and not (field.args or node.arguments):
                read = self._reader(node.name.value, field.type, details)
                leaf = _unwrapped(field.type)[1]
                as_is = _AS_IS_TYPES.get(leaf) if read is not None else None
            steps.append((name, details, read, node.name.value, as_is))
        self._plain_plans[id(grouped_field_set)] = (grouped_field_set, steps)
        return steps

    def _reader(self, name: str, field_type: GraphQLOutputType, details: Any) -> _Reader | None:
        """How to read field ``name`` of type ``field_type``; ``None`` if not plain."""
        non_null, inner = _unwrapped(field_type)
        listed = isinstance(inner, GraphQLList)
        item_non_null, item = _unwrapped(inner.of_type) if listed else (non_null, inner)
        read_item: Callable[[Any], Any]
        if isinstance(item, GraphQLScalarType | GraphQLEnumType):
            coerce = item.coerce_output_value
            as_is = _AS_IS_TYPES.get(item)

            def read_item(value: Any) -> Any:
                if type(value) is as_is and _fits(value):
                    return value
                return _leaf(value, coerce, item_non_null)

        elif isinstance(item, GraphQLObjectType) and item.is_type_of is None:
            collected = self.collect_subfields(item, details)
            steps = self._plan(item, collected.grouped_field_set)
            if collected.new_defer_usages:
                return None
            if any(read is None for _, _, read, _, _ in steps):
                return None  # graphql-core completes it (and reads its plain fields here)

            def read_item(value: Any) -> Any:
                return _object(value, steps, item_non_null)

        else:
            return None
        if not listed:
            return lambda source: read_item(_field_value(source, name))

        def read_list(source: Any) -> Any:
            values = _field_value(source, name)
            if values is None:
                return _NOT_PLAIN if non_null else None
            if type(values) is not list and type(values) is not tuple:
                return _NOT_PLAIN
            completed = [read_item(value) for value in values]
            return _NOT_PLAIN if _NOT_PLAIN in completed else completed

        return read_list


#: Parsed documents of every request (shared by the handler and in-process callers).
DOCUMENTS = DocumentCache()


def graphql_options(request_id: str) -> dict[str, Any]:
    """The keyword arguments of ``ariadne.graphql`` for one request besides the schema, the
    body and the context: error formatting under ``request_id``, the limits, the document
    cache and the executor, no debug data.

    In-process callers (benchmarks, tools) pass the same to run a query as ``/query`` does.
    """
    return {
        "error_formatter": make_error_formatter(request_id),
        "logger": _ARIADNE_LOG,
        "validation_rules": validation_rules,
        "query_parser": DOCUMENTS.parse,
        "query_validator": DOCUMENTS.validate,
        "execution_context_class": PlainValueExecutor,
        "debug": False,
    }


class GraphQLHandler(BaseAPIHandler):
    """``POST /query`` (see the module docstring)."""

    async def prepare(self) -> None:
        self.user = await self._caller()

    async def _caller(self) -> User:
        """The user of an API token, else of the session cookie; Unauthenticated if none."""
        token = token_from_headers(self.request.headers)
        authenticator = self.backends.authenticator
        if token is not None:
            if authenticator.reads_database:
                return await self.blocking(authenticator.user_from_token, token)
            return authenticator.user_from_token(token)
        sessions = SessionAuth.from_config(self.backends.config, self.backends.users.get)
        try:
            session = sessions.session(self)
        except SessionKeyMissing:
            session = None
        user = await self.blocking(sessions.user, session) if session is not None else None
        if user is None:
            raise Unauthenticated("unauthorized: log in or send an API token")
        return user

    async def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise ApiError(415, "send the request as application/json")
        try:
            data = orjson.loads(self.request.body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput("the request body must be a JSON object with a 'query'")
        context = GraphQLContext(self.user, self.backends, self.request_id)
        _, result = await graphql(
            executable_schema(), data, context_value=context, **graphql_options(self.request_id)
        )
        self.write_json(result, 200 if "data" in result else UNPROCESSABLE)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A GraphQL-shaped error body: ``{"errors": [{"message", "extensions": {code}}]}``."""
        exc_info = kwargs.get("exc_info")
        exc: BaseException | None = exc_info[1] if exc_info is not None else None
        status, message, code = status_code, "internal server error", INTERNAL_SERVER_ERROR
        if exc is not None:
            status = status_of(exc)
            message = client_message(exc, self.request_id)
            if isinstance(exc, CCError) and not isinstance(exc, ApiError):
                code = exc.code
            elif status < 500:
                code = BAD_USER_INPUT
        if status == 405:
            message = "only POST is served at /query"
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(orjson.dumps(error_body(code, message)))
