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


def test_the_smaller_side_is_the_passing_ids_or_the_failing_ones(facets):
    ids, passing = facets.smaller_side(Filters(sources=("AFP",)))
    assert (ids.tolist(), passing) == ([1, 2, 7], True)  # 3 of 6 pass
    whole = Facets.build(12, ARTICLES, CHUNKS[:-1])  # without chunk 12, of an article not stored
    ids, passing = whole.smaller_side(Filters(as_of="2024-10-24"))
    assert (ids.tolist(), passing) == ([5], False)  # 5 of 6 pass: the one that fails
    ids, passing = facets.smaller_side(Filters(as_of="2024-10-24"))  # 12 would pass a "not failing" check
    assert (ids.tolist(), passing) == ([1, 2, 7, 8, 9], True)
    ids, passing = facets.smaller_side(Filters(sources=("Nobody",)))
    assert (ids.tolist(), passing) == ([], True)


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
    sql = joined_keyword_search(library_store, ["harbour", "report"], k, filters)
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


def joined_keyword_search(store, terms, k, filters):
    """The filtered keyword search as SQL alone: each match joined to its article and filtered there."""
    where, params = filter_sql(filters)
    rows = store._rows(
        "SELECT f.rowid, bm25(chunks_fts) AS rank FROM chunks_fts f JOIN chunks c ON c.id = f.rowid"
        f" JOIN articles a ON a.id = c.article_id WHERE chunks_fts MATCH ?{where} ORDER BY rank LIMIT ?",
        [fts5_query(terms), *params, k],
    )
    return [(int(r[0]), -float(r[1])) for r in rows]


def test_passing_matches_ranked_below_every_other_match_are_found(make_index, tmp_path):
    """The few chunks that pass rank below every other match (the wire copies say "harbour" three
    times): the filtered search must still give exactly what the joined query gives, scores included."""
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
    local = {c for (c,) in store._rows("SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id"
                                        " WHERE a.source = 'Local'")}
    everything = store.keyword_search(["harbour", "report"], 44)
    assert {i for i, _ in everything[:40]}.isdisjoint(local)  # the local ones rank last
    for k in (2, 4, 10):
        found = store.keyword_search(["harbour", "report"], k, filters)
        assert found == joined_keyword_search(store, ["harbour", "report"], k, filters)
        assert len(found) == min(k, 4) and {i for i, _ in found} <= local
    assert store.keyword_search(["harbour"], 5, Filters(sources=("Nobody",))) == []


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


@pytest.mark.parametrize("filters", [Filters(sources=("AFP",)), Filters(as_of="2024-12-31")])
def test_chunks_added_later_are_found_by_a_filtered_keyword_search(make_index, tmp_path, filters):
    """Both kinds of filter table: the passing ids (one source of two), and the failing ones (an as-of
    date that keeps all but one article)."""
    index = make_index()
    dump, later = tmp_path / "first.jsonl", tmp_path / "later.json"
    dump.write_text("\n".join(json.dumps(line) for line in [
        {"title": "Harbour opens", "text": "The harbour opened on Monday.", "source": "AFP", "published": "2024-10-01"},
        {"title": "Harbour plan", "text": "The harbour plan was shown.", "source": "AFP", "published": "2024-10-02"},
        {"title": "Harbour fees", "text": "The harbour fees went up.", "source": "Reuters", "published": "2024-10-03"},
        {"title": "Harbour future", "text": "The harbour will grow.", "source": "Reuters", "published": "2025-06-01"},
    ]))
    later.write_text(json.dumps({"title": "Harbour closes", "text": "The harbour closed again.", "source": "AFP",
                                 "published": "2024-11-01"}))
    index.ingest([dump])
    before = {p.title for p in index.search("harbour", filters=filters, mode="keyword")}
    assert before == ({"Harbour opens", "Harbour plan"} if filters.sources else
                      {"Harbour opens", "Harbour plan", "Harbour fees"})
    index.ingest([later])
    assert {p.title for p in index.search("harbour", filters=filters, mode="keyword")} == before | {"Harbour closes"}


def test_a_reader_keeps_the_tables_of_filters_only_for_the_chunks_as_they_are(make_index, tmp_path):
    index = make_index()
    store, only_afp = index.store, Filters(sources=("AFP",))
    for n in range(3):
        dump = tmp_path / f"harbour-{n}.json"
        story = {"title": f"Harbour {n}", "text": f"The harbour story number {n}.", "source": "AFP"}
        dump.write_text(json.dumps(story))
        index.ingest([dump])
        assert len(store.keyword_search(["harbour"], 10, only_afp)) == n + 1
    assert len(store._rows("SELECT name FROM sqlite_temp_master WHERE type = 'table'")) == 1


def test_the_reading_connections_of_threads_that_ended_are_closed(make_index, tmp_path):
    import threading

    index = make_index()
    dump = tmp_path / "harbour.json"
    dump.write_text(json.dumps({"title": "Harbour", "text": "The harbour opened.", "source": "AFP"}))
    index.ingest([dump])
    store, found = index.store, []

    def search():
        found.append(store.keyword_search(["harbour"], 5, Filters(sources=("AFP",))))

    for _ in range(5):
        thread = threading.Thread(target=search)
        thread.start()
        thread.join()
    store.keyword_search(["harbour"], 5)
    assert len(found) == 5 and all(len(f) == 1 for f in found)
    assert len(store._readers) <= 2  # this thread's and the last one's, closed when the next is opened


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        (Filters(date_to="2024-10-25"), True),  # published at 10:00 that day: in a range that ends that day
        (Filters(as_of="2024-10-25"), True),
        (Filters(date_from="2024-10-25", date_to="2024-10-25"), True),
        (Filters(date_to="2024-10-24"), False),
        (Filters(as_of="2024-10-24"), False),
        (Filters(date_from="2024-10-26"), False),
    ],
)
def test_a_day_keeps_what_was_published_at_any_time_of_it(library_store, filters, kept):
    where, params = filter_sql(filters)
    rows = library_store._rows(f"SELECT a.title FROM articles a WHERE 1{where}", params)
    assert ("Story 1" in {r[0] for r in rows}) is kept  # "2024-10-25T10:00:00Z"
    sql = library_store._rows(
        f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE 1{where} ORDER BY c.id", params
    )
    assert library_store.chunk_ids_matching(filters).tolist() == [r[0] for r in sql]
