"""The PostgreSQL backend as processes use it, against a real PostgreSQL 18 + pgvector server: `rag ingest`
killed at chosen points and the server crashing under it, a streaming read replica, one file taken by two
writers at once, two app servers on one database (and across a restart of its server), and the command line
end to end with a login that has a password."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from rag import Index, Settings
from rag.errors import ReadOnly
from rag.parse import parse_bytes

from .conftest import DATA, ROOT, SAMPLE, free_port, needs_postgres, serving

FLUSH = 6  # chunks per batch: a corpus of a few dozen chunks is committed in several batches

# Runs the real `rag ingest` (the arguments after the first two) in a child that patches the library first:
# it writes what it does to a log (one JSON object a line: each batch queued for embedding, each batch
# committed) and SIGKILLs itself at one point of its second batch, or after its first; or it pauses there
# (while embedding the second batch, or after the first) until the file LOG.go appears.
_INGEST_UNTIL = r"""
import json, os, signal, sys, time
import psycopg
from rag import cli, ingest
from rag.embed import Embedder
from rag.store.postgres import PostgresStore

point, log = sys.argv[1], sys.argv[2]
state = {"adds": 0, "adding": False, "embeds": 0, "committed": 0}

def note(event, **data):
    with open(log, "a", encoding="utf-8") as out:
        out.write(json.dumps({"event": event, **data}) + "\n")

def die():
    note("killed", point=point)
    os.kill(os.getpid(), signal.SIGKILL)

def wait():
    note("paused")
    while not os.path.exists(log + ".go"):
        time.sleep(0.05)

real_flush = ingest.Ingester._flush
def flush(self):
    if self._queue:
        note("flush", ids=[article.id for article, _, _ in self._queue], chunks=self._queued_chunks)
    return real_flush(self)

