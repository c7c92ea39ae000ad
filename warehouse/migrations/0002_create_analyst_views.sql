-- 0002: views for analysts.

-- documents_per_day: one row per (day, language). The day is the published date when known
-- (month-precision dates fall on the 1st), else the day the document was first loaded.
create view documents_per_day as
select
    coalesce(published, cast(created_at as date)) as day,
    case when published is null then 'first_seen' else published_precision end as day_precision,
    language,
    count(*) as documents
from documents
group by all
order by day, language;

-- top_entities: one row per (canonical key, label), most widely mentioned first.
create view top_entities as
select
    key,
    label,
    mode(text) as name,
    count(distinct doc_id) as documents,
    count(*) as mentions
from mentions
group by key, label
order by documents desc, mentions desc, key;

-- document_entities: one row per (document, entity key): the handy join for "documents
-- mentioning X and Y" questions.
create view document_entities as
with per_doc as (
    select doc_id, key, label, count(*) as mentions
    from mentions
    group by doc_id, key, label
)
select d.doc_id, d.title, d.published, d.published_precision, d.language, p.key, p.label, p.mentions
from per_doc as p
join documents as d using (doc_id);
