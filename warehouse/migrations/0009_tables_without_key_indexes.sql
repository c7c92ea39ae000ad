-- 0009: sources, documents, duplicates, rejects and http_fetches without primary keys, for the
-- reason of 0008: DuckDB holds a table's key index wholly in memory while rows are inserted,
-- never spilled. Two 64-character keys per article (sources, documents) need about 146 bytes,
-- so at 1,000,000 articles the indexes alone outgrew DuckDB's 128 MB share of a 512 MB budget
-- and every later load failed. The loader keeps each key unique itself (warehouse/load.py:
-- rows are de-duplicated in the batch, and only keys the table does not hold yet are
-- inserted; tests/test_warehouse.py checks it). The columns, their order and NOT NULLs stay.

create table sources_unindexed (
    source_id     varchar not null,
    locator       varchar not null,
    kind          varchar not null,
    size          bigint,
    mtime_ns      bigint,
    content_hash  varchar,
    encoding      varchar,
    status        varchar not null,
    doc_id        varchar,
    first_run_id  varchar not null,
    last_run_id   varchar not null,
    first_seen_at timestamp not null,
    last_seen_at  timestamp not null
);
insert into sources_unindexed select * from sources;
drop table sources;
alter table sources_unindexed rename to sources;

create table documents_unindexed (
    doc_id              varchar not null,
    source_id           varchar not null,
    title               varchar,
    text                varchar not null,
    original_text       varchar not null,
    url                 varchar,
    canonical_url       varchar,
    published           date,
    published_precision varchar,
    author              varchar,
    site_name           varchar,
    encoding            varchar not null,
    format              varchar not null,
    cleaning            varchar[] not null,
    final_url           varchar,
    published_source    varchar,
    extractor           varchar,
    language            varchar not null,
    language_prob       double not null,
    run_id              varchar not null,
    created_at          timestamp not null,
    superseded_by       varchar
);
insert into documents_unindexed select * from documents;
drop table documents;
alter table documents_unindexed rename to documents;

create table duplicates_unindexed (
    source_id        varchar not null,
    doc_id           varchar,
    canonical_doc_id varchar not null,
    method           varchar not null,
    similarity       double not null,
    run_id           varchar not null,
    recorded_at      timestamp not null
);
insert into duplicates_unindexed select * from duplicates;
drop table duplicates;
alter table duplicates_unindexed rename to duplicates;

create table rejects_unindexed (
    source_id    varchar not null,
    content_hash varchar not null,
    locator      varchar not null,
    stage        varchar not null,
    reason       varchar not null,
    detail       varchar not null,
    run_id       varchar not null,
    recorded_at  timestamp not null
);
insert into rejects_unindexed select * from rejects;
drop table rejects;
alter table rejects_unindexed rename to rejects;

create table http_fetches_unindexed (
    url               varchar not null,
    kind              varchar not null,
    outcome           varchar not null,
    reason            varchar,
    status            integer,
    final_url         varchar,
    etag              varchar,
    last_modified     varchar,
    content_type      varchar,
    sha256            varchar,
    archive_path      varchar,
    size              bigint,
    extractor         varchar,
    extractor_version varchar,
    fetched_at        timestamp not null,
    run_id            varchar not null
);
insert into http_fetches_unindexed select * from http_fetches;
drop table http_fetches;
alter table http_fetches_unindexed rename to http_fetches;
