"""rag.news: speakers, explainer headings and resolved dates, on the real sample articles and synthetic text."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunk import split_sentences
from rag.news import analyze, find_dates, resolve_date
from rag.parse import parse_file
from rag.types import SentenceFacts

from .conftest import SAMPLE

BASE = dt.date(2024, 10, 23)  # a Wednesday
PUBLISHED = "2024-10-23T09:30:00+00:00"


class Read:
    """One text analysed, with lookups by the sentence's opening words."""

    def __init__(self, text: str, published: str | None = None) -> None:
        self.text = text
        self.spans = split_sentences(text)
        self.facts = analyze(text, self.spans, published)

    def index(self, opening: str) -> int:
        matches = [i for i, (a, b) in enumerate(self.spans) if self.text[a:b].startswith(opening)]
        assert len(matches) == 1, f"{opening!r} opens {len(matches)} sentences"
        return matches[0]

    def fact(self, opening: str) -> SentenceFacts:
        return self.facts[self.index(opening)]

    def speaker(self, opening: str) -> str | None:
        span = self.fact(opening).speaker
        return self.text[slice(*span)] if span else None

    def heading(self, opening: str) -> str | None:
        span = self.fact(opening).heading
        return self.text[slice(*span)] if span else None

    def span_of(self, phrase: str, inside: str) -> tuple[int, int]:
        """The offsets of ``phrase`` within the sentence that opens with ``inside``."""
        start, end = self.spans[self.index(inside)]
        at = self.text.index(phrase, start, end)
        return at, at + len(phrase)


@pytest.fixture(scope="module")
def sample() -> dict[str, Read]:
    articles = parse_file(SAMPLE / "000_9df642e36ad14cf8.txt").articles
    return {"korea": Read(articles[0].text, PUBLISHED), "trump": Read(articles[1].text, PUBLISHED)}


@pytest.fixture(scope="module")
def korea(sample) -> Read:
    return sample["korea"]


@pytest.fixture(scope="module")
def trump(sample) -> Read:
    return sample["trump"]


# --- attribution on the sample ----------------------------------------------------------------

KOREA_SPEAKERS = [
    ("American and South Korean officials said", "American and South Korean officials"),
    ("Other countries on both sides", "The Associated Press"),
    ("South Korea’s spy chief told lawmakers", "South Korea’s spy chief"),
    ("United States Defense Secretary Lloyd Austin told", "Lloyd Austin"),
    ("“What exactly they’re doing", "Austin"),
    ("North Korean troops were arriving", "Kyrylo Budanov"),
    ("Ukrainian President Volodymyr Zelenskyy told reporters", "Volodymyr Zelenskyy"),
    ("“I believe they sent officers first", "Zelenskyy"),
    ("He has cautioned", "Zelenskyy"),
    ("Austin said that it would be", "Austin"),
    ("An injection of 10,000 North Korean troops", "Glib Voloskyi"),
    ("Ukraine’s “I Want to Live” project", "“I Want to Live” project"),
    ("“We call for the soldiers", "“I Want to Live” project"),
    ("You should not die senselessly", "“I Want to Live” project"),
    ("There is no need to repeat", "“I Want to Live” project"),
    ("Zelenskyy told reporters Monday that the European Union", "Zelenskyy"),
    ("“We don’t even know whether", "Boris Pistorius"),
    ("“It’s a kind of escalation", "Boris Pistorius"),
    ("International conflicts are approaching", "Boris Pistorius"),
    ("United Kingdom Defense Secretary John Healey said", "John Healey"),
    ("There is an indivisible link", "John Healey"),
    ("“I think Ukraine is wearing down", "Justin Crump"),
    ("You don’t get thousands of soldiers", "Justin Crump"),
    ("“You don’t require them.", "Justin Crump"),
    ("Those missiles are being actively used", "officials in Kyiv"),
]
KOREA_NARRATION = [
    "If the soldiers' goal is fighting",
    "Neither Austin nor South Korean",
    "He did not specify when.",
    "Ukraine is preparing as though",
    "German and British officials also weighed in",
    "North Korea and Russia, both in separate",
    "In June, they signed a defense deal",
    "For analysts, the introduction of troops",
    "North Korea has already sent over 13,000",
]
TRUMP_SPEAKERS = [
    ("\"Trump's campaign strategy relies", "Andrew Koneschusky"),
    ('"In some cases, this is distasteful', "Andrew Koneschusky"),
    ("For some voters it might also be effective", "Andrew Koneschusky"),
    ("Donald Nieman, a political analyst", "Donald Nieman"),
    ('"Many others hold their noses', "Nieman"),
    ("Utah-based political analyst and PR expert", "Adrienne Uthe"),
    ('"His supporters see him as a champion', "Adrienne Uthe"),
    ("Despite controversies, Trump frames himself", "Adrienne Uthe"),
    ('"Many of his followers admire', "Adrienne Uthe"),
]
TRUMP_NARRATION = [
    "He was impeached twice",
    "With just over a week to go",
    "Trump detractors have watched",
    "And then there's what Democrats have labelled",
    "The oldest major-party presidential candidate",
    'Dubbed "Teflon Don" by US headline writers',
    "And while liberals and much of the media",
]


