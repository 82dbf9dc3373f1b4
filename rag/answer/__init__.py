"""Answering a question by quoting the article sentences that answer it.

The modules read in the order a question flows through them:

- :mod:`.question`: what the question asks (its kind, its focus, who and which days it names);
- :mod:`.timeframe`: the time it asks about, as days counted back from the as-of day;
- :mod:`.clues`: what a sentence gives for a question (its content words, its figures for a thing,
  light stems), shared by scoring and composition;
- :mod:`.scoring`: the candidate sentences of the passages found, scored;
- :mod:`.reader`: the trained reader: does a sentence answer the question, and with which words;
- :mod:`.compose`: which sentences to quote, in what order, or an abstention;
- :mod:`.generate`: the generative mode (a language model writes, every citation is checked);
- :mod:`.assistant`: the :class:`Assistant` that walks a question through them.
"""

from .assistant import NO_ANSWER, AnswerSettings, Assistant, QuestionTime, ask, check_mode

__all__ = ["NO_ANSWER", "AnswerSettings", "Assistant", "QuestionTime", "ask", "check_mode"]
