"""The browser chat UI: `python app.py` serves http://127.0.0.1:7860.

Thin by design: it maps the `rag` library's Answers and reports to Gradio components and events.
All retrieval, answering and export live in the library; the chat's HTML (escaped) in ui/render.py;
who may do what (the auth file's users and roles) in rag/auth.py, and how much in rag/limits.py.
"""

import argparse
import contextvars
import json
import logging
import os
import shlex
import sys
import tempfile
import threading
from pathlib import Path

from rag.config import DEFAULT_INDEX, Settings, keep_private
from rag.errors import RagError

keep_private()  # Gradio and the model hub read their analytics and offline variables once, when imported


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--index", metavar="DIR|URL",
        help="index folder, or postgresql://user@host/db for PostgreSQL (default: $RAG_INDEX or embeddings/)",
    )
    parser.add_argument("--host", help="address to listen on (default: $RAG_HOST, $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", help="port to listen on (default: $RAG_PORT, $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument(
        "--watch", nargs="+", metavar="SOURCE", help="folders and feeds to keep ingesting (default: $RAG_WATCH)"
    )
    parser.add_argument("--every", help="how often to look at them (default: $RAG_WATCH_EVERY or 15m)")
    parser.add_argument(
        "--auth-file",
        metavar="FILE",
        help="users, password hashes and roles: the app asks for a login (default: $RAG_AUTH_FILE; none: no login)",
    )
    parser.add_argument(
        "--read-only", action="store_true", default=None, help="serve the index without writing to it: no uploads"
    )
    return parser


def checked_settings(parser: argparse.ArgumentParser) -> Settings:
    """The settings of the command line and the environment, each checked, and the place to serve free: a
    bad value, a missing index other than the default one, or a taken port stop here in one line (exit 2),
    before anything slow is loaded."""
    args = parser.parse_args()
    try:
        settings = Settings.from_env(
            index_dir=args.index,
            host=args.host,
            port=args.port,
            watch=shlex.join(args.watch) if args.watch else None,
            watch_every=args.every,
            auth_file=args.auth_file,
            read_only=args.read_only,
        )
        missing_index(settings)
    except RagError as exc:
        parser.exit(2, f"error: {exc}\n")
    if not port_free(settings.host, settings.port):
        parser.exit(2, f"error: {port_taken(settings)}\n")
    return settings


def missing_index(settings: Settings) -> None:
    """Only the default index is built from the sample on first start (the README's promise): any other
    place without an index is most likely a typo, and building there would hide the library meant."""
    location = settings.index_dir
    if isinstance(location, str) or Path(location).resolve() == Path(DEFAULT_INDEX).resolve():
        return  # a database is checked when opened; the default folder is built from the sample
    if location.exists() and not location.is_dir():
        raise RagError(f"--index {location} is a file, not an index folder; give the folder of an index")
    if not (location / "manifest.json").exists():
        raise RagError(
            f"no index in {location}; build one with `rag ingest PATH --index {location}`, or leave out --index "
            f"(and RAG_INDEX) to use the default index in {DEFAULT_INDEX}/, built from the sample on first start"
        )


def port_free(host: str, port: int) -> bool:
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except OSError:
        return False
    return True


def port_taken(settings: Settings) -> str:
    return (
        f"port {settings.port} on {settings.host} is in use (or cannot be listened on); stop what uses it, or "
        f"choose another port with --port or RAG_PORT"
    )


if __name__ == "__main__":  # checked before Gradio and the model are imported: a mistake is told at once
    PARSER = arguments()
    SETTINGS = checked_settings(PARSER)

import anyio
import gradio as gr
from fastapi import HTTPException
from gradio import FileData
from starlette.middleware import Middleware

