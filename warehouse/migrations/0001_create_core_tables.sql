-- 0001: the core tables of the warehouse.

-- runs: one row per flow run (run_id = the Prefect flow run id); figures of the run report.
create table runs (
    run_id          varchar primary key,
    flow            varchar not null,
    started_at      timestamp not null,
    finished_at     timestamp,
    status          varchar not null,          -- running, completed, failed
    parameters      json,
    files_seen      integer,
    files_unchanged integer,
    documents_new   integer,
    duplicates_new  integer,
    rejects_new     integer,
    report          json
);

-- sources: one row per input ever seen (a file, one record of a JSON Lines file, a URL);
-- key: source_id = hash of the locator. Holds what the next run needs to skip it cheaply.
create table sources (
    source_id     varchar primary key,
    locator       varchar not null,
    kind          varchar not null,            -- file, record, url
    size          bigint,
    mtime_ns      bigint,
    content_hash  varchar,                     -- sha256 of the raw bytes
    encoding      varchar,
    status        varchar not null,            -- new, duplicate, rejected
    doc_id        varchar,                     -- the document it became or duplicates
    first_run_id  varchar not null,
    last_run_id   varchar not null,
    first_seen_at timestamp not null,
    last_seen_at  timestamp not null
);

-- documents: one row per distinct normalised text; key: doc_id = hash of that text.
create table documents (
    doc_id              varchar primary key,
    source_id           varchar not null,
    title               varchar,
    text                varchar not null,      -- cleaned text; mention offsets index it
    original_text       varchar not null,      -- the text as parsed, before cleaning
    url                 varchar,               -- as the source gave it
    canonical_url       varchar,               -- lower-case host, no fragment or tracking
    published           date,
    published_precision varchar,               -- day, month, year
    author              varchar,
    site_name           varchar,
    encoding            varchar not null,
    format              varchar not null,      -- txt, html, jsonl
    cleaning            varchar[] not null,    -- the repairs applied, in order
    final_url           varchar,               -- web pages: where redirects ended
    published_source    varchar,               -- web pages: json_ld, meta, url, feed, ...
    extractor           varchar,               -- web pages: extractor name and version
    language            varchar not null,      -- ISO 639-1 code, or 'und'
    language_prob       double not null,
    run_id              varchar not null,
    created_at          timestamp not null
);

-- duplicates: one row per (duplicate source, canonical document, method); never deleted.
create table duplicates (
    source_id        varchar not null,
    doc_id           varchar,                  -- the duplicate's own document, if it has one
    canonical_doc_id varchar not null,
    method           varchar not null,         -- exact, url, near
    similarity       double not null,
    run_id           varchar not null,
    recorded_at      timestamp not null,
    primary key (source_id, canonical_doc_id, method)
);

-- mentions: one row per entity mention found by a tagger; offsets index documents.text.
create table mentions (
    doc_id     varchar not null,
    tagger     varchar not null,
    start_char integer not null,
    end_char   integer not null,
    label      varchar not null,               -- PER, ORG, LOC, MISC
    text       varchar not null,
    key        varchar not null,               -- canonical entity key
    primary key (doc_id, tagger, start_char, end_char, label)
);

-- rejects: one row per input (and content) that did not become a document, with the reason.
create table rejects (
    source_id    varchar not null,
    content_hash varchar not null,             -- '' when the bytes could not be read
    locator      varchar not null,
    stage        varchar not null,             -- discover, parse, clean, ...
    reason       varchar not null,
    detail       varchar not null,
    run_id       varchar not null,
    recorded_at  timestamp not null,
    primary key (source_id, content_hash)
);

-- load_batches: the ledger of committed batches (one row per batch) and their counts.
create table load_batches (
    batch_id        varchar primary key,
    run_id          varchar not null,
    files           integer not null,
    files_unchanged integer not null,
    documents       integer not null,
    duplicates      integer not null,
    rejects         integer not null,
    mentions        integer not null,
    committed_at    timestamp not null
);
