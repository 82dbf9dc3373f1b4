"""Readers of evaluation sets: SQuAD JSON, CLAPNQ JSONL and reader questions, with exact gold spans."""

import json

import pytest

from rag import RagError
from rag.datasets import is_reader_file, load_clapnq, load_reader, load_squad, write_jsonl
from rag.parse import parse_file


def test_squad_answers_point_at_their_text(tmp_path):
    path = tmp_path / "squad.json"
    contexts = ["The harbour opened in 1901.", "Its crane lifts 40 tonnes."]
    qas = [[{"id": "q1", "question": "When?", "answers": [{"text": "1901", "answer_start": 22}]}],
           [{"id": "q2", "question": "How much?", "answers": [{"text": "40 tonnes", "answer_start": 16}]}]]
    data = {"data": [{"title": "Old_Harbour", "paragraphs": [{"context": c, "qas": q} for c, q in zip(contexts, qas)]}]}
    path.write_text(json.dumps(data))
    articles, questions = load_squad(path)
    assert [a.title for a in articles] == ["Old Harbour"]
    for q in questions:
        (start, end), = q.spans
        assert articles[0].text[start:end] == q.answers[0]
    written = write_jsonl(articles, tmp_path / "passages.jsonl")
    assert parse_file(written).articles[0].text == articles[0].text


def test_clapnq_gold_sentences_and_unanswerable_questions(tmp_path):
    path = tmp_path / "clapnq.jsonl"
    passage = {"title": "Tides", "text": "Tides rise twice a day. The moon pulls the sea."}
    rows = [
        {"id": "1", "input": "why are there tides", "passages": [passage],
         "output": [{"answer": "The moon pulls the sea.", "selected_sentences": ["The moon pulls the sea."]}]},
        {"id": "2", "input": "how cold is the sea", "passages": [passage], "output": [{"answer": ""}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    articles, questions = load_clapnq(path)
    assert len(articles) == 1
    answerable, unanswerable = questions
    (start, end), = answerable.spans
    assert articles[0].text[start:end] == "The moon pulls the sea."
    assert answerable.answerable and not unanswerable.answerable


def test_a_file_of_another_format_is_named(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text("[1, 2]")
    with pytest.raises(RagError, match="notes.json is not a SQuAD-format JSON file"):
        load_squad(path)


def test_reader_files_are_recognised_and_bad_lines_named(tmp_path):
    good = tmp_path / "reader.jsonl"
    good.write_text(json.dumps({"id": "a", "kind": "yesno", "question": "Is it?", "expect": "abstain"}) + "\n")
    assert is_reader_file(good) and load_reader(good)[0].abstain
    clapnq = tmp_path / "clapnq.jsonl"
    clapnq.write_text(json.dumps({"id": "1", "input": "q", "passages": [], "output": []}) + "\n")
    assert not is_reader_file(clapnq)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + json.dumps({"id": "b", "kind": "list", "question": "q", "expect": {}}) + "\n")
    with pytest.raises(RagError, match="line 2 is not a reader question"):
        load_reader(bad)
