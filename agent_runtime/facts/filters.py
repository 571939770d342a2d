"""Filters on facts, as a client writes them: `{"kind": "preference"}`, `{"subject": {"in":
["Ada", "Bo"]}}`, `{"valid_at": {"gte": "2024-01-01"}}`, `{"metadata.topic": {"ne": "work"}}`.

A filter is a field and either a value (equality) or operators: eq, ne, in, gt, gte, lt, lte.
They become SQL conditions (applied to every candidate) and, where the vector index can apply
them itself, equality conditions on the vectors' metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, false
from sqlmodel import col

from agent_runtime.core.errors import InvalidInput, LimitExceeded
from agent_runtime.core.limits import MAX_FILTERS, MAX_ID_CHARS
from agent_runtime.facts import slots
from agent_runtime.storage.tables import Fact

OPERATORS = ("eq", "ne", "in", "gt", "gte", "lt", "lte")
MAX_IN = 100
# Text fields, compared as normalised (so "Lives In" finds lives_in), and the metadata key of
# each one's vectors, where the index can filter on it.
TEXT_FIELDS: dict[str, tuple[Any, Callable[[str], str], str | None]] = {
    "subject": (Fact.subject_key, slots.subject_key, "subject"),
    "attribute": (Fact.attribute, slots.attribute_key, "attribute"),
    "value": (Fact.value_key, slots.value_key, None),
    "kind": (Fact.kind, str, "kind"),
    "cardinality": (Fact.cardinality, str, None),
}
TIME_FIELDS = {
    "valid_at": Fact.valid_at,
    "invalid_at": Fact.invalid_at,
    "created_at": Fact.created_at,
    "expires_at": Fact.expires_at,
}


@dataclass(frozen=True)
class Compiled:
    sql: list[ColumnElement[bool]]
    # metadata key -> the values a vector's key must be one of (the index filters on these)
    vectors: dict[str, tuple[str, ...]]


def compile_filters(filters: dict[str, Any] | None) -> Compiled:
    sql: list[ColumnElement[bool]] = []
    vectors: dict[str, tuple[str, ...]] = {}
    if not filters:
        return Compiled(sql, vectors)
    if not isinstance(filters, dict):
        raise InvalidInput("filters must be an object", field="filters")
    if len(filters) > MAX_FILTERS:
        raise LimitExceeded(f"at most {MAX_FILTERS} filters", field="filters")
    for name, spec in filters.items():
        where = f"filters.{name}"
        ops = spec if isinstance(spec, dict) else {"eq": spec}
        if not ops:
            raise InvalidInput("a filter needs an operator", field=where)
        for op, operand in ops.items():
            if op not in OPERATORS:
                raise InvalidInput(
                    f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}", field=where
                )
            if op == "in" and (not isinstance(operand, list) or len(operand) > MAX_IN):
                raise InvalidInput(f"'in' takes a list of at most {MAX_IN} values", field=where)
            sql.append(_condition(name, op, operand, where))
            if name in TEXT_FIELDS and op in ("eq", "in"):
                _column, normal, key = TEXT_FIELDS[name]
                if key is not None:
                    values = operand if op == "in" else [operand]
                    vectors[key] = tuple(normal(str(v)) for v in values)
    return Compiled(sql, vectors)


def _condition(name: str, op: str, operand: Any, where: str) -> ColumnElement[bool]:
    if name in TEXT_FIELDS:
        column, normal, _key = TEXT_FIELDS[name]
        if op in ("eq", "ne", "in"):
            return _compare(col(column), op, _map(operand, lambda v: normal(_text(v, where))))
        raise InvalidInput(f"{name} takes eq, ne or in", field=where)
    if name in TIME_FIELDS:
        return _compare(col(TIME_FIELDS[name]), op, _map(operand, lambda v: _time(v, where)))
    if name.startswith("metadata.") and 0 < len(name) - 9 <= MAX_ID_CHARS:
        return _metadata(name[9:], op, operand, where)
    fields = ", ".join([*TEXT_FIELDS, *TIME_FIELDS, "metadata.<key>"])
    raise InvalidInput(f"cannot filter on {name!r}; filter on {fields}", field=where)


def _metadata(key: str, op: str, operand: Any, where: str) -> ColumnElement[bool]:
    values = operand if op == "in" else [operand]
    if not isinstance(values, list) or not values:
        raise InvalidInput("'in' takes a non-empty list", field=where)
    kinds = {type(v) for v in values}
    if len(kinds) > 1 or not kinds <= {str, int, float, bool}:
        raise InvalidInput("metadata is compared with strings, numbers or booleans", field=where)
    element = Fact.meta[key]  # a JSON path: json_extract in SQLite, ->> in PostgreSQL
    sample = values[0]
    if isinstance(sample, bool):
        if op not in ("eq", "ne"):
            raise InvalidInput("a boolean takes eq or ne", field=where)
        typed = element.as_boolean()
    elif isinstance(sample, int | float):
        typed = element.as_float()
        operand = [float(v) for v in values] if op == "in" else float(operand)
    else:
        typed = element.as_string()
    return _compare(typed, op, operand)


def _compare(column: Any, op: str, operand: Any) -> ColumnElement[bool]:
    return cast("ColumnElement[bool]", _comparison(column, op, operand))


def _comparison(column: Any, op: str, operand: Any) -> Any:
    if op == "in":
        return column.in_(operand) if operand else false()
    if operand is None and op in ("eq", "ne"):  # "invalid_at": null, never closed
        return column.is_(None) if op == "eq" else column.is_not(None)
    if op == "eq":
        return column == operand
    return {
        "ne": lambda: column != operand,
        "gt": lambda: column > operand,
        "gte": lambda: column >= operand,
        "lt": lambda: column < operand,
        "lte": lambda: column <= operand,
    }[op]()


def _map(operand: Any, each: Callable[[Any], Any]) -> Any:
    return [each(v) for v in operand] if isinstance(operand, list) else each(operand)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > 1_000:
        raise InvalidInput("compare with a string of at most 1000 characters", field=where)
    return value


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return slots.aware(value)
    try:
        return slots.aware(datetime.fromisoformat(str(value)))
    except ValueError:
        raise InvalidInput("compare times with ISO 8601 dates", field=where) from None
