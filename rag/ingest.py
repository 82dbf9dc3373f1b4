"""Ingestion: files and folders -> articles -> chunks -> vectors, committed in crash-safe batches.

Each article's sentences are read once for what news text carries (speakers, explainer headings,
resolved dates: :mod:`rag.news`) and stored with it.

Unchanged files are recognised by their content hash and cost no parsing or embedding. One bad
file never stops the batch: it is reported with a one-line reason and the rest go on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .chunk import chunk_article
from .embed import Embedder
from .errors import RejectedFile
from .news import analyze
from .parse import SUPPORTED_SUFFIXES, parse_bytes
from .store import Store
from .text import split_sentences
from .types import Article, Chunk, SentenceFacts

Status = Literal["added", "unchanged", "duplicate", "rejected", "skipped"]


@dataclass
class FileResult:
    """What happened to one file. ``reason`` is set for rejected and skipped files."""

    path: str
    status: Status
    added: int = 0
    unchanged: int = 0
    duplicate: int = 0
    reason: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    chunks_embedded: int = 0

    def _sum(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def added(self) -> int:
        return self._sum("added")

    @property
    def unchanged(self) -> int:
        return self._sum("unchanged")

    @property
    def duplicate(self) -> int:
        return self._sum("duplicate")

    @property
    def rejected(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def skipped(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "skipped"]

    def summary(self) -> str:
        """The report a person reads: totals, then one line per rejected or skipped file and note."""
        lines = [
            f"articles: {self.added} added, {self.unchanged} unchanged, {self.duplicate} duplicate; "
            f"files: {len(self.rejected)} rejected, {len(self.skipped)} skipped; "
            f"chunks embedded: {self.chunks_embedded}"
        ]
        for f in self.files:
            if f.status in ("rejected", "skipped"):
                lines.append(f"  {f.status}: {f.path}: {f.reason}")
            lines.extend(f"  note: {f.path}: {note}" for note in f.notes)
        return "\n".join(lines)


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback after each file and each committed batch."""

    files_done: int
    files_total: int
    chunks_done: int
    current: str = ""


