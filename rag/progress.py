"""Progress of a long ingestion on a terminal: a bar of files and a bar of chunks embedded."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .ingest import Progress


def terminal_progress(quiet: bool = False) -> tuple[Callable[[Progress], None] | None, Callable[[], None]]:
    """A progress callback drawing the bars on stderr (None when ``quiet`` or not a terminal), and a
    function that closes them."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    files = tqdm(desc="files", unit="file", position=0, leave=True)
    chunks = tqdm(desc="chunks embedded", unit="chunk", position=1, leave=True)

    def update(progress: Progress) -> None:
        files.total = progress.files_total
        files.n = progress.files_done
        files.set_postfix_str(progress.current[-40:], refresh=False)
        files.refresh()
        chunks.n = progress.chunks_done
        chunks.refresh()

    def close() -> None:
        files.close()
        chunks.close()

    return update, close
