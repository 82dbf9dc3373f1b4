"""Settings, each documented, read from the environment (``RAG_*``) with sensible defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import RagError


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    index_dir: Path = field(
        default=Path("embeddings"),
        metadata={"env": "RAG_INDEX", "help": "folder of the index (FAISS + SQLite + manifest)"},
    )
    model: str | None = field(
        default=None,
        metadata={
            "env": "RAG_MODEL",
            "help": "sentence-transformers model name or local path; default: the index's own model, "
            "or all-MiniLM-L6-v2 for a new index",
        },
    )
    chunk_tokens: int = field(
        default=160,
        metadata={
            "env": "RAG_CHUNK_TOKENS",
            "help": "largest chunk, in model tokens (capped at the model's limit)",
        },
    )
    overlap_tokens: int = field(
        default=48,
        metadata={
            "env": "RAG_OVERLAP_TOKENS",
            "help": "whole sentences repeated between neighbouring chunks, up to this many tokens",
        },
    )
    batch_size: int = field(default=32, metadata={"env": "RAG_BATCH_SIZE", "help": "texts per model forward pass"})
    flush_chunks: int = field(
        default=1024,
        metadata={
            "env": "RAG_FLUSH_CHUNKS",
            "help": "chunks embedded and committed together during ingestion",
        },
    )
    ann_threshold: int = field(
        default=100_000,
        metadata={
            "env": "RAG_ANN_THRESHOLD",
            "help": "from this many chunks on, search an approximate (IVF) index",
        },
    )
    nprobe: int = field(
        default=128, metadata={"env": "RAG_NPROBE", "help": "IVF lists visited per query (recall vs. speed)"}
    )
    max_file_mb: int = field(
        default=20, metadata={"env": "RAG_MAX_FILE_MB", "help": "files larger than this are rejected"}
    )

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Defaults, then ``RAG_*`` environment variables, then explicit ``overrides`` (None ignored)."""
        values = {}
        for f in fields(cls):
            raw = _env(f.metadata["env"])
            if raw is None:
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise RagError(f"{f.metadata['env']}={raw!r} is not a whole number") from None
            elif f.name == "index_dir":
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        settings = replace(cls(), **values)
        return settings.with_overrides(**overrides)

    def with_overrides(self, **overrides) -> Settings:
        given = {k: (Path(v) if k == "index_dir" else v) for k, v in overrides.items() if v is not None}
        return replace(self, **given)
