"""The analysts' commands: `corpus sql` and `corpus shell`, read-only SQL on the warehouse.

Both read the snapshot a run publishes (or the live file with --live) through the sandboxed
session of warehouse/session.py, opened anew for every statement so each sees the newest
snapshot, and print each result as a table, csv, json or markdown.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from cli.options import command_settings
from cli.terminal import console, table

if TYPE_CHECKING:
    from warehouse.session import AnalystSession

FORMATS = ("table", "csv", "json", "markdown")
SESSION_TIMEOUT_S = 30.0  # how long a session waits for a file a run is replacing

Result = tuple[list[str], list[tuple[Any, ...]]]  # (columns, rows)


@dataclass(frozen=True)
class AnalystFile:
    """The file an analyst's statements read, and the memory a session on it may use."""

    path: Path
    memory_limit: str


def analyst_file(args: argparse.Namespace) -> AnalystFile | None:
    """The file `corpus sql` and `corpus shell` read: the snapshot, or the live file with --live;
    None (after saying so) when there is no warehouse yet."""
    from warehouse.snapshot import readable_path

    settings = command_settings(args)
    live = Path(settings.warehouse.db_path)
    path = live if args.live else readable_path(live)
    if not path.exists():
        console.print(f"[red]no warehouse at {live}: run `corpus run` first[/red]")
        return None
    return AnalystFile(path, settings.warehouse.duckdb_memory_limit)


# After a write refused as read-only: where writes go instead.
WRITE_HINT = ("corpus sql and corpus shell only read. To add your own aliases (README, "
              "Entities), run the insert on the live file from Python or the DuckDB CLI between "
              "runs; the next run publishes it to the snapshot.")


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def render_result(columns: list[str], rows: list[tuple], fmt: str) -> str:
    """One statement's result as text: a table for people, csv/json for programs (no
    truncation), or a markdown table."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        return out.getvalue().rstrip("\n")
    if fmt == "json":
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows],
                          default=str, ensure_ascii=False)
    if fmt == "markdown":
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        return "\n".join([line(columns), line(["---"] * len(columns)),
                          *(line([_cell(v) for v in row]) for row in rows)])
    out = io.StringIO()
    Console(file=out, width=10_000, color_system=None).print(
        table("", columns, [[_cell(v) for v in row] for row in rows], justify_last=False))
    text = "\n".join(part.rstrip() for part in out.getvalue().rstrip("\n").split("\n"))
    # A bare header read as broken output: say the query matched nothing (people only; csv,
    # json and markdown stay as programs read them).
    return text if rows else f"{text}\n(no rows)"


def print_results(
    target: AnalystFile, query: Callable[[AnalystSession], list[Result]], fmt: str
) -> int:
    """Print the (columns, rows) results `query` gets from an analyst session; a SQL error
    prints DuckDB's own message and gives exit status 1."""
    from warehouse.session import QueryError, analyst_session

    try:
        # Opened per call: each statement sees the newest snapshot.
        with analyst_session(target.path, timeout_s=SESSION_TIMEOUT_S,
                             memory_limit=target.memory_limit) as session:
            results = query(session)
    except QueryError as error:
        print(f"Error: {error}", file=sys.stderr)
        if "read-only" in str(error):
            print(WRITE_HINT, file=sys.stderr)
        return 1
    for columns, rows in results:
        if columns:
            print(render_result(columns, rows, fmt))
    return 0


def run_sql(target: AnalystFile, sql: str, fmt: str) -> int:
    """Run an analyst's statements on a sandboxed read-only session and print each result."""
    return print_results(
        target, lambda session: [result[1:] for result in session.run_script(sql)], fmt)


def command_sql(args: argparse.Namespace) -> int:
    target = analyst_file(args)
    if target is None:
        return 1
    return run_sql(target, args.query, args.format)


def command_stories(args: argparse.Namespace) -> int:
    """The biggest stories of the last days, from the analysts' snapshot."""
    target = analyst_file(args)
    if target is None:
        return 1
    overview: list[tuple[int, int, Any, int]] = []

    def query(session: AnalystSession) -> list[Result]:
        columns, rows = session.top_stories(args.days, args.limit)
        if not rows:
            overview.append(session.story_overview())
        return [(columns, rows)]

    status = print_results(target, query, args.format)
    if overview:
        sys.stdout.flush()  # the table first, also where both streams go to one pipe
        print(no_stories_note(args.days, *overview[0]), file=sys.stderr)
    return status


def no_stories_note(days: int, stories: int, grouped: int, latest: Any, ungrouped: int = 0
                    ) -> str:
    """Why `corpus stories` printed no row, and what to try."""
    if ungrouped:
        return (f"{ungrouped} documents are in no story: they were stored before this version"
                " of corpusflow grouped stories. `corpus regroup` groups them.")
    if not grouped:
        return (f"No story of more than one document yet ({stories} stories, one document"
                " each): a story grows when a later document reports the same event.")
    return (f"No story of more than one document whose last day is in the last {days} days;"
            f" {grouped} of the {stories} stories {'has' if grouped == 1 else 'have'} more,"
            f" the latest ending {latest}:"
            " widen the window with --days.")


SHELL_HELP = """.tables            tables and views
.schema NAME       the columns of a table or view
.mode FORMAT       table, csv, json or markdown
.help              this text
.quit              leave (or Ctrl-D)
SQL statements end with ';' and may span lines."""


def shell_command(target: AnalystFile, line: str, state: dict[str, str]) -> int | None:
    """Run one dot-command; None means quit."""
    name, _, argument = line.strip().partition(" ")
    argument = argument.strip()
    if name in (".quit", ".exit"):
        return None
    if name == ".help":
        print(SHELL_HELP)
    elif name == ".tables":
        print_results(target, lambda session: [session.table_names()], "table")
    elif name == ".schema" and argument:
        print_results(target, lambda session: [session.table_columns(argument)], "table")
    elif name == ".mode" and argument in FORMATS:
        state["mode"] = argument
    else:
        print(f"unknown command or missing argument: {line.strip()} (try .help)", file=sys.stderr)
    return 0


def command_shell(args: argparse.Namespace) -> int:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    target = analyst_file(args)
    if target is None:
        return 1
    console.print(f"read-only SQL on {target.path}; end a statement with ';', .help for commands,"
                  " quit with Ctrl-D")
    state = {"mode": args.format}
    statement = ""
    while True:
        try:
            line = input("corpus> " if not statement else "    ..> ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        if not statement and line.strip().startswith("."):
            if shell_command(target, line, state) is None:
                return 0
            continue
        statement += line + "\n"
        if statement.strip().endswith(";"):
            run_sql(target, statement, state["mode"])
            statement = ""
