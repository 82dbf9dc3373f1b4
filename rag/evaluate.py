"""`rag eval`: retrieval and answer quality on a question-answering set, measured through ask().

SQuAD-format JSON (such as XQuAD-R) and CLAPNQ-format JSONL are read by :mod:`rag.datasets`.
A temporary index is built from the file's own passages (or ``against`` names another index, to
measure abstention on questions that index cannot answer), every question goes through
:meth:`Assistant.ask`, and the report gives recall@1/5/10 and MRR of the gold passage, how often
the first (or any of the first three) citations hold the gold answer, abstention and latency.

A reader-question file (JSONL with ``kind`` and ``expect``, see bench/READER_QUESTIONS.md) is asked
of the articles in ``corpus`` (indexed in a temporary folder) or of the index ``against``; the
report gives the share answered right overall and per question kind, and lists the failures.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .answer import AnswerSettings, Assistant, check_mode
from .answer.question import KINDS
from .config import Settings
from .datasets import Question, ReaderQuestion, is_reader_file, load_clapnq, load_reader, load_squad, write_jsonl
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


@dataclass
class ReaderOutcome:
    question: ReaderQuestion
    right: bool
    abstained: bool
    kind_found: str  # the kind the answerer read the question as
    quotes: tuple[str, ...]
    ms: float


def judge(answer, question: ReaderQuestion) -> bool:
    """Is ``answer`` right for a reader question? Only its first three quotes count (see
    bench/READER_QUESTIONS.md): ``any`` one substring in them, ``all`` substrings each in one of
    them, none of the ``none`` substrings, or an abstention where ``abstain`` is expected."""
    if question.abstain:
        return answer.abstained
    quotes = [" ".join(c.quote.split()) for c in answer.citations[:3]]
    found = lambda part: any(" ".join(part.split()) in q for q in quotes)  # noqa: E731
    if any(found(part) for part in question.none):
        return False
    if question.all and not all(found(part) for part in question.all):
        return False
    return not question.any or any(found(part) for part in question.any)


def run_reader(
    assistant: Assistant, questions: Sequence[ReaderQuestion], progress: Callable[[int, int], None] | None = None
) -> list[ReaderOutcome]:
    outcomes = []
    for i, question in enumerate(questions, 1):
        answer = assistant.ask(question.question)
        outcomes.append(
            ReaderOutcome(
                question=question,
                right=judge(answer, question),
                abstained=answer.abstained,
                kind_found=answer.kind,
                quotes=tuple(c.quote for c in answer.citations),
                ms=answer.timings["total_ms"],
            )
        )
        if progress:
            progress(i, len(questions))
    return outcomes


def summarize_reader(outcomes: Sequence[ReaderOutcome]) -> dict[str, float | int]:
    """The share right overall and per kind (with counts), abstention where an answer was due, latency."""
    report: dict[str, float | int] = {"questions": len(outcomes)}
    report["right"] = sum(o.right for o in outcomes) / max(1, len(outcomes))
    kinds = sorted({o.question.kind for o in outcomes})
    for kind in kinds:
        group = [o for o in outcomes if o.question.kind == kind]
        report[f"right_{kind}"] = sum(o.right for o in group) / len(group)
        report[f"questions_{kind}"] = len(group)
    answerable = [o for o in outcomes if not o.question.abstain]
    if answerable:
        report["abstention_answerable"] = sum(o.abstained for o in answerable) / len(answerable)
    typed = [o for o in outcomes if o.question.kind in KINDS]
    if typed:
        report["kind_recognised"] = sum(o.kind_found == o.question.kind for o in typed) / len(typed)
    times = [o.ms for o in outcomes]
    if times:
        report["latency_p50_ms"] = float(np.percentile(times, 50))
        report["latency_p95_ms"] = float(np.percentile(times, 95))
    return report


def failures(outcomes: Sequence[ReaderOutcome]) -> list[str]:
    """One block per wrong answer: the question, what was expected and what was quoted."""
    lines = []
    for o in outcomes:
        if o.right:
            continue
        q = o.question
        expected = (
            "abstain"
            if q.abstain
            else "; ".join(
                f"{name}: {' | '.join(parts)}"
                for name, parts in (("any", q.any), ("all", q.all), ("none", q.none))
                if parts
            )
        )
        lines.append(f"{q.id} [{q.kind}, read as {o.kind_found}] {q.question}")
        lines.append(f"    expected {expected}")
        lines.extend(f"    quoted: {' '.join(quote.split())[:160]}" for quote in o.quotes[:3])
        if not o.quotes:
            lines.append("    abstained")
    return lines


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
                fell_back=answer.mode != assistant.settings.mode,
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
    corpus: Sequence[str | Path] = (),
    failures_out: list[str] | None = None,
) -> dict[str, float | int]:
    """Evaluate ask() on the questions in ``paths``; see the module docstring. For a reader-question
    file, the wrong answers are appended to ``failures_out`` when given."""
    settings = settings or Settings()
    answer_settings = answer_settings or AnswerSettings(mode=settings.answer_mode)
    if mode:
        answer_settings = replace(answer_settings, mode=check_mode(mode))
    if len(paths) == 1 and is_reader_file(paths[0]):
        questions = load_reader(paths[0])[:limit] if limit else load_reader(paths[0])
        if against is None and not corpus:
            raise RagError(
                f"{paths[0]} holds reader questions: give the articles with --corpus, or an index with --against"
            )

        def reader(index: Index) -> dict[str, float | int]:
            outcomes = run_reader(Assistant(index, answer_settings), questions, progress)
            if failures_out is not None:
                failures_out.extend(failures(outcomes))
            return summarize_reader(outcomes)

        if against is not None:
            with Index(settings.with_overrides(index_dir=against)) as index:
                return reader(index)
        with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
            with Index(settings.with_overrides(index_dir=Path(tmp) / "index"), create=True) as index:
                index.ingest(list(corpus))
                return reader(index)
    articles, questions = load(paths)
    questions = questions[:limit] if limit else questions
    if against is not None:
        with Index(settings.with_overrides(index_dir=against)) as index:
            return summarize(run(Assistant(index, answer_settings), questions, progress), against=True)
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        with Index(settings.with_overrides(index_dir=Path(tmp) / "index"), create=True) as index:
            index.ingest([write_jsonl(articles, Path(tmp) / "passages.jsonl")])
            return summarize(run(Assistant(index, answer_settings), questions, progress))
