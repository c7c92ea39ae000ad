"""Exact duplicates: a text whose normalised hash is already stored, or seen earlier in the batch,
is recorded as a duplicate of that document instead of becoming a second one."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from warehouse.records import CleanArticle, Duplicate


class ExactSplit(BaseModel):
    """A batch split into new texts, duplicates of other documents, and re-reads of a source's
    own document (its file changed on disk but its text did not)."""

    unique: list[CleanArticle]
    duplicates: list[Duplicate]
    same_source: list[CleanArticle]


def exact_duplicate(article: CleanArticle, canonical_doc_id: str) -> Duplicate:
    """The duplicates row for an article whose text is already held by `canonical_doc_id`."""
    return Duplicate(
        source_id=article.source_id, doc_id=None, canonical_doc_id=canonical_doc_id,
        method="exact", similarity=1.0,
    )


def split_exact(articles: list[CleanArticle], owners: dict[str, str]) -> ExactSplit:
    """Split a batch against `owners` (doc_id → source of the stored documents with those ids).
    Within the batch the first article in locator order is the canonical one."""
    unique, duplicates, same_source = [], [], []
    first_in_batch: set[str] = set()
    for article in sorted(articles, key=lambda a: (a.locator, a.record_no)):
        owner = owners.get(article.text_hash)
        if owner == article.source_id:
            same_source.append(article)
        elif owner is not None or article.text_hash in first_in_batch:
            duplicates.append(exact_duplicate(article, article.text_hash))
        else:
            first_in_batch.add(article.text_hash)
            unique.append(article)
    return ExactSplit(unique=unique, duplicates=duplicates, same_source=same_source)


@task(name="dedup-exact", cache_policy=NO_CACHE)
def dedup_stage(articles: list[CleanArticle]) -> ExactSplit:
    """Split a batch into new texts and exact duplicates of stored or earlier documents."""
    from warehouse.connection import writer
    from warehouse.queries import document_owners
    from warehouse.settings import get_settings

    settings = get_settings()
    with writer(settings.db_path, settings.lock_timeout_s) as con:
        owners = document_owners(con, sorted({a.text_hash for a in articles}))
    return split_exact(articles, owners)
