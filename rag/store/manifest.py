"""What an index records about itself (the manifest), and files written whole or not at all."""

from __future__ import annotations

import json
import os
import zlib
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import faults
from ..errors import IndexError_, rebuild_hint

FORMAT_VERSION = 4  # 2: the sentences and their dates; 3: stories; 4: the indexes questions read
MANIFEST = "manifest.json"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Manifest:
    """The model and settings an index was built with: an index is only searched with its own model."""

    model: str
    dimension: int
    normalized: bool = True
    metric: str = "inner_product"
    format_version: int = FORMAT_VERSION
    chunk_tokens: int = 0
    overlap_tokens: int = 0
    created: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """The manifest of these fields (unknown keys, written by a newer version, are ignored)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except PermissionError as exc:
            raise faults.access_denied(path) from exc
        except (OSError, ValueError, TypeError) as exc:
            raise IndexError_(
                f"the index manifest {path} is unreadable ({exc}); {rebuild_hint(folder)}"
            ) from exc

    def save(self, folder: Path) -> None:
        atomic_write(folder / MANIFEST, json.dumps(self.to_dict(), indent=2).encode())

    def check(self, where: str, model: str | None) -> None:
        """Refuse an index of a newer format, or one built with another model than ``model``."""
        if self.format_version > FORMAT_VERSION:
            raise IndexError_(
                f"the index in {where} has format version {self.format_version}, newer than "
                f"this program understands ({FORMAT_VERSION}); upgrade the program"
            )
        if model is not None and model != self.model:
            raise IndexError_(
                f"the index in {where} was built with the model {self.model!r}, not {model!r}. "
                f"Search it with --model {self.model} (or RAG_MODEL), or build a new index "
                "for the other model in another place with --index"
            )


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file, synced, renamed over it (and removed if
    the write fails, on a full disk for one)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def file_checksum(path: Path) -> str:
    """``"<crc32> <size>"`` of a file, read in blocks."""
    crc, size = 0, 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return f"{crc:08x} {size}"


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
