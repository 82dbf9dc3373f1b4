"""Readers for question-answering evaluation sets (SQuAD JSON and CLAPNQ JSONL).

Each returns the passages as Articles and the questions with their gold evidence expressed as
character spans in those articles, so retrieval and answers can be scored by offsets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError
from .types import Article


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    article_id: str
    answers: tuple[str, ...]  # gold answer strings (SQuAD), or the long answer (CLAPNQ)
    spans: tuple[tuple[int, int], ...]  # gold evidence spans in the article text
    answerable: bool = True
    # how a citation is judged: "answer" = the quote contains a gold answer string (SQuAD);
    # "sentence" = the quote is, or overlaps, a gold evidence sentence (CLAPNQ)
    match: str = "answer"


def load_squad(path: str | Path) -> tuple[list[Article], list[Question]]:
    """SQuAD v1.1 layout: each entry of ``data`` becomes one article of its paragraphs."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RagError(f"{path} is not a SQuAD-format JSON file ({exc})") from exc
    articles: list[Article] = []
    questions: list[Question] = []
    for entry in data:
        texts, offsets, position = [], [], 0
        for paragraph in entry["paragraphs"]:
            offsets.append(position)
            texts.append(paragraph["context"])
            position += len(paragraph["context"]) + 2
        title = entry.get("title", "").replace("_", " ")
        article = Article.create(title, "\n\n".join(texts), source=Path(path).name)
        articles.append(article)
        for paragraph, base in zip(entry["paragraphs"], offsets):
            for qa in paragraph["qas"]:
                spans = tuple(
                    (base + a["answer_start"], base + a["answer_start"] + len(a["text"])) for a in qa["answers"]
                )
                questions.append(
                    Question(
                        id=str(qa["id"]),
                        question=qa["question"],
                        article_id=article.id,
                        answers=tuple(a["text"] for a in qa["answers"]),
                        spans=spans,
                    )
                )
    return articles, questions


def load_clapnq(*paths: str | Path) -> tuple[list[Article], list[Question]]:
    """CLAPNQ JSONL: one passage per line; gold spans are the ``selected_sentences``."""
    articles: dict[str, Article] = {}
    questions: list[Question] = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                passage = record["passages"][0]
                output = record["output"][0]
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise RagError(f"{path} line {number} is not a CLAPNQ record ({exc})") from exc
            text = passage["text"].strip()
            article = Article.create(passage["title"], text, source=Path(path).name)
            articles.setdefault(article.id, article)
            spans = []
            for sentence in output.get("selected_sentences") or []:
                at = text.find(sentence.strip())
                if at >= 0:
                    spans.append((at, at + len(sentence.strip())))
            answer = output.get("answer")
            questions.append(
                Question(
                    id=str(record["id"]),
                    question=record["input"],
                    article_id=article.id,
                    answers=(answer,) if answer else (),
                    spans=tuple(spans),
                    answerable=bool(answer),
                    match="sentence",
                )
            )
    return list(articles.values()), questions


@dataclass(frozen=True)
class ReaderQuestion:
    """A question of a reader-question set (bench/READER_QUESTIONS.md) and what a right answer quotes."""

    id: str
    kind: str
    question: str
    title: str = ""
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    abstain: bool = False


def is_reader_file(path: str | Path) -> bool:
    """A JSONL file whose first record has a ``kind`` and an ``expect``: a reader-question set."""
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        record = json.loads(first) if first else {}
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "kind" in record and "expect" in record


def load_reader(path: str | Path) -> list[ReaderQuestion]:
    """The questions of a reader-question set; a RagError names the line that is wrong."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            expect = record["expect"]
            if expect == "abstain":
                expected = {"abstain": True}
            elif isinstance(expect, dict) and (expect.get("any") or expect.get("all")):
                if not all(isinstance(expect.get(k, []), list) for k in ("any", "all", "none")):
                    raise ValueError('"any", "all" and "none" must be lists of strings')
                expected = {k: tuple(expect.get(k) or ()) for k in ("any", "all", "none")}
            else:
                raise ValueError('"expect" must be "abstain" or an object with "any" or "all"')
            questions.append(
                ReaderQuestion(
                    id=str(record["id"]),
                    kind=str(record["kind"]),
                    question=str(record["question"]),
                    title=str(record.get("title", "")),
                    **expected,
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RagError(f"{path} line {number} is not a reader question ({exc})") from exc
    return questions


def write_jsonl(articles: list[Article], path: str | Path) -> Path:
    """Write articles as JSON Lines that ``rag ingest`` reads back to the same ids (with their
    source, URL and publication date when they have them)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as out:
        for a in articles:
            record = {"title": a.title, "text": a.text, "source": a.source}
            record.update({k: v for k, v in (("url", a.url), ("published", a.published)) if v})
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
