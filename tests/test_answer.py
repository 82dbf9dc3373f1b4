from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag import RagError
from rag.answer import NO_ANSWER, AnswerSettings, Assistant, ask
from rag.answer.scoring import embedding_free_score

from .conftest import check_answer

TROOPS = "How many North Korean troops were being trained before being sent to Ukraine?"


@pytest.fixture(scope="module")
def assistant(sample_index):
    return Assistant(sample_index)


def test_troops_question_cites_the_3000_sentence(assistant, sample_index):
    answer = assistant.ask(TROOPS)
    check_answer(answer, sample_index)
    assert not answer.abstained
    first = answer.citations[0]
    assert "3,000 North Korean troops were being trained" in first.quote
    assert first.title.startswith("Officials Say North Korea Has Sent Troops to Russia")
    assert 1 <= len(answer.citations) <= 3


def test_crump_question_cites_his_quote(assistant, sample_index):
    answer = assistant.ask("What did Justin Crump say about why Russia would need North Korean soldiers?")
    check_answer(answer, sample_index)
    assert any("You don’t get thousands of soldiers from North Korea" in c.quote for c in answer.citations)


def test_trump_age_cites_the_78_year_old_sentence(assistant, sample_index):
    answer = assistant.ask("How old is Donald Trump?")
    check_answer(answer, sample_index)
    assert any(c.quote.startswith("The 78-year-old") for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    ["What is the boiling point of mercury?", "Who painted the Mona Lisa?", "What is the capital of Peru?"],
)
def test_unanswerable_questions_abstain_and_show_closest_matches(assistant, sample_index, question):
    answer = assistant.ask(question)
    check_answer(answer, sample_index)
    assert answer.abstained and answer.text == NO_ANSWER and answer.citations == ()
    assert 1 <= len(answer.closest) <= 3


def test_follow_up_uses_the_conversation(assistant, sample_index):
    first = assistant.ask(TROOPS)
    for history in (
        [first],
        [(TROOPS, first.text)],
        [{"role": "user", "content": TROOPS}, {"role": "assistant", "content": first.text}],
    ):
        answer = assistant.ask("Where were they arriving?", history=history)
        check_answer(answer, sample_index)
        assert answer.search_query.startswith("Where were they arriving?") and TROOPS in answer.search_query
        assert "arriving in Russia’s Kursk region" in answer.citations[0].quote


def test_a_new_topic_is_not_mixed_with_the_last_one(assistant):
    first = assistant.ask(TROOPS)
    answer = assistant.ask("How old is Donald Trump?", history=[first])
    assert answer.search_query == "How old is Donald Trump?"
    assert any(c.quote.startswith("The 78-year-old") for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \n\t ", "empty"), ("x" * 2001, "limit is 2,000"), ("?!...", "no words"), (None, "text")],
)
def test_bad_questions_get_a_clear_error(assistant, question, message):
    with pytest.raises(RagError, match=message):
        assistant.ask(question)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 100_000}, r"k \(passages retrieved\) is 100000; give a whole number from 1 to 50"),
        ({"k": -1}, "k .* is -1"),
        ({"k": 2.5}, "k .* is 2.5"),
        ({"max_sentences": -5}, r"sentences \(most sentences quoted\) is -5; .* from 1 to 5"),
        ({"max_sentences": 6}, "sentences .* is 6"),
        ({"history": [{"role": "user", "content": "Where?"}] * 200}, "history has 200 messages; at most 100"),
        ({"history": "Where were they?"}, "history must be a list"),
    ],
)
def test_out_of_range_options_are_refused_naming_the_option(assistant, options, message):
    with pytest.raises(RagError, match=message):
        assistant.ask(TROOPS, **options)
    assert assistant.ask(TROOPS, k=50, max_sentences=5, history=[]).citations  # the ends of the ranges are fine


def test_max_sentences_and_timing(assistant):
    answer = assistant.ask(TROOPS, max_sentences=1)
    assert len(answer.citations) == 1
    assert answer.timings["total_ms"] > 0


def test_module_level_ask_keeps_the_index_open(sample_index):
    folder = sample_index.store.folder
    first = ask("How old is Donald Trump?", index=folder)
    second = ask("How old is Donald Trump?", index=folder)
    assert first.citations == second.citations


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(min_size=0, max_size=300))
def test_any_question_gives_an_answer_or_a_clear_error(assistant, sample_index, question):
    try:
        answer = assistant.ask(question)
    except RagError as exc:
        assert str(exc)
        return
    check_answer(answer, sample_index)


