"""Answer composition: which scored sentences to quote, in what order, and the answer's text.

The answer is never written, only quoted, and how the quotes are chosen depends on what the
question asks (:mod:`rag.answer.question`):

- attribution and reaction questions about someone ("what did X say", "how did X react") quote
  that person's own statements, the sentences the article attributes to them, each citation
  naming the speaker; "who said ..." names the speaker of the best sentence;
- "how many/much" quotes sentences that give a figure for the thing counted (a number of some
  other thing does not count); when they give different figures, the answer says "Reports
  differ" and lists each figure with who gave it;
- "when", "who" and "where": when dated reports of different days name dates that share no day, or
  names that share no word, the answer says "Reports differ" and lists each date or name, newest
  report first, with who gave it and when;
- every kind: a sentence under an explainer heading that asks the same question weighs more
  ("Why does Russia need North Korea?"), and further sentences keep to the focus of the first
  (its article or speaker), never padding from an unrelated article;
- near misses abstain: when the best sentences do not contain what the question asks for (a
  figure for a "how many" question, a word of the question nothing matches), the answer says
  the articles don't say it and shows the closest passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from difflib import SequenceMatcher
from typing import TypeVar

import numpy as np

from ..news import NOT_NAMES, SPEECH_VERBS, speaker_key
from ..text import STOPWORDS, content_terms, words
from ..types import Citation, DateMention, SentenceFacts
from .clues import around, figures, stem
from .question import ParsedQuestion
from .scoring import ScoredSentence, SentenceScorer, same_speaker

T = TypeVar("T")

NO_ANSWER = "The articles don't say: none of the passages found answers this question."


@dataclass(frozen=True)
class ComposeSettings:
    max_sentences: int = 3  # sentences quoted in an answer
    # Below this best-sentence score the answer abstains: the score that 98% of answerable CLAPNQ
    # questions reach (bench/calibrate.py); questions asked of unrelated articles score far lower.
    threshold: float = 1.66
    # a further sentence is quoted if it scores at least this share of the best: on CLAPNQ, 0.7 and lower
    # cover the gold sentence equally often (bench/calibrate.py); XQuAD-R's top-3 share drops at 0.7
    keep_ratio: float = 0.6
    duplicate_similarity: float = 0.9  # sentences more similar than this to a quoted one are left out
    heading_weight: float = 0.3  # added for a sentence whose explainer heading asks the question
    time_weight: float = 0.3  # added, times the share named, for a sentence naming the question's dates
    wording_weight: float = 0.05  # added for causal wording ("why") or reaction wording ("how did X react")
    # Near misses: the weights and bias of a logistic model over near_miss_features, and the
    # probability of an answer below which the answer abstains (bench/calibrate_near_miss.py)
    near_miss_weights: tuple[float, ...] = (
        -1.148, -0.505, 2.381, 0.924, -0.071, 1.755, 0.351, -2.175, 1.247, 6.369, 0.172, 8.047, 5.607, -2.465,
        -0.710, 2.796, -0.502, -0.097, -2.349, -1.229, 3.031, 0.565, -1.715, 3.396, 0.612, -13.196,
    )  # fmt: skip
    near_miss_cut: float = 0.04
    # the reader's probability under which a sentence is read as not answering (the Assistant sets it from
    # the shipped reader's own cut); when no sentence read reaches it, the answer abstains. 0: not used
    reader_cut: float = 0.0
    figure_window: int = 4  # content words after a number read for what it counts
    figure_similarity: float = 0.5  # how close that word must be to the thing asked about
    figure_focus: float = 0.5  # a further figure's sentence must match every other question word this well
    # a report that gives another date or name for what was asked scores near the best: it says the same
    # thing with another date ("will be held on May 5" / "on June 12") or name ("Maria Lopez will lead"
    # / "Daniel Okafor will lead"), where a sentence giving the date or name of something else scores lower
    differ_ratio: float = 0.9
    # two reports giving different names must read alike around them, names masked (difflib's ratio of
    # their words in order): "X will chair the harbour commission, the port authority said"
    name_template: float = 0.8


@dataclass(frozen=True)
class Composition:
    """The sentences to quote, or none (abstain), and what the answer must say about them."""

    chosen: list[ScoredSentence]
    differ: bool = False  # the quoted sentences give different figures for what was asked
    unstated: str = ""  # what was asked that no candidate sentence says
    mentioned: tuple[str, ...] = ()  # what was asked that the closest sentences do mention (when abstaining)
    values: dict[int, str] | None = None  # figure given by each chosen sentence, by position


_CAUSAL = re.compile(
    r"\b(because|since|due to|as a result|so that|in order to|reasons?|why|caused|causes|led to|leads to|"
    r"therefore|thus|sign that|aims? to|seeks? to|to help|meant to|after)\b",
    re.I,
)
# an exact figure: digits, a number word, an ordinal or "twice" (not "thousands of", which gives no figure)
_TIME_WORD = re.compile(
    r"\b(?:january|february|april|june|july|august|september|october|november|december|monday|tuesday"
    r"|wednesday|thursday|friday|saturday|sunday|yesterday|today|1\d{3}|20\d{2})\b"
)
_REACTION = re.compile(
    r"\b(react\w*|respon\w*|weighed in|welcom\w*|condemn\w*|criticis\w*|criticiz\w*|warn\w*|caution\w*|"
    r"prais\w*|protest\w*|denounc\w*|reject\w*|hint\w*|vow\w*|urg\w*|call(?:ed|s)? (?:for|on))\b",
    re.I,
)
def heading_matches(question: ParsedQuestion, heading: str) -> float:
    """The share of the question's content words that its explainer heading contains (0 to 1)."""
    asked = set(content_terms(question.text))
    if not heading or not asked:
        return 0.0
    return len(asked & set(content_terms(heading))) / len(asked)


