"""Precision and recall of story grouping (rag.stories) on copies made from real texts.

Originals: every paragraph of XQuAD-R (paragraphs of one Wikipedia article are different texts on the
same subject: the hard negatives) and every CLAPNQ passage. For 250 originals drawn at random (seeded),
one to three copies of these kinds:

- headline: the same body under another headline (a wire story run by another outlet);
- trimmed: the first 50-80% of the sentences (the ending cut to fit);
- figures: every number changed and a sentence added at the end (an updated version);
- lede: a new first sentence and the last sentence dropped (a rewritten top);
- edited: two sentences of the middle dropped and one sentence of another text inserted.

An added sentence comes from another text and has at most 40 words (some Wikipedia "sentences" are
lists of hundreds of words, which would make the copy more of that text than of its own).

Everything is stored through the real Store (articles only: grouping needs no vectors), in a random
order, and the stories it files are compared with the truth, pair by pair.

    .venv/bin/python bench/stories.py
"""

from __future__ import annotations

import json
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SHARED  # noqa: E402

from rag.store import Store  # noqa: E402
from rag.text import split_sentences  # noqa: E402
from rag.types import Article  # noqa: E402

KINDS = ("headline", "trimmed", "figures", "lede", "edited")


def originals() -> list[tuple[str, str]]:
    texts = []
    squad = json.loads((SHARED / "xquad-r.en.json").read_text(encoding="utf-8"))
    for entry in squad["data"]:
        for n, paragraph in enumerate(entry["paragraphs"], 1):
            texts.append((f"{entry['title'].replace('_', ' ')} ({n})", paragraph["context"]))
    for name in ("clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl"):
        for line in (SHARED / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                passage = json.loads(line)["passages"][0]
                texts.append((passage["title"], passage["text"]))
    # each text once; CLAPNQ also holds some passages twice in slightly different versions: those are
    # one story in the truth (kept once), as a reader would see them
    from rag.stories import shingles

    kept: list[tuple[str, str, set[str]]] = []
    for title, text in {text: (title, text) for title, text in texts}.values():
        mine = shingles(text)
        if not any(len(mine & s) / len(mine | s) >= 0.8 for _, _, s in kept if s):
            kept.append((title, text, mine))
    return [(title, text) for title, text, _ in kept]


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def added_sentence(other: str, rng: random.Random) -> str:
    """A sentence of another text, of a news sentence's length (at most 40 words)."""
    fitting = [s for s in sentences(other) if len(s.split()) <= 40] or ["Officials gave no further details."]
    return rng.choice(fitting)


def variant(kind: str, title: str, text: str, other: str, rng: random.Random) -> tuple[str, str]:
    parts = sentences(text)
    if kind == "headline":
        return f"{title}: what we know", text
    if kind == "trimmed":
        keep = max(1, round(len(parts) * rng.uniform(0.5, 0.8)))
        return title, " ".join(parts[:keep])
    if kind == "figures":
        changed = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), text)
        return f"{title} (updated)", changed + " " + added_sentence(other, rng)
    if kind == "lede":
        return f"Breaking: {title}", " ".join([added_sentence(other, rng), *parts[:-1]])
    middle = list(range(1, max(1, len(parts) - 1)))
    dropped = set(rng.sample(middle, min(2, len(middle))))
    kept = [p for i, p in enumerate(parts) if i not in dropped]
    kept.insert(len(kept) // 2, added_sentence(other, rng))
    return title, " ".join(kept)


def main() -> None:
    rng = random.Random(7)
    texts = originals()
    docs: list[tuple[Article, int, str]] = []  # article, true story, kind
    for story, (title, text) in enumerate(texts):
        docs.append((Article.create(title, text), story, "original"))
    for story in rng.sample(range(len(texts)), 250):
        title, text = texts[story]
        if len(sentences(text)) < 4:
            continue
        for kind in rng.sample(KINDS, rng.randint(1, 3)):
            other = texts[rng.randrange(len(texts))][1]
            docs.append((Article.create(*variant(kind, title, text, other, rng)), story, kind))
    rng.shuffle(docs)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "index", model="bench", dimension=4, create=True)
        started = time.perf_counter()
        for article, _, _ in docs:
            store.add([(article, [], "bench")], np.zeros((0, 4), dtype=np.float32))
        seconds = time.perf_counter() - started
        filed = store.stories_of(a.id for a, _, _ in docs)
        store.close()
    truth = {a.id: s for a, s, _ in docs}
    kind_of = {a.id: k for a, _, k in docs}
    by_filed, by_truth = defaultdict(list), defaultdict(list)
    for article_id, story in filed.items():
        by_filed[story].append(article_id)
        by_truth[truth[article_id]].append(article_id)
    predicted = {frozenset(p) for group in by_filed.values() for p in combinations(group, 2)}
    actual = {frozenset(p) for group in by_truth.values() for p in combinations(group, 2)}
    found = predicted & actual
    precision = len(found) / len(predicted) if predicted else 1.0
    recall = len(found) / len(actual) if actual else 1.0
    print(f"{len(docs)} articles: {len(texts)} originals, {len(docs) - len(texts)} copies; "
          f"filed in {seconds:.1f} s ({1000 * seconds / len(docs):.1f} ms per article)")
    print(f"pairs: {len(actual)} true, {len(predicted)} grouped, {len(found)} right")
    print(f"precision {precision:.3f}  recall {recall:.3f}")
    originals_of = {s: a for a, s, k in docs if k == "original"}
    copies = Counter(k for _, _, k in docs if k != "original")
    joined = Counter(k for a, s, k in docs if k != "original" and filed[a.id] == filed[originals_of[s].id])
    print("| copy | copies | filed with its original |")
    print("|---|---|---|")
    for kind in KINDS:
        print(f"| {kind} | {copies[kind]} | {joined[kind] / copies[kind]:.3f} |")
    wrong = [p for p in predicted - actual]
    print(f"wrongly grouped pairs: {len(wrong)}")
    for pair in wrong[:10]:
        a, b = sorted(pair)
        print(f"  {kind_of[a]} / {kind_of[b]}: stories {truth[a]} and {truth[b]}")


if __name__ == "__main__":
    main()
