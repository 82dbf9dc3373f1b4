"""End to end: the launched app driven with gradio_client over HTTP."""

import sys
import time

import httpx
import pytest
from gradio_client import Client, handle_file

from rag import Index, Settings
from rag.export import answer_from_dict, to_html, to_markdown

from .conftest import BENCH, DATA, PASSWORDS, ROOT, SAMPLE, app_over, fill_all, launched, read_only_sample

sys.path.insert(0, str(BENCH))


@pytest.fixture(scope="module")
def client(server):
    url, _ = server
    return Client(url, verbose=False)


def check_citations(answer, index):
    assert answer.citations
    for c in answer.citations:
        assert index.store.article(c.article_id).text[c.start : c.end] == c.quote


def test_usage_analytics_are_off(server):
    url, _ = server
    assert httpx.get(f"{url}config", timeout=30).json()["analytics_enabled"] is False


def test_named_endpoints(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/ingest", "/articles", "/remove"} <= set(endpoints)
    assert not any(name.startswith("/ui_") for name in endpoints)


def test_ingest_ask_and_export(client, server):
    _, app = server
    report = client.predict([handle_file(str(DATA / "good" / "lighthouse.html"))], api_name="/ingest")
    assert report["added"] == 1 and report["files"][0] == {
        "file": "lighthouse.html",
        "status": "added",
        "added": 1,
        "reason": "",
        "notes": [],
        "notes_left_out": 0,
    }
    data = client.predict("When was the Cape Verran lighthouse built?", api_name="/ask")
    answer = answer_from_dict(data)
    check_citations(answer, app.index)
    assert "built in 1871" in answer.citations[0].quote
    assert answer.citations[0].title == "Volunteers Restore Cape Verran Lighthouse"
    assert "[1]" in to_markdown(answer) and "<mark>" in to_html(answer)
    titles = {a["title"] for a in client.predict(api_name="/articles")}
    assert "Volunteers Restore Cape Verran Lighthouse" in titles


def test_follow_up_and_filters_over_the_api(client, server):
    _, app = server
    first = client.predict("How many North Korean troops were being trained?", api_name="/ask")
    history = [{"role": "user", "content": first["question"]}, {"role": "assistant", "content": first["text"]}]
    answer = answer_from_dict(client.predict("Where were they arriving?", history, api_name="/ask"))
    check_citations(answer, app.index)
    assert "Kursk" in answer.citations[0].quote
    dated = client.predict("lighthouse", None, 8, 3, None, "2030-01-01", None, api_name="/ask")
    assert dated["abstained"] and dated["closest"] == []


def test_the_api_answers_as_of_a_day(client):
    answer = client.predict("What did the officials say last week?", as_of="2024-10-25", api_name="/ask")
    assert answer["as_of"] == "2024-10-25"
    assert answer["notice"].startswith("Nothing published 2024-10-14 to 2024-10-20 (“last week”) answers this")
    with pytest.raises(Exception, match="as-of date 'soon' is not a date; use YYYY-MM-DD"):
        client.predict("How old is Donald Trump?", as_of="soon", api_name="/ask")


def test_the_api_carries_the_kind_and_each_speaker(client, server):
    _, app = server
    data = client.predict("What did John Healey say?", api_name="/ask")
    assert data["kind"] == "attribution"
    assert [c["speaker"] for c in data["citations"]] == ["John Healey", "John Healey"]
    differ = client.predict("How many North Korean troops are in Russia?", api_name="/ask")
    assert differ["differ"] and differ["text"].startswith("Reports differ: ")
    check_citations(answer_from_dict(differ), app.index)


@pytest.mark.parametrize("question", ["", "   ", "x" * 10_000])
def test_bad_questions_are_clear_errors_not_traces(client, question):
    with pytest.raises(Exception) as caught:
        client.predict(question, api_name="/ask")
    message = str(caught.value)
    assert "the question" in message and "Traceback" not in message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [((100_000, 3), "k (passages retrieved) is 100000"), ((-1, 3), "k (passages retrieved) is -1"),
     ((8, -5), "sentences (most sentences quoted) is -5")],
)
def test_out_of_range_api_parameters_are_clear_errors(client, arguments, message):
    with pytest.raises(Exception) as caught:
        client.predict("How old is Donald Trump?", None, *arguments, api_name="/ask")
    assert message in str(caught.value) and "Traceback" not in str(caught.value)


