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


PART = 50_000  # texts per saved part of a large embedding


def _digest(model: str, texts: list[str]) -> str:
    return hashlib.sha256("\x00".join([model, *texts]).encode()).hexdigest()[:16]


def part_paths(texts: list[str], model: str, label: str, part: int = PART) -> list[Path]:
    """Where each ``part``-text slice of ``texts`` is cached: named by its position, size and content."""
    paths = []
    for number, start in enumerate(range(0, len(texts), part)):
        piece = texts[start : start + part]
        paths.append(CACHE / f"{label}-part{number:03d}-{len(piece)}-{_digest(model, piece)}.npy")
    return paths


def _seed_parts_from_cache(texts: list[str], model: str, label: str, paths: list[Path], part: int) -> None:
    """Split a whole-list cache of :func:`cached_embeddings` that holds a prefix of ``texts`` (the
    100k set, say) into the parts it covers, so those are not embedded again."""
    for whole in sorted(CACHE.glob(f"{label}-*-*.npy")):
        count = whole.name[len(label) + 1 :].split("-")[0]
        if not count.isdigit() or int(count) % part or int(count) > len(texts):
            continue
        size = int(count)
        if whole.name != f"{label}-{size}-{_digest(model, texts[:size])}.npy":
            continue
        vectors = np.load(whole, mmap_mode="r")
        for number in range(size // part):
            if not paths[number].exists():
                _save(paths[number], np.asarray(vectors[number * part : (number + 1) * part]))
                print(f"  part {number} taken from {whole.name}", flush=True)


def _save(path: Path, vectors: np.ndarray) -> None:
    """Write a part under a temporary name, then rename it: a stopped run leaves no half part."""
    partial = path.with_name(path.name + ".partial.npy")
    np.save(partial, vectors, allow_pickle=False)
    partial.rename(path)


def embed_in_parts(texts: list[str], embedder, label: str, part: int = PART) -> list[Path]:
    """Embed ``texts`` with the real model into separate cached parts of ``part`` texts each, so a
    stopped run resumes at the first missing part. Returns the parts' paths, in order."""
    CACHE.mkdir(exist_ok=True)
    paths = part_paths(texts, embedder.name, label, part)
    _seed_parts_from_cache(texts, embedder.name, label, paths, part)
    started, done = time.perf_counter(), 0
    for number, path in enumerate(paths):
        if path.exists():
            continue
        first = number * part
        piece = texts[first : first + part]
        vectors = []
        for start in range(0, len(piece), 5000):
            vectors.append(embedder.embed(piece[start : start + 5000]))
            done += len(vectors[-1])
            seconds = time.perf_counter() - started
            left = sum(not p.exists() for p in paths) * part - sum(len(v) for v in vectors)
            print(
                f"  part {number}: {first + start + len(vectors[-1])}/{len(texts)} texts; {done} embedded in "
                f"{seconds:.0f}s this run ({done / seconds:.1f}/s); about {left / (done / seconds) / 3600:.1f} h left",
                flush=True,
            )
        _save(path, np.concatenate(vectors))
    return paths


def parts_embeddings(texts: list[str], model: str, label: str, part: int = PART) -> np.ndarray:
    """The embeddings of ``texts`` from their cached parts (:func:`embed_in_parts`); raises
    FileNotFoundError naming the missing parts when some are not embedded yet."""
    paths = part_paths(texts, model, label, part)
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(paths)} parts are not embedded yet (first: {missing[0]}); run "
            f"`python bench/corpus.py --varied {len(texts)}` (or wait for the run that does)"
        )
    vectors = np.empty((len(texts), np.load(paths[0], mmap_mode="r").shape[1]), dtype=np.float32)
    for number, path in enumerate(paths):
        piece = np.load(path, allow_pickle=False)
        vectors[number * part : number * part + len(piece)] = piece
    return vectors


def main() -> None:
    """Embed a large varied set (the one bench/pg_search.py reads) into resumable parts."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--varied", type=int, required=True, help="texts to embed (varied_texts, seed 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves the other core to others)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from rag.embed import Embedder

    texts = varied_texts(args.varied, seed=1, low=1, high=3)
    print(f"{len(texts)} texts; parts of {PART} in {CACHE}; {args.threads} torch thread(s)", flush=True)
    embed_in_parts(texts, Embedder(), "varied")
    print("all parts embedded", flush=True)


if __name__ == "__main__":
    main()
