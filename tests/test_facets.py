import json

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.facets import UNDATED, Facets, day_number
from rag.store.sql import filter_sql
from rag.store.sqlite import fts5_query
from rag.types import Filters

ARTICLES = [  # (id, published, source)
    ("a", "2024-10-23T08:00:00+00:00", "AFP"),
    ("b", "2024-10-25", "Reuters"),
    ("c", None, "AFP"),
    ("d", "2023-01-02", ""),
]
CHUNKS = [(1, "a"), (2, "a"), (5, "b"), (7, "c"), (8, "d"), (9, "d"), (12, "gone")]


@pytest.fixture
def facets():
    return Facets.build(12, ARTICLES, CHUNKS)


def passing(facets, **filters):
    return facets.chunk_ids[facets.chunk_mask(Filters(**filters))].tolist()


def test_day_numbers_sort_like_dates():
    assert day_number("2024-10-23T08:00:00+00:00") == 20241023
    assert day_number("2024-10-23") < day_number("2024-11-01") < day_number("2025-01-01")
    assert day_number(None) == day_number("") == UNDATED


def test_a_chunk_of_an_unknown_article_is_left_out(facets):
    assert facets.chunk_ids.tolist() == [1, 2, 5, 7, 8, 9]


def test_each_filter_keeps_what_the_sql_filter_keeps(facets):
    assert passing(facets) == [1, 2, 5, 7, 8, 9]
    assert passing(facets, sources=("AFP",)) == [1, 2, 7]
    assert passing(facets, sources=("AFP", "Nobody")) == [1, 2, 7]
    assert passing(facets, article_ids=("b", "d", "missing")) == [5, 8, 9]
    assert passing(facets, date_from="2024-10-24") == [5]  # undated: in no range
    assert passing(facets, date_to="2024-10-23") == [1, 2, 8, 9]
    assert passing(facets, date_from="2024-10-23", date_to="2024-10-23") == [1, 2]
    assert passing(facets, as_of="2024-10-24") == [1, 2, 7, 8, 9]  # undated: kept
    assert passing(facets, as_of="2022-12-31") == [7]
    assert passing(facets, sources=("AFP",), as_of="2024-10-01") == [7]
    assert passing(facets, sources=("Nobody",)) == []


def test_the_bitmap_selects_exactly_the_passing_ids(facets):
    bits, count = facets.bitmap(Filters(sources=("AFP",)))
    selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
    assert count == 3
    assert [i for i in range(20) if selector.is_member(i)] == [1, 2, 7]


def test_filtered_dense_search_returns_only_passing_chunks(facets):
    vectors = np.eye(16, dtype=np.float32)[:6]
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(16))
    index.add_with_ids(vectors, facets.chunk_ids)
    bits, _ = facets.bitmap(Filters(date_to="2024-10-23"))
    params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)))
    _, ids = index.search(vectors.sum(axis=0, keepdims=True), 6, params=params)
    assert sorted(i for i in ids[0].tolist() if i != -1) == [1, 2, 8, 9]


days = st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()))


@settings(max_examples=60, deadline=None)
@given(
    sources=st.lists(st.sampled_from(["AFP", "Reuters", "", "Nobody"]), max_size=2),
    date_from=days,
    date_to=days,
    as_of=days,
)
def test_the_store_filters_chunks_in_memory_as_its_sql_does(library_store, sources, date_from, date_to, as_of):
    filters = Filters(sources=tuple(sources), date_from=date_from, date_to=date_to, as_of=as_of)
    where, params = filter_sql(filters)
    rows = library_store._rows(
        f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE 1{where} ORDER BY c.id", params
    )
    assert library_store.chunk_ids_matching(filters).tolist() == [r[0] for r in rows]


