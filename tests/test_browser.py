"""The chat UI in a real headless browser (Debian's chromium driven by Playwright)."""

import os
import re
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from rag import Article

from .conftest import DATA, PASSWORDS, SAMPLE, app_over, fill_all, launched, read_only_sample

ARTIFACTS = Path(__file__).parent / ".artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = (
    "Dock Workers <img src=x onerror=\"window.__xss='title'\"> Vote to Strike\n\n"
    "Dock workers at the northern port voted to strike for four days in March. "
    "<script>window.__xss='script'</script> The union said <img src=x onerror=\"window.__xss='img'\"> "
    "talks with the port authority had failed over pay.\n"
)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"chromium is not installed at {CHROMIUM}; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    url, _ = server
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    page.get_by_placeholder("Ask a question…").wait_for()
    yield page
    context.close()


def ask(page, question: str, reply: str = "#chat .answer") -> None:
    """Type a question, press Enter and wait for the next ``reply`` element (an answer by default)."""
    replies = page.locator(reply).count()
    box = page.get_by_placeholder("Ask a question…")
    box.fill(question)
    box.press("Enter")
    page.locator(reply).nth(replies).wait_for(timeout=60_000)


CONTRAST = """(selector) => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const [R, G, B] = [r, g, b].map(linear);
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const el = document.querySelector(selector);
  let back = el, background = "rgba(0, 0, 0, 0)";
  while (back && /rgba\\(0, 0, 0, 0\\)|transparent/.test(background)) {
    background = getComputedStyle(back).backgroundColor; back = back.parentElement;
  }
  if (/rgba\\(0, 0, 0, 0\\)|transparent/.test(background)) background = "rgb(255, 255, 255)";
  const [a, b] = [luminance(rgb(getComputedStyle(el).color)), luminance(rgb(background))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def contrast(page, selector: str) -> float:
    """The WCAG contrast ratio of the text of ``selector`` against the first background behind it."""
    return page.evaluate(CONTRAST, selector)


def test_screen_readers_get_the_text_of_each_message_not_its_markup(page):
    ask(page, "What did John Healey say?")
    labels = page.locator("#chat [aria-label]")
    page.wait_for_function("() => [...document.querySelectorAll('#chat [aria-label]')]"
                           ".some((el) => el.getAttribute('aria-label').includes('Healey'))", timeout=20_000)
    texts = [labels.nth(i).get_attribute("aria-label") for i in range(labels.count())]
    assert any("Healey" in text for text in texts), texts
    assert not any("<" in text and ">" in text for text in texts)
    listed = page.locator("#chat details").last
    listed.locator("summary").click()
    shown = listed.inner_text()
    assert "““" not in shown and "””" not in shown
    assert shown.count("Officials Say North Korea Has Sent Troops") == 1  # the article once, its quotes under it


def test_an_upload_shows_one_bar_with_the_chunks_embedded_the_rate_and_the_time_left(page, server, tmp_path):
    """While its chunks are embedded the bar says how many of how many, how fast and how long is left,
    in one place (the upload report), and it is not full before they are all embedded."""
    import json

    paragraph = ("The harbour board met on {n} March to discuss the dredging of the northern channel, which "
                 "pilots say has silted up since the storms of the winter, and heard from shipping lines. ")
    records = [{"title": f"Harbour board meeting {n}", "date": "2024-03-02", "source": "Port Wire",
                "text": "\n\n".join(paragraph.format(n=n) * 3 for _ in range(6))} for n in range(100)]
    archive = tmp_path / "harbour.jsonl"
    archive.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    page.get_by_role("tab", name="Library").click()
    page.locator("input[type=file]").set_input_files(str(archive))
    page.get_by_text("harbour.jsonl").first.wait_for()
    page.get_by_role("button", name="Add to library").click()
    _, app = server
    try:
        watch_the_bar(page)
    finally:  # the other tests of this server see its library as it was
        app.index.remove([a.id for a in app.index.articles() if a.title.startswith("Harbour board meeting")])


def watch_the_bar(page) -> None:
    """Read the progress shown until the upload report says what was added, and check it."""
    seen, drawn = [], []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        texts = page.locator(".progress-text, .progress-level-inner, .meta-text").all_inner_texts()
        seen += [t for t in texts if "chunks/s" in t]
        drawn.append(sum("chunks" in t for t in texts))
        if page.locator("#upload-report").get_by_text("added").count():
            break
        time.sleep(0.2)
    assert any(re.search(r"[\d,]+ of [\d,]+ chunks · \d+ chunks/s · about .+ left", t) for t in seen), (seen, drawn)
    assert page.locator("#upload-report").get_by_text("added").count()
    assert 1 <= max(drawn) <= 2  # one bar in the report's place (its line and its timer), not one on each output
    bars = page.evaluate("() => document.querySelectorAll('.progress-text, .progress-level').length")
    assert bars == 0  # the bar is gone once done


def test_ask_see_citations_and_open_a_source(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "start-1280x800.png"))
    ask(page, "How old is Donald Trump?")
    answer = page.locator("#chat .answer").last
    assert "The 78-year-old" in answer.inner_text()
    marker = answer.locator("a.cite").first
    assert marker.inner_text() == "[1]"
    hover = marker.get_attribute("title")
    assert "The Unsinkable Donald Trump" in hover and "“" in hover
    marker.click()
    sources = page.locator("#sources")
    sources.locator("mark").first.wait_for()
    assert any("78-year-old" in text for text in sources.locator("mark").all_inner_texts())
    assert "The Unsinkable Donald Trump" in sources.inner_text()
    page.screenshot(path=str(ARTIFACTS / "answer-1280x800.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "answer-390x844.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_follow_up_and_abstention_in_the_chat(page):
    ask(page, "How many North Korean troops were being trained before being sent to Ukraine?")
    assert "3,000" in page.locator("#chat .answer").last.inner_text()
    # the sources panel shows the quote inside its whole paragraph
    sources = page.locator("#sources")
    sources.get_by_text("Lloyd Austin told reporters during a visit to Rome").first.wait_for()
    ask(page, "Where were they arriving?")
    assert "Kursk" in page.locator("#chat .answer").last.inner_text()
    ask(page, "What is the boiling point of mercury?")
    last = page.locator("#chat .answer").last
    assert "The articles don't say" in last.inner_text()


def test_hostile_article_text_shows_literally_and_runs_nothing(page, server, tmp_path):
    _, app = server
    path = tmp_path / "dock.txt"
    path.write_text(HOSTILE, encoding="utf-8")
    assert app.index.ingest([path]).added == 1
    page.reload()
    page.get_by_placeholder("Ask a question…").wait_for()
    ask(page, "How many days will the dock workers strike?")
    chat_text = page.locator("#chat").inner_text()
    assert "<script>window.__xss='script'</script>" in chat_text
    assert "<img src=x onerror=\"window.__xss='img'\">" in chat_text
    page.locator("#chat .answer a.cite").last.click()
    assert "<img src=x" in page.locator("#sources").inner_text()
    page.get_by_role("tab", name="Library").click()
    page.get_by_role("tabpanel").get_by_text("Vote to Strike").first.wait_for()
    assert "<img src=x" in page.get_by_role("tabpanel").inner_text()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#chat img, #sources img, #chat script").count() == 0


ODD_QUESTIONS = {
    "": "the question is empty",
    "x" * 10_000: "the limit is 2,000",
    "?!?! ... ;-)": "the question has no words in it",
    "🚀🔥❓": "the question has no words in it",
    "ما هو عدد الجنود الكوريين الشماليين؟": None,  # Arabic: answered or abstained
    "북한군은 어디에 도착했나요?": None,  # Korean
}


def test_odd_questions_get_a_clear_message_never_a_trace(page):
    for question, error in ODD_QUESTIONS.items():
        ask(page, question, reply="#chat .answer, #chat .error")
        last = page.locator("#chat .answer, #chat .error").last
        if error:
            assert error in last.inner_text(), question[:40]
        else:
            assert last.get_attribute("class").split()[0] == "answer", question
    assert "Traceback" not in page.locator("body").inner_text()
    assert page.get_by_text("Error", exact=True).count() == 0  # no error toast from the server
    ask(page, "How old is Donald Trump?")  # the chat still works afterwards
    assert "The 78-year-old" in page.locator("#chat .answer").last.inner_text()


@pytest.mark.llm
def test_generative_answer_streams_then_shows_its_checked_citations(page, server, llm_server):
    _, app = server
    app.assistant._llm = llm_server
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("generative").check()
    box = page.get_by_placeholder("Ask a question…")
    answers = page.locator("#chat .answer").count()
    box.fill("How many North Korean troops were being trained before being sent to Ukraine?")
    box.press("Enter")
    page.locator("#chat .draft").first.wait_for(timeout=120_000)  # the model's text, as it is written
    page.locator("#chat .answer").nth(answers).wait_for(timeout=180_000)
    assert page.locator("#chat .draft").count() == 0  # replaced by the checked answer
    final = page.locator("#chat .answer").nth(answers)
    checks = page.locator("#chat .checks").last.inner_text()
    assert checks.startswith("Citations checked:")
    for marker in final.locator("a.cite").all():  # every remaining [n] opens a verbatim quote
        assert "“" in marker.get_attribute("title")
    page.screenshot(path=str(ARTIFACTS / "generative-1280x800.png"), full_page=True)


# --- logins: two users side by side ---------------------------------------------------------------


def signed_in(browser, url: str, name: str):
    """A new browser window logged in as ``name`` through Gradio's login page; also returns the list
    of every URL the page requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto(url)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Login").click()
    page.get_by_placeholder("Ask a question…").wait_for(timeout=60_000)
    page.locator("#access .signed-in").wait_for()
    return context, page, requested


