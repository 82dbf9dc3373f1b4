"""What a question asks: its kind, who or what it is about, and what kind of answer would do.

News readers ask about people and what they said, reasons, events at a time, reactions, figures,
who or what someone is, yes or no, and lists. :func:`parse_question` tells these apart with a few
patterns on the question's wording (no model), and finds the question's focus: the people or
things it names and the words for what it asks. The answerer ranks and composes by kind; the
generative mode is given the same evidence.

This module also checks a question typed by a user and joins a follow-up with the question it
follows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import RagError
from ..news import find_dates
from ..text import STOPWORDS, WORD, words
from ..types import DateMention

MAX_QUESTION_CHARS = 2000
MAX_PASSAGES = 50  # k: passages retrieved for one question
MAX_ANSWER_SENTENCES = 5  # sentences quoted in one answer
MAX_HISTORY = 100  # messages (or earlier answers) sent with a follow-up question

KINDS = (
    "attribution",  # what did X say, who said ..., what does X think
    "explanation",  # why, how come, what is the reason
    "event",  # what happened on/in/at ...
    "reaction",  # how did X react or respond
    "quantity",  # how many, how much
    "definition",  # who is X, what is X
    "yesno",  # did/is/has ...
    "list",  # which countries ..., what are the four ...
    "factoid",  # any other question: who/what/when/where ...
)

# a verb of saying, written in lower case ("State" in "the Islamic State" is a name, not a verb)
_SPEECH = (
    r"(?-i:say|said|says|tell|told|think|thinks|thought|claim|claimed|argue|argued|warn|warned|write|wrote|"
    r"believe|believes|believed|state|stated|predict|predicted|add|added)"
)
_ADVERB = r"(?:actually|really|publicly|recently|originally|first|also|later|then|just|once|ever|exactly)"
_ATTRIBUTION = [
    re.compile(rf"^(?:what|how) (?:did|does|do|has|have|had|is|was) (?P<who>.+?) (?:{_ADVERB} )?{_SPEECH}\b", re.I),
    re.compile(
        r"^what (?:is|was|are|were) (?P<who>.+?)[’']s? (?:view|views|statement|comment|comments|position|"
        r"opinion|message|warning|claim)\b",
        re.I,
    ),  # noqa: E501
    re.compile(rf"^who (?:has |had |have )?{_SPEECH}\b", re.I),
    re.compile(r"^according to whom\b|\baccording to (?:whom|who)\b", re.I),
    re.compile(r"^(?:quote|quotes) (?:from|by) (?P<who>.+)", re.I),
]
_REACTION = [
    re.compile(
        r"^how (?:did|does|do|has|have|had|is|are|was|were|will|would) (?P<who>.+?) "
        r"(?:react|respond|reacting|responding|reacted|responded|take|receive|received|view|see)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:reaction|reactions|response|responses)\b(?: (?:of|from|by) (?P<who>[^?]+?))?(?: to\b|\?|$)", re.I
    ),
    re.compile(r"^what did (?P<who>.+?) do (?:in response|about|after)\b", re.I),
]
_EXPLANATION = re.compile(
    r"^(?:why|how come)\b|\bwhat (?:is|was|are|were) the (?:main |real |likely )?"
    r"(?:reason|reasons|cause|causes|purpose|motive|motivation|explanation)\b"
    r"|^what (?:caused|causes|led to|leads to|prompted|drove|explains)\b|"
    r"\bfor what reason\b|\bwhy\b",
    re.I,
)
_EVENT = re.compile(
    r"^what (?:happened|happens|has happened|took place|occurred|went on)\b"
    r"|^what (?:did|does|will) .+? do (?:on|in|at|during|after|before|when)\b"
    r"|^what (?:event|events)\b|^when (?:did|was|were|does|do|is|will)\b",
    re.I,
)
_QUANTITY = re.compile(
    r"\bhow (?:many|much|old|long|far|large|big|tall|high|often|fast|deep|wide|heavy)\b"
    r"|\bwhat (?:percentage|percent|number|amount|proportion|share|size|population)\b",
    re.I,
)
_DEFINITION = re.compile(
    r"^(?:who|what) (?:is|was|are|were) (?:a |an |the )?(?P<what>[^?]+?)\s*\??$"
    r"|^what does (?P<term>.+?) (?:mean|stand for)\b|^(?:define|describe) (?P<defined>.+)",
    re.I,
)
_DEFINITION_BLOCKERS = re.compile(
    r"\b(?:of|in|on|at|for|from|with|by|about|that|which|who|when|doing|done|used|made|called|known|going|"
    r"planning|reason|cause|happening)\b",
    re.I,
)
_YESNO = re.compile(
    r"^(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|may|might|must)\b", re.I
)
_LIST = re.compile(
    r"^(?:which|what) (?:\w+ ){0,2}(?:countries|nations|states|people|groups|companies|weapons|arms|types|kinds|"
    r"sorts|ways|things|factors|issues|reasons|steps|members|cities|places|parties|planks|officials|leaders|"
    r"items|products|languages|books|films|songs|teams|players|names|elements|parts)\b|"
    r"^(?:list|name) (?:the|all|some)\b|^what (?:are|were) (?:the )?(?:two|three|four|five|six|seven|main|key|"
    r"different|various)\b|^(?:which|what) (?:\w+ ){0,3}(?:are|were) (?:among|included)\b",
    re.I,
)
_COUNTED = re.compile(
    r"\bhow many (?P<thing>(?:[\w’'-]+ ){0,3}?[\w’'-]+?)(?: (?:are|is|was|were|do|does|did|has|have|had|will|would|"
    r"can|could|should|might|must|in|of|on|at|from|for|to|that|who|which)\b|$)",
    re.I,
)
_TIME_QUESTION = re.compile(r"\bwhen\b|\b(what|which) (year|date|time|century|decade|month|day|season)\b", re.I)
_NAME_QUESTION = re.compile(r"\bwho(m|se)?\b|\bwhere\b", re.I)
_NAME = re.compile(r"\b[A-Z][\w’'\-]*(?:\s+(?:of|de|la|van|von|bin|al|the)?\s*[A-Z][\w’'\-]*)*")
_QUESTION_WORDS = frozenset("what who whom whose why when where which how did does do is are was were has have".split())
# words that say what kind of question it is, not what it is about
_FRAME_WORDS = frozenset(
    """say said says tell told think thinks thought claim claimed argue argued warn warned write wrote mean meant
    believe believes state stated react reacted reacting respond responded responding response reaction reactions
    happen happened happens take took place occurred reason reasons cause causes many much long old often
    explain explains according whom describe define stand quote quotes view views statement comment comments
    know known kind sort type types""".split()
)


@dataclass(frozen=True)
class ParsedQuestion:
    """What a question asks. ``who`` is the person or body it asks about (as typed): who spoke for an
    attribution question, who reacted for a reaction question, what is defined for a definition
    question; ``entities`` are the names it contains; ``focus`` are its content words that say what is
    asked about (not the words that only make it a question)."""

    text: str
    kind: str
    who: str = ""
    entities: tuple[str, ...] = ()
    focus: tuple[str, ...] = ()
    answer_type: str = ""  # "number", "time", "name" or "" (see answer_type_of)
    thing: str = ""  # what a "how many" question counts ("troops"), as typed, singular or plural
    dates: tuple[DateMention, ...] = ()  # the dates it names with a year ("on October 23, 2024", "in 1998")

    @property
    def name_words(self) -> set[str]:
        """The words of the names it contains, lower-cased."""
        return {w.lower() for entity in self.entities for w in entity.split()}

    @property
    def asks_who_said(self) -> bool:
        return self.kind == "attribution" and not self.who

    @property
    def who_is_named(self) -> bool:
        """Is ``who`` a name ("Healey", "the Kremlin") rather than a kind of people ("some researchers",
        "the benefits agency")? A name is capitalised; in a question written without capitals past
        its first word, ``who`` is taken for a name."""
        if not self.who or re.match(r"(?:some|many|most|several|few|other|certain|all)\b", self.who, re.I):
            return False
        if any(w[:1].isupper() for w in self.who.split()):
            return True
        return not any(w[:1].isupper() for w in self.text.split()[1:])


def answer_type_of(question: str) -> str:
    """The kind of thing that must be in the answer: "number" for how many/much/old..., "time" for
    when/what year..., "name" for who/where; "" for other questions."""
    if _QUANTITY.search(question):
        return "number"
    if _TIME_QUESTION.search(question):
        return "time"
    if _NAME_QUESTION.search(question):
        return "name"
    return ""


# what a speaker's name never holds: a clause ("the name of his sermon in which he warned") or an
# adverb alone ("what is incorrectly thought")
_NOT_A_SPEAKER = re.compile(
    r"\b(?:which|that|who|whom|whose|where|when|while|because|if|(?-i:name|reason))\b|^\w+ly$", re.I
)


def _kind_and_who(question: str) -> tuple[str, str]:
    text = question.strip().rstrip("?").strip()
    for pattern in _REACTION:
        if match := pattern.search(text):
            return "reaction", (match.groupdict().get("who") or "").strip()
    for pattern in _ATTRIBUTION:
        if match := pattern.search(text):
            who = (match.groupdict().get("who") or "").strip()
            if who and (len(who.split()) > 6 or _NOT_A_SPEAKER.search(who)):
                continue  # not someone speaking: read as another kind
            return "attribution", who
    if _EXPLANATION.search(text):
        return "explanation", ""
    if _QUANTITY.search(text):
        return "quantity", ""
    if _EVENT.search(text):
        return "event", ""
    if _LIST.search(text):
        return "list", ""
    if (match := _DEFINITION.search(text)) and not _DEFINITION_BLOCKERS.search(match.group("what") or ""):
        return "definition", (match.group("what") or match.group("term") or match.group("defined") or "").strip()
    if _YESNO.search(text):
        return "yesno", ""
    return "factoid", ""


def entities_of(question: str) -> tuple[str, ...]:
    """Capitalised names in the question ("Boris Pistorius", "North Korea"), without question words."""
    found = []
    for match in _NAME.finditer(question):
        name = match.group(0)
        parts = name.split()
        while parts and parts[0].lower() in _QUESTION_WORDS | STOPWORDS:
            parts.pop(0)
        if parts:
            found.append(" ".join(parts))
    return tuple(dict.fromkeys(found))


def parse_question(question: str) -> ParsedQuestion:
    """The kind, subject and focus of ``question`` (see :data:`KINDS`)."""
    kind, who = _kind_and_who(question)
    who = re.sub(r"^(?:the|a|an)\s+", "", who, flags=re.I)
    if who.lower() in _ANAPHORA:  # "what did he say?": who is for the conversation to tell
        who = ""
    focus = tuple(dict.fromkeys(w for w in words(question) if w not in STOPWORDS and w not in _FRAME_WORDS))
    return ParsedQuestion(
        text=question,
        kind=kind,
        who=who,
        entities=entities_of(question),
        focus=focus,
        answer_type=answer_type_of(question),
        thing=counted_thing(question),
        dates=tuple(d for d in find_dates(question, 0, len(question), None) if not _is_bound(question, d)),
    )


# a date named as a bound ("prior to 2000", "since June 2024", "before the 2020 election") is not the
# time asked about: what the question asks happened some other time (rag.answer.timeframe reads the range)
_BOUND_WORD = r"(?:since|after|before|until|till|through|by|up\s+to|prior\s+to)"
_BOUND_BEFORE = re.compile(rf"\b{_BOUND_WORD}\s+(?:the\s+)?$", re.I)
_BOUND_START = re.compile(rf"{_BOUND_WORD}\b", re.I)


def _is_bound(question: str, mention: DateMention) -> bool:
    return bool(_BOUND_START.match(question, mention.start) or _BOUND_BEFORE.search(question, 0, mention.start))


def counted_thing(question: str) -> str:
    """The head word of what a "how many" question counts: "troops" in "How many North Korean troops
    were trained?"; "" for other questions."""
    match = _COUNTED.search(question.strip().rstrip("?"))
    if not match:
        return ""
    # the counted noun is usually the first plural among the words up to the verb ("North Korean
    # troops were", "MEPs sit in", "Huguenots fled France"), else the first word ("people did")
    found = match.group("thing").split()
    return next((w for w in found if len(w) > 3 and w.lower().endswith("s")), found[0]).lower()


