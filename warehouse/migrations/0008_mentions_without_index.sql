-- 0008: mentions without a primary key. DuckDB keeps a table's primary-key index wholly in
-- memory while rows are inserted (about 150 bytes per row, never spilled): with ~15 mentions
-- per news article the mentions index outgrew DuckDB's share of the default memory budget near
-- 170,000 articles, and every later load failed for want of memory. The loader already keeps
-- the key unique: a batch's mentions are de-duplicated before the insert, only documents the
-- batch itself inserts get mentions, and re-tagging deletes a document's mentions before it
-- writes new ones (tests/test_warehouse.py checks the key stays unique).
create table mentions_unindexed (
    doc_id     varchar not null,
    tagger     varchar not null,
    start_char integer not null,
    end_char   integer not null,
    label      varchar not null,
    text       varchar not null,
    key        varchar not null
);
insert into mentions_unindexed select doc_id, tagger, start_char, end_char, label, text, key
from mentions;
drop table mentions;
alter table mentions_unindexed rename to mentions;
