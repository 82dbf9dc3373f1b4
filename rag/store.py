"""The index folder on disk: SQLite (the source of truth) + a FAISS index + a manifest.

Layout of an index folder::

    manifest.json   model name, dimension, normalisation, format version, chunking settings
    store.sqlite    articles, chunks with offsets, each chunk's vector, an FTS5 keyword index, what
                    each sentence carries (speaker, explainer heading, resolved dates: rag.news),
                    and the files already ingested (WAL journal, so readers never see a torn write)
    vectors.faiss   the vector index, a cache of the vectors in store.sqlite, replaced atomically
    vectors.crc32   the CRC-32 and size of vectors.faiss, written before it is renamed into place

Crash safety: every batch of articles is committed to SQLite in one transaction, together with its
vectors. The FAISS file is written to a temporary name and renamed over the old one. On open, a
vector file whose checksum does not match (damaged, truncated, or from an interrupted write) is
rebuilt from the vectors in SQLite; then the FAISS ids are compared with the chunk ids in SQLite and
any difference is repaired, so an index killed at any moment opens consistent: every vector has its
row and every row its vector.

Faults of the storage (a full disk, read-only storage, a denied permission, a lock held by
another process) are told apart from damage (:mod:`rag.faults`). A failed write leaves the index as
it was before: the batch's transaction is rolled back, the vector file is written to a temporary
file that is removed on failure (its space is checked first), and the next run completes the work.
An index on storage that cannot be written (or opened with ``read_only``) is read through SQLite's
read-only or immutable open, without writing anything; adding and removing then fail in one line.

Format versions: 1 had no sentence table; an index of version 1 is upgraded in place when opened
(the sentence facts are read from the stored article text; nothing is embedded again).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import faults
from .errors import IndexError_, NoSpace, RagError, StorageError, rebuild_hint
from .facets import Facets
from .news import analyze
from .stories import band_keys, same_story, shingles, signature
from .text import WORD, split_sentences
from .types import Article, Chunk, DateMention, Filters, SentenceFacts

FORMAT_VERSION = 3  # 2: the sentences and their dates; 3: stories
MANIFEST = "manifest.json"
DATABASE = "store.sqlite"
VECTORS = "vectors.faiss"
CHECKSUM = "vectors.crc32"

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    published TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    origin TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id),
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentences TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id),
    vector BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    article_ids TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE TABLE IF NOT EXISTS sentences (
    article_id TEXT NOT NULL REFERENCES articles(id),
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    speaker_start INTEGER,
    speaker_end INTEGER,
    speaker_key TEXT,
    quoted INTEGER NOT NULL DEFAULT 0,
    heading_start INTEGER,
    heading_end INTEGER,
    dates TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (article_id, start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentences_speaker ON sentences(speaker_key) WHERE speaker_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS sentence_dates (
    article_id TEXT NOT NULL REFERENCES articles(id),
    sentence_start INTEGER NOT NULL,
    date_from TEXT NOT NULL,
    date_to TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sentence_dates_range ON sentence_dates(date_from, date_to);
CREATE INDEX IF NOT EXISTS sentence_dates_article ON sentence_dates(article_id);
CREATE TABLE IF NOT EXISTS stories (
    article_id TEXT PRIMARY KEY REFERENCES articles(id),
    story TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stories_story ON stories(story);
CREATE TABLE IF NOT EXISTS story_bands (
    key INTEGER NOT NULL,
    article_id TEXT NOT NULL REFERENCES articles(id)
);
CREATE INDEX IF NOT EXISTS story_bands_key ON story_bands(key);
CREATE INDEX IF NOT EXISTS story_bands_article ON story_bands(article_id);
"""

# the last chunk id handed out (chunks only come and go, never change): whether the facets are current
_LAST_CHUNK_ID = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'chunks'), 0)"
KEYWORD_DEPTH = 5000  # most keyword matches read to filter in memory before SQLite filters them


# rows that break a rule of the index (query counting them, what they are), for Store.check
_COUNTED_PROBLEMS = (
    (
        "SELECT count(*) FROM chunks c LEFT JOIN articles a ON a.id = c.article_id WHERE a.id IS NULL",
        "chunks belong to no article",
    ),
    (
        "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id"
        ' WHERE substr(a.text, c.start + 1, c."end" - c.start) != c.text',
        "chunks whose offsets do not match their article text",
    ),
    (
        "SELECT count(*) FROM sentences s LEFT JOIN articles a ON a.id = s.article_id WHERE a.id IS NULL"
        ' OR s.start < 0 OR s."end" > length(a.text) OR s.start >= s."end"'
        " OR (s.speaker_start IS NOT NULL AND (s.speaker_start < 0 OR s.speaker_end > length(a.text)))",
        "sentence records point outside their article text",
    ),
    (
        "SELECT count(*) FROM sentences s JOIN articles a ON a.id = s.article_id"
        " WHERE (s.speaker_start IS NOT NULL AND s.speaker_end <= s.speaker_start)"
        " OR (s.heading_start IS NOT NULL AND (s.heading_start < 0 OR s.heading_end > length(a.text)"
        " OR s.heading_end <= s.heading_start))",
        "sentence records have a speaker or heading span that is not in the text",
    ),
    (
        "SELECT count(*) FROM articles a WHERE length(trim(a.text)) > 0"
        " AND NOT EXISTS (SELECT 1 FROM sentences s WHERE s.article_id = a.id)",
        "articles have no sentence records",
    ),
)


def speaker_key(name: str) -> str:
    """The key a speaker is looked up by: the last word of the name, lower-cased ("Boris Pistorius"
    and "Pistorius" both give "pistorius"; a possessive "'s" is dropped)."""
    found = WORD.findall(re.sub(r"[’']s\b", "", name).lower())
    return found[-1] if found else ""


