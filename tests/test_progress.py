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
