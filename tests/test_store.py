import datetime as dt
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import Article, Index, RagError, Settings
from rag.answer import Assistant
from rag.cli import main
from rag.errors import NoSpace, ReadOnly
from rag.faults import size_text
from rag.store import FORMAT_VERSION
from rag.store.sqlite import DATABASE
from rag.store.vectors import CHECKSUM, VECTORS, FaissVectors

from .conftest import SAMPLE, fill, remount


def test_manifest_records_model_dimension_and_format(make_index):
    index = make_index()
    manifest = index.store.manifest
    assert (manifest.model, manifest.dimension, manifest.normalized, manifest.format_version) == (
        "all-MiniLM-L6-v2",
        384,
        True,
        FORMAT_VERSION,
    )
    assert FORMAT_VERSION == 4


def make_format_3(db: sqlite3.Connection) -> None:
    """Take format 4's columns and indexes out of an index's database, as format 3 had it."""
    for name in ("sentences_spoken", "sentence_dates_span"):
        db.execute(f"DROP INDEX {name}")
    db.execute("ALTER TABLE sentences DROP COLUMN published")
    db.execute("ALTER TABLE sentence_dates DROP COLUMN span")
    db.execute("CREATE INDEX sentences_speaker ON sentences(speaker_key) WHERE speaker_key IS NOT NULL")
    db.execute("CREATE INDEX sentence_dates_range ON sentence_dates(date_from, date_to)")


