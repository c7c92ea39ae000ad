"""What every command prints through: one rich console and the tables it draws."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

console = Console()


def table(title: str, columns: list[str], rows: Iterable[Sequence[Any]],
          justify_last: bool = True) -> RenderableType:
    """A borderless table; the last column is right-aligned unless told (counts read better).
    The title is a line of its own above it: as the table's own title, rich wrapped it to the
    table's width ("rejected, by" / "reason")."""
    drawn = Table(show_edge=False)
    for index, column in enumerate(columns):
        last = index == len(columns) - 1 and justify_last
        drawn.add_column(column, justify="right" if last else "left")
    for row in rows:
        drawn.add_row(*(str(value) for value in row))
    return Group(Text(title, style="italic"), drawn) if title else drawn
