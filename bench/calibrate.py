"""Calibrates the extractive answerer on CLAPNQ dev: the score weights (a grid) and the abstention threshold.

Both come from CLAPNQ alone, so XQuAD-R is held out for them (`rag eval` measures it, BENCHMARKS.md).

1. Builds an index of all 600 CLAPNQ passages and, for each of the 300 answerable questions, scores
   every candidate sentence of the best 8 passages once, keeping each signal apart.
2. Grid-searches the six weights of the combined score for the share of questions whose best
   sentence is a gold `selected_sentence` (or overlaps one); ties go to the better top-3 share. As in
   ask(), only the sentences best by the embedding-free part of each grid point's score count (the
   shipped number of them; a table shows other numbers).
3. Prints the best-sentence score of answerable questions (against their own index) and of the
   same questions asked against the bundled sample news articles (which cannot answer them), with
   the threshold that keeps a chosen share of answerable questions answered.

    .venv/bin/python bench/calibrate.py [--keep 0.98] [--weights D T C L P A]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import ROOT, SHARED  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import AnswerSettings, Assistant  # noqa: E402
from rag.answer.scoring import ScoredSentence  # noqa: E402
from rag.datasets import load_clapnq, write_jsonl  # noqa: E402


def features(assistant: Assistant, questions) -> list[list[tuple[ScoredSentence, bool]]]:
    """Each question's candidate sentences in passage order (as ask() breaks ties), with whether each
    is a gold sentence."""
    rows = []
    for q in questions:
        evidence = assistant.rank_sentences(q.question)
        rows.append(
            [
                (c, c.article_id == q.article_id and any(c.start < b and a < c.end for a, b in q.spans))
                for c in sorted(evidence.sentences, key=lambda c: (c.rank, c.start))
            ]
        )
    return rows


SIGNALS = ("dense", "tokens", "content_tokens", "lexical", "passage_dense", "answer_type")
FIELDS = ("dense", "tokens", "content_tokens", "lexical", "passage", "answer_type")  # of ScoreWeights
WEIGHTS = (
    "dense_weight",
    "token_weight",
    "content_token_weight",
    "lexical_weight",
    "passage_weight",
    "answer_type_weight",
)
GRID = (
    (0.0, 0.5, 1.0),
    (0.0, 0.5, 1.0, 2.0),
    (0.0, 0.5, 1.0),
    (0.0, 0.2, 0.35, 0.5),
    (0.0, 0.25, 0.5, 1.0),
    (0.0, 0.05, 0.1),
)


def matrices(rows) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per question: its candidates' signals (one row each) and which candidates are gold."""
    return [
        (
            np.array([[getattr(c, name) for name in SIGNALS] for c, _ in row]).reshape(-1, len(SIGNALS)),
            np.array([gold for _, gold in row], dtype=bool),
        )
        for row in rows
    ]


EMBEDDING_FREE = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # the signals known before embedding


def scored(signals: np.ndarray, weights: np.ndarray, embedded: int) -> np.ndarray:
    """Each candidate's score, as ask() ranks them: only the best ``embedded`` by the embedding-free
    part of the score are scored fully; the others cannot win (minus infinity)."""
    free = signals @ (weights * EMBEDDING_FREE)
    scores = np.full(len(signals), -np.inf)
    kept = np.argsort(-free, kind="stable")[:embedded]
    scores[kept] = signals[kept] @ weights
    return scores


