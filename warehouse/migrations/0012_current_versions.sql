-- 0012: the analysts' views count a source's current version only. A file (or record, or page)
-- whose text changed keeps its earlier documents, each pointing to the one that replaced it
-- (documents.superseded_by, 0007). The new version is most often a near copy of the old one:
-- unique_documents kept the old text and left the current one out, and a story counted a
-- revised article twice, as if its coverage had grown.

-- unique_documents: one row per story text: current documents that are not a near copy of
-- another current document.
create or replace view unique_documents as
select d.*
from documents as d
where d.superseded_by is null
  and not exists (
      select 1
      from duplicates as x
      join documents as c on c.doc_id = x.canonical_doc_id
      where x.doc_id = d.doc_id and c.superseded_by is null
  );

-- current_story_members: story_members of current documents, the ones a story's size counts
-- (here and in warehouse/queries.py).
create view current_story_members as
select m.*
from story_members as m
join documents as d on d.doc_id = m.doc_id
where d.superseded_by is null;

-- stories: as in 0011, with `documents` and `languages` counting current documents; the title
-- and the days still come from every version (the story began when its first version came).
create or replace view stories as
with members as (
    select
        m.story_id, m.doc_id, d.language, d.title, d.text, d.created_at,
        coalesce(d.published, cast(d.created_at as date)) as day,
        d.superseded_by is null as current
    from story_members as m
    join documents as d on d.doc_id = m.doc_id
),
keys as (
    select m.story_id, x.key, count(distinct x.doc_id) as documents
    from story_members as m
    join mentions as x on x.doc_id = m.doc_id
    group by all
),
top_keys as (
    select story_id, list(key order by documents desc, key)[1:5] as top_entity_keys
    from keys
    group by story_id
)
select
    members.story_id,
    coalesce(
        max(members.title) filter (where members.doc_id = members.story_id),
        max(left(split_part(trim(members.text), chr(10), 1), 200))
            filter (where members.doc_id = members.story_id)
    ) as title,
    min(members.day) as first_day,
    max(members.day) as last_day,
    min(members.created_at) as first_seen_at,
    max(members.created_at) as last_seen_at,
    count(*) filter (where members.current) as documents,
    list(distinct members.language order by members.language)
        filter (where members.current) as languages,
    coalesce(any_value(top_keys.top_entity_keys), []) as top_entity_keys
from members
left join top_keys on top_keys.story_id = members.story_id
group by members.story_id;

-- story_timeline: one row per (story, day, language) of current documents.
create or replace view story_timeline as
select
    m.story_id,
    coalesce(d.published, cast(d.created_at as date)) as day,
    d.language,
    count(*) as documents
from current_story_members as m
join documents as d on d.doc_id = m.doc_id
group by all;
