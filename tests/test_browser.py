"""The chat UI in a real headless browser (Debian's chromium driven by Playwright)."""

import os
import shutil
from pathlib import Path

import pytest

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
