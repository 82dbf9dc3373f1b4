"""Progress bars on a terminal, and none when quiet or piped."""

import io
import sys

from rag.ingest import Progress
from rag.progress import terminal_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bars_when_quiet_or_piped(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    update, close = terminal_progress(quiet=True)
    assert update is None
    close()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert terminal_progress()[0] is None


def test_bars_show_files_and_chunks_on_a_terminal(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    update, close = terminal_progress()
    update(
        Progress(
            files_done=1,
            files_total=3,
            chunks_done=400,
            current="archive/2024-10.jsonl",
            articles_done=25,
            bytes_done=2**20,
            bytes_total=4 * 2**20,
            elapsed=10.0,
        )
    )
    close()
    shown = terminal.getvalue()
    assert "1/3 files" in shown and "2024-10.jsonl" in shown
    assert "25 articles, 400 chunks · 40 chunks/s · about 30 s left" in shown
    assert "25%" in shown  # a quarter of the bytes


def test_the_time_left_comes_from_the_bytes_read():
    early = Progress(0, 1, 0, bytes_done=0, bytes_total=100, elapsed=5)
    assert early.seconds_left is None and early.rate == 0
    halfway = Progress(0, 1, 2_000, articles_done=100, bytes_done=50, bytes_total=100, elapsed=600)
    assert halfway.seconds_left == 600
    assert halfway.describe() == "100 articles, 2,000 chunks · 3 chunks/s · about 10 min left"
    done = Progress(1, 1, 4_000, articles_done=200, bytes_done=100, bytes_total=100, elapsed=7200)
    assert done.describe() == "200 articles, 4,000 chunks · 1 chunks/s"


def test_the_bar_counts_the_chunks_embedded_not_only_the_bytes_read():
    """A file read in two seconds whose chunks take forty to embed: the bar is not full until they are."""
    read = Progress(1, 1, 0, articles_done=58, bytes_done=100, bytes_total=100, elapsed=2, chunks_made=2_000)
    assert read.fraction == 0 and read.seconds_left is None  # nothing embedded: no rate yet, no basis
    assert read.describe() == "58 articles, 0 of 2,000 chunks"
    half = Progress(1, 1, 1_000, articles_done=58, bytes_done=100, bytes_total=100, elapsed=22, chunks_made=2_000)
    assert half.fraction == 0.5 and round(half.seconds_left) == 22
    assert half.describe() == "58 articles, 1,000 of 2,000 chunks · 45 chunks/s · about 22 s left"
    reading = Progress(0, 1, 500, bytes_done=25, bytes_total=100, elapsed=10, chunks_made=1_000)
    assert reading.fraction == 0.125  # a quarter read, half of that embedded
    assert reading.seconds_left == (4_000 - 500) / 50  # the chunks of the unread bytes counted as the read ones
