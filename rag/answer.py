"""Extractive answers: the article sentences that answer a question, each with a numbered citation.

The answer is never written, only quoted. The sentences of the retrieved passages are ranked in two
steps: all of them on what needs no embedding (the question's rare words they share, how well their
passage matches), then the best of those on meaning too (the sentence's vector, and late interaction:
how well each word of the question finds a match in the sentence). The best one to three distinct
sentences are quoted verbatim, each with a citation back to its exact place in its article. When even
the best sentence is a weak match, the answer abstains with one fixed message and lists the closest
passages instead.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .chunk import split_sentences
from .embed import TokenVectors
from .errors import RagError
from .generate import (
    LLMClient,
    LLMError,
    LLMSettings,
    SupportSettings,
    answer_messages,
    check_claims,
    clean_condensed,
    condense_messages,
    is_cannot_answer,
    split_claims,
)
from .index import Index, open_index
from .retrieve import STOPWORDS, content_terms, fuse
from .types import Filters, Passage

NO_ANSWER = "The articles don't say: none of the passages found answers this question."
MAX_QUESTION_CHARS = 2000
SENTENCE_CACHE = 2048  # sentences whose token vectors are kept (about 35 KB each)


@dataclass(frozen=True)
class Citation:
    """Where a quoted sentence comes from. ``article.text[start:end] == quote`` always."""

    number: int
    article_id: str
    title: str
    source: str
    url: str
    published: str | None
    quote: str
    start: int
    end: int
    before: str  # the sentence before the quote in the article ("" at the start)
    after: str  # the sentence after it ("" at the end)
    score: float


@dataclass(frozen=True)
class Answer:
    """An answer: text with inline ``[n]`` markers and the citations they point to.

    When ``abstained`` is true, ``text`` is the fixed no-answer message, ``citations`` is empty and
    ``closest`` holds the nearest passages found. ``timings`` are in milliseconds.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    closest: tuple[Citation, ...] = ()
    search_query: str = ""  # the question as searched (a follow-up is joined with what it refers to)
    confidence: float = 0.0  # score of the best sentence; below the threshold the answer abstains
    mode: str = "extractive"  # or "generative": written by a language model, its citations checked
    timings: dict[str, float] = field(default_factory=dict)
    # generative answers: sentences no passage supports (shown flagged), and what the citation check did
    unsupported: tuple[str, ...] = ()
    checks: dict[str, int] = field(default_factory=dict)  # sentences, checked, kept, replaced, dropped, added
    notice: str = ""  # e.g. why a generative answer fell back to the extractive one


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerSettings:
    passages: int = 8  # passages retrieved
    candidate_passages: int = 8  # passages whose sentences are candidates
    scored_sentences: int = 12  # candidates embedded and fully scored: the best by the embedding-free part
    max_sentences: int = 3  # sentences quoted in an answer
    # The score of a sentence adds, each times its weight: its cosine similarity to the question (the
    # sentence embedded after its article's title); late interaction, the mean over the question's
    # tokens of each one's best cosine similarity to a token of the sentence (all tokens, and content
    # words only); the IDF-weighted share of the question's words it contains; the cosine similarity
    # of its whole passage; and whether it holds the kind of answer the question asks for (a number for
    # "how many", a date for "when", a name for "who"/"where"). The weights were picked by a grid on
    # CLAPNQ dev alone (bench/calibrate.py), so XQuAD-R is held out for them. No rule looks at individual
    # questions.
    dense_weight: float = 0.5
    token_weight: float = 2.0
    content_token_weight: float = 0.5
    lexical_weight: float = 0.2
    passage_weight: float = 1.0
    answer_type_weight: float = 0.05
    titled_sentences: bool = True  # embed each candidate sentence after its article's title
    # Below this best-sentence score the answer abstains: the score that 98% of answerable CLAPNQ
    # questions reach (bench/calibrate.py); questions asked of unrelated articles score far lower.
    threshold: float = 1.66
    # a further sentence is quoted if it scores at least this share of the best: on CLAPNQ, 0.7 and lower
    # cover the gold sentence equally often (bench/calibrate.py); XQuAD-R's top-3 share drops at 0.7
    keep_ratio: float = 0.6
    duplicate_similarity: float = 0.9  # sentences more similar than this to a quoted one are left out
    mode: str = "extractive"  # "generative" asks a language model (rag.generate), citations checked
    llm_passages: int = 4  # passages given to the language model

    @classmethod
    def from_env(cls) -> AnswerSettings:
        mode = os.environ.get("RAG_ANSWER_MODE") or cls.mode
        return cls(mode=check_mode(mode))


