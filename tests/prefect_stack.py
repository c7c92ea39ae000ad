"""A real Prefect stack for tests: server, work pool, deployments from prefect.yaml, worker.

Every piece is a child process of the test, bound to 127.0.0.1 on a free port, with its own
PREFECT_HOME, deploying from a copy of the project in a temporary folder (so the warehouse lands
there). cli/serve.py builds the commands and environments and flows/server.py talks to the
server, so these tests exercise the same code as `corpus serve`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from cli import serve
from flows import server
from tests.conftest import ROOT

PROJECT_PARTS = ("cli", "flows", "tasks", "warehouse", "seeds", "prefect.yaml", "pyproject.toml")
POOL = "corpusflow-local"  # the pool prefect.yaml names
FILES_DEPLOYMENT = "ingest-files/inbox-every-15-min"
REPORT_KEY = "corpusflow-run-report"
RUN_TIMEOUT_S = 180.0
# The worker asks for work every 10 s by default; a test should not wait that long.
TEST_ENV = {
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    # Log why the API answered 503 (SQLite "database is locked"), for failure messages.
    "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
}


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((serve.HOST, 0))
        return probe.getsockname()[1]


def copy_project(target: Path) -> Path:
    """The parts of the project a deployment needs, copied under `target` (no data/, no .env)."""
    target.mkdir(parents=True)
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(
                source, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, target / part)
    return target


def clean_base_env() -> dict[str, str]:
    """This process's environment without Prefect or corpusflow settings, which would point the
    stack at another server, home or warehouse."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "CORPUSFLOW_"))
    }


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} is missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class PrefectStack:
    """A running stack and the calls tests make against it."""

    project: Path
    api_url: str
    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def ui_url(self) -> str:
        return serve.ui_url(self.api_url)

    @property
    def warehouse(self) -> Path:
        return self.project / "data" / "corpus.duckdb"

    @contextmanager
    def client(self) -> Iterator[Any]:
        with server.prefect_client(self.api_url) as client:
            yield client

    def deployment(self, name: str = FILES_DEPLOYMENT) -> Any:
        with self.client() as client:
            return client.read_deployment_by_name(name)

    def create_run(self, parameters: dict[str, Any], name: str = FILES_DEPLOYMENT) -> Any:
        """What the UI's Run → Custom run does: a flow run of the deployment with parameters."""
        deployment = self.deployment(name)
        with self.client() as client:
            return client.create_flow_run_from_deployment(deployment.id, parameters=parameters)

    def wait_for_final_state(self, flow_run_id: UUID, timeout_s: float = RUN_TIMEOUT_S) -> Any:
        deadline = time.monotonic() + timeout_s
        with self.client() as client:
            while True:
                run = client.read_flow_run(flow_run_id)
                if run.state is not None and run.state.is_final():
                    return run
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"flow run {flow_run_id} still {run.state_name} after "
                        f"{timeout_s:.0f} s\n{self.diagnostics()}"
                    )
                time.sleep(1.0)

    def artifacts(self, flow_run_id: UUID) -> list[Any]:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        with self.client() as client:
            return client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )

    def scheduled_runs(self, deployment_id: UUID) -> list[Any]:
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateName,
        )

        with self.client() as client:
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Scheduled"]))
                ),
            )

    def log_lines(self, name: str, containing: str) -> list[str]:
        """Lines of one log (server, worker, deploy) that contain `containing`."""
        log = self.logs / f"{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [line for line in text.splitlines() if containing in line]

    def diagnostics(self) -> str:
        """The end of the server and worker logs, for failure messages."""
        return "\n".join(f"--- {log.name}\n{tail(log)}" for log in sorted(self.logs.glob("*.log")))


def start_logged(stack: PrefectStack, name: str, command: list[str]) -> subprocess.Popen[bytes]:
    process = serve.start_process(command, stack.env, stack.project, stack.logs / f"{name}.log")
    stack.processes.append(process)
    return process


def deploy(stack: PrefectStack) -> None:
    created = server.ensure_work_pool(stack.api_url, POOL)
    assert created, "a fresh server should have no work pool yet"
    result = serve.deploy_all(stack.project, stack.env)
    (stack.logs / "deploy.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"prefect deploy --all failed:\n{result.stdout}{result.stderr}"


@contextmanager
def running_stack(workdir: Path) -> Iterator[PrefectStack]:
    """Server → work pool → `prefect deploy --all` → worker; everything stopped on exit."""
    port = free_port()
    api_url = serve.local_api_url(port)
    env = {**serve.prefect_env(clean_base_env(), workdir / "prefect-home", api_url), **TEST_ENV}
    stack = PrefectStack(
        project=copy_project(workdir / "project"), api_url=api_url, env=env, logs=workdir / "logs"
    )
    stack.logs.mkdir()
    prefect = serve.prefect_executable()
    try:
        server_process = start_logged(stack, "server", serve.server_command(prefect, port))
        try:
            serve.wait_until_healthy(api_url, server_process)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"{error}\n{stack.diagnostics()}") from error
        deploy(stack)
        start_logged(stack, "worker", serve.worker_command(prefect, POOL))
        yield stack
    finally:
        for process in reversed(stack.processes):  # the worker first, then the server
            serve.stop_process(process, grace_s=10.0)
