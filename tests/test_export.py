import json
import re
from html.parser import HTMLParser

import pytest

from rag import RagError
from rag.answer import Assistant
from rag.cli import main
from rag.export import export, from_json, to_html, to_json, to_markdown

from .conftest import SAMPLE

HOSTILE = (
    "Harbour Council <script>alert('title')</script>\n\n"
    "The harbour council met on Monday <img src=x onerror=alert(1)> and approved the budget of 12 million "
    "euros for dredging. <script>document.title='pwned'</script> Residents & traders welcomed the decision.\n"
)


@pytest.fixture(scope="module")
def answers(sample_index):
    assistant = Assistant(sample_index)
    first = assistant.ask("How many North Korean troops were being trained before being sent to Ukraine?")
    second = assistant.ask("Where were they arriving?", history=[first])
    unanswered = assistant.ask("What is the boiling point of mercury?")
    return [first, second, unanswered]


def test_json_round_trip(answers):
    assert from_json(to_json(answers[0])) == answers[0]
    assert from_json(to_json(answers)) == answers
    data = json.loads(to_json(answers[0]))
    assert data["schema"] == "newsrag.answer/1"
    assert {"number", "article_id", "title", "quote", "start", "end", "before", "after"} <= set(data["citations"][0])


def test_json_errors(answers):
    with pytest.raises(RagError, match="not an exported answer"):
        from_json('{"question": "q"}')
    with pytest.raises(RagError, match="malformed JSON"):
        from_json("{")


def test_markdown_lists_numbered_references(answers):
    text = to_markdown(answers[0])
    assert text.startswith("## How many North Korean troops")
    assert "1. **Officials Say North Korea Has Sent Troops to Russia." in text
    quote = next(line for line in text.splitlines() if line.startswith("   > South Korea’s spy chief"))
    assert quote.replace("**", "").startswith("   > South Korea’s spy chief told lawmakers that 3,000 North Korean")
    assert quote.count("**") == 2 and "3,000" in quote.split("**")[1]  # the answer words the reader marks
    conversation = to_markdown(answers)
    assert conversation.startswith("# Conversation") and conversation.count("\n## ") == 3
    assert "Closest matches" in conversation


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, _ in attrs:
            assert not name.startswith("on"), name

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_hostile_article_text(make_index, tmp_path):
    path = tmp_path / "hostile.txt"
    path.write_text(HOSTILE, encoding="utf-8")
    index = make_index()
    index.ingest([path])
    answer = Assistant(index).ask("How much did the harbour council approve for dredging?")
    assert not answer.abstained and "<img src=x onerror=alert(1)>" in answer.citations[0].quote
    page = to_html([answer])
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    shown = "".join(parser.text)
    assert "<img src=x onerror=alert(1)>" in shown  # shown literally
    assert "<script>alert('title')</script>" in shown
    assert "default-src 'none'" in page
    markdown = to_markdown(answer)
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt;" in markdown


def test_html_links_markers_to_references(answers):
    page = to_html(answers)
    assert '<a href="#a1-ref-1">[1]</a>' in page and 'id="a1-ref-1"' in page
    assert "<mark>South Korea’s spy chief told lawmakers that " in page  # the quote, its answer words marked:
    assert re.search(r'<mark>South Korea’s spy chief [^<]*<strong class="answer-words">[^<]*3,000', page)


def test_unknown_format(answers):
    with pytest.raises(RagError, match="unknown export format"):
        export(answers[0], "docx")


def test_cli_ask_writes_every_format(tmp_path, embedder, capsys):
    folder = tmp_path / "index"
    assert main(["ingest", str(SAMPLE), "--index", str(folder), "--quiet"]) == 0
    question = "How old is Donald Trump?"
    for fmt in ("md", "json", "html"):
        out = tmp_path / f"answer.{fmt}"
        assert main(["ask", question, "--format", fmt, "-o", str(out), "--index", str(folder)]) == 0
        assert out.read_text(encoding="utf-8")
    answer = from_json((tmp_path / "answer.json").read_text(encoding="utf-8"))
    assert answer.question == question and any("78-year-old" in c.quote for c in answer.citations)
    capsys.readouterr()
    assert main(["ask", question, "--index", str(folder), "--as-of", "2024-10-25"]) == 0
    out = capsys.readouterr().out
    assert "[1] The Unsinkable Donald Trump" in out and "characters" in out
    assert "As of 2024-10-25: nothing published later was read." in out
    week = tmp_path / "week.md"
    arguments = ["What did Trump say this week?", "--as-of", "2024-10-25", "--format", "md", "-o", str(week)]
    assert main(["ask", *arguments, "--index", str(folder)]) == 0
    assert "As of 2024-10-25" in week.read_text(encoding="utf-8")
    assert main(["ask", question, "--index", str(folder), "--as-of", "soon"]) == 1
    assert "--as-of 'soon' is not a date; use YYYY-MM-DD" in capsys.readouterr().err
    assert main(["ask", "   ", "--index", str(folder)]) == 1
    assert "the question is empty" in capsys.readouterr().err


def test_generative_answer_exports_flag_unsupported_sentences(answers):
    from dataclasses import replace

    first = answers[0]
    invented = "Officials said <b>ten</b> divisions & more had arrived."
    generated = replace(
        first,
        text=f"{first.citations[0].quote} [1] {invented}",
        citations=first.citations[:1],
        mode="generative",
        unsupported=(invented,),
        checks={"checked": 2, "kept": 1, "replaced": 0, "dropped": 1, "added": 0},
    )
    assert from_json(to_json(generated)) == generated
    markdown = to_markdown(generated)
    assert "Not supported by any passage" in markdown
    assert "- ⚠ Officials said &lt;b&gt;ten&lt;/b&gt; divisions &amp; more had arrived." in markdown
    assert "Citations checked: 2; kept 1, replaced 0, dropped 1, added 0." in markdown
    page = to_html(generated)
    assert '<span class="unsupported"' in page
    assert "Officials said &lt;b&gt;ten&lt;/b&gt; divisions &amp; more had arrived. ⚠</span>" in page
    assert "<b>ten</b>" not in page
    fallback = replace(first, notice="Showing the extractive answer: cannot reach the language model.")
    assert "Showing the extractive answer" in to_markdown(fallback) and "Showing the extractive" in to_html(fallback)



def test_every_format_carries_the_kind_the_speaker_and_the_figure(news_answers):
    said, differ = news_answers
    data = json.loads(to_json(news_answers))["answers"]
    assert data[0]["kind"] == "attribution" and data[0]["citations"][0]["speaker"] == "John Healey"
    assert data[1]["differ"] is True and {c["value"] for c in data[1]["citations"]} >= {"3,000", "10,000"}
    assert from_json(to_json(news_answers)) == news_answers
    for page in (to_markdown(news_answers), to_html(news_answers)):
        assert "said by John Healey" in page and "said by Boris Pistorius" in page
        assert "who said what" in page and "how many or how much" in page
        assert "figure: 1,500 or 12,000" in page
        assert "date not given" in page and "TT" in page  # the sample's articles: no date, the agency line
    assert differ.text.startswith("Reports differ: ")


def test_an_older_export_without_the_news_fields_still_loads(news_answers):
    data = json.loads(to_json(news_answers[0]))
    for key in ("kind", "differ", "unstated"):
        data.pop(key)
    for citation in data["citations"]:
        for key in ("speaker", "dates", "value"):
            citation.pop(key)
    loaded = from_json(json.dumps(data))
    assert loaded.kind == "" and loaded.citations[0].speaker == "" and loaded.citations[0].dates == ()
