"""Dates as people and articles write them: read into ISO 8601, or a clear error naming the value."""

import pytest

from rag.dates import date_bound, normalize_date
from rag.errors import RagError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-10-27", "2024-10-27"),
        ("2024-10-27T08:30:00Z", "2024-10-27T08:30:00+00:00"),
        ("Sun, 27 Oct 2024 08:30:00 GMT", "2024-10-27T08:30:00+00:00"),
        ("October 27, 2024", "2024-10-27"),
        (1729987200, "2024-10-27"),
        ("not a date", None),
        ("", None),
    ],
)
def test_normalize_date(value, expected):
    assert normalize_date(value) == expected


def test_a_date_bound_that_is_not_a_date_names_the_setting_and_the_value():
    assert date_bound("October 27, 2024", "--as-of") == "2024-10-27"
    assert date_bound(None, "--as-of") is None
    with pytest.raises(RagError, match=r"^--as-of 'next week' is not a date; use YYYY-MM-DD$"):
        date_bound("next week", "--as-of")
