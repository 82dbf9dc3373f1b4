"""Feeds: a real HTTP server on 127.0.0.1 serves RSS and Atom feeds and the pages their entries link
to (good, broken, slow, huge, not HTML); the real model, SQLite and FAISS store what they give."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from rag.cli import main
from rag.errors import RagError, RejectedFile
from rag.feeds import (
    Fetcher,
    FetchError,
    Watcher,
    _entry_record,
    ingest_sources,
    is_feed_source,
    is_public_host,
    parse_interval,
    read_feed,
    split_sources,
    strip_html,
    watch,
)

TIMEOUT = 3.0  # seconds: the slow page sleeps longer; generous for the others on a busy machine
MAX_PAGE_KB = 8  # the huge page is bigger

BRIDGE = """<!DOCTYPE html>
<html><head><title>Council approves new harbour bridge | Harbourside Gazette</title>
<meta property="og:title" content="Council approves new harbour bridge">
<meta property="article:published_time" content="2024-10-21T08:00:00+00:00">
<meta name="author" content="Maria Lindqvist"></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>Council approves new harbour bridge</h1>
<p>The city council voted on Monday to build a new bridge across the harbour, ending a debate that has
lasted more than ten years.</p>
<p>The bridge will carry two lanes of traffic, a cycle path and a footpath, and is expected to cost
about 240 million crowns.</p>
<p>Construction is due to begin next spring and to take three years, the council's planning director
told reporters after the vote.</p>
<p>Residents of the eastern suburbs, who now drive around the bay to reach the city centre, welcomed the
decision, but some shop owners near the old ferry quay fear they will lose customers.</p>
</article><footer>Copyright Harbourside Gazette</footer></body></html>"""

LIBRARY = """<!DOCTYPE html>
<html><head><title>Central library reopens after flood repairs</title></head>
<body><article><h1>Central library reopens after flood repairs</h1>
<p>The central library opened its doors again on Saturday, eight months after a burst water main
flooded its ground floor and ruined thousands of books.</p>
<p>Librarians said that most of the children's collection had been replaced with gifts from other
libraries in the region and from readers who donated their own books.</p>
<p>The repairs cost the city just over four million crowns, most of it paid by the insurer.</p>
</article></body></html>"""

ORCHARD = """<!DOCTYPE html>
<html><head><title>Valley orchards report a record apple harvest</title>
<meta name="date" content="2024-09-30"></head>
<body><main><h1>Valley orchards report a record apple harvest</h1>
<p>Fruit growers in the valley picked more apples this autumn than in any year since records began,
the growers' association said on Monday.</p>
<p>A mild spring without late frosts and a wet summer gave the trees an unusually heavy crop, the
association's chairman said.</p>
<p>Prices at the farm gate have fallen by almost a fifth as a result, and several growers are turning
the surplus into juice and cider.</p>
</main></body></html>"""

FIRE = """<!DOCTYPE html>
<html><head><title>Warehouse fire closes the coast road</title></head>
<body><article><h1>Warehouse fire closes the coast road</h1>
<p>A fire that broke out in a timber warehouse on Tuesday night forced the police to close the coast
road for several hours.</p>
<p>Firefighters from three stations fought the blaze until the early morning, and nobody was hurt,
the rescue service said.</p>
</article></body></html>"""

HUGE = "<html><body><article>" + "<p>The stadium plans run to many pages.</p>" * 400 + "</article></body></html>"

SUMMARY_STRIKE = (
    "<p>Talks between the ferry operator and the seamen's union broke down on Wednesday evening, and the "
    "union said its members would stop work on all harbour ferries from Friday morning unless the operator "
    "returns with a better offer on pay and rest periods.</p>"
)
SUMMARY_MARATHON = (
    "The organisers of the city marathon have announced a new route that starts at the harbour, crosses the "
    "old stone bridge twice and finishes in the park beside the cathedral, avoiding the roadworks in the centre."
)
SUMMARY_REDIRECT = (
    "The regional transport authority said on Thursday that bus fares will rise by five percent in January, "
    "the first increase in four years, to pay for newer and quieter electric buses on the busiest routes."
)
SUMMARY_ONLY = (
    "Volunteers planted four hundred oak saplings along the river on Sunday, the first step in a plan to "
    "restore the woodland that was cleared for farming more than a century ago, the nature trust said."
)


def rss(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbourside Gazette</title><link>{base}/</link>
<description>News from the harbour city</description>
<item><title>Council approves new harbour bridge</title><link>{base}/news/bridge.html</link>
<pubDate>Mon, 21 Oct 2024 09:30:00 GMT</pubDate><description>The council voted for a bridge.</description></item>
<item><title>Central library reopens after flood repairs</title><link>{base}/news/library.html</link>
<pubDate>Sat, 19 Oct 2024 10:00:00 GMT</pubDate></item>
<item><title>Ferry strike talks collapse</title><link>{base}/news/strike.html</link>
<pubDate>Wed, 23 Oct 2024 20:15:00 GMT</pubDate><description><![CDATA[{SUMMARY_STRIKE}]]></description></item>
<item><title>New marathon route announced</title><link>{base}/news/marathon.html</link>
<pubDate>Thu, 24 Oct 2024 07:00:00 GMT</pubDate><description>{SUMMARY_MARATHON}</description></item>
<item><title>Stadium plans published in full</title><link>{base}/news/stadium.html</link>
<pubDate>Fri, 25 Oct 2024 12:00:00 GMT</pubDate><description>Read the plans.</description></item>
<item><title>Bus fares to rise in January</title><link>{base}/news/fares</link>
<pubDate>Thu, 24 Oct 2024 15:00:00 GMT</pubDate><description>{SUMMARY_REDIRECT}</description></item>
<item><title>A local file</title><link>file:///etc/passwd</link><description>Nothing.</description></item>
</channel></rss>"""