MODES = ("extractive", "generative")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise RagError(f"unknown answer mode {mode!r}: use one of {', '.join(MODES)} (RAG_ANSWER_MODE, --mode)")
    return mode


# --- questions -------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
_ANAPHORA = frozenset(
    "he she it they him her them his hers its their theirs this that these those there then such".split()
)


def check_question(question: object) -> str:
    """The question, stripped; a RagError for empty, non-text or absurdly long questions."""
    if not isinstance(question, str):
        raise RagError(f"the question must be text, not {type(question).__name__}")
    question = " ".join(question.split())
    if not question:
        raise RagError("the question is empty; type a question about the articles")
    if len(question) > MAX_QUESTION_CHARS:
        raise RagError(
            f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask a shorter question"
        )
    if not _WORD.search(question):
        raise RagError("the question has no words in it; type a question about the articles")
    return question


def previous_questions(history: Sequence[object] | None) -> list[str]:
    """The user's earlier questions, oldest first, from any usual history shape.

    Accepts Answers, ``(question, answer)`` pairs, or chat messages ``{"role", "content"}``.
    """
    questions: list[str] = []
    for turn in history or ():
        if isinstance(turn, Answer):
            questions.append(turn.question)
        elif isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                questions.append(turn["content"])
            elif "question" in turn and isinstance(turn["question"], str):
                questions.append(turn["question"])
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            questions.append(turn[0])
    return [q for q in questions if q.strip()]


def is_follow_up(question: str) -> bool:
    """A question that leans on the conversation: it refers back (they, it, there, ...) or says little."""
    words = [w.lower() for w in _WORD.findall(question)]
    content = [w for w in words if w not in STOPWORDS]
    return any(w in _ANAPHORA for w in words) or len(content) <= 1


def search_query(question: str, history: Sequence[object] | None) -> str:
    """The text to search for: a follow-up question is joined with the question it follows."""
    earlier = previous_questions(history)
    if earlier and is_follow_up(question):
        return f"{question} {earlier[-1]}"
    return question


# --- scoring ---------------------------------------------------------------------------------


@dataclass
class ScoredSentence:
    """A candidate sentence with the signals it was scored on."""

    article_id: str
    start: int
    end: int
    text: str
    passage: Passage
    rank: int  # best rank of a retrieved passage containing this sentence
    dense: float = 0.0  # cosine similarity of "title. sentence" to the question
    tokens: float = 0.0  # late interaction: mean best token match of the question's tokens
    content_tokens: float = 0.0  # the same over the question's content words
    lexical: float = 0.0  # share of the question's (IDF-weighted) content words it contains
    passage_dense: float = 0.0  # cosine similarity of its passage to the question
    answer_type: float = 0.0  # 1 if it holds the kind of answer the question asks for
    score: float = 0.0
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)  # its unit vector, once embedded


@dataclass(frozen=True)
class Evidence:
    """What an answer is chosen from: the query searched, the passages, the sentences best first."""

    query: str
    passages: list[Passage]
    sentences: list[ScoredSentence]


def embedding_free_score(sentence: ScoredSentence, settings: AnswerSettings) -> float:
    """The part of the score known before the sentence is embedded: it picks which sentences to embed."""
    return (
        settings.lexical_weight * sentence.lexical
        + settings.passage_weight * sentence.passage_dense
        + settings.answer_type_weight * sentence.answer_type
    )


def combined_score(sentence: ScoredSentence, settings: AnswerSettings) -> float:
    return (
        settings.dense_weight * sentence.dense
        + settings.token_weight * sentence.tokens
        + settings.content_token_weight * sentence.content_tokens
        + embedding_free_score(sentence, settings)
    )


