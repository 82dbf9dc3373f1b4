"""What news text carries about each sentence: who speaks, the explainer subhead above it, the dates it names.

Pure functions, run once per sentence at ingestion (see :func:`analyze`); every result is a span of
offsets into the article text. Everything is read with precompiled regular expressions and a few word
lists, in three passes over an article's sentences:

* **headings**: a short question opening a paragraph ("Why does Russia need North Korea?") or a short
  whole-line subhead ("- Secret sauce -") governs the sentences after it, until the next one;
* **attribution**: quotation marks are tracked through each paragraph (one line), their contents masked,
  and the rest searched for ``X said`` / ``said X`` / ``X told ...`` / ``according to X``; a pronoun or
  "the analyst" is resolved to the latest person named before it, and a quotation without attribution
  takes the speaker of the quotation around it, of the paragraph, or (opening a paragraph) of the one before;
* **dates**: candidate expressions found by one regular expression ("on Wednesday", "last month",
  "June 2022", "October 27, 2024", "2023") and resolved to calendar ranges against the publication date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from .text import WORD
from .types import DateMention, SentenceFacts, Span

# --- dates -------------------------------------------------------------------------------------

_MONTHS = tuple("January February March April May June July August September October November December".split())
_WEEKDAYS = tuple("Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
_MONTH_NUMBERS = (
    {name.lower(): i for i, name in enumerate(_MONTHS, 1)}
    | {name[:3].lower(): i for i, name in enumerate(_MONTHS, 1)}
    | {"sept": 9}
)
_WEEKDAY_NUMBERS = {name: i for i, name in enumerate(_WEEKDAYS)}

_MONTH_FULL = "|".join(_MONTHS)
_MONTH_ANY = rf"(?:{_MONTH_FULL}|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)"
_WEEKDAY = "|".join(_WEEKDAYS)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1\d{3}|20\d{2})"
_PREPOSITION = r"(?:[Oo]n|[Ii]n|[Ss]ince|[Bb]y|[Uu]ntil|[Tt]ill|[Ff]rom|[Dd]uring|[Tt]hrough|[Bb]efore|[Aa]fter)"

_DATE = re.compile(
    rf"""
    (?<![\w$€£#/-])
    (?:(?P<prep>{_PREPOSITION})\s+)?
    (?:
        (?P<iso>(?P<iso_y>{_YEAR})-(?P<iso_m>0[1-9]|1[0-2])-(?P<iso_d>0[1-9]|[12]\d|3[01])(?:T[\d:.]+(?:Z|[+-][\d:]+)?)?)
      | (?P<mdy>(?:(?:{_WEEKDAY}),?\s+)?(?P<mdy_m>{_MONTH_ANY})\s+(?P<mdy_d>{_DAY}),?\s+(?P<mdy_y>{_YEAR}))
      | (?P<dmy>(?:(?:{_WEEKDAY}),?\s+)?(?P<dmy_d>{_DAY})\s+(?:of\s+)?(?P<dmy_m>{_MONTH_ANY}),?\s+(?P<dmy_y>{_YEAR}))
      | (?P<numeric>(?P<num_a>\d{{1,2}})(?P<num_sep>[./])(?P<num_b>\d{{1,2}})(?P=num_sep)(?P<num_y>{_YEAR}))
      | (?P<my>(?P<my_m>{_MONTH_ANY})\s+(?P<my_y>{_YEAR}))
      | (?P<md>(?P<md_m>{_MONTH_ANY})\s+(?P<md_d>{_DAY}))
      | (?P<dm>(?P<dm_d>{_DAY})\s+(?:of\s+)?(?P<dm_m>{_MONTH_ANY}))
      | (?P<weekday>(?:(?P<wd_rel>(?i:last|next|this))\s+)?(?P<wd>{_WEEKDAY}))
      | (?P<relday>(?i:today|tonight|yesterday|tomorrow|last\s+night))
      | (?P<period>(?P<per_rel>(?i:last|this|next))\s+(?P<per>(?i:week|month|year)))
      | (?P<month>(?:(?P<mo_mod>(?i:last|this|next|early|late|mid))(?:\s+|-))?(?P<mo>{_MONTH_FULL}))
      | (?P<decade>(?:the\s+)?(?P<dec>1\d\d0|20\d0)s)
      | (?P<year>{_YEAR})
    )
    (?![\w-]|[.,/]\d)
    """,
    re.VERBOSE,
)
_PLURAL_AFTER = re.compile(r"\s+[a-z]+s\b")  # "2000 troops": a count, not a year
_NAME_AFTER = re.compile(r"\s+[A-Z]")  # "Sunday Times": a name, not a day
_HAS_YEAR = re.compile(rf"(?<!\d){_YEAR}(?!\d)")
_AMBIGUOUS_MONTHS = frozenset({"May", "March"})  # also ordinary words: need "in", "since", "early" ...

DateRange = tuple[dt.date, dt.date]


def _month_range(year: int, month: int) -> DateRange:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _day(year: int, month: int, day: str) -> DateRange | None:
    try:
        date = dt.date(year, month, int(day.rstrip("stndrh")))
    except ValueError:
        return None
    return date, date


def _month_of(name: str) -> int:
    return _MONTH_NUMBERS[name.rstrip(".").lower()]


def _nearest_year(base: dt.date, month: int, day: str) -> DateRange | None:
    """A day without a year ("October 27"): the one closest to the publication date."""
    candidates = [r for year in (base.year - 1, base.year, base.year + 1) if (r := _day(year, month, day))]
    return min(candidates, key=lambda r: abs((r[0] - base).days), default=None)


def _weekday(base: dt.date, weekday: int, relation: str | None, ahead: bool = False) -> DateRange:
    """A weekday: the latest on or before ``base`` (news convention), or the first on or after it when
    the sentence speaks of what is ``ahead`` ("will be held on Sunday"); "last"/"next" exclude ``base``."""
    if ahead and relation is None:
        date = base + dt.timedelta(days=(weekday - base.weekday()) % 7)
    elif relation == "next":
        date = base + dt.timedelta(days=(weekday - base.weekday()) % 7 or 7)
    elif relation == "this":
        date = base + dt.timedelta(days=weekday - base.weekday())
    else:
        back = (base.weekday() - weekday) % 7
        date = base - dt.timedelta(days=back or (7 if relation == "last" else 0))
    return date, date


def _period(base: dt.date, relation: str, unit: str) -> DateRange:
    """This/last/next week (Monday to Sunday), month or year around ``base``."""
    step = {"last": -1, "this": 0, "next": 1}[relation]
    if unit == "week":
        monday = base - dt.timedelta(days=base.weekday()) + dt.timedelta(weeks=step)
        return monday, monday + dt.timedelta(days=6)
    if unit == "month":
        index = base.year * 12 + base.month - 1 + step
        return _month_range(index // 12, index % 12 + 1)
    return dt.date(base.year + step, 1, 1), dt.date(base.year + step, 12, 31)


def _month_alone(base: dt.date, month: int, modifier: str | None) -> DateRange:
    """A month without a year: in the publication year unless that would lie after the publication month."""
    if modifier == "next":
        year = base.year if month > base.month else base.year + 1
    elif modifier == "last":
        year = base.year if month < base.month else base.year - 1
    elif modifier == "this":
        year = base.year
    else:
        year = base.year if month <= base.month else base.year - 1
    return _month_range(year, month)


def _relative_day(base: dt.date, word: str) -> DateRange:
    offset = {"yesterday": -1, "tomorrow": 1}.get(word, -1 if word.startswith("last") else 0)
    date = base + dt.timedelta(days=offset)
    return date, date


def _resolve(match: re.Match[str], base: dt.date | None, ahead: bool = False) -> DateRange | None:
    """The calendar range a match of ``_DATE`` names; None when relative and ``base`` is None, or
    when it falls off the calendar ("yesterday" of 0001-01-01). ``ahead``: the sentence speaks of
    the future before it (a weekday is then the coming one)."""
    try:
        return _resolve_match(match, base, ahead)
    except (ValueError, OverflowError):
        return None


def _resolve_match(match: re.Match[str], base: dt.date | None, ahead: bool = False) -> DateRange | None:
    kind = match.lastgroup  # the alternative that matched: it closes after the groups nested in it
    g = match.group
    if kind == "iso":
        return _day(int(g("iso_y")), int(g("iso_m")), g("iso_d"))
    if kind in ("mdy", "dmy"):
        return _day(int(g(f"{kind}_y")), _month_of(g(f"{kind}_m")), g(f"{kind}_d"))
    if kind == "numeric":  # 27.10.2024 is day-first; 10/27/2024 month-first unless it cannot be
        first, second = int(g("num_a")), int(g("num_b"))
        day_first = g("num_sep") == "." or first > 12
        month, day = (second, first) if day_first else (first, second)
        return _day(int(g("num_y")), month, str(day)) if month <= 12 else None
    if kind == "my":
        return _month_range(int(g("my_y")), _month_of(g("my_m")))
    if kind == "decade":
        return dt.date(int(g("dec")), 1, 1), dt.date(int(g("dec")) + 9, 12, 31)
    if kind == "year":
        return dt.date(int(g("year")), 1, 1), dt.date(int(g("year")), 12, 31)
    if base is None:
        return None
    if kind in ("md", "dm"):
        return _nearest_year(base, _month_of(g(f"{kind}_m")), g(f"{kind}_d"))
    if kind == "weekday":
        relation = g("wd_rel").lower() if g("wd_rel") else None
        return _weekday(base, _WEEKDAY_NUMBERS[g("wd")], relation, ahead)
    if kind == "relday":
        return _relative_day(base, g("relday").lower())
    if kind == "period":
        return _period(base, g("per_rel").lower(), g("per").lower())
    modifier = g("mo_mod").lower() if g("mo_mod") else None
    return _month_alone(base, _MONTH_NUMBERS[g("mo").lower()], modifier)


def _plausible(match: re.Match[str], text: str) -> bool:
    """Reject what the pattern admits but news rarely means: "May" the verb, "Sunday Times", "2000 troops"."""
    if match.group("mo") in _AMBIGUOUS_MONTHS and not (match.group("prep") or match.group("mo_mod")):
        return False
    if (
        match.group("wd")
        and not (match.group("prep") or match.group("wd_rel"))
        and _NAME_AFTER.match(text, match.end())
    ):
        return False
    year = match.group("year")
    if year and not match.group("prep"):
        return 1900 <= int(year) <= 2099 and not _PLURAL_AFTER.match(text, match.end())
    return True


def _dateparser_day(expression: str) -> DateRange | None:
    """An absolute day in a format the pattern does not know ("the 27th of October, 2024", other languages)."""
    years = set(_HAS_YEAR.findall(expression))
    if not years:
        return None  # relative expressions stay with the explicit rules above
    import dateparser

    parsed = dateparser.parse(expression, settings={"REQUIRE_PARTS": ["day", "month", "year"]})
    if parsed is None or str(parsed.year) not in years:  # it reads "the 1980s" as a moment ago
        return None
    return parsed.date(), parsed.date()


def resolve_date(expression: str, base: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """A date expression ("Wednesday", "on Tuesday", "last month", "in June", "June 2022", "October 27, 2024",
    "2023", "yesterday", "last week", "this week", "today", "last year") as an inclusive calendar range,
    relative ones resolved against ``base`` (None when relative and base is None, or not a date)."""
    cleaned = " ".join(expression.split())
    for candidate in (cleaned, cleaned.rstrip(".,;:")):
        match = _DATE.fullmatch(candidate)
        if match:
            return _resolve(match, base)
    return _dateparser_day(cleaned) if 0 < len(cleaned) <= 60 else None


# what puts a weekday after it in the coming days: "will be held on Sunday", "is due to vote on Friday",
# "said it would vote on Friday", "due on Friday" (not "cancelled due to rain on Saturday"); lower case
# only ("Will Smith arrived on Monday"), present tense only ("was scheduled for Sunday but was cancelled")
_AHEAD = re.compile(
    r"\b(?:will|shall|would|won['’]t|(?:is|are|'s|'re)\s+(?:set|due|scheduled|expected|planned|going)\s+(?:to|for)|"
    r"plans?\s+to|planning\s+to|due\s+on|to\s+be\s+(?:held|heard|decided|announced))\b|\w['’]ll\b"
)
# where a clause ends: punctuation, not the comma or colon inside a figure or a time ("3,000", "7:30")
_CLAUSE_END = re.compile(r"[,;:—](?!\d)")


def find_dates(text: str, start: int, end: int, base: dt.date | None) -> list[DateMention]:
    """The date expressions inside text[start:end], resolved (unresolvable ones left out). A weekday
    is the latest on or before the publication day, or the coming one when its clause speaks of the
    future before it ("will be held on Sunday"; not "..., officials said on Tuesday")."""
    segment = text[start:end]
    mentions = []
    for match in _DATE.finditer(segment):
        if not _plausible(match, segment):
            continue
        ahead = False
        if match.lastgroup == "weekday":  # the clause before the day's name: not "..., officials said on Tuesday"
            clause = max((m.end() for m in _CLAUSE_END.finditer(segment, 0, match.start("wd"))), default=0)
            ahead = bool(_AHEAD.search(segment, clause, match.start("wd")))
        resolved = _resolve(match, base, ahead)
        if resolved:
            first, last = resolved
            mentions.append(
                DateMention(start + match.start(), start + match.end(), first.isoformat(), last.isoformat())
            )
    return mentions


def _base_date(published: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(published[:10]) if published else None
    except ValueError:
        return None


# --- headings ----------------------------------------------------------------------------------

HEADING_MAX_WORDS = 12
_QUESTION_HEADING = re.compile(
    r"(?:What|Why|How|Who|Where|When|Which|Will|Can|Could|Would|Should|Is|Are|Was|Were|Does|Do|Did|Has|Have)\b"
    r"[^\"“”«»]*\?"
)
_DASHED_HEADING = re.compile(r"[-–—•*]+\s*(?P<title>[^-–—•*\s](?:.{0,78}[^-–—•*\s])?)\s*[-–—•*]+")
_MARKDOWN_HEADING = re.compile(r"#{1,6}\s+(?P<title>.+?)[\s#]*")
_PLAIN_HEADING = re.compile(r"[A-Z][^.!?:;,\"“”)]{0,60}[^.!?:;,\"“”)\s]")
PLAIN_HEADING_MAX_WORDS = 6


def _heading_span(text: str, start: int, end: int, line_start: bool, whole_line: bool) -> Span | None:
    """The subhead span when the sentence text[start:end] is one; None when it is body text."""
    if not line_start:
        return None
    sentence = text[start:end]
    words = len(sentence.split())
    if _QUESTION_HEADING.fullmatch(sentence) and words <= HEADING_MAX_WORDS:
        return start, end
    if not whole_line:
        return None
    for pattern in (_DASHED_HEADING, _MARKDOWN_HEADING):
        match = pattern.fullmatch(sentence)
        if match and len(match.group("title").split()) <= HEADING_MAX_WORDS:
            return start + match.start("title"), start + match.end("title")
    if (
        _PLAIN_HEADING.fullmatch(sentence)
        and words <= PLAIN_HEADING_MAX_WORDS
        and not sentence.startswith("By ")
        and not sentence.isupper()
    ):
        return start, end
    return None


# --- quotations ----------------------------------------------------------------------------------

_QUOTE_MARK = re.compile(r"[“”\"‘’']")
_OPENING_CONTEXT = " \t([{—–-:;/“"
QUOTATION_MIN_WORDS = 5  # a shorter closed quote inside a sentence is a title or scare quote


@dataclass(frozen=True)
class _Quotes:
    """One sentence's quotation marks read: the sentence with quoted text masked (same length: "_" for a
    quotation, "~" for a short title such as “I Want to Live”) and whether it is, or is part of, a quotation."""

    masked: str
    ends_inside: str | None  # "double"/"single" when a quotation is still open at the sentence end
    quotation: bool


def _quote_segments(sentence: str, inside: str | None) -> tuple[list[tuple[int, int]], str | None]:
    """The (start, end) of each quoted stretch of the sentence, and the state at its end. “ opens, ” closes,
    " toggles; ‘ ’ and ' count only where they cannot be apostrophes (they’re, soldiers')."""
    segments: list[tuple[int, int]] = []
    opened_at = 0
    for mark in _QUOTE_MARK.finditer(sentence):
        i, char = mark.start(), mark.group()
        before = sentence[i - 1] if i else " "
        after = sentence[i + 1] if i + 1 < len(sentence) else " "
        if inside is None:
            if char in '“"':
                inside, opened_at = "double", i + 1
            elif char in "‘'" and before in _OPENING_CONTEXT and (after.isupper() or (char == "‘" and after.isalnum())):
                inside, opened_at = "single", i + 1
        elif inside == "double" and char in '”"':
            segments.append((opened_at, i))
            inside = None
        elif inside == "single" and char in "’'" and not (before.isalnum() and after.isalnum()):
            segments.append((opened_at, i))
            inside = None
    if inside is not None:
        segments.append((opened_at, len(sentence)))
    return segments, inside


def _read_quotes(sentence: str, inside: str | None) -> _Quotes:
    """Track quotation state through one sentence, starting inside a quotation when ``inside`` is set."""
    segments, ends_inside = _quote_segments(sentence, inside)
    pieces, quotation, previous = [], False, 0
    for a, b in segments:
        content = sentence[a:b]
        long_quote = a == 0 or a == 1 or b == len(sentence) or len(content.split()) >= QUOTATION_MIN_WORDS
        title = not long_quote and not content.rstrip().endswith((",", ".", "?", "!", "…", "—"))
        pieces += [sentence[previous:a], ("~" if title else "_") * (b - a)]
        quotation = quotation or long_quote
        previous = b
    pieces.append(sentence[previous:])
    return _Quotes("".join(pieces), ends_inside, quotation)


# --- attribution -------------------------------------------------------------------------------

SPEECH_VERBS = (  # the verbs that report what someone said, as one regular expression alternation
    "said|says|say|told|tells|added|adds|warned|warns|noted|notes|argued|argues|claimed|claims|insisted|insists|"
    "cautioned|cautions|believes|believe|stated|states|wrote|writes|explained|explains|stressed|stresses|"
    "announced|announces|asserted|asserts|acknowledged|acknowledges|emphasized|emphasised|declared|declares|"
    "recalled|predicted|predicts|suggested|suggests|confirmed|confirms|denied|denies|reported|reports|"
    "commented|admitted|admits|urged|urges|contended|countered|replied|responded|remarked|conceded|"
    "alleged|alleges|testified|tweeted|warn|argue|insist|caution|explain|stress|predict|suggest|admit|urge|allege"
)
_ATTRIBUTION = re.compile(
    rf"\b(?P<according>[Aa]ccording to)\b"
    rf"|\b(?P<verb>(?:{SPEECH_VERBS})|(?:published|released|issued|posted|shared)\s+(?:a|an)\s+"
    rf"(?:[\w-]+\s+){{0,2}}?(?:video|statement|message|post|letter|appeal|communiqu[eé]))\b"
)
_WORD_CHARS = r"[^\W_]"
_TOKEN = re.compile(
    r"[“\"‘']~+[”\"’']"  # a title in quotation marks, part of a noun phrase
    r"|[“\"‘']?_+[”\"’']?"  # a masked quotation: a clause boundary
    r"|(?:Mr|Mrs|Ms|Dr|St|Gen|Lt|Col|Sen|Rep|Gov|Prof|Jr|Sr)\.|(?:[A-Z]\.){2,}"
    rf"|{_WORD_CHARS}(?:{_WORD_CHARS}|[’'.-](?={_WORD_CHARS}))*"
    r"|\S"
)

_PRONOUNS = frozenset({"he", "she", "they"})
_SKIP_BEFORE_VERB = frozenset(
    {"has", "have", "had", "also", "previously", "later", "earlier", "then", "again", "repeatedly", "reportedly",
     "once", "recently", "publicly", "further", "often", "on", "today", "yesterday", "separately", "privately",
     *(day.lower() for day in _WEEKDAYS)}
)  # fmt: skip
_CLAUSE_WORDS = frozenset(
    {"that", "which", "who", "whom", "whose", "what", "when", "where", "while", "whereas", "because", "although",
     "though", "if", "unless", "as", "but", "so", "then", "whether", "after", "before", "adding", "saying", "according"}
)  # fmt: skip
_ASIDES = frozenset({"however", "meanwhile", "though", "too", "also", "moreover", "instead", "nevertheless"})
_RELATIVE_WORDS = frozenset({"which", "who", "whom", "whose", "what"})  # "... which X have claimed": not the speaker
_PREPOSITIONS = frozenset("in of at from for with on by to across near and or nor".split())
_NAME_PARTICLES = frozenset("bin ibn al de del der van von da di la le du dos".split())
_TITLES = frozenset(
    """President Vice Prime Minister Secretary Director Chief Head Chairman Chairwoman Chair Spokesman Spokeswoman
    Spokesperson Commander General Gen Lieutenant Lt Colonel Col Major Admiral Captain Sergeant Senator Sen
    Representative Rep Congressman Congresswoman Governor Gov Mayor Ambassador Envoy Judge Justice King Queen
    Prince Princess Pope Chancellor Leader Speaker CEO Officer Mr Mrs Ms Dr Professor Prof Sheikh Deputy Premier
    Emir Coordinator Adviser Advisor Secretary-General Chairperson""".split()
)
# capitalised words that name no one and nowhere: titles ("Prime Minister") and the calendar
NOT_NAMES = frozenset(w.lower() for w in (*_TITLES, *_MONTHS, *_WEEKDAYS))
_PERSON_ROLES = frozenset(
    """analyst consultant expert professor minister president secretary spokesman spokeswoman spokesperson official
    leader chief commander director head ambassador senator governor mayor lawyer attorney researcher economist
    diplomat adviser advisor author candidate nominee general officer scholar historian politician lawmaker envoy
    negotiator activist chairman chairwoman founder executive strategist pollster commentator journalist
    correspondent prosecutor judge rival coach doctor scientist""".split()
)
_SPEAKER_NOUNS = _PERSON_ROLES | frozenset(
    """ministry government police military army authorities source resident witness report statement study survey
    agency observer critic people voter intelligence court company group organization organisation council committee
    department office board campaign party project hotline service media newspaper outlet broadcaster embassy
    spokesmen administration lawmaker team firm bank fund institute centre center union alliance coalition""".split()
)
_DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "his", "her", "their", "its", "our"})
MAX_SUBJECT_TOKENS = 10
MAX_PHRASE_TOKENS = 30  # how far back to look for a clause boundary (an appositive can be long)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()

    @property
    def is_capitalized(self) -> bool:
        return self.text[0].isupper()

    @property
    def is_title_quote(self) -> bool:
        return len(self.text) > 2 and self.text[1] == "~"

    @property
    def is_possessive(self) -> bool:
        return self.text.endswith(("’s", "'s"))


