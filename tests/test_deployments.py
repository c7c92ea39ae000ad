"""prefect.yaml as Prefect reads it (every entrypoint a flow that accepts its deployment's
parameters, schedules Prefect can parse, one run at a time), then on a real Prefect server:
deployed as written, its schedules planned, run by a worker with custom parameters the way the
UI's Custom run does, and its report artifact and warehouse checked."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from cli import serve
from flows import server
from tests.conftest import ROOT, SEEDS
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
PREFECT_YAML = ROOT / "prefect.yaml"
DEPLOYMENT_NAMES = [d["name"] for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]]


# ---- prefect.yaml as `prefect deploy` reads it ---------------------------------------------


def deploy_configs() -> list[dict[str, Any]]:
    """prefect.yaml's deployments as `prefect deploy` reads them: through Prefect's own model of
    the file. (`prefect deploy` only warns about a file that model rejects, and deploys
    nothing; here it raises.)"""
    from prefect.cli.deploy._models import PrefectYamlModel
    from pydantic import ValidationError

    try:
        model = PrefectYamlModel.model_validate(yaml.safe_load(PREFECT_YAML.read_text()))
    except ValidationError as error:
        where = sorted({".".join(map(str, e["loc"][:3])) for e in error.errors()})
        pytest.fail(f"`prefect deploy` would skip prefect.yaml, deploying nothing: {where}\n"
                    f"{error}")
    return [d.model_dump(exclude_unset=True, mode="json") for d in model.deployments]


def deploy_config(name: str) -> dict[str, Any]:
    return next(config for config in deploy_configs() if config["name"] == name)


def entrypoint_flow(config: dict[str, Any]) -> Any:
    """The object the deployment's entrypoint names, loaded the way a worker loads it."""
    from prefect.flows import load_flow_from_entrypoint

    path, _, function = config["entrypoint"].rpartition(":")
    return load_flow_from_entrypoint(f"{ROOT / path}:{function}")


def parsed_schedules(config: dict[str, Any]) -> list[Any]:
    """The deployment's schedules as `prefect deploy` turns them into Prefect schedules."""
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    return [
        DeploymentScheduleCreate(**_schedule_config_to_deployment_schedule(schedule))
        for schedule in config.get("schedules") or []
    ]


def schedule_facts(schedules: list[Any], anchored: bool) -> dict[Any, Any]:
    """slug → (active, schedule), for comparing the deployed schedules with the file's."""
    unset = set() if anchored else {"anchor_date"}
    return {s.slug: (s.active, s.schedule.model_dump(exclude=unset)) for s in schedules}


def concurrency_spec(config: dict[str, Any]) -> dict[str, Any]:
    """limit and collision strategy; Prefect's default strategy is ENQUEUE."""
    spec = config.get("concurrency_limit")
    spec = spec if isinstance(spec, dict) else {"limit": spec}
    return {"limit": spec.get("limit"), "collision_strategy": spec.get("collision_strategy")
            or "ENQUEUE"}


def test_prefect_deploy_reads_every_deployment_onto_the_pool_serve_works() -> None:
    configs = deploy_configs()
    names = [config.get("name") for config in configs]
    assert names == DEPLOYMENT_NAMES, (
        f"Prefect reads the deployments {names} from prefect.yaml, the file lists "
        f"{DEPLOYMENT_NAMES}"
    )
    assert len(set(names)) == len(names), f"two deployments share a name: {names}"
    for config in configs:
        pool = (config.get("work_pool") or {}).get("name")
        assert pool == serve.DEFAULT_POOL, (
            f"{config['name']} runs on pool {pool!r}: the worker `corpus serve` starts polls "
            f"{serve.DEFAULT_POOL!r}, so its runs would wait forever"
        )


