-- 0007: a source's versions, linked. A file (or JSON Lines record, or page) whose text changed
-- keeps every earlier document; each now points to the one that replaced it.

-- documents.superseded_by: the doc_id of the newer document of the same source
-- (documents.source_id) that replaced this one; null for a source's current document, which
-- sources.doc_id names. A version chain reads old → newer → current. Set by the loader in the
-- batch that stores the new version; a source back to an earlier text makes that document
-- current again (its superseded_by null, the one it replaces pointing to it). Another source
-- may still hold a superseded text (see duplicates): the link is about its first source.
alter table documents add column superseded_by varchar;
