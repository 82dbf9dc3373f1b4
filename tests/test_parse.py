import json

import pytest

from rag.errors import RejectedFile
from rag.parse import decode, parse_bytes, parse_file, parse_json, parse_jsonl, parse_text

from .conftest import DATA, SAMPLE

SAMPLE_FILE = SAMPLE / "000_9df642e36ad14cf8.txt"
NK_TITLE = "Officials Say North Korea Has Sent Troops to Russia. What Would That Mean for the War With Ukraine?"
TRUMP_TITLE = "The Unsinkable Donald Trump"


def test_sample_dump_gives_exactly_two_clean_articles():
    raw = SAMPLE_FILE.read_text(encoding="utf-8")
    articles = parse_file(SAMPLE_FILE).articles
    assert [a.title for a in articles] == [NK_TITLE, TRUMP_TITLE]
    for article in articles:
        lines = [line.strip() for line in article.text.split("\n")]
        assert "TT" not in lines
        assert article.title not in lines
        caption = article.metadata["caption"]
        assert caption not in article.text
        assert article.metadata["agency"] == "TT"
        assert article.source == "TT"  # the agency line: the source the dump gives
        # each body paragraph of the source appears exactly once
        for paragraph in filter(None, lines):
            assert article.text.count(paragraph) == 1
            assert paragraph in raw
    assert articles[0].text.startswith("American and South Korean officials said Wednesday")
    assert articles[0].text.endswith("officials in Kyiv say.")
    assert articles[1].text.startswith("He was impeached twice")
    assert "- Secret sauce -" in articles[1].text
    assert articles[0].metadata["caption"].startswith("Russian President Vladimir Putin")


def test_every_body_line_of_the_sample_is_kept():
    raw_lines = {line.strip() for line in SAMPLE_FILE.read_text(encoding="utf-8").split("\n") if line.strip()}
    header = {NK_TITLE, TRUMP_TITLE, "TT"}
    header |= {a.metadata["caption"] for a in parse_file(SAMPLE_FILE).articles}
    body = "\n".join(a.text for a in parse_file(SAMPLE_FILE).articles)
    assert {line for line in raw_lines - header if line not in body} == set()


def test_plain_single_article_text_uses_first_line_as_title():
    (article,) = parse_text("Bridge Opens\n\nThe bridge opened today.\nCrowds cheered.\n").articles
    assert article.title == "Bridge Opens"
    assert article.text == "The bridge opened today.\nCrowds cheered."


def test_plain_text_with_wide_gaps_stays_one_article():
    (article,) = parse_text("A Title\n\nFirst paragraph.\n\n\n\nSecond paragraph after a gap.").articles
    assert "Second paragraph" in article.text


def test_article_id_is_stable_and_content_derived():
    a = parse_text("Title\n\nSame body text.").articles[0]
    b = parse_text("Title\r\n\r\nSame   body\ntext.").articles[0]
    c = parse_text("Title\n\nOther body text.").articles[0]
    assert a.id == b.id != c.id


@pytest.mark.parametrize(
    ("name", "title", "source", "url", "published", "start"),
    [
        (
            "harbour-bridge.md",
            "Council Approves New Harbour Bridge",
            "Harbourside Gazette",
            "https://gazette.example/harbour-bridge",
            "2024-03-14",
            "The city council voted 9 to 2",
        ),
        (
            "lighthouse.html",
            "Volunteers Restore Cape Verran Lighthouse",
            "Coastal Post",
            "https://coastalpost.example/lighthouse",
            "2024-05-02",
            "A group of forty volunteers",
        ),
        ("orchard.txt", "Apple Harvest Falls After Late Frost", "", "", None, "Growers in the valley"),
        (
            "airport.pdf",
            "Airport Gets Second Runway",
            "",
            "",
            "2024-09-10T09:00:00+00:00",
            "The regional airport will add a second runway",
        ),
    ],
)
def test_single_article_formats(name, title, source, url, published, start):
    (article,) = parse_file(DATA / "good" / name).articles
    assert (article.title, article.source, article.url, article.published) == (title, source, url, published)
    assert article.text.startswith(start)


def test_html_drops_navigation_footer_and_script():
    (article,) = parse_file(DATA / "good" / "lighthouse.html").articles
    for boilerplate in ("Home", "Sport", "Copyright", "tracking"):
        assert boilerplate not in article.text
    assert "grant of 250,000 pounds" in article.text


def test_json_list_with_field_aliases():
    first, second = parse_file(DATA / "good" / "marathon.json").articles
    assert first.title == "Record Field Runs the Riverside Marathon"
    assert first.source == "Sports Desk"  # from {"name": ...}
    assert first.url == "https://sportsdesk.example/marathon"
    assert first.published == "2024-04-21T12:00:00+00:00"
    assert first.metadata["author"] == "R. Imani"
    assert second.title == "Library Extends Opening Hours"
    assert second.text.startswith("The central library")


def test_json_single_object_and_container():
    one = parse_json(json.dumps({"title": "T", "text": "Body."})).articles
    wrapped = parse_json(json.dumps({"articles": [{"headline": "T", "content": "Body."}]})).articles
    assert one[0].id == wrapped[0].id


def test_jsonl_keeps_good_lines_and_names_the_bad_one():
    parsed = parse_file(DATA / "bad" / "mixed.jsonl")
    assert [a.title for a in parsed.articles] == ["Bus Lanes Extended", "Night Trains Return"]
    assert len(parsed.notes) == 1 and parsed.notes[0].startswith("line 2: malformed JSON")


