"""The article library: one index (a folder or a database) with its model, opened once and used for everything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import store as stores
from .config import Settings, shown_url
from .embed import DEFAULT_MODEL, Embedder, canonical_model_name
from .errors import RagError
from .ingest import Ingester, IngestReport, Progress
from .retrieve import Mode, Retriever
from .store import StoredArticle
from .types import Article, Filters, Passage

SAMPLE_ARTICLES = Path(__file__).resolve().parent.parent / "data" / "articles"  # shipped with the product


@dataclass(frozen=True)
class Stats:
    folder: str
    articles: int
    chunks: int
    model: str
    dimension: int
    index_type: str
    size_bytes: int
    format_version: int
    chunk_tokens: int
    overlap_tokens: int


class Index:
    """An open index folder: ingest, search, list, remove.

    ``Index(settings=...)`` opens an existing index, or with ``create=True`` makes a new one.
    The model recorded in the index is used unless ``settings.model`` asks for another, which is
    an error (an index must be searched with the model that built it). An ``embedder`` of the
    index's model can be passed in to share one loaded model between indexes.

    With ``settings.read_only``, or on storage this user cannot write (a read-only file system, a
    folder of another user), the index is read without writing anything: searching, answering,
    listing and checking work, and ingesting and removing raise :class:`rag.errors.ReadOnly`.
    """

    def __init__(self, settings: Settings | None = None, *, create: bool = False, embedder: Embedder | None = None):
        self.settings = settings or Settings()
        location = self.settings.index_dir
        wanted = canonical_model_name(self.settings.model) if self.settings.model else None
        options = {
            "ann_threshold": self.settings.ann_threshold,
            "nprobe": self.settings.nprobe,
            "lock_timeout": self.settings.lock_timeout,
            "read_only": self.settings.read_only,
        }
        self._owns_embedder = embedder is None

        def embedder_for(model: str) -> Embedder:
            if embedder is None:
                return Embedder(model, batch_size=self.settings.batch_size)
            if embedder.name != canonical_model_name(model):
                where = shown_url(str(location))
                raise RagError(f"the index in {where} uses the model {model}, not the embedder's {embedder.name}")
            return embedder

        if create and not stores.exists(location):
            self.embedder = embedder_for(wanted or DEFAULT_MODEL)
            chunk_tokens = min(self.settings.chunk_tokens, self.embedder.max_tokens)
            self.store = stores.open_store(
                location,
                model=self.embedder.name,
                dimension=self.embedder.dimension,
                create=True,
                chunk_tokens=chunk_tokens,
                overlap_tokens=self.settings.overlap_tokens,
                **options,
            )
        else:
            self.store = stores.open_store(location, model=wanted, **options)
            try:
                self.embedder = embedder_for(self.store.manifest.model)
            except RagError:
                self.store.close()
                raise
        self.retriever = Retriever(self.store, self.embedder)

    def ingest(
        self,
        paths: Sequence[str | Path],
        progress: Callable[[Progress], None] | None = None,
        origin_names: dict[str, str] | None = None,
    ) -> IngestReport:
        """Add the articles in ``paths`` (files or folders); see :class:`IngestReport`."""
        self.store.require_writable("add articles")
        manifest = self.store.manifest
        ingester = Ingester(
            self.store,
            self.embedder,
            chunk_tokens=manifest.chunk_tokens or self.settings.chunk_tokens,
            overlap_tokens=manifest.overlap_tokens or self.settings.overlap_tokens,
            flush_chunks=self.settings.flush_chunks,
            max_file_bytes=self.settings.max_file_mb * 2**20,
            progress=progress,
        )
        with self.store.guard("add articles"):
            return ingester.run(paths, origin_names)

    def search(
        self, question: str, k: int = 5, filters: Filters | None = None, mode: Mode = "hybrid", stories: bool = True
    ) -> list[Passage]:
        """The ``k`` passages that best match ``question``, best first; one article per story (its
        newest version) unless ``stories`` is False, then every copy."""
        with self.store.guard():
            return self.retriever.search(question, k, filters, mode, stories)

    def stories(self, min_size: int = 2) -> list[list[StoredArticle]]:
        """The stories told by several articles (copies, updates), largest first, newest article first."""
        with self.store.guard():
            return self.store.stories(min_size)

    def also_reported(
        self, article_ids: Sequence[str], as_of: dt.date | str | None = None
    ) -> dict[str, list[StoredArticle]]:
        """For each of these articles whose story other articles tell, those others, newest first; with
        ``as_of``, only those published by that day (undated ones are kept, as by the as-of filter)."""
        ids = list(dict.fromkeys(article_ids))
        last = str(as_of)[:10] if as_of else None
        with self.store.guard():
            told = self.store.story_sizes(ids)
            stories = self.store.stories_of([i for i in ids if told.get(i, 1) > 1])
            members = {story: self.store.story_members(story) for story in set(stories.values())}
        return {
            article_id: [
                m for m in members[story]
                if m.id != article_id and not (last and m.published and m.published[:10] > last)
            ]
            for article_id, story in stories.items()
        }

    def statements(
        self, speaker: str, filters: Filters | None = None, limit: int = 40
    ) -> list[tuple[Passage, int, int]]:
        """Sentences the articles attribute to ``speaker``, each with a passage holding it, newest first."""
        with self.store.guard():
            return self.retriever.statements(speaker, filters, limit)

    def dated(
        self, date_from: str, date_to: str, filters: Filters | None = None, limit: int = 40
    ) -> list[tuple[Passage, int, int]]:
        """Sentences that name a date between ``date_from`` and ``date_to`` (ISO, inclusive), each with a
        passage holding it, newest articles first: "on Wednesday" counts as the Wednesday it meant."""
        with self.store.guard():
            return self.retriever.dated(date_from, date_to, filters, limit)

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles by id; returns the ids that were there. The index file is saved."""
        self.store.require_writable("remove articles")
        with self.store.guard("remove articles"):
            removed = self.store.remove(article_ids)
            if removed:
                self.store.save_vectors()
            return removed

    @property
    def read_only(self) -> bool:
        """True when the index is only read here; :attr:`read_only_reason` says why."""
        return self.store.read_only

    @property
    def read_only_reason(self) -> str | None:
        return self.store.read_only_reason

    def articles(self) -> list[StoredArticle]:
        with self.store.guard():
            return self.store.articles()

    def article(self, article_id: str) -> Article | None:
        """One article with its whole text, or None if it is not in the index."""
        with self.store.guard():
            return self.store.article(article_id)

    def sources(self) -> list[str]:
        """The sources of the articles, sorted (for a source filter)."""
        return sorted({a.source for a in self.articles() if a.source})

    def check(self) -> list[str]:
        """Problems found by a full integrity check; an empty list means the index is consistent."""
        return self.store.check()

    def stats(self) -> Stats:
        m = self.store.manifest
        with self.store.guard():
            return Stats(
                folder=self.store.location,
                articles=self.store.article_count(),
                chunks=self.store.chunk_count(),
                model=m.model,
                dimension=m.dimension,
                index_type=self.store.index_type,
                size_bytes=self.store.size_on_disk(),
                format_version=m.format_version,
                chunk_tokens=m.chunk_tokens,
                overlap_tokens=m.overlap_tokens,
            )

    def close(self) -> None:
        """Close the database and stop every thread this index started."""
        self.store.close()
        if self._owns_embedder:
            self.embedder.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def article_page(
        self, query: str = "", newest_first: bool = True, offset: int = 0, limit: int = 50
    ) -> tuple[list[StoredArticle], int]:
        """One page of the article list, by date, filtered by a title or source substring, and the
        number of articles that match; see :meth:`Store.article_page`."""
        with self.store.guard():
            return self.store.article_page(query, newest_first, offset, limit)


def exists(location: str | Path) -> bool:
    """Is there an index at ``location`` (a folder, or a ``postgresql://`` URL)?"""
    return stores.exists(location)


def open_or_build(
    settings: Settings,
    *,
    sample: str | Path = SAMPLE_ARTICLES,
    progress: Callable[[Progress], None] | None = None,
    embedder: Embedder | None = None,
) -> tuple[Index, IngestReport | None]:
    """Open the index of ``settings``; if there is none yet, create it and ingest ``sample`` (the
    bundled sample articles by default). Returns the index and, when it was built, the report."""
    if exists(settings.index_dir):
        return Index(settings, embedder=embedder), None
    index = Index(settings, create=True, embedder=embedder)
    try:
        return index, index.ingest([sample], progress=progress)
    except BaseException:
        index.close()
        raise


def open_index(folder: str | Path | None = None, *, model: str | None = None, create: bool = False) -> Index:
    """Open the index in ``folder`` (default: ``RAG_INDEX`` or ``embeddings/``). An entry point: the
    other settings come from the environment too (see :mod:`rag.config`)."""
    return Index(Settings.from_env(index_dir=folder, model=model), create=create)
