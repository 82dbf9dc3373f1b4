"""Calibrates the near-miss check: a question word that the best sentence has no match for.

A near miss is a question whose passages are on its topic but do not say what it asks ("How much is
Russia paying North Korea for the troops?" of an article on the troops that names no payment). The
check (rag.compose.missing_words) looks at each word of the question that says what it asks about
(not a name, not a word that only makes it a question) and abstains when the best sentence's best
token match for one of them is below a threshold.

CLAPNQ dev has 300 answerable questions and 300 whose passage is on topic but does not answer them.
The questions are split in two by their position (even, odd): the threshold is chosen on the even half,
as the highest that keeps abstention on its answerable questions (with the score threshold) at most
the target, and reported on the odd half; XQuAD-R's answerable questions are held out entirely.

    .venv/bin/python bench/calibrate_near_miss.py [--target 0.04]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SHARED  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import AnswerSettings, Assistant  # noqa: E402
from rag.compose import compose  # noqa: E402
from rag.datasets import load_clapnq, load_squad, write_jsonl  # noqa: E402

GRID = np.round(np.arange(0.20, 0.62, 0.02), 2)


def decisions(assistant: Assistant, questions, coverages) -> np.ndarray:
    """For each question and each coverage threshold: does ask() abstain? (questions x thresholds)"""
    rows = []
    for q in questions:
        evidence = assistant.rank_sentences(q.question)
        row = []
        for coverage in coverages:
            settings = replace(assistant.settings, coverage=float(coverage)).compose
            row.append(not compose(evidence.question, evidence.sentences, assistant.scorer, settings).chosen)
        rows.append(row)
    return np.array(rows, dtype=bool)


def build(tmp: Path, name: str, articles) -> Index:
    index = Index(Settings.from_env(index_dir=tmp / name), create=True)
    index.ingest([write_jsonl(articles, tmp / f"{name}.jsonl")])
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=0.04, help="most abstention on answerable questions")
    args = parser.parse_args()
    articles, questions = load_clapnq(SHARED / "clapnq_dev_answerable.jsonl", SHARED / "clapnq_dev_unanswerable.jsonl")
    squad_articles, squad_questions = load_squad(SHARED / "xquad-r.en.json")
    with tempfile.TemporaryDirectory() as tmp:
        clapnq = Assistant(build(Path(tmp), "clapnq", articles), AnswerSettings())
        answers = decisions(clapnq, questions, GRID)
        xquad = Assistant(build(Path(tmp), "xquad", squad_articles), AnswerSettings())
        xquad_answers = decisions(xquad, squad_questions, GRID)
    answerable = np.array([q.answerable for q in questions])
    even = np.arange(len(questions)) % 2 == 0

    def rates(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return answers[mask & answerable].mean(axis=0), answers[mask & ~answerable].mean(axis=0)

    print(
        f"CLAPNQ: {answerable.sum()} answerable, {(~answerable).sum()} unanswerable; XQuAD-R: {len(squad_questions)}\n"
    )
    print("| coverage | CLAPNQ even: answerable abstain | unanswerable | odd: answerable | unanswerable | XQuAD-R |")
    print("|---|---|---|---|---|---|")
    even_pos, even_neg = rates(even)
    odd_pos, odd_neg = rates(~even)
    for i, coverage in enumerate(GRID):
        print(
            f"| {coverage:.2f} | {even_pos[i]:.3f} | {even_neg[i]:.3f} | {odd_pos[i]:.3f} | {odd_neg[i]:.3f} "
            f"| {xquad_answers[:, i].mean():.3f} |"
        )
    allowed = [i for i in range(len(GRID)) if even_pos[i] <= args.target]
    chosen = max(allowed, key=lambda i: GRID[i]) if allowed else 0
    print(
        f"\nchosen on the even half (answerable abstention at most {args.target:.0%}): coverage {GRID[chosen]:.2f}; "
        f"on the odd half {odd_pos[chosen]:.1%} of answerable and {odd_neg[chosen]:.1%} of unanswerable questions "
        f"abstain; XQuAD-R (held out) {xquad_answers[:, chosen].mean():.1%}"
    )


if __name__ == "__main__":
    main()