def adjust_for_kind(question: ParsedQuestion, ranked: Sequence[ScoredSentence], s: ComposeSettings) -> None:
    """Raise the score of sentences under an explainer heading that asks what the question asks, of
    sentences that name the day, month or year the question names, and of sentences with the wording
    of a reason (for "why") or a reaction (for "how did X react")."""
    asked_times = set(_TIME_WORD.findall(question.text.lower()))
    for candidate in ranked:
        if names_asked_date(question, candidate):
            candidate.score += s.time_weight
        match = heading_matches(question, candidate.heading)
        if match >= 0.6:
            candidate.score += s.heading_weight * match
        if asked_times:
            named = asked_times & set(_TIME_WORD.findall(candidate.text.lower()))
            candidate.score += s.time_weight * len(named) / len(asked_times)
        if question.kind == "explanation" and _CAUSAL.search(candidate.text):
            candidate.score += s.wording_weight
        if question.kind == "reaction" and _REACTION.search(candidate.text):
            candidate.score += s.wording_weight


def _distinct(candidate: ScoredSentence, chosen: Sequence[ScoredSentence], s: ComposeSettings) -> bool:
    """Not the same sentence (or a near copy) as one already chosen."""
    for c in chosen:
        if c.article_id == candidate.article_id and c.start < candidate.end and candidate.start < c.end:
            return False
        if (
            c.vector is not None
            and candidate.vector is not None
            and float(candidate.vector @ c.vector) > s.duplicate_similarity
        ):
            return False
    return True


def _on_focus(candidate: ScoredSentence, first: ScoredSentence, question: ParsedQuestion) -> bool:
    """A further sentence keeps to the first one's focus: from the same article, or from another one
    that shares at least half as much of the question's wording; when the question asks who said
    something, only more of the same speaker's words."""
    if question.kind == "attribution" and first.speaker:
        return same_speaker(candidate.speaker, first.speaker)
    if candidate.article_id == first.article_id:
        return True
    return candidate.lexical >= 0.5 * first.lexical and candidate.lexical > 0