@pytest.mark.parametrize("name", DEPLOYMENT_NAMES)
def test_the_entrypoint_is_a_flow_that_accepts_the_deployment_parameters(name: str) -> None:
    from prefect import Flow
    from prefect.utilities.schema_tools import ValidationError, validate
    from pydantic import BaseModel

    config = deploy_config(name)
    flow = entrypoint_flow(config)
    assert isinstance(flow, Flow), f"{name}: {config['entrypoint']} is {flow!r}, not a flow"
    parameters = config.get("parameters", {})
    # What the server checks a run's parameters against: the schema of the Custom run form.
    try:
        validate(parameters, flow.parameters.model_dump_for_openapi(), raise_on_error=True)
    except ValidationError as error:
        pytest.fail(f"{name}: the server would refuse the parameters {parameters}: {error}")
    # What the flow run does with them before the flow starts (raises when they do not fit).
    bound = flow.validate_parameters(parameters)
    # Unknown keys pass both checks and are dropped: a misspelt key would run on the default.
    for key, value in parameters.items():
        model = bound[key]
        if isinstance(model, BaseModel) and isinstance(value, dict):
            unknown = sorted(set(value) - set(type(model).model_fields))
            assert not unknown, (
                f"{name}: {type(model).__name__} has no field {unknown}; the run would ignore "
                f"them. Its fields: {sorted(type(model).model_fields)}"
            )


@pytest.mark.parametrize("name", DEPLOYMENT_NAMES)
def test_the_custom_run_form_describes_and_titles_every_field(name: str) -> None:
    """The form a person fills in the UI: both parameters say what they are, and every field
    of the settings tree is titled by its own name, also those read from a historic flat
    variable (they were titled "Corpusflow Fetch Timeout S" beside "Connect Timeout S")."""
    schema = entrypoint_flow(deploy_config(name)).parameters.model_dump_for_openapi()
    for parameter in ("params", "settings"):
        assert schema["properties"][parameter].get("description"), (name, parameter)
    fields = [(model, key, field.get("title")) for model, definition in schema["definitions"].items()
              for key, field in definition.get("properties", {}).items()]
    assert fields and all(title for _, _, title in fields), name
    assert not [f for f in fields if f[2].lower().startswith("corpusflow")], name


@pytest.mark.parametrize("name", DEPLOYMENT_NAMES)
def test_the_schedules_parse_as_prefect_deploy_reads_them(name: str) -> None:
    config = deploy_config(name)
    schedules = parsed_schedules(config)  # raises on a schedule Prefect cannot read
    assert len(schedules) == len(config.get("schedules") or []), (name, schedules)
    for schedule in schedules:
        # The status line of `corpus serve` names the schedule, not just "scheduled".
        assert server.describe_schedule(schedule.schedule) != "scheduled", (name, schedule)
        # An interval counted from a fixed anchor: each start of `corpus serve` deploys again,
        # and an anchor of "now" moved the next run on every restart (never reached if the
        # server restarts more often than the interval).
        if hasattr(schedule.schedule, "interval"):
            anchor = schedule.schedule.anchor_date
            assert (anchor.minute, anchor.second) == (0, 0), (name, anchor)
            assert datetime.now(UTC) - anchor > timedelta(days=1), (name, anchor)
    slugs = [schedule.slug for schedule in schedules if schedule.slug]
    assert len(set(slugs)) == len(slugs), f"{name}: two schedules share a slug: {slugs}"


@pytest.mark.parametrize("name", DEPLOYMENT_NAMES)
def test_the_deployment_runs_one_at_a_time_and_queues_the_next(name: str) -> None:
    """Every flow prefect.yaml deploys writes the one DuckDB warehouse, which takes one writer
    at a time: a run that comes due while another is going must wait (ENQUEUE), not run
    beside it (no limit, or a limit above 1) nor be dropped (CANCEL_NEW)."""
    spec = concurrency_spec(deploy_config(name))
    assert spec == {"limit": 1, "collision_strategy": "ENQUEUE"}, (
        f"{name}: concurrency {spec}; a second run would write the warehouse at the same time "
        "or be cancelled"
    )


