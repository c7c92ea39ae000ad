-- 0011: stories, one news event across rewrites, outlets, days and languages (tasks/stories.py).
-- Like 0008/0009, no table here keeps a key index (DuckDB holds one wholly in memory); the
-- writer keeps each key unique (warehouse/load.py) and writes rows only for documents the same
-- transaction inserts.

-- story_terms: one row per (document, index term); key (doc_id, term). A document's strongest
-- terms by tf-idf (content words, entity keys, numbers), each kind's weights normalised to unit
-- length, so the sum of products over shared terms is a cosine. `term` is a 64-bit hash of the
-- kind and the term; `day` is the document's date (published, else the day it was first seen),
-- which bounds candidates to the story window.
create table story_terms (
    doc_id varchar not null,
    kind   tinyint not null,  -- 0 content word, 1 entity key, 2 number
    term   bigint not null,
    weight float not null,
    day    date not null
);

-- story_term_counts: one row per term; key: term. In how many grouped documents each term
-- occurs (its inverse document frequency weighs it).
create table story_term_counts (
    term      bigint not null,
    documents integer not null
);

-- story_members: one row per grouped document; key: doc_id. `story_id` is the doc_id of the
-- story's first document; `score` the link that joined it (1 for a story's first document).
create table story_members (
    story_id  varchar not null,
    doc_id    varchar not null,
    score     double not null,
    run_id    varchar not null,
    joined_at timestamp not null
);

-- story_links: one row per (document, earlier document) link at or above the threshold that
-- the grouping used; key: (doc_id, linked_doc_id). Each signal is kept, so a link explains
-- itself: cosine of content words, of entity keys, of numbers, days apart, near duplicate.
create table story_links (
    doc_id         varchar not null,
    linked_doc_id  varchar not null,
    score          double not null,
    content        double not null,
    entities       double not null,
    numbers        double not null,
    days_apart     integer not null,
    near_duplicate boolean not null,
    run_id         varchar not null
);

-- stories: one row per story: a representative title (its first document's, else its first
-- line), first and last day, size, languages and its most mentioned entity keys.
create view stories as
with members as (
    select
        m.story_id, m.doc_id, d.language, d.title, d.text, d.created_at,
        coalesce(d.published, cast(d.created_at as date)) as day
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
    count(*) as documents,
    list(distinct members.language order by members.language) as languages,
    coalesce(any_value(top_keys.top_entity_keys), []) as top_entity_keys
from members
left join top_keys on top_keys.story_id = members.story_id
group by members.story_id;

-- story_timeline: one row per (story, day, language): how a story's coverage grew.
create view story_timeline as
select
    m.story_id,
    coalesce(d.published, cast(d.created_at as date)) as day,
    d.language,
    count(*) as documents
from story_members as m
join documents as d on d.doc_id = m.doc_id
group by all;

-- top_stories: stories of more than one document, biggest first.
create view top_stories as
select *
from stories
where documents > 1
order by documents desc, last_day desc, story_id;
