"""Search filters applied in memory.

A filtered dense search needs the set of chunks that pass the filter. Asking SQLite for it on every
search reads one row per passing chunk (100,000 rows for an as-of date that keeps a whole archive), so
the store keeps, per chunk, the publication day and source of its article in arrays instead: a filter
becomes a boolean mask in well under a millisecond, and the mask a FAISS bitmap selector or a table of
ids that SQLite checks keyword matches against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .types import Filters

UNDATED = 0  # the day of an article without a publication date


def day_number(iso: str | None) -> int:
    """``2024-10-23...`` as 20241023 (ordered like the dates); UNDATED for none."""
    if not iso or len(iso) < 10:
        return UNDATED
    return int(iso[:4]) * 10_000 + int(iso[5:7]) * 100 + int(iso[8:10])


@dataclass(frozen=True)
class Facets:
    """The article, publication day and source of every chunk, by chunk id.

    ``version`` is what the store compares to know the arrays are current (the last chunk id handed
    out: chunks are only ever added or removed, and a removed chunk is gone from the vector index too,
    so a stale entry for it does no harm)."""

    version: int
    chunk_ids: np.ndarray  # int64, ascending
    chunk_article: np.ndarray  # int32: position in ``articles`` of each chunk's article
    articles: dict[str, int]  # article id -> position
    days: np.ndarray  # int32 per article: day_number of its publication date
    sources: np.ndarray  # int32 per article: position in ``source_names``
    source_names: dict[str, int]
    orphans: int = 0  # chunks whose article is not known (a damaged index): in no mask
    # the chunk masks and bitmaps of the last filters asked for: a search reads one for its dense and its
    # keyword side, and the next searches of a session most often ask for the same filter
    _masks: dict[Filters, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    _bitmaps: dict[Filters, tuple[np.ndarray, int]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls, version: int, articles: Iterable[tuple[str, str | None, str]], chunks: Iterable[tuple[int, str]]
    ) -> Facets:
        """From ``(article_id, published, source)`` rows and ``(chunk_id, article_id)`` rows."""
        positions: dict[str, int] = {}
        source_names: dict[str, int] = {}
        days, sources = [], []
        for article_id, published, source in articles:
            positions[article_id] = len(positions)
            days.append(day_number(published))
            sources.append(source_names.setdefault(source or "", len(source_names)))
        chunks = list(chunks)
        pairs = sorted((chunk_id, positions[a]) for chunk_id, a in chunks if a in positions)
        return cls(
            version=version,
            chunk_ids=np.fromiter((c for c, _ in pairs), dtype=np.int64, count=len(pairs)),
            chunk_article=np.fromiter((a for _, a in pairs), dtype=np.int32, count=len(pairs)),
            articles=positions,
            days=np.asarray(days, dtype=np.int32),
            sources=np.asarray(sources, dtype=np.int32),
            source_names=source_names,
            orphans=len(chunks) - len(pairs),
        )

    def article_mask(self, filters: Filters) -> np.ndarray:
        """Which articles pass ``filters`` (the same rules as the store's SQL filter)."""
        keep = np.ones(len(self.days), dtype=bool)
        if filters.article_ids:
            wanted = [self.articles[a] for a in filters.article_ids if a in self.articles]
            only = np.zeros_like(keep)
            only[wanted] = True
            keep &= only
        if filters.sources:
            wanted = [self.source_names[s] for s in filters.sources if s in self.source_names]
            keep &= np.isin(self.sources, wanted)
        if filters.date_from:  # an undated article is in no date range
            keep &= self.days >= day_number(filters.date_from)
        if filters.date_to:
            keep &= (self.days != UNDATED) & (self.days <= day_number(filters.date_to))
        if filters.as_of:  # nothing published after the day; undated articles are kept
            keep &= (self.days == UNDATED) | (self.days <= day_number(filters.as_of))
        return keep

    def chunk_mask(self, filters: Filters) -> np.ndarray:
        """Which chunks (in ``chunk_ids`` order) pass ``filters``."""

        def make() -> np.ndarray:
            mask = self.article_mask(filters)[self.chunk_article]
            mask.flags.writeable = False  # shared by the searches that ask for it
            return mask

        return _kept(self._masks, filters, make)

    def bitmap(self, filters: Filters) -> tuple[np.ndarray, int]:
        """The passing chunk ids as a bitmap (bit ``i`` of byte ``i >> 3`` for id ``i``, as FAISS's
        IDSelectorBitmap reads it) and how many pass; kept for the next search with the same filter."""

        def make() -> tuple[np.ndarray, int]:
            mask = self.chunk_mask(filters)
            bits = np.zeros(int(self.chunk_ids[-1]) + 1 if len(self.chunk_ids) else 0, dtype=bool)
            bits[self.chunk_ids[mask]] = True
            packed = np.packbits(bits, bitorder="little")
            packed.flags.writeable = False
            return packed, int(mask.sum())

        return _kept(self._bitmaps, filters, make)

    def smaller_side(self, filters: Filters) -> tuple[np.ndarray, bool]:
        """The ids of the chunks that pass ``filters`` (and True), or of those that fail (and False)
        when they are fewer: the shorter list for SQLite to check keyword matches against. Never the
        failing ones when some chunks have no known article (they are in neither list)."""
        mask = self.chunk_mask(filters)
        passing = int(mask.sum())
        if passing <= len(mask) - passing or self.orphans:
            return self.chunk_ids[mask], True
        return self.chunk_ids[~mask], False


def _kept(cache: dict, filters: Filters, make: Callable):
    """``cache[filters]``, made first if missing; a cache holds the last 16 filters asked for."""
    found = cache.get(filters)
    if found is None:
        if len(cache) >= 16:
            cache.clear()
        found = cache[filters] = make()
    return found
