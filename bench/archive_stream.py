"""A news archive of 3,751 articles in one 35 MB JSON Lines file, read as ingestion reads it.

Embedding 3,751 articles takes about half an hour on two cores, so this measures what the archive
size changes: that the default settings accept the file (the limit applies to each article), how fast
it is read record by record (parsed, split into sentences, read for speakers and dates), and that
memory stays flat. The articles are real sentences (XQuAD-R, CLAPNQ, the sample) drawn at random.

    .venv/bin/python bench/archive_stream.py
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import peak_rss_mb, sentence_pool  # noqa: E402

from rag import Settings  # noqa: E402
from rag.news import analyze  # noqa: E402
from rag.parse import iter_archive  # noqa: E402
from rag.text import split_sentences  # noqa: E402

ARTICLES = 3751
TARGET_BYTES = 35 * 2**20


def write_archive(path: Path) -> None:
    rng = random.Random(5)
    pool = sentence_pool()
    per_article = TARGET_BYTES // ARTICLES
    with path.open("w", encoding="utf-8") as out:
        for n in range(ARTICLES):
            sentences, size = [], 0
            while size < per_article - 300:
                sentence = rng.choice(pool)
                sentences.append(sentence)
                size += len(sentence.encode()) + 1
            record = {
                "title": f"Archive report {n}",
                "text": " ".join(sentences),
                "published": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}",
                "source": "Archive",
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main() -> None:
    limit = Settings().max_file_mb * 2**20
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archive.jsonl"
        write_archive(path)
        size = path.stat().st_size
        before = peak_rss_mb()
        started = time.perf_counter()
        articles = notes = sentences = 0
        for record in iter_archive(path, limit):
            if record.note:
                notes += 1
                continue
            spans = split_sentences(record.article.text)
            analyze(record.article.text, spans, record.article.published)
            articles += 1
            sentences += len(spans)
        seconds = time.perf_counter() - started
    print(f"file: {size / 2**20:.1f} MB, {ARTICLES} articles; the default limit is {limit / 2**20:.0f} MB")
    print(f"read: {articles} articles, {notes} skipped, {sentences} sentences in {seconds:.1f} s "
          f"({articles / seconds:.0f} articles/s)")
    print(f"peak memory: {before:.0f} MB before reading, {peak_rss_mb():.0f} MB after")


if __name__ == "__main__":
    main()
