"""Time words in questions as date ranges, relative to the as-of date.

Every expected range below was worked out by hand from a calendar, not taken from the code's output.
The as-of date is Wednesday 23 October 2024 unless a row says otherwise (Monday 21 is the week's
first day; Saturday 19 and Sunday 20 the weekend before).
"""

import datetime as dt
import json

import pytest

from rag.answer.timeframe import RecencyPrior, TimeFrame, read_time_frame

WED = dt.date(2024, 10, 23)
SUN = dt.date(2024, 10, 27)
JAN = dt.date(2025, 1, 10)  # a Friday early in a year

RANGES = [
    # days
    ("What happened today?", WED, "2024-10-23", "2024-10-23"),
    ("What did the minister say yesterday?", WED, "2024-10-22", "2024-10-22"),
    ("What was announced last night?", WED, "2024-10-22", "2024-10-22"),
    ("Who spoke tonight?", WED, "2024-10-23", "2024-10-23"),
    ("What happened on Tuesday?", WED, "2024-10-22", "2024-10-22"),
    ("what happened on tuesday", WED, "2024-10-22", "2024-10-22"),
    ("What did Zelensky say on Monday?", WED, "2024-10-21", "2024-10-21"),
    ("What happened on Wednesday?", WED, "2024-10-23", "2024-10-23"),
    ("What happened on Thursday?", WED, "2024-10-17", "2024-10-17"),
    ("Who won on Friday?", WED, "2024-10-18", "2024-10-18"),
    ("What was agreed on Saturday?", WED, "2024-10-19", "2024-10-19"),
    ("What happened Sunday in Kyiv?", WED, "2024-10-20", "2024-10-20"),
    ("What happened last Wednesday?", WED, "2024-10-16", "2024-10-16"),
    ("What happened last Monday?", WED, "2024-10-21", "2024-10-21"),
    ("Did they meet last Friday?", WED, "2024-10-18", "2024-10-18"),
    ("What happened on Sunday?", SUN, "2024-10-27", "2024-10-27"),
    ("What happened on Saturday?", SUN, "2024-10-26", "2024-10-26"),
    ("What happened last Sunday?", SUN, "2024-10-20", "2024-10-20"),
    ("What happened on Monday?", SUN, "2024-10-21", "2024-10-21"),
    ("What happened yesterday?", JAN, "2025-01-09", "2025-01-09"),
    ("What happened on Tuesday?", JAN, "2025-01-07", "2025-01-07"),
    # exact days
    ("What happened on October 20?", WED, "2024-10-20", "2024-10-20"),
    ("What happened on Oct. 20?", WED, "2024-10-20", "2024-10-20"),
    ("What happened on 20 October?", WED, "2024-10-20", "2024-10-20"),
    ("What happened on the 1st of October?", WED, "2024-10-01", "2024-10-01"),
    ("What happened on October 1, 2024?", WED, "2024-10-01", "2024-10-01"),
    ("What happened on 2024-10-01?", WED, "2024-10-01", "2024-10-01"),
    ("What happened on 1 October 2024?", WED, "2024-10-01", "2024-10-01"),
    ("What happened on 01.10.2024?", WED, "2024-10-01", "2024-10-01"),
    ("What happened on 10/01/2024?", WED, "2024-10-01", "2024-10-01"),
    ("What happened on Dec 25?", WED, "2023-12-25", "2023-12-25"),
    ("What happened on December 31?", JAN, "2024-12-31", "2024-12-31"),
    ("What happened on January 3?", JAN, "2025-01-03", "2025-01-03"),
    ("What happened on March 4, 2022?", WED, "2022-03-04", "2022-03-04"),
    ("What happened on Friday, March 4, 2022?", WED, "2022-03-04", "2022-03-04"),
    ("What did Biden say on July 21, 2024?", WED, "2024-07-21", "2024-07-21"),
    # weeks
    ("What happened this week?", WED, "2024-10-21", "2024-10-23"),
    ("What did Russia say this week?", SUN, "2024-10-21", "2024-10-27"),
    ("What happened last week?", WED, "2024-10-14", "2024-10-20"),
    ("What happened last week?", JAN, "2024-12-30", "2025-01-05"),
    ("What happened earlier this week?", WED, "2024-10-21", "2024-10-23"),
    ("What happened in the past week?", WED, "2024-10-16", "2024-10-23"),
    ("What happened over the last week?", WED, "2024-10-16", "2024-10-23"),
    ("What happened in the past two weeks?", WED, "2024-10-09", "2024-10-23"),
    ("What happened in the last 2 weeks?", WED, "2024-10-09", "2024-10-23"),
    ("What happened a week ago?", WED, "2024-10-13", "2024-10-19"),
    ("What happened two weeks ago?", WED, "2024-10-06", "2024-10-12"),
    ("What happened over the weekend?", WED, "2024-10-19", "2024-10-20"),
    ("What happened at the weekend?", WED, "2024-10-19", "2024-10-20"),
    ("What happened this weekend?", SUN, "2024-10-26", "2024-10-27"),
    ("What happened last weekend?", SUN, "2024-10-19", "2024-10-20"),
    ("What happened last weekend?", WED, "2024-10-19", "2024-10-20"),
    # days counted back
    ("What happened three days ago?", WED, "2024-10-20", "2024-10-20"),
    ("What happened 2 days ago?", WED, "2024-10-21", "2024-10-21"),
    ("What happened in the last three days?", WED, "2024-10-20", "2024-10-23"),
    ("What happened in the past few days?", WED, "2024-10-20", "2024-10-23"),
    ("What happened over the past couple of days?", WED, "2024-10-21", "2024-10-23"),
    ("What happened in the past 10 days?", WED, "2024-10-13", "2024-10-23"),
    ("What happened within the last day?", WED, "2024-10-22", "2024-10-23"),
    # months
    ("What happened this month?", WED, "2024-10-01", "2024-10-23"),
    ("What happened last month?", WED, "2024-09-01", "2024-09-30"),
    ("What happened last month?", JAN, "2024-12-01", "2024-12-31"),
    ("What happened earlier this month?", WED, "2024-10-01", "2024-10-23"),
    ("What happened in June?", WED, "2024-06-01", "2024-06-30"),
    ("what happened in june", WED, "2024-06-01", "2024-06-30"),
    ("What happened in October?", WED, "2024-10-01", "2024-10-23"),
    ("What happened in November?", WED, "2023-11-01", "2023-11-30"),
    ("What happened in December?", JAN, "2024-12-01", "2024-12-31"),
    ("What happened in May?", WED, "2024-05-01", "2024-05-31"),
    ("What happened in March?", WED, "2024-03-01", "2024-03-31"),
    ("What happened last June?", WED, "2024-06-01", "2024-06-30"),
    ("What happened in early June?", WED, "2024-06-01", "2024-06-30"),
    ("What happened in June 2022?", WED, "2022-06-01", "2022-06-30"),
    ("What happened in Sept. 2023?", WED, "2023-09-01", "2023-09-30"),
    ("What happened in the past month?", WED, "2024-09-23", "2024-10-23"),
    ("What happened in the last two months?", WED, "2024-08-24", "2024-10-23"),
    ("What happened two months ago?", WED, "2024-08-09", "2024-09-08"),
    ("What happened a month ago?", WED, "2024-09-08", "2024-10-08"),
    # years
    ("What happened this year?", WED, "2024-01-01", "2024-10-23"),
    ("What happened so far this year?", WED, "2024-01-01", "2024-10-23"),
    ("What happened earlier this year?", WED, "2024-01-01", "2024-10-23"),
    ("What happened last year?", WED, "2023-01-01", "2023-12-31"),
    ("What happened last year?", JAN, "2024-01-01", "2024-12-31"),
    ("What happened in 2022?", WED, "2022-01-01", "2022-12-31"),
    ("What happened in 1998?", WED, "1998-01-01", "1998-12-31"),
    ("Who won the 2016 election?", WED, "2016-01-01", "2016-12-31"),
    ("What happened in the 1990s?", WED, "1990-01-01", "1999-12-31"),
    ("What happened in the past year?", WED, "2023-10-24", "2024-10-23"),
    ("What happened a year ago?", WED, "2023-04-25", "2024-04-23"),
    # open ranges
    ("What has happened since March?", WED, "2024-03-01", "2024-10-23"),
    ("What has happened since 2020?", WED, "2020-01-01", "2024-10-23"),
    ("What has changed since Monday?", WED, "2024-10-21", "2024-10-23"),
    ("What has happened since June 2022?", WED, "2022-06-01", "2024-10-23"),
    ("What happened after June?", WED, "2024-07-01", "2024-10-23"),
    ("What happened after 2022?", WED, "2023-01-01", "2024-10-23"),
    ("What happened before 2020?", WED, None, "2019-12-31"),
    ("What happened before June?", WED, None, "2024-05-31"),
    ("What happened until June?", WED, None, "2024-06-30"),
    ("What had happened by March 2023?", WED, None, "2023-03-31"),
    ("What happened up to 2021?", WED, None, "2021-12-31"),
    ("What happened prior to 2019?", WED, None, "2018-12-31"),
    # between two dates
    ("What happened between June and August?", WED, "2024-06-01", "2024-08-31"),
    ("What happened between Monday and Wednesday?", WED, "2024-10-21", "2024-10-23"),
    ("What happened from May to July?", WED, "2024-05-01", "2024-07-31"),
    ("What happened between 2019 and 2021?", WED, "2019-01-01", "2021-12-31"),
    ("What did they agree between 1 June and 3 July 2024?", WED, "2024-06-01", "2024-07-03"),
]


