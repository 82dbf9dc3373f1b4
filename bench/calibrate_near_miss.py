"""Calibrates the near-miss check: passages on the question's topic that do not say what it asks.

"How much is Russia paying North Korea for the troops?", asked of an article about the troops that
names no payment, finds on-topic sentences that score well; only what they lack tells it apart. The
check (rag.answer.compose.is_near_miss) is a logistic model over a few features of the best sentences
(rag.answer.compose.NEAR_MISS_FEATURES): how well the weakest-matched word of the question is matched, whether
the kind of answer asked for (a number, a date, a name) is there, and how well the best sentence scores.

Data: CLAPNQ dev, 300 answerable questions and 300 whose passage is on topic but does not answer them,
and XQuAD-R's 1,190 answerable questions, each asked of an index of its own set's passages. Near misses
of the kind a reader asks (the article is there, the paragraph that answers is not) are made from
XQuAD-R: each article is split into its even and odd paragraphs, one index per half, and every fourth
question is asked of the half that does not hold its paragraph (left out when its answer's text is in
that half anyway). Every set is split in two by position (even, odd). The model is fitted on the even
halves (1: an answerable question whose best sentence holds the answer; 0: a question the passages do
not answer; answerable questions answered wrongly are wrong either way and left out), the two classes
weighed equally, on standardised features (the weights printed are for the raw features). Its cut is
the highest that keeps abstention on the even halves' answerable questions (the score threshold
included) at most the target on each set. The odd halves report what it does on questions it never saw.

    .venv/bin/python bench/calibrate_near_miss.py [--target 0.04] [--cut 0.04] [--refresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CACHE, SHARED  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import AnswerSettings, Assistant  # noqa: E402
from rag.answer.compose import NEAR_MISS_FEATURES, near_miss_features  # noqa: E402
from rag.datasets import Question, load_clapnq, load_squad, write_jsonl  # noqa: E402

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
            rows.append(near_miss_features(evidence.question, evidence.sentences, assistant.scorer))
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
        rows, best = [], []
        for half, asked in enumerate(split_near_misses(Path(tmp))):
            index = Index(Settings.from_env(index_dir=Path(tmp) / f"half{half}"), create=True)
            index.ingest([Path(tmp) / f"half{half}.jsonl"])
            x, b, _ = collect(Assistant(index, AnswerSettings()), asked)
            rows.append(x)
            best.append(b)
            index.close()
        data["split_x"], data["split_best"] = np.concatenate(rows), np.concatenate(best)
    CACHE.mkdir(exist_ok=True)
    np.savez(FEATURES, **data)
    return data


def split_near_misses(folder: Path) -> list[list[Question]]:
    """XQuAD-R's articles in two halves (even and odd paragraphs, written to half0/half1.jsonl in
    ``folder``), and for each half every fourth of the questions whose paragraph is in the other
    half and whose answer's text is not in this one."""
    data = json.loads((SHARED / "xquad-r.en.json").read_text(encoding="utf-8"))["data"]
    halves: list[list[dict]] = [[], []]
    asked: list[list[Question]] = [[], []]
    for entry in data:
        for half in (0, 1):
            paragraphs = entry["paragraphs"][half::2]
            halves[half].append({"title": entry["title"], "paragraphs": paragraphs})
        for i, paragraph in enumerate(entry["paragraphs"]):
            other = 1 - i % 2
            rest = " ".join(p["context"] for p in entry["paragraphs"][other::2])
            for qa in paragraph["qas"]:
                if not any(a["text"] in rest for a in qa["answers"]):
                    asked[other].append(Question(str(qa["id"]), qa["question"], "", (), (), answerable=False))
    for half in (0, 1):
        path = folder / f"half{half}.json"
        path.write_text(json.dumps({"data": halves[half]}), encoding="utf-8")
        write_jsonl(load_squad(path)[0], folder / f"half{half}.jsonl")
    return [asked[0][::4], asked[1][::4]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=0.04, help="most abstention on answerable questions")
    parser.add_argument("--refresh", action="store_true", help="ask the questions again (features are cached)")
    parser.add_argument("--cut", type=float, help="the cut to ship instead of the one the rule picks")
    args = parser.parse_args()
    if args.refresh and FEATURES.exists():
        FEATURES.unlink()
    from sklearn.linear_model import LogisticRegression

    data = features()
    threshold = AnswerSettings().compose.threshold
    sets = {}
    for name in ("clapnq", "xquad"):
        x, best, answerable = data[f"{name}_x"], data[f"{name}_best"], data[f"{name}_answerable"]
        even = np.arange(len(x)) % 2 == 0
        sets[name] = (np.nan_to_num(x), best, answerable, even)
    # fitted to tell the answers whose best sentence is right from the questions the passages do not
    # answer; answerable questions whose best sentence is wrong are wrong either way and left out
    right = {n: data[f"{n}_right"] for n in sets}
    split_x, split_best = np.nan_to_num(data["split_x"]), data["split_best"]
    split_even = np.arange(len(split_x)) % 2 == 0
    fit_rows = {n: sets[n][3] & (right[n] | ~sets[n][2]) for n in sets}
    split_rows = split_even & (split_best >= threshold)  # the ones the score threshold lets through
    fit_x = np.concatenate([*(sets[n][0][fit_rows[n]] for n in sets), split_x[split_rows]])
    fit_y = np.concatenate([*(right[n][fit_rows[n]] for n in sets), np.zeros(split_rows.sum(), bool)])
    mean, scale = fit_x.mean(axis=0), fit_x.std(axis=0) + 1e-9
    weights = {1: 0.5 / fit_y.mean(), 0: 0.5 / (1 - fit_y.mean())}
    model = LogisticRegression(C=1.0, max_iter=5000, class_weight=weights).fit((fit_x - mean) / scale, fit_y)
    # the same model over the raw features
    coef = model.coef_[0] / scale
    bias = model.intercept_[0] - float(coef @ mean)

    def probability(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(x @ coef + bias)))

    def abstains(name: str, cut: float, half: np.ndarray) -> tuple[float, float]:
        x, best, answerable, _ = sets[name]
        out = (best < threshold) | (probability(x) < cut)
        positives, negatives = half & answerable, half & ~answerable
        return out[positives].mean(), (out[negatives].mean() if negatives.any() else float("nan"))

    def split_abstains(cut: float) -> float:
        return ((split_best < threshold) | (probability(split_x) < cut))[~split_even].mean()

    cuts = np.round(np.arange(0.01, 0.96, 0.01), 2)
    allowed = [c for c in cuts if all(abstains(n, c, sets[n][3])[0] <= args.target for n in sets)]
    rule = max(allowed) if allowed else 0.0
    cut = args.cut if args.cut is not None else rule
    print(f"fitted on {len(fit_y)} questions (of the even halves); score threshold {threshold}\n")
    print(
        "| cut | CLAPNQ odd: answerable abstain | unanswerable abstain | XQuAD-R odd: answerable abstain "
        "| XQuAD-R split, odd: near misses abstain |"
    )
    print("|---|---|---|---|---|")
    for c in [x for x in cuts if abs(x * 20 - round(x * 20)) < 1e-9] + sorted({rule, cut}):
        pos, neg = abstains("clapnq", c, ~sets["clapnq"][3])
        xq, _ = abstains("xquad", c, ~sets["xquad"][3])
        chosen = " (chosen)" if c == cut else " (the rule)" if c == rule else ""
        print(f"| {c:.2f}{chosen} | {pos:.3f} | {neg:.3f} | {xq:.3f} | {split_abstains(c):.3f} |")
    pos, neg = abstains("clapnq", cut, ~sets["clapnq"][3])
    xq, _ = abstains("xquad", cut, ~sets["xquad"][3])
    print(
        f"\nchosen cut {cut:.2f} (the rule, answerable abstention at most {args.target:.0%} on both even halves: "
        f"{rule:.2f}); "
        f"odd halves: CLAPNQ answerable {pos:.1%}, unanswerable {neg:.1%}; XQuAD-R {xq:.1%}"
    )
    print("\nfeature weights:")
    for name, w in zip(NEAR_MISS_FEATURES, coef):
        print(f"  {name:65} {w:+.3f}")
    print(f"  {'bias':65} {bias:+.3f}")
    shipped = ", ".join(f"{w:.3f}" for w in [*coef, bias])
    print(f"\nComposeSettings(near_miss_weights=({shipped}), near_miss_cut={cut:.2f})")


if __name__ == "__main__":
    main()
