"""What every command prints through: one rich console and the tables it draws."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def table(title: str, columns: list[str], rows: Iterable[Sequence[Any]],
          justify_last: bool = True) -> Table:
    """A borderless table; the last column is right-aligned unless told (counts read better)."""
    drawn = Table(title=title, title_justify="left", show_edge=False)
    for index, column in enumerate(columns):
        last = index == len(columns) - 1 and justify_last
        drawn.add_column(column, justify="right" if last else "left")
    for row in rows:
        drawn.add_row(*(str(value) for value in row))
    return drawn
