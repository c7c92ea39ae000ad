"""Golden-warehouse check: does a refactoring leave the warehouse it builds unchanged?

Ingests seeds/ and the BBC corpus (../shared/data/bbc-news, when present) with the corpusflow code
of a checkout, then writes, per table (documents, sources, duplicates, mentions, rejects, and
lsh_bands, entity_aliases when present), the row count and an order-independent hash of the rows:
sha256 over the sorted sha256 of each row's canonical JSON. Run ids and timestamps (`*run_id`,
`batch_id`, `*_at` columns) differ on every run and are left out; the excluded columns are printed.
The inputs (this checkout's seeds/, the BBC .txt files, and a few bad files written here that
end as rejects) are copied once to a fixed folder,
/tmp/corpusflow-golden-inputs (delete it to copy again), so that both runs see them at the same
paths (sources.locator holds the path) with the same mtimes.

    .venv/bin/python bench/golden_warehouse.py snapshot --code DIR --out FILE.json [--limit N]
    .venv/bin/python bench/golden_warehouse.py compare A.json B.json     # exit 1 if a table differs
    .venv/bin/python bench/golden_warehouse.py run --before DIR --after DIR [--limit N]

DIR is a checkout (e.g. `git worktree add /tmp/golden-base <commit>`); its code runs in a child
process of this interpreter with DIR first on the path (not the venv's editable install of
/work/main), through its CLI: `cli.main` if DIR/cli/ exists, else `flows.cli.main`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
BBC = ROOT.parent / "shared" / "data" / "bbc-news"
STAGE = Path("/tmp/corpusflow-golden-inputs")
TABLES = ["documents", "sources", "duplicates", "mentions", "rejects", "lsh_bands", "entity_aliases"]
# Columns naming a row in the samples shown when a table differs.
KEYS = {"documents": ["doc_id"], "sources": ["locator"], "duplicates": ["source_id", "method"],
        "mentions": ["doc_id", "start_char", "end_char", "label"], "rejects": ["locator"],
        "lsh_bands": ["doc_id", "band"], "entity_aliases": ["alias", "language"]}
# Runs the checkout's CLI: argv = DIR, module, CLI arguments. Drops the editable finder (which maps
# flows/tasks/warehouse to /work/main) and proves where the packages come from.
BOOTSTRAP = """\
import importlib, os, sys
code, module = sys.argv[1], sys.argv[2]
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path.insert(0, code)
for name in dict.fromkeys(("flows", "tasks", "warehouse", module.split(".")[0])):
    if os.path.isdir(os.path.join(code, name)):
        path = importlib.import_module(name).__file__
        print(f"import check: {name} from {path}", file=sys.stderr)
        if not path.startswith(code + os.sep):
            sys.exit(f"import check failed: {name} from {path}, not {code}")
sys.exit(importlib.import_module(module).main(sys.argv[3:]))
"""


def stage_inputs(limit: int | None) -> list[Path]:
    """The input folders, copied once (files and mtimes) and reused by every later run."""
    STAGE.mkdir(parents=True, exist_ok=True)
    folders = [(ROOT / "seeds", STAGE / "seeds", "**/*", None)]
    if BBC.exists():
        name = "bbc" if limit is None else f"bbc-first-{limit}"
        folders.append((BBC, STAGE / name, "*/*.txt", limit))
    else:
        print(f"BBC corpus not found at {BBC}: ingesting seeds/ only")
    write_bad_inputs(STAGE / "bad")
    for source, target, pattern, first in folders:
        done = target.with_name(target.name + ".complete")
        if done.exists():
            continue
        shutil.rmtree(target, ignore_errors=True)
        files = sorted(p for p in source.glob(pattern) if p.is_file())
        for path in files[:first]:
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(source))
        done.touch()
    return [target for _, target, _, _ in folders] + [STAGE / "bad"]


# Inputs that end as rejects or duplicates, so that those tables are compared on real rows.
BAD_INPUTS: dict[str, bytes] = {
    "empty.txt": b"",
    "blank.txt": b"  \n\n  \n",
    "binary.txt": bytes(range(256)) * 8,
    "controls.txt": b"\x01\x02\x03\x04" * 200,
    "notes.pdf": b"%PDF-1.4 not an article format",
    "records.jsonl": b'{"text": "A JSON Lines record that is long enough to be kept as an article about '
                     b'the port of Odesa reopening for grain ships."}\n{not json}\n[1, 2]\n'
                     b'{"title": "no text field"}\n',
    "page.html": b"<html><head><title>Nothing here</title></head><body><p>Too short.</p></body>"
                 b"</html>",
}


def write_bad_inputs(folder: Path) -> None:
    """The bad inputs, written once with a fixed mtime (the sources table stores it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in BAD_INPUTS.items():
        path = folder / name
        if not path.exists():
            path.write_bytes(data)
            os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))


