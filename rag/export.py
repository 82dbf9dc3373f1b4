"""Cited answers out: Markdown, JSON (which loads back into Answers) and a self-contained HTML page.

Article text is untrusted. In HTML every piece of it is escaped; in Markdown the characters
``< > &`` are escaped too, so a viewer that renders Markdown as HTML shows them literally.

JSON schema (``"schema": "newsrag.answer/1"``): the fields of :class:`rag.types.Answer` (among them
``kind``, what the question asks; ``differ``; ``unstated``), with ``citations`` and ``closest`` as lists
of objects with the fields of :class:`rag.types.Citation` (among them ``speaker``, ``published`` and
``dates``). Fields added later have defaults, so older exports load.
A conversation is ``{"schema": "newsrag.conversation/1", "answers": [answer, ...]}``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .errors import RagError
from .ingest import IngestReport
from .store import StoredArticle
from .text import MARKER
from .types import Answer, Citation, day

ANSWER_SCHEMA = "newsrag.answer/1"
CONVERSATION_SCHEMA = "newsrag.conversation/1"

# --- JSON ------------------------------------------------------------------------------------


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    return {"schema": ANSWER_SCHEMA, **asdict(answer)}


def article_to_dict(article: StoredArticle) -> dict[str, Any]:
    """An article of the library as JSON (``rag list --json``, the app's ``/articles``); the file it
    came from is given by name only, never as a path on the server."""
    return {**asdict(article), "origin": Path(article.origin).name if article.origin else ""}


def report_to_dict(report: IngestReport) -> dict[str, Any]:
    """An ingestion report as JSON (``rag ingest --json``, the app's ``/ingest``)."""
    return {
        "added": report.added,
        "unchanged": report.unchanged,
        "duplicate": report.duplicate,
        "rejected": len(report.rejected),
        "chunks_embedded": report.chunks_embedded,
        "files": [
            {"file": f.path, "status": f.status, "added": f.added, "reason": f.reason, "notes": list(f.notes),
             "notes_left_out": f.notes_left_out}
            for f in report.files
        ],
    }


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """An Answer from its JSON form; a RagError names what is missing or wrong."""
    if not isinstance(data, dict) or data.get("schema") != ANSWER_SCHEMA:
        raise RagError(f'not an exported answer (expected "schema": "{ANSWER_SCHEMA}")')
    try:
        citation_fields = {f.name for f in fields(Citation)}

        def citations(key: str) -> tuple[Citation, ...]:
            return tuple(
                Citation(
                    **{
                        k: tuple(v) if k in ("dates", "also") or (k == "answer_span" and v) else v
                        for k, v in c.items()
                        if k in citation_fields
                    }
                )
                for c in data.get(key, [])
            )

        known = {f.name for f in fields(Answer)} - {"citations", "closest"}
        values = {k: v for k, v in data.items() if k in known}
        values["unsupported"] = tuple(values.get("unsupported") or ())
        values["mentioned"] = tuple(values.get("mentioned") or ())
        return Answer(**values, citations=citations("citations"), closest=citations("closest"))
    except TypeError as exc:
        raise RagError(f"the exported answer is incomplete: {exc}") from exc


def to_json(answers: Answer | Sequence[Answer]) -> str:
    """One answer, or a conversation (a list of answers), as JSON text."""
    if isinstance(answers, Answer):
        return json.dumps(answer_to_dict(answers), ensure_ascii=False, indent=2)
    payload = {"schema": CONVERSATION_SCHEMA, "answers": [answer_to_dict(a) for a in answers]}
    return json.dumps(payload, ensure_ascii=False, indent=2)


def from_json(text: str) -> Answer | list[Answer]:
    """Load what :func:`to_json` wrote: an Answer, or a list of them for a conversation."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RagError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    if isinstance(data, dict) and data.get("schema") == CONVERSATION_SCHEMA:
        return [answer_from_dict(a) for a in data.get("answers", [])]
    return answer_from_dict(data)


def flag_unsupported(escaped_text: str, answer: Answer) -> str:
    """Mark, in the escaped answer text, each sentence that no passage supports."""
    for sentence in answer.unsupported:
        quoted = html.escape(sentence)
        escaped_text = escaped_text.replace(
            quoted, f'<span class="unsupported" title="{UNSUPPORTED}">{quoted} ⚠</span>', 1
        )
    return escaped_text


UNSUPPORTED = "No passage of the articles supports this sentence"


def checks_summary(answer: Answer) -> str:
    """One line on what the citation check did to a generative answer."""
    c = answer.checks
    line = (
        f"Citations checked: {c.get('checked', 0)}; kept {c.get('kept', 0)}, replaced {c.get('replaced', 0)}, "
        f"dropped {c.get('dropped', 0)}, added {c.get('added', 0)}."
    )
    if c.get("not_answering"):
        line += f" {c['not_answering']} citation(s) the reader read as not answering the question were dropped."
    if answer.unsupported:
        line += f" {len(answer.unsupported)} sentence(s) without support are marked ⚠."
    return line


# --- Markdown --------------------------------------------------------------------------------


def _md(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False)


NO_DATE = "date not given"  # shown where an article has no date (a news dump gives none)


def answer_words(c: Citation) -> tuple[str, str, str]:
    """The quote cut around the answer words the reader marked in it: (before, answer, after); the answer
    is "" where none was marked."""
    if not c.answer_span:
        return c.quote, "", ""
    a, b = c.answer_span[0] - c.start, c.answer_span[1] - c.start
    if not 0 <= a < b <= len(c.quote):
        return c.quote, "", ""
    return c.quote[:a], c.quote[a:b], c.quote[b:]


def marked_html(c: Citation, escape: Callable[[str], str] = html.escape) -> str:
    """The quote as HTML, escaped, its answer words in ``<strong class="answer-words">``."""
    before, answer, after = answer_words(c)
    marked = f'<strong class="answer-words">{escape(answer)}</strong>' if answer else ""
    return escape(before) + marked + escape(after)


def _where(c: Citation) -> str:
    return ", ".join(x for x in (day(c.published) or NO_DATE, c.source, c.url) if x)


def attribution_line(c: Citation) -> str:
    """Who said the quote, the figure it gives and the dates it names, as one line ("" when none is known)."""
    parts = []
    if c.speaker:
        parts.append(f"said by {c.speaker}")
    if c.value:
        # a "when" answer's dates are among those the sentence names; a name is capitalised, a figure not
        if all(part in c.dates for part in c.value.split(" or ")):
            parts.append(f"date given: {c.value}")
        else:
            parts.append(f"{'name given' if c.value[:1].isupper() else 'figure'}: {c.value}")
    if c.dates:
        parts.append("dates named: " + ", ".join(c.dates))
    if c.also:
        parts.append("also reported by " + ", ".join(c.also))
    return "; ".join(parts)


KIND_NAMES = {
    "attribution": "who said what",
    "explanation": "why",
    "event": "what happened when",
    "reaction": "a reaction",
    "quantity": "how many or how much",
    "definition": "who or what something is",
    "yesno": "yes or no",
    "list": "a list",
    "factoid": "a fact",
}


def kind_line(answer: Answer) -> str:
    """What the question was read as asking, and what the articles don't say."""
    line = f"Question read as asking {KIND_NAMES.get(answer.kind, answer.kind)}." if answer.kind else ""
    if answer.unstated and answer.mentioned:
        line += f" The articles found mention {_listing(answer.mentioned)}, but don't say {answer.unstated}."
    elif answer.unstated:
        line += f" The articles found don't say {answer.unstated}."
    return line.strip()


def _listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def time_line(answer: Answer) -> str:
    """When the question was asked as of, and the days its words asked about, if any."""
    if not answer.as_of:
        return ""
    about = f", about {answer.time_frame}" if answer.time_frame else ""
    return f"As of {answer.as_of}{about}: nothing published later was read."


def _md_references(citations: Sequence[Citation]) -> list[str]:
    lines = []
    for c in citations:
        where = _where(c)
        lines.append(f"{c.number}. **{_md(c.title)}**" + (f" ({_md(where)})" if where else ""))
        if attribution_line(c):
            lines.append(f"   *{_md(attribution_line(c))}*")
        before, answer, after = answer_words(c)
        quote = f"{before}**{answer}**{after}" if answer.strip() else c.quote
        lines.append(f"   > {_md(quote)}")
        lines.append(f"   (article {c.article_id}, characters {c.start}-{c.end})")
    return lines


def _md_answer(answer: Answer, heading: str) -> list[str]:
    lines = [f"{heading} {_md(answer.question)}", ""]
    if answer.notice:
        lines += [f"*{_md(answer.notice)}*", ""]
    lines += [_md(answer.text), ""]
    for line in (kind_line(answer), time_line(answer)):
        if line:
            lines += [f"*{_md(line)}*", ""]
    if answer.unsupported:
        lines += ["Not supported by any passage (check before use):", ""]
        lines += [f"- ⚠ {_md(sentence)}" for sentence in answer.unsupported] + [""]
    if answer.checks:
        lines += [checks_summary(answer), ""]
    if answer.citations:
        lines += ["References:", "", *_md_references(answer.citations), ""]
    if answer.closest:
        lines += [
            "Closest matches (they do not answer the question):",
            "",
            *_md_references(answer.closest),
            "",
        ]
    return lines


def to_markdown(answers: Answer | Sequence[Answer]) -> str:
    """The answer, then its numbered references: title, date, source and the quoted snippet."""
    if isinstance(answers, Answer):
        return "\n".join(_md_answer(answers, "##")).rstrip() + "\n"
    lines = ["# Conversation", ""]
    for answer in answers:
        lines += _md_answer(answer, "##")
    return "\n".join(lines).rstrip() + "\n"


# --- HTML ------------------------------------------------------------------------------------

_STYLE = """
body{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1c1c1c}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.2rem;border-top:1px solid #ddd;padding-top:1rem}
.answer{font-size:1.05rem}.answer a{text-decoration:none;font-weight:600}
.abstained{color:#8a4b00}ol{padding-left:1.4rem}li{margin:.8rem 0}
.meta{color:#555;font-size:.9rem}.context{color:#666}
mark{background:#fff1a8;padding:0 .1em}strong.answer-words{text-decoration:underline}
.unsupported{background:#fde2e2;text-decoration:underline wavy #b00}
blockquote{margin:.3rem 0 0;padding-left:.8rem;border-left:3px solid #ccc}
"""


def _safe_url(url: str) -> str | None:
    return url if re.match(r"https?://", url or "", re.I) else None


def references_html(
    citations: Sequence[Citation],
    prefix: str,
    context: Callable[[Citation], tuple[str, str]] | None = None,
) -> str:
    """Numbered references, each quote highlighted between the text before and after it.

    ``context`` gives that text for a citation (default: the sentences before and after it).
    """
    items = []
    for c in citations:
        before, after = context(c) if context else (c.before, c.after)
        date = html.escape(day(c.published) or NO_DATE)
        source = html.escape(c.source)
        url = _safe_url(c.url)
        link = f' <a href="{html.escape(url)}" rel="noopener noreferrer">{html.escape(url)}</a>' if url else ""
        said = html.escape(attribution_line(c))
        meta = " · ".join(x for x in (date, source, said) if x)
        quote = (
            f'<span class="context">{html.escape(before)} </span><mark>{marked_html(c)}</mark>'
            f'<span class="context"> {html.escape(after)}</span>'
        )
        items.append(
            f'<li id="{prefix}ref-{c.number}"><strong>{html.escape(c.title)}</strong>'
            f'<div class="meta">{meta}{link}</div><blockquote>{quote}</blockquote></li>'
        )
    return "<ol>" + "".join(items) + "</ol>"


def _html_answer(answer: Answer, prefix: str) -> str:
    text = flag_unsupported(html.escape(answer.text), answer)
    text = MARKER.sub(lambda m: f'<a href="#{prefix}ref-{m.group(1)}">[{m.group(1)}]</a>', text)
    parts = [f"<h2>{html.escape(answer.question)}</h2>"]
    if answer.notice:
        parts.append(f'<p class="meta">{html.escape(answer.notice)}</p>')
    parts.append(f'<p class="answer{" abstained" if answer.abstained else ""}">{text}</p>')
    for line in (kind_line(answer), time_line(answer)):
        if line:
            parts.append(f'<p class="meta">{html.escape(line)}</p>')
    if answer.checks:
        parts.append(f'<p class="meta">{html.escape(checks_summary(answer))}</p>')
    if answer.citations:
        parts += ["<h3>References</h3>", references_html(answer.citations, prefix)]
    if answer.closest:
        parts += [
            "<h3>Closest matches (they do not answer the question)</h3>",
            references_html(answer.closest, prefix),
        ]
    return "\n".join(parts)


def to_html(answers: Answer | Sequence[Answer], title: str = "Cited answers") -> str:
    """A self-contained HTML page (no scripts, no external resources); all article text escaped."""
    items = [answers] if isinstance(answers, Answer) else list(answers)
    body = "\n".join(_html_answer(a, f"a{i}-") for i, a in enumerate(items, 1))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )


FORMATS = {"md": to_markdown, "json": to_json, "html": to_html}


def export(answers: Answer | Sequence[Answer], fmt: str) -> str:
    """Export in ``fmt``: ``md``, ``json`` or ``html``."""
    try:
        return FORMATS[fmt](answers)
    except KeyError:
        raise RagError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}") from None