def missing_words(question: ParsedQuestion, sentence: ScoredSentence, threshold: float) -> list[str]:
    """Words of the question (not names) whose best match in the sentence is below ``threshold``."""
    if threshold <= 0 or not sentence.word_match:
        return []
    names = question.name_words
    return [
        word
        for word, match in sentence.word_match.items()
        if word in question.focus and word not in names and match < threshold
    ]


def names_asked_date(question: ParsedQuestion, sentence: ScoredSentence) -> bool:
    """Does the sentence name a date the question asks about? "What happened on October 23, 2024?"
    and "officials said Wednesday" in an article of Thursday, October 24."""
    named = sentence.facts.dates if sentence.facts else ()
    return any(_within(d, a) for d in named for a in question.dates)


def _within(named: DateMention, asked: DateMention) -> bool:
    """A date the sentence names falls in the period asked about, and is no vaguer than it allows:
    "in 1754" does not say what happened on May 28, 1754; "on Wednesday" does say what happened in June."""
    if not (named.date_from <= asked.date_to and asked.date_from <= named.date_to):
        return False
    days = (date.fromisoformat(named.date_to) - date.fromisoformat(named.date_from)).days
    allowed = max((date.fromisoformat(asked.date_to) - date.fromisoformat(asked.date_from)).days, 31)
    return days <= allowed


NEAR_MISS_FEATURES = (
    "best score",
    "lead of the best score over the second",
    "weakest word match",
    "mean word match",
    "words matched under 0.4",
    "weakest word match, best of the top three",
    "answer type missing in the best sentence",
    "answer type missing in the top three",
    "shared words",
    "passage similarity",
    "sentence similarity",
    "late interaction",
    "late interaction over content words",
    "words asked",
    "weakest match of a word not in the titles, best of the top three",
    "words asked that are not in the titles",
    "names of the question missing around the best sentence",
    "names of the question missing around the top three",
    "share of the asked words (by stem) in the best sentence",
    "every asked word in the best sentence or a neighbour",
    "share of the asked words in the best sentence or a neighbour",
    "every asked word around one of the top three",
    "weakest match of an asked word in the best sentence",
    "lead of the best score over its article's other sentences",
    "lead of the best score over the mean of the next five",
)
def _found(stems: Sequence[str], texts: Sequence[str]) -> list[bool]:
    present = {stem(w) for t in texts for w in words(t)}
    return [s in present for s in stems]


