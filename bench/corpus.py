"""Benchmark corpora built by repeating and varying real article text, and a cache of their embeddings.

The text comes from the third-party evaluation sets in ../shared/bench (Wikipedia paragraphs of
XQuAD-R and CLAPNQ) and the bundled sample news articles. Varied texts are made by joining real
sentences drawn at random (seeded), so every text is real language and every vector a real
model embedding.
"""

from __future__ import annotations

import hashlib
import json
import random
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
CACHE = Path(__file__).resolve().parent / ".cache"


def sentence_pool() -> list[str]:
    """Every distinct sentence of XQuAD-R, CLAPNQ and the sample articles, in a fixed order."""
    from rag.parse import parse_file
    from rag.text import split_sentences

    pool: list[str] = []
    squad = json.loads((SHARED / "xquad-r.en.json").read_text(encoding="utf-8"))
    for entry in squad["data"]:
        for paragraph in entry["paragraphs"]:
            pool.extend(paragraph.get("sentences") or [])
    for name in ("clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl"):
        for line in (SHARED / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                pool.extend(json.loads(line)["passages"][0].get("sentences") or [])
    for article in parse_file(ROOT / "data" / "articles" / "000_9df642e36ad14cf8.txt").articles:
        pool.extend(article.text[a:b] for a, b in split_sentences(article.text))
    cleaned = (" ".join(s.split()) for s in pool)
    return list(dict.fromkeys(s for s in cleaned if len(s.split()) >= 4))


def paragraph_pool() -> list[tuple[str, str]]:
    """(title, paragraph) pairs of real text: XQuAD-R paragraphs and CLAPNQ passages."""
    pool: list[tuple[str, str]] = []
    squad = json.loads((SHARED / "xquad-r.en.json").read_text(encoding="utf-8"))
    for entry in squad["data"]:
        for paragraph in entry["paragraphs"]:
            pool.append((entry["title"].replace("_", " "), paragraph["context"]))
    for name in ("clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl"):
        for line in (SHARED / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                passage = json.loads(line)["passages"][0]
                pool.append((passage["title"], passage["text"].strip()))
    return list(dict.fromkeys(pool))


def varied_texts(count: int, seed: int = 0, low: int = 2, high: int = 5) -> list[str]:
    """``count`` distinct texts, each ``low``..``high`` real sentences drawn at random."""
    pool = sentence_pool()
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(" ".join(rng.sample(pool, rng.randint(low, high))))
    return list(seen)


def cached_embeddings(texts: list[str], embedder, label: str) -> np.ndarray:
    """Embeddings of ``texts`` with the real model, cached in bench/.cache by content hash."""
    digest = hashlib.sha256("\x00".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = CACHE / f"{label}-{len(texts)}-{digest}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    CACHE.mkdir(exist_ok=True)
    started = time.perf_counter()
    parts = []
    for start in range(0, len(texts), 5000):
        parts.append(embedder.embed(texts[start : start + 5000]))
        done = start + len(parts[-1])
        print(f"  embedded {done}/{len(texts)} ({time.perf_counter() - started:.0f}s)", flush=True)
    vectors = np.concatenate(parts)
    np.save(path, vectors, allow_pickle=False)
    return vectors


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))
