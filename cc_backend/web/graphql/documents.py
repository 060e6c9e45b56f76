"""Parsed GraphQL documents per query text, and which of them passed validation.

A client such as cc-backend's web interface sends the same few query texts again and
again; parsing one and checking it against graphql-core's specified rules costs more than
executing a small query. :class:`DocumentCache` is ariadne's ``query_parser`` and
``query_validator`` for every request of the process (:data:`DOCUMENTS`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    TypeInfo,
    parse,
    specified_rules,
)

from cc_backend.web.graphql.limits import RequestLimits, validate_with_codes

__all__ = ["DOCUMENTS", "DocumentCache"]


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


#: Parsed documents of every request (shared by the handler and in-process callers).
DOCUMENTS = DocumentCache()
