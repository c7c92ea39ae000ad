"""Run bookkeeping and the run report: figures per stage, rejects by reason, languages, entities."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from warehouse.session import Warehouse


EXAMPLE_SQL = (
    "select language, count(*) as documents, min(published) as first, max(published) as last "
    "from documents group by language"
)


class RunReport(BaseModel):
    """What one run did, and what the warehouse now holds."""

    run_id: str
    db_path: str
    files_seen: int
    files_unchanged: int
    documents_new: int
    duplicates_new: int
    rejects_new: int
    mentions_new: int
    reject_reasons: list[tuple[str, int]]
    duplicates: list[tuple[str, str, str]]  # (duplicate, of, method)
    languages: list[tuple[str, int]]  # whole warehouse
    top_entities: list[tuple[str, str, str, int]]  # the run's documents: key, label, name, documents
    documents_total: int
    # (story_id, title, documents, joined this run) of the stories the run started or grew most
    stories: list[tuple[str, str, int, int]] = []
    stage_seconds: dict[str, float] = {}  # busy time per stage, from Prefect's task runs
    example_sql: str = EXAMPLE_SQL

    def figures(self) -> dict[str, int]:
        """The counters stored in the runs table."""
        return {"files_seen": self.files_seen, "files_unchanged": self.files_unchanged,
                "documents_new": self.documents_new, "duplicates_new": self.duplicates_new,
                "rejects_new": self.rejects_new}


def bar_chart(rows: list[tuple[str, int]], width: int = 24) -> list[str]:
    """A bar chart in text, one line per row, scaled to the largest value."""
    top = max((count for _, count in rows), default=0) or 1
    pad = max((len(label) for label, _ in rows), default=0)  # whole names: "load-discovery"
    return [f"`{label:<{pad}}` {'█' * round(count / top * width)} {count}"
            for label, count in rows]


def render_markdown(report: RunReport) -> str:
    """The report as Markdown, for the Prefect artifact."""
    lines = [
        f"# corpusflow run `{report.run_id[:8]}`", "",
        "| files seen | new | unchanged | duplicates | rejected | mentions |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {report.files_seen} | {report.documents_new} | {report.files_unchanged} "
        f"| {report.duplicates_new} | {report.rejects_new} | {report.mentions_new} |", "",
    ]
    if report.reject_reasons:
        lines += ["**Rejected, by reason**", "", "| reason | files |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in report.reject_reasons] + [""]
    lines += ["**Documents per language (warehouse)**", ""]
    lines += [line + "  " for line in bar_chart(report.languages)] + [""]
    lines += ["**Top entities (this run's documents)**", "", "| entity | label | documents |", "|---|---|---:|"]
    lines += [f"| {name} | {label} | {docs} |" for _, label, name, docs in report.top_entities]
    if report.stories:
        lines += ["", "**Stories this run started or grew**", "",
                  "| story | documents | new this run |", "|---|---:|---:|"]
        lines += [f"| {title} | {docs} | {new} |" for _, title, docs, new in report.stories]
    if report.stage_seconds:
        lines += ["", "**Time per stage (seconds busy)**", ""]
        rows = sorted(report.stage_seconds.items(), key=lambda item: -item[1])
        lines += [line + "  " for line in bar_chart([(k, round(v, 1)) for k, v in rows])]
    return "\n".join(lines)


def stage_seconds(task_runs: list[tuple[str, float]]) -> dict[str, float]:
    """Busy seconds per stage from (task run name, seconds) pairs ('parse-3fa' → 'parse')."""
    totals: dict[str, float] = {}
    for name, seconds in task_runs:
        stage = name.rsplit("-", 1)[0]
        totals[stage] = round(totals.get(stage, 0.0) + seconds, 3)
    return totals


@task(name="begin-run", cache_policy=NO_CACHE)
def begin_run_stage(session: Warehouse, run_id: str, flow_name: str, parameters: dict
                    ) -> list[str]:
    """Record the run in the warehouse; the ids of earlier runs found dead, now `crashed`."""
    crashed = session.begin_run(run_id, flow_name, parameters)
    leftovers = session.remove_partial_snapshots()
    if crashed or leftovers:
        get_run_logger().warning(
            "earlier runs that never finished, now marked crashed: %s; partial snapshot copies"
            " removed: %d", ", ".join(crashed) or "none", len(leftovers))
    return crashed


@task(name="report", cache_policy=NO_CACHE)
def report_stage(session: Warehouse, run_id: str, seen: int, skipped: int,
                 task_runs: list[tuple[str, float]]) -> RunReport:
    """Sum the run's batches and store the figures and the report in `runs`. `seen` inputs
    were found, of which `skipped` were known unchanged before reading them; `task_runs` are
    (name, seconds) of the run's task runs, as Prefect recorded them."""
    figures = session.run_figures(run_id)
    report = RunReport(
        run_id=run_id, db_path=str(session.path), files_seen=seen,
        files_unchanged=skipped + figures["files_unchanged"],
        documents_new=figures["documents_new"], duplicates_new=figures["duplicates_new"],
        rejects_new=figures["rejects_new"], mentions_new=figures["mentions_new"],
        reject_reasons=session.reject_reasons(run_id),
        duplicates=session.run_duplicates(run_id),
        languages=session.documents_per_language(),
        top_entities=session.top_entities(run_id),
        documents_total=session.table_counts()["documents"],
        stories=session.run_stories(run_id),
        stage_seconds=stage_seconds(task_runs),
    )
    session.finish_run(run_id, report.figures(), report.model_dump())
    get_run_logger().info("run %s: %s", run_id[:8], report.figures())
    return report


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_maintenance_stage(session: Warehouse, run_id: str, figures: dict[str, int]) -> None:
    """Mark a maintenance run (re-clustering, re-tagging) completed with its figures."""
    zeros = dict.fromkeys(("files_seen", "files_unchanged", "documents_new", "duplicates_new",
                           "rejects_new"), 0)
    session.finish_run(run_id, {**zeros, **figures}, figures)


@task(name="publish-snapshot", cache_policy=NO_CACHE)
def publish_snapshot_stage(session: Warehouse, unless_current: bool = False) -> str:
    """Publish the analysts' read-only snapshot of the warehouse as it stands after this run;
    `unless_current`: keep it where it holds every committed batch already."""
    return str(session.publish_snapshot(unless_current))
