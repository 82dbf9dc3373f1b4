"""The values that flow through the library: file -> Article -> Chunk -> Passage."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dates import date_bound
from .errors import RagError


def article_id(title: str, text: str) -> str:
    """A stable id derived from the content, so the same article from two files is stored once.

    Whitespace runs and Unicode composition are normalised first, so re-wrapping a file
    or saving it with other line endings does not make a "new" article.
    """

    def canon(s: str) -> str:
        return " ".join(unicodedata.normalize("NFC", s).split())

    digest = hashlib.sha256(f"{canon(title)}\n{canon(text)}".encode()).hexdigest()
    return digest[:16]


def day(published: str | None) -> str:
    """The ``YYYY-MM-DD`` part of a publication date or datetime; "" when there is none."""
    return (published or "")[:10]


@dataclass(frozen=True)
class Article:
    """One news article. ``text`` is the body; every offset in the library points into it."""

    id: str
    title: str
    text: str
    source: str = ""
    url: str = ""
    published: str | None = None  # ISO 8601 date ("2024-10-27") or datetime
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, title: str, text: str, **fields: Any) -> Article:
        return cls(id=article_id(title, text), title=title, text=text, **fields)


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article: ``article.text[start:end] == text``.

    ``sentences`` holds the (start, end) offsets, in the article, of the sentences it contains.
    """

    article_id: str
    index: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Filters:
    """Restricts a search. Dates are ISO strings compared by their date part, both ends inclusive.
    ``as_of``: nothing published after that day (undated articles are kept: their date is unknown)."""

    article_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    as_of: str | None = None

    def __bool__(self) -> bool:
        return bool(self.article_ids or self.sources or self.date_from or self.date_to or self.as_of)

    @classmethod
    def parse(
        cls,
        *,
        article_ids: Sequence[str] | None = (),
        sources: Sequence[str] | None = (),
        date_from: str | None = None,
        date_to: str | None = None,
        as_of: str | None = None,
        names: tuple[str, str] = ("from date", "to date"),
    ) -> Filters:
        """Filters from what a person typed or picked: blanks are ignored, dates are read as dates
        (a RagError names the field, ``names``, and the value) and must not be in the wrong order."""
        low = date_bound((date_from or "").strip() or None, names[0])
        high = date_bound((date_to or "").strip() or None, names[1])
        if low and high and low > high:
            raise RagError(f"{names[0]} {low} is after {names[1]} {high}; swap them")
        return cls(
            article_ids=tuple(a.strip() for a in article_ids or () if a and a.strip()),
            sources=tuple(s for s in sources or () if s),
            date_from=low,
            date_to=high,
            as_of=date_bound((as_of or "").strip() or None, "as-of date"),
        )


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with where it came from. ``start``/``end`` are offsets into the article text."""

    chunk_id: int
    article_id: str
    text: str
    start: int
    end: int
    score: float
    title: str
    source: str
    url: str
    published: str | None
    sentences: tuple[tuple[int, int], ...] = ()
    dense_rank: int | None = None
    keyword_rank: int | None = None


Span = tuple[int, int]


@dataclass(frozen=True)
class DateMention:
    """A date the article text names, resolved to a calendar range: ``text[start:end]`` is the
    expression ("on Wednesday", "last month", "in June", "October 27, 2024"); ``date_from`` and
    ``date_to`` are ISO dates, equal for a single day, the first and last day for a month or year."""

    start: int
    end: int
    date_from: str
    date_to: str


@dataclass(frozen=True)
class SentenceFacts:
    """What news text carries about one sentence, read once at ingestion (see :mod:`rag.news`).

    All spans are offsets into the article text. ``speaker`` is the name (or noun phrase) of who said
    or is quoted in the sentence, pointing at the mention the attribution names (a pronoun or "the
    analyst" resolved to the earlier mention of that person); ``quoted`` is true for direct quotation
    and reported speech. ``heading`` is the explainer subhead ("Why does Russia need North Korea?")
    the sentence stands under. ``dates`` are the dates the sentence names, resolved against the
    article's publication date where relative ("on Wednesday") and that date is known.
    """

    start: int
    end: int
    speaker: Span | None = None
    quoted: bool = False
    heading: Span | None = None
    dates: tuple[DateMention, ...] = ()


@dataclass(frozen=True)
class Citation:
    """Where a quoted sentence comes from. ``article.text[start:end] == quote`` always.

    ``speaker`` names who said the quoted sentence, when the article attributes it; ``dates`` are the
    dates the sentence names, resolved (ISO dates, or ``first/last`` for a longer period).
    """

    number: int
    article_id: str
    title: str
    source: str
    url: str
    published: str | None
    quote: str
    start: int
    end: int
    before: str  # the sentence before the quote in the article ("" at the start)
    after: str  # the sentence after it ("" at the end)
    score: float
    speaker: str = ""
    dates: tuple[str, ...] = ()
    # what this sentence gives for what was asked: the figure ("how many"), the dates it names ("when": as
    # in ``dates``) or the names ("who", "where", where reports differ)
    value: str = ""
    also: tuple[str, ...] = ()  # the other copies and versions of the story: "source or title (date)"
    # the answer words inside the quote as the reader marks them (article offsets, within start-end)
    answer_span: tuple[int, int] | None = None


@dataclass(frozen=True)
class Answer:
    """An answer: text with inline ``[n]`` markers and the citations they point to.

    When ``abstained`` is true, ``text`` is the fixed no-answer message, ``citations`` is empty and
    ``closest`` holds the nearest passages found. ``timings`` are in milliseconds. ``kind`` is what the
    question asks for (see :mod:`rag.answer.question`); ``differ`` is true when the cited reports give
    different values for what was asked; ``unstated`` completes "The articles found don't say ..." when
    the answer abstains because the sentences found do not say what was asked, and ``mentioned`` lists what
    was asked that they do mention.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    closest: tuple[Citation, ...] = ()
    search_query: str = ""  # the question as searched (a follow-up is joined with what it refers to)
    confidence: float = 0.0  # score of the best sentence; below the threshold the answer abstains
    mode: str = "extractive"  # or "generative": written by a language model, its citations checked
    timings: dict[str, float] = field(default_factory=dict)
    # generative answers: sentences no passage supports (shown flagged), and what the citation check did
    unsupported: tuple[str, ...] = ()
    checks: dict[str, int] = field(default_factory=dict)  # sentences, checked, kept, replaced, dropped, added
    notice: str = ""  # e.g. why a generative answer fell back to the extractive one
    kind: str = ""
    differ: bool = False
    unstated: str = ""
    mentioned: tuple[str, ...] = ()  # when abstaining on a near miss: what was asked that the articles mention
    as_of: str = ""  # the day asked: nothing published after it was read
    time_frame: str = ""  # the range of days the question's time words asked about, when one was used
