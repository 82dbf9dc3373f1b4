"""Sentence scoring: how well each sentence of the retrieved passages answers the question.

Sentences are ranked in two steps: all of them on what needs no embedding (the question's rare
words they share, how well their passage matches, whether they hold the kind of answer asked
for), then the best of those on meaning too (the sentence's vector, and late interaction: how well
each word of the question finds a match in the sentence). What news text carries about each
sentence (its speaker, the explainer heading it stands under, the dates it names; see
:mod:`rag.news`) is attached to it for the composer, which picks by the question's kind.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..embed import TokenVectors
from ..index import Index
from ..news import speaker_key
from ..text import STOPWORDS, WORD, content_terms
from ..types import Passage, SentenceFacts
from .question import ParsedQuestion

SENTENCE_CACHE = 2048  # sentences whose token vectors are kept (about 35 KB each)


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
    # the best match of each content word of the question among the sentence's tokens (late interaction)
    word_match: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    facts: SentenceFacts | None = field(default=None, repr=False, compare=False)
    speaker: str = ""  # who said it, when the article attributes it
    heading: str = ""  # the explainer heading it stands under
    # the reader's reading (rag.answer.reader), for the best few sentences: the probability that it answers
    # the question, and the answer words inside it (article offsets); None where it was not read
    answers: float | None = None
    answer_span: tuple[int, int] | None = None


@dataclass(frozen=True)
class Evidence:
    """What an answer is chosen from: the query searched, the passages, the sentences best first."""

    query: str
    passages: list[Passage]
    sentences: list[ScoredSentence]
    question: ParsedQuestion | None = None


@dataclass(frozen=True)
class ScoreWeights:
    """The weights of the sentence score. The score adds, each times its weight: the sentence's cosine
    similarity to the question (the sentence embedded after its article's title); late interaction, the
    mean over the question's tokens of each one's best cosine similarity to a token of the sentence
    (all tokens, and content words only); the IDF-weighted share of the question's words it contains;
    the cosine similarity of its whole passage; and whether it holds the kind of answer the question
    asks for (a number for "how many", a date for "when", a name for "who"/"where")."""

    dense: float = 0.5
    tokens: float = 2.0
    content_tokens: float = 0.5
    lexical: float = 0.2
    passage: float = 1.0
    answer_type: float = 0.05


def embedding_free_score(sentence: ScoredSentence, w: ScoreWeights) -> float:
    """The part of the score known before the sentence is embedded: it picks which sentences to embed."""
    return w.lexical * sentence.lexical + w.passage * sentence.passage_dense + w.answer_type * sentence.answer_type


def combined_score(sentence: ScoredSentence, w: ScoreWeights) -> float:
    return (
        w.dense * sentence.dense
        + w.tokens * sentence.tokens
        + w.content_tokens * sentence.content_tokens
        + embedding_free_score(sentence, w)
    )


def late_interaction(
    question: TokenVectors, sentences: Sequence[TokenVectors]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each sentence, the mean over the question's tokens (and over its content words only) of
    each token's best cosine similarity to a token of the sentence (late interaction, as in ColBERT),
    and the matrix of those best similarities (question tokens x sentences).

    NaN for a sentence without token vectors (a model that gives none, or only unknown tokens).
    """
    n = len(sentences)
    tokens, content_tokens = np.full(n, np.nan), np.full(n, np.nan)
    best_all = np.full((len(question.tokens), n), np.nan)
    have = [i for i, s in enumerate(sentences) if len(s.tokens)]
    if not len(question.tokens) or not have:
        return tokens, content_tokens, best_all
    content = np.array([_is_content_piece(p) for p in question.pieces], dtype=bool)
    if not content.any():
        content[:] = True
    matrix = np.concatenate([sentences[i].tokens for i in have]).astype(np.float32)
    similarity = question.tokens.astype(np.float32) @ matrix.T
    starts = np.cumsum([0] + [len(sentences[i].tokens) for i in have[:-1]])
    best = np.maximum.reduceat(similarity, starts, axis=1)  # question tokens x sentences
    tokens[have], content_tokens[have] = best.mean(axis=0), best[content].mean(axis=0)
    best_all[:, have] = best
    return tokens, content_tokens, best_all


def _is_content_piece(piece: str) -> bool:
    word = piece.lstrip("#▁Ġ").lower()
    return word.isalnum() and word not in STOPWORDS


def question_words(pieces: Sequence[str]) -> list[tuple[str, list[int]]]:
    """The question's words rebuilt from its tokenizer pieces (WordPiece "##" continuations joined),
    each with the rows of its pieces."""
    found: list[tuple[str, list[int]]] = []
    for row, piece in enumerate(pieces):
        if piece.startswith("##") and found:
            word, rows = found[-1]
            found[-1] = (word + piece[2:], [*rows, row])
        else:
            found.append((piece.lstrip("▁Ġ").lower(), [row]))
    return found


# --- answer types ----------------------------------------------------------------------------

NUMBER = re.compile(
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


def answer_type_match(question: ParsedQuestion, sentence: str) -> float:
    """1.0 if ``sentence`` holds the kind of thing the question asks for, else 0.0.

    "how many/much/old ..." wants a number, "when/what year ..." a date or time, "who/where" a
    name the question does not already contain. Other questions get 0 for every sentence.
    """
    if question.answer_type == "number":
        return 1.0 if NUMBER.search(sentence) else 0.0
    if question.answer_type == "time":
        return 1.0 if _TIME.search(sentence) else 0.0
    if question.answer_type == "name":
        asked = {w.lower() for w in WORD.findall(question.text)}
        return 1.0 if any(w.lower() not in asked for w in _CAPITALISED.findall(sentence)) else 0.0
    return 0.0


class SentenceScorer:
    """Scores the sentences of retrieved passages against a question, for one open index.

    It remembers what is costly to recompute: sentence and question token vectors, word IDFs, and
    each article's text with its sentence facts. Safe to share between threads.
    """

    def __init__(
        self, index: Index, weights: ScoreWeights | None = None, scored_sentences: int = 12, lexical_sentences: int = 2
    ):
        self.index = index
        self.weights = weights or ScoreWeights()
        self.scored_sentences = scored_sentences
        self.lexical_sentences = lexical_sentences
        self.titled_sentences = True  # embed each candidate sentence after its article's title
        self._sentence_vectors: OrderedDict[tuple[str, int, int], TokenVectors] = OrderedDict()
        self._question_tokens: OrderedDict[str, TokenVectors] = OrderedDict()
        self._cache_lock = threading.Lock()  # the app answers several questions at once
        self._articles: OrderedDict[str, tuple[str, list[SentenceFacts]]] = OrderedDict()
        self._articles_generation = -1
        self._words: dict[str, np.ndarray] = {}
        self._idf: dict[str, float] = {}
        self._idf_generation = -1

    # caches ---------------------------------------------------------------------------------

    def article(self, article_id: str) -> tuple[str, list[SentenceFacts]]:
        """An article's text and its sentences' facts (empty for an article since removed)."""
        return self.read_articles([article_id])[article_id]

    def read_articles(self, article_ids: Iterable[str]) -> dict[str, tuple[str, list[SentenceFacts]]]:
        """Each article's text and its sentences' facts (empty for one since removed), remembered until the
        index changes; those not remembered yet are read together: one query for all of them, not two
        for each (a round trip each on a database server)."""
        ids = list(dict.fromkeys(article_ids))
        generation = self.index.store.generation
        with self._cache_lock:
            if self._articles_generation != generation:
                self._articles.clear()
                self._articles_generation = generation
            found = {a: self._articles[a] for a in ids if a in self._articles}
        missing = [a for a in ids if a not in found]
        if not missing:
            return found
        store = self.index.store
        articles, facts = store.articles_by_id(missing), store.sentence_facts_by_article(missing)
        for article_id in missing:
            article = articles.get(article_id)
            found[article_id] = (article.text, facts.get(article_id, [])) if article else ("", [])
        with self._cache_lock:
            if self._articles_generation == generation:  # not remembered if the index changed meanwhile
                self._articles.update((a, found[a]) for a in missing)
                while len(self._articles) > 256:
                    self._articles.popitem(last=False)
        return found

    def facts_at(self, article_id: str, start: int) -> tuple[str, SentenceFacts | None]:
        """The article's text and the facts of the sentence holding offset ``start``."""
        text, facts = self.article(article_id)
        at = bisect.bisect_right([f.start for f in facts], start) - 1
        if 0 <= at < len(facts) and facts[at].start <= start < facts[at].end:
            return text, facts[at]
        return text, None

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

    def idf(self, terms: set[str]) -> dict[str, float]:
        """Each term's inverse document frequency over the chunks (remembered until the index changes)."""
        generation = self.index.store.generation
        with self._cache_lock:
            if generation != self._idf_generation:
                self._idf, self._idf_generation = {}, generation
            found = {t: self._idf[t] for t in terms if t in self._idf}
        missing = [t for t in terms if t not in found]
        if missing:
            total = max(1, self.index.store.searched_chunks())
            for term in missing:
                df = self.index.store.document_frequency(term)
                found[term] = math.log(1 + (total - df + 0.5) / (df + 0.5))
            with self._cache_lock:
                if generation == self._idf_generation:
                    self._idf.update((t, found[t]) for t in missing)
        return found

    # scoring --------------------------------------------------------------------------------

    def candidates(
        self, passages: Sequence[Passage], extra: Sequence[tuple[Passage, int, int]] = (), extra_rank: int = 0
    ) -> list[ScoredSentence]:
        """The sentences of ``passages`` that could answer (not headings, fragments or questions),
        and the ``extra`` (passage, start, end) sentences, ranked ``extra_rank`` (default: after the
        passages), each once."""
        found: dict[tuple[str, int, int], ScoredSentence] = {}
        spans = [
            (rank, passage, start, end) for rank, passage in enumerate(passages, 1) for start, end in passage.sentences
        ]
        spans += [(extra_rank or len(passages) + 1, passage, start, end) for passage, start, end in extra]
        for rank, passage, start, end in spans:
            if passage.start <= start and end <= passage.end:
                text = passage.text[start - passage.start : end - passage.start]
            else:  # a long sentence cut over several chunks: its whole text
                text = self.article(passage.article_id)[0][start:end]
            if len(WORD.findall(text)) < 3:  # section headings, bylines, stray fragments
                continue
            if text.rstrip("\"'”’»)] ").endswith("?"):  # a question in the text answers nothing
                continue
            key = (passage.article_id, start, end)
            if key not in found:
                found[key] = ScoredSentence(passage.article_id, start, end, text, passage, rank)
        self.read_articles(candidate.article_id for candidate in found.values())
        for key, candidate in list(found.items()):
            article_text, facts = self.facts_at(candidate.article_id, candidate.start)
            if article_text[candidate.start : candidate.end] != candidate.text:  # removed or changed since
                del found[key]
                continue
            candidate.facts = facts
            if facts is not None and facts.speaker:
                candidate.speaker = article_text[slice(*facts.speaker)]
            if facts is not None and facts.heading:
                candidate.heading = article_text[slice(*facts.heading)]
        return list(found.values())

    def score(
        self,
        query: str,
        question: ParsedQuestion,
        candidates: list[ScoredSentence],
        forced: Sequence[ScoredSentence] = (),
    ) -> list[ScoredSentence]:
        """Scores ``candidates`` in two steps: all on what needs no embedding (shared words, passage
        similarity, answer type), then fully the best ``scored_sentences`` of them by that, the best
        ``lexical_sentences`` by shared words alone (a rare name the dense match misses), and the
        ``forced`` ones; those are returned."""
        if not candidates:
            return []
        w = self.weights
        query_vector = self.index.embedder.embed_query(query).result()
        stored = self.index.store.vectors_by_id({c.passage.chunk_id for c in candidates})
        candidates = [c for c in candidates if c.passage.chunk_id in stored]  # not removed since the search
        forced = [c for c in forced if c.passage.chunk_id in stored]
        if not candidates:
            return []
        passage_dense = {chunk_id: float(vector @ query_vector) for chunk_id, vector in stored.items()}
        # words of the question itself count fully, words borrowed from earlier turns half
        weights: dict[str, float] = {}
        for term in content_terms(query):
            weights[term] = 0.5
        for term in content_terms(question.text):
            weights[term] = 1.0
        idf = self.idf(set(weights))
        total = sum(idf[t] * weight for t, weight in weights.items()) or 1.0
        for candidate in candidates:
            present = set(content_terms(candidate.text))
            candidate.lexical = sum(idf[t] * weight for t, weight in weights.items() if t in present) / total
            candidate.passage_dense = float(passage_dense[candidate.passage.chunk_id])
            candidate.answer_type = answer_type_match(question, candidate.text)
        ranked = sorted(candidates, key=lambda c: (-embedding_free_score(c, w), c.rank, c.start))
        by_words = sorted(candidates, key=lambda c: (-c.lexical, c.rank, c.start))[: self.lexical_sentences]
        chosen = list({id(c): c for c in [*ranked[: self.scored_sentences], *by_words, *forced]}.values())
        titled = [
            f"{c.passage.title}. {c.text}" if c.passage.title and self.titled_sentences else c.text for c in chosen
        ]
        # the words of this question itself are matched (a follow-up's earlier turns already
        # weigh in through the passages, the shared words and the sentence's vector)
        question_tokens, sentences = self._embed_sentences(
            question.text, [(c.article_id, c.start, c.end) for c in chosen], titled
        )
        tokens, content_tokens, best = late_interaction(question_tokens, sentences)
        words = [
            (word, rows)
            for word, rows in question_words(question_tokens.pieces)
            if word.isalnum() and word not in STOPWORDS
        ]
        for i, (candidate, vectors) in enumerate(zip(chosen, sentences)):
            candidate.vector = vectors.vector
            candidate.dense = float(vectors.vector @ query_vector)
            # without token vectors, the sentence's own vector stands in for its tokens
            candidate.tokens = candidate.dense if np.isnan(tokens[i]) else float(tokens[i])
            candidate.content_tokens = candidate.dense if np.isnan(content_tokens[i]) else float(content_tokens[i])
            candidate.word_match = {
                word: float(np.nanmax(best[rows, i])) if not np.isnan(best[rows, i]).all() else candidate.dense
                for word, rows in words
            }
            candidate.score = combined_score(candidate, w)
        return chosen

    def word_similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words' vectors (remembered): "troops" and "soldiers" are close,
        "troops" and "containers" are not."""
        vectors = self._word_vectors([a, b])
        return float(vectors[0] @ vectors[1])

    def learn_words(self, words: Sequence[str]) -> None:
        """Embed (and remember) in one pass the words that word_similarity will be asked about: a model
        pass a word costs about as much as one for many."""
        if words:
            self._word_vectors(list(dict.fromkeys(words)))

    def _word_vectors(self, words: Sequence[str]) -> np.ndarray:
        with self._cache_lock:
            known = {w: self._words[w] for w in words if w in self._words}
        missing = [w for w in dict.fromkeys(words) if w not in known]
        fresh = dict(zip(missing, self.index.embedder.embed(missing))) if missing else {}
        found = [fresh[w] if w in fresh else known[w] for w in words]
        with self._cache_lock:
            self._words.update(fresh)
            while len(self._words) > 4096:
                self._words.pop(next(iter(self._words)))
        return np.stack(found)


def same_speaker(name: str, asked: str) -> bool:
    """Does the speaker ``name`` (as the article writes it) match ``asked`` (as the question does)?
    The last words must agree ("Pistorius", "Boris Pistorius"), and the words of one must all be in
    the other ("UK defence secretary John Healey" is "John Healey"; "Ban Ki-moon" is not "Moon Jae-in")."""
    if not name or not asked or speaker_key(name) != speaker_key(asked):
        return False
    given, asked_words = set(WORD.findall(name.lower())), set(WORD.findall(asked.lower()))
    return given <= asked_words or asked_words <= given
