"""Writes: idempotent bulk upserts, one transaction per batch, recorded in a ledger."""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
from pydantic import BaseModel

from warehouse.bind import rows_of
from warehouse.queries import Reads
from warehouse.records import BandKeys, Batch, Mention, Source, StorySplit, utc_now

# The key of each table. Most tables keep no key index (migrations 0008 and 0009: DuckDB holds
# such an index wholly in memory), so the writer keeps the keys unique: a batch's rows are
# de-duplicated on the key, and only keys the table does not hold yet are inserted.
_KEYS: dict[str, tuple[str, ...]] = {
    "sources": ("source_id",),
    "documents": ("doc_id",),
    "duplicates": ("source_id", "canonical_doc_id", "method"),
    "mentions": ("doc_id", "tagger", "start_char", "end_char", "label"),
    "rejects": ("source_id", "content_hash"),
    "lsh_bands": ("doc_id", "band"),
    "http_fetches": ("url", "fetched_at"),
    "entity_aliases": ("alias", "language"),
    "story_terms": ("doc_id", "term"),
    "story_term_counts": ("term",),
    "story_members": ("doc_id",),
    "story_links": ("doc_id", "linked_doc_id"),
}

# What a source seen again takes from its newest sighting (the rest stays from its first).
_SOURCE_UPDATED = ("size", "mtime_ns", "content_hash", "encoding", "status", "doc_id",
                   "last_run_id", "last_seen_at")


