"""Sentence-aware chunking with exact character offsets (pure functions).

``chunk_text`` packs whole sentences (``rag.text.split_sentences``) into chunks that fit a token
budget, with a small sentence overlap between neighbours. A sentence longer than the budget is cut
at word boundaries (or, for a single enormous "word", at character boundaries), so no chunk ever
exceeds what the embedding model can read: nothing is silently truncated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .text import Span, split_sentences
from .types import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]

DEFAULT_CHUNK_TOKENS = 160
DEFAULT_OVERLAP_TOKENS = 48

_NON_SPACE = re.compile(r"\S+")


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int
    sentence: int  # index of the sentence it belongs to (pieces of one long sentence share it)


def _split_long(text: str, span: Span, limit: int, count_tokens: TokenCounter) -> list[Span]:
    """Cut one over-long span at word boundaries into parts of at most ``limit`` tokens."""
    words = [(span[0] + m.start(), span[0] + m.end()) for m in _NON_SPACE.finditer(text[span[0] : span[1]])]
    counts = count_tokens([text[a:b] for a, b in words])
    parts: list[Span] = []
    start = end = None
    used = 0
    for (a, b), n in zip(words, counts):
        if n > limit:  # one enormous "word": cut it by characters
            if start is not None:
                parts.append((start, end))
                start, used = None, 0
            step = max(1, (b - a) * limit // max(n, 1))
            parts.extend((i, min(i + step, b)) for i in range(a, b, step))
            continue
        if start is not None and used + n > limit:
            parts.append((start, end))
            start, used = None, 0
        if start is None:
            start = a
        end, used = b, used + n
    if start is not None:
        parts.append((start, end))
    return parts


def chunk_text(
    text: str,
    count_tokens: TokenCounter,
    max_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    sentences: Sequence[Span] | None = None,
) -> list[tuple[Span, tuple[Span, ...]]]:
    """Pack sentences into chunks of at most ``max_tokens`` tokens.

    Returns ``[((start, end), sentence_spans), ...]`` where ``text[start:end]`` is the chunk.
    Consecutive chunks share up to ``overlap_tokens`` worth of whole trailing sentences.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if sentences is None:
        sentences = split_sentences(text)
    if not sentences:
        return []
    counts = count_tokens([text[a:b] for a, b in sentences])
    pieces: list[_Piece] = []
    for index, ((a, b), n) in enumerate(zip(sentences, counts)):
        if n <= max_tokens:
            pieces.append(_Piece(a, b, n, index))
        else:
            parts = _split_long(text, (a, b), max_tokens, count_tokens)
            for (pa, pb), pn in zip(parts, count_tokens([text[pa:pb] for pa, pb in parts])):
                pieces.append(_Piece(pa, pb, pn, index))

    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, piece in enumerate(pieces):
        if current and used + piece.tokens > max_tokens:
            groups.append(current)
            # carry whole trailing sentences of the finished chunk into the next one
            carry: list[int] = []
            carried = 0
            for j in reversed(current):
                if carried + pieces[j].tokens > overlap_tokens or pieces[j].sentence == piece.sentence:
                    break
                if carried + pieces[j].tokens + piece.tokens > max_tokens:
                    break
                carry.insert(0, j)
                carried += pieces[j].tokens
            if len(carry) == len(current):  # never repeat a whole chunk
                carry, carried = [], 0
            current, used = carry, carried
        current.append(i)
        used += piece.tokens
    if current:
        groups.append(current)

    chunks = []
    for group in groups:
        members = [pieces[i] for i in group]
        sentence_spans = tuple((p.start, p.end) for p in members)
        chunks.append(((members[0].start, members[-1].end), sentence_spans))
    return _enforce_limit(text, chunks, count_tokens, max_tokens)


def _enforce_limit(text, chunks, count_tokens, max_tokens):
    """Re-count every chunk as a whole; split any that a tokenizer counts over the limit."""
    counts = count_tokens([text[a:b] for (a, b), _ in chunks])
    if all(n <= max_tokens for n in counts):
        return chunks
    fixed = []
    for ((a, b), sents), n in zip(chunks, counts):
        if n <= max_tokens:
            fixed.append(((a, b), sents))
        elif len(sents) > 1:
            half = len(sents) // 2
            left, right = sents[:half], sents[half:]
            fixed.extend(
                _enforce_limit(
                    text,
                    [((left[0][0], left[-1][1]), left), ((right[0][0], right[-1][1]), right)],
                    count_tokens,
                    max_tokens,
                )
            )
        else:
            parts = _split_long(text, (a, b), max(1, max_tokens - (n - max_tokens) - 1), count_tokens)
            if len(parts) <= 1:  # cannot cut finer: fall back to halving by characters
                mid = (a + b) // 2
                if b - a <= 1:  # a single character: nothing finer exists
                    fixed.append(((a, b), sents))
                    continue
                parts = [(a, mid), (mid, b)]
            fixed.extend(_enforce_limit(text, [(p, (p,)) for p in parts], count_tokens, max_tokens))
    return fixed


def chunk_article(
    article: Article,
    count_tokens: TokenCounter,
    max_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    sentences: Sequence[Span] | None = None,
) -> list[Chunk]:
    """The article's chunks, each with its offsets and its sentences' offsets (``sentences``: the
    article's sentence spans, if already split)."""
    spans = chunk_text(article.text, count_tokens, max_tokens, overlap_tokens, sentences)
    return [
        Chunk(article.id, i, start, end, article.text[start:end], sentences)
        for i, ((start, end), sentences) in enumerate(spans)
    ]