from rag import Filters
from rag.answer import Assistant
from rag.auth import Logins, is_loopback, may
from rag.config import MODES, shown_url
from rag.errors import StorageError
from rag.export import answer_to_dict, article_to_dict, export, report_to_dict
from rag.feeds import Watcher, split_sources
from rag.index import SAMPLE_ARTICLES, open_or_build
from rag.index import exists as index_exists
from rag.limits import Limits, SignInThrottle, client_address, client_of, trusted_networks
from rag.parse import SUPPORTED_SUFFIXES
from rag.progress import terminal_progress
from ui.render import (
    CSS,
    PLAIN_LABELS,
    access_html,
    answer_html,
    confirm_html,
    draft_html,
    error_html,
    escape,
    library_choice,
    library_count,
    library_html,
    question_html,
    read_only_html,
    report_html,
    sources_html,
)

EXAMPLES = [
    "How many North Korean troops were being trained before being sent to Ukraine?",
    "What did Justin Crump say about why Russia would need North Korean soldiers?",
    "How old is Donald Trump?",
]
EXPORT_FORMATS = {"Markdown": "md", "JSON": "json", "HTML": "html"}
WATCH_REFRESH_SECONDS = 15
UPLOAD_ROOT = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


class App:
    """The shared state of the server: one index and one assistant for every session, the logins
    of the auth file (if any) and each client's allowance of questions and uploads."""

    def __init__(
        self,
        assistant: Assistant,
        settings: Settings | None = None,
        logins: Logins | None = None,
        watcher: Watcher | None = None,
    ):
        self.assistant = assistant
        self.index = assistant.index
        self.settings = settings or self.index.settings
        self.watcher = watcher  # folders and feeds ingested in the background (RAG_WATCH)
        self.ingest_lock = threading.Lock()
        if logins is None and self.settings.auth_file:
            logins = Logins(self.settings.auth_file)
        self.logins = logins
        self.limits = Limits(self.settings)
        self.trusted_proxies = trusted_networks(self.settings)
        self.sign_ins = SignInThrottle()

    # --- access ---------------------------------------------------------------------------

    @property
    def exposed_on(self) -> str | None:
        """The address the app listens on, when that is not loopback and there are no logins."""
        host = self.settings.host
        return host if self.logins is None and not is_loopback(host) else None

    def allow(self, request: gr.Request | None, action: str) -> None:
        """Raise Forbidden unless the signed-in user's role allows ``action`` (anyone may, without
        logins); then count a question against the client's allowance."""
        if self.logins is not None:
            self.logins.require(getattr(request, "username", None), action)
        if action == "ask":
            self.limits.ask(self.client(request))

    def client(self, request: gr.Request | None) -> str:
        """The key of a client's allowances: its user, its address (behind a trusted proxy, the one the
        proxy names), or (from this machine) its session."""
        if request is None:
            return client_of(None, None, None)
        peer = request.client.host if request.client else None
        address = client_address(peer, request.headers.get("x-forwarded-for"), self.trusted_proxies)
        return client_of(request.username, address, request.session_hash)

    async def sign_in(self, name: str, password: str) -> bool:
        """Gradio's ``auth``: the password checked (off the event loop: Argon2 takes a while), unless the
        name or the address is waiting after failed sign-ins (refused at once, with the wait)."""
        peer, forwarded = CONNECTION.get()
        address = client_address(peer, forwarded, self.trusted_proxies) or ""
        keys = (f"user {name}", f"address {address}" if address else "")
        wait = self.sign_ins.wait(*keys)
        if wait:
            raise HTTPException(status_code=429, detail=self.sign_ins.refusal(wait))
        if await anyio.to_thread.run_sync(self.logins.check, name, password):
            self.sign_ins.succeeded(keys[0])
            return True
        self.sign_ins.failed(*keys)
        return False

    def permit(self, request: gr.Request | None, action: str) -> None:
        """:meth:`allow`, with a refusal as the error Gradio shows."""
        try:
            self.allow(request, action)
        except RagError as exc:
            raise gr.Error(str(exc)) from None

    def admit_upload(self, request: gr.Request | None, uploads: list[tuple[Path, str]]) -> None:
        self.allow(request, "upload")
        self.limits.upload(self.client(request), sum(path.stat().st_size for path, _ in uploads))

    def session_view(self, request: gr.Request):
        """What this session's user may see: the header's access line, and the controls that add and
        remove articles (for an editor, or for everyone when there are no logins)."""
        user = getattr(request, "username", None)
        role = self.logins.role(user) if self.logins is not None else None
        editor = (self.logins is None or role == "editor") and not self.index.read_only
        line = access_html(self.exposed_on, user, role)
        return gr.HTML(line, visible=bool(line)), gr.Column(visible=editor), gr.Row(visible=editor)

    # --- helpers --------------------------------------------------------------------------

    def filters(self, sources, date_from, date_to, as_of=None) -> Filters:
        return Filters.parse(
            sources=sources, date_from=date_from, date_to=date_to, as_of=as_of, names=("From date", "To date")
        )

    def sources(self) -> list[str]:
        return self.index.sources()

    def library_page(self, query: str, order: str, offset: int):
        """One page of the article table for a search and a date order: the table, where the page is,
        the previous and next buttons, the remove list (this page's articles) and the page's offset."""
        query, offset = query or "", max(0, int(offset or 0))
        newest_first = order != OLDEST_FIRST
        articles, total = self.index.article_page(query, newest_first, offset, PAGE_ROWS)
        if not articles and offset:  # past the end (articles were removed): the last page
            offset = max(0, (total - 1) // PAGE_ROWS * PAGE_ROWS)
            articles, total = self.index.article_page(query, newest_first, offset, PAGE_ROWS)
        return (
            library_html(articles, query, self.index.also_reported([a.id for a in articles])),
            library_count(offset, len(articles), total),
            gr.Button(interactive=offset > 0),
            gr.Button(interactive=offset + len(articles) < total),
            gr.Dropdown(choices=[library_choice(a) for a in articles], value=None),
            offset,
        )

    def first_page(self, query: str, order: str):
        return self.library_page(query, order, 0)

    def previous_page(self, query: str, order: str, offset: int):
        return self.library_page(query, order, int(offset or 0) - PAGE_ROWS)

    def next_page(self, query: str, order: str, offset: int):
        return self.library_page(query, order, int(offset or 0) + PAGE_ROWS)

    def library_updates(self, query: str, order: str, offset: int):
        """The source filter's choices and the article table's current page, after a change."""
        return (gr.Dropdown(choices=self.sources()), *self.library_page(query, order, offset))

    def watch_updates(self, query: str, order: str, offset: int):
        """The background watch's last round, then :meth:`library_updates` (new articles may be in)."""
        return (self.watcher.status if self.watcher else "", *self.library_updates(query, order, offset))

    # --- chat -----------------------------------------------------------------------------

    def respond(
        self,
        question,
        chat,
        answers,
        k,
        sentences,
        sources,
        date_from,
        date_to,
        mode,
        as_of=None,
        request: gr.Request = None,
    ):
        """Streams: the question and a working note first, the model's text as it is written (in
        generative mode), then the checked answer with its sources."""
        question = question or ""
        chat = [*chat, {"role": "user", "content": question_html(question)}]
        pending = [*chat, {"role": "assistant", "content": "<em>Searching the articles…</em>"}]
        answer, written = None, ""
        try:
            self.allow(request, "ask")
            yield "", pending, answers, gr.update(), gr.update()
            for item in self.assistant.stream(
                question,
                history=answers[-10:],  # a follow-up reads the turn it follows; a long chat goes on
                k=int(k),
                filters=self.filters(sources, date_from, date_to, as_of),
                max_sentences=int(sentences),
                mode=mode,
            ):
                if isinstance(item, str):
                    written += item
                    draft = {"role": "assistant", "content": draft_html(written)}
                    yield "", [*chat, draft], answers, gr.update(), gr.update()
                else:
                    answer = item
        except RagError as exc:
            yield "", [*chat, {"role": "assistant", "content": error_html(str(exc))}], answers, gr.update(), gr.update()
            return
        answers = [*answers, answer]
        turn = len(answers)
        chat = [*chat, {"role": "assistant", "content": answer_html(answer, turn)}]
        yield "", chat, answers, self.sources_panel(answer, turn), turn

    def sources_panel(self, answer, turn: int) -> str:
        return sources_html(answer, turn, self.article_text)

    def article_text(self, article_id: str) -> str | None:
        article = self.index.article(article_id)
        return article.text if article else None

    def select(self, answers, evt: gr.SelectData):
        """Clicking a message shows the sources of that answer (or of the answer to that question)."""
        turn = evt.index // 2 + 1 if isinstance(evt.index, int) else len(answers)
        if 1 <= turn <= len(answers):
            return self.sources_panel(answers[turn - 1], turn), turn
        return gr.update(), gr.update()

    # --- library --------------------------------------------------------------------------

    def ingest_files(self, uploads: list[tuple[Path, str]], progress=None) -> dict:
        """Ingest uploaded files; ``uploads`` are (server temp path, original name for the report).
        Files over RAG_MAX_FILE_MB are rejected by name in the report, like any unreadable file, but
        JSON and JSONL archives, which are limited per article."""
        most = self.settings.max_upload_files
        if len(uploads) > most:
            raise RagError(
                f"{len(uploads)} files at once; the limit is {most} (RAG_MAX_UPLOAD_FILES). Upload fewer files."
            )
        names = {str(path): name for path, name in uploads}
        with self.ingest_lock:
            return self.index.ingest([path for path, _ in uploads], progress=progress, origin_names=names)

    def upload(self, files, query, order, offset, request: gr.Request, progress=gr.Progress()):
        """The UI's upload button: ingest, then refresh the table and filters."""
        files = files or []
        uploads = [(_checked_upload(f), Path(str(f)).name) for f in files]

        def tick(p) -> None:  # chunks embedded of those read so far, the rate and the time left
            progress(p.fraction, desc=f"{p.files_done}/{p.files_total} files · {p.describe()}")

        try:
            self.admit_upload(request, uploads)
            report = self.ingest_files(uploads, progress=tick)
        except StorageError as exc:  # a full disk, a held lock: said here; the chat goes on answering
            return (error_html(str(exc)), gr.update(), *self.library_updates(query, order, offset))
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return (report_html(report), None, *self.library_updates(query, order, offset))

    def confirm_remove(self, article_id, request: gr.Request):
        """The question asked before an article is removed: its title, source and date (nothing is removed yet)."""
        self.permit(request, "remove")
        if not article_id:
            raise gr.Error("Choose an article to remove first.")
        article = self.index.article(article_id)
        if article is None:
            raise gr.Error("That article is no longer in the library.")
        return gr.update(visible=True), confirm_html(article)

    def remove(self, article_id, query, order, offset, request: gr.Request):
        self.permit(request, "remove")
        if not article_id:
            raise gr.Error("Choose an article to remove first.")
        article = self.index.article(article_id)
        try:
            with self.ingest_lock:
                removed = self.index.remove([article_id])
        except StorageError as exc:
            return (error_html(str(exc)), gr.update(visible=False), *self.library_updates(query, order, offset))
        title = article.title if article else article_id
        message = f"Removed “{title}”." if removed else f"“{title}” was not in the library."
        return (f"<p>{escape(message)}</p>", gr.update(visible=False), *self.library_updates(query, order, offset))

    # --- export ---------------------------------------------------------------------------

    def export_file(self, answers, selected, scope, fmt, request: gr.Request):
        self.permit(request, "export")
        if not answers:
            raise gr.Error("Ask a question first; there is nothing to export yet.")
        extension = EXPORT_FORMATS[fmt]
        turn = selected if isinstance(selected, int) and 1 <= selected <= len(answers) else len(answers)
        chosen = answers if scope == "Whole conversation" else answers[turn - 1]
        folder = Path(tempfile.mkdtemp(prefix="rag-export-"))
        path = folder / f"{'conversation' if scope == 'Whole conversation' else 'answer'}.{extension}"
        path.write_text(export(chosen, extension), encoding="utf-8")
        return gr.DownloadButton(label=f"Download {path.name}", value=str(path), visible=True)

    # --- API ------------------------------------------------------------------------------

    def api_ask(
        self,
        question: str,
        history: list[dict] | None = None,
        k: int = 8,
        sentences: int = 3,
        sources: list[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        mode: str | None = None,
        as_of: str | None = None,
        request: gr.Request = None,
    ) -> dict:
        try:
            self.allow(request, "ask")
            answer = self.assistant.ask(
                question,
                history=history,
                k=k,
                filters=self.filters(sources, date_from, date_to, as_of),
                max_sentences=sentences,
                mode=mode or None,
            )
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return answer_to_dict(answer)

    def api_ingest(self, files: list[FileData], request: gr.Request = None) -> dict:
        uploads = [(_checked_upload(f), _original_name(f)) for f in files or []]
        try:
            self.admit_upload(request, uploads)
            report = self.ingest_files(uploads)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return {**report_to_dict(report), "articles": self.index.stats().articles}

    def api_articles(self, request: gr.Request = None) -> list[dict]:
        self.permit(request, "read")
        return [article_to_dict(a) for a in self.index.articles()]

    def api_remove(self, article_id: str, request: gr.Request = None) -> dict:
        self.permit(request, "remove")
        try:
            with self.ingest_lock:
                removed = self.index.remove([article_id])
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return {"removed": removed}


def _example_text(evt: gr.SelectData) -> str:
    return evt.value["text"]


def _original_name(upload) -> str:
    if isinstance(upload, dict):
        return Path(str(upload.get("orig_name") or upload.get("path") or "upload")).name
    return Path(str(upload)).name


def _checked_upload(upload) -> Path:
    """The server-side path of an upload, only if it lies in Gradio's upload folder."""
    raw = upload.get("path") if isinstance(upload, dict) else str(upload)
    path = Path(str(raw or "")).resolve()
    if not path.is_relative_to(UPLOAD_ROOT) or not path.is_file():
        raise gr.Error("Files must be uploaded through this app; other paths are not read.")
    return path


PAGE_ROWS = 50  # rows of the article table on one page
NEWEST_FIRST, OLDEST_FIRST = "Newest first", "Oldest first"


def build(app: App) -> gr.Blocks:
    # Gradio reports usage to its makers unless told not to: off here, unless GRADIO_ANALYTICS_ENABLED=True
    analytics = os.environ.get("GRADIO_ANALYTICS_ENABLED", "False") == "True"
    writable = not app.index.read_only  # a read-only index: no upload or remove controls, and a note why
    with gr.Blocks(title="News articles: cited answers", fill_height=True, analytics_enabled=analytics) as demo:
        answers = gr.State([])
        selected = gr.State(0)  # the turn whose sources are shown (1-based)
        gr.Markdown("### Ask the news articles\nAnswers quote the articles word for word; every quote is cited.")
        warning = access_html(app.exposed_on)
        access = gr.HTML(warning, elem_id="access", visible=bool(warning))
        editable = app.logins is None  # with logins, shown once the session's user is known to be an editor
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=340):
                chat = gr.Chatbot(
                    elem_id="chat",
                    height=520,
                    render_markdown=False,
                    buttons=["copy"],
                    show_label=False,
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="Ask about the articles in the library, or pick an example.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question…", show_label=False, scale=5, min_width=180, max_lines=4
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=70)
                new_chat = gr.Button("New chat", size="sm")
            with gr.Column(scale=2, min_width=320):
                with gr.Tabs():
                    with gr.Tab("Sources"):
                        sources_panel = gr.HTML(sources_html(None, 0), elem_id="sources")
                    with gr.Tab("Library"):
                        if not writable:
                            gr.HTML(read_only_html(app.index.read_only_reason or ""), elem_id="read-only")
                        with gr.Column(visible=editable and writable) as adding:
                            files = gr.File(
                                label="Add articles (.txt .md .html .json .jsonl .pdf)",
                                file_count="multiple",
                                file_types=sorted(SUPPORTED_SUFFIXES),
                                height=150,
                                visible=writable,
                            )
                            upload = gr.Button("Add to library", variant="primary", visible=writable)
                        upload_report = gr.HTML(elem_id="upload-report")
                        watch_status = gr.Markdown(
                            app.watcher.status if app.watcher else "", elem_id="watch-status", visible=bool(app.watcher)
                        )
                        with gr.Row(equal_height=True):
                            search = gr.Textbox(label="Search titles and sources", scale=3, min_width=150, max_lines=1)
                            order = gr.Dropdown(
                                [NEWEST_FIRST, OLDEST_FIRST], value=NEWEST_FIRST, label="Date", scale=2, min_width=150
                            )
                        table = gr.HTML(elem_id="library")
                        offset = gr.State(0)
                        with gr.Row(elem_id="pager"):
                            previous = gr.Button("◀ Previous", size="sm", interactive=False, min_width=70)
                            count = gr.HTML(elem_id="library-count")
                            following = gr.Button("Next ▶", size="sm", interactive=False, min_width=70)
                        with gr.Row(visible=editable and writable) as removing:
                            to_remove = gr.Dropdown(
                                label="Remove an article (of this page)",
                                choices=[],
                                scale=4,
                                min_width=200,
                                visible=writable,
                            )
                            remove = gr.Button("Remove", variant="stop", scale=1, min_width=80, visible=writable)
                        with gr.Row(visible=False, elem_id="confirm-remove") as confirming:
                            confirm_text = gr.HTML()
                            confirmed = gr.Button("Yes, remove it", variant="stop", scale=0, min_width=120)
                            cancel = gr.Button("Keep it", scale=0, min_width=80)
                    with gr.Tab("Export"):
                        scope = gr.Radio(
                            ["Selected answer", "Whole conversation"], value="Selected answer", label="What"
                        )
                        fmt = gr.Radio(list(EXPORT_FORMATS), value="Markdown", label="Format")
                        prepare = gr.Button("Export")
                        download = gr.DownloadButton("Download", visible=False)
                    with gr.Tab("Settings"):
                        k = gr.Slider(3, 20, value=8, step=1, label="Passages retrieved")
                        sentences = gr.Slider(1, 5, value=3, step=1, label="Answer length (sentences, at most)")
                        mode = gr.Radio(
                            list(MODES),
                            value=app.assistant.settings.mode,
                            label="Answer mode",
                            info="generative: written by the language model at RAG_LLM_URL, every citation checked",
                        )
                        source_filter = gr.Dropdown(label="Only these sources", multiselect=True, choices=[])
                        with gr.Row():
                            date_from = gr.Textbox(label="From (YYYY-MM-DD)", min_width=120)
                            date_to = gr.Textbox(label="To (YYYY-MM-DD)", min_width=120)
                        as_of = gr.Textbox(
                            label="As of (YYYY-MM-DD)",
                            placeholder="today",
                            info="nothing published later is read; “this week” and “on Monday” count back from it",
                        )

        ask_inputs = [question, chat, answers, k, sentences, source_filter, date_from, date_to, mode, as_of]
        ask_outputs = [question, chat, answers, sources_panel, selected]
        for trigger in (ask.click, question.submit):
            trigger(
                app.respond,
                ask_inputs,
                ask_outputs,
                api_name="ui_ask",
                api_visibility="private",
                show_progress="minimal",
            )
        chat.example_select(_example_text, None, question, api_visibility="private").then(
            app.respond, ask_inputs, ask_outputs, api_visibility="private"
        )
        chat.select(app.select, answers, [sources_panel, selected], api_visibility="private")
        new_chat.click(
            lambda: ([], [], sources_html(None, 0), "", 0),
            None,
            [chat, answers, sources_panel, question, selected],
            api_visibility="private",
        )
        chat.clear(
            lambda: ([], sources_html(None, 0), 0), None, [answers, sources_panel, selected], api_visibility="private"
        )
        page_outputs = [table, count, previous, following, to_remove, offset]
        library_outputs = [source_filter, *page_outputs]
        library_view = [search, order, offset]
        upload.click(
            app.upload,
            [files, *library_view],
            [upload_report, files, *library_outputs],
            api_name="ui_upload",
            api_visibility="private",
            concurrency_id="ingest",
            concurrency_limit=1,
            show_progress_on=[upload_report],  # one bar, in the report's place, not over every output
        )
        remove.click(app.confirm_remove, [to_remove], [confirming, confirm_text], api_visibility="private")
        cancel.click(lambda: gr.update(visible=False), None, [confirming], api_visibility="private")
        confirmed.click(
            app.remove,
            [to_remove, *library_view],
            [upload_report, confirming, *library_outputs],
            api_name="ui_remove",
            api_visibility="private",
        )
        paging = {"api_visibility": "private", "show_progress": "hidden", "trigger_mode": "always_last"}
        search.change(app.first_page, [search, order], page_outputs, **paging)
        order.change(app.first_page, [search, order], page_outputs, **paging)
        previous.click(app.previous_page, library_view, page_outputs, **paging)
        following.click(app.next_page, library_view, page_outputs, **paging)
        prepare.click(app.export_file, [answers, selected, scope, fmt], download, api_visibility="private")
        demo.load(app.library_updates, library_view, library_outputs, api_visibility="private")
        demo.load(app.session_view, None, [access, adding, removing], api_visibility="private")
        if app.watcher:  # what the background watch found shows up without a reload
            gr.Timer(WATCH_REFRESH_SECONDS).tick(
                app.watch_updates, library_view, [watch_status, *library_outputs], **paging
            )

        gr.api(app.api_ask, api_name="ask")
        gr.api(app.api_ingest, api_name="ingest", concurrency_id="ingest", concurrency_limit=1)
        gr.api(app.api_articles, api_name="articles")
        gr.api(app.api_remove, api_name="remove", concurrency_id="ingest", concurrency_limit=1)
    demo.queue(default_concurrency_limit=4)
    return demo


# Headers every response carries: no framing by other sites, no MIME-type sniffing, no referrer sent
# to the sites that article links lead to.
SECURITY_HEADERS = {
    b"x-frame-options": b"SAMEORIGIN",
    b"content-security-policy": b"frame-ancestors 'self'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
}


CONNECTION: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "connection", default=(None, None)
)


