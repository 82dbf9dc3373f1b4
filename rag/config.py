"""The settings: every one declared once here, with its default, type, limits, help and variable.

Only the entry points read the environment (the ``rag`` command, ``app.py``, and the Python
helpers :func:`rag.ask` and :func:`rag.open_index`): they call :meth:`Settings.from_env`. Library
classes take a :class:`Settings` and otherwise use the defaults. ``rag config`` prints the
effective settings and where each came from; the README's table is :func:`markdown_table`.

Order of precedence, highest first: the command line, the first variable of a setting's list
that is set (``RAG_HOST`` before ``GRADIO_SERVER_NAME``), the default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import RagError

MODES = ("extractive", "generative")
GROUPS = {
    "index": "Index and ingestion",
    "answer": "Answers",
    "llm": "Language model (generative mode)",
    "app": "Chat app",
}


def setting(
    default: Any,
    env: str | tuple[str, ...],
    help: str,
    *,
    group: str,
    kind: type = str,
    flag: str | None = None,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    secret: bool = False,
    shown_default: str | None = None,
):
    """Declare one setting: a dataclass field whose metadata says how to read and check it."""
    names = (env,) if isinstance(env, str) else env
    meta = {
        "env": names,
        "help": help,
        "group": group,
        "kind": kind,
        "flag": flag,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "secret": secret,
        "shown_default": shown_default,
    }
    return field(default=default, metadata=meta)


SERVER_SCHEMES = ("postgresql://", "postgres://")


DEFAULT_INDEX = "embeddings"  # the index folder when none is named: built from the bundled sample on first start


class Location:
    """The kind of the index setting: a folder (a Path), or a ``postgresql://`` URL (kept as text)."""


class Interval:
    """The kind of a setting that is a length of time written as 30s, 15m or 1h (kept as written)."""


class Networks:
    """The kind of a setting that lists addresses or networks, comma-separated (kept as written)."""


def parse_networks(text: str, where: str = "RAG_TRUSTED_PROXIES") -> tuple:
    """"127.0.0.1, 10.0.0.0/8" -> the networks; a RagError names ``where`` and the entry that is neither."""
    import ipaddress

    networks = []
    for entry in (e.strip() for e in str(text).split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise RagError(
                f"{where}: {entry!r} is not an address or a network; give addresses or networks such as "
                "127.0.0.1 or 10.0.0.0/8, comma-separated"
            ) from None
    return tuple(networks)


_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_interval(text: str, where: str = "--every") -> float:
    """"30s", "15m", "1h" (or a number of seconds) -> seconds. A RagError names ``where`` and says what to write."""
    match = _INTERVAL.fullmatch(str(text))
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()] if match else 0.0
    if seconds <= 0:
        shown = f"{where} {text!r}" if where.startswith("-") else f"{where}={text!r}"
        raise RagError(f"{shown} is not an interval; write it as 30s, 15m or 1h")
    return seconds


def index_location(raw: Any) -> Path | str:
    """A folder as a Path; a database URL as it was given (a Path would fold its ``//``)."""
    text = str(raw).strip()
    if not text.startswith(SERVER_SCHEMES):
        return Path(raw)
    parts = urlsplit(text)
    if not parts.hostname and "host=" not in parts.query:
        raise RagError(f"the index URL {shown_url(text)!r} names no server; use postgresql://user@host:5432/database")
    return text


