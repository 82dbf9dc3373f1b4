"""The browser UI's HTML rendering, beside app.py (not part of the installed ``rag`` package)."""
