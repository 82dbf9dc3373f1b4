"""Browser UI: `python app.py` serves a search page over the index on http://127.0.0.1:7860.

Thin by design: every piece of logic lives in the `rag` library.
"""

from __future__ import annotations

import argparse
import html
from pathlib import Path

import gradio as gr

from rag import Index, Settings
from rag.cli import DEFAULT_SAMPLE


def open_or_build(settings: Settings) -> Index:
    """Open the index; on first start, build it from the bundled sample articles."""
    if not (Path(settings.index_dir) / "manifest.json").exists():
        print(f"No index in {settings.index_dir}: building it from {DEFAULT_SAMPLE} ...", flush=True)
        index = Index(settings, create=True)
        print(index.ingest([DEFAULT_SAMPLE]).summary(), flush=True)
        return index
    return Index(settings)


def render(passages) -> str:
    if not passages:
        return "No matching passages."
    blocks = []
    for rank, p in enumerate(passages, 1):
        date = (p.published or "")[:10]
        blocks.append(f"<p><b>[{rank}] {html.escape(p.title)}</b> {html.escape(date)}<br>{html.escape(p.text)}</p>")
    return "\n".join(blocks)


def build(index: Index) -> gr.Blocks:
    with gr.Blocks(title="News articles") as demo:
        gr.Markdown("## Search the news articles")
        question = gr.Textbox(label="Question", placeholder="How many North Korean troops were being trained?")
        results = gr.HTML()
        question.submit(lambda q: render(index.search(q, k=5)) if q.strip() else "", question, results)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", help="index folder (default: $RAG_INDEX or embeddings/)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    index = open_or_build(Settings.from_env(index_dir=args.index))
    build(index).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
