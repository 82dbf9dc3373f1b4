"""What a question asks: kind, subject, focus; checking questions and follow-ups."""

import pytest

from rag.answer.question import counted_thing, is_follow_up, parse_question, previous_questions, search_query


def test_follow_up_detection():
    assert is_follow_up("Where were they arriving?")
    assert is_follow_up("And then?")
    assert not is_follow_up("How old is Donald Trump?")
    assert previous_questions([{"role": "assistant", "content": "x"}, {"role": "user", "content": "q1"}]) == ["q1"]
    assert search_query("Why?", [("What happened in Kursk?", "...")]) == "Why? What happened in Kursk?"


KINDS_BY_QUESTION = [
    ("What did Boris Pistorius say?", "attribution", "Boris Pistorius"),
    ("what did lloyd austin tell reporters in rome", "attribution", "lloyd austin"),
    ("What does Donald Nieman think about Trump's base?", "attribution", "Donald Nieman"),
    ("What has Zelenskyy said about North Korean officers?", "attribution", "Zelenskyy"),
    ("Who said Ukraine is wearing down the Russian army?", "attribution", ""),
    ("What was Healey's warning?", "attribution", "Healey"),
    ("Why does Russia need North Korea?", "explanation", ""),
    ("How come Trump keeps his supporters?", "explanation", ""),
    ("What is the reason for the troop deployment?", "explanation", ""),
    ("What caused the fire?", "explanation", ""),
    ("What happened on Wednesday?", "event", ""),
    ("What happened at Madison Square Garden?", "event", ""),
    ("When did they sign the defense deal?", "event", ""),
    ("What did Ukraine do in June?", "event", ""),
    ("How did the West react to the troops?", "reaction", "the West"),
    ("How is the West reacting?", "reaction", "the West"),
    ("How did South Korea respond?", "reaction", "South Korea"),
    ("What was the reaction to the deployment?", "reaction", ""),
    ("How many North Korean troops are in Russia?", "quantity", ""),
    ("How much is Russia paying North Korea?", "quantity", ""),
    ("How old is Donald Trump?", "quantity", ""),
    ("What percentage of voters support him?", "quantity", ""),
    ("Who is Kyrylo Budanov?", "definition", "Kyrylo Budanov"),
    ("What is Sibylline?", "definition", "Sibylline"),
    ("what is the I Want to Live project", "definition", "I Want to Live project"),
    ("What does NIS stand for?", "definition", "NIS"),
    ("Did Austin say how he knew about the troops?", "yesno", ""),
    ("Is Ukraine preparing for North Korean troops?", "yesno", ""),
    ("Has North Korea sent weapons to Russia?", "yesno", ""),
    ("Was Trump impeached?", "yesno", ""),
    ("Which countries have sent military aid?", "list", ""),
    ("What are the four planks of Trump's campaign?", "list", ""),
    ("What weapons has North Korea sent to Russia?", "list", ""),
    ("Name the speakers quoted in the article", "list", ""),
    ("Where is Kursk?", "factoid", ""),
    ("Who leads Sibylline?", "factoid", ""),
    # a verb of saying only in lower case, and a speaker only where one can be
    ("What did the Islamic State say about the caliphate?", "attribution", "Islamic State"),
    ("What does the Islamic State lack from the international community?", "factoid", ""),
    ("What is another name for State Route 168?", "factoid", ""),
    ("What is incorrectly thought about the outer chloroplast membrane?", "factoid", ""),
    ("What was the name of Wesley's famous sermon in which he warned against drinking?", "factoid", ""),
    ("What was the reason the court gave that resulted in Mr. Costa losing his claim?", "explanation", ""),
    ("What do some researchers believe is the earliest animal phylum?", "attribution", "some researchers"),
    ("What did Reason magazine say about the ban?", "attribution", "Reason magazine"),
]


@pytest.mark.parametrize(("question", "kind", "who"), KINDS_BY_QUESTION)
def test_kind_and_subject(question, kind, who):
    parsed = parse_question(question)
    assert (parsed.kind, parsed.who.lower()) == (kind, who.lower().removeprefix("the "))


def test_every_kind_is_covered_by_the_table():
    from rag.answer.question import KINDS

    assert {kind for _, kind, _ in KINDS_BY_QUESTION} == set(KINDS)


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What did Boris Pistorius say?", True),
        ("What did the Kremlin say about the troops?", True),
        ("what did lloyd austin tell reporters in rome", True),  # no capitals anywhere: taken for a name
        ("What do some researchers believe is the earliest animal phylum?", False),
        ("What did the benefits agency think sports channels on a TV bill meant?", False),
        ("What do many Ukrainians think of the deal?", False),
    ],
)
def test_a_speaker_is_told_from_a_kind_of_people(question, named):
    parsed = parse_question(question)
    assert parsed.kind == "attribution" and parsed.who
    assert parsed.who_is_named is named


def test_focus_leaves_out_question_and_frame_words():
    parsed = parse_question("What did Boris Pistorius say about the North Korean troops?")
    assert parsed.focus == ("boris", "pistorius", "north", "korean", "troops")
    assert parsed.entities == ("Boris Pistorius", "North Korean")
    assert parse_question("Who said Ukraine is wearing down the Russian army?").asks_who_said


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("How many North Korean troops were being trained?", "troops"),
        ("How many troops does North Korea have in Russia?", "troops"),
        ("how many containers of artillery", "containers"),
        ("How much is Russia paying?", ""),
        ("How old is Trump?", ""),
    ],
)
def test_counted_thing(question, thing):
    assert counted_thing(question) == thing


def test_a_name_ending_like_an_adverb_is_kept_whole():
    assert parse_question("What did Phyllis Schlafly say about the ERA?").who == "Phyllis Schlafly"
    assert parse_question("What did Austin actually say?").who == "Austin"


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("What did Trump say on October 23, 2024?", ["2024-10-23"]),
        ("What happened in June 2024?", ["2024-06-01"]),
        ("When did Polonia Warsaw win the championship prior to 2000?", []),
        ("What happened since June 2024?", []),
        ("What happened before the 2020 election?", []),
        ("Who had signed by 1998?", []),
    ],
)
def test_a_date_named_as_a_bound_is_not_the_time_asked_about(question, asked):
    assert [d.date_from for d in parse_question(question).dates] == asked
