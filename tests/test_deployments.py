"""prefect.yaml on a real Prefect server: deployed as written, run by a worker with custom
parameters the way the UI's Custom run does, and its report artifact and warehouse checked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from flows import serve
from tests.conftest import SEEDS
from tests.prefect_stack import (
    REPORT_KEY,
    PrefectStack,
    clean_base_env,
    copy_project,
    free_port,
    running_stack,
    tail,
)

CUSTOM_INBOX = "incoming"  # relative to the deployment's working directory: the project copy


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    with running_stack(tmp_path_factory.mktemp("deployments")) as running:
        yield running


def fill_inbox(folder: Path) -> None:
    """Three articles, an exact copy of one of them and an empty file: 5 seen, 3 new,
    1 duplicate, 1 rejected."""
    folder.mkdir()
    for name in ("000.txt", "001.txt", "002.txt"):
        shutil.copy(SEEDS / name, folder / name)
    shutil.copy(SEEDS / "000.txt", folder / "000-again.txt")
    (folder / "empty.txt").write_text("")


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def report_figures(markdown: str) -> dict[str, str]:
    """The report's figures table (the one headed 'files seen') as header → value."""
    rows = [line for line in markdown.splitlines() if line.lstrip().startswith("|")]
    for index, row in enumerate(rows):
        if "files seen" in row.lower():
            return dict(zip((c.lower() for c in cells(row)), cells(rows[index + 2]), strict=True))
    raise AssertionError(f"no 'files seen' table in the report:\n{markdown}")


@pytest.mark.slow
def test_files_deployment_is_deployed_as_prefect_yaml_says(stack: PrefectStack) -> None:
    deployment = stack.deployment()
    assert deployment.work_pool_name == "corpusflow-local"
    assert deployment.parameters == {"params": {"inbox": ["seeds"], "batch_size": 500}}
    [schedule] = deployment.schedules
    assert schedule.slug == "inbox-every-15-min"
    assert schedule.active
    assert schedule.schedule.interval == timedelta(seconds=900)
    # Prefect 3 keeps a deployment's limit as a global concurrency limit of its own.
    limit = deployment.global_concurrency_limit
    assert deployment.concurrency_limit == 1 or (limit is not None and limit.limit == 1)
    assert deployment.concurrency_options.collision_strategy == "ENQUEUE"
    # The Custom run form is built from this schema: every field is described.
    schema = deployment.parameter_openapi_schema
    fields = schema["definitions"]["IngestFilesParams"]["properties"]
    assert all(field.get("description") for field in fields.values()), fields
    assert fields["batch_size"]["minimum"] == 1


@pytest.mark.slow
def test_the_server_refuses_invalid_custom_parameters(stack: PrefectStack) -> None:
    from prefect.exceptions import PrefectHTTPStatusError

    with pytest.raises(PrefectHTTPStatusError, match="batch_size|minimum|0 is less"):
        stack.create_run({"params": {"inbox": ["seeds"], "batch_size": 0}})


@pytest.mark.slow
def test_custom_run_completes_with_report_and_documents(stack: PrefectStack) -> None:
    fill_inbox(stack.project / CUSTOM_INBOX)
    started = time.monotonic()
    flow_run = stack.create_run({"params": {"inbox": [CUSTOM_INBOX], "batch_size": 2}})

    final = stack.wait_for_final_state(flow_run.id)
    assert final.state.is_completed(), f"{final.state}\n{stack.diagnostics()}"
    print(f"custom run: {time.monotonic() - started:.1f} s from creation to Completed")

    [report] = [a for a in stack.artifacts(flow_run.id) if a.key == REPORT_KEY]
    assert report.type == "markdown"
    figures = report_figures(report.data)
    assert figures["files seen"] == "5", figures
    assert figures["duplicates"] == "1" and figures["rejected"] == "1", figures
    assert next(v for k, v in figures.items() if k.startswith("new")) == "3", figures
    assert "empty_file" in report.data and "en" in report.data and "it" in report.data

    from warehouse.connection import reader

    with reader(stack.warehouse) as con:
        documents = con.execute("select count(*) from documents").fetchone()[0]
        locators = [r[0] for r in con.execute("select locator from sources").fetchall()]
        run = con.execute(
            "select status, parameters, files_seen, documents_new, duplicates_new, rejects_new "
            "from runs where run_id = ?",
            [str(flow_run.id)],
        ).fetchone()
    assert documents == 3
    assert all(Path(locator).is_relative_to(stack.project / CUSTOM_INBOX) for locator in locators)
    status, parameters, *counts = run
    assert status == "completed"
    assert json.loads(parameters) == {"inbox": [CUSTOM_INBOX], "batch_size": 2}
    assert counts == [5, 3, 1, 1]


