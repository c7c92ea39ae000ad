"""Read queries the stages, the run report and the analysts' shell need."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import duckdb

from warehouse.bind import rows_of
from warehouse.records import BandKeys, FetchRetry, KnownSource

# The types of the columns the story queries bind (tasks/stories.py).
_STORY_COLUMNS = {"doc_id": "VARCHAR", "kind": "TINYINT", "term": "BIGINT", "weight": "FLOAT",
                  "day": "DATE", "pos": "INTEGER", "days": "INTEGER"}


class Reads:
    """The warehouse's read queries, as methods of a session (warehouse/session.py)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con: duckdb.DuckDBPyConnection | None = con

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("this warehouse session is closed: its block has ended")
        return self._con

    def close(self) -> None:
        """Close the connection and let go of it. Prefect keeps a finished run's last task
        parameters (this session among them) alive until the interpreter exits; a DuckDB object
        still referenced then makes DuckDB's bindings print a page of "nanobind: leaked" lines
        after every `corpus run`."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def known_file_sources(self) -> dict[str, KnownSource]:
        """Every file source the warehouse remembers, by source_id."""
        rows = self.con.execute(
            "select source_id, size, mtime_ns, content_hash from sources where kind = 'file'"
        ).fetchall()
        return {row[0]: KnownSource(*row) for row in rows}

    def document_owners(self, doc_ids: list[str]) -> dict[str, str]:
        """doc_id → the source that first produced it, for the given ids that are already stored."""
        if not doc_ids:
            return {}
        rows = self.con.execute(
            "select doc_id, source_id from documents"
            " where doc_id in (select unnest($1::varchar[]))",
            [doc_ids],
        ).fetchall()
        return dict(rows)

    def run_figures(self, run_id: str) -> dict[str, int]:
        """Sums of the committed batches of one run."""
        row = self.con.execute(
            "select coalesce(sum(files), 0), coalesce(sum(files_unchanged), 0),"
            " coalesce(sum(documents), 0), coalesce(sum(duplicates), 0), coalesce(sum(rejects), 0),"
            " coalesce(sum(mentions), 0)"
            " from load_batches where run_id = ?",
            [run_id],
        ).fetchone()
        keys = ("files_read", "files_unchanged", "documents_new", "duplicates_new", "rejects_new",
                "mentions_new")
        return dict(zip(keys, (int(value) for value in row), strict=True))

    def reject_reasons(self, run_id: str) -> list[tuple[str, int]]:
        """(reason, count) of one run's rejects, commonest first."""
        return self.con.execute(
            "select reason, count(*) from rejects where run_id = ? group by reason"
            " order by count(*) desc, reason",
            [run_id],
        ).fetchall()

    def run_duplicates(self, run_id: str) -> list[tuple[str, str, str]]:
        """(duplicate locator, canonical document's locator, method) for one run."""
        return self.con.execute(
            "select s.locator, c.locator, d.method from duplicates d"
            " join sources s on s.source_id = d.source_id"
            " join documents doc on doc.doc_id = d.canonical_doc_id"
            " join sources c on c.source_id = doc.source_id"
            " where d.run_id = ? order by s.locator",
            [run_id],
        ).fetchall()

    def documents_per_language(self) -> list[tuple[str, int]]:
        """(language, documents) over the whole warehouse."""
        return self.con.execute(
            "select language, count(*) from documents group by language order by count(*) desc, language"
        ).fetchall()

    # Documents per piece of top_entities' count: with 44 mentions a document, a piece of 8,000
    # fits a 64 MB DuckDB limit (bench: 100,000 documents, 4.4 million mentions, 60,000 keys).
    TOP_ENTITIES_PIECE = 8000

    def top_entities(self, run_id: str, limit: int = 10) -> list[tuple[str, str, str, int]]:
        """(key, label, name, documents) of the entities most widely mentioned in the documents
        one run added, named and keyed as the top_entities view does. One query over a large run
        needs memory in proportion to it (at 100,000 documents it failed in 64 MB), so the run's
        documents are counted in pieces by doc_id range (a document is in one piece, so the
        pieces' counts add up exactly) and only the winners' spellings are read."""
        documents = self.con.execute(
            "select count(*) from documents where run_id = $1", [run_id]).fetchone()[0]
        pieces = max(1, -(-documents // self.TOP_ENTITIES_PIECE))
        # doc_ids are hex digests: split their range evenly by the first 8 digits.
        bounds = [format(i * 16**8 // pieces, "08x") for i in range(1, pieces)]
        ranges = list(zip([""] + bounds, bounds + [None], strict=True))
        table = f"top_entities_{uuid.uuid4().hex}"
        self.con.execute(f"create temp table {table} (key varchar, label varchar,"
                         " documents bigint, mentions bigint)")
        try:
            for low, high in ranges:
                self.con.execute(
                    f"insert into {table} select key, label, count(*), sum(uses) from"
                    " (select m.key, m.label, m.doc_id, count(*) as uses from entity_mentions as m"
                    " join documents as r on r.doc_id = m.doc_id and r.run_id = $1"
                    " where m.doc_id >= $2 and ($3::varchar is null or m.doc_id < $3)"
                    " group by m.key, m.label, m.doc_id) group by key, label",
                    [run_id, low, high])
            top = self.con.execute(
                f"select key, label, sum(documents) as documents from {table} group by key, label"
                " order by documents desc, sum(mentions) desc, key limit $1", [limit]).fetchall()
        finally:
            self.con.execute(f"drop table if exists {table}")
        if not top:
            return []
        # Display name: the spelling used most often in the run, ties alphabetically (as the
        # top_entities view names them, over the run's documents).
        names = dict(((key, label), name) for key, label, name in self.con.execute(
            "select key, label, arg_min(text, (-uses, text)) from"
            " (select m.key, m.label, m.text, count(*) as uses from entity_mentions as m"
            " join documents as r on r.doc_id = m.doc_id and r.run_id = $1"
            " where (m.key, m.label) in (select unnest($2::varchar[]), unnest($3::varchar[]))"
            " group by m.key, m.label, m.text) group by key, label",
            [run_id, [key for key, _, _ in top], [label for _, label, _ in top]]).fetchall())
        return [(key, label, names[key, label], documents) for key, label, documents in top]

    def changed_since(self, moment: dt.datetime, except_run: str) -> bool:
        """Whether the warehouse may hold changes newer than `moment` (naive UTC): a batch
        committed since, or a run other than `except_run` started since that did not end
        `completed` (killed or failed before publishing; re-tag, re-group and dedup commit as
        they go without batches)."""
        (changed,) = self.con.execute(
            "select coalesce((select max(committed_at) from load_batches) >= ?, false)"
            " or exists (select 1 from runs where started_at >= ? and run_id <> ?"
            " and status <> 'completed')", [moment, moment, except_run]).fetchone()
        return bool(changed)

    def aliases_digest(self, catalog: str = "main") -> tuple[int, str]:
        """Row count and digest of `entity_aliases` in a database of this connection (the live
        one, or a snapshot attached under `catalog`)."""
        (count, digest) = self.con.execute(
            "select count(*), coalesce(md5(string_agg(concat_ws(chr(31), alias, language, key,"
            " coalesce(label, ''), source), chr(30) order by alias, language)), '')"
            f" from {catalog}.entity_aliases").fetchone()
        return count, digest

    def table_counts(self) -> dict[str, int]:
        """Row count of every table the pipeline writes."""
        tables = ("runs", "sources", "documents", "duplicates", "mentions", "rejects", "load_batches")
        return {table: self.con.execute(f"select count(*) from {table}").fetchone()[0] for table in tables}

    def run_query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of an analyst's query."""
        cursor = self.con.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        return columns, cursor.fetchall()

    def table_names(self) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The tables and views an analyst can query (the shell's `.tables`)."""
        return self.run_query("select table_name from information_schema.tables order by 1")

    def table_columns(
        self, table: str
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Columns and types of one table or view (the shell's `.schema NAME`)."""
        cursor = self.con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_name = ? order by ordinal_position", [table])
        return [c[0] for c in cursor.description], cursor.fetchall()

    def run_script(
        self, sql: str
    ) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
        """(statement, columns, rows) for each statement of an analyst's script, in order; the
        first failing statement raises duckdb.Error."""
        return [(statement.query, *self.run_query(statement.query))
                for statement in self.con.extract_statements(sql)]


    def band_candidates(self, keys: BandKeys) -> list[tuple[str, str]]:
        """(new doc_id, stored doc_id) pairs that share at least one LSH band key."""
        if not len(keys):
            return []
        return self.con.execute(
            "with probe as (select unnest($1::varchar[]) as doc_id, unnest($2::smallint[]) as band,"
            " unnest($3::bigint[]) as key)"
            " select distinct p.doc_id, b.doc_id from probe p"
            " join lsh_bands b on b.band = p.band and b.key = p.key where b.doc_id <> p.doc_id",
            list(keys.columns().values()),
        ).fetchall()

    def stored_for_matching(
        self, doc_ids: list[str]
    ) -> list[tuple[str, str, int, str | None]]:
        """(doc_id, text, first-seen rank, canonical doc_id if it is a near copy) of stored documents."""
        if not doc_ids:
            return []
        return self.con.execute(
            "with wanted as (select unnest($1::varchar[]) as doc_id)"
            " select d.doc_id, d.text, epoch_us(d.created_at), n.canonical_doc_id"
            " from documents d join wanted using (doc_id)"
            " left join duplicates n on n.doc_id = d.doc_id and n.method = 'near'",
            [doc_ids],
        ).fetchall()

    def documents_in_order(
        self, offset: int, limit: int
    ) -> list[tuple[str, str, str]]:
        """(doc_id, source_id, text) of stored documents in first-seen order, one page at a time;
        within one batch, in locator order, as the ingest flow saw them."""
        return self.con.execute(
            "select d.doc_id, d.source_id, d.text from documents d join sources s using (source_id)"
            " order by d.created_at, s.locator, d.doc_id limit ? offset ?",
            [limit, offset],
        ).fetchall()

    def url_owners(self, urls: list[str]) -> dict[str, str]:
        """canonical URL → the earliest stored document with it, for the given URLs."""
        if not urls:
            return {}
        rows = self.con.execute(
            "select canonical_url, arg_min(doc_id, created_at) from documents"
            " where canonical_url in (select unnest($1::varchar[])) group by canonical_url",
            [urls],
        ).fetchall()
        return dict(rows)

    def documents_for_tagging(
        self, offset: int, limit: int
    ) -> list[tuple[str, str, str]]:
        """(doc_id, text, language) of stored documents, one page at a time in a stable order."""
        return self.con.execute(
            "select doc_id, text, language from documents order by doc_id limit ? offset ?",
            [limit, offset],
        ).fetchall()

    def url_validators(self, urls: list[str]) -> dict[str, tuple]:
        """url → (etag, last_modified) of its newest fetch that gave any, for a conditional GET."""
        if not urls:
            return {}
        rows = self.con.execute(
            "select url, arg_max(etag, fetched_at), arg_max(last_modified, fetched_at)"
            " from http_fetches where url in (select unnest($1::varchar[]))"
            " and (etag is not null or last_modified is not null) and outcome = 'fetched'"
            " group by url",
            [urls],
        ).fetchall()
        return {url: (etag, modified) for url, etag, modified in rows}

    def known_urls(self, retry: FetchRetry) -> list[str]:
        """Locators of the URL sources already processed (their canonical URLs), but those
        whose last fetch failed for a reason `retry` names: a run fetches them again."""
        return [row[0] for row in self.con.execute(
            "with last as ("
            " select f.url, arg_max(f.outcome, f.fetched_at) as outcome,"
            "  arg_max(f.reason, f.fetched_at) as reason,"
            "  count(*) filter (where f.outcome = 'failed') as failures"
            " from http_fetches f"
            " join sources s on s.locator = f.url and s.kind = 'url' and s.status = 'rejected'"
            " where f.kind = 'article' group by f.url),"
            " again as (select url from last where outcome = 'failed' and failures < $attempts"
            "  and len(list_filter($reasons, lambda p: reason like p)) > 0)"
            " select locator from sources where kind = 'url'"
            " and locator not in (select url from again)",
            {"reasons": list(retry.reasons), "attempts": retry.max_attempts}).fetchall()]

    # ------------------------------------------------------------------ stories (0011)

    def story_term_counts(self, terms: list[int]) -> tuple[dict[int, int], int]:
        """term → how many grouped documents hold it, for the given terms; and how many
        documents are grouped."""
        total = self.con.execute("select count(*) from story_members").fetchone()[0]
        if not terms:
            return {}, total
        with rows_of(self.con, {"term": terms}, _STORY_COLUMNS) as (wanted, parameters):
            rows = self.con.execute(
                "select term, documents from story_term_counts"
                f" where term in (select term from ({wanted}))", parameters).fetchall()
        return dict(rows), total

    def story_days_between(self, first: Any, last: Any) -> list[Any]:
        """The days from `first` to `last` that grouped documents have."""
        return [row[0] for row in self.con.execute(
            "select distinct day from story_terms where day between ? and ?",
            [first, last]).fetchall()]

    def story_term_hits(self, keys: dict[str, list]) -> dict[tuple[int, int, Any], int]:
        """(kind, term, day) → how many grouped documents keep that term and have that day,
        for the given keys (columns kind, term, day)."""
        if not keys["term"]:
            return {}
        with rows_of(self.con, keys, _STORY_COLUMNS) as (wanted, parameters):
            rows = self.con.execute(
                f"with wanted as materialized (select distinct * from ({wanted}))"
                " select s.kind, s.term, s.day, count(*) from story_terms as s"
                " semi join wanted as w on s.term = w.term and s.kind = w.kind and s.day = w.day"
                " group by all", parameters).fetchall()
        return {(kind, term, day): count for kind, term, day, count in rows}

    def story_candidates(self, terms: dict[str, list], probes: dict[str, list],
                         per_document: int) -> list[tuple[str, str, int, float, int, int]]:
        """(new doc_id, earlier doc_id, kind, sum of weight products, days apart, shared terms)
        for the
        candidates of each new document: earlier documents (stored, or new with a lower pos)
        that keep one of its probe terms on the probe's day, the `per_document` sharing most of
        them. `terms` are columns doc_id, kind, term, weight, day, pos of the new documents'
        kept terms; `probes` columns doc_id, pos, kind, term, day, days (apart) of the lookups
        (tasks/stories.py), so the join is on equal (term, kind, day)."""
        if not probes["doc_id"]:
            return []
        # In steps through temporary tables: as one statement with common table expressions,
        # DuckDB planned it about twice as slow (0.5 s against 0.23 s for 500 BBC articles).
        for table, columns in (("story_new", terms), ("story_probe", probes)):
            with rows_of(self.con, columns, _STORY_COLUMNS) as (rows, parameters):
                self.con.execute(f"create or replace temp table {table} as {rows}", parameters)
        self.con.execute(
            "create or replace temp table story_best as"
            " with found as ("
            " select p.doc_id, s.doc_id as other, min(p.days) as days, count(*) as shared"
            " from story_probe as p join story_terms as s"
            " on s.term = p.term and s.kind = p.kind and s.day = p.day"
            " where s.doc_id <> p.doc_id group by p.doc_id, s.doc_id"
            " union all"
            " select p.doc_id, e.doc_id, min(p.days), count(*)"
            " from story_probe as p join story_new as e on e.term = p.term and e.kind = p.kind"
            " and e.day = p.day where e.pos < p.pos group by p.doc_id, e.doc_id)"
            " select doc_id, other, days from found qualify row_number() over"
            " (partition by doc_id order by shared desc, other) <= ?", [per_document])
        try:
            self.con.execute(
                "create or replace temp table story_earlier as"
                " select s.doc_id, s.kind, s.term, s.weight from story_terms as s"
                " where s.day between ? and ?"  # lets DuckDB skip the row groups of other days
                " and s.doc_id in (select other from story_best)"
                " and s.term in (select term from story_new)"
                " union all select doc_id, kind, term, weight from story_new",
                [min(probes["day"]), max(probes["day"])])
            # Each candidate pair with the new document's terms first (a table of its own, so
            # the optimiser cannot join the new terms with the earlier ones on the term alone:
            # a word every document holds would pair them all), then the earlier document's
            # weight of each.
            self.con.execute(
                "create or replace temp table story_wanted as"
                " select b.doc_id, b.other, b.days, n.kind, n.term, n.weight"
                " from story_best as b join story_new as n on n.doc_id = b.doc_id")
            return self.con.execute(
                "select w.doc_id, w.other, w.kind, sum(w.weight * e.weight), w.days, count(*)"
                " from story_wanted as w join story_earlier as e"
                " on e.doc_id = w.other and e.term = w.term and e.kind = w.kind"
                " group by w.doc_id, w.other, w.kind, w.days").fetchall()
        finally:
            for table in ("story_new", "story_probe", "story_best", "story_earlier",
                          "story_wanted"):
                self.con.execute(f"drop table if exists {table}")

    def stories_of(self, doc_ids: list[str]) -> dict[str, str]:
        """doc_id → story_id of the given stored documents that are grouped."""
        return self._column_of("story_members", "story_id", doc_ids)

    def document_languages(self, doc_ids: list[str]) -> dict[str, str]:
        """doc_id → language of the given stored documents."""
        return self._column_of("documents", "language", doc_ids)

    def _column_of(self, table: str, column: str, doc_ids: list[str]) -> dict[str, Any]:
        """doc_id → `column` of `table` (names from the code, never from input), for the
        given documents it holds."""
        if not doc_ids:
            return {}
        return dict(self.con.execute(
            f"select doc_id, {column} from {table}"
            " where doc_id in (select unnest($1::varchar[]))", [doc_ids]).fetchall())

    def story_days(self, doc_ids: list[str]) -> list[tuple[str, Any]]:
        """(doc_id, day) of the given grouped documents (their day in `story_terms`)."""
        if not doc_ids:
            return []
        return self.con.execute(
            "select doc_id, any_value(day) from story_terms"
            " where doc_id in (select unnest($1::varchar[])) group by doc_id", [doc_ids]).fetchall()

    def story_profiles(self, doc_ids: list[str], days: list[Any], terms: list[int]
                       ) -> list[tuple[str, int, int, float]]:
        """(doc_id, kind, term, weight) of the given grouped documents' terms among `terms`
        (the only ones a cosine with the batch can use); `days` are the documents' days, which
        let DuckDB skip the row groups of other days (0.23 s for 20 documents among 1,000,000
        stored without them)."""
        if not doc_ids:
            return []
        return self.con.execute(
            "select doc_id, kind, term, weight from story_terms"
            " where day in (select unnest($3::date[]))"
            " and doc_id in (select unnest($1::varchar[]))"
            " and term in (select unnest($2::bigint[]))", [doc_ids, terms, days]).fetchall()

    def story_batch_times(self) -> list[Any]:
        """The distinct load times of stored documents, in order: one per loaded batch."""
        return [row[0] for row in self.con.execute(
            "select distinct created_at from documents order by created_at").fetchall()]

    def story_documents(self, created_at: Any) -> list[tuple[str, str | None, str, Any, Any, str]]:
        """(doc_id, title, text, published, created_at, language) of the documents one batch loaded, in
        the order the ingest flow saw them (locator order)."""
        return self.con.execute(
            "select d.doc_id, d.title, d.text, d.published, d.created_at, d.language"
            " from documents d join sources s using (source_id) where d.created_at = ?"
            " order by s.locator, d.doc_id", [created_at]).fetchall()

    def mention_keys(self, doc_ids: list[str]) -> list[tuple[str, str]]:
        """(doc_id, key) of the stored mentions of the given documents, in text order."""
        return self.con.execute(
            "select doc_id, key from mentions where doc_id in (select unnest($1::varchar[]))"
            " order by doc_id, start_char, end_char, label, tagger", [doc_ids]).fetchall()

    def near_canonicals(self, doc_ids: list[str]) -> dict[str, str]:
        """near duplicate doc_id → its canonical doc_id, for the given documents."""
        return dict(self.con.execute(
            "select doc_id, canonical_doc_id from duplicates where method = 'near'"
            " and doc_id in (select unnest($1::varchar[]))", [doc_ids]).fetchall())

    def story_count(self) -> int:
        """How many stories the warehouse holds."""
        return self.con.execute("select count(distinct story_id) from story_members").fetchone()[0]

    def top_stories(self, days: int, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of the biggest stories of more than one document whose last
        day is at most `days` days ago, biggest first. Read from the tables rather than the
        `stories` view, which counts every story's entities."""
        cursor = self.con.execute(
            "with members as (select m.story_id, d.language,"
            " coalesce(d.published, cast(d.created_at as date)) as day"
            " from current_story_members m join documents d using (doc_id)),"
            " big as (select story_id, count(*) as documents,"
            " list(distinct language order by language) as languages,"
            " min(day) as first_day, max(day) as last_day from members group by story_id"
            " having count(*) > 1 and max(day) >= current_date - cast(? as integer)"
            " order by documents desc, last_day desc, story_id limit ?)"
            " select b.documents, b.languages, b.first_day, b.last_day,"
            " left(coalesce(d.title, split_part(trim(d.text), chr(10), 1)), 80) as title,"
            " b.story_id from big b join documents d on d.doc_id = b.story_id"
            " order by b.documents desc, b.last_day desc, b.story_id", [days, limit])
        return [column[0] for column in cursor.description], cursor.fetchall()

    def story_overview(self) -> tuple[int, int, dt.date | None, int]:
        """Stories in the warehouse, those of more than one document, the latest last day of
        those (None when there are none), and the documents in no story (stored before the
        story stage existed: `corpus regroup` groups them)."""
        row = self.con.execute(
            "with sizes as (select m.story_id, count(*) as documents,"
            " max(coalesce(d.published, cast(d.created_at as date))) as last_day"
            " from current_story_members m join documents d using (doc_id)"
            " group by m.story_id)"
            " select count(*), count(*) filter (where documents > 1),"
            " max(last_day) filter (where documents > 1),"
            " (select count(*) from documents d where not exists"
            "  (select 1 from story_members m where m.doc_id = d.doc_id)) from sizes").fetchone()
        return int(row[0]), int(row[1]), row[2], int(row[3])

    def run_stories(self, run_id: str, limit: int = 5) -> list[tuple[str, str, int, int]]:
        """(story_id, title, documents, of them joined in this run) of the stories of more than
        one document that the run started or grew, those it grew most first."""
        return self.con.execute(
            "with joined as (select story_id, count(*) as new from current_story_members"
            " where run_id = ? group by story_id),"
            " sizes as (select story_id, count(*) as documents from current_story_members"
            " where story_id in (select story_id from joined) group by story_id)"
            " select j.story_id,"
            " left(coalesce(d.title, split_part(trim(d.text), chr(10), 1)), 80),"
            " s.documents, j.new from joined j join sizes s using (story_id)"
            " join documents d on d.doc_id = j.story_id where s.documents > 1"
            " order by j.new desc, s.documents desc, j.story_id limit ?",
            [run_id, limit]).fetchall()
