"""The tables both backends keep, and the SQL they share.

Articles, chunks with their offsets, what each sentence carries (speaker, explainer heading, resolved
dates: :mod:`rag.news`), the stories copies are grouped in (:mod:`rag.stories`) and the files already
ingested have the same tables and columns in SQLite and PostgreSQL. The statements here are written
once, with ``?`` placeholders, in the SQL both engines accept; each backend runs them with its driver
(:meth:`SQLStore._rows`, and a transaction object with ``execute`` and ``executemany``). Vectors and
keyword search are each backend's own.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from ..errors import IndexError_
from ..news import analyze, speaker_key
from ..stories import band_keys, same_story, shingles, signature
from ..text import split_sentences
from ..types import Article, Chunk, DateMention, Filters, SentenceFacts
from .interface import ChunkRow, Store, StoredArticle, StoredBatch

# rows that break a rule of the index (query counting them, what they are), for Store.check
COUNTED_PROBLEMS = (
    (
        "SELECT count(*) FROM chunks c LEFT JOIN articles a ON a.id = c.article_id WHERE a.id IS NULL",
        "chunks belong to no article",
    ),
    (
        "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id"
        ' WHERE substr(a.text, c.start + 1, c."end" - c.start) != c.text',
        "chunks whose offsets do not match their article text",
    ),
    (
        "SELECT count(*) FROM sentences s LEFT JOIN articles a ON a.id = s.article_id WHERE a.id IS NULL"
        ' OR s.start < 0 OR s."end" > length(a.text) OR s.start >= s."end"'
        " OR (s.speaker_start IS NOT NULL AND (s.speaker_start < 0 OR s.speaker_end > length(a.text)))",
        "sentence records point outside their article text",
    ),
    (
        "SELECT count(*) FROM sentences s JOIN articles a ON a.id = s.article_id"
        " WHERE (s.speaker_start IS NOT NULL AND s.speaker_end <= s.speaker_start)"
        " OR (s.heading_start IS NOT NULL AND (s.heading_start < 0 OR s.heading_end > length(a.text)"
        " OR s.heading_end <= s.heading_start))",
        "sentence records have a speaker or heading span that is not in the text",
    ),
    (
        "SELECT count(*) FROM articles a WHERE length(trim(a.text)) > 0"
        " AND NOT EXISTS (SELECT 1 FROM sentences s WHERE s.article_id = a.id)",
        "articles have no sentence records",
    ),
    (
        "SELECT count(*) FROM sentence_dates d LEFT JOIN sentences s"
        " ON s.article_id = d.article_id AND s.start = d.sentence_start"
        " WHERE s.article_id IS NULL OR d.date_from > d.date_to",
        "sentence date rows have no sentence or an empty range",
    ),
    (
        "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.article_id = a.id)",
        "articles are in no story",
    ),
    (
        "SELECT (SELECT count(*) FROM stories s LEFT JOIN articles a ON a.id = s.article_id WHERE a.id IS NULL)"
        " + (SELECT count(*) FROM story_bands b LEFT JOIN articles a ON a.id = b.article_id WHERE a.id IS NULL)",
        "story rows have no article",
    ),
)

# The tables both backends keep with the same columns. ``{text}`` is the text type (PostgreSQL orders it by
# bytes, as SQLite does), ``{key}`` a 64-bit integer, ``{compact}`` SQLite's WITHOUT ROWID where it fits,
# ``{chunks}`` the backend's own chunk tables (after the articles they belong to, as they always were).
SHARED_TABLES = """
CREATE TABLE IF NOT EXISTS articles (
    id {text} PRIMARY KEY,
    title {text} NOT NULL,
    text {text} NOT NULL,
    source {text} NOT NULL DEFAULT '',
    url {text} NOT NULL DEFAULT '',
    published {text},
    metadata {text} NOT NULL DEFAULT '{{}}',
    origin {text} NOT NULL DEFAULT '',
    added_at {text} NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
{chunks}
CREATE TABLE IF NOT EXISTS files (
    path {text} PRIMARY KEY,
    sha256 {text} NOT NULL,
    article_ids {text} NOT NULL,
    ingested_at {text} NOT NULL
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE TABLE IF NOT EXISTS sentences (
    article_id {text} NOT NULL REFERENCES articles(id),
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    speaker_start INTEGER,
    speaker_end INTEGER,
    speaker_key {text},
    quoted INTEGER NOT NULL DEFAULT 0,
    heading_start INTEGER,
    heading_end INTEGER,
    dates {text} NOT NULL DEFAULT '[]',
    published {text},
    PRIMARY KEY (article_id, start)
){compact};
CREATE TABLE IF NOT EXISTS sentence_dates (
    article_id {text} NOT NULL REFERENCES articles(id),
    sentence_start INTEGER NOT NULL,
    date_from {text} NOT NULL,
    date_to {text} NOT NULL,
    span INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sentence_dates_article ON sentence_dates(article_id);
CREATE TABLE IF NOT EXISTS stories (
    article_id {text} PRIMARY KEY REFERENCES articles(id),
    story {text} NOT NULL
){compact};
CREATE INDEX IF NOT EXISTS stories_story ON stories(story);
CREATE TABLE IF NOT EXISTS story_bands (
    key {key} NOT NULL,
    article_id {text} NOT NULL REFERENCES articles(id)
);
CREATE INDEX IF NOT EXISTS story_bands_key ON story_bands(key);
CREATE INDEX IF NOT EXISTS story_bands_article ON story_bands(article_id);
CREATE TABLE IF NOT EXISTS feed_links (
    link {text} PRIMARY KEY,
    article_id {text} NOT NULL,
    fetched_at {text} NOT NULL
);
"""

# The indexes the questions are answered through (format 4; an older index gains them when upgraded, after its
# columns). A speaker's statements are read newest first from the speaker's own range of sentences_spoken, which
# carries each sentence's publication day (articles never change once stored): as many rows as are asked for,
# however often the speaker is quoted. The sentences naming a date in a window are found by the width of the
# date they name (its span: a day, a week, a month, a year, longer): a date of width at most W overlaps the days
# F..T only if it starts between F - W and T, one short range of sentence_dates_span per width, however long
# the archive; what lies outside the window is never read.
QUESTION_INDEXES = """
CREATE INDEX IF NOT EXISTS sentences_spoken ON sentences(speaker_key, published DESC, article_id, start)
    WHERE speaker_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS sentence_dates_span ON sentence_dates(span, date_from, date_to);
"""
# the indexes of format 3 the ones above replace
OLD_QUESTION_INDEXES = ("sentences_speaker", "sentence_dates_range")
# the widest date, in days from its first to its last, of each span (the last span: anything wider)
SPAN_DAYS = (0, 6, 31, 366)


def date_span(date_from: str, date_to: str) -> int:
    """The span of a date of ``date_from``..``date_to`` (ISO days): the first of SPAN_DAYS it fits."""
    days = (dt.date.fromisoformat(date_to[:10]) - dt.date.fromisoformat(date_from[:10])).days
    return next((n for n, widest in enumerate(SPAN_DAYS) if days <= widest), len(SPAN_DAYS))


def span_sql(days: str) -> str:
    """SQL giving the span of a date whose width in days is the expression ``days`` (see date_span)."""
    cases = " ".join(f"WHEN {days} <= {widest} THEN {n}" for n, widest in enumerate(SPAN_DAYS))
    return f"CASE {cases} ELSE {len(SPAN_DAYS)} END"


def dated_sql(date_from: str, date_to: str) -> tuple[str, list[Any]]:
    """The condition on ``sentence_dates d`` that its date overlaps ``date_from``..``date_to`` (ISO days),
    one index range per span (see QUESTION_INDEXES), and its values."""
    first = dt.date.fromisoformat(date_from[:10])
    clauses, params = [], []
    for n, widest in enumerate(SPAN_DAYS):
        clauses.append("(d.span = ? AND d.date_from BETWEEN ? AND ?)")
        params += [n, (first - dt.timedelta(days=widest)).isoformat(), date_to[:10]]
    clauses.append("(d.span = ? AND d.date_from <= ?)")
    params += [len(SPAN_DAYS), date_to[:10]]
    return f"({' OR '.join(clauses)}) AND d.date_to >= ?", [*params, date_from[:10]]


# the tables of one article, children first (the order they are deleted in)
ARTICLE_TABLES = ("sentences", "sentence_dates", "stories", "story_bands")
STORY_CANDIDATES = 50  # the stored articles sharing the most MinHash bands with a new one, compared with it


class Transaction(Protocol):
    """What the shared writes need of an open transaction (a sqlite3 connection has it already)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...


def _facts_row(article_id: str, f: SentenceFacts, text: str) -> tuple:
    speaker = f.speaker or (None, None)
    heading = f.heading or (None, None)
    key = speaker_key(text[speaker[0] : speaker[1]]) if f.speaker else None
    dates = json.dumps([[d.start, d.end, d.date_from, d.date_to] for d in f.dates])
    return (article_id, f.start, f.end, *speaker, key or None, int(f.quoted), *heading, dates)


def article_row(article: Article, origin: str, added_at: str) -> tuple:
    """The values of an article's row: id, title, text, source, url, published, metadata, origin, added_at."""
    metadata = json.dumps(dict(article.metadata), ensure_ascii=False)
    return (article.id, article.title, article.text, article.source, article.url, article.published, metadata,
            origin, added_at)


UPSERT_FILE = (
    "INSERT INTO files (path, sha256, article_ids, ingested_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, article_ids = excluded.article_ids,"
    " ingested_at = excluded.ingested_at"
)


# past every text that starts with a day ("2024-10-23T08:00:00Z"): ``published <= day + LAST`` is
# ``substr(published, 1, 10) <= day``, bytewise, but on the column, so its index and statistics serve
LAST = "\U0010ffff"


def filter_sql(filters: Filters | None) -> tuple[str, list[Any]]:
    """``filters`` as `` AND ...`` conditions on the article table ``a``, and their values. Days are
    compared on ``published`` itself (ISO text, ordered bytewise in both backends): the first ten
    characters, the day, must be in the range."""
    if not filters:
        return "", []
    clauses, params = [], []
    if filters.article_ids:
        clauses.append(f"a.id IN ({','.join('?' * len(filters.article_ids))})")
        params.extend(filters.article_ids)
    if filters.sources:
        clauses.append(f"a.source IN ({','.join('?' * len(filters.sources))})")
        params.extend(filters.sources)
    if filters.date_from:
        clauses.append("a.published >= ?")
        params.append(filters.date_from[:10])
    if filters.date_to:
        clauses.append("a.published <= ?")
        params.append(filters.date_to[:10] + LAST)
    if filters.as_of:
        clauses.append("(a.published IS NULL OR a.published <= ?)")
        params.append(filters.as_of[:10] + LAST)
    if not clauses:
        return "", []
    return " AND " + " AND ".join(clauses), params


def in_groups(sql: str, values: Sequence[Any], size: int = 900) -> Iterator[tuple[str, list[Any]]]:
    """``sql`` with its ``IN ({ids})`` list made for each group of at most ``size`` of ``values`` (900:
    under SQLite's limit on bound parameters), and that group."""
    for start in range(0, len(values), size):
        part = list(values[start : start + size])
        yield sql.format(ids=",".join("?" * len(part))), part


class SQLStore(Store):
    """The part of a store that is the same SQL in both backends."""

    LIKE = "LIKE"  # the case-insensitive LIKE of the engine

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of a read (``?`` placeholders), from committed data."""

    def _rows_in(self, sql: str, values: Sequence[Any]) -> Iterator[tuple]:
        """The rows of ``sql`` whose ``IN ({ids})`` list is ``values`` (see :func:`in_groups`)."""
        for statement, params in in_groups(sql, values):
            yield from self._rows(statement, params)

    def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    # --- writing, inside a backend's transaction ---------------------------------------------

    @staticmethod
    def _in_groups(tx: Transaction, sql: str, values: Sequence[Any], before: Sequence[Any] = ()) -> list[tuple]:
        """The rows of ``sql`` run in ``tx`` with its ``IN ({ids})`` list bound to ``values`` (see
        :func:`in_groups`), each time after the parameters ``before``."""
        rows: list[tuple] = []
        for statement, params in in_groups(sql, values):
            found = tx.execute(statement, [*before, *params])
            rows.extend(found.fetchall() if found.description else ())
        return rows

    def _insert_facts(
        self, tx: Transaction, articles: Sequence[tuple[str, str, str | None, Sequence[SentenceFacts]]]
    ) -> None:
        """Store the sentence facts of ``articles`` ``(id, text, published, facts)``, in place of any they had."""
        ids = [article_id for article_id, *_ in articles]
        self._in_groups(tx, "DELETE FROM sentences WHERE article_id IN ({ids})", ids)
        self._in_groups(tx, "DELETE FROM sentence_dates WHERE article_id IN ({ids})", ids)
        dates = [(article_id, f.start, d.date_from, d.date_to, date_span(d.date_from, d.date_to))
                 for article_id, _, _, facts in articles for f in facts for d in f.dates]
        if dates:
            tx.executemany(
                "INSERT INTO sentence_dates (article_id, sentence_start, date_from, date_to, span)"
                " VALUES (?, ?, ?, ?, ?)",
                dates,
            )
        rows = [(*_facts_row(article_id, f, text), published)
                for article_id, text, published, facts in articles for f in facts]
        if rows:
            tx.executemany(
                'INSERT INTO sentences (article_id, start, "end", speaker_start, speaker_end, speaker_key,'
                " quoted, heading_start, heading_end, dates, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _insert_articles(
        self,
        tx: Transaction,
        items: Sequence[tuple[Article, Sequence[Chunk], str]],
        facts: Mapping[str, Sequence[SentenceFacts]] | None,
        added_at: str,
        store_chunks: Callable[[str, list[tuple[Chunk, int]]], None],
        added_before: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Insert the articles of ``items`` not stored yet, with their sentence facts and stories, in the
        open transaction ``tx`` (which holds the write lock, so none is stored meanwhile); then
        ``store_chunks(article_id, [(chunk, row of its vector)])`` stores each one's chunks the backend's
        way, in the order of ``items``. ``added_before`` gives an article's own time of addition (a
        copy's), else it is ``added_at``. Returns the ids of the articles inserted.

        The rows of the whole batch go in a few statements (one per table and step), not a few per
        article: on a database server each statement is a round trip."""
        ids = list(dict.fromkeys(article.id for article, _, _ in items))
        stored = {row[0] for row in self._in_groups(tx, "SELECT id FROM articles WHERE id IN ({ids})", ids)}
        new: list[tuple[Article, Sequence[Chunk], str, int]] = []  # with the row of its first vector
        row = 0
        for article, chunks, origin in items:
            if article.id not in stored:
                stored.add(article.id)  # the first of an id given twice
                new.append((article, chunks, origin, row))
            row += len(chunks)
        if not new:
            return []
        tx.executemany(
            "INSERT INTO articles (id, title, text, source, url, published, metadata, origin, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [article_row(a, origin, (added_before or {}).get(a.id, added_at)) for a, _, origin, _ in new],
        )
        self._insert_facts(
            tx, [(a.id, a.text, a.published, self._facts_for(a, (facts or {}).get(a.id))) for a, *_ in new]
        )
        self._file_stories(tx, [(a.id, a.text) for a, *_ in new])
        for article, chunks, _, first in new:
            store_chunks(article.id, [(chunk, first + i) for i, chunk in enumerate(chunks)])
        return [article.id for article, *_ in new]

    @staticmethod
    def _add_question_indexes(tx: Transaction, days: str) -> None:
        """Fill the columns format 4 added (a sentence's publication day, a date's span) where they are
        empty and build the indexes questions are answered through (QUESTION_INDEXES), in place of those
        of format 3. ``days``: the backend's SQL for a date's width in days, from ``date_from`` to ``date_to``."""
        tx.execute(
            "UPDATE sentences SET published = (SELECT a.published FROM articles a WHERE a.id = sentences.article_id)"
            " WHERE published IS NULL"
        )
        tx.execute(f"UPDATE sentence_dates SET span = {span_sql(days)}")
        for name in OLD_QUESTION_INDEXES:
            tx.execute(f"DROP INDEX IF EXISTS {name}")
        for statement in filter(str.strip, QUESTION_INDEXES.split(";")):
            tx.execute(statement)

    @staticmethod
    def _record_files(tx: Transaction, files: Iterable[tuple[str, str, Sequence[str]]], at: str) -> None:
        """Record fully ingested files ``(path, sha256, article_ids)``, so their bytes are known next time."""
        for path, sha256, article_ids in files:
            tx.execute(UPSERT_FILE, (path, sha256, json.dumps(list(article_ids)), at))

    @staticmethod
    def _facts_for(article: Article, known: Sequence[SentenceFacts] | None) -> Sequence[SentenceFacts]:
        return known if known is not None else analyze(article.text, split_sentences(article.text), article.published)

    def _band_matches(self, tx: Transaction, keys: Mapping[str, Sequence[int]]) -> dict[str, list[tuple[str, int]]]:
        """For each article of ``keys`` (its band keys), the stored articles not in ``keys`` that share
        the most bands with it (at most :data:`STORY_CANDIDATES`), with how many they share."""
        found: dict[str, list[tuple[str, int]]] = {}
        for article_id, article_keys in keys.items():
            marks = ",".join("?" * len(article_keys))
            found[article_id] = tx.execute(
                f"SELECT article_id, count(*) AS n FROM story_bands WHERE key IN ({marks}) AND article_id != ?"
                " GROUP BY article_id ORDER BY n DESC, article_id LIMIT ?",
                [*article_keys, article_id, STORY_CANDIDATES],
            ).fetchall()
        return found

    def _file_stories(self, tx: Transaction, articles: Sequence[tuple[str, str]]) -> None:
        """Put each of ``articles`` ``(id, text)``, in their order, in the story of the article before
        it (stored, or earlier in the list) that it copies or updates (the most alike of the
        candidates its MinHash bands find), or in a story of its own; see :mod:`rag.stories`. An
        article that is a copy of two stories joins them: they were one story told twice.

        The stored candidates of the whole list are found together, and each text is cut into
        shingles once, however many articles it is a candidate of."""
        if not articles:
            return
        ids = [article_id for article_id, _ in articles]
        self._in_groups(tx, "DELETE FROM story_bands WHERE article_id IN ({ids})", ids)
        self._in_groups(tx, "DELETE FROM stories WHERE article_id IN ({ids})", ids)
        texts = dict(articles)
        cut = {article_id: shingles(text) for article_id, text in articles}
        keys = {article_id: band_keys(signature(cut[article_id])) for article_id in ids}
        matches = self._band_matches(tx, keys)
        candidates = sorted({other for found in matches.values() for other, _ in found})
        story_of: dict[str, str] = {}
        for other, text, story in self._in_groups(
            tx, "SELECT a.id, a.text, s.story FROM articles a JOIN stories s ON s.article_id = a.id"
            " WHERE a.id IN ({ids})", candidates,
        ):
            texts[other], story_of[other] = text, story

        def shingled(article_id: str) -> set[str]:
            if article_id not in cut:
                cut[article_id] = shingles(texts[article_id])
            return cut[article_id]

        filed: dict[int, list[str]] = {}  # band key -> the articles of the list filed so far that have it
        for article_id, _ in articles:
            shared = {other: n for other, n in matches[article_id] if other in story_of}
            for key in keys[article_id]:
                for other in filed.get(key, ()):
                    shared[other] = shared.get(other, 0) + 1
            ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))[:STORY_CANDIDATES]
            story, best, joined = article_id, 0.0, set()
            mine = shingled(article_id)
            for other, _ in ranked:
                theirs = shingled(other)
                if same_story(mine, theirs):
                    joined.add(story_of[other])
                    alike = len(mine & theirs) / len(mine | theirs)
                    if alike > best:
                        story, best = story_of[other], alike
            others = sorted(joined - {story})
            if others:
                self._in_groups(tx, "UPDATE stories SET story = ? WHERE story IN ({ids})", others, before=[story])
                merged = set(others)
                story_of = {a: story if s in merged else s for a, s in story_of.items()}
            story_of[article_id] = story
            for key in keys[article_id]:
                filed.setdefault(key, []).append(article_id)
        tx.executemany("INSERT INTO stories (article_id, story) VALUES (?, ?)", [(a, story_of[a]) for a in ids])
        tx.executemany(
            "INSERT INTO story_bands (key, article_id) VALUES (?, ?)", [(k, a) for a in ids for k in keys[a]]
        )

    @staticmethod
    def _delete_article(tx: Transaction, article_id: str) -> bool:
        """Delete an article's rows other than its chunks and vectors; True if it existed."""
        for table in ARTICLE_TABLES:
            tx.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
        return bool(tx.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount)

    # --- reading -----------------------------------------------------------------------------

    def known_file(self, sha256: str) -> list[tuple[str, list[str]]]:
        rows = self._rows("SELECT path, article_ids FROM files WHERE sha256 = ?", (sha256,))
        return [(path, json.loads(ids)) for path, ids in rows]

    def files(self) -> list[tuple[str, str, list[str]]]:
        rows = self._rows("SELECT path, sha256, article_ids FROM files ORDER BY ingested_at, path")
        return [(path, sha256, json.loads(ids)) for path, sha256, ids in rows]

    def known_feed_links(self) -> dict[str, str]:
        return dict(self._rows("SELECT link, article_id FROM feed_links ORDER BY fetched_at, link"))

    def existing_articles(self, article_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(article_ids))
        return {r[0] for r in self._rows_in("SELECT id FROM articles WHERE id IN ({ids})", ids)}

    def origins(self, article_ids: Iterable[str]) -> dict[str, str]:
        return dict(self._rows_in("SELECT id, origin FROM articles WHERE id IN ({ids})", list(article_ids)))

    def article(self, article_id: str) -> Article | None:
        return self.articles_by_id([article_id]).get(article_id)

    def articles_by_id(self, article_ids: Iterable[str]) -> dict[str, Article]:
        rows = self._rows_in(
            "SELECT id, title, text, source, url, published, metadata FROM articles WHERE id IN ({ids})",
            list(dict.fromkeys(article_ids)),
        )
        return {r[0]: Article(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows}

    def articles(self) -> list[StoredArticle]:
        return self._articles()

    def _articles(self, where: str = "", params: Sequence[Any] = ()) -> list[StoredArticle]:
        rows = self._rows(
            "SELECT a.id, a.title, a.source, a.url, a.published, count(c.id), a.origin, a.added_at"
            f" FROM articles a LEFT JOIN chunks c ON c.article_id = a.id {where}"
            " GROUP BY a.id ORDER BY a.published IS NULL, a.published DESC, a.title",
            params,
        )
        return [StoredArticle(*row) for row in rows]

    def article_page(
        self, query: str = "", newest_first: bool = True, offset: int = 0, limit: int = 50
    ) -> tuple[list[StoredArticle], int]:
        if offset < 0 or limit < 1:
            raise ValueError(f"a page needs offset >= 0 and limit >= 1, not offset={offset}, limit={limit}")
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", query.strip()) + "%"
        where = f" WHERE a.title {self.LIKE} ? ESCAPE '\\' OR a.source {self.LIKE} ? ESCAPE '\\'"
        order = "DESC" if newest_first else "ASC"
        total = self._value(f"SELECT count(*) FROM articles a{where}", (pattern, pattern))
        rows = self._rows(
            "SELECT a.id, a.title, a.source, a.url, a.published,"
            " (SELECT count(*) FROM chunks c WHERE c.article_id = a.id), a.origin, a.added_at"
            f" FROM articles a{where} ORDER BY coalesce(a.published, '') = '', a.published {order}, a.title, a.id"
            " LIMIT ? OFFSET ?",
            (pattern, pattern, limit, offset),
        )
        return [StoredArticle(*row) for row in rows], int(total)

    def article_count(self) -> int:
        return int(self._value("SELECT count(*) FROM articles"))

    def chunk_count(self) -> int:
        return int(self._value("SELECT count(*) FROM chunks"))

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        found: dict[int, ChunkRow] = {}
        rows = self._rows_in(
            'SELECT c.id, c.article_id, c.start, c."end", c.text, c.sentences,'
            " a.title, a.source, a.url, a.published"
            " FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({ids})",
            [int(i) for i in chunk_ids],
        )
        for r in rows:
            sentences = tuple(tuple(s) for s in json.loads(r[5]))
            found[r[0]] = ChunkRow(r[0], r[1], r[2], r[3], r[4], sentences, r[6], r[7], r[8], r[9])
        return found

    def chunk_ids_holding(self, places: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        found: dict[tuple[str, int], int] = {}
        by_article: dict[str, list[int]] = {}
        for article_id, offset in places:
            by_article.setdefault(article_id, []).append(offset)
        for article_id, offsets in by_article.items():
            rows = self._rows('SELECT id, start, "end" FROM chunks WHERE article_id = ? ORDER BY ord', (article_id,))
            for offset in offsets:
                chunk = next((r[0] for r in rows if r[1] <= offset < r[2]), None)
                if chunk is not None:
                    found[(article_id, offset)] = chunk
        return found

    def sentence_facts(self, article_id: str) -> list[SentenceFacts]:
        return self.sentence_facts_by_article([article_id]).get(article_id, [])

    def sentence_facts_by_article(self, article_ids: Iterable[str]) -> dict[str, list[SentenceFacts]]:
        found: dict[str, list[SentenceFacts]] = {}
        rows = self._rows_in(
            'SELECT article_id, start, "end", speaker_start, speaker_end, quoted, heading_start, heading_end, dates'
            " FROM sentences WHERE article_id IN ({ids}) ORDER BY article_id, start",
            list(dict.fromkeys(article_ids)),
        )
        for r in rows:
            found.setdefault(r[0], []).append(SentenceFacts(
                start=r[1],
                end=r[2],
                speaker=(r[3], r[4]) if r[3] is not None else None,
                quoted=bool(r[5]),
                heading=(r[6], r[7]) if r[6] is not None else None,
                dates=tuple(DateMention(*d) for d in json.loads(r[8])),
            ))
        return found

    def sentences_by_speaker(
        self, name: str, filters: Filters | None = None, limit: int = 200
    ) -> list[tuple[str, int, int]]:
        key = speaker_key(name)
        if not key:
            return []
        # newest first along the speaker's range of sentences_spoken, from the last day the filters keep
        # (undated sentences after the dated ones, as the as-of filter keeps them: the second query, read
        # only when the first falls short and no day range is asked for)
        days = filters or Filters()
        where, params = filter_sql(replace(days, date_from=None, date_to=None, as_of=None))
        last = min((x[:10] + LAST for x in (days.date_to, days.as_of) if x), default=LAST)
        ranges = [("s.published >= ? AND s.published <= ?", [(days.date_from or "")[:10], last])]
        if not (days.date_from or days.date_to):
            ranges.append(("s.published IS NULL", []))
        found: list[tuple[str, int, int]] = []
        for published, bounds in ranges:
            rows = self._rows(
                'SELECT s.article_id, s.start, s."end" FROM sentences s JOIN articles a ON a.id = s.article_id'
                f" WHERE s.speaker_key = ? AND {published}{where}"
                " ORDER BY s.published DESC, s.article_id, s.start LIMIT ?",
                [key, *bounds, *params, limit - len(found)],
            )
            found += [(r[0], r[1], r[2]) for r in rows]
            if len(found) >= limit:
                break
        return found

    def sentences_dated(
        self, date_from: str, date_to: str, filters: Filters | None = None, limit: int = 200
    ) -> list[tuple[str, int, int]]:
        where, params = filter_sql(filters)
        dated, values = dated_sql(date_from, date_to)
        rows = self._rows(
            'SELECT s.article_id, s.start, s."end" FROM sentences s JOIN articles a ON a.id = s.article_id'
            f" WHERE (s.article_id, s.start) IN (SELECT d.article_id, d.sentence_start FROM sentence_dates d"
            f" WHERE {dated}){where}"
            " ORDER BY a.published IS NULL, a.published DESC, s.article_id, s.start LIMIT ?",
            [*values, *params, limit],
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def stories_of(self, article_ids: Iterable[str]) -> dict[str, str]:
        sql = "SELECT article_id, story FROM stories WHERE article_id IN ({ids})"
        return dict(self._rows_in(sql, list(article_ids)))

    def story_sizes(self, article_ids: Iterable[str]) -> dict[str, int]:
        sql = (
            "SELECT s.article_id, (SELECT count(*) FROM stories t WHERE t.story = s.story)"
            " FROM stories s WHERE s.article_id IN ({ids})"
        )
        return {article_id: int(n) for article_id, n in self._rows_in(sql, list(article_ids))}

    def story_members(self, story: str) -> list[StoredArticle]:
        return self._articles("WHERE a.id IN (SELECT article_id FROM stories WHERE story = ?)", (story,))

    def stories(self, min_size: int = 2) -> list[list[StoredArticle]]:
        rows = self._rows(
            "SELECT story FROM stories GROUP BY story HAVING count(*) >= ? ORDER BY count(*) DESC, story", (min_size,)
        )
        return [self.story_members(story) for (story,) in rows]

    def latest_published(self) -> str | None:
        latest = self._value("SELECT max(published) FROM articles")
        return latest[:10] if latest else None

    def batches(self, size: int = 256) -> Iterator[StoredBatch]:
        items: list[tuple[Article, list[Chunk], str]] = []
        ids: list[int] = []
        facts: dict[str, list[SentenceFacts]] = {}
        added: dict[str, str] = {}
        # in the order they were added (within a batch, by their first chunk), so a copy numbers its chunks
        # in the same order and files each story under the same first article
        order = (
            "SELECT a.id, a.origin, a.added_at FROM articles a ORDER BY a.added_at,"
            " coalesce((SELECT min(c.id) FROM chunks c WHERE c.article_id = a.id), 0), a.id"
        )
        for article_id, origin, added_at in self._rows(order):
            article = self.article(article_id)
            if article is None:  # removed meanwhile
                continue
            rows = self._rows(
                'SELECT id, ord, start, "end", text, sentences FROM chunks WHERE article_id = ? ORDER BY ord',
                (article_id,),
            )
            chunks = [
                Chunk(article_id, r[1], r[2], r[3], r[4], tuple(tuple(s) for s in json.loads(r[5]))) for r in rows
            ]
            items.append((article, chunks, origin))
            ids.extend(r[0] for r in rows)
            facts[article_id] = self.sentence_facts(article_id)
            added[article_id] = added_at
            if len(ids) >= size:
                yield self._batch(items, ids, facts, added)
                items, ids, facts, added = [], [], {}, {}
        if items:
            yield self._batch(items, ids, facts, added)

    def _batch(
        self, items: list[tuple[Article, list[Chunk], str]], ids: list[int], facts, added: dict[str, str]
    ) -> StoredBatch:
        found = self.vectors_by_id(ids)
        missing = len(set(ids) - set(found))
        if missing:
            raise IndexError_(
                f"{missing} chunks in {self.location} have no stored vector; run `rag check` on it"
            )
        dim = self.manifest.dimension
        vectors = np.stack([found[i] for i in ids]) if ids else np.zeros((0, dim), dtype=np.float32)
        return StoredBatch(items, vectors, facts, added)

    # --- health ------------------------------------------------------------------------------

    def _counted_problems(self) -> list[str]:
        problems = []
        for count, problem in COUNTED_PROBLEMS:
            found = self._value(count)
            if found:
                problems.append(f"{found} {problem}")
        return problems
