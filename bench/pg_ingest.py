"""Ingestion into PostgreSQL + pgvector, as a ratio to raw encoding of the same chunks.

The corpus of bench/ingest_throughput.py (--articles .txt files of 1-3 real XQuAD-R and CLAPNQ
paragraphs). A real PostgreSQL 18 + pgvector server (tests/postgres_server.py) is started with its
durable settings (fsync and synchronous commits on), so every committed batch is on disk.

Each round:
  pipeline = `Index.ingest(folder)` into a fresh database (`--index postgresql://...`), in a child
             process after the model is loaded: reading, parsing, sentence facts, chunking,
             embedding, and per batch one transaction (articles, sentences, stories, COPY of the
             chunks into the table with its HNSW and GIN indexes), committed on the ingester's
             writer thread while the next batch is read and embedded. Time in `Store.add` (the
             batch's transaction, commit included) and in the embedder are measured inside it.
  floor    = `Embedder.embed` of exactly the chunk texts the pipeline stored, same batch size, in
             this process after the model is loaded.
Rounds alternate which side runs first (the first round must run the pipeline first: the floor
encodes what it stored). With --folder, the same pipeline into an index folder too (SQLite + FAISS).
On cores shared with other work the encoder's speed swings between runs, and the ratio with it.
So each round also prints the ratio with the pipeline's own encoding time (the same Embedder.embed,
in batches of the flush size, timed inside it) replaced by the floor's: floor / (floor + the
pipeline's time outside the embedder). That is what the pipeline adds to encoding, measured in the
same run, and the load tilts it far less.

    .venv/bin/python bench/pg_ingest.py [--articles 2000] [--rounds 2] [--folder]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import peak_rss_mb  # noqa: E402
from ingest_throughput import write_corpus  # noqa: E402


def timed(function, into: list[float]):
    """``function``, recording the seconds of each call in ``into``."""

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - started)

    return wrapper


def child(corpus: str, location: str) -> None:
    """Runs in a subprocess: time one ingestion, print a JSON line with the result."""
    from rag import Index, Settings

    index = Index(Settings(index_dir=location), create=True)
    index.embedder.model  # load before timing
    index.embedder.embed(["warm up"])
    store_seconds: list[float] = []
    embed_seconds: list[float] = []
    batch_chunks: list[int] = []
    add = index.store.add

    def counted_add(items, vectors, *args, **kwargs):
        batch_chunks.append(len(vectors))
        return add(items, vectors, *args, **kwargs)

    index.store.add = timed(counted_add, store_seconds)
    index.embedder.embed = timed(index.embedder.embed, embed_seconds)
    save_seconds: list[float] = []
    index.store.save_vectors = timed(index.store.save_vectors, save_seconds)
    started = time.perf_counter()
    report = index.ingest([corpus])
    seconds = time.perf_counter() - started
    stats = index.stats()
    index.close()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "added": report.added,
                "chunks_embedded": report.chunks_embedded,
                "chunks": stats.chunks,
                "store_seconds": store_seconds,
                "embed_seconds": embed_seconds,
                "save_vectors_seconds": sum(save_seconds),
                "batch_chunks": batch_chunks,
                "peak_rss_mb": peak_rss_mb(),
                "size_mb": stats.size_bytes / 2**20,
            }
        )
    )


def run_child(corpus: Path, location: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(corpus), location], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def stored_texts(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT text FROM rag.chunks ORDER BY id")]


def floor_seconds(texts: list[str]) -> float:
    from rag.embed import Embedder

    embedder = Embedder()
    embedder.embed(["warm up"])
    started = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - started


def at_floor(floor: float, run: dict) -> float:
    """The ratio had the pipeline encoded at the floor's speed: floor / (floor + its time outside the embedder)."""
    return floor / (floor + run["seconds"] - sum(run["embed_seconds"]))


