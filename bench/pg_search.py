"""Search at scale: PostgreSQL + pgvector (HNSW) against the folder index's FAISS IVF, on the same vectors.

The chunks and vectors of bench/search_latency.py: real language (1-3 real sentences drawn at random,
`varied_texts(seed=1)`) with real MiniLM embeddings from bench/.cache (the 100k set; past 100k the
parts that `python bench/corpus.py --varied 1000000` embeds). Both indexes are filled through
`Store.add` without embedding, ten chunks to an article, each article with a publication day (over
three years) and one of eight sources, so every row, keyword index and vector index is the real one.

A real PostgreSQL 18 + pgvector server (tests/postgres_server.py) with its durable settings (fsync,
synchronous commits) and --shared-buffers. Measured:

- insert: `PostgresStore.add` of every chunk with the HNSW index dropped, then the index built again
  (the store's own CREATE INDEX, with --maintenance-work-mem); with --insert-with-index, also the
  insert into a second database whose HNSW index is kept during the insert. The folder index is
  built by bench/search_latency.py's `build_store` (IVF: `nlist = 4 sqrt(N)`, `nprobe = 128`).
- recall@10 against exact search (1,190 XQuAD-R questions): HNSW through `dense_search`, the same
  with each filter (against exact search among the chunks that pass it), FAISS IVF; and the HNSW
  query at several `hnsw.ef_search` values (recall and latency: the trade-off).
- latency, p50 and p95, in alternating blocks of 25 questions between the two backends:
  `store.dense_search(vector, 50)` (questions encoded beforehand) and `Index.search(question, k=5)`
  (encoding, dense + keyword search, fusion, one article per story, rows), without a filter and
  with each filter (one month, one source, as of a day that keeps 90%). Ratio = PostgreSQL / folder.
- size: the database's tables and indexes against the index folder.

    .venv/bin/python bench/pg_search.py [--chunks 100000] [--queries 300] [--insert-with-index]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import SHARED, cached_embeddings, parts_embeddings, percentile, varied_texts  # noqa: E402
from search_latency import (  # noqa: E402
    BLOCK,
    CHUNKS_PER_ARTICLE,
    FILTERS,
    build_store,
    dated,
)

from rag import Index, Settings  # noqa: E402
from rag.datasets import load_squad  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.store import Store  # noqa: E402
from rag.types import Article, Chunk, Filters  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
DEPTH = 50  # chunks a search asks each side for (Retriever.candidates)
EF_SEARCH = (40, 100, 200, 400)  # pgvector's default, and higher (the store uses 400)
INSERT_BATCH = 5000  # chunks per Store.add, as bench/search_latency.py
RUNS = [("none", None), *FILTERS.items()]


# --- the data --------------------------------------------------------------------------------


def load_vectors(chunks: int) -> tuple[list[str], np.ndarray]:
    """The first ``chunks`` varied texts and their cached vectors (nothing is embedded here)."""
    texts = varied_texts(max(chunks, 100_000), seed=1, low=1, high=3)
    if chunks <= 100_000:
        vectors = cached_embeddings(texts, Embedder(), "varied")  # the cache bench/search_latency.py made
    else:
        vectors = parts_embeddings(texts, MODEL, "varied")
    return texts[:chunks], np.ascontiguousarray(vectors[:chunks])


def batches(texts: list[str], vectors: np.ndarray):
    """``(items, vectors)`` for Store.add, as bench/search_latency.py's build_store makes them."""
    for first in range(0, len(texts), INSERT_BATCH):
        items, rows = [], []
        for a in range(first, min(first + INSERT_BATCH, len(texts)), CHUNKS_PER_ARTICLE):
            parts = texts[a : a + CHUNKS_PER_ARTICLE]
            number = a // CHUNKS_PER_ARTICLE
            article = Article.create(f"Article {number}", "\n".join(parts), **dated(number))
            chunks, position = [], 0
            for i, part in enumerate(parts):
                end = position + len(part)
                chunks.append(Chunk(article.id, i, position, end, part, ((position, end),)))
                position = end + 1
            items.append((article, chunks, "bench"))
            rows.extend(range(a, a + len(parts)))
        yield items, vectors[rows]