# ---- a real Prefect server ------------------------------------------------------------------


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
def test_every_deployment_is_deployed_as_prefect_yaml_says(stack: PrefectStack) -> None:
    for config in deploy_configs():
        flow = entrypoint_flow(config)
        name = f"{flow.name}/{config['name']}"
        deployment = stack.deployment(name)
        assert deployment.work_pool_name == config["work_pool"]["name"], name
        assert deployment.parameters == config.get("parameters", {}), name
        assert sorted(deployment.tags) == sorted(config.get("tags", [])), name

        # With no anchor in the file, Prefect anchors a schedule at the moment it reads it.
        anchored = any("anchor_date" in s for s in config.get("schedules") or [])
        deployed = schedule_facts(deployment.schedules, anchored)
        written = schedule_facts(parsed_schedules(config), anchored)
        assert deployed == written, f"{name}: deployed {deployed}, prefect.yaml says {written}"
        # Prefect 3 keeps a deployment's limit as a global concurrency limit of its own.
        spec, limit = concurrency_spec(config), deployment.global_concurrency_limit
        assert deployment.concurrency_limit == spec["limit"] or (
            limit is not None and limit.limit == spec["limit"]
        ), (name, deployment.concurrency_limit, limit)
        strategy = deployment.concurrency_options.collision_strategy
        assert strategy == spec["collision_strategy"], (name, strategy)
        # The Custom run form is built from this schema: every field is described, and no
        # batch of zero can be asked for.
        schema = deployment.parameter_openapi_schema
        bound = flow.validate_parameters(config.get("parameters", {}))
        for key in config.get("parameters", {}):
            fields = schema["definitions"][type(bound[key]).__name__]["properties"]
            undescribed = [field for field, spec in fields.items() if not spec.get("description")]
            assert not undescribed, f"{name}: {key} fields without a description: {undescribed}"
            assert fields["batch_size"]["minimum"] >= 1, (name, fields["batch_size"])


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

    from warehouse.session import read_session

    with read_session(stack.warehouse) as reads:
        con = reads.con
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


def planned_starts(stack: PrefectStack, name: str) -> list[Any]:
    """Start times of the runs the scheduler planned for one deployment, in order."""
    runs = stack.scheduled_runs(stack.deployment(name).id)
    return sorted(run.expected_start_time for run in runs if run.auto_scheduled)


@pytest.mark.slow
def test_the_scheduler_plans_runs_at_each_schedules_interval(stack: PrefectStack) -> None:
    """At least two planned runs per schedule, since one run cannot show the spacing (Prefect
    plans at least 3 by default), spaced by the interval prefect.yaml gives; none for a
    deployment without a schedule."""
    expected = {}
    for config in deploy_configs():
        intervals = [s.schedule.interval for s in parsed_schedules(config)]
        assert len(intervals) <= 1, f"{config['name']}: one interval schedule per deployment here"
        expected[f"{entrypoint_flow(config).name}/{config['name']}"] = next(iter(intervals), None)
    assert any(expected.values()), f"prefect.yaml schedules nothing: {expected}"
    deadline = time.monotonic() + 30
    while True:
        planned = {name: planned_starts(stack, name) for name in expected}
        if all(len(planned[n]) >= 2 for n, i in expected.items() if i) or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(1)
    errors = stack.log_lines("server", "Error")[-3:]
    for name, interval in expected.items():
        starts = planned[name]
        if interval is None:
            assert starts == [], f"{name} has no schedule, yet runs were planned: {starts}"
            continue
        assert starts, (
            f"the server's scheduler planned no runs of {name}. Prefect 3.8.8's scheduler fails "
            "with SQLAlchemy 2.1 ('Can't evaluate bulk DML statement'): pin sqlalchemy<2.1. "
            "Server errors:\n" + "\n".join(errors)
        )
        assert len(starts) >= 2, (
            f"the scheduler planned only {starts} for {name}: one run cannot show the interval "
            "(Prefect plans at least PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS, 3 by default)"
        )
        wait_s = (starts[0] - datetime.now(UTC)).total_seconds()
        assert wait_s <= interval.total_seconds(), (
            f"{name}: the next planned run is {wait_s:.0f} s away, the interval {interval}"
        )
        gaps = {timedelta(seconds=(b - a).total_seconds()) for a, b in pairwise(starts)}
        assert gaps == {interval}, f"{name}: planned {starts}, gaps {gaps}, schedule {interval}"


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
    assert server.ui_url("http://127.0.0.1:4200/api") == "http://127.0.0.1:4200"
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


