"""When a question asks about: its time words as a date range, relative to the date it is asked.

A news question is asked at a time (the as-of date: today, unless given) and often about a time:
"this week", "last month", "on Tuesday", "in June 2022", "yesterday", "two weeks ago", "since
March", "before 2020". :func:`read_time_frame` turns those into an inclusive range of days, and
says how much the question wants the newest reports (:data:`Recency`): strongly for "latest",
"now", "currently", "recently", "still"; not at all for a historical question ("when did ... first",
"in 1998"); mildly otherwise. Single dates, months, weekdays and periods are read by
:func:`rag.news.resolve_date`, the same rules that resolve "on Wednesday" inside an article
against its publication date. An expression that names no calendar date ("since the election")
is left out: the question is then searched without a range.

Not dateparser: its search turns a phrase into one moment, not the range the phrase names ("last
month" asked on 2024-10-25 is 2024-09-25; "this week" is the as-of day; "in June 2022" is 25 June),
and it takes the "May" of "What did May say?" for a month (tests/test_timeframe.py holds the ranges
expected).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from ..news import _DATE, _WEEKDAYS, _plausible, _resolve

Recency = Literal["strong", "mild", "none"]

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "few": 3, "several": 5,
    "couple of": 2, "a couple of": 2, "a few": 3,
}  # fmt: skip
_COUNT = (
    r"(?P<n>\d{1,3}|a couple of|couple of|a few|few|several|an?|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve)"
)
_UNIT = r"(?P<unit>day|week|month|year)s?"
_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}

_PAST = re.compile(
    rf"\b(?:in|over|during|within|for)?\s*the\s+(?:past|last|previous)\s+(?:{_COUNT}\s+)?{_UNIT}\b", re.I
)
_AGO = re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+ago\b", re.I)
_EARLIER = re.compile(r"\b(?:earlier|so far)\s+this\s+(?P<unit>week|month|year)\b", re.I)
_WEEKEND = re.compile(r"\b(?:over\s+the|this|last|at\s+the)\s+weekend\b", re.I)
_OPEN = re.compile(r"\b(?P<word>since|after|before|until|till|through|up\s+to|prior\s+to)\s+$", re.I)
_BETWEEN = re.compile(r"\b(?:between|from)\s+$", re.I)
_AND_TO = re.compile(r"\s+(?:and|to|until|till|through)\s+", re.I)
_CAPITALISED = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b",
    re.I,
)

_STRONG = re.compile(
    r"\b(?:latest|newest|most\s+recent(?:ly)?|recent(?:ly)?|lately|now|nowadays|currently|current|"
    r"at\s+present|presently|still|ongoing|so\s+far|yet|these\s+days|up\s+to\s+date|today'?s?|any\s+news)\b",
    re.I,
)
_HISTORICAL = re.compile(
    r"\b(?:first|originally|origins?|ever|history|historically|founded|invented|began|begin|started|"
    r"in\s+the\s+past(?!\s+(?:\d+|few|couple|several|two|three|four|five|six|seven|eight|nine|ten|day|week|month|year)))\b",
    re.I,
)


@dataclass(frozen=True)
class TimeFrame:
    """What a question asks about in time. ``date_from``/``date_to``: ISO days, inclusive (None: open
    on that side; both None: no range); ``expression``: the question's words they came from."""

    date_from: str | None = None
    date_to: str | None = None
    expression: str = ""
    recency: Recency = "mild"
    start: int = 0  # where the expression is in the question
    end: int = 0

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to)

    def describe(self) -> str:
        """ "2024-10-21 to 2024-10-27 (“this week”)", for the answer to say which range it used."""
        if self.date_from and self.date_to:
            span = self.date_from if self.date_from == self.date_to else f"{self.date_from} to {self.date_to}"
        elif self.date_from:
            span = f"from {self.date_from}"
        elif self.date_to:
            span = f"up to {self.date_to}"
        else:
            return ""
        return f"{span} (\u201c{self.expression}\u201d)" if self.expression else span


def read_time_frame(question: str, as_of: dt.date) -> TimeFrame:
    """The date range ``question`` asks about, relative to ``as_of``, and how much it wants news."""
    text = _CAPITALISED.sub(lambda m: m.group(0).capitalize(), question)  # "may" the verb: see _plausible
    ranges: list[tuple[int, int, dt.date | None, dt.date | None]] = []  # span in the question, range

    def add(start: int, end: int, first: dt.date | None, last: dt.date | None) -> None:
        if not any(a < end and start < b for a, b, _, _ in ranges):
            ranges.append((start, end, first, last))

    for pattern, resolve in ((_PAST, _past), (_AGO, _ago), (_EARLIER, _earlier), (_WEEKEND, _weekend)):
        for match in pattern.finditer(text):
            first, last = resolve(match, as_of)
            add(match.start(), match.end(), first, last)
    for match in _DATE.finditer(text):
        if not _plausible(match, text) or any(a < match.end() and match.start() < b for a, b, _, _ in ranges):
            continue
        resolved = _past_side(match, _resolve(match, as_of), as_of)
        if resolved is None:
            continue
        first, last = resolved
        start, end = match.start(), match.end()
        prep = (match.group("prep") or "").lower()
        before = _OPEN.search(text, 0, start) if not prep else None
        word = prep or (before.group("word").lower().replace(" ", "") if before else "")
        if before:
            start = before.start()
        if word == "since":
            first, last = first, as_of
        elif word == "after":
            first, last = last + dt.timedelta(days=1), as_of
        elif word in ("before", "priorto"):
            first, last = None, first - dt.timedelta(days=1)
        elif word in ("until", "till", "through", "upto", "by"):
            first, last = None, last
        elif _BETWEEN.search(text, 0, start) or word == "from":
            joined = _AND_TO.match(text, end)
            following = _DATE.match(text, joined.end()) if joined else None
            if following is not None and (other := _resolve(following, as_of)) is not None:
                last, end = max(last, other[1]), following.end()
                opener = _BETWEEN.search(text, 0, match.start())
                start = opener.start() if opener else start
        add(start, end, first, last)
    ranges.sort()
    recency = _recency(question, ranges, as_of)
    if not ranges:
        return TimeFrame(recency=recency)
    firsts = [r[2] for r in ranges]
    lasts = [r[3] for r in ranges]
    first = None if None in firsts else min(firsts)
    last = None if None in lasts else max(lasts)
    if last is not None and last > as_of:
        last = as_of  # nothing published after the as-of date is read anyway
    expression = " … ".join(" ".join(question[a:b].split()) for a, b, _, _ in ranges)
    return TimeFrame(
        first.isoformat() if first else None,
        last.isoformat() if last else None,
        expression,
        recency,
        ranges[0][0],
        ranges[-1][1],
    )


