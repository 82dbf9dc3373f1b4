import json
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

from rag import Article, Index, RagError, Settings
from rag.answer import Assistant
from rag.store import CHECKSUM, DATABASE, FORMAT_VERSION, VECTORS

from .conftest import SAMPLE


def test_manifest_records_model_dimension_and_format(make_index):
    index = make_index()
    manifest = index.store.manifest
    assert (manifest.model, manifest.dimension, manifest.normalized, manifest.format_version) == (
        "all-MiniLM-L6-v2",
        384,
        True,
        FORMAT_VERSION,
    )
    assert FORMAT_VERSION == 3


def test_an_index_of_format_2_gets_its_stories_in_place(make_index, embedder, tmp_path):
    """Version 2 had no stories: opening it files every stored article in its story, copies together."""
    from rag.parse import parse_file

    troops = next(a for a in parse_file(next(SAMPLE.glob("*.txt"))).articles if a.title.startswith("Officials"))
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps({"title": "Seoul: North Korean troops in Russia", "text": troops.text[:-200]}))
    index = make_index()
    index.ingest([SAMPLE, copy])
    folder = index.store.folder
    index.store._db.execute("DELETE FROM stories")
    index.store._db.execute("DELETE FROM story_bands")
    assert index.check()  # articles in no story
    index.close()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    with Index(Settings(index_dir=folder), embedder=embedder) as reopened:
        assert reopened.store.manifest.format_version == FORMAT_VERSION
        assert reopened.check() == []
        (story,) = reopened.stories()
        assert {a.title for a in story} == {troops.title, "Seoul: North Korean troops in Russia"}


