"""Discover inbox files and skip the ones the warehouse has seen unchanged (path, size, mtime)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
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

    def known_hashes_of(self, batch: list[Candidate]) -> dict[str, str]:
        """The known hashes of one batch's candidates: what its parse task needs to be sent."""
        return {c.source_id: self.known_hashes[c.source_id]
                for c in batch if c.source_id in self.known_hashes}


class InboxFile(Candidate):
    """A file listed in an inbox. `root` is the inbox folder with its symlinks resolved: the
    file must not leave it once its own are (parse checks that when it opens the file). `path`
    is the name to open when the locator had to spell an undecodable name differently."""

    root: str
    path: str | None = None


def _is_hidden(path: str) -> bool:
    return any(part.startswith(".") for part in Path(path).parts if part not in (".", ".."))


def is_inside(path: str, folder: str) -> bool:
    """True when absolute `path` is `folder` or below it."""
    return os.path.commonpath([path, folder]) == folder


def utf8_name(path: str) -> str:
    """`path` as text that UTF-8 can hold. A name that is not valid UTF-8 (an old archive's
    latin-1 or cp437 name) reaches Python with lone surrogates, which neither the source id nor
    DuckDB can encode: its undecodable bytes are written as backslash escapes instead."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path


def inbox_base(pattern: str) -> str:
    """The folder a glob pattern lists: its part before the first wildcard."""
    while glob.has_magic(pattern):
        pattern = os.path.dirname(pattern)
    return pattern or os.curdir


def _walk(folder: str) -> Iterator[str]:
    """Every entry under `folder` but folders and dot-names. Linked folders are not entered (a
    link back up would list the inbox over and over, a link to / the whole disk) but listed,
    for `_is_input` to decide."""
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        links = [name for name in folders if os.path.islink(os.path.join(parent, name))]
        yield from (os.path.join(parent, name) for name in [*files, *links]
                    if not name.startswith("."))


def _through_link(base: str, relative: str) -> bool:
    """True when a folder between `base` and the file `relative` to it is a symlink."""
    parts = Path(relative).parts[:-1]
    return any(os.path.islink(os.path.join(base, *parts[: n + 1])) for n in range(len(parts)))


def _glob(pattern: str, base: str) -> Iterator[str]:
    """Matches of a glob pattern but dot-names below `base`. glob enters linked folders, so
    what it finds through one is passed over, as `_walk` does."""
    for match in glob.iglob(pattern, recursive=True):
        relative = os.path.relpath(match, base)
        if not _is_hidden(relative) and not _through_link(base, relative):
            yield match


def _is_input(path: str, root: str) -> bool:
    """Folders are not inputs, except a link to one outside the inbox: kept, so that it ends as
    an outside_inbox reject instead of silently. Files, links and special files are inputs
    (parse reads them, or rejects them with the reason)."""
    if not os.path.isdir(path):
        return True
    return os.path.islink(path) and not is_inside(os.path.realpath(path), root)


def list_inbox(patterns: Iterable[str]) -> list[tuple[str, str]]:
    """(absolute path, resolved inbox folder) of the inputs under directories or matching globs,
    sorted, unique. Hidden files and folders (dot-names below the inbox) are passed over:
    editors and syncers leave them."""
    found: dict[str, str] = {}
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        folder = os.path.isdir(pattern)
        base = pattern if folder else inbox_base(pattern)
        if not os.path.exists(base):  # a typo or an unmounted disk, not an empty inbox
            raise FileNotFoundError(f"inbox {pattern!r} does not exist ({base!r} not found)")
        root = os.path.realpath(base)
        for path in _walk(pattern) if folder else _glob(pattern, base):
            if _is_input(path, root):
                found.setdefault(os.path.abspath(path), root)
    return sorted(found.items())


def expand_inbox(patterns: Iterable[str]) -> list[str]:
    """Absolute paths of the inputs under directories or matching globs, sorted, unique."""
    return [path for path, _ in list_inbox(patterns)]


def _stat(path: str) -> os.stat_result | None:
    """The file's stat; a link to nothing gets its own, so that it is rejected rather than
    ignored; None for a file that vanished since listing."""
    try:
        return os.stat(path)
    except OSError:
        pass
    try:
        return os.lstat(path)
    except OSError:
        return None


def stat_files(paths: Iterable[str]) -> list[Candidate]:
    """Candidate per path; a file that vanished since listing is left out."""
    candidates = []
    for path in paths:
        if (info := _stat(path)) is not None:
            candidates.append(Candidate(source_id=source_id_for(path), locator=path,
                                        size=info.st_size, mtime_ns=info.st_mtime_ns))
    return candidates


def stat_inbox(listed: Iterable[tuple[str, str]]) -> list[InboxFile]:
    """InboxFile per (path, inbox folder); a file that vanished since listing is left out."""
    candidates = []
    for path, root in listed:
        if (info := _stat(path)) is None:
            continue
        locator = utf8_name(path)
        candidates.append(InboxFile(
            source_id=source_id_for(locator), locator=locator, size=info.st_size,
            mtime_ns=info.st_mtime_ns, root=root, path=None if locator == path else path))
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
    return select_changed(stat_inbox(list_inbox(patterns)), known)


def in_batches(items: list, size: int) -> list[list]:
    """Consecutive slices of at most `size` items: the flows' unit of work."""
    return [items[start: start + size] for start in range(0, len(items), size)]


def in_waves(items: list, size: int, width: int) -> list[list[list]]:
    """Batches of `size` items, grouped `width` at a time: the batches analysed together."""
    return in_batches(in_batches(items, size), width)


@task(name="discover", cache_policy=NO_CACHE)
def discover_stage(patterns: list[str], run_id: str) -> Discovery:
    """List the inbox and keep the files that are new or changed since the last run."""
    from warehouse.connection import writer
    from warehouse.load import record_discovery
    from warehouse.progress import publish_progress
    from warehouse.queries import known_file_sources
    from warehouse.settings import get_settings

    settings = get_settings()
    with writer(settings.db_path, settings.lock_timeout_s) as con:
        found = discover(patterns, known_file_sources(con))
        record_discovery(con, run_id, found.seen, found.unchanged)
        publish_progress(con, settings.db_path, run_id)
    get_run_logger().info("%d files seen, %d unchanged", found.seen, found.unchanged)
    return found