@pytest.mark.parametrize(("opening", "speaker"), KOREA_SPEAKERS)
def test_sample_korea_speakers(korea, opening, speaker):
    assert korea.speaker(opening) == speaker
    assert korea.fact(opening).quoted


@pytest.mark.parametrize(("opening", "speaker"), TRUMP_SPEAKERS)
def test_sample_trump_speakers(trump, opening, speaker):
    assert trump.speaker(opening) == speaker
    assert trump.fact(opening).quoted


@pytest.mark.parametrize("opening", KOREA_NARRATION)
def test_sample_korea_narration_has_no_speaker(korea, opening):
    assert korea.speaker(opening) is None
    assert not korea.fact(opening).quoted


@pytest.mark.parametrize("opening", TRUMP_NARRATION)
def test_sample_trump_narration_has_no_speaker(trump, opening):
    assert trump.speaker(opening) is None
    assert not trump.fact(opening).quoted


def test_pronoun_points_at_the_earlier_mention(korea, trump):
    assert korea.fact("He has cautioned").speaker == korea.span_of("Zelenskyy", "“I believe they sent officers")
    assert trump.fact("Despite controversies").speaker == trump.span_of("Adrienne Uthe", "Utah-based political")


def test_description_points_at_the_named_person(trump):
    """`said the analyst, a former press secretary` names Andrew Koneschusky, introduced a sentence before."""
    introduced = trump.span_of("Andrew Koneschusky", "Political consultant Andrew Koneschusky")
    assert trump.fact("\"Trump's campaign strategy").speaker == introduced
    assert trump.fact("For some voters").speaker == introduced


def test_a_sentence_with_its_own_speaker_points_inside_itself(korea):
    start, end = korea.spans[korea.index("United Kingdom Defense Secretary John Healey")]
    speaker = korea.fact("United Kingdom Defense Secretary John Healey").speaker
    assert start <= speaker[0] < speaker[1] <= end
    assert korea.fact("There is an indivisible link").speaker == speaker  # the continuation points back at it


# --- headings on the sample ---------------------------------------------------------------------

KOREA_HEADINGS = [
    "What do we know about the North Korean troops?",
    "What is Ukraine doing?",
    "How is the West reacting?",
    "Why does Russia need North Korea?",
]


def test_sample_question_headings_govern_the_sentences_under_them(korea):
    heading_indexes = [korea.index(heading) for heading in KOREA_HEADINGS]
    assert all(korea.facts[i].heading is None for i in heading_indexes)
    assert all(f.heading is None for f in korea.facts[: heading_indexes[0]])
    bounds = [*heading_indexes, len(korea.facts)]
    for heading, first, after in zip(KOREA_HEADINGS, bounds, bounds[1:]):
        under = korea.facts[first + 1 : after]
        assert under, heading
        assert {korea.text[slice(*f.heading)] for f in under} == {heading}