def near_miss_features(
    question: ParsedQuestion, ranked: Sequence[ScoredSentence], scorer: SentenceScorer
) -> np.ndarray:
    """What tells a near miss from an answer, read off the best sentences (see NEAR_MISS_FEATURES):
    how well the weakest-matched word of the question is matched, whether the kind of answer asked
    for is there, how well the best sentence scores and how far it leads its article's other
    sentences, and whether the words asked about beyond the articles' topic ("paying" in "How much
    is Russia paying North Korea for the troops?", "born" in "Where was Nikola Tesla born?") and
    the names asked about are written, by stem, in the best sentences or the ones beside them."""
    best = ranked[0]
    names = question.name_words

    def matches(sentence: ScoredSentence) -> list[float]:
        return [m for w, m in sentence.word_match.items() if w in question.focus and w not in names] or [1.0]

    own = matches(best)
    wants_type = bool(question.answer_type)
    # the words that say what is asked, beyond what the articles are about ("founded" in "When was
    # Harvard University founded?" of an article titled "Harvard University")
    topic = names | {w for c in ranked[:3] for w in words(c.passage.title)}
    asked = [w for w in question.focus if w not in topic and w in best.word_match]
    coverage = [max(c.word_match.get(w, 0.0) for c in ranked[:3]) for w in asked] or [1.0]
    # the same by stem, and the names asked about that are not the articles' subject
    title_stems = {stem(w) for c in ranked[:3] for w in words(c.passage.title)}
    topic_stems = title_stems | {stem(w) for w in names}
    beyond = [w for w in question.focus if w not in names and stem(w) not in topic_stems]
    beyond_stems = [stem(w) for w in beyond]
    name_stems = [stem(w) for w in names if w not in STOPWORDS and stem(w) not in title_stems]
    near = [around(c, scorer) for c in ranked[:3]]
    near_best = _found(beyond_stems, near[0])
    near_top = [any(found) for found in zip(*(_found(beyond_stems, texts) for texts in near))]
    own_article = [c.score for c in ranked[1:] if c.article_id == best.article_id]
    next_five = [c.score for c in ranked[1:6]]
    return np.array(
        [
            best.score,
            best.score - (ranked[1].score if len(ranked) > 1 else 0.0),
            min(own),
            sum(own) / len(own),
            sum(m < 0.4 for m in own),
            max(min(matches(c)) for c in ranked[:3]),
            float(wants_type and not best.answer_type),
            float(wants_type and not any(c.answer_type for c in ranked[:3])),
            best.lexical,
            best.passage_dense,
            best.dense,
            best.tokens,
            best.content_tokens,
            len(own) / 5,
            min(coverage),
            len(asked) / 5,
            len(name_stems) - sum(_found(name_stems, near[0])),
            len(name_stems) - sum(_found(name_stems, [t for texts in near for t in texts])),
            float(np.mean(_found(beyond_stems, [best.text]))) if beyond else 1.0,
            float(all(near_best)),
            float(np.mean(near_best)) if beyond else 1.0,
            float(all(near_top)),
            min((best.word_match.get(w, 0.0) for w in beyond), default=1.0),
            best.score - float(np.mean(own_article)) if own_article else 0.5,
            best.score - float(np.mean(next_five)) if next_five else 0.5,
        ]
    )


def is_near_miss(
    question: ParsedQuestion, ranked: Sequence[ScoredSentence], scorer: SentenceScorer, s: ComposeSettings
) -> bool:
    """A logistic model over :func:`near_miss_features` (weights from bench/calibrate_near_miss.py)
    says the best sentences are on the topic but do not say what is asked."""
    if not s.near_miss_weights:
        return False
    *weights, bias = s.near_miss_weights
    logit = float(np.dot(weights, near_miss_features(question, ranked, scorer))) + bias
    return 1 / (1 + np.exp(-logit)) < s.near_miss_cut


def compose(
    question: ParsedQuestion, ranked: list[ScoredSentence], scorer: SentenceScorer, s: ComposeSettings
) -> Composition:
    """What to quote for ``question`` from ``ranked`` (best first); an empty choice abstains."""
    if not ranked:
        return Composition([])
    if question.kind in ("attribution", "reaction") and question.who:
        own = [c for c in ranked if same_speaker(c.speaker, question.who)]
        if own and question.dates:  # "what did X say on Monday": what they said that day, if known
            own = [c for c in own if names_asked_date(question, c)] or own
        if own:
            return _statements(question, own, s)
    if question.kind == "event" and question.dates:
        on_the_day = [c for c in ranked if names_asked_date(question, c)]
        # "What happened on October 23, 2024?" asks for nothing but the date: what the articles say
        # happened then, best first; a question about something else on that date must score as usual
        only_the_date = not set(question.focus) - set(
            words(" ".join(question.text[d.start : d.end] for d in question.dates))
        )
        if on_the_day and (only_the_date or on_the_day[0].score >= s.threshold):
            return _general(question, on_the_day, s)
    best = ranked[0]
    if best.score < s.threshold:
        return Composition([])
    if reads_no_answer(question, ranked, s) or is_near_miss(question, ranked, scorer, s):
        return _near_miss(question, ranked, scorer)
    if question.kind == "quantity" and question.thing:
        return _figures(question, ranked, scorer, s)
    if (question.answer_type == "time" and not question.dates and question.kind != "attribution") or (
        question.answer_type == "name" and question.kind == "factoid"
    ):
        differing = (_dates_differ if question.answer_type == "time" else _names_differ)(question, ranked, s)
        if differing is not None:
            return differing
    if question.kind == "attribution" and question.who:
        # no statement attributed to them: only sentences that name them and quote nobody else
        named = [
            c
            for c in ranked
            if speaker_key(question.who) in words(c.text) and (not c.speaker or same_speaker(c.speaker, question.who))
        ]
        if named and named[0].score >= s.threshold:
            ranked = named
        elif question.who_is_named:
            return Composition([], unstated=f"what {question.who} said")
        # "what do some researchers believe ...": what the articles say, whoever says it
    return _general(question, ranked, s)


