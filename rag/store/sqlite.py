"""The index folder: SQLite (the source of truth) + a FAISS index + a manifest. The embedded default.

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

Format versions: 1 had no sentence table, 2 no stories, 3 not the indexes questions are answered
through (rag.store.sql.QUESTION_INDEXES); an older index is upgraded in place when opened (the sentence
facts and stories are read from the stored article text; nothing is embedded again).
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import faults
from ..errors import IndexError_, NoSpace, RagError, StorageError, rebuild_hint
from ..facets import Facets
from ..news import analyze
from ..text import split_sentences
from ..types import Article, Chunk, Filters, SentenceFacts
from .manifest import FORMAT_VERSION, MANIFEST, Manifest, now
from .sql import QUESTION_INDEXES, SHARED_TABLES, SQLStore
from .vectors import CHECKSUM, VECTORS, FaissVectors

DATABASE = "store.sqlite"

log = logging.getLogger(__name__)

_CHUNK_TABLES = """
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
END;"""
_SCHEMA = SHARED_TABLES.format(text="TEXT", key="INTEGER", compact=" WITHOUT ROWID", chunks=_CHUNK_TABLES)

_SPAN_COLUMN = "span INTEGER NOT NULL DEFAULT 0"  # what format 4 added to sentence_dates (see rag.store.sql)
_DAYS = "CAST(julianday(date_to) - julianday(date_from) AS INTEGER)"  # a date's width in days

# the last chunk id handed out (chunks only come and go, never change): whether the facets are current
_LAST_CHUNK_ID = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'chunks'), 0)"


def fts5_query(terms: Sequence[str]) -> str:
    """An FTS5 query that ORs these words, each quoted (so no syntax leaks)."""
    return " OR ".join('"{}"'.format(t.replace('"', "")) for t in dict.fromkeys(terms) if t.replace('"', ""))


def _rollback(db: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already (it has after a full disk, for one)."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error as exc:  # the error that made us roll back is the one to report
            log.warning("could not roll back: %s", exc)


def _fold_journal(db: sqlite3.Connection) -> None:
    """Fold the write-ahead log into the database and empty it (after a failed write, whose pages it
    still holds: on a full device they are the space needed to go on)."""
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:  # busy readers, or no room to fold: the next write will try again
        log.warning("could not empty the write-ahead log: %s", exc)


class SQLiteStore(SQLStore):
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
        self.generation = 0
        database = folder / DATABASE
        journals = [database.with_name(DATABASE + suffix) for suffix in ("-wal", "-shm")]
        # why this index cannot be written here, or None: see faults.read_only_reason
        self._read_only_reason = faults.read_only_reason(folder, read_only, [database, *journals])
        self._read_uri: str | None = None  # how read-only connections open the database
        self._full = False  # the device was full at opening: read only, and writes say so
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []  # each thread's reader
        self._facet_cache: Facets | None = None
        self._facet_lock = threading.Lock()
        self._filter_tables = itertools.count()  # names of the temporary tables of filters
        self._trained_for = 0  # the chunk count an approximate index was last trained at
        self.faiss = FaissVectors(folder, manifest.dimension, nprobe)
        try:
            with self.guard("open the index"):
                self._db = self._connect()  # the one writing connection, used under self._lock
        except NoSpace:
            if self.read_only:
                raise
            # SQLite cannot make its shared-memory file on a full device: read the index as it is
            self._full = True
            self._read_only_reason = f"the device holding {folder} is full; free some space on it to write"
            for _, reader in self._readers:  # opened to count the articles for the message: read-write
                reader.close()
            self._readers.clear()
            self._local = threading.local()
            with self.guard("open the index"):
                self._db = self._open_read_only()
        with self.guard("open the index"):
            if manifest.format_version < FORMAT_VERSION:
                self._upgrade()
            try:
                self._load_vectors()
            except (KeyError, ValueError) as exc:  # rows that read back as garbage
                raise self._damaged(f"unreadable vectors: {exc!r}") from exc

    @property
    def location(self) -> str:
        return str(self.folder)

    @property
    def read_only_reason(self) -> str | None:
        return self._read_only_reason

    def _upgrade(self) -> None:
        """Bring an index of an older format version to this one, in place and without embedding."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for table, column in (("sentences", "published TEXT"), ("sentence_dates", _SPAN_COLUMN)):
                        present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                        if column.split()[0] not in present:
                            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
                    missing = self._db.execute(
                        "SELECT id, text, published FROM articles"
                        " WHERE id NOT IN (SELECT DISTINCT article_id FROM sentences)"
                    ).fetchall()
                    self._insert_facts(self._db, [
                        (article_id, text, published, analyze(text, split_sentences(text), published))
                        for article_id, text, published in missing
                    ])
                    unfiled = self._db.execute(
                        "SELECT id, text FROM articles WHERE id NOT IN (SELECT article_id FROM stories)"
                        " ORDER BY added_at, rowid"
                    ).fetchall()
                    self._file_stories(self._db, unfiled)
                    self._add_question_indexes(self._db, _DAYS)
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

    def _damaged(self, detail: str) -> IndexError_:
        return IndexError_(
            f"the index database {self.folder / DATABASE} is damaged ({detail}); {rebuild_hint(self.folder)}"
        )

    def require_writable(self, operation: str) -> None:
        if self._full:
            raise faults.no_space(operation, self.folder, self._kept())
        if self._read_only_reason is not None:
            raise faults.read_only(operation, self.folder, self._read_only_reason)

    def _kept(self) -> str:
        """What the index holds after a failed write, for the message."""
        try:
            count = self.article_count()
        except sqlite3.Error:
            return "Everything committed before is kept"
        return f"The index is as it was before this step, with its {count} articles kept"

    def fault(self, exc: sqlite3.Error, operation: str) -> RagError:
        """The error to raise for a SQLite error during ``operation`` ("add articles"): the storage
        fault it is (a full disk, read-only storage, a denied permission, a held lock), or damage."""
        found = faults.sqlite_fault(
            exc, operation, self.folder / DATABASE, self.lock_timeout, self._read_only_reason, self._kept()
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

    @staticmethod
    def exists(folder: str | Path) -> bool:
        """Is there an index in ``folder``?"""
        return (Path(folder) / MANIFEST).exists()

    @classmethod
    def open_folder(
        cls,
        folder: str | Path,
        *,
        model: str | None = None,
        dimension: int | None = None,
        create: bool = False,
        chunk_tokens: int = 0,
        overlap_tokens: int = 0,
        **options: Any,
    ) -> SQLiteStore:
        """Open the index in ``folder``; with ``create=True`` make a new one there if there is none.

        ``model`` is checked against the manifest: an index is only ever searched with the
        model that built it.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise IndexError_(f"{folder} is a file, not an index folder; give a folder (made if missing) for the index")
        denied = faults.unreadable([folder, *(folder / name for name in (MANIFEST, DATABASE, VECTORS, CHECKSUM))])
        if denied is not None:
            raise denied
        if (folder / MANIFEST).exists():
            manifest = Manifest.load(folder)
            manifest.check(str(folder), model)
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
                created=now(),
            )
            try:
                folder.mkdir(parents=True, exist_ok=True)
                manifest.save(folder)
            except OSError as exc:
                fault = faults.os_fault(exc, "create an index", folder, "Nothing was written")
                if fault is None:  # a file where a folder of the path should be, a path too long, ...
                    raise IndexError_(
                        f"cannot create an index in {folder}: {exc.strerror or exc}"
                        + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(folder) else "")
                        + "; give a folder that can be made there. Nothing was written"
                    ) from exc
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
            if self.manifest.format_version >= FORMAT_VERSION:  # an older one gains them when upgraded
                db.executescript(QUESTION_INDEXES)
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
            db.execute("PRAGMA temp_store=MEMORY")  # temporary tables (of filters: keyword_search) and sorts
            self._local.db = db
            with self._lock:
                # a thread that has ended leaves its connection, and its tables of filters: close them
                for thread, done in [(t, d) for t, d in self._readers if not t.is_alive()]:
                    done.close()
                    self._readers.remove((thread, done))
                self._readers.append((threading.current_thread(), db))
        return db

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._reader().execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            for _, db in self._readers:
                db.close()
            self._readers.clear()
            self._db.close()

    # --- the vectors ---------------------------------------------------------------------------

    def _stored_ids(self) -> np.ndarray:
        rows = self._db.execute("SELECT chunk_id FROM vectors").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _load_vectors(self) -> None:
        """Load vectors.faiss and repair it against SQLite, or build it from SQLite if missing."""
        if self.faiss.read():
            repaired = self.faiss.sync(self._stored_ids(), self._vectors_for)
        else:
            self._rebuild_vectors()  # the vectors in SQLite are the source of truth
            repaired = self.chunk_count() > 0 or self.faiss.path.exists()
        if repaired and self.read_only:
            log.info("the vector index of %s was repaired in memory; not saved, as %s", self.folder,
                     self._read_only_reason)
        elif repaired:
            try:
                self.save_vectors()
            except (OSError, StorageError) as exc:  # searches still work from memory
                log.warning("could not save the repaired vector index in %s: %s", self.folder, exc)

    def vectors_by_id(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        dim = self.manifest.dimension
        ids = [int(i) for i in dict.fromkeys(chunk_ids)]
        found: dict[int, np.ndarray] = {}
        for chunk_id, blob in self._rows_in("SELECT chunk_id, vector FROM vectors WHERE chunk_id IN ({ids})", ids):
            if len(blob) != 4 * dim:
                raise self._damaged(f"stored vectors do not match the manifest's dimension {dim}")
            found[chunk_id] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return found

    def _vectors_for(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these chunks, one row each, in order; all must exist."""
        if not len(ids):
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        found = self.vectors_by_id(ids)
        if len(found) != len(set(map(int, ids))):
            raise self._damaged(
                f"stored vectors do not match the manifest's dimension {self.manifest.dimension} or are missing"
            )
        return np.stack([found[int(i)] for i in ids])

    @property
    def index_type(self) -> str:
        return self.faiss.kind

    def _rebuild_vectors(self) -> None:
        """Choose exact or approximate search by size and rebuild the FAISS index from SQLite."""
        rows = self._db.execute("SELECT chunk_id, vector FROM vectors ORDER BY chunk_id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        dim = self.manifest.dimension
        if any(len(r[1]) != 4 * dim for r in rows):
            raise self._damaged(f"stored vectors do not match the manifest's dimension {dim}")
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
        self.faiss.rebuild(ids, vectors, approximate=self.chunk_count() >= self.ann_threshold)

    def save_vectors(self) -> None:
        """Write the FAISS index atomically; switch between exact and approximate when due.

        Nothing is written without room for the whole file; a write that fails anyway (the disk
        filled meanwhile) removes its temporary file and leaves the old vector file in place."""
        self.require_writable("write the vector file")
        with self._lock:
            count = self.chunk_count()
            want_ann = count >= self.ann_threshold
            outgrown = want_ann and self._trained_for and count > 4 * self._trained_for
            if want_ann != (self.index_type == "ivf") or outgrown:
                self._rebuild_vectors()
                self._trained_for = count
            needed = self.faiss.file_bytes()
            free = faults.free_bytes(self.folder)
            if free is not None and free < needed:
                raise self._no_room_for_vectors(needed)
            try:
                self.faiss.write()
            except OSError as exc:
                if exc.errno in faults.NO_SPACE:
                    raise self._no_room_for_vectors(needed) from exc
                fault = faults.os_fault(exc, "write the vector file", self.folder / VECTORS, self._vectors_kept())
                if fault is None:
                    raise
                raise fault from exc

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
        added: Mapping[str, str] | None = None,
    ) -> list[str]:
        """See :meth:`Store.add`. A batch that cannot fit on the device is refused before anything is
        written; one that fills it meanwhile is rolled back. Either way a :class:`rag.errors.NoSpace`
        says so, and the index is as it was."""
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
        new_ids: list[int] = []
        new_rows: list[int] = []
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    added_at = now()

                    def store_chunks(article_id: str, chunks: list[tuple[Chunk, int]]) -> None:
                        for chunk, row in chunks:
                            chunk_id = db.execute(
                                'INSERT INTO chunks (article_id, ord, start, "end", text, sentences)'
                                " VALUES (?, ?, ?, ?, ?, ?)",
                                (article_id, chunk.index, chunk.start, chunk.end, chunk.text,
                                 json.dumps(chunk.sentences)),
                            ).lastrowid
                            db.execute("INSERT INTO vectors (chunk_id, vector) VALUES (?, ?)",
                                       (chunk_id, vectors[row].tobytes()))
                            new_ids.append(chunk_id)
                            new_rows.append(row)

                    new_articles = self._insert_articles(db, items, facts, added_at, store_chunks, added)
                    self._record_files(db, files, added_at)
                    db.execute("COMMIT")
                except BaseException:
                    _rollback(db)
                    _fold_journal(db)  # the rolled-back pages would hold the device's space
                    raise
            except sqlite3.DatabaseError as exc:
                fault = self.fault(exc, operation)
                if isinstance(fault, NoSpace):  # say how much the batch needs
                    fault = faults.no_space(operation, self.folder, self._kept(), needed)
                raise fault from exc
            self.faiss.add(np.array(new_ids, dtype=np.int64), vectors[new_rows])
            self.generation += 1
        return new_articles

    @staticmethod
    def _batch_bytes(items: Sequence[tuple[Article, Sequence[Chunk], str]], vectors: np.ndarray) -> int:
        """The space a batch needs while it is written: the write-ahead log takes a whole page for each
        page the transaction touches (the text, the chunks and their vectors, the keyword index, the
        sentence facts and the indexes over them), measured at 3.5 to 3.9 times the batch's own bytes
        (text, chunk text and vectors), and more for small batches; hence 4 times, and 256 KiB."""
        text = sum(len(a.text.encode()) + len(a.title.encode()) for a, _, _ in items)
        chunks = sum(len(c.text.encode()) for _, cs, _ in items for c in cs)
        return 4 * (text + chunks + vectors.nbytes) + 256 * 1024

    def _journal_bytes(self) -> int:
        """The size of the write-ahead log, whose space SQLite may reuse for the next transaction."""
        try:
            return (self.folder / (DATABASE + "-wal")).stat().st_size
        except OSError:
            return 0

    def remove(self, article_ids: Sequence[str]) -> list[str]:
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
                    db.executemany("DELETE FROM vectors WHERE chunk_id = ?", [(i,) for i in ids])
                    db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
                    if self._delete_article(db, article_id):
                        removed.append(article_id)
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            self.faiss.remove(chunk_ids)
            self.generation += 1
        return removed

    def feed_links(self, links: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(links))
        self.require_writable("add articles")  # asked only while ingesting a feed
        with self.guard("add articles"):
            return dict(self._rows_in("SELECT link, article_id FROM feed_links WHERE link IN ({ids})", wanted))

    def known_feed_links(self) -> dict[str, str]:
        if not self._rows("SELECT 1 FROM sqlite_master WHERE name = 'feed_links'"):
            return {}  # an index made before feeds were read, opened read-only
        return super().known_feed_links()

    def remember_feed_links(self, links: Mapping[str, str]) -> None:
        if not links:
            return
        fetched_at = now()
        self.require_writable("add articles")
        with self._lock, self.guard("record the feed entries read"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO feed_links (link, article_id, fetched_at) VALUES (?, ?, ?)",
                    [(link, article_id, fetched_at) for link, article_id in links.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                _rollback(self._db)
                raise

    # --- searching -----------------------------------------------------------------------------

    def chunk_ids_matching(self, filters: Filters) -> np.ndarray:
        facets = self._facets()
        return facets.chunk_ids[facets.chunk_mask(filters)]

    def _facets(self) -> Facets:
        """Each chunk's article date and source in memory (rag.facets), rebuilt when chunks were added
        since (by this process or another one)."""
        version = self._value(_LAST_CHUNK_ID)
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

    def searched_chunks(self) -> int:
        with self._lock:
            return self.faiss.count  # one vector a chunk, kept in step with the database

    def dense_search(self, query: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """See :meth:`Store.dense_search`; a filter is a FAISS bitmap selector over the chunk ids
        (:mod:`rag.facets`)."""
        bits = passing = None
        if filters:
            bits, passing = self._facets().bitmap(filters)
            if passing == 0:
                return []
        with self._lock:
            return self.faiss.search(query, k, bits, passing)

    def keyword_search(self, terms: Sequence[str], k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """BM25 over the FTS5 keyword index: ``[(chunk_id, score)]``, higher is better.

        With filters, SQLite checks each match against a temporary table of the chunk ids that pass
        (or that fail, when fewer: :meth:`Facets.smaller_side`) before it scores it, so only passing
        matches are scored and sorted: a narrow filter makes the search cheaper, not dearer, and every
        passing match can be found. The table is made once per filter on each reading connection, and
        again when chunks were added."""
        match = fts5_query(terms)
        if not match:
            return []
        reader = self._reader()
        condition = ""
        if filters:
            condition = self._filter_table(reader, filters)
            if condition is None:
                return []
        rows = reader.execute(
            "SELECT rowid, bm25(chunks_fts) AS rank FROM chunks_fts"
            f" WHERE chunks_fts MATCH ?{condition} ORDER BY rank LIMIT ?",
            [match, k],
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def _filter_table(self, reader: sqlite3.Connection, filters: Filters) -> str | None:
        """The condition on ``rowid`` that holds for the chunks passing ``filters``, through a temporary
        table of ``reader`` (this thread's connection); None when no chunk passes. The ``+`` keeps FTS5
        from looking each id up: SQLite checks the matches against the table instead. A connection
        keeps the tables of its last 8 filters, for the chunks as they are now."""
        facets = self._facets()
        tables: dict[tuple[Filters, int], tuple[str, str]] = self._local.__dict__.setdefault("filter_tables", {})
        found = tables.get((filters, facets.version))
        if found is not None:
            return found[1]
        ids, passing = facets.smaller_side(filters)
        if passing and not len(ids):
            return None
        name = f"rag_filter_{next(self._filter_tables)}"
        reader.execute("PRAGMA query_only=OFF")  # temporary tables only: the database is not written
        try:
            for key, (old, _) in list(tables.items()):  # oldest first
                if key[1] != facets.version or len(tables) >= 8:
                    reader.execute(f"DROP TABLE IF EXISTS temp.{old}")
                    del tables[key]
            try:
                reader.execute(f"CREATE TEMP TABLE {name}(id INTEGER PRIMARY KEY)")
                reader.execute(f"INSERT INTO temp.{name} SELECT value FROM json_each(?)", [json.dumps(ids.tolist())])
            except BaseException:
                reader.execute(f"DROP TABLE IF EXISTS temp.{name}")
                raise
        finally:
            reader.execute("PRAGMA query_only=ON")
        # a chunk added since the facets were read is not known to pass
        condition = f" AND +rowid IN temp.{name}" if passing else (
            f" AND +rowid <= {int(facets.version)} AND +rowid NOT IN temp.{name}"
        )
        tables[(filters, facets.version)] = (name, condition)
        return condition

    def document_frequency(self, term: str) -> int:
        term = term.replace('"', "")
        if not term:
            return 0
        match = f'"{term}"*' if len(term) >= 5 else f'"{term}"'
        return int(self._value("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)))

    # --- health ------------------------------------------------------------------------------

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())

    def check(self) -> list[str]:
        try:
            return self._check()
        except sqlite3.DatabaseError as exc:
            fault = self.fault(exc, "check the index")
            if isinstance(fault, StorageError):  # not a problem of the index
                raise fault from exc
            return [f"the database cannot be read: {exc}"]

    def _check(self) -> list[str]:
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
            ids, vectors = self.faiss.contents()
            faiss_ids = set(ids.tolist())
            if chunk_ids != vector_ids:
                problems.append(f"{len(chunk_ids ^ vector_ids)} chunks and stored vectors do not match")
            if faiss_ids != chunk_ids:
                problems.append(f"{len(faiss_ids ^ chunk_ids)} chunk ids differ between FAISS and SQLite")
            if len(faiss_ids) != self.faiss.count:
                problems.append("the FAISS index holds duplicate ids")
            keep = np.isin(ids, np.fromiter(vector_ids, dtype=np.int64, count=len(vector_ids)))
            if keep.any() and not np.array_equal(vectors[keep], self._vectors_for(ids[keep])):
                problems.append("vectors in FAISS differ from the vectors stored in SQLite")
            problems += self._counted_problems()
            listed = db.execute("SELECT coalesce(sum(json_array_length(dates)), 0) FROM sentences").fetchone()[0]
            dated = db.execute("SELECT count(*) FROM sentence_dates").fetchone()[0]
            if listed != dated:
                problems.append(
                    f"the sentence dates disagree: {listed} listed with the sentences, {dated} in the date table"
                )
            if self.faiss.index.d != self.manifest.dimension:
                problems.append(
                    f"FAISS dimension {self.faiss.index.d} differs from the manifest's {self.manifest.dimension}"
                )
        return problems