def test_sample_why_heading(korea):
    assert korea.heading("North Korea and Russia, both in separate") == "Why does Russia need North Korea?"
    assert korea.heading("Those missiles are being actively used") == "Why does Russia need North Korea?"
    assert korea.heading("Why does Russia need North Korea?") is None
    assert korea.heading("Ukraine is preparing as though") == "What is Ukraine doing?"


def test_sample_dashed_subheads(trump):
    assert trump.heading("He was impeached twice") is None
    assert trump.heading("Trump's own words have") is None
    assert trump.heading("- Secret sauce -") is None
    for opening in ("And then there's what Democrats", "Political consultant Andrew", "For some voters it might"):
        assert trump.heading(opening) == "Secret sauce"
    assert trump.heading("- 'Avenging angel' -") is None
    for opening in ("Donald Nieman, a political analyst", '"Many of his followers admire'):
        assert trump.heading(opening) == "'Avenging angel'"


def test_sample_headings_are_not_quoted(korea, trump):
    assert not korea.fact("What is Ukraine doing?").quoted
    assert trump.fact("- Secret sauce -").speaker is None


# --- dates on the sample ----------------------------------------------------------------------


def dates_of(read: Read, opening: str) -> list[tuple[str, str, str]]:
    return [(read.text[d.start : d.end], d.date_from, d.date_to) for d in read.fact(opening).dates]


def test_sample_dates_resolve_against_the_publication_date(korea, trump):
    assert dates_of(korea, "American and South Korean officials said") == [("Wednesday", "2024-10-23", "2024-10-23")]
    assert dates_of(korea, "North Korean troops were arriving") == [
        ("Wednesday", "2024-10-23", "2024-10-23"),
        ("on Tuesday", "2024-10-22", "2024-10-22"),
    ]
    assert dates_of(korea, "Ukrainian President Volodymyr Zelenskyy told") == [("Monday", "2024-10-21", "2024-10-21")]
    assert dates_of(korea, "In June, they signed") == [("In June", "2024-06-01", "2024-06-30")]
    assert dates_of(korea, "North Korea has already sent") == [("since August 2023", "2023-08-01", "2023-08-31")]
    assert dates_of(korea, "South Korea’s spy chief") == []  # 3,000 is not a year
    assert dates_of(trump, "Trump detractors have watched") == [("2024", "2024-01-01", "2024-12-31")]
    assert dates_of(trump, "Dubbed") == [("1980s", "1980-01-01", "1989-12-31")]


def test_sample_without_publication_date_keeps_only_absolute_dates():
    text = parse_file(SAMPLE / "000_9df642e36ad14cf8.txt").articles[0].text
    read = Read(text, None)
    found = [(text[d.start : d.end], d.date_from) for f in read.facts for d in f.dates]
    assert found == [("since August 2023", "2023-08-01")]


# --- attribution patterns, synthetic -------------------------------------------------------------

