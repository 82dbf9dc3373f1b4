"""Readers: one pure function per format, bytes in, Articles out.

Every reader returns a :class:`Parsed` (articles plus per-record notes) or raises
:class:`RejectedFile` with a one-line reason. Nothing here touches the index.
"""

from __future__ import annotations

import io
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dates import normalize_date
from .errors import RejectedFile
from .types import Article

MAX_TITLE_CHARS = 300


@dataclass
class Parsed:
    """What a reader found in one file: the articles and notes on records it had to skip."""

    articles: list[Article] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- decoding --------------------------------------------------------------------------------

_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or .docx/.xlsx)",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "an executable",
    b"SQLite format 3\x00": "an SQLite database",
}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def decode(data: bytes) -> str:
    """Bytes -> normalised text: UTF-8, a BOM-declared encoding, or a detected legacy encoding.

    Line endings become ``\\n`` and the text is NFC-normalised, so offsets are stable.
    """
    if not data:
        raise RejectedFile("empty file")
    text = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise RejectedFile(f"declares {encoding} with a byte-order mark but is not valid {encoding}") from exc
            break
    if text is None:
        for magic, kind in _MAGIC.items():
            if data.startswith(magic):
                raise RejectedFile(f"binary file ({kind}), not text")
        if b"\x00" in data[:8192]:
            raise RejectedFile("binary file (contains NUL bytes), not text")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _detect(data)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\x00", "")
    if not text.strip():
        raise RejectedFile("empty file (only whitespace)")
    return text


def _detect(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    if best is None or best.encoding is None:
        raise RejectedFile("not UTF-8 and the encoding could not be detected; save the file as UTF-8")
    try:
        return data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise RejectedFile(f"not UTF-8 and not decodable as {best.encoding}; save the file as UTF-8") from exc


# --- small helpers ---------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    return " ".join(title.split())[:MAX_TITLE_CHARS]


HEADLINE_MAX_WORDS = 40
_FIRST_SENTENCE = re.compile(r"(.+?[.!?])(?=\s|$)", re.S)


def _title_and_body(text: str) -> tuple[str, str]:
    """First non-empty line is the title, the rest is the body.

    A first line too long for a headline (text saved without line breaks) is prose: all of it stays
    in the body and the title is its first sentence, shortened.
    """
    stripped = text.strip()
    title, _, body = stripped.partition("\n")
    if len(title.split()) > HEADLINE_MAX_WORDS:
        match = _FIRST_SENTENCE.match(title)
        first = " ".join((match.group(1) if match else title).split())
        if len(first) > 120:
            first = first[:120].rsplit(" ", 1)[0] + "…"
        return first, stripped
    return _clean_title(title), body.strip()


# --- plain text and news dumps ---------------------------------------------------------------

_BLOCK_BREAK = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")  # two or more blank lines
_AGENCY_MARKER = re.compile(r"[A-Z]{2,5}")  # a wire-agency line such as TT, AP, AFP
_HEADER_SCAN_LINES = 16


@dataclass
class _Header:
    title: str
    caption: str | None
    marker: str | None
    body_start: int  # index of the first body line


def _dump_header(lines: list[str]) -> _Header | None:
    """Recognise a scraper dump's header: headline, caption printed twice, agency line, repeated.

    Returns None when the block does not start like that (then it is plain text).
    """
    stripped = [line.strip() for line in lines]
    first = next((i for i, line in enumerate(stripped) if line), None)
    if first is None:
        return None
    headline = stripped[first]
    window = stripped[first : first + _HEADER_SCAN_LINES]
    counts: dict[str, int] = {}
    for line in window:
        counts[line] = counts.get(line, 0) + 1
    caption = marker = None
    repeated_headline = False
    i = first + 1
    while i < len(stripped):
        line = stripped[i]
        if not line:
            pass
        elif line == headline:
            repeated_headline = True
        elif _AGENCY_MARKER.fullmatch(line):
            marker = marker or line
        elif counts.get(line, 0) >= 2:
            caption = caption or line
        else:
            break
        i += 1
    if not (repeated_headline or marker or caption):
        return None
    return _Header(title=headline, caption=caption, marker=marker, body_start=i)


def parse_text(text: str) -> Parsed:
    """Plain text: one article whose first line is its title, or a dump of several articles.

    In a dump, articles are separated by two or more blank lines and each starts with a header
    (headline, photo caption printed twice, an agency line such as ``TT``, then all of it again).
    The header is dropped from the body; the caption and agency are kept as metadata, and the agency is
    the article's source.
    """
    parsed = Parsed()
    pending: list[tuple[str, list[str], dict[str, Any]]] = []
    for block in _BLOCK_BREAK.split(text):
        if not block.strip():
            continue
        lines = block.split("\n")
        header = _dump_header(lines)
        if header is not None:
            meta: dict[str, Any] = {}
            if header.caption:
                meta["caption"] = header.caption
            if header.marker:
                meta["agency"] = header.marker
            pending.append((_clean_title(header.title), ["\n".join(lines[header.body_start :])], meta))
        elif pending:
            pending[-1][1].append(block)
        else:
            title, body = _title_and_body(block)
            pending.append((title, [body], {}))
    for title, parts, meta in pending:
        body = "\n\n".join(part.strip("\n") for part in parts if part.strip()).strip()
        if not body:
            parsed.notes.append(f"article {title[:60]!r} has a headline but no body; skipped")
            continue
        # the agency line is the only source such a dump gives: shown as the article's source
        parsed.articles.append(Article.create(title, body, source=meta.get("agency", ""), metadata=meta))
    return parsed


# --- Markdown --------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.S)
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
_SETEXT_HEADING = re.compile(r"^(\S.*)\n(?:=+|-+)[ \t]*$", re.M)


def parse_markdown(text: str) -> Parsed:
    """Markdown: optional YAML front matter (title, date, source, url), title from the first heading."""
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        import yaml

        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            meta = {str(k).lower(): v for k, v in loaded.items()}
        text = text[match.end() :]
    heading = min(
        (m for m in (_ATX_HEADING.search(text), _SETEXT_HEADING.search(text)) if m),
        key=lambda m: m.start(),
        default=None,
    )
    if heading is not None:
        title = heading.group(1)
        body = (text[: heading.start()] + text[heading.end() :]).strip()
    else:
        title, body = _title_and_body(text)
    record = {**meta, "text": body}
    record.setdefault("title", title)
    return _records_to_parsed([(record, "front matter")])


# --- HTML ------------------------------------------------------------------------------------


def parse_html(text: str) -> Parsed:
    """HTML: main text, title, date, URL and site name, extracted by trafilatura."""
    import trafilatura

    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False)
    body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not any(len(line.split()) >= 5 for line in body.split("\n")):  # menus and link lists only
        raise RejectedFile("no article text found in the HTML (only navigation, scripts or boilerplate)")
    title = _clean_title(doc.title or "")
    if title and body.split("\n", 1)[0].strip() == title:
        body = body.split("\n", 1)[1].strip() if "\n" in body else body
    if not title:
        title, rest = _title_and_body(body)
        body = rest or body
    metadata = {k: v for k, v in (("author", doc.author), ("description", doc.description)) if v}
    article = Article.create(
        title,
        body,
        source=doc.sitename or doc.hostname or "",
        url=doc.url or "",
        published=normalize_date(doc.date),
        metadata=metadata,
    )
    return Parsed([article])