real_embed = Embedder.embed
def embed(self, texts):
    state["embeds"] += 1
    if state["embeds"] == 2 and point in ("embedding", "pause-embedding"):
        # the first batch is committed on the writer thread meanwhile: stopped once it is
        while not state["committed"]:
            time.sleep(0.01)
    if state["embeds"] == 2 and point == "embedding":
        real_embed(self, texts[: len(texts) // 2 + 1])
        die()
    if state["embeds"] == 2 and point == "pause-embedding":
        wait()
    return real_embed(self, texts)

real_add = PostgresStore.add
def add(self, items, *args, **kwargs):
    state["adds"] += 1
    state["adding"] = True
    try:
        added = real_add(self, items, *args, **kwargs)
    finally:
        state["adding"] = False
    note("committed", ids=[article.id for article, _, _ in items])
    state["committed"] += 1
    if point == "after-commit":
        die()
    if point == "pause-between-files":
        wait()
    return added

real_matches = PostgresStore._band_matches
def band_matches(self, tx, keys):
    if point == "story" and state["adds"] == 2:  # the second batch: its articles and sentences written
        die()
    return real_matches(self, tx, keys)

real_copy = psycopg.Cursor.copy
def copy(self, statement, *args, **kwargs):
    if point == "copy" and state["adds"] == 2 and str(statement).startswith("COPY chunks"):
        die()
    return real_copy(self, statement, *args, **kwargs)

real_exit = psycopg.Transaction.__exit__
def exit_transaction(self, exc_type, exc, tb):
    if point == "commit" and state["adding"] and state["adds"] == 2 and exc_type is None:
        die()  # everything of the batch written, the COMMIT not sent
    return real_exit(self, exc_type, exc, tb)

ingest.Ingester._flush, Embedder.embed, PostgresStore.add = flush, embed, add
PostgresStore._band_matches = band_matches
psycopg.Cursor.copy, psycopg.Transaction.__exit__ = copy, exit_transaction
sys.exit(cli.main(["ingest", *sys.argv[3:]]))
"""


def _environment(**more: str) -> dict[str, str]:
    """This environment without any RAG_ or GRADIO_SERVER_ setting of the caller's, with ``more``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_SERVER_"))}
    return {**kept, **more}


# A warm Python for the runs of the command line: it imports what makes `rag` slow to start (torch and
# sentence-transformers, ~10 s on two busy cores) once, loads no model and starts no thread, then forks one
# process per run it reads on standard input (a JSON line: argv, script, environment, output files),
# answering with the run's process id, then its exit status. Each run is a process of its own, as
# `python -m rag.cli ...` is, that loads the model itself; it starts in about a second.
_WARM = r"""
import json, os, sys, traceback
from rag.config import keep_private
keep_private()  # as `rag` does first, before the model hub is imported
import psycopg, sentence_transformers  # noqa: F401
from rag import cli  # noqa: F401

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            for fd, name in ((1, job["stdout"]), (2, job["stderr"])):
                os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
            os.environ.clear()
            os.environ.update(job["env"])
            sys.argv = job["argv"]
            exec(compile(job["script"], "<run>", "exec"), {"__name__": "__main__"})
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    print(json.dumps({"code": os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}), flush=True)
"""
_CLI = "import sys\nfrom rag import cli\nsys.exit(cli.main(sys.argv[1:]))\n"


class _Run:
    """One run of the warm runner: ``wait()`` gives its CompletedProcess (a run still going after
    ``timeout`` seconds is killed, and fails as killed)."""

    def __init__(self, runner: _Runner, argv: list[str], pid: int, stdout: Path, stderr: Path):
        self.runner, self.argv, self.pid, self.stdout, self.stderr = runner, argv, pid, stdout, stderr

    def alive(self) -> bool:
        return Path(f"/proc/{self.pid}").exists()

    def kill(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float = 300) -> subprocess.CompletedProcess:
        watchdog = threading.Timer(timeout, self.kill)
        watchdog.start()
        try:
            code = json.loads(self.runner.process.stdout.readline())["code"]
        finally:
            watchdog.cancel()
            self.runner.pending = None
        out, err = (path.read_text(encoding="utf-8") if path.exists() else "" for path in (self.stdout, self.stderr))
        return subprocess.CompletedProcess(self.argv, code, out, err)


class _Runner:
    """Starts runs of `rag` (or of a script that patches the library first) in processes forked from a
    warm Python (see :data:`_WARM`), one at a time."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.runs = 0
        self.pending: _Run | None = None  # a run started and not waited for (its test failed first)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WARM], cwd=ROOT, env=_environment(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )

    def start(self, *args: str, script: str = _CLI, env: dict[str, str] | None = None) -> _Run:
        self._end_pending()
        self.runs += 1
        stdout, stderr = self.folder / f"run-{self.runs}.out", self.folder / f"run-{self.runs}.err"
        argv = ["rag", *map(str, args)]
        job = {"argv": argv, "script": script, "env": env or _environment(), "stdout": str(stdout),
               "stderr": str(stderr)}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm runner stopped (exit {self.process.wait()})")
        self.pending = _Run(self, argv, json.loads(line)["pid"], stdout, stderr)
        return self.pending

    def _end_pending(self) -> None:
        if self.pending is not None:
            self.pending.kill()
            self.pending.wait()

    def __call__(self, *args: str, script: str = _CLI, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``rag *args`` to its end."""
        return self.start(*args, script=script, env=env).wait(timeout)

    def close(self) -> None:
        self._end_pending()
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def rag(tmp_path_factory):
    """``rag(*args)``: the command line run to its end in a process of its own (see :class:`_Runner`);
    ``rag.start(*args)`` starts one and returns at once."""
    runner = _Runner(tmp_path_factory.mktemp("runs"))
    yield runner
    runner.close()


def _corpus(folder: Path, count: int) -> list:
    """``count`` small articles, one .txt file each, of two or three chunks; every third one an updated
    copy of the one before (the same story). Returns the articles in the order they are ingested."""
    lines = (SAMPLE / "000_9df642e36ad14cf8.txt").read_text(encoding="utf-8").split("\n")
    sentences = [line.strip() for line in lines if len(line.split()) > 12]
    folder.mkdir()
    for i in range(count):
        base = i - 1 if i % 3 == 2 else i
        body = " ".join(sentences[(base * 3 + j) % len(sentences)] for j in range(6))
        if base != i:
            body += f" An update at {i} o'clock added this sentence to the report."
        (folder / f"story-{i:03d}.txt").write_text(f"Story number {i}\n\nDispatch {base}. {body}\n", encoding="utf-8")
    return [parse_bytes(path.read_bytes(), ".txt").articles[0] for path in sorted(folder.iterdir())]


def _stored(dsn: str) -> dict[str, dict[str, int]]:
    """Every article in the database with what is stored of it: chunks, distinct chunk numbers and the
    highest, sentences, story rows, story band rows."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.id,"
            " (SELECT count(*) FROM rag.chunks c WHERE c.article_id = a.id),"
            " (SELECT count(DISTINCT c.ord) FROM rag.chunks c WHERE c.article_id = a.id),"
            " (SELECT coalesce(max(c.ord), -1) FROM rag.chunks c WHERE c.article_id = a.id),"
            " (SELECT count(*) FROM rag.sentences s WHERE s.article_id = a.id),"
            " (SELECT count(*) FROM rag.stories s WHERE s.article_id = a.id),"
            " (SELECT count(*) FROM rag.story_bands b WHERE b.article_id = a.id)"
            " FROM rag.articles a"
        ).fetchall()
    names = ("chunks", "ords", "last_ord", "sentences", "stories", "bands")
    return {row[0]: dict(zip(names, row[1:])) for row in rows}


def _whole(reference: Index, article_id: str) -> dict[str, int]:
    """What a whole article holds in the database, as in the reference index of the same files."""
    chunks = next(a.chunks for a in reference.articles() if a.id == article_id)
    article = reference.article(article_id)
    from rag.stories import band_keys, signature

    return {
        "chunks": chunks, "ords": chunks, "last_ord": chunks - 1,
        "sentences": len(reference.store.sentence_facts(article_id)),
        "stories": 1, "bands": len(band_keys(signature(article.text))),
    }


def _events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def _stories(store) -> set[frozenset[str]]:
    """The articles grouped by story."""
    ids = [a.id for a in store.articles()]
    groups: dict[str, set[str]] = {}
    for article_id, story in store.stories_of(ids).items():
        groups.setdefault(story, set()).add(article_id)
    return {frozenset(group) for group in groups.values()}


def _chunks_with_vectors(store) -> dict[tuple[str, int], tuple[int, int, str, np.ndarray]]:
    """Every chunk as ``(article_id, number) -> (start, end, text, vector)``."""
    found = {}
    for batch in store.batches(size=16):
        row = 0
        for article, chunks, _ in batch.items:
            for chunk in chunks:
                found[article.id, chunk.index] = (chunk.start, chunk.end, chunk.text, batch.vectors[row])
                row += 1
    return found


def _check_passes(rag, dsn: str) -> str:
    """`rag check` on ``dsn``: it passes; returns what it printed."""
    result = rag("check", "--index", dsn)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: ")
    return result.stdout


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    """The one line a failed run printed, which is all it printed to stderr."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


KILL_POINTS = {
    "after-commit": "just after its first batch was committed",
    "story": "while filing the stories of its second batch, its articles and sentences written",
    "copy": "just before the COPY of its second batch's chunks",
    "commit": "with its second batch written, just before COMMIT",
    "embedding": "while embedding its second batch",
}


def test_ingestion_killed_at_any_point_keeps_whole_batches_and_resumes(pg_dsn, tmp_path, embedder, rag):
    """Five runs of `rag ingest` into one database, each killed at another point, then one to the end."""
    corpus = tmp_path / "corpus"
    order = [a.id for a in _corpus(corpus, 18)]
    reference = Index(Settings(index_dir=tmp_path / "reference", flush_chunks=FLUSH), create=True, embedder=embedder)
    try:
        reference.ingest([corpus])
        whole = {article_id: _whole(reference, article_id) for article_id in order}
        env = _environment(RAG_FLUSH_CHUNKS=str(FLUSH))
        for run, (point, where) in enumerate(KILL_POINTS.items(), 1):
            before = _stored(pg_dsn) if run > 1 else {}
            log = tmp_path / f"run-{run}.log"
            child = rag(point, log, corpus, "--index", pg_dsn, "--quiet", script=_INGEST_UNTIL, env=env)
            assert child.returncode == -signal.SIGKILL, f"run {run} was not killed {where}: {child.stderr}"
            events = _events(log)
            flushed = [e["ids"] for e in events if e["event"] == "flush"]
            committed = [e["ids"] for e in events if e["event"] == "committed"]
            assert events[-1] == {"event": "killed", "point": point}
            assert len(committed) == 1 and committed[0] == flushed[0], f"run {run}: {events}"
            # the next batch is read and embedded while one is committed: killed in the writer, one more
            # batch may have been handed over
            assert (1 if point == "after-commit" else 2) <= len(flushed) <= (2 if point == "after-commit" else 3)
            # a rerun embeds none of the articles stored before it
            assert not {i for ids in flushed for i in ids} & set(before), f"run {run} embedded stored articles again"
            stored = _stored(pg_dsn)
            assert set(stored) == set(before) | set(committed[0]), f"killed {where}: {sorted(stored)}"
            assert [i for i in order if i in stored] == order[: len(stored)]  # the files are read in order
            for article_id, held in stored.items():
                assert held == whole[article_id], f"article {article_id} is not whole after a kill {where}"
            _check_passes(rag, pg_dsn)
        stored = _stored(pg_dsn)
        assert 0 < len(stored) < len(order) - 2  # several batches are left for the last run
        missing = sum(whole[i]["chunks"] for i in order if i not in stored)
        rerun = rag("ingest", corpus, "--index", pg_dsn, "--json", env=env)
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout)
        assert report["chunks_embedded"] == missing
        assert (report["added"], report["unchanged"], report["articles"]) == (
            len(order) - len(stored), len(stored), len(order)
        )
        assert _stored(pg_dsn) == whole
        _check_passes(rag, pg_dsn)
        # the same index as one run without kills: chunks, vectors, stories and file records
        with Index(Settings(index_dir=pg_dsn), embedder=embedder) as index:
            ours, theirs = _chunks_with_vectors(index.store), _chunks_with_vectors(reference.store)
            assert ours.keys() == theirs.keys()
            for key, (start, end, text, vector) in ours.items():
                assert (start, end, text) == theirs[key][:3]
                assert float(vector @ theirs[key][3]) > 0.999, f"chunk {key} has another chunk's vector"
            assert _stories(index.store) == _stories(reference.store)
            files = index.store.files()
            assert sorted(path for path, _, _ in files) == sorted(str(path) for path in corpus.iterdir())
            assert all(ids == [order[int(Path(path).stem[-3:])]] for path, _, ids in files)
    finally:
        reference.close()


@pytest.mark.parametrize("pause", ["embedding", "between-files"])
def test_the_server_stopped_during_an_ingestion(tmp_path, rag, pause):
    """The PostgreSQL server crashes (an immediate stop) under `rag ingest`, after its first batch: while it
    embeds its second (its next statement is a write) or as it goes on to the next file (a read, from the
    pool). One line names the server; the first batch is kept; once the server is back a rerun finishes."""
    needs_postgres()
    from .postgres_server import PostgresServer

    corpus = tmp_path / "corpus"
    order = [a.id for a in _corpus(corpus, 8)]
    # not the session's server, which stays up; and one that keeps what it committed through a crash
    server = PostgresServer.start(tmp_path / "server", fast=False)
    try:
        dsn = server.create_database("news")
        env = _environment(RAG_FLUSH_CHUNKS=str(FLUSH))
        log = tmp_path / "run.log"
        run = rag.start(f"pause-{pause}", log, corpus, "--index", dsn, "--quiet", script=_INGEST_UNTIL, env=env)
        deadline = time.monotonic() + 120
        while run.alive() and time.monotonic() < deadline and {"event": "paused"} not in _events(log):
            time.sleep(0.05)
        assert {"event": "paused"} in _events(log), f"the run did not pause: {_events(log)}"
        committed = [e["ids"] for e in _events(log) if e["event"] == "committed"]
        assert len(committed) == 1 and set(_stored(dsn)) == set(committed[0])
        server._run("pg_ctl", "-D", server.data_dir, "-m", "immediate", "-w", "stop")
        Path(f"{log}.go").touch()
        stopped = time.monotonic()
        error = _one_line_error(run.wait(timeout=120))
        assert f"PostgreSQL server at 127.0.0.1:{server.port}" in error
        assert "does not answer" in error or "no connection" in error
        assert "Start the server" in error or "Check that it is running" in error
        assert "Nothing was changed" not in error  # the first batch was
        if pause == "embedding":
            lost = len([e["ids"] for e in _events(log) if e["event"] == "flush"][1])  # the batch being embedded
            assert error.startswith(f"error: cannot add {lost} articles: ")
            assert "Everything committed before is kept" in error
        assert time.monotonic() - stopped < 30, "a server that refuses connections took long to be told"
        server.start_again()
        kept = _stored(dsn)
        assert set(kept) == set(committed[0])  # what was committed survived the crash
        rerun = rag("ingest", corpus, "--index", dsn, "--json", env=env)
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout)
        assert (report["added"], report["unchanged"], report["articles"]) == (len(order) - len(kept), len(kept), 8)
        stored = _stored(dsn)
        assert report["chunks_embedded"] == sum(held["chunks"] for held in stored.values()) - sum(
            held["chunks"] for held in kept.values()
        )
        assert all(held["chunks"] > 0 and held["sentences"] > 0 and held["stories"] == 1 for held in stored.values())
        _check_passes(rag, dsn)
    finally:
        server.close()


