"""Calibrates the citation check of generative answers on CLAPNQ dev.

For each answerable CLAPNQ question, every sentence of its gold (human-written) answer is a claim.
The claim against its own passage is a supported pair; against each of the three best retrieved
passages from other articles, an unsupported one. For each pair the check's two measures are taken:
the cosine similarity of the claim to the passage's best sentence, and the share of the claim's
content words found in the passage. Prints how well thresholds on both separate the two kinds, and
the pair chosen: of those that catch at least 98% of unsupported pairs, the one keeping the most
supported pairs.

    .venv/bin/python bench/calibrate_support.py
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SHARED  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer.generate import SupportSettings, support  # noqa: E402
from rag.datasets import load_clapnq, write_jsonl  # noqa: E402
from rag.text import content_terms, split_sentences  # noqa: E402

CATCH = 0.98  # share of unsupported pairs the check must catch


def measures(index: Index, pairs: list[tuple[str, object]]) -> np.ndarray:
    """(similarity, overlap) of each (claim, passage) pair; every distinct text is embedded once."""
    texts: dict[str, int] = {}
    plan = []
    for claim, passage in pairs:
        sentences = [passage.text[a - passage.start : b - passage.start] for a, b in passage.sentences]
        plan.append(
            (claim, passage.text, [texts.setdefault(t, len(texts)) for t in [claim, *(sentences or [passage.text])]])
        )
    vectors = index.embedder.embed(list(texts))
    rows = []
    for claim, text, ids in plan:
        words = set(content_terms(claim)), set(content_terms(text))
        similarity, _, overlap = support(words[0], vectors[ids[0]], vectors[ids[1:]], words[1])
        rows.append((similarity, overlap))
    return np.array(rows)


def main() -> None:
    articles, questions = load_clapnq(SHARED / "clapnq_dev_answerable.jsonl", SHARED / "clapnq_dev_unanswerable.jsonl")
    answerable = [q for q in questions if q.answerable]
    positive_pairs, negative_pairs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Settings(index_dir=Path(tmp) / "clapnq"), create=True)
        index.ingest([write_jsonl(articles, Path(tmp) / "clapnq.jsonl")])
        for q in answerable:
            passages = index.search(q.question, k=10)
            own = next((p for p in passages if p.article_id == q.article_id), None)
            others = [p for p in passages if p.article_id != q.article_id][:3]
            answer = q.answers[0]
            for a, b in split_sentences(answer):
                claim = answer[a:b]
                if len(claim.split()) < 4:
                    continue
                if own is not None:
                    positive_pairs.append((claim, own))
                negative_pairs.extend((claim, p) for p in others)
        pos, neg = measures(index, positive_pairs), measures(index, negative_pairs)
    print(f"{len(pos)} supported pairs, {len(neg)} unsupported pairs from {len(answerable)} CLAPNQ questions\n")
    print("| similarity >= | overlap >= | supported kept | unsupported caught | balanced accuracy |")
    print("|---|---|---|---|---|")
    rows = []
    for sim, ovl in itertools.product(np.arange(0.3, 0.85, 0.05), np.arange(0.0, 0.95, 0.1)):
        kept = np.mean((pos[:, 0] >= sim) & (pos[:, 1] >= ovl))
        caught = np.mean(~((neg[:, 0] >= sim) & (neg[:, 1] >= ovl)))
        rows.append(((kept + caught) / 2, kept, caught, sim, ovl))
    for balanced, kept, caught, sim, ovl in sorted(rows, reverse=True)[:10]:
        print(f"| {sim:.2f} | {ovl:.1f} | {kept:.3f} | {caught:.3f} | {balanced:.3f} |")
    # an answer must not pass off an unsupported sentence: among the thresholds that catch at least
    # 98% of the unsupported pairs, the one that keeps the most supported ones
    kept, caught, sim, ovl = max((r[1], r[2], r[3], r[4]) for r in rows if r[2] >= CATCH)
    print(
        f"\nchosen (catch >= {CATCH:.0%}, then keep the most): similarity {sim:.2f}, overlap {ovl:.1f}: "
        f"kept {kept:.3f}, caught {caught:.3f}"
    )
    default = SupportSettings()
    kept = np.mean((pos[:, 0] >= default.similarity) & (pos[:, 1] >= default.overlap))
    caught = np.mean(~((neg[:, 0] >= default.similarity) & (neg[:, 1] >= default.overlap)))
    print(
        f"\nshipped thresholds (similarity {default.similarity}, overlap {default.overlap}): "
        f"supported kept {kept:.3f}, unsupported caught {caught:.3f}"
    )


if __name__ == "__main__":
    main()
