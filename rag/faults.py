"""Storage faults told apart: a full disk, read-only storage, a denied permission and a lock held by
another process are not damage, and their messages say so, with what was kept and what to do.

:meth:`rag.store.Store.guard` sends every SQLite error through :func:`sqlite_fault` and the store's
file writes go through :func:`os_fault`; whatever these do not recognise (a malformed database, a
file that is not SQLite) is real damage, and only that is reported with the advice to rebuild.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from .errors import AccessDenied, Locked, NoSpace, ReadOnly, StorageError

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
DENIED = frozenset({errno.EACCES, errno.EPERM})
# SQLite reports a failed write to its shared-memory or journal file as an I/O error: with this
# little left on the device, that is a full disk
NEARLY_FULL = 1 << 20


def size_text(size: int) -> str:
    """A size for a person: "0 bytes", "12 KB", "3.4 MB"."""
    if size <= 0:
        return "0 bytes"
    if size < 2**20:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 2**20:.1f} MB"


def free_bytes(folder: Path) -> int | None:
    """The space left for this user on the device holding ``folder`` (None when it cannot be read)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def user_name(uid: int | None = None) -> str:
    uid = os.geteuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def read_only_reason(folder: Path, asked: bool, files: Iterable[Path] = ()) -> str | None:
    """Why the index in ``folder`` cannot be written, with what would allow it; None when it can.
    ``files`` are the files a write changes in place (the database and its journal files)."""
    if asked:
        return "it is opened read-only (--read-only or RAG_READ_ONLY); open it without them to write"
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return (
                f"{folder} is on a read-only file system; remount it read-write, or copy the index to "
                "writable storage and use --index"
            )
    except OSError:
        pass
    for path in (folder, *(f for f in files if f.exists())):
        if not os.access(path, os.W_OK):
            return _denied_write(path)
    return None


def _denied_write(path: Path) -> str:
    owner = _owner(path)
    return (
        f"the user {user_name()} may not write {path} (permission denied); run as its owner{owner} "
        "or give this user write access to the index folder"
    )


def _owner(path: Path) -> str:
    try:
        return f" {user_name(path.stat().st_uid)}"
    except OSError:
        return ""


def read_only(operation: str, folder: Path, reason: str) -> ReadOnly:
    return ReadOnly(
        f"cannot {operation}: the index in {folder} is read-only, as {reason}. "
        "Searching, answering, listing and checking it still work"
    )


def access_denied(path: Path) -> AccessDenied:
    try:
        info = path.stat()
        whose = f" (it belongs to {user_name(info.st_uid)}, mode {info.st_mode & 0o777:o})"
    except OSError:
        whose = ""
    return AccessDenied(
        f"cannot read {path}: permission denied for the user {user_name()}{whose}. The index itself is "
        f"sound: run as the owner of its files, or give {user_name()} read access to them"
    )


def unreadable(paths: Iterable[Path]) -> AccessDenied | None:
    """The error for the first of ``paths`` that exists but that this user may not read, if any."""
    for path in paths:
        if path.exists() and not os.access(path, os.R_OK):
            return access_denied(path)
    return None


def locked(operation: str, database: Path, waited: float) -> Locked:
    return Locked(
        f"cannot {operation}: another process held the write lock of {database} for more than {waited:g} s "
        "(another `rag ingest`, `rag remove` or `rag watch`, or the chat's upload, is writing to this index). "
        "Nothing was changed and the index is intact: run it again when that process is done, or let it "
        "wait longer with RAG_LOCK_TIMEOUT"
    )


def no_space(operation: str, folder: Path, kept: str, needed: int | None = None) -> NoSpace:
    """No space for ``operation``; ``kept`` says what the index still holds, ``needed`` (bytes) at
    least how much the operation needs, when known."""
    free = free_bytes(folder)
    numbers = [f"{size_text(free)} free" if free is not None else ""]
    if needed:
        numbers.append(f"it needs at least {size_text(needed)}")
    shown = "; ".join(n for n in numbers if n)
    return NoSpace(
        f"cannot {operation}: no space left on the device holding {folder}" + (f" ({shown})" if shown else "")
        + f". {kept}. Free some space on that device, then run it again"
    )


def sqlite_fault(
    exc: sqlite3.Error, operation: str, database: Path, waited: float, read_only_why: str | None, kept: str
) -> StorageError | None:
    """The storage fault behind a SQLite error, or None when it is not one (then it is damage)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    folder = database.parent
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc):
        return locked(operation, database, waited)
    if name == "SQLITE_FULL" or "database or disk is full" in str(exc):
        return no_space(operation, folder, kept)
    if name.startswith("SQLITE_READONLY"):
        reason = read_only_why or read_only_reason(folder, False, [database]) or f"SQLite says: {exc}"
        return read_only(operation, folder, reason)
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        denied = unreadable([database, database.with_name(database.name + "-wal"), folder])
        if denied is not None:
            return denied
        reason = read_only_reason(folder, False, [database])
        if reason is not None:
            return read_only(operation, folder, reason)
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
        free = free_bytes(folder)
        if free is not None and free < NEARLY_FULL:
            return no_space(operation, folder, kept)
        return StorageError(
            f"cannot {operation}: the device holding {database} reported an error ({exc}). The index is "
            "probably intact: check the device (the system log says more), then run `rag check`"
        )
    return None


def os_fault(exc: OSError, operation: str, path: Path, kept: str, writing: bool = True) -> StorageError | None:
    """The storage fault behind an error of a file of the index, or None when it is none of these."""
    path = Path(exc.filename) if exc.filename else path
    folder = path if path.is_dir() else path.parent
    if exc.errno in NO_SPACE:
        return no_space(operation, folder, kept)
    if exc.errno == errno.EROFS:
        reason = read_only_reason(folder, False) or f"{folder} is on a read-only file system"
        return read_only(operation, folder, reason)
    if exc.errno in DENIED:
        return read_only(operation, folder, _denied_write(path)) if writing else access_denied(path)
    return None
