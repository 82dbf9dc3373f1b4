"""RSS and Atom feeds: read a feed, fetch the page each entry links to, and ingest the articles.

What is fetched: the feed URLs given, and the link of each entry in them (following at most
:data:`MAX_REDIRECTS` redirects), over http or https only; nothing else (no images, no scripts, no
other links found in a page). Every download has a time limit and a size limit and is read in a
streaming way, so a slow or huge page costs at most those. A page that cannot be had (timeout, error
status, too big, not HTML, no article text in it) is replaced by the entry's own content or summary
when it holds enough text, with a note saying why; otherwise the entry is reported and skipped.

A feed given at a public internet address, or whose redirects end at one, is followed to public
addresses only: the feed's own redirects, each entry link and each of its redirects that leads to
this machine, a private network or a link-local address (where clouds serve their metadata) is not
fetched, so a feed from the internet cannot make the reader probe the network it runs in. Each such
hop's name is resolved once, checked, and the connection made to that checked address (the name
still in the Host header and the TLS handshake), so a name that answers differently the next time
(DNS rebinding) cannot turn a checked address into another. A feed on your own network, or in a file
you give, is followed anywhere.

Links already stored are remembered in the index (:meth:`rag.store.Store.feed_links`), so a second
run downloads only the feed and the pages of entries it has not stored yet.

The articles go through the normal ingestion (:meth:`rag.index.Index.ingest`): each feed is one
"file" of the report, with one note per entry that needed one. A feed that cannot be fetched or read
at all is rejected; an entry that cannot be used is a note.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import shlex
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from .config import parse_interval
from .dates import normalize_date
from .errors import RagError, RejectedFile
from .ingest import FileResult, IngestReport, Progress
from .parse import decode, parse_bytes, parse_html, size_text
from .types import Article

if TYPE_CHECKING:
    import httpx

    from .index import Index

FEED_SUFFIXES = frozenset({".rss", ".atom", ".xml"})
MAX_REDIRECTS = 5
MIN_ENTRY_WORDS = 25  # an entry's own summary must have this many words to stand in for its page
USER_AGENT = "newsrag/0.1 (feed reader)"
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """A download that failed; ``reason`` completes "page URL ..." ("timed out after 5 s")."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    data: bytes
    content_type: str  # the media type, lower-cased, without parameters ("" when not given)
    charset: str | None


@dataclass(frozen=True)
class Entry:
    """One entry of a feed, as the feed gives it (HTML already stripped from ``text``)."""

    title: str
    link: str
    published: str | None
    text: str  # the entry's content, or else its summary, as plain text
    source: str  # the entry's own source (aggregated feeds), else ""
    author: str = ""


@dataclass(frozen=True)
class Feed:
    title: str
    entries: list[Entry] = field(default_factory=list)
    public: bool = False  # fetched from a public address: its links are followed to public addresses only


# --- recognising and reading feeds ------------------------------------------------------------


def is_url(source: str) -> bool:
    """Does ``source`` look like a URL (``scheme://...`` or ``scheme:...`` with a known scheme)?"""
    return bool(re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", source)) or source.lower().startswith(
        ("file:", "javascript:", "data:", "mailto:")
    )


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def is_feed_source(source: str | Path) -> bool:
    """Is ``source`` a feed: a URL, a ``.rss`` or ``.atom`` file, or an ``.xml`` file holding a feed?"""
    text = str(source)
    if is_url(text):
        return True
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in (".rss", ".atom"):
        return True
    if suffix == ".xml" and path.is_file():
        try:
            with path.open("rb") as data:
                head = data.read(4096).lower()
        except OSError:
            return True  # reported by the feed reader with the reason
        return b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head
    return False