def shown_url(url: str) -> str:
    """A URL without its password, to show and log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class LLMSettings:
    """Where and how to reach the chat-completions server (``Settings.llm``: the ``RAG_LLM_*`` settings)."""

    url: str = "http://127.0.0.1:8080/v1"
    model: str = "default"
    api_key: str = ""
    timeout: float = 60.0  # seconds for the whole answer, not only for the first byte
    temperature: float = 0.0
    max_tokens: int = 200


@dataclass(frozen=True)
class Settings:
    # --- index and ingestion ---
    index_dir: Path | str = setting(
        Path(DEFAULT_INDEX), "RAG_INDEX",
        "where the index is: a folder (FAISS + SQLite + manifest), or a PostgreSQL database with pgvector "
        "(postgresql://user@host:5432/database; the postgres extra)",
        group="index", kind=Location, flag="--index",
    )
    model: str | None = setting(
        None, "RAG_MODEL",
        "sentence-transformers model name (already on disk) or local model folder",
        group="index", flag="--model",
        shown_default="the index's own model; all-MiniLM-L6-v2 for a new index",
    )
    chunk_tokens: int = setting(
        160, "RAG_CHUNK_TOKENS", "largest chunk in model tokens, capped at the model's limit (new index only)",
        group="index", kind=int, minimum=16, flag="--chunk-tokens",
    )
    overlap_tokens: int = setting(
        48, "RAG_OVERLAP_TOKENS",
        "whole sentences repeated between neighbouring chunks, up to this many tokens (new index only)",
        group="index", kind=int, minimum=0, flag="--overlap-tokens",
    )
    batch_size: int = setting(32, "RAG_BATCH_SIZE", "texts per model forward pass", group="index", kind=int, minimum=1)
    flush_chunks: int = setting(
        1024, "RAG_FLUSH_CHUNKS", "chunks embedded and committed together during ingestion",
        group="index", kind=int, minimum=1,
    )
    ann_threshold: int = setting(
        100_000, "RAG_ANN_THRESHOLD",
        "from this many chunks on, search an approximate FAISS index (IVF) instead of an exact one",
        group="index", kind=int, minimum=1,
    )
    nprobe: int = setting(
        128, "RAG_NPROBE", "IVF lists visited per query (higher: better recall, slower)",
        group="index", kind=int, minimum=1,
    )
    max_file_mb: int = setting(
        20, "RAG_MAX_FILE_MB",
        "files (and the chat's uploads) larger than this many MB are rejected; a JSON or JSONL archive: each article",
        group="index", kind=int, minimum=1,
    )
    feed_timeout: float = setting(
        10.0, "RAG_FEED_TIMEOUT", "seconds allowed for downloading one feed or one page an entry links to",
        group="index", kind=float, minimum=0.1,
    )
    max_page_kb: int = setting(
        5120, "RAG_MAX_PAGE_KB", "feeds and linked pages larger than this many KB are not read (the entry's summary "
        "is used instead)",
        group="index", kind=int, minimum=1,
    )
    watch_every: str = setting(
        "15m", "RAG_WATCH_EVERY",
        "how often `rag watch` (and the app's `RAG_WATCH`) looks for new files and feed entries (30s, 15m, 1h)",
        group="index", kind=Interval, flag="--every",
    )
    read_only: bool = setting(
        False, "RAG_READ_ONLY",
        "open the index without writing anything: answer, search, list and check only (chosen by itself on "
        "storage that cannot be written)",
        group="index", kind=bool, flag="--read-only",
    )
    lock_timeout: float = setting(
        30.0, "RAG_LOCK_TIMEOUT", "seconds a write waits while another process writes to the index, then gives up",
        group="index", kind=float, minimum=0,
    )
    # --- answers ---
    answer_mode: str = setting(
        "extractive", "RAG_ANSWER_MODE",
        "extractive quotes the articles' sentences; generative asks the language model at RAG_LLM_URL "
        "and checks every citation",
        group="answer", choices=MODES, flag="--mode",
    )
    reader_sentences: int = setting(
        5, "RAG_READER_SENTENCES",
        "how many of the best sentences the trained reader reads: it puts the one that answers first, marks the "
        "answer words and abstains when none answers; 0 turns it off (faster, but near misses are quoted)",
        group="answer", kind=int, minimum=0,
    )
    # --- the language model (generative mode) ---
    llm_url: str = setting(
        "http://127.0.0.1:8080/v1", "RAG_LLM_URL", "OpenAI-compatible chat-completions server", group="llm"
    )
    llm_model: str = setting("default", "RAG_LLM_MODEL", "model name sent to that server", group="llm")
    llm_api_key: str = setting(
        "", ("RAG_LLM_API_KEY", "OPENAI_API_KEY"), "API key for that server, if it needs one",
        group="llm", secret=True, shown_default="none",
    )
    llm_timeout: float = setting(
        60.0, "RAG_LLM_TIMEOUT", "seconds allowed for a whole answer", group="llm", kind=float, minimum=1,
    )
    llm_temperature: float = setting(
        0.0, "RAG_LLM_TEMPERATURE", "sampling temperature", group="llm", kind=float, minimum=0, maximum=2,
    )
    llm_max_tokens: int = setting(
        200, "RAG_LLM_MAX_TOKENS", "longest answer, in the model's tokens", group="llm", kind=int, minimum=16,
    )
    # --- the chat app ---
    host: str = setting(
        "127.0.0.1", ("RAG_HOST", "GRADIO_SERVER_NAME"),
        "address the app listens on; anything but 127.0.0.1 exposes it to the network",
        group="app", flag="--host",
    )
    port: int = setting(
        7860, ("RAG_PORT", "GRADIO_SERVER_PORT"), "port the app listens on",
        group="app", kind=int, minimum=1, maximum=65535, flag="--port",
    )
    watch: str = setting(
        "", "RAG_WATCH",
        "folders, files and feeds the app keeps ingesting in the background, every `RAG_WATCH_EVERY` "
        "(separated by spaces; quote a path that has spaces)",
        group="app", flag="--watch", shown_default="none",
    )
    max_upload_files: int = setting(
        50, "RAG_MAX_UPLOAD_FILES", "files accepted in one upload", group="app", kind=int, minimum=1,
    )
    auth_file: Path | None = setting(
        None, "RAG_AUTH_FILE",
        "users, Argon2 password hashes and roles (reader, editor) of the app's logins; manage it with `rag user`",
        group="app", kind=Path, flag="--auth-file", shown_default="none: no login",
    )
    questions_per_minute: int = setting(
        30, "RAG_QUESTIONS_PER_MINUTE",
        "questions one client (a user, an address, or a session from this machine) may ask a minute; 0: no limit",
        group="app", kind=int, minimum=0,
    )
    trusted_proxies: str = setting(
        "127.0.0.1,::1", "RAG_TRUSTED_PROXIES",
        "reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client's "
        "address for the limits and sign-in waits; empty: none",
        group="app", kind=Networks,
    )
    upload_mb_per_hour: int = setting(
        200, "RAG_UPLOAD_MB_PER_HOUR", "MB of files one client may upload an hour; 0: no limit",
        group="app", kind=int, minimum=0,
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, _check(f, value, f"{f.name}"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then the environment, then ``overrides`` (the command line; None is ignored)."""
        return resolve(environ, **overrides)[0]

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def llm(self):
        """The language model server's settings."""
        return LLMSettings(
            url=self.llm_url,
            model=self.llm_model,
            api_key=self.llm_api_key,
            timeout=self.llm_timeout,
            temperature=self.llm_temperature,
            max_tokens=self.llm_max_tokens,
        )


