"""``rag copy``: an index copied between backends (a folder and PostgreSQL, either way), vectors
included, without embedding anything again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IndexError_
from . import open_store


@dataclass(frozen=True)
class CopyReport:
    source: str
    destination: str
    articles: int  # copied now
    chunks: int  # copied now
    skipped: int  # already in the destination
    files: int  # records of ingested files carried over (so they are not ingested twice)


def copy_index(
    source: str | Path,
    destination: str | Path,
    *,
    batch_chunks: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> CopyReport:
    """Copy every article of the index at ``source`` into the one at ``destination`` (made if there is
    none), with its chunks, vectors, sentence facts and file records; articles already there are left
    as they are, so a copy that was stopped can be run again. ``progress(done, total)`` counts articles.

    The destination must use the same model and chunking: a copy never mixes vectors of two models."""
    with open_store(source, read_only=True) as src:
        manifest = src.manifest
        with open_store(
            destination,
            model=manifest.model,
            dimension=manifest.dimension,
            create=True,
            chunk_tokens=manifest.chunk_tokens,
            overlap_tokens=manifest.overlap_tokens,
        ) as dst:
            theirs = dst.manifest
            if (theirs.chunk_tokens, theirs.overlap_tokens) != (manifest.chunk_tokens, manifest.overlap_tokens):
                raise IndexError_(
                    f"{dst.location} holds an index chunked differently ({theirs.chunk_tokens} tokens, "
                    f"{theirs.overlap_tokens} overlap) from {src.location} ({manifest.chunk_tokens}, "
                    f"{manifest.overlap_tokens}); copy into a new place"
                )
            total, done, articles, chunks_before = src.article_count(), 0, 0, dst.chunk_count()
            for batch in src.batches(batch_chunks):
                articles += len(dst.add(batch.items, batch.vectors, facts=batch.facts, added=batch.added))
                done += len(batch.items)
                if progress:
                    progress(done, total)
            records = src.files()
            empty = np.zeros((0, manifest.dimension), dtype=np.float32)
            dst.add([], empty, files=records)
            links = src.known_feed_links()
            if links:
                dst.remember_feed_links(links)
            dst.save_vectors()
            chunks = dst.chunk_count() - chunks_before
            return CopyReport(src.location, dst.location, articles, chunks, done - articles, len(records))
