-- 0004: the URL side's memory of the web.

-- http_fetches: one row per HTTP fetch of an article, feed or sitemap (append only); key:
-- (url, fetched_at). Fetched bodies are archived compressed under the archive folder at
-- archive_path, content-addressed by sha256, so documents can be re-extracted without
-- refetching. The newest row per URL holds the ETag / Last-Modified for a conditional GET.
create table http_fetches (
    url               varchar not null,
    kind              varchar not null,   -- article, feed, sitemap
    outcome           varchar not null,   -- fetched, not_modified, failed
    reason            varchar,            -- why it failed (see rejects for articles)
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
    run_id            varchar not null,
    primary key (url, fetched_at)
);
