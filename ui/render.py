"""HTML fragments for a browser UI: the chat message of an answer, the sources panel, the library.

Pure functions, no UI framework. Every piece of article text, title, file name and question is
escaped here, so it shows literally and can never run as markup or script.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from rag.export import (
    NO_DATE,
    attribution_line,
    checks_summary,
    flag_unsupported,
    kind_line,
    marked_html,
    time_line,
)
from rag.ingest import IngestReport
from rag.store import StoredArticle
from rag.text import MARKER
from rag.types import Answer, Citation, day

# The page's style: the chat, the sources panel (#sources) and the article table (#library).
CSS = """
#chat .answer a.cite{font-weight:600;text-decoration:none;padding:0 .1em}
#chat details{margin-top:.5rem;font-size:.9em}
#chat .abstained{color:#8a4b00}
#chat .unsupported{background:#fde2e2;text-decoration:underline wavy #b00}
#chat .notice,#chat .checks{color:#666;font-size:.85em;margin:.2rem 0}
#chat .draft{color:#555}
#chat .speaker{color:#555;font-style:italic}
#chat .differ ul{margin:.2rem 0 0 1.2rem;padding:0}
#chat .unstated{color:#8a4b00;font-size:.9em;margin-top:.3rem}
#chat ul.listed,#chat ul.quotes{list-style:none;margin:.2rem 0;padding-left:0}
#chat ul.quotes{padding-left:.8rem}
#chat ul.listed .date,#chat ul.listed .source{font-size:.85em}
#sources .asked{margin:0 0 .3rem}
#sources .article{margin-top:.7rem;padding-top:.6rem;border-top:1px solid var(--border-color-primary)}
#sources h4.title{margin:0;font-size:1rem;line-height:1.35}
#sources .meta{margin:.15rem 0 .3rem;color:#555;font-size:.875rem;overflow-wrap:anywhere}
#sources .meta a{padding:0}
#sources blockquote{margin:.4rem 0 .2rem;padding:0 0 0 .7rem;border-left:3px solid var(--border-color-primary);
  color:#555;font-style:normal;overflow-wrap:anywhere}
.dark #sources blockquote,.dark #sources .meta,.dark #sources .speaker{color:#bbb}
#sources mark{background:#fff1a8;color:#1c1c1c;padding:0 .1em}
#chat strong.answer-words,#sources strong.answer-words{font-weight:700;text-decoration:underline;
  text-underline-offset:.15em}
#sources .num{color:var(--body-text-color);margin-right:.2em;scroll-margin-top:4rem}
#sources .speaker{margin:0 0 .3rem .8rem;color:#555;font-size:.85em;font-style:italic}
#library .html-container,#library-count .html-container,#upload-report .html-container{padding:0}
#library .scroll{max-height:26rem;overflow:auto;border:1px solid var(--border-color-primary);border-radius:4px}
#library table{width:100%;margin:0;padding:0;border-collapse:collapse;border:0;font-family:var(--font);
  font-size:.8125rem}
#library tr{border:0}
#library .story{font-size:.8em;color:#555;display:inline}#library .story[open]{display:block}
#library .story summary{display:inline;cursor:pointer;border:1px solid #bbb;border-radius:3px;padding:0 .25em;
  white-space:nowrap}
#library .story ul{margin:.2em 0 .2em 1.2em;padding:0}
#library th,#library td{padding:.3rem .45rem;text-align:left;vertical-align:top;line-height:1.35;border:0}
#library thead th{position:sticky;top:0;z-index:1;background:var(--background-fill-secondary);font-weight:600;
  white-space:nowrap;border-bottom:1px solid var(--border-color-primary)}
#library tbody tr:nth-child(even){background:var(--background-fill-secondary)}
#library td.title,#library td.source{overflow-wrap:anywhere}
#library td.source{min-width:5em}
#library td.date{white-space:nowrap}
#library .chunks{text-align:right;white-space:nowrap}
#library .none,#library .empty{color:var(--body-text-color-subdued)}
#pager{align-items:center}
#library-count{flex:2 1 0% !important;min-width:8.5rem !important}
#library-count .count{margin:0;text-align:center;white-space:nowrap;font-size:.875rem}
@media (max-width:480px){
  #library thead{display:none}
  #library tr{display:grid;grid-template-columns:auto 1fr auto;column-gap:.7rem;padding:.35rem .5rem}
  #library td{padding:0}
  #library td.title{grid-column:1/-1}
  #library td.date,#library td.source,#library td.chunks{color:var(--body-text-color-subdued)}
  #library td.chunks::before{content:"chunks "}
  #library-count .count{font-size:.8125rem}
}
#access .html-container{padding:0}
#access .exposed{margin:0 0 .4rem;padding:.4rem .6rem;border:1px solid #d08a00;border-radius:4px;background:#fff4d6;
  color:#5c3b00}