def test_two_users_see_only_their_own_conversation_and_what_their_role_allows(browser, auth_server):
    from urllib.parse import urlsplit

    url, app = auth_server
    stranger = browser.new_context()
    try:
        page = stranger.new_page()
        page.goto(url)
        page.get_by_label("password").wait_for()
        assert page.get_by_placeholder("Ask a question…").count() == 0  # no chat before a login
    finally:
        stranger.close()

    alice, editor, alice_requests = signed_in(browser, url, "alice")
    bob, reader, bob_requests = signed_in(browser, url, "bob")
    try:
        assert editor.locator("#access").inner_text().startswith("Signed in as alice (editor)")
        assert reader.locator("#access").inner_text().startswith("Signed in as bob (reader)")
        assert contrast(reader, "#access .signed-in") >= 4.5  # WCAG AA for text of its size
        ask(editor, "What age is Donald Trump?")
        ask(reader, "How many soldiers were being trained in Russia?")
        ask(editor, "Who is Adrienne Uthe?")
        alice_chat, bob_chat = editor.locator("#chat").inner_text(), reader.locator("#chat").inner_text()
        assert "What age is Donald Trump?" in alice_chat and "Who is Adrienne Uthe?" in alice_chat
        assert "78-year-old" in alice_chat and "soldiers were being trained" not in alice_chat
        assert "soldiers were being trained" in bob_chat and "3,000" in bob_chat
        assert "What age" not in bob_chat and "Adrienne Uthe" not in bob_chat and "78-year-old" not in bob_chat
        assert "78-year-old" not in reader.locator("#sources").inner_text()
        reader.reload()  # a new page of the same login starts a new conversation; nobody else's shows
        reader.get_by_placeholder("Ask a question…").wait_for()
        assert reader.locator("#chat .answer").count() == 0
        assert not any(text in reader.locator("body").inner_text() for text in ("What age", "Adrienne", "78-year"))

        # the reader sees the library but not the controls that add or remove articles; the editor does
        for page in (editor, reader):
            page.get_by_role("tab", name="Library").click()
            page.locator("#library tbody tr").first.wait_for()
        assert editor.get_by_role("button", name="Add to library").is_visible()
        assert editor.get_by_role("button", name="Remove", exact=True).is_visible()
        assert reader.get_by_role("button", name="Add to library").count() == 0
        assert reader.get_by_role("button", name="Remove", exact=True).count() == 0
        reader.screenshot(path=str(ARTIFACTS / "reader-library-1280x800.png"))
        editor.locator("input[type=file]").set_input_files(str(DATA / "good" / "orchard.txt"))
        editor.get_by_text("orchard.txt").first.wait_for()
        editor.get_by_role("button", name="Add to library").click()
        editor.locator("#upload-report").get_by_text("added").first.wait_for(timeout=60_000)
        assert app.index.check() == [] and any(a.title.startswith("Apple Harvest") for a in app.index.articles())

        # a reader exports
        ask(reader, "How old is Donald Trump?")
        reader.get_by_role("tab", name="Export").click()
        reader.get_by_role("button", name="Export", exact=True).click()
        reader.get_by_role("button", name="Download answer.md").wait_for()
    finally:
        alice.close()
        bob.close()
    hosts = {urlsplit(address).hostname for address in alice_requests + bob_requests}
    assert hosts == {"127.0.0.1"}  # the page itself fetches nothing from anywhere else


