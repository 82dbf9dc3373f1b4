"""Abuse limits of a shared app: questions per minute and upload volume per hour, for each client.

A client is the signed-in user when the app has logins; otherwise the address it connects from;
and for a connection from this machine itself (a local tool, or a reverse proxy in front of the app,
where the address tells clients apart no more) the browser tab or API session.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from .auth import is_loopback
from .config import Settings
from .errors import RagError

MB = 2**20


class LimitReached(RagError):
    """A client used up its allowance; the message says which limit and when to try again."""


def client_of(user: str | None, address: str | None, session: str | None) -> str:
    """The key a client's allowances are kept under (see the module's note)."""
    if user:
        return f"user {user}"
    if address and not is_loopback(address):
        return f"address {address}"
    return f"session {session or '-'}"


class Window:
    """At most ``most`` units in any ``seconds`` for each client (a sliding window); 0: no limit."""

    def __init__(self, most: float, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.most, self.seconds, self.clock = most, seconds, clock
        self._taken: dict[str, deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, amount: float = 1) -> float:
        """Count ``amount`` for ``client`` and return 0; or, when that would pass the limit, count
        nothing and return the seconds until it would not (``inf`` if it never will)."""
        if not self.most:
            return 0.0
        if amount > self.most:
            return float("inf")
        now = self.clock()
        with self._lock:
            taken = self._taken.setdefault(client, deque())
            while taken and taken[0][0] <= now - self.seconds:
                taken.popleft()
            used = sum(units for _, units in taken)
            if used + amount <= self.most:
                taken.append((now, amount))
                return 0.0
            freed = 0.0
            for when, units in taken:  # the wait until enough of the oldest units leave the window
                freed += units
                if used - freed + amount <= self.most:
                    return max(0.0, when + self.seconds - now)
            return float("inf")  # not reached: amount <= most

    def used(self, client: str) -> float:
        now = self.clock()
        with self._lock:
            return sum(units for when, units in self._taken.get(client, ()) if when > now - self.seconds)

    def forget_idle(self) -> None:
        """Drop the clients with nothing in their window (the memory of long-gone clients)."""
        now = self.clock()
        with self._lock:
            for client in [c for c, t in self._taken.items() if not t or t[-1][0] <= now - self.seconds]:
                del self._taken[client]


class Limits:
    """The app's allowances, from the settings ``questions_per_minute`` and ``upload_mb_per_hour``."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.questions = Window(settings.questions_per_minute, 60, clock)
        self.uploads = Window(settings.upload_mb_per_hour * MB, 3600, clock)
        self._calls = 0

    def ask(self, client: str) -> None:
        """Count one question of ``client``, or raise LimitReached."""
        self._tidy()
        wait = self.questions.take(client)
        if wait:
            most = self.settings.questions_per_minute
            raise LimitReached(
                f"Too many questions: at most {most} a minute for each client (RAG_QUESTIONS_PER_MINUTE). "
                f"Ask again in {_duration(wait)}."
            )

    def upload(self, client: str, size: int) -> None:
        """Count an upload of ``size`` bytes by ``client``, or raise LimitReached."""
        self._tidy()
        wait = self.uploads.take(client, size)
        if wait:
            most = self.settings.upload_mb_per_hour
            left = max(0.0, most * MB - self.uploads.used(client)) / MB
            when = "" if wait == float("inf") else f" Upload it in {_duration(wait)}, or upload less."
            raise LimitReached(
                f"Upload limit reached: this upload is {size / MB:.1f} MB, and each client may upload at most "
                f"{most} MB an hour (RAG_UPLOAD_MB_PER_HOUR); {left:.1f} MB are left now.{when}"
            )

    def _tidy(self) -> None:
        self._calls += 1
        if self._calls % 1000 == 0:
            self.questions.forget_idle()
            self.uploads.forget_idle()


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"
