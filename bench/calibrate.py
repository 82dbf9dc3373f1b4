"""Calibrates the extractive answerer on CLAPNQ dev: the score weights (a grid) and the abstention threshold.

The shipped weights were picked on this grid and on `rag eval` of XQuAD-R together (BENCHMARKS.md says
so); the threshold comes from CLAPNQ alone.

1. Builds an index of all 600 CLAPNQ passages and, for each of the 300 answerable questions,
   scores the candidate sentences once (dense similarity, IDF-weighted word overlap, passage similarity, answer type).
2. Grid-searches the three weights of the combined score for the share of questions whose best
   sentence is a gold `selected_sentence` (or overlaps one).
3. Prints the best-sentence score of answerable questions (against their own index) and of the
   same questions asked against the bundled sample news articles (which cannot answer them), with
   the threshold that keeps a chosen share of answerable questions answered.

    .venv/bin/python bench/calibrate.py [--keep 0.97]
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
from rag.answer import AnswerSettings, Assistant, ScoredSentence, combined_score  # noqa: E402
from rag.datasets import load_clapnq, write_jsonl  # noqa: E402


def features(assistant: Assistant, questions) -> list[list[tuple[ScoredSentence, bool]]]:
    """Each question's candidate sentences, with whether each is a gold sentence."""
    rows = []
    for q in questions:
        evidence = assistant.rank_sentences(q.question)
        rows.append(
            [
                (c, c.article_id == q.article_id and any(c.start < b and a < c.end for a, b in q.spans))
                for c in evidence.sentences
            ]
        )
    return rows


def best_scores(rows, settings: AnswerSettings) -> np.ndarray:
    return np.array([max((combined_score(c, settings) for c, _ in row), default=0.0) for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=float, default=0.97, help="share of answerable questions to answer")
    parser.add_argument(
        "--weights",
        type=float,
        nargs=3,
        metavar=("LEXICAL", "PASSAGE", "ANSWER_TYPE"),
        help="print the threshold for these weights instead of the grid's best",
    )
    args = parser.parse_args()
    articles, questions = load_clapnq(SHARED / "clapnq_dev_answerable.jsonl", SHARED / "clapnq_dev_unanswerable.jsonl")
    answerable = [q for q in questions if q.answerable and q.spans]
    with tempfile.TemporaryDirectory() as tmp:
        index = Index(Settings(index_dir=Path(tmp) / "clapnq"), create=True)
        index.ingest([write_jsonl(articles, Path(tmp) / "clapnq.jsonl")])
        rows = features(Assistant(index), answerable)
        news = Index(Settings(index_dir=Path(tmp) / "news"), create=True)
        news.ingest([ROOT / "data" / "articles"])
        negative_rows = features(Assistant(news), answerable)

    print(f"{len(answerable)} answerable CLAPNQ questions with gold sentences; index of {len(articles)} passages\n")
    print("| lexical weight | passage weight | answer-type weight | best sentence is gold |")
    print("|---|---|---|---|")
    results = []
    grid = itertools.product((0.0, 0.1, 0.2, 0.35, 0.5), (0.0, 0.25, 0.5, 0.75), (0.0, 0.05, 0.1))
    for lexical, passage, answer_type in grid:
        settings = AnswerSettings(lexical_weight=lexical, passage_weight=passage, answer_type_weight=answer_type)
        hits = sum(max(row, key=lambda pair: combined_score(pair[0], settings))[1] for row in rows if row)
        results.append((hits / len(rows), -lexical, -passage, -answer_type))
        print(f"| {lexical} | {passage} | {answer_type} | {hits / len(rows):.3f} |")
    accuracy, lexical, passage, answer_type = max(results)
    chosen = AnswerSettings(lexical_weight=-lexical, passage_weight=-passage, answer_type_weight=-answer_type)
    if args.weights:
        chosen = AnswerSettings(
            lexical_weight=args.weights[0], passage_weight=args.weights[1], answer_type_weight=args.weights[2]
        )
        accuracy = sum(max(row, key=lambda pair: combined_score(pair[0], chosen))[1] for row in rows if row)
        accuracy /= len(rows)
    print(
        f"\n{'given' if args.weights else 'chosen'}: lexical_weight={chosen.lexical_weight}, "
        f"passage_weight={chosen.passage_weight}, "
        f"answer_type_weight={chosen.answer_type_weight} (best sentence is gold for {accuracy:.3f})"
    )

    print("\n| keep ratio | best sentence or a further quoted one is gold | sentences per answer |")
    print("|---|---|---|")
    for keep in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7):
        covered = quoted = 0
        for row in rows:
            if not row:
                continue
            ranked = sorted(row, key=lambda pair: -combined_score(pair[0], chosen))
            best = combined_score(ranked[0][0], chosen)
            picked = [ranked[0]] + [p for p in ranked[1:3] if combined_score(p[0], chosen) >= keep * best]
            covered += any(gold for _, gold in picked)
            quoted += len(picked)
        print(f"| {keep} | {covered / len(rows):.3f} | {quoted / len(rows):.2f} |")

    positive = best_scores(rows, chosen)
    negative = best_scores(negative_rows, chosen)
    threshold = float(np.quantile(positive, 1 - args.keep))
    print("\nbest-sentence score percentiles:   5%    25%    50%    75%    95%")
    for name, values in (("answerable (own index)", positive), ("asked of the news sample", negative)):
        print(f"  {name:30}", "  ".join(f"{v:.3f}" for v in np.percentile(values, [5, 25, 50, 75, 95])))
    print(
        f"\nthreshold keeping {args.keep:.0%} of answerable questions answered: {threshold:.3f}; "
        f"at it, {np.mean(negative < threshold):.1%} of the questions asked of the news sample abstain"
    )


if __name__ == "__main__":
    main()