def passing_rows(count: int, filters: Filters | None) -> np.ndarray:
    """Which of the first ``count`` chunks pass ``filters`` (by their article's day and source)."""
    keep = np.ones(count, dtype=bool)
    if filters is None:
        return keep
    for number in range((count + CHUNKS_PER_ARTICLE - 1) // CHUNKS_PER_ARTICLE):
        facts = dated(number)
        day, ok = facts["published"], True
        if filters.sources and facts["source"] not in filters.sources:
            ok = False
        if filters.date_from and day < filters.date_from:
            ok = False
        if filters.date_to and day > filters.date_to:
            ok = False
        if filters.as_of and day > filters.as_of:
            ok = False
        keep[number * CHUNKS_PER_ARTICLE : (number + 1) * CHUNKS_PER_ARTICLE] = ok
    return keep


def exact_top(vectors: np.ndarray, queries: np.ndarray, keep: np.ndarray, k: int = 10) -> list[set[int]]:
    """The rows of the ``k`` nearest vectors (inner product) among those kept, for each query."""
    rows = np.flatnonzero(keep)
    kept = vectors[rows]
    found = []
    for start in range(0, len(queries), 64):
        scores = kept @ queries[start : start + 64].T
        best = np.argpartition(-scores, k, axis=0)[:k].T
        found.extend({int(rows[i]) for i in row} for row in best)
    return found


# --- PostgreSQL ------------------------------------------------------------------------------


def start_server(base: Path, shared_buffers: str):
    from tests.postgres_server import PostgresServer

    server = PostgresServer.start(base, fast=False)
    with server.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
    server.stop()
    server.start_again()
    return server


def server_settings(server) -> dict[str, str]:
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers",
             "max_parallel_maintenance_workers")
    with server.connect() as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in names}
    return settings


def fill_postgres(
    server, name: str, texts: list[str], vectors: np.ndarray, keep_index: bool, maintenance_work_mem: str
) -> dict:
    """A database filled through PostgresStore.add; without ``keep_index``, the HNSW index dropped
    before and built after (with ``maintenance_work_mem``). Returns the seconds of each step."""
    dsn = server.create_database(name)
    store = Store.open(dsn, model=MODEL, dimension=vectors.shape[1], create=True, chunk_tokens=160, overlap_tokens=48)
    with server.connect(name) as conn:
        definition = conn.execute("SELECT pg_get_indexdef('rag.chunks_embedding'::regclass)").fetchone()[0]
        if not keep_index:
            conn.execute("DROP INDEX rag.chunks_embedding")
    started = time.perf_counter()
    for number, (items, part) in enumerate(batches(texts, vectors)):
        store.add(items, part)
        if number % 20 == 19:
            done = (number + 1) * INSERT_BATCH
            print(f"  {name}: {done} chunks in {time.perf_counter() - started:.0f}s", flush=True)
    result = {"dsn": dsn, "insert_s": time.perf_counter() - started, "definition": definition}
    store.close()
    with server.connect(name) as conn:
        ids = conn.execute("SELECT min(id), max(id), count(*) FROM rag.chunks").fetchone()
        assert tuple(ids) == (1, len(texts), len(texts)), ids  # chunk id = row + 1
        if not keep_index:
            started = time.perf_counter()
            conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
            conn.execute(definition)
            result["build_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE rag.chunks")
        conn.execute("VACUUM ANALYZE rag.articles")
        result["analyze_s"] = time.perf_counter() - started
    return result


def prewarm(server, name: str) -> None:
    """Read the chunk table, its TOAST table and its indexes into shared buffers (the FAISS index is in
    memory as well): what a server that has been answering for a while holds."""
    with server.connect(name) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for relation in ("rag.chunks_embedding", "rag.chunks", "rag.articles", "rag.chunks_pkey", "rag.chunks_tsv",
                         "rag.articles_pkey", "rag.stories"):
            conn.execute("SELECT pg_prewarm(%s::regclass)", (relation,))
        toast = conn.execute("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'rag.chunks'::regclass"
                             " AND reltoastrelid != 0").fetchone()
        if toast:
            conn.execute("SELECT pg_prewarm(%s::regclass)", (toast[0],))


