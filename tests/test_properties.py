"""Property tests: no reader crashes on arbitrary input; whatever it returns is a usable article."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.errors import RejectedFile
from rag.parse import decode, parse_bytes

TEXTY = st.one_of(
    st.text(max_size=3000),
    st.lists(
        st.sampled_from(["Title", "\n", "\n\n\n", "TT", "- Heading -", "Body text here.", "  ", "\t", "#"]), max_size=60
    ).map("".join),
)
RECORD = st.dictionaries(
    st.sampled_from(["title", "headline", "text", "body", "content", "url", "date", "source", "extra"]),
    st.one_of(
        st.text(max_size=200),
        st.integers(),
        st.none(),
        st.lists(st.text(max_size=20), max_size=3),
        st.dictionaries(st.sampled_from(["name", "id"]), st.text(max_size=20), max_size=2),
    ),
    max_size=6,
)


def check(data: bytes, suffix: str) -> None:
    try:
        parsed = parse_bytes(data, suffix)
    except RejectedFile as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    for article in parsed.articles:
        assert article.text.strip() and isinstance(article.title, str) and len(article.id) == 16


@settings(max_examples=150, deadline=None)
@given(text=TEXTY, suffix=st.sampled_from([".txt", ".md", ".html", ".json", ".jsonl"]))
def test_text_readers_never_crash(text, suffix):
    check(text.encode("utf-8"), suffix)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".txt", ".md", ".html", ".json", ".jsonl", ".pdf"]))
def test_arbitrary_bytes_never_crash_a_reader(data, suffix):
    check(data, suffix)


@settings(max_examples=150, deadline=None)
@given(records=st.one_of(RECORD, st.lists(RECORD, max_size=5)))
def test_json_and_jsonl_records(records):
    check(json.dumps(records).encode(), ".json")
    lines = records if isinstance(records, list) else [records]
    check("\n".join(json.dumps(r) for r in lines).encode(), ".jsonl")


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=500))
def test_decoding_round_trips_utf8_and_utf16(text):
    if not text.strip() or "\x00" in text or "\r" in text:
        return
    assert decode(text.encode("utf-8")) == decode(text.encode("utf-16"))