@dataclass(frozen=True)
class Effective:
    """One setting as it is in effect: its value and where that came from."""

    name: str
    variable: str
    value: Any
    origin: str  # "default", a variable's name, or "command line (--flag)"
    help: str
    secret: bool

    @property
    def shown(self) -> str:
        if self.secret and self.value:
            return "(set, hidden)"
        if isinstance(self.value, str) and self.value.startswith(SERVER_SCHEMES):
            return shown_url(self.value)
        return "" if self.value is None else str(self.value)


def resolve(environ: Mapping[str, str] | None = None, **overrides: Any) -> tuple[Settings, list[Effective]]:
    """The settings in effect and, for each, its value and origin (see the module's precedence)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    report = []
    for f in fields(Settings):
        meta = f.metadata
        value, origin = f.default, "default"
        for name in meta["env"]:
            raw = environ.get(name)
            if raw not in (None, ""):
                value, origin = _check(f, raw, name), name
                break
        given = overrides.get(f.name)
        if given is not None:
            value, origin = _check(f, given, meta["flag"] or f.name), f"command line ({meta['flag'] or f.name})"
        values[f.name] = value
        report.append(Effective(f.name, meta["env"][0], value, origin, meta["help"], meta["secret"]))
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    return Settings(**values), report


def _check(f, raw: Any, where: str) -> Any:
    """``raw`` as the setting's type, within its limits; a RagError names ``where`` and the value."""
    meta = f.metadata
    kind = meta["kind"]
    shown = f"{where} {raw!r}" if where.startswith("-") else f"{where}={raw!r}"
    if kind is bool:
        value = _boolean(raw)
        if value is None:
            raise RagError(f"{shown} is not a yes or no; use 1, true, yes or on, or 0, false, no or off")
    elif kind is int and not isinstance(raw, bool):
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise RagError(f"{shown} is not a whole number; {_expected(f)}") from None
    elif kind is float:
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise RagError(f"{shown} is not a number; {_expected(f)}") from None
    elif kind is Path:
        value = Path(raw)
    elif kind is Location:
        value = index_location(raw)
    elif kind is Interval:
        parse_interval(raw, where)
        value = str(raw).strip()
    elif kind is Networks:
        parse_networks(raw, where)
        value = str(raw).strip()
    else:
        value = str(raw).strip()
    if meta["choices"] and value not in meta["choices"]:
        raise RagError(f"{shown} is not one of {', '.join(meta['choices'])}; {_expected(f)}")
    low, high = meta["minimum"], meta["maximum"]
    if (low is not None and value < low) or (high is not None and value > high):
        raise RagError(f"{shown} is out of range; {_expected(f)}")
    return value