def iter_files(paths: Sequence[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """Every file under ``paths`` (folders recursively, sorted) with None, or a reason to skip it.

    Hidden files and folders are left out; symbolic links that lead outside the folder being
    read are skipped, so a folder cannot make the ingester read files elsewhere.
    """
    for given in paths:
        path = Path(given)
        if path.is_dir():
            root = path.resolve()
            for folder, dirs, names in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    file = Path(folder) / name
                    if file.is_symlink() and not file.resolve().is_relative_to(root):
                        yield file, "symbolic link to a file outside the folder; not followed"
                    elif file.suffix.lower() not in SUPPORTED_SUFFIXES:
                        yield file, f"unsupported file type {file.suffix or '(no extension)'}"
                    else:
                        yield file, None
        elif path.exists():
            yield path, None
        else:
            yield path, "no such file or folder"


class Ingester:
    """Feeds files into one store, embedding new chunks in batches of ``flush_chunks``."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        chunk_tokens: int,
        overlap_tokens: int,
        flush_chunks: int = 1024,
        max_file_bytes: int = 20 * 2**20,
        progress: Callable[[Progress], None] | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.chunk_tokens = min(chunk_tokens, embedder.max_tokens)
        self.overlap_tokens = overlap_tokens
        self.flush_chunks = flush_chunks
        self.max_file_bytes = max_file_bytes
        self.progress = progress
        self._queue: list[tuple[Article, list[Chunk], str]] = []
        self._queued_chunks = 0
        self._queued_ids: set[str] = set()
        self._files: list[tuple[str, str, list[str]]] = []
        self._facts: dict[str, list[SentenceFacts]] = {}
        self._report = IngestReport()
        self._files_done = 0
        self._files_total = 0

    def run(self, paths: Sequence[str | Path], origin_names: dict[str, str] | None = None) -> IngestReport:
        """Ingest ``paths``. ``origin_names`` maps a path to the name to record and report for it."""
        files = list(iter_files(paths))
        self._files_total = len(files)
        names = origin_names or {}
        for path, skip_reason in files:
            shown = names.get(str(path), str(path))
            if skip_reason is not None:
                status = "rejected" if skip_reason == "no such file or folder" else "skipped"
                self._report.files.append(FileResult(shown, status, reason=skip_reason))
            else:
                self._report.files.append(self._ingest_file(path, shown))
            self._files_done += 1
            self._notify(shown)
        self._flush()
        if self._report.chunks_embedded or self._report.added:
            self.store.save_vectors()
        return self._report

    def _notify(self, current: str = "") -> None:
        if self.progress is not None:
            self.progress(Progress(self._files_done, self._files_total, self._report.chunks_embedded, current))

    def _ingest_file(self, path: Path, shown: str) -> FileResult:
        try:
            size = path.stat().st_size
            if size > self.max_file_bytes:
                raise RejectedFile(
                    f"file is {size / 2**20:.0f} MB, over the {self.max_file_bytes / 2**20:.0f} MB limit; "
                    "split it into smaller files or raise RAG_MAX_FILE_MB"
                )
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise RejectedFile(f"cannot read the file: {exc.strerror or exc}") from exc
            digest = hashlib.sha256(data).hexdigest()
            known = self._known(digest, shown)
            if known is not None:
                return known
            parsed = parse_bytes(data, path.suffix)
        except RejectedFile as exc:
            return FileResult(shown, "rejected", reason=exc.reason)

        result = FileResult(shown, "added", notes=list(parsed.notes))
        existing = self.store.existing_articles(a.id for a in parsed.articles)
        stored_origin = dict.fromkeys(existing, "")
        if existing:
            stored_origin.update(self.store.origins(existing))
        for article in parsed.articles:
            if article.id in self._queued_ids:
                result.duplicate += 1
            elif article.id in existing:
                if stored_origin.get(article.id) == shown:
                    result.unchanged += 1
                else:
                    result.duplicate += 1
            else:
                sentences = split_sentences(article.text)
                chunks = chunk_article(
                    article, self.embedder.count_tokens, self.chunk_tokens, self.overlap_tokens, sentences
                )
                if not chunks:
                    result.notes.append(f"article {article.title[:60]!r} has no text to index; skipped")
                    continue
                self._queue.append((article, chunks, shown))
                self._facts[article.id] = analyze(article.text, sentences, article.published)
                self._queued_ids.add(article.id)
                self._queued_chunks += len(chunks)
                result.added += 1
                if self._queued_chunks >= self.flush_chunks:
                    self._flush()
        if not result.added:
            result.status = "unchanged" if result.unchanged and not result.duplicate else "duplicate"
        self._files.append((shown, digest, [a.id for a in parsed.articles]))
        return result

    def _known(self, digest: str, shown: str) -> FileResult | None:
        """A result without parsing when these exact bytes were ingested before and are all stored."""
        for path, article_ids in self.store.known_file(digest):
            if article_ids and len(self.store.existing_articles(article_ids)) == len(set(article_ids)):
                if path == shown:
                    return FileResult(shown, "unchanged", unchanged=len(article_ids))
                self._files.append((shown, digest, article_ids))
                return FileResult(shown, "duplicate", duplicate=len(article_ids))
        return None

    def _flush(self) -> None:
        """Embed the queued chunks and commit them, with the finished files' records, at once."""
        if not self._queue and not self._files:
            return
        texts = [chunk.text for _, chunks, _ in self._queue for chunk in chunks]
        vectors = self.embedder.embed(texts)
        self.store.add(self._queue, vectors, files=self._files, facts=self._facts)
        self._report.chunks_embedded += len(texts)
        self._queue, self._files, self._facts = [], [], {}
        self._queued_chunks = 0
        self._notify()
