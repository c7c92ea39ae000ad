"""Crash safety: the real `corpus run` is killed with SIGKILL at random points, re-run, and the
warehouse it ends with is compared with the warehouse of an uninterrupted run.

A trial runs the ingest in a child process (the `corpus` command, on the session's Prefect test
server), reads its log as it goes and, when the chosen task starts (discovery, entity tagging or
the load transaction of the n-th batch), waits a random fraction of that task's usual duration
(measured on the reference run) and kills the child's process group with SIGKILL. The file must
then open and hold whole batches only: no row the reference lacks, every row the reference holds
for the inputs it holds anything of, as many rows as its ledger of committed batches says.
Trials are chained on one warehouse, so each run is the re-run of the previous kill; each chain
starts on a fresh file and ends with an uninterrupted re-run, after which the warehouse must hold
the same sources, documents, duplicates, mentions, rejects and band keys as the reference: no row
missing, no extra row. Which tasks were running at each kill is read back from the child's log,
and the kills must have landed in all three stages.

A failure prints the seed and every kill point; replay it with
`CRASH_TEST_SEED=<seed> .venv/bin/pytest tests/test_crash.py`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("CRASH_TEST_SEED", "20240322"))
STAGES = ("discover", "entities", "load")  # the task names the kills aim at
CHAINS = 2  # fresh warehouses
KILLS_PER_CHAIN = 12  # 24 trials in all
ARTICLES = 150  # plus 35 copies and bad files: ≈ 31 load transactions per full run
# The same for every run, the reference's too: whole batches commit in order, so a re-run's
# batches start where the reference's did and in-batch choices (the first copy is canonical) match.
BATCH_SIZE = 6
MAX_OCCURRENCE = 2  # a kill aims at one of a run's first batches, so a chain never runs dry
RUN_TIMEOUT_S = 300.0

# Tables that hold one row per run or per committed batch: they differ by design after crashes
# (a killed run keeps its 'running' row; the ledger's batch ids contain the run id).
BOOKKEEPING_TABLES = frozenset({"runs", "load_batches"})
# Columns that say which run wrote a row, and when: left out of the comparison.
PER_RUN_COLUMNS = frozenset({
    "run_id", "first_run_id", "last_run_id", "created_at", "recorded_at", "first_seen_at",
    "last_seen_at", "applied_at", "fetched_at", "joined_at",
})
# Running totals over every document so far (not rows of inputs): a crashed warehouse holds
# smaller ones; compared only once complete.
RUNNING_TOTALS = frozenset({"story_term_counts"})
# Tables whose rows the ledger (load_batches) counts in a column of the same name.
LEDGER_COUNTED = ("documents", "duplicates", "rejects", "mentions")
# The inputs a crashed warehouse holds anything of. A batch writes all its rows in one
# transaction, so it must hold everything the reference holds for them.
_COMMITTED_SOURCES = (
    "(select source_id from got.sources union select source_id from got.documents"
    " union select source_id from got.duplicates union select source_id from got.rejects)")

# Prefect's task run log lines; the child logs task runs at DEBUG, which adds the start line.
_TASK_EVENT = re.compile(
    r"Task run '(?P<name>[\w-]+)' - (?P<event>Executing task|Finished in state)")


def task_event(line: str) -> tuple[str, str, str] | None:
    """(task run name, stage, "start" or "end") when a log line starts or ends a task run: the
    stage is the task's name ('load-3fa' → 'load')."""
    if match := _TASK_EVENT.search(line):
        kind = "start" if match["event"] == "Executing task" else "end"
        return match["name"], match["name"].rsplit("-", 1)[0], kind
    return None


# --- the input ------------------------------------------------------------------------------

EN_SEEDS, IT_SEEDS = ("000", "001"), ("002", "003", "004")  # as tests/golden records them
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def seed_sentences(names: tuple[str, ...]) -> list[str]:
    """The body sentences of some seeds (their date header and URL line dropped)."""
    sentences = []
    for name in names:
        lines = (SEEDS / f"{name}.txt").read_text(encoding="utf-8").splitlines()[1:-1]
        for paragraph in "\n".join(lines).split("\n\n"):
            sentences += [s for s in _SENTENCE_END.split(paragraph.strip()) if s]
    return sentences