def test_an_index_of_format_3_gains_the_indexes_questions_read(make_index, embedder, tmp_path):
    """Format 3 had no day on each sentence and no span on each date: opening it adds and fills them and
    builds the indexes in place of the old ones, and the statements and dated sentences read the same."""
    index = make_index()
    dated = tmp_path / "dated.jsonl"
    dated.write_text(json.dumps({
        "title": "Ferries", "published": "2024-03-15", "source": "Metro Post",
        "text": "Ferries returned on Tuesday. Captain Ada Brook said the harbour was busy in March. "
                "The timetable changes in 2025, the operator said.",
    }) + "\n")
    index.ingest([SAMPLE, dated])
    folder = index.store.folder
    windows = [("2024-03-12", "2024-03-12"), ("2024-03-01", "2024-03-31"), ("2025-06-01", "2025-06-07")]
    before = [index.store.sentences_dated(a, b) for a, b in windows]
    spoken = [index.store.sentences_by_speaker(name) for name in ("Ada Brook", "Healey", "Pistorius")]
    assert all(before) and all(spoken)
    make_format_3(index.store._db)
    index.close()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 3}))

    with Index(Settings(index_dir=folder), embedder=embedder) as reopened:
        assert json.loads((folder / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
        indexes = {r[0] for r in reopened.store._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"sentences_spoken", "sentence_dates_span"} <= indexes
        assert not {"sentences_speaker", "sentence_dates_range"} & indexes
        assert [reopened.store.sentences_dated(a, b) for a, b in windows] == before
        assert [reopened.store.sentences_by_speaker(n) for n in ("Ada Brook", "Healey", "Pistorius")] == spoken
        assert reopened.check() == []


@settings(max_examples=60, deadline=None)
@given(
    dates=st.lists(
        st.tuples(st.integers(0, 900), st.sampled_from([0, 0, 3, 6, 7, 27, 30, 31, 32, 180, 364, 365, 366, 367, 900])),
        min_size=1, max_size=40,
    ),
    window=st.tuples(st.integers(-400, 1300), st.integers(0, 400)),
)
def test_the_sentences_naming_a_date_in_a_window_are_every_one_that_overlaps_it(dates, window, tmp_path_factory):
    """Checked against every date compared with the window one by one: dates of every width, the ones
    wider than any span's bound included."""
    from rag.store.sqlite import SQLiteStore
    from rag.types import DateMention, SentenceFacts

    first = dt.date(2024, 1, 1)
    iso = lambda n: (first + dt.timedelta(days=n)).isoformat()  # noqa: E731
    store = SQLiteStore.open_folder(tmp_path_factory.mktemp("dated"), model="m", dimension=4, create=True)
    try:
        db = store._db
        db.execute("BEGIN")
        facts = []
        for n, (start, width) in enumerate(dates):
            day = iso(n % 5)
            db.execute(
                "INSERT INTO articles (id, title, text, published, added_at) VALUES (?, 't', 'x', ?, 'now')",
                (f"a{n}", day),
            )
            mention = DateMention(0, 1, iso(start), iso(start + width))
            facts.append((f"a{n}", "x", day, [SentenceFacts(start=0, end=1, dates=(mention,))]))
        store._insert_facts(db, facts)
        db.execute("COMMIT")
        low, length = window
        found = store.sentences_dated(iso(low), iso(low + length), limit=1000)
        expected = [
            (f"a{n}", iso(n % 5), 0) for n, (start, width) in enumerate(dates)
            if start <= low + length and start + width >= low
        ]
        newest_first = sorted(expected, key=lambda row: row[0])
        newest_first.sort(key=lambda row: row[1], reverse=True)  # by day, newest first; then by article id
        assert found == [(a, 0, 1) for a, _, _ in newest_first]
    finally:
        store.close()


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
    vectors_before = index.store._vectors_for([1, 2, 3])
    index.store._db.execute("DELETE FROM sentences")
    index.close()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}))

    with Index(Settings(index_dir=folder), embedder=embedder) as reopened:
        assert reopened.store.manifest.format_version == FORMAT_VERSION
        assert json.loads((folder / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
        assert np.array_equal(reopened.store._vectors_for([1, 2, 3]), vectors_before)
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
    ids = index.store.faiss.ids()
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
    keyword = index.store.keyword_search(["trump"], 10)
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
    ids = index.store.faiss.ids()[:1]
    index.store.faiss.index.remove_ids(ids)
    index.store.faiss.index.add_with_ids(np.zeros((1, 384), dtype=np.float32), ids)
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
            with index.store.guard():  # every page of the sentences read, wherever the damage fell (as answers do)
                for article in index.articles():
                    index.store.sentence_facts(article.id)
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


def test_a_narrow_filter_on_the_approximate_index_visits_enough_lists(tmp_path):
    """With a filter, the IVF index visits nprobe / (the share that passes) lists, so the passing
    vectors nearest the question are found as often as the nearest ones are unfiltered. The vectors are
    points around 60 centres (what the lists are made of), not embeddings: the model is beside the point."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(60, 32))
    points = centres[rng.integers(0, 60, 6000)] + 0.3 * rng.normal(size=(6000, 32))
    points = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    vectors = FaissVectors(tmp_path, 32, nprobe=2)
    vectors.rebuild(np.arange(1, 6001), points, approximate=True)
    lists = faiss.extract_index_ivf(vectors.index).nlist
    assert vectors.kind == "ivf" and lists == 6000 // 39
    passing = rng.choice(np.arange(1, 6001), 60, replace=False)  # a filter that keeps 1%
    bits = np.zeros(6001, dtype=bool)
    bits[passing] = True
    bitmap = np.packbits(bits, bitorder="little")
    assert vectors.probes(None) == 2 and vectors.probes(60) == lists  # 2 / 0.01 = 200 lists: all 153
    assert vectors.probes(3000) == 4 and vectors.probes(120) == 100  # half pass: twice the lists
    found = 0
    for query in points[rng.choice(6000, 20, replace=False)]:
        scores = points[passing - 1] @ query
        want = set(passing[np.argsort(-scores)[:10]].tolist())
        found += len(want & {i for i, _ in vectors.search(query, 10, bitmap, 60)})
    assert found == 200  # every list visited: exact among the passing vectors
    # without the count of passing vectors, the unfiltered number of lists is visited, and most are missed
    missed = 0
    for query in points[rng.choice(6000, 20, replace=False)]:
        scores = points[passing - 1] @ query
        want = set(passing[np.argsort(-scores)[:10]].tolist())
        missed += 10 - len(want & {i for i, _ in vectors.search(query, 10, bitmap)})
    assert missed > 100


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
tmp = os.path.join(sys.argv[sys.argv.index("--index") + 1], "vectors.faiss.tmp")
real_write, real_replace = faiss.write_index, os.replace

def write_index(index, writer):
    real_write(index, writer)
    if point == "inside-write":
        os.truncate(tmp, os.path.getsize(tmp) // 2)
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


# --- storage faults on real file systems: a full disk, read-only storage ---------------------------


def _two_then_all(tmp_path: Path) -> tuple[Path, Path]:
    """A folder of 24 articles, and one of its first two (ingested first)."""
    corpus = _corpus(tmp_path / "corpus", articles=24)
    first = tmp_path / "first"
    first.mkdir()
    for path in sorted(corpus.iterdir())[:2]:
        shutil.copy(path, first / path.name)
    return first, corpus


def _not_damage(message: str) -> None:
    """No message about a sound index advises discarding it."""
    assert not re.search(r"damaged|rebuild|aside|\bmove\b|\bdelete\b", message), message


FULL_DISK_POINTS = ["before the batch", "inside the SQLite commit", "inside the vector-file write"]


@pytest.mark.parametrize("point", FULL_DISK_POINTS)
def test_a_full_disk_during_ingestion_loses_nothing_and_the_rerun_completes(
    point, small_disk, tmp_path, embedder, monkeypatch, capsys
):
    import faiss

    first, corpus = _two_then_all(tmp_path)
    disk = small_disk(8 * 2**20)
    folder = disk / "index"
    with Index(Settings(index_dir=folder), create=True, embedder=embedder) as index:
        index.ingest([first])
        before = {a.id for a in index.articles()}
    old_vectors = (folder / VECTORS).read_bytes()
    if point == "before the batch":
        fill(disk, 48 * 1024)  # room to open the index, not for the batch's text and vectors
    elif point == "inside the SQLite commit":  # the device fills after the batch's space was checked
        fill(disk, 300 * 1024)  # more than the batch's text and vectors, less than the database needs
        from rag import faults

        monkeypatch.setattr(faults, "free_bytes", lambda folder: 1 << 40)
    else:
        real_write = faiss.write_index

        def write_while_the_disk_fills(vectors, writer):
            fill(disk, vectors.ntotal * (4 * vectors.d + 8) // 2)  # half the file fits
            real_write(vectors, writer)

        monkeypatch.setattr(faiss, "write_index", write_while_the_disk_fills)
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        with pytest.raises(NoSpace) as caught:
            index.ingest([corpus])
        wal = folder / "store.sqlite-wal"  # while the index is still open, as in the app
        if point != "inside the vector-file write":  # (there the batch was committed: its pages are data)
            assert not wal.exists() or wal.stat().st_size == 0  # the failed batch's pages hold no space
        stored = {a.id for a in index.articles()}
        chunks = index.stats().chunks
    monkeypatch.undo()
    message = str(caught.value)
    _not_damage(message)
    assert f"no space left on the device holding {folder}" in message
    assert "Free some space on that device, then run it again" in message
    if point == "inside the vector-file write":
        assert message.startswith("cannot write the vector file") and isinstance(caught.value.__cause__, OSError)
        assert f"All {chunks} chunks are stored in store.sqlite with their vectors and are searched" in message
        assert stored > before and len(stored) == 24  # the batch was committed before the vector file
        assert (folder / VECTORS).read_bytes() == old_vectors  # the old file stays in place, whole
    else:
        assert message.startswith("cannot add 22 articles") and "it needs at least" in message
        assert "The index is as it was before this step, with its 2 articles kept" in message
        refused_early = caught.value.__cause__ is None
        assert refused_early == (point == "before the batch")  # else SQLite's own "disk is full"
        assert stored == before
    assert not (folder / (VECTORS + ".tmp")).exists()  # no half-written vector file anywhere
    capsys.readouterr()
    assert main(["check", "--index", str(folder)]) == 0  # with the disk still full
    assert capsys.readouterr().out.startswith(f"ok: {len(stored)} articles")
    (disk / "ballast").unlink()
    assert main(["ingest", str(corpus), "--index", str(folder), "--quiet"]) == 0
    assert main(["check", "--index", str(folder)]) == 0
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        assert len(index.articles()) == 24 and index.check() == []
        assert index.search('"Dispatch 23"', k=1, mode="keyword")[0].title == "Story number 23"
    assert (folder / CHECKSUM).read_text().split()[1] == str((folder / VECTORS).stat().st_size)


def test_the_vector_file_is_not_begun_without_room_for_it(small_disk, embedder):
    disk = small_disk(4 * 2**20)
    with Index(Settings(index_dir=disk / "index"), create=True, embedder=embedder) as index:
        index.ingest([SAMPLE])
        vectors = (disk / "index" / VECTORS).read_bytes()
        needed = index.store.faiss.file_bytes()
        assert needed > 0.95 * len(vectors)  # the estimate is close to the file (and never above it)
        fill(disk, needed // 2)
        with pytest.raises(NoSpace) as caught:
            index.store.save_vectors()
        assert caught.value.__cause__ is None  # refused before writing a byte
        assert f"it needs at least {size_text(needed)}" in str(caught.value)
        assert not (disk / "index" / (VECTORS + ".tmp")).exists()
        assert (disk / "index" / VECTORS).read_bytes() == vectors
        (disk / "ballast").unlink()
        index.store.save_vectors()
        assert index.check() == []


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_index_on_read_only_storage_is_read_without_writing(small_disk, embedder):
    disk = small_disk(4 * 2**20)
    folder = disk / "index"
    with Index(Settings(index_dir=folder), create=True, embedder=embedder) as index:
        index.ingest([SAMPLE])
        victim = index.articles()[0].id
    files = _contents(folder)
    assert set(files) == {"manifest.json", DATABASE, VECTORS, CHECKSUM}  # closed: no journal files
    remount(disk, "ro")
    with Index(Settings(index_dir=folder), embedder=embedder) as index:
        assert index.read_only and "is on a read-only file system" in index.read_only_reason
        assert index.check() == []
        answer = Assistant(index).ask("How many North Korean troops were being trained?")
        assert "3,000" in answer.citations[0].quote
        assert len(index.articles()) == 2 and index.stats().articles == 2
        for attempt, operation in ((lambda: index.ingest([SAMPLE]), "add articles"),
                                   (lambda: index.remove([victim]), "remove articles")):
            with pytest.raises(ReadOnly) as caught:
                attempt()
            assert str(caught.value).startswith(f"cannot {operation}: the index in {folder} is read-only")
            assert "Searching, answering, listing and checking it still work" in str(caught.value)
            _not_damage(str(caught.value))
    remount(disk, "rw")
    assert _contents(folder) == files


def test_read_only_by_setting_writes_nothing_to_a_writable_index(make_index, embedder, good_files):
    index = make_index()
    index.ingest([SAMPLE])
    folder = index.store.folder
    index.close()
    with Index(Settings(index_dir=folder, read_only=True), embedder=embedder) as reader:
        assert reader.read_only_reason == (
            "it is opened read-only (--read-only or RAG_READ_ONLY); open it without them to write"
        )
        assert reader.search("North Korean troops", k=2) and reader.check() == []
        with pytest.raises(ReadOnly, match="^cannot add articles: the index in .* is read-only"):
            reader.ingest([good_files])
        # a writer beside it: its commits are seen, the reader's own connection stays read-only
        with Index(Settings(index_dir=folder), embedder=embedder) as writer:
            writer.ingest([good_files / "orchard.txt"])
        assert len(reader.articles()) == 3
    # SQLite's shared-memory and journal files aside (it needs them to see other writers' commits)
    files = {k: v for k, v in _contents(folder).items() if not k.startswith(DATABASE + "-")}
    with Index(Settings(index_dir=folder, read_only=True), embedder=embedder) as reader:
        assert reader.search("apple harvest", k=1) and reader.check() == []
    assert {k: v for k, v in _contents(folder).items() if not k.startswith(DATABASE + "-")} == files


def test_the_check_of_a_read_only_index_still_finds_a_keyword_index_that_disagrees(make_index, embedder):
    index = make_index()
    index.ingest([SAMPLE])
    row = index.store._db.execute("SELECT id, text FROM chunks LIMIT 1").fetchone()
    index.store._db.execute("INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', ?, ?)", row)
    folder = index.store.folder
    index.close()
    with Index(Settings(index_dir=folder, read_only=True), embedder=embedder) as reader:
        assert reader.check() == ["keyword index disagrees with the chunks: 1 differ"]
