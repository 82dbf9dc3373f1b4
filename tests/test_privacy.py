"""Nothing calls home: the CLI and the app, run as child processes, connect to nothing but loopback.

Every child Python process gets an audit hook (a ``sitecustomize`` on its PYTHONPATH) that records
each socket connection and each name look-up; where strace is installed (CI installs it), every
``connect`` system call of the whole process tree is recorded too, from C and Rust code as well.
The environment is cleared of the variables the entry points set, so their own defaults are tested.
"""

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import httpx
import pytest
from gradio_client import Client, handle_file

from .conftest import DATA, ROOT, SAMPLE, free_port, serving

HOOK = """
import json, os, sys

_LOG = os.environ["NET_AUDIT_LOG"]
_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
           "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg"}


def _record(event, args):
    if event in _EVENTS:
        where = args[1] if event in ("socket.connect", "socket.sendto", "socket.sendmsg") else args[0]
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps([event, repr(where)]) + "\\n")


sys.addaudithook(_record)
with open(_LOG, "a", encoding="utf-8") as log:
    log.write(json.dumps(["started", os.getpid()]) + "\\n")
"""
STRACE = shutil.which("strace")
# what the entry points must set by themselves
CLEARED = ("RAG_", "GRADIO_", "HF_", "TRANSFORMERS_OFFLINE", "DO_NOT_TRACK", "DISABLE_TELEMETRY")


@pytest.fixture
def watched(tmp_path):
    """``run(args, ...)``: a child process with its connections recorded; ``outside()`` lists every
    connection and name look-up recorded so far that went anywhere but loopback."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    audit, traces = tmp_path / "audit.log", []
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env.update(PYTHONPATH=f"{hook}{os.pathsep}{ROOT}", NET_AUDIT_LOG=str(audit))
    if not STRACE and os.environ.get("CI") == "true":
        pytest.fail("strace is not installed; .ci/run installs Debian's strace package")

    def run(args: list[str], wait: bool = True, **extra_env):
        command = [sys.executable, *args]
        if STRACE:
            traces.append(tmp_path / f"strace-{len(traces)}.log")
            command = [STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-e", "signal=none"]
            command += ["-o", str(traces[-1]), sys.executable, *args]
        process = subprocess.Popen(
            command,
            env={**env, **extra_env},
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # stopped as a group: strace and the program it runs
        )
        if wait:
            process.output = process.communicate(timeout=600)[0]
        return process

    def outside() -> list[str]:
        found = []
        if audit.exists():
            for line in audit.read_text(encoding="utf-8").splitlines():
                event, where = json.loads(line)
                if event != "started" and not _local(_parsed(where)):
                    found.append(f"{event} {where}")
        for trace in traces:
            for line in trace.read_text(encoding="utf-8").splitlines() if trace.exists() else []:
                family = re.search(r"sa_family=(AF_\w+)", line)
                if family and family.group(1) in ("AF_INET", "AF_INET6"):
                    address = re.search(r'inet_(?:addr|pton)\((?:AF_INET6, )?"([^"]+)"', line)
                    port = re.search(r"sin6?_port=htons\((\d+)\)", line)
                    if not address or not _local(address.group(1)) or (port and port.group(1) == "53"):
                        found.append(f"connect() {line.strip()}")  # port 53: a DNS look-up, even via a local resolver
        return found

    def started() -> int:
        """How many Python processes ran with the hook."""
        lines = audit.read_text(encoding="utf-8").splitlines() if audit.exists() else []
        return sum(json.loads(line)[0] == "started" for line in lines)

    run.outside, run.started = outside, started
    return run


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _parsed(where: str):
    try:
        return ast.literal_eval(where)
    except (ValueError, SyntaxError):
        return where


def _local(where) -> bool:
    """Loopback, no address at all (a passive look-up), or a Unix socket's path."""
    from rag.auth import is_loopback

    if isinstance(where, tuple):
        where = where[0] if where else None
    if where in (None, "", b""):
        return True
    if isinstance(where, bytes):
        where = where.decode()
    if isinstance(where, str) and where.startswith(("/", "\0")):
        return True  # AF_UNIX
    return isinstance(where, str) and is_loopback(where)


