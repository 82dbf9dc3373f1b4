"""Answer questions from a collection of news articles, citing the exact sentences used."""

from .config import Settings
from .errors import RagError
from .index import Index, open_index
from .ingest import IngestReport
from .types import Article, Chunk, Filters, Passage

__all__ = [
    "Article",
    "Chunk",
    "Filters",
    "Index",
    "IngestReport",
    "Passage",
    "RagError",
    "Settings",
    "open_index",
]
