"""HTML fragments for a browser UI: the chat message of an answer, the sources panel, the library.

Pure functions, no UI framework. Every piece of article text, title, file name and question is
escaped here, so it shows literally and can never run as markup or script.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from rag.export import attribution_line, checks_summary, flag_unsupported, kind_line, references_html
from rag.ingest import IngestReport
from rag.store import StoredArticle
from rag.text import MARKER
from rag.types import Answer, Citation


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def _hover(c: Citation) -> str:
    date = (c.published or "")[:10]
    head = " · ".join(x for x in (c.title, date, c.source, c.speaker and f"said by {c.speaker}") if x)
    return f"{head}\n“{' '.join(c.quote.split())}”"


def question_html(question: str) -> str:
    """A user's question as a chat message: shown literally."""
    return f'<span class="question">{escape(question)}</span>'


def answer_html(answer: Answer, turn: int) -> str:
    """An answer as a chat message: the text with [n] markers that show their quote on hover and
    link to the sources panel, and a collapsible list of the sources under it."""
    by_number = {c.number: c for c in answer.citations}

    def marker_link(citation: Citation) -> str:
        return (
            f'<a class="cite" href="#src-{turn}-{citation.number}" title="{escape(_hover(citation))}">'
            f"[{citation.number}]</a>"
        )

    def marker(match: re.Match) -> str:
        citation = by_number.get(int(match.group(1)))
        return match.group(0) if citation is None else marker_link(citation)

    parts = [f'<div class="notice">{escape(answer.notice)}</div>'] if answer.notice else []
    if answer.differ:  # "Reports differ": one line per source, each figure with who gave it
        items = "".join(
            f"<li><b>{escape(c.value or '?')}</b> according to {escape(c.speaker or c.source or c.title)}"
            f"{' (' + escape((c.published or '')[:10]) + ')' if c.published else ''} {marker_link(c)}</li>"
            for c in answer.citations
        )
        parts.append(f'<div class="answer differ"><p>Reports differ:</p><ul>{items}</ul></div>')
    else:
        text = MARKER.sub(marker, flag_unsupported(escape(answer.text), answer))
        parts.append(f'<div class="answer{" abstained" if answer.abstained else ""}">{text}</div>')
    if answer.unstated:
        parts.append(f'<div class="unstated">{escape(kind_line(answer))}</div>')
    if answer.checks:
        parts.append(f'<div class="checks">{escape(checks_summary(answer))}</div>')
    listed = answer.citations or answer.closest
    if listed:
        label = "Sources" if answer.citations else "Closest matches (they do not answer the question)"
        items = "".join(
            f'<li><b>{escape(c.title)}</b> <span class="date">{escape((c.published or "")[:10])}</span>'
            + (f' <span class="speaker">{escape(attribution_line(c))}</span>' if attribution_line(c) else "")
            + f"<br>“{escape(' '.join(c.quote.split()))}”</li>"
            for c in listed
        )
        parts.append(f"<details><summary>{label} ({len(listed)})</summary><ol>{items}</ol></details>")
    return "".join(parts)


def draft_html(text: str) -> str:
    """The language model's text while it is being written, before its citations are checked."""
    return f'<div class="draft"><em>Writing (citations not yet checked)…</em><br>{escape(text)}</div>'


def error_html(message: str) -> str:
    return f'<div class="error">{escape(message)}</div>'


PARAGRAPH_CONTEXT_CHARS = 700


def paragraph_around(text: str, start: int, end: int) -> tuple[str, str]:
    """The rest of the paragraph (line) holding ``text[start:end]``: the part before and after it,
    each cut to ``PARAGRAPH_CONTEXT_CHARS`` characters."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    last = len(text) if last == -1 else last
    before, after = text[first:start], text[end:last]
    if len(before) > PARAGRAPH_CONTEXT_CHARS:
        before = "…" + before[-PARAGRAPH_CONTEXT_CHARS:]
    if len(after) > PARAGRAPH_CONTEXT_CHARS:
        after = after[:PARAGRAPH_CONTEXT_CHARS] + "…"
    return before, after


def sources_html(answer: Answer | None, turn: int, article_text: Callable[[str], str | None] | None = None) -> str:
    """The sources panel for one answer: each citation with its quote highlighted in its paragraph.

    ``article_text`` looks up an article's text by id; without it (or for an article since removed)
    the quote is shown between its neighbouring sentences.
    """
    if answer is None:
        return '<p class="empty">Ask a question; the sources of the answer appear here.</p>'

    def context(c: Citation) -> tuple[str, str]:
        text = article_text(c.article_id) if article_text else None
        if text is None or text[c.start : c.end] != c.quote:
            return c.before, c.after
        return paragraph_around(text, c.start, c.end)

    head = f'<p class="asked">Sources for: <b>{escape(answer.question)}</b></p>'
    if answer.citations:
        return head + references_html(answer.citations, f"src-{turn}-", context)
    if answer.closest:
        return (
            head
            + '<p class="abstained">The articles do not answer this. Closest matches:</p>'
            + references_html(answer.closest, f"src-{turn}-", context)
        )
    return head + '<p class="empty">No passages matched.</p>'


def report_html(report: IngestReport) -> str:
    """The per-file result of an upload: added, unchanged, duplicate, rejected with its reason."""
    rows = []
    for f in report.files:
        if f.status in ("rejected", "skipped"):
            detail = f.reason
        else:
            counts = [(f.added, "added"), (f.unchanged, "unchanged"), (f.duplicate, "duplicate")]
            detail = ", ".join(f"{n} {word}" for n, word in counts if n) or "no articles"
        notes = "".join(f"<br><small>{escape(n)}</small>" for n in f.notes)
        rows.append(
            f'<tr class="{f.status}"><td>{escape(f.path)}</td><td>{escape(f.status)}</td>'
            f"<td>{escape(detail)}{notes}</td></tr>"
        )
    summary = (
        f"{report.added} added, {report.unchanged} unchanged, {report.duplicate} duplicate, "
        f"{len(report.rejected)} rejected"
    )
    return (
        f'<p class="summary">{escape(summary)}</p><table class="report"><thead><tr><th>file</th>'
        f"<th>result</th><th>details</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def library_rows(articles: Sequence[StoredArticle]) -> list[list[object]]:
    """Rows of the article table: title, date, source, chunks, id (table cells render as text)."""
    return [[a.title, (a.published or "")[:10], a.source, a.chunks, a.id] for a in articles]
