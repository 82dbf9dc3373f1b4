"""The chat's HTML: answers with their [n] markers, the sources panel, the library table."""

import pytest

from rag.answer import Assistant
from rag.store import StoredArticle
from rag.types import Answer, Citation
from ui.render import (
    answer_html,
    escape,
    library_choice,
    library_count,
    library_html,
    paragraph_around,
    quoted,
    read_only_html,
    sources_html,
)


@pytest.fixture(scope="module")
def answers(sample_index):
    assistant = Assistant(sample_index)
    first = assistant.ask("How many North Korean troops were being trained before being sent to Ukraine?")
    unanswered = assistant.ask("What is the boiling point of mercury?")
    return [first, unanswered]



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
    assert differ.count("<li><b>") == len(news_answers[1].citations)  # one line per figure
    articles = {c.article_id for c in news_answers[1].citations}
    assert differ.count('<li class="article">') == len(articles)  # then the sources, each article once
    assert "<b>1,500 or 12,000</b> according to Boris Pistorius" in differ


def test_the_sample_shows_its_agency_as_source_and_says_its_date_is_not_given(news_answers):
    said = news_answers[0]  # the bundled sample: a dump with an agency line (TT) and no dates
    assert said.citations[0].source == "TT" and said.citations[0].published is None
    assert '<span class="date">date not given</span> <span class="source">TT</span>' in answer_html(said, 1)
    assert '<p class="meta">date not given · TT</p>' in sources_html(said, 1)


def test_the_sources_under_an_answer_name_each_article_once_and_never_double_a_quotation_mark(news_answers):
    said = news_answers[0]  # two quotes of John Healey from one article
    listed = answer_html(said, 1).split("<details>")[1]
    assert listed.count(escape(said.citations[0].title)) == 1
    assert listed.count('<span class="num">') == len(said.citations)
    for c in said.citations:
        shown = escape(quoted(c.quote))
        assert shown in listed
        assert "““" not in shown and "””" not in shown and "“&quot;" not in shown
    assert quoted("“I think Ukraine will win,” he said.") == "“I think Ukraine will win,” he said."
    assert quoted('He said "no"') == 'He said "no"'
    assert quoted(" plain   words ") == "“plain words”"


def test_sources_panel_groups_the_quotes_by_article_in_article_order(news_answers, sample_index):
    def article_text(article_id):
        return sample_index.store.article(article_id).text

    said = news_answers[0]  # two quotes of John Healey, from one paragraph of one article
    panel = sources_html(said, 3, article_text)
    assert panel.count('<section class="article">') == 1
    assert panel.count(escape(said.citations[0].title)) == 1  # the title once
    first, second = sorted(said.citations, key=lambda c: c.start)
    assert panel.index(f'id="src-3-{first.number}"') < panel.index(f'id="src-3-{second.number}"')
    assert panel.count("<blockquote") == 1  # both quotes highlighted in the one paragraph
    assert f'<b class="num" id="src-3-{first.number}">[{first.number}]</b><mark>{escape(first.quote)}</mark>' in panel
    assert f"[{first.number}] [{second.number}] said by John Healey" in panel
    differ = news_answers[1]
    panel = sources_html(differ, 4, article_text)
    articles = {c.article_id for c in differ.citations}
    assert panel.count('<section class="article">') == len(articles)
    for c in differ.citations:  # every [n] of the answer has its anchor, with its number beside the quote
        assert f'id="src-4-{c.number}">[{c.number}]</b><mark>' in panel
    assert panel.count('<p class="meta">date not given · TT</p>') == len(articles)  # no date; the agency line


def _citation(number, article_id, start, quote, **fields):
    values = dict(title="Harbour <b>news</b>", source="", url="", published=None, before="", after="", score=1.0)
    values.update(fields)
    return Citation(number, article_id, quote=quote, start=start, end=start + len(quote), **values)