class Sessions:
    """ASGI middleware for an app with logins: a request carrying the sign-in of a user removed since,
    or whose password changed since that sign-in, is refused on every route (Gradio's own included) and
    that sign-in is forgotten; and only a user who may add articles may upload files. It also notes each
    request's peer address and X-Forwarded-For (CONNECTION) for the sign-in check, which sees no request."""

    def __init__(self, app, rag_app: App):
        self.app = app
        self.rag_app = rag_app
        self.issued: dict[str, str] = {}  # sign-in token -> the user's password hash when it was issued

    async def __call__(self, scope, receive, send):
        logins = self.rag_app.logins
        if scope["type"] != "http" or logins is None:
            return await self.app(scope, receive, send)
        forwarded = _header(scope, b"x-forwarded-for")
        CONNECTION.set(((scope.get("client") or (None,))[0], forwarded))
        served = scope.get("app")  # Gradio's application: its sign-in tokens and their cookie's name
        tokens, cookie = getattr(served, "tokens", {}), f"access-token-{getattr(served, 'cookie_id', '')}"
        token = _cookie(scope, cookie) or _cookie(scope, cookie.replace("access-token-", "access-token-unsecure-"))
        user = tokens.get(token) if token else None
        if user is not None:
            now = logins.users().get(user)
            issued = self.issued.setdefault(token, now.password_hash if now else "")
            if now is None or now.password_hash != issued:
                tokens.pop(token, None)
                self.issued.pop(token, None)
                why = "is no longer a user of this app" if now is None else "had a new password set"
                return await _refuse(send, 401, f"{user} {why}; this session has ended. Log in again.")
        path = scope.get("path", "").rstrip("/")
        if path.endswith("/gradio_api/upload") and scope.get("method") == "POST":
            if not may(logins.role(user), "upload"):
                who = f"{user} is a reader and" if user else "this session"
                return await _refuse(send, 403, f"{who} may not upload files; only an editor may")
        if path.endswith("/login") and scope.get("method") == "POST":
            return await self.app(scope, receive, self._noting_sign_in(send, tokens, cookie))
        return await self.app(scope, receive, send)

    def _noting_sign_in(self, send, tokens: dict, cookie: str):
        """``send``, noting the password hash under which each new sign-in token is issued."""

        async def noting(message):
            if message["type"] == "http.response.start" and message.get("status") == 200:
                for name, value in message.get("headers", ()):
                    if name.lower() == b"set-cookie" and value.startswith(f"{cookie}=".encode()):
                        token = value.split(b";", 1)[0].split(b"=", 1)[1].decode("latin-1")
                        user = self.rag_app.logins.users().get(tokens.get(token, ""))
                        if user is not None:
                            self.issued[token] = user.password_hash
                for stale in [t for t in self.issued if t not in tokens]:  # signed out since
                    del self.issued[stale]
            await send(message)

        return noting