@pytest.mark.parametrize(("question", "as_of", "date_from", "date_to"), RANGES)
def test_time_words_become_a_date_range(question, as_of, date_from, date_to):
    frame = read_time_frame(question, as_of)
    assert (frame.date_from, frame.date_to) == (date_from, date_to)
    assert frame.expression and frame.expression.lower() in question.lower().replace("…", "")


def test_there_are_at_least_a_hundred_expressions():
    assert len(RANGES) >= 100


NO_RANGE = [
    "What did Pistorius say about the troops?",
    "How many troops does North Korea have in Russia?",
    "What has happened since the election?",  # names no calendar date
    "What happened after the summit?",
    "What happened in the morning?",
    "Who is on the ground in Kursk?",
    "May the troops return home?",  # "May" the verb
    "Why did the troops march through the city?",  # "march" the verb
    "How many of the 2,000 troops were trained?",  # a count, not a year
    "What did the Sunday Times report?",  # a name, not a day
    "What will happen next week?",  # after the as-of date: nothing published yet
    "What is planned for next June?",
    "What happens on October 30, 2024?",
]


@pytest.mark.parametrize("question", NO_RANGE)
def test_no_range_without_a_calendar_date(question):
    frame = read_time_frame(question, WED)
    assert not frame and frame.date_from is None and frame.date_to is None