def _is_speaker_noun(word: str) -> bool:
    """A common noun that can say things ("officials", "the ministry"), singular or plural."""
    return (
        word in _SPEAKER_NOUNS
        or (word.endswith("s") and word[:-1] in _SPEAKER_NOUNS)
        or (word.endswith("ies") and word[:-3] + "y" in _SPEAKER_NOUNS)
    )


def _valid_subject(tokens: list[_Token]) -> bool:
    """Whether a noun phrase can be a speaker: it ends in a name, a pronoun or a noun that speaks."""
    if not tokens:
        return False
    head = tokens[-1]
    if not head.is_word or head.is_possessive:
        return False
    if head.lower in _PRONOUNS:
        return len(tokens) == 1
    if head.is_capitalized:
        return head.lower not in _DETERMINERS and head.text not in ("I", "We", "It", "You", "There", "This", "That")
    return _is_speaker_noun(head.lower) or any(t.is_title_quote for t in tokens[:-1])


@dataclass(frozen=True)
class _Subject:
    """A speaker as written: ``kind`` is "name" (a person's), "phrase", "pronoun" (he, she), "plural" (they)
    or "description" ("the analyst")."""

    start: int
    end: int
    kind: str


def _name_run(tokens: list[_Token]) -> list[_Token]:
    """The trailing run of capitalised words (and name particles) of a noun phrase, without a possessive."""
    i = len(tokens)
    while i > 0:
        token = tokens[i - 1]
        particle = token.lower in _NAME_PARTICLES and i < len(tokens)
        if token.is_possessive or not token.is_word or not (token.is_capitalized or particle):
            break
        i -= 1
    while i < len(tokens) and tokens[i].lower in _NAME_PARTICLES:
        i += 1
    return tokens[i:]