# --- JSON and JSON Lines ---------------------------------------------------------------------

_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "name", "heading"),
    "text": ("text", "body", "content", "article", "article_text", "full_text", "maintext"),
    "url": ("url", "link", "uri", "permalink", "canonical_url"),
    "published": (
        "published",
        "published_at",
        "publishedat",
        "date",
        "publish_date",
        "pubdate",
        "date_published",
        "datetime",
        "created_at",
        "date_publish",
        "time",
    ),
    "source": ("source", "publisher", "site", "sitename", "site_name", "outlet", "source_name"),
}
_CONTAINER_KEYS = ("articles", "data", "items", "results", "documents", "records", "entries")


def _pick(record: Mapping[str, Any], role: str) -> tuple[str | None, Any]:
    lowered = {str(k).lower(): k for k in record}
    for name in _FIELDS[role]:
        if name in lowered:
            key = lowered[name]
            value = record[key]
            if value not in (None, "", [], {}):
                return key, value
    return None, None


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n\n".join(_as_text(v) for v in value if v not in (None, ""))
    if isinstance(value, Mapping):
        return str(value.get("name") or value.get("title") or value.get("text") or "")
    return str(value)


def _record_to_article(record: Mapping[str, Any]) -> Article:
    used: set[Any] = set()
    values: dict[str, Any] = {}
    for role in _FIELDS:
        key, value = _pick(record, role)
        if key is not None:
            used.add(key)
            values[role] = value
    text = _as_text(values.get("text", "")).replace("\r\n", "\n").strip()
    if not text:
        raise RejectedFile(f"no text (expected a field named one of: {', '.join(_FIELDS['text'][:4])})")
    text = unicodedata.normalize("NFC", text)
    title = _clean_title(_as_text(values.get("title", "")))
    if not title:
        title, _ = _title_and_body(text)
    raw_date = values.get("published")
    published = normalize_date(raw_date)
    metadata = {
        str(k): v for k, v in record.items() if k not in used and isinstance(v, str | int | float | bool) and v != ""
    }
    if raw_date is not None and published is None:
        metadata["date_unparsed"] = str(raw_date)
    return Article.create(
        title,
        text,
        source=_clean_title(_as_text(values.get("source", ""))),
        url=_as_text(values.get("url", "")).strip(),
        published=published,
        metadata=metadata,
    )


