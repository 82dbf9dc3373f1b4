import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_article, chunk_text, split_sentences
from rag.parse import parse_file

from .conftest import SAMPLE

WORDS = st.sampled_from(
    [
        "The",
        "minister",
        "said",
        "on",
        "Tuesday",
        "3,000",
        "troops",
        "U.S.",
        "Dr.",
        "e.g.",
        "«quoted»",
        "Zürich",
        "東京",
        "😀",
        "—",
        "...",
        "a" * 40,
        "supercalifragilisticexpialidocious",
        "(AFP)",
    ]
)
PUNCT = st.sampled_from([" ", " ", " ", ". ", "? ", "! ", "\n", "\n\n", ", ", "\t", "  "])
PROSE = st.lists(st.tuples(WORDS, PUNCT), max_size=400).map(lambda pairs: "".join(w + p for w, p in pairs))
ANY_TEXT = st.one_of(PROSE, st.text(max_size=2000))


def check_chunks(text, chunks, count_tokens, max_tokens):
    covered = set()
    for (start, end), sentences in chunks:
        assert 0 <= start < end <= len(text)
        assert count_tokens([text[start:end]])[0] <= max_tokens
        for s_start, s_end in sentences:
            assert start <= s_start < s_end <= end
            covered.update(range(s_start, s_end))
    # no character of substance is lost between chunks
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT, max_tokens=st.integers(4, 120), overlap=st.integers(0, 40))
def test_chunks_are_exact_slices_within_the_token_limit(embedder, text, max_tokens, overlap):
    chunks = chunk_text(text, embedder.count_tokens, max_tokens, overlap)
    check_chunks(text, chunks, embedder.count_tokens, max_tokens)


def test_sample_articles_chunk_to_sentence_boundaries(embedder):
    for article in parse_file(SAMPLE / "000_9df642e36ad14cf8.txt").articles:
        chunks = chunk_article(article, embedder.count_tokens)
        assert len(chunks) > 3
        ends = {end for _, end in split_sentences(article.text)}
        starts = {start for start, _ in split_sentences(article.text)}
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert chunk.start in starts and chunk.end in ends
            assert embedder.count_tokens([chunk.text])[0] <= 160
        # neighbours overlap by whole sentences, and never by a whole chunk
        for left, right in zip(chunks, chunks[1:]):
            assert right.start <= left.end
            assert right.start > left.start and right.end > left.end


def test_overlong_sentence_is_split_not_truncated(embedder):
    sentence = " ".join(["word"] * 1000) + "."
    chunks = chunk_text(sentence, embedder.count_tokens, max_tokens=100, overlap_tokens=0)
    assert len(chunks) >= 10
    joined = " ".join(sentence[a:b] for (a, b), _ in chunks)
    assert joined == sentence


def test_one_huge_word_is_cut_by_characters(embedder):
    text = "x" * 5000
    chunks = chunk_text(text, embedder.count_tokens, max_tokens=50, overlap_tokens=0)
    assert "".join(text[a:b] for (a, b), _ in chunks) == text
    assert all(embedder.count_tokens([text[a:b]])[0] <= 50 for (a, b), _ in chunks)


def test_invalid_budget_is_refused(embedder):
    with pytest.raises(ValueError):
        chunk_text("Some text.", embedder.count_tokens, max_tokens=0)
