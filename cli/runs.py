"""The commands that run a flow from the terminal: `corpus run`, `fetch`, `dedup`, `regroup` and
`retag`.

Each builds its settings once (cli/options.py), applies its own options on them, hands them to
the flow as its `settings` argument, and prints what the run did. The flows are imported inside
the commands: importing them imports Prefect, which must read the environment defaults
cli/__init__.py sets, and which `corpus --help` never needs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cli.options import command_settings
from cli.serve import DEFAULT_PORT, api_answers, local_api_url
from cli.terminal import console, table

# Exit status when an inbox given to `corpus run` does not exist (argparse's for bad usage).
EXIT_NO_INBOX = 2


def point_at_serve() -> None:
    """Name the `corpus serve` server in PREFECT_API_URL when one answers and no server is
    named. Prefect reads its settings once, when it is first imported: so this comes before
    anything that imports Prefect (flows, and most of tasks/)."""
    local = local_api_url(DEFAULT_PORT)
    if not os.environ.get("PREFECT_API_URL") and api_answers(local, timeout_s=1.0):
        os.environ["PREFECT_API_URL"] = local


def report_to_prefect() -> None:
    """Before a flow runs from the terminal: report to the `corpus serve` server when one
    answers (the run shows in its UI, and no temporary server is started); otherwise Prefect's
    temporary server starts now (flows/server.py)."""
    point_at_serve()
    from flows.server import use_local_prefect

    use_local_prefect()


def in_terminal_run(run: Callable[[], Any]) -> Any:
    """`run()`, a flow run, with the settings of a run from the terminal (flows/server.py:
    no heartbeats to a temporary server). Called in the thread that runs the flow."""
    from flows.server import terminal_run

    with terminal_run():
        return run()


def print_summary(report: Any, inputs: str = "files") -> None:
    """The end-of-run summary a person reads in the terminal, from the flow's
    tasks.report.RunReport (typed loosely: the CLI reaches stages only through the flows);
    `inputs` names what the run read: files, or the pages of `corpus fetch`."""
    console.print(table(
        f"corpusflow run {report.run_id[:8]} → {report.db_path}",
        [f"{inputs} seen", "new documents", "unchanged", "duplicates", "rejected"],
        [(report.files_seen, report.documents_new, report.files_unchanged,
          report.duplicates_new, report.rejects_new)],
        justify_last=False,
    ))
    if report.reject_reasons:
        console.print(table("rejected, by reason", ["reason", inputs], report.reject_reasons))
    if report.duplicates:
        shown = report.duplicates[:MAX_DUPLICATE_ROWS]
        names = iter(shown_locators([locator for dup, of, _ in shown for locator in (dup, of)]))
        rows = [(next(names), next(names), method) for _, _, method in shown]
        console.print(table("new duplicates", [inputs[:-1], "duplicate of", "method"], rows, False))
        if len(report.duplicates) > len(shown):
            console.print(f"… and {len(report.duplicates) - len(shown)} more: select * from "
                          f"duplicates where run_id = '{report.run_id}'", highlight=False)
    console.print(table(f"documents per language ({report.documents_total} in the warehouse)",
                        ["language", "documents"], report.languages))
    if report.top_entities:  # a run with nothing new has none: no empty table to puzzle over
        console.print(table("top entities of this run's new documents",
                            ["entity", "key", "label", "documents"],
                            [(name, key, label, docs)
                             for key, label, name, docs in report.top_entities]))
    if report.stories:
        console.print(table("stories this run started or grew",
                            ["story", "documents", "new this run"],
                            [(title, docs, new) for _, title, docs, new in report.stories], False))
    console.print("\nTry a query:")
    console.print(f'  {_program()} sql "{report.example_sql}"', highlight=False, soft_wrap=True)


# The summary lists a run's first new duplicates; the rest are a query away.
MAX_DUPLICATE_ROWS = 20


def shown_locators(locators: list[str]) -> list[str]:
    """Locators as the summary prints them: files by their path below the folder they all
    share (a bare name is ambiguous: sport/240.txt and business/240.txt), URLs in full."""
    paths = [unquote(loc.removeprefix("file://"), errors="backslashreplace")
             if loc.startswith("file://") else loc
             for loc in locators]
    if not paths or not all(path.startswith("/") for path in paths):
        return paths
    base = os.path.commonpath([os.path.dirname(path.partition("#")[0]) for path in paths])
    return [os.path.relpath(path, base) for path in paths]


def _program() -> str:
    """How to call this command again from here: `corpus` when it is on PATH, else its path
    (`.venv/bin/corpus` after `make run`)."""
    program = Path(sys.argv[0])
    if program.name != "corpus" or shutil.which("corpus"):
        return "corpus"
    return os.path.relpath(program)


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
            outcome["value"] = in_terminal_run(run)
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


def command_run(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    point_at_serve()  # before tasks.discover, which imports Prefect
    from tasks.discover import InboxMissing, check_inbox

    inbox = args.inbox or settings.files.inbox
    try:
        check_inbox(inbox)  # one line for a typo, not a failed flow run's tracebacks
    except InboxMissing as missing:
        console.print(f"[red]{missing}; nothing was run[/red]", highlight=False)
        return EXIT_NO_INBOX
    report_to_prefect()
    from flows.ingest_files import ingest_files
    from flows.params import IngestFilesParams

    params = IngestFilesParams(inbox=inbox, batch_size=args.batch_size)
    report = run_with_progress(lambda: ingest_files(params, settings=settings),
                               settings.warehouse.db_path)
    print_summary(report)
    return 0


def command_fetch(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    report_to_prefect()
    from flows.ingest_urls import ingest_urls
    from flows.params import IngestUrlsParams

    params = IngestUrlsParams(urls=args.url or [], url_file=args.url_file, feeds=args.feed or [],
                              sitemaps=args.sitemap or [], batch_size=args.batch_size)
    print_summary(in_terminal_run(lambda: ingest_urls(params, settings=settings)), "pages")
    return 0


def command_dedup(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    report_to_prefect()
    from flows.dedup import RecomputeParams, recompute_near_duplicates

    found = in_terminal_run(lambda: recompute_near_duplicates(
        RecomputeParams(batch_size=args.batch_size), settings=settings))
    console.print(f"near duplicates recomputed: {found} found")
    return 0


def command_regroup(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    report_to_prefect()
    from flows.stories import RegroupParams, regroup_stories

    stories = in_terminal_run(lambda: regroup_stories(RegroupParams(), settings=settings))
    console.print(f"documents grouped again: {stories} stories")
    return 0


def ner_models(pairs: list[str]) -> dict[str, str]:
    """`--model en=PATH --model it=PACKAGE` as {language: model}."""
    return dict(pair.split("=", 1) for pair in pairs)


def command_retag(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    if args.model:  # the given models replace the configured ones, as the setting itself would
        settings.entities.ner_models = ner_models(args.model)
    report_to_prefect()
    from flows.retag import RetagParams, retag_entities

    written = in_terminal_run(lambda: retag_entities(RetagParams(batch_size=args.batch_size),
                                                     settings=settings))
    console.print(f"re-tagged the stored documents: {written} mentions")
    return 0
