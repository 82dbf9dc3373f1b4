"""Shared fixtures. The real MiniLM model is loaded once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Index, Settings
from rag.embed import Embedder

DATA = Path(__file__).parent / "data"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "articles"
BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    embedder = Embedder()
    embedder.model  # load now, once for the whole session
    return embedder


@pytest.fixture
def make_index(tmp_path, embedder):
    """Factory for a fresh index in a temporary folder; closed at the end of the test."""
    opened: list[Index] = []

    def make(name: str = "index", **settings) -> Index:
        index = Index(Settings(index_dir=tmp_path / name, **settings), create=True)
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Index:
    """The bundled sample articles, indexed once and shared read-only by the tests."""
    folder = tmp_path_factory.mktemp("sample") / "index"
    index = Index(Settings(index_dir=folder), create=True)
    index.ingest([SAMPLE])
    yield index
    index.close()


@pytest.fixture
def good_files(tmp_path) -> Path:
    """A writable copy of tests/data/good."""
    target = tmp_path / "good"
    shutil.copytree(DATA / "good", target)
    return target


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    """The chat app, launched for real on a free port over a fresh index of the sample articles."""
    import app as app_module
    from rag.answer import Assistant

    folder = tmp_path_factory.mktemp("server") / "index"
    index = Index(Settings(index_dir=folder), create=True)
    index.ingest([SAMPLE])
    app = app_module.App(Assistant(index))
    demo = app_module.build(app)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        max_file_size=f"{app_module.MAX_UPLOAD_MB}mb",
        css=app_module.CSS,
        quiet=True,
    )
    yield f"http://127.0.0.1:{port}/", app
    demo.close()
    index.close()