# --- the library with 5,000 articles -------------------------------------------------------------

BULK = 5_000
SOURCES = ("Reuters", "Associated Press", "BBC News", "The Guardian", "Al Jazeera", "Deutsche Welle", "AFP")
TOPICS = ("Harbour", "Election", "Weather", "Transport", "Budget", "Health", "Schools", "Energy")
SIZES = ((1280, 800), (390, 844))
QUICK = 5.0  # seconds: the longest a search, a sort or a page of the table may take


def bulk_articles(count: int) -> list[tuple[Article, list, str]]:
    """Articles with a title, a source and a date, and a body of one sentence (they get no chunks)."""
    first = date(2015, 1, 1)
    items = []
    for n in range(count):
        topic = TOPICS[n % len(TOPICS)]
        title = (
            f"{topic} report {n:04d}: council members {'debate' if n % 3 else 'approve'} the plan for district {n % 97}"
        )
        published = (first + timedelta(days=(n * 7919) % 3650)).isoformat()
        article = Article.create(
            title,
            f"Report {n} on {topic.lower()}.",
            source=SOURCES[n % len(SOURCES)],
            url=f"https://news.example/{n}",
            published=published,
        )
        items.append((article, [], "bulk"))
    return items


@pytest.fixture(scope="module")
def library_server(tmp_path_factory, embedder):
    """The app launched for real over the sample articles, the test files and 5,000 articles stored
    with their title, date and source only (nothing embedded: the table is what is tested here)."""

    def bulk(index) -> None:
        index.store.add(bulk_articles(BULK), np.zeros((0, index.store.manifest.dimension), dtype=np.float32))

    yield from launched(tmp_path_factory.mktemp("library") / "index", embedder, [SAMPLE, DATA / "good"], bulk)