SPEAKER_CASES = [
    ('"We will rebuild," said Mayor Anna Berg, a former engineer.', 0, "Anna Berg"),
    ("“The bridge will reopen,” Anna Berg said.", 0, "Anna Berg"),
    ("Kremlin spokesman Dmitry Peskov told reporters that Moscow would respond.", 0, "Dmitry Peskov"),
    ("Prime Minister Keir Starmer says the plan is fair.", 0, "Keir Starmer"),
    ("Tesla CEO Elon Musk wrote on X that the deal was dead.", 0, "Elon Musk"),
    ("Police said two people were arrested.", 0, "Police"),
    ("According to the Pentagon, the strike hit a depot.", 0, "the Pentagon"),
    ("The strike hit a depot, according to Ukraine’s military.", 0, "Ukraine’s military"),
    ("Russia kept up its attacks, the army claims.", 0, "the army"),
    ("Analysts believe the war will last years.", 0, "Analysts"),
    ("Experts, however, warn that costs could rise.", 0, "Experts"),
    ("Zelenskyy on Tuesday said the front was holding.", 0, "Zelenskyy"),
    ("Biden, 81, said he would not run.", 0, "Biden"),
    ("‘We are ready,’ Colonel Ivan Petrov said.", 0, "Ivan Petrov"),
    ("It was 'the worst day of my life', one resident said.", 0, "one resident"),
    ("Smith argued that the tax was unfair. He added that it would hurt farmers.", 1, "Smith"),
    ('Economist Jane Doe sees a slowdown. "Growth will slow," the economist said.', 1, "Jane Doe"),
    ("Ann Lee, a lawyer, spoke first. “We will appeal,” she told AFP.", 1, "Ann Lee"),
    ("“It is over. We lost,” Kim said.", 0, "Kim"),
    ("“It is over. We lost,” Kim said.", 1, "Kim"),
    ('Paul Ray said there was "no plan. Nobody knows what comes next."', 1, "Paul Ray"),
    ("“Prices will rise,” Mark Otis said.\n“Nobody is ready.”", 1, "Mark Otis"),
    ("“Prices will rise,” Mark Otis said. “Nobody is ready.”", 1, "Mark Otis"),
]
UNATTRIBUTED_CASES = [
    ("The ministry has not commented.", 0),
    ("Fighting continued overnight in the east.", 0),
    ("He refused to say whether troops would stay.", 0),
    ("His claims that the vote was rigged were false.", 0),
    ("The claims were denied by Moscow.", 0),
    ('Critics call it the "weird" stuff.', 0),
    ("“I was there,” she said.", 0),  # no one named before: unresolved
    ("Mark Otis spoke first.\nThe storm passed.\n“Nobody is ready.”", 2),  # the paragraph before has no speaker
    ("“Prices will rise,” Mark Otis said.\n- Outlook -\n“Nobody is ready.”", 2),  # a heading in between
]


@pytest.mark.parametrize(("text", "index", "speaker"), SPEAKER_CASES)
def test_attribution_patterns(text, index, speaker):
    read = Read(text)
    span = read.facts[index].speaker
    assert span is not None and text[slice(*span)] == speaker
    assert read.facts[index].quoted


@pytest.mark.parametrize(("text", "index"), UNATTRIBUTED_CASES)
def test_not_attributed(text, index):
    assert Read(text).facts[index].speaker is None


def test_pronoun_resolves_to_the_latest_person_before_it():
    text = "Officials met on Monday. Mayor Anna Berg spoke first. Then Judge Tom Hill arrived. He said it was late."
    read = Read(text)
    assert text[slice(*read.facts[3].speaker)] == "Tom Hill"
    assert read.facts[3].speaker[1] <= read.spans[3][0]


def test_quoted_marks_direct_and_reported_speech_only():
    read = Read('Troops left. "We are leaving," a soldier said. Anna Berg said it was over. Dubbed "the Boss", he won.')
    assert [f.quoted for f in read.facts] == [False, True, True, False]


def test_apostrophes_do_not_open_quotations():
    read = Read("They’re leaving the soldiers' base, Anna Berg said. It’s over. The army’s trucks left.")
    assert [read.text[slice(*f.speaker)] if f.speaker else None for f in read.facts] == ["Anna Berg", None, None]


# --- headings, synthetic -----------------------------------------------------------------------