def sizes(server, name: str) -> dict[str, int]:
    with server.connect(name) as conn:
        row = conn.execute(
            "SELECT pg_relation_size('rag.chunks'), pg_total_relation_size('rag.chunks')"
            " - pg_relation_size('rag.chunks') - pg_indexes_size('rag.chunks'),"
            " pg_relation_size('rag.chunks_embedding'), pg_relation_size('rag.chunks_tsv'),"
            " pg_database_size(current_database())"
        ).fetchone()
    return dict(zip(("chunks_heap", "chunks_toast", "hnsw", "gin", "database"), row))


def plans(dsn: str, query: np.ndarray) -> dict[str, str]:
    """The plan PostgreSQL picks for the store's dense search, without and with each filter: which
    scan (HNSW index or exact) answers."""
    import psycopg
    from pgvector.psycopg import register_vector

    from rag.store.postgres import EF_SEARCH as STORE_EF
    from rag.store.sql import filter_sql

    found = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("SET search_path = rag, public")
        conn.execute(f"SET hnsw.ef_search = {STORE_EF}")
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        for name, filters in RUNS:
            where, params = filter_sql(filters)
            join = " JOIN articles a ON a.id = c.article_id" if where else ""
            sql = f"EXPLAIN SELECT c.id FROM chunks c{join} WHERE TRUE{where} ORDER BY c.embedding <#> %s LIMIT {DEPTH}"
            lines = [r[0] for r in conn.execute(sql.replace("?", "%s"), [*params, query])]
            scans = [line.strip().split("  (")[0].lstrip("-> ") for line in lines if "Scan" in line]
            found[name] = "; ".join(scans)
    return found


def ef_tradeoff(dsn: str, queries: np.ndarray, truth: dict[str, list[set[int]]], timed: int) -> list[dict]:
    """Recall@10 of the store's dense query at several hnsw.ef_search values, without and with each
    filter, and the latency of the query a search makes (LIMIT 50, unfiltered) on a plain connection."""
    raw = RawSQL(dsn)
    rows = []
    for ef in EF_SEARCH:
        raw.conn.execute(f"SET hnsw.ef_search = {ef}")
        row: dict = {"ef_search": ef}
        for name, filters in RUNS:
            hits10, hits50, times = 0, 0, []
            for number, (query, want) in enumerate(zip(queries, truth[name])):
                hits10 += len({i - 1 for i, _ in raw.dense_search(query, 10, filters)} & want)
                if filters is None:
                    started = time.perf_counter()
                    got50 = raw.dense_search(query, DEPTH)
                    if number < timed:
                        times.append(time.perf_counter() - started)
                    hits50 += len({i - 1 for i, _ in got50[:10]} & want)
            row[f"recall10|{name}"] = hits10 / (10 * len(queries))
            if filters is None:
                row.update(recall10_of_50=hits50 / (10 * len(queries)), p50_ms=percentile(times, 50) * 1000,
                           p95_ms=percentile(times, 95) * 1000)
        rows.append(row)
        print(f"  ef_search {ef}: {json.dumps(row)}", flush=True)
    raw.conn.close()
    return rows


# --- measuring -------------------------------------------------------------------------------


def recall(store, queries: np.ndarray, truth: list[set[int]], filters: Filters | None = None) -> float:
    hits = 0
    for query, want in zip(queries, truth):
        hits += len({chunk_id - 1 for chunk_id, _ in store.dense_search(query, 10, filters)} & want)
    return hits / (10 * len(truth))


