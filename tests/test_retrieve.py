import pytest

from rag import Filters
from rag.retrieve import fuse, keyword_terms
from rag.store.sqlite import fts5_query

from .conftest import SAMPLE


def test_dense_keyword_and_hybrid_find_the_troops_sentence(sample_index):
    question = "How many North Korean troops were being trained before being sent to Ukraine?"
    for mode in ("dense", "keyword", "hybrid"):
        top = sample_index.search(question, k=3, mode=mode)
        assert any("3,000 North Korean troops" in p.text for p in top), mode


def test_passages_carry_offsets_and_article_metadata(sample_index):
    passages = sample_index.search("How old is Donald Trump?", k=5)
    assert passages[0].title == "The Unsinkable Donald Trump"
    assert any("The 78-year-old" in p.text for p in passages[:2])
    for p in passages:
        article = sample_index.store.article(p.article_id)
        assert article.text[p.start : p.end] == p.text
        assert p.title == article.title
        for start, end in p.sentences:
            assert p.start <= start < end <= p.end
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_ranks_use_both_lists(sample_index):
    passages = sample_index.search("Justin Crump Sibylline", k=3)
    assert "Justin Crump" in passages[0].text
    assert passages[0].keyword_rank == 1 and passages[0].dense_rank is not None


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):
    from rag import Index, Settings

    from .conftest import DATA

    index = Index(Settings(index_dir=tmp_path_factory.mktemp("lib") / "index"), create=True, embedder=embedder)
    index.ingest([SAMPLE, DATA / "good"])
    yield index
    index.close()


def test_filter_by_source(library):
    passages = library.search("news", k=20, filters=Filters(sources=("Wire Service",)))
    assert passages and {p.source for p in passages} == {"Wire Service"}
    dense_only = library.search("weather forecast", k=20, mode="dense", filters=Filters(sources=("Wire Service",)))
    assert {p.title for p in dense_only} == {"Ferry Strike Called Off", "Heatwave Warning Issued"}


def test_filter_by_date_range(library):
    filters = Filters(date_from="2024-04-01", date_to="2024-06-30")
    titles = {p.title for p in library.search("what happened", k=20, filters=filters)}
    assert titles == {
        "Volunteers Restore Cape Verran Lighthouse",
        "Record Field Runs the Riverside Marathon",
        "Ferry Strike Called Off",
    }


def test_filter_by_article(library):
    target = next(a for a in library.articles() if a.title == "Apple Harvest Falls After Late Frost")
    passages = library.search("troops in Ukraine", k=5, filters=Filters(article_ids=(target.id,)))
    assert passages and {p.article_id for p in passages} == {target.id}


def test_filter_that_matches_nothing(library):
    assert library.search("anything", filters=Filters(sources=("Nobody",))) == []


def test_keyword_query_is_safe_fts_syntax(library):
    for nasty in [
        '"unbalanced',
        "NEAR(a b)",
        "a AND OR NOT",
        "col:term*",
        "^start",
        "'; DROP TABLE chunks; --",
    ]:
        library.search(nasty, k=3, mode="keyword")  # must not raise
    assert keyword_terms("How old is Donald Trump?") == ["old", "donald", "trump"]
    assert keyword_terms("Who is he?") == ["who", "is", "he"]
    assert keyword_terms("?!") == []
    assert fts5_query(["old", "donald", "old"]) == '"old" OR "donald"'
    assert fts5_query(['say"', '"']) == '"say"'
    assert fts5_query([]) == ""


def test_reciprocal_rank_fusion():
    fused = fuse([[1, 2, 3], [3, 1, 4]])
    assert [i for i, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