def test_the_cli_ingests_asks_and_exports_without_a_connection(watched, tmp_path):
    index = str(tmp_path / "index")
    for args in (
        ["ingest", str(SAMPLE), str(DATA / "good"), "--index", index, "--quiet"],
        ["ask", "How old is Donald Trump?", "--index", index],
        ["ask", "How many North Korean troops were trained?", "--index", index, "--format", "html", "-o", "a.html"],
        ["list", "--json", "--index", index],
        ["search", "lighthouse", "--index", index],
    ):
        process = watched(["-m", "rag.cli", *args])
        assert process.returncode == 0, (args, process.output[-2000:])
    assert "<mark>" in (tmp_path / "a.html").read_text(encoding="utf-8")
    assert watched.started() >= 5  # the hook ran in every command: the record is not empty by accident
    assert watched.outside() == []


def test_a_model_not_on_disk_is_not_downloaded(watched, tmp_path):
    """The model hub is never asked, by the CLI or by the app (which imports Gradio, and with it the
    hub's client, before any model is loaded)."""
    for args in (
        ["-m", "rag.cli", "ingest", str(DATA / "good" / "orchard.txt"), "--index", str(tmp_path / "a"), "-q"],
        [str(ROOT / "app.py"), "--port", str(free_port())],  # the default index, built from the sample
    ):
        process = watched(args, RAG_MODEL="sentence-transformers/paraphrase-albert-small-v2")
        assert process.returncode == 1, process.output[-2000:]
        assert "cannot load the embedding model 'sentence-transformers/paraphrase-albert-small-v2'" in process.output
    assert watched.outside() == []


def test_the_app_serves_logins_the_api_and_the_page_without_a_connection(watched, tmp_path):
    users = tmp_path / "users.toml"
    adding = watched(["-m", "rag.cli", "user", "add", "alice", "--role", "editor", "--auth-file", str(users)], False)
    adding.communicate("alice's password\n", timeout=120)
    assert adding.returncode == 0
    index = tmp_path / "index"
    assert watched(["-m", "rag.cli", "ingest", str(SAMPLE), "--index", str(index), "-q"]).returncode == 0
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    app = watched([str(ROOT / "app.py"), "--index", str(index), "--port", str(port), "--auth-file", str(users)], False)
    try:
        if not serving(url, app, seconds=180):
            pytest.fail(f"the app did not start: {app.stdout.read() if app.poll() is not None else ''}")
        for path in ("", "config", "gradio_api/info", "theme.css"):
            httpx.get(url + path, timeout=30)
        client = Client(url, verbose=False, auth=("alice", "alice's password"))
        report = client.predict([handle_file(str(DATA / "good" / "lighthouse.html"))], api_name="/ingest")
        assert report["added"] == 1
        answer = client.predict("When was the Cape Verran lighthouse built?", api_name="/ask")
        assert "built in 1871" in answer["citations"][0]["quote"]
        articles = client.predict(api_name="/articles")
        target = next(a["id"] for a in articles if a["title"].startswith("Volunteers Restore"))
        assert client.predict(target, api_name="/remove") == {"removed": [target]}
    finally:
        _stop(app)
    assert watched.outside() == []


def test_the_check_sees_a_connection_elsewhere(watched):
    """The recording works: a child that looks up a name and connects outside is caught."""
    script = (
        "import socket\n"
        "try:\n    socket.getaddrinfo('analytics.invalid', 443)\nexcept OSError:\n    pass\n"
        "s = socket.socket(); s.setblocking(False)\n"
        "try:\n    s.connect(('192.0.2.1', 9))\nexcept OSError:\n    pass\n"
    )
    assert watched(["-c", script]).returncode == 0
    found = watched.outside()
    assert any("analytics.invalid" in line for line in found)
    assert sum("192.0.2.1" in line for line in found) == (2 if STRACE else 1)


def test_entry_points_set_the_private_defaults_unless_the_user_set_them():
    from rag.config import PRIVATE_ENVIRONMENT, keep_private

    environ = {"GRADIO_ANALYTICS_ENABLED": "True"}
    keep_private(environ)
    assert environ["GRADIO_ANALYTICS_ENABLED"] == "True"  # the user's choice stays
    assert {k: v for k, v in environ.items() if k != "GRADIO_ANALYTICS_ENABLED"} == {
        k: v for k, v in PRIVATE_ENVIRONMENT.items() if k != "GRADIO_ANALYTICS_ENABLED"
    }
    assert environ["HF_HUB_OFFLINE"] == "1" and environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    app_source = (ROOT / "app.py").read_text(encoding="utf-8")
    assert app_source.index("keep_private()") < app_source.index("import gradio")