def read_feed(data: bytes, base_url: str = "") -> Feed:
    """A feed's bytes -> its title and entries. Raises RejectedFile when they are not RSS or Atom.

    The bytes are handed to feedparser as a stream: feedparser opens a string it is given as a URL
    or a file name, and feed text is never used as either."""
    import feedparser

    headers = {"content-location": base_url} if base_url else {}
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f" ({' '.join(str(problem).split())[:120]})" if problem else ""
        raise RejectedFile(f"not an RSS or Atom feed{detail}")
    feed_info = parsed.get("feed", {})
    entries = []
    for item in parsed.entries:
        contents = [c.get("value", "") for c in item.get("content", []) if c.get("value")]
        summary = item.get("summary", "")
        text = strip_html(max(contents, key=len)) if contents else ""
        if len(text.split()) < len(strip_html(summary).split()):
            text = strip_html(summary)
        link = (item.get("link") or "").strip()
        if not item.get("links") and not is_web_url(link):
            link = ""  # feedparser's stand-in from an id such as "urn:...": not a link
        entries.append(
            Entry(
                title=" ".join((item.get("title") or "").split()),
                link=urljoin(base_url, link) if base_url and link else link,
                published=_entry_date(item),
                text=text,
                source=" ".join(((item.get("source") or {}).get("title") or "").split()),
                author=" ".join((item.get("author") or "").split()),
            )
        )
    return Feed(" ".join((feed_info.get("title") or "").split()), entries)