#access .signed-in{margin:0;text-align:right;font-size:.875rem;color:var(--body-text-color)}
.report td{vertical-align:top;padding:.2rem .4rem}
.report tr.rejected td{color:#a00}
#upload-report .error{color:#a00}
#read-only .read-only{border-left:3px solid var(--border-color-primary);padding-left:.6rem}
"""


# Gradio labels each chat message for screen readers with the message's HTML source; this gives them its text
# (read by DOMParser, which runs nothing; a label is rewritten only when it holds markup and its text differs,
# so the rewrite does not start again)
PLAIN_LABELS = """<script>
(() => {
  const markup = /<[a-z][^>]*>/i;
  const plain = (el) => {
    const label = el.getAttribute && el.getAttribute("aria-label");
    if (!label || !markup.test(label)) return;
    const text = new DOMParser().parseFromString(label, "text/html").body.textContent.replace(/\\s+/g, " ").trim();
    if (text !== label) el.setAttribute("aria-label", text);
  };
  const all = (root) => { plain(root); root.querySelectorAll && root.querySelectorAll("[aria-label]").forEach(plain); };
  new MutationObserver((records) => records.forEach((r) => {
    if (r.type === "attributes") plain(r.target); else r.addedNodes.forEach((n) => n.nodeType === 1 && all(n));
  })).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                          attributeFilter: ["aria-label"]});
})();
</script>"""


def escape(text: str) -> str:
    return html.escape(text, quote=True)


OPENING, CLOSING = "“\"‘'", "”\"’'"


def quoted(text: str) -> str:
    """``text`` (one line) between quotation marks; a sentence that begins or ends with a quotation of
    its own (“I think Ukraine…,” he said.) is shown as it is, not with its marks doubled."""
    line = " ".join(text.split())
    return line if line[:1] in OPENING or line[-1:] in CLOSING else f"“{line}”"


def _quoted_html(c: Citation) -> str:
    """The quote between quotation marks (as :func:`quoted`), escaped, its answer words marked."""
    line = " ".join(c.quote.split())
    marked = marked_html(c, escape)
    return marked if line[:1] in OPENING or line[-1:] in CLOSING else f"“{marked}”"


def _hover(c: Citation) -> str:
    date = day(c.published)
    head = " · ".join(x for x in (c.title, date, c.source, c.speaker and f"said by {c.speaker}") if x)
    return f"{head}\n{quoted(c.quote)}"


def _listed(citations: Sequence[Citation]) -> str:
    """The sources under an answer: each article once (its title, date and source), then its quotes, each
    with its citation number and who said it."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.article_id, []).append(c)
    items = []
    for quotes in groups.values():
        first = quotes[0]
        when = day(first.published) or NO_DATE
        head = f'<b>{escape(first.title)}</b> <span class="date">{escape(when)}</span>'
        if first.source:
            head += f' <span class="source">{escape(first.source)}</span>'
        lines = "".join(
            f'<li><span class="num">[{c.number}]</span> {_quoted_html(c)}'
            + (f' <span class="speaker">{escape(attribution_line(c))}</span>' if attribution_line(c) else "")
            + "</li>"
            for c in quotes
        )
        items.append(f'<li class="article">{head}<ul class="quotes">{lines}</ul></li>')
    return f'<ul class="listed">{"".join(items)}</ul>'


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
            f"{' (' + escape(day(c.published)) + ')' if c.published else ''} {marker_link(c)}</li>"
            for c in answer.citations
        )
        parts.append(f'<div class="answer differ"><p>Reports differ:</p><ul>{items}</ul></div>')
    else:
        text = MARKER.sub(marker, flag_unsupported(escape(answer.text), answer))
        parts.append(f'<div class="answer{" abstained" if answer.abstained else ""}">{text}</div>')
    if answer.unstated:
        parts.append(f'<div class="unstated">{escape(kind_line(answer))}</div>')
    if answer.time_frame:
        parts.append(f'<div class="notice">{escape(time_line(answer))}</div>')
    if answer.checks:
        parts.append(f'<div class="checks">{escape(checks_summary(answer))}</div>')
    listed = answer.citations or answer.closest
    if listed:
        label = "Sources" if answer.citations else "Closest matches (they do not answer the question)"
        parts.append(f"<details><summary>{label} ({len(listed)})</summary>{_listed(listed)}</details>")
    return "".join(parts)


def draft_html(text: str) -> str:
    """The language model's text while it is being written, before its citations are checked."""
    return f'<div class="draft"><em>Writing (citations not yet checked)…</em><br>{escape(text)}</div>'


def error_html(message: str) -> str:
    return f'<div class="error">{escape(message)}</div>'


