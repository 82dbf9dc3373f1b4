"""The Store interface: everything the library asks of where an index is kept.

Two backends implement it: an index folder (SQLite + FAISS, :mod:`rag.store.sqlite`, the embedded
default) and a PostgreSQL database with pgvector (:mod:`rag.store.postgres`). What answers questions
(retrieval, answers, the chat, the CLI, export) talks to this interface only.

Every backend keeps the same promises:

- the model and dimension are recorded and checked on open (:class:`~rag.store.manifest.Manifest`);
- a batch of articles is stored in one transaction with its chunks, vectors and sentence facts, so an
  ingestion stopped at any moment leaves no half-stored article, and the next run embeds nothing twice;
- ``check()`` finds every broken rule; errors of the storage (a full disk, a server that is down) are
  told apart from damage and say what to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import IndexError_
from ..types import Article, Chunk, Filters, SentenceFacts
from .manifest import Manifest


@dataclass(frozen=True)
class StoredArticle:
    """A row of the article table, with its chunk count."""

    id: str
    title: str
    source: str
    url: str
    published: str | None
    chunks: int
    origin: str
    added_at: str


@dataclass(frozen=True)
class ChunkRow:
    """A stored chunk with its article's title, source, url and date."""

    id: int
    article_id: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    title: str
    source: str
    url: str
    published: str | None


@dataclass(frozen=True)
class StoredBatch:
    """Articles as stored, with everything needed to store them elsewhere without embedding them
    again (``rag copy``): ``items`` and ``vectors`` as :meth:`Store.add` takes them."""

    items: list[tuple[Article, list[Chunk], str]]
    vectors: np.ndarray
    facts: dict[str, list[SentenceFacts]]
    added: dict[str, str]  # article id -> when it was added (ISO 8601), kept by the copy