@pytest.mark.slow
def test_the_scheduler_plans_runs_of_the_schedule(stack: PrefectStack) -> None:
    deployment = stack.deployment()
    deadline = time.monotonic() + 30
    while not (planned := stack.scheduled_runs(deployment.id)) and time.monotonic() < deadline:
        time.sleep(1)
    errors = stack.log_lines("server", "Error")[-3:]
    assert planned, (
        "the server's scheduler planned no runs of the 15-minute schedule. Prefect 3.8.8's "
        "scheduler fails with SQLAlchemy 2.1 ('Can't evaluate bulk DML statement'): pin "
        "sqlalchemy<2.1. Server errors:\n" + "\n".join(errors)
    )
    gaps = sorted(run.expected_start_time for run in planned)
    assert all(b - a == timedelta(seconds=900) for a, b in pairwise(gaps))


# ---- `corpus serve` --------------------------------------------------------------------------


def test_serve_reuses_the_named_server_then_the_local_one() -> None:
    assert serve.candidate_api_urls({}, 4200) == ["http://127.0.0.1:4200/api"]
    assert serve.candidate_api_urls({"PREFECT_API_URL": "http://h:1/api/"}, 4200) == [
        "http://h:1/api",
        "http://127.0.0.1:4200/api",
    ]
    assert serve.candidate_api_urls({"PREFECT_API_URL": "http://127.0.0.1:4300/api"}, 4300) == [
        "http://127.0.0.1:4300/api"
    ]
    assert serve.ui_url("http://127.0.0.1:4200/api") == "http://127.0.0.1:4200"
    # A named server that does not answer is the user's: serve must not start another.
    assert serve.names_another_server({"PREFECT_API_URL": "http://h:1/api"}, 4200)
    assert not serve.names_another_server({"PREFECT_API_URL": "http://127.0.0.1:4200/api/"}, 4200)
    assert not serve.names_another_server({}, 4200)


def test_serve_keeps_prefect_data_in_the_project_unless_told_otherwise(tmp_path: Path) -> None:
    assert serve.prefect_home({}, tmp_path) == tmp_path / ".prefect"
    assert serve.prefect_home({"PREFECT_HOME": "/elsewhere"}, tmp_path) == Path("/elsewhere")
    env = serve.prefect_env(
        {"PATH": "/bin", "PREFECT_SERVER_ANALYTICS_ENABLED": "true"},
        tmp_path / ".prefect",
        "http://127.0.0.1:4200/api",
    )
    assert env["PATH"] == "/bin" and env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["DO_NOT_TRACK"] == "1" and env["PREFECT_CLI_PROMPT"] == "false"
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"


def test_serve_commands_bind_locally_and_never_prompt() -> None:
    assert serve.server_command("prefect", 4200) == [
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        "4200",
        "--analytics-off",
    ]
    assert serve.deploy_command("prefect") == ["prefect", "--no-prompt", "deploy", "--all"]
    assert serve.worker_command("prefect", "pool") == [
        "prefect",
        "worker",
        "start",
        "--pool",
        "pool",
        "--type",
        "process",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"), [(900, "every 15 min"), (3600, "every 1 h"), (90, "every 90 s")]
)
def test_schedules_read_as_a_person_says_them(seconds: int, text: str) -> None:
    from prefect.client.schemas.schedules import IntervalSchedule

    assert serve.describe_schedule(IntervalSchedule(interval=timedelta(seconds=seconds))) == text


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"corpus serve exited early:\n{tail(log)}"
        assert time.monotonic() < deadline, f"no '{text}' after {timeout_s:.0f} s:\n{tail(log)}"
        time.sleep(0.5)


@pytest.mark.slow
def test_corpus_serve_in_a_fresh_copy_deploys_then_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """A fresh clone: no PREFECT_HOME, no server. `serve` starts one, deploys, runs a worker,
    and Ctrl-C stops them all with exit code 0."""
    project = copy_project(tmp_path / "clone")
    port, log = free_port(), tmp_path / "serve.log"
    code = (
        f"import sys; from pathlib import Path; from flows.serve import serve; "
        f"sys.exit(serve(Path('.'), port={port}))"
    )
    started = time.monotonic()
    process = serve.start_process(
        [sys.executable, "-c", code], {**clean_base_env(), **serve.QUIET_ENV}, project, log
    )
    try:
        wait_for_line(log, "Prefect UI:", process, timeout_s=90)
        ready_s = time.monotonic() - started
        names = [
            line.name
            for line in serve.deployment_lines(serve.local_api_url(port), serve.DEFAULT_POOL)
        ]
        assert "ingest-files/inbox-every-15-min" in names
        wait_for_line(log, "started!", process, timeout_s=60)  # the worker polls the pool
        print(f"corpus serve: deployments listed {ready_s:.1f} s after start")
        assert (project / ".prefect" / "prefect.db").exists()  # the project-local home

        os.kill(process.pid, signal.SIGINT)  # what Ctrl-C sends
        assert process.wait(timeout=60) == 0, tail(log)
    finally:
        serve.stop_process(process, grace_s=10.0)
    assert "stopped" in log.read_text()
    assert not serve.api_answers(serve.local_api_url(port)), "the server outlived corpus serve"