def _general(question: ParsedQuestion, ranked: list[ScoredSentence], s: ComposeSettings) -> Composition:
    """The best sentence, then further ones that score near it and keep to its focus."""
    best = ranked[0]
    chosen = [best]
    for candidate in ranked[1:]:
        if len(chosen) == s.max_sentences or candidate.score < s.keep_ratio * best.score:
            break
        if _distinct(candidate, chosen, s) and _on_focus(candidate, best, question):
            chosen.append(candidate)
    return Composition(chosen)


# the kinds of question whose answer is a few words of a sentence, as the reader was trained on (SQuAD asks
# who, what, when, where and how many; not yes or no, why, or what someone said)
READ_KINDS = frozenset({"factoid", "quantity", "event", "definition"})


def reads_no_answer(question: ParsedQuestion, ranked: Sequence[ScoredSentence], s: ComposeSettings) -> bool:
    """The reader read the best sentences for a question of a kind it reads, and none as answering it."""
    read = [c.answers for c in ranked if c.answers is not None]
    return bool(s.reader_cut and read) and question.kind in READ_KINDS and max(read) < s.reader_cut


def _near_miss(question: ParsedQuestion, ranked: Sequence[ScoredSentence], scorer: SentenceScorer) -> Composition:
    """An abstention that says what the closest sentences mention of what was asked, and what they don't say."""
    written = {stem(w) for c in ranked[:3] for text in around(c, scorer) for w in words(text)}
    asked = [*question.entities, *(w for w in question.focus if w not in question.name_words)]
    unstated = _unstated(question, ranked, scorer)
    mentioned = tuple(
        dict.fromkeys(
            a for a in asked if all(stem(w) in written for w in words(a)) and a.lower() not in unstated.lower()
        )
    )
    return Composition([], unstated=unstated, mentioned=mentioned)


def _unstated(question: ParsedQuestion, ranked: Sequence[ScoredSentence], scorer: SentenceScorer) -> str:
    """What a near miss asked that the articles don't say: what the person asked about said, a name
    the best sentences never write ("China"), else the question's word they match worst."""
    if question.kind == "attribution" and question.who:
        return f"what {question.who} said"
    written = {stem(w) for c in ranked[:3] for text in around(c, scorer) for w in words(text)}
    absent = [name for name in question.entities if not all(stem(w) in written for w in words(name))]
    word = absent[0] if absent else _weakest_word(question, ranked[0])
    return f"anything about “{word}”" if word else "what was asked"


def _weakest_word(question: ParsedQuestion, sentence: ScoredSentence) -> str:
    names = question.name_words
    asked = {w: m for w, m in sentence.word_match.items() if w in question.focus and w not in names}
    return min(asked, key=asked.get) if asked else ""


