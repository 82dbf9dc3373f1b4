"""The browser chat UI: `python app.py` serves http://127.0.0.1:7860.

Thin by design: it maps the `rag` library's Answers and reports to Gradio components and events.
All retrieval, answering and export live in the library; the chat's HTML (escaped) in ui/render.py.
"""

import argparse
import os
import tempfile
import threading
from pathlib import Path

import gradio as gr
from gradio import FileData

from rag import Filters, RagError, Settings
from rag.answer import Assistant
from rag.config import MODES
from rag.errors import StorageError
from rag.export import answer_to_dict, article_to_dict, export, report_to_dict
from rag.index import SAMPLE_ARTICLES, open_or_build
from rag.index import exists as index_exists
from rag.parse import SUPPORTED_SUFFIXES
from rag.progress import terminal_progress
from ui.render import (
    CSS,
    answer_html,
    draft_html,
    error_html,
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
UPLOAD_ROOT = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


class App:
    """The shared state of the server: one index and one assistant for every session."""

    def __init__(self, assistant: Assistant, settings: Settings | None = None):
        self.assistant = assistant
        self.index = assistant.index
        self.settings = settings or self.index.settings
        self.ingest_lock = threading.Lock()

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
            library_html(articles, query, self.index.story_sizes([a.id for a in articles])),
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

    # --- chat -----------------------------------------------------------------------------

    def respond(self, question, chat, answers, k, sentences, sources, date_from, date_to, mode, as_of=None):
        """Streams: the question and a working note first, the model's text as it is written (in
        generative mode), then the checked answer with its sources."""
        question = question or ""
        chat = [*chat, {"role": "user", "content": question_html(question)}]
        pending = [*chat, {"role": "assistant", "content": "<em>Searching the articles…</em>"}]
        yield "", pending, answers, gr.update(), gr.update()
        answer, written = None, ""
        try:
            for item in self.assistant.stream(
                question,
                history=answers,
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
        Files over RAG_MAX_FILE_MB are rejected by name in the report, like any unreadable file."""
        most = self.settings.max_upload_files
        if len(uploads) > most:
            raise RagError(
                f"{len(uploads)} files at once; the limit is {most} (RAG_MAX_UPLOAD_FILES). Upload fewer files."
            )
        names = {str(path): name for path, name in uploads}
        with self.ingest_lock:
            return self.index.ingest([path for path, _ in uploads], progress=progress, origin_names=names)

    def upload(self, files, query, order, offset, progress=gr.Progress()):
        """The UI's upload button: ingest, then refresh the table and filters."""
        files = files or []
        uploads = [(_checked_upload(f), Path(str(f)).name) for f in files]

        def tick(p) -> None:  # by the bytes read: the time left is known inside one large archive too
            done = p.bytes_done / p.bytes_total if p.bytes_total else p.files_done / max(1, p.files_total)
            progress(done, desc=f"{p.files_done}/{p.files_total} files · {p.describe()}")

        try:
            report = self.ingest_files(uploads, progress=tick)
        except StorageError as exc:  # a full disk, a held lock: said here; the chat goes on answering
            return (error_html(str(exc)), gr.update(), *self.library_updates(query, order, offset))
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return (report_html(report), None, *self.library_updates(query, order, offset))

    def remove(self, article_id, query, order, offset):
        if not article_id:
            raise gr.Error("Choose an article to remove first.")
        try:
            with self.ingest_lock:
                removed = self.index.remove([article_id])
        except StorageError as exc:
            return (error_html(str(exc)), *self.library_updates(query, order, offset))
        message = f"Removed {article_id}." if removed else f"{article_id} was not in the library."
        return (f"<p>{message}</p>", *self.library_updates(query, order, offset))

    # --- export ---------------------------------------------------------------------------

    def export_file(self, answers, selected, scope, fmt):
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
    ) -> dict:
        try:
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

    def api_ingest(self, files: list[FileData]) -> dict:
        uploads = [(_checked_upload(f), _original_name(f)) for f in files or []]
        try:
            report = self.ingest_files(uploads)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return {**report_to_dict(report), "articles": self.index.stats().articles}

    def api_articles(self) -> list[dict]:
        return [article_to_dict(a) for a in self.index.articles()]

    def api_remove(self, article_id: str) -> dict:
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
                        files = gr.File(
                            label="Add articles (.txt .md .html .json .jsonl .pdf)",
                            file_count="multiple",
                            file_types=sorted(SUPPORTED_SUFFIXES),
                            height=150,
                            visible=writable,
                        )
                        upload = gr.Button("Add to library", variant="primary", visible=writable)
                        upload_report = gr.HTML(elem_id="upload-report")
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
                        with gr.Row():
                            to_remove = gr.Dropdown(
                                label="Remove an article (of this page)",
                                choices=[],
                                scale=4,
                                min_width=200,
                                visible=writable,
                            )
                            remove = gr.Button("Remove", variant="stop", scale=1, min_width=80, visible=writable)
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
        )
        remove.click(
            app.remove,
            [to_remove, *library_view],
            [upload_report, *library_outputs],
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

        gr.api(app.api_ask, api_name="ask")
        gr.api(app.api_ingest, api_name="ingest", concurrency_id="ingest", concurrency_limit=1)
        gr.api(app.api_articles, api_name="articles")
        gr.api(app.api_remove, api_name="remove", concurrency_id="ingest", concurrency_limit=1)
    demo.queue(default_concurrency_limit=4)
    return demo


def launch(demo: gr.Blocks, settings: Settings, **options) -> None:
    """Serve the app on the configured address and port, with the upload limit of the settings."""
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        max_file_size=f"{settings.max_file_mb}mb",
        css=CSS,
        footer_links=["api"],
        **options,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", help="index folder (default: $RAG_INDEX or embeddings/)")
    parser.add_argument("--host", help="address to listen on (default: $RAG_HOST, $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", help="port to listen on (default: $RAG_PORT, $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument(
        "--read-only", action="store_true", default=None, help="serve the index without writing to it: no uploads"
    )
    args = parser.parse_args()
    try:
        settings = Settings.from_env(index_dir=args.index, host=args.host, port=args.port, read_only=args.read_only)
    except RagError as exc:
        parser.exit(2, f"error: {exc}\n")
    built = None
    if not index_exists(settings.index_dir):
        print(f"No index in {settings.index_dir}: building it from {SAMPLE_ARTICLES} ...", flush=True)
    update, close = terminal_progress()
    try:
        index, built = open_or_build(settings, progress=update)
    except RagError as exc:
        parser.exit(1, f"error: {exc}\n")
    finally:
        close()
    if built is not None:
        print(built.summary(), flush=True)
    launch(build(App(Assistant(index))), settings)


if __name__ == "__main__":
    main()
