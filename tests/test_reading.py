"""The reader in answers: near misses abstain saying what the articles do mention, and the answer words are
marked in the chat, the API and every export."""

import json
from dataclasses import replace

import pytest

from rag.answer import NO_ANSWER, AnswerSettings, Assistant
from rag.answer.compose import ComposeSettings, reads_no_answer
from rag.answer.question import parse_question
from rag.answer.scoring import ScoredSentence
from rag.export import answer_words, from_json, kind_line, to_html, to_json, to_markdown
from rag.types import Passage

from .conftest import check_answer

TROOPS = "How many North Korean troops were being trained before being sent to Ukraine?"


@pytest.fixture(scope="module")
def assistant(sample_index):
    return Assistant(sample_index)


@pytest.fixture(scope="module")
def unread(sample_index):
    return Assistant(sample_index, AnswerSettings(reader_sentences=0))


WIND = (
    "# Caledonia Deep wind farm approved\n\n"
    "The Caledonia Deep wind farm off the Scottish coast will have 120 turbines, the developer said. "
    "Once complete, the project is expected to power two million homes. "
    "Construction of Caledonia Deep starts next year in the port of Leith. "
    "The developer, Ocean Winds, said local suppliers would build the foundations.\n"
)


def test_a_near_miss_abstains_saying_what_the_articles_mention_and_what_not(make_index, tmp_path):
    (tmp_path / "wind.md").write_text(WIND, encoding="utf-8")
    index = make_index()
    index.ingest([tmp_path / "wind.md"])
    answer = Assistant(index).ask("Who chairs Ocean Winds?")
    check_answer(answer, index)
    assert answer.abstained and answer.text == NO_ANSWER and answer.citations == ()
    assert answer.mentioned == ("Ocean Winds",) and "chairs" in answer.unstated
    assert kind_line(answer).endswith("The articles found mention Ocean Winds, but don't say anything about “chairs”.")
    assert from_json(to_json(answer)).mentioned == ("Ocean Winds",)


def _read(answers: float) -> ScoredSentence:
    passage = Passage(1, "a", "A sentence.", 0, 11, 1.0, "T", "s", "", None)
    return ScoredSentence("a", 0, 11, "A sentence.", passage, 1, score=3.0, answers=answers)


@pytest.mark.parametrize(
    ("kind", "best", "abstains"),
    [("quantity", 0.1, True), ("factoid", 0.1, True), ("quantity", 0.5, False), ("yesno", 0.1, False),
     ("explanation", 0.1, False), ("attribution", 0.1, False)],
)
def test_the_reader_abstains_only_on_the_kinds_it_reads(kind, best, abstains):
    """Under its cut for every sentence it read, on a question of a kind it was trained on (a few words
    answer it); a yes/no, why or what-did-X-say question it was not trained on is never refused by it."""
    question = replace(parse_question("How many homes will it power?"), kind=kind)
    ranked = [_read(best), _read(best / 2), replace(_read(0.9), answers=None)]
    assert reads_no_answer(question, ranked, ComposeSettings(reader_cut=0.2)) is abstains
    assert not reads_no_answer(question, ranked, ComposeSettings(reader_cut=0.0))  # no reader


@pytest.mark.parametrize(
    ("question", "answer_words_hold"),
    [
        (TROOPS, "3,000"),
        ("How old is Donald Trump?", "78"),
    ],
)
def test_the_answer_words_are_marked_inside_the_first_quote(assistant, question, answer_words_hold):
    answer = assistant.ask(question)
    assert not answer.abstained
    first = answer.citations[0]
    assert first.answer_span is not None
    start, end = first.answer_span
    assert first.start <= start < end <= first.end
    _, words, _ = answer_words(first)
    assert answer_words_hold in words and len(words) < len(first.quote)


def test_without_the_reader_nothing_is_marked(unread):
    answer = unread.ask(TROOPS)
    assert not answer.abstained and all(c.answer_span is None for c in (*answer.citations, *answer.closest))


def test_the_marks_travel_in_every_export(assistant):
    answer = assistant.ask(TROOPS)
    first = answer.citations[0]
    _, words, _ = answer_words(first)
    data = json.loads(to_json(answer))
    assert data["citations"][0]["answer_span"] == list(first.answer_span)
    assert from_json(to_json(answer)) == answer
    assert f"**{words}**" in to_markdown(answer)
    assert f'<strong class="answer-words">{words}</strong>' in to_html(answer)


def test_marked_words_are_escaped_in_html():
    from rag.export import marked_html
    from rag.types import Citation

    quote = 'It said <img src=x onerror="alert(1)"> paid 5 dollars.'
    c = Citation(1, "a", "t", "", "", None, quote, 0, len(quote), "", "", 1.0, answer_span=(8, 40))
    html = marked_html(c)
    assert "<img" not in html and "&lt;img" in html and '<strong class="answer-words">' in html