def _subject(tokens: list[_Token]) -> _Subject:
    """Which part of a speaker noun phrase to point at: the person's name when one heads it, else the phrase."""
    first, last = tokens[0], tokens[-1]
    if len(tokens) == 1 and first.lower in _PRONOUNS:
        return _Subject(first.start, first.end, "plural" if first.lower == "they" else "pronoun")
    titles = [t for t in tokens if t.is_title_quote]
    if titles:  # Ukraine’s “I Want to Live” project
        return _Subject(titles[-1].start, last.end, "phrase")
    run = _name_run(tokens)
    preceding = tokens[len(tokens) - len(run) - 1] if len(run) < len(tokens) else None
    if run and (preceding is None or preceding.lower not in _PREPOSITIONS):
        cut = max((i + 1 for i, t in enumerate(run) if t.text.rstrip(".") in _TITLES), default=0)
        name = run[cut:]  # "German Defense Minister Boris Pistorius" -> "Boris Pistorius"
        generic = not name or (len(name) == 1 and _is_speaker_noun(name[0].lower))  # "Officials said"
        if not generic and name[0].lower == "the":  # "The Associated Press": an organisation
            return _Subject(name[0].start, last.end, "phrase")
        if not generic and cut == 0 and preceding is not None and preceding.lower == "the":
            return _Subject(preceding.start, last.end, "phrase")
        if not generic:
            return _Subject(name[0].start, name[-1].end, "name")
    description = (
        first.lower in ("the", "this", "that")
        and last.lower in _PERSON_ROLES
        and not any(t.is_capitalized for t in tokens[1:])
    )
    return _Subject(first.start, last.end, "description" if description else "phrase")