def open_library(browser, url: str):
    """A new 1280x800 browser window on the app's Library tab."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    page.get_by_placeholder("Ask a question…").wait_for()
    page.get_by_role("tab", name="Library").click()
    page.locator("#library tbody tr").first.wait_for()
    return context, page


def timed(page, action, condition: str, arg=None) -> float:
    """Seconds from ``action`` until the JavaScript ``condition`` holds in the page."""
    from playwright.sync_api import TimeoutError as Timeout

    start = time.monotonic()
    action()
    try:
        page.wait_for_function(condition, arg=arg, timeout=30_000)
    except Timeout:
        where = page.locator("#library-count").inner_text()
        pytest.fail(f"waited 30 s for {condition} ({arg!r}); the table shows {where!r}")
    return time.monotonic() - start


def shown(page, column: str) -> list[str]:
    return page.locator(f"#library tbody td.{column}").all_inner_texts()


COUNT_IS = "text => document.querySelector('#library-count').innerText.trim() === text"


def test_library_of_5000_articles_is_readable_searchable_sortable_and_paged(browser, library_server):
    url, app = library_server
    articles = app.index.articles()
    total = len(articles)
    assert total == app.index.stats().articles > BULK
    context, page = open_library(browser, url)
    try:
        assert page.locator("#library-count").inner_text().strip() == f"Rows 1–50 of {total:,}"
        assert page.locator("#library tbody tr").count() == 50

        # four readable columns: all inside the viewport and wide enough, in a proportional font
        headers = page.locator("#library thead th")
        assert headers.all_inner_texts() == ["Title", "Date", "Source", "Chunks"]
        for cell in (*headers.all(), *page.locator("#library tbody tr").first.locator("td").all()):
            box = cell.bounding_box()
            assert cell.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 1280, cell.inner_text()
            assert box["width"] >= 40, cell.inner_text()
        title_box = headers.first.bounding_box()
        assert title_box["width"] >= 150  # the title column gets the room
        font = page.locator("#library tbody td.title").first.evaluate("e => getComputedStyle(e).fontFamily")
        assert "mono" not in font.lower() and "courier" not in font.lower(), font
        header_height = page.locator("#library thead tr").bounding_box()["height"]
        row_heights = [r.bounding_box()["height"] for r in page.locator("#library tbody tr").all()]
        assert header_height <= min(row_heights) + 1, (header_height, min(row_heights))

        # newest first by default, then oldest first
        dated = sorted(a.published[:10] for a in articles if a.published)
        dates = shown(page, "date")
        assert dates[0] == dated[-1] and dates == sorted(dates, reverse=True)
        elapsed = timed(
            page,
            lambda: (page.get_by_label("Date").click(), page.get_by_role("option", name="Oldest first").click()),
            "first => document.querySelector('#library tbody td.date').innerText !== first",
            dates[0],
        )
        assert elapsed < QUICK, f"sorting took {elapsed:.1f} s"
        dates = shown(page, "date")
        assert dates[0] == dated[0] and dates == sorted(dates)
        assert page.locator("#library-count").inner_text().strip() == f"Rows 1–50 of {total:,}"

        # a search narrows the rows to titles or sources holding it, whatever the case
        matching = [a for a in articles if "harbour" in a.title.lower() or "harbour" in a.source.lower()]
        assert 50 < len(matching) < total
        elapsed = timed(
            page,
            lambda: page.get_by_label("Search titles and sources").fill("HARBOUR"),
            COUNT_IS,
            f"Rows 1–50 of {len(matching):,}",
        )
        assert elapsed < QUICK, f"searching took {elapsed:.1f} s"
        first_page, first_dates = shown(page, "title"), shown(page, "date")
        assert len(first_page) == 50 and all("harbour" in t.lower() for t in first_page)
        assert shown(page, "date") == sorted(shown(page, "date"))  # still oldest first

        # the next page shows the next rows, and the previous page the first ones again
        elapsed = timed(
            page,
            lambda: page.get_by_role("button", name="Next ▶").click(),
            COUNT_IS,
            f"Rows 51–100 of {len(matching):,}",
        )
        assert elapsed < QUICK, f"paging took {elapsed:.1f} s"
        second_page = shown(page, "title")
        assert len(second_page) == 50 and not set(second_page) & set(first_page)
        assert min(shown(page, "date")) >= max(first_dates)  # oldest first across pages
        elapsed = timed(
            page,
            lambda: page.get_by_role("button", name="◀ Previous").click(),
            COUNT_IS,
            f"Rows 1–50 of {len(matching):,}",
        )
        assert elapsed < QUICK and shown(page, "title") == first_page

        # nothing matches: a clear message, no rows
        elapsed = timed(
            page, lambda: page.get_by_label("Search titles and sources").fill("no such 100%_story"), COUNT_IS, "No rows"
        )
        assert elapsed < QUICK and page.locator("#library tbody tr").count() == 0
        assert "No article has “no such 100%_story”" in page.locator("#library").inner_text()
    finally:
        context.close()


def test_remove_an_article_of_the_page_among_5000(browser, library_server):
    url, app = library_server
    before = app.index.stats().articles
    context, page = open_library(browser, url)
    try:
        newest = page.locator("#library tbody td.title").first.inner_text()
        page.get_by_label("Remove an article (of this page)").click()
        options = page.get_by_role("option")
        assert options.count() == 50  # the remove list holds this page's articles, not 5,000
        options.first.click()
        page.get_by_role("button", name="Remove", exact=True).click()  # asks first, naming the article
        question = page.locator("#confirm-remove")
        question.get_by_text(f"Remove “{newest}”").wait_for(timeout=30_000)
        page.get_by_role("button", name="Keep it").click()
        question.wait_for(state="hidden", timeout=30_000)
        assert app.index.stats().articles == before  # nothing removed on the way
        page.get_by_role("button", name="Remove", exact=True).click()
        elapsed = timed(
            page,
            lambda: page.get_by_role("button", name="Yes, remove it").click(),
            COUNT_IS,
            f"Rows 1–50 of {before - 1:,}",
        )
        assert elapsed < QUICK, f"removing took {elapsed:.1f} s"
        assert app.index.stats().articles == before - 1
        assert newest not in shown(page, "title")
        assert f"Removed “{newest}”." in page.locator("#upload-report").inner_text()
        assert app.index.check() == []
    finally:
        context.close()


def test_screenshots_of_the_chat_sources_and_library_fit_the_screen(browser, library_server):
    url, _ = library_server
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in SIZES:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        try:
            page.goto(url)
            page.get_by_placeholder("Ask a question…").wait_for()
            ask(page, "When was the Cape Verran lighthouse built?")
            assert "built in 1871" in page.locator("#chat .answer").last.inner_text()
            page.screenshot(path=str(ARTIFACTS / f"chat-{width}x{height}.png"))
            assert page.evaluate("document.documentElement.scrollWidth") <= width

            # the sources panel: the article once, with its date, source and link, then its quotes
            page.locator("#chat .answer a.cite").first.click()
            sources = page.locator("#sources")
            sources.locator("#src-1-1").wait_for()
            article = sources.locator("section.article").first
            assert article.locator("h4.title").inner_text() == "Volunteers Restore Cape Verran Lighthouse"
            meta = article.locator(".meta")
            assert meta.inner_text().startswith("2024-05-02 · Coastal Post · coastalpost.example")
            link = meta.locator("a")
            assert link.get_attribute("href") == "https://coastalpost.example/lighthouse"
            assert link.get_attribute("rel") == "noopener noreferrer"
            assert sources.locator("#src-1-1").inner_text() == "[1]"
            assert "built in 1871" in sources.locator("#src-1-1 + mark").inner_text()  # the quote [1] marks
            sources.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"sources-{width}x{height}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width

            page.get_by_role("tab", name="Library").click()
            page.locator("#library tbody tr").first.wait_for()
            assert page.locator("#library-count").inner_text().strip().startswith("Rows 1–50 of 5,0")
            page.screenshot(path=str(ARTIFACTS / f"library-{width}x{height}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        finally:
            context.close()


def _chat_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    page.get_by_placeholder("Ask a question…").wait_for()
    return context, page


def test_a_read_only_library_says_why_and_offers_no_upload_or_remove(browser, small_disk, embedder):
    folder = read_only_sample(small_disk(4 * 2**20), embedder)
    with app_over(folder, embedder) as (url, _):
        context, page = _chat_page(browser, url)
        try:
            ask(page, "How old is Donald Trump?")
            assert "The 78-year-old" in page.locator("#chat .answer").last.inner_text()
            page.get_by_role("tab", name="Library").click()
            page.locator("#library tbody tr").first.wait_for()
            note = page.locator("#read-only").inner_text()
            assert note.startswith("This library is read-only: ") and "is on a read-only file system" in note
            assert "Questions are answered as usual; adding and removing articles is turned off." in note
            assert page.locator("#library tbody tr").count() == 2
            assert not page.get_by_role("button", name="Add to library").is_visible()
            assert not page.get_by_role("button", name="Remove", exact=True).is_visible()
            assert page.locator("input[type=file]").count() == 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "library-read-only-1280x800.png"))
        finally:
            context.close()


def test_a_full_disk_during_an_upload_is_said_in_the_library_tab_and_the_chat_answers(browser, small_disk, embedder):
    disk = small_disk(8 * 2**20)
    with app_over(disk / "index", embedder, [SAMPLE]) as (url, app):
        context, page = _chat_page(browser, url)
        try:
            page.get_by_role("tab", name="Library").click()
            page.locator("#library tbody tr").first.wait_for()
            ballast = fill_all(disk, disk / "index")
            page.locator("input[type=file]").set_input_files(str(DATA / "good" / "orchard.txt"))
            page.get_by_text("orchard.txt").first.wait_for()
            page.get_by_role("button", name="Add to library").click()
            report = page.locator("#upload-report .error")
            report.wait_for(timeout=60_000)
            assert report.inner_text().startswith("cannot add 1 article: no space left on the device holding")
            assert "with its 2 articles kept" in report.inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "library-disk-full-1280x800.png"))
            assert page.locator("#library tbody tr").count() == 2
            assert page.get_by_text("Error", exact=True).count() == 0  # said in the tab, not as a toast
            ask(page, "How old is Donald Trump?")
            assert "The 78-year-old" in page.locator("#chat .answer").last.inner_text()
            ballast.unlink()
            page.get_by_role("button", name="Add to library").click()  # the upload is still there to retry
            page.locator("#upload-report .summary").wait_for(timeout=60_000)
            assert page.locator("#upload-report .summary").inner_text().startswith("1 added")
            assert app.index.stats().articles == 3 and app.index.check() == []
        finally:
            context.close()
