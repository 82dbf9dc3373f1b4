import json

import pytest

from rag.cli import main

from .conftest import DATA, SAMPLE


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
