"""`corpus serve`: a local always-on Prefect setup for this project, in one command.

Starts (or reuses) a Prefect server on 127.0.0.1 with analytics off, creates the process work
pool, deploys everything in prefect.yaml and runs a worker in the foreground until Ctrl-C or
SIGTERM; then it stops the worker and any server it started. Prefect keeps its own database in
<project>/.prefect unless PREFECT_HOME is set, so a fresh clone needs no set-up.

The pure helpers at the top build commands, environments and messages; the functions below
them start, watch and stop processes. What talks to the server through Prefect's client (the work
pool, the deployment list) lives flows-side, in flows/server.py: the CLI never imports Prefect.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# ui_url is flows-side because the deployment lines need it too; flows never import cli.
from flows.server import deployment_lines, ensure_work_pool, import_client, ui_url

DEFAULT_PORT = 4200
DEFAULT_POOL = "corpusflow-local"
HOST = "127.0.0.1"
SERVER_START_TIMEOUT_S = 120.0  # the first start migrates a new database: ≈ 20 s on 2 cores
STOP_GRACE_S = 15.0
# Also for the worker's flow runs: fail soon when the server is gone (see cli/__init__.py).
QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
             "PREFECT_CLIENT_MAX_RETRIES": "2"}


# ---- pure helpers -------------------------------------------------------------------------


def local_api_url(port: int) -> str:
    """The API address of a server this command starts."""
    return f"http://{HOST}:{port}/api"


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
    return {
        **base,
        **QUIET_ENV,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_CLI_PROMPT": "false",
    }


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


# ---- is a server there? (its plain HTTP health check; the client is in flows/server.py) ----


def api_answers(api_url: str, timeout_s: float = 2.0) -> bool:
    """True when a Prefect API answers its health check at this address."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as reply:
            return reply.status == 200 and reply.read().strip() == b"true"
    except (OSError, urllib.error.URLError, ValueError):
        return False


def find_running_server(env: Mapping[str, str], port: int) -> str | None:
    return next((url for url in candidate_api_urls(env, port) if api_answers(url)), None)


# ---- processes ----------------------------------------------------------------------------


@contextmanager
def sigint_not_ignored() -> Iterator[None]:
    """Children inherit an ignored SIGINT (when we run as a shell's background job, or under
    some CI runners), and Prefect's server and worker then ignore their own shutdown signal;
    a handled SIGINT is reset to the default in a child."""
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if not ignored or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start_process(
    command: list[str], env: Mapping[str, str], cwd: Path, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, so Ctrl-C reaches only us and we stop children in
    order; its output goes to `log` when given, else to our terminal."""
    output = open(log, "ab") if log else None  # noqa: SIM115 (the child keeps it open)
    try:
        with sigint_not_ignored():
            return subprocess.Popen(
                command,
                env=dict(env),
                cwd=cwd,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
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


def wait_until_healthy(
    api_url: str, process: subprocess.Popen[bytes] | None, timeout_s: float = SERVER_START_TIMEOUT_S
) -> None:
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
    return subprocess.run(
        deploy_command(prefect_executable()),
        cwd=project_root,
        env=dict(env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived: unwind, then stop the children."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM both raise Stopped, even when a shell started us with SIGINT
    ignored (a background job)."""

    def _raise(signum: int, frame: object) -> None:
        raise Stopped

    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    """Stop children newest first (the worker before the server). A second Ctrl-C or SIGTERM
    must not cut this short and leave a server holding the port."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        for process in reversed(children):
            stop_process(process)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---- the command --------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, flush=True)


def names_another_server(env: Mapping[str, str], port: int) -> bool:
    """PREFECT_API_URL points somewhere other than the server `serve` would start."""
    named = env.get("PREFECT_API_URL", "").rstrip("/")
    return bool(named) and named != local_api_url(port)


def start_server(
    port: int, env: Mapping[str, str], project_root: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    log = prefect_home(env, project_root) / "server.log"
    say(f"starting a Prefect server on {ui_url(local_api_url(port))} (log: {log}) …")
    log.parent.mkdir(parents=True, exist_ok=True)
    server = start_process(server_command(prefect_executable(), port), env, project_root, log)
    children.append(server)  # before waiting: Ctrl-C while it starts must still stop it
    import_client()  # on the other core while the server starts: ≈ 3 s sooner to the UI
    wait_until_healthy(local_api_url(port), server)


def deploy_and_report(project_root: Path, env: Mapping[str, str], api_url: str, pool: str) -> bool:
    result = deploy_all(project_root, env)
    if result.returncode != 0:
        say(f"`prefect deploy --all` failed (exit {result.returncode}):")
        say(result.stdout + result.stderr)
        return False
    say("deployments:")
    for line in deployment_lines(api_url, pool):
        say(line.render())
    return True


def run_stack(
    project_root: Path,
    env: Mapping[str, str],
    port: int,
    pool: str,
    children: list[subprocess.Popen[bytes]],
) -> int:
    """Server (unless one answers) → work pool → worker and deployments → wait on the worker."""
    api_url = env["PREFECT_API_URL"]
    if api_answers(api_url):
        say(f"reusing the Prefect server at {ui_url(api_url)}")
    else:
        start_server(port, env, project_root, children)
    stops = "the worker and the server" if children else "the worker"
    created = ensure_work_pool(api_url, pool)
    say(f"work pool {pool}: {'created' if created else 'exists'} (type process)")
    # The worker starts while deploying, so the UI shows the pool and deployments ready sooner.
    worker = start_process(worker_command(prefect_executable(), pool), env, project_root)
    children.append(worker)
    if not deploy_and_report(project_root, env, api_url, pool):
        return 1
    say(f"Prefect UI: {ui_url(api_url)}  ·  worker on pool {pool}; Ctrl-C stops {stops}")
    code = worker.wait()
    say(f"the worker exited by itself (code {code})")
    return code or 1


def serve(project_root: Path, port: int = DEFAULT_PORT, pool: str = DEFAULT_POOL) -> int:
    """Serve this project's deployments until Ctrl-C or SIGTERM; 0 after a clean stop."""
    project_root = project_root.resolve()
    if not (project_root / "prefect.yaml").is_file():
        say(f"no prefect.yaml in {project_root}: run `corpus serve` from the project root")
        return 1
    api_url = find_running_server(os.environ, port)
    if api_url is None and names_another_server(os.environ, port):
        say(
            f"PREFECT_API_URL={os.environ['PREFECT_API_URL']} does not answer; start that "
            "server, or unset PREFECT_API_URL to let `corpus serve` start a local one."
        )
        return 1
    env = prefect_env(
        os.environ, prefect_home(os.environ, project_root), api_url or local_api_url(port)
    )
    os.environ.update(env)  # this process talks to the server too: same home, same server
    children: list[subprocess.Popen[bytes]] = []
    try:
        with stop_on_signals():
            return run_stack(project_root, env, port, pool, children)
    except Stopped:
        say("\nstopping …")
        return 0
    except (RuntimeError, TimeoutError) as error:
        say(f"could not start the Prefect server: {error}")
        return 1
    finally:
        stop_all(children)
        if children:
            say("stopped")
