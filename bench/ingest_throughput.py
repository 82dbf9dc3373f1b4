"""Ingestion throughput of the whole pipeline, as a ratio to raw model.encode of the same chunks.

1. Writes a corpus of --articles .txt files, each a title plus 1-3 real paragraphs (XQuAD-R and
   CLAPNQ) drawn at random, so no two articles are identical.
2. In a child process: loads the model, then times `Index.ingest(folder)` into a fresh index
   (reading, parsing, sentence splitting, chunking, embedding, SQLite + FTS5 + FAISS writes) and
   reports its peak memory.
3. In this process: loads the model, then times `SentenceTransformer.encode` of exactly the chunk
   texts the pipeline stored, with the same batch size. That is the floor.
4. In a child process: times ingesting the unchanged corpus again.

    .venv/bin/python bench/ingest_throughput.py [--articles 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import paragraph_pool, peak_rss_mb  # noqa: E402


def write_corpus(folder: Path, count: int, seed: int = 0) -> None:
    pool = paragraph_pool()
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(count):
        picked = rng.sample(pool, rng.randint(1, 3))
        title = f"{picked[0][0]}: report {i}"
        body = "\n\n".join(text for _, text in picked)
        (folder / f"article-{i:05d}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")


def child(mode: str, corpus: str, index_dir: str) -> None:
    """Runs in a subprocess: time one ingestion, print a JSON line with the result."""
    from rag import Index, Settings

    index = Index(Settings(index_dir=Path(index_dir)), create=True)
    index.embedder.model  # load before timing
    index.embedder.embed(["warm up"])
    started = time.perf_counter()
    report = index.ingest([corpus])
    seconds = time.perf_counter() - started
    stats = index.stats()
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "added": report.added,
                "unchanged": report.unchanged,
                "chunks_embedded": report.chunks_embedded,
                "chunks": stats.chunks,
                "peak_rss_mb": peak_rss_mb(),
                "size_mb": stats.size_bytes / 2**20,
            }
        )
    )


def run_child(mode: str, corpus: Path, index_dir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(corpus), str(index_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    with tempfile.TemporaryDirectory() as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        write_corpus(corpus, args.articles)
        size = sum(p.stat().st_size for p in corpus.iterdir()) / 2**20
        print(f"corpus: {args.articles} articles, {size:.1f} MB of text")

        first = run_child("first", corpus, index_dir)
        print(
            f"pipeline: {first['added']} articles, {first['chunks_embedded']} chunks in "
            f"{first['seconds']:.1f}s; peak memory {first['peak_rss_mb']:.0f} MB; "
            f"index {first['size_mb']:.1f} MB"
        )

        with sqlite3.connect(index_dir / "store.sqlite") as db:
            texts = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")]
        from rag.embed import Embedder

        embedder = Embedder()
        model = embedder.model
        model.encode(["warm up"])
        started = time.perf_counter()
        model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False)
        floor = time.perf_counter() - started
        print(f"floor: raw encode of the same {len(texts)} chunk texts in {floor:.1f}s")

        again = run_child("again", corpus, index_dir)
        print(
            f"re-ingest of the unchanged corpus: {again['seconds']:.2f}s, "
            f"{again['unchanged']} unchanged, {again['chunks_embedded']} chunks embedded"
        )
        print()
        print("| measure | value |")
        print("|---|---|")
        print(f"| chunks per second, pipeline | {first['chunks_embedded'] / first['seconds']:.1f} |")
        print(f"| chunks per second, raw encode (floor) | {len(texts) / floor:.1f} |")
        print(f"| throughput ratio pipeline / floor | {floor / first['seconds']:.3f} |")
        print(f"| re-ingest speed-up (first / unchanged) | {first['seconds'] / again['seconds']:.0f}x |")
        print(f"| peak memory of ingestion | {first['peak_rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
