"""`corpus serve`: a local always-on Prefect setup for this project, in one command.

Starts (or reuses) a Prefect server on 127.0.0.1 with analytics off, creates the process work
pool, deploys everything in prefect.yaml and runs a worker in the foreground until Ctrl-C or
SIGTERM; then it stops the worker and any server it started. Prefect keeps its own database in
<project>/.prefect unless PREFECT_HOME is set, so a fresh clone needs no set-up.

The pure helpers at the top build commands, environments and messages; the functions below
them start, watch and stop processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4200
DEFAULT_POOL = "corpusflow-local"
HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 120.0  # the first start migrates a new database: ≈ 20 s on 2 cores
STOP_GRACE_S = 15.0
QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


# ---- pure helpers -------------------------------------------------------------------------


def local_api_url(port: int) -> str:
    """The API address of a server this command starts."""
    return f"http://{HOST}:{port}/api"


def ui_url(api_url: str) -> str:
    """The UI lives at the API address without its `/api` suffix."""
    return api_url.rstrip("/").removesuffix("/api")


def candidate_api_urls(env: Mapping[str, str], port: int) -> list[str]:
    """Servers to reuse, in order: the one PREFECT_API_URL names, then the local default."""
    urls = [env["PREFECT_API_URL"].rstrip("/")] if env.get("PREFECT_API_URL") else []
    local = local_api_url(port)
    return urls if local in urls else [*urls, local]


def prefect_home(env: Mapping[str, str], project_root: Path) -> Path:
    """Prefect's own data: the user's PREFECT_HOME if set, else <project>/.prefect (gitignored)."""
    return Path(env["PREFECT_HOME"]) if env.get("PREFECT_HOME") else project_root / ".prefect"


def prefect_env(base: Mapping[str, str], home: Path, api_url: str) -> dict[str, str]:
    """The environment of every Prefect process this command starts: one home, one server,
    no telemetry, and no interactive prompts (a prompt would hang a command with no terminal)."""
    return {**base, **QUIET_ENV, "PREFECT_HOME": str(home), "PREFECT_API_URL": api_url,
            "PREFECT_CLI_PROMPT": "false"}


def prefect_executable() -> str:
    """The `prefect` script beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("prefect")
    return str(beside) if beside.exists() else shutil.which("prefect") or "prefect"


def server_command(prefect: str, port: int) -> list[str]:
    return [prefect, "server", "start", "--host", HOST, "--port", str(port), "--analytics-off"]


def deploy_command(prefect: str) -> list[str]:
    return [prefect, "--no-prompt", "deploy", "--all"]


def worker_command(prefect: str, pool: str) -> list[str]:
    return [prefect, "worker", "start", "--pool", pool, "--type", "process"]


def describe_schedule(schedule: Any) -> str:
    """'every 15 min', 'cron 0 * * * *', … for one Prefect schedule object."""
    interval = getattr(schedule, "interval", None)
    if isinstance(interval, timedelta):
        seconds = int(interval.total_seconds())
        if seconds % 3600 == 0:
            return f"every {seconds // 3600} h"
        return f"every {seconds // 60} min" if seconds % 60 == 0 else f"every {seconds} s"
    for kind in ("cron", "rrule"):
        if getattr(schedule, kind, None):
            return f"{kind} {getattr(schedule, kind)}"
    return "scheduled"


@dataclass(frozen=True)
class DeploymentLine:
    """One deployment as the status lines show it."""

    name: str  # flow/deployment
    schedules: tuple[str, ...]
    url: str

    def render(self) -> str:
        when = ", ".join(self.schedules) or "no schedule (run it from the UI)"
        return f"  {self.name:<40} {when:<24} {self.url}"


# ---- talking to the server ----------------------------------------------------------------


def api_answers(api_url: str, timeout_s: float = 2.0) -> bool:
    """True when a Prefect API answers its health check at this address."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as reply:
            return reply.status == 200 and reply.read().strip() == b"true"
    except (OSError, urllib.error.URLError, ValueError):
        return False


def find_running_server(env: Mapping[str, str], port: int) -> str | None:
    return next((url for url in candidate_api_urls(env, port) if api_answers(url)), None)


@contextmanager
def prefect_client(api_url: str) -> Iterator[Any]:
    """A synchronous Prefect client pointed at `api_url`, whatever this process's settings say."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            yield client


def ensure_work_pool(api_url: str, pool: str) -> bool:
    """Create the process work pool unless it exists; True when it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with prefect_client(api_url) as client:
        try:
            client.read_work_pool(pool)
            return False
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(
                WorkPoolCreate(name=pool, type="process", base_job_template=template))
            return True


def deployment_lines(api_url: str, pool: str) -> list[DeploymentLine]:
    """The deployments that run on `pool`, for the status lines."""
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    with prefect_client(api_url) as client:
        deployments = client.read_deployments(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])))
        flows = {d.flow_id: client.read_flow(d.flow_id).name for d in deployments}
    return sorted(
        DeploymentLine(
            name=f"{flows[d.flow_id]}/{d.name}",
            schedules=tuple(describe_schedule(s.schedule) for s in d.schedules if s.active),
            url=f"{ui_url(api_url)}/deployments/deployment/{d.id}",
        )
        for d in deployments
    )


# ---- processes ----------------------------------------------------------------------------


def start_process(command: list[str], env: Mapping[str, str], cwd: Path,
                  log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a child in its own session, so Ctrl-C reaches only us and we stop children in
    order; its output goes to `log` when given, else to our terminal."""
    output = open(log, "ab") if log else None  # noqa: SIM115 (the child keeps it open)
    try:
        return subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=output,
                                stderr=subprocess.STDOUT if output else None,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        if output:
            output.close()


