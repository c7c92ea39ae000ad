"""Discovery: what a run should read. Files: the inbox listed, and those the warehouse has seen
unchanged (path, size, mtime) skipped. URLs: lists, RSS/Atom feeds and sitemaps read (feeds and
sitemaps fetched with the validators of their last fetch, so an unchanged one costs a 304), every
link canonicalised (tasks.urls) and deduplicated, URLs the warehouse holds skipped, and per-source
and per-run caps keeping the newest. Bad input is a Reject, never an exception."""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.feeds import DiscoveryError, Item, list_items, parse_feed, parse_sitemap, read_url_list
from tasks.http import RETRY_REASONS, Fetcher
from tasks.records import (
    DiscoveredUrl, Discovery, Fetched, FetchFailed, FetchKind, FetchRequest, FetchResult,
    InboxFile, SourceFetch, Validators, part_of,
)
from tasks.urls import UrlError, canonicalize_url, redact_url
from warehouse.records import Candidate, FetchRetry, KnownSource, Reject, source_id_for
from warehouse.session import Warehouse
from warehouse.settings import DiscoverSettings, FilesSettings, Settings


def _is_hidden(path: str) -> bool:
    return any(part.startswith(".") for part in Path(path).parts if part not in (".", ".."))


def is_inside(path: str, folder: str) -> bool:
    """True when absolute `path` is `folder` or below it."""
    return os.path.commonpath([path, folder]) == folder


def utf8_name(path: str) -> str:
    """The locator of absolute `path`: text that UTF-8 can hold, one per file. A name that is
    valid UTF-8 is its own locator. One that is not (an old archive's latin-1 or cp437 name)
    reaches Python with lone surrogates, which neither the source id nor DuckDB can encode: it
    becomes its file URI (`file:///inbox/caf%E9.txt`), every byte but ASCII letters, digits and
    `/_.-~` percent-encoded. No other file's locator can equal it (those are absolute paths,
    which start with '/'), and percent-decoding it gives back the exact bytes; backslash escapes
    could not tell the byte 0xE9 from a name holding the four characters `\\xe9`."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return Path(os.path.abspath(path)).as_uri()
    return path


def utf8_text(text: str) -> str:
    """`text` (a message naming paths) as text that UTF-8 can hold: undecodable bytes written as
    backslash escapes, readable, where a message needs no more."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def inbox_base(pattern: str) -> str:
    """The folder a glob pattern lists: its part before the first wildcard."""
    while glob.has_magic(pattern):
        pattern = os.path.dirname(pattern)
    return pattern or os.curdir