def _subject_before(tokens: list[_Token], verb: int) -> list[_Token] | None:
    """The noun phrase in front of the verb at ``tokens[verb]`` (``X said``), also across an appositive
    ("Donald Nieman, a political analyst ..., believes"); None when there is none."""
    j = verb - 1
    while j >= 0 and tokens[j].lower in _SKIP_BEFORE_VERB:
        j -= 1
    if j >= 2 and tokens[j].text == tokens[j - 2].text == "," and tokens[j - 1].lower in _ASIDES:
        j -= 3  # "Experts, however, warn"
    phrase, boundary = _phrase_back(tokens, j)
    if not phrase and boundary >= 0 and tokens[boundary].text == ",":  # "X, a former minister, said"
        apposition, boundary = _phrase_back(tokens, boundary - 1)
        if not apposition or boundary < 0 or tokens[boundary].text != ",":
            return None
        if not (apposition[0].lower in ("a", "an") or (len(apposition) == 1 and apposition[0].text.isdigit())):
            return None
        phrase, boundary = _phrase_back(tokens, boundary - 1)
    if boundary >= 0 and tokens[boundary].lower in _RELATIVE_WORDS:
        return None
    if len(phrase) > MAX_SUBJECT_TOKENS or not _valid_subject(phrase):
        return None
    return phrase


