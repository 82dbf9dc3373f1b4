"""`rag eval`: retrieval and answer quality on a question-answering set, measured through ask().

SQuAD-format JSON (such as XQuAD-R) and CLAPNQ-format JSONL are read by :mod:`rag.datasets`.
A temporary index is built from the file's own passages (or ``against`` names another index, to
measure abstention on questions that index cannot answer), every question goes through
:meth:`Assistant.ask`, and the report gives recall@1/5/10 and MRR of the gold passage, how often
the first (or any of the first three) citations hold the gold answer, abstention and latency.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .answer import AnswerSettings, Assistant, check_mode
from .config import Settings
from .datasets import Question, load_clapnq, load_squad, write_jsonl
from .errors import RagError
from .index import Index


@dataclass
class Outcome:
    question: Question
    gold_rank: int | None
    first_holds: bool
    any3_holds: bool
    abstained: bool
    ms: float
    citations: int = 0
    unsupported: int = 0  # generative: of those, left without a supporting citation
    checks: dict[str, int] | None = None
    fell_back: bool = False  # generative: the model failed and the extractive answer was given


def load(paths: Sequence[str | Path]):
    """Articles and questions from one SQuAD JSON file or one or more CLAPNQ JSONL files."""
    suffixes = {Path(p).suffix.lower() for p in paths}
    if suffixes == {".json"} and len(paths) == 1:
        return load_squad(paths[0])
    if suffixes == {".jsonl"}:
        return load_clapnq(*paths)
    raise RagError("give one SQuAD-format .json file, or CLAPNQ-format .jsonl files")


def _overlaps(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in spans)


def _holds(citation, question: Question) -> bool:
    """Does this citation carry the gold answer? See ``Question.match``."""
    if question.match == "answer":
        quote = " ".join(citation.quote.split())
        return any(" ".join(a.split()) in quote for a in question.answers if a)
    return citation.article_id == question.article_id and _overlaps((citation.start, citation.end), question.spans)


def _gold_rank(passages, question: Question) -> int | None:
    for rank, p in enumerate(passages, 1):
        if p.article_id != question.article_id:
            continue
        if not question.spans:
            return rank
        if any(p.start <= a and b <= p.end for a, b in question.spans) or _overlaps((p.start, p.end), question.spans):
            return rank
    return None


def run(
    assistant: Assistant, questions: Sequence[Question], progress: Callable[[int, int], None] | None = None
) -> list[Outcome]:
    outcomes = []
    for i, question in enumerate(questions, 1):
        answer = assistant.ask(question.question)
        passages = assistant.index.search(question.question, k=10)
        cited = answer.citations
        outcomes.append(
            Outcome(
                question=question,
                gold_rank=_gold_rank(passages, question),
                first_holds=bool(cited) and _holds(cited[0], question),
                any3_holds=any(_holds(c, question) for c in cited[:3]),
                abstained=answer.abstained,
                ms=answer.timings["total_ms"],
                citations=len(cited),
                unsupported=len(answer.unsupported),
                checks=answer.checks or None,
                fell_back=bool(answer.notice),
            )
        )
        if progress:
            progress(i, len(questions))
    return outcomes


def summarize(outcomes: Sequence[Outcome], against: bool = False) -> dict[str, float | int]:
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    times = [o.ms for o in outcomes]
    report: dict[str, float | int] = {"questions": len(outcomes)}
    if answerable and not against:
        n = len(answerable)
        ranks = [o.gold_rank for o in answerable]
        for k in (1, 5, 10):
            report[f"recall@{k}"] = sum(1 for r in ranks if r is not None and r <= k) / n
        report["mrr@10"] = sum(1 / r for r in ranks if r is not None) / n
        report["first_citation_holds_answer"] = sum(o.first_holds for o in answerable) / n
        report["top3_citations_hold_answer"] = sum(o.any3_holds for o in answerable) / n
        report["abstention_answerable"] = sum(o.abstained for o in answerable) / n
        answered = [o for o in answerable if not o.abstained]
        report["citations_per_answer"] = sum(o.citations for o in answered) / max(1, len(answered))
    if unanswerable and not against:
        report["abstention_unanswerable"] = sum(o.abstained for o in unanswerable) / len(unanswerable)
    if against:
        report["abstention"] = sum(o.abstained for o in outcomes) / max(1, len(outcomes))
    generated = [o for o in outcomes if o.checks is not None]
    if generated:
        sentences = sum(o.checks.get("sentences", 0) for o in generated)
        report["generated_answers"] = len(generated)
        report["generated_sentences"] = sentences
        report["sentences_with_supporting_citation"] = 1 - sum(o.unsupported for o in generated) / max(1, sentences)
        for key in ("checked", "kept", "replaced", "dropped", "added"):
            report[f"citations_{key}"] = sum(o.checks.get(key, 0) for o in generated)
    if any(o.fell_back for o in outcomes):
        report["fell_back_to_extractive"] = sum(o.fell_back for o in outcomes)
    if times:
        report["latency_p50_ms"] = float(np.percentile(times, 50))
        report["latency_p95_ms"] = float(np.percentile(times, 95))
    return report


def evaluate(
    paths: Sequence[str | Path],
    *,
    against: str | Path | None = None,
    limit: int | None = None,
    settings: Settings | None = None,
    answer_settings: AnswerSettings | None = None,
    mode: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float | int]:
    """Evaluate ask() on the questions in ``paths``; see the module docstring."""
    answer_settings = answer_settings or AnswerSettings.from_env()
    if mode:
        answer_settings = replace(answer_settings, mode=check_mode(mode))
    articles, questions = load(paths)
    questions = questions[:limit] if limit else questions
    settings = settings or Settings.from_env()
    if against is not None:
        with Index(settings.with_overrides(index_dir=against)) as index:
            return summarize(run(Assistant(index, answer_settings), questions, progress), against=True)
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        with Index(settings.with_overrides(index_dir=Path(tmp) / "index"), create=True) as index:
            index.ingest([write_jsonl(articles, Path(tmp) / "passages.jsonl")])
            return summarize(run(Assistant(index, answer_settings), questions, progress))
