"""Publication dates as sources write them: one parser for file headers, JSON fields, feeds,
sitemaps and pages."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

from warehouse.records import Precision

_ISO_PREFIX = re.compile(r"^\s*(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def parse_date(value: object) -> tuple[dt.datetime | None, Precision | None]:
    """A moment and its precision from ISO 8601 (a full timestamp, or a date cut to 'YYYY-MM-DD',
    'YYYY-MM' or 'YYYY' at the start of the text) or RFC 822 (RSS); (None, None) otherwise.
    The moment is aware: a timestamp keeps the zone it was written in (none: UTC), a date is its
    midnight UTC, so `.date()` is the day as written."""
    text = str(value or "").strip()
    if not text:
        return None, None
    moment = _timestamp(text)
    if moment is not None:
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)), "day"
    match = _ISO_PREFIX.match(text)
    if not match:
        return None, None
    year, month, day = match.groups()
    try:
        date = dt.datetime(int(year), int(month or 1), int(day or 1), tzinfo=dt.UTC)
    except ValueError:
        return None, None
    return date, ("day" if day else "month" if month else "year")


def _timestamp(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def published_day(value: object) -> tuple[dt.date | None, Precision | None]:
    """The day (as written) and precision of `parse_date`, as articles store them."""
    moment, precision = parse_date(value)
    return (moment.date() if moment else None), precision