def atom(base: str, extra: str = "") -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Valley Courier</title><id>urn:valley-courier</id>
<updated>2024-10-01T00:00:00Z</updated>
<entry><title>Valley orchards report a record apple harvest</title><id>urn:orchard</id>
<link href="{base}/valley/orchard.html"/><updated>2024-10-01T06:00:00Z</updated></entry>
<entry><title>Volunteers plant oaks along the river</title><id>urn:oaks</id>
<updated>2024-10-02T06:00:00Z</updated><summary>{SUMMARY_ONLY}</summary></entry>
<entry><title>Photo of the week</title><id>urn:photo</id><link href="{base}/valley/photo.jpg"/>
<updated>2024-10-03T06:00:00Z</updated></entry>
{extra}</feed>"""


FIRE_ENTRY = """<entry><title>Warehouse fire closes the coast road</title><id>urn:fire</id>
<link href="{base}/valley/fire.html"/><updated>2024-10-04T06:00:00Z</updated></entry>"""


class Site:
    """What the test server serves, and every path it was asked for."""

    def __init__(self) -> None:
        self.base = ""
        self.requests: list[str] = []
        self.atom_extra = ""

    def pages(self, path: str) -> list[str]:
        """The requests for ``path`` prefixes other than the feeds themselves."""
        return [r for r in self.requests if r.startswith(path)]

    def respond(self, path: str) -> tuple[int, dict[str, str], bytes, float]:
        html = {"Content-Type": "text/html; charset=utf-8"}
        routes = {
            "/rss.xml": (200, {"Content-Type": "application/rss+xml"}, rss(self.base), 0),
            "/atom.xml": (200, {"Content-Type": "application/atom+xml"}, atom(self.base, self.atom_extra), 0),
            "/news/bridge.html": (200, html, BRIDGE, 0),
            "/news/library.html": (200, html, LIBRARY, 0),
            "/news/strike.html": (500, html, "<h1>Internal Server Error</h1>", 0),
            "/news/marathon.html": (200, html, FIRE, 3 * TIMEOUT),
            "/news/stadium.html": (200, html, HUGE, 0),
            "/news/fares": (302, {"Location": "file:///etc/passwd"}, "", 0),
            "/valley/orchard.html": (200, html, ORCHARD, 0),
            "/valley/fire.html": (200, html, FIRE, 0),
            "/valley/photo.jpg": (200, {"Content-Type": "image/jpeg"}, "\xff\xd8\xff", 0),
        }
        status, headers, body, delay = routes.get(path.split("?")[0], (404, html, "<h1>Not Found</h1>", 0))
        return status, headers, body.encode("utf-8"), delay


@pytest.fixture
def site():
    """A real HTTP server on a free port of 127.0.0.1, in a thread, for one test."""
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            state.requests.append(self.path)
            status, headers, body, delay = state.respond(self.path)
            time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if self.path != "/news/stadium.html":  # the huge page states no length: read until the limit
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the reader gave up (the slow and the huge page)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def index(make_index):
    return make_index(feed_timeout=TIMEOUT, max_page_kb=MAX_PAGE_KB)


def by_title(index):
    return {a.title: index.article(a.id) for a in index.articles()}


def test_feeds_are_ingested_with_a_note_for_every_entry_that_needed_one(site, index):
    base = site.base
    report = ingest_sources(index, [f"{base}/rss.xml", f"{base}/atom.xml"])
    rss_result, atom_result = report.files
    assert (rss_result.path, rss_result.status, rss_result.added) == (f"{base}/rss.xml", "added", 5)
    assert (atom_result.path, atom_result.status, atom_result.added) == (f"{base}/atom.xml", "added", 2)
    assert report.rejected == [] and report.chunks_embedded >= 7
    assert rss_result.notes[:-1] == [
        f"page {base}/news/strike.html returned HTTP 500 Internal Server Error; used the feed's summary",
        f"page {base}/news/marathon.html timed out after {TIMEOUT:g} s; used the feed's summary",
        f"entry 'Stadium plans published in full': page {base}/news/stadium.html is over the {MAX_PAGE_KB} KB "
        "limit, and the feed gives too little text of its own; skipped",
        f"page {base}/news/fares leads to file:///etc/passwd (only http and https links are fetched); "
        "used the feed's summary",
    ]
    refused = rss_result.notes[-1]  # feedparser writes the link as file://etc/passwd
    assert refused.startswith("entry 'A local file': link file:") and refused.endswith(
        "refused (only http and https links are fetched), and the feed gives too little text of its own; skipped"
    )
    assert atom_result.notes == [
        f"entry 'Photo of the week': page {base}/valley/photo.jpg is image/jpeg, not HTML, and the feed gives "
        "too little text of its own; skipped"
    ]
    summary = report.summary()
    assert summary.startswith("articles: 7 added, 0 unchanged, 0 duplicate; files: 0 rejected, 0 skipped")
    assert f"  note: {base}/rss.xml: page {base}/news/strike.html returned HTTP 500" in summary


def test_stored_articles_take_the_page_first_and_the_entry_where_the_page_says_nothing(site, index):
    base = site.base
    ingest_sources(index, [f"{base}/rss.xml", f"{base}/atom.xml"])
    articles = by_title(index)
    bridge = articles["Council approves new harbour bridge"]
    assert bridge.text.startswith("The city council voted on Monday to build a new bridge across the harbour")
    assert "about 240 million crowns" in bridge.text and "Copyright" not in bridge.text and "Home" not in bridge.text
    assert (bridge.source, bridge.url) == ("Harbourside Gazette", f"{base}/news/bridge.html")
    assert bridge.published.startswith("2024-10-21")  # the page's own date
    assert bridge.metadata["text_from"] == "page" and bridge.metadata["author"] == "Maria Lindqvist"
    library = articles["Central library reopens after flood repairs"]
    assert library.published == "2024-10-19T10:00:00+00:00"  # the page has none: the entry's
    assert "thousands of books" in library.text
    strike = articles["Ferry strike talks collapse"]  # the page failed: the summary, without its HTML
    assert strike.text == strip_html(SUMMARY_STRIKE) and "<p>" not in strike.text
    assert (strike.url, strike.published, strike.metadata["text_from"]) == (
        f"{base}/news/strike.html",
        "2024-10-23T20:15:00+00:00",
        "feed",
    )
    assert articles["New marathon route announced"].text == SUMMARY_MARATHON
    oaks = articles["Volunteers plant oaks along the river"]
    assert (oaks.text, oaks.source, oaks.url) == (SUMMARY_ONLY, "Valley Courier", "")  # no link: no note
    assert oaks.published == "2024-10-02T06:00:00+00:00"
    orchard = articles["Valley orchards report a record apple harvest"]
    assert (orchard.source, orchard.published) == ("Valley Courier", "2024-09-30")
    assert "Stadium plans published in full" not in articles and "A local file" not in articles
    assert not any(r.startswith("/etc") or "passwd" in r for r in site.requests)
    passages = index.search("How much will the harbour bridge cost?", k=1)
    assert passages[0].title == "Council approves new harbour bridge"
    assert index.check() == []


def test_a_second_run_downloads_only_the_feeds_and_the_entries_not_stored(site, index):
    sources = [f"{site.base}/rss.xml", f"{site.base}/atom.xml"]
    ingest_sources(index, sources)
    first = list(site.requests)
    assert "/news/bridge.html" in first and "/valley/orchard.html" in first
    site.requests.clear()
    report = ingest_sources(index, sources)
    # the stored entries (from their page or their summary) are not fetched again; the two that gave
    # nothing (too big, not HTML) are tried again, since a page can come back
    assert sorted(site.requests) == ["/atom.xml", "/news/stadium.html", "/rss.xml", "/valley/photo.jpg"]
    assert (report.added, report.unchanged, report.chunks_embedded) == (0, 7, 0)
    assert [f.status for f in report.files] == ["unchanged", "unchanged"]
    assert len(index.articles()) == 7


def test_an_entry_stored_from_another_feed_is_a_duplicate(site, index, tmp_path):
    """The same article reached by another link is stored once (its id is its content)."""
    ingest_sources(index, [f"{site.base}/atom.xml"])
    copy = tmp_path / "copy.xml"
    copy.write_text(
        f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Copy Desk</title>
<item><title>Valley orchards report a record apple harvest</title><link>{site.base}/valley/orchard.html?from=copy</link>
</item></channel></rss>""",
        encoding="utf-8",
    )
    assert is_feed_source(copy) and not is_feed_source(tmp_path / "notes.txt")
    report = ingest_sources(index, [copy])
    assert (report.files[0].path, report.files[0].status, report.duplicate) == (str(copy), "duplicate", 1)
    assert len(index.articles()) == 2