def accuracy(data, weights: np.ndarray, embedded: int, keep: float = 0.0) -> tuple[float, float, float]:
    """Shares of questions whose best sentence is gold, and where a quoted one is; sentences per answer."""
    first = covered = quoted = 0
    for signals, gold in data:
        if not len(gold):  # no candidate sentence at all: no answer
            continue
        scores = scored(signals, weights, embedded)
        order = np.argsort(-scores, kind="stable")
        picked = [order[0]] + [i for i in order[1:3] if scores[i] >= keep * scores[order[0]]]
        first += gold[order[0]]
        covered += gold[picked].any()
        quoted += len(picked)
    return first / len(data), covered / len(data), quoted / len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=float, default=0.98, help="share of answerable questions to answer")
    parser.add_argument(
        "--weights",
        type=float,
        nargs=6,
        metavar=("D", "T", "C", "L", "P", "A"),
        help="print the threshold for these weights (dense, tokens, content tokens, lexical, passage, "
        "answer type) instead of the grid's best",
    )
    args = parser.parse_args()
    articles, questions = load_clapnq(SHARED / "clapnq_dev_answerable.jsonl", SHARED / "clapnq_dev_unanswerable.jsonl")
    answerable = [q for q in questions if q.answerable and q.spans]
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Settings.from_env(index_dir=Path(tmp) / "clapnq"), create=True)
        index.ingest([write_jsonl(articles, Path(tmp) / "clapnq.jsonl")])
        every = AnswerSettings(scored_sentences=10**6)  # all candidates embedded; cut below
        rows = features(Assistant(index, every), answerable)
        news = Index(Settings.from_env(index_dir=Path(tmp) / "news"), create=True)
        news.ingest([ROOT / "data" / "articles"])
        negative_rows = features(Assistant(news, every), answerable)

    print(f"{len(answerable)} answerable CLAPNQ questions with gold sentences; index of {len(articles)} passages\n")
    data = matrices(rows)
    embedded = AnswerSettings().scored_sentences
    results = []
    for point in itertools.product(*GRID):
        if any(point):
            first, top3, _ = accuracy(data, np.array(point), embedded)
            results.append((first, top3, point))
    results.sort(key=lambda r: (-r[0], -r[1]))
    print("best grid points (dense, tokens, content tokens, lexical, passage, answer type):")
    print("| weights | best sentence is gold | one of the best three is |")
    print("|---|---|---|")
    for first, top3, point in results[:10]:
        print(f"| {', '.join(f'{w:g}' for w in point)} | {first:.3f} | {top3:.3f} |")
    chosen = np.array(args.weights) if args.weights else np.array(results[0][2])
    shipped = AnswerSettings()
    print(
        f"\n{'given' if args.weights else 'chosen'}: "
        + ", ".join(f"{name}={w:g}" for name, w in zip(WEIGHTS, chosen))
        + f" (best sentence is gold for {accuracy(data, chosen, embedded)[0]:.3f}; shipped: "
        + ", ".join(f"{getattr(shipped.weights, name):g}" for name in FIELDS)
        + ")"
    )

    print("\n| keep ratio | best sentence or a further quoted one is gold | sentences per answer |")
    print("|---|---|---|")
    for keep in (0.9, 0.8, 0.7, 0.6, 0.5):
        _, covered, quoted = accuracy(data, chosen, embedded, keep)
        print(f"| {keep} | {covered:.3f} | {quoted:.2f} |")

    print("\n| sentences embedded per question | best sentence is gold | one of the best three is |")
    print("|---|---|---|")
    for count in (8, 10, 12, 16, 20, 32):
        first, top3, _ = accuracy(data, chosen, count)
        print(f"| {count}{' (shipped)' if count == embedded else ''} | {first:.3f} | {top3:.3f} |")

    def best(data) -> np.ndarray:  # a question without candidates scores 0: it abstains
        return np.array([scored(signals, chosen, embedded).max() if len(gold) else 0.0 for signals, gold in data])

    positive, negative = best(data), best(matrices(negative_rows))
    threshold = float(np.quantile(positive, 1 - args.keep))
    print("\nbest-sentence score percentiles:   1%     2%     5%    25%    50%    75%    95%")
    for name, values in (("answerable (own index)", positive), ("asked of the news sample", negative)):
        print(f"  {name:30}", "  ".join(f"{v:.3f}" for v in np.percentile(values, [1, 2, 5, 25, 50, 75, 95])))
    print(
        f"\nthreshold keeping {args.keep:.0%} of answerable questions answered: {threshold:.3f}; "
        f"at it, {np.mean(negative < threshold):.1%} of the questions asked of the news sample abstain"
    )


if __name__ == "__main__":
    main()