def read_by_prefect(command: list[str]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """What Prefect's own command line makes of `command`, without running it: the function it
    would call, that function's arguments, and the session options (such as --prompt). Raises
    on an option Prefect does not know."""
    from prefect.cli._app import _app, _normalize_top_level_flags

    quiet = {"exit_on_error": False, "print_error": False}
    _, session, _ = _app.meta.parse_args(_normalize_top_level_flags(command[1:]), **quiet)
    options = dict(session.arguments)
    function, bound, _ = _app.parse_args(list(options.pop("tokens", ())), **quiet)
    return function, dict(bound.arguments), options


def is_loopback(host: str) -> bool:
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def test_serve_commands_bind_locally_and_never_prompt() -> None:
    """The commands `corpus serve` runs, as the `prefect` it runs reads them: a server reachable
    from this machine only, with analytics off; a deploy that never stops to ask (a prompt hangs
    a command with no one to answer); a worker of the work pool's type polling that pool."""
    from prefect.cli.deploy._commands import deploy
    from prefect.cli.server import start as server_start
    from prefect.cli.worker import start as worker_start
    from prefect.workers.process import ProcessWorker

    prefect = serve.prefect_executable()
    command = serve.server_command(prefect, 4321)
    assert command[0] == prefect
    function, arguments, _ = read_by_prefect(command)
    assert function is server_start, (command, function)
    # No --host would leave it to PREFECT_SERVER_API_HOST, whatever the user's profile says.
    host = arguments.get("host") or "0.0.0.0"
    assert is_loopback(host), f"the server listens beyond this machine: {arguments}"
    assert arguments.get("port") == 4321, arguments
    assert arguments.get("analytics") is False, f"analytics left on: {arguments}"

    command = serve.deploy_command(prefect)
    function, arguments, options = read_by_prefect(command)
    assert function is deploy, (command, function)
    assert options.get("prompt") is False, f"deploy may prompt: {command} → {options}"
    assert arguments.get("deploy_all") is True, f"not every deployment in prefect.yaml: {arguments}"

    command = serve.worker_command(prefect, "some-pool")
    function, arguments, _ = read_by_prefect(command)
    assert function is worker_start, (command, function)
    assert arguments.get("work_pool_name") == "some-pool", arguments
    # ensure_work_pool creates a pool of ProcessWorker's type; a worker of another type
    # would not take its runs.
    assert arguments.get("worker_type") == ProcessWorker.type, (
        f"the pool is of type {ProcessWorker.type!r}, the worker: {arguments}"
    )


@pytest.mark.slow
def test_the_server_serve_starts_listens_on_this_machine_only(stack: PrefectStack) -> None:
    """The stack's server was started with serve.server_command: every socket listening on its
    port is a loopback address."""
    import psutil

    port = urlsplit(stack.api_url).port
    listening = {
        c.laddr.ip
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    }
    assert listening, f"nothing listens on port {port}\n{stack.diagnostics()}"
    assert all(ipaddress.ip_address(ip).is_loopback for ip in listening), (
        f"the Prefect server listens on {sorted(listening)}: reachable from other machines"
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(900, "every 15 min"), (3600, "every 1 h"), (90, "every 90 s")]
)
def test_schedules_read_as_a_person_says_them(seconds: int, text: str) -> None:
    from prefect.client.schemas.schedules import IntervalSchedule

    assert server.describe_schedule(IntervalSchedule(interval=timedelta(seconds=seconds))) == text


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
        f"import sys; from pathlib import Path; from cli.serve import serve; "
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
            for line in server.deployment_lines(serve.local_api_url(port), serve.DEFAULT_POOL)
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


def test_terminal_runs_send_no_heartbeats_to_a_temporary_server_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A run from the terminal with Prefect's temporary server (no PREFECT_API_URL) has no
    flow-run heartbeats (nothing outlives the process to watch them); a run reporting to a
    standing server keeps Prefect's setting."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings,
    )

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        monkeypatch.delenv("PREFECT_API_URL", raising=False)
        with server.terminal_run():
            assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().flows.heartbeat_frequency == 60
        monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
        with server.terminal_run():
            assert get_current_settings().flows.heartbeat_frequency == 60
