"""Storage faults told apart from damage. The file-system cases on real small, read-only and
foreign-owned file systems are in test_store, test_cli and test_app; here each kind of error,
raised for real where that is cheap, maps to its own message."""

import errno
import sqlite3

import pytest

from rag.errors import AccessDenied, Locked, NoSpace, ReadOnly, StorageError
from rag.faults import os_fault, read_only_reason, size_text, sqlite_fault


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "store.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
    return path


def _fault(exc, database, why=None):
    return sqlite_fault(exc, "add 3 articles", database, 1.5, why, "The index keeps its 7 articles")


def test_a_lock_held_by_another_connection_is_a_lock(database):
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(database, isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as caught:
        waiter.execute("BEGIN IMMEDIATE")
    fault = _fault(caught.value, database)
    assert isinstance(fault, Locked)
    assert str(fault).startswith(
        f"cannot add 3 articles: another process held the write lock of {database} for more than 1.5 s"
    )
    holder.close()
    waiter.close()


def test_writing_through_a_read_only_connection_is_read_only(database):
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        db.execute("INSERT INTO t VALUES (1)")
    fault = _fault(caught.value, database, why="it is opened read-only")
    assert isinstance(fault, ReadOnly)
    assert str(fault) == (
        f"cannot add 3 articles: the index in {database.parent} is read-only, as it is opened read-only. "
        "Searching, answering, listing and checking it still work"
    )
    db.close()


def test_a_file_that_is_not_a_database_is_damage_not_a_storage_fault(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"not sqlite" * 500)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(path).execute("SELECT 1 FROM sqlite_master").fetchone()
    assert _fault(caught.value, path) is None


@pytest.mark.parametrize(
    "number, writing, kind, start",
    [
        (errno.ENOSPC, True, NoSpace, "cannot write the vector file: no space left on the device holding"),
        (errno.EDQUOT, True, NoSpace, "cannot write the vector file: no space left on the device holding"),
        (errno.EROFS, True, ReadOnly, "cannot write the vector file: the index in"),
        (errno.EACCES, True, ReadOnly, "cannot write the vector file: the index in"),
        (errno.EACCES, False, AccessDenied, "cannot read"),
    ],
)
def test_file_errors_by_their_number(tmp_path, number, writing, kind, start):
    path = tmp_path / "vectors.faiss.tmp"
    fault = os_fault(OSError(number, "refused", str(path)), "write the vector file", path, "Kept", writing)
    assert isinstance(fault, kind) and isinstance(fault, StorageError)
    assert str(fault).startswith(start)
    assert os_fault(OSError(errno.EIO, "I/O error", str(path)), "write", path, "Kept") is None


def test_a_writable_folder_has_no_read_only_reason_unless_asked(tmp_path):
    assert read_only_reason(tmp_path, False) is None
    assert read_only_reason(tmp_path, True).startswith("it is opened read-only (--read-only or RAG_READ_ONLY)")


@pytest.mark.parametrize("size, text", [(0, "0 bytes"), (300, "1 KB"), (150_000, "146 KB"), (3 * 2**20, "3.0 MB")])
def test_sizes_for_a_person(size, text):
    assert size_text(size) == text