HEADING_CASES = [
    ("Why does it matter? Prices rise.\nThey rose again.", [None, "Why does it matter?", "Why does it matter?"]),
    ("Intro line here.\nWhat happens next?\nTalks resume.", [None, None, "What happens next?"]),
    ("- The road ahead -\nTalks resume.", [None, "The road ahead"]),
    ("## Background\nTalks resume.", [None, "Background"]),
    ("Talks resume.\nKey figures\nThe deal is worth $5bn.", [None, None, "Key figures"]),
    # not headings: mid-paragraph, inside quotation marks, too long, a full sentence line
    ("Talks resumed. Why does it matter? Nobody knows.", [None, None, None]),
    ('"Why does it matter?" she asked.\nNobody knew.', [None, None, None]),
    (
        "Why would anyone in their right mind want to go back to the negotiating table now? Few do.",
        [None, None],
    ),
    ("The talks resumed on Monday.\nThey failed.", [None, None]),
]


@pytest.mark.parametrize(("text", "expected"), HEADING_CASES)
def test_headings(text, expected):
    read = Read(text)
    assert [text[slice(*f.heading)] if f.heading else None for f in read.facts] == expected


# --- resolve_date ------------------------------------------------------------------------------

RESOLVE_CASES = [
    ("Wednesday", "2024-10-23", "2024-10-23"),
    ("on Wednesday", "2024-10-23", "2024-10-23"),
    ("Tuesday", "2024-10-22", "2024-10-22"),
    ("on Tuesday", "2024-10-22", "2024-10-22"),
    ("Monday", "2024-10-21", "2024-10-21"),
    ("Thursday", "2024-10-17", "2024-10-17"),
    ("on Sunday", "2024-10-20", "2024-10-20"),
    ("last Wednesday", "2024-10-16", "2024-10-16"),
    ("next Wednesday", "2024-10-30", "2024-10-30"),
    ("this Friday", "2024-10-25", "2024-10-25"),
    ("today", "2024-10-23", "2024-10-23"),
    ("Today", "2024-10-23", "2024-10-23"),
    ("tonight", "2024-10-23", "2024-10-23"),
    ("yesterday", "2024-10-22", "2024-10-22"),
    ("tomorrow", "2024-10-24", "2024-10-24"),
    ("last night", "2024-10-22", "2024-10-22"),
    ("last week", "2024-10-14", "2024-10-20"),
    ("this week", "2024-10-21", "2024-10-27"),
    ("next week", "2024-10-28", "2024-11-03"),
    ("last month", "2024-09-01", "2024-09-30"),
    ("this month", "2024-10-01", "2024-10-31"),
    ("next month", "2024-11-01", "2024-11-30"),
    ("last year", "2023-01-01", "2023-12-31"),
    ("this year", "2024-01-01", "2024-12-31"),
    ("in June", "2024-06-01", "2024-06-30"),
    ("In June", "2024-06-01", "2024-06-30"),
    ("June", "2024-06-01", "2024-06-30"),
    ("in October", "2024-10-01", "2024-10-31"),
    ("in November", "2023-11-01", "2023-11-30"),
    ("since December", "2023-12-01", "2023-12-31"),
    ("mid-June", "2024-06-01", "2024-06-30"),
    ("early March", "2024-03-01", "2024-03-31"),
    ("last June", "2024-06-01", "2024-06-30"),
    ("next March", "2025-03-01", "2025-03-31"),
    ("June 2022", "2022-06-01", "2022-06-30"),
    ("in August 2023", "2023-08-01", "2023-08-31"),
    ("since August 2023", "2023-08-01", "2023-08-31"),
    ("Feb. 2024", "2024-02-01", "2024-02-29"),
    ("October 27, 2024", "2024-10-27", "2024-10-27"),
    ("Oct. 27, 2024", "2024-10-27", "2024-10-27"),
    ("on October 27, 2024", "2024-10-27", "2024-10-27"),
    ("Sunday, October 27, 2024", "2024-10-27", "2024-10-27"),
    ("27 October 2024", "2024-10-27", "2024-10-27"),
    ("27th of October 2024", "2024-10-27", "2024-10-27"),
    ("2024-10-27", "2024-10-27", "2024-10-27"),
    ("27.10.2024", "2024-10-27", "2024-10-27"),
    ("10/27/2024", "2024-10-27", "2024-10-27"),
    ("October 27", "2024-10-27", "2024-10-27"),
    ("on December 30", "2024-12-30", "2024-12-30"),
    ("2023", "2023-01-01", "2023-12-31"),
    ("in 1998", "1998-01-01", "1998-12-31"),
    ("1980s", "1980-01-01", "1989-12-31"),
    ("in the 1990s", "1990-01-01", "1999-12-31"),
    ("the 27th of October, 2024", "2024-10-27", "2024-10-27"),  # dateparser's format
]


