"""Hybrid retrieval: dense and keyword results from the store, fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from .embed import Embedder
from .store import Store
from .text import content_words, words
from .types import Filters, Passage

Mode = Literal["hybrid", "dense", "keyword"]
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al. 2009)


def keyword_terms(text: str) -> list[str]:
    """The words of ``text`` a keyword search looks for: its distinct content words (all its words
    when it has none, as in "Who is he?"). The store ORs them in its own query syntax."""
    return list(dict.fromkeys(content_words(text) or words(text)))


def fuse(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of ranked id lists: ``[(id, score)]``, best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


class Retriever:
    """Finds the passages that best match a question in one index."""

    def __init__(self, store: Store, embedder: Embedder, candidates: int = 50):
        self.store = store
        self.embedder = embedder
        self.candidates = candidates

    def search(
        self,
        question: str,
        k: int = 5,
        filters: Filters | None = None,
        mode: Mode = "hybrid",
        stories: bool = True,
    ) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first. With ``stories``, copies of one story
        (:mod:`rag.stories`) give way to its newest version: one article per story."""
        if k < 1:
            return []
        depth = max(self.candidates, 2 * k)
        filters = self.effective(filters)
        dense: list[tuple[int, float]] = []
        keyword: list[tuple[int, float]] = []
        # the question is encoded on another core while the keyword search runs here
        vector = self.embedder.embed_query(question) if mode in ("hybrid", "dense") else None
        if mode in ("hybrid", "keyword"):
            keyword = self.store.keyword_search(keyword_terms(question), depth, filters)
        if vector is not None:
            query = vector.result()
            self.store.require_dimension(len(query), self.embedder.name)
            dense = self.store.dense_search(query, depth, filters)
        if mode == "hybrid":
            ranked = fuse([[i for i, _ in dense], [i for i, _ in keyword]])
        else:
            ranked = dense or keyword
        dense_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        keyword_rank = {i: r for r, (i, _) in enumerate(keyword, 1)}
        if not stories:
            return self._passages(ranked[:k], dense_rank, keyword_rank)
        return self.newest_of_each_story(self._passages(ranked[: 3 * k + 10], dense_rank, keyword_rank))[:k]

    def newest_of_each_story(self, passages: list[Passage]) -> list[Passage]:
        """The passages of the newest article of each story among them (the best-ranked on a tie),
        in their order."""
        story = self.store.stories_of({p.article_id for p in passages})
        newest: dict[str, Passage] = {}
        for p in passages:
            key = story.get(p.article_id, p.article_id)
            if key not in newest or (p.published or "") > (newest[key].published or ""):
                newest[key] = p
        return [p for p in passages if newest[story.get(p.article_id, p.article_id)].article_id == p.article_id]

    def effective(self, filters: Filters | None) -> Filters | None:
        """``filters`` without an as-of date that excludes nothing (every article is older), so the
        usual question, asked today, is searched without a filter."""
        if filters and filters.as_of:
            latest = self.store.latest_published()
            if latest is None or latest <= filters.as_of[:10]:
                filters = replace(filters, as_of=None)
        return filters or None

    def statements(
        self, speaker: str, filters: Filters | None = None, limit: int = 40
    ) -> list[tuple[Passage, int, int]]:
        """Sentences the articles attribute to ``speaker`` (matched by the last word of the name), each
        with a passage holding it: ``[(passage, start, end)]``, newest articles first."""
        return self._sentences(self.store.sentences_by_speaker(speaker, filters, limit))

    def dated(
        self, date_from: str, date_to: str, filters: Filters | None = None, limit: int = 40
    ) -> list[tuple[Passage, int, int]]:
        """Sentences that name a date in the range (resolved at ingestion), each with a passage holding it."""
        return self._sentences(self.store.sentences_dated(date_from, date_to, filters, limit))

    def _sentences(self, found: list[tuple[str, int, int]]) -> list[tuple[Passage, int, int]]:
        holding = self.store.chunk_ids_holding([(article_id, start) for article_id, start, _ in found])
        passages = {p.chunk_id: p for p in self._passages([(i, 0.0) for i in dict.fromkeys(holding.values())])}
        return [
            (passages[holding[(article_id, start)]], start, end)
            for article_id, start, end in found
            if holding.get((article_id, start)) in passages
        ]

    def _passages(
        self,
        ranked: Sequence[tuple[int, float]],
        dense_rank: dict[int, int] | None = None,
        keyword_rank: dict[int, int] | None = None,
    ) -> list[Passage]:
        rows = self.store.chunks([i for i, _ in ranked])
        passages = []
        for chunk_id, score in ranked:
            row = rows.get(chunk_id)
            if row is None:  # removed between the search and the lookup
                continue
            passages.append(
                Passage(
                    chunk_id=chunk_id,
                    article_id=row.article_id,
                    text=row.text,
                    start=row.start,
                    end=row.end,
                    score=score,
                    title=row.title,
                    source=row.source,
                    url=row.url,
                    published=row.published,
                    sentences=row.sentences,
                    dense_rank=(dense_rank or {}).get(chunk_id),
                    keyword_rank=(keyword_rank or {}).get(chunk_id),
                )
            )
        return passages
