"""Answer questions from a collection of news articles, citing the exact sentences used."""

from .answer import NO_ANSWER, Assistant, ask
from .config import Settings
from .errors import RagError, StorageError
from .index import Index, open_index
from .ingest import IngestReport
from .types import Answer, Article, Chunk, Citation, Filters, Passage

__all__ = [
    "NO_ANSWER",
    "Answer",
    "Article",
    "Assistant",
    "Chunk",
    "Citation",
    "Filters",
    "Index",
    "IngestReport",
    "Passage",
    "RagError",
    "Settings",
    "StorageError",
    "ask",
    "open_index",
]
