"""Dates as people and articles write them, read into ISO 8601."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from .errors import RagError


def normalize_date(value: Any) -> str | None:
    """A date in any usual form -> ISO 8601 (``YYYY-MM-DD`` or a full timestamp); None if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value  # milliseconds since the epoch
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, datetime):
        return _iso(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
        except ValueError:
            return None
    for parse in (datetime.fromisoformat, parsedate_to_datetime):
        try:
            return _iso(parse(text))
        except (TypeError, ValueError, IndexError):
            pass
    try:
        from dateutil import parser as date_parser

        return _iso(date_parser.parse(text))
    except (ValueError, OverflowError, TypeError):
        return None


def date_bound(value: str | None, name: str) -> str | None:
    """A ``YYYY-MM-DD`` bound of a date filter from what a person typed (None stays None).

    A RagError names the setting (``name``) and the value that is not a date.
    """
    if value is None:
        return None
    parsed = normalize_date(value)
    if parsed is None:
        raise RagError(f"{name} {value!r} is not a date; use YYYY-MM-DD")
    return parsed[:10]


def _iso(moment: datetime) -> str:
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.date().isoformat()
    return moment.isoformat()
