"""UTC time helpers: everything stored and compared is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything the service stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_iso(text: str | None) -> datetime | None:
    """Parse the ISO 8601 timestamps both APIs send (`Z` suffix included), in UTC: an offset
    such as `-05:00` is converted, since SQLite keeps no offset and would shift the time."""
    if not text:
        return None
    return aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).astimezone(UTC)
