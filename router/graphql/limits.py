"""Limits that refuse abusive queries before they run: depth, aliases, tokens and cost.

Depth, aliases and tokens use strawberry's own extensions. The cost is ours: every field costs
one, times the page sizes (``first``/``last``) of the connections it sits in, so that
``persons(first: 1000) { edges { node { cards { history { event } } } } }`` is refused while a
dashboard's page of a hundred persons with their cards is not. Variables are known when the rule
runs, so ``first: $size`` is counted at its real value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from router.settings import Settings

DEFAULT_PAGE = 10  # what a connection returns when neither first nor last is given
PAGE_ARGUMENTS = ("first", "last")


def _page_size(node: FieldNode, variables: Mapping[str, Any], max_page: int) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value not in PAGE_ARGUMENTS:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            if given is None:  # a null variable is an argument left out
                continue
            return given if isinstance(given, int) else max_page
    return None


def query_cost(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    *,
    max_page: int,
    multiplier: int = 1,
    seen: frozenset[str] = frozenset(),
) -> int:
    """The cost of a selection: each field counts ``multiplier``, paged children count more."""
    if selection_set is None:
        return 0
    cost = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            cost += multiplier
            size = _page_size(selection, variables, max_page)
            if size is None and _is_connection(selection):
                size = DEFAULT_PAGE
            inner = multiplier * max(size, 1) if size is not None else multiplier
            cost += query_cost(
                selection.selection_set,
                fragments,
                variables,
                max_page=max_page,
                multiplier=inner,
                seen=seen,
            )
        elif isinstance(selection, InlineFragmentNode):
            cost += query_cost(
                selection.selection_set,
                fragments,
                variables,
                max_page=max_page,
                multiplier=multiplier,
                seen=seen,
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles are graphql-core's to report
                cost += query_cost(
                    fragment.selection_set,
                    fragments,
                    variables,
                    max_page=max_page,
                    multiplier=multiplier,
                    seen=seen | {name},
                )
    return cost


def _is_connection(node: FieldNode) -> bool:
    """A field selecting edges, pageInfo or totalCount is a connection (``Person.cards`` is not)."""
    selections = node.selection_set.selections if node.selection_set else ()
    return any(
        isinstance(s, FieldNode) and s.name.value in ("edges", "pageInfo", "totalCount")
        for s in selections
    )


def cost_rule(max_cost: int, max_page: int, variables: Mapping[str, Any]) -> type[ValidationRule]:
    """A validation rule refusing operations that cost more than ``max_cost``."""

    class QueryCostRule(ValidationRule):
        """Refuse an operation whose estimated cost exceeds the limit."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                cost = query_cost(definition.selection_set, fragments, variables, max_page=max_page)
                if cost > max_cost:
                    name = definition.name.value if definition.name else "anonymous"
                    context.report_error(
                        GraphQLError(
                            f"'{name}' costs {cost}, more than the maximum of {max_cost}: "
                            "ask for smaller pages (first/last) or fewer nested fields.",
                            definition,
                        )
                    )

    return QueryCostRule


class QueryCostLimiter(SchemaExtension):
    """Add the cost rule to validation, with the operation's variables at hand."""

    def __init__(self, max_cost: int, max_page: int) -> None:
        self.max_cost = max_cost
        self.max_page = max_page

    def on_operation(self) -> Iterator[None]:
        """Before validation runs: add the rule bound to this operation's variables."""
        context = self.execution_context
        rule = cost_rule(self.max_cost, self.max_page, context.variables or {})
        context.validation_rules = (*context.validation_rules, rule)
        yield


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Factories of the limiting extensions configured by ``settings`` (``ESCR_GRAPHQL_MAX_*``).

    Factories, not instances: each operation gets fresh extensions, so concurrent requests never
    share an extension's execution context.
    """
    return [
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(QueryCostLimiter, settings.graphql_max_cost, settings.max_page_size),
    ]
