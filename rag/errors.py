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


class StorageError(RagError):
    """The storage refused an operation on an index that is sound: the message says what was kept
    and what to do, and never advises rebuilding (``rag check`` passes such an index)."""


class NoSpace(StorageError):
    """No space left on the device (or over the disk quota) while writing the index."""


class ReadOnly(StorageError):
    """The index cannot be written here (a read-only file system, no write permission, or opened
    read-only); searching, answering, listing and checking still work."""


class AccessDenied(StorageError):
    """A file of the index that this user is not allowed to read."""


class Locked(StorageError):
    """Another process held the index database's write lock for longer than the wait."""


def rebuild_hint(location: object) -> str:
    """What to do with an index that is really damaged (never said of one ``rag check`` passes)."""
    if str(location).startswith(("postgresql://", "postgres://")):
        return (
            f"rebuild the index: run `rag ingest` again into a new database, or into this one after dropping its "
            f"schema rag (DROP SCHEMA rag CASCADE in {location})"
        )
    return f"rebuild the index: move {location} aside and run `rag ingest` again"