def _phrase_back(tokens: list[_Token], last: int) -> tuple[list[_Token], int]:
    """Tokens from ``tokens[last]`` back to the nearest clause boundary (looking at most ``MAX_PHRASE_TOKENS``
    back), and the index where it stopped: the boundary, or -1 at the start."""
    j = last
    while j >= 0 and last - j <= MAX_PHRASE_TOKENS:
        token = tokens[j]
        inner_title = token.is_title_quote and j < last and tokens[j + 1].is_word
        if not inner_title and (not token.is_word or token.lower in _CLAUSE_WORDS):
            break
        j -= 1
    return tokens[j + 1 : last + 1], j


def _subject_after(tokens: list[_Token], first: int) -> list[_Token] | None:
    """The noun phrase after an inverted verb or "according to" (``said X, a former ...``)."""
    if first >= len(tokens):
        return None
    head = tokens[first]
    if head.text in _WEEKDAY_NUMBERS or head.text.rstrip(".").lower() in _MONTH_NUMBERS:
        return None  # "said Wednesday that ..."
    if head.lower in _PRONOUNS:
        return [head]
    j = first
    while (
        j < len(tokens)
        and j - first < MAX_SUBJECT_TOKENS
        and tokens[j].is_word
        and tokens[j].lower not in _CLAUSE_WORDS
        and (tokens[j].lower == "of" or tokens[j].lower not in _PREPOSITIONS)
    ):
        j += 1
    phrase = tokens[first:j]
    return phrase if _valid_subject(phrase) else None


