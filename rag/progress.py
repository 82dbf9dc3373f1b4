"""Progress of a long ingestion on a terminal: one bar over the work of all the files (the share of their
bytes read, times the share of the chunks cut from them that are embedded, so the bar neither stops at
100% while the chunks are embedded nor waits for the last file to say how far it is), with files,
articles, chunks, the embedding rate and the time left."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .ingest import Progress


def terminal_progress(quiet: bool = False) -> tuple[Callable[[Progress], None] | None, Callable[[], None]]:
    """A progress callback drawing the bar on stderr (None when ``quiet`` or not a terminal), and a
    function that closes it."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(desc="ingesting", total=1000, bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
               dynamic_ncols=True)

    def update(progress: Progress) -> None:
        bar.n = round(1000 * progress.fraction)
        bar.set_postfix_str(
            f"{progress.files_done}/{progress.files_total} files, {progress.describe()}"
            + (f" · {progress.current[-30:]}" if progress.current else ""),
            refresh=False,
        )
        bar.refresh()

    return update, bar.close


def count_progress(what: str, quiet: bool = False) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A progress callback ``(done, total)`` drawing a bar of ``what`` ("articles") on stderr (None when
    ``quiet`` or not a terminal), and a function that closes it."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(desc="copying", unit=f" {what}", dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        bar.total = total or None
        bar.n = done
        bar.refresh()

    return update, bar.close