def describe(name: str, run: dict) -> str:
    store = run["store_seconds"]
    per_chunk = 1000 * sum(store) / max(1, sum(run["batch_chunks"]))
    outside = run["seconds"] - sum(run["embed_seconds"])
    return (
        f"{name}: {run['added']} articles, {run['chunks_embedded']} chunks in {run['seconds']:.1f}s "
        f"({run['chunks_embedded'] / run['seconds']:.1f}/s); embedding {sum(run['embed_seconds']):.1f}s, "
        f"outside the embedder {outside:.1f}s (reading, parsing, sentence facts, chunking, and waiting for "
        f"a batch's commit); store on the writer thread {sum(store):.2f}s in {len(store)} batches (mean "
        f"{statistics.mean(store):.3f}s, max {max(store):.3f}s per batch of about "
        f"{statistics.mean(run['batch_chunks']):.0f} chunks; {per_chunk:.2f} ms a chunk, overlapping the next "
        f"batch's embedding), saving vectors {run['save_vectors_seconds']:.2f}s; peak memory "
        f"{run['peak_rss_mb']:.0f} MB; index {run['size_mb']:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--folder", action="store_true", help="also ingest into an index folder, each round")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from tests.postgres_server import PostgresServer

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, args.articles)
        size = sum(p.stat().st_size for p in corpus.iterdir()) / 2**20
        print(f"corpus: {args.articles} articles, {size:.1f} MB of text")
        server = PostgresServer.start(Path(tmp) / "pg", fast=False)
        try:
            with server.connect() as conn:
                settings = {
                    name: conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
                }
            print("server: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
            rounds, texts = [], None
            for number in range(args.rounds):
                dsn = server.create_database(f"ingest{number}")
                result: dict = {}
                sides = ["pipeline", "floor"] if number % 2 == 0 else ["floor", "pipeline"]
                if args.folder:
                    sides.insert(1, "folder")
                for side in sides:
                    if side == "pipeline":
                        result["pg"] = run_child(corpus, dsn)
                        print(describe(f"round {number + 1}, PostgreSQL", result["pg"]), flush=True)
                        if texts is None:
                            texts = stored_texts(dsn)
                    elif side == "folder":
                        result["folder"] = run_child(corpus, str(Path(tmp) / f"folder{number}"))
                        print(describe(f"round {number + 1}, folder", result["folder"]), flush=True)
                    else:
                        result["floor"] = floor_seconds(texts)
                        print(f"round {number + 1}, floor: raw encode of the same {len(texts)} chunk texts in "
                              f"{result['floor']:.1f}s ({len(texts) / result['floor']:.1f}/s)", flush=True)
                assert result["pg"]["chunks_embedded"] == len(texts), (result["pg"]["chunks_embedded"], len(texts))
                rounds.append(result)
        finally:
            server.close()

    chunks = len(texts)
    print()
    folder_column = " folder: ratio | folder: ratio at the floor's encoding |" if args.folder else ""
    print("| round | chunks/s, PostgreSQL pipeline | chunks/s, raw encode (floor) | ratio"
          " | ratio at the floor's encoding | store per batch (mean / max) | store share of the pipeline |"
          + folder_column)
    print("|---|---|---|---|---|---|---|" + ("---|---|" if args.folder else ""))
    for number, r in enumerate(rounds, 1):
        pg, store = r["pg"], r["pg"]["store_seconds"]
        line = (
            f"| {number} | {chunks / pg['seconds']:.1f} | {chunks / r['floor']:.1f} | {r['floor'] / pg['seconds']:.3f}"
            f" | {at_floor(r['floor'], pg):.3f} | {statistics.mean(store):.3f} s / {max(store):.3f} s"
            f" | {sum(store) / pg['seconds']:.1%} |"
        )
        if args.folder:
            line += f" {r['floor'] / r['folder']['seconds']:.3f} | {at_floor(r['floor'], r['folder']):.3f} |"
        print(line)
    floor = sum(r["floor"] for r in rounds)
    pipeline = sum(r["pg"]["seconds"] for r in rounds)
    outside = sum(r["pg"]["seconds"] - sum(r["pg"]["embed_seconds"]) for r in rounds)
    print(f"\nall rounds: ratio PostgreSQL pipeline / floor = {floor / pipeline:.3f}; at the floor's encoding "
          f"{floor / (floor + outside):.3f}", end="")
    if args.folder:
        outside = sum(r["folder"]["seconds"] - sum(r["folder"]["embed_seconds"]) for r in rounds)
        print(f"; folder pipeline / floor = {floor / sum(r['folder']['seconds'] for r in rounds):.3f}; at the "
              f"floor's encoding {floor / (floor + outside):.3f}", end="")
    print()


if __name__ == "__main__":
    main()