def _inverted(tokens: list[_Token], verb: int) -> bool:
    """Whether a verb follows a quotation or a comma, where news puts ``said X``."""
    if verb == 0:
        return False
    before = tokens[verb - 1].text
    return before in (",", "”", '"', "’", "'") or "_" in before


def _find_attribution(masked: str, offset: int) -> _Subject | None:
    """The first attribution in a sentence whose quotations are masked; offsets made absolute."""
    tokens: list[_Token] = []
    starts: list[int] = []
    for match in _ATTRIBUTION.finditer(masked):
        if not tokens:
            tokens = [_Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(masked)]
            starts = [token.start for token in tokens]
        index = bisect_left(starts, match.start())
        after = bisect_left(starts, match.end())
        if match.group("according"):
            phrase = _subject_after(tokens, after)
        else:
            phrase = _subject_before(tokens, index)
            if phrase is None and " " not in match.group("verb") and _inverted(tokens, index):
                phrase = _subject_after(tokens, after)
        if phrase:
            subject = _subject(phrase)
            return _Subject(subject.start + offset, subject.end + offset, subject.kind)
    return None


_TITLE_WORDS = "|".join(t for t in _TITLES if t.isalpha() and len(t) > 2)
_NAME_TOKEN = rf"(?!(?:{_TITLE_WORDS})\b)[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Za-z]+|[’'](?!s\b)[A-Za-z]+)*"
_NAME = rf"{_NAME_TOKEN}(?:\s+(?:(?:{'|'.join(_NAME_PARTICLES)})\s+)?{_NAME_TOKEN}){{0,3}}"
_NAME_RUN = re.compile(rf"(?<![\w’'-]){_NAME}")
_WORD_BEFORE = re.compile(r"(\w+)\.?\s+\Z")
_APPOSITION = re.compile(rf",\s+(?:a|an|the)\s+(?:[\w-]+\s+){{0,3}}?(?:{'|'.join(_PERSON_ROLES)})\b")


