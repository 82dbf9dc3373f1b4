"""The FAISS vector index of an index folder: exact (flat) or approximate (IVF), and its file.

The file is a cache of the vectors stored in SQLite, which are the source of truth. It is written to a
temporary name and renamed into place, after its CRC-32 and size (``vectors.crc32``): a file whose
checksum does not match is not trusted, and the folder store rebuilds it from SQLite.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

import numpy as np

from .manifest import atomic_write, file_checksum, fsync_dir

VECTORS = "vectors.faiss"
CHECKSUM = "vectors.crc32"

log = logging.getLogger(__name__)


class _ChecksumWriter:
    """Receives the bytes FAISS writes and passes them to a Python file, so that a full disk is an
    OSError (FAISS's own file writer can lose it), and keeps their CRC-32 and size on the way."""

    def __init__(self, handle):
        self.handle, self.crc, self.size = handle, 0, 0

    def __call__(self, data: bytes) -> int:
        import zlib

        self.handle.write(data)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        return len(data)

    @property
    def checksum(self) -> str:
        return f"{self.crc:08x} {self.size}"


class FaissVectors:
    """One folder's FAISS index of chunk vectors by chunk id (not thread-safe: the store locks)."""

    def __init__(self, folder: Path, dimension: int, nprobe: int = 128):
        self.folder = folder
        self.dimension = dimension
        self.nprobe = nprobe
        self.index = self._flat()

    def _flat(self):
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    @property
    def path(self) -> Path:
        return self.folder / VECTORS

    @property
    def kind(self) -> str:
        """"flat" (exact search) or "ivf" (approximate)."""
        import faiss

        return "flat" if isinstance(self.index, faiss.IndexIDMap2 | faiss.IndexIDMap) else "ivf"

    @property
    def count(self) -> int:
        return self.index.ntotal

    def read(self) -> bool:
        """Load the vector file if it is whole (its checksum matches) and of this dimension. False when
        it is missing or cannot be trusted, which the caller repairs by rebuilding from SQLite."""
        import faiss

        if not self.path.exists():
            return False
        index = None
        if self._checksum_matches():
            try:
                index = faiss.read_index(str(self.path))
            except (RuntimeError, MemoryError):
                index = None
            if index is not None and index.d != self.dimension:
                index = None
        if index is None and (self.folder / CHECKSUM).exists():
            log.warning("%s is damaged or was not fully written; rebuilding it", self.path)
            return False
        if index is None:  # written before checksums were kept: rebuilt once, then checked
            log.info("%s has no checksum; rebuilding it", self.path)
            return False
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = self.nprobe
        self.index = index
        return True

    def _checksum_matches(self) -> bool:
        try:
            return (self.folder / CHECKSUM).read_text(encoding="ascii").strip() == file_checksum(self.path)
        except (OSError, UnicodeDecodeError):
            return False

    def ids(self) -> np.ndarray:
        """The chunk ids held, read from the index's storage."""
        import faiss

        index = self.index
        if self.kind == "flat":
            return faiss.vector_to_array(index.id_map).astype(np.int64)
        ivf = faiss.extract_index_ivf(index)
        lists = ivf.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(ivf.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) held, read from the index's storage without searching."""
        import faiss

        index, dim = self.index, self.dimension
        if self.kind == "flat":
            flat = faiss.downcast_index(index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * dim).reshape(-1, dim).copy()
            return faiss.vector_to_array(index.id_map).astype(np.int64), vectors
        ivf = faiss.extract_index_ivf(index)
        lists = ivf.invlists
        ids, vectors = [], []
        for i in range(ivf.nlist):
            size = lists.list_size(i)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
                codes = faiss.rev_swig_ptr(lists.get_codes(i), size * lists.code_size).copy()
                vectors.append(codes.view(np.float32).reshape(size, dim))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        return np.concatenate(ids).astype(np.int64), np.concatenate(vectors)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def sync(self, stored: np.ndarray, vectors_of: Callable[[np.ndarray], np.ndarray]) -> bool:
        """Hold exactly the ``stored`` chunk ids (the missing ones read with ``vectors_of``). Returns
        True if anything changed."""
        held = self.ids()
        extra = np.setdiff1d(held, stored)
        missing = np.setdiff1d(stored, held)
        self.remove(extra)
        for start in range(0, len(missing), 10_000):
            ids = missing[start : start + 10_000]
            self.add(ids, vectors_of(ids))
        return bool(len(extra) or len(missing))

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray, approximate: bool) -> None:
        """A new index of these vectors: exact, or with ``approximate`` an IVF index trained on them."""
        import faiss

        count = len(ids)
        if approximate and count:
            nlist = max(1, min(int(4 * np.sqrt(count)), count // 39))  # FAISS wants >= 39 points a list
            quantizer = faiss.IndexFlatIP(self.dimension)
            index = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = vectors[rng.choice(count, min(count, nlist * 64), replace=False)]
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
            index.nprobe = self.nprobe
        else:
            index = self._flat()
        self.index = index
        self.add(ids, vectors)

    def file_bytes(self) -> int:
        """At least the size of the vector file as it would be written now (its vectors and ids, and an
        approximate index's centroids)."""
        import faiss

        size = self.index.ntotal * (4 * self.dimension + 8)
        if self.kind == "ivf":
            size += faiss.extract_index_ivf(self.index).nlist * 4 * self.dimension
        return size

    def write(self) -> None:
        """Write the vector file atomically; an OSError (a full disk) leaves the old file in place."""
        import faiss

        tmp = self.folder / (VECTORS + ".tmp")
        try:
            with open(tmp, "wb") as handle:
                writer = _ChecksumWriter(handle)
                faiss.write_index(self.index, faiss.PyCallbackIOWriter(writer))
                handle.flush()
                os.fsync(handle.fileno())
            # the checksum goes first: a kill between the two renames leaves a mismatch, which makes
            # the next open rebuild the vector file from SQLite
            atomic_write(self.folder / CHECKSUM, writer.checksum.encode("ascii"))
            os.replace(tmp, self.path)
        except BaseException:
            with suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.folder)

    def probes(self, passing: int | None = None) -> int:
        """The IVF lists a search visits: ``nprobe``, or with a filter that ``passing`` vectors pass (a
        share s of them), nprobe / s, at most every list: the nearest passing vectors lie in as many
        lists as nprobe would hold of them unfiltered. The filter is checked before any distance is
        computed, so a narrow filter scans more lists but computes few distances."""
        import faiss

        if passing is None:
            return self.nprobe
        lists = faiss.extract_index_ivf(self.index).nlist
        share = passing / max(1, self.index.ntotal)
        return lists if share <= 0 else min(lists, math.ceil(self.nprobe / share))

    def search(
        self, query: np.ndarray, k: int, bits: np.ndarray | None = None, passing: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest ids by inner product, among those whose bit is set in ``bits`` (a bitmap by
        chunk id, see :mod:`rag.facets`; ``passing`` of them are set) when given: ``[(chunk_id, score)]``."""
        import faiss

        if self.index.ntotal == 0:
            return []
        selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)) if bits is not None else None
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.probes(passing if bits is not None else None))
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(query, min(k, self.index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]
