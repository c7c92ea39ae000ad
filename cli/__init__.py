"""The `corpus` command: the argument parser, `main()` and its exit statuses.

One module per command group: runs.py (run, fetch, dedup, regroup, retag), analyst.py (sql,
shell, stories), serve.py (serve) and migrate.py (migrate). The CLI never imports Prefect or
DuckDB itself: it reaches Prefect through the flows (flows/server.py for the server) and DuckDB
through the warehouse, and hands each flow its settings as an argument.
"""

from __future__ import annotations

import os

# Before prefect is imported: offline, its telemetry only produces errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# A run outside a server starts a temporary one; Prefect gives it 20 s, which a busy 2-core
# machine exceeds on a first run (it migrates a new database): 32-33 s were measured.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# Prefect retries a request to its server 5 times with 2-32 s back-offs: a run whose server died
# went on for 210 s, request after request. Two retries (2 s, 4 s) still ride out a busy server.
os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "2")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import NoReturn  # noqa: E402

import httpx  # noqa: E402

from cli import analyst, migrate, options, runs, serve  # noqa: E402
from cli.terminal import console  # noqa: E402

DESCRIPTION = "The `corpus` command: run the default job, query the warehouse, apply migrations."

# Exit status of a command that gave up waiting for a warehouse another run holds.
EXIT_WAREHOUSE_BUSY = 3
# Exit status when the disk of the warehouse filled up during a run.
EXIT_DISK_FULL = 4
# Exit status when the Prefect server a run reports to stopped answering.
EXIT_SERVER_LOST = 5
# Exit status when an inbox given to `corpus run` does not exist.
EXIT_NO_INBOX = runs.EXIT_NO_INBOX
# Exit status when a CORPUSFLOW_* variable or .env entry has a value its setting does not take.
EXIT_BAD_SETTINGS = options.EXIT_BAD_SETTINGS
# Exit status after Ctrl-C (128 + SIGINT), as a shell reports a process it interrupted.
EXIT_INTERRUPTED = 130


def command_serve(args: argparse.Namespace) -> int:
    # The worker's flow runs read the settings from this environment and the project's .env:
    # refuse bad ones now rather than in every scheduled run. Only when the project is here, as
    # another folder's .env is not the one read here.
    if args.project.resolve() == Path.cwd().resolve():
        options.command_settings(args)
    return serve.serve(args.project, port=args.port, pool=args.pool)


def _add_run_commands(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="ingest the inbox (default: seeds/) into the warehouse")
    run.add_argument("--inbox", nargs="+", help="directories or globs (default: the inbox setting)")
    run.add_argument("--db", type=Path, help="warehouse file (default: data/corpus.duckdb)")
    run.add_argument("--batch-size", type=int, default=500, help="files per batch")
    run.set_defaults(handler=runs.command_run)
    fetch = commands.add_parser("fetch", help="fetch article URLs, feeds and sitemaps")
    fetch.add_argument("--url", action="append", help="an article URL (repeatable)")
    fetch.add_argument("--url-file", help="a file of article URLs, one per line")
    fetch.add_argument("--feed", action="append", help="an RSS/Atom feed URL (repeatable)")
    fetch.add_argument("--sitemap", action="append", help="a sitemap URL (repeatable)")
    fetch.add_argument("--db", type=Path, help="warehouse file (default: data/corpus.duckdb)")
    fetch.add_argument("--batch-size", type=int, default=100, help="pages per batch")
    fetch.set_defaults(handler=runs.command_fetch)


def _add_analyst_commands(commands: argparse._SubParsersAction) -> None:
    sql = commands.add_parser(
        "sql", help="run read-only SQL statements on the analysts' snapshot of the warehouse")
    sql.add_argument("query", help="one or more statements separated by ';'")
    shell = commands.add_parser("shell", help="an interactive read-only SQL prompt (snapshot)")
    for command, handler in ((sql, analyst.command_sql), (shell, analyst.command_shell)):
        command.add_argument("--format", choices=analyst.FORMATS, default="table",
                             help="output format (csv and json are never truncated)")
        command.add_argument("--db", type=Path, help="the live warehouse file (default: setting)")
        command.add_argument("--live", action="store_true",
                             help="read the live file instead of the snapshot (waits for runs)")
        command.set_defaults(handler=handler)
    stories = commands.add_parser(
        "stories", help="the biggest stories (more than one document) of the last days")
    stories.add_argument("--days", type=int, default=7,
                         help="stories whose last day is at most this many days ago")
    stories.add_argument("--limit", type=int, default=20, help="stories shown")
    stories.add_argument("--format", choices=analyst.FORMATS, default="table")
    stories.add_argument("--db", type=Path, help="the live warehouse file (default: setting)")
    stories.add_argument("--live", action="store_true",
                         help="read the live file instead of the snapshot (waits for runs)")
    stories.set_defaults(handler=analyst.command_stories)


