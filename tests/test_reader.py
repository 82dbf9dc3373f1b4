"""The shipped reader: loaded from the package with its checksum checked, and reading for the answer."""

import shutil

import pytest

from rag.answer.reader import CHECKSUM, CONFIG, MODEL_DIR, WEIGHTS, Reader, passage, sha256
from rag.errors import RagError

TROOPS = "Officials Say North Korea Has Sent Troops to Russia"


@pytest.fixture(scope="module")
def reader():
    return Reader()


def test_the_shipped_weights_are_small_and_match_their_checksum():
    weights = MODEL_DIR / WEIGHTS
    assert weights.stat().st_size <= 25 * 2**20
    assert (MODEL_DIR / CHECKSUM).read_text().split()[0] == sha256(weights)
    assert (MODEL_DIR / "MODEL_CARD.md").read_text().count("CC BY-SA 4.0") >= 1


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_missing_or_damaged_file_is_named_with_what_to_do(tmp_path, damage):
    folder = tmp_path / "reader"
    shutil.copytree(MODEL_DIR, folder)
    if damage == "missing":
        (folder / WEIGHTS).unlink()
        expected = f"the reader's file {folder / WEIGHTS} is missing"
    else:
        data = bytearray((folder / WEIGHTS).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / WEIGHTS).write_bytes(bytes(data))
        expected = f"the reader's weights {folder / WEIGHTS} are damaged"
    with pytest.raises(RagError) as failed:
        Reader(folder).read("How old is he?", [("A title", "He is 78.", "")])
    assert str(failed.value).startswith(expected) and "reinstall" in str(failed.value)
    assert (MODEL_DIR / CONFIG).exists()  # the shipped files are untouched


def test_the_sentence_with_the_answer_reads_above_those_on_the_topic(reader):
    """Near misses of the bundled sample: every sentence is on the topic, one holds the answer."""
    cases = [
        ("How many North Korean soldiers were being trained in Russia?", [
            "South Korea's spy agency said about 3,000 North Korean soldiers were being trained in Russia.",
            "North Korea and Russia signed a mutual defence pact in June.",
            "The soldiers' deployment could change the course of the war, analysts said.",
        ]),
        ("When did North Korea and Russia sign their defence pact?", [
            "North Korea and Russia signed a mutual defence pact in June.",
            "The pact commits each side to help the other if it is attacked.",
            "South Korea's spy agency said North Korean soldiers were being trained in Russia.",
        ]),
        ("Who is the UK defence secretary?", [
            "The UK defence secretary, John Healey, said the deployment was a sign of desperation.",
            "The deployment was a sign of desperation, British officials said.",
            "Defence ministers of NATO met in Brussels on Thursday.",
        ]),
    ]
    for question, sentences in cases:
        readings = reader.read(question, [(TROOPS, s, "") for s in sentences])
        first, *rest = [r.probability for r in readings]
        assert all(first > other for other in rest), (question, readings)
        assert first >= reader.cut, (question, readings)


def test_the_answer_words_are_marked_inside_the_sentence(reader):
    sentence = "South Korea's spy agency said about 3,000 North Korean soldiers were being trained in Russia."
    (reading,) = reader.read("How many North Korean soldiers were being trained in Russia?", [(TROOPS, sentence, "")])
    start, end = reading.span
    assert 0 <= start < end <= len(sentence)
    assert "3,000" in sentence[start:end] and len(sentence[start:end]) <= 30


def test_the_passage_keeps_the_sentence_first_and_whole():
    assert passage("Title", " The sentence. ", "Before it.") == "The sentence. | Title Before it."
    assert passage("", "The sentence.") == "The sentence."