def test_other_schemes_and_unreadable_feeds_are_rejected(site, index, tmp_path):
    not_a_feed = tmp_path / "page.rss"
    not_a_feed.write_text("just some words, no XML at all", encoding="utf-8")
    report = ingest_sources(
        index,
        [
            "file:///etc/passwd",
            "ftp://127.0.0.1/feed.xml",
            f"{site.base}/missing.xml",
            f"{site.base}/news/bridge.html",
            str(not_a_feed),
        ],
    )
    reasons = {f.path: f.reason for f in report.files}
    assert all(f.status == "rejected" for f in report.files) and len(reasons) == 5
    assert reasons["file:///etc/passwd"] == "only http and https feeds are fetched"
    assert reasons["ftp://127.0.0.1/feed.xml"] == "only http and https feeds are fetched"
    assert reasons[f"{site.base}/missing.xml"] == "feed returned HTTP 404 Not Found"
    assert reasons[f"{site.base}/news/bridge.html"].startswith("not an RSS or Atom feed")
    assert reasons[str(not_a_feed)].startswith("not an RSS or Atom feed")
    assert site.requests == ["/missing.xml", "/news/bridge.html"]
    assert index.articles() == []


@pytest.mark.parametrize(
    "host, public",
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
        ("10.20.30.40", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # a cloud's metadata service
        ("fd00::1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_public_addresses(host, public):
    assert is_public_host(host) is public


def test_a_feed_from_the_internet_is_not_followed_into_this_machine_or_its_network(site):
    fetcher = Fetcher(TIMEOUT, MAX_PAGE_KB * 1024)
    try:
        with pytest.raises(FetchError, match="^is not at a public internet address"):
            fetcher.get(f"{site.base}/news/bridge.html", public_only=True)
        assert site.requests == []
        feed = read_feed(atom(site.base).encode(), f"{site.base}/atom.xml")
        assert not feed.public  # a feed read from text alone: its links are followed anywhere
        entry = feed.entries[0]
        record, note = _entry_record(entry, replace(feed, public=True), fetcher)
        assert site.requests == []
        assert f"page {entry.link} is not at a public internet address (a feed from the internet" in note
        assert record is None
        record, note = _entry_record(entry, feed, fetcher)
        assert (record["text_from"], note) == ("page", "")
        assert site.requests == [entry.link.removeprefix(site.base)]
    finally:
        fetcher.close()


def test_read_feed_never_opens_feed_text_as_a_file_or_url(tmp_path):
    secret = tmp_path / "secret.rss"
    secret.write_text('<rss version="2.0"><channel><title>Secret</title></channel></rss>', encoding="utf-8")
    for data in (str(secret).encode(), f"file://{secret}".encode()):
        with pytest.raises(RejectedFile, match="not an RSS or Atom feed"):
            read_feed(data)


def test_the_cli_exits_1_when_a_feed_is_rejected_and_0_when_only_entries_were_skipped(site, tmp_path, embedder, capsys):
    folder = str(tmp_path / "index")
    settings = ["--index", folder, "--quiet"]
    code = main(["ingest", f"{site.base}/atom.xml", f"{site.base}/missing.xml", *settings])
    out = capsys.readouterr().out
    assert code == 1
    assert f"  rejected: {site.base}/missing.xml: feed returned HTTP 404 Not Found" in out
    assert "articles: 2 added" in out
    code = main(["ingest", f"{site.base}/atom.xml", "--json", *settings])
    assert code == 0  # the skipped photo entry is a note, not a rejection
    out = capsys.readouterr().out
    assert '"unchanged": 2' in out and "is image/jpeg, not HTML" in out


def test_rag_watch_once(site, tmp_path, embedder, capsys, monkeypatch):
    monkeypatch.setenv("RAG_FEED_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("RAG_MAX_PAGE_KB", str(MAX_PAGE_KB))
    folder = tmp_path / "index"
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "ferry.txt").write_text(
        "Ferry timetable changes\n\nThe winter timetable for the island ferries starts on Monday, with fewer "
        "sailings in the evening and an extra early boat for commuters.\n",
        encoding="utf-8",
    )
    assert main(["watch", str(articles), f"{site.base}/atom.xml", "--once", "--index", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("articles: 3 added, 0 unchanged")
    assert f"index {folder}: 3 articles" in out
    assert main(["watch", f"{site.base}/missing.xml", "--once", "--index", str(folder)]) == 1
    assert main(["watch", str(articles), "--every", "soon", "--index", str(folder)]) == 1
    assert "--every 'soon' is not an interval; write it as 30s, 15m or 1h" in capsys.readouterr().err


def test_the_watch_loop_picks_up_an_entry_added_between_rounds(site, index):
    reports = []

    def on_round(number, report):
        reports.append(report)
        if number == 1:
            site.atom_extra = FIRE_ENTRY.format(base=site.base)  # published after the first round
            site.requests.clear()

    assert watch(index, [f"{site.base}/atom.xml"], every=0.05, rounds=2, on_round=on_round) == 2
    assert [r.added for r in reports] == [2, 1]
    assert sorted(site.requests) == ["/atom.xml", "/valley/fire.html", "/valley/photo.jpg"]
    assert "Warehouse fire closes the coast road" in by_title(index)
    stop = threading.Event()
    rounds = []
    stopper = threading.Timer(0.3, stop.set)
    stopper.start()
    started = time.monotonic()
    done = watch(index, [f"{site.base}/atom.xml"], every=0.05, stop=stop, on_round=lambda n, r: rounds.append(r))
    assert time.monotonic() - started < 5 and done == len(rounds) >= 1
    assert all(r.added == 0 for r in rounds)


class FailingOnce(Fetcher):
    """The real fetcher, except that its first download raises what no feed error covers."""

    failed = False

    def get(self, url, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise RuntimeError("the connection pool is closed")
        return super().get(url, *args, **kwargs)


def test_the_background_watcher_outlives_a_failed_round_and_says_what_each_round_found(site, index):
    fetcher = FailingOnce(TIMEOUT, MAX_PAGE_KB * 1024)
    watcher = Watcher(index, [f"{site.base}/atom.xml"], "0.5s", fetcher=fetcher)
    assert watcher.status == "Watching 1 source every 0.5s; the first round is running."
    statuses = []
    watcher.start()
    try:
        deadline = time.monotonic() + 60
        while watcher.rounds < 3 and time.monotonic() < deadline:
            if watcher.status not in statuses:
                statuses.append(watcher.status)
            time.sleep(0.01)
    finally:
        watcher.stop(timeout=30)
    fetcher.close()
    assert watcher.rounds >= 3
    assert any("round 1 at" in s and s.endswith(": failed: the connection pool is closed") for s in statuses)
    assert any("round 2 at" in s and s.endswith(": 2 new articles, 0 sources failed") for s in statuses)
    assert watcher.status.endswith(": 0 new articles, 0 sources failed")
    assert len(index.articles()) == 2


def test_watched_sources_are_split_like_a_shell_line():
    assert split_sources("") == []
    assert split_sources("news https://example.com/rss.xml 'my folder/a b'") == [
        "news",
        "https://example.com/rss.xml",
        "my folder/a b",
    ]
    with pytest.raises(RagError, match=r"^RAG_WATCH=\"'unclosed\" cannot be read \(No closing quotation\); "):
        split_sources("'unclosed")


def test_intervals_and_summaries():
    assert [parse_interval(t) for t in ("30s", "15m", "1h", "90", "1.5m")] == [30, 900, 3600, 90, 90]
    for bad in ("", "0s", "soon", "-5m", "15 minutes"):
        with pytest.raises(RagError, match="is not an interval"):
            parse_interval(bad)
    assert strip_html("<p>One &amp; two.</p><p>Three<script>alert(1)</script></p>") == "One & two.\nThree"


# --- a feed from the internet that leads inward -------------------------------------------------------
# Two real servers on one port: "the internet" on 127.0.0.2 (treated as public here) and this machine's
# own network on 127.0.0.1 (the site fixture). news.example always resolves to 127.0.0.2; rebind.example
# to 127.0.0.2 the first time and to 127.0.0.1 after, as a rebinding attacker's name server answers.

def _story_feed(base: str, link: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Outside News</title><link>{base}/</link>
<item><title>Harbour story</title><link>{link}</link><description>Short.</description></item>
</channel></rss>"""


@pytest.fixture
def internet(site, monkeypatch):
    from rag import feeds

    port = int(site.base.rsplit(":", 1)[1])
    served: list[str] = []
    routes: dict[str, tuple[int, dict[str, str], str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            served.append(self.path)
            status, headers, body = routes.get(self.path, (404, {}, "not here"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.2", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    lookups = {"rebind.example": 0}
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "news.example":
            host = "127.0.0.2"
        elif host == "rebind.example":
            lookups[host] += 1
            host = "127.0.0.2" if lookups[host] == 1 else "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(feeds, "is_public_address", lambda a: str(a) == "127.0.0.2" or a.is_global)
    yield SimpleNamespace(port=port, routes=routes, served=served, lookups=lookups)
    server.shutdown()
    server.server_close()


def _nothing_inward_was_fetched_or_stored(site, index, report) -> None:
    assert site.requests == []  # this machine's server was never asked
    assert index.articles() == []  # nothing of this machine's pages (nor the short entry alone) is stored
    assert report.files and all(f.status in ("rejected", "unchanged", "skipped") for f in report.files)


def test_a_public_feed_redirecting_inward_is_refused(site, internet, index):
    internet.routes["/feed.xml"] = (302, {"Location": f"{site.base}/atom.xml"}, "")
    report = ingest_sources(index, [f"http://news.example:{internet.port}/feed.xml"])
    (rejected,) = report.rejected
    assert f"feed leads to {site.base}/atom.xml, not at a public internet address" in rejected.reason
    _nothing_inward_was_fetched_or_stored(site, index, report)


def test_an_entry_link_redirecting_inward_is_refused(site, internet, index):
    public = f"http://news.example:{internet.port}"
    internet.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"},
                                    _story_feed(public, f"{public}/story"))
    internet.routes["/story"] = (302, {"Location": f"{site.base}/news/bridge.html"}, "")
    report = ingest_sources(index, [f"{public}/feed.xml"])
    assert internet.served == ["/feed.xml", "/story"]
    assert any("not at a public internet address" in note for f in report.files for note in f.notes)
    _nothing_inward_was_fetched_or_stored(site, index, report)


def test_a_name_that_answers_inward_the_second_time_is_not_followed(site, internet, index):
    rebinding = f"http://rebind.example:{internet.port}"
    internet.routes["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"},
                                    _story_feed(rebinding, f"{rebinding}/news/bridge.html"))
    report = ingest_sources(index, [f"{rebinding}/feed.xml"])
    said = [f.reason for f in report.files] + [note for f in report.files for note in f.notes]
    assert any("not at a public internet address" in line for line in said)  # refused when it turned
    _nothing_inward_was_fetched_or_stored(site, index, report)
