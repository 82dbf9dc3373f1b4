"""Filtered dense search on PostgreSQL at scale: the HNSW scan with a filter against an exact scan of the
chunks that pass, and what the store chooses (rag.store.postgres: EXACT_CHUNKS, EXACT_SHARE).

The chunks and vectors of bench/pg_search.py (real text, real MiniLM vectors, ten chunks to an article,
each article dated over three years and with one of eight sources), filled through `PostgresStore.add`,
the HNSW index built after. For each filter (one week, one month, one quarter, one source of eight, as
of a day that keeps 90%), over the first --queries XQuAD-R questions:

- recall@10 against exact search among the chunks that pass (computed here from the same vectors);
- p50 and p95 latency of `store.dense_search(vector, 50, filter)` (the store's choice, its estimate
  included), of the HNSW scan with the filter (`hnsw.ef_search` 400, iterative scan: the query the
  store ran for every filter before), and of the exact scan (for filters keeping at most 100k chunks);
- the time of the estimate alone (one EXPLAIN).

The ways take turns to run first for a question (the first reads the pages the others then find in
memory).

    .venv/bin/python bench/pg_filtered.py [--chunks 1000000] [--queries 200] [--keep DIR | --reuse DIR]

--keep leaves the server's folder in DIR (about 10 GB at 1M chunks; a build takes about 30 minutes on
two cores), and --reuse measures again on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pg_search  # noqa: E402
from corpus import SHARED, percentile  # noqa: E402
from search_latency import FILTERS  # noqa: E402

from rag.datasets import load_squad  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.store import Store  # noqa: E402
from rag.store.postgres import EF_SEARCH  # noqa: E402
from rag.store.sql import filter_sql  # noqa: E402
from rag.types import Filters  # noqa: E402

RUNS = {
    "one week": Filters(date_from="2023-06-01", date_to="2023-06-07"),
    "one month": FILTERS["one month"],
    "one quarter": Filters(date_from="2023-04-01", date_to="2023-06-30"),
    "one source": FILTERS["one source"],
    "as of (keeps 90%)": FILTERS["as of (keeps 90%)"],
}
EXACT_UP_TO = 100_000  # passing chunks up to which the exact scan is timed as well (3 s a query at 900k)


def server_for(args, texts: list[str], vectors: np.ndarray):
    """The server with the database "big", built (and left in --keep) or found again (--reuse)."""
    from tests.postgres_server import PostgresServer

    if args.reuse:
        info = json.loads((Path(args.reuse) / "info.json").read_text())
        server = PostgresServer(Path(info["home"]))
        server.port = info["port"]
        server.start_again()
        return server, info["dsn"]
    base = Path(args.keep) if args.keep else Path("/tmp")
    base.mkdir(parents=True, exist_ok=True)
    server = pg_search.start_server(base, "1GB")
    memory = f"{max(1, -(-len(texts) // 250_000))}GB"
    result = pg_search.fill_postgres(server, "big", texts, vectors, keep_index=False, maintenance_work_mem=memory)
    print(f"built: insert {result['insert_s']:.0f} s, HNSW {result['build_s']:.0f} s", flush=True)
    if args.keep:
        info = {"home": str(server.data_dir.parent), "port": server.port, "dsn": result["dsn"]}
        (base / "info.json").write_text(json.dumps(info))
    return server, result["dsn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--keep", default=None, help="build, and leave the server's folder here")
    where.add_argument("--reuse", default=None, help="measure on the server left in this folder by --keep")
    args = parser.parse_args()

    import psycopg
    from pgvector.psycopg import register_vector

    texts, vectors = pg_search.load_vectors(args.chunks)
    _, squad = load_squad(SHARED / "xquad-r.en.json")
    queries = np.asarray(Embedder().embed([q.question for q in squad][: args.queries]), dtype=np.float32)
    server, dsn = server_for(args, texts, vectors)
    try:
        pg_search.prewarm(server, "big")
        store = Store.open(dsn, model=pg_search.MODEL, dimension=vectors.shape[1])
        conn = psycopg.connect(dsn, autocommit=True)
        register_vector(conn)
        conn.execute("SET search_path = rag, public")
        conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        print(f"{len(texts)} chunks, {len(queries)} questions\n")
        print("| filter | chunks passing | store's choice | recall@10: store | HNSW scan | exact |"
              " p50 / p95 ms: store | HNSW scan | exact | estimate |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, f in RUNS.items():
            print(row(name, f, store, conn, vectors, queries), flush=True)
        store.close()
        conn.close()
    finally:
        server.stop()


def row(name: str, f: Filters, store, conn, vectors: np.ndarray, queries: np.ndarray) -> str:
    keep = pg_search.passing_rows(len(vectors), f)
    truth = pg_search.exact_top(vectors, queries, keep)
    where, params = filter_sql(f)
    where, join = where.replace("?", "%s"), " JOIN articles a ON a.id = c.article_id"
    scan = (f"SELECT id FROM (SELECT c.id, c.embedding <#> %s AS d FROM chunks c{join} WHERE TRUE{where}"
            " ORDER BY c.embedding <#> %s LIMIT 50) found ORDER BY d, id")
    exact = f"SELECT c.id FROM chunks c{join} WHERE TRUE{where} ORDER BY -(c.embedding <#> %s) DESC, c.id LIMIT 50"
    ways = {
        "store": lambda q: [i for i, _ in store.dense_search(q, 50, f)],
        "scan": lambda q: [r[0] for r in conn.execute(scan, [q, *params, q]).fetchall()],
    }
    if keep.sum() <= EXACT_UP_TO:
        ways["exact"] = lambda q: [r[0] for r in conn.execute(exact, [*params, q]).fetchall()]
    recall = {way: [] for way in ways}
    times = {way: [] for way in [*ways, "estimate"]}
    order = list(ways)
    for number, query in enumerate(queries):
        for way in order[number % len(order) :] + order[: number % len(order)]:  # each way first in turn
            search = ways[way]
            started = time.perf_counter()
            found = search(query)
            times[way].append(time.perf_counter() - started)
            recall[way].append(len({i - 1 for i in found[:10]} & truth[number]) / 10)  # chunk id = row + 1
        started = time.perf_counter()
        narrow = store._narrow(filter_sql(f)[0], params)
        times["estimate"].append(time.perf_counter() - started)

    def cells(values: dict, show) -> list[str]:
        return [show(values[way]) if way in values else "" for way in ("store", "scan", "exact")]

    shares = cells(recall, lambda v: f"{np.mean(v):.3f}")
    ms = cells(times, lambda v: f"{percentile(v, 50) * 1e3:.1f} / {percentile(v, 95) * 1e3:.1f}")
    estimate = f"{percentile(times['estimate'], 50) * 1e3:.1f} / {percentile(times['estimate'], 95) * 1e3:.1f}"
    choice = "exact" if narrow else "HNSW"
    return f"| {name} | {int(keep.sum()):,} | {choice} | {' | '.join(shares)} | {' | '.join(ms)} | {estimate} |"


if __name__ == "__main__":
    main()
