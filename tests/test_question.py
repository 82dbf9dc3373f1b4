"""What a question asks: kind, subject, focus; checking questions and follow-ups."""

import pytest

from rag.question import counted_thing, is_follow_up, parse_question, previous_questions, search_query


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
]


@pytest.mark.parametrize(("question", "kind", "who"), KINDS_BY_QUESTION)
def test_kind_and_subject(question, kind, who):
    parsed = parse_question(question)
    assert (parsed.kind, parsed.who.lower()) == (kind, who.lower().removeprefix("the "))


def test_every_kind_is_covered_by_the_table():
    from rag.question import KINDS

    assert {kind for _, kind, _ in KINDS_BY_QUESTION} == set(KINDS)


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