def _facts_row(article_id: str, f: SentenceFacts, text: str) -> tuple:
    speaker = f.speaker or (None, None)
    heading = f.heading or (None, None)
    key = speaker_key(text[speaker[0] : speaker[1]]) if f.speaker else None
    dates = json.dumps([[d.start, d.end, d.date_from, d.date_to] for d in f.dates])
    return (article_id, f.start, f.end, *speaker, key or None, int(f.quoted), *heading, dates)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Manifest:
    model: str
    dimension: int
    normalized: bool = True
    metric: str = "inner_product"
    format_version: int = FORMAT_VERSION
    chunk_tokens: int = 0
    overlap_tokens: int = 0
    created: str = ""

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
            return cls(**known)
        except PermissionError as exc:
            raise faults.access_denied(path) from exc
        except (OSError, ValueError, TypeError) as exc:
            raise IndexError_(
                f"the index manifest {path} is unreadable ({exc}); {rebuild_hint(folder)}"
            ) from exc

    def save(self, folder: Path) -> None:
        _atomic_write(folder / MANIFEST, json.dumps(self.__dict__, indent=2).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file, synced, renamed over it (and removed if
    the write fails, on a full disk for one)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _rollback(db: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already (it has after a full disk, for one)."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error as exc:  # the error that made us roll back is the one to report
            log.warning("could not roll back: %s", exc)


class _ChecksumWriter:
    """Receives the bytes FAISS writes and passes them to a Python file, so that a full disk is an
    OSError (FAISS's own file writer can lose it), and keeps their CRC-32 and size on the way."""

    def __init__(self, handle):
        self.handle, self.crc, self.size = handle, 0, 0

    def __call__(self, data: bytes) -> int:
        self.handle.write(data)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        return len(data)

    @property
    def checksum(self) -> str:
        return f"{self.crc:08x} {self.size}"


def _file_checksum(path: Path) -> str:
    """``"<crc32> <size>"`` of a file, read in blocks."""
    crc, size = 0, 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return f"{crc:08x} {size}"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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


class Store:
    """One index folder. Thread-safe; writes are serialised, reads see committed data only.

    ``lock_timeout``: seconds a write waits for another process's write to end. ``read_only``:
    write nothing (also chosen by itself on storage this user cannot write; see :attr:`read_only`).
    """

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        ann_threshold: int = 100_000,
        nprobe: int = 128,
        lock_timeout: float = 30.0,
        read_only: bool = False,
    ):
        self.folder = folder
        self.manifest = manifest
        self.ann_threshold = ann_threshold
        self.nprobe = nprobe
        self.lock_timeout = lock_timeout
        self._lock = threading.RLock()
        self.generation = 0  # bumped by every change, so callers can drop derived caches
        database = folder / DATABASE
        journals = [database.with_name(DATABASE + suffix) for suffix in ("-wal", "-shm")]
        # why this index cannot be written here, or None: see faults.read_only_reason
        self.read_only_reason = faults.read_only_reason(folder, read_only, [database, *journals])
        self._read_uri: str | None = None  # how read-only connections open the database
        self._full = False  # the device was full at opening: read only, and writes say so
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._facet_cache: Facets | None = None
        self._facet_lock = threading.Lock()
        try:
            with self.guard("open the index"):
                self._db = self._connect()  # the one writing connection, used under self._lock
        except NoSpace:
            if self.read_only:
                raise
            # SQLite cannot make its shared-memory file on a full device: read the index as it is
            self._full = True
            self.read_only_reason = f"the device holding {folder} is full; free some space on it to write"
            for reader in self._readers:  # opened to count the articles for the message: read-write
                reader.close()
            self._readers.clear()
            self._local = threading.local()
            with self.guard("open the index"):
                self._db = self._open_read_only()
        with self.guard("open the index"):
            if manifest.format_version < FORMAT_VERSION:
                self._upgrade()
            try:
                self._faiss = self._load_vectors()
            except (KeyError, ValueError) as exc:  # rows that read back as garbage
                raise self._damaged(f"unreadable vectors: {exc!r}") from exc

    def _upgrade(self) -> None:
        """Bring an index of an older format version to this one, in place and without embedding."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    missing = self._db.execute(
                        "SELECT id, text, published FROM articles"
                        " WHERE id NOT IN (SELECT DISTINCT article_id FROM sentences)"
                    ).fetchall()
                    for article_id, text, published in missing:
                        facts = analyze(text, split_sentences(text), published)
                        self._insert_facts(self._db, article_id, text, facts)
                    unfiled = self._db.execute(
                        "SELECT id, text FROM articles WHERE id NOT IN (SELECT article_id FROM stories)"
                        " ORDER BY added_at, rowid"
                    ).fetchall()
                    for article_id, text in unfiled:
                        self._file_story(self._db, article_id, text)
                    self._db.execute("COMMIT")
                except BaseException:
                    _rollback(self._db)
                    raise
            upgraded = replace(self.manifest, format_version=FORMAT_VERSION)
            upgraded.save(self.folder)
            self.manifest = upgraded
        except (OSError, sqlite3.OperationalError) as exc:
            raise IndexError_(
                f"the index in {self.folder} has format version {self.manifest.format_version} and must be upgraded "
                f"to version {FORMAT_VERSION} once ({exc}); open it with write access, for example with "
                f"`rag check --index {self.folder}`; nothing is embedded again"
            ) from exc
        log.info("upgraded the index in %s to format version %d", self.folder, FORMAT_VERSION)

    @staticmethod
    def _file_story(db: sqlite3.Connection, article_id: str, text: str) -> str:
        """Put an article in the story of the stored article it copies or updates (the most alike of
        the candidates its MinHash bands find), or in a story of its own; see :mod:`rag.stories`. An
        article that is a copy of two stories joins them: they were one story told twice."""
        keys = band_keys(signature(text))
        marks = ",".join("?" * len(keys))
        candidates = db.execute(
            f"SELECT b.article_id, a.text, s.story FROM (SELECT article_id, count(*) AS n FROM story_bands"
            f" WHERE key IN ({marks}) AND article_id != ? GROUP BY article_id ORDER BY n DESC LIMIT 50) b"
            " JOIN articles a ON a.id = b.article_id JOIN stories s ON s.article_id = b.article_id",
            [*keys, article_id],
        ).fetchall()
        story, best, joined = article_id, 0.0, set()
        if candidates:
            mine = shingles(text)
            for _, other_text, other_story in candidates:
                theirs = shingles(other_text)
                if same_story(mine, theirs):
                    joined.add(other_story)
                    alike = len(mine & theirs) / len(mine | theirs)
                    if alike > best:
                        story, best = other_story, alike
        others = sorted(joined - {story})
        if others:
            marks = ",".join("?" * len(others))
            db.execute(f"UPDATE stories SET story = ? WHERE story IN ({marks})", [story, *others])
        db.execute("INSERT OR REPLACE INTO stories (article_id, story) VALUES (?, ?)", (article_id, story))
        db.execute("DELETE FROM story_bands WHERE article_id = ?", (article_id,))
        db.executemany("INSERT INTO story_bands (key, article_id) VALUES (?, ?)", [(k, article_id) for k in keys])
        return story

    @staticmethod
    def _insert_facts(db: sqlite3.Connection, article_id: str, text: str, facts: Sequence[SentenceFacts]) -> None:
        db.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
        db.execute("DELETE FROM sentence_dates WHERE article_id = ?", (article_id,))
        db.executemany(
            "INSERT INTO sentence_dates (article_id, sentence_start, date_from, date_to) VALUES (?, ?, ?, ?)",
            [(article_id, f.start, d.date_from, d.date_to) for f in facts for d in f.dates],
        )
        db.executemany(
            'INSERT INTO sentences (article_id, start, "end", speaker_start, speaker_end, speaker_key,'
            " quoted, heading_start, heading_end, dates) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_facts_row(article_id, f, text) for f in facts],
        )

    def _damaged(self, detail: str) -> IndexError_:
        return IndexError_(
            f"the index database {self.folder / DATABASE} is damaged ({detail}); {rebuild_hint(self.folder)}"
        )

    @property
    def read_only(self) -> bool:
        """True when this index is read and never written (see :attr:`read_only_reason`)."""
        return self.read_only_reason is not None

    def require_writable(self, operation: str) -> None:
        """Raise :class:`rag.errors.ReadOnly` for ``operation`` ("add articles") on a read-only index."""
        if self._full:
            raise faults.no_space(operation, self.folder, self._kept())
        if self.read_only_reason is not None:
            raise faults.read_only(operation, self.folder, self.read_only_reason)

    def _kept(self) -> str:
        """What the index holds after a failed write, for the message."""
        try:
            count = self._read("SELECT count(*) FROM articles").fetchone()[0]
        except sqlite3.Error:
            return "Everything committed before is kept"
        return f"The index is as it was before this step, with its {count} articles kept"

    def fault(self, exc: sqlite3.Error, operation: str) -> RagError:
        """The error to raise for a SQLite error during ``operation`` ("add articles"): the storage
        fault it is (a full disk, read-only storage, a denied permission, a held lock), or damage."""
        found = faults.sqlite_fault(
            exc, operation, self.folder / DATABASE, self.lock_timeout, self.read_only_reason, self._kept()
        )
        return found if found is not None else self._damaged(str(exc))

    @contextmanager
    def guard(self, operation: str = "read the index") -> Iterator[None]:
        """Turn SQLite's errors during ``operation`` into a RagError that names the true cause: a
        storage fault (the index is sound) or, only for real damage, damage and how to rebuild."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise self.fault(exc, operation) from exc

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        folder: str | Path,
        *,
        model: str | None = None,
        dimension: int | None = None,
        create: bool = False,
        chunk_tokens: int = 0,
        overlap_tokens: int = 0,
        **options: Any,
    ) -> Store:
        """Open the index in ``folder``; with ``create=True`` make a new one there if there is none.

        ``model`` is checked against the manifest: an index is only ever searched with the
        model that built it.
        """
        folder = Path(folder)
        denied = faults.unreadable([folder, *(folder / name for name in (MANIFEST, DATABASE, VECTORS, CHECKSUM))])
        if denied is not None:
            raise denied
        if (folder / MANIFEST).exists():
            manifest = Manifest.load(folder)
            if manifest.format_version > FORMAT_VERSION:
                raise IndexError_(
                    f"the index in {folder} has format version {manifest.format_version}, newer than "
                    f"this program understands ({FORMAT_VERSION}); upgrade the program"
                )
            if model is not None and model != manifest.model:
                raise IndexError_(
                    f"the index in {folder} was built with the model {manifest.model!r}, not {model!r}. "
                    f"Search it with --model {manifest.model} (or RAG_MODEL), or build a new index "
                    "for the other model in another folder with --index"
                )
            if not (folder / DATABASE).exists():
                raise IndexError_(
                    f"the index in {folder} has a manifest but no {DATABASE}; {rebuild_hint(folder)}"
                )
        elif (folder / DATABASE).exists():
            raise IndexError_(
                f"the index in {folder} has a {DATABASE} but no {MANIFEST}; {rebuild_hint(folder)}"
            )
        elif create:
            if model is None or dimension is None:
                raise ValueError("creating an index needs the model name and its dimension")
            if options.get("read_only"):
                raise faults.read_only("create an index", folder, faults.read_only_reason(folder, True) or "")
            manifest = Manifest(
                model=model,
                dimension=dimension,
                chunk_tokens=chunk_tokens,
                overlap_tokens=overlap_tokens,
                created=_now(),
            )
            try:
                folder.mkdir(parents=True, exist_ok=True)
                manifest.save(folder)
            except OSError as exc:
                fault = faults.os_fault(exc, "create an index", folder, "Nothing was written")
                if fault is None:
                    raise
                raise fault from exc
        else:
            raise IndexError_(f"no index in {folder}; build one with `rag ingest PATH --index {folder}`")
        return cls(folder, manifest, **options)

    @property
    def _busy_ms(self) -> int:
        return int(self.lock_timeout * 1000)

    def _connect(self) -> sqlite3.Connection:
        """The writing connection; for a read-only index, a connection that cannot write."""
        if self.read_only:
            return self._open_read_only()
        db = sqlite3.connect(self.folder / DATABASE, check_same_thread=False, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT count(*) FROM chunks").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _open_read_only(self) -> sqlite3.Connection:
        """A connection that writes nothing. ``mode=ro`` sees what other processes commit, but needs
        SQLite's shared-memory file beside the database; where that cannot be made (a read-only file
        system or folder, a full device) ``immutable=1`` reads the database file alone, without locks
        or journal."""
        path = self.folder / DATABASE
        base = path.resolve().as_uri()
        for uri in (f"{base}?mode=ro", f"{base}?immutable=1"):
            db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            try:
                db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                db.execute("PRAGMA query_only=ON")
                db.execute("SELECT count(*) FROM chunks").fetchone()
            except sqlite3.OperationalError as exc:
                db.close()
                cannot_share = (exc.sqlite_errorname or "").startswith(
                    ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR")  # IOERR: a full device
                )
                if uri.endswith("immutable=1") or not cannot_share:
                    raise
                continue
            if uri.endswith("immutable=1"):
                wal = path.with_name(DATABASE + "-wal")
                if wal.exists() and wal.stat().st_size:
                    log.warning("%s cannot be read without write access; the articles last committed to it may be "
                                "missing until the index is opened with write access", wal)
            self._read_uri = uri
            return db
        raise AssertionError("unreachable")

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection. Each statement sees the last committed state (WAL), so a
        search running beside an ingestion never sees half of a batch."""
        db = getattr(self._local, "db", None)
        if db is None:
            if self._read_uri is not None:
                db = sqlite3.connect(self._read_uri, uri=True, check_same_thread=False, isolation_level=None)
            else:
                db = sqlite3.connect(self.folder / DATABASE, check_same_thread=False, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            db.execute("PRAGMA query_only=ON")
            self._local.db = db
            with self._lock:
                self._readers.append(db)
        return db

    def _read(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._reader().execute(sql, params)

    def _read_in(self, sql: str, values: Sequence[Any]) -> Iterator[tuple]:
        """The rows of ``sql`` whose ``IN ({ids})`` list is ``values``, bound in batches of at most
        900 (SQLite's limit on bound parameters)."""
        for start in range(0, len(values), 900):
            part = values[start : start + 900]
            yield from self._read(sql.format(ids=",".join("?" * len(part))), part)

    def close(self) -> None:
        with self._lock:
            for db in self._readers:
                db.close()
            self._readers.clear()
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the FAISS side ----------------------------------------------------------------------

    def _new_flat(self):
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.manifest.dimension))

    def _load_vectors(self):
        """Load vectors.faiss and repair it against SQLite, or build it from SQLite if missing."""
        import faiss

        path = self.folder / VECTORS
        index = None
        if path.exists():
            if self._checksum_matches(path):
                try:
                    index = faiss.read_index(str(path))
                except (RuntimeError, MemoryError):
                    index = None
                if index is not None and index.d != self.manifest.dimension:
                    index = None
            if index is None and (self.folder / CHECKSUM).exists():
                log.warning("%s is damaged or was not fully written; rebuilding it from %s", path, DATABASE)
            elif index is None:  # written before checksums were kept: rebuilt once, then checked
                log.info("%s has no checksum; rebuilding it from %s", path, DATABASE)
        if index is None:
            self._rebuild_vectors()  # the vectors in SQLite are the source of truth
            repaired = self.chunk_count() > 0 or path.exists()
        else:
            self._faiss = index
            repaired = self._sync_vectors()
        if repaired and self.read_only:
            log.info("the vector index of %s was repaired in memory; not saved, as %s", self.folder,
                     self.read_only_reason)
        elif repaired:
            try:
                self.save_vectors()
            except (OSError, StorageError) as exc:  # searches still work from memory
                log.warning("could not save the repaired vector index in %s: %s", self.folder, exc)
        return self._faiss

    def _checksum_matches(self, path: Path) -> bool:
        try:
            return (self.folder / CHECKSUM).read_text(encoding="ascii").strip() == _file_checksum(path)
        except (OSError, UnicodeDecodeError):
            return False

    def _faiss_ids(self) -> np.ndarray:
        import faiss

        index = self._faiss
        if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
            return faiss.vector_to_array(index.id_map).astype(np.int64)
        ivf = faiss.extract_index_ivf(index)
        lists = ivf.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(ivf.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def _faiss_contents(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) the FAISS index holds, read from its storage without searching."""
        import faiss

        index, dim = self._faiss, self.manifest.dimension
        if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
            flat = faiss.downcast_index(index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * dim).reshape(-1, dim).copy()
            return faiss.vector_to_array(index.id_map).astype(np.int64), vectors
        ivf = faiss.extract_index_ivf(index)
        lists = ivf.invlists
        ids, vectors = [], []
        for i in range(ivf.nlist):
            size = lists.list_size(i)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(i), size * lists.code_size).copy()
                vectors.append(codes.view(np.float32).reshape(size, dim))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        return np.concatenate(ids).astype(np.int64), np.concatenate(vectors)

    def _sync_vectors(self) -> bool:
        """Make the FAISS index hold exactly the chunk ids in SQLite. Returns True if it changed."""
        in_faiss = self._faiss_ids()
        rows = self._db.execute("SELECT chunk_id FROM vectors").fetchall()
        in_db = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        extra = np.setdiff1d(in_faiss, in_db, assume_unique=False)
        missing = np.setdiff1d(in_db, in_faiss, assume_unique=False)
        if len(extra):
            self._faiss.remove_ids(extra)
        if len(missing):
            for start in range(0, len(missing), 10_000):
                ids = missing[start : start + 10_000]
                self._faiss_add(ids, self._vectors_for(ids))
        return bool(len(extra) or len(missing))

    def vectors_by_id(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored vectors of those of these chunks that exist (one removed meanwhile is left out)."""
        dim = self.manifest.dimension
        ids = [int(i) for i in dict.fromkeys(chunk_ids)]
        found: dict[int, np.ndarray] = {}
        for chunk_id, blob in self._read_in("SELECT chunk_id, vector FROM vectors WHERE chunk_id IN ({ids})", ids):
            if len(blob) != 4 * dim:
                raise self._damaged(f"stored vectors do not match the manifest's dimension {dim}")
            found[chunk_id] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return found

    def vectors(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these chunks, one row each, in order."""
        if not len(chunk_ids):
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return self._vectors_for(chunk_ids)

    def _vectors_for(self, ids: Sequence[int]) -> np.ndarray:
        found = self.vectors_by_id(ids)
        if len(found) != len(set(map(int, ids))):
            raise self._damaged(
                f"stored vectors do not match the manifest's dimension {self.manifest.dimension} or are missing"
            )
        return np.stack([found[int(i)] for i in ids])

    def _faiss_add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._faiss.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    @property
    def index_type(self) -> str:
        import faiss

        return "flat" if isinstance(self._faiss, faiss.IndexIDMap2 | faiss.IndexIDMap) else "ivf"

    def _rebuild_vectors(self) -> None:
        """Choose exact or approximate search by size and rebuild the FAISS index from SQLite."""
        import faiss

        count = self.chunk_count()
        rows = self._db.execute("SELECT chunk_id, vector FROM vectors ORDER BY chunk_id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        dim = self.manifest.dimension
        if any(len(r[1]) != 4 * dim for r in rows):
            raise self._damaged(f"stored vectors do not match the manifest's dimension {dim}")
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
        if count >= self.ann_threshold:
            nlist = max(1, min(int(4 * np.sqrt(count)), count // 39))  # FAISS wants >= 39 points a list
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = vectors[rng.choice(len(vectors), min(len(vectors), nlist * 64), replace=False)]
            index.train(sample)
            index.nprobe = self.nprobe
        else:
            index = self._new_flat()
        self._faiss = index
        self._faiss_add(ids, vectors)

    def vector_file_bytes(self) -> int:
        """At least the size of the vector file as it would be written now (its vectors and ids,
        and an approximate index's centroids): the space checked before writing it."""
        import faiss

        size = self._faiss.ntotal * (4 * self.manifest.dimension + 8)
        if self.index_type == "ivf":
            size += faiss.extract_index_ivf(self._faiss).nlist * 4 * self.manifest.dimension
        return size

    def save_vectors(self) -> None:
        """Write the FAISS index atomically; switch between exact and approximate when due.

        Nothing is written without room for the whole file; a write that fails anyway (the disk
        filled meanwhile) removes its temporary file and leaves the old vector file in place."""
        import faiss

        self.require_writable("write the vector file")
        with self._lock:
            count = self.chunk_count()
            want_ann = count >= self.ann_threshold
            trained_for = getattr(self, "_trained_for", None)
            if want_ann != (self.index_type == "ivf") or (want_ann and trained_for and count > 4 * trained_for):
                self._rebuild_vectors()
                self._trained_for = count
            needed = self.vector_file_bytes()
            free = faults.free_bytes(self.folder)
            if free is not None and free < needed:
                raise self._no_room_for_vectors(needed)
            tmp = self.folder / (VECTORS + ".tmp")
            try:
                with open(tmp, "wb") as handle:
                    writer = _ChecksumWriter(handle)
                    faiss.write_index(self._faiss, faiss.PyCallbackIOWriter(writer))
                    handle.flush()
                    os.fsync(handle.fileno())
                # the checksum goes first: a kill between the two renames leaves a mismatch, which
                # makes the next open rebuild the vector file from SQLite
                _atomic_write(self.folder / CHECKSUM, writer.checksum.encode("ascii"))
                os.replace(tmp, self.folder / VECTORS)
            except OSError as exc:
                with suppress(OSError):
                    tmp.unlink(missing_ok=True)
                if exc.errno in faults.NO_SPACE:
                    raise self._no_room_for_vectors(needed) from exc
                fault = faults.os_fault(exc, "write the vector file", tmp, self._vectors_kept())
                if fault is None:
                    raise
                raise fault from exc
            _fsync_dir(self.folder)

    def _vectors_kept(self) -> str:
        return (
            f"All {self.chunk_count()} chunks are stored in {DATABASE} with their vectors and are searched; the "
            f"old {VECTORS} is left in place, and the next command run with space (`rag check` will do) "
            "brings it up to date"
        )

    def _no_room_for_vectors(self, needed: int) -> StorageError:
        return faults.no_space("write the vector file", self.folder, self._vectors_kept(), needed)

    # --- writing -----------------------------------------------------------------------------

    def add(
        self,
        items: Sequence[tuple[Article, Sequence[Chunk], str]],
        vectors: np.ndarray,
        files: Iterable[tuple[str, str, Sequence[str]]] = (),
        facts: Mapping[str, Sequence[SentenceFacts]] | None = None,
    ) -> int:
        """Store articles with their chunks and chunk vectors, and file records, in one transaction.

        ``items`` are ``(article, chunks, origin)``; ``vectors`` has one row per chunk, in order.
        ``files`` are ``(path, sha256, article_ids)`` records of fully ingested files. ``facts`` maps
        an article id to its sentences' facts (:func:`rag.news.analyze`); read here when not given.
        Articles already stored are skipped. Returns the number of articles added.

        A batch that cannot fit on the device is refused before anything is written; one that fills
        it meanwhile is rolled back. Either way a :class:`rag.errors.NoSpace` says so, and the index
        is as it was.
        """
        total = sum(len(chunks) for _, chunks, _ in items)
        if vectors.shape != (total, self.manifest.dimension):
            raise ValueError(f"expected {total} vectors of dimension {self.manifest.dimension}, got {vectors.shape}")
        operation = f"add {len(items)} article{'s' if len(items) != 1 else ''}"
        self.require_writable(operation)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        needed = self._batch_bytes(items, vectors)
        free = faults.free_bytes(self.folder)
        if free is not None and free + self._journal_bytes() < needed:
            raise faults.no_space(operation, self.folder, self._kept(), needed)
        added = 0
        new_ids: list[int] = []
        new_rows: list[int] = []
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    row = 0
                    now = _now()
                    for article, chunks, origin in items:
                        cursor = db.execute(
                            "INSERT OR IGNORE INTO articles (id, title, text, source, url, published, metadata,"
                            " origin, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                article.id,
                                article.title,
                                article.text,
                                article.source,
                                article.url,
                                article.published,
                                json.dumps(dict(article.metadata), ensure_ascii=False),
                                origin,
                                now,
                            ),
                        )
                        if cursor.rowcount == 0:  # already stored
                            row += len(chunks)
                            continue
                        added += 1
                        known = (facts or {}).get(article.id)
                        if known is None:
                            known = analyze(article.text, split_sentences(article.text), article.published)
                        self._insert_facts(db, article.id, article.text, known)
                        self._file_story(db, article.id, article.text)
                        for chunk in chunks:
                            chunk_id = db.execute(
                                'INSERT INTO chunks (article_id, ord, start, "end", text, sentences)'
                                " VALUES (?, ?, ?, ?, ?, ?)",
                                (
                                    article.id,
                                    chunk.index,
                                    chunk.start,
                                    chunk.end,
                                    chunk.text,
                                    json.dumps(chunk.sentences),
                                ),
                            ).lastrowid
                            db.execute(
                                "INSERT INTO vectors (chunk_id, vector) VALUES (?, ?)",
                                (chunk_id, vectors[row].tobytes()),
                            )
                            new_ids.append(chunk_id)
                            new_rows.append(row)
                            row += 1
                    for path, sha256, article_ids in files:
                        db.execute(
                            "INSERT OR REPLACE INTO files (path, sha256, article_ids, ingested_at)"
                            " VALUES (?, ?, ?, ?)",
                            (path, sha256, json.dumps(list(article_ids)), now),
                        )
                    db.execute("COMMIT")
                except BaseException:
                    _rollback(db)
                    raise
            except sqlite3.DatabaseError as exc:
                fault = self.fault(exc, operation)
                if isinstance(fault, NoSpace):  # say how much the batch needs
                    fault = faults.no_space(operation, self.folder, self._kept(), needed)
                raise fault from exc
            self._faiss_add(np.array(new_ids, dtype=np.int64), vectors[new_rows])
            self.generation += 1
        return added

    @staticmethod
    def _batch_bytes(items: Sequence[tuple[Article, Sequence[Chunk], str]], vectors: np.ndarray) -> int:
        """At least the bytes a batch adds to the database: its text, chunk text and vectors (the
        keyword index, the sentence facts and the pages around them come on top)."""
        text = sum(len(a.text.encode()) + len(a.title.encode()) for a, _, _ in items)
        chunks = sum(len(c.text.encode()) for _, cs, _ in items for c in cs)
        return text + chunks + vectors.nbytes

    def _journal_bytes(self) -> int:
        """The size of the write-ahead log, whose space SQLite may reuse for the next transaction."""
        try:
            return (self.folder / (DATABASE + "-wal")).stat().st_size
        except OSError:
            return 0

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles, their chunks, vectors, keyword entries and sentence facts. Returns the ids
        that existed."""
        removed: list[str] = []
        self.require_writable("remove articles")
        with self._lock, self.guard("remove articles"):
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                chunk_ids: list[int] = []
                for article_id in article_ids:
                    ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))]
                    chunk_ids.extend(ids)
                    for chunk_id in ids:
                        db.execute("DELETE FROM vectors WHERE chunk_id = ?", (chunk_id,))
                    db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
                    db.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
                    db.execute("DELETE FROM sentence_dates WHERE article_id = ?", (article_id,))
                    db.execute("DELETE FROM stories WHERE article_id = ?", (article_id,))
                    db.execute("DELETE FROM story_bands WHERE article_id = ?", (article_id,))
                    if db.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount:
                        removed.append(article_id)
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            if chunk_ids:
                self._faiss.remove_ids(np.array(chunk_ids, dtype=np.int64))
            self.generation += 1
        return removed

    # --- reading -----------------------------------------------------------------------------

    def known_file(self, sha256: str) -> list[tuple[str, list[str]]]:
        """Files ingested before with these exact bytes: ``[(path, article_ids)]``."""
        rows = self._read("SELECT path, article_ids FROM files WHERE sha256 = ?", (sha256,))
        return [(path, json.loads(ids)) for path, ids in rows]

    def existing_articles(self, article_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(article_ids))
        return {r[0] for r in self._read_in("SELECT id FROM articles WHERE id IN ({ids})", ids)}

    def origins(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The file each article was first ingested from."""
        return dict(self._read_in("SELECT id, origin FROM articles WHERE id IN ({ids})", list(article_ids)))

    def article(self, article_id: str) -> Article | None:
        row = self._read(
            "SELECT id, title, text, source, url, published, metadata FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        if row is None:
            return None
        return Article(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]))

    def articles(self) -> list[StoredArticle]:
        return self._articles()

    def _articles(self, where: str = "", params: Sequence[Any] = ()) -> list[StoredArticle]:
        rows = self._read(
            "SELECT a.id, a.title, a.source, a.url, a.published, count(c.id), a.origin, a.added_at"
            f" FROM articles a LEFT JOIN chunks c ON c.article_id = a.id {where}"
            " GROUP BY a.id ORDER BY a.published IS NULL, a.published DESC, a.title",
            params,
        ).fetchall()
        return [StoredArticle(*row) for row in rows]

    def sentence_facts(self, article_id: str) -> list[SentenceFacts]:
        """What each sentence of the article carries (speaker, heading, dates), in article order."""
        rows = self._read(
            'SELECT start, "end", speaker_start, speaker_end, quoted, heading_start, heading_end, dates'
            " FROM sentences WHERE article_id = ? ORDER BY start",
            (article_id,),
        ).fetchall()
        return [
            SentenceFacts(
                start=r[0],
                end=r[1],
                speaker=(r[2], r[3]) if r[2] is not None else None,
                quoted=bool(r[4]),
                heading=(r[5], r[6]) if r[5] is not None else None,
                dates=tuple(DateMention(*d) for d in json.loads(r[7])),
            )
            for r in rows
        ]

    def sentences_by_speaker(
        self, name: str, filters: Filters | None = None, limit: int = 200
    ) -> list[tuple[str, int, int]]:
        """Sentences attributed to a speaker whose name ends like ``name`` (see :func:`speaker_key`):
        ``[(article_id, start, end)]``, newest articles first, in article order within each."""
        key = speaker_key(name)
        if not key:
            return []
        where, params = self._filter_sql(filters)
        rows = self._read(
            'SELECT s.article_id, s.start, s."end" FROM sentences s JOIN articles a ON a.id = s.article_id'
            f" WHERE s.speaker_key = ?{where} ORDER BY a.published DESC, s.article_id, s.start LIMIT ?",
            [key, *params, limit],
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def chunk_ids_holding(self, places: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """For each ``(article_id, offset)``, the first chunk of that article holding the offset."""
        found: dict[tuple[str, int], int] = {}
        by_article: dict[str, list[int]] = {}
        for article_id, offset in places:
            by_article.setdefault(article_id, []).append(offset)
        for article_id, offsets in by_article.items():
            rows = self._read(
                'SELECT id, start, "end" FROM chunks WHERE article_id = ? ORDER BY ord', (article_id,)
            ).fetchall()
            for offset in offsets:
                chunk = next((r[0] for r in rows if r[1] <= offset < r[2]), None)
                if chunk is not None:
                    found[(article_id, offset)] = chunk
        return found

    def sentences_dated(
        self, date_from: str, date_to: str, filters: Filters | None = None, limit: int = 200
    ) -> list[tuple[str, int, int]]:
        """Sentences that name a date in ``date_from``..``date_to`` (ISO, inclusive), resolved at
        ingestion ("on Wednesday" of an article of that week): ``[(article_id, start, end)]``."""
        where, params = self._filter_sql(filters)
        rows = self._read(
            'SELECT DISTINCT s.article_id, s.start, s."end" FROM sentence_dates d'
            " JOIN sentences s ON s.article_id = d.article_id AND s.start = d.sentence_start"
            " JOIN articles a ON a.id = s.article_id"
            f" WHERE d.date_from <= ? AND d.date_to >= ?{where} ORDER BY a.published DESC, s.article_id, s.start"
            " LIMIT ?",
            [date_to[:10], date_from[:10], *params, limit],
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def article_count(self) -> int:
        return self._read("SELECT count(*) FROM articles").fetchone()[0]

    def chunk_count(self) -> int:
        return self._read("SELECT count(*) FROM chunks").fetchone()[0]

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """The chunks with these ids, joined with their article's title, source, url and date."""
        found: dict[int, ChunkRow] = {}
        rows = self._read_in(
            'SELECT c.id, c.article_id, c.start, c."end", c.text, c.sentences,'
            " a.title, a.source, a.url, a.published"
            " FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({ids})",
            [int(i) for i in chunk_ids],
        )
        for r in rows:
            sentences = tuple(tuple(s) for s in json.loads(r[5]))
            found[r[0]] = ChunkRow(r[0], r[1], r[2], r[3], r[4], sentences, r[6], r[7], r[8], r[9])
        return found

    @staticmethod
    def _filter_sql(filters: Filters | None) -> tuple[str, list[Any]]:
        if not filters:
            return "", []
        clauses, params = [], []
        if filters.article_ids:
            clauses.append(f"a.id IN ({','.join('?' * len(filters.article_ids))})")
            params.extend(filters.article_ids)
        if filters.sources:
            clauses.append(f"a.source IN ({','.join('?' * len(filters.sources))})")
            params.extend(filters.sources)
        if filters.date_from:
            clauses.append("substr(a.published, 1, 10) >= ?")
            params.append(filters.date_from[:10])
        if filters.date_to:
            clauses.append("substr(a.published, 1, 10) <= ?")
            params.append(filters.date_to[:10])
        if filters.as_of:
            clauses.append("(a.published IS NULL OR substr(a.published, 1, 10) <= ?)")
            params.append(filters.as_of[:10])
        if not clauses:
            return "", []
        return " AND " + " AND ".join(clauses), params

    def stories_of(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The story each of these articles belongs to (its id is the first article filed in it)."""
        sql = "SELECT article_id, story FROM stories WHERE article_id IN ({ids})"
        return dict(self._read_in(sql, list(article_ids)))

    def story_sizes(self, article_ids: Iterable[str]) -> dict[str, int]:
        """How many articles tell the story of each of these articles."""
        sql = (
            "SELECT s.article_id, (SELECT count(*) FROM stories t WHERE t.story = s.story)"
            " FROM stories s WHERE s.article_id IN ({ids})"
        )
        return dict(self._read_in(sql, list(article_ids)))

    def story_members(self, story: str) -> list[StoredArticle]:
        """The articles of one story, newest first (undated ones last)."""
        return self._articles("WHERE a.id IN (SELECT article_id FROM stories WHERE story = ?)", (story,))

    def stories(self, min_size: int = 2) -> list[list[StoredArticle]]:
        """Every story of at least ``min_size`` articles, largest first, each newest first."""
        rows = self._read(
            "SELECT story FROM stories GROUP BY story HAVING count(*) >= ? ORDER BY count(*) DESC, story", (min_size,)
        ).fetchall()
        return [self.story_members(story) for (story,) in rows]

    def latest_published(self) -> str | None:
        """The day of the newest article's publication date (None for an index of undated articles)."""
        row = self._read("SELECT max(published) FROM articles").fetchone()
        return row[0][:10] if row and row[0] else None

    def chunk_ids_matching(self, filters: Filters) -> np.ndarray:
        """The ids of the chunks that pass ``filters``, ascending."""
        facets = self._facets()
        return facets.chunk_ids[facets.chunk_mask(filters)]

    def _facets(self) -> Facets:
        """Each chunk's article date and source in memory (rag.facets), rebuilt when chunks were added
        since (by this process or another one)."""
        version = self._read(_LAST_CHUNK_ID).fetchone()[0]
        facets = self._facet_cache
        if facets is None or facets.version != version:
            with self._facet_lock:
                facets = self._facet_cache
                if facets is None or facets.version != version:
                    # read in one transaction, so the chunks and their articles agree
                    reader = self._reader()
                    reader.execute("BEGIN")
                    try:
                        version = reader.execute(_LAST_CHUNK_ID).fetchone()[0]
                        articles = reader.execute("SELECT id, published, source FROM articles").fetchall()
                        chunks = reader.execute("SELECT id, article_id FROM chunks").fetchall()
                    finally:
                        reader.execute("COMMIT")
                    facets = self._facet_cache = Facets.build(version, articles, chunks)
        return facets

    def dense_search(self, query: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """Nearest chunks by inner product (cosine, as vectors are unit length) among those that pass
        ``filters``: ``[(chunk_id, score)]``."""
        import faiss

        selector = None
        if filters:
            bits, passing = self._facets().bitmap(filters)
            if passing == 0:
                return []
            selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            if self._faiss.ntotal == 0:
                return []
            if self.index_type == "ivf":
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe)
            else:
                params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, ids = self._faiss.search(query, min(k, self._faiss.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def keyword_search(self, match: str, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """BM25 over the FTS5 keyword index: ``[(chunk_id, score)]``, higher is better.

        ``match`` is an FTS5 query; build it with :func:`rag.retrieve.keyword_query`. With filters,
        the best matches are read deep enough for ``k`` of them to pass (by the share of chunks that
        pass) and filtered in memory (:mod:`rag.facets`); SQLite filters them itself, which costs a
        join for every match, only when those were not enough.
        """
        if not match:
            return []
        if filters:
            facets = self._facets()
            mask = facets.chunk_mask(filters)
            passing = int(mask.sum())
            if passing == 0:
                return []
            depth = min(KEYWORD_DEPTH, k + int(2 * k * len(mask) / passing))
            rows = self._keyword_rows(match, depth)
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            at = np.minimum(np.searchsorted(facets.chunk_ids, ids), max(len(facets.chunk_ids) - 1, 0))
            kept = (facets.chunk_ids[at] == ids) & mask[at] if len(facets.chunk_ids) else np.zeros(len(ids), bool)
            found = [rows[i] for i in np.flatnonzero(kept)[:k]]
            if len(found) == k or len(rows) < depth:  # enough, or every match was read
                return found
        return self._keyword_rows(match, k, filters)

    def _keyword_rows(self, match: str, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        where, params = self._filter_sql(filters)
        join = " JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.id = c.article_id" if where else ""
        rows = self._read(
            f"SELECT f.rowid, bm25(chunks_fts) AS rank FROM chunks_fts f{join}"
            f" WHERE chunks_fts MATCH ?{where} ORDER BY rank LIMIT ?",
            [match, *params, k],
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def document_frequency(self, term: str) -> int:
        """How many chunks contain ``term`` (a word, or with five letters a word prefix)."""
        term = term.replace('"', "")
        if not term:
            return 0
        match = f'"{term}"*' if len(term) >= 5 else f'"{term}"'
        row = self._read("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)).fetchone()
        return row[0]

    # --- health ------------------------------------------------------------------------------

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())

    def check(self) -> list[str]:
        """Problems found by a full integrity check; an empty list means the index is consistent."""
        problems: list[str] = []
        db = self._db
        with self._lock:
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                problems.append("SQLite integrity check failed")
            chunk_ids = {r[0] for r in db.execute("SELECT id FROM chunks")}
            # FTS5's integrity-check is a write; read-only, or while another process writes, the rows
            # the keyword index holds are compared with the chunks instead
            full_check = not self.read_only
            if full_check:
                try:
                    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
                except sqlite3.DatabaseError as exc:
                    fault = faults.sqlite_fault(exc, "check", self.folder / DATABASE, self.lock_timeout, None, "")
                    if fault is None:
                        problems.append(f"keyword index disagrees with the chunks: {exc}")
                    else:
                        full_check = False
            if not full_check:
                indexed = {r[0] for r in db.execute("SELECT id FROM chunks_fts_docsize")}
                if indexed != chunk_ids:
                    problems.append(f"keyword index disagrees with the chunks: {len(indexed ^ chunk_ids)} differ")
            vector_ids = {r[0] for r in db.execute("SELECT chunk_id FROM vectors")}
            ids, vectors = self._faiss_contents()
            faiss_ids = set(ids.tolist())
            if chunk_ids != vector_ids:
                problems.append(f"{len(chunk_ids ^ vector_ids)} chunks and stored vectors do not match")
            if faiss_ids != chunk_ids:
                problems.append(f"{len(faiss_ids ^ chunk_ids)} chunk ids differ between FAISS and SQLite")
            if len(faiss_ids) != self._faiss.ntotal:
                problems.append("the FAISS index holds duplicate ids")
            keep = np.isin(ids, np.fromiter(vector_ids, dtype=np.int64, count=len(vector_ids)))
            if keep.any() and not np.array_equal(vectors[keep], self._vectors_for(ids[keep])):
                problems.append("vectors in FAISS differ from the vectors stored in SQLite")
            for count, problem in _COUNTED_PROBLEMS:
                found = db.execute(count).fetchone()[0]
                if found:
                    problems.append(f"{found} {problem}")
            stray_dates = db.execute(
                "SELECT count(*) FROM sentence_dates d LEFT JOIN sentences s"
                " ON s.article_id = d.article_id AND s.start = d.sentence_start"
                " WHERE s.article_id IS NULL OR d.date_from > d.date_to"
            ).fetchone()[0]
            listed = db.execute("SELECT coalesce(sum(json_array_length(dates)), 0) FROM sentences").fetchone()[0]
            dated = db.execute("SELECT count(*) FROM sentence_dates").fetchone()[0]
            if stray_dates or listed != dated:
                problems.append(
                    f"the sentence dates disagree: {stray_dates} date rows without their sentence or with an empty "
                    f"range; {listed} dates listed with the sentences, {dated} in the date table"
                )
            unfiled = db.execute(
                "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.article_id = a.id)"
            ).fetchone()[0]
            stray = db.execute(
                "SELECT (SELECT count(*) FROM stories s LEFT JOIN articles a ON a.id = s.article_id WHERE a.id IS NULL)"
                " + (SELECT count(*) FROM story_bands b LEFT JOIN articles a ON a.id = b.article_id WHERE a.id IS NULL)"
            ).fetchone()[0]
            if unfiled or stray:
                problems.append(
                    f"the stories disagree: {unfiled} articles in no story, {stray} story rows without their article"
                )
            if self._faiss.d != self.manifest.dimension:
                problems.append(
                    f"FAISS dimension {self._faiss.d} differs from the manifest's {self.manifest.dimension}"
                )
        return problems

    def article_page(
        self, query: str = "", newest_first: bool = True, offset: int = 0, limit: int = 50
    ) -> tuple[list[StoredArticle], int]:
        """One page of the article table, sorted by date (articles without one last), and how many
        articles match in all. ``query`` keeps the articles whose title or source contains it (case
        is ignored for ASCII letters; ``%`` and ``_`` match themselves)."""
        if offset < 0 or limit < 1:
            raise ValueError(f"a page needs offset >= 0 and limit >= 1, not offset={offset}, limit={limit}")
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", query.strip()) + "%"
        where = " WHERE a.title LIKE ? ESCAPE '\\' OR a.source LIKE ? ESCAPE '\\'"
        order = "DESC" if newest_first else "ASC"
        total = self._read(f"SELECT count(*) FROM articles a{where}", (pattern, pattern)).fetchone()[0]
        rows = self._read(
            "SELECT a.id, a.title, a.source, a.url, a.published,"
            " (SELECT count(*) FROM chunks c WHERE c.article_id = a.id), a.origin, a.added_at"
            f" FROM articles a{where} ORDER BY coalesce(a.published, '') = '', a.published {order}, a.title, a.id"
            " LIMIT ? OFFSET ?",
            (pattern, pattern, limit, offset),
        ).fetchall()
        return [StoredArticle(*row) for row in rows], total

    _FEED_LINKS = (
        "CREATE TABLE IF NOT EXISTS feed_links"
        " (link TEXT PRIMARY KEY, article_id TEXT NOT NULL, fetched_at TEXT NOT NULL)"
    )

    def feed_links(self, links: Iterable[str]) -> dict[str, str]:
        """The feed entry links among ``links`` whose page was ingested before, with the article stored
        from each (see :mod:`rag.feeds`)."""
        wanted = list(dict.fromkeys(links))
        found: dict[str, str] = {}
        self.require_writable("add articles")  # asked only while ingesting a feed
        with self._lock, self.guard("add articles"):
            self._db.execute(self._FEED_LINKS)
            for start in range(0, len(wanted), 900):
                part = wanted[start : start + 900]
                marks = ",".join("?" * len(part))
                found.update(self._db.execute(f"SELECT link, article_id FROM feed_links WHERE link IN ({marks})", part))
        return found

    def remember_feed_links(self, links: Mapping[str, str]) -> None:
        """Record feed entry links with the article stored from each, so they are not fetched again."""
        if not links:
            return
        now = _now()
        self.require_writable("add articles")
        with self._lock, self.guard("record the feed entries read"):
            self._db.execute(self._FEED_LINKS)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO feed_links (link, article_id, fetched_at) VALUES (?, ?, ?)",
                    [(link, article_id, now) for link, article_id in links.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                _rollback(self._db)
                raise