def _person_mentions(text: str) -> list[Span]:
    """Names the text presents as people: after a role or title ("consultant Andrew Koneschusky",
    "Minister Boris Pistorius") or followed by one ("Donald Nieman, a political analyst")."""
    people = []
    for match in _NAME_RUN.finditer(text):
        start, end = match.span()
        first, _, rest = match.group().partition(" ")
        if rest and first.lower() in _PERSON_ROLES:  # "Economist Jane Doe" opening a sentence
            people.append((end - len(rest.lstrip()), end))
            continue
        before = _WORD_BEFORE.search(text, max(0, start - 40), start)
        word = before.group(1) if before else ""
        if word.lower() in _PERSON_ROLES or word in _TITLES or _APPOSITION.match(text, end):
            people.append((start, end))
    return people


class _People:
    """Who an article has named so far, for "he", "she", "they" and "the analyst"."""

    def __init__(self, text: str) -> None:
        self._people = _person_mentions(text)
        self._starts = [start for start, _ in self._people]
        self._last_named: Span | None = None  # speakers, in sentence order
        self._last_any: Span | None = None

    def spoke(self, span: Span, named: bool) -> None:
        self._last_any = span
        if named:
            self._last_named = span

    def latest(self, position: int, any_speaker: bool) -> Span | None:
        """The latest person named before ``position`` (or, with ``any_speaker``, any earlier speaker)."""
        i = bisect_right(self._starts, position) - 1
        while i >= 0 and self._people[i][1] > position:
            i -= 1
        person = self._people[i] if i >= 0 else None
        speaker = self._last_any if any_speaker else self._last_named
        if speaker is None or speaker[1] > position:
            return person
        return speaker if person is None or speaker[0] > person[0] else person


def _resolve_subject(subject: _Subject, people: _People) -> Span | None:
    """The span a speaker points at: itself, or for a pronoun or description the latest person before it."""
    span = (subject.start, subject.end)
    if subject.kind in ("pronoun", "plural"):
        return people.latest(subject.start, any_speaker=subject.kind == "plural")
    if subject.kind == "description":
        return people.latest(subject.start, any_speaker=False) or span
    people.spoke(span, subject.kind == "name")
    return span


# --- the article pass ----------------------------------------------------------------------------