def _entry_date(item: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        moment = item.get(key)
        if moment:
            return normalize_date(datetime(*moment[:6], tzinfo=timezone.utc))
    return normalize_date(item.get("published") or item.get("updated"))


class _TextOnly(HTMLParser):
    """The text of an HTML fragment, block elements as line breaks; scripts and styles dropped."""

    BLOCKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed's summary): one line per paragraph."""
    if "<" not in fragment and "&" not in fragment:
        lines = [fragment]
    else:
        reader = _TextOnly()
        reader.feed(fragment)
        reader.close()
        lines = "".join(reader.parts).split("\n")
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


# --- downloading ---------------------------------------------------------------------------------


class Fetcher:
    """Downloads over http and https only, with a time limit per download (the whole of it), a size
    limit read in a streaming way, and at most :data:`MAX_REDIRECTS` redirects, each checked."""

    def __init__(self, timeout: float, max_bytes: int, client: httpx.Client | None = None):
        import httpx

        self.timeout = timeout
        self.max_bytes = max_bytes
        self.client = client or httpx.Client(
            follow_redirects=False, timeout=timeout, headers={"User-Agent": USER_AGENT}, trust_env=False
        )
        self._owns_client = client is None

    def get(
        self, url: str, accept: Callable[[str], bool] = lambda media_type: True, public_only: bool = False
    ) -> Fetched:
        """The body of ``url``. ``accept`` is asked about the media type before the body is read.
        With ``public_only``, ``url`` and every redirect must lead to public internet addresses (not
        this machine, a private network or a cloud's metadata service). Raises FetchError with the reason."""
        import httpx

        deadline, first = time.monotonic() + self.timeout, url
        for _ in range(MAX_REDIRECTS + 1):
            if not is_web_url(url):
                raise FetchError(f"leads to {_short(url)} (only http and https links are fetched)")
            target, pinned = url, {}
            if public_only:  # resolved once, checked, and connected to: no second answer to a second lookup
                address = public_address(urlsplit(url).hostname or "")
                if address is None:
                    where = "is not" if url == first else f"leads to {_short(url)}, not"
                    raise FetchError(
                        f"{where} at a public internet address (a feed from the internet is not followed into "
                        "this machine or its network)"
                    )
                target, pinned = _pinned(url, address)
            try:
                with self.client.stream(
                    "GET", target, timeout=max(0.01, deadline - time.monotonic()), **pinned
                ) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code >= 400:
                        raise FetchError(f"returned HTTP {response.status_code} {response.reason_phrase}".rstrip())
                    media_type, charset = _content_type(response.headers.get("content-type", ""))
                    if not accept(media_type):
                        raise FetchError(f"is {media_type or 'of no stated type'}, not HTML")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        raise FetchError(f"is {size_text(int(declared))}, over the {self._limit} limit")
                    body = bytearray()
                    for block in response.iter_bytes():
                        body += block
                        if len(body) > self.max_bytes:
                            raise FetchError(f"is over the {self._limit} limit")
                        if time.monotonic() > deadline:
                            raise httpx.ReadTimeout("deadline")
                    return Fetched(url, bytes(body), media_type, charset)
            except httpx.TimeoutException:
                raise FetchError(f"timed out after {self.timeout:g} s") from None
            except httpx.HTTPError as exc:
                detail = " ".join(str(exc).split())[:100] or type(exc).__name__
                raise FetchError(f"could not be fetched ({detail})") from None
        raise FetchError(f"redirects more than {MAX_REDIRECTS} times")

    @property
    def _limit(self) -> str:
        return size_text(self.max_bytes)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def resolve_host(host: str) -> list[IPAddress]:
    """The addresses of ``host`` (a name or an IP address); none when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def is_public_address(address: IPAddress) -> bool:
    return address.is_global


def public_address(host: str) -> IPAddress | None:
    """One address of ``host`` to connect to when all of its addresses lie on the public internet;
    None when any does not (or it does not resolve)."""
    addresses = resolve_host(host)
    if not addresses or not all(is_public_address(a) for a in addresses):
        return None
    return addresses[0]


def is_public_host(host: str) -> bool:
    """Do all the addresses of ``host`` (a name or an IP address) lie on the public internet?"""
    return public_address(host) is not None


def _pinned(url: str, address: IPAddress) -> tuple[str, dict[str, Any]]:
    """``url`` sent to ``address`` itself, with the host's name in the Host header and (https) in the
    TLS handshake, where the certificate is checked against it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    name = f"[{host}]" if ":" in host else host
    options: dict[str, Any] = {"headers": {"Host": f"{name}:{parts.port}" if parts.port else name}}
    if parts.scheme == "https":
        options["extensions"] = {"sni_hostname": host}
    return urlunsplit(parts._replace(netloc=netloc)), options


def _content_type(header: str) -> tuple[str, str | None]:
    media_type, _, params = header.partition(";")
    match = re.search(r"charset\s*=\s*\"?([\w.:-]+)", params, re.I)
    return media_type.strip().lower(), match.group(1) if match else None


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"


def _page_text(fetched: Fetched) -> str:
    if fetched.charset:
        try:
            return fetched.data.decode(fetched.charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(fetched.data)


def _is_html(media_type: str) -> bool:
    return media_type in _HTML_TYPES or media_type == ""


# --- entries -> article records ------------------------------------------------------------------


@dataclass
class FeedRound:
    """What one feed gave in one round: new article records (with the entry link each came from),
    the number of entries already stored, notes, or the reason the feed was rejected."""

    name: str
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (link, record)
    known: int = 0
    notes: list[str] = field(default_factory=list)
    reason: str = ""


def read_source(source: str, fetcher: Fetcher) -> Feed:
    """The feed at ``source`` (a URL or a file). Raises RejectedFile with the reason."""
    if is_url(source):
        if not is_web_url(source):
            raise RejectedFile("only http and https feeds are fetched")
        # a feed given at a public address is fetched as one from the internet: each redirect too (it may
        # not lead inward), and its links are followed to public addresses only; so are those of a feed
        # whose redirects end at a public address
        public = is_public_host(urlsplit(source).hostname or "")
        try:
            fetched = fetcher.get(source, public_only=public)
        except FetchError as exc:
            raise RejectedFile(f"feed {exc.reason}") from None
        feed = read_feed(fetched.data, fetched.url)
        return replace(feed, public=public or is_public_host(urlsplit(fetched.url).hostname or ""))
    path = Path(source)
    if not path.is_file():
        raise RejectedFile("no such file or folder")
    size = path.stat().st_size
    if size > fetcher.max_bytes:
        raise RejectedFile(f"feed file is {size_text(size)}, over the {size_text(fetcher.max_bytes)} limit")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RejectedFile(f"cannot read the file: {exc.strerror or exc}") from exc
    return read_feed(data)


def gather(source: str, fetcher: Fetcher, known_links: Callable[[list[str]], set[str]]) -> FeedRound:
    """Read the feed at ``source`` and turn its entries not stored yet into article records.

    ``known_links`` gives the links among those passed that are stored already (not fetched again).
    """
    result = FeedRound(source)
    try:
        feed = read_source(source, fetcher)
    except RejectedFile as exc:
        result.reason = exc.reason
        return result
    if not feed.entries:
        result.notes.append("the feed has no entries")
        return result
    known = known_links([e.link for e in feed.entries if e.link])
    seen: set[str] = set()
    for entry in feed.entries:
        if entry.link and (entry.link in known or entry.link in seen):
            result.known += 1
            continue
        seen.add(entry.link)
        record, note = _entry_record(entry, feed, fetcher)
        if note:
            result.notes.append(note)
        if record is not None:
            result.records.append((entry.link, record))
    return result


def _entry_record(entry: Entry, feed: Feed, fetcher: Fetcher) -> tuple[dict[str, Any] | None, str]:
    """The article record of one entry (from its page, else from its own text) and a note, if any."""
    if not entry.link:
        problem = "no link"
    elif not is_web_url(entry.link):
        problem = f"link {_short(entry.link)} refused (only http and https links are fetched)"
    else:
        try:
            fetched = fetcher.get(entry.link, accept=_is_html, public_only=feed.public)
            return _record(entry, feed, parse_html(_page_text(fetched)).articles[0]), ""
        except FetchError as exc:
            problem = f"page {_short(entry.link)} {exc.reason}"
        except RejectedFile as exc:
            problem = f"page {_short(entry.link)}: {exc.reason}"
    if len(entry.text.split()) >= MIN_ENTRY_WORDS:
        return _record(entry, feed, None), "" if problem == "no link" else f"{problem}; used the feed's summary"
    named = f"entry {entry.title[:60]!r}" if entry.title else "an entry without a title"
    return None, f"{named}: {problem}, and the feed gives too little text of its own; skipped"


def _record(entry: Entry, feed: Feed, page: Article | None) -> dict[str, Any]:
    """A JSON article record (the fields :func:`rag.parse.parse_json` reads): the page's title, text
    and date, the entry's where the page has none; the entry's link; as source the entry's own, else
    the feed's title, else the page's site name. Without a page, the entry's own text."""
    record: dict[str, Any] = {
        "title": (page.title if page else "") or entry.title,
        "text": page.text if page else entry.text,
        "url": entry.link,
        "published": (page.published if page else None) or entry.published,
        "source": entry.source or feed.title or (page.source if page else ""),
        "author": (page.metadata.get("author", "") if page else "") or entry.author,
        "text_from": "page" if page else "feed",
    }
    return {k: v for k, v in record.items() if v not in (None, "")}


# --- ingesting -----------------------------------------------------------------------------------


def ingest_sources(
    index: Index,
    sources: Sequence[str | Path],
    progress: Callable[[Progress], None] | None = None,
    fetcher: Fetcher | None = None,
) -> IngestReport:
    """Ingest files, folders and feeds (see :func:`is_feed_source`) into ``index`` in one report.

    Files and folders are ingested as by :meth:`Index.ingest`. Each feed is one line of the report:
    rejected when it cannot be fetched or read, else its new entries' articles with a note per entry
    that needed one. Links of stored articles are remembered, so they are not fetched again.
    """
    feeds = [str(s) for s in sources if is_feed_source(s)]
    paths = [s for s in sources if not is_feed_source(s)]
    if not feeds:
        return index.ingest(paths, progress=progress)
    store = index.store

    def known(links: list[str]) -> set[str]:
        stored = store.feed_links(links)
        present = store.existing_articles(stored.values())
        return {link for link, article_id in stored.items() if article_id in present}

    owned = fetcher is None
    fetcher = fetcher or Fetcher(index.settings.feed_timeout, index.settings.max_page_kb * 1024)
    try:
        rounds = [gather(feed, fetcher, known) for feed in feeds]
    finally:
        if owned:
            fetcher.close()
    with tempfile.TemporaryDirectory(prefix="rag-feeds-") as folder:
        names: dict[str, str] = {}
        files: list[Path] = []
        for number, feed_round in enumerate(rounds):
            if feed_round.records:
                file = Path(folder) / f"feed-{number}.jsonl"
                lines = (json.dumps(record, ensure_ascii=False) for _, record in feed_round.records)
                file.write_text("\n".join(lines) + "\n", encoding="utf-8")
                names[str(file)] = feed_round.name
                files.append(file)
        report = index.ingest([*paths, *files], progress=progress, origin_names=names)
    by_name = {f.path: f for f in report.files if f.path in names.values()}
    for feed_round in rounds:
        result = by_name.get(feed_round.name)
        if feed_round.reason:
            report.files.append(FileResult(feed_round.name, "rejected", reason=feed_round.reason))
            continue
        if result is None:
            result = FileResult(feed_round.name, "unchanged")
            report.files.append(result)
        result.unchanged += feed_round.known
        result.note(*feed_round.notes)
        if not result.added and not result.duplicate and result.status != "rejected":
            result.status = "unchanged"
        _remember(index, feed_round)
    return report


def _remember(index: Index, feed_round: FeedRound) -> None:
    """Record each new entry's link with its stored article, so the link is not fetched again."""
    links: dict[str, str] = {}
    for link, record in feed_round.records:
        if link:
            links[link] = parse_bytes(json.dumps(record, ensure_ascii=False).encode(), ".json").articles[0].id
    stored = index.store.existing_articles(links.values())
    index.store.remember_feed_links({link: i for link, i in links.items() if i in stored})


# --- watching ------------------------------------------------------------------------------------


def split_sources(text: str, name: str = "RAG_WATCH") -> list[str]:
    """The folders, files and feeds of a setting such as ``RAG_WATCH``: separated by spaces, a path
    with spaces in quotes. A RagError names the setting and what to write."""
    try:
        return shlex.split(text or "")
    except ValueError as exc:  # an unclosed quote
        raise RagError(
            f"{name}={text!r} cannot be read ({exc}); separate the sources with spaces and put a path "
            "that has spaces in quotes"
        ) from None


def watch(
    index: Index,
    sources: Sequence[str | Path],
    every: float,
    *,
    rounds: int | None = None,
    stop: threading.Event | None = None,
    on_round: Callable[[int, IngestReport], None] | None = None,
    on_error: Callable[[int, Exception], None] | None = None,
    fetcher: Fetcher | None = None,
) -> int:
    """Ingest ``sources`` (files, folders, feeds) again every ``every`` seconds, until ``rounds``
    rounds are done or ``stop`` is set; ``on_round(number, report)`` is called after each round.
    A round that fails ends the watch with its exception, unless ``on_error(number, error)`` is given
    (a server's background watch must outlive a bad round): then it is told, and the next round
    comes at its time. Returns the number of rounds done.
    Each round commits what it found before the next one starts.
    """
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set():
        done += 1
        try:
            report = ingest_sources(index, sources, fetcher=fetcher)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(done, exc)
        else:
            if on_round is not None:
                on_round(done, report)
        if rounds is not None and done >= rounds:
            break
        stop.wait(every)
    return done


class Watcher:
    """:func:`watch` in a background thread, as the chat app runs it: what the last round found is
    kept for the library tab (:attr:`status`). Stopped by :meth:`stop` (it finishes the round it is in)."""

    def __init__(self, index: Index, sources: Sequence[str | Path], every: str, fetcher: Fetcher | None = None):
        """``every`` as :func:`parse_interval` reads it ("15m")."""
        self.sources = [str(s) for s in sources]
        self.every = every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last: tuple[int, float, str] | None = None  # round, when it ended, what it found
        self._thread = threading.Thread(
            target=watch,
            args=(index, self.sources, parse_interval(every)),
            kwargs={"stop": self._stop, "on_round": self._round, "on_error": self._failed, "fetcher": fetcher},
            name="rag-watch",
            daemon=True,
        )

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def rounds(self) -> int:
        return self._last[0] if self._last else 0

    @property
    def status(self) -> str:
        """One line: what is watched, and what the last round found (or why it failed)."""
        count = len(self.sources)
        watched = f"Watching {count} source{'s' * (count != 1)} every {self.every.strip()}"
        if self._last is None:
            return f"{watched}; the first round is running."
        number, ended, found = self._last
        when = datetime.fromtimestamp(ended, timezone.utc).astimezone().strftime("%H:%M")
        return f"{watched}; round {number} at {when}: {found}"

    def _round(self, number: int, report: IngestReport) -> None:
        found = (
            f"{report.added} new article{'s' * (report.added != 1)}, "
            f"{len(report.rejected)} source{'s' * (len(report.rejected) != 1)} failed"
        )
        with self._lock:
            self._last = (number, time.time(), found)

    def _failed(self, number: int, error: Exception) -> None:
        with self._lock:
            self._last = (number, time.time(), f"failed: {error}")