def _add_maintenance_commands(commands: argparse._SubParsersAction) -> None:
    dedup = commands.add_parser(
        "dedup", help="recompute near-duplicate clusters with the current settings")
    dedup.add_argument("--db", type=Path)
    dedup.add_argument("--batch-size", type=int, default=2000)
    dedup.set_defaults(handler=runs.command_dedup)
    regroup = commands.add_parser(
        "regroup", help="group every stored document into stories again with the current settings")
    regroup.add_argument("--db", type=Path)
    regroup.set_defaults(handler=runs.command_regroup)
    retag = commands.add_parser(
        "retag", help="re-tag stored documents' entities with the current (or given) models")
    retag.add_argument("--model", action="append", metavar="LANG=PACKAGE_OR_PATH",
                       help="spaCy pipeline for a language, e.g. en=en_core_web_sm (repeatable)")
    retag.add_argument("--db", type=Path)
    retag.add_argument("--batch-size", type=int, default=1000)
    retag.set_defaults(handler=runs.command_retag)


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    srv = commands.add_parser(
        "serve", help="start (or reuse) a local Prefect server, deploy prefect.yaml, run a worker")
    srv.add_argument("--port", type=int, default=serve.DEFAULT_PORT,
                     help="port of a server it starts")
    srv.add_argument("--pool", default=serve.DEFAULT_POOL,
                     help="the work pool prefect.yaml names")
    srv.add_argument("--project", type=Path, default=Path("."), help="folder holding prefect.yaml")
    srv.set_defaults(handler=command_serve)


def _add_migrate_command(commands: argparse._SubParsersAction) -> None:
    mig = commands.add_parser("migrate", help="apply pending warehouse migrations")
    mig.add_argument("--db", type=Path)
    mig.set_defaults(handler=migrate.command_migrate)


def build_parser() -> argparse.ArgumentParser:
    """Every command, in the order `corpus --help` lists them."""
    parser = argparse.ArgumentParser(prog="corpus", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_commands(commands)
    _add_analyst_commands(commands)
    _add_maintenance_commands(commands)
    _add_serve_command(commands)
    _add_migrate_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from warehouse.errors import DiskFull
    from warehouse.lock import WarehouseBusy
    from warehouse.settings import BadSettings

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BadSettings as bad:
        return options.report_bad_settings(bad)
    except WarehouseBusy as busy:
        console.print(f"[red]{busy}[/red]", highlight=False)
        return EXIT_WAREHOUSE_BUSY
    except DiskFull as full:
        console.print(f"[red]{full}[/red]", highlight=False)
        return EXIT_DISK_FULL
    except httpx.TransportError as lost:  # only Prefect's client raises these out of a flow
        server = os.environ.get("PREFECT_API_URL", "the temporary Prefect server")
        console.print(f"[red]The Prefect server at {server} stopped answering ({lost}); the run "
                      "stopped. Every batch committed before is in the warehouse, whole; run "
                      "again once the server is back.[/red]", highlight=False)
        leave_now(EXIT_SERVER_LOST)
    except KeyboardInterrupt:
        stop_now()


def stop_now() -> NoReturn:
    """Ctrl-C: stop at once and quietly. The flow may still be running in another thread, and
    Prefect's temporary server in a child process; letting the interpreter wind down around them
    printed hundreds of logging errors and left the server running. Whole batches only ever reach
    the warehouse (one transaction each), the run lock goes with this process, and the next run
    marks this one crashed."""
    console.print("\n[yellow]interrupted: stopped; batches loaded so far are kept, and the next"
                  " run marks this one crashed[/yellow]")
    leave_now(EXIT_INTERRUPTED)


def leave_now(status: int) -> NoReturn:
    """Stop this process's children and exit without the interpreter's wind-down. After the
    server is lost, Prefect's event worker would otherwise retry each queued event for 7 s at
    exit (a minute and more with two batches in flight), though nothing can receive them."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        child.terminate()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        child.kill()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