def test_json_record_without_text_is_noted():
    parsed = parse_jsonl('{"title": "No body"}\n{"title": "Fine", "text": "Has a body."}')
    assert [a.title for a in parsed.articles] == ["Fine"]
    assert parsed.notes[0].startswith("line 1: no text")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.txt", "empty file"),
        ("blank.md", "empty file (only whitespace)"),
        ("photo.txt", "binary file (a PNG image), not text"),
        ("broken.json", "malformed JSON at line 1"),
        ("scanned.pdf", "PDF has no text layer"),
        ("truncated.pdf", "could not read the PDF"),
        ("readme.rtf", "unsupported file type .rtf"),
        ("nav-only.html", "no article text found in the HTML"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(name, reason):
    with pytest.raises(RejectedFile) as caught:
        parse_file(DATA / "bad" / name)
    assert caught.value.reason.startswith(reason)
    assert "\n" not in caught.value.reason


def test_decoding_legacy_and_bom_encodings():
    text = "Café owners in Zürich said prices will rise next month because of the cost of energy."
    assert decode(text.encode("utf-16")) == text
    assert decode(text.encode("utf-8-sig")) == text
    assert decode(text.encode("latin-1")) == text
    assert decode(b"line one\r\nline two\r\n") == "line one\nline two\n"


def test_markdown_without_front_matter_or_heading():
    (article,) = parse_bytes(b"Plain Title\n\nJust text here.", ".md").articles
    assert (article.title, article.text) == ("Plain Title", "Just text here.")


def _story(n: int, words: int = 30) -> dict:
    body = " ".join(f"Harbour{n} crane {i} moved containers." for i in range(words // 4))
    return {"title": f"Port report {n}", "text": body, "date": f"2024-03-{1 + n % 28:02d}", "source": "Wire"}


def test_a_jsonl_archive_is_read_record_by_record_with_a_limit_per_article(tmp_path):
    from rag.parse import iter_archive

    lines = [json.dumps(_story(n)) for n in range(40)]
    lines[3] = json.dumps(_story(3, words=4000))  # one article over the limit
    lines[5] = "{not json"
    lines[7] = json.dumps(["a", "list"])
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = list(iter_archive(path, max_record_bytes=4096))
    articles = [r.article for r in records if r.article]
    assert len(articles) == 37 and articles[0].title == "Port report 0" and articles[0].published == "2024-03-01"
    notes = [r.note for r in records if r.note]
    size = len(lines[3].encode()) + 1
    limit = "over the 4 KB limit (RAG_MAX_FILE_MB applies to each article); skipped"
    assert notes[0] == f"line 4: article is {round(size / 1024)} KB, {limit}"
    assert notes[1] == "line 6: malformed JSON (Expecting property name enclosed in double quotes); skipped"
    assert notes[2] == "line 8: not a JSON object; skipped"
    offsets = [r.offset for r in records]
    assert offsets == sorted(offsets) and offsets[-1] == path.stat().st_size


@pytest.mark.parametrize("wrap", [lambda items: items, lambda items: {"count": len(items), "articles": items}])
def test_a_large_json_archive_is_streamed(tmp_path, wrap):
    from rag.parse import iter_archive

    path = tmp_path / "archive.json"
    path.write_text(json.dumps(wrap([_story(n) for n in range(30)])), encoding="utf-8")
    records = list(iter_archive(path, max_record_bytes=2048))
    assert [r.article.title for r in records] == [f"Port report {n}" for n in range(30)]


def test_one_huge_json_object_is_not_an_archive(tmp_path):
    from rag.parse import iter_archive

    path = tmp_path / "huge.json"
    path.write_text(json.dumps(_story(1, words=4000)), encoding="utf-8")
    with pytest.raises(RejectedFile, match="must hold a list of articles .* save it as JSON Lines"):
        list(iter_archive(path, max_record_bytes=2048))


def _pdf(*pages: bytes) -> bytes:
    """A real PDF whose pages draw these content streams (compressed) in Helvetica."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    for content in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})
        })
        stream = DecodedStreamObject()
        stream.set_data(content)
        page[NameObject("/Contents")] = writer._add_object(stream.flate_encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


TEXT_PAGE = b"BT /F1 12 Tf 72 700 Td (Harbour Report) Tj 0 -20 Td (The harbour board met on Monday.) Tj ET"
BOMB_PAGE = b"BT /F1 12 Tf 72 700 Td " + b"(a) Tj " * 160_000 + b"ET"  # 1.1 MB: about 5 s of reading


def test_a_pdf_page_of_too_many_drawing_instructions_is_skipped_with_a_note():
    from rag.parse import parse_bytes

    data = _pdf(TEXT_PAGE, BOMB_PAGE)
    assert len(data) < 10_000  # small on disk: the work is in what it unpacks to
    parsed = parse_bytes(data, ".pdf")
    assert "The harbour board met on Monday." in parsed.articles[0].text
    assert parsed.notes == [
        "page 2 has 1.1 MB of drawing instructions, more than the 1 MB read for a page's text; its text was not read"
    ]
    with pytest.raises(RejectedFile, match="every page of the PDF has more drawing instructions than are read"):
        parse_bytes(_pdf(BOMB_PAGE, BOMB_PAGE), ".pdf")


def test_reading_a_pdf_stops_past_its_time(monkeypatch):
    from rag import parse

    monkeypatch.setattr(parse, "PDF_SECONDS", 0.0)
    with pytest.raises(RejectedFile, match=r"reading the PDF's text took more than 0 s \(at page 1 of 2\)"):
        parse.parse_bytes(_pdf(TEXT_PAGE, TEXT_PAGE), ".pdf")
