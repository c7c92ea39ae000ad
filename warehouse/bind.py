"""Columns of Python values handed to DuckDB as rows of a statement.

A list bound as a parameter and unnested costs DuckDB about 0.3 µs a value to convert; a batch
of BBC articles binds about half a million (story terms, mentions). NumPy arrays registered as a
relation are scanned instead, about ten times faster. A column goes as an array only where the
array holds each value exactly (integers within 64 bits, floats, booleans, plain strings, dates
as day numbers; naive times, and None in a number column, as their text, cast back); anything
else sends the whole statement the old way, so nothing is ever converted approximately.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import numpy as np

_NUMBERS: dict[str, tuple[Any, frozenset[type]]] = {
    "BIGINT": (np.int64, frozenset({int})),
    "INTEGER": (np.int64, frozenset({int})),
    "SMALLINT": (np.int64, frozenset({int})),
    "TINYINT": (np.int64, frozenset({int})),
    "DOUBLE": (np.float64, frozenset({float, int})),
    "FLOAT": (np.float64, frozenset({float, int})),
    "BOOLEAN": (np.bool_, frozenset({bool})),
}
_TEXT = frozenset({"VARCHAR", "JSON"})
_NONE = type(None)
_names = itertools.count()


def as_array(values: list[Any], sql_type: str) -> tuple[np.ndarray, str] | None:
    """`values` as an array DuckDB scans, and the expression (`{}` for the column) that makes
    each of its values the `sql_type` value it stands for, unchanged; or None where no such
    array is known."""
    kinds = set(map(type, values))
    cast = "{}::" + sql_type
    if sql_type in _NUMBERS:
        dtype, exact = _NUMBERS[sql_type]
        if kinds <= exact:
            try:
                return np.array(values, dtype=dtype), cast
            except OverflowError:
                return None
        if kinds <= exact | {_NONE}:  # None: an object array would be typed from a sample
            return _objects([None if v is None else repr(v) for v in values]), cast
        return None
    if sql_type in _TEXT and kinds <= {str, _NONE}:
        return _objects(values), cast
    if sql_type == "DATE" and kinds <= {dt.date}:  # days since 1970 (NumPy's dates are slow)
        return np.array([v.toordinal() for v in values], dtype=np.int64) - _EPOCH, (
            "(date '1970-01-01' + {}::integer)")
    if sql_type in ("DATE", "TIMESTAMP") and kinds <= {dt.date, dt.datetime, _NONE} and all(
            getattr(v, "tzinfo", None) is None for v in values):
        return _objects([None if v is None else v.isoformat(" ") if isinstance(v, dt.datetime)
                         else v.isoformat() for v in values]), cast
    return None


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@contextmanager
def rows_of(con: duckdb.DuckDBPyConnection, columns: dict[str, list],
            types: dict[str, str]) -> Iterator[tuple[str, list]]:
    """A select of equal-length `columns` as rows, each column cast to its type in `types`, and
    the parameters it takes: arrays registered for the block, or list parameters unnested."""
    arrays = {name: as_array(values, types[name]) for name, values in columns.items()}
    if any(array is None for array in arrays.values()):
        yield "select " + ", ".join(f"unnest(${n}::{types[name]}[]) as {name}"
                                    for n, name in enumerate(columns, 1)), list(columns.values())
        return
    relation = f"corpusflow_bound_{next(_names)}"
    # The last statement's rows, read or not, end first: DuckDB registers nothing while a
    # result is unfinished (a fetchone leaves it so), and running it to its end changes nothing.
    con.complete()
    con.register(relation, {name: array for name, (array, _) in arrays.items()})
    try:
        yield "select " + ", ".join(f"{cast.format(name)} as {name}"
                                    for name, (_, cast) in arrays.items()) + f" from {relation}", []
    finally:
        con.unregister(relation)
