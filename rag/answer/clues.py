"""What a sentence gives for a question: its content words, its figures for a thing counted, and light
stems to compare words by. Scoring, composition and the Assistant all read sentences this way."""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

from ..text import STOPWORDS, words

if TYPE_CHECKING:
    from .compose import ComposeSettings
    from .scoring import ScoredSentence, SentenceScorer

_TIMES = frozenset({"once", "twice", "thrice"})


_ADJECTIVE = re.compile(r"(al|ic|an|ive|ous|ed|ing|ese|ish|ian|ern|ary|ful|less|able|ible)$")


_FIGURE = re.compile(
    r"(?:\d(?:[\d,.]*\d)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"a hundred|a thousand|a million|a billion|once|twice|thrice|first|second|third|fourth|fifth|sixth|seventh|"
    r"eighth|ninth|tenth)\b)"
    r"(?:\s*(?:%|percent|per cent|million|billion|thousand|hundred))?"
    r"(?:\s*(?:or|to|and|-|–)\s*(?:\d(?:[\d,.]*\d)?)(?:\s*(?:million|billion|thousand))?)?",
    re.I,
)


def figures(sentence: ScoredSentence, thing: str, scorer: SentenceScorer, s: ComposeSettings) -> list[str]:
    """The figures the sentence gives for ``thing`` ("troops"). A number counts when the first content
    word after it is the thing or means much the same ("soldiers"), or names are in between ("3,000
    North Korean troops"); a number standing alone ("1,500 or 12,000,") counts when the sentence
    names the thing. A number of some other thing ("13,000 containers") does not; nor does a year."""
    found = []
    text = sentence.text
    for match in _FIGURE.finditer(text):
        value = match.group(0).strip(" ,.")
        if not value or re.fullmatch(r"(1[0-9]|20)\d\d", value):
            continue
        rest = text[match.end() :]
        after = content_words_of(rest)[: s.figure_window]
        if value.lower() in _TIMES:
            counts = thing == "times"
        elif not after or re.match(r"\s*[,.;:!?)”\"]", rest):
            counts = any(_close(w, thing, scorer, s) for w in content_words_of(text))
        else:  # what the number counts: the first word after it that is not a name or an adjective
            counts = False
            for word in after:
                if _close(word, thing, scorer, s):
                    counts = True
                    break
                if not _capitalised(word, rest) and not _ADJECTIVE.search(word):
                    break
        if counts:
            found.append(value)
    return found


def _capitalised(word: str, text: str) -> bool:
    """Is ``word`` written with a capital in ``text`` (a name such as "North Korean")?"""
    match = re.search(rf"\b({re.escape(word)})\b", text, re.I)
    return bool(match) and match.group(1)[:1].isupper()


def content_words_of(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and not w.isdigit()]


def _close(word: str, thing: str, scorer: SentenceScorer, s: ComposeSettings) -> bool:
    if not thing:
        return False
    if word[:5] == thing[:5]:
        return True
    return scorer.word_similarity(word, thing) >= s.figure_similarity


_SUFFIXES = ("ations", "ation", "ings", "ing", "ied", "ies", "ed", "es", "s", "ly")


def stem(word: str) -> str:
    """A light stem: one common suffix stripped, then at most five letters ("paying" and "pays" are
    "pay", "founded" and "founding" "found")."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:5]


def around(sentence: ScoredSentence, scorer: SentenceScorer) -> list[str]:
    """The sentence and the ones just before and after it in its article."""
    text, facts = scorer.article(sentence.article_id)
    at = bisect.bisect_right([f.start for f in facts], sentence.start) - 1
    if not 0 <= at < len(facts) or not facts[at].start <= sentence.start < facts[at].end:
        return [sentence.text]
    return [sentence.text, *(text[facts[i].start : facts[i].end] for i in (at - 1, at + 1) if 0 <= i < len(facts))]
