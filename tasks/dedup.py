"""Exact and URL duplicates: a text whose normalised hash is already stored, or seen earlier in
the batch, is recorded as a duplicate of that document instead of becoming a second one; a new
text under a known canonical URL is stored and recorded as a `url` duplicate of the first."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from tasks.records import ExactSplit
from warehouse.records import Document, Duplicate
from warehouse.session import Warehouse


def exact_duplicate(article: Document, canonical_doc_id: str) -> Duplicate:
    """The duplicates row for an article whose text is already held by `canonical_doc_id`."""
    return Duplicate(
        source_id=article.source_id, doc_id=None, canonical_doc_id=canonical_doc_id,
        method="exact", similarity=1.0,
    )


def url_duplicate(article: Document, canonical_doc_id: str) -> Duplicate:
    """The duplicates row for a new text published under an already known canonical URL;
    similarity 1.0 stands for the identity of the URL, not of the texts."""
    return Duplicate(
        source_id=article.source_id, doc_id=article.doc_id, canonical_doc_id=canonical_doc_id,
        method="url", similarity=1.0,
    )


def split_exact(
    articles: list[Document], owners: dict[str, str], url_owners: dict[str, str] | None = None
) -> ExactSplit:
    """Split a batch against `owners` (doc_id → source of the stored documents with those ids)
    and `url_owners` (canonical URL → earliest stored document with it). Within the batch the
    first in input order (the inbox's sorted paths, a feed's order) is the canonical one."""
    unique, duplicates, same_source = [], [], []
    first_in_batch: set[str] = set()
    url_first = dict(url_owners or {})
    for article in articles:
        owner = owners.get(article.doc_id)
        if owner == article.source_id:
            same_source.append(article)
        elif owner is not None or article.doc_id in first_in_batch:
            duplicates.append(exact_duplicate(article, article.doc_id))
        else:
            first_in_batch.add(article.doc_id)
            unique.append(article)
            if article.canonical_url in url_first:
                duplicates.append(url_duplicate(article, url_first[article.canonical_url]))
            elif article.canonical_url:
                url_first[article.canonical_url] = article.doc_id
    return ExactSplit(unique=unique, duplicates=duplicates, same_source=same_source)


@task(name="dedup-exact", cache_policy=NO_CACHE)
def dedup_stage(session: Warehouse, articles: list[Document]) -> ExactSplit:
    """Split a batch into new texts and exact duplicates of stored or earlier documents."""
    owners = session.document_owners(sorted({a.doc_id for a in articles}))
    by_url = session.url_owners(sorted({a.canonical_url for a in articles if a.canonical_url}))
    return split_exact(articles, owners, by_url)
