-- 0005: analysts' own aliases for entities, applied by the views without re-tagging.

-- entity_aliases: one row per (alias, language); key: (alias, language). Maps a name (or the
-- key a tagger gave it) to the canonical key analysts want, e.g. ('Zelenskij', '*',
-- 'volodymyr_zelensky'). language '*' applies to every language. Add rows with SQL (source
-- 'sql', the default) or list them in the file of the CORPUSFLOW_ALIAS_FILE setting (source
-- 'file', reloaded at every run). The bundled gazetteer (tasks/gazetteer/) already gives the
-- keys of the names it knows; rows here win over it.
create table entity_aliases (
    alias    varchar not null,
    language varchar not null default '*',
    key      varchar not null,
    label    varchar,                      -- optional: relabel the mention too
    source   varchar not null default 'sql',
    primary key (alias, language)
);

-- alias_slugs: entity_aliases with each alias in the tagger's key form (lower-case ASCII,
-- non-alphanumerics as '_'), so a lookup is one equality join on the mention's key or text.
create view alias_slugs as
select
    trim(regexp_replace(lower(strip_accents(alias)), '[^a-z0-9]+', '_', 'g'), '_') as slug,
    language, key, label
from entity_aliases;

-- entity_mentions: one row per mention, with the key (and label) after analysts' aliases;
-- `tagger_key` keeps what the tagger said.
create view entity_mentions as
select
    m.doc_id, m.tagger, m.start_char, m.end_char,
    coalesce(by_lang.label, by_text.label, any_lang.label, m.label) as label,
    m.text,
    coalesce(by_lang.key, by_text.key, any_lang.key, m.key) as key,
    m.key as tagger_key
from mentions as m
join documents as d using (doc_id)
left join alias_slugs as by_lang on by_lang.slug = m.key and by_lang.language = d.language
left join alias_slugs as any_lang on any_lang.slug = m.key and any_lang.language = '*'
left join alias_slugs as by_text
    on by_text.slug = trim(regexp_replace(lower(strip_accents(m.text)), '[^a-z0-9]+', '_', 'g'), '_')
    and by_text.language in (d.language, '*') and by_text.slug <> m.key;

-- top_entities and document_entities, now over the resolved keys.
create or replace view top_entities as
select
    key,
    label,
    mode(text) as name,
    count(distinct doc_id) as documents,
    count(*) as mentions
from entity_mentions
group by key, label
order by documents desc, mentions desc, key;

create or replace view document_entities as
with per_doc as (
    select doc_id, key, label, count(*) as mentions
    from entity_mentions
    group by doc_id, key, label
)
select d.doc_id, d.title, d.published, d.published_precision, d.language, p.key, p.label, p.mentions
from per_doc as p
join documents as d using (doc_id);