def _statements(question: ParsedQuestion, own: list[ScoredSentence], s: ComposeSettings) -> Composition:
    """A person's own statements: the best one, then the rest of the same quotation or article
    (in article order), then their best statements elsewhere."""
    best = own[0]
    asked_beyond_name = [w for w in question.focus if w not in set(words(question.who))]
    if asked_beyond_name and best.score < s.threshold:
        return Composition([], unstated=f"what {question.who} said about {' '.join(asked_beyond_name)}")
    same_article = sorted((c for c in own if c.article_id == best.article_id), key=lambda c: c.start)
    near = sorted(same_article, key=lambda c: abs(c.start - best.start))
    chosen = [best]
    for candidate in [*near, *own]:
        if len(chosen) == s.max_sentences:
            break
        if candidate is not best and candidate not in chosen and _distinct(candidate, chosen, s):
            chosen.append(candidate)
    in_article = sorted((c for c in chosen if c.article_id == best.article_id), key=lambda c: c.start)
    return Composition([*in_article, *(c for c in chosen if c.article_id != best.article_id)])


def _figures(
    question: ParsedQuestion, ranked: list[ScoredSentence], scorer: SentenceScorer, s: ComposeSettings
) -> Composition:
    """A "how many" answer: sentences giving a figure for the thing counted; "Reports differ" when
    they give different figures."""
    best = ranked[0]
    counted = []
    for candidate in ranked:
        if candidate.score < s.keep_ratio * best.score:
            break
        values = figures(candidate, question.thing, scorer, s)
        if not values or not _distinct(candidate, [c for c, _ in counted], s):
            continue
        # a further figure must be about what the first is: "how many troops were being trained"
        # is not answered by a number of troops somebody expects
        if counted and missing_words(question, candidate, s.figure_focus):
            continue
        counted.append((candidate, values))
    if not counted:
        return _general(question, ranked, s)
    counted = counted[: s.max_sentences]
    # reports differ when two of them share no figure ("3,000" against "10,000"); "3,000" in both agrees
    sets = [{_normalise(v) for v in values} for _, values in counted]
    if not any(not a & b for i, a in enumerate(sets) for b in sets[i + 1 :]):
        general = _general(question, ranked, s)  # one figure, or figures that agree: the best sentences
        given = [figures(c, question.thing, scorer, s) for c in general.chosen]
        return replace(general, values={i: " or ".join(dict.fromkeys(v)) for i, v in enumerate(given) if v})
    if len({c.passage.published[:10] for c, _ in counted if c.passage.published}) > 1:
        # reports of different dates: the newest first (undated ones last), each with its date
        counted.sort(key=lambda pair: pair[0].passage.published or "", reverse=True)
    values = {i: " or ".join(dict.fromkeys(v)) for i, (_, v) in enumerate(counted)}
    return Composition([c for c, _ in counted], differ=True, values=values)


# a date that says when something was said, not when what was asked happens: "officials said on Tuesday"
_REPORTED_ON = re.compile(rf"\b(?:{SPEECH_VERBS}|posted)\b(?:\s+\S+){{0,3}}\s*$", re.I)


Given = dict[str, list[tuple[str, str]]]  # the dates a sentence gives, as shown -> their day ranges


def _dates_given(sentence: ScoredSentence) -> Given:
    """The dates ``sentence`` names (ISO, ``first/last`` for a longer period), each its day range, but
    for those that say when something was said."""
    if sentence.facts is None:
        return {}
    return {
        d.date_from if d.date_from == d.date_to else f"{d.date_from}/{d.date_to}": [(d.date_from, d.date_to)]
        for d in sentence.facts.dates
        if not _REPORTED_ON.search(sentence.text[: max(0, d.start - sentence.start)])
    }


