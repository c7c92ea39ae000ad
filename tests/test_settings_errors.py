"""Settings a person gets wrong: a bad CORPUSFLOW_* value (environment or .env) stops every
`corpus` command with one line naming the variable, the value and what it takes (status 2, no
traceback); a misspelt variable is warned about and the command goes on; a misspelt key in a
JSON-valued setting or in a flow's `settings` parameter is refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cli import main
from tests.conftest import ROOT
from warehouse.settings import PREFIX, get_settings, known_variables, unused_variables

CORPUS = Path(sys.executable).with_name("corpus")

# (variable, value, the line `corpus` prints for it)
BAD_VALUES = [
    ("CORPUSFLOW_LOCK_TIMEOUT_S", "abc", "CORPUSFLOW_LOCK_TIMEOUT_S: expected a number, got 'abc'"),
    ("CORPUSFLOW_INBOX", "seeds",
     """CORPUSFLOW_INBOX: expected a JSON list like '["seeds/*.txt"]', got 'seeds'"""),
    ("CORPUSFLOW_ALLOWED_NETWORKS", "127.0.0.1",
     ("CORPUSFLOW_ALLOWED_NETWORKS: expected a JSON list like '[\"127.0.0.1\", \"10.0.0.0/8\"]', "
      "got '127.0.0.1'")),
    ("CORPUSFLOW_ALLOWED_NETWORKS", '["127.0.0.1", "localhost:8765"]',
     ("CORPUSFLOW_ALLOWED_NETWORKS[1]: expected an address like 127.0.0.1, a network like "
      "10.0.0.0/8 or a host name, without a port, got 'localhost:8765'")),
    ("CORPUSFLOW_TASK_RUNNER", "thread",
     "CORPUSFLOW_TASK_RUNNER: expected 'threads', 'processes' or 'dask', got 'thread'"),
    ("CORPUSFLOW_MEMORY_BUDGET_MB", "100",
     "CORPUSFLOW_MEMORY_BUDGET_MB: expected at least 256, got '100'"),
    ("CORPUSFLOW_WORKERS", "two", "CORPUSFLOW_WORKERS: expected a whole number, got 'two'"),
    ("CORPUSFLOW_LANGUAGE_MIN_PROB", "high",
     "CORPUSFLOW_LANGUAGE_MIN_PROB: expected a number, got 'high'"),
    ("CORPUSFLOW_STORIES", '{"treshold": 0.3}',
     ("CORPUSFLOW_STORIES: unknown key 'treshold' (did you mean 'threshold'?); the keys are "
      "threshold, window_days, root_floor")),
    ("CORPUSFLOW_NEAR_DUPLICATES", '{"bands": 0}',
     'CORPUSFLOW_NEAR_DUPLICATES["bands"]: expected at least 1, got 0'),
    ("CORPUSFLOW_NER_MODELS", "en=en_core_web_sm",
     ("""CORPUSFLOW_NER_MODELS: expected a JSON object like '{"en": "en_core_web_sm"}', """
      "got 'en=en_core_web_sm'")),
]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory (no .env, no warehouse) and no CORPUSFLOW_* variable but the
    ones a test sets."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.upper().startswith(PREFIX)]:
        monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.parametrize(("variable", "value", "line"), BAD_VALUES,
                         ids=[f"{v}={value}" for v, value, _ in BAD_VALUES])
def test_a_bad_value_stops_the_command_with_one_line_naming_the_variable(
    variable: str, value: str, line: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["sql", "select 1"]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [line]
    assert out == ""


def test_corpus_run_and_fetch_refuse_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (Path("seeds")).mkdir()  # so that a run that went on would not stop at a missing inbox
    monkeypatch.setenv("CORPUSFLOW_ALLOWED_NETWORKS", '["localhost:8765"]')
    assert main(["run"]) == 2
    assert main(["fetch", "--url", "http://localhost:8765/a"]) == 2
    err = capsys.readouterr().err
    assert err.count("CORPUSFLOW_ALLOWED_NETWORKS[0]:") == 2, err
    assert not Path("data").exists(), "a warehouse was created by a refused command"


def test_a_bad_dotenv_entry_is_named_as_one_and_the_real_command_prints_no_traceback(
    workdir: Path,
) -> None:
    (workdir / ".env").write_text("CORPUSFLOW_WORKERS=two\nCORPUSFLOW_LOCK_TIMEOUT_S=soon\n")
    done = subprocess.run([str(CORPUS), "sql", "select 1"], cwd=workdir, capture_output=True, check=False,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    # Both bad entries at once, though they are in different sections.
    assert done.stderr.splitlines() == [
        "CORPUSFLOW_LOCK_TIMEOUT_S (in .env): expected a number, got 'soon'",
        "CORPUSFLOW_WORKERS (in .env): expected a whole number, got 'two'",
    ]


def test_the_environment_wins_over_dotenv_and_is_named_as_the_culprit(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / ".env").write_text("CORPUSFLOW_WORKERS=2\n")
    monkeypatch.setenv("CORPUSFLOW_WORKERS", "two")
    assert main(["sql", "select 1"]) == 2
    assert capsys.readouterr().err == "CORPUSFLOW_WORKERS: expected a whole number, got 'two'\n"


def test_a_misspelt_variable_is_warned_about_and_the_command_goes_on(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / ".env").write_text("CORPUSFLOW_LOCK_TIMEOUT=5\n")
    monkeypatch.setenv("CORPUSFLOW_WORKER", "1")
    monkeypatch.setenv("CORPUSFLOW_ALLOWED_NETWORK", '["127.0.0.1"]')
    monkeypatch.setenv("CORPUSFLOW_NOTHING_LIKE_IT", "1")
    db = workdir / "corpus.duckdb"
    assert main(["migrate", "--db", str(db)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == [
        ("warning: CORPUSFLOW_ALLOWED_NETWORK is not a setting and is ignored "
         "(did you mean CORPUSFLOW_ALLOWED_NETWORKS?)"),
        ("warning: CORPUSFLOW_LOCK_TIMEOUT (in .env) is not a setting and is ignored "
         "(did you mean CORPUSFLOW_LOCK_TIMEOUT_S?)"),
        "warning: CORPUSFLOW_NOTHING_LIKE_IT is not a setting and is ignored",
        ("warning: CORPUSFLOW_WORKER is not a setting and is ignored "
         "(did you mean CORPUSFLOW_WORKERS?)"),
    ]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from schema_migrations").fetchone()[0] > 0


def test_the_json_sections_read_no_flat_variable_of_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """CORPUSFLOW_THRESHOLD named both the near-duplicate and the story threshold at once:
    those sections are set only as JSON objects, and a flat name of theirs is warned about."""
    monkeypatch.setenv("CORPUSFLOW_THRESHOLD", "0.9")
    monkeypatch.setenv("CORPUSFLOW_WINDOW_DAYS", "30")
    settings = get_settings()
    assert (settings.dedup.threshold, settings.stories.threshold) == (0.6, 0.2)
    assert settings.stories.window_days == 3
    assert sorted(unused_variables()) == [
        "CORPUSFLOW_THRESHOLD is not a setting and is ignored",
        "CORPUSFLOW_WINDOW_DAYS is not a setting and is ignored"]


def test_every_documented_setting_is_read_so_none_is_warned_about() -> None:
    table = (ROOT / "README.md").read_text().partition("## Settings")[2]
    documented = set(re.findall(r"^\| `(CORPUSFLOW_[A-Z_]+)`", table, re.MULTILINE))
    assert len(documented) > 20
    assert documented <= known_variables(), documented - known_variables()


def test_valid_settings_read_as_before(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text("CORPUSFLOW_WORKERS=3\n")
    monkeypatch.setenv("CORPUSFLOW_ALLOWED_NETWORKS",
                       '["127.0.0.1", "10.0.0.0/8", "::1", "intranet.example"]')
    monkeypatch.setenv("CORPUSFLOW_STORIES", '{"threshold": 0.3}')
    monkeypatch.setenv("CORPUSFLOW_LANGUAGE_MIN_PROB", "0.8")
    settings = get_settings()
    assert settings.fetch.allowed_networks == ("127.0.0.1", "10.0.0.0/8", "::1",
                                               "intranet.example")
    assert (settings.runners.workers, settings.stories.threshold) == (3, 0.3)
    assert settings.stories.window_days == 3  # the keys a JSON setting leaves out keep defaults
    assert settings.language.min_prob == 0.8


def test_a_misspelt_key_in_a_flows_settings_parameter_is_refused_by_server_and_flow() -> None:
    from prefect.exceptions import ParameterTypeError
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.schema_tools import ValidationError, validate

    flow = load_flow_from_entrypoint(f"{ROOT / 'flows/ingest_urls.py'}:ingest_urls")
    schema = flow.parameters.model_dump_for_openapi()  # what the server checks a run against
    good = {"settings": {"fetch": {"allowed_networks": ["127.0.0.1"]}}}
    misspelt = {"settings": {"fetch": {"allowed_network": ["127.0.0.1"]}}}
    validate(good, schema, raise_on_error=True)
    with pytest.raises(ValidationError, match="allowed_network' was unexpected"):
        validate(misspelt, schema, raise_on_error=True)
    assert flow.validate_parameters(good)["settings"].fetch.allowed_networks == ("127.0.0.1",)
    with pytest.raises(ParameterTypeError, match="allowed_network"):
        flow.validate_parameters(misspelt)
    with pytest.raises(ParameterTypeError, match="without a port"):
        flow.validate_parameters({"settings": {"fetch": {"allowed_networks": ["localhost:80"]}}})
