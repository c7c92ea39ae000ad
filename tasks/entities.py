"""The entity stage: named entities of a batch of documents, tagged on the task runner and the
pool of tasks/pool.py, and the alias file loaded into the warehouse.

The tagging itself (spaCy pipelines, the news rules, canonical keys) is tasks/ner.py. This module
names it without importing it: the pool's workers import tasks/ner.py and spaCy, and the flow's
process, which only hands them texts, imports spaCy only when it tags itself (one worker, or a
batch too small for the pool). That keeps about 60 MB of prefect and duckdb out of each worker
and about 95 MB of spaCy out of the flow's process.
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.pool import ByName, map_chunks
from tasks.records import Tagged
from warehouse.records import Document
from warehouse.session import Warehouse
from warehouse.settings import EntitySettings

TAG_ENTITIES = ByName("tasks.ner", "tag_entities")


def _text_length(item: tuple[str, str, str]) -> int:
    return len(item[1])


def read_alias_file(path: Path) -> list[dict[str, str | None]]:
    """Rows of an alias file: JSON Lines of {"alias", "key"[, "label", "language"]}. A bad line
    raises ValueError naming the file and line, since a silently skipped alias is a wrong count."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
            row = {"alias": str(record["alias"]).strip(), "key": str(record["key"]).strip(),
                   "label": record.get("label"), "language": record.get("language") or "*"}
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path}:{number}: not an alias record ({error!r})") from None
        if not row["alias"] or not row["key"]:
            raise ValueError(f"{path}:{number}: alias and key must not be empty")
        rows.append(row)
    return rows


class TextClaims:
    """The texts (doc_ids) a run has handed to the tagger so far, shared by its batches' entity
    stages on the threads runner. A text an earlier batch tagged is an exact duplicate by the
    time this batch is written, and its mentions are not stored again: tagging it a second time
    was about 3 % of the taggers' time on BBC, whose copies often fall in different batches.
    The last `kept` texts are remembered (about 10 MB for 100,000): a copy of an older one is
    tagged again, as it would have been anyway, and a run of millions of files stays bounded."""

    def __init__(self, kept: int = 100_000) -> None:
        self._claimed: dict[str, None] = {}  # in claiming order, oldest first
        self._kept = kept
        self._lock = threading.Lock()

    def claim(self, doc_ids: list[str]) -> set[str]:
        """Those of `doc_ids` no earlier call claimed (among the last `kept`), claimed now."""
        with self._lock:
            new = set(doc_ids).difference(self._claimed)
            self._claimed.update(dict.fromkeys(doc_ids))
            excess = max(0, len(self._claimed) - self._kept)
            for oldest in list(itertools.islice(self._claimed, excess)):
                del self._claimed[oldest]
        return new


@task(name="entities", cache_policy=NO_CACHE)
def entities_stage(documents: list[Document], settings: EntitySettings, workers: int = 1,
                   claims: TextClaims | None = None) -> Tagged:
    """Tag the named entities of a batch of documents, on `workers` processes (tasks/pool.py).
    Copies of one text (one doc_id, the text's hash) are tagged once, as the first copy reads
    (the one dedup keeps), and, with `claims`, texts an earlier batch of the run tagged are
    left out and named in `skipped`."""
    first: dict[str, tuple[str, str, str]] = {}
    for d in documents:
        first.setdefault(d.doc_id, (d.doc_id, d.text, d.language))
    wanted = claims.claim(list(first)) if claims is not None else set(first)
    items = [item for doc_id, item in first.items() if doc_id in wanted]
    return Tagged(mentions=map_chunks(TAG_ENTITIES, items, workers, _text_length,
                                      settings.ner_models),
                  skipped=[doc_id for doc_id in first if doc_id not in wanted])


@task(name="retag-entities", cache_policy=NO_CACHE)
def retag_stage(session: Warehouse, batch_size: int, settings: EntitySettings, workers: int = 1
                ) -> int:
    """Re-tag every stored document with the current model settings, replacing its mentions in
    one transaction (analysts see the old mentions or the new ones, never a mix). Returns the
    number of mentions written."""
    written = 0
    with session.transaction():
        for page in session.pages(session.documents_for_tagging, batch_size):
            mentions = map_chunks(TAG_ENTITIES, page, workers, _text_length, settings.ner_models)
            session.replace_mentions([doc_id for doc_id, _, _ in page], mentions)
            written += len(mentions)
    return written


@task(name="sync-aliases", cache_policy=NO_CACHE)
def sync_aliases_stage(session: Warehouse, settings: EntitySettings) -> int:
    """Load the alias file named by the settings into entity_aliases (none: nothing to do)."""
    if settings.alias_file is None:
        return 0
    rows = read_alias_file(settings.alias_file)
    session.replace_file_aliases(rows)
    return len(rows)