def _comparable(
    question: ParsedQuestion,
    ranked: list[ScoredSentence],
    s: ComposeSettings,
    gives: Callable[[ScoredSentence], T],
) -> list[tuple[ScoredSentence, T]]:
    """The sentences whose answers are compared for "Reports differ", best first, each with what it
    ``gives`` (read once): the best sentence when it gives an answer in a dated article, and others
    that give one in dated articles, score nearly as well (``differ_ratio``) and match the question's
    words as well as a further figure must (``figure_focus``); [] when the best sentence gives none."""
    best = ranked[0]
    chosen: list[tuple[ScoredSentence, T]] = []
    for candidate in ranked:
        if candidate.score < s.differ_ratio * best.score or len(chosen) == s.max_sentences:
            break
        if not candidate.passage.published or not _distinct(candidate, [c for c, _ in chosen], s):
            continue
        if candidate is not best and missing_words(question, candidate, s.figure_focus):
            continue  # a date or a name of something else
        given = gives(candidate)
        if given:
            chosen.append((candidate, given))
    return chosen if chosen and chosen[0][0] is best else []


def _other_days(a: ScoredSentence, b: ScoredSentence) -> bool:
    return a.article_id != b.article_id and a.passage.published[:10] != b.passage.published[:10]


def _dates_differ(question: ParsedQuestion, ranked: list[ScoredSentence], s: ComposeSettings) -> Composition | None:
    """A "when" answer from reports that disagree: dated articles of different days whose sentences,
    each about what was asked (:func:`_comparable`), name dates that share no day ("will be held on
    May 5" against "will be held on June 12"). The newest report first, each with the dates it gives
    and its own date; None (the answer is chosen as for any question) when they agree. Dates are
    compared as the articles' own dates resolve them (:mod:`rag.news`), so "on Sunday" in one report
    and "on May 5" in another agree when they are the same day; a date that says when something was
    said ("officials said on Tuesday") is not compared."""
    given = _comparable(question, ranked, s, _dates_given)

    def overlap(a: Given, b: Given) -> bool:
        ranges = [r for rs in b.values() for r in rs]
        return any(f1 <= t2 and f2 <= t1 for rs in a.values() for f1, t1 in rs for f2, t2 in ranges)

    if not any(
        _other_days(a, b) and not overlap(da, db) for i, (a, da) in enumerate(given) for b, db in given[i + 1 :]
    ):
        return None
    given.sort(key=lambda pair: pair[0].passage.published or "", reverse=True)
    values = {i: " or ".join(dates) for i, (_, dates) in enumerate(given)}
    return Composition([c for c, _ in given], differ=True, values=values)


# a name as written: a run of capitalised words, with the particles names hold ("Ursula von der Leyen"),
# or an abbreviation with dots ("U.S.")
_NAME_RUN = re.compile(
    r"(?:(?:[A-Z]\.){2,}|[A-Z][\w’'-]*)(?:\s+(?:(?:[A-Z]\.){2,}|[A-Z][\w’'-]*|(?:de|der|van|von|bin|al|la|le|da|di)\b))*"
)
_POSSESSIVE = re.compile(r"[’']s$")
_NOT_NAME_WORDS = STOPWORDS | NOT_NAMES


@dataclass(frozen=True)
class _Name:
    shown: str  # as written, without titles ("Prime Minister") or a possessive 's
    start: int  # offsets in the sentence's text
    end: int
    words: frozenset[str]  # lower case: names agree when they share one ("Lopez" and "Maria Lopez")


def _names_in(sentence: ScoredSentence, asked: set[str]) -> list[_Name]:
    """The names ``sentence`` writes, but for words of the question, titles, the calendar and who
    said the sentence."""
    left_out = asked | set(words(sentence.speaker))
    found = []
    for match in _NAME_RUN.finditer(sentence.text):
        kept = [_POSSESSIVE.sub("", w) for w in match.group().split()]
        kept = [w for w in kept if w.lower() not in _NOT_NAME_WORDS and w.lower().strip(".") not in left_out]
        if kept:
            found.append(_Name(" ".join(kept), match.start(), match.end(), frozenset(w.lower() for w in kept)))
    return found


def _beside(masked: list[str]) -> tuple[str, str]:
    """The words just before and after the masked name ("" at either end of the sentence)."""
    at = masked.index("\0")
    return (masked[at - 1] if at else "", masked[at + 1] if at + 1 < len(masked) else "")


