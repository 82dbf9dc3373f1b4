"""Writes bench/reader_articles.jsonl: the articles the reader-question set is asked of.

One collection, so every question must find its article among all the others: the two sample news
articles bundled with the product (the North Korea article dated with its Associated Press
publication date, 2024-10-23, a Wednesday), the 48 XQuAD-R English articles (CC BY-SA 4.0,
google-research-datasets/lareqa) and the CLAPNQ dev passages (Apache-2.0, primeqa/clapnq). The
third-party texts are copied unchanged, with their licences named in bench/READER_QUESTIONS.md.

    .venv/bin/python bench/reader_corpus.py     # needs ../shared/bench; the output is committed
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import ROOT, SHARED  # noqa: E402

from rag.datasets import load_clapnq, load_squad  # noqa: E402
from rag.parse import parse_file  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "reader_articles.jsonl"
KNOWN_DATES = {"Officials Say North Korea Has Sent Troops to Russia": "2024-10-23"}


def main() -> None:
    sample = parse_file(ROOT / "data" / "articles" / "000_9df642e36ad14cf8.txt").articles
    sample = [
        replace(a, published=next((d for t, d in KNOWN_DATES.items() if a.title.startswith(t)), a.published))
        for a in sample
    ]
    squad, _ = load_squad(SHARED / "xquad-r.en.json")
    clapnq, _ = load_clapnq(SHARED / "clapnq_dev_answerable.jsonl", SHARED / "clapnq_dev_unanswerable.jsonl")
    with OUTPUT.open("w", encoding="utf-8") as out:
        for article, corpus in [
            *((a, "sample") for a in sample),
            *((a, "xquad-r") for a in squad),
            *((a, "clapnq") for a in clapnq),
        ]:
            record = {"title": article.title, "text": article.text, "source": corpus}
            if article.published:
                record["published"] = article.published
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {OUTPUT}: {len(sample)} sample, {len(squad)} XQuAD-R, {len(clapnq)} CLAPNQ articles")


if __name__ == "__main__":
    main()
