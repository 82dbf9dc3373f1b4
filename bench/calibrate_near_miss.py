"""Calibrates the near-miss check: passages on the question's topic that do not say what it asks.

"How much is Russia paying North Korea for the troops?", asked of an article about the troops that
names no payment, finds on-topic sentences that score well; only what they lack tells it apart. The
check (rag.compose.is_near_miss) is a logistic model over a few features of the best sentences
(rag.compose.NEAR_MISS_FEATURES): how well the weakest-matched word of the question is matched, whether
the kind of answer asked for (a number, a date, a name) is there, and how well the best sentence scores.

Data: CLAPNQ dev, 300 answerable questions and 300 whose passage is on topic but does not answer them,
and XQuAD-R's 1,190 answerable questions, each asked of an index of its own set's passages. Every set is
split in two by position (even, odd). The model is fitted on the even halves (1: an answerable question
whose best sentence holds the answer; 0: a question the passages do not answer; answerable questions
answered wrongly are wrong either way and left out). Its cut is the highest that keeps abstention on the
even halves' answerable questions (the score threshold included) at most the target on each set. The
odd halves report what it does on questions it never saw.

    .venv/bin/python bench/calibrate_near_miss.py [--target 0.04] [--refresh]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CACHE, SHARED  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import AnswerSettings, Assistant  # noqa: E402
from rag.compose import NEAR_MISS_FEATURES, near_miss_features  # noqa: E402
from rag.datasets import load_clapnq, load_squad, write_jsonl  # noqa: E402

FEATURES = CACHE / "near_miss_features.npz"


def holds(sentence, question) -> bool:
    """Does the best sentence answer an answerable question (as `rag eval` judges a citation)?"""
    if question.match == "answer":
        return any(" ".join(a.split()) in " ".join(sentence.text.split()) for a in question.answers if a)
    return sentence.article_id == question.article_id and any(
        sentence.start < b and a < sentence.end for a, b in question.spans
    )


def collect(assistant: Assistant, questions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each question's features, its best-sentence score and whether that sentence answers it (NaN
    features when nothing was found)."""
    rows, best, right = [], [], []
    for q in questions:
        evidence = assistant.rank_sentences(q.question)
        if evidence.sentences:
            rows.append(near_miss_features(evidence.question, evidence.sentences))
            best.append(evidence.sentences[0].score)
            right.append(q.answerable and holds(evidence.sentences[0], q))
        else:
            rows.append(np.full(len(NEAR_MISS_FEATURES), np.nan))
            best.append(0.0)
            right.append(False)
    return np.array(rows), np.array(best), np.array(right)


def features() -> dict[str, np.ndarray]:
    if FEATURES.exists():
        return dict(np.load(FEATURES))
    articles, questions = load_clapnq(SHARED / "clapnq_dev_answerable.jsonl", SHARED / "clapnq_dev_unanswerable.jsonl")
    squad_articles, squad_questions = load_squad(SHARED / "xquad-r.en.json")
    data: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, passages, asked in (("clapnq", articles, questions), ("xquad", squad_articles, squad_questions)):
            index = Index(Settings.from_env(index_dir=Path(tmp) / name), create=True)
            index.ingest([write_jsonl(passages, Path(tmp) / f"{name}.jsonl")])
            data[f"{name}_x"], data[f"{name}_best"], data[f"{name}_right"] = collect(
                Assistant(index, AnswerSettings()), asked
            )
            data[f"{name}_answerable"] = np.array([q.answerable for q in asked])
            index.close()
    CACHE.mkdir(exist_ok=True)
    np.savez(FEATURES, **data)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=0.04, help="most abstention on answerable questions")
    parser.add_argument("--refresh", action="store_true", help="ask the questions again (features are cached)")
    args = parser.parse_args()
    if args.refresh and FEATURES.exists():
        FEATURES.unlink()
    from sklearn.linear_model import LogisticRegression

    data = features()
    threshold = AnswerSettings().threshold
    sets = {}
    for name in ("clapnq", "xquad"):
        x, best, answerable = data[f"{name}_x"], data[f"{name}_best"], data[f"{name}_answerable"]
        even = np.arange(len(x)) % 2 == 0
        sets[name] = (np.nan_to_num(x), best, answerable, even)
    # fitted to tell the answers whose best sentence is right from the questions the passages do not
    # answer; answerable questions whose best sentence is wrong are wrong either way and left out
    right = {n: data[f"{n}_right"] for n in sets}
    fit_rows = {n: sets[n][3] & (right[n] | ~sets[n][2]) for n in sets}
    fit_x = np.concatenate([sets[n][0][fit_rows[n]] for n in sets])
    fit_y = np.concatenate([right[n][fit_rows[n]] for n in sets])
    weights = {1: 0.5 / fit_y.mean(), 0: 0.5 / (1 - fit_y.mean())}
    model = LogisticRegression(C=1.0, max_iter=5000, class_weight=weights).fit(fit_x, fit_y)

    def abstains(name: str, cut: float, half: np.ndarray) -> tuple[float, float]:
        x, best, answerable, _ = sets[name]
        out = (best < threshold) | (model.predict_proba(x)[:, 1] < cut)
        positives, negatives = half & answerable, half & ~answerable
        return out[positives].mean(), (out[negatives].mean() if negatives.any() else float("nan"))

    cuts = np.round(np.arange(0.05, 0.96, 0.01), 2)
    allowed = [c for c in cuts if all(abstains(n, c, sets[n][3])[0] <= args.target for n in sets)]
    cut = max(allowed) if allowed else 0.0
    print(f"fitted on {len(fit_y)} questions (of the even halves); score threshold {threshold}\n")
    print("| cut | CLAPNQ odd: answerable abstain | unanswerable abstain | XQuAD-R odd: answerable abstain |")
    print("|---|---|---|---|")
    for c in [x for x in cuts if abs(x * 20 - round(x * 20)) < 1e-9] + [cut]:
        pos, neg = abstains("clapnq", c, ~sets["clapnq"][3])
        xq, _ = abstains("xquad", c, ~sets["xquad"][3])
        print(f"| {c:.2f}{' (chosen)' if c == cut else ''} | {pos:.3f} | {neg:.3f} | {xq:.3f} |")
    pos, neg = abstains("clapnq", cut, ~sets["clapnq"][3])
    xq, _ = abstains("xquad", cut, ~sets["xquad"][3])
    print(
        f"\nchosen cut {cut:.2f} (answerable abstention at most {args.target:.0%} on both even halves); "
        f"odd halves: CLAPNQ answerable {pos:.1%}, unanswerable {neg:.1%}; XQuAD-R {xq:.1%}"
    )
    print("\nfeature weights:")
    for name, w in zip(NEAR_MISS_FEATURES, model.coef_[0]):
        print(f"  {name:45} {w:+.3f}")
    print(f"  {'bias':45} {model.intercept_[0]:+.3f}")
    shipped = ", ".join(f"{w:.3f}" for w in [*model.coef_[0], model.intercept_[0]])
    print(f"\nAnswerSettings(near_miss_weights=({shipped}), near_miss_cut={cut:.2f})")


if __name__ == "__main__":
    main()
