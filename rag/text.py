"""Words and sentences, shared by every module: one word pattern, one stop-word list, one sentence splitter."""

from __future__ import annotations

import re

Span = tuple[int, int]

WORD = re.compile(r"\w+", re.UNICODE)
MARKER = re.compile(r"\[(\d+)\]")  # a citation marker "[n]" in an answer's text
_LINE = re.compile(r"[^\n]+")

# Function words carry no evidence for BM25 and make FTS5 walk huge posting lists.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t d ll m re ve""".split()
)


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased."""
    return WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The words of ``text`` that are not stop words, lower-cased."""
    return [w for w in words(text) if w not in STOPWORDS]


def content_terms(text: str) -> list[str]:
    """Content words, cut to five letters (a cheap, language-neutral stemmer)."""
    return [w[:5] for w in content_words(text)]


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_sentences(text: str) -> list[Span]:
    """Sentence spans ``(start, end)`` of ``text``, whitespace-trimmed, in order, never overlapping.

    A line break always ends a sentence (news dumps put one paragraph on a line); within a line,
    blingfire finds the boundaries. Every non-space character belongs to exactly one sentence.
    """
    import blingfire

    spans: list[Span] = []
    for line in _LINE.finditer(text):
        base, segment = line.start(), line.group()
        if not segment.strip():
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(segment)
        cuts = sorted({end for _, end in offsets if 0 < end < len(segment)})
        previous = 0
        for cut in [*cuts, len(segment)]:
            span = _trim(text, base + previous, base + cut)
            if span:
                spans.append(span)
            previous = cut
    return spans