def access_html(exposed_on: str | None = None, user: str | None = None, role: str | None = None) -> str:
    """The page header's access line: a warning when the app listens on ``exposed_on`` (an address
    other than loopback) without logins; who is signed in, in which role, and a way to log out."""
    parts = []
    if exposed_on:
        parts.append(
            f'<p class="exposed" role="alert"><strong>Open to the network without logins:</strong> this app listens '
            f"on {escape(exposed_on)}, so anyone who can reach it can read, add and remove articles. Give it an "
            "auth file (<code>--auth-file</code>, see <code>rag user add</code>).</p>"
        )
    if user:
        shown = f"{escape(user)} ({escape(role)})" if role else escape(user)
        parts.append(f'<p class="signed-in">Signed in as {shown} · <a href="logout">Log out</a></p>')
    return "".join(parts)


def read_only_html(reason: str) -> str:
    """The library tab's note on an index served read-only: why, and what still works."""
    return (
        f'<p class="read-only">This library is read-only: {escape(reason)}. Questions are answered as usual; '
        "adding and removing articles is turned off.</p>"
    )


PARAGRAPH_CONTEXT_CHARS = 700


def paragraph_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The offsets of the paragraph (line) of ``text`` that holds ``text[start:end]``."""
    last = text.find("\n", end)
    return text.rfind("\n", 0, start) + 1, len(text) if last == -1 else last


def _cut(context: str, keep: str) -> str:
    """Context of a quote, cut to ``PARAGRAPH_CONTEXT_CHARS`` at the end that is far from the quote:
    ``keep`` is "end" for text before the first quote, "start" after the last, "both" between two."""
    n = PARAGRAPH_CONTEXT_CHARS
    if keep == "end" and len(context) > n:
        return "…" + context[-n:]
    if keep == "start" and len(context) > n:
        return context[:n] + "…"
    if keep == "both" and len(context) > 2 * n:
        return context[:n] + " … " + context[-n:]
    return context


def paragraph_around(text: str, start: int, end: int) -> tuple[str, str]:
    """The rest of the paragraph (line) holding ``text[start:end]``: the part before and after it,
    each cut to ``PARAGRAPH_CONTEXT_CHARS`` characters."""
    first, last = paragraph_span(text, start, end)
    return _cut(text[first:start], "end"), _cut(text[end:last], "start")


def _safe_url(url: str) -> str | None:
    """``url`` if it is an http or https address with a host; the panels link to nothing else."""
    parts = urlsplit((url or "").strip())
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _link(url: str, text: str) -> str:
    return f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{escape(text)}</a>'


def _quote_html(c: Citation, turn: int) -> str:
    return f'<b class="num" id="src-{turn}-{c.number}">[{c.number}]</b><mark>{marked_html(c, escape)}</mark>'


def _paragraphs(quotes: Sequence[Citation], text: str | None) -> list[tuple[tuple[int, int] | None, list[Citation]]]:
    """The quotes of one article (in article order) grouped by the paragraph that holds them; a quote
    whose article text is unknown (or no longer matches) stands alone, with ``None`` for its paragraph."""
    blocks: list[tuple[tuple[int, int] | None, list[Citation]]] = []
    for c in quotes:
        if text is None or text[c.start : c.end] != c.quote:
            blocks.append((None, [c]))
            continue
        span = paragraph_span(text, c.start, c.end)
        if blocks and blocks[-1][0] == span and blocks[-1][1][-1].end <= c.start:
            blocks[-1][1].append(c)
        else:
            blocks.append((span, [c]))
    return blocks


def _paragraph_html(span: tuple[int, int] | None, quotes: Sequence[Citation], text: str | None, turn: int) -> str:
    """One paragraph with each of its quotes highlighted and numbered, then who said them."""
    if span is None or text is None:
        (c,) = quotes
        before, after = c.before, c.after
        parts = [escape(before) + " " if before else "", _quote_html(c, turn), " " + escape(after) if after else ""]
    else:
        parts, cursor = [], span[0]
        for i, c in enumerate(quotes):
            parts += [escape(_cut(text[cursor : c.start], "both" if i else "end")), _quote_html(c, turn)]
            cursor = c.end
        parts.append(escape(_cut(text[cursor : span[1]], "start")))
    said: dict[str, list[int]] = {}
    for c in quotes:
        if attribution_line(c):
            said.setdefault(attribution_line(c), []).append(c.number)
    lines = "".join(
        f'<p class="speaker">{" ".join(f"[{n}]" for n in numbers)} {escape(line)}</p>' for line, numbers in said.items()
    )
    return f'<blockquote class="context">{"".join(parts)}</blockquote>{lines}'


def _by_article(citations: Sequence[Citation], turn: int, article_text: Callable[[str], str | None] | None) -> str:
    """Citations grouped by article: the title once, its date, source and link, then its quotes in
    article order; articles in the order of their first citation."""
    groups: dict[str, list[Citation]] = {}
    for c in sorted(citations, key=lambda c: c.number):
        groups.setdefault(c.article_id, []).append(c)
    sections = []
    for article_id, quotes in groups.items():
        quotes.sort(key=lambda c: (c.start, c.number))
        first = quotes[0]
        text = article_text(article_id) if article_text else None
        url = _safe_url(first.url)
        meta = [escape(x) for x in (day(first.published) or NO_DATE, first.source) if x]
        if url:
            meta.append(_link(url, urlsplit(url).netloc))
        paragraphs = "".join(_paragraph_html(span, block, text, turn) for span, block in _paragraphs(quotes, text))
        sections.append(
            f'<section class="article"><h4 class="title">{escape(first.title)}</h4>'
            + (f'<p class="meta">{" · ".join(meta)}</p>' if meta else "")
            + f"{paragraphs}</section>"
        )
    return "".join(sections)


def sources_html(answer: Answer | None, turn: int, article_text: Callable[[str], str | None] | None = None) -> str:
    """The sources panel for one answer, by article: each article's title, date, source and link once,
    then its quotes in article order, each highlighted in its paragraph with its citation number (the
    anchor ``#src-{turn}-{n}`` the answer's [n] markers link to) and who said it.

    ``article_text`` looks up an article's text by id; without it (or for an article since removed)
    a quote is shown between its neighbouring sentences.
    """
    if answer is None:
        return '<p class="empty">Ask a question; the sources of the answer appear here.</p>'
    head = f'<p class="asked">Sources for: <b>{escape(answer.question)}</b></p>'
    if answer.citations:
        return head + _by_article(answer.citations, turn, article_text)
    if answer.closest:
        return (
            head
            + '<p class="abstained">The articles do not answer this. Closest matches:</p>'
            + _by_article(answer.closest, turn, article_text)
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
        if f.notes_left_out:
            notes += f"<br><small>and {f.notes_left_out:,} more notes like these</small>"
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


def library_html(
    articles: Sequence[StoredArticle], query: str = "", others: Mapping[str, Sequence[StoredArticle]] | None = None
) -> str:
    """One page of the article table: title, date, source and number of chunks, every value escaped;
    ``others`` gives, for an article of a story told several times, the other articles that tell it
    (newest first), listed under the article's "N versions" button."""
    if not articles:
        if query.strip():
            return f'<p class="empty">No article has “{escape(query.strip())}” in its title or source.</p>'
        return '<p class="empty">The library is empty: add articles above.</p>'
    rows = []
    for a in articles:
        date = escape(day(a.published)) or '<span class="none">no date</span>'
        story = ""
        if members := (others or {}).get(a.id):
            listed = "".join(
                f"<li>{escape(m.title)} <span class=\"source\">{escape(m.source or 'no source')}, "
                f"{escape(day(m.published)) or 'no date'}</span></li>"
                for m in members
            )
            story = (
                f'<details class="story"><summary title="one story told by {len(members) + 1} articles">'
                f"{len(members) + 1} versions</summary><ul>{listed}</ul></details>"
            )
        rows.append(
            f'<tr><td class="title">{escape(a.title)}{story}</td><td class="date">{date}</td>'
            f'<td class="source">{escape(a.source)}</td><td class="chunks">{a.chunks:,}</td></tr>'
        )
    return (
        '<div class="scroll"><table class="library"><thead><tr><th scope="col">Title</th><th scope="col">Date</th>'
        f'<th scope="col">Source</th><th scope="col" class="chunks">Chunks</th></tr></thead><tbody>{"".join(rows)}'
        "</tbody></table></div>"
    )


def confirm_html(article) -> str:
    """The question before an article is removed: which one, by its title, source and date."""
    details = " · ".join(x for x in (article.source, day(article.published) or NO_DATE) if x)
    return (f'<p class="confirm">Remove “{escape(article.title)}” ({escape(details)}) from the library? '
            "Its text, chunks and vectors are deleted; add the file again to bring it back.</p>")


def library_count(offset: int, shown: int, total: int) -> str:
    """Where a page of the article table is: "Rows 1–50 of 5,000"."""
    if not shown:
        return '<p class="count">No rows</p>'
    return f'<p class="count">Rows {offset + 1:,}–{offset + shown:,} of {total:,}</p>'


def library_choice(article: StoredArticle) -> tuple[str, str]:
    """An article as a choice of the remove list: (label, id)."""
    return f"{article.title[:80]} ({day(article.published) or 'no date'}) · {article.id}", article.id
