"""The one exception family a user can cause, each with a message that says what to do."""


class RagError(Exception):
    """A problem with the user's input, files or index; the message names it and the fix."""


class RejectedFile(RagError):
    """A file that cannot be read as articles. ``reason`` is one line, shown in the ingest report."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class IndexError_(RagError):
    """The index folder is missing, corrupt, or was built with another model."""


def rebuild_hint(folder: object) -> str:
    """What to do with an index that is really damaged (never said of one ``rag check`` passes)."""
    return f"rebuild the index: move {folder} aside and run `rag ingest` again"