class Store(ABC):
    """Where one index is kept. Thread-safe; writes are serialised, reads see committed data only."""

    manifest: Manifest
    generation: int = 0  # bumped by every change made through this object: callers drop derived caches

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, location: Any, **options: Any) -> Store:
        """Open the index at ``location``: a folder, or a ``postgresql://`` URL (see
        :func:`rag.store.open_store` for the options)."""
        from . import open_store

        return open_store(location, **options)

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the index is, as shown to the user (a folder, or a server URL without its password)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- errors and access -------------------------------------------------------------------

    @abstractmethod
    def guard(self, operation: str = "read the index") -> AbstractContextManager[None]:
        """Turn the backend's errors during ``operation`` into a RagError that names the true cause."""

    @property
    def read_only(self) -> bool:
        """True when this index is read and never written (see :attr:`read_only_reason`)."""
        return self.read_only_reason is not None

    @property
    @abstractmethod
    def read_only_reason(self) -> str | None:
        """Why this index cannot be written here, or None."""

    @abstractmethod
    def require_writable(self, operation: str) -> None:
        """Raise :class:`rag.errors.ReadOnly` for ``operation`` ("add articles") on a read-only index."""

    def require_dimension(self, dimension: int, model: str) -> None:
        """Refuse vectors of ``dimension`` from ``model`` when the index holds vectors of another one:
        a model is checked by name on open, and this catches another model under the same name (a
        local model folder replaced), at the first vectors, before they meet the stored ones."""
        if dimension != self.manifest.dimension:
            raise IndexError_(
                f"the index in {self.location} holds vectors of {self.manifest.dimension} dimensions, but the model "
                f"{model} gives {dimension}: use the model the index was built with, or build a new index for "
                "this one in another place with --index"
            )

    # --- writing -----------------------------------------------------------------------------

    @abstractmethod
    def add(
        self,
        items: Sequence[tuple[Article, Sequence[Chunk], str]],
        vectors: np.ndarray,
        files: Iterable[tuple[str, str, Sequence[str]]] = (),
        facts: Mapping[str, Sequence[SentenceFacts]] | None = None,
        added: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Store articles with their chunks and chunk vectors, and file records, in one transaction.

        ``items`` are ``(article, chunks, origin)``; ``vectors`` has one row per chunk, in order.
        ``files`` are ``(path, sha256, article_ids)`` records of fully ingested files. ``facts`` maps
        an article id to its sentences' facts (:func:`rag.news.analyze`); read here when not given.
        ``added`` maps an article id to when it was first added elsewhere (a copy keeps it); now when
        not given. Articles already stored (by this process or another) are skipped. Returns the ids of the
        articles added."""

    @abstractmethod
    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles with everything stored of them. Returns the ids that existed."""

    def save_vectors(self) -> None:
        """Make the vector index durable where it is kept apart from the database (a no-op where
        the database holds it)."""

    @abstractmethod
    def files(self) -> list[tuple[str, str, list[str]]]:
        """Every file ingested: ``[(path, sha256, article_ids)]``."""

    @abstractmethod
    def feed_links(self, links: Iterable[str]) -> dict[str, str]:
        """The feed entry links among ``links`` whose page was ingested before, with the article stored
        from each (see :mod:`rag.feeds`)."""

    @abstractmethod
    def known_feed_links(self) -> dict[str, str]:
        """Every feed entry link ingested, with the article stored from it."""

    @abstractmethod
    def remember_feed_links(self, links: Mapping[str, str]) -> None:
        """Record feed entry links with the article stored from each, so they are not fetched again."""

    # --- reading -----------------------------------------------------------------------------

    @abstractmethod
    def known_file(self, sha256: str) -> list[tuple[str, list[str]]]:
        """Files ingested before with these exact bytes: ``[(path, article_ids)]``."""

    @abstractmethod
    def existing_articles(self, article_ids: Iterable[str]) -> set[str]: ...

    @abstractmethod
    def origins(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The file each article was first ingested from."""

    @abstractmethod
    def article(self, article_id: str) -> Article | None: ...

    def articles_by_id(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """The articles with these ids (those that exist), read together."""
        found = {article_id: self.article(article_id) for article_id in article_ids}
        return {k: v for k, v in found.items() if v is not None}

    def sentence_facts_by_article(self, article_ids: Iterable[str]) -> dict[str, list[SentenceFacts]]:
        """The sentence facts of each of these articles, read together."""
        return {article_id: self.sentence_facts(article_id) for article_id in article_ids}

    @abstractmethod
    def articles(self) -> list[StoredArticle]:
        """Every article, newest first (undated ones last)."""

    @abstractmethod
    def article_page(
        self, query: str = "", newest_first: bool = True, offset: int = 0, limit: int = 50
    ) -> tuple[list[StoredArticle], int]:
        """One page of the article table, sorted by date (articles without one last), and how many
        articles match in all. ``query`` keeps the articles whose title or source contains it (case
        is ignored; ``%`` and ``_`` match themselves)."""

    @abstractmethod
    def article_count(self) -> int: ...

    @abstractmethod
    def chunk_count(self) -> int: ...

    def searched_chunks(self) -> int:
        """How many chunks the searches read, kept by the index as it changes (not counted row by row, as
        chunk_count may): what the keyword weights of every question are over."""
        return self.chunk_count()

    @abstractmethod
    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """The chunks with these ids (those that exist), joined with their article's details."""

    @abstractmethod
    def chunk_ids_holding(self, places: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """For each ``(article_id, offset)``, the first chunk of that article holding the offset."""

    @abstractmethod
    def chunk_ids_matching(self, filters: Filters) -> np.ndarray:
        """The ids of the chunks that pass ``filters``, ascending."""

    @abstractmethod
    def sentence_facts(self, article_id: str) -> list[SentenceFacts]:
        """What each sentence of the article carries (speaker, heading, dates), in article order."""

    @abstractmethod
    def sentences_by_speaker(
        self, name: str, filters: Filters | None = None, limit: int = 200
    ) -> list[tuple[str, int, int]]:
        """Sentences attributed to a speaker whose name ends like ``name`` (see :func:`speaker_key`):
        ``[(article_id, start, end)]``, newest articles first, in article order within each."""

    @abstractmethod
    def sentences_dated(
        self, date_from: str, date_to: str, filters: Filters | None = None, limit: int = 200
    ) -> list[tuple[str, int, int]]:
        """Sentences that name a date in ``date_from``..``date_to`` (ISO, inclusive), resolved at
        ingestion ("on Wednesday" of an article of that week): ``[(article_id, start, end)]``."""

    @abstractmethod
    def stories_of(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The story each of these articles belongs to (its id is the first article filed in it)."""

    @abstractmethod
    def story_sizes(self, article_ids: Iterable[str]) -> dict[str, int]:
        """How many articles tell the story of each of these articles."""

    @abstractmethod
    def story_members(self, story: str) -> list[StoredArticle]:
        """The articles of one story, newest first (undated ones last)."""

    @abstractmethod
    def stories(self, min_size: int = 2) -> list[list[StoredArticle]]:
        """Every story of at least ``min_size`` articles, largest first, each newest first."""

    @abstractmethod
    def latest_published(self) -> str | None:
        """The day of the newest article's publication date (None for an index of undated articles)."""

    @abstractmethod
    def batches(self, size: int = 256) -> Iterator[StoredBatch]:
        """Every article as stored, oldest addition first, in batches of about ``size`` chunks."""

    # --- searching ---------------------------------------------------------------------------

    @abstractmethod
    def dense_search(self, query: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """Nearest chunks by inner product (cosine, as vectors are unit length) among those that pass
        ``filters``: ``[(chunk_id, score)]``, best first."""

    @abstractmethod
    def keyword_search(self, terms: Sequence[str], k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """The chunks best matching any of these words (ranked by the backend's text search, higher
        is better) among those that pass ``filters``: ``[(chunk_id, score)]``."""

    @abstractmethod
    def document_frequency(self, term: str) -> int:
        """How many chunks contain ``term`` (a word, or with five letters a word prefix)."""

    @abstractmethod
    def vectors_by_id(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored vectors of those of these chunks that exist (one removed meanwhile is left out)."""

    # --- health ------------------------------------------------------------------------------

    @property
    @abstractmethod
    def index_type(self) -> str:
        """How dense search runs: "flat" (exact), "ivf" (FAISS approximate) or "hnsw" (pgvector)."""

    @abstractmethod
    def size_on_disk(self) -> int: ...

    @abstractmethod
    def check(self) -> list[str]:
        """Problems found by a full integrity check; an empty list means the index is consistent. An
        index that cannot be read at all gives one problem saying so; a fault of the storage raises."""
