"""ask() latency with a 10k-chunk index of real news-sized chunks.

Builds (once; kept in bench/.cache) an index of --chunks chunks through the real pipeline from
articles of 1-3 real paragraphs (XQuAD-R and CLAPNQ), then asks --queries XQuAD-R questions,
each once, through `Assistant.ask` and prints p50/p95 next to the floor measured in the same run
(encoding the question plus a raw FAISS search over the same vectors).

    .venv/bin/python bench/ask_latency.py [--chunks 10000] [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CACHE, SHARED, paragraph_pool, percentile  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import Assistant  # noqa: E402
from rag.datasets import load_squad  # noqa: E402


def build(folder: Path, chunks: int) -> Index:
    index = Index(Settings(index_dir=folder), create=True)
    pool = paragraph_pool()
    rng = random.Random(7)
    batch = folder.parent / f"{folder.name}-articles"
    batch.mkdir(parents=True, exist_ok=True)
    number = 0
    while index.stats().chunks < chunks:
        for _ in range(500):
            picked = rng.sample(pool, rng.randint(1, 3))
            body = "\n\n".join(text for _, text in picked)
            (batch / f"a{number:06d}.txt").write_text(f"{picked[0][0]}: report {number}\n\n{body}\n")
            number += 1
        index.ingest([batch])
        print(f"  {index.stats().chunks} chunks", flush=True)
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    folder = CACHE / f"ask-{args.chunks}" / "index"
    if (folder / "manifest.json").exists():
        index = Index(Settings(index_dir=folder))
    else:
        print(f"building a {args.chunks}-chunk index in {folder} ...", flush=True)
        index = build(folder, args.chunks)
    import faiss

    store = index.store
    ids = store.faiss.ids()
    bare = faiss.IndexFlatIP(store.manifest.dimension)
    bare.add(store._vectors_for(ids))
    _, questions = load_squad(SHARED / "xquad-r.en.json")
    rng = random.Random(3)
    sample = [q.question for q in rng.sample(questions, args.queries)]
    assistant = Assistant(index)
    for q in sample[:10]:  # warm up
        assistant.ask(q + " (warm-up)")
        bare.search(index.embedder.embed([q]), 10)
    floor, asked = [], []
    abstained = 0
    for q in sample:
        started = time.perf_counter()
        bare.search(index.embedder.embed([q]), 10)
        floor.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        answer = assistant.ask(q)
        asked.append((time.perf_counter() - started) * 1000)
        abstained += answer.abstained
    stats = index.stats()
    print(f"\n{stats.chunks} chunks in {stats.articles} articles; {len(sample)} XQuAD-R questions, each asked once")
    print("| measure | p50 | p95 |")
    print("|---|---|---|")
    print(
        f"| floor: encode question + raw FAISS search | {percentile(floor, 50):.1f} ms "
        f"| {percentile(floor, 95):.1f} ms |"
    )
    print(f"| ask() | {percentile(asked, 50):.1f} ms | {percentile(asked, 95):.1f} ms |")
    print(f"abstained on {abstained} of {len(sample)} questions")


if __name__ == "__main__":
    main()