def _walk(folder: str) -> Iterator[tuple[str, bool]]:
    """(path, whether it may be a folder) of every entry under `folder` but folders and
    dot-names. Linked folders are not entered (a link back up would list the inbox over and
    over, a link to / the whole disk) but listed, for `_is_input` to decide; os.walk has told
    the other entries from folders already (one stat each saved: 0.3 s in 100,000 files)."""
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        links = [name for name in folders if os.path.islink(os.path.join(parent, name))]
        yield from ((os.path.join(parent, name), False) for name in files
                    if not name.startswith("."))
        yield from ((os.path.join(parent, name), True) for name in links
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


class InboxMissing(FileNotFoundError):
    """An inbox folder (or the folder a glob starts from) that does not exist: a typo or an
    unmounted disk, not an empty inbox."""


def _listed_folder(pattern: str) -> tuple[str, bool]:
    """(the folder an inbox pattern lists: the pattern itself or its glob's inbox_base, and
    whether it is the pattern itself); InboxMissing when that folder does not exist."""
    folder = os.path.isdir(pattern)
    base = pattern if folder else inbox_base(pattern)
    if not os.path.exists(base):
        raise InboxMissing(f"inbox {pattern!r} does not exist ({base!r} not found)")
    return base, folder


def check_inbox(patterns: Iterable[str]) -> None:
    """Raise InboxMissing for the first pattern whose folder does not exist, before a run."""
    for pattern in patterns:
        _listed_folder(os.path.expanduser(pattern))


def list_inbox(patterns: Iterable[str]) -> list[tuple[str, str]]:
    """(absolute path, resolved inbox folder) of the inputs under directories or matching globs,
    sorted, unique. Hidden files and folders (dot-names below the inbox) are passed over:
    editors and syncers leave them."""
    found: dict[str, str] = {}
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        base, folder = _listed_folder(pattern)
        root = os.path.realpath(base)
        listed = _walk(pattern) if folder else ((path, True) for path in _glob(pattern, base))
        for path, may_be_folder in listed:
            if not may_be_folder or _is_input(path, root):
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


# The fields stat_inbox sets. pydantic keeps a set of the fields given per instance; one set for
# all the InboxFiles of a listing took 100,000 files from 158 MB to 81.
_STAT_FIELDS = ("source_id", "locator", "size", "mtime_ns", "root", "path")


def stat_inbox(listed: Iterable[tuple[str, str]]) -> list[InboxFile]:
    """InboxFile per (path, inbox folder); a file that vanished since listing is left out."""
    candidates, given = [], set(_STAT_FIELDS)  # one set per listing, shared by its files
    for path, root in listed:
        if (info := _stat(path)) is None:
            continue
        locator = utf8_name(path)
        # Not validated: every value is a str or int from the file system, as declared.
        candidates.append(InboxFile.model_construct(
            given, source_id=source_id_for(locator), locator=locator,
            size=info.st_size, mtime_ns=info.st_mtime_ns, root=root,
            path=None if locator == path else path))
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


def leave_settling(found: Discovery, settle_s: float, now_ns: int) -> Discovery:
    """`found` without the files modified less than `settle_s` before `now_ns` (or stamped that
    far ahead: a clock a little off), which may still be being written: counted as `settling`
    and left for the next run. Cheaper and surer than a second stat after a wait, which would
    hold up the run and still miss a writer pausing longer than the wait; a file that grows
    after it was read is read again, and its new document supersedes the earlier one."""
    window = int(settle_s * 1e9)
    ready = [c for c in found.candidates
             if c.mtime_ns is None or abs(now_ns - c.mtime_ns) >= window]
    settling = len(found.candidates) - len(ready)
    return found.model_copy(update={"candidates": ready, "settling": settling,
                                    "seen": found.seen - settling})


def discover_files(patterns: Iterable[str], known: dict[str, KnownSource],
                   part_bytes: int | None = None, settle_s: float = 0.0,
                   now_ns: int | None = None, part_records: int | None = None) -> Discovery:
    """The whole stage: list, stat and compare with what the warehouse knows; files modified
    less than `settle_s` before `now_ns` (default: now) are left for the next run; JSON Lines
    files larger than `part_bytes` are cut into parts of at most `part_bytes` and
    `part_records` records (each read by a batch of its own)."""
    found = select_changed(stat_inbox(list_inbox(patterns)), known)
    if settle_s:
        found = leave_settling(found, settle_s, time.time_ns() if now_ns is None else now_ns)
    if part_bytes:
        found.candidates = [part for candidate in found.candidates
                            for part in in_parts(candidate, part_bytes, found.known_hashes,
                                                 part_records)]
    return found


_SPLITTABLE = frozenset({".jsonl", ".ndjson"})
# Bytes of a short JSON Lines record: a file smaller than `part_records` of them is not scanned.
_SHORT_RECORD = 64


def in_parts(candidate: Candidate, part_bytes: int, known_hashes: dict[str, str],
             part_records: int | None = None) -> list[Candidate]:
    """A large JSON Lines file as parts of about `part_bytes` and at most `part_records`
    records (a small record costs far more memory than its bytes), cut at line breaks, with the
    number of the first record of each and the hash of the whole file; the file itself when it
    is small, not UTF-8-like (UTF-16 cannot be cut at a byte), or unchanged since last read."""
    size = candidate.size or 0
    small = size <= part_bytes and (not part_records or size <= part_records * _SHORT_RECORD)
    if (not isinstance(candidate, InboxFile) or small
            or Path(candidate.locator).suffix.lower() not in _SPLITTABLE):
        return [candidate]
    try:
        digest, cuts = _scan_lines(candidate.path or candidate.locator, part_bytes,
                                   part_records)
    except OSError:
        return [candidate]  # parse reports what is wrong with it
    if digest is None or digest == known_hashes.get(candidate.source_id):
        return [candidate.model_copy(update={"file_hash": digest})]
    if len(cuts) == 1:
        return [candidate]
    bounds = [*cuts, (candidate.size, 0)]
    return [candidate.model_copy(update={
        "part": n, "parts": len(cuts), "start": start, "end": bounds[n + 1][0],
        "first_record": first, "file_hash": digest})
        for n, (start, first) in enumerate(cuts)]


def _scan_lines(path: str, part_bytes: int, part_records: int | None = None
                ) -> tuple[str | None, list[tuple[int, int]]]:
    """(sha256 of the file, [(byte offset, first record number)] of each part). The hash is
    None for a file that is not UTF-8-like (a NUL byte or a UTF-16 byte-order mark)."""
    digest = hashlib.sha256()
    cuts, offset, records = [(0, 1)], 0, 0
    with open(path, "rb") as file:
        for line in file:
            if offset == 0 and (line.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\0" in line):
                return None, cuts
            if offset - cuts[-1][0] >= part_bytes or (
                    part_records and records - cuts[-1][1] + 1 >= part_records):
                cuts.append((offset, records + 1))
            digest.update(line)
            offset += len(line)
            records += bool(line.strip())
    return digest.hexdigest(), cuts


def read_url_file(path: str) -> list[str]:
    """The URLs of a list file; a missing file is an error of the run, not of one input."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"URL list {path!r} does not exist")
    return read_url_list(Path(path).read_text(encoding="utf-8"))


def in_batches(items: list, size: int, max_bytes: int | None = None, ramp: bool = False
               ) -> list[list]:
    """Consecutive runs of at most `size` items and, with `max_bytes`, of at most that many
    bytes of input (an input larger than that is a batch alone): the flows' unit of work. A
    part of a file (many records) is always a batch alone. With `ramp`, the first two batches
    hold a sixteenth and a quarter of `size`: the entity workers wait for a run's first batch to
    be read, cleaned and language-tagged (about 1.7 s for 500 BBC articles), and each later
    batch is ready before the one before it is tagged (reading takes a fifth of tagging). The
    last two hold a quarter and a sixteenth too: the workers tag the last batches while the
    batches before them are written, and the run's last write, which nothing overlaps, is
    short (a full last batch left a core idle for about a second on BBC); a run of fewer than
    `size` and those two is not cut smaller at its end."""
    small = [max(1, size // 16), max(1, size // 4)] if ramp else []
    ramp_down = ramp and len(items) > size + sum(small)
    batches: list[list] = []
    weight = 0
    for position, item in enumerate(items):
        item_bytes = input_bytes(item) if max_bytes else 0
        limit = small[len(batches) - 1] if 0 < len(batches) <= len(small) else size
        if ramp_down and batches:  # the batch began where as many items were left as it holds now
            limit = min(limit, _ramp_down(len(items) - position + len(batches[-1]), small, size))
        if (not batches or len(batches[-1]) >= limit or part_of(item) or part_of(batches[-1][0])
                or (max_bytes and weight + item_bytes > max_bytes)):
            batches.append([])
            weight = 0
        batches[-1].append(item)
        weight += item_bytes
    return batches


def _ramp_down(left: int, small: list[int], size: int) -> int:
    """The most items a batch begun with `left` items to go takes, so that the last batches
    hold a quarter and a sixteenth of `size` (`small`)."""
    tail = sum(small)
    if left > size + tail:
        return size
    if left > tail:
        return left - tail
    return small[0] if left <= small[0] else left - small[0]


def input_bytes(item: object) -> int:
    """The bytes a batch reads for one input: a file's size, or its part's."""
    part = part_of(item)  # type: ignore[arg-type]  (files, parts of files and URLs alike)
    if part and part.end is not None:
        return part.end - part.start
    return getattr(item, "size", None) or 0


# ---------------------------------------------------------------- URLs: items → canonical URLs


def canonical_urls(items: Iterable[Item], source: str) -> tuple[list[DiscoveredUrl], list[Reject]]:
    """Canonical DiscoveredUrls of items; links we will not fetch become Rejects."""
    found: list[DiscoveredUrl] = []
    rejects: list[Reject] = []
    for item in items:
        try:
            url = canonicalize_url(item.link, base=item.base or None)
        except UrlError as error:
            rejects.append(_reject(item.link or "(empty link)", error.reason,
                                   f"{error.detail} (from {source})"))
            continue
        found.append(DiscoveredUrl(url=url, source=source, via=item.via, title=item.title,
                                   published=item.published, lastmod=item.lastmod))
    return found, rejects


def newest_first(urls: list[DiscoveredUrl], cap: int) -> tuple[list[DiscoveredUrl], int]:
    """At most `cap` URLs, the most recently dated first (undated keep their order, last)."""
    if len(urls) <= cap:
        return urls, 0
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    ranked = sorted(urls, key=lambda u: u.published or u.lastmod or floor, reverse=True)
    return ranked[:cap], len(urls) - cap


def merge_urls(groups: Iterable[list[DiscoveredUrl]], known: frozenset[str], cap: int
               ) -> tuple[list[DiscoveredUrl], int, int]:
    """One entry per URL across sources (first seen wins, gaps filled from later sightings),
    without URLs already known; returns (urls, known_skipped, capped)."""
    merged: dict[str, DiscoveredUrl] = {}
    skipped: set[str] = set()
    for group in groups:
        for found in group:
            if redact_url(found.url) in known:  # the warehouse keeps URLs redacted
                skipped.add(found.url)
            elif found.url in merged:
                first = merged[found.url]
                first.title = first.title or found.title
                first.published = first.published or found.published
                first.lastmod = first.lastmod or found.lastmod
            else:
                merged[found.url] = found.model_copy()
    urls = list(merged.values())
    return urls[:cap], len(skipped), max(0, len(urls) - cap)


def _reject(locator: str, reason: str, detail: str = "") -> Reject:
    return Reject(source_id=source_id_for(locator), locator=locator, content_hash=None,
                  stage="discover", reason=reason, detail=detail)


# ---------------------------------------------------------------- URLs: the discovery pass


def discover_urls(
    fetcher: Fetcher,
    urls: Sequence[str] = (),
    feeds: Sequence[str] = (),
    sitemaps: Sequence[str] = (),
    validators: Mapping[str, Validators] | None = None,
    known_urls: Iterable[str] = (),
    config: DiscoverSettings | None = None,
) -> Discovery:
    """The URLs to fetch this run from lists, feeds and sitemaps; never raises for bad input.

    `validators` maps a feed or sitemap URL to its last ETag/Last-Modified (conditional GET);
    `known_urls` are canonical URLs the warehouse already holds, skipped here.
    """
    config = config or DiscoverSettings()
    validators = validators or {}
    result = Discovery()
    groups: list[list[DiscoveredUrl]] = []

    listed, rejects = canonical_urls(list_items(urls), "list")
    result.rejects += rejects
    groups.append(_capped(listed, config, result))

    for feed_url, fetched in _fetch_sources(fetcher, feeds, "feed", validators, result):
        groups.append(_read_feed(feed_url, fetched, config, result))

    groups += _read_sitemaps(fetcher, sitemaps, validators, config, result)

    result.urls, result.unchanged, capped = merge_urls(groups, frozenset(known_urls),
                                                       config.max_urls_per_run)
    result.seen = len(result.urls) + result.unchanged
    result.capped += capped
    if result.capped:
        # The URLs left over are fetched at a later run only if that run reads them again: a
        # feed or sitemap fetched with its validators would answer 304 and list none of them.
        for source in result.sources:
            source.etag = source.last_modified = None
    return result


def _capped(urls: list[DiscoveredUrl], config: DiscoverSettings, result: Discovery
            ) -> list[DiscoveredUrl]:
    kept, dropped = newest_first(urls, config.max_urls_per_source)
    result.capped += dropped
    return kept


def _fetch_sources(fetcher: Fetcher, urls: Sequence[str], kind: FetchKind,
                   validators: Mapping[str, Validators], result: Discovery
                   ) -> list[tuple[str, Fetched]]:
    """Fetch feeds or sitemaps; failures and 304s are recorded, bodies returned."""
    requests: list[FetchRequest] = []
    for url in dict.fromkeys(urls):
        known = validators.get(url, Validators())
        requests.append(FetchRequest(url=url, kind=kind, etag=known.etag,
                                     last_modified=known.last_modified))
    bodies: list[tuple[str, Fetched]] = []
    for request, fetched in zip(requests, fetcher.fetch_many(requests), strict=True):
        result.sources.append(_source_record(request, fetched))
        if isinstance(fetched, Fetched):
            bodies.append((request.url, fetched))
        elif fetched.reason != "not_modified":
            result.rejects.append(_reject(request.url, fetched.reason, fetched.detail))
    return bodies


def _source_record(request: FetchRequest, fetched: FetchResult) -> SourceFetch:
    if isinstance(fetched, FetchFailed):
        outcome = "not_modified" if fetched.reason == "not_modified" else "failed"
        return SourceFetch(url=request.url, kind=request.kind, outcome=outcome,
                           status=fetched.status, etag=fetched.etag,
                           last_modified=fetched.last_modified,
                           reason=None if outcome == "not_modified" else fetched.reason)
    return SourceFetch(url=request.url, kind=request.kind, outcome="fetched",
                       status=fetched.status, etag=fetched.etag,
                       last_modified=fetched.last_modified)


def _read_feed(feed_url: str, fetched: Fetched, config: DiscoverSettings, result: Discovery
               ) -> list[DiscoveredUrl]:
    try:
        items = parse_feed(fetched.body, fetched.final_url)
    except DiscoveryError as error:
        _unreadable(result, feed_url, error)
        return []
    found, rejects = canonical_urls(items, feed_url)
    result.rejects += rejects
    _count_urls(result, feed_url, len(found))
    return _capped(found, config, result)


def _read_sitemaps(fetcher: Fetcher, roots: Sequence[str], validators: Mapping[str, Validators],
                   config: DiscoverSettings, result: Discovery) -> list[list[DiscoveredUrl]]:
    """Read sitemaps level by level, following indexes down to `max_sitemap_depth`."""
    groups: list[list[DiscoveredUrl]] = []
    level, seen, budget = list(dict.fromkeys(roots)), set(roots), config.max_sitemaps_per_run
    for depth in range(config.max_sitemap_depth + 1):
        batch, level = level[:budget], []
        budget -= len(batch)
        for url, fetched in _fetch_sources(fetcher, batch, "sitemap", validators, result):
            try:
                content = parse_sitemap(fetched.body, fetched.final_url, config.max_xml_bytes)
            except DiscoveryError as error:
                _unreadable(result, url, error)
                continue
            if content.sitemaps:
                # An index's own validators say nothing about its children, which change
                # without it: indexes are always fetched in full (they are small).
                _source_of(result, url).etag = _source_of(result, url).last_modified = None
            found, rejects = canonical_urls(content.items, url)
            result.rejects += rejects
            _count_urls(result, url, len(found))
            groups.append(_capped(found, config, result))
            children = [c for c in content.sitemaps if c not in seen]
            if children and depth == config.max_sitemap_depth:
                result.rejects.append(_reject(url, "sitemap_too_deep", f"{len(children)} child "
                                      f"sitemaps below depth {config.max_sitemap_depth}"))
                continue
            seen.update(children)
            level += children
        if not level or budget <= 0:
            break
    return groups


def _source_of(result: Discovery, source_url: str) -> SourceFetch:
    return next(s for s in reversed(result.sources) if s.url == source_url)


def _count_urls(result: Discovery, source_url: str, count: int) -> None:
    _source_of(result, source_url).urls = count


def _unreadable(result: Discovery, source_url: str, error: DiscoveryError) -> None:
    """A fetched source that does not parse: a Reject, and no validators, so that the next
    run reads it again instead of trusting a 304 for a broken file."""
    result.rejects.append(_reject(source_url, error.reason, error.detail))
    source = _source_of(result, source_url)
    source.outcome, source.reason = "failed", error.reason
    source.etag = source.last_modified = None


# ---------------------------------------------------------------- the stages


@task(name="discover", cache_policy=NO_CACHE)
def discover_files_stage(session: Warehouse, patterns: list[str], run_id: str,
                         settings: FilesSettings) -> Discovery:
    """List the inbox and keep the files that are new or changed since the last run."""
    found = discover_files(patterns, session.known_file_sources(), settings.max_batch_bytes,
                           settings.settle_s, part_records=settings.max_part_records)
    session.record_discovery(run_id, found.seen, found.unchanged)
    session.publish_progress(run_id)
    get_run_logger().info("%d files seen, %d skipped as unchanged since the last run (same "
                          "size and modification time; the summary's 'unchanged' also counts "
                          "files read again whose text did not change), %d still being written "
                          "(left for the next run)", found.seen, found.unchanged, found.settling)
    return found


@task(name="discover-urls", cache_policy=NO_CACHE)
def discover_urls_stage(
    session: Warehouse, urls: list[str], url_file: str | None, feeds: list[str],
    sitemaps: list[str], settings: Settings, fetcher: Fetcher,
) -> Discovery:
    """Article URLs to fetch this run, from lists, a list file, feeds and sitemaps; feeds and
    sitemaps are fetched with the validators of their last fetch (conditional GET)."""
    logger = get_run_logger()
    listed = [*urls, *(read_url_file(url_file) if url_file else [])]
    if not (listed or feeds or sitemaps):
        logger.warning("no URLs, feeds or sitemaps to read: nothing to fetch (give them in "
                       "the run's params: urls, url_file, feeds, sitemaps)")
    known = session.known_urls(FetchRetry(RETRY_REASONS, settings.discover.max_url_attempts))
    redacted = {url: redact_url(url) for url in [*feeds, *sitemaps]}  # as the warehouse has them
    stored = session.url_validators(list(redacted.values()))
    validators = {url: Validators(etag=stored[key][0], last_modified=stored[key][1])
                  for url, key in redacted.items() if key in stored}
    found = discover_urls(fetcher, listed, feeds, sitemaps, validators, known, settings.discover)
    logger.info("%d article URLs found, %d of them stored already", found.seen, found.unchanged)
    if found.capped:
        logger.warning("%d more URLs left for a later run by the caps (max_urls_per_run %d, "
                       "max_urls_per_source %d); their feeds and sitemaps are read in full then",
                       found.capped, settings.discover.max_urls_per_run,
                       settings.discover.max_urls_per_source)
    return found
