-- top_entities: one row per (canonical key, label), most widely mentioned first.
-- Its display name is the spelling used most often, ties broken alphabetically, so identical
-- runs show identical names (mode() picked either spelling of a tie: Moscow/Mosca).
create or replace view top_entities as
with spellings as (
    select key, label, text, count(*) as uses
    from entity_mentions
    group by key, label, text
),
named as (
    select key, label, arg_min(text, (-uses, text)) as name
    from spellings
    group by key, label
)
select
    m.key,
    m.label,
    any_value(n.name) as name,
    count(distinct m.doc_id) as documents,
    count(*) as mentions
from entity_mentions m
join named n on n.key = m.key and n.label = m.label
group by m.key, m.label
order by documents desc, mentions desc, m.key;
