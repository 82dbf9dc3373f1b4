"""Dated questions: the right version of a story for the day a question is asked and the time it names.

A dated archive is built from XQuAD-R (real Wikipedia text): every paragraph is an article with a
publication date drawn at random (seeded) in 2023-2024. Every paragraph that answers a question
with a figure or a year is also published twice more, as updates: the same text with that figure
changed, 30-90 days apart (v1, v2, v3: one story told three times, the figure differing). Each such
question is then asked four ways:

- as of a day between v1 and v2: only v1 was published; the right article is v1;
- as of a day between v2 and v3: the right article is v2 (the newest by then);
- as of a day after v3: v3;
- as of a day after v3, with the month of v2 in the question ("In March 2024, how many ...?"): v2;

and five more ways, with the relative time words of news questions, each naming v2's day (the right
article is v2):

- "Yesterday, ...", as of the day after v2;
- "On Tuesday, ..." (v2's weekday), as of 2-6 days after v2;
- "This week, ...", as of a day of v2's week (Monday to Sunday) from v2 on;
- "Last month, ...", as of a day of the month after v2's (left out when v3 came out by then within a
  week of that month's end, as a report of last month's news could be v3);
- "Two months ago, ...", as of 55-65 days after v2, when v3 may be out already.

Reported: the share of questions whose right article is among the top 5 passages, and whose first
quote is from the right article and gives its figure; with the product's as-of date and time words
("dated"), and with every question asked as of a day after the whole archive and its time words
ignored ("undated", what a search without time does).

    .venv/bin/python bench/dated_questions.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SHARED  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import Assistant, QuestionTime  # noqa: E402
from rag.datasets import write_jsonl  # noqa: E402
from rag.types import Article  # noqa: E402

FIGURE = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
FIRST_DAY = dt.date(2023, 1, 1)


def changed(answer: str, step: int) -> str:
    """The figure of a later version: a year moves by ``step``, another number grows."""
    if re.fullmatch(r"1\d{3}|20\d\d", answer):
        return str(int(answer) + step)
    number = float(answer.replace(",", ""))
    value = number + step * max(1, round(number * 0.1))
    text = f"{value:,.0f}" if "," in answer else f"{value:.0f}"
    return text


RELATIVE = ("yesterday", "on a weekday", "this week", "last month", "two months ago")


def build(rng: random.Random):
    squad = json.loads((SHARED / "xquad-r.en.json").read_text(encoding="utf-8"))
    articles, cases = [], []
    relative = random.Random(7)  # the days of the relative-word questions: the other draws stay as they were
    for entry in squad["data"]:
        title = entry["title"].replace("_", " ")
        for n, paragraph in enumerate(entry["paragraphs"], 1):
            text = paragraph["context"]
            first = FIRST_DAY + dt.timedelta(days=rng.randrange(0, 540))
            articles.append(Article.create(f"{title} ({n})", text, published=first.isoformat(), source="Archive"))
            asked = [
                qa
                for qa in paragraph["qas"]
                if FIGURE.fullmatch(qa["answers"][0]["text"]) and text.count(qa["answers"][0]["text"]) == 1
            ]
            if not asked:
                continue
            days = [first]
            versions = [articles[-1]]
            for step in (1, 2):
                days.append(days[-1] + dt.timedelta(days=rng.randrange(30, 91)))
                updated = text
                for qa in asked:
                    old = qa["answers"][0]["text"]
                    updated = updated.replace(old, changed(old, step))
                versions.append(
                    Article.create(f"{title} ({n}), updated", updated, published=days[-1].isoformat(), source="Archive")
                )
            articles += versions[1:]
            for qa in asked:
                figures = [qa["answers"][0]["text"], *(changed(qa["answers"][0]["text"], s) for s in (1, 2))]
                question = qa["question"]
                between = lambda a, b: a + dt.timedelta(days=rng.randrange(1, (b - a).days))  # noqa: E731
                after = days[2] + dt.timedelta(days=rng.randrange(5, 60))
                month = days[1].strftime("%B %Y")
                lowered = question[0].lower() + question[1:]
                cases += [
                    ("as of v1", question, between(days[0], days[1]), versions[0], figures[0]),
                    ("as of v2", question, between(days[1], days[2]), versions[1], figures[1]),
                    ("as of v3", question, after, versions[2], figures[2]),
                    ("month of v2 named", f"In {month}, {lowered}", after, versions[1], figures[1]),
                ]
                cases += relative_cases(relative, question, days, versions[1], figures[1])
    return articles, cases


def relative_cases(rng: random.Random, question: str, days: list[dt.date], right: Article, figure: str) -> list:
    """The question asked with relative time words that name v2's day (``days``: v1, v2, v3)."""
    v2, v3 = days[1], days[2]
    lowered = question[0].lower() + question[1:]
    next_month = (v2.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    month_end = next_month - dt.timedelta(days=1)
    in_next_month = next_month + dt.timedelta(days=rng.randrange(0, 28))
    found = [
        ("yesterday", f"Yesterday, {lowered}", v2 + dt.timedelta(days=1)),
        ("on a weekday", f"On {v2.strftime('%A')}, {lowered}", v2 + dt.timedelta(days=rng.randrange(2, 7))),
        ("this week", f"This week, {lowered}", v2 + dt.timedelta(days=rng.randrange(0, 7 - v2.weekday()))),
        ("two months ago", f"Two months ago, {lowered}", v2 + dt.timedelta(days=rng.randrange(55, 66))),
    ]
    if not (v3 <= in_next_month and v3 <= month_end + dt.timedelta(days=7)):
        found.insert(3, ("last month", f"Last month, {lowered}", in_next_month))
    return [(kind, asked, day, right, figure) for kind, asked, day in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="print each question missed")
    parser.add_argument("--reader-sentences", type=int, default=Settings().reader_sentences,
                        help="sentences the reader reads (0: without the reader)")
    args = parser.parse_args()
    rng = random.Random(3)
    articles, cases = build(rng)
    late = max(dt.date.fromisoformat(a.published) for a in articles) + dt.timedelta(days=30)
    print(f"{len(articles)} articles, {len(cases)} questions")
    results = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", reader_sentences=args.reader_sentences)
        with Index(settings, create=True) as index:
            index.ingest([write_jsonl(articles, Path(tmp) / "archive.jsonl")])
            assistant = Assistant(index)
            for kind, question, as_of, right, figure in cases:
                for setting, day, asked in (("dated", as_of, question), ("undated", late, strip_time(question))):
                    when = QuestionTime.read(asked, None, day)
                    # what ask() retrieves first: in the days the question names, or, when nothing
                    # published then answers ("in 1901" of an archive of 2023), in any day up to as-of
                    passages = assistant.evidence(asked, None, 5, when)[0].passages[:5]
                    answer = assistant.ask(asked, as_of=day)
                    first = answer.citations[0] if answer.citations else None
                    if args.misses and setting == "dated" and not any(p.article_id == right.id for p in passages):
                        found = "; ".join(f"{p.title} ({p.published})" for p in passages)
                        print(f"MISS [{kind}] as of {day}: {asked} -> {right.title} ({right.published}); got {found}")
                    results[setting][kind].append(
                        (
                            any(p.article_id == right.id for p in passages),
                            first is not None and first.article_id == right.id and figure in first.quote,
                        )
                    )
    print("| questions | n | dated: right article in top 5 | first quote right | undated: top 5 | first quote |")
    print("|---|---|---|---|---|---|")
    for kind in ("as of v1", "as of v2", "as of v3", "month of v2 named", *RELATIVE):
        d, u = results["dated"][kind], results["undated"][kind]
        print(
            f"| {kind} | {len(d)} | {share(d, 0):.3f} | {share(d, 1):.3f} | {share(u, 0):.3f} | {share(u, 1):.3f} |"
        )
    d = [r for rows in results["dated"].values() for r in rows]
    u = [r for rows in results["undated"].values() for r in rows]
    print(f"| all | {len(d)} | {share(d, 0):.3f} | {share(d, 1):.3f} | {share(u, 0):.3f} | {share(u, 1):.3f} |")


def share(rows, column: int) -> float:
    return sum(r[column] for r in rows) / len(rows) if rows else 0.0


def strip_time(question: str) -> str:
    opening = r"^(?:In [A-Z][a-z]+ \d{4}|Yesterday|On [A-Z][a-z]+day|This week|Last month|Two months ago), (\w)"
    return re.sub(opening, lambda m: m.group(1).upper(), question)


if __name__ == "__main__":
    main()
