"""The Embedder: unit vectors from the bundled model, questions encoded on workers it can stop."""

import threading

import numpy as np
import pytest

from rag import RagError
from rag.embed import DEFAULT_MODEL, Embedder, canonical_model_name


def test_vectors_are_unit_length_and_similar_texts_are_close(embedder):
    vectors = embedder.embed(["Troops arrived in Russia.", "Soldiers reached Russia.", "Apple harvest falls."])
    assert vectors.dtype == np.float32 and vectors.shape == (3, embedder.dimension) == (3, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert embedder.embed([]).shape == (0, 384)


def test_aliases_of_the_default_model_are_one_name():
    assert canonical_model_name(f"sentence-transformers/{DEFAULT_MODEL}") == DEFAULT_MODEL
    assert Embedder(f"sentence-transformers/{DEFAULT_MODEL}").name == DEFAULT_MODEL


def test_a_question_vector_is_the_same_on_the_worker_and_remembered(embedder):
    question = "How many troops were sent?"
    vector = embedder.embed_query(question).result(timeout=60)
    assert float(vector @ embedder.embed([question])[0]) == pytest.approx(1.0, abs=1e-5)
    assert embedder.embed_query(question).done()  # the second time, from memory


def test_close_stops_the_workers_and_use_starts_them_again():
    own = Embedder()  # the model itself is loaded once per process
    before = set(threading.enumerate())
    own.embed_query("first question").result(timeout=60)
    workers = set(threading.enumerate()) - before
    assert len(workers) == 2
    own.close()
    assert not any(t.is_alive() for t in workers)
    assert own.embed_query("second question").result(timeout=60).shape == (384,)
    own.close()


def test_an_unknown_model_is_a_clear_error():
    with pytest.raises(RagError, match="cannot load the embedding model 'no-such/model-anywhere'"):
        Embedder("no-such/model-anywhere").model


def test_token_vectors_come_from_the_same_pass_as_the_sentence_vector(embedder):
    texts = ["The 78-year-old spoke in Florida.", "Troops"]
    encoded = embedder.embed_tokens(texts)
    for item, vector in zip(encoded, embedder.embed(texts)):
        assert float(item.vector @ vector) == pytest.approx(1.0, abs=1e-4)
        assert len(item.pieces) == len(item.tokens)
        assert np.linalg.norm(item.tokens.astype(np.float32), axis=1) == pytest.approx(1.0, abs=1e-2)
    assert encoded[1].pieces == ("troops",)  # no [CLS] or [SEP]
    assert "78" in encoded[0].pieces


def test_counting_tokens_beside_encoding_in_another_thread(embedder):
    """Ingestion counts tokens while the chat encodes: neither may change how the other tokenizes."""
    import threading
    import time

    texts = [("word " * n).strip() for n in (3, 40, 7, 90, 1, 25)]
    failures: list[BaseException] = []
    stop = time.monotonic() + 4

    def count() -> None:
        while time.monotonic() < stop and not failures:
            assert embedder.count_tokens(texts) == [3, 40, 7, 90, 1, 25]

    def encode() -> None:
        while time.monotonic() < stop and not failures:
            assert [len(t.pieces) for t in embedder.embed_tokens(texts)] == [3, 40, 7, 90, 1, 25]

    def guarded(work):
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 (reported below, with its thread's trace)
                failures.append(exc)

        return run

    threads = [threading.Thread(target=guarded(w)) for w in (count, count, encode, encode)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_token_counts_are_the_model_tokenizer_s_without_special_tokens_or_truncation(embedder):
    texts = [
        "Officials said on Tuesday that the vote would be held in May.",
        "naïve café — ﬁne, Zürich's 3,000 résumés",
        "",
        "word " * 700,  # past the model's 256 tokens: counted whole, never truncated
        "北京 and 東京",
    ]
    tokenizer = embedder.model.tokenizer
    # the model's tokenizer as encoding leaves it (padding and truncation to its length set), and the
    # counting copy made from it now
    tokenizer.backend_tokenizer.enable_truncation(embedder.max_tokens)
    tokenizer.backend_tokenizer.enable_padding(length=embedder.max_tokens)
    embedder.__dict__.pop("_counting_tokenizer", None)
    counts = embedder.count_tokens(texts)
    expected = [len(tokenizer.tokenize(text)) for text in texts]
    assert counts == expected
    assert expected[3] == 700 and expected[2] == 0
