"""The `corpus` command: run the default job, query the warehouse, apply migrations."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

# Before prefect is imported: offline, its telemetry only produces errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# A run outside a server starts a temporary one; Prefect gives it 20 s, which a busy 2-core
# machine exceeds on a first run (it migrates a new database): 32-33 s were measured.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

console = Console()


def _table(title: str, columns: list[str], rows: list, justify_last: bool = True) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    for index, column in enumerate(columns):
        last = index == len(columns) - 1 and justify_last
        table.add_column(column, justify="right" if last else "left")
    for row in rows:
        table.add_row(*(str(value) for value in row))
    return table


def print_summary(report) -> None:  # report: tasks.report.RunReport
    """The end-of-run summary a person reads in the terminal."""
    console.print(_table(
        f"corpusflow run {report.run_id[:8]} → {report.db_path}",
        ["files seen", "new documents", "unchanged", "duplicates", "rejected"],
        [(report.files_seen, report.documents_new, report.files_unchanged,
          report.duplicates_new, report.rejects_new)],
        justify_last=False,
    ))
    if report.reject_reasons:
        console.print(_table("rejected, by reason", ["reason", "files"], report.reject_reasons))
    if report.duplicates:
        rows = [(Path(dup).name, Path(of).name, method) for dup, of, method in report.duplicates]
        console.print(_table("new duplicates", ["file", "duplicate of", "method"], rows, False))
    console.print(_table(f"documents per language ({report.documents_total} in the warehouse)",
                         ["language", "documents"], report.languages))
    console.print(_table("top entities", ["entity", "key", "label", "documents"],
                         [(name, key, label, docs) for key, label, name, docs in report.top_entities]))
    console.print("\nTry a query:")
    console.print(f'  {_program()} sql "{report.example_sql}"', highlight=False, soft_wrap=True)


def _program() -> str:
    """How to call this command again from here: `corpus` when it is on PATH, else its path
    (`.venv/bin/corpus` after `make run`)."""
    program = Path(sys.argv[0])
    if program.name != "corpus" or shutil.which("corpus"):
        return "corpus"
    return os.path.relpath(program)


def use_local_prefect() -> None:
    """Before a flow runs from the terminal: report to the `corpus serve` server when one
    answers (the run shows in its UI, and no temporary server is started); otherwise start
    Prefect's temporary server now, one process at a time per PREFECT_HOME, so that two first
    runs never migrate Prefect's own database at once."""
    import fcntl

    if os.environ.get("PREFECT_API_URL"):
        return
    from flows.serve import DEFAULT_PORT, api_answers, local_api_url

    if api_answers(local_api_url(DEFAULT_PORT), timeout_s=1.0):
        os.environ["PREFECT_API_URL"] = local_api_url(DEFAULT_PORT)
        return
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_HOME

    home = Path(PREFECT_HOME.value()).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".corpusflow-server-start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        with get_client(sync_client=True) as client:  # starts (and migrates) the server
            client.api_healthcheck()


def command_run(args: argparse.Namespace) -> int:
    if args.db:
        os.environ["CORPUSFLOW_DB_PATH"] = str(args.db)
    use_local_prefect()
    from flows.ingest_files import ingest_files
    from flows.params import IngestFilesParams
    from warehouse.settings import get_settings

    inbox = args.inbox or get_settings().inbox
    params = IngestFilesParams(inbox=inbox, batch_size=args.batch_size)
    report = run_with_progress(lambda: ingest_files(params), get_settings().db_path)
    print_summary(report)
    return 0