@pytest.mark.parametrize(("expression", "date_from", "date_to"), RESOLVE_CASES)
def test_resolve_date(expression, date_from, date_to):
    resolved = resolve_date(expression, BASE)
    if date_from is None:
        assert resolved is None
    else:
        assert resolved == (dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to))


def test_resolve_date_across_a_year_boundary():
    new_year = dt.date(2025, 1, 2)  # a Thursday
    assert resolve_date("last month", new_year) == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert resolve_date("in December", new_year) == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert resolve_date("last week", new_year) == (dt.date(2024, 12, 23), dt.date(2024, 12, 29))
    assert resolve_date("December 30", new_year) == (dt.date(2024, 12, 30), dt.date(2024, 12, 30))
    assert resolve_date("Friday", new_year) == (dt.date(2024, 12, 27), dt.date(2024, 12, 27))


@pytest.mark.parametrize(
    "expression",
    ["Wednesday", "on Tuesday", "today", "yesterday", "last week", "this week", "last month", "in June", "last year",
     "October 27"],
)  # fmt: skip
def test_relative_dates_need_a_base(expression):
    assert resolve_date(expression, None) is None


@pytest.mark.parametrize(
    ("expression", "date_from"),
    [
        ("June 2022", "2022-06-01"),
        ("October 27, 2024", "2024-10-27"),
        ("2023", "2023-01-01"),
        ("in 1998", "1998-01-01"),
    ],
)
def test_absolute_dates_resolve_without_a_base(expression, date_from):
    assert resolve_date(expression, None)[0] == dt.date.fromisoformat(date_from)


@pytest.mark.parametrize(
    "expression", ["", "not a date", "3,000", "13,000", "Feb 30, 2024", "32 October 2024", "Mayday", "the 1980 hits"]
)
def test_not_dates(expression):
    assert resolve_date(expression, None) is None


# --- find_dates --------------------------------------------------------------------------------


def test_find_dates_offsets_point_at_the_expressions():
    text = "Intro. Officials said on Tuesday that since August 2023, and again last week, 3,000 troops left."
    start = text.index("Officials")
    mentions = find_dates(text, start, len(text), BASE)
    assert [(text[m.start : m.end], m.date_from, m.date_to) for m in mentions] == [
        ("on Tuesday", "2024-10-22", "2024-10-22"),
        ("since August 2023", "2023-08-01", "2023-08-31"),
        ("last week", "2024-10-14", "2024-10-20"),
    ]


