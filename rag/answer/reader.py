"""The reader: does this sentence answer the question, and which of its words are the answer?

A cross-encoder over (question, sentence with its title and the sentence before it), built on the
bundled all-MiniLM-L6-v2: the token embeddings and the lower layers are the bundled model's, loaded
from its package and never changed; the upper layers and two small heads were trained for answer
sentence selection on SQuAD v1.1 train (``python -m rag.answer.reader_training``; data, command, seed and
validation figures in ``rag/models/reader/MODEL_CARD.md``). The heads give

- the probability that the sentence holds the answer (a logistic output over the [CLS] vector), and
- where in the sentence the answer words start and end (a start and an end score for each token).

Only the trained part is shipped (``rag/models/reader/reader.safetensors``, half precision), with its
SHA-256 beside it, checked when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import RagError

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "reader"
WEIGHTS = "reader.safetensors"
CHECKSUM = "reader.sha256"
CONFIG = "reader.json"  # the base model, which layers were trained, the input length, the abstention cut
MAX_TOKENS = 128  # question and passage together; the passage's context is cut first, never the sentence
SPAN_TOKENS = 30  # the longest answer the span head marks


def passage(title: str, sentence: str, before: str = "") -> str:
    """The second input of a pair: the sentence first (kept whole), then its title and the sentence
    before it, the context the truncation shortens."""
    context = " ".join(x for x in (title.strip(), before.strip()) if x)
    return f"{sentence.strip()} | {context}" if context else sentence.strip()


def build_model(base_path: str, trained_layers: int):
    """The reader's network on the bundled model's weights: its top ``trained_layers`` layers, the heads
    (new) and everything below them (frozen: no gradient is computed for them)."""
    import torch
    from transformers import AutoModel

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(base_path)
            hidden = self.encoder.config.hidden_size
            self.answers = torch.nn.Linear(hidden, 1)
            self.span = torch.nn.Linear(hidden, 2)
            layers = self.encoder.encoder.layer
            self.first_trained = len(layers) - trained_layers
            for parameter in self.encoder.parameters():
                parameter.requires_grad = False
            for layer in layers[self.first_trained :]:
                for parameter in layer.parameters():
                    parameter.requires_grad = True

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            answers = self.answers(hidden[:, 0]).squeeze(-1)
            start, end = self.span(hidden).unbind(-1)
            outside = (token_type_ids == 0) | (attention_mask == 0)  # the answer is in the passage
            return answers, start.masked_fill(outside, -1e4), end.masked_fill(outside, -1e4)

        def trained_state(self) -> dict:
            """The weights that differ from the bundled model's: the trained layers and the heads."""
            prefix = "encoder.encoder.layer."
            keep = tuple(f"{prefix}{n}." for n in range(self.first_trained, len(self.encoder.encoder.layer)))
            return {k: v for k, v in self.state_dict().items() if k.startswith(keep) or not k.startswith("encoder.")}

    return Reader()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one sentence: the probability it answers the question, and the answer
    words' character span inside the sentence (None when it reads none)."""

    probability: float
    span: tuple[int, int] | None = None


class Reader:
    """The shipped reader, loaded once (thread-safe) on first use."""

    def __init__(self, folder: Path = MODEL_DIR):
        self.folder = folder
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None
        self.config: dict = {}

    def _files(self) -> tuple[Path, Path, Path]:
        files = tuple(self.folder / n for n in (WEIGHTS, CHECKSUM, CONFIG))
        for path in files:
            if not path.is_file():
                raise RagError(f"the reader's file {path} is missing; reinstall the package (pip install -e .)")
        return files

    def _load(self):
        with self._lock:
            if self._model is not None:
                return self._model, self._tokenizer
            weights, checksum, config = self._files()
            expected = checksum.read_text(encoding="ascii").split()[0]
            if sha256(weights) != expected:
                raise RagError(
                    f"the reader's weights {weights} are damaged (their SHA-256 is not the one in {checksum.name}); "
                    "reinstall the package (pip install -e .)"
                )
            from safetensors.torch import load_file
            from transformers import AutoTokenizer

            from ..embed import resolve_model

            self.config = json.loads(config.read_text(encoding="utf-8"))
            base = resolve_model(self.config["base"])
            model = build_model(base, self.config["trained_layers"])
            state = {k: v.float() for k, v in load_file(str(weights)).items()}
            missing = set(model.trained_state()) - set(state)
            if missing:
                raise RagError(f"the reader's weights {weights} lack {sorted(missing)[:3]}; reinstall the package")
            model.load_state_dict(state, strict=False)
            model.eval()
            self._tokenizer = AutoTokenizer.from_pretrained(base)
            self._model = model
            return model, self._tokenizer

    @property
    def cut(self) -> float:
        """The probability under which a sentence is read as not answering (set on held-out training data)."""
        if not self.config:
            self.config = json.loads(self._files()[2].read_text(encoding="utf-8"))
        return float(self.config["cut"])

    def read(self, question: str, passages: Sequence[tuple[str, str, str]]) -> list[Reading]:
        """For each (title, sentence, sentence before) in ``passages``, what the reader makes of it."""
        if not passages:
            return []
        import torch

        model, tokenizer = self._load()
        texts = [passage(title, sentence, before) for title, sentence, before in passages]
        batch = tokenizer(
            [question] * len(texts), texts, truncation="only_second", max_length=MAX_TOKENS, padding=True,
            return_tensors="pt", return_offsets_mapping=True,
        )
        offsets = batch.pop("offset_mapping")
        with torch.inference_mode():
            answers, start, end = model(**batch)
        probabilities = torch.sigmoid(answers).tolist()
        readings = []
        for n, (title, sentence, _) in enumerate(passages):
            span = best_span(start[n], end[n], offsets[n], batch["token_type_ids"][n], len(sentence.strip()))
            readings.append(Reading(round(probabilities[n], 4), span))
        return readings


_shared: Reader | None = None
_shared_lock = threading.Lock()


def shared_reader() -> Reader:
    """The reader every Assistant of this process uses (its weights are loaded once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Reader()
        return _shared


def best_span(start, end, offsets, types, sentence_chars: int) -> tuple[int, int] | None:
    """The highest-scoring answer span (start <= end, at most SPAN_TOKENS long) inside the sentence part
    of the passage, as character offsets into the (stripped) sentence."""
    import torch

    inside = [i for i in range(len(types)) if types[i] == 1 and offsets[i][1] > offsets[i][0]
              and offsets[i][1] <= sentence_chars]
    if not inside:
        return None
    first, last = inside[0], inside[-1]
    s, e = start[first : last + 1], end[first : last + 1]
    scores = s[:, None] + e[None, :]
    length = scores.shape[0]
    allowed = torch.triu(torch.ones(length, length, dtype=torch.bool)) & ~torch.triu(
        torch.ones(length, length, dtype=torch.bool), diagonal=SPAN_TOKENS
    )
    scores = scores.masked_fill(~allowed, float("-inf"))
    best = int(torch.argmax(scores))
    i, j = divmod(best, length)
    return int(offsets[first + i][0]), int(offsets[first + j][1])
