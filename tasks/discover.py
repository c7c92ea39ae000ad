"""Discover inbox files and skip the ones the warehouse has seen unchanged (path, size, mtime)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from warehouse.records import Candidate, KnownSource, source_id_for


class Discovery(BaseModel):
    """What discovery found: files to read, and how many were skipped as unchanged."""

    candidates: list[Candidate]
    unchanged: int
    seen: int
    known_hashes: dict[str, str]  # source_id → content hash, for the candidates already known


def _is_hidden(path: str) -> bool:
    return any(part.startswith(".") for part in Path(path).parts if part not in (".", ".."))


def expand_inbox(patterns: Iterable[str]) -> list[str]:
    """Absolute paths of the regular files under directories or matching globs, sorted, unique.
    Hidden files and folders (dot-names) are passed over: editors and syncers leave them."""
    found: set[str] = set()
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        if os.path.isdir(pattern):
            pattern = os.path.join(pattern, "**", "*")
        for match in glob.iglob(pattern, recursive=True):
            if os.path.isfile(match) and not _is_hidden(os.path.relpath(match, os.curdir)):
                found.add(os.path.abspath(match))
    return sorted(found)


def stat_files(paths: Iterable[str]) -> list[Candidate]:
    """Candidate per path; a file that vanished since listing is left out."""
    candidates = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        candidates.append(
            Candidate(
                source_id=source_id_for(path), locator=path, size=info.st_size,
                mtime_ns=info.st_mtime_ns,
            )
        )
    return candidates


def select_changed(
    candidates: list[Candidate], known: dict[str, KnownSource]
) -> Discovery:
    """Keep the files that are new or whose size or mtime changed since they were recorded."""
    changed = []
    for candidate in candidates:
        seen = known.get(candidate.source_id)
        if seen and (seen.size, seen.mtime_ns) == (candidate.size, candidate.mtime_ns):
            continue
        changed.append(candidate)
    hashes = {
        c.source_id: known[c.source_id].content_hash
        for c in changed
        if c.source_id in known and known[c.source_id].content_hash
    }
    return Discovery(
        candidates=changed, unchanged=len(candidates) - len(changed), seen=len(candidates),
        known_hashes=hashes,
    )


def discover(patterns: Iterable[str], known: dict[str, KnownSource]) -> Discovery:
    """The whole stage: list, stat and compare with what the warehouse knows."""
    return select_changed(stat_files(expand_inbox(patterns)), known)


def in_batches(items: list, size: int) -> list[list]:
    """Consecutive slices of at most `size` items: the flows' unit of work."""
    return [items[start: start + size] for start in range(0, len(items), size)]


def in_waves(items: list, size: int, width: int) -> list[list[list]]:
    """Batches of `size` items, grouped `width` at a time: the batches analysed together."""
    return in_batches(in_batches(items, size), width)


@task(name="discover", cache_policy=NO_CACHE)
def discover_stage(patterns: list[str]) -> Discovery:
    """List the inbox and keep the files that are new or changed since the last run."""
    from warehouse.connection import writer
    from warehouse.queries import known_file_sources
    from warehouse.settings import get_settings

    settings = get_settings()
    with writer(settings.db_path, settings.lock_timeout_s) as con:
        known = known_file_sources(con)
    found = discover(patterns, known)
    get_run_logger().info("%d files seen, %d unchanged", found.seen, found.unchanged)
    return found