def _unique_by_key(rows: list[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for row in rows:
        marker = tuple(row[column] for column in key)
        if marker not in seen:
            seen.add(marker)
            unique.append(row)
    return unique


def _columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    return {column: [row[column] for row in rows] for column in rows[0]}


def _dicts(records: Sequence[BaseModel], **extra: Any) -> list[dict[str, Any]]:
    return [{**record.model_dump(), **extra} for record in records]


_MENTION_KEY = operator.itemgetter(*(Mention._fields.index(c) for c in _KEYS["mentions"]))


def _mention_columns(mentions: Sequence[Mention]) -> dict[str, list]:
    """Mentions as columns, the first of any repeated key kept (as insert_rows keeps rows)."""
    unique: dict[tuple, Mention] = {}
    for mention in mentions:
        unique.setdefault(_MENTION_KEY(mention), mention)
    return {field: list(values) for field, values in zip(Mention._fields, zip(*unique.values()))}


def _rows_of_new(columns: dict[str, list], stored: set[str]) -> dict[str, list]:
    """The rows (given as columns with a doc_id column) of documents not in `stored`."""
    kept = [n for n, doc_id in enumerate(columns["doc_id"]) if doc_id not in stored]
    if len(kept) == len(columns["doc_id"]):
        return columns
    return {name: [values[n] for n in kept] for name, values in columns.items()}


class Writes(Reads):
    """The warehouse's writes, as methods of a run's session (warehouse/session.py)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(con)
        self._types_read: dict[str, dict[str, str]] = {}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            try:
                self.con.execute("rollback")
            except Exception:  # a dead connection (a full disk): the first error says why
                pass
            raise
        self.con.execute("commit")

    def _column_types(self, table: str) -> dict[str, str]:
        """The table's column types, read once per session (the schema is migrated when the
        session opens and not changed after; information_schema takes milliseconds a read)."""
        if table not in self._types_read:
            self._types_read[table] = dict(self.con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_name = ?", [table]).fetchall())
        return self._types_read[table]

    def insert_rows(self, table: str, rows: list[dict[str, Any]], *, only_new: bool = True
                    ) -> int:
        """Insert `rows` (dicts with equal keys) in one statement: each column is bound as one
        list parameter and unnested, which is far faster than executemany. Rows repeating a key
        of the batch are dropped, and with `only_new` those whose key is stored already. Returns
        how many rows were inserted."""
        if not rows:
            return 0
        rows = _unique_by_key(rows, _KEYS.get(table, tuple(rows[0])))
        return self.insert_columns(table, _columns(rows), only_new=only_new)

    def insert_columns(self, table: str, columns: dict[str, list], *, only_new: bool = True
                       ) -> int:
        """Insert rows given as equal-length columns, unique on the table's key; with
        `only_new`, rows whose key the table holds already are left out (an anti-join).
        Returns how many rows were inserted."""
        if not columns or not next(iter(columns.values())):
            return 0
        with rows_of(self.con, columns, self._column_types(table)) as (rows, parameters):
            if only_new:
                match = " and ".join(f"stored.{column} = new.{column}" for column in _KEYS[table])
                rows = (f"select * from ({rows}) as new"
                        f" where not exists (select 1 from {table} as stored where {match})")
            inserted = self.con.execute(
                f"insert into {table} ({', '.join(columns)}) {rows}", parameters).fetchone()
        return int(inserted[0]) if inserted else 0

    def _upsert_sources(self, rows: list[dict[str, Any]]) -> None:
        """Sources seen before take the newest sighting's figures; new ones are inserted."""
        if not rows:
            return
        columns = _columns(_unique_by_key(rows, _KEYS["sources"]))
        assigned = ", ".join(f"{column} = new.{column}" for column in _SOURCE_UPDATED)
        with rows_of(self.con, columns, self._column_types("sources")) as (new, parameters):
            self.con.execute(f"update sources set {assigned} from ({new}) as new"
                             " where sources.source_id = new.source_id", parameters)
        self.insert_columns("sources", columns)

    def batch_is_loaded(self, batch_id: str) -> bool:
        """True when the ledger says this batch was committed already."""
        row = self.con.execute(
            "select 1 from load_batches where batch_id = ?", [batch_id]).fetchone()
        return row is not None

    def load_batch(self, batch: Batch) -> bool:
        """Write a batch atomically; False (and no change) when the ledger already holds it."""
        with self.transaction():
            if self.batch_is_loaded(batch.batch_id):
                return False
            self._write_batch(batch, utc_now())
        return True

    def _write_batch(self, batch: Batch, now: dt.datetime) -> None:
        run = batch.run_id
        sources = _dicts(
            batch.sources, first_run_id=run, last_run_id=run, first_seen_at=now, last_seen_at=now
        )
        self._upsert_sources(sources)
        if batch.touched:
            self.con.execute(
                "update sources set size = new.size, mtime_ns = new.mtime_ns, last_run_id = $4,"
                " last_seen_at = $5 from (select unnest($1::varchar[]) as source_id,"
                " unnest($2::bigint[]) as size, unnest($3::bigint[]) as mtime_ns) as new"
                " where sources.source_id = new.source_id",
                [[t.source_id for t in batch.touched], [t.size for t in batch.touched],
                 [t.mtime_ns for t in batch.touched], run, now],
            )
        stored = set(self.document_owners([d.doc_id for d in batch.documents]))
        documents = _dicts(batch.documents, run_id=run, created_at=now)
        self.insert_rows("documents", documents)
        self._link_versions(batch.sources)
        # Band keys only for documents this transaction inserts, so lsh_bands never doubles.
        self.insert_columns("lsh_bands", batch.bands.without(stored).columns(), only_new=False)
        # The ledger counts what this batch adds: a file read again repeats the duplicates and
        # rejects recorded when it was first read, which are not inserted twice.
        duplicates = self.insert_rows("duplicates",
                                      _dicts(batch.duplicates, run_id=run, recorded_at=now))
        # Mentions only for documents this transaction inserts, which keeps them free of doubles
        # without an anti-join against the biggest table.
        self.insert_columns("mentions", _mention_columns(
            [m for m in batch.mentions if m.doc_id not in stored]), only_new=False)
        self.insert_stories(batch.stories, stored, run, now)
        rejects = [
            {**row, "content_hash": row["content_hash"] or ""}
            for row in _dicts(batch.rejects, run_id=run, recorded_at=now)
        ]
        rejected = self.insert_rows("rejects", rejects)
        self.insert_rows("http_fetches", _dicts(batch.fetches, run_id=run))
        self.con.execute(
            "insert into load_batches values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch.batch_id, run, batch.files, batch.files_unchanged, len(batch.documents),
                duplicates, rejected, len(batch.mentions), now,
            ],
        )

    def insert_stories(self, split: StorySplit, stored: set[str], run_id: str,
                       now: dt.datetime) -> None:
        """Store a batch's story rows for the documents this transaction inserts (inside the
        caller's transaction), and add its term counts (a batch's grouped documents are its
        new ones, so each document is counted once)."""
        if not split.members or not split.members["doc_id"]:
            return
        self.insert_columns("story_terms", _rows_of_new(split.terms, stored), only_new=False)
        members = _rows_of_new(split.members, stored)
        self.insert_columns("story_members", {
            **members, "run_id": [run_id] * len(members["doc_id"]),
            "joined_at": [now] * len(members["doc_id"])}, only_new=False)
        links = _rows_of_new(split.links, stored)
        self.insert_columns("story_links", {**links, "run_id": [run_id] * len(links["doc_id"])},
                            only_new=False)
        counts = split.counts
        if counts["term"]:
            with rows_of(self.con, counts, self._column_types("story_term_counts")) as (
                    new, parameters):
                self.con.execute(
                    "update story_term_counts set documents = story_term_counts.documents"
                    f" + new.documents from ({new}) as new"
                    " where story_term_counts.term = new.term", parameters)
            self.insert_columns("story_term_counts", counts)

    def _link_versions(self, sources: Sequence[Source]) -> None:
        """Point each earlier document of a source that now holds a document of its own (status
        `new`) to that one (`documents.superseded_by`), and make that one current again if the
        source went back to an earlier text. Only documents first produced by the source are
        touched; idempotent, so a re-run batch changes nothing."""
        held = [(s.source_id, s.doc_id) for s in sources if s.status == "new" and s.doc_id]
        if not held:
            return
        self.con.execute(
            "update documents set superseded_by = if(documents.doc_id = held.doc_id, null,"
            " held.doc_id)"
            " from (select unnest($1::varchar[]) as source_id, unnest($2::varchar[]) as doc_id)"
            " as held"
            " where documents.source_id = held.source_id"
            " and ((documents.doc_id <> held.doc_id and documents.superseded_by is null)"
            " or (documents.doc_id = held.doc_id and documents.superseded_by is not null))",
            [[source for source, _ in held], [doc for _, doc in held]],
        )

    def begin_run(self, run_id: str, flow: str, parameters: dict) -> list[str]:
        """Record a run as started (a re-started run with the same id keeps its first start),
        and mark any other run still `running` as `crashed`: the session holds the run lock
        (warehouse/lock.py), so no other run can be going. Returns the ids so marked."""
        now = utc_now()
        crashed = [run for (run,) in self.con.execute(
            "update runs set status = 'crashed', finished_at = ?"
            " where status = 'running' and run_id <> ? returning run_id", [now, run_id]
        ).fetchall()]
        self.con.execute(
            "insert into runs (run_id, flow, started_at, status, parameters)"
            " values (?, ?, ?, 'running', ?) on conflict do nothing",
            [run_id, flow, now, json.dumps(parameters, default=str)],
        )
        return crashed

    def finish_run(self, run_id: str, figures: dict[str, int], report: dict) -> None:
        """Store a run's figures and its report, and mark it completed."""
        self.con.execute(
            "update runs set finished_at = ?, status = 'completed',"
            " files_seen = ?, files_unchanged = ?, documents_new = ?, duplicates_new = ?,"
            " rejects_new = ?, report = ? where run_id = ?",
            [
                utc_now(), figures["files_seen"], figures["files_unchanged"], figures["documents_new"],
                figures["duplicates_new"], figures["rejects_new"],
                json.dumps(report, default=str), run_id,
            ],
        )

    def mark_failed(self, run_id: str) -> None:
        """Mark a run that raised as `failed`."""
        self.con.execute("update runs set status = 'failed', finished_at = ? where run_id = ?",
                         [utc_now(), run_id])

    def reset_near_duplicates(self) -> None:
        """Forget every near-duplicate finding and band key (inside the caller's transaction)."""
        self.con.execute("delete from duplicates where method = 'near'")
        self.con.execute("delete from lsh_bands")

    def insert_near_findings(
        self, run_id: str, duplicates: Sequence[BaseModel], bands: BandKeys
    ) -> None:
        """Store recomputed near duplicates and band keys (inside the caller's transaction)."""
        self.insert_rows("duplicates", _dicts(duplicates, run_id=run_id, recorded_at=utc_now()))
        self.insert_columns("lsh_bands", bands.without(set()).columns(), only_new=False)

    def reset_stories(self) -> None:
        """Forget every story, link and term (inside the caller's transaction)."""
        for table in ("story_terms", "story_term_counts", "story_members", "story_links"):
            self.con.execute(f"delete from {table}")

    def replace_mentions(self, doc_ids: Sequence[str], mentions: Sequence[Mention]) -> None:
        """Swap the mentions of `doc_ids` for new ones (inside the caller's transaction)."""
        self.con.execute("delete from mentions where doc_id in (select unnest($1::varchar[]))",
                         [list(doc_ids)])
        self.insert_columns("mentions", _mention_columns(mentions), only_new=False)

    def replace_file_aliases(self, rows: Sequence[dict[str, Any]]) -> None:
        """Swap the aliases that came from the alias file for `rows`; aliases added with SQL
        stay and win over a file row with the same (alias, language)."""
        with self.transaction():
            self.con.execute("delete from entity_aliases where source = 'file'")
            self.insert_rows("entity_aliases", [{**row, "source": "file"} for row in rows])

    def record_discovery(self, run_id: str, files_seen: int, files_unchanged: int) -> None:
        """Note what discovery found on the running run, so progress can be shown while it
        goes (the final report overwrites these figures)."""
        self.con.execute(
            "update runs set files_seen = ?, files_unchanged = ? where run_id = ?",
            [files_seen, files_unchanged, run_id],
        )
