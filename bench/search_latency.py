"""Search latency at 10k and 100k chunks against its floor, ANN recall, and idle index memory.

The chunks are real language (1-3 real sentences of XQuAD-R, CLAPNQ and the sample articles,
drawn at random) with real MiniLM embeddings (cached in bench/.cache after the first run, which
embeds 100k texts and takes about 25 minutes on 2 cores). They are stored through `Store.add`,
ten chunks to an article, so the SQLite rows, FTS5 keyword index and FAISS index are the real ones.

Each article gets a publication day (spread over three years) and one of eight sources.

For --queries XQuAD-R questions, in alternating blocks of 25:
  floor  = encode the question + raw FAISS search (a bare index of the same kind, same vectors)
  search = `Index.search(question, k=5)`: encode, dense + BM25 keyword search, fusion, row lookup
Prints p50/p95 of both and their ratio. Then filtered searches against the unfiltered one, also in
alternating blocks: one month of dates, one source, and an as-of date that keeps 90% of the archive.
At 100k chunks, both the exact (flat) index and the approximate (IVF) one that the store switches to
past its threshold; recall@10 of IVF against exact search for all 1,190 questions; and the memory of
an idle process holding the loaded index.

    .venv/bin/python bench/search_latency.py [--sizes 10000 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SHARED, cached_embeddings, percentile, varied_texts  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.datasets import load_squad  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.store import Store  # noqa: E402
from rag.types import Article, Chunk, Filters  # noqa: E402

CHUNKS_PER_ARTICLE = 10
BLOCK = 25  # questions timed in a row on one side before switching
SOURCES = ["AFP", "AP", "Reuters", "BBC", "DW", "NHK", "Yonhap", "Kyiv Independent"]
FIRST_DAY = datetime.date(2022, 1, 1)
DAYS = 3 * 365
FILTERS = {  # name -> the filter, as a reader would set it
    "one month": Filters(date_from="2023-06-01", date_to="2023-06-30"),
    "one source": Filters(sources=("Reuters",)),
    "as of (keeps 90%)": Filters(as_of=(FIRST_DAY + datetime.timedelta(days=int(DAYS * 0.9))).isoformat()),
}


def dated(number: int) -> dict:
    """The publication day and source of article ``number``: spread evenly, in no order of content."""
    day = FIRST_DAY + datetime.timedelta(days=(number * 7919) % DAYS)
    return {"published": day.isoformat(), "source": SOURCES[(number * 31) % len(SOURCES)]}


def build_store(folder: Path, texts: list[str], vectors: np.ndarray, ann_threshold: int) -> None:
    store = Store.open(
        folder,
        model="all-MiniLM-L6-v2",
        dimension=vectors.shape[1],
        create=True,
        chunk_tokens=160,
        overlap_tokens=48,
        ann_threshold=ann_threshold,
    )
    for first in range(0, len(texts), 5000):
        items, rows = [], []
        for a in range(first, min(first + 5000, len(texts)), CHUNKS_PER_ARTICLE):
            parts = texts[a : a + CHUNKS_PER_ARTICLE]
            text = "\n".join(parts)
            chunks, position = [], 0
            for i, part in enumerate(parts):
                chunks.append(Chunk("", i, position, position + len(part), part, ((position, position + len(part)),)))
                position += len(part) + 1
            article = Article.create(f"Article {a // CHUNKS_PER_ARTICLE}", text, **dated(a // CHUNKS_PER_ARTICLE))
            chunks = [Chunk(article.id, c.index, c.start, c.end, c.text, c.sentences) for c in chunks]
            items.append((article, chunks, "bench"))
            rows.extend(range(a, a + len(parts)))
        store.add(items, vectors[rows])
    store.save_vectors()
    store.close()


def bare_index(store: Store, vectors: np.ndarray):
    """The floor's index: plain FAISS over the same vectors, of the same kind as the store's."""
    import faiss

    if store.index_type == "flat":
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return index, None
    ivf = faiss.extract_index_ivf(store.faiss.index)
    return store.faiss.index, faiss.SearchParametersIVF(nprobe=ivf.nprobe)


def measure(index: Index, vectors: np.ndarray, questions: list[str]) -> dict:
    bare, params = bare_index(index.store, vectors)
    embedder = index.embedder
    for q in questions[-20:]:  # warm up both paths on questions that are not measured
        index.search(q + " (warm-up)", k=5)
        bare.search(embedder.embed([q]), 10, params=params)
    floor, full = [], []

    def run_floor(batch: list[str]) -> None:
        for q in batch:
            started = time.perf_counter()
            bare.search(embedder.embed([q]), 10, params=params)
            floor.append(time.perf_counter() - started)

    def run_search(batch: list[str]) -> None:
        for q in batch:
            started = time.perf_counter()
            index.search(q, k=5)
            full.append(time.perf_counter() - started)

    # Alternate blocks of questions (floor first, then search first), rather than single calls: a
    # two-thread encoding leaves OpenMP threads spinning for a moment, which would slow whatever runs
    # right after it and so charge one side for the other's spin.
    for number, start in enumerate(range(0, len(questions), BLOCK)):
        batch = questions[start : start + BLOCK]
        for run in (run_floor, run_search) if number % 2 == 0 else (run_search, run_floor):
            run(batch)
    return {
        "floor_p50": percentile(floor, 50) * 1000,
        "floor_p95": percentile(floor, 95) * 1000,
        "p50": percentile(full, 50) * 1000,
        "p95": percentile(full, 95) * 1000,
    }


def measure_filters(index: Index, questions: list[str], rounds: int = 2) -> dict:
    """p50 of each filtered search and of the unfiltered one, timed in alternating blocks; the
    questions are asked ``rounds`` times over, as medians a few ms apart need many searches."""
    times: dict[str, list[float]] = {"none": [], **{name: [] for name in FILTERS}}
    runs = [("none", None), *FILTERS.items()]
    for number, start in enumerate(range(0, rounds * len(questions), BLOCK)):
        start %= len(questions)
        batch = questions[start : start + BLOCK]
        order = runs if number % 2 == 0 else runs[::-1]
        for name, filters in order:
            for q in batch:
                index.embedder._queries.clear()  # each side encodes the question, as asked the first time
                started = time.perf_counter()
                index.search(q, k=5, filters=filters)
                times[name].append(time.perf_counter() - started)
    return {name: percentile(values, 50) * 1000 for name, values in times.items()}


def ann_recall(vectors: np.ndarray, store: Store, queries: np.ndarray, k: int = 10) -> float:
    import faiss

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, want = exact.search(queries, k)
    ids = store.faiss.ids()
    assert ids.min() == 1 and ids.max() == len(vectors)  # chunk id = row + 1, in insertion order
    hits = 0
    for row, query in zip(want, queries):
        found_rows = {chunk_id - 1 for chunk_id, _ in store.dense_search(query, k)}
        hits += len(found_rows.intersection(row.tolist()))
    return hits / (k * len(queries))


def idle_memory(folder: Path) -> dict:
    code = (
        "import json,sys; from rag import Index, Settings; from pathlib import Path\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS'): return int(line.split()[1]) / 1024\n"
        "import rag.embed as e; m = e.Embedder(); m.model; base = rss()\n"
        f"index = Index(Settings(index_dir=Path({str(folder)!r})))\n"
        "index.search('warm up question', k=5)\n"
        "print(json.dumps({'model_only_mb': base, 'loaded_index_mb': rss()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ann-threshold", type=int, default=Settings().ann_threshold)
    args = parser.parse_args()

    largest = max(args.sizes)
    embedder = Embedder()
    texts = varied_texts(max(largest, 100_000), seed=1, low=1, high=3)
    print(f"embedding (or loading from bench/.cache) {len(texts)} texts ...", flush=True)
    vectors = cached_embeddings(texts, embedder, "varied")[:largest]
    texts = texts[:largest]
    _, questions = load_squad(SHARED / "xquad-r.en.json")
    all_questions = [q.question for q in questions]
    sample = all_questions[: args.queries]  # each asked once: no cached query vector helps

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            kinds = [("flat", size + 1)]
            if size >= args.ann_threshold:
                kinds.append(("ivf", args.ann_threshold))
            for kind, threshold in kinds:
                folder = Path(tmp) / f"{kind}-{size}"
                started = time.perf_counter()
                build_store(folder, texts[:size], vectors[:size], threshold)
                built = time.perf_counter() - started
                index = Index(Settings(index_dir=folder, ann_threshold=threshold))
                assert index.stats().index_type == kind, index.stats()
                result = measure(index, vectors[:size], sample)
                result["filtered_p50"] = measure_filters(index, sample)
                result.update(size=size, kind=kind, build_s=built)
                if kind == "ivf":
                    queries = embedder.embed(all_questions)
                    result["recall10"] = ann_recall(vectors[:size], index.store, queries)
                index.close()
                result.update(idle_memory(folder))
                rows.append(result)
                print(json.dumps(result), flush=True)

    print()
    print(
        "| chunks | index | floor p50 | search p50 | ratio p50 | floor p95 | search p95 | ratio p95 |"
        " idle RSS (model alone) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['kind']} | {r['floor_p50']:.1f} ms | {r['p50']:.1f} ms | "
            f"{r['p50'] / r['floor_p50']:.2f} | {r['floor_p95']:.1f} ms | {r['p95']:.1f} ms | "
            f"{r['p95'] / r['floor_p95']:.2f} | {r['loaded_index_mb']:.0f} MB ({r['model_only_mb']:.0f} MB) |"
        )
    print()
    print("| chunks | index | unfiltered p50 | " + " | ".join(f"{name} p50 (ratio)" for name in FILTERS) + " |")
    print("|---|---|---|" + "---|" * len(FILTERS))
    for r in rows:
        timed = r["filtered_p50"]
        cells = " | ".join(f"{timed[name]:.1f} ms ({timed[name] / timed['none']:.2f})" for name in FILTERS)
        print(f"| {r['size']:,} | {r['kind']} | {timed['none']:.1f} ms | {cells} |")
    for r in rows:
        if "recall10" in r:
            print(
                f"\nIVF recall@10 against exact search at {r['size']:,} chunks "
                f"({len(all_questions)} XQuAD-R questions): {r['recall10']:.3f}"
            )


if __name__ == "__main__":
    main()
