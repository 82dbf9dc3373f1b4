import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag import Index, RagError, Settings
from rag.store import DATABASE, VECTORS, Store

from .conftest import SAMPLE


def test_manifest_records_model_dimension_and_format(make_index):
    index = make_index()
    manifest = index.store.manifest
    assert (manifest.model, manifest.dimension, manifest.normalized, manifest.format_version) == (
        "all-MiniLM-L6-v2",
        384,
        True,
        1,
    )


def test_opening_with_another_model_fails_clearly(make_index):
    folder = make_index().store.folder
    with pytest.raises(RagError, match="built with the model 'all-MiniLM-L6-v2', not 'other-model'"):
        Index(Settings(index_dir=folder, model="other-model"))


def test_opening_a_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(RagError, match="no index in .*rag ingest"):
        Index(Settings(index_dir=tmp_path / "nothing"))


def test_vectors_are_unit_length_and_stored_with_every_chunk(make_index):
    index = make_index()
    index.ingest([SAMPLE])
    ids = index.store._faiss_ids()
    vectors = index.store._vectors_for(ids)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len(ids) == index.stats().chunks == 19


def test_remove_is_incremental_and_complete(make_index, good_files):
    index = make_index()
    index.ingest([SAMPLE, good_files])
    before = index.stats()
    victim = next(a for a in index.articles() if a.title == "The Unsinkable Donald Trump")
    assert index.remove([victim.id, "no-such-id"]) == [victim.id]
    after = index.stats()
    assert after.articles == before.articles - 1
    assert after.chunks == before.chunks - victim.chunks
    assert index.check() == []
    assert all(p.article_id != victim.id for p in index.search("How old is Donald Trump?", k=10))
    keyword = index.store.keyword_search('"trump"', 10)
    assert keyword == []
    # removal survives a reopen, and the file can be ingested again to bring it back
    folder = index.store.folder
    index.close()
    with Index(Settings(index_dir=folder)) as reopened:
        assert reopened.stats().chunks == after.chunks
        assert reopened.ingest([SAMPLE]).added == 1
        assert reopened.check() == []


def test_stale_or_missing_vector_file_is_repaired_on_open(make_index):
    index = make_index()
    index.ingest([SAMPLE])
    folder = index.store.folder
    old = folder / "old.faiss"
    shutil.copy(folder / VECTORS, old)
    extra = Path(__file__).parent / "data" / "good"
    index.ingest([extra])
    chunks = index.stats().chunks
    index.close()
    shutil.copy(old, folder / VECTORS)  # as if killed before the vector file was rewritten
    with Store.open(folder) as store:
        assert store.check() == [] and store.chunk_count() == chunks
    (folder / VECTORS).unlink()
    with Store.open(folder) as store:
        assert store.check() == [] and store._faiss.ntotal == chunks
    (folder / VECTORS).write_bytes(b"garbage")
    with Store.open(folder) as store:
        assert store.check() == []


def test_corrupt_database_gives_a_clear_error(make_index):
    folder = make_index().store.folder
    (folder / "store.sqlite-wal").unlink(missing_ok=True)
    (folder / DATABASE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(RagError, match="damaged.*rebuild the index"):
        Store.open(folder)


def test_approximate_index_past_the_threshold(make_index, good_files):
    exact = make_index("exact")
    approx = make_index("approx", ann_threshold=20, nprobe=4)
    for index in (exact, approx):
        index.ingest([SAMPLE, good_files])
    assert exact.stats().index_type == "flat"
    assert approx.stats().index_type == "ivf"
    assert approx.check() == []
    questions = [
        "How many troops were trained?",
        "What did the lighthouse volunteers do?",
        "When will the bridge open?",
        "Who won the marathon?",
    ]
    overlap = []
    for q in questions:
        want = [p.chunk_id for p in exact.search(q, k=5, mode="dense")]
        got = {p.chunk_id for p in approx.search(q, k=5, mode="dense")}
        overlap.append(len(got.intersection(want)) / 5)
    assert np.mean(overlap) >= 0.8
    # removal works on the approximate index too
    victim = approx.articles()[0]
    approx.remove([victim.id])
    assert approx.check() == []


def _chunk_count(folder: Path) -> int:
    try:
        with sqlite3.connect(f"file:{folder / DATABASE}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    except sqlite3.Error:
        return 0


def _corpus(folder: Path, articles: int = 48) -> Path:
    sentences = [
        line.strip()
        for line in (SAMPLE / "000_9df642e36ad14cf8.txt").read_text(encoding="utf-8").split("\n")
        if len(line.split()) > 12
    ]
    folder.mkdir()
    for i in range(articles):
        body = "\n".join(sentences[(i + j) % len(sentences)] for j in range(6))
        (folder / f"story-{i:03d}.txt").write_text(f"Story number {i}\n\nDispatch {i}. {body}\n", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_killing_ingestion_never_corrupts_the_index(tmp_path, embedder):
    corpus = _corpus(tmp_path / "corpus")
    reference = Index(Settings(index_dir=tmp_path / "reference"), create=True)
    reference.ingest([corpus])
    want_ids = {a.id for a in reference.articles()}
    want_chunks = reference.stats().chunks
    reference.close()

    folder = tmp_path / "killed"
    env = {**os.environ, "RAG_FLUSH_CHUNKS": "6"}
    command = [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--index", str(folder), "--quiet"]
    kills = 0
    for target in (1, *(want_chunks * i // 5 for i in range(1, 5)), want_chunks):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and _chunk_count(folder) < target:
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        with Index(Settings(index_dir=folder)) as index:
            assert index.check() == []
            stored = index.stats().chunks
            assert stored >= min(target, want_chunks) - 6  # committed work is never lost
            if stored:
                assert index.search("North Korean troops", k=3)
    assert kills >= 5
    # what a kill during the index write leaves: a half-written temporary file (the rename never
    # happened); and a damaged vector file, which is a cache that is rebuilt from SQLite
    vectors = folder / VECTORS
    (folder / (VECTORS + ".tmp")).write_bytes(b"\x00" * 1000)
    if vectors.exists():
        vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    with Index(Settings(index_dir=folder)) as index:
        assert index.check() == []
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with Index(Settings(index_dir=folder)) as index:
        assert index.check() == []
        assert {a.id for a in index.articles()} == want_ids
        assert index.stats().chunks == want_chunks