def test_a_history_too_long_is_a_clear_error(client):
    history = [{"role": "user", "content": "Where were they arriving?"}] * 200
    with pytest.raises(Exception, match="history has 200 messages"):
        client.predict("And when?", history, api_name="/ask")


@pytest.mark.parametrize("question", ["؟ما هو", "북한군은 어디에 있나요?", "🚀🔥❓", "?!?!"])
def test_other_scripts_get_an_answer_or_a_clear_error(client, question):
    try:
        data = client.predict(question, api_name="/ask")
    except Exception as exc:  # noqa: BLE001 - any error must be a clear message
        assert "Traceback" not in str(exc) and "the question" in str(exc)
    else:
        assert data["abstained"] or data["citations"]


def test_a_forged_server_path_is_never_read(server):
    url, app = server
    before = app.index.stats().articles
    payload = {"data": [[{"path": "/etc/hostname", "orig_name": "x.txt", "meta": {"_type": "gradio.FileData"}}]]}
    event = httpx.post(f"{url}gradio_api/call/ingest", json=payload, timeout=30).json()["event_id"]
    stream = httpx.get(f"{url}gradio_api/call/ingest/{event}", timeout=30).text
    assert "event: error" in stream
    assert app.index.stats().articles == before


def test_remove_over_the_api(client, server):
    _, app = server
    report = client.predict([handle_file(str(DATA / "good" / "orchard.txt"))], api_name="/ingest")
    assert report["added"] == 1
    target = next(a for a in client.predict(api_name="/articles") if a["title"].startswith("Apple Harvest"))
    assert client.predict(target["id"], api_name="/remove") == {"removed": [target["id"]]}
    assert app.index.check() == []


def test_sixteen_sessions_while_articles_are_uploaded(server, tmp_path):
    """The load test of bench/load_test.py, smaller: 16 sessions x 3 questions during an upload."""
    from load_test import run_load, valid

    url, app = server
    sentences = [line for line in (DATA / "good" / "orchard.txt").read_text().split("\n") if len(line) > 40]
    uploads = []
    for i in range(10):
        path = tmp_path / f"frost-{i}.txt"
        path.write_text(f"Frost report {i}\n\nIn district {i}, " + " ".join(sentences) + f" Report number {i}.\n")
        uploads.append(path)
    before = app.index.stats().articles
    load = run_load(url, sessions=16, questions=3, uploads=uploads)
    assert load.errors == []
    assert len(load.answers) == 48
    texts = {a.id: app.index.store.article(a.id).text for a in app.index.articles()}
    assert all(valid(answer, texts) for answer in load.answers)
    assert sum(not a["abstained"] for a in load.answers) >= 24  # most questions are about the sample
    assert app.index.stats().articles == before + 10
    assert app.index.check() == []