def stop_process(process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> int | None:
    """Stop a child and everything it started (its process group): Ctrl-C first, as a person
    would, then SIGTERM, then SIGKILL, each after a grace period."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
    _kill_leftovers(process.pid)
    return process.poll()


def _kill_leftovers(group: int) -> None:
    """Children of a stopped child (flow runs of a worker) may outlive it in its group."""
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_until_healthy(api_url: str, process: subprocess.Popen[bytes] | None,
                       timeout_s: float = SERVER_START_TIMEOUT_S) -> None:
    """Poll the health check until it answers; fail early if the server process exits."""
    deadline = time.monotonic() + timeout_s
    while not api_answers(api_url):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer from {api_url} after {timeout_s:.0f} s")
        time.sleep(0.5)


def deploy_all(project_root: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`prefect deploy --all` from the project root: with no pull section in prefect.yaml,
    Prefect records this directory as the runs' working directory."""
    return subprocess.run(deploy_command(prefect_executable()), cwd=project_root, env=dict(env),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)


class Stopped(Exception):
    """SIGTERM arrived: unwind like Ctrl-C does."""


@contextmanager
def sigterm_as_stop() -> Iterator[None]:
    def _raise(signum: int, frame: object) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---- the command --------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, flush=True)


def start_server(port: int, env: Mapping[str, str], project_root: Path,
                 log: Path) -> subprocess.Popen[bytes]:
    say(f"starting a Prefect server on {ui_url(local_api_url(port))} (log: {log}) …")
    log.parent.mkdir(parents=True, exist_ok=True)
    server = start_process(server_command(prefect_executable(), port), env, project_root, log)
    try:
        wait_until_healthy(local_api_url(port), server)
    except (RuntimeError, TimeoutError):
        stop_process(server)
        raise
    return server


def deploy_and_report(project_root: Path, env: Mapping[str, str], api_url: str,
                      pool: str) -> bool:
    created = ensure_work_pool(api_url, pool)
    say(f"work pool {pool}: {'created' if created else 'exists'} (type process)")
    result = deploy_all(project_root, env)
    if result.returncode != 0:
        say(f"`prefect deploy --all` failed (exit {result.returncode}):")
        say(result.stdout + result.stderr)
        return False
    say("deployments:")
    for line in deployment_lines(api_url, pool):
        say(line.render())
    return True


def serve(project_root: Path, port: int = DEFAULT_PORT, pool: str = DEFAULT_POOL) -> int:
    """Serve this project's deployments until Ctrl-C or SIGTERM; 0 after a clean stop."""
    project_root = project_root.resolve()
    if not (project_root / "prefect.yaml").is_file():
        say(f"no prefect.yaml in {project_root}: run `corpus serve` from the project root")
        return 1
    home = prefect_home(os.environ, project_root)
    running = find_running_server(os.environ, port)
    if running is None and os.environ.get("PREFECT_API_URL", local_api_url(port)).rstrip(
            "/") != local_api_url(port):
        say(f"PREFECT_API_URL={os.environ['PREFECT_API_URL']} does not answer; start that "
            "server, or unset PREFECT_API_URL to let `corpus serve` start a local one.")
        return 1
    api_url = running or local_api_url(port)
    env = prefect_env(os.environ, home, api_url)
    # This process talks to the server too (work pool, status lines): same home, same server.
    os.environ.update(env)
    server = worker = None
    try:
        with sigterm_as_stop():
            if running:
                say(f"reusing the Prefect server at {ui_url(api_url)}")
            else:
                server = start_server(port, env, project_root, home / "server.log")
            if not deploy_and_report(project_root, env, api_url, pool):
                return 1
            say(f"Prefect UI: {ui_url(api_url)}  ·  worker on pool {pool}; Ctrl-C stops "
                + ("the worker and the server" if server else "the worker"))
            worker = start_process(worker_command(prefect_executable(), pool), env, project_root)
            code = worker.wait()
            say(f"the worker exited with code {code}")
            return code or 1
    except (KeyboardInterrupt, Stopped):
        say("\nstopping …")
        return 0
    except (RuntimeError, TimeoutError) as error:
        say(f"could not start the Prefect server: {error}")
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave a server holding the port.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for process in (worker, server):
                if process is not None:
                    stop_process(process)
        finally:
            signal.signal(signal.SIGINT, previous)
        if server is not None or worker is not None:
            say("stopped")