def article(rng: random.Random, number: int, pools: dict[str, list[str]],
            url: str | None = None) -> str:
    """A distinct article: a numbered lead and a random pick of one language's sentences, in
    paragraphs, mostly with a date header and a URL line (`url`, else mostly its own)."""
    language = rng.choice(sorted(pools))
    lead = f"Dispatch number {number}." if language == "en" else f"Dispaccio numero {number}."
    body = [lead, *rng.sample(pools[language], rng.randint(4, 6))]
    paragraphs = [" ".join(body[i:i + 2]) for i in range(0, len(body), 2)]
    if rng.random() < 0.8:
        paragraphs[0] = f" date 2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}\n" \
            + paragraphs[0]
    own = f"https://news.example.org/{language}/{number}" if rng.random() < 0.7 else None
    if url or own:
        paragraphs[-1] += f"\n{url or own}"
    return "\n\n".join(paragraphs)


def inbox_files(rng: random.Random, articles: int) -> list[tuple[str, bytes]]:
    """(kind, bytes) of every inbox file: distinct articles, exact and whitespace copies, edited
    (near) copies, new texts under a known URL, and files that must be rejected."""
    pools = {"en": seed_sentences(EN_SEEDS), "it": seed_sentences(IT_SEEDS)}
    texts = [article(rng, n, pools) for n in range(articles)]
    files = [("article", text) for text in texts]
    files += [("copy", rng.choice(texts)) for _ in range(12)]
    files += [("spaced", rng.choice(texts).replace(" ", "  ")) for _ in range(5)]
    for _ in range(8):  # a sentence less: a near duplicate
        paragraphs = rng.choice(texts).split("\n\n")
        paragraphs[1] = paragraphs[1].split(". ", 1)[-1]
        files.append(("edited", "\n\n".join(paragraphs)))
    urls = [text.rsplit("\n", 1)[1] for text in texts if "\nhttps://" in text]
    files += [("same-url", article(rng, articles + n, pools, url=rng.choice(urls)))
              for n in range(5)]  # another story under a URL already used: a url duplicate
    data = [(kind, text.encode()) for kind, text in files]
    feed = b'{"text": "Vladimir Putin spoke in Moscow on Friday, the Kremlin said."}\n{oops\n'
    data += [("empty", b""), ("blank", b"  \n\n \n"), ("binary", bytes(range(256)) * 8),
             ("feed", feed), ("scan", b"%PDF-1.4 not an article")]
    rng.shuffle(data)  # copies land before and after their originals, in and across batches
    return data


def write_inbox(folder: Path, rng: random.Random, articles: int) -> None:
    """Write the inbox, its files named in their shuffled order."""
    folder.mkdir(parents=True)
    suffixes = {"feed": "jsonl", "scan": "pdf"}
    files = inbox_files(rng, articles)
    for index, (kind, data) in enumerate(files):
        (folder / f"{index:04d}-{kind}.{suffixes.get(kind, 'txt')}").write_bytes(data)


# --- the child process ----------------------------------------------------------------------

