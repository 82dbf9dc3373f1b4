"""Words and sentences: the one word pattern, stop words, and the sentence splitter."""

from hypothesis import given, settings

from rag.text import MARKER, content_terms, content_words, split_sentences, words

from .test_chunk import ANY_TEXT


@settings(max_examples=200, deadline=None)
@given(text=ANY_TEXT)
def test_sentences_are_trimmed_ordered_and_cover_the_text(text):
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
        previous_end = end
    covered = {i for start, end in spans for i in range(start, end)}
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


def test_sentence_split_on_news_prose():
    text = 'Dr. Smith met U.S. officials on Jan. 5. "We agree," he said. Then he left!\nNew paragraph'
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Dr. Smith met U.S. officials on Jan. 5.",
        '"We agree," he said.',
        "Then he left!",
        "New paragraph",
    ]


def test_words_content_words_and_terms():
    assert words("North Korea's 3,000 troops") == ["north", "korea", "s", "3", "000", "troops"]
    assert content_words("What did the minister say about the troops?") == ["minister", "say", "troops"]
    assert content_terms("Ukrainian intelligence") == ["ukrai", "intel"]


def test_citation_markers():
    assert [m.group(1) for m in MARKER.finditer("Yes [1], and no [12] [x].")] == ["1", "12"]
