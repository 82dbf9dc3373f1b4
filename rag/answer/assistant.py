"""The Assistant: answers a question from one index by quoting the article sentences that answer it.

The answer is never written, only quoted (or, in the generative mode, written by a language model
and every citation checked). Asking goes: what the question asks (:mod:`rag.answer.question`) -> passages
(:mod:`rag.retrieve`, plus the statements of the person asked about) -> their sentences scored
(:mod:`rag.answer.scoring`) -> the quotes chosen by the question's kind, or an abstention (:mod:`rag.answer.compose`)
-> an :class:`~rag.types.Answer` whose citations point at exact places in their articles.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import MODES, LLMSettings, Settings
from ..errors import RagError
from ..index import Index, open_index
from ..retrieve import fuse
from ..text import content_terms
from ..types import Answer, Citation, DateMention, Filters, Passage, day
from .clues import content_words_of, figures
from .compose import (
    NO_ANSWER,
    READ_KINDS,
    ComposeSettings,
    adjust_for_kind,
    answer_text,
    compose,
    make_citation,
)
from .generate import (
    LLMClient,
    LLMError,
    SupportSettings,
    answer_messages,
    check_claims,
    clean_condensed,
    condense_messages,
    is_cannot_answer,
    split_claims,
)
from .question import (
    MAX_ANSWER_SENTENCES,
    MAX_PASSAGES,
    check_count,
    check_history,
    check_question,
    parse_question,
    previous_questions,
    search_query,
)
from .reader import shared_reader
from .scoring import Evidence, ScoredSentence, ScoreWeights, SentenceScorer
from .timeframe import RecencyPrior, TimeFrame, as_of_day, publication_window, read_time_frame

log = logging.getLogger(__name__)

__all__ = ["NO_ANSWER", "Answer", "AnswerSettings", "Assistant", "Citation", "ask"]


@dataclass(frozen=True)
class AnswerSettings:
    passages: int = 8  # passages retrieved
    candidate_passages: int = 8  # passages whose sentences are candidates
    scored_sentences: int = 12  # candidates embedded and fully scored: the best by the embedding-free part
    lexical_sentences: int = 2  # and the best by shared words alone
    # The weights of the sentence score, picked by a grid on CLAPNQ dev alone (bench/calibrate.py), so
    # XQuAD-R is held out for them. No rule looks at individual questions.
    weights: ScoreWeights = ScoreWeights()
    titled_sentences: bool = True  # embed each candidate sentence after its article's title
    # how the quotes are chosen, and when the answer abstains (threshold, near misses)
    compose: ComposeSettings = ComposeSettings()
    speaker_statements: int = 8  # statements of the person asked about (or dated sentences) scored fully
    figure_sentences: int = 6  # for "how many": sentences with a figure for the thing counted, scored fully
    mode: str = "extractive"  # "generative" asks a language model (rag.answer.generate), citations checked
    llm_passages: int = 4  # passages given to the language model
    support: SupportSettings = SupportSettings()  # when a generated sentence counts as supported
    recency: RecencyPrior = RecencyPrior()  # how much newer reports are preferred (rag.answer.timeframe)
    # the trained reader (rag.answer.reader) reads this many of the best sentences: those it reads as
    # answering come first, the answer words marked, and when it reads none as answering the answer
    # abstains; 0: no reader
    reader_sentences: int = 5

    def __post_init__(self) -> None:
        check_mode(self.mode)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise RagError(f"unknown answer mode {mode!r}: use one of {', '.join(MODES)} (RAG_ANSWER_MODE, --mode)")
    return mode


@dataclass(frozen=True)
class QuestionTime:
    """The time of one question: the as-of day, the days its words ask about, and the filters that
    follow. ``framed``: the question's days are searched (an explicit date filter always wins, and a
    library of undated articles has no days to search); ``widened``: nothing in those days answered,
    so the articles of any day up to the as-of day were searched."""

    as_of: dt.date
    frame: TimeFrame
    given: Filters
    framed: bool
    widened: bool = False

    @classmethod
    def read(cls, question: str, filters: Filters | None, as_of: str | dt.date | None) -> QuestionTime:
        given = filters or Filters()
        day = as_of_day(as_of if as_of is not None else given.as_of)
        if given.as_of:
            day = min(day, as_of_day(given.as_of))
        frame = read_time_frame(question, day)
        explicit = bool(given.date_from or given.date_to)
        return cls(day, frame, given, framed=bool(frame) and not explicit)

    @property
    def filters(self) -> Filters:
        filters = replace(self.given, as_of=self.as_of.isoformat())
        if self.framed:
            date_from, date_to = publication_window(self.frame, self.as_of)
            filters = replace(filters, date_from=date_from, date_to=date_to)
        return filters

    @property
    def used(self) -> str:
        """The range the answer searched, for the reader ("" when none)."""
        return self.frame.describe() if self.framed else ""

    @property
    def notice(self) -> str:
        if self.widened:
            return (
                f"Nothing published {self.frame.describe()} answers this; "
                f"the quotes below are from articles of other dates, up to {self.as_of.isoformat()}."
            )
        return ""


class Assistant:
    """Answers questions from one open index; keep it to ask many questions.

    ``Assistant("embeddings/")`` opens the index in that folder; an open :class:`Index` works too.
    """

    def __init__(
        self,
        index: Index | str | Path | None = None,
        settings: AnswerSettings | None = None,
        llm: LLMSettings | LLMClient | None = None,
    ):
        self.index = index if isinstance(index, Index) else open_index(index)
        self.settings = settings or AnswerSettings(
            mode=self.index.settings.answer_mode, reader_sentences=self.index.settings.reader_sentences
        )
        self._llm = llm
        self.scorer = SentenceScorer(
            self.index, self.settings.weights, self.settings.scored_sentences, self.settings.lexical_sentences
        )
        self.scorer.titled_sentences = self.settings.titled_sentences
        self.reader = shared_reader() if self.settings.reader_sentences > 0 else None
        if self.reader is not None and not self.settings.compose.reader_cut:
            compose_settings = replace(self.settings.compose, reader_cut=self.reader.cut)
            self.settings = replace(self.settings, compose=compose_settings)

    def rank_sentences(
        self,
        question: str,
        *,
        history: Sequence[object] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        frame: TimeFrame | None = None,
    ) -> Evidence:
        """Retrieve passages for ``question`` (and the statements of the person it asks about) and
        score their sentences, best first. ``frame``: the time the question asks about (its days are
        looked for in the sentences' resolved dates; newer reports are preferred as it says)."""
        question = check_question(question)
        parsed = parse_question(question)
        if frame and frame.date_from and frame.date_to and not parsed.dates:
            parsed = replace(parsed, dates=(DateMention(frame.start, frame.end, frame.date_from, frame.date_to),))
        query = search_query(question, history)
        depth = max(1, int(k or self.settings.passages))
        # "how many": reports that differ may sit further down, so figures are looked for twice as deep
        wide = 2 * depth if parsed.kind == "quantity" and parsed.thing else depth
        passages = self.index.search(query, k=wide, filters=filters)
        passages, further = passages[:depth], passages[depth:]
        if query != question:  # a follow-up: also rank by the question alone, and fuse
            alone = self.index.search(question, k=depth, filters=filters)
            by_id = {p.chunk_id: p for p in [*passages, *alone]}
            order = fuse([[p.chunk_id for p in passages], [p.chunk_id for p in alone]])
            passages = [by_id[i] for i, _ in order[:depth]]
        if query != question and parsed.kind in ("attribution", "reaction") and not parsed.who:
            earlier = parse_question(previous_questions(history)[-1])  # "what did he say?" after a question
            parsed = replace(parsed, who=earlier.who or next(iter(earlier.entities), ""))
        found = []  # the statements of the person asked about, and sentences that name the date asked about
        if parsed.who and parsed.kind in ("attribution", "reaction"):
            found = self.index.statements(parsed.who, filters, 4 * self.settings.speaker_statements)
        for asked in parsed.dates:  # "on Wednesday" of an article of that week included
            found += self.index.dated(asked.date_from, asked.date_to, filters, 4 * self.settings.speaker_statements)
        candidates = self.scorer.candidates(passages[: self.settings.candidate_passages])
        known = {(c.article_id, c.start, c.end): c for c in candidates}
        # they are scored fully wherever they were found: the ones sharing most words with the question,
        # and when it asks about more than the person and the days (a topic), only ones that share a word
        # of it, in the sentence or its article's title (a statement in a report on the topic may not
        # name it): a statement or a dated sentence on something else is not worth its model pass
        found_sentences = self.scorer.candidates([], found, extra_rank=len(passages) + 1)
        topic = set(content_terms(" ".join(parsed.focus))) - set(
            content_terms(" ".join([parsed.who, *(parsed.text[d.start : d.end] for d in parsed.dates)]))
        )
        shared = {
            id(c): len(topic & set(content_terms(c.text))) + 0.5 * len(topic & set(content_terms(c.passage.title)))
            for c in found_sentences
        }
        found_sentences.sort(key=lambda c: -shared[id(c)])
        forced = [
            known.get((c.article_id, c.start, c.end), c)
            for c in found_sentences[: self.settings.speaker_statements]
            if shared[id(c)] or not topic
        ]
        candidates += [c for c in forced if (c.article_id, c.start, c.end) not in known]
        if parsed.kind == "quantity" and parsed.thing:  # and so are sentences with a figure for the thing
            more = [c for c in self.scorer.candidates(further) if (c.article_id, c.start, c.end) not in known]
            # the words that may say what a figure counts, embedded in one pass rather than one by one
            with_figures = [c.text for c in [*candidates, *more] if any(ch.isdigit() for ch in c.text)]
            self.scorer.learn_words([parsed.thing, *(w for text in with_figures for w in content_words_of(text))])
            counted = [c for c in [*candidates, *more] if figures(c, parsed.thing, self.scorer, self.settings.compose)]
            forced += counted[: self.settings.figure_sentences]
            candidates += [c for c in counted[: self.settings.figure_sentences] if c in more]
        scored = self.scorer.score(query, parsed, candidates, forced) if candidates else []
        if frame is not None and filters is not None and filters.as_of:
            as_of = as_of_day(filters.as_of)
            for c in scored:
                c.score += self.settings.recency.boost(c.passage.published, as_of, frame.recency)
        ranked = sorted(scored, key=lambda c: -c.score)
        adjust_for_kind(parsed, ranked, self.settings.compose)
        ranked.sort(key=lambda c: -c.score)
        # the reader reads a question whose answer is a few words (the kinds it was trained on), when the
        # best sentence scores high enough to be quoted at all: a why, a yes or no, or what someone said
        # is answered by whole sentences, and a question under the threshold abstains anyway
        if parsed.kind in READ_KINDS and ranked and ranked[0].score >= self.settings.compose.threshold:
            self.read(question, ranked)
        return Evidence(query, passages, ranked, parsed)

    def read(self, question: str, ranked: list[ScoredSentence], limit: int | None = None) -> None:
        """The reader reads the best sentences (``limit``, default ``reader_sentences``; each with its title
        and the sentence before it): each is given the probability that it answers and its answer words.
        The order stays the scorer's: putting the reader's choice first measured worse on the
        reader-question set (BENCHMARKS, "The reader")."""
        best = ranked[: limit or self.settings.reader_sentences] if self.reader is not None else []
        if not best:
            return
        passages = []
        for c in best:
            text, facts = self.scorer.article(c.article_id)
            at = bisect.bisect_right([f.start for f in facts], c.start) - 1
            before = text[facts[at - 1].start : facts[at - 1].end] if 0 < at < len(facts) else ""
            passages.append((c.passage.title, c.text, before))
        for c, reading in zip(best, self.reader.read(question, passages)):
            c.answers = reading.probability
            if reading.span is not None:
                lead = len(c.text) - len(c.text.lstrip())
                c.answer_span = (c.start + lead + reading.span[0], c.start + lead + reading.span[1])

    def warm_up(self) -> None:
        """Load the model and run one question through every step, so that the first user's question is
        answered as fast as the rest (an app calls this before it says it is serving)."""
        try:
            self.ask("What is the latest news?")
            if self.reader is not None:  # the question above may not need it
                self.reader.read("What is the latest news?", [("News", "This is the latest news.", "")])
        except RagError as exc:  # an index that cannot be read now says so on the first question instead
            log.warning("warming up: %s", exc)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[object] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        max_sentences: int | None = None,
        mode: str | None = None,
        as_of: str | dt.date | None = None,
    ) -> Answer:
        """Answer ``question`` from the index, quoting and citing the sentences used, as of the day
        ``as_of`` (default today): nothing published after it is read, and the question's time words
        ("this week", "in June") are days counted back from it."""
        *_, answer = self.stream(
            question, history=history, k=k, filters=filters, max_sentences=max_sentences, mode=mode, as_of=as_of
        )
        return answer  # the stream always ends with the Answer

    def stream(
        self,
        question: str,
        *,
        history: Sequence[object] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        max_sentences: int | None = None,
        mode: str | None = None,
        as_of: str | dt.date | None = None,
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, for a chat: a generative answer yields its text as the model writes it
        (strings), then the checked :class:`Answer`; an extractive one yields only the Answer."""
        started = time.perf_counter()
        question = check_question(question)
        history = check_history(history)
        if k is not None:
            k = check_count(k, "k", MAX_PASSAGES, "passages retrieved")
        s = self.settings
        if max_sentences is not None:
            max_sentences = check_count(max_sentences, "sentences", MAX_ANSWER_SENTENCES, "most sentences quoted")
            s = replace(s, compose=replace(s.compose, max_sentences=max_sentences))
        mode = check_mode(mode or s.mode)
        when = QuestionTime.read(question, filters, as_of)
        with self.index.store.guard():
            if when.framed and self.index.store.latest_published() is None:  # no dated article to narrow to
                when = replace(when, framed=False)
            if mode == "extractive":
                yield self._extractive(question, history, k, when, s, started)
            else:
                yield from self._generative(question, history, k, when, s, started)

    def evidence(self, question: str, history, k, when: QuestionTime) -> tuple[Evidence, QuestionTime]:
        """The evidence an answer is made of: within the days the question asks about; when nothing
        there answers it, from any day up to the as-of date (the QuestionTime returned says so)."""
        evidence = self.rank_sentences(question, history=history, k=k, filters=when.filters, frame=when.frame)
        if when.framed and not self._answers(evidence):
            wider = replace(when, framed=False, widened=True)
            return self.rank_sentences(question, history=history, k=k, filters=wider.filters, frame=when.frame), wider
        return evidence, when

    def _answers(self, evidence: Evidence) -> bool:
        return bool(compose(evidence.question, evidence.sentences, self.scorer, self.settings.compose).chosen)

    def _extractive(
        self, question, history, k, when: QuestionTime, s: AnswerSettings, started: float, **extra
    ) -> Answer:
        evidence = extra.pop("evidence", None)
        if evidence is None:
            evidence, when = self.evidence(question, history, k, when)
        notice = " ".join(x for x in (when.notice, extra.pop("notice", "")) if x)
        parsed = evidence.question or parse_question(question)
        ranked = evidence.sentences
        composition = compose(parsed, ranked, self.scorer, s.compose)
        confidence = composition.chosen[0].score if composition.chosen else (ranked[0].score if ranked else 0.0)
        if composition.chosen:
            citations = self._citations(composition.chosen, when.as_of, composition.values)
            closest: tuple[Citation, ...] = ()
            text = answer_text(parsed, composition, citations)
        else:
            citations, closest, text = (), self._closest(ranked, when.as_of), NO_ANSWER
        return Answer(
            question=question,
            text=text,
            citations=citations,
            abstained=not citations,
            closest=closest,
            search_query=evidence.query,
            confidence=round(confidence, 4),
            timings={"total_ms": round((time.perf_counter() - started) * 1000, 1)},
            kind=parsed.kind,
            differ=composition.differ,
            unstated=composition.unstated,
            mentioned=composition.mentioned,
            notice=notice,
            as_of=when.as_of.isoformat(),
            time_frame=when.used,
            **extra,
        )

    def _citations(
        self,
        chosen: Sequence[ScoredSentence],
        as_of: dt.date,
        values: Mapping[int, str] | None = None,
        first: int = 1,
    ) -> tuple[Citation, ...]:
        """The citations of the chosen sentences, numbered from ``first``, each with the other articles of
        its story published by ``as_of`` (looked up for all of them at once); ``values`` by position."""
        others = self.index.also_reported([c.article_id for c in chosen], as_of)
        citations = []
        for n, candidate in enumerate(chosen):
            text, facts = self.scorer.article(candidate.article_id)
            also = tuple(
                f"{m.source or m.title}" + (f" ({day(m.published)})" if m.published else "")
                for m in others.get(candidate.article_id, [])
            )
            citation = make_citation(first + n, candidate, text, facts, (values or {}).get(n, ""))
            citations.append(replace(citation, also=also))
        return tuple(citations)

    def _closest(self, ranked: list[ScoredSentence], as_of: dt.date) -> tuple[Citation, ...]:
        """The nearest sentences, shown when an answer abstains."""
        return self._citations(ranked[:3], as_of)

    # generative answers -----------------------------------------------------------------------

    @property
    def llm(self) -> LLMClient:
        if not isinstance(self._llm, LLMClient):
            self._llm = LLMClient(self._llm or self.index.settings.llm)
        return self._llm

    def _standalone(self, question: str, history: Sequence[object] | None) -> str:
        """A follow-up rewritten by the model as a standalone question (the search query if it fails)."""
        earlier = previous_questions(history)
        fallback = search_query(question, history)
        if not earlier:
            return question
        try:
            reply = self.llm.complete(condense_messages(question, earlier), max_tokens=60)
        except LLMError:
            return fallback
        return clean_condensed(reply, fallback)

    def _generative(
        self, question, history, k, when: QuestionTime, s: AnswerSettings, started: float
    ) -> Iterator[str | Answer]:
        standalone = self._standalone(question, history)
        evidence, when = self.evidence(standalone, None, k, when)
        ranked = evidence.sentences
        confidence = ranked[0].score if ranked else 0.0
        composition = compose(evidence.question or parse_question(standalone), ranked, self.scorer, s.compose)
        if not composition.chosen:  # too weak to answer from: abstain without asking the model
            yield self._extractive(question, None, k, when, s, started, evidence=evidence, mode="generative")
            return
        # the model reads the same evidence the extractive answer quotes first, then the best passages
        chosen = [c.passage for c in composition.chosen]
        passages = list({p.chunk_id: p for p in [*chosen, *evidence.passages]}.values())[: s.llm_passages]
        reply = ""
        try:
            for piece in self.llm.stream(answer_messages(standalone, passages)):
                reply += piece
                yield piece
            if not is_cannot_answer(reply) and not split_claims(reply):
                raise LLMError(f"the language model at {self.llm.settings.url} returned no usable sentences")
        except LLMError as exc:
            notice = f"Showing the extractive answer: {exc}."
            yield self._extractive(question, None, k, when, s, started, evidence=evidence, notice=notice)
            return
        llm_ms = round((time.perf_counter() - started) * 1000, 1)
        if is_cannot_answer(reply):
            closest = self._closest(ranked, when.as_of)
            yield Answer(
                question=question,
                text=NO_ANSWER,
                citations=(),
                abstained=True,
                closest=closest,
                search_query=evidence.query,
                confidence=round(confidence, 4),
                mode="generative",
                timings={"llm_ms": llm_ms, "total_ms": llm_ms},
                notice=when.notice,
                as_of=when.as_of.isoformat(),
                time_frame=when.used,
            )
            return
        claims = split_claims(reply)
        report = check_claims(claims, passages, self.index.embedder.embed, self.settings.support)
        asked = evidence.question or parse_question(standalone)
        not_answering = self._read_support(standalone, claims, passages) if asked.kind in READ_KINDS else 0
        numbers: dict[tuple[int, int], Citation] = {}
        parts: list[str] = []
        for claim in claims:
            markers = []
            for key, index, similarity in claim.support:
                if (key, index) not in numbers:
                    sentence = self._passage_sentence(passages[key - 1], index, similarity)
                    numbers[(key, index)] = self._citations([sentence], when.as_of, first=len(numbers) + 1)[0]
                markers.append(f"[{numbers[(key, index)].number}]")
            parts.append(" ".join([claim.text, *markers]))
        yield Answer(
            question=question,
            text=" ".join(parts),
            citations=tuple(numbers.values()),
            abstained=False,
            search_query=evidence.query,
            confidence=round(confidence, 4),
            mode="generative",
            timings={"llm_ms": llm_ms, "total_ms": round((time.perf_counter() - started) * 1000, 1)},
            notice=when.notice,
            as_of=when.as_of.isoformat(),
            time_frame=when.used,
            unsupported=tuple(c.text for c in claims if not c.supported),
            checks={
                "sentences": len(claims),
                "checked": report.checked,
                "kept": report.kept,
                "replaced": report.replaced,
                "dropped": report.dropped,
                "added": report.added,
                "not_answering": not_answering,
            },
        )

    def _read_support(self, question: str, claims: Sequence[object], passages: Sequence[Passage]) -> int:
        """The reader reads every sentence a claim cites (for a question of the kinds it reads): a citation
        it reads as not answering the question is dropped (a claim left with none is unsupported).
        Returns how many were dropped."""
        cited = list(dict.fromkeys((key, index) for claim in claims for key, index, _ in claim.support))
        if self.reader is None or not cited:
            return 0
        sentences = {(key, index): self._passage_sentence(passages[key - 1], index, 0.0) for key, index in cited}
        self.read(question, list(sentences.values()), limit=len(sentences))
        cut = self.settings.compose.reader_cut
        dropped = 0
        for claim in claims:
            kept = [(k, i, sim) for k, i, sim in claim.support if sentences[(k, i)].answers >= cut]
            dropped += len(claim.support) - len(kept)
            claim.support = kept
            claim.supported = claim.supported and bool(kept)
        return dropped

    def _passage_sentence(self, passage: Passage, index: int, similarity: float) -> ScoredSentence:
        """Sentence ``index`` of a passage, scored by its similarity to the sentence it supports."""
        start, end = passage.sentences[index] if passage.sentences else (passage.start, passage.end)
        text = passage.text[start - passage.start : end - passage.start]
        return ScoredSentence(passage.article_id, start, end, text, passage, rank=0, score=similarity)


_assistants: dict[str, Assistant] = {}


def ask(
    question: str,
    *,
    history: Sequence[object] | None = None,
    k: int | None = None,
    filters: Filters | None = None,
    index: Index | str | Path | None = None,
    mode: str | None = None,
    as_of: str | dt.date | None = None,
) -> Answer:
    """Answer ``question`` from the index in ``index`` (default ``RAG_INDEX`` or ``embeddings/``).

    ``mode`` is ``"extractive"`` (the default, or ``RAG_ANSWER_MODE``) or ``"generative"``. An entry
    point: the other settings come from the environment too (see :mod:`rag.config`). The index and
    model are opened on the first call and kept for the next ones.
    """
    if isinstance(index, Index):
        return Assistant(index).ask(question, history=history, k=k, filters=filters, mode=mode, as_of=as_of)
    settings = Settings.from_env(index_dir=index)
    where = settings.index_dir
    key = str(where.resolve()) if isinstance(where, Path) else where  # a folder, or a server's URL
    if key not in _assistants:
        _assistants[key] = Assistant(Index(settings))
    return _assistants[key].ask(question, history=history, k=k, filters=filters, mode=mode, as_of=as_of)
