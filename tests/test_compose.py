"""Answer composition by the question's kind: statements, figures, focus, near misses."""

import json

import numpy as np
import pytest

from rag.answer import Assistant
from rag.answer.clues import figures
from rag.answer.compose import ComposeSettings, compose
from rag.answer.question import parse_question
from rag.answer.scoring import ScoredSentence

from .conftest import SAMPLE, check_answer

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
    settings = ComposeSettings(threshold=0.0, near_miss_weights=())  # not the near-miss check
    question = parse_question("How were the troops trained?")
    pick = lambda ranked: compose(question, ranked, assistant.scorer, settings).chosen  # noqa: E731
    assert pick([best, twin, overlap, other, weak]) == [best, other]
    assert pick([best, weak]) == [best]


def _sentence(text: str, assistant) -> ScoredSentence:
    passage = assistant.index.search(TROOPS, k=1)[0]
    return ScoredSentence(passage.article_id, 0, len(text), text, passage, 1, score=3.0)


@pytest.mark.parametrize(
    ("text", "thing", "expected"),
    [
        ("South Korea’s spy chief said 3,000 North Korean troops were being trained.", "troops", ["3,000"]),
        ("North Korea has sent over 13,000 containers of artillery to Russia.", "troops", []),
        (
            "“We don’t know whether we are talking about 1,500 or 12,000, or which soldiers,” he said.",
            "troops",
            ["1,500 or 12,000"],
        ),
        ("Trump is out on bail in two criminal cases.", "cases", ["two"]),
        ("He was impeached twice, found liable in fraud.", "times", ["twice"]),
        ("He was impeached twice, found liable in fraud.", "troops", []),
        ("In 2023 the troops went home.", "troops", []),  # a year is not a count
        ("You don’t get thousands of soldiers from North Korea.", "troops", []),  # no figure
        ("There are 750 MEPs in the Parliament.", "meps", ["750"]),
    ],
)
def test_figures_count_only_the_thing_asked_about(assistant, text, thing, expected):
    assert figures(_sentence(text, assistant), thing, assistant.scorer, ComposeSettings()) == expected


def test_what_someone_said_quotes_their_whole_statement(assistant, sample_index):
    answer = assistant.ask("What did John Healey say?")
    check_answer(answer, sample_index)
    assert answer.kind == "attribution"
    assert [c.speaker for c in answer.citations] == ["John Healey", "John Healey"]
    assert "not just a concern" in answer.citations[0].quote
    assert "indivisible link with security concerns in the Indo-Pacific" in answer.citations[1].quote


def test_statements_are_the_speakers_own_never_padding(assistant, sample_index):
    answer = assistant.ask("What did Pistorius say?")
    check_answer(answer, sample_index)
    assert answer.citations and all(c.speaker == "Boris Pistorius" for c in answer.citations)
    assert "1,500 or 12,000" in answer.citations[0].quote


def test_who_said_names_the_speaker(assistant, sample_index):
    answer = assistant.ask("Who said Ukraine is wearing down the Russian army?")
    check_answer(answer, sample_index)
    assert answer.text.startswith("Justin Crump: ")
    assert all(c.speaker == "Justin Crump" for c in answer.citations)


def test_reports_that_differ_are_listed_with_who_gave_each_figure(assistant, sample_index):
    answer = assistant.ask("How many North Korean troops are in Russia?")
    check_answer(answer, sample_index)
    assert answer.differ and answer.text.startswith("Reports differ: ")
    assert {(c.value, c.speaker) for c in answer.citations} == {
        ("3,000", "South Korea’s spy chief"),
        ("10,000", "Glib Voloskyi"),
        ("1,500 or 12,000", "Boris Pistorius"),
    }
    assert not any("13,000 containers" in c.quote for c in answer.citations)


def test_a_specific_figure_question_gets_one_figure(assistant, sample_index):
    answer = assistant.ask(TROOPS)
    check_answer(answer, sample_index)
    assert not answer.differ
    assert [c.value for c in answer.citations][:1] == ["3,000"]


def test_an_explainer_heading_that_asks_the_question_leads(assistant, sample_index):
    answer = assistant.ask("Why does Russia need North Korea?")
    check_answer(answer, sample_index)
    assert answer.kind == "explanation"
    heading_section = ("deepened their military cooperation", "signed a defense deal")
    assert any(part in answer.citations[0].quote for part in heading_section)


def test_someone_the_articles_do_not_quote(assistant, sample_index):
    answer = assistant.ask("What did Kim Jong Un say about sending troops?")
    check_answer(answer, sample_index)
    assert answer.abstained and "Kim Jong Un" in answer.unstated