def run_with_progress(run: Callable[[], Any], db_path: Path) -> Any:
    """Run a flow in a thread while a progress bar follows its committed batches. The bar never
    opens the warehouse (a second connection in the writer's process can collide with it): it
    reads the progress file the writer publishes beside it (warehouse/progress.py)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from warehouse.progress import read_progress

    outcome: dict[str, Any] = {}
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)

    def target() -> None:
        try:
            outcome["value"] = run()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("files", total=None)
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            state = read_progress(db_path, since)
            if state:
                progress.update(bar, completed=state[0], total=state[1])
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def command_fetch(args: argparse.Namespace) -> int:
    if args.db:
        os.environ["CORPUSFLOW_DB_PATH"] = str(args.db)
    use_local_prefect()
    from flows.ingest_urls import ingest_urls
    from flows.params import IngestUrlsParams

    params = IngestUrlsParams(urls=args.url or [], url_file=args.url_file, feeds=args.feed or [],
                              sitemaps=args.sitemap or [], batch_size=args.batch_size)
    print_summary(ingest_urls(params))
    return 0


def _analyst_database(args: argparse.Namespace) -> Path | None:
    """The file `corpus sql` and `corpus shell` read: the snapshot, or the live file with --live."""
    from warehouse.settings import get_settings
    from warehouse.snapshot import readable_path

    live = Path(args.db or get_settings().db_path)
    path = live if args.live else readable_path(live)
    if not path.exists():
        console.print(f"[red]no warehouse at {live}: run `corpus run` first[/red]")
        return None
    return path


FORMATS = ("table", "csv", "json", "markdown")


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def render_result(columns: list[str], rows: list[tuple], fmt: str) -> str:
    """One statement's result as text: a table for people, csv/json for programs (no
    truncation), or a markdown table."""
    import csv
    import io

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
        _table("", columns, [[_cell(v) for v in row] for row in rows], justify_last=False))
    return "\n".join(part.rstrip() for part in out.getvalue().rstrip("\n").split("\n"))


def run_sql(path: Path, sql: str, fmt: str) -> int:
    """Run an analyst's statements on a sandboxed read-only session and print each result;
    a SQL error prints DuckDB's own message and gives exit status 1."""
    from warehouse.queries import run_script

    return _print_results(path, lambda con: [r[1:] for r in run_script(con, sql)], fmt)


def _print_results(path: Path, query: Callable[[Any], list[tuple]], fmt: str) -> int:
    """Print the (columns, rows) results `query` gets from an analyst session; exit status."""
    import duckdb

    from warehouse.connection import analyst_session

    try:
        with analyst_session(path) as con:  # opened per call: each sees the newest snapshot
            results = query(con)
    except duckdb.Error as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    for columns, rows in results:
        if columns:
            print(render_result(columns, rows, fmt))
    return 0


def command_sql(args: argparse.Namespace) -> int:
    path = _analyst_database(args)
    if path is None:
        return 1
    return run_sql(path, args.query, args.format)


SHELL_HELP = """.tables            tables and views
.schema NAME       the columns of a table or view
.mode FORMAT       table, csv, json or markdown
.help              this text
.quit              leave (or Ctrl-D)
SQL statements end with ';' and may span lines."""


