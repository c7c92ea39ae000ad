"""Raw archive: every fetched body kept, content-addressed and gzip-compressed, so documents can
be re-extracted later (a better extractor, a fixed bug) without fetching the web again.

Layout: `<root>/ab/cd/<sha256>.<ext>.gz`, where ab and cd are the first hex digits of the
SHA-256 of the raw body. The same bytes fetched twice, from one URL or two, are stored once.
A body is written to a temporary name in its final directory and renamed with os.replace, so a
reader or a crash never sees half a file. The metadata (`ArchiveRecord`) is returned for the
warehouse to store; the files hold bodies only.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

from tasks.records import ArchiveRecord, Fetched

SUFFIXES = {"text/html": "html", "application/xhtml+xml": "html", "application/xml": "xml",
            "text/xml": "xml", "application/rss+xml": "xml", "application/atom+xml": "xml"}
ALL_EXTENSIONS = ("html", "xml", "bin")


class ArchiveCorrupt(Exception):
    """An archived body whose content no longer matches its hash."""


def archive_path(root: Path, sha256: str, extension: str = "html") -> Path:
    """Where a body with this hash lives."""
    return Path(root) / sha256[:2] / sha256[2:4] / f"{sha256}.{extension}.gz"


def store_body(root: Path, body: bytes, extension: str = "html") -> tuple[str, Path]:
    """Store bytes under their SHA-256 (once) and return (sha256, path)."""
    digest = hashlib.sha256(body).hexdigest()
    path = archive_path(root, digest, extension)
    if path.exists():
        return digest, path  # content-addressed: an existing file already holds these bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".gz")
    try:
        with os.fdopen(handle, "wb") as raw:
            # mtime=0: the same body always compresses to the same bytes
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
                out.write(body)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest, path


def archive_fetched(root: Path, fetched: Fetched, extractor: str = "trafilatura",
                    extractor_version: str | None = None) -> ArchiveRecord:
    """Store a fetched body and describe it (with the extractor that will read it)."""
    extension = SUFFIXES.get(fetched.content_type or "", "bin")
    digest, path = store_body(root, fetched.body, extension)
    return ArchiveRecord(
        sha256=digest, path=str(path.relative_to(root)), size=len(fetched.body), url=fetched.url,
        final_url=fetched.final_url, status=fetched.status, content_type=fetched.content_type,
        charset=fetched.charset, etag=fetched.etag, last_modified=fetched.last_modified,
        fetched_at=fetched.fetched_at, extractor=extractor,
        extractor_version=extractor_version or version(extractor),
    )


def read_body(root: Path, sha256: str) -> bytes:
    """The archived bytes with this hash; raises FileNotFoundError or ArchiveCorrupt."""
    for extension in ALL_EXTENSIONS:
        path = archive_path(root, sha256, extension)
        if path.exists():
            break
    else:
        raise FileNotFoundError(f"no archived body {sha256} under {root}")
    try:
        body = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as error:
        raise ArchiveCorrupt(f"{path}: {error}") from None
    if hashlib.sha256(body).hexdigest() != sha256:
        raise ArchiveCorrupt(f"{path}: content does not match its hash")
    return body


def refetched(record: ArchiveRecord, body: bytes) -> Fetched:
    """A Fetched rebuilt from the archive, for re-extraction with tasks.extract."""
    content_type = record.content_type or ""
    if record.charset:
        content_type = f"{content_type}; charset={record.charset}"
    return Fetched(
        url=record.url, final_url=record.final_url, status=record.status,
        content_type=record.content_type, charset=record.charset, etag=record.etag,
        last_modified=record.last_modified, headers={"content-type": content_type},
        body=body, elapsed_s=0.0, fetched_at=record.fetched_at,
    )