def test_only_the_best_sentences_by_the_embedding_free_score_are_embedded(sample_index):
    question = "Why would Russia need soldiers from North Korea?"
    settings = AnswerSettings(scored_sentences=3, lexical_sentences=0)
    assistant = Assistant(sample_index, settings)
    evidence = assistant.rank_sentences(question)
    assert len(evidence.sentences) == 3
    everything = Assistant(sample_index, AnswerSettings(scored_sentences=1000)).rank_sentences(question).sentences
    assert len(everything) > 3
    cut = sorted(embedding_free_score(c, settings.weights) for c in everything)[-3]
    assert all(embedding_free_score(c, settings.weights) >= cut for c in evidence.sentences)
    assert len(assistant.scorer._sentence_vectors) == 3  # the others were never embedded


def test_one_assistant_answers_from_several_threads(sample_index, monkeypatch):
    monkeypatch.setattr("rag.answer.scoring.SENTENCE_CACHE", 4)  # every question evicts the others' sentences
    assistant = Assistant(sample_index)
    questions = [TROOPS, "How old is Donald Trump?", "What did Justin Crump say?", "Where is Kursk?"] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(assistant.ask, questions))
    for question, answer in zip(questions, answers):
        check_answer(answer, sample_index)
        assert answer.citations == assistant.ask(question).citations


NK_TITLE = "Officials Say North Korea Has Sent Troops to Russia"


@pytest.fixture(scope="module")
def dated(tmp_path_factory, embedder):
    """The sample articles, the North Korea one with its publication date (Wednesday 23 October 2024;
    the dump itself carries none) and the Trump one undated."""
    from dataclasses import replace

    from rag import Index, Settings
    from rag.datasets import write_jsonl
    from rag.parse import parse_file

    from .conftest import SAMPLE

    folder = tmp_path_factory.mktemp("dated")
    articles = [
        replace(a, published="2024-10-23") if a.title.startswith(NK_TITLE) else a
        for path in sorted(SAMPLE.glob("*.txt"))
        for a in parse_file(path).articles
    ]
    index = Index(Settings(index_dir=folder / "index"), create=True, embedder=embedder)
    index.ingest([write_jsonl(articles, folder / "sample.jsonl")])
    yield Assistant(index)
    index.close()


def test_nothing_published_after_the_as_of_date_is_cited(dated):
    question = "How many North Korean troops were being trained before being sent to Ukraine?"
    before = dated.ask(question, as_of="2024-10-22")
    check_answer(before, dated.index)
    assert before.as_of == "2024-10-22"
    assert not any(c.title.startswith(NK_TITLE) for c in (*before.citations, *before.closest))
    after = dated.ask(question, as_of="2024-10-23")
    assert after.citations and after.citations[0].title.startswith(NK_TITLE)


def test_undated_articles_are_read_whatever_the_as_of_date(dated):
    answer = dated.ask("How old is Donald Trump?", as_of="2001-01-01")
    assert answer.citations and "78-year-old" in answer.citations[0].quote  # the Trump article has no date


def test_the_question_s_time_words_are_days_before_the_as_of_date(dated):
    answer = dated.ask("What did Zelenskyy tell reporters on Monday?", as_of="2024-10-25")
    check_answer(answer, dated.index)
    assert answer.time_frame == "2024-10-21 (“on Monday”)" and not answer.notice
    assert "Zelenskyy told reporters Monday" in answer.citations[0].quote
    assert "2024-10-21" in answer.citations[0].dates  # "Monday" of an article of Wednesday 23 October


def test_nothing_in_the_asked_days_says_so_and_answers_from_other_dates(dated):
    answer = dated.ask("How many North Korean troops were being trained last week?", as_of="2024-12-04")
    assert answer.time_frame == ""
    assert answer.notice.startswith("Nothing published 2024-11-25 to 2024-12-01 (“last week”) answers this")
    assert answer.citations and "3,000" in answer.citations[0].quote


def test_an_explicit_date_filter_wins_over_the_question_s_words(dated):
    from rag import Filters

    filters = Filters(date_from="2024-10-01", date_to="2024-10-31")
    answer = dated.ask("What did Zelenskyy say this week?", filters=filters, as_of="2024-12-04")
    assert answer.time_frame == "" and not answer.notice
    assert answer.citations and any("Zelenskyy" in c.quote for c in answer.citations)