def alternate(sides: dict, questions: list, run) -> dict[str, list[float]]:
    """Seconds of ``run(side, question)`` for each side, in blocks of BLOCK questions whose order of
    sides alternates (so neither always runs right after the other)."""
    names = list(sides)
    times: dict[str, list[float]] = {name: [] for name in names}
    for number, start in enumerate(range(0, len(questions), BLOCK)):
        batch = questions[start : start + BLOCK]
        for name in names if number % 2 == 0 else names[::-1]:
            for question in batch:
                started = time.perf_counter()
                run(sides[name], question)
                times[name].append(time.perf_counter() - started)
    return times


class RawSQL:
    """The store's dense query on a plain connection (no pool, no error translation): what the
    database itself takes."""

    def __init__(self, dsn: str):
        import psycopg
        from pgvector.psycopg import register_vector

        from rag.store.postgres import EF_SEARCH as STORE_EF

        self.conn = psycopg.connect(dsn, autocommit=True)
        register_vector(self.conn)
        self.conn.execute("SET search_path = rag, public")
        self.conn.execute(f"SET hnsw.ef_search = {STORE_EF}")
        self.conn.execute("SET hnsw.iterative_scan = relaxed_order")

    def dense_search(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> list:
        from rag.store.sql import filter_sql

        where, params = filter_sql(filters)
        join = " JOIN articles a ON a.id = c.article_id" if where else ""
        sql = (f"SELECT id, score FROM (SELECT c.id, -(c.embedding <#> %s) AS score FROM chunks c{join}"
               f" WHERE TRUE{where.replace('?', '%s')} ORDER BY c.embedding <#> %s LIMIT %s) found"
               " ORDER BY score DESC, id")
        return self.conn.execute(sql, [vector, *params, vector, k]).fetchall()


class RawFAISS:
    """The folder's FAISS index searched directly, with the store's nprobe (unfiltered only)."""

    def __init__(self, store):
        import faiss

        self.index = store.faiss.index
        self.params = faiss.SearchParametersIVF(nprobe=faiss.extract_index_ivf(self.index).nprobe)

    def dense_search(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> None:
        self.index.search(vector.reshape(1, -1), k, params=self.params)


def latencies(indexes: dict[str, Index], dsn: str, questions: list[str], vectors: np.ndarray) -> dict:
    """p50/p95 of dense_search, keyword_search and Index.search on each side, without and with each
    filter; the dense search also as the bare SQL query and the bare FAISS search."""
    from rag.retrieve import keyword_terms

    raw_sql = RawSQL(dsn)
    raw_faiss = RawFAISS(indexes["folder"].store)
    stores = {side: index.store for side, index in indexes.items()}
    terms = [keyword_terms(q) for q in questions]
    found: dict = {}
    for name, filters in RUNS:
        def dense_search(store, vector, filters=filters):
            store.dense_search(vector, DEPTH, filters)

        def keyword_search(store, words, filters=filters):
            store.keyword_search(words, DEPTH, filters)

        def search(index, question, filters=filters):
            index.embedder._queries.clear()  # each question encoded, as asked the first time
            index.search(question, k=5, filters=filters)

        dense_sides = {**stores, "postgres SQL": raw_sql}
        if filters is None:
            dense_sides["FAISS"] = raw_faiss
        timed = {
            "dense": alternate(dense_sides, list(vectors), dense_search),
            "keyword": alternate(stores, terms, keyword_search),
            "search": alternate(indexes, questions, search),
        }
        for kind, times in timed.items():
            for side, values in times.items():
                found[(kind, name, side)] = (percentile(values, 50) * 1000, percentile(values, 95) * 1000)
        print(f"  {name}: " + ", ".join(f"{k[0]} {k[2]} p50 {v[0]:.1f} ms" for k, v in found.items() if k[1] == name),
              flush=True)
    raw_sql.conn.close()
    return found


def keyword_plan(dsn: str, question: str) -> list[str]:
    """EXPLAIN ANALYZE of the store's keyword search for one question: where its time goes."""
    import psycopg

    from rag.retrieve import keyword_terms
    from rag.store.postgres import KEYWORD_SEARCH, TOKEN, _pg

    words = [" ".join(TOKEN.findall(w)) for w in keyword_terms(question)]
    sql = KEYWORD_SEARCH
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET search_path = rag, public")
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + _pg(sql), [[w for w in words if w], DEPTH]).fetchall()
    return [r[0] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="questions timed (recall uses all 1,190)")
    parser.add_argument("--shared-buffers", default="1GB")
    parser.add_argument("--maintenance-work-mem", default=None, help="for the HNSW build (default: 1GB a 250k chunks)")
    parser.add_argument("--insert-with-index", action="store_true", help="also time the insert with HNSW kept")
    parser.add_argument("--base", default=None, help="folder for the server and the index folder (default: /tmp)")
    args = parser.parse_args()
    build_memory = args.maintenance_work_mem or f"{max(1, -(-args.chunks // 250_000))}GB"

    texts, vectors = load_vectors(args.chunks)
    _, squad = load_squad(SHARED / "xquad-r.en.json")
    questions = [q.question for q in squad]
    embedder = Embedder()
    queries = embedder.embed(questions)
    print(f"{len(texts)} chunks, {len(questions)} questions", flush=True)

    report: dict = {"chunks": len(texts)}
    tmp = Path(tempfile.mkdtemp(prefix="pg-search-", dir=args.base))
    server = start_server(tmp / "pg", args.shared_buffers)
    try:
        report["settings"] = server_settings(server)
        report["settings"]["maintenance_work_mem (build)"] = build_memory
        print("server: " + json.dumps(report["settings"]), flush=True)

        pg = fill_postgres(server, "search", texts, vectors, False, build_memory)
        print(f"PostgreSQL: insert {pg['insert_s']:.0f}s without HNSW, HNSW build {pg['build_s']:.0f}s "
              f"({pg['definition']}), vacuum analyze {pg['analyze_s']:.0f}s", flush=True)
        report.update(pg_insert_s=pg["insert_s"], hnsw_build_s=pg["build_s"])
        if args.insert_with_index:
            kept = fill_postgres(server, "search_indexed", texts, vectors, True, build_memory)
            report["pg_insert_with_index_s"] = kept["insert_s"]
            print(f"PostgreSQL: insert with HNSW kept {kept['insert_s']:.0f}s", flush=True)
            server.drop_database("search_indexed")
        report["pg_sizes"] = sizes(server, "search")
        with server.connect("search") as conn:
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
            report["settings"]["pgvector"] = version

        folder = tmp / "folder"
        threshold = min(len(texts), Settings().ann_threshold)
        started = time.perf_counter()
        build_store(folder, texts, vectors, threshold)
        report["folder_build_s"] = time.perf_counter() - started
        print(f"folder: built in {report['folder_build_s']:.0f}s", flush=True)

        indexes = {
            "postgres": Index(Settings(index_dir=pg["dsn"])),
            "folder": Index(Settings(index_dir=folder, ann_threshold=threshold)),
        }
        assert indexes["folder"].stats().index_type == "ivf", indexes["folder"].stats()
        report["pg_size_on_disk"] = indexes["postgres"].stats().size_bytes
        report["folder_size"] = indexes["folder"].stats().size_bytes
        report["plans"] = plans(pg["dsn"], queries[0])
        print("plans: " + json.dumps(report["plans"]), flush=True)

        prewarm(server, "search")
        for index in indexes.values():  # warm up on questions that are not timed
            for question, vector in zip(questions[-50:], queries[-50:]):
                index.search(question, k=5)
                index.store.dense_search(vector, DEPTH)

        truth = {name: exact_top(vectors, queries, passing_rows(len(texts), filters)) for name, filters in RUNS}
        report["recall"] = {
            "hnsw": {name: recall(indexes["postgres"].store, queries, truth[name], filters) for name, filters in RUNS},
            "ivf": {name: recall(indexes["folder"].store, queries, truth[name], filters) for name, filters in RUNS},
        }
        print("recall@10: " + json.dumps(report["recall"]), flush=True)
        report["ef_search"] = ef_tradeoff(pg["dsn"], queries, truth, args.queries)

        report["keyword_plan"] = keyword_plan(pg["dsn"], questions[0])
        print(f"keyword search plan for {questions[0]!r}:\n  " + "\n  ".join(report["keyword_plan"]), flush=True)
        timed = latencies(indexes, pg["dsn"], questions[: args.queries], queries[: args.queries])
        report["latency"] = {"|".join(key): value for key, value in timed.items()}
        for index in indexes.values():
            index.close()
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(json.dumps(report))
    print_tables(report, args)


def print_tables(report: dict, args) -> None:
    n = report["chunks"]
    lat = report["latency"]
    print()
    print(f"| {n:,} chunks | filter | PostgreSQL p50 | folder (IVF) p50 | ratio p50 | PostgreSQL p95 | folder p95 |"
          " ratio p95 | bare SQL p50 / p95 | bare FAISS p50 / p95 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    kinds = (
        ("dense", f"`store.dense_search(vector, {DEPTH})`"),
        ("keyword", f"`store.keyword_search(terms, {DEPTH})`"),
        ("search", "`Index.search(q, k=5)`"),
    )
    for kind, label in kinds:
        for name, _ in RUNS:
            pg, folder = lat[f"{kind}|{name}|postgres"], lat[f"{kind}|{name}|folder"]
            bare = [lat.get(f"{kind}|{name}|{side}") for side in ("postgres SQL", "FAISS")]
            cells = " | ".join(f"{v[0]:.1f} / {v[1]:.1f} ms" if v else "" for v in bare)
            print(f"| {label} | {name} | {pg[0]:.1f} ms | {folder[0]:.1f} ms | {pg[0] / folder[0]:.2f} | "
                  f"{pg[1]:.1f} ms | {folder[1]:.1f} ms | {pg[1] / folder[1]:.2f} | {cells} |")
    print()
    print("| recall@10 against exact search | " + " | ".join(name for name, _ in RUNS) + " |")
    print("|---|" + "---|" * len(RUNS))
    for side, label in (("hnsw", "pgvector HNSW (store's ef_search)"), ("ivf", "FAISS IVF (nprobe 128)")):
        print(f"| {label} | " + " | ".join(f"{report['recall'][side][name]:.3f}" for name, _ in RUNS) + " |")
    print()
    print("| hnsw.ef_search | recall@10 (LIMIT 10) | recall@10 of the 50 a search asks for | bare query p50 | p95 | "
          + " | ".join(f"recall@10, {name}" for name, _ in RUNS[1:]) + " |")
    print("|---|---|---|---|---|" + "---|" * (len(RUNS) - 1))
    for row in report["ef_search"]:
        filtered = " | ".join(f"{row['recall10|' + name]:.3f}" for name, _ in RUNS[1:])
        print(f"| {row['ef_search']} | {row['recall10|none']:.3f} | {row['recall10_of_50']:.3f} | "
              f"{row['p50_ms']:.1f} ms | {row['p95_ms']:.1f} ms | {filtered} |")
    s = report["pg_sizes"]
    mb = 2**20
    print()
    print(f"insert through PostgresStore.add without HNSW: {report['pg_insert_s']:.0f} s; HNSW build after: "
          f"{report['hnsw_build_s']:.0f} s" + (f"; insert with HNSW kept: {report['pg_insert_with_index_s']:.0f} s"
                                               if "pg_insert_with_index_s" in report else "")
          + f"; folder (SQLite + FTS5 + FAISS IVF) built in {report['folder_build_s']:.0f} s")
    print(f"size: PostgreSQL tables and indexes {report['pg_size_on_disk'] / mb:.0f} MB (chunk heap "
          f"{s['chunks_heap'] / mb:.0f} MB, its TOAST {s['chunks_toast'] / mb:.0f} MB, HNSW {s['hnsw'] / mb:.0f} MB, "
          f"GIN {s['gin'] / mb:.0f} MB; whole database {s['database'] / mb:.0f} MB); folder "
          f"{report['folder_size'] / mb:.0f} MB; ratio {report['pg_size_on_disk'] / report['folder_size']:.2f}")
    print("plans: " + "; ".join(f"{k}: {v}" for k, v in report["plans"].items()))


if __name__ == "__main__":
    main()