def test_a_date_in_the_question_finds_what_the_article_said_on_that_weekday(make_index, tmp_path):
    from rag.parse import parse_file

    (article,) = [a for a in parse_file(SAMPLE / "000_9df642e36ad14cf8.txt").articles if "Troops" in a.title]
    dated = tmp_path / "dated.jsonl"
    record = {"title": article.title, "text": article.text, "published": "2024-10-23"}  # a Wednesday
    dated.write_text(json.dumps(record) + "\n")
    index = make_index()
    index.ingest([dated])
    answer = Assistant(index).ask("What happened on October 23, 2024?")
    check_answer(answer, index)
    assert answer.kind == "event"
    assert any("Wednesday" in c.quote and "2024-10-23" in c.dates for c in answer.citations)


def test_a_follow_up_asks_about_the_person_of_the_question_before(assistant, sample_index):
    first = assistant.ask("What did Boris Pistorius say?")
    answer = assistant.ask("What did he say about escalation?", history=[first])
    check_answer(answer, sample_index)
    assert answer.citations and all(c.speaker == "Boris Pistorius" for c in answer.citations)


def test_reports_that_agree_do_not_differ(assistant):
    def sentence(text, start):
        candidate = _sentence(text, assistant)
        candidate.start, candidate.end = start, start + len(text)
        return candidate

    question = parse_question("How many troops were sent?")
    agree = [sentence("They sent 3,000 troops and 500 troops died.", 0), sentence("It sent 3,000 troops.", 100)]
    settings = ComposeSettings(threshold=0.0, near_miss_weights=())  # not the near-miss check
    composition = compose(question, agree, assistant.scorer, settings)
    assert not composition.differ and composition.values == {0: "3,000 or 500", 1: "3,000"}
    disagree = [sentence("They sent 3,000 troops.", 0), sentence("It sent 10,000 troops.", 100)]
    composition = compose(question, disagree, assistant.scorer, settings)
    assert composition.differ and composition.values == {0: "3,000", 1: "10,000"}


@pytest.mark.parametrize(
    "question",
    ["How much did Trump's campaign raise?"],
)
def test_a_near_miss_says_what_the_articles_do_not_say(assistant, sample_index, question):
    answer = assistant.ask(question)
    check_answer(answer, sample_index)
    assert answer.abstained and answer.unstated.startswith("anything about “")
    assert answer.closest  # what the articles do say, shown as the closest matches


def test_near_miss_features_are_what_the_model_weighs():
    from rag.answer.compose import NEAR_MISS_FEATURES

    assert len(ComposeSettings().near_miss_weights) == len(NEAR_MISS_FEATURES) + 1  # and a bias


def test_a_light_stem_joins_the_forms_of_a_word():
    from rag.answer.clues import stem

    assert stem("paying") == stem("pays") == stem("pay")
    assert stem("founded") == stem("founding") == stem("founders")[:5]
    assert stem("born") == "born" and stem("birth") != stem("born")


def _feature(question, assistant, name):
    from rag.answer.compose import NEAR_MISS_FEATURES, near_miss_features

    evidence = assistant.rank_sentences(question)
    return near_miss_features(evidence.question, evidence.sentences, assistant.scorer)[NEAR_MISS_FEATURES.index(name)]


def test_the_word_asked_about_beyond_the_topic_must_be_written_near_the_best_sentence(assistant):
    # "paying": the articles name no payment; "trained" is in the sentence that answers
    every_word = "every asked word in the best sentence or a neighbour"
    assert _feature("How much is Russia paying North Korea for the troops?", assistant, every_word) == 0.0
    assert _feature(TROOPS, assistant, every_word) == 1.0


def test_a_name_the_articles_never_write_counts_as_missing(assistant):
    missing = "names of the question missing around the top three"
    assert _feature("How has China reacted to North Korea sending troops to Russia?", assistant, missing) == 1.0
    assert _feature("How has Zelenskyy reacted to North Korea sending troops to Russia?", assistant, missing) == 0.0


def test_around_gives_the_sentences_beside_one(assistant):
    from rag.answer.clues import around

    evidence = assistant.rank_sentences(TROOPS)
    best = evidence.sentences[0]
    text, facts = assistant.scorer.article(best.article_id)
    beside = around(best, assistant.scorer)
    assert beside[0] == best.text and 2 <= len(beside) <= 3
    assert all(sentence in text and sentence != best.text for sentence in beside[1:])


def test_a_near_miss_names_what_the_articles_never_mention(assistant):
    evidence = assistant.rank_sentences("How has China reacted to North Korea sending troops to Russia?")
    every_question_a_near_miss = ComposeSettings(near_miss_cut=1.0)
    composition = compose(evidence.question, evidence.sentences, assistant.scorer, every_question_a_near_miss)
    assert not composition.chosen and composition.unstated == "anything about “China”"
