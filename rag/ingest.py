"""Ingestion: files and folders -> articles -> chunks -> vectors, committed in crash-safe batches.

Each article's sentences are read once for what news text carries (speakers, explainer headings,
resolved dates: :mod:`rag.news`) and stored with it.

Unchanged files are recognised by their content hash and cost no parsing or embedding. One bad
file never stops the batch: it is reported with a one-line reason and the rest go on.

A batch is committed on a writer thread while the next one is read and embedded; one batch at a
time is being committed, in order, and a run returns only when the last one is.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .chunk import chunk_article
from .embed import Embedder
from .errors import RejectedFile
from .news import analyze
from .parse import ARCHIVE_SUFFIXES, SUPPORTED_SUFFIXES, iter_archive, parse_bytes, size_text
from .store import Store
from .text import split_sentences
from .types import Article, Chunk, SentenceFacts

Status = Literal["added", "unchanged", "duplicate", "rejected", "skipped"]
EMBED_STEP = 256  # chunks embedded between two progress reports (a batch of 1,024 takes half a minute on two cores)
SPLIT_LAST_CHUNKS = 256  # a last batch of at least this many chunks is committed in two (Ingester._flush)


MAX_NOTES = 20  # notes kept for one file; past them only their number (a report stays readable)


@dataclass
class FileResult:
    """What happened to one file. ``reason`` is set for rejected and skipped files; ``notes`` holds the
    first MAX_NOTES notes on its records, ``notes_left_out`` counts the rest."""

    path: str
    status: Status
    added: int = 0
    unchanged: int = 0
    duplicate: int = 0
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    notes_left_out: int = 0

    def note(self, *texts: str) -> None:
        for text in texts:
            if len(self.notes) < MAX_NOTES:
                self.notes.append(text)
            else:
                self.notes_left_out += 1


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
            if f.notes_left_out:
                lines.append(f"  note: {f.path}: and {f.notes_left_out:,} more notes like these")
        return "\n".join(lines)


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback after each file and each committed batch."""

    files_done: int
    files_total: int
    chunks_done: int
    current: str = ""
    articles_done: int = 0  # new articles queued or stored
    bytes_done: int = 0  # of all the files, read so far
    bytes_total: int = 0
    elapsed: float = 0.0  # seconds since the ingestion started
    chunks_made: int = 0  # cut from the articles read so far: embedded, or waiting to be

    @property
    def fraction(self) -> float:
        """The share of the work done: of the files' bytes read, the share of their chunks embedded
        (embedding is the slow part: reading a file takes seconds, embedding its chunks minutes)."""
        read = self.bytes_done / self.bytes_total if self.bytes_total else self.files_done / max(1, self.files_total)
        embedded = self.chunks_done / self.chunks_made if self.chunks_made else 1.0  # none cut yet: the bytes
        return min(1.0, read * embedded)

    @property
    def rate(self) -> float:
        """Chunks embedded per second so far."""
        return self.chunks_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """The time left: the chunks still to embed at the rate so far, those of the bytes not read yet
        counted at the chunks a byte has given so far (None until there is a basis)."""
        if self.elapsed < 1 or self.bytes_done <= 0:
            return None
        if not self.chunks_made:  # no chunk counts (a caller of its own): by the bytes read so far
            return self.elapsed * (self.bytes_total - self.bytes_done) / self.bytes_done if self.bytes_total else None
        if not self.rate:  # nothing embedded yet: no rate to count with
            return None
        expected = self.chunks_made * max(1.0, self.bytes_total / self.bytes_done) if self.bytes_total else 0
        return max(0.0, expected - self.chunks_done) / self.rate

    def describe(self) -> str:
        """One line for a person: "1,200 articles, 18,400 of 20,100 chunks · 41 chunks/s · about 1 min left"."""
        of = f" of {self.chunks_made:,}" if self.chunks_made > self.chunks_done else ""
        parts = [f"{self.articles_done:,} articles, {self.chunks_done:,}{of} chunks"]
        if self.rate:
            parts.append(f"{self.rate:.0f} chunks/s")
        left = self.seconds_left
        if left is not None and self.fraction < 1:
            parts.append(f"about {_duration(left)} left")
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        self._chunks_made = 0  # every chunk cut so far
        self._embedding = 0  # chunks of the batch being embedded that are done
        self._queued_ids: set[str] = set()
        self._queued_for: dict[str, FileResult] = {}  # the file result of each queued article
        self._files: list[tuple[str, str, list[str]]] = []
        self._facts: dict[str, list[SentenceFacts]] = {}
        self._report = IngestReport()
        self._files_done = 0
        self._files_total = 0
        self._articles_done = 0
        self._bytes_done = 0  # of the files finished
        self._file_bytes = 0  # of the file being read
        self._bytes_total = 0
        self._started = time.monotonic()
        self._writer: ThreadPoolExecutor | None = None
        self._storing: tuple[Future, list[tuple[Article, list[Chunk], str]]] | None = None

    def run(self, paths: Sequence[str | Path], origin_names: dict[str, str] | None = None) -> IngestReport:
        """Ingest ``paths``. ``origin_names`` maps a path to the name to record and report for it."""
        files = list(iter_files(paths))
        self._files_total = len(files)
        self._bytes_total = sum(_size(path) for path, reason in files if reason is None)
        self._started = time.monotonic()
        names = origin_names or {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        try:
            for path, skip_reason in files:
                shown = names.get(str(path), str(path))
                if skip_reason is not None:
                    status = "rejected" if skip_reason == "no such file or folder" else "skipped"
                    self._report.files.append(FileResult(shown, status, reason=skip_reason))
                else:
                    self._report.files.append(self._ingest_file(path, shown))
                self._files_done += 1
                self._bytes_done += _size(path) if skip_reason is None else 0
                self._file_bytes = 0
                self._notify(shown)
            self._flush(last=True)
            self._stored()
        except Exception:
            # the batch being committed finishes (or fails) whole first; its error, if it has one, is
            # the one to tell: it came first and names the articles not stored
            self._writer.shutdown(wait=True)
            failed = self._storing[0].exception() if self._storing is not None else None
            if isinstance(failed, Exception):
                raise failed from None
            raise
        finally:
            self._writer.shutdown(wait=True)
            self._writer, self._storing = None, None
        if self._report.chunks_embedded or self._report.added:
            self.store.save_vectors()
        return self._report

    def _notify(self, current: str = "") -> None:
        if self.progress is not None:
            self.progress(
                Progress(
                    self._files_done,
                    self._files_total,
                    self._report.chunks_embedded + self._embedding,
                    current,
                    articles_done=self._articles_done,
                    bytes_done=self._bytes_done + self._file_bytes,
                    bytes_total=self._bytes_total,
                    elapsed=time.monotonic() - self._started,
                    chunks_made=self._chunks_made,
                )
            )

    def _ingest_file(self, path: Path, shown: str) -> FileResult:
        try:
            size = path.stat().st_size
            if size > self.max_file_bytes:
                if path.suffix.lower() in ARCHIVE_SUFFIXES:  # an archive: the limit is per article
                    return self._ingest_archive(path, shown)
                raise RejectedFile(
                    f"file is {size_text(size)}, over the {size_text(self.max_file_bytes)} limit; "
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
        result = FileResult(shown, "added")
        result.note(*parsed.notes)
        self._take(parsed.articles, result, shown)
        return self._finish(result, shown, digest, [a.id for a in parsed.articles])

    def _ingest_archive(self, path: Path, shown: str) -> FileResult:
        """A JSON or JSON Lines archive over the size limit, read record by record."""
        try:
            digest = _file_digest(path)
        except OSError as exc:
            return FileResult(shown, "rejected", reason=f"cannot read the file: {exc.strerror or exc}")
        known = self._known(digest, shown)
        if known is not None:
            return known
        result = FileResult(shown, "added")
        ids: list[str] = []
        batch: list[Article] = []
        offsets: list[int] = []
        try:
            for record in iter_archive(path, self.max_file_bytes):
                if record.note:
                    result.note(record.note)
                    continue
                batch.append(record.article)
                offsets.append(record.offset)
                ids.append(record.article.id)
                if len(batch) >= 256:
                    self._take(batch, result, shown, offsets)
                    batch, offsets = [], []
            self._take(batch, result, shown, offsets)
        except RejectedFile as exc:
            if not ids:
                return FileResult(shown, "rejected", reason=exc.reason)
            self._take(batch, result, shown, offsets)
            result.note(f"{exc.reason}; the rest of the file was not read")
            return self._finish(result, shown, None, ids)
        except OSError as exc:
            return FileResult(shown, "rejected", reason=f"cannot read the file: {exc.strerror or exc}")
        if not ids:
            return FileResult(shown, "rejected", reason=result.notes[0] if result.notes else "no articles found")
        return self._finish(result, shown, digest, ids)

    def _take(
        self, articles: Sequence[Article], result: FileResult, shown: str, offsets: Sequence[int] = ()
    ) -> None:
        """Queue the new ones of ``articles`` for embedding; count the others as unchanged or duplicate.
        ``offsets``: where each article ends in its file, for the progress inside a streamed archive."""
        if not articles:
            return
        existing = self.store.existing_articles(a.id for a in articles)
        stored_origin = dict.fromkeys(existing, "")
        if existing:
            stored_origin.update(self.store.origins(existing))
        for i, article in enumerate(articles):
            if offsets:
                self._file_bytes = offsets[i]
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
                    result.note(f"article {article.title[:60]!r} has no text to index; skipped")
                    continue
                self._queue.append((article, chunks, shown))
                self._queued_for[article.id] = result
                self._facts[article.id] = analyze(article.text, sentences, article.published)
                self._queued_ids.add(article.id)
                self._queued_chunks += len(chunks)
                self._chunks_made += len(chunks)
                result.added += 1
                self._articles_done += 1
                if self._queued_chunks >= self.flush_chunks:
                    self._flush()

    def _finish(self, result: FileResult, shown: str, digest: str | None, ids: list[str]) -> FileResult:
        """The file's status, and its record (so unchanged bytes are recognised next time) unless it
        was not read to the end (``digest`` None)."""
        if not result.added:
            result.status = "unchanged" if result.unchanged and not result.duplicate else "duplicate"
        if digest is not None:
            self._files.append((shown, digest, ids))
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

    def _flush(self, last: bool = False) -> None:
        """Embed the queued chunks and hand them, with the finished files' records, to the writer
        thread to commit at once, after the batch before (if any) is committed.

        The ``last`` batch's commit has no embedding after it to overlap, so a large one is sent in
        two: all but its last sixth first, whose commit overlaps the embedding of that sixth, and then
        the sixth, the only commit waited for. The files' records go with the second part."""
        queue, files, facts = self._queue, self._files, self._facts
        self._queue, self._files, self._facts = [], [], {}
        self._queued_chunks = 0
        if last and (total := sum(len(chunks) for _, chunks, _ in queue)) >= SPLIT_LAST_CHUNKS:
            tail, split = 0, len(queue)
            while split > 1 and tail < total // 6:
                split -= 1
                tail += len(queue[split][1])
            head = queue[:split]
            self._send(head, [], {a.id: facts[a.id] for a, _, _ in head})
            queue = queue[split:]
            facts = {a.id: facts[a.id] for a, _, _ in queue}
        self._send(queue, files, facts)

    def _send(
        self,
        queue: list[tuple[Article, list[Chunk], str]],
        files: list[tuple[str, str, list[str]]],
        facts: dict[str, list[SentenceFacts]],
    ) -> None:
        if not queue and not files:
            return
        texts = [chunk.text for _, chunks, _ in queue for chunk in chunks]
        parts = []
        for start in range(0, len(texts), EMBED_STEP):  # in steps, each told: a batch takes a while
            parts.append(self.embedder.embed(texts[start : start + EMBED_STEP]))
            self._embedding = min(len(texts), start + EMBED_STEP)
            if len(texts) > EMBED_STEP:
                self._notify()
        self._embedding = 0
        vectors = np.concatenate(parts) if parts else self.embedder.embed([])
        if texts:
            self.store.require_dimension(vectors.shape[1], self.embedder.name)
        self._stored()
        assert self._writer is not None, "batches are flushed inside run()"
        future = self._writer.submit(self.store.add, queue, vectors, files, facts)
        self._storing = (future, queue)
        self._report.chunks_embedded += len(texts)
        self._notify()

    def _stored(self) -> None:
        """Wait for the batch being committed, if any; raise its error, or count as duplicates its
        articles that another process stored first."""
        if self._storing is None:
            return
        future, queue = self._storing
        self._storing = None
        added = set(future.result())
        for article, _, _ in queue:  # stored meanwhile by another process: a duplicate after all
            result = self._queued_for.pop(article.id)
            if article.id not in added:
                result.added -= 1
                result.duplicate += 1
                if not result.added and result.status == "added":
                    result.status = "duplicate"
