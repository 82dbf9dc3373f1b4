"""rag eval on reader questions: the judge, the per-kind report, the file format's errors."""

import json

import pytest

from rag.cli import main
from rag.datasets import ReaderQuestion
from rag.evaluate import judge
from rag.types import Answer, Citation

from .conftest import SAMPLE


def _answer(*quotes: str) -> Answer:
    citations = tuple(
        Citation(n, "a", "t", "", "", None, quote, 0, len(quote), "", "", 1.0) for n, quote in enumerate(quotes, 1)
    )
    return Answer("q", " ".join(quotes), citations, abstained=not citations)


@pytest.mark.parametrize(
    ("question", "quotes", "right"),
    [
        (ReaderQuestion("1", "quantity", "q", any=("3,000 troops",)), ["He said 3,000 men came."], False),
        (ReaderQuestion("1", "quantity", "q", any=("3,000 troops",)), ["He said 3,000\ntroops  came."], True),
        (ReaderQuestion("2", "list", "q", all=("apples", "pears")), ["apples and plums", "and pears"], True),
        (ReaderQuestion("2", "list", "q", all=("apples", "pears")), ["apples and plums"], False),
        (ReaderQuestion("3", "attribution", "q", any=("said",), none=("Trump",)), ["he said", "Trump said"], False),
        (ReaderQuestion("4", "quantity", "q", any=("fourth",)), ["one", "two", "three", "the fourth"], False),
        (ReaderQuestion("5", "unanswerable", "q", abstain=True), [], True),
        (ReaderQuestion("5", "unanswerable", "q", abstain=True), ["anything"], False),
        (ReaderQuestion("6", "factoid", "q", any=("x",)), [], False),
    ],
)
def test_judge(question, quotes, right):
    assert judge(_answer(*quotes), question) is right


def test_eval_reports_the_share_right_per_kind_and_the_failures(tmp_path, capsys):
    questions = [
        {"id": "a1", "kind": "attribution", "question": "What did John Healey say?",
         "expect": {"all": ["not just a concern", "indivisible link"], "none": ["Trump"]}},
        {"id": "q1", "kind": "quantity", "question": "How old is Donald Trump?", "expect": {"any": ["78-year-old"]}},
        {"id": "u1", "kind": "unanswerable", "question": "What is the boiling point of mercury?", "expect": "abstain"},
        {"id": "u2", "kind": "unanswerable", "question": "What did John Healey say?", "expect": "abstain"},
    ]  # fmt: skip
    path = tmp_path / "reader.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in questions))
    assert main(["eval", str(path), "--corpus", str(SAMPLE), "--json", "--quiet", "--failures"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[: out.index("\nwrong answers:")])
    assert report["questions"] == 4
    assert (report["right_attribution"], report["right_quantity"], report["right_unanswerable"]) == (1.0, 1.0, 0.5)
    assert report["right"] == 0.75
    assert "u2 [unanswerable, read as attribution] What did John Healey say?" in out
    assert main(["eval", str(path), "--quiet"]) == 1  # no articles to ask
    assert "--corpus" in capsys.readouterr().err
