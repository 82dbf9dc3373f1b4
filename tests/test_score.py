"""Sentence scoring: late interaction over token vectors, the word-level matches, answer types."""

import numpy as np
import pytest

from rag.answer.question import parse_question
from rag.answer.scoring import answer_type_match, late_interaction, question_words
from rag.embed import TokenVectors


def _unit(*rows):
    matrix = np.array(rows, dtype=np.float32)
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float16)


def test_late_interaction_is_the_mean_best_token_match():
    # question tokens "the", "troops"; only "troops" is a content word
    question = TokenVectors(np.zeros(3, np.float32), _unit([1, 0, 0], [0, 1, 0]), ("the", "troops"))
    both = TokenVectors(np.zeros(3, np.float32), _unit([0, 1, 0], [1, 0, 0]), ("troops", "the"))
    half = TokenVectors(np.zeros(3, np.float32), _unit([1, 0, 0], [0, 0, 1], [1, 1, 0]), ("the", "x", "y"))
    tokens, content, best = late_interaction(question, [both, half])
    assert tokens == pytest.approx([1.0, (1.0 + 0.5**0.5) / 2], abs=1e-3)  # order does not matter
    assert content == pytest.approx([1.0, 0.5**0.5], abs=1e-3)  # "troops" meets "y" at 45 degrees
    assert best[:, 1] == pytest.approx([1.0, 0.5**0.5], abs=1e-3)  # each question token's best match
    # a sentence (or question) without token vectors gets NaN, and the others keep their scores
    empty = TokenVectors(np.zeros(3, np.float32), np.zeros((0, 3), np.float16), ())
    tokens, content, best = late_interaction(question, [empty, half, empty])
    assert np.isnan(tokens[[0, 2]]).all() and np.isnan(content[[0, 2]]).all()
    assert tokens[1] == pytest.approx((1.0 + 0.5**0.5) / 2, abs=1e-3)
    assert all(np.isnan(part).all() for part in late_interaction(empty, [both]))


def test_question_words_join_word_pieces():
    assert question_words(("how", "many", "py", "##ong", "##yang", "troops")) == [
        ("how", [0]),
        ("many", [1]),
        ("pyongyang", [2, 3, 4]),
        ("troops", [5]),
    ]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How many troops were trained?", "3,000 troops were trained.", 1.0),
        ("How many troops were trained?", "Troops were trained.", 0.0),
        ("When did they sign the deal?", "They signed it in June.", 1.0),
        ("When did they sign the deal?", "They signed it.", 0.0),
        ("Who leads Sibylline?", "Justin Crump heads Sibylline.", 1.0),
        ("Who leads Sibylline?", "the firm is led by a former officer.", 0.0),
        ("What is Ukraine doing?", "3,000 troops.", 0.0),
    ],
)
def test_answer_type_match(question, sentence, expected):
    assert answer_type_match(parse_question(question), sentence) == expected
