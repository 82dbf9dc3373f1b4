"""The Index: one folder with its model, opened or built, and the threads it starts."""

import shutil
import threading
from concurrent.futures import Future

import numpy as np
import pytest

from rag import RagError, Settings
from rag.embed import Embedder
from rag.index import Index, exists, open_or_build

from .conftest import DATA, SAMPLE


def test_open_or_build_builds_from_the_sample_once(tmp_path, embedder):
    settings = Settings(index_dir=tmp_path / "index")
    assert not exists(settings.index_dir)
    index, report = open_or_build(settings, embedder=embedder)
    with index:
        assert report is not None and report.added == 2 and not report.rejected
        assert index.embedder is embedder
    index, report = open_or_build(settings, embedder=embedder)
    with index:
        assert report is None  # opened, nothing ingested again
        assert index.stats().articles == 2


def test_an_article_by_id_and_the_sources(sample_index):
    first = sample_index.articles()[0]
    article = sample_index.article(first.id)
    assert article.title == first.title and len(article.text) > 1000
    assert sample_index.article("no-such-id") is None
    assert sample_index.sources() == sorted({a.source for a in sample_index.articles() if a.source})


def test_an_embedder_of_another_model_is_refused(tmp_path, embedder, sample_index):
    other = Embedder("some/other-model")
    with pytest.raises(RagError, match="uses the model all-MiniLM-L6-v2, not the embedder's some/other-model"):
        Index(Settings(index_dir=sample_index.store.folder), embedder=other)


def test_close_stops_every_thread_the_index_started(tmp_path, embedder):
    with Index(Settings(index_dir=tmp_path / "index"), create=True, embedder=embedder) as shared:
        shared.ingest([DATA / "good" / "orchard.txt"])
    before = set(threading.enumerate())
    index = Index(Settings(index_dir=tmp_path / "index"))  # its own embedder (the model is cached per process)
    assert index.search("apple harvest frost", k=1)
    started = set(threading.enumerate()) - before
    assert started, "searching starts the question-encoding workers"
    index.close()
    assert not [t for t in started if t.is_alive()]


def test_closing_an_index_leaves_a_shared_embedder_working(tmp_path, embedder):
    with Index(Settings(index_dir=tmp_path / "index"), create=True, embedder=embedder) as index:
        index.ingest([DATA / "good" / "orchard.txt"])
        index.search("apple harvest frost", k=1)
    assert embedder.embed_query("still working?").result(timeout=30).shape == (embedder.dimension,)


def test_index_reopens_with_its_model_and_settings(tmp_path, embedder):
    folder = tmp_path / "index"
    settings = Settings(index_dir=folder, chunk_tokens=100, overlap_tokens=0)
    with Index(settings, create=True, embedder=embedder) as index:
        index.ingest([SAMPLE])
        chunks = index.stats().chunks
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        stats = index.stats()
        assert (stats.chunks, stats.chunk_tokens, stats.overlap_tokens) == (chunks, 100, 0)
        assert stats.model == "all-MiniLM-L6-v2"


def test_any_model_folder_works_by_configuration(tmp_path):
    from rag.embed import resolve_model

    model_dir = tmp_path / "my-model"
    shutil.copytree(resolve_model("all-MiniLM-L6-v2"), model_dir)
    environ = {"RAG_MODEL": str(model_dir)}
    with Index(Settings.from_env(environ, index_dir=tmp_path / "index"), create=True) as index:
        index.ingest([DATA / "good" / "orchard.txt"])
        assert index.stats().model == str(model_dir)
        assert index.search("apple harvest frost", k=1)[0].title == "Apple Harvest Falls After Late Frost"
    with Index(Settings(index_dir=tmp_path / "index")) as index:  # the index knows its model
        assert index.embedder.name == str(model_dir)


def test_unknown_model_is_a_clear_error(tmp_path):
    from rag import RagError

    with pytest.raises(RagError, match="cannot load the embedding model 'no-such/model-anywhere'"):
        Index(Settings(index_dir=tmp_path / "index", model="no-such/model-anywhere"), create=True)


class OtherDimension(Embedder):
    """Another model under the same name (a local model folder replaced): vectors of 100 dimensions."""

    def embed(self, texts):
        return np.ascontiguousarray(super().embed(texts)[:, :100])

    def embed_query(self, text):
        done = Future()
        done.set_result(np.ascontiguousarray(super().embed_query(text).result()[:100]))
        return done


def test_vectors_of_another_dimension_are_refused_before_they_meet_the_index(tmp_path, embedder):
    with Index(Settings(index_dir=tmp_path / "index"), create=True, embedder=embedder) as index:
        index.ingest([DATA / "good" / "orchard.txt"])
        articles = index.stats().articles
    other = OtherDimension(embedder.name)
    message = "holds vectors of 384 dimensions, but the model .* gives 100: use the model the index was built with"
    with Index(Settings(index_dir=tmp_path / "index"), embedder=other) as index:
        with pytest.raises(RagError, match=message):
            index.search("apple harvest")
        with pytest.raises(RagError, match=message):
            index.ingest([DATA / "good"])
        assert index.stats().articles == articles and index.check() == []
