"""Calibrate the recency prior (rag.answer.timeframe.RecencyPrior) on a dated archive.

The archive is the one of bench/dated_questions.py: XQuAD-R paragraphs (real text) published on days
drawn at random over 2023-2024, some of them updated twice. The questions here are those of the
paragraphs that were never updated (one article holds the answer, and other paragraphs of the same
topic, older and newer, compete with it), each asked on two days:

- "news": 0-14 days after its article came out, as a reader asks about this week's news (what news
  quizzes ask, and where a window of the last days helps most);
- "archive": 30 days after the whole archive, as a researcher asks about any time (here a preference
  for newer reports can only hurt);

and each in two wordings: as written ("mild" recency: no time words), and opened with "According to
the latest reports," ("strong": the reader asks for the newest).

A third group, "versions", is where the newest report is the answer: the questions of the updated
paragraphs (v1, v2, v3 with a figure changed), asked 5-60 days after v3, in an index where each
version is a story of its own (as when the grouping of copies misses an update, as it does for 16%
of them); right is v3's sentence with v3's figure.

For each question the sentences are ranked once without any prior; then each prior of a grid is added
to those scores (it is additive, so this equals ranking with it), and the top sentence is counted
right when it is from the right article and holds the answer. Printed: the share right for each
prior, per group and wording, and the pair chosen. The rule: the strong prior is stronger than the
mild one at every age (a greater weight, a half-life no shorter), as the product promises; the two
are chosen together, as the pair with the most questions right over "news" and "versions" of both
wordings, each prior losing at most one point on "archive" questions of its wording against none
(on a tie, the smaller weights, then the shorter half-lives). Printed beside it: the best pair
without that order, and what the order costs.

    .venv/bin/python bench/calibrate_recency.py [--questions 400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CACHE, SHARED  # noqa: E402
from dated_questions import build  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import AnswerSettings, Assistant, QuestionTime  # noqa: E402
from rag.answer.timeframe import RecencyPrior, as_of_day, read_time_frame  # noqa: E402
from rag.datasets import write_jsonl  # noqa: E402

LATEST = "According to the latest reports, "
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
HALF_LIVES = (7.0, 30.0, 90.0, 365.0)
LATE_ENOUGH = dt.date(2026, 1, 1)


def questions(count: int, rng: random.Random, versioned_titles: set[str]) -> list[tuple[str, str, str]]:
    """``(question, answer, article title)`` of paragraphs that were never updated, ``count`` at random."""
    squad = json.loads((SHARED / "xquad-r.en.json").read_text(encoding="utf-8"))
    found = []
    for entry in squad["data"]:
        for n, paragraph in enumerate(entry["paragraphs"], 1):
            title = f"{entry['title'].replace('_', ' ')} ({n})"
            if title in versioned_titles:
                continue
            for qa in paragraph["qas"]:
                question = qa["question"]
                if read_time_frame(question, LATE_ENOUGH).recency != "mild":  # names a time: not for this
                    continue
                found.append((question, qa["answers"][0]["text"], title))
    rng.shuffle(found)
    return found[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=400)
    args = parser.parse_args()
    articles, cases = build(random.Random(3))
    by_title = {a.title: a for a in articles}
    versioned = {a.title.removesuffix(", updated") for a in articles if a.title.endswith(", updated")}
    rng = random.Random(5)
    asked = questions(args.questions, rng, versioned)
    late = max(dt.date.fromisoformat(a.published) for a in articles) + dt.timedelta(days=30)
    # (day kind, wording) -> per question: [(score without prior, published, right?)] of its sentences
    ranked: dict[tuple[str, str], list[tuple[dt.date, list[tuple[float, str | None, bool]]]]] = {}
    none = RecencyPrior(strong_weight=0.0, mild_weight=0.0)
    cache = CACHE / f"recency-ranked-{args.questions}.json"
    if cache.exists():  # the rankings without a prior do not depend on the grid: kept between runs
        for key, rows in json.loads(cache.read_text()).items():
            ranked[tuple(key.split("/"))] = [(dt.date.fromisoformat(day), [tuple(r) for r in rs]) for day, rs in rows]
    if ("news", "mild") not in ranked:
        with tempfile.TemporaryDirectory() as tmp:
            with Index(Settings(index_dir=Path(tmp) / "index"), create=True) as index:
                index.ingest([write_jsonl(articles, Path(tmp) / "archive.jsonl")])
                assistant = Assistant(index, AnswerSettings(recency=none))
                for number, (question, answer, title) in enumerate(asked, 1):
                    right = by_title[title]
                    news_day = dt.date.fromisoformat(right.published) + dt.timedelta(days=rng.randrange(0, 15))
                    latest = LATEST + question[0].lower() + question[1:]
                    for day_kind, day in (("news", news_day), ("archive", late)):
                        for wording, text in (("mild", question), ("strong", latest)):
                            when = QuestionTime.read(text, None, day)
                            assert when.frame.recency == wording, (text, when.frame.recency)
                            evidence = assistant.rank_sentences(text, filters=when.filters, frame=when.frame)
                            rows = [
                                (c.score, c.passage.published, c.article_id == right.id and answer in c.text)
                                for c in evidence.sentences
                            ]
                            ranked.setdefault((day_kind, wording), []).append((as_of_day(day), rows))
                    if number % 50 == 0:
                        print(f"  {number}/{len(asked)} questions ranked", flush=True)
    if ("versions", "mild") not in ranked:
        rank_versions(articles, cases, ranked, none)
    CACHE.mkdir(exist_ok=True)
    rows = {"/".join(k): [(day.isoformat(), rs) for day, rs in v] for k, v in ranked.items()}
    cache.write_text(json.dumps(rows))

    grid = [(weight, half_life) for weight in WEIGHTS if weight for half_life in HALF_LIVES]
    right = {}  # (group, wording, (weight, half-life)) -> questions right
    for wording in ("mild", "strong"):
        wordings = "no time words" if wording == "mild" else repr(LATEST.strip())
        print(f"\n{wording} recency ({wordings}), top sentence right:")
        print("| weight | half-life (days) | news questions | archive questions | versions (newest right) |")
        print("|---|---|---|---|---|")
        for weight, half_life in [(0.0, HALF_LIVES[0]), *grid]:
            prior = RecencyPrior(
                strong_weight=weight, strong_half_life=half_life, mild_weight=weight, mild_half_life=half_life
            )
            for group in ("news", "archive", "versions"):
                right[group, wording, (weight, half_life)] = count_right(ranked, prior, (group, wording))
            shown = "-" if not weight else f"{half_life:g}"
            cells = " | ".join(
                f"{right[group, wording, (weight, half_life)] / len(ranked[group, wording]):.3f}"
                for group in ("news", "archive", "versions")
            )
            print(f"| {weight:g} | {shown} | {cells} |")

    def allowed(wording: str, prior: tuple[float, float]) -> bool:  # at most a point lost on "archive"
        lost = right["archive", wording, (0.0, HALF_LIVES[0])] - right["archive", wording, prior]
        return lost <= 0.01 * len(ranked["archive", wording])

    def gained(mild: tuple[float, float], strong: tuple[float, float]) -> int:
        return sum(right[group, "mild", mild] + right[group, "strong", strong] for group in ("news", "versions"))

    pairs = [(m, s) for m in grid for s in grid if allowed("mild", m) and allowed("strong", s)]
    tie = lambda pair: (-gained(*pair), pair[0][0], pair[1][0], pair[0][1], pair[1][1])  # noqa: E731
    ordered = min((p for p in pairs if p[1][0] > p[0][0] and p[1][1] >= p[0][1]), key=tie)
    unordered = min(pairs, key=tie)
    total = sum(len(ranked[group, wording]) for group in ("news", "versions") for wording in ("mild", "strong"))
    for label, (mild, strong) in (("chosen (strong above mild)", ordered), ("best without that order", unordered)):
        print(f"\n{label}: mild weight {mild[0]:g}, half-life {mild[1]:g} days; strong weight {strong[0]:g},", end=" ")
        print(f"half-life {strong[1]:g} days: {gained(mild, strong)} of {total} right")
        for wording, prior in (("mild", mild), ("strong", strong)):
            groups = ("news", "archive", "versions")
            shares = (f"{g} {right[g, wording, prior] / len(ranked[g, wording]):.3f}" for g in groups)
            print(f"  {wording}: " + ", ".join(shares))


def count_right(ranked, prior: RecencyPrior, key: tuple[str, str]) -> int:
    """How many questions of ``key`` have a right top sentence with ``prior`` added to the scores."""
    right = 0
    for as_of, rows in ranked[key]:
        if rows:
            best = max(rows, key=lambda r: r[0] + prior.boost(r[1], as_of, key[1]))
            right += best[2]
    return right


def rank_versions(articles, cases, ranked, none: RecencyPrior) -> None:
    """The "versions" group: each update its own story, the v3 questions asked after v3."""
    with tempfile.TemporaryDirectory() as tmp:
        with Index(Settings(index_dir=Path(tmp) / "index"), create=True) as index:
            index.ingest([write_jsonl(articles, Path(tmp) / "archive.jsonl")])
            with index.store._lock:  # every article a story of its own: no copy gives way to another
                index.store._db.execute("UPDATE stories SET story = article_id")
            assistant = Assistant(index, AnswerSettings(recency=none))
            for kind, question, day, right, figure in cases:
                if kind != "as of v3":
                    continue
                latest = LATEST + question[0].lower() + question[1:]
                for wording, text in (("mild", question), ("strong", latest)):
                    when = QuestionTime.read(text, None, day)
                    if when.frame.recency != wording:  # a question that names a time: not for this group
                        continue
                    evidence = assistant.rank_sentences(text, filters=when.filters, frame=when.frame)
                    rows = [
                        (c.score, c.passage.published, c.article_id == right.id and figure in c.text)
                        for c in evidence.sentences
                    ]
                    ranked.setdefault(("versions", wording), []).append((as_of_day(day), rows))


if __name__ == "__main__":
    main()