def ingest(code: Path, db: Path, inputs: list[Path]) -> float:
    """Run `corpus run --db DB --inbox INPUTS...` with the checkout's code; seconds taken."""
    module = "cli" if (code / "cli" / "__init__.py").exists() else "flows.cli"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CORPUSFLOW_", "PREFECT_")) and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(code), PREFECT_HOME=str(db.parent / "prefect-home"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_LOGGING_LEVEL="WARNING", COLUMNS="120")
    argv = [sys.executable, "-c", BOOTSTRAP, str(code), module,
            "run", "--db", str(db), "--inbox", *map(str, inputs)]
    started = time.perf_counter()
    done = subprocess.run(argv, check=False, cwd=code, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    checks = [line for line in done.stderr.splitlines() if line.startswith("import check")]
    print("\n".join(checks), flush=True)
    if done.returncode != 0:
        sys.exit(f"{module}.main failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                 f"{done.stderr[-3000:]}")
    return seconds


def excluded(column: str) -> bool:
    """Columns that differ on every run: run ids and timestamps."""
    return column.endswith(("run_id", "_at")) or column == "batch_id"


def hash_table(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    columns = [c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_name = ?"
        " order by ordinal_position", [table]).fetchall()]
    kept = [c for c in columns if not excluded(c)]
    keys = [kept.index(k) for k in KEYS.get(table, []) if k in kept]
    rows = []
    for row in con.execute(f"select {', '.join(kept)} from {table}").fetchall():
        canonical = json.dumps(dict(zip(kept, row)), sort_keys=True, default=str,
                               ensure_ascii=False)
        key = "|".join(str(row[i]) for i in keys)
        rows.append((hashlib.sha256(canonical.encode()).hexdigest()[:16], key))
    rows.sort()
    digest = hashlib.sha256("".join(d for d, _ in rows).encode()).hexdigest()
    return {"rows": len(rows), "sha256": digest, "columns": kept,
            "excluded": [c for c in columns if excluded(c)], "row_hashes": rows}


def snapshot(code: Path, out: Path, limit: int | None) -> dict:
    code = code.resolve()
    inputs = stage_inputs(limit)
    workdir = Path(tempfile.mkdtemp(prefix="corpusflow-golden-"))
    db = workdir / "golden.duckdb"
    print(f"ingesting {', '.join(map(str, inputs))} with {code} into {db}")
    seconds = ingest(code, db, inputs)
    shutil.rmtree(workdir / "prefect-home", ignore_errors=True)
    with duckdb.connect(str(db), read_only=True) as con:
        present = {t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_type = 'BASE TABLE'")
            .fetchall()}
        tables = {t: hash_table(con, t) for t in TABLES if t in present}
    commit = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
                            check=False, capture_output=True, text=True).stdout.strip()
    result = {"code": str(code), "commit": commit, "db": str(db), "seconds": round(seconds, 1),
              "inputs": list(map(str, inputs)), "tables": tables}
    out.write_text(json.dumps(result))
    print(f"ingest took {seconds:.1f} s (Prefect start-up included); warehouse kept at {db}")
    print(f"{'table':<16}{'rows':>9}  sha256 (first 16)  excluded columns")
    for name, table in tables.items():
        print(f"{name:<16}{table['rows']:>9}  {table['sha256'][:16]}   "
              f"{', '.join(table['excluded']) or '-'}")
    print(f"snapshot written to {out}")
    return result


def compare(a: dict, b: dict, samples: int = 3) -> int:
    """Print the per-table comparison; 1 when any table differs."""
    print(f"A: {a['code']} ({a.get('commit')}), {a['seconds']} s, warehouse {a['db']}")
    print(f"B: {b['code']} ({b.get('commit')}), {b['seconds']} s, warehouse {b['db']}")
    print(f"{'table':<16}{'rows A':>9}{'rows B':>9}  result")
    failed = 0
    for name in [t for t in TABLES if t in a["tables"] or t in b["tables"]]:
        ta, tb = a["tables"].get(name), b["tables"].get(name)
        if ta is None or tb is None:
            print(f"{name:<16}{ta['rows'] if ta else '-':>9}{tb['rows'] if tb else '-':>9}"
                  "  DIFFERS (table missing on one side)")
            failed = 1
            continue
        same = ta["sha256"] == tb["sha256"] and ta["columns"] == tb["columns"]
        print(f"{name:<16}{ta['rows']:>9}{tb['rows']:>9}  {'equal' if same else 'DIFFERS'}")
        if same:
            continue
        failed = 1
        if ta["columns"] != tb["columns"]:
            print(f"    columns A {ta['columns']}\n    columns B {tb['columns']}")
        only_a = Counter(map(tuple, ta["row_hashes"])) - Counter(map(tuple, tb["row_hashes"]))
        only_b = Counter(map(tuple, tb["row_hashes"])) - Counter(map(tuple, ta["row_hashes"]))
        for side, only in (("A", only_a), ("B", only_b)):
            keys = sorted(key for _, key in only.elements())
            print(f"    {len(keys)} rows only in {side}; keys: {keys[:samples]}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    snap = commands.add_parser("snapshot", help="ingest with one checkout, hash its tables")
    snap.add_argument("--code", type=Path, required=True)
    snap.add_argument("--out", type=Path, required=True)
    cmp_ = commands.add_parser("compare", help="compare two snapshots")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    both = commands.add_parser("run", help="snapshot before and after, then compare")
    both.add_argument("--before", type=Path, required=True)
    both.add_argument("--after", type=Path, required=True)
    both.add_argument("--out-dir", type=Path, default=Path("/tmp"))
    for sub in (snap, both):
        sub.add_argument("--limit", type=int, help="only the first N BBC files (a quick check)")
    args = parser.parse_args()
    if args.command == "snapshot":
        snapshot(args.code, args.out, args.limit)
        return 0
    if args.command == "compare":
        return compare(json.loads(args.a.read_text()), json.loads(args.b.read_text()))
    before = snapshot(args.before, args.out_dir / "golden-before.json", args.limit)
    after = snapshot(args.after, args.out_dir / "golden-after.json", args.limit)
    return compare(before, after)


if __name__ == "__main__":
    sys.exit(main())
