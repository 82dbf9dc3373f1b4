"""The chat's HTML: answers with their [n] markers, the sources panel, the library table."""

import pytest

from rag.answer import Assistant
from ui.render import answer_html, paragraph_around, sources_html


@pytest.fixture(scope="module")
def answers(sample_index):
    assistant = Assistant(sample_index)
    first = assistant.ask("How many North Korean troops were being trained before being sent to Ukraine?")
    unanswered = assistant.ask("What is the boiling point of mercury?")
    return [first, unanswered]


@pytest.fixture(scope="module")
def news_answers(sample_index):
    assistant = Assistant(sample_index)
    return [
        assistant.ask("What did John Healey say?"),
        assistant.ask("How many North Korean troops are in Russia?"),
    ]


def test_sources_panel_highlights_the_quote_in_its_paragraph(answers, sample_index):
    def article_text(article_id):
        return sample_index.store.article(article_id).text

    first = answers[0].citations[0]
    before, after = paragraph_around(article_text(first.article_id), first.start, first.end)
    assert before == "" and after.startswith(" United States Defense Secretary Lloyd Austin told reporters")
    panel = sources_html(answers[0], 1, article_text)
    assert "<mark>South Korea’s spy chief" in panel and "Lloyd Austin told reporters during a visit" in panel
    assert paragraph_around("a\n" + "x" * 2000 + " QUOTE " + "y" * 2000, 2003, 2010)[0].startswith("…")


def test_the_chat_names_speakers_and_lists_reports_that_differ(news_answers):
    said = answer_html(news_answers[0], 1)
    assert said.count('<span class="speaker">said by John Healey</span>') == 2  # beside each listed quote
    differ = answer_html(news_answers[1], 2)
    assert "<p>Reports differ:</p><ul>" in differ
    assert differ.count("<li><b>") >= 2 + len(news_answers[1].citations)  # one line per figure, then sources
    assert "<b>1,500 or 12,000</b> according to Boris Pistorius" in differ