def test_reports_of_different_dates_that_differ_come_newest_first_with_their_dates(make_index, tmp_path):
    import json

    seoul = (
        "Seoul's spy agency said 3,000 North Korean troops were in Kursk. "
        "The agency briefed lawmakers in a closed session on Monday. Pyongyang denied sending anyone."
    )
    kyiv = (
        "Ukraine's defence intelligence said 12,000 North Korean troops were in Kursk. "
        "Its chief gave the figure in a televised interview. Moscow did not comment on the claim."
    )
    reports = [("Seoul counts troops in Kursk", "2024-10-21", seoul), ("Kyiv raises its estimate", "2024-10-28", kyiv)]
    path = tmp_path / "reports.jsonl"
    path.write_text("".join(json.dumps({"title": t, "published": d, "text": x}) + "\n" for t, d, x in reports))
    index = make_index()
    index.ingest([path])
    answer = Assistant(index).ask("How many North Korean troops were in Kursk?", as_of="2024-11-01")
    check_answer(answer, index)
    assert answer.differ
    assert [c.published for c in answer.citations] == ["2024-10-28", "2024-10-21"]
    assert "12,000 according to" in answer.text
    assert "(2024-10-28) [1]" in answer.text and "(2024-10-21) [2]" in answer.text


def _reports(make_index, tmp_path, reports):
    import json

    path = tmp_path / "reports.jsonl"
    path.write_text("".join(json.dumps({"title": t, "published": d, "source": o, "text": x}) + "\n"
                            for t, d, o, x in reports))
    index = make_index()
    index.ingest([path])
    return index


SET_FOR_MAY = (
    "Harbour referendum set for May", "2024-03-01", "Coast Herald",
    "The harbour referendum will be held on May 5, the electoral commission said. Campaigning starts next month.",
)


def test_reports_that_give_different_dates_come_newest_first_with_the_date_each_gives(make_index, tmp_path):
    index = _reports(make_index, tmp_path, [
        ("Harbour referendum set for May", "2024-03-01", "Coast Herald",
         "The harbour referendum will be held on May 5, the electoral commission said. "
         "Campaigning starts next month. Both sides have hired organisers."),
        ("Harbour referendum moved", "2024-03-20", "Daily Courier",
         "The harbour referendum will be held on June 12 after a court ruling, the electoral commission said. "
         "The commission blamed the delay on a dispute over the ballot's wording."),
    ])
    answer = Assistant(index).ask("When will the harbour referendum be held?", as_of="2024-04-01")
    check_answer(answer, index)
    assert answer.differ and answer.text.startswith("Reports differ: ")
    assert [(c.published, c.value) for c in answer.citations] == [("2024-03-20", "2024-06-12"),
                                                                  ("2024-03-01", "2024-05-05")]
    assert "2024-06-12 according to Daily Courier (2024-03-20) [1]" in answer.text
    assert "2024-05-05 according to Coast Herald (2024-03-01) [2]" in answer.text
    from rag.export import attribution_line

    assert attribution_line(answer.citations[0]).startswith("date given: 2024-06-12")


def test_reports_that_give_the_same_day_in_other_words_agree(make_index, tmp_path):
    index = _reports(make_index, tmp_path, [
        SET_FOR_MAY,
        ("Harbour referendum this Sunday", "2024-05-01", "Daily Courier",  # a Wednesday: Sunday is May 5
         "The harbour referendum will be held on Sunday, the electoral commission said. "
         "Polling stations open at seven."),
    ])
    answer = Assistant(index).ask("When will the harbour referendum be held?", as_of="2024-05-02")
    check_answer(answer, index)
    assert not answer.differ and not answer.text.startswith("Reports differ")
    assert {d for c in answer.citations for d in c.dates} == {"2024-05-05"}


def test_the_days_reports_were_made_on_are_no_disagreement(make_index, tmp_path):
    index = _reports(make_index, tmp_path, [
        ("Harbour referendum date open", "2024-03-05", "Coast Herald",
         "When the harbour referendum will be held is still open, the electoral commission said on Tuesday."),
        ("No date yet for harbour referendum", "2024-03-07", "Daily Courier",
         "When the harbour referendum will be held has not been decided, the electoral commission said on Thursday."),
    ])
    answer = Assistant(index).ask("When will the harbour referendum be held?", as_of="2024-04-01")
    check_answer(answer, index)
    assert not answer.differ



LOPEZ_TO_LEAD = (
    "Harbour commission gets a chair", "2024-03-01", "Coast Herald",
    "Maria Lopez will chair the new harbour commission, the port authority said. "
    "The commission meets for the first time in April.",
)