@settings(max_examples=40, deadline=None)
@given(
    sources=st.lists(st.sampled_from(["AFP", "Reuters", ""]), max_size=2),
    date_from=days,
    as_of=days,
    k=st.sampled_from([1, 2, 3, 100]),
)
def test_keyword_search_filtered_in_memory_finds_what_sqlite_finds(library_store, sources, date_from, as_of, k):
    filters = Filters(sources=tuple(sources), date_from=date_from, as_of=as_of)
    fast = library_store.keyword_search(["harbour", "report"], k, filters)
    sql = library_store._keyword_rows(fts5_query(["harbour", "report"]), k, filters=filters)
    assert [round(score, 9) for _, score in fast] == [round(score, 9) for _, score in sql]
    if k == 100:  # every match: the very same chunks
        assert {i for i, _ in fast} == {i for i, _ in sql}


@pytest.fixture(scope="module")
def library_store(tmp_path_factory, embedder):
    from rag import Index, Settings

    folder = tmp_path_factory.mktemp("facets")
    dumps = folder / "articles.jsonl"
    dumps.write_text(
        "\n".join(
            json.dumps({"title": f"Story {n}", "text": f"Report number {n} about the harbour. " * 3, **extra})
            for n, extra in enumerate(
                [
                    {"source": "AFP", "published": "2024-10-23"},
                    {"source": "Reuters", "published": "2024-10-25T10:00:00Z"},
                    {"source": "AFP"},
                    {"published": "2020-02-29"},
                    {"source": "Reuters", "published": "2026-01-01"},
                ]
            )
        )
    )
    index = Index(Settings(index_dir=folder / "index"), create=True, embedder=embedder)
    index.ingest([dumps])
    yield index.store
    index.close()


def test_passing_matches_ranked_below_the_first_slice_are_read_in_further_slices(make_index, tmp_path, monkeypatch):
    """The few chunks that pass rank below every other match: the first slice, sized by the share that
    passes, holds none of them; the next slices (and, past the depth limit, SQLite's own join) must
    still give exactly what the joined query gives."""
    import rag.store.sqlite as sqlite_store

    wire = "Harbour harbour harbour report {}."
    lines = [{"title": f"Wire {n}", "text": wire.format(n), "source": "Wire"} for n in range(40)]
    lines += [
        {"title": f"Local {n}", "text": f"A harbour report {n} among many other words of a longer local story.",
         "source": "Local"}
        for n in range(4)
    ]
    dump = tmp_path / "harbour.jsonl"
    dump.write_text("\n".join(json.dumps(line) for line in lines))
    index = make_index()
    index.ingest([dump])
    store = index.store
    filters = Filters(sources=("Local",))
    match = fts5_query(["harbour", "report"])
    joined = store._keyword_rows(match, 2, filters=filters)
    sql = "SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.source = 'Local'"
    local = {c for (c,) in store._rows(sql)}
    assert len(joined) == 2 and {i for i, _ in joined} <= local
    slices = []
    reader = store._keyword_rows
    monkeypatch.setattr(store, "_keyword_rows", lambda *a, **kw: slices.append(kw) or reader(*a, **kw))
    assert store.keyword_search(["harbour", "report"], 2, filters) == joined
    assert len(slices) >= 2 and all(s.get("filters") is None for s in slices)  # all read in memory, in slices
    slices.clear()
    monkeypatch.setattr(sqlite_store, "KEYWORD_DEPTH", 20)  # the passing ones are past the depth: SQLite joins
    assert store.keyword_search(["harbour", "report"], 2, filters) == joined
    assert slices[-1].get("filters") == filters


def test_chunks_added_later_are_found_by_a_filtered_search(make_index, tmp_path):
    index = make_index()
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps({"title": "Harbour opens", "text": "The harbour opened on Monday.", "source": "AFP"}))
    second.write_text(json.dumps({"title": "Harbour closes", "text": "The harbour closed again.", "source": "AFP"}))
    index.ingest([first])
    only_afp = Filters(sources=("AFP",))
    assert {p.title for p in index.search("harbour", filters=only_afp, mode="dense")} == {"Harbour opens"}
    index.ingest([second])
    assert {p.title for p in index.search("harbour", filters=only_afp, mode="dense")} == {
        "Harbour opens",
        "Harbour closes",
    }