def shell_command(path: Path, line: str, state: dict) -> int | None:
    """Run one dot-command; None means quit."""
    from warehouse import queries

    name, _, argument = line.strip().partition(" ")
    argument = argument.strip()
    if name in (".quit", ".exit"):
        return None
    if name == ".help":
        print(SHELL_HELP)
    elif name == ".tables":
        _print_results(path, lambda con: [queries.table_names(con)], "table")
    elif name == ".schema" and argument:
        _print_results(path, lambda con: [queries.table_columns(con, argument)], "table")
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
    path = _analyst_database(args)
    if path is None:
        return 1
    console.print(f"read-only SQL on {path}; end a statement with ';', .help for commands,"
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
            if shell_command(path, line, state) is None:
                return 0
            continue
        statement += line + "\n"
        if statement.strip().endswith(";"):
            run_sql(path, statement, state["mode"])
            statement = ""


def command_dedup(args: argparse.Namespace) -> int:
    if args.db:
        os.environ["CORPUSFLOW_DB_PATH"] = str(args.db)
    use_local_prefect()
    from flows.dedup import RecomputeParams, recompute_near_duplicates

    found = recompute_near_duplicates(RecomputeParams(batch_size=args.batch_size))
    console.print(f"near duplicates recomputed: {found} found")
    return 0


def command_retag(args: argparse.Namespace) -> int:
    if args.db:
        os.environ["CORPUSFLOW_DB_PATH"] = str(args.db)
    use_local_prefect()
    if args.model:
        models = dict(pair.split("=", 1) for pair in args.model)
        os.environ["CORPUSFLOW_NER_MODELS"] = json.dumps(models)
    from flows.retag import RetagParams, retag_entities

    written = retag_entities(RetagParams(batch_size=args.batch_size))
    console.print(f"re-tagged the stored documents: {written} mentions")
    return 0


def command_serve(args: argparse.Namespace) -> int:
    from flows.serve import serve

    return serve(args.project, port=args.port, pool=args.pool)


def command_migrate(args: argparse.Namespace) -> int:
    from warehouse.connection import open_database
    from warehouse.migrate import migrate
    from warehouse.settings import get_settings

    con = open_database(Path(args.db or get_settings().db_path))
    try:
        applied = migrate(con)
    finally:
        con.close()
    console.print(f"applied: {', '.join(applied)}" if applied else "the warehouse is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpus", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="ingest the inbox (default: seeds/) into the warehouse")
    run.add_argument("--inbox", nargs="+", help="directories or globs (default: the inbox setting)")
    run.add_argument("--db", type=Path, help="warehouse file (default: data/corpus.duckdb)")
    run.add_argument("--batch-size", type=int, default=500, help="files per batch")
    run.set_defaults(handler=command_run)
    fetch = commands.add_parser("fetch", help="fetch article URLs, feeds and sitemaps")
    fetch.add_argument("--url", action="append", help="an article URL (repeatable)")
    fetch.add_argument("--url-file", help="a file of article URLs, one per line")
    fetch.add_argument("--feed", action="append", help="an RSS/Atom feed URL (repeatable)")
    fetch.add_argument("--sitemap", action="append", help="a sitemap URL (repeatable)")
    fetch.add_argument("--db", type=Path, help="warehouse file (default: data/corpus.duckdb)")
    fetch.add_argument("--batch-size", type=int, default=100, help="pages per batch")
    fetch.set_defaults(handler=command_fetch)
    sql = commands.add_parser(
        "sql", help="run read-only SQL statements on the analysts' snapshot of the warehouse")
    sql.add_argument("query", help="one or more statements separated by ';'")
    shell = commands.add_parser("shell", help="an interactive read-only SQL prompt (snapshot)")
    for command, handler in ((sql, command_sql), (shell, command_shell)):
        command.add_argument("--format", choices=FORMATS, default="table",
                             help="output format (csv and json are never truncated)")
        command.add_argument("--db", type=Path, help="the live warehouse file (default: setting)")
        command.add_argument("--live", action="store_true",
                             help="read the live file instead of the snapshot (waits for runs)")
        command.set_defaults(handler=handler)
    dedup = commands.add_parser(
        "dedup", help="recompute near-duplicate clusters with the current settings")
    dedup.add_argument("--db", type=Path)
    dedup.add_argument("--batch-size", type=int, default=2000)
    dedup.set_defaults(handler=command_dedup)
    retag = commands.add_parser(
        "retag", help="re-tag stored documents' entities with the current (or given) models")
    retag.add_argument("--model", action="append", metavar="LANG=PACKAGE_OR_PATH",
                       help="spaCy pipeline for a language, e.g. en=en_core_web_sm (repeatable)")
    retag.add_argument("--db", type=Path)
    retag.add_argument("--batch-size", type=int, default=1000)
    retag.set_defaults(handler=command_retag)
    srv = commands.add_parser(
        "serve", help="start (or reuse) a local Prefect server, deploy prefect.yaml, run a worker")
    srv.add_argument("--port", type=int, default=4200, help="port of a server it starts")
    srv.add_argument("--pool", default="corpusflow-local", help="the work pool prefect.yaml names")
    srv.add_argument("--project", type=Path, default=Path("."), help="folder holding prefect.yaml")
    srv.set_defaults(handler=command_serve)
    mig = commands.add_parser("migrate", help="apply pending warehouse migrations")
    mig.add_argument("--db", type=Path)
    mig.set_defaults(handler=command_migrate)
    return parser


# Exit status of a command that gave up waiting for a warehouse another run holds.
EXIT_WAREHOUSE_BUSY = 3


def main(argv: list[str] | None = None) -> int:
    from warehouse.lock import WarehouseBusy

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except WarehouseBusy as busy:
        console.print(f"[red]{busy}[/red]", highlight=False)
        return EXIT_WAREHOUSE_BUSY
    except KeyboardInterrupt:
        stop_now()


def stop_now() -> NoReturn:
    """Ctrl-C: stop at once and quietly. The flow may still be running in another thread, and
    Prefect's temporary server in a child process; letting the interpreter wind down around them
    printed hundreds of logging errors and left the server running. Whole batches only ever reach
    the warehouse (one transaction each), the run lock goes with this process, and the next run
    marks this one crashed."""
    import psutil

    console.print("\n[yellow]interrupted: stopped; batches loaded so far are kept, and the next"
                  " run marks this one crashed[/yellow]")
    children = psutil.Process().children(recursive=True)
    for child in children:
        child.terminate()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        child.kill()
    sys.stdout.flush()
    os._exit(130)


if __name__ == "__main__":
    sys.exit(main())