@pytest.mark.parametrize(
    ("question", "recency"),
    [
        ("What is the latest on the North Korean troops?", "strong"),
        ("Are North Korean troops still in Kursk?", "strong"),
        ("How many troops are there now?", "strong"),
        ("Who currently leads the talks?", "strong"),
        ("What happened recently in Kursk?", "strong"),
        ("What is the most recent figure?", "strong"),
        ("Has the deal been signed yet?", "strong"),
        ("What did Pistorius say about the troops?", "mild"),
        ("What happened this week?", "mild"),
        ("Why does Russia need North Korea?", "mild"),
        ("When did North Korea first send troops abroad?", "none"),
        ("What happened in 1998?", "none"),
        ("When was the treaty originally signed?", "none"),
        ("Who founded the company?", "none"),
        ("What happened in June 2022?", "none"),
    ],
)
def test_how_much_the_question_wants_the_newest_reports(question, recency):
    assert read_time_frame(question, WED).recency == recency


def test_the_range_is_described_with_the_words_it_came_from():
    assert read_time_frame("What happened this week?", WED).describe() == "2024-10-21 to 2024-10-23 (“this week”)"
    assert read_time_frame("What happened on Tuesday?", WED).describe() == "2024-10-22 (“on Tuesday”)"
    assert read_time_frame("What happened before 2020?", WED).describe() == "up to 2019-12-31 (“before 2020”)"
    assert read_time_frame("What has happened since March?", WED).describe().startswith("2024-03-01 to 2024-10-23")
    assert TimeFrame().describe() == ""