def _names_differ(question: ParsedQuestion, ranked: list[ScoredSentence], s: ComposeSettings) -> Composition | None:
    """A "who" or "where" answer from reports that disagree: the best sentence and a further one about
    what was asked (:func:`_comparable`), in dated articles of different days, that say the same thing
    with another name ("Maria Lopez will chair the commission" against "Daniel Okafor will chair the
    commission"): each writes exactly one name the other does not, in the same place (the same word
    before and after it), and with those names masked the two read alike (``name_template`` of their
    words in order). The newer report first, each with the name it gives; None when no such pair is
    found. A bare name one report gives and another doesn't, a list of names, or two sentences worded
    differently are never called a disagreement: without the same wording around them, two names may
    both be true."""
    asked = set(words(question.text))
    found = _comparable(question, ranked, s, lambda c: _names_in(c, asked))
    if len(found) < 2:
        return None
    best, best_names = found[0]
    for other, other_names in found[1:]:
        only_best = [n for n in best_names if not any(n.words & m.words for m in other_names)]
        only_other = [m for m in other_names if not any(m.words & n.words for n in best_names)]
        if len(only_best) != 1 or len(only_other) != 1 or not _other_days(best, other):
            continue
        masked = [
            [*words(c.text[: n.start]), "\0", *words(c.text[n.end :])]
            for c, n in ((best, only_best[0]), (other, only_other[0]))
        ]
        if [_beside(m) for m in masked] != [_beside(masked[0])] * 2:
            continue  # not in the same place: "a Spanish engineer will chair" is no "Maria Lopez will chair"
        if SequenceMatcher(None, *masked, autojunk=False).ratio() < s.name_template:
            continue
        pair = sorted(
            [(best, only_best[0].shown), (other, only_other[0].shown)],
            key=lambda p: p[0].passage.published or "",
            reverse=True,
        )
        return Composition([c for c, _ in pair], differ=True, values={i: v for i, (_, v) in enumerate(pair)})
    return None


def _normalise(value: str) -> str:
    return re.sub(r"[\s,]", "", value.lower())


def answer_text(question: ParsedQuestion, composition: Composition, citations: Sequence[Citation]) -> str:
    """The answer's text: the quotes with their markers; for "who said ..." the speaker first; for
    differing figures "Reports differ:" and each figure with who gave it."""
    if composition.differ:
        parts = []
        dated = len({c.published[:10] for c in citations if c.published}) > 1
        for c in citations:
            by = c.speaker or c.source or c.title
            when = f" ({c.published[:10]})" if dated and c.published else ""
            parts.append(f"{c.value or '?'} according to {by}{when} [{c.number}]")
        return "Reports differ: " + "; ".join(parts) + "."
    quotes = " ".join(f"{c.quote} [{c.number}]" for c in citations)
    if question.asks_who_said and citations and citations[0].speaker:
        return f"{citations[0].speaker}: {quotes}"
    return quotes


def make_citation(
    number: int,
    candidate: ScoredSentence,
    text: str,
    facts: Sequence[SentenceFacts],
    value: str = "",
) -> Citation:
    """The citation of a chosen sentence, with the sentences around it in its article."""
    quote = text[candidate.start : candidate.end]
    # the whole sentences around the quote: the last one ending before it, the first one starting after it
    ends_before = [f for f in facts if f.end <= candidate.start]
    starts_after = [f for f in facts if f.start >= candidate.end]
    before = text[ends_before[-1].start : ends_before[-1].end] if ends_before else ""
    after = text[starts_after[0].start : starts_after[0].end] if starts_after else ""
    p = candidate.passage
    dates = ()
    if candidate.facts is not None:
        dates = tuple(
            d.date_from if d.date_from == d.date_to else f"{d.date_from}/{d.date_to}" for d in candidate.facts.dates
        )
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
        speaker=candidate.speaker,
        dates=dates,
        value=value,
        answer_span=candidate.answer_span,
    )