def _app_process(env: dict, *args: str):
    import os
    import subprocess

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_SERVER_"))}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), *args],
        env={**clean, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_app_honours_gradio_server_port(sample_index):
    """Container platforms set GRADIO_SERVER_NAME/PORT; RAG_PORT and --port still come first."""
    from .conftest import free_port, serving

    port = free_port()
    env = {"GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    process = _app_process(env, "--index", str(sample_index.store.folder))
    try:
        if not serving(f"http://127.0.0.1:{port}/", process):
            pytest.fail(f"the app did not serve on GRADIO_SERVER_PORT={port}: {process.communicate(timeout=5)[0]}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_bad_port_is_one_clear_line_not_a_trace():
    process = _app_process({"RAG_PORT": "http"})
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert output.strip().splitlines()[-1] == (
        "error: RAG_PORT='http' is not a whole number; use a whole number from 1 to 65535 (default 7860)"
    )
    assert "Traceback" not in output


def startup_mistakes(tmp_path):
    """(what the user did, the environment, the arguments, the one line the app must answer)."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not an index")
    typo = tmp_path / "newz"
    return [
        ("a mistyped --index", {}, ["--index", str(typo)],
         f"error: no index in {typo}; build one with `rag ingest PATH --index {typo}`, or leave out --index (and "
         "RAG_INDEX) to use the default index in embeddings/, built from the sample on first start"),
        ("--index naming a file", {}, ["--index", str(a_file)],
         f"error: --index {a_file} is a file, not an index folder; give the folder of an index"),
        ("a port that is not a number", {"GRADIO_SERVER_PORT": "xyz"}, [],
         "error: GRADIO_SERVER_PORT='xyz' is not a whole number; use a whole number from 1 to 65535 (default 7860)"),
        ("an interval that is not one", {"RAG_WATCH_EVERY": "soon"}, [],
         "error: RAG_WATCH_EVERY='soon' is not an interval; write it as 30s, 15m or 1h"),
    ]


def test_a_mistake_in_starting_the_app_is_one_line_before_anything_slow(tmp_path):
    """Each mistake stops the app with one line (exit 2) before Gradio or the model is imported (read from
    ``python -X importtime``), and nothing is built where a mistyped --index points."""
    for what, env, args, expected in startup_mistakes(tmp_path):
        process = _app_process({**env, "PYTHONPROFILEIMPORTTIME": "1"}, *args)
        output, _ = process.communicate(timeout=120)
        lines = [line for line in output.splitlines() if not line.startswith("import time:")]
        imported = {line.split("|")[-1].strip() for line in output.splitlines() if line.startswith("import time:")}
        assert (process.returncode, lines) == (2, [expected]), what
        assert not {"gradio", "torch", "sentence_transformers"} & imported, what
    assert not (tmp_path / "newz").exists()


def test_a_taken_port_is_one_line_naming_it():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _app_process({"RAG_PORT": str(port)})
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert output.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (or cannot be listened on); stop what uses it, or choose "
        "another port with --port or RAG_PORT"
    ]


def test_the_app_keeps_ingesting_a_watched_folder_in_the_background(sample_index, tmp_path):
    import shutil
    import time

    from .conftest import free_port, serving

    folder = tmp_path / "index"
    shutil.copytree(sample_index.store.folder, folder)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    process = _app_process({"RAG_PORT": str(port)}, "--index", str(folder), "--watch", str(inbox), "--every", "1s")
    try:
        url = f"http://127.0.0.1:{port}/"
        if not serving(url, process):
            pytest.fail(f"the app did not start: {process.communicate(timeout=5)[0]}")
        components = httpx.get(f"{url}config", timeout=30).json()["components"]
        (status,) = [c for c in components if c.get("props", {}).get("elem_id") == "watch-status"]
        assert status["props"]["value"].startswith("Watching 1 source every 1s")
        client = Client(url, verbose=False)
        before = {a["title"] for a in client.predict(api_name="/articles")}
        shutil.copy(DATA / "good" / "lighthouse.html", inbox)
        deadline = time.monotonic() + 120
        titles = before
        while time.monotonic() < deadline and titles == before:
            time.sleep(1)
            titles = {a["title"] for a in client.predict(api_name="/articles")}
        assert titles - before == {"Volunteers Restore Cape Verran Lighthouse"}
        answer = answer_from_dict(client.predict("When was the Cape Verran lighthouse built?", api_name="/ask"))
        assert "built in 1871" in answer.citations[0].quote
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "Watching 1 source every 1s" in output


# --- logins, roles, limits and headers --------------------------------------------------------------

def signed_in(url: str, name: str) -> Client:
    return Client(url, verbose=False, auth=(name, PASSWORDS[name]))


def test_without_a_login_nothing_is_served(auth_server):
    url, app = auth_server
    with pytest.raises(Exception, match="credentials were not provided"):
        Client(url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, verbose=False, auth=("bob", "alice's password"))
    assert httpx.get(f"{url}config", timeout=30).status_code == 401
    before = app.index.stats().articles
    payload = {"data": ["x"]}
    assert httpx.post(f"{url}gradio_api/call/remove", json=payload, timeout=30).status_code == 401
    assert httpx.post(f"{url}gradio_api/call/ask", json={"data": ["How old is Donald Trump?"]}).status_code == 401
    assert app.index.stats().articles == before


def test_a_reader_asks_and_lists_but_may_not_add_or_remove(auth_server):
    url, app = auth_server
    reader = signed_in(url, "bob")
    answer = reader.predict("How old is Donald Trump?", api_name="/ask")
    assert "78-year-old" in answer["citations"][0]["quote"]
    articles = reader.predict(api_name="/articles")
    assert len(articles) == app.index.stats().articles
    with pytest.raises(Exception, match="403 Forbidden"):  # the file is refused on its way in (detail: below)
        reader.predict([handle_file(str(DATA / "good" / "orchard.txt"))], api_name="/ingest")
    with pytest.raises(Exception, match="bob is a reader and may not add articles; only an editor may"):
        reader.predict([], api_name="/ingest")
    with pytest.raises(Exception, match="bob is a reader and may not remove articles; only an editor may"):
        reader.predict(articles[0]["id"], api_name="/remove")
    assert len(reader.predict(api_name="/articles")) == len(articles)  # nothing was added or removed


def test_an_editor_adds_and_removes(auth_server):
    url, app = auth_server
    editor = signed_in(url, "alice")
    report = editor.predict([handle_file(str(DATA / "good" / "orchard.txt"))], api_name="/ingest")
    assert report["added"] == 1
    target = next(a for a in editor.predict(api_name="/articles") if a["title"].startswith("Apple Harvest"))
    assert editor.predict(target["id"], api_name="/remove") == {"removed": [target["id"]]}
    assert app.index.check() == []


def test_the_header_warns_when_open_to_the_network_without_logins(auth_server, sample_index):
    import app as app_module
    from rag import Settings
    from rag.answer import Assistant

    _, served = auth_server
    exposed = app_module.App(Assistant(sample_index), Settings(host="0.0.0.0"))
    assert exposed.exposed_on == "0.0.0.0"
    assert app_module.App(Assistant(sample_index), Settings(host="::1")).exposed_on is None
    with_logins = app_module.App(Assistant(sample_index), Settings(host="0.0.0.0"), served.logins)
    assert with_logins.exposed_on is None


def test_security_headers(server):
    url, _ = server
    for path in ("", "config", "gradio_api/info", "theme.css"):
        headers = httpx.get(url + path, timeout=30).headers
        assert headers["x-frame-options"] == "SAMEORIGIN", path
        assert headers["content-security-policy"] == "frame-ancestors 'self'", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_questions_per_minute_are_limited_per_client(server, monkeypatch):
    from rag import Settings
    from rag.limits import Limits

    url, app = server
    monkeypatch.setattr(app, "limits", Limits(Settings(questions_per_minute=2)))
    first = Client(url, verbose=False)
    for _ in range(2):
        first.predict("How old is Donald Trump?", api_name="/ask")
    with pytest.raises(Exception, match=r"Too many questions: at most 2 a minute .*RAG_QUESTIONS_PER_MINUTE"):
        first.predict("How old is Donald Trump?", api_name="/ask")
    assert Client(url, verbose=False).predict("How old is Donald Trump?", api_name="/ask")["citations"]


def test_behind_a_proxy_questions_are_limited_per_forwarded_address(server, monkeypatch):
    from rag import Settings
    from rag.limits import Limits

    url, app = server
    monkeypatch.setattr(app, "limits", Limits(Settings(questions_per_minute=2)))

    def through_the_proxy(address: str) -> Client:  # a new session each time, as /call/ask makes
        return Client(url, verbose=False, headers={"X-Forwarded-For": address})

    for _ in range(2):
        through_the_proxy("203.0.113.9").predict("How old is Donald Trump?", api_name="/ask")
    with pytest.raises(Exception, match="Too many questions: at most 2 a minute"):
        through_the_proxy("203.0.113.9").predict("How old is Donald Trump?", api_name="/ask")
    assert through_the_proxy("198.51.100.4").predict("How old is Donald Trump?", api_name="/ask")["citations"]


def test_failed_sign_ins_wait_longer_each_time_without_checking_the_password(auth_server, monkeypatch):
    from rag.limits import SignInThrottle

    url, app = auth_server
    monkeypatch.setattr(app, "sign_ins", SignInThrottle())
    checked = []
    monkeypatch.setattr(app.logins, "check", lambda name, password: checked.append(name) or password == PASSWORDS[name])

    def sign_in(password: str, address: str = "203.0.113.9") -> httpx.Response:
        return httpx.post(f"{url}login", data={"username": "bob", "password": password},
                          headers={"X-Forwarded-For": address}, timeout=30)

    for _ in range(SignInThrottle.FREE_FAILURES + 1):
        assert sign_in("wrong password").status_code == 400
    refused = sign_in(PASSWORDS["bob"])  # the right password, but within the wait
    assert refused.status_code == 429 and "try again in 2 s" in refused.json()["detail"]
    assert len(checked) == SignInThrottle.FREE_FAILURES + 1  # no password was checked (no Argon2 hash)
    assert sign_in(PASSWORDS["bob"], address="198.51.100.4").status_code == 429  # the name waits too
    time.sleep(2.1)
    assert sign_in(PASSWORDS["bob"]).status_code == 200


@pytest.fixture
def own_logins(tmp_path, embedder):
    """An app of its own with carol (editor) and dave (reader), whose users a test may change."""
    from rag.auth import add_user

    users = tmp_path / "users.toml"
    add_user(users, "carol", "editor", "carol's password")
    add_user(users, "dave", "reader", "dave's password")
    run = launched(tmp_path / "index", embedder, [SAMPLE], auth_file=users)
    url, _ = next(run)
    yield url, users
    next(run, None)


def _session(url: str, name: str, password: str) -> httpx.Client:
    browser = httpx.Client(base_url=url, timeout=30)
    assert browser.post("login", data={"username": name, "password": password}).status_code == 200
    assert browser.get("config").status_code == 200
    return browser


def _upload(browser: httpx.Client) -> httpx.Response:
    orchard = (DATA / "good" / "orchard.txt").read_bytes()
    return browser.post("gradio_api/upload", files={"files": ("orchard.txt", orchard)})


def test_a_removed_user_is_out_at_once_on_every_route(own_logins):
    from rag.auth import remove_user

    url, users = own_logins
    carol = _session(url, "carol", "carol's password")
    assert _upload(carol).status_code == 200  # an editor uploads
    remove_user(users, "carol")
    first = _upload(carol)
    assert first.status_code == 401 and "carol is no longer a user" in first.json()["detail"]
    for route in ("config", "gradio_api/info", "gradio_api/upload"):  # the sign-in is forgotten
        refused = _upload(carol) if route.endswith("upload") else carol.get(route)
        assert refused.status_code in (401, 403), route


def test_a_new_password_ends_the_user_s_sessions(own_logins):
    from rag.auth import add_user

    url, users = own_logins
    dave = _session(url, "dave", "dave's password")
    add_user(users, "dave", "reader", "dave's new password")
    refused = dave.get("config")
    assert refused.status_code == 401 and "new password" in refused.json()["detail"]
    assert _session(url, "dave", "dave's new password").get("config").status_code == 200


def test_only_an_editor_may_upload_files(own_logins):
    url, _ = own_logins
    refused = _upload(_session(url, "dave", "dave's password"))
    assert refused.status_code == 403 and "dave is a reader and may not upload files" in refused.json()["detail"]
    assert _upload(httpx.Client(base_url=url, timeout=30)).status_code in (401, 403)  # no one signed in


def test_upload_volume_is_limited_per_client(server, monkeypatch, tmp_path):
    from rag import Settings
    from rag.limits import Limits

    url, app = server
    monkeypatch.setattr(app, "limits", Limits(Settings(upload_mb_per_hour=1)))
    big = tmp_path / "big.txt"
    big.write_text("Harbour Report\n\n" + "The harbour board met on Monday to discuss the budget. " * 30_000)
    before = app.index.stats().articles
    uploader = Client(url, verbose=False)
    with pytest.raises(Exception, match=r"Upload limit reached: this upload is 1.6 MB.*at most 1 MB an hour"):
        uploader.predict([handle_file(str(big))], api_name="/ingest")
    assert app.index.stats().articles == before


def _exposed_app(*args: str):
    return _app_process({}, "--host", "0.0.0.0", *args)


def test_listening_on_the_network_without_logins_warns_at_start_and_in_the_page(sample_index):
    from .conftest import free_port, serving

    port = free_port()
    process = _exposed_app("--index", str(sample_index.store.folder), "--port", str(port))
    try:
        if not serving(f"http://127.0.0.1:{port}/", process):
            pytest.fail(f"the app did not start: {process.communicate(timeout=5)[0]}")
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=30).text
        assert "Open to the network without logins:" in config and "listens on 0.0.0.0" in config
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "warning: the app listens on 0.0.0.0 without logins" in output


def test_a_bad_auth_file_stops_the_app_with_one_line(tmp_path):
    plain = tmp_path / "users.toml"
    plain.write_text('[users.alice]\nrole = "editor"\npassword = "hunter22"\n')
    for path, message in ((tmp_path / "none.toml", "does not exist"), (plain, "has no Argon2 password hash")):
        process = _app_process({}, "--auth-file", str(path))
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 2 and message in output.strip().splitlines()[-1], output
        assert "Traceback" not in output


def _component(url: str, elem_id: str) -> dict:
    components = httpx.get(f"{url}config", timeout=30).json()["components"]
    return next(c["props"] for c in components if c["props"].get("elem_id") == elem_id)


def _button(url: str, label: str) -> dict:
    components = httpx.get(f"{url}config", timeout=30).json()["components"]
    return next(c["props"] for c in components if c["type"] == "button" and c["props"].get("value") == label)


def test_an_index_on_read_only_storage_is_served_with_uploads_off(small_disk, embedder):
    folder = read_only_sample(small_disk(4 * 2**20), embedder)
    with app_over(folder, embedder) as (url, app):
        client = Client(url, verbose=False)
        answer = answer_from_dict(client.predict("How old is Donald Trump?", api_name="/ask"))
        check_citations(answer, app.index)
        articles = client.predict(api_name="/articles")
        assert len(articles) == 2
        for call, operation in (
            (lambda: client.predict([handle_file(str(DATA / "good" / "orchard.txt"))], api_name="/ingest"), "add"),
            (lambda: client.predict(articles[0]["id"], api_name="/remove"), "remove"),
        ):
            with pytest.raises(Exception, match=f"cannot {operation} articles: the index in .* is read-only, as"):
                call()
        note = _component(url, "read-only")["value"]
        assert note.startswith("<p class=\"read-only\">This library is read-only: ") and "read-only file system" in note
        assert _button(url, "Add to library")["visible"] is False
        assert _button(url, "Remove")["visible"] is False
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["manifest.json", "store.sqlite", "vectors.crc32", "vectors.faiss"]  # nothing new


def test_a_full_disk_during_an_upload_is_said_and_the_chat_goes_on(small_disk, embedder):
    disk = small_disk(8 * 2**20)
    with app_over(disk / "index", embedder, [SAMPLE]) as (url, app):
        client = Client(url, verbose=False)
        assert _button(url, "Add to library")["visible"] is not False
        ballast = fill_all(disk, disk / "index")
        upload = [handle_file(str(DATA / "good" / "orchard.txt"))]
        full = "cannot add 1 article: no space left on the device holding .* with its 2 articles kept"
        with pytest.raises(Exception, match=full):
            client.predict(upload, api_name="/ingest")
        answer = answer_from_dict(client.predict("How old is Donald Trump?", api_name="/ask"))
        assert "78-year-old" in answer.citations[0].quote  # the chat keeps answering
        assert app.index.stats().articles == 2 and app.index.check() == []
        ballast.unlink()
        assert client.predict(upload, api_name="/ingest")["added"] == 1
        assert app.index.check() == []


def test_an_ingest_beside_the_serving_app_is_seen_by_it(tmp_path, embedder):
    import os
    import subprocess

    with app_over(tmp_path / "index", embedder, [SAMPLE]) as (url, app):
        client = Client(url, verbose=False)
        ingest = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(DATA / "good"), "--index", str(tmp_path / "index")],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600,
        )
        assert ingest.returncode == 0, ingest.stderr
        titles = {a["title"] for a in client.predict(api_name="/articles")}
        assert "Volunteers Restore Cape Verran Lighthouse" in titles and len(titles) > 2
        assert client.predict("How old is Donald Trump?", api_name="/ask")["citations"]  # still answering
    with Index(Settings(index_dir=tmp_path / "index"), embedder=embedder) as index:
        assert index.check() == [] and index.stats().articles == len(titles)


def test_an_archive_over_the_file_limit_is_taken_in_and_limited_per_article(embedder, tmp_path):
    """RAG_MAX_FILE_MB applies to each article of a JSON Lines archive, in the app as in `rag ingest`;
    another file over it is still rejected, by name, in the report."""
    import json

    from .conftest import launched

    archive, big = tmp_path / "wire-archive.jsonl", tmp_path / "big.txt"
    archive.write_text("\n".join(
        json.dumps({"title": f"Harbour bulletin {n}", "text": f"The harbour board approved berth {n} on Monday.",
                    "source": "Wire", "raw": "<p>" * 12_000})
        for n in range(30)
    ))
    big.write_text("Harbour Report\n\n" + "The harbour board met on Monday. " * 40_000)
    assert archive.stat().st_size > 2**20 and big.stat().st_size > 2**20
    run = launched(tmp_path / "index", embedder, [], max_file_mb=1)
    url, app = next(run)
    try:
        client = Client(url, verbose=False)
        report = client.predict([handle_file(str(archive)), handle_file(str(big))], api_name="/ingest")
        stored = app.index.stats().articles
    finally:
        next(run, None)
    files = {f["file"]: f for f in report["files"]}
    assert files["wire-archive.jsonl"]["status"] == "added" and files["wire-archive.jsonl"]["added"] == 30
    assert files["big.txt"]["status"] == "rejected" and "limit" in files["big.txt"]["reason"]
    assert stored == 30