LIGHTHOUSE = "Volunteers Restore Cape Verran Lighthouse"
BRIDGE = "Council Approves New Harbour Bridge"


def _titles(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return sorted(row[0] for row in conn.execute("SELECT title FROM rag.articles"))


def test_a_read_replica_serves_what_the_primary_ingests_and_refuses_writes(
    postgres_server, pg_dsn, tmp_path, embedder, rag
):
    database = urlsplit(pg_dsn).path.lstrip("/")
    with Index(Settings(index_dir=pg_dsn), create=True, embedder=embedder) as primary:
        primary.ingest([SAMPLE])
    replica = postgres_server.replica(tmp_path)
    try:
        replica_dsn = replica.dsn_for(database)
        with Index(Settings(index_dir=pg_dsn), embedder=embedder) as primary:
            primary.ingest([DATA / "good" / "lighthouse.html"])
        replica.wait_for_replay(postgres_server)
        with Index(Settings(index_dir=replica_dsn), embedder=embedder) as index:
            assert index.read_only and "replica" in index.read_only_reason
            found = index.search("When was the Cape Verran lighthouse built?", k=3)
            assert found[0].title == LIGHTHOUSE and "1871" in found[0].text
            assert index.check() == [] and index.stats().articles == 3
            writes = (
                lambda: index.ingest([DATA / "good" / "orchard.txt"]),
                lambda: index.remove([found[0].article_id]),
            )
            for write in writes:
                with pytest.raises(ReadOnly) as refused:
                    write()
                assert "\n" not in str(refused.value) and "replica" in str(refused.value)
            # what the primary adds while the replica's index is open is found there without opening it again
            with Index(Settings(index_dir=pg_dsn), embedder=embedder) as primary:
                primary.ingest([DATA / "good" / "harbour-bridge.md"])
            replica.wait_for_replay(postgres_server)
            assert index.search("How much will the new harbour bridge cost?", k=3)[0].title == BRIDGE
            assert index.stats().articles == 4
        asked = rag("ask", "When was the Cape Verran lighthouse built?", "--index", replica_dsn, "--format", "json")
        assert asked.returncode == 0, asked.stderr
        citation = json.loads(asked.stdout)["citations"][0]
        assert citation["title"] == LIGHTHOUSE and "1871" in citation["quote"]
        refused = _one_line_error(rag("ingest", DATA / "good" / "orchard.txt", "--index", replica_dsn))
        assert refused.startswith("error: cannot add articles: ") and "read replica" in refused
        assert "write on the primary" in refused
        assert "read-only: its server is a read replica" in _check_passes(rag, replica_dsn)
        assert "Apple Harvest Falls After Late Frost" not in _titles(pg_dsn)
    finally:
        replica.close()


def _wait_for_writers(holder, count: int, calls) -> None:
    """Wait until ``count`` sessions wait for the writers' lock in ``holder``'s database (a call that fails
    meanwhile raises)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        waiting = holder.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0]
        if waiting >= count:
            return
        for call in calls:
            if call.done():
                call.result()
        time.sleep(0.1)
    pytest.fail(f"{count} writers did not come to wait for the lock within 120 s")


def _launch_app(dsn: str, port: int, log: Path) -> subprocess.Popen:
    """``app.py`` over the index in ``dsn`` on ``port``, its output in ``log``; writers wait up to 2 minutes."""
    env = _environment(RAG_QUESTIONS_PER_MINUTE="10000", RAG_LOCK_TIMEOUT="120", GRADIO_ANALYTICS_ENABLED="False")
    with open(log, "w") as output:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--index", dsn, "--port", str(port)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )


def _parsed(name: str) -> list:
    path = DATA / "good" / name
    return parse_bytes(path.read_bytes(), path.suffix).articles


def test_one_file_taken_by_two_writers_at_once_is_stored_and_reported_once(pg_dsn, embedder):
    """Two indexes on one database (as two app servers have) take the same file at the same moment: each finds
    none of its articles stored, embeds them and waits for the writers' lock (held here until both wait). The
    database holds the articles once, and the two reports together say they were added once: the second
    writer found them written by the first."""
    import psycopg

    from rag.store.postgres import WRITE_LOCK

    wire = DATA / "good" / "wire.jsonl"
    articles = _parsed("wire.jsonl")
    with (
        Index(Settings(index_dir=pg_dsn), create=True, embedder=embedder) as first,
        Index(Settings(index_dir=pg_dsn), embedder=embedder) as second,
        psycopg.connect(pg_dsn, autocommit=True) as holder,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        holder.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
        calls = []
        for waiting, index in enumerate((first, second), 1):  # one after the other: one embedding at a time
            calls.append(pool.submit(index.ingest, [wire]))
            _wait_for_writers(holder, waiting, calls)
        holder.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))
        reports = [call.result(timeout=120) for call in calls]
        assert [report.chunks_embedded for report in reports] == [len(articles)] * 2  # neither could know
        stored = _stored(pg_dsn)
        assert set(stored) == {a.id for a in articles}
        assert all(held["chunks"] == held["ords"] == held["last_ord"] + 1 > 0 for held in stored.values())
        assert first.check() == []
        assert sum(report.added for report in reports) == len(articles), [r.summary() for r in reports]


def test_two_app_servers_on_one_database(tmp_path, embedder, rag):
    """Two app processes over one database answer, take uploads (one file uploaded to both at once) and a
    removal at the same time; afterwards each finds what was uploaded through the other. Then the database
    server restarts under them, and they go on answering and writing."""
    needs_postgres()
    import psycopg
    from gradio_client import Client, handle_file

    from rag.export import answer_from_dict
    from rag.store.postgres import WRITE_LOCK

    from .postgres_server import PostgresServer

    server = PostgresServer.start(tmp_path / "server")  # of its own: it restarts
    pg_dsn = server.create_database("news")
    apps = []
    try:
        with Index(Settings(index_dir=pg_dsn), create=True, embedder=embedder) as index:
            index.ingest([SAMPLE])
            sample = {a.title: a.id for a in index.articles()}
        removed = sample["The Unsinkable Donald Trump"]
        ports = [free_port(), free_port()]
        logs = [tmp_path / "app-0.log", tmp_path / "app-1.log"]
        apps = [_launch_app(pg_dsn, port, log) for port, log in zip(ports, logs)]
        urls = [f"http://127.0.0.1:{port}/" for port in ports]
        for url, app, log in zip(urls, apps, logs):
            if not serving(url, app, seconds=180):
                pytest.fail(f"the app did not start: {log.read_text()[-3000:]}")
        clients = [Client(url, verbose=False) for url in urls]  # the apps answer a first call

        def upload(app: int, name: str) -> dict:
            file = handle_file(str(DATA / "good" / name))
            return Client(urls[app], verbose=False).predict([file], api_name="/ingest")

        def ask(app: int, question: str) -> dict:
            return Client(urls[app], verbose=False).predict(question, api_name="/ask")

        def remove(app: int, article_id: str) -> dict:
            return Client(urls[app], verbose=False).predict(article_id, api_name="/remove")

        troops = "How many North Korean troops were being trained?"
        with psycopg.connect(pg_dsn, autocommit=True) as holder, ThreadPoolExecutor(max_workers=12) as pool:
            # With the writers' lock held here, both apps take the same file, find none of its articles stored,
            # embed them and wait to write them: the same articles written by two processes, one after the other
            holder.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
            calls = {f"upload wire.jsonl to {app}": pool.submit(upload, app, "wire.jsonl") for app in (0, 1)}
            calls |= {f"ask {app} ({turn})": pool.submit(ask, app, troops) for app in (0, 1) for turn in range(2)}
            _wait_for_writers(holder, 2, calls.values())
            for turn in range(2):  # the apps answer while their writers wait
                assert calls[f"ask 0 ({turn})"].result(timeout=120) and calls[f"ask 1 ({turn})"].result(timeout=120)
            calls |= {
                "upload lighthouse.html to 0": pool.submit(upload, 0, "lighthouse.html"),
                "upload orchard.txt to 0": pool.submit(upload, 0, "orchard.txt"),
                "upload harbour-bridge.md to 1": pool.submit(upload, 1, "harbour-bridge.md"),
                "upload marathon.json to 1": pool.submit(upload, 1, "marathon.json"),
                "remove on 0": pool.submit(remove, 0, removed),
                **{f"ask {app} ({turn})": pool.submit(ask, app, troops) for app in (0, 1) for turn in (2, 3)},
            }
            time.sleep(0.5)
            holder.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))
            results = {name: call.result(timeout=600) for name, call in calls.items()}  # a failed call raises
        for name, result in results.items():
            if name.startswith("ask"):
                answer = answer_from_dict(result)
                assert answer.citations and all(c.article_id in sample.values() for c in answer.citations), name
            elif name.startswith("upload"):
                file = name.split()[1]
                assert result["rejected"] == 0 and result["files"][0]["status"] != "rejected", result
                assert result["chunks_embedded"] == len(_parsed(file)), result  # wire.jsonl: by both apps
                assert result["added"] + result["unchanged"] + result["duplicate"] == len(_parsed(file)), result
                if file != "wire.jsonl":  # its count of added articles: see the test of two writers above
                    assert result["added"] == len(_parsed(file)), result
        assert results["remove on 0"] == {"removed": [removed]}
        uploaded = [a for name in ("lighthouse.html", "orchard.txt", "harbour-bridge.md", "marathon.json",
                                   "wire.jsonl") for a in _parsed(name)]
        want = {a.id for a in uploaded} | (set(sample.values()) - {removed})
        stored = _stored(pg_dsn)
        assert set(stored) == want
        assert _titles(pg_dsn) == sorted({a.title for a in uploaded} | (set(sample) - {"The Unsinkable Donald Trump"}))
        for article_id, held in stored.items():  # each once: its chunks numbered 0..n-1, none twice
            assert held["chunks"] > 0 and held["chunks"] == held["ords"] == held["last_ord"] + 1, article_id
            assert held["sentences"] > 0 and held["stories"] == 1, article_id
        _check_passes(rag, pg_dsn)
        for client in clients:
            assert {a["id"] for a in client.predict(api_name="/articles")} == want
        # each app answers from what was uploaded through the other
        lighthouse = answer_from_dict(clients[1].predict("When was the Cape Verran lighthouse built?", api_name="/ask"))
        assert lighthouse.citations[0].title == LIGHTHOUSE and "1871" in lighthouse.citations[0].quote
        bridge = answer_from_dict(clients[0].predict("How much will the new harbour bridge cost?", api_name="/ask"))
        assert bridge.citations[0].title == BRIDGE and "42 million" in bridge.citations[0].quote
        trump = answer_from_dict(clients[1].predict("How old is Donald Trump?", api_name="/ask"))
        assert removed not in {c.article_id for c in (*trump.citations, *trump.closest)}
        for log in logs:
            assert "Traceback" not in log.read_text(), log.read_text()
        # the database restarts (maintenance, a failover) while the apps run: they answer and write again at once
        server.stop()
        server.start_again()
        for app in (0, 1):
            assert answer_from_dict(ask(app, troops)).citations, f"app {app} does not answer after the restart"
        lighthouse_id = lighthouse.citations[0].article_id
        assert remove(0, lighthouse_id) == {"removed": [lighthouse_id]}, "app 0 cannot remove after the restart"
        assert upload(1, "lighthouse.html")["added"] == 1, "app 1 cannot add after the restart"
        assert set(_stored(pg_dsn)) == want
    finally:
        for app in apps:
            app.terminate()
        for app in apps:
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        server.close()


def test_the_command_line_end_to_end_with_a_password_in_the_url(postgres_server, pg_dsn, rag):
    import uuid
    from urllib.parse import quote

    from psycopg import sql

    database = urlsplit(pg_dsn).path.lstrip("/")
    user, password = f"newsdesk_{uuid.uuid4().hex[:8]}", "s3cret: p@ss/w%rd"
    postgres_server.add_login(user, password)
    with postgres_server.connect() as conn:  # the login owns the database: it makes the index's schema there
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), sql.Identifier(user)))
    url = postgres_server.dsn_for(database, user=user, password=password)
    shown = f"postgresql://{user}:***@127.0.0.1:{postgres_server.port}/{database}"
    secrets = (password, quote(password, safe=""), "p@ss")

    def run(*args, env: dict[str, str] | None = None, code: int = 0) -> subprocess.CompletedProcess:
        result = rag(*args, env=env)
        assert result.returncode == code, result.stdout + result.stderr
        assert not any(secret in result.stdout + result.stderr for secret in secrets), result.stdout + result.stderr
        return result

    report = json.loads(run("ingest", SAMPLE, DATA / "good" / "lighthouse.html", "--index", url, "--json").stdout)
    assert (report["added"], report["rejected"], report["articles"]) == (3, 0, 3) and report["chunks_embedded"] > 19
    listed = json.loads(run("list", "--index", url, "--json").stdout)
    assert {a["title"] for a in listed} == {LIGHTHOUSE, *(a.title for a in parse_bytes(
        (SAMPLE / "000_9df642e36ad14cf8.txt").read_bytes(), ".txt").articles)}
    lighthouse = next(a["id"] for a in listed if a["title"] == LIGHTHOUSE)
    stats = run("stats", "--index", url).stdout
    assert f"index:        {shown}\n" in stats and "approximate (pgvector HNSW)" in stats and "articles:     3" in stats
    answer = json.loads(run("ask", "When was the Cape Verran lighthouse built?", "--index", url, "--format",
                            "json").stdout)
    assert answer["citations"][0]["article_id"] == lighthouse and "1871" in answer["citations"][0]["quote"]
    assert run("remove", lighthouse, "--index", url).stdout == f"removed: {lighthouse}\n"
    assert run("remove", lighthouse, "--index", url, code=1).stdout == f"not found: {lighthouse}\n"
    assert _check_passes(rag, url).startswith("ok: 2 articles")
    configured = run("config", "--index", url).stdout
    assert any(line.startswith("RAG_INDEX") and shown in line and "--index" in line for line in configured.splitlines())
    rows = json.loads(run("config", "--json", env=_environment(RAG_INDEX=url)).stdout)
    assert {"setting": "index_dir", "variable": "RAG_INDEX", "value": shown, "origin": "RAG_INDEX"} in rows
    titles = {a["title"] for a in json.loads(run("list", "--json", env=_environment(RAG_INDEX=url)).stdout)}
    assert LIGHTHOUSE not in titles and len(titles) == 2
    wrong = postgres_server.dsn_for(database, user=user, password="not " + password)
    error = _one_line_error(run("list", "--index", wrong, code=1))
    assert f"refused the login of postgresql://{user}:***@" in error and "wrong or missing password" in error