def test_the_recency_prior_halves_with_each_half_life_and_skips_what_has_no_date():
    prior = RecencyPrior(strong_weight=0.8, strong_half_life=10, mild_weight=0.2, mild_half_life=100)
    today = dt.date(2024, 10, 23)
    assert prior.boost("2024-10-23T08:00:00Z", today, "strong") == pytest.approx(0.8)
    assert prior.boost("2024-10-13", today, "strong") == pytest.approx(0.4)
    assert prior.boost("2024-10-03", today, "strong") == pytest.approx(0.2)
    assert prior.boost("2024-07-15", today, "mild") == pytest.approx(0.1)  # 100 days
    assert prior.boost("2024-10-30", today, "strong") == pytest.approx(0.8)  # a later date counts as today
    assert prior.boost("2024-10-23", today, "none") == 0.0  # a historical question
    assert prior.boost(None, today, "strong") == 0.0  # undated
    assert prior.boost("October 2024", today, "strong") == 0.0  # not a date


def test_the_recency_prior_is_added_to_the_sentences_of_newer_articles(make_index, tmp_path):
    from dataclasses import replace

    from rag.answer import AnswerSettings, Assistant, QuestionTime
    from rag.types import Article

    older = Article.create(
        "Harbour terminal plans approved",
        "The harbour board approved the new ferry terminal on Monday. Building work starts in the spring.",
        published="2024-01-08",
    )
    newer = Article.create(
        "Ferry terminal design changes",
        "Engineers redrew the ferry terminal after storms damaged the pier. The harbour board met again.",
        published="2024-03-04",
    )
    (tmp_path / "two.jsonl").write_text(
        "\n".join(json.dumps({"title": a.title, "text": a.text, "published": a.published}) for a in (older, newer))
    )
    index = make_index()
    index.ingest([tmp_path / "two.jsonl"])
    question = "What is the latest on the ferry terminal?"
    when = QuestionTime.read(question, None, "2024-03-10")
    assert when.frame.recency == "strong"
    prior = RecencyPrior(strong_weight=0.5, strong_half_life=30)

    def scores(recency: RecencyPrior) -> dict[str, float]:
        assistant = Assistant(index, replace(AnswerSettings(), recency=recency))
        ranked = assistant.rank_sentences(question, filters=when.filters, frame=when.frame).sentences
        return {c.text: c.score for c in ranked}

    without = scores(RecencyPrior(strong_weight=0.0, mild_weight=0.0))
    with_prior = scores(prior)
    assert without.keys() == with_prior.keys() and len(without) >= 3
    for text, score in with_prior.items():
        published = older.published if text in older.text else newer.published
        assert score - without[text] == pytest.approx(prior.boost(published, dt.date(2024, 3, 10), "strong"))
    best = max(with_prior, key=with_prior.get)
    assert best in newer.text


def test_the_default_prior_prefers_newer_reports_more_when_the_latest_is_asked_for():
    prior = RecencyPrior()
    today = dt.date(2024, 10, 23)
    for age in (0, 1, 7, 30, 90, 365):
        day = (today - dt.timedelta(days=age)).isoformat()
        assert prior.boost(day, today, "strong") > prior.boost(day, today, "mild") > 0.0
        assert prior.boost(day, today, "none") == 0.0