@pytest.mark.parametrize(
    "text, day",
    [
        ("The referendum will be held on Sunday.", "2024-10-27"),  # the coming Sunday
        ("The council is due to vote on Friday on the plan.", "2024-10-25"),
        ("Talks are scheduled for Thursday.", "2024-10-24"),
        ("The payment is due on Friday.", "2024-10-25"),
        ("The ministry will pay 3,000 euros on Friday.", "2024-10-25"),  # a figure's comma ends no clause
        ("Polls will open at 7:30 on Sunday.", "2024-10-27"),
        ("He said the council would vote on Friday.", "2024-10-25"),
        ("We’ll meet on Friday, she said.", "2024-10-25"),
        ("The case is to be heard on Thursday.", "2024-10-24"),
        ("Will Smith arrived on Monday.", "2024-10-21"),  # a name, not the future
        ("The match was called off due to rain on Saturday.", "2024-10-19"),  # "due to": a cause
        ("The vote was scheduled for Sunday but was cancelled.", "2024-10-20"),  # past tense
        ("The minister will visit Kyiv, officials said on Monday.", "2024-10-21"),  # the reporting day: past
        ("Officials said on Monday that the troops had left.", "2024-10-21"),
        ("The vote, held on Sunday, was close.", "2024-10-20"),
        ("The council will meet next Wednesday.", "2024-10-30"),  # "next" still excludes the day
        ("It will rule on the case last Friday's filing raised.", "2024-10-18"),
    ],
)
def test_a_weekday_in_a_clause_about_the_future_is_the_coming_one(text, day):
    assert BASE.strftime("%A") == "Wednesday"
    assert [m.date_from for m in find_dates(text, 0, len(text), BASE)] == [day]


def test_find_dates_leaves_out_what_it_cannot_resolve():
    text = "On Monday, in June 2022 and in May, officials met."
    assert [(text[m.start : m.end], m.date_from) for m in find_dates(text, 0, len(text), None)] == [
        ("in June 2022", "2022-06-01")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "North Korea has sent 13,000 containers and 3,000 troops.",
        "About 2000 troops and 1500 tanks arrived.",
        "He paid $2024 for a 3-year-old car.",
        "You may go, and the march may start.",
        "The Sunday Times reported it.",
    ],
)
def test_find_dates_skips_numbers_and_words_that_are_not_dates(text):
    assert find_dates(text, 0, len(text), BASE) == []


def test_find_dates_reads_only_its_span():
    text = "On Monday it began. On Friday it ended."
    mentions = find_dates(text, text.index("On Friday"), len(text), BASE)
    assert [(text[m.start : m.end], m.date_from) for m in mentions] == [("On Friday", "2024-10-18")]


def test_published_datetime_and_bad_dates():
    text = "Officials met on Tuesday."
    assert Read(text, "2024-10-23T23:59:00Z").facts[0].dates[0].date_from == "2024-10-22"
    assert Read(text, "yesterday-ish").facts[0].dates == ()
    assert Read(text, None).facts[0].dates == ()


# --- properties --------------------------------------------------------------------------------

NEWS_WORDS = st.sampled_from(
    ["The", "minister", "said", "told", "he", "she", "they", "Anna", "Berg", "according", "to", "on", "Tuesday",
     "in", "June", "2023", "3,000", "last", "week", "“", "”", '"', "'", "‘", "’", "they’re", "What", "is", "-",
     "Why", "?", "analyst", "the", ",", "Mr.", "Zelenskyy", "—", "(AFP)", "東京", "", "_", "~"]
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", " ", " ", ". ", "? ", ", ", "\n", "\n\n", "! ", '." ', "”\n"])
NEWS_TEXT = st.lists(st.tuples(NEWS_WORDS, SEPARATORS), max_size=120).map(lambda ps: "".join(w + s for w, s in ps))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(NEWS_TEXT, st.text(max_size=400)), published=st.sampled_from([None, PUBLISHED, "junk"]))
def test_analyze_returns_one_fact_per_sentence_with_spans_in_bounds(text, published):
    spans = split_sentences(text)
    facts = analyze(text, spans, published)
    assert [(f.start, f.end) for f in facts] == list(spans)
    for fact in facts:
        if fact.speaker is not None:
            a, b = fact.speaker
            assert 0 <= a < b <= len(text)
            assert fact.start <= a and b <= fact.end or b <= fact.start  # its own, or an earlier mention
            assert fact.quoted
        if fact.heading is not None:
            assert 0 <= fact.heading[0] < fact.heading[1] <= fact.start
        for mention in fact.dates:
            assert fact.start <= mention.start < mention.end <= fact.end
            assert mention.date_from <= mention.date_to


def test_analyze_of_nothing():
    assert analyze("", [], None) == []
