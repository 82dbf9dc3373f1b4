"""Abuse limits of a shared app: questions per minute and upload volume per hour, for each client,
and growing waits after failed sign-ins.

A client is the signed-in user when the app has logins; otherwise the address it connects from (behind
a trusted reverse proxy, the address the proxy says it connected from: ``X-Forwarded-For``); and for a
connection from this machine itself that names no other address (a local tool) the browser tab or API
session.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from .auth import is_loopback
from .config import Settings, parse_networks
from .errors import RagError

MB = 2**20


class LimitReached(RagError):
    """A client used up its allowance; the message says which limit and when to try again."""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(settings: Settings) -> tuple[Network, ...]:
    return parse_networks(settings.trusted_proxies)


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str | None:
    """The client's address: the connection's own (``peer``), or where that is a trusted proxy, the
    nearest address in its ``X-Forwarded-For`` that is not one (the ones further left are the client's
    to write, and not believed)."""
    if not peer or not forwarded_for or not _within(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _within(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop.strip("[]")))
            except ValueError:
                return peer  # a proxy that forwards garbage: the proxy is the client
    return peer


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


class SignInThrottle:
    """Growing waits after failed sign-ins, kept for each user name and each address: the first
    FREE_FAILURES cost nothing, each further one doubles the wait before the next try (2 s, 4 s, ...,
    at most LONGEST_WAIT). A try while waiting is refused before the password is checked, so it costs
    no hashing. A success clears the name's count; an hour without failures clears any count."""

    FREE_FAILURES = 5
    LONGEST_WAIT = 900.0
    FORGET_AFTER = 3600.0

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, when the last one was)
        self._lock = threading.Lock()

    def _wait(self, key: str, now: float) -> float:
        failures, last = self._failures.get(key, (0, 0.0))
        if now - last > self.FORGET_AFTER:
            return 0.0
        over = failures - self.FREE_FAILURES
        return 0.0 if over < 1 else max(0.0, last + min(2.0**over, self.LONGEST_WAIT) - now)

    def wait(self, *keys: str) -> float:
        """Seconds before a sign-in for ``keys`` (a name, an address) may be tried; 0: now."""
        now = self.clock()
        with self._lock:
            return max((self._wait(k, now) for k in keys if k), default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in filter(None, keys):
                failures, last = self._failures.get(key, (0, 0.0))
                self._failures[key] = (1 if now - last > self.FORGET_AFTER else failures + 1, now)
            if len(self._failures) > 10_000:  # the memory of long-gone clients
                for key in [k for k, (_, last) in self._failures.items() if now - last > self.FORGET_AFTER]:
                    del self._failures[key]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)

    def refusal(self, wait: float) -> str:
        return (
            f"Too many failed sign-ins with this name or from this address; try again in {_duration(wait)}. "
            "Each further failure doubles the wait."
        )


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"
