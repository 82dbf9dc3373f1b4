"""Progress of a long ingestion on a terminal: one bar over the bytes of all the files (so the time
left is known even inside one large archive), with files, articles, chunks and the embedding rate."""

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

    bar = tqdm(desc="ingesting", unit="B", unit_scale=True, unit_divisor=1024, dynamic_ncols=True)

    def update(progress: Progress) -> None:
        bar.total = progress.bytes_total or None
        bar.n = progress.bytes_done
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
