"""Stories, not copies: wire copies and updated versions grouped at ingestion, one per story in search."""

import json
import re

import pytest

from rag.parse import parse_file
from rag.stories import StorySettings, same_story, shingles, signature

from .conftest import SAMPLE

ARTICLES = parse_file(next(SAMPLE.glob("*.txt"))).articles
TROOPS, TRUMP = ARTICLES  # the two sample articles: different stories


def _trimmed(text: str, share: float) -> str:
    paragraphs = text.split("\n")
    return "\n".join(paragraphs[: max(1, int(len(paragraphs) * share))])


def _updated(text: str) -> str:
    return text.replace("3,000", "5,000").replace("10,000", "11,000").replace("Wednesday", "Thursday")


def test_copies_trims_and_updates_are_one_story_and_other_stories_are_not():
    troops = shingles(TROOPS.text)
    assert same_story(troops, shingles(_trimmed(TROOPS.text, 0.6)))  # the ending cut off
    assert same_story(troops, shingles(_updated(TROOPS.text)))  # new figures
    assert same_story(troops, shingles("Breaking: " + TROOPS.text))  # a line added at the top
    assert not same_story(troops, shingles(TRUMP.text))
    assert not same_story(set(), troops)


def test_signatures_are_stable_and_close_for_copies():
    a, b = signature(TROOPS.text), signature(_updated(TROOPS.text))
    assert (signature(TROOPS.text) == a).all() and a.dtype.name == "uint32" and len(a) == StorySettings().permutations
    assert (signature(shingles(TROOPS.text)) == a).all()  # of the text's shingles, given
    assert (a == b).mean() > 0.7 > (a == signature(TRUMP.text)).mean()


@pytest.fixture
def wire(tmp_path, make_index):
    """The troops article as three outlets ran it, and the Trump article."""
    records = [
        {"title": TROOPS.title, "text": TROOPS.text, "source": "AP", "published": "2024-10-23"},
        {
            "title": "North Korean soldiers reach Russia, Seoul says",
            "text": _trimmed(TROOPS.text, 0.6),
            "source": "Wire copy",
            "published": "2024-10-24",
        },
        {
            "title": TROOPS.title + " (updated)",
            "text": _updated(TROOPS.text),
            "source": "AP",
            "published": "2024-10-25",
        },
        {"title": TRUMP.title, "text": TRUMP.text, "source": "Magazine", "published": "2024-10-20"},
    ]
    path = tmp_path / "wire.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index = make_index()
    index.ingest([path])
    return index


def test_ingestion_groups_the_copies_as_one_story(wire):
    (story,) = wire.stories()
    assert [a.published for a in story] == ["2024-10-25", "2024-10-24", "2024-10-23"]  # newest first
    assert all(a.title != TRUMP.title for a in story)
    assert wire.check() == []


OTHER = (
    "The harbour authority said on Tuesday that the new ferry terminal would open in the spring, two years later "
    "than planned, after the contractor found old foundations under the quay. Passengers will keep using the "
    "temporary pontoon until then, and the timetable of the island routes does not change. The authority's "
    "chairman told the council that the extra cost would be met from the port's reserves, not from fares."
)


@pytest.mark.parametrize("batches", ["in one batch", "in a batch each"])
@pytest.mark.parametrize("backend", ["folder", "postgresql"])
def test_a_copy_of_two_stories_joins_them(backend, batches, request, tmp_path, embedder):
    """An article that carries the whole of two others (two stories told in one) puts all three in one
    story, whether it comes with them or after them; an unrelated article stays a story of its own."""
    from rag import Index, Settings

    location = request.getfixturevalue("pg_dsn") if backend == "postgresql" else tmp_path / "index"
    records = [
        {"title": "Troops", "text": TROOPS.text, "published": "2024-10-23"},
        {"title": "Election", "text": TRUMP.text, "published": "2024-10-20"},
        {"title": "Ferry", "text": OTHER, "published": "2024-10-21"},
        {"title": "Both", "text": TROOPS.text + "\n\n" + TRUMP.text, "published": "2024-10-26"},
    ]
    files = [records] if batches == "in one batch" else [records[:3], records[3:]]
    index = Index(Settings(index_dir=location), create=True, embedder=embedder)
    try:
        for number, part in enumerate(files):
            path = tmp_path / f"part{number}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
            index.ingest([path])
            if number == 0 and len(files) == 2:
                assert index.stories() == []  # three stories of one article each, so far
        (story,) = index.stories()
        assert sorted(a.title for a in story) == ["Both", "Election", "Troops"]
        singles = index.store.stories_of(a.id for a in index.store.articles())
        assert len(set(singles.values())) == 2 and len(singles) == 4
        assert index.check() == []
    finally:
        index.close()


def test_search_returns_the_newest_version_once(wire):
    passages = wire.search("How many North Korean troops were being trained?", k=5)
    troops = [p for p in passages if p.title.startswith(TROOPS.title[:30]) or "soldiers reach" in p.title]
    assert troops and {p.article_id for p in troops} == {troops[0].article_id}
    assert troops[0].published == "2024-10-25" and "5,000" in " ".join(p.text for p in troops)
    every_copy = wire.search("How many North Korean troops were being trained?", k=5, stories=False)
    assert len({p.article_id for p in every_copy}) > 1


def test_a_citation_lists_the_other_outlets_and_versions(wire):
    from rag.answer import Assistant

    answer = Assistant(wire).ask("How many North Korean troops were being trained?", as_of="2024-10-30")
    first = answer.citations[0]
    assert first.published == "2024-10-25"
    assert set(first.also) == {"Wire copy (2024-10-24)", "AP (2024-10-23)"}


def test_a_citation_lists_no_version_published_after_the_as_of_date(wire):
    from rag.answer import Assistant

    answer = Assistant(wire).ask("How many North Korean troops were being trained?", as_of="2024-10-24")
    first = answer.citations[0]
    assert first.published == "2024-10-24"
    assert first.also == ("AP (2024-10-23)",)  # not the version of 2024-10-25, nor anything about it


def test_removing_a_copy_keeps_the_rest_of_its_story(wire):
    (story,) = wire.stories()
    wire.remove([story[0].id])
    (rest,) = wire.stories()
    assert [a.id for a in rest] == [a.id for a in story[1:]]
    assert wire.check() == []


def test_rag_list_stories(wire, capsys):
    from rag.cli import main

    assert main(["list", "--stories", "--index", str(wire.store.folder)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"story of 3 articles", out) and "Wire copy" in out and TRUMP.title not in out


def test_the_library_tab_lists_the_other_articles_of_a_story(wire):
    from html import escape

    import app as app_module
    from rag.answer import Assistant

    table = app_module.App(Assistant(wire)).library_page("", app_module.NEWEST_FIRST, 0)[0]
    assert table.count('<details class="story">') == 3 and table.count(">3 versions</summary>") == 3
    updated = table[table.index(escape(TROOPS.title + " (updated)")):]
    others = updated[: updated.index("</details>")]  # the newest's own row lists the other two, not itself
    assert "AP, 2024-10-23" in others and "Wire copy, 2024-10-24" in others and "2024-10-25" not in others
    trump_row = next(row for row in table.split("<tr>") if escape(TRUMP.title) in row)
    assert "<details" not in trump_row  # a story of one article