@dataclass
class _Reading:
    """One sentence as the article pass sees it."""

    paragraph: int
    heading: bool
    quotes: _Quotes | None = None
    inside_at_start: bool = False
    speaker: Span | None = None
    attributed: bool = False

    @property
    def in_quotation(self) -> bool:
        return self.quotes is not None and (self.quotes.quotation or self.inside_at_start)


def _paragraphs(text: str, sentences: Sequence[Span]) -> list[tuple[int, bool, bool]]:
    """Per sentence: its paragraph (line) number, whether it starts its line, whether it is the whole line."""
    result, paragraph = [], -1
    for i, (start, end) in enumerate(sentences):
        before = text[sentences[i - 1][1] if i else 0 : start]
        after = text[end : sentences[i + 1][0] if i + 1 < len(sentences) else len(text)]
        newline = before.rfind("\n")
        if i == 0 or newline >= 0:
            paragraph += 1
        line_start = (i == 0 or newline >= 0) and not before[newline + 1 :].strip()
        line_end = after.find("\n")
        rest_of_line = after if line_end < 0 else after[:line_end]
        whole_line = line_start and (line_end >= 0 or i + 1 == len(sentences)) and not rest_of_line.strip()
        result.append((paragraph, line_start, whole_line))
    return result


def _attribute(text: str, sentences: Sequence[Span], paragraphs: list[int], headings: list[bool]) -> list[_Reading]:
    """Quotation state and speakers, sentence by sentence, then quotation by quotation."""
    people = _People(text)
    readings = []
    inside: str | None = None
    for i, (start, end) in enumerate(sentences):
        reading = _Reading(paragraphs[i], headings[i])
        readings.append(reading)
        if reading.heading or i == 0 or paragraphs[i] != paragraphs[i - 1]:
            inside = None
        if reading.heading:
            continue
        reading.inside_at_start = inside is not None
        reading.quotes = _read_quotes(text[start:end], inside)
        inside = reading.quotes.ends_inside
        subject = _find_attribution(reading.quotes.masked, start)
        if subject is not None:
            reading.attributed = True
            reading.speaker = _resolve_subject(subject, people)
    _carry_into_quotations(readings)
    return readings


def _carry_into_quotations(readings: list[_Reading]) -> None:
    """A quotation without its own attribution takes the speaker of the attribution that opens or closes it;
    failing that the latest speaker of its paragraph; failing that, when it opens the paragraph, the last
    speaker of the paragraph before (a quote-only paragraph continues the previous speaker)."""
    last_speaker: dict[int, Span] = {}  # paragraph -> its latest speaker so far
    i = 0
    while i < len(readings):
        j = i + 1  # readings[i:j] is one run of sentences joined by a quotation left open
        while j < len(readings) and readings[j].inside_at_start:
            j += 1
        run = readings[i:j]
        quoted = [r for r in run if r.in_quotation and not r.attributed]
        if quoted:
            attributed = [r for r in run if r.attributed]
            paragraph = run[0].paragraph
            if attributed:
                speaker = attributed[0].speaker
            elif paragraph in last_speaker:
                speaker = last_speaker[paragraph]
            elif i > 0 and readings[i - 1].paragraph != paragraph:
                speaker = last_speaker.get(readings[i - 1].paragraph)
            else:
                speaker = None
            for reading in quoted:
                reading.speaker = speaker
        for reading in run:
            if reading.speaker is not None:
                last_speaker[reading.paragraph] = reading.speaker
        i = j


def analyze(text: str, sentences: Sequence[tuple[int, int]], published: str | None = None) -> list[SentenceFacts]:
    """One SentenceFacts per sentence span, in order (same start/end).

    ``sentences`` are the spans of :func:`rag.text.split_sentences` (a line is a paragraph); ``published``
    is the article's ISO date or datetime, against which relative dates ("on Wednesday") are resolved.
    """
    base = _base_date(published)
    layout = _paragraphs(text, sentences)
    own_headings = [
        _heading_span(text, start, end, line_start, whole_line)
        for (start, end), (_, line_start, whole_line) in zip(sentences, layout)
    ]
    paragraphs = [paragraph for paragraph, _, _ in layout]
    readings = _attribute(text, sentences, paragraphs, [heading is not None for heading in own_headings])
    facts, current = [], None
    for (start, end), reading, own_heading in zip(sentences, readings, own_headings):
        facts.append(
            SentenceFacts(
                start=start,
                end=end,
                speaker=reading.speaker,
                quoted=reading.attributed or reading.in_quotation,
                heading=None if own_heading else current,
                dates=tuple(find_dates(text, start, end, base)),
            )
        )
        current = own_heading or current
    return facts


def speaker_key(name: str) -> str:
    """The key a speaker is looked up by: the last word of the name, lower-cased ("Boris Pistorius"
    and "Pistorius" both give "pistorius"; a possessive "'s" is dropped)."""
    found = WORD.findall(re.sub(r"[’']s\b", "", name).lower())
    return found[-1] if found else ""
