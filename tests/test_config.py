"""The one settings system: declarations, validation, precedence, `rag config` and the README table."""

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from rag import RagError, Settings
from rag.cli import main
from rag.config import markdown_table, resolve

ROOT = Path(__file__).resolve().parent.parent


def test_every_variable_is_declared_once():
    names = [name for f in fields(Settings) for name in f.metadata["env"]]
    assert len(names) == len(set(names))
    assert all(name.startswith(("RAG_", "GRADIO_SERVER_", "OPENAI_")) for name in names)
    assert all(f.metadata["help"] for f in fields(Settings))


def test_the_readme_table_is_generated_from_the_declarations():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings table:[^>]*-->\n(.*?)<!-- end of settings table -->", readme, re.S)
    assert block, "the README has no generated settings table"
    assert block.group(1) == markdown_table()
    for f in fields(Settings):
        assert f"`{f.metadata['env'][0]}`" in block.group(1)


def test_variables_are_read_typed_and_checked():
    settings = Settings.from_env({"RAG_NPROBE": "64", "RAG_LLM_TIMEOUT": "12.5", "RAG_INDEX": "/tmp/x"})
    assert settings.nprobe == 64 and settings.llm_timeout == 12.5 and settings.index_dir == Path("/tmp/x")
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("raw, value", [("1", True), ("Yes", True), ("on", True), ("0", False), ("off", False)])
def test_a_yes_or_no_setting(raw, value):
    assert Settings.from_env({"RAG_READ_ONLY": raw}).read_only is value
    assert Settings.from_env({"RAG_READ_ONLY": raw}, read_only=True).read_only is True  # --read-only


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"RAG_PORT": "eighty"}, "RAG_PORT='eighty' is not a whole number; use a whole number from 1 to 65535"),
        ({"GRADIO_SERVER_PORT": "70000"}, "GRADIO_SERVER_PORT='70000' is out of range"),
        ({"RAG_NPROBE": "0"}, "RAG_NPROBE='0' is out of range; use a whole number of at least 1 (default 128)"),
        ({"RAG_ANSWER_MODE": "creative"}, "RAG_ANSWER_MODE='creative' is not one of extractive, generative"),
        ({"RAG_LLM_TEMPERATURE": "hot"}, "RAG_LLM_TEMPERATURE='hot' is not a number"),
        ({"RAG_READ_ONLY": "maybe"}, "RAG_READ_ONLY='maybe' is not a yes or no; use 1, true, yes or on, or 0"),
        ({"RAG_LOCK_TIMEOUT": "-1"}, "RAG_LOCK_TIMEOUT='-1' is out of range; use a number of at least 0"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_to_use(environ, message):
    with pytest.raises(RagError, match=re.escape(message)):
        Settings.from_env(environ)


def test_a_bad_flag_is_named_as_the_flag():
    with pytest.raises(RagError, match=re.escape("--port '0' is out of range")):
        Settings.from_env({}, port="0")


def test_values_set_in_code_are_checked_too():
    with pytest.raises(RagError, match="batch_size=0 is out of range"):
        Settings(batch_size=0)


@pytest.mark.parametrize(
    "environ, flag, port, origin",
    [
        ({}, None, 7860, "default"),
        ({"GRADIO_SERVER_PORT": "7931"}, None, 7931, "GRADIO_SERVER_PORT"),
        ({"GRADIO_SERVER_PORT": "7931", "RAG_PORT": "7932"}, None, 7932, "RAG_PORT"),
        ({"GRADIO_SERVER_PORT": "7931", "RAG_PORT": "7932"}, "7933", 7933, "command line (--port)"),
        ({"RAG_PORT": ""}, None, 7860, "default"),  # an empty variable is not set
    ],
)
def test_precedence_command_line_then_rag_then_gradio_then_default(environ, flag, port, origin):
    settings, effective = resolve(environ, port=flag)
    assert settings.port == port
    assert {e.variable: e.origin for e in effective}["RAG_PORT"] == origin


def test_the_server_name_follows_gradio_convention():
    assert Settings.from_env({"GRADIO_SERVER_NAME": "0.0.0.0"}).host == "0.0.0.0"
    assert Settings.from_env({"GRADIO_SERVER_NAME": "0.0.0.0", "RAG_HOST": "10.0.0.2"}).host == "10.0.0.2"


def test_the_api_key_falls_back_to_openai_and_is_never_shown(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    assert Settings.from_env().llm.api_key == "sk-secret-value"
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "sk-secret-value" not in out
    assert re.search(r"RAG_LLM_API_KEY\s+\(set, hidden\)\s+OPENAI_API_KEY", out)


def test_rag_config_says_where_each_setting_came_from(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("RAG_NPROBE", "32")
    assert main(["config", "--json", "--index", str(tmp_path)]) == 0
    rows = {row["variable"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["RAG_NPROBE"]["value"] == "32" and rows["RAG_NPROBE"]["origin"] == "RAG_NPROBE"
    assert rows["RAG_INDEX"]["value"] == str(tmp_path) and rows["RAG_INDEX"]["origin"] == "command line (--index)"
    assert rows["RAG_BATCH_SIZE"]["origin"] == "default"
    assert len(rows) == len(fields(Settings))


def test_rag_config_rejects_a_bad_variable_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("RAG_FLUSH_CHUNKS", "many")
    assert main(["config"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: RAG_FLUSH_CHUNKS='many' is not a whole number; use a whole number of at least 1 (default 1024)"
    ]


def test_rag_config_rejects_an_interval_it_cannot_read(monkeypatch, capsys):
    monkeypatch.setenv("RAG_WATCH_EVERY", "soon")
    assert main(["config"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: RAG_WATCH_EVERY='soon' is not an interval; write it as 30s, 15m or 1h"
    ]
    monkeypatch.setenv("RAG_WATCH_EVERY", "90s")
    assert main(["config"]) == 0


def test_only_the_entry_points_read_the_environment():
    """Library modules take Settings; the environment is read by rag.config for the entry points
    (embed.py only sets the offline defaults of the model hub)."""
    readers = {
        path.name
        for path in (ROOT / "rag").glob("*.py")
        if re.search(r"os\.environ|os\.getenv", path.read_text(encoding="utf-8"))
    }
    assert readers <= {"config.py", "embed.py"}
    embed = (ROOT / "rag" / "embed.py").read_text(encoding="utf-8")
    assert set(re.findall(r"os\.environ\.(\w+)", embed)) == {"setdefault"}


def test_the_tests_mirror_the_package():
    """One test module per library module, named after it."""
    modules = {p.stem for p in (ROOT / "rag").glob("*.py")} - {"__init__", "errors"}
    tests = {p.stem.removeprefix("test_") for p in (ROOT / "tests").glob("test_*.py")}
    assert modules - tests == set()