def test_sources_panel_shows_date_source_and_only_web_links_all_escaped():
    text = "First line.\nThe council <script>x</script> voted. Then it adjourned.\nLast & least line."
    council = _citation(
        2,
        "a",
        text.index("The council"),
        "The council <script>x</script> voted.",
        source="Gazette <i>",
        url="https://gazette.example/a?b=1&c=2",
        published="2024-03-14T09:00:00+00:00",
        speaker="Mayor <Ann>",
    )
    last = _citation(1, "a", text.index("Last"), "Last & least line.", url="https://gazette.example/a?b=1&c=2")
    elsewhere = _citation(3, "b", 0, "Another <story>.", url="javascript:alert(1)", before="Before.", after="After.")
    answer = Answer("q <u>?</u>", "… [1] … [2] … [3]", (last, council, elsewhere), abstained=False)
    texts = {"a": text}
    panel = sources_html(answer, 1, texts.get)
    assert "<script>" not in panel and "<i>" not in panel and "<u>" not in panel and "<Ann>" not in panel
    assert panel.count("Harbour &lt;b&gt;news&lt;/b&gt;") == 2  # one title per article
    assert (
        '<p class="meta">2024-03-14 · Gazette &lt;i&gt; · <a href="https://gazette.example/a?b=1&amp;c=2" '
        'target="_blank" rel="noopener noreferrer">gazette.example</a></p>'
    ) in panel
    assert panel.index('id="src-1-2"') < panel.index('id="src-1-1"')  # article order, not citation order
    assert "</mark> Then it adjourned.</blockquote>" in panel  # the rest of the paragraph
    assert "[2] said by Mayor &lt;Ann&gt;" in panel
    assert "javascript:" not in panel and panel.count("<a ") == 1  # no link but http(s)
    assert 'Before. <b class="num" id="src-1-3">[3]</b><mark>Another &lt;story&gt;.</mark> After.' in panel
    closest = Answer("q", "none", (), abstained=True, closest=(elsewhere,))
    assert "Closest matches" in sources_html(closest, 2) and 'id="src-2-3"' in sources_html(closest, 2)
    assert "No passages matched" in sources_html(Answer("q", "none", (), abstained=True), 2)


def _stored(title, published, source="Wire", chunks=3):
    return StoredArticle("id-" + title[:4], title, source, "", published, chunks, "", "")


def test_library_table_has_four_escaped_columns_and_says_where_the_page_is():
    table = library_html([_stored("Dock <img src=x> vote", "2024-06-07T08:00:00+00:00"), _stored("Undated", None)])
    assert "<img" not in table and "Dock &lt;img src=x&gt; vote" in table
    headers = ['<th scope="col">Title</th>', '<th scope="col">Date</th>', '<th scope="col">Source</th>']
    assert all(h in table for h in headers) and ">Chunks</th>" in table
    assert '<td class="date">2024-06-07</td>' in table and '<span class="none">no date</span>' in table
    assert table.count("<tr>") == 3
    assert "No article has “a &lt;b&gt;”" in library_html([], " a <b> ")
    assert "The library is empty" in library_html([])
    assert "Rows 1–50 of 5,000" in library_count(0, 50, 5000)
    assert "Rows 4,951–5,000 of 5,000" in library_count(4950, 50, 5000)
    assert "No rows" in library_count(0, 0, 0)
    label, value = library_choice(_stored("A title", None))
    assert value == "id-A ti" and label == "A title (no date) · id-A ti"


def test_an_article_of_a_story_told_several_times_lists_the_others():
    first, second = _stored("Troops reach Kursk", "2024-10-24"), _stored("Harbour vote", None)
    others = [_stored("Troops <b>reach</b> Kursk (AP)", "2024-10-23", source="AP"), _stored("Kursk", None, source="")]
    table = library_html([first, second], others={first.id: others})
    assert table.count('class="story"') == 1 and ">3 versions</summary>" in table
    assert "<li>Troops &lt;b&gt;reach&lt;/b&gt; Kursk (AP) <span class=\"source\">AP, 2024-10-23</span></li>" in table
    assert "<li>Kursk <span class=\"source\">no source, no date</span></li>" in table


def test_the_access_line_warns_names_the_user_and_escapes():
    from ui.render import access_html

    assert access_html() == ""
    exposed = access_html("0.0.0.0")
    assert "Open to the network without logins" in exposed and "listens on 0.0.0.0" in exposed
    signed_in = access_html(None, "<b>eve</b>", "reader")
    assert "Signed in as &lt;b&gt;eve&lt;/b&gt; (reader)" in signed_in and '<a href="logout">Log out</a>' in signed_in
    assert "Open to the network" not in signed_in


def test_the_read_only_note_says_why_escaped():
    note = read_only_html("/srv/<index> is on a read-only file system")
    assert note == (
        '<p class="read-only">This library is read-only: /srv/&lt;index&gt; is on a read-only file system. '
        "Questions are answered as usual; adding and removing articles is turned off.</p>"
    )