def _records_to_parsed(records: Iterable[tuple[Any, str]]) -> Parsed:
    parsed = Parsed()
    for record, where in records:
        if not isinstance(record, Mapping):
            parsed.notes.append(f"{where}: not a JSON object; skipped")
            continue
        try:
            parsed.articles.append(_record_to_article(record))
        except RejectedFile as exc:
            parsed.notes.append(f"{where}: {exc.reason}; skipped")
    if not parsed.articles:
        raise RejectedFile(parsed.notes[0] if parsed.notes else "no articles found")
    return parsed


def parse_json(text: str) -> Parsed:
    """JSON: one article object, a list of them, or an object holding a list under ``articles``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RejectedFile(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    if isinstance(data, Mapping):
        _, text_value = _pick(data, "text")
        if text_value is None:
            inner = next((data[k] for k in data if str(k).lower() in _CONTAINER_KEYS), None)
            if isinstance(inner, list):
                data = inner
    items = data if isinstance(data, list) else [data]
    return _records_to_parsed((item, f"record {i}") for i, item in enumerate(items, 1))


def parse_jsonl(text: str) -> Parsed:
    """JSON Lines: one article object per line. A bad line is noted and skipped, the rest kept."""
    records: list[tuple[Any, str]] = []
    bad: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append((json.loads(line), f"line {number}"))
        except json.JSONDecodeError as exc:
            bad.append(_malformed_line(number, exc))
    if not records:
        raise RejectedFile(bad[0] if bad else "no articles found")
    try:
        parsed = _records_to_parsed(records)
    except RejectedFile:
        if bad:
            raise RejectedFile(bad[0]) from None
        raise
    parsed.notes[:0] = bad
    return parsed


def _malformed_line(number: int, exc: json.JSONDecodeError) -> str:
    return f"line {number}: malformed JSON ({exc.msg}); skipped"


# --- archives, streamed ------------------------------------------------------------------------

ARCHIVE_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})


@dataclass(frozen=True)
class Record:
    """One record of a streamed archive: its article, or a note on why it was skipped; and the
    bytes of the file read so far."""

    article: Article | None
    note: str | None
    offset: int


def iter_archive(path: str | Path, max_record_bytes: int) -> Iterator[Record]:
    """The articles of a JSON or JSON Lines archive too large to read at once, one record at a time.

    The size limit applies to each record, not to the file. Raises RejectedFile when the file is not
    such an archive (a JSON file that is one huge object, not a list of articles)."""
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl_records(path, max_record_bytes)
    else:
        yield from _json_records(path, max_record_bytes)


def _record(value: Any, where: str, offset: int, max_record_bytes: int) -> Record:
    if not isinstance(value, Mapping):
        return Record(None, f"{where}: not a JSON object; skipped", offset)
    try:
        article = _record_to_article(value)
    except RejectedFile as exc:
        return Record(None, f"{where}: {exc.reason}; skipped", offset)
    size = len(article.text.encode("utf-8"))
    if size > max_record_bytes:
        return Record(None, f"{where}: {_over_limit(size, max_record_bytes)}; skipped", offset)
    return Record(article, None, offset)


def _over_limit(size: int, limit: int) -> str:
    return f"article is {size_text(size)}, over the {size_text(limit)} limit (RAG_MAX_FILE_MB applies to each article)"


def size_text(size: int) -> str:
    """A size for a person: "35 KB", "25 MB"."""
    return f"{size / 2**20:.0f} MB" if size >= 2**20 else f"{max(1, round(size / 1024))} KB"


def _jsonl_records(path: Path, max_record_bytes: int) -> Iterator[Record]:
    offset = 0
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            offset += len(raw)
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            if len(raw) > max_record_bytes:
                yield Record(None, f"line {number}: {_over_limit(len(raw), max_record_bytes)}; skipped", offset)
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = _detect(raw)
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Record(None, _malformed_line(number, exc), offset)
                continue
            yield _record(value, f"line {number}", offset, max_record_bytes)


def _json_records(path: Path, max_record_bytes: int) -> Iterator[Record]:
    import ijson

    with path.open("rb") as data:
        prefix = _list_prefix(data)
        if prefix is None:
            raise RejectedFile(
                f"a JSON file over the {size_text(max_record_bytes)} limit must hold a list of articles "
                f"(at the top or under one of: {', '.join(_CONTAINER_KEYS)}); split it or save it as JSON Lines"
            )
        data.seek(0)
        number = 0
        try:
            for value in ijson.items(data, prefix, use_float=True):
                number += 1
                yield _record(value, f"record {number}", data.tell(), max_record_bytes)
        except ijson.JSONError as exc:
            raise RejectedFile(f"malformed JSON after record {number}: {exc}") from exc


def _list_prefix(data) -> str | None:
    """Where the list of articles is in a JSON file: ``item`` (the file is a list), ``KEY.item``, or None."""
    import ijson

    try:
        events = ijson.parse(data)
        _, event, _ = next(events)
        if event == "start_array":
            return "item"
        if event != "start_map":
            return None
        for prefix, event, value in events:
            if prefix == "" and event == "map_key" and str(value).lower() in _CONTAINER_KEYS:
                _, following, _ = next(events)
                if following == "start_array":
                    return f"{value}.item"
        return None
    except (ijson.JSONError, StopIteration):
        return None


# --- PDF -------------------------------------------------------------------------------------


PDF_PAGE_INSTRUCTIONS = 2**20  # bytes of a page's drawing instructions read for its text (a text page: ~30 KB)
PDF_SECONDS = 30.0  # reading a PDF's text stops (and the file is rejected) past this


def _pdf_pages(reader, notes: list[str]) -> list[str]:
    """The text of each page; a page with more drawing instructions than PDF_PAGE_INSTRUCTIONS is
    skipped with a note (reading text costs time by the instruction: 600,000 of them take 20 s), and
    the whole file is rejected when reading it takes longer than PDF_SECONDS."""
    started = time.monotonic()
    pages, skipped = [], 0
    for number, page in enumerate(reader.pages, 1):
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
        if size > PDF_PAGE_INSTRUCTIONS:
            skipped += 1
            notes.append(
                f"page {number} has {size / 2**20:.1f} MB of drawing instructions, more than the "
                f"{PDF_PAGE_INSTRUCTIONS / 2**20:.0f} MB read for a page's text; its text was not read"
            )
            pages.append("")
            continue
        pages.append((page.extract_text() or "").strip())
        if time.monotonic() - started > PDF_SECONDS:
            raise RejectedFile(
                f"reading the PDF's text took more than {PDF_SECONDS:.0f} s (at page {number} of "
                f"{len(reader.pages)}); save it as text, or split it, and add that"
            )
    if skipped and skipped == len(pages):
        raise RejectedFile(
            f"every page of the PDF has more drawing instructions than are read for its text "
            f"({PDF_PAGE_INSTRUCTIONS / 2**20:.0f} MB a page); save it as text and add that"
        )
    return pages


def parse_pdf(data: bytes) -> Parsed:
    """PDF: the text layer of every page (pypdf). A scan without a text layer is rejected."""
    import pypdf
    from pypdf.errors import PyPdfError

    if not data.strip():
        raise RejectedFile("empty file")
    notes: list[str] = []
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise RejectedFile("encrypted PDF; remove the password and try again")
        pages = _pdf_pages(reader, notes)
        info = reader.metadata
    except RejectedFile:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AssertionError, RecursionError) as exc:
        raise RejectedFile(f"could not read the PDF (damaged or truncated?): {str(exc)[:120]}") from exc
    text = unicodedata.normalize("NFC", "\n\n".join(p for p in pages if p))
    if not text.strip():
        raise RejectedFile("PDF has no text layer (scanned pages?); run OCR on it first")
    meta_title = _clean_title(str(info.title)) if info and info.title else ""
    if meta_title:
        title, body = meta_title, text.strip()
    else:
        title, body = _title_and_body(text)
        body = body or text.strip()
    published = None
    if info is not None:
        try:
            created = info.creation_date
        except (ValueError, TypeError):
            created = None
        published = normalize_date(created) if created else None
    metadata = {"pages": len(pages)}
    if info and info.author:
        metadata["author"] = str(info.author)
    return Parsed([Article.create(title, body, published=published, metadata=metadata)], notes)


# --- dispatch --------------------------------------------------------------------------------

TEXT_READERS: dict[str, Callable[[str], Parsed]] = {
    ".txt": parse_text,
    ".text": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".json": parse_json,
    ".jsonl": parse_jsonl,
    ".ndjson": parse_jsonl,
}
SUPPORTED_SUFFIXES = frozenset(TEXT_READERS) | {".pdf"}


def parse_bytes(data: bytes, suffix: str) -> Parsed:
    """Parse file contents by their extension: .txt .md .html .json .jsonl .pdf (and aliases)."""
    suffix = suffix.lower()
    if suffix == ".pdf":
        return parse_pdf(data)
    reader = TEXT_READERS.get(suffix)
    if reader is None:
        raise RejectedFile(f"unsupported file type {suffix or '(no extension)'}")
    return reader(decode(data))


def parse_file(path: str | Path) -> Parsed:
    """Read and parse one file. Raises RejectedFile with a one-line reason when it cannot be used."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RejectedFile(f"cannot read the file: {exc.strerror or exc}") from exc
    return parse_bytes(data, path.suffix)
