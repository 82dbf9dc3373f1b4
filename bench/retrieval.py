"""Retrieval quality on XQuAD-R: is the chunk holding the gold answer among the top k?

Each of the 48 Wikipedia articles is ingested as one article (its paragraphs joined), through
the real pipeline (JSONL file -> ingest -> chunks -> FAISS + FTS5). For every one of the 1,190
questions, a hit at rank r means the r-th passage comes from the gold article and contains the
whole gold answer span. Prints recall@1/5/10 and MRR@10 for dense, keyword and hybrid search.

    .venv/bin/python bench/retrieval.py [--data ../shared/bench/xquad-r.en.json]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rag import Index, Settings
from rag.datasets import load_squad, write_jsonl

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "xquad-r.en.json"


def rank_of_gold(passages, question) -> int | None:
    for rank, p in enumerate(passages, 1):
        if p.article_id == question.article_id and any(p.start <= a and b <= p.end for a, b in question.spans):
            return rank
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--chunk-tokens", type=int, default=None)
    parser.add_argument("--overlap-tokens", type=int, default=None)
    args = parser.parse_args()
    articles, questions = load_squad(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            index_dir=Path(tmp) / "index", chunk_tokens=args.chunk_tokens, overlap_tokens=args.overlap_tokens
        )
        index = Index(settings, create=True)
        started = time.perf_counter()
        report = index.ingest([write_jsonl(articles, Path(tmp) / "xquad.jsonl")])
        stats = index.stats()
        print(
            f"{len(articles)} articles, {stats.chunks} chunks (<= {stats.chunk_tokens} tokens, "
            f"{stats.overlap_tokens} overlap) ingested in {time.perf_counter() - started:.1f}s; "
            f"{report.added} added"
        )
        print(f"{len(questions)} questions from {Path(args.data).name}\n")
        print("| mode | recall@1 | recall@5 | recall@10 | MRR@10 |")
        print("|---|---|---|---|---|")
        for mode in ("dense", "keyword", "hybrid"):
            ranks = [rank_of_gold(index.search(q.question, k=10, mode=mode), q) for q in questions]
            n = len(ranks)
            recall = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in (1, 5, 10)}
            mrr = sum(1 / r for r in ranks if r is not None) / n
            print(f"| {mode} | {recall[1]:.3f} | {recall[5]:.3f} | {recall[10]:.3f} | {mrr:.3f} |")
        index.close()


if __name__ == "__main__":
    main()