@dataclass(frozen=True)
class RecencyPrior:
    """How much newer reports are preferred: ``weight * 0.5 ** (age in days / half_life)`` is added to
    a sentence's score (about 0.5 separates a good answer from a poor one), by the question's
    :data:`Recency`. Undated articles get nothing. Ages count back from the as-of date.

    The values are those bench/calibrate_recency.py chose: the strong prior stronger than the mild one
    at every age, the pair with the most questions right where recency should help (questions asked
    days after the news, and the newest of three differing reports asked for), each losing at most a
    point on questions asked long after (BENCHMARKS.md)."""

    strong_weight: float = 0.5
    strong_half_life: float = 30.0
    mild_weight: float = 0.25
    mild_half_life: float = 30.0

    def boost(self, published: str | None, as_of: dt.date, recency: Recency) -> float:
        if recency == "none" or not published:
            return 0.0
        try:
            age = (as_of - dt.date.fromisoformat(published[:10])).days
        except ValueError:
            return 0.0
        weight, half_life = (
            (self.strong_weight, self.strong_half_life)
            if recency == "strong"
            else (self.mild_weight, self.mild_half_life)
        )
        return weight * 0.5 ** (max(age, 0) / half_life)


def as_of_day(value: str | dt.date | None) -> dt.date:
    """The as-of date: a date, an ISO day, or today when None."""
    if value is None or value == "":
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    from ..dates import date_bound

    return dt.date.fromisoformat(date_bound(str(value).strip(), "as-of date"))


def publication_window(frame: TimeFrame, as_of: dt.date, slack_days: int = 7) -> tuple[str | None, str | None]:
    """The publication dates to search for a question about ``frame``: from its first day to a week
    after its last (news reports an event in the days after it), never after the as-of date."""
    last = None
    if frame.date_to:
        last = min(dt.date.fromisoformat(frame.date_to) + dt.timedelta(days=slack_days), as_of).isoformat()
    return frame.date_from, last


def _past_side(match: re.Match[str], resolved, as_of: dt.date):
    """A day or month named without a year is the latest one up to the as-of date (a question asks
    about what has been reported); a range wholly after the as-of date is left out."""
    if resolved is None or resolved[0] <= as_of:
        return resolved
    if match.lastgroup in ("md", "dm", "month") and "next" not in match.group(0).lower().split():
        first, last = resolved
        try:
            first, last = first.replace(year=first.year - 1), last.replace(year=last.year - 1)
        except ValueError:  # the 29th of February
            first, last = first - dt.timedelta(days=365), last - dt.timedelta(days=365)
        return (first, last) if first <= as_of else None
    return None


def _recency(question: str, ranges: list, as_of: dt.date) -> Recency:
    if _STRONG.search(question):
        return "strong"
    ended = [r[3] for r in ranges if r[3] is not None]
    if _HISTORICAL.search(question) or (ended and max(ended) < as_of - dt.timedelta(days=365)):
        return "none"
    return "mild"


def _count(match: re.Match[str]) -> int:
    n = (match.group("n") or "one").lower()
    return int(n) if n.isdigit() else _NUMBERS[" ".join(n.split())]


def _past(match: re.Match[str], as_of: dt.date) -> tuple[dt.date, dt.date]:
    """ "in the past two weeks", "over the last month": that many days up to the as-of date."""
    days = _count(match) * _DAYS[match.group("unit").lower()]
    return as_of - dt.timedelta(days=days), as_of


def _ago(match: re.Match[str], as_of: dt.date) -> tuple[dt.date, dt.date]:
    """ "two weeks ago": around that day, give or take half a unit (a day exactly for "days ago")."""
    unit = _DAYS[match.group("unit").lower()]
    centre = as_of - dt.timedelta(days=_count(match) * unit)
    half = dt.timedelta(days=unit // 2)
    return centre - half, min(centre + half, as_of)


def _earlier(match: re.Match[str], as_of: dt.date) -> tuple[dt.date, dt.date]:
    unit = match.group("unit").lower()
    if unit == "week":
        return as_of - dt.timedelta(days=as_of.weekday()), as_of
    if unit == "month":
        return as_of.replace(day=1), as_of
    return as_of.replace(month=1, day=1), as_of


def _weekend(match: re.Match[str], as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The latest Saturday and Sunday on or before the as-of date ("last weekend": the one before
    the current week's, when asked during a weekend)."""
    saturday = as_of - dt.timedelta(days=(as_of.weekday() - _WEEKDAYS.index("Saturday")) % 7)
    if match.group(0).lower().startswith("last") and as_of.weekday() >= 5:
        saturday -= dt.timedelta(days=7)
    return saturday, min(saturday + dt.timedelta(days=1), as_of)