def late_interaction(question: TokenVectors, sentences: Sequence[TokenVectors]) -> tuple[np.ndarray, np.ndarray]:
    """For each sentence, the mean over the question's tokens (and over its content words only) of
    each token's best cosine similarity to a token of the sentence (late interaction, as in ColBERT).

    NaN for a sentence without token vectors (a model that gives none, or only unknown tokens).
    """
    tokens, content_tokens = np.full(len(sentences), np.nan), np.full(len(sentences), np.nan)
    have = [i for i, s in enumerate(sentences) if len(s.tokens)]
    if not len(question.tokens) or not have:
        return tokens, content_tokens
    content = np.array([_is_content_piece(p) for p in question.pieces], dtype=bool)
    if not content.any():
        content[:] = True
    matrix = np.concatenate([sentences[i].tokens for i in have]).astype(np.float32)
    similarity = question.tokens.astype(np.float32) @ matrix.T
    starts = np.cumsum([0] + [len(sentences[i].tokens) for i in have[:-1]])
    best = np.maximum.reduceat(similarity, starts, axis=1)  # question tokens x sentences
    tokens[have], content_tokens[have] = best.mean(axis=0), best[content].mean(axis=0)
    return tokens, content_tokens


def _is_content_piece(piece: str) -> bool:
    word = piece.lstrip("#▁Ġ").lower()
    return word.isalnum() and word not in STOPWORDS


# --- answer types ----------------------------------------------------------------------------

_NUMBER_QUESTION = re.compile(
    r"\bhow (many|much|old|long|far|large|big|tall|high|often|fast|deep|wide)\b"
    r"|\bwhat (percentage|percent|number|amount|proportion)\b",
    re.I,
)
_TIME_QUESTION = re.compile(r"\bwhen\b|\b(what|which) (year|date|time|century|decade|month|day|season)\b", re.I)
_NAME_QUESTION = re.compile(r"\bwho(m|se)?\b|\bwhere\b", re.I)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
    r"|hundreds?|thousands?|millions?|billions?|dozens?|half|quarter)\b",
    re.I,
)
_TIME = re.compile(
    r"\b(1\d{3}|20\d{2}|\d{2,4}s|january|february|march|april|may|june|july|august|september|october"
    r"|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|centur(y|ies)"
    r"|decades?|years?|ago|since|until)\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]+")