def test_an_index_of_format_1_is_upgraded_in_place_without_embedding(make_index, embedder):
    """Version 1 had no sentence table: opening it reads the speakers, headings and dates from the
    stored article text, and the vectors stay as they were."""
    index = make_index()
    index.ingest([SAMPLE])
    folder = index.store.folder
    vectors_before = index.store.vectors([1, 2, 3])
    index.store._db.execute("DELETE FROM sentences")
    index.close()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}))

    with Index(Settings(index_dir=folder), embedder=embedder) as reopened:
        assert reopened.store.manifest.format_version == FORMAT_VERSION
        assert json.loads((folder / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
        assert np.array_equal(reopened.store.vectors([1, 2, 3]), vectors_before)
        assert reopened.check() == []
        article = next(a for a in reopened.articles() if a.title.startswith("Officials"))
        text = reopened.store.article(article.id).text
        speakers = {text[slice(*f.speaker)] for f in reopened.store.sentence_facts(article.id) if f.speaker}
        assert {"Boris Pistorius", "John Healey"} <= speakers


def test_sentence_facts_are_stored_with_exact_offsets(sample_index):
    for stored in sample_index.articles():
        text = sample_index.store.article(stored.id).text
        facts = sample_index.store.sentence_facts(stored.id)
        assert facts and [f.start for f in facts] == sorted(f.start for f in facts)
        for f in facts:
            assert 0 <= f.start < f.end <= len(text)
            if f.speaker:
                assert text[slice(*f.speaker)].strip() == text[slice(*f.speaker)]
    statements = sample_index.statements("Healey")
    assert [(p.title[:9], sample_index.store.article(p.article_id).text[s:e][:20]) for p, s, e in statements] == [
        ("Officials", "United Kingdom Defen"),
        ("Officials", "There is an indivisi"),
    ]


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


def test_remove_is_incremental_and_complete(make_index, good_files, embedder):
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
    with Index(Settings(index_dir=folder), embedder=embedder) as reopened:
        assert reopened.stats().chunks == after.chunks
        assert reopened.ingest([SAMPLE]).added == 1
        assert reopened.check() == []


def test_stale_or_missing_vector_file_is_repaired_on_open(make_index, embedder):
    index = make_index()
    index.ingest([SAMPLE])
    folder = index.store.folder
    old = folder / "old.faiss"
    shutil.copy(folder / VECTORS, old)
    extra = Path(__file__).parent / "data" / "good"
    index.ingest([extra])
    chunks = index.stats().chunks
    want = [(p.chunk_id, round(p.score, 5)) for p in index.search("troops trained", k=5, mode="dense")]
    index.close()

    def reopened_answers_as_before() -> None:
        with Index(Settings(index_dir=folder), embedder=embedder) as index:
            assert index.check() == [] and index.stats().chunks == chunks
            assert [(p.chunk_id, round(p.score, 5)) for p in index.search("troops trained", k=5, mode="dense")] == want

    shutil.copy(old, folder / VECTORS)  # as if killed before the vector file was rewritten
    reopened_answers_as_before()
    (folder / VECTORS).unlink()
    reopened_answers_as_before()
    (folder / VECTORS).write_bytes(b"garbage")
    reopened_answers_as_before()
    data = bytearray((folder / VECTORS).read_bytes())  # damage inside the vectors, header intact
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    (folder / VECTORS).write_bytes(bytes(data))
    reopened_answers_as_before()
    (folder / CHECKSUM).unlink()  # no checksum: the file cannot be trusted, so it is rebuilt
    reopened_answers_as_before()
    assert (folder / CHECKSUM).exists()


def test_check_finds_vectors_that_differ_from_sqlite(make_index):
    index = make_index()
    index.ingest([SAMPLE])
    ids = index.store._faiss_ids()[:1]
    index.store._faiss.remove_ids(ids)
    index.store._faiss.add_with_ids(np.zeros((1, 384), dtype=np.float32), ids)
    assert index.check() == ["vectors in FAISS differ from the vectors stored in SQLite"]


def _half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)
    path.write_bytes(bytes(data))


DAMAGE = {
    "database truncated": (lambda f: _half(f / DATABASE), "damaged.*rebuild the index"),
    "database zeroed in the middle": (lambda f: _zero_middle(f / DATABASE), "damaged.*rebuild the index"),
    "database overwritten": (lambda f: (f / DATABASE).write_bytes(b"not sqlite" * 500), "damaged.*rebuild the index"),
    "database missing": (lambda f: (f / DATABASE).unlink(), "has a manifest but no store.sqlite; rebuild the index"),
    "manifest garbage": (lambda f: (f / "manifest.json").write_text("{not json"), "manifest.*unreadable.*rebuild"),
    "manifest missing": (lambda f: (f / "manifest.json").unlink(), "store.sqlite but no manifest.json; rebuild"),
}


@pytest.fixture(scope="module")
def built_index(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("built") / "index"
    with Index(Settings(index_dir=folder), create=True, embedder=embedder) as index:
        index.ingest([SAMPLE, Path(__file__).parent / "data" / "good"])
    for wal in folder.glob("store.sqlite-*"):  # closed cleanly: everything is in the main file
        wal.unlink()
    return folder


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_index_gives_a_clear_error_and_how_to_rebuild(built_index, tmp_path, damage, embedder):
    folder = tmp_path / "index"
    shutil.copytree(built_index, folder)
    harm, message = DAMAGE[damage]
    harm(folder)
    with pytest.raises(RagError, match=message):
        with Index(Settings(index_dir=folder), embedder=embedder) as index:
            index.stats()
            index.search("How many troops were trained?")
            index.ingest([SAMPLE])


def test_damaged_index_through_the_command_line(built_index, tmp_path):
    folder = tmp_path / "index"
    shutil.copytree(built_index, folder)
    _zero_middle(folder / DATABASE)
    for command in (["check"], ["ask", "How many troops were trained?"]):
        result = subprocess.run(
            [sys.executable, "-m", "rag.cli", *command, "--index", str(folder)], capture_output=True, text=True
        )
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        if command == ["check"] and not result.stderr:  # opened, and the full check found the damage
            assert "problem: the database cannot be read: database disk image is malformed" in result.stdout
            assert f"rebuild the index: move {folder} aside and run `rag ingest` again" in result.stdout
            continue
        assert result.stderr.startswith(f"error: the index database {folder / DATABASE} is damaged")
        assert "move" in result.stderr and "run `rag ingest` again" in result.stderr


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
    reference = Index(Settings(index_dir=tmp_path / "reference"), create=True, embedder=embedder)
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
        with Index(Settings(index_dir=folder), embedder=embedder) as index:
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
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        assert index.check() == []
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        assert index.check() == []
        assert {a.id for a in index.articles()} == want_ids
        assert index.stats().chunks == want_chunks


# Runs the real `rag ingest` in a child that SIGKILLs itself at one exact point of the vector-file
# write: inside the write (the temporary file half written), after the new checksum is in place but
# before the rename, and just after the rename.
_KILL_DURING_WRITE = """
import os, signal, sys
import faiss
from rag import cli

point = sys.argv[1]
real_write, real_replace = faiss.write_index, os.replace

def write_index(index, path):
    real_write(index, path)
    if point == "inside-write":
        os.truncate(path, os.path.getsize(path) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

def replace(src, dst):
    if str(dst).endswith("vectors.faiss") and point == "before-rename":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
    if str(dst).endswith("vectors.faiss") and point == "after-rename":
        os.kill(os.getpid(), signal.SIGKILL)

faiss.write_index, os.replace = write_index, replace
cli.main(["ingest", *sys.argv[2:], "--quiet"])
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", ["inside-write", "before-rename", "after-rename"])
def test_kill_during_the_vector_file_write(tmp_path, embedder, point):
    corpus = _corpus(tmp_path / "corpus", articles=12)
    first = tmp_path / "first"
    first.mkdir()
    for path in sorted(corpus.iterdir())[:6]:
        shutil.copy(path, first / path.name)
    reference = Index(Settings(index_dir=tmp_path / "reference"), create=True, embedder=embedder)
    reference.ingest([corpus])
    want_ids, want_chunks = {a.id for a in reference.articles()}, reference.stats().chunks
    reference.close()

    folder = tmp_path / "killed"
    with Index(Settings(index_dir=folder), create=True, embedder=embedder) as index:
        index.ingest([first])
        before = {a.id for a in index.articles()}
    child = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_WRITE, point, str(corpus), "--index", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        assert index.check() == []
        assert before <= {a.id for a in index.articles()}  # nothing stored before is lost
        assert index.stats().chunks == want_chunks  # the batch was committed before the vector write
        answer = Assistant(index).ask("How many North Korean troops were being trained?")
        assert not answer.abstained and all(c.article_id in want_ids for c in answer.citations)
        assert index.search('"Dispatch 11"', k=1, mode="keyword")[0].title == "Story number 11"  # added by the child
    rerun = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--index", str(folder)], capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "chunks embedded: 0" in rerun.stdout
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        assert index.check() == []
        assert {a.id for a in index.articles()} == want_ids and index.stats().chunks == want_chunks


def _store_metadata_only(index, rows) -> None:
    """Articles stored with their title, source and date and no chunks: nothing is embedded."""
    items = [
        (Article.create(title, f"Report on {title}.", source=source, published=published), [], "test")
        for title, source, published in rows
    ]
    index.store.add(items, np.zeros((0, index.store.manifest.dimension), dtype=np.float32))


def test_article_page_sorts_by_date_with_undated_articles_last(make_index):
    index = make_index()
    _store_metadata_only(
        index,
        [
            ("Bridge opens", "Courier", "2024-01-03"),
            ("Ferry strike", "Courier", "2024-01-01"),
            ("No date here", "Herald", None),
            ("Harbour vote", "Herald", "2024-01-02T08:00:00+00:00"),
            ("Market day", "Herald", "2024-01-02"),
        ],
    )
    newest, total = index.article_page()
    assert total == 5
    assert [a.title for a in newest] == ["Bridge opens", "Harbour vote", "Market day", "Ferry strike", "No date here"]
    oldest, _ = index.article_page(newest_first=False)
    assert [a.title for a in oldest] == ["Ferry strike", "Market day", "Harbour vote", "Bridge opens", "No date here"]
    assert all(a.chunks == 0 for a in oldest)


def test_article_page_searches_titles_and_sources_with_wildcards_taken_literally(make_index):
    index = make_index()
    _store_metadata_only(
        index,
        [
            ("Prices rise 100% in a year", "Courier", "2024-01-05"),
            ("Prices rise 1000 times", "Courier", "2024-01-04"),
            ("The snake_case debate", "Herald", "2024-01-03"),
            ("The snakeXcase debate", "Herald", "2024-01-02"),
            ("A back\\slash story", "Wire", "2024-01-01"),
        ],
    )

    def titles(query: str) -> list[str]:
        page, total = index.article_page(query)
        assert total == len(page)
        return [a.title for a in page]

    assert titles("100%") == ["Prices rise 100% in a year"]
    assert titles("%") == ["Prices rise 100% in a year"]
    assert titles("snake_case") == ["The snake_case debate"]
    assert titles("_") == ["The snake_case debate"]
    assert titles("k\\s") == ["A back\\slash story"]
    assert titles("PRICES RISE") == ["Prices rise 100% in a year", "Prices rise 1000 times"]
    assert titles("herald") == ["The snake_case debate", "The snakeXcase debate"]  # the source matches
    assert titles("  wire ") == ["A back\\slash story"]
    assert titles("nothing like this") == []
    assert len(titles("")) == 5


def test_article_page_pages_through_every_article_once(make_index):
    index = make_index()
    index.ingest([SAMPLE])  # two articles with their chunks
    stories = [(f"Story {n:03d}", "Wire", f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}") for n in range(118)]
    _store_metadata_only(index, stories)
    everything = {a.id: a for a in index.articles()}
    assert len(everything) == 120 and sum(a.chunks > 0 for a in everything.values()) == 2
    pages = [index.article_page(offset=offset, limit=50) for offset in (0, 50, 100, 150)]
    assert [len(page) for page, _ in pages] == [50, 50, 20, 0]
    assert {total for _, total in pages} == {120}
    listed = [a for page, _ in pages for a in page]
    assert len({a.id for a in listed}) == 120
    assert all(everything[a.id] == a for a in listed)  # chunk counts included
    dates = [a.published for a in listed]
    assert dates == sorted(filter(None, dates), reverse=True) + [None, None]  # the sample's have no date
    page, total = index.article_page("story", offset=100, limit=50)
    assert total == 118 and len(page) == 18
    with pytest.raises(ValueError, match="offset >= 0 and limit >= 1"):
        index.article_page(limit=0)
