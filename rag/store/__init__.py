"""Where an index is kept: the :class:`Store` interface and its backends.

- a folder (``embeddings/``): SQLite + FAISS, the embedded default (:mod:`rag.store.sqlite`);
- a ``postgresql://`` URL: PostgreSQL with pgvector, for archives and readers one machine cannot
  serve (:mod:`rag.store.postgres`, the ``postgres`` extra).

:func:`open_store` picks the backend from the location.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import SERVER_SCHEMES
from .interface import ChunkRow, Store, StoredArticle, StoredBatch
from .manifest import FORMAT_VERSION, Manifest

__all__ = [
    "FORMAT_VERSION",
    "ChunkRow",
    "Manifest",
    "Store",
    "StoredArticle",
    "StoredBatch",
    "exists",
    "is_server",
    "open_store",
]


def is_server(location: str | Path) -> bool:
    """Is ``location`` a database server's URL rather than a folder?"""
    return isinstance(location, str) and location.startswith(SERVER_SCHEMES)


def exists(location: str | Path) -> bool:
    """Is there an index at ``location``? (For a server: can it be reached, and does it hold one.)"""
    if is_server(location):
        from .postgres import PostgresStore

        return PostgresStore.exists(str(location))
    from .sqlite import SQLiteStore

    return SQLiteStore.exists(location)


def open_store(location: str | Path, **options: Any) -> Store:
    """Open the index at ``location`` (a folder, or a ``postgresql://`` URL).

    Options: ``model`` (checked against the index's), ``dimension``, ``create``, ``chunk_tokens`` and
    ``overlap_tokens`` (for a new index), ``read_only``, ``lock_timeout``, and for a folder
    ``ann_threshold`` and ``nprobe``."""
    if is_server(location):
        from .postgres import PostgresStore

        return PostgresStore.open_url(str(location), **options)
    from .sqlite import SQLiteStore

    return SQLiteStore.open_folder(location, **options)