def test_reports_that_name_different_people_come_newest_first_with_the_name_each_gives(make_index, tmp_path):
    index = _reports(make_index, tmp_path, [
        LOPEZ_TO_LEAD,
        ("New chair for harbour commission", "2024-03-20", "Daily Courier",
         "Daniel Okafor will chair the new harbour commission, the port authority said. "
         "The authority gave no reason for the change."),
    ])
    answer = Assistant(index).ask("Who will chair the new harbour commission?", as_of="2024-04-01")
    check_answer(answer, index)
    assert answer.differ and answer.text.startswith("Reports differ: ")
    assert [(c.published, c.value) for c in answer.citations] == [("2024-03-20", "Daniel Okafor"),
                                                                  ("2024-03-01", "Maria Lopez")]
    assert "Daniel Okafor according to Daily Courier (2024-03-20) [1]" in answer.text
    from rag.export import attribution_line

    assert attribution_line(answer.citations[0]).startswith("name given: Daniel Okafor")


def test_reports_naming_the_same_person_agree_and_so_do_places_in_other_words(make_index, tmp_path):
    index = _reports(make_index, tmp_path, [
        LOPEZ_TO_LEAD,
        ("Harbour commission chair confirmed", "2024-03-20", "Daily Courier",
         "Lopez will chair the new harbour commission from April, Mayor Ana Ruiz said on Monday. "
         "Councillors approved her appointment."),
    ])
    answer = Assistant(index).ask("Who will chair the new harbour commission?", as_of="2024-04-01")
    check_answer(answer, index)
    assert not answer.differ  # "Lopez" is "Maria Lopez"; the mayor who said it, her title and the day are not answers
    assert "Maria Lopez" in answer.text or "Lopez" in answer.citations[0].quote


@pytest.mark.parametrize(("first", "other", "question", "said"), [
    pytest.param(
        SET_FOR_MAY,
        ("Ferry timetable changes", "2024-03-20", "Daily Courier",
         "The new ferry timetable will start on June 12, the harbour office said. Evening crossings are cut."),
        "When will the harbour referendum be held?", "May 5", id="a date",
    ),
    pytest.param(
        LOPEZ_TO_LEAD,
        ("Ferry board appoints director", "2024-03-20", "Daily Courier",
         "Daniel Okafor will run the ferry board's new timetable office, the port authority said. "
         "Evening crossings are cut."),
        "Who will chair the new harbour commission?", "Maria Lopez", id="a name",
    ),
])
def test_a_date_or_name_of_something_else_is_no_disagreement(make_index, tmp_path, first, other, question, said):
    index = _reports(make_index, tmp_path, [first, other])
    answer = Assistant(index).ask(question, as_of="2024-04-01")
    check_answer(answer, index)
    assert not answer.differ
    assert answer.citations[0].published == "2024-03-01" and said in answer.citations[0].quote


def test_places_that_differ_are_reports_that_differ(make_index, tmp_path):
    index = _reports(make_index, tmp_path, [
        ("Trade summit venue chosen", "2024-02-10", "Coast Herald",
         "The regional trade summit will take place in Geneva in June, organisers said. Delegations register in May."),
        ("Trade summit moves", "2024-04-02", "Daily Courier",
         "The regional trade summit will take place in Vienna in June, organisers said. The move surprised members."),
    ])
    answer = Assistant(index).ask("Where will the regional trade summit take place?", as_of="2024-04-10")
    check_answer(answer, index)
    assert answer.differ
    assert [c.value for c in answer.citations] == ["Vienna", "Geneva"]


@pytest.mark.parametrize(
    ("other", "question"),
    [
        # the same person, written by surname alone, beside another capitalised word
        ("Lopez, a former Navy officer, will chair the new harbour commission. Councillors approved her.",
         "Who will chair the new harbour commission?"),
        # a nationality is not a name given for the chair
        ("A Spanish engineer will chair the new harbour commission, the port authority said. Her name was withheld.",
         "Who will chair the new harbour commission?"),
        # the subject named in a report made in other words
        ("Lopez will be appointed to chair the new harbour commission by Mayor Ana Ruiz. Councillors approved.",
         "Who will chair the new harbour commission?"),
        # a question about a person, not one asking for a name
        ("Maria Lopez is an engineer who led the Madrid metro expansion. She was born in Seville.",
         "Who is Maria Lopez?"),
    ],
)
def test_names_that_are_not_other_answers_are_no_disagreement(make_index, tmp_path, other, question):
    index = _reports(make_index, tmp_path, [
        ("Harbour commission chair", "2024-03-01", "Coast Herald",
         "Maria Lopez will chair the new harbour commission, the port authority said. "
         "Maria Lopez is a former Navy officer who ran the port of Valencia."),
        ("Harbour commission chair named", "2024-03-20", "Daily Courier", other),
    ])
    answer = Assistant(index).ask(question, as_of="2024-04-01")
    check_answer(answer, index)
    assert not answer.differ and not answer.text.startswith("Reports differ")