# --- the question as typed ---------------------------------------------------------------------

_ANAPHORA = frozenset(
    "he she it they him her them his hers its their theirs this that these those there then such".split()
)


def check_question(question: object) -> str:
    """The question, stripped; a RagError for empty, non-text or absurdly long questions."""
    if not isinstance(question, str):
        raise RagError(f"the question must be text, not {type(question).__name__}")
    question = " ".join(question.split())
    if not question:
        raise RagError("the question is empty; type a question about the articles")
    if len(question) > MAX_QUESTION_CHARS:
        raise RagError(
            f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask a shorter question"
        )
    if not WORD.search(question):
        raise RagError("the question has no words in it; type a question about the articles")
    return question


def check_count(value: object, name: str, most: int, what: str) -> int:
    """``value`` as a whole number from 1 to ``most``; a RagError naming ``name`` and the range otherwise."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise RagError(f"{name} ({what}) is {value!r}; give a whole number from 1 to {most}")
    return value


def check_history(history: Sequence[object] | None) -> Sequence[object] | None:
    """The earlier turns of a conversation, at most MAX_HISTORY of them; a RagError otherwise."""
    if history is None:
        return None
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise RagError(f"history must be a list of earlier messages, not {type(history).__name__}")
    if len(history) > MAX_HISTORY:
        raise RagError(
            f"history has {len(history):,} messages; at most {MAX_HISTORY} are taken. Send the last ones "
            "(a follow-up only needs the question it follows), or start a new conversation"
        )
    return history


def previous_questions(history: Sequence[object] | None) -> list[str]:
    """The user's earlier questions, oldest first, from any usual history shape.

    Accepts Answers (anything with a ``question`` attribute), ``(question, answer)`` pairs, or chat
    messages ``{"role", "content"}``.
    """
    questions: list[str] = []
    for turn in history or ():
        if isinstance(turn, dict):
            if turn.get("role") == "user" and isinstance(turn.get("content"), str):
                questions.append(turn["content"])
            elif "question" in turn and isinstance(turn["question"], str):
                questions.append(turn["question"])
        elif isinstance(turn, list | tuple) and turn and isinstance(turn[0], str):
            questions.append(turn[0])
        elif isinstance(getattr(turn, "question", None), str):
            questions.append(turn.question)
    return [q for q in questions if q.strip()]


def is_follow_up(question: str) -> bool:
    """A question that leans on the conversation: it refers back (they, it, there, ...) or says little."""
    found = words(question)
    content = [w for w in found if w not in STOPWORDS]
    return any(w in _ANAPHORA for w in found) or len(content) <= 1


def search_query(question: str, history: Sequence[object] | None) -> str:
    """The text to search for: a follow-up question is joined with the question it follows."""
    earlier = previous_questions(history)
    if earlier and is_follow_up(question):
        return f"{question} {earlier[-1]}"
    return question
