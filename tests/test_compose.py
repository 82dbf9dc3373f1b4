"""Answer composition by the question's kind: statements, figures, focus, near misses."""

import numpy as np
import pytest

from rag.answer import Assistant
from rag.compose import ComposeSettings, compose
from rag.question import parse_question
from rag.score import ScoredSentence

TROOPS = "How many North Korean troops were being trained before being sent to Ukraine?"


@pytest.fixture(scope="module")
def assistant(sample_index):
    return Assistant(sample_index)


def test_near_duplicates_and_overlaps_are_not_quoted_twice(assistant, sample_index):
    passage = sample_index.search(TROOPS, k=1)[0]
    (s1, e1), (s2, e2) = passage.sentences[:2]

    def sentence(start, end, score, vector):
        text = passage.text[start - passage.start : end - passage.start]
        return ScoredSentence(passage.article_id, start, end, text, passage, 1, score=score, vector=np.array(vector))

    best = sentence(s1, e1, 3.0, [1.0, 0.0])
    twin = sentence(s2, e2, 2.9, [0.995, 0.0998])  # cosine 0.995 with the best
    overlap = sentence(s1, e2, 2.8, [0.0, 1.0])  # overlaps both
    other = sentence(s2, e2, 2.7, [0.6, 0.8])  # cosine 0.6: distinct enough
    weak = sentence(s2, e2, 1.0, [0.0, 1.0])  # under the keep ratio
    settings = ComposeSettings(threshold=0.0)
    question = parse_question("How were the troops trained?")
    pick = lambda ranked: compose(question, ranked, assistant.scorer, settings).chosen  # noqa: E731
    assert pick([best, twin, overlap, other, weak]) == [best, other]
    assert pick([best, weak]) == [best]