def child_env(api_url: str, home: Path) -> dict[str, str]:
    """The child's environment: the session's Prefect server (no server of its own to start),
    offline, unbuffered, with task-run start lines in its log. CORPUSFLOW_* settings are dropped
    so that a setting in the caller's shell (another task runner, say) cannot change the run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORPUSFLOW_")}
    env.update(CORPUSFLOW_SETTLE_S="0",  # the inbox was written a moment ago, on purpose
               PREFECT_API_URL=api_url, PREFECT_HOME=str(home),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", PYTHONUNBUFFERED="1",
               PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL="DEBUG")
    return env


Event = tuple[float, str, str, str]  # (arrival time, task run name, stage, "start" or "end")


@dataclass
class Child:
    """One `corpus run` in its own process group, and its log lines as they arrive."""

    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    arrivals: queue.Queue[tuple[float, str] | None] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            self.arrivals.put((time.monotonic(), line))
        self.arrivals.put(None)

    def events(self) -> Iterator[Event]:
        """Task runs starting and ending, as the log shows them, until it ends: (time, task run
        name, stage, "start" or "end")."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            try:
                item = self.arrivals.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                pytest.fail(f"the run did not end in {RUN_TIMEOUT_S:.0f} s:\n{self.tail()}")
            if item is None:
                return
            if event := task_event(item[1]):
                yield item[0], *event

    def kill(self) -> None:
        """SIGKILL the whole process group (whoever writes the file), reap it, read its log."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.finish()

    def finish(self) -> int:
        """Wait for the process to end and its log to be read; its exit code."""
        code = self.proc.wait(timeout=RUN_TIMEOUT_S)
        self.reader.join(timeout=30)
        return code

    def tail(self, lines: int = 30) -> str:
        """The log's last lines, after the child's first error and traceback if it had one:
        the last lines alone are often only logging noise around the real error."""
        first_error = next((n for n, line in enumerate(self.log)
                            if line.startswith("Traceback") or " | ERROR " in line), None)
        head = self.log[first_error:first_error + 60] if first_error is not None else []
        return "".join([*head, "...\n" if head else "", *self.log[-lines:]])


@dataclass
class Runner:
    """Starts `corpus run` on one inbox as a person would (this virtualenv's command), and
    kills whatever is still running when the test ends, pass or fail."""

    inbox: Path
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)

    def start(self, db: Path) -> Child:
        command = [sys.executable, "-m", "cli", "run", "--inbox", str(self.inbox),
                   "--db", str(db), "--batch-size", str(BATCH_SIZE)]
        proc = subprocess.Popen(command, env=self.env, cwd=db.parent, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                errors="replace", start_new_session=True)
        self.children.append(Child(proc))
        return self.children[-1]

    def close(self) -> None:
        for child in self.children:
            if child.proc.poll() is None:
                child.kill()


@pytest.fixture
def runner(prefect_server: None, tmp_path: Path) -> Iterator[Runner]:
    """A runner on a fresh inbox, talking to the session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    inbox = tmp_path / "inbox"
    write_inbox(inbox, random.Random(f"inbox-{SEED}"), ARTICLES)
    started = Runner(inbox, child_env(str(PREFECT_API_URL.value()), tmp_path / "prefect-home"))
    try:
        yield started
    finally:
        started.close()


def in_flight(log: list[str]) -> list[str]:
    """The stages of the task runs that had started and not finished when the log ended."""
    running: dict[str, str] = {}
    for name, stage, kind in filter(None, map(task_event, log)):
        if kind == "start":
            running[name] = stage
        else:
            running.pop(name, None)
    return sorted(running.values())


def finished(log: list[str], stage: str) -> int:
    """How many task runs of `stage` the log shows finished."""
    return sum(event[1:] == (stage, "end") for event in filter(None, map(task_event, log)))


# --- the warehouse --------------------------------------------------------------------------

def opens(db: Path) -> str | None:
    """None when the file opens read-only and its documents can be read, else the error."""
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            con.execute("select count(*) from documents").fetchone()
    except duckdb.Error as error:
        return f"{type(error).__name__}: {error}"
    return None


def committed_batches(db: Path) -> int:
    """Rows in the ledger of committed batches (none before the first run made the file)."""
    if not db.exists():
        return 0
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select count(*) from load_batches").fetchone()[0]


def _shown(row: tuple) -> str:
    return repr(tuple(str(v)[:60] if isinstance(v, str) else v for v in row))


def _rows_diff(con: duckdb.DuckDBPyConnection, label: str, table: str, sql: str,
               shown: int) -> list[str]:
    rows = con.execute(sql).fetchall()
    if not rows:
        return []
    listed = "\n    ".join(_shown(row) for row in sorted(rows, key=repr)[:shown])
    return [f"{table}: {len(rows)} {label} rows, e.g.\n    {listed}"]


def _committed_rows(columns: list[str]) -> str | None:
    """The filter on a reference table that picks the rows a crashed warehouse must hold: those
    of the inputs it holds anything of, and of their documents."""
    if "source_id" in columns:
        return f"where source_id in {_COMMITTED_SOURCES}"
    if "doc_id" in columns:
        return (f"where doc_id in (select doc_id from ref.documents"
                f" where source_id in {_COMMITTED_SOURCES})")
    return None


def warehouse_diff(reference: Path, candidate: Path, complete: bool, shown: int = 5) -> list[str]:
    """How `candidate` departs from `reference` in content (per-run columns left out), table by
    table, duplicate rows counted. Always: rows the reference lacks. A `complete` candidate must
    also hold every reference row and the same ledger totals; a crashed one, every row of the
    inputs it holds anything of (whole batches) and, in each table the ledger counts, as many
    rows as its committed batches wrote."""
    diffs: list[str] = []
    with duckdb.connect() as con:
        con.execute(f"attach '{reference}' as ref (read_only)")
        con.execute(f"attach '{candidate}' as got (read_only)")

        def tables(db: str) -> set[str]:
            return {row[0] for row in con.execute(
                "select table_name from duckdb_tables() where database_name = ?", [db]).fetchall()}

        if tables("ref") != tables("got"):
            diffs.append(f"tables: reference {sorted(tables('ref'))}, got {sorted(tables('got'))}")
        for table in sorted(tables("ref") - BOOKKEEPING_TABLES):
            columns = [row[0] for row in con.execute(
                "select column_name from duckdb_columns() where database_name = 'ref'"
                " and table_name = ? order by column_index", [table]).fetchall()
                if row[0] not in PER_RUN_COLUMNS]
            listed = ", ".join(f'"{column}"' for column in columns)
            got, ref = f"select {listed} from got.{table}", f"select {listed} from ref.{table}"
            if table in RUNNING_TOTALS and not complete:
                continue
            diffs += _rows_diff(con, "extra", table, f"{got} except all {ref}", shown)
            if complete:
                diffs += _rows_diff(con, "missing", table, f"{ref} except all {got}", shown)
            elif scope := _committed_rows(columns):
                diffs += _rows_diff(con, "missing (of inputs it holds)", table,
                                    f"{ref} {scope} except all {got}", shown)
        if complete:
            ledger = ("select sum(files), sum(files_unchanged), sum(documents), sum(duplicates),"
                      " sum(rejects), sum(mentions) from {}.load_batches")
            totals = [con.execute(ledger.format(db)).fetchone() for db in ("ref", "got")]
            if totals[0] != totals[1]:
                diffs.append("ledger totals (files, unchanged, documents, duplicates, rejects,"
                             f" mentions): reference {totals[0]}, got {totals[1]}")
        else:
            for table in LEDGER_COUNTED:
                rows, committed = con.execute(
                    f"select (select count(*) from got.{table}),"
                    f" (select coalesce(sum({table}), 0) from got.load_batches)").fetchone()
                if rows != committed:
                    diffs.append(f"{table}: {rows} rows, the ledger's batches wrote {committed}")
    return diffs


# --- the trials -----------------------------------------------------------------------------

@dataclass
class Trial:
    """One kill: where it aimed; which task runs were in flight when the child died; how many
    batches its run committed, and how many of those no load task reported done (committed,
    never acknowledged); how much write-ahead log it left (committed, not checkpointed)."""

    chain: int
    stage: str
    occurrence: int
    delay_s: float
    landed: list[str] = field(default_factory=list)
    committed: int = 0
    unacknowledged: int = 0
    wal_bytes: int = 0

    def __str__(self) -> str:
        notes = [f"batches committed: {self.committed}"]
        notes += [f"unacknowledged: {self.unacknowledged}"] if self.unacknowledged else []
        notes += [f"WAL left: {self.wal_bytes:,} bytes"] if self.wal_bytes else []
        return (f"chain {self.chain}: {self.stage} #{self.occurrence} + {self.delay_s * 1000:.0f}"
                f" ms → in flight: {', '.join(self.landed) or 'between tasks'}"
                f" ({', '.join(notes)})")


def reference_run(runner: Runner, db: Path) -> dict[str, float]:
    """Run the ingest uninterrupted; the median seconds each aimed-at stage takes on this
    machine, now (a kill waits a random fraction of it, so it lands inside the task)."""
    child = runner.start(db)
    started: dict[str, float] = {}  # by task run: two batches' stages may overlap
    durations: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for at, name, stage, event in child.events():
        if stage in durations and event == "start":
            started[name] = at
        elif stage in durations:
            durations[stage].append(at - started.pop(name))
    assert child.finish() == 0, f"the reference run failed:\n{child.tail()}"
    return {stage: statistics.median(seconds) for stage, seconds in durations.items()}


def plan(rng: random.Random, typical_s: dict[str, float]) -> list[Trial]:
    """The kill points: as many per stage, in random order; a random batch and delay each."""
    stages = [STAGES[n % len(STAGES)] for n in range(CHAINS * KILLS_PER_CHAIN)]
    rng.shuffle(stages)
    return [Trial(chain=n // KILLS_PER_CHAIN, stage=stage,
                  occurrence=1 if stage == "discover" else rng.randint(1, MAX_OCCURRENCE),
                  delay_s=rng.uniform(0, typical_s[stage]))
            for n, stage in enumerate(stages)]


def kill_at(runner: Runner, trial: Trial, db: Path) -> str | None:
    """Start a run and kill it at the trial's point; None, or why that could not be done."""
    before = committed_batches(db)
    child = runner.start(db)
    starts = 0
    for at, _, stage, event in child.events():
        starts += (stage, event) == (trial.stage, "start")
        if starts == trial.occurrence:
            time.sleep(max(0.0, at + trial.delay_s - time.monotonic()))
            break
    else:
        code = child.finish()
        return f"the run ended (exit code {code}) before its kill point:\n{child.tail()}"
    child.kill()  # and reaped: no process holds the file now
    wal = db.with_name(db.name + ".wal")
    trial.wal_bytes = wal.stat().st_size if wal.exists() else 0
    trial.landed = in_flight(child.log)
    if error := opens(db):
        return f"the warehouse does not open: {error}"
    trial.committed = committed_batches(db) - before
    trial.unacknowledged = trial.committed - finished(child.log, "load")
    return None


def test_sigkill_at_random_points_then_rerun_matches_an_uninterrupted_run(
    runner: Runner, tmp_path: Path
) -> None:
    reference = tmp_path / "reference" / "corpus.duckdb"
    reference.parent.mkdir()
    typical_s = reference_run(runner, reference)
    trials = plan(random.Random(f"kills-{SEED}"), typical_s)

    def report(*lines: str) -> str:
        typical = ", ".join(f"{stage} {s * 1000:.0f} ms" for stage, s in typical_s.items())
        setup = f"seed {SEED} (CRASH_TEST_SEED), batch size {BATCH_SIZE}, task times: {typical}"
        return "\n".join([*lines, setup, *map(str, trials)])

    for chain in range(CHAINS):
        db = tmp_path / f"chain-{chain}" / "corpus.duckdb"
        db.parent.mkdir()
        for trial in (t for t in trials if t.chain == chain):
            if problem := kill_at(runner, trial, db):
                pytest.fail(report(f"{trial}: {problem}"))
            if diffs := warehouse_diff(reference, db, complete=False):
                pytest.fail(report(f"after {trial}:", *diffs))
        child = runner.start(db)  # the last re-run, left to finish
        if code := child.finish():
            pytest.fail(report(f"chain {chain}: the re-run failed ({code}):\n{child.tail()}"))
        if diffs := warehouse_diff(reference, db, complete=True):
            pytest.fail(report(f"chain {chain} differs from the uninterrupted run:", *diffs))
        with duckdb.connect(str(db), read_only=True) as con:
            statuses = dict(con.execute("select status, count(*) from runs group by all").fetchall())
        # The killed runs that had started are marked crashed by the next run; none stays running.
        assert "running" not in statuses and 1 <= statuses.get("crashed", 0) <= KILLS_PER_CHAIN, \
            report(f"chain {chain}: run statuses {statuses}")
        assert not list(db.parent.glob(".*.partial")), report(f"chain {chain}: partial copies left")

    landed = Counter(stage for t in trials for stage in set(t.landed) & set(STAGES))
    print(report(f"\nkills that landed in each stage: {dict(landed)}"))
    assert set(landed) == set(STAGES), report(f"a stage was never hit: {dict(landed)}")
