"""How the reader's training data is built from SQuAD-shaped articles, and how it is judged."""

import gzip
import json
import random

import pytest

from rag.answer.reader_training import (
    LEFT_OUT,
    asks_for,
    auc,
    choose_cut,
    command,
    encode,
    load_articles,
    pairs_of,
    split,
    without_answer,
)

HARBOUR = (
    "The harbour of Porto Verde was dredged in 1998. Its new container terminal opened in 2004 after six "
    "years of building. Ferries leave for the islands every morning at seven."
)
LIGHTHOUSE = (
    "The lighthouse on Cape Verran was built in 1871 by the harbour board. Its lamp was electrified in "
    "1936. Keepers lived on the cape until 1988, when the light was automated."
)


def article(title: str, paragraphs: list[tuple[str, list[tuple[str, str]]]]) -> dict:
    """A SQuAD-shaped article: each paragraph with its questions and their answers (found in the text)."""
    return {
        "title": title,
        "paragraphs": [
            {"context": text, "qas": [
                {"question": q, "id": f"{title}-{i}-{j}", "answers": [{"text": a, "answer_start": text.index(a)}]}
                for j, (q, a) in enumerate(qas)
            ]}
            for i, (text, qas) in enumerate(paragraphs)
        ],
    }


@pytest.fixture
def articles():
    return [
        article("Porto_Verde", [
            (HARBOUR, [("When did the container terminal open?", "2004"),
                       ("When was the harbour dredged?", "1998")]),
            (LIGHTHOUSE, [("Who built the lighthouse on Cape Verran?", "the harbour board")]),
        ]),
        article("Time", [(HARBOUR, [("When was the harbour dredged?", "1998")])]),  # shared with CLAPNQ
    ]


def test_left_out_articles_are_never_read(articles, tmp_path):
    path = tmp_path / "squad.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump({"data": articles}, f)
    assert [a["title"] for a in load_articles(path)] == ["Porto_Verde"]
    assert "Time" in LEFT_OUT and len(LEFT_OUT) == 8


def test_each_question_gets_its_answer_sentence_and_on_topic_negatives(articles):
    pairs = pairs_of(articles[:1], seed=1)
    by_question: dict[str, list[dict]] = {}
    for pair in pairs:
        by_question.setdefault(pair["q"], []).append(pair)
    terminal = by_question["When did the container terminal open?"]
    (positive,) = [p for p in terminal if p["label"] == 1]
    assert positive["p"].startswith("Its new container terminal opened in 2004")
    assert "Porto Verde" in positive["p"]  # the title, and the sentence before, as context after the sentence
    start, end = positive["span"]
    assert positive["p"][start:end] == "2004"
    negatives = [p["p"] for p in terminal if p["label"] == 0]
    assert len(negatives) == 2  # two of its paragraph; no other paragraph has its rarer words
    assert all("container terminal opened" not in n.split(" | ")[0] for n in negatives)  # (it may be context)
    dredged = [p["p"] for p in by_question["When was the harbour dredged?"] if p["label"] == 0]
    assert len(dredged) == 3  # and one of another paragraph that shares a rarer word ("harbour")
    assert dredged[-1].startswith("The lighthouse on Cape Verran was built in 1871 by the harbour board.")


def test_the_answer_span_is_marked_on_its_tokens():
    from transformers import AutoTokenizer

    from rag.embed import DEFAULT_MODEL, resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
    pair = {"q": "Who built the lighthouse?", "p": "The lighthouse was built by the harbour board. | Cape",
            "label": 1, "span": (28, 45)}
    encoded, labels, starts, ends = encode(tokenizer, [pair, {**pair, "label": 0, "span": None}])
    ids = encoded["input_ids"][0][starts[0] : ends[0] + 1]
    assert tokenizer.decode(ids) == "the harbour board"
    assert labels.tolist() == [1.0, 0.0] and starts[1] == ends[1] == -100


def test_the_held_out_articles_are_a_seeded_few():
    many = [{"title": f"T{n}", "paragraphs": []} for n in range(100)]
    train, held = split(many, seed=3)
    assert len(held) == 4 and len(train) == 96
    assert split(many, seed=3)[1] == held and split(many, seed=4)[1] != held


def test_auc_is_the_chance_a_positive_outscores_a_negative():
    rng = random.Random(0)
    scores = [rng.random() for _ in range(60)]
    labels = [rng.random() < 0.3 for _ in range(60)]
    pairs = [(p, n) for p, lp in zip(scores, labels) if lp for n, ln in zip(scores, labels) if not ln]
    assert auc(scores, [int(x) for x in labels]) == pytest.approx(sum(p > n for p, n in pairs) / len(pairs))
    assert auc([0.1, 0.2, 0.9], [0, 0, 1]) == 1.0 and auc([0.5, 0.5], [1, 0]) == 0.5


def test_the_cut_keeps_the_asked_share_of_answer_sentences_above_it():
    scores = [n / 100 for n in range(100)]
    labels = [1] * 100
    cut = choose_cut(scores, labels, keep=0.9)
    assert sum(s >= cut for s in scores) == 90


def test_made_near_misses_keep_the_topic_and_lose_the_answer(articles):
    pairs = pairs_of(articles[:1], seed=1, near_misses=True)
    terminal = [p for p in pairs if p["q"] == "When did the container terminal open?"]
    kinds = {p["kind"]: p for p in terminal}
    assert kinds["removed"]["label"] == kinds["swapped"]["label"] == 0
    removed = kinds["removed"]["p"].split(" | ")[0]
    assert removed == "Its new container terminal opened in after six years of building."
    swapped = kinds["swapped"]["p"].split(" | ")[0]
    assert "2004" not in swapped and "container terminal opened in" in swapped  # another kind of answer in place
    assert "removed" not in {p["kind"] for p in pairs_of(articles[:1], seed=1)}  # only when asked for


def test_the_kind_of_answer_a_question_asks_for():
    assert [asks_for(q) for q in ("How many ferries leave?", "When was it built?", "Who built it?",
                                  "Where is the cape?", "Why was it automated?")] == [
        "number", "time", "person", "place", "other"]


def test_a_near_miss_needs_enough_of_the_sentence_left():
    assert without_answer("It opened in 2004.", 13, 17) is None
    assert without_answer("The terminal opened in 2004, after years.", 23, 27, "Cape Verran") == (
        "The terminal opened in Cape Verran, after years.")


def test_later_runs_skip_draw_and_start_from_the_shipped_weights():
    first = command({"questions": 12000, "seed": 13}, 1)
    second = command({"questions": 8000, "seed": 13, "skip": 12000, "near_misses": True}, 2)
    assert first.endswith("--questions 12000 --seed 13") and "--init" not in first
    assert "--skip 12000 --near-misses --init rag/models/reader/reader.safetensors --work .reader-training-2" in second


def test_skipped_questions_are_not_drawn_again(articles):
    everything = {p["q"] for p in pairs_of(articles[:1], seed=5)}
    first = {p["q"] for p in pairs_of(articles[:1], seed=5, questions=2)}
    rest = {p["q"] for p in pairs_of(articles[:1], seed=5, skip=2)}
    assert len(everything) == 3 and len(first) == 2
    assert first | rest == everything and not first & rest