def _header(scope, name: bytes) -> str | None:
    return next((value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name), None)


def _cookie(scope, name: str) -> str | None:
    cookies = ";".join(value.decode("latin-1") for key, value in scope.get("headers", ()) if key == b"cookie")
    for part in cookies.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS.items() if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def upload_cap(settings: Settings) -> str | None:
    """The largest file the app takes in: a client's hourly allowance (or none without one), not
    RAG_MAX_FILE_MB, since a JSON or JSONL archive is limited per article, not as a file, and any
    other file over RAG_MAX_FILE_MB is then rejected by name in the report."""
    if not settings.upload_mb_per_hour:
        return None
    return f"{max(settings.max_file_mb, settings.upload_mb_per_hour)}mb"


def launch(demo: gr.Blocks, app: App, **options) -> None:
    """Serve the app on the configured address and port, with the upload limit of the settings, the
    logins of its auth file and the security headers; warn when it is open to the network."""
    settings = app.settings
    if app.exposed_on:
        print(
            f"warning: the app listens on {app.exposed_on} without logins: anyone who can reach it can read, add "
            "and remove articles. Give it an auth file (--auth-file FILE; see `rag user add`).",
            file=sys.stderr,
            flush=True,
        )
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        max_file_size=upload_cap(settings),
        css=CSS,
        head=PLAIN_LABELS,
        footer_links=["api"],
        auth=app.sign_in if app.logins is not None else None,
        auth_message="Sign in with the name and password your administrator gave you.",
        app_kwargs={"middleware": [Middleware(SecurityHeaders), Middleware(Sessions, rag_app=app)]},
        **options,
    )


