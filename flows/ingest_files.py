"""The ingest-files flow: inbox files → discover → parse, then the shared tail (flows/pipeline.py):
clean → language → entities → dedup (exact, near) → load. The pure stages run on the task runner
the settings choose (threads, processes or Dask), several batches at a time; the warehouse
stages run here, one batch at a time, in order."""

from __future__ import annotations

from prefect import flow
from prefect.futures import PrefectFuture

from flows.params import IngestFilesParams
from flows.pipeline import finish, ingest, warehouse_run
from flows.runners import share_server_with_workers, task_runner, unwalked
from tasks.discover import discover_files_stage, in_batches
from tasks.parse import parse_stage
from tasks.records import Discovery
from tasks.report import RunReport
from warehouse.records import Candidate
from warehouse.settings import Settings, get_settings


@flow(name="ingest-files", log_prints=True, task_runner=task_runner(get_settings().runners))
def ingest_files(
    params: IngestFilesParams = IngestFilesParams(), settings: Settings | None = None
) -> RunReport:
    """Ingest new and changed article files from the inbox into the warehouse.

    Args:
        params: What to read this run: the inbox (file patterns) and the batch size.
        settings: Leave empty to use the settings of the machine that runs the flow (its
            CORPUSFLOW_* environment and .env); fill in to override them for this run only.
    """
    settings = settings or get_settings()
    with warehouse_run("ingest-files", params, settings) as run:
        share_server_with_workers(settings.runners)
        found = discover_files_stage(run.session, params.inbox, run.run_id, settings.files)
        batches = in_batches(found.candidates, params.batch_size,
                             settings.files.max_batch_bytes, ramp=True)
        ingest(run, batches, lambda batch: read_files(batch, found, settings), "parse")
        return finish(run, found.seen, found.unchanged, read_nothing=not found.candidates)


def read_files(batch: list[Candidate], found: Discovery, settings: Settings) -> PrefectFuture:
    """The parse stage of one batch, submitted to the task runner (its inputs `unwalked`: they
    hold no futures to look for)."""
    return parse_stage.submit(unwalked(batch, settings.runners),
                              unwalked(found.known_hashes_of(batch), settings.runners),
                              settings.files, settings.extract.max_page_bytes)
