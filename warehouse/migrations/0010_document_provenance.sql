-- 0010: more of what a document's source said about it, kept apart (issue 18).
--
-- documents.encoding_rule: which rule of the decoding policy chose documents.encoding
--   (tasks/decode.py: bom, utf-8, http-header, meta, or a detection rule); null for documents
--   stored before this migration.
-- documents.updated, updated_precision, updated_source: the last update the page states
--   (JSON-LD dateModified, article:modified_time, ...), never mixed with `published`;
--   precision is day, month or year, source names the rule that set it.
-- documents.truncated: true for a paywall teaser kept because it is the article's real lead
--   (the rest of the article was not on the page).
alter table documents add column encoding_rule varchar;
alter table documents add column updated date;
alter table documents add column updated_precision varchar;
alter table documents add column updated_source varchar;
alter table documents add column truncated boolean not null default false;