def _boolean(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    return {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
            "off": False}.get(str(raw).strip().lower())


def _expected(f) -> str:
    meta = f.metadata
    if meta["choices"]:
        return f"use {' or '.join(meta['choices'])}"
    low, high = meta["minimum"], meta["maximum"]
    kind = "a whole number" if meta["kind"] is int else "a number"
    if low is not None and high is not None:
        return f"use {kind} from {low:g} to {high:g} (default {f.default})"
    if low is not None:
        return f"use {kind} of at least {low:g} (default {f.default})"
    return f"use {kind} (default {f.default})"


# What the libraries beneath would otherwise send or fetch on their own: Gradio's usage analytics and
# version check, the model hub's telemetry and downloads. They read these once, when first imported.
PRIVATE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def keep_private(environ: MutableMapping[str, str] | None = None) -> None:
    """Set the variables of PRIVATE_ENVIRONMENT that the user has not set: nothing calls home unless
    asked to. Entry points call this before Gradio or the model hub is imported."""
    environ = os.environ if environ is None else environ
    for name, value in PRIVATE_ENVIRONMENT.items():
        environ.setdefault(name, value)


def markdown_table() -> str:
    """The README's configuration table, generated from the declarations above."""
    lines = []
    for group, title in GROUPS.items():
        lines += [f"**{title}**", "", "| variable | default | meaning |", "|---|---|---|"]
        for f in fields(Settings):
            meta = f.metadata
            if meta["group"] != group:
                continue
            names = " or ".join(f"`{name}`" for name in meta["env"])
            default = meta["shown_default"] or f"`{f.default}`"
            flag = f" (command line: `{meta['flag']}`)" if meta["flag"] else ""
            lines.append(f"| {names} | {default} | {meta['help']}{flag} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