def answer_type_match(question: str, sentence: str) -> float:
    """1.0 if ``sentence`` holds the kind of thing ``question`` asks for, else 0.0.

    "how many/much/old ..." wants a number, "when/what year ..." a date or time, "who/where" a
    name the question does not already contain. Other questions get 0 for every sentence.
    """
    if _NUMBER_QUESTION.search(question):
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if _TIME_QUESTION.search(question):
        return 1.0 if _TIME.search(sentence) else 0.0
    if _NAME_QUESTION.search(question):
        asked = {w.lower() for w in _WORD.findall(question)}
        return 1.0 if any(w.lower() not in asked for w in _CAPITALISED.findall(sentence)) else 0.0
    return 0.0


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
        self.settings = settings or AnswerSettings.from_env()
        self._llm = llm
        self._sentence_vectors: OrderedDict[tuple[str, int, int], TokenVectors] = OrderedDict()
        self._question_tokens: OrderedDict[str, TokenVectors] = OrderedDict()
        self._cache_lock = threading.Lock()  # the app answers several questions at once
        self._article_sentences: OrderedDict[str, tuple[str, list[tuple[int, int]]]] = OrderedDict()
        self._idf: dict[str, float] = {}
        self._idf_generation = -1

    # caches ---------------------------------------------------------------------------------

    def _sentences_of(self, article_id: str) -> tuple[str, list[tuple[int, int]]]:
        cached = self._article_sentences.get(article_id)
        if cached is None:
            article = self.index.store.article(article_id)
            text = article.text if article else ""
            cached = (text, split_sentences(text))
            self._article_sentences[article_id] = cached
            if len(self._article_sentences) > 256:
                self._article_sentences.popitem(last=False)
        return cached

    def _embed_sentences(
        self, question: str, keys: list[tuple[str, int, int]], texts: list[str]
    ) -> tuple[TokenVectors, list[TokenVectors]]:
        """The question's and each sentence's vectors and token vectors (both are remembered)."""
        with self._cache_lock:
            known = {key: self._sentence_vectors[key] for key in keys if key in self._sentence_vectors}
            question_vectors = self._question_tokens.get(question)
        missing = [i for i, key in enumerate(keys) if key not in known]
        fresh = self.index.embedder.embed_tokens(
            ([question] if question_vectors is None else []) + [texts[i] for i in missing]
        )
        if question_vectors is None:
            question_vectors = fresh.pop(0)
        known.update((keys[i], vectors) for i, vectors in zip(missing, fresh))
        with self._cache_lock:
            self._question_tokens[question] = question_vectors
            self._question_tokens.move_to_end(question)
            while len(self._question_tokens) > 64:
                self._question_tokens.popitem(last=False)
            for key in keys:
                self._sentence_vectors[key] = known[key]
                self._sentence_vectors.move_to_end(key)
            while len(self._sentence_vectors) > SENTENCE_CACHE:
                self._sentence_vectors.popitem(last=False)
        return question_vectors, [known[key] for key in keys]

    def _idf_of(self, terms: set[str]) -> dict[str, float]:
        generation = self.index.store.generation
        if generation != self._idf_generation:
            self._idf, self._idf_generation = {}, generation
        missing = [t for t in terms if t not in self._idf]
        if missing:
            total = max(1, self.index.store.chunk_count())
            for term in missing:
                df = self.index.store.document_frequency(term)
                self._idf[term] = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return {t: self._idf[t] for t in terms}

    # the answer -----------------------------------------------------------------------------

    def _candidates(self, passages: list[Passage]) -> list[ScoredSentence]:
        found: dict[tuple[str, int, int], ScoredSentence] = {}
        for rank, passage in enumerate(passages[: self.settings.candidate_passages], 1):
            for start, end in passage.sentences:
                text = passage.text[start - passage.start : end - passage.start]
                if len(_WORD.findall(text)) < 3:  # section headings, bylines, stray fragments
                    continue
                if text.rstrip("\"'”’»)] ").endswith("?"):  # a question in the text answers nothing
                    continue
                key = (passage.article_id, start, end)
                if key not in found:
                    found[key] = ScoredSentence(passage.article_id, start, end, text, passage, rank)
        return list(found.values())

    def _score(self, query: str, question: str, candidates: list[ScoredSentence]) -> list[ScoredSentence]:
        """Scores ``candidates`` in two steps: all on what needs no embedding (shared words, passage
        similarity, answer type), then the best ``scored_sentences`` of them fully; those are returned."""
        s = self.settings
        query_vector = self.index.embedder.embed_query(query).result()
        chunk_ids = list({c.passage.chunk_id for c in candidates})
        passage_dense = dict(zip(chunk_ids, self.index.store.vectors(chunk_ids) @ query_vector))
        # words of the question itself count fully, words borrowed from earlier turns half
        weights: dict[str, float] = {}
        for term in content_terms(query):
            weights[term] = 0.5
        for term in content_terms(question):
            weights[term] = 1.0
        idf = self._idf_of(set(weights))
        total = sum(idf[t] * w for t, w in weights.items()) or 1.0
        for candidate in candidates:
            present = set(content_terms(candidate.text))
            candidate.lexical = sum(idf[t] * w for t, w in weights.items() if t in present) / total
            candidate.passage_dense = float(passage_dense[candidate.passage.chunk_id])
            candidate.answer_type = answer_type_match(question, candidate.text)
        candidates = sorted(candidates, key=lambda c: (-embedding_free_score(c, s), c.rank, c.start))
        candidates = candidates[: s.scored_sentences]
        titled = [
            f"{c.passage.title}. {c.text}" if c.passage.title and s.titled_sentences else c.text for c in candidates
        ]
        # the words of this question itself are matched (a follow-up's earlier turns already
        # weigh in through the passages, the shared words and the sentence's vector)
        question_tokens, sentences = self._embed_sentences(
            question, [(c.article_id, c.start, c.end) for c in candidates], titled
        )
        tokens, content_tokens = late_interaction(question_tokens, sentences)
        for i, (candidate, vectors) in enumerate(zip(candidates, sentences)):
            candidate.vector = vectors.vector
            candidate.dense = float(vectors.vector @ query_vector)
            # without token vectors, the sentence's own vector stands in for its tokens
            candidate.tokens = candidate.dense if np.isnan(tokens[i]) else float(tokens[i])
            candidate.content_tokens = candidate.dense if np.isnan(content_tokens[i]) else float(content_tokens[i])
            candidate.score = combined_score(candidate, s)
        return candidates

    def _pick(self, ranked: list[ScoredSentence], s: AnswerSettings) -> list[ScoredSentence]:
        chosen: list[ScoredSentence] = []
        chosen_vectors: list[np.ndarray] = []
        best = ranked[0].score
        for candidate in ranked:
            if len(chosen) == s.max_sentences:
                break
            if chosen and candidate.score < s.keep_ratio * best:
                break
            vector = candidate.vector
            if vector is not None and any(float(vector @ v) > s.duplicate_similarity for v in chosen_vectors):
                continue
            if any(
                c.article_id == candidate.article_id and c.start < candidate.end and candidate.start < c.end
                for c in chosen
            ):
                continue
            chosen.append(candidate)
            if vector is not None:
                chosen_vectors.append(vector)
        return chosen

    def _citation(self, number: int, candidate: ScoredSentence) -> Citation:
        text, sentences = self._sentences_of(candidate.article_id)
        quote = text[candidate.start : candidate.end]
        position = next((i for i, span in enumerate(sentences) if span[0] >= candidate.start), None)
        before = after = ""
        if position is not None:
            if position > 0:
                before = text[slice(*sentences[position - 1])]
            nxt = position + 1 if position < len(sentences) and sentences[position][0] == candidate.start else position
            if nxt < len(sentences):
                after = text[slice(*sentences[nxt])]
        p = candidate.passage
        return Citation(
            number=number,
            article_id=candidate.article_id,
            title=p.title,
            source=p.source,
            url=p.url,
            published=p.published,
            quote=quote,
            start=candidate.start,
            end=candidate.end,
            before=before,
            after=after,
            score=round(candidate.score, 4),
        )

    def rank_sentences(
        self,
        question: str,
        *,
        history: Sequence[object] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Evidence:
        """Retrieve passages for ``question`` and score their sentences, best first."""
        question = check_question(question)
        query = search_query(question, history)
        depth = max(1, int(k or self.settings.passages))
        passages = self.index.search(query, k=depth, filters=filters)
        if query != question:  # a follow-up: also rank by the question alone, and fuse
            alone = self.index.search(question, k=depth, filters=filters)
            by_id = {p.chunk_id: p for p in [*passages, *alone]}
            order = fuse([[p.chunk_id for p in passages], [p.chunk_id for p in alone]])
            passages = [by_id[i] for i, _ in order[:depth]]
        candidates = self._candidates(passages)
        if candidates:
            candidates = self._score(query, question, candidates)
        return Evidence(query, passages, sorted(candidates, key=lambda c: -c.score))

    def ask(
        self,
        question: str,
        *,
        history: Sequence[object] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        max_sentences: int | None = None,
        mode: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the index, quoting and citing the sentences used."""
        *_, answer = self.stream(
            question, history=history, k=k, filters=filters, max_sentences=max_sentences, mode=mode
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
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, for a chat: a generative answer yields its text as the model writes it
        (strings), then the checked :class:`Answer`; an extractive one yields only the Answer."""
        started = time.perf_counter()
        question = check_question(question)
        s = self.settings
        if max_sentences is not None:
            s = replace(s, max_sentences=max(1, min(int(max_sentences), 5)))
        mode = check_mode(mode or s.mode)
        with self.index.store.guard():
            if mode == "extractive":
                yield self._extractive(question, history, k, filters, s, started)
            else:
                yield from self._generative(question, history, k, filters, s, started)

    def _extractive(self, question, history, k, filters, s: AnswerSettings, started: float, **extra) -> Answer:
        evidence = extra.pop("evidence", None) or self.rank_sentences(question, history=history, k=k, filters=filters)
        ranked = evidence.sentences
        confidence = ranked[0].score if ranked else 0.0
        if confidence < s.threshold:
            closest = self._closest(ranked)
            citations: tuple[Citation, ...] = ()
            text = NO_ANSWER
        else:
            citations = tuple(self._citation(n, c) for n, c in enumerate(self._pick(ranked, s), 1))
            closest = ()
            text = " ".join(f"{c.quote} [{c.number}]" for c in citations)
        return Answer(
            question=question,
            text=text,
            citations=citations,
            abstained=not citations,
            closest=closest,
            search_query=evidence.query,
            confidence=round(confidence, 4),
            timings={"total_ms": round((time.perf_counter() - started) * 1000, 1)},
            **extra,
        )

    def _closest(self, ranked: list[ScoredSentence]) -> tuple[Citation, ...]:
        """The nearest sentences, shown when an answer abstains."""
        return tuple(self._citation(n, c) for n, c in enumerate(ranked[:3], 1))

    # generative answers -----------------------------------------------------------------------

    @property
    def llm(self) -> LLMClient:
        if not isinstance(self._llm, LLMClient):
            self._llm = LLMClient(self._llm or LLMSettings.from_env())
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

    def _generative(self, question, history, k, filters, s: AnswerSettings, started: float) -> Iterator[str | Answer]:
        standalone = self._standalone(question, history)
        evidence = self.rank_sentences(standalone, k=k, filters=filters)
        ranked = evidence.sentences
        confidence = ranked[0].score if ranked else 0.0
        if confidence < s.threshold:  # too weak to answer from: abstain without asking the model
            yield self._extractive(question, None, k, filters, s, started, evidence=evidence, mode="generative")
            return
        passages = evidence.passages[: s.llm_passages]
        reply = ""
        try:
            for piece in self.llm.stream(answer_messages(standalone, passages)):
                reply += piece
                yield piece
            if not is_cannot_answer(reply) and not split_claims(reply):
                raise LLMError(f"the language model at {self.llm.settings.url} returned no usable sentences")
        except LLMError as exc:
            notice = f"Showing the extractive answer: {exc}."
            yield self._extractive(question, None, k, filters, s, started, evidence=evidence, notice=notice)
            return
        llm_ms = round((time.perf_counter() - started) * 1000, 1)
        if is_cannot_answer(reply):
            closest = self._closest(ranked)
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
            )
            return
        claims = split_claims(reply)
        report = check_claims(claims, passages, self.index.embedder.embed, SupportSettings())
        numbers: dict[tuple[int, int], Citation] = {}
        parts: list[str] = []
        for claim in claims:
            markers = []
            for key, index, similarity in claim.support:
                if (key, index) not in numbers:
                    numbers[(key, index)] = self._citation(
                        len(numbers) + 1, self._passage_sentence(passages[key - 1], index, similarity)
                    )
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
            unsupported=tuple(c.text for c in claims if not c.supported),
            checks={
                "sentences": len(claims),
                "checked": report.checked,
                "kept": report.kept,
                "replaced": report.replaced,
                "dropped": report.dropped,
                "added": report.added,
            },
        )

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
) -> Answer:
    """Answer ``question`` from the index in ``index`` (default ``RAG_INDEX`` or ``embeddings/``).

    ``mode`` is ``"extractive"`` (the default, or ``RAG_ANSWER_MODE``) or ``"generative"``.
    The index and model are opened on the first call and kept for the next ones.
    """
    if isinstance(index, Index):
        return Assistant(index).ask(question, history=history, k=k, filters=filters, mode=mode)
    from .config import Settings

    folder = str(Path(Settings.from_env(index_dir=index).index_dir).resolve())
    if folder not in _assistants:
        _assistants[folder] = Assistant(folder)
    return _assistants[folder].ask(question, history=history, k=k, filters=filters, mode=mode)
