"""Every query a question makes of the store is driven by an index, on both backends.

Questions as readers ask them (a time, a speaker, plain; as of today and of a past day) are asked of a
small dated index while every statement the store runs is recorded. The tables are then grown to an
archive's size (filler rows in SQL) and analysed, and each recorded statement's plan is read
(``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (FORMAT JSON)`` on PostgreSQL): a full scan of a table whose
size grows with the archive fails the test. The dense and keyword searches have their own benchmarks
(bench/search_latency.py, bench/pg_search.py) and are left out here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag import Index, Settings
from rag.answer import Assistant

from .conftest import needs_postgres

ARTICLES = [
    {"title": "Port strike enters second day", "source": "Harbour Times", "published": "2024-03-12",
     "text": "Dock workers in Rotterdam stayed off the job on Tuesday. \u201cWe will not move a single crate until "
             "the offer improves,\u201d said Marta Visser, a union leader. The port authority said 3,000 containers "
             "were waiting. Talks resumed on Monday and broke off in the evening."},
    {"title": "Port strike: talks resume", "source": "Daily Ledger", "published": "2024-03-15",
     "text": "Negotiators met again on Thursday. Marta Visser said the new offer was a step forward. The number of "
             "waiting containers rose to 10,000, the port authority said. Shipping lines diverted vessels to "
             "Antwerp last week."},
    {"title": "Harbour ferries return", "source": "Metro Post", "published": "2024-04-02",
     "text": "Ferries returned to the harbour in March. Captain Ada Brook said the harbour was busy again. The "
             "timetable changes in June, the operator said."},
]
QUESTIONS = [  # (question, as of)
    ("What happened at the port on Tuesday?", None),
    ("What happened at the port on Tuesday?", "2024-03-13"),
    ("What did Marta Visser say about the offer?", None),
    ("What did Marta Visser say about the offer?", "2024-03-13"),
    ("How many containers were waiting this week?", "2024-03-16"),
    ("When do the ferry timetables change?", None),
    ("Where did shipping lines divert vessels?", "2024-04-30"),
]
GROWN = {"articles": 20_000, "chunks": 60_000, "sentences": 200_000, "sentence_dates": 60_000}
# statements of the searches, timed by their own benchmarks (see the docstring)
SEARCHES = re.compile(r"chunks_fts|keyword_postings|<#>|embedding")


def asked_statements(index: Index) -> list[tuple[str, list]]:
    """Every statement (and its values) the store runs while QUESTIONS are asked, once each."""
    store = index.store
    seen: list[tuple[str, list]] = []
    original = store._rows

    def recording(sql, params=()):
        # (a planner's estimate the store asks for is not run: its EXPLAIN reads no rows)
        if not SEARCHES.search(sql) and not sql.startswith("EXPLAIN") and (sql, list(params)) not in seen:
            seen.append((sql, list(params)))
        return original(sql, params)

    store._rows = recording
    try:
        assistant = Assistant(index)
        for question, as_of in QUESTIONS:
            assistant.ask(question, as_of=as_of)
    finally:
        del store._rows
    return seen


def write_articles(folder: Path) -> Path:
    path = folder / "port.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES), encoding="utf-8")
    return path


def grow_sqlite(index: Index) -> None:
    db = index.store._db
    counts = GROWN
    db.execute("BEGIN")
    db.execute(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)"
        " INSERT INTO articles (id, title, text, source, url, published, metadata, origin, added_at)"
        " SELECT 'filler' || n, 'Filler ' || n, 'Filler text.', 'Source ' || (n % 40), '',"
        " date('2023-01-01', '+' || (n % 730) || ' days') || 'T09:00:00Z', '{}', '', '2024-01-01' FROM seq",
        (counts["articles"],),
    )
    db.execute(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)"
        ' INSERT INTO sentences (article_id, start, "end", speaker_key, published)'
        " SELECT 'filler' || (1 + n % ?), n, n + 10, CASE WHEN n % 10 = 0 THEN 'speaker ' || (n % 997) END,"
        " date('2023-01-01', '+' || ((n % ?) % 730) || ' days') || 'T09:00:00Z' FROM seq",
        (counts["sentences"], counts["articles"], counts["articles"]),
    )
    db.execute(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)"
        " INSERT INTO sentence_dates (article_id, sentence_start, date_from, date_to, span)"
        " SELECT 'filler' || (1 + n % ?), n, date('2023-01-01', '+' || (n % 730) || ' days'),"
        " date('2023-01-01', '+' || ((n % 730) + (n % 4) * (n % 4) * 30) || ' days'), n % 4 FROM seq",
        (counts["sentence_dates"], counts["articles"]),
    )
    db.execute(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)"
        ' INSERT INTO chunks (article_id, ord, start, "end", text, sentences)'
        " SELECT 'filler' || (1 + n % ?), n, 0, 12, 'Filler text.', '[]' FROM seq",
        (counts["chunks"], counts["articles"]),
    )
    db.execute("INSERT INTO stories (article_id, story) SELECT id, 'story ' || (rowid % 5000) FROM articles"
               " WHERE id LIKE 'filler%'")
    db.execute("COMMIT")


def grow_postgres(index: Index) -> None:
    import psycopg

    counts = GROWN
    with psycopg.connect(index.store.url, autocommit=True) as conn:
        conn.execute("SET search_path = rag, public")
        conn.execute(
            "INSERT INTO articles (id, title, text, source, url, published, metadata, origin, added_at)"
            " SELECT 'filler' || n, 'Filler ' || n, 'Filler text.', 'Source ' || (n %% 40), '',"
            " to_char(date '2023-01-01' + (n %% 730), 'YYYY-MM-DD') || 'T09:00:00Z', '{}', '', '2024-01-01'"
            " FROM generate_series(1, %s) n",
            (counts["articles"],),
        )
        conn.execute(
            'INSERT INTO sentences (article_id, start, "end", speaker_key, published)'
            " SELECT 'filler' || (1 + n %% %s), n, n + 10, CASE WHEN n %% 10 = 0 THEN 'speaker ' || (n %% 997) END,"
            " to_char(date '2023-01-01' + ((n %% %s) %% 730), 'YYYY-MM-DD') || 'T09:00:00Z'"
            " FROM generate_series(1, %s) n",
            (counts["articles"], counts["articles"], counts["sentences"]),
        )
        conn.execute(
            "INSERT INTO sentence_dates (article_id, sentence_start, date_from, date_to, span)"
            " SELECT 'filler' || (1 + n %% %s), n, to_char(date '2023-01-01' + (n %% 730), 'YYYY-MM-DD'),"
            " to_char(date '2023-01-01' + (n %% 730) + (n %% 4) * (n %% 4) * 30, 'YYYY-MM-DD'), n %% 4"
            " FROM generate_series(1, %s) n",
            (counts["articles"], counts["sentence_dates"]),
        )
        conn.execute("DROP INDEX chunks_embedding")  # the dense search is not looked at here: spare its upkeep
        conn.execute(
            'INSERT INTO chunks (article_id, ord, start, "end", text, sentences, tokens, embedding, tsv)'
            " SELECT 'filler' || (1 + n %% %s), n, 0, 12, 'Filler text.', '[]', 2,"
            " array_fill(0.05::real, ARRAY[%s])::vector, to_tsvector('english', 'filler text')"
            " FROM generate_series(1, %s) n",
            (counts["articles"], index.store.manifest.dimension, counts["chunks"]),
        )
        conn.execute("INSERT INTO stories (article_id, story) SELECT id, 'story ' || (abs(hashtext(id)) % 5000)"
                     " FROM articles WHERE id LIKE 'filler%'")
        conn.execute("ANALYZE")


def sqlite_scans(index: Index, sql: str, params: list) -> list[str]:
    """The full scans in the plan of ``sql``: SQLite's ``SCAN`` of a table (not of a virtual table, a
    constant row, a list of values or sqlite_sequence, a row per table)."""
    plan = [row[-1] for row in index.store._db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    exempt = r"CONSTANT ROW|json_each|sqlite_sequence"
    return [step for step in plan if re.match(rf"SCAN (?!{exempt})\w+(?! VIRTUAL TABLE)", step)]


def postgres_scans(index: Index, sql: str, params: list) -> list[str]:
    """The sequential scans in the plan of ``sql``, each with the table it reads."""
    (plan,) = index.store._rows("EXPLAIN (FORMAT JSON) " + sql, params)[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found = []

    def walk(node):
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") not in ("manifest", "keyword_totals"):
            found.append(f"Seq Scan on {node['Relation Name']}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def plans_scan_nothing(index: Index, statements, scans) -> None:
    kinds = {"dated": "sentence_dates", "speaker": "speaker_key", "stories": "stories", "articles": "FROM articles"}
    for kind, marker in kinds.items():  # the questions reached each kind of query
        assert any(marker in sql for sql, _ in statements), (kind, [sql for sql, _ in statements])
    for table, count in GROWN.items():  # the plans are those of an archive's size
        assert index.store._rows(f"SELECT count(*) FROM {table}")[0][0] >= count
    scanning = {sql: found for sql, params in statements if (found := scans(index, sql, params))}
    assert scanning == {}


def test_every_query_of_a_question_is_driven_by_an_index_on_sqlite(make_index, tmp_path):
    index = make_index()
    index.ingest([write_articles(tmp_path)])
    statements = asked_statements(index)
    grow_sqlite(index)
    plans_scan_nothing(index, statements, sqlite_scans)


def test_every_query_of_a_question_is_driven_by_an_index_on_postgres(pg_dsn, embedder, tmp_path):
    needs_postgres()
    index = Index(Settings(index_dir=pg_dsn), create=True, embedder=embedder)
    try:
        index.ingest([write_articles(tmp_path)])
        statements = asked_statements(index)
        grow_postgres(index)
        plans_scan_nothing(index, statements, postgres_scans)
    finally:
        index.close()
