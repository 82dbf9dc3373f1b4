import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rag.cli import main

from .conftest import DATA, ROOT, SAMPLE, fill, needs_root, remount
from .test_store import _corpus


@pytest.fixture
def index_dir(tmp_path, embedder):
    folder = tmp_path / "index"
    assert main(["ingest", str(SAMPLE), str(DATA / "good"), "--index", str(folder), "--quiet"]) == 0
    return folder


def test_ingest_prints_the_report(tmp_path, embedder, capsys):
    folder = tmp_path / "index"
    # exit 1: some files were rejected (the others are stored)
    assert main(["ingest", str(DATA / "bad"), str(DATA / "good" / "orchard.txt"), "--index", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "articles: 6 added, 0 unchanged, 0 duplicate; files: 7 rejected, 1 skipped" in out
    assert "rejected: " in out and "photo.txt: binary file (a PNG image), not text" in out
    assert "note: " in out and "line 2: malformed JSON" in out
    # exit 0: every file added, unchanged or a duplicate
    assert main(["ingest", str(DATA / "good" / "orchard.txt"), "--index", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["unchanged"], report["rejected"], report["articles"]) == (1, 0, 6)


def test_search_text_and_json(index_dir, capsys):
    assert main(["search", "How old is Donald Trump?", "-k", "2", "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1] The Unsinkable Donald Trump")
    assert main(["search", "bridge cost", "--json", "--source", "Harbourside Gazette", "--index", str(index_dir)]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results and {r["source"] for r in results} == {"Harbourside Gazette"}
    assert results[0]["title"] == "Council Approves New Harbour Bridge"


def test_list_stats_remove_check(index_dir, capsys):
    assert main(["list", "--json", "--index", str(index_dir)]) == 0
    articles = json.loads(capsys.readouterr().out)
    assert len(articles) == 10 and all(a["chunks"] >= 1 for a in articles)
    assert main(["stats", "--json", "--index", str(index_dir)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["articles"], stats["model"], stats["index_type"]) == (10, "all-MiniLM-L6-v2", "flat")
    assert stats["size_bytes"] > 0
    victim = articles[0]["id"]
    assert main(["remove", victim, "--index", str(index_dir)]) == 0
    assert f"removed: {victim}" in capsys.readouterr().out
    assert main(["remove", victim, "--index", str(index_dir)]) == 1
    assert main(["check", "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"not found: {victim}") and "\nok: 9 articles" in out
    assert main(["stats", "--index", str(index_dir)]) == 0
    assert "articles:     9" in capsys.readouterr().out


def test_errors_are_one_clear_line(index_dir, tmp_path, capsys):
    assert main(["search", "x", "--index", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith("error: no index in ")
    assert main(["search", "x", "--index", str(index_dir), "--model", "another-model"]) == 1
    assert "was built with the model 'all-MiniLM-L6-v2'" in capsys.readouterr().err
    assert main(["search", "x", "--index", str(index_dir), "--since", "yesterday-ish"]) == 1
    assert "--since 'yesterday-ish' is not a date" in capsys.readouterr().err


def test_index_from_environment(index_dir, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX", str(index_dir))
    assert main(["stats"]) == 0
    assert str(index_dir) in capsys.readouterr().out


def _squad(path):
    """A tiny SQuAD-format file: two made-up places, three questions with one clear answer each."""
    towns = {
        "Zorblat": (
            "Zorblat is a small town in the hills. The town has 4,200 residents. "
            "Its main industry is cheese making. The mayor of Zorblat is Anna Verhoeven.",
            [("How many residents does Zorblat have?", "4,200"), ("Who is the mayor of Zorblat?", "Anna Verhoeven")],
        ),
        "Quillmere": (
            "Quillmere Lake freezes every January. Fishermen cut holes in the ice to catch pike. "
            "The lake is 40 metres deep.",
            [("How deep is Quillmere Lake?", "40 metres")],
        ),
    }
    data = []
    for title, (context, qas) in towns.items():
        rows = [
            {"id": f"{title}{i}", "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
            for i, (q, a) in enumerate(qas)
        ]
        data.append({"title": title, "paragraphs": [{"context": context, "qas": rows}]})
    path.write_text(json.dumps({"data": data}), encoding="utf-8")
    return path


def _clapnq(path):
    """A tiny CLAPNQ-format file: one answerable and one unanswerable question."""
    text = "Brindle owls nest in hollow oaks. They lay two eggs each spring. Their call is a low whistle."
    records = [
        {
            "id": "1",
            "input": "how many eggs do brindle owls lay",
            "passages": [{"title": "Brindle owl", "text": text}],
            "output": [{"answer": "Two eggs each spring.", "selected_sentences": ["They lay two eggs each spring."]}],
        },
        {
            "id": "2",
            "input": "what is the airspeed of a brindle owl",
            "passages": [{"title": "Brindle owl", "text": text}],
            "output": [{"answer": None, "selected_sentences": []}],
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_eval_reports_retrieval_answers_and_abstention(tmp_path, index_dir, capsys):
    squad = _squad(tmp_path / "towns.json")
    assert main(["eval", str(squad), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["questions"] == 3
    assert report["recall@1"] == report["mrr@10"] == 1.0  # each town is one passage
    assert report["first_citation_holds_answer"] == report["top3_citations_hold_answer"] == 1.0
    assert report["abstention_answerable"] == 0.0
    assert 1 <= report["citations_per_answer"] <= 3
    assert report["latency_p95_ms"] >= report["latency_p50_ms"] > 0

    # the same questions asked of the news articles: nothing there answers them
    assert main(["eval", str(squad), "--against", str(index_dir), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {**report, "questions": 3, "abstention": 1.0}

    assert main(["eval", str(_clapnq(tmp_path / "owls.jsonl")), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["questions"] == 2
    assert report["first_citation_holds_answer"] == 1.0  # the cited sentence is the gold one
    assert report["abstention_answerable"] == 0.0 and "abstention_unanswerable" in report

    assert main(["eval", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err


def test_user_add_list_and_remove(tmp_path, monkeypatch, capsys):
    import io

    from rag.auth import Logins

    users = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("alice's password\n"))
    assert main(["user", "add", "alice", "--role", "editor", "--auth-file", str(users)]) == 0
    assert capsys.readouterr().out == f"added alice (editor) in {users}\n"
    monkeypatch.setenv("RAG_AUTH_FILE", str(users))  # the file from the environment from here on
    monkeypatch.setattr("sys.stdin", io.StringIO("bob's password\n"))
    assert main(["user", "add", "bob", "--role", "reader"]) == 0
    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["alice  editor", "bob  reader"]
    assert "bob's password" not in users.read_text() and "alice's password" not in users.read_text()
    logins = Logins(users)
    assert logins.check("bob", "bob's password") and logins.role("bob") == "reader"

    monkeypatch.setattr("sys.stdin", io.StringIO("bob's new password\n"))
    assert main(["user", "add", "bob", "--role", "editor"]) == 0
    assert capsys.readouterr().out == f"set a new password and role for bob (editor) in {users}\n"
    assert logins.check("bob", "bob's new password") and logins.role("bob") == "editor"
    assert main(["user", "remove", "bob"]) == 0
    assert main(["user", "remove", "bob"]) == 1
    assert capsys.readouterr().err == f"error: bob is not a user in {users}\n"
    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "alice  editor"


def test_user_errors_are_one_clear_line(tmp_path, monkeypatch, capsys):
    import io

    monkeypatch.delenv("RAG_AUTH_FILE", raising=False)
    assert main(["user", "list"]) == 1
    assert capsys.readouterr().err == "error: which auth file? Give --auth-file FILE or set RAG_AUTH_FILE\n"
    users = str(tmp_path / "users.toml")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "alice", "--role", "editor", "--auth-file", users]) == 1
    assert "the password is too short; use at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["user", "add", "alice", "--role", "editor", "--auth-file", users]) == 1
    assert "no password given" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["user", "add", "alice", "--role", "admin", "--auth-file", users])
    assert "invalid choice: 'admin'" in capsys.readouterr().err
    assert not (tmp_path / "users.toml").exists()


def test_user_add_at_a_terminal_asks_twice_and_never_echoes(tmp_path):
    """Run at a real (pseudo-)terminal: the typed password never comes back on the screen."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    from rag.auth import Logins

    from .conftest import ROOT

    users = tmp_path / "users.toml"

    def run(*typed: str) -> tuple[int, str]:
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "user", "add", "alice", "--role", "reader", "--auth-file", str(users)],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(follower)
        screen, pending = b"", list(typed)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 1024)
                except OSError:  # the program ended and closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
                if pending and screen.endswith(b": "):  # a prompt waits (not the newline after an answer)
                    os.write(leader, pending.pop(0).encode() + b"\n")
            elif process.poll() is not None:
                break
        os.close(leader)
        return process.wait(timeout=30), screen.decode(errors="replace")

    code, screen = run("a secret password", "a secret password")
    assert code == 0, screen
    assert "password for alice:" in screen and "the same password again:" in screen
    assert "a secret password" not in screen
    assert Logins(users).check("alice", "a secret password")

    code, screen = run("another password", "a typo password")
    assert code == 1 and "the two passwords differ; nothing was changed" in screen
    assert "another password" not in screen and "a typo password" not in screen
    assert Logins(users).check("alice", "a secret password")


# --- storage faults: each said as it is, in one line, never as damage ------------------------------


def _one_clear_line(err: str) -> str:
    """The error a command printed: one line, no trace, no advice to discard a sound index."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot "), err
    for word in ("damaged", "rebuild", "aside", "Traceback"):
        assert word not in err
    return lines[0]


def test_a_full_disk_during_ingest_is_said_as_such_and_the_rerun_completes(small_disk, tmp_path, embedder, capsys):
    """The filed case: an index on a small file system, then more articles than fit."""
    corpus = _corpus(tmp_path / "corpus", articles=24)
    folder = small_disk(8 * 2**20) / "index"
    assert main(["ingest", *map(str, sorted(corpus.iterdir())[:2]), "--index", str(folder), "--quiet"]) == 0
    ballast = fill(folder.parent, 300 * 1024)
    capsys.readouterr()
    assert main(["ingest", str(corpus), "--index", str(folder), "--quiet"]) == 1
    line = _one_clear_line(capsys.readouterr().err)
    assert line.startswith(f"error: cannot add 22 articles: no space left on the device holding {folder} (")
    assert "The index is as it was before this step, with its 2 articles kept." in line
    assert main(["check", "--index", str(folder)]) == 0
    assert capsys.readouterr().out.startswith("ok: 2 articles")
    ballast.unlink()
    assert main(["ingest", str(corpus), "--index", str(folder), "--quiet"]) == 0
    assert "articles: 22 added, 2 unchanged" in capsys.readouterr().out
    assert main(["check", "--index", str(folder)]) == 0


def test_an_index_on_a_full_disk_still_answers_and_adding_says_the_disk_is_full(small_disk, embedder, capsys):
    disk = small_disk(4 * 2**20)
    folder = disk / "index"
    assert main(["ingest", str(SAMPLE), "--index", str(folder), "--quiet"]) == 0
    ballast = fill(disk, 0)  # not even room for SQLite's shared-memory file
    capsys.readouterr()
    index = ["--index", str(folder)]
    assert main(["ask", "How many North Korean troops were being trained?", *index]) == 0
    assert "3,000" in capsys.readouterr().out
    assert main(["check", *index]) == 0
    assert capsys.readouterr().out.startswith("ok: 2 articles")
    assert main(["ingest", str(DATA / "good"), *index]) == 1
    assert _one_clear_line(capsys.readouterr().err) == (
        f"error: cannot add articles: no space left on the device holding {folder} (0 bytes free). The index is as "
        "it was before this step, with its 2 articles kept. Free some space on that device, then run it again"
    )
    ballast.unlink()
    assert main(["ingest", str(DATA / "good" / "orchard.txt"), *index, "--quiet"]) == 0
    assert main(["check", *index]) == 0
    assert "ok: 3 articles" in capsys.readouterr().out


def test_on_a_read_only_file_system_reading_works_and_writing_says_why(small_disk, embedder, capsys):
    disk = small_disk(4 * 2**20)
    folder = disk / "index"
    assert main(["ingest", str(SAMPLE), "--index", str(folder), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["list", "--json", "--index", str(folder)]) == 0
    victim = json.loads(capsys.readouterr().out)[0]["id"]
    remount(disk, "ro")
    index = ["--index", str(folder)]
    assert main(["ask", "How many North Korean troops were being trained?", *index]) == 0
    assert "3,000" in capsys.readouterr().out
    assert main(["search", "North Korean troops", "-k", "1", *index]) == 0
    assert capsys.readouterr().out.startswith("[1] ")
    assert main(["list", *index]) == 0
    assert capsys.readouterr().out.endswith("2 articles\n")
    assert main(["check", *index]) == 0
    assert capsys.readouterr().out == (
        "ok: 2 articles, 19 chunks; vectors, rows and keyword index agree\n"
        f"read-only: {folder} is on a read-only file system; remount it read-write, or copy the index to "
        "writable storage and use --index\n"
    )
    refused = ((["ingest", str(DATA / "good")], "add articles"), (["remove", victim], "remove articles"))
    for command, operation in refused:
        assert main([*command, *index]) == 1
        assert _one_clear_line(capsys.readouterr().err) == (
            f"error: cannot {operation}: the index in {folder} is read-only, as {folder} is on a read-only file "
            "system; remount it read-write, or copy the index to writable storage and use --index. Searching, "
            "answering, listing and checking it still work"
        )
    assert sorted(p.name for p in folder.iterdir()) == [  # nothing written, not even a journal
       "manifest.json", "store.sqlite", "vectors.crc32", "vectors.faiss"
    ]


def test_the_read_only_flag_and_setting(index_dir, monkeypatch, capsys):
    assert main(["ingest", str(DATA / "good"), "--read-only", "--index", str(index_dir)]) == 1
    assert _one_clear_line(capsys.readouterr().err) == (
        f"error: cannot add articles: the index in {index_dir} is read-only, as it is opened read-only "
        "(--read-only or RAG_READ_ONLY); open it without them to write. Searching, answering, listing and "
        "checking it still work"
    )
    monkeypatch.setenv("RAG_READ_ONLY", "yes")
    assert main(["search", "bridge", "-k", "1", "--index", str(index_dir)]) == 0
    assert main(["remove", "x", "--index", str(index_dir)]) == 1
    assert "is read-only, as it is opened read-only" in capsys.readouterr().err
    monkeypatch.setenv("RAG_READ_ONLY", "maybe")
    assert main(["list", "--index", str(index_dir)]) == 1
    assert capsys.readouterr().err == (
        "error: RAG_READ_ONLY='maybe' is not a yes or no; use 1, true, yes or on, or 0, false, no or off\n"
    )


# Holds the index database's write lock, as another writer does, until its input closes.
_HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
"""


def test_a_lock_held_past_the_wait_names_the_operation_and_what_to_retry(index_dir, tmp_path, monkeypatch, capsys):
    news = tmp_path / "frost.txt"
    news.write_text("Frost Hits the Valley\n\nA late frost damaged the apple blossom in the valley overnight.\n")
    assert main(["list", "--json", "--index", str(index_dir)]) == 0
    victim = json.loads(capsys.readouterr().out)[0]["id"]
    monkeypatch.setenv("RAG_LOCK_TIMEOUT", "1")
    database = index_dir / "store.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        for command, operation in (
            (["remove", victim], "remove articles"),
            (["ingest", str(news)], "add 1 article"),
        ):
            assert main([*command, "--index", str(index_dir), "--quiet"]) == 1
            line = _one_clear_line(capsys.readouterr().err)
            assert line.startswith(
                f"error: cannot {operation}: another process held the write lock of {database} for more than 1 s"
            ), line
            assert line.endswith("Nothing was changed and the index is intact: run it again when that process is "
                                 "done, or let it wait longer with RAG_LOCK_TIMEOUT")
        assert main(["ask", "How old is Donald Trump?", "--index", str(index_dir)]) == 0  # reading goes on
        assert "78-year-old" in capsys.readouterr().out
        assert main(["check", "--index", str(index_dir)]) == 0  # and checking, though its keyword check writes
        assert capsys.readouterr().out.startswith("ok: 10 articles")
    finally:
        holder.communicate("", timeout=30)
    assert main(["remove", victim, "--index", str(index_dir)]) == 0
    assert main(["check", "--index", str(index_dir)]) == 0


def _without_root_s_powers(*args: str) -> subprocess.CompletedProcess:
    """``rag ARGS`` run as root without its capabilities: file modes apply to it as to any user, while the
    checkout and its virtual environment stay readable wherever they live (a 0700 folder included)."""
    needs_root("dropping root's capabilities")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": "/tmp", "RAG_LOCK_TIMEOUT": "1"}
    command = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-m", "rag.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd="/tmp", timeout=300)


@pytest.fixture
def shared_index(index_dir):
    """A copy of the index that belongs to the user nobody, as an index another user built does."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.fail("the test needs the user nobody (useradd --system nobody)")
    top = Path(tempfile.mkdtemp(prefix="rag-shared-"))
    folder = Path(shutil.copytree(index_dir, top / "index"))
    for wal in folder.glob("store.sqlite-*"):
        wal.unlink()  # closed: everything is in the database file
    for path in [folder, *folder.iterdir()]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    yield folder
    shutil.rmtree(top)


@pytest.mark.parametrize("name", ["store.sqlite", "vectors.faiss", "manifest.json"])
def test_a_file_another_user_may_not_read_is_named_not_called_damage(shared_index, name):
    os.chmod(shared_index / name, 0o600)
    result = _without_root_s_powers("list", "--index", str(shared_index))
    assert result.returncode == 1
    assert _one_clear_line(result.stderr) == (
        f"error: cannot read {shared_index / name}: permission denied for the user root (it belongs to nobody, "
        "mode 600). The index itself is sound: run as the owner of its files, or give root read access to them"
    )


def test_an_index_this_user_may_not_write_is_read_and_writing_says_why(shared_index):
    listed = _without_root_s_powers("list", "--index", str(shared_index))
    assert listed.returncode == 0 and listed.stdout.endswith("10 articles\n"), listed.stderr
    checked = _without_root_s_powers("check", "--index", str(shared_index))
    assert checked.returncode == 0 and checked.stdout.startswith("ok: 10 articles"), checked.stderr
    refused = _without_root_s_powers("ingest", str(DATA / "good"), "--index", str(shared_index), "--quiet")
    assert refused.returncode == 1
    assert _one_clear_line(refused.stderr) == (
        f"error: cannot add articles: the index in {shared_index} is read-only, as the user root may not write "
        f"{shared_index} (permission denied); run as its owner nobody or give this user write access to the index "
        "folder. Searching, answering, listing and checking it still work"
    )
    assert sorted(p.name for p in shared_index.iterdir()) == [
        "manifest.json", "store.sqlite", "vectors.crc32", "vectors.faiss"
    ]
    with sqlite3.connect(shared_index / "store.sqlite") as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 10


def test_two_ingests_at_once_into_one_index(tmp_path, embedder, capsys):
    """What works beside the fault handling and must keep working: two writers wait for each other."""
    corpus = _corpus(tmp_path / "corpus", articles=16)
    halves = [tmp_path / "a", tmp_path / "b"]
    for number, half in enumerate(halves):
        half.mkdir()
        for path in sorted(corpus.iterdir())[number::2]:
            shutil.copy(path, half / path.name)
    folder = tmp_path / "index"
    assert main(["ingest", str(SAMPLE), "--index", str(folder), "--quiet"]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_FLUSH_CHUNKS": "4"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ingest", str(half), "--index", str(folder), "--quiet"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for half in halves
    ]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        assert "articles: 8 added" in out
    capsys.readouterr()
    assert main(["check", "--index", str(folder)]) == 0
    assert capsys.readouterr().out.startswith("ok: 18 articles")


def test_ask_as_of_a_day_cites_nothing_published_later(tmp_path, embedder, capsys):
    dump = tmp_path / "harbour.jsonl"
    dump.write_text("\n".join(json.dumps(r) for r in [
        {"title": "Harbour toll set", "text": "The harbour toll was set at 12 euros on Monday.",
         "published": "2024-03-04"},
        {"title": "Harbour toll raised", "text": "The harbour toll was raised to 15 euros on Monday.",
         "published": "2024-06-03"},
    ]))
    index = ["--index", str(tmp_path / "index")]
    assert main(["ingest", str(dump), *index, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["ask", "What is the harbour toll?", "--as-of", "2024-04-01", "--format", "json", *index]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["as_of"] == "2024-04-01" and answer["citations"]
    assert {c["title"] for c in answer["citations"]} == {"Harbour toll set"}
    assert main(["ask", "What is the harbour toll?", "--as-of", "2024-04-01", *index]) == 0
    assert "As of 2024-04-01: nothing published later was read." in capsys.readouterr().out
    assert main(["ask", "What is the harbour toll?", "--as-of", "soon", *index]) == 1
    assert capsys.readouterr().err == "error: --as-of 'soon' is not a date; use YYYY-MM-DD\n"


def test_an_index_path_that_cannot_be_a_folder_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not an index")
    assert main(["ingest", str(SAMPLE), "--index", str(a_file), "-q"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {a_file} is a file, not an index folder; give a folder (made if missing) for the index"
    ]
    assert main(["ingest", str(SAMPLE), "--index", str(a_file / "index"), "-q"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: cannot create an index in {a_file / 'index'}: Not a directory; give a folder that can be made "
        "there. Nothing was written"
    ]
    assert a_file.read_text() == "not an index"
