"""The values that flow through the library: file -> Article -> Chunk -> Passage."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def article_id(title: str, text: str) -> str:
    """A stable id derived from the content, so the same article from two files is stored once.

    Whitespace runs and Unicode composition are normalised first, so re-wrapping a file
    or saving it with other line endings does not make a "new" article.
    """

    def canon(s: str) -> str:
        return " ".join(unicodedata.normalize("NFC", s).split())

    digest = hashlib.sha256(f"{canon(title)}\n{canon(text)}".encode()).hexdigest()
    return digest[:16]


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
    """Restricts a search. Dates are ISO strings compared by their date part, both ends inclusive."""

    article_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.article_ids or self.sources or self.date_from or self.date_to)


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
