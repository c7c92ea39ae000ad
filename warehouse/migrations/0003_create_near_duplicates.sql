-- 0003: near-duplicate detection state and the views over duplicate clusters.

-- lsh_bands: one row per (document, LSH band); key: (doc_id, band), kept unique by the loader
-- (rows are written only for documents the same transaction inserts). Candidates for a new
-- document are the stored documents sharing any (band, key) with it: a hash join.
create table lsh_bands (
    doc_id varchar not null,
    band   smallint not null,
    key    bigint not null
);

-- duplicate_clusters: one row per canonical document that has copies; members in the order
-- they were first seen, with their source, method and similarity.
create view duplicate_clusters as
select
    d.canonical_doc_id,
    c.title as canonical_title,
    cs.locator as canonical_source,
    c.created_at as canonical_first_seen,
    count(*) as copies,
    list(
        struct_pack(
            source := s.locator, doc_id := d.doc_id, method := d.method,
            similarity := d.similarity, first_seen := s.first_seen_at
        )
        order by s.first_seen_at, s.locator
    ) as members
from duplicates as d
join documents as c on c.doc_id = d.canonical_doc_id
join sources as cs on cs.source_id = c.source_id
join sources as s on s.source_id = d.source_id
group by all;

-- unique_documents: one row per story text: documents that are not a near copy of another.
create view unique_documents as
select *
from documents
where doc_id not in (select doc_id from duplicates where doc_id is not null);