def main(parser: argparse.ArgumentParser, settings: Settings) -> None:
    """Serve the app for ``settings`` (checked already, before the heavy imports: see the end of the file)."""
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)  # a database that is down is reported once
    try:
        logins = Logins(settings.auth_file) if settings.auth_file else None  # a bad file stops before the index
        watched = split_sources(settings.watch)
    except RagError as exc:
        parser.exit(2, f"error: {exc}\n")
    built = None
    update, close = terminal_progress()
    try:
        if not index_exists(settings.index_dir):
            where = shown_url(str(settings.index_dir))
            print(f"No index in {where}: building it from {SAMPLE_ARTICLES} ...", flush=True)
        index, built = open_or_build(settings, progress=update)
    except RagError as exc:
        parser.exit(1, f"error: {exc}\n")
    finally:
        close()
    if built is not None:
        print(built.summary(), flush=True)
    if watched and index.read_only:
        parser.exit(2, f"error: --watch needs an index it can write to; {index.read_only_reason}\n")
    watcher = Watcher(index, watched, settings.watch_every).start() if watched else None
    if watcher:
        print(f"{watcher.status} (in the background)", flush=True)
    assistant = Assistant(index)
    assistant.warm_up()  # the model loaded and run once, so the first question is answered as fast as the rest
    app = App(assistant, settings, logins, watcher)
    try:
        launch(build(app), app)
    except OSError as exc:  # the port was taken between the check and the launch
        parser.exit(2, f"error: {port_taken(settings)} ({exc.strerror or exc})\n")


if __name__ == "__main__":
    main(PARSER, SETTINGS)
