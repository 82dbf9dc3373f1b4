"""The values of the library: article ids, filters from user input, dates."""

import pytest

from rag import RagError
from rag.types import Filters, article_id, day


def test_article_ids_ignore_wrapping_and_line_endings():
    assert article_id("Title", "One two.\nThree.") == article_id("Title", "One  two.\r\nThree.")
    assert article_id("Title", "One two.") != article_id("Title", "One three.")


def test_filters_from_what_a_person_typed():
    filters = Filters.parse(
        article_ids=[" abc ", ""], sources=["AFP", None], date_from=" 2024-10-01 ", date_to="October 27, 2024"
    )
    assert filters == Filters(article_ids=("abc",), sources=("AFP",), date_from="2024-10-01", date_to="2024-10-27")
    assert not Filters.parse(sources=None, date_from="  ", date_to=None)


@pytest.mark.parametrize(
    "given, message",
    [
        ({"date_from": "last tuesdayish"}, "--since 'last tuesdayish' is not a date; use YYYY-MM-DD"),
        ({"date_from": "2024-11-02", "date_to": "2024-10-01"}, "--since 2024-11-02 is after --until 2024-10-01"),
    ],
)
def test_bad_filters_name_the_field(given, message):
    with pytest.raises(RagError, match=message):
        Filters.parse(**given, names=("--since", "--until"))


@pytest.mark.parametrize(
    "published, expected", [("2024-10-23T08:15:00+00:00", "2024-10-23"), ("2024-10-23", "2024-10-23"), (None, "")]
)
def test_day(published, expected):
    assert day(published) == expected
