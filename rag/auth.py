"""Who may use the chat app: the auth file's users, their Argon2 password hashes and their roles.

The auth file is TOML, one table per user, written by ``rag user add`` (passwords are never stored,
only their Argon2id hashes)::

    [users.alice]
    role = "editor"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."

A **reader** asks, sees the sources and exports; an **editor** also adds and removes articles.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROLES = ("reader", "editor")
PERMISSIONS = {
    "reader": frozenset({"read", "ask", "export"}),
    "editor": frozenset({"read", "ask", "export", "upload", "remove"}),
}
ACTIONS = {
    "read": "see the library",
    "ask": "ask questions",
    "export": "export answers",
    "upload": "add articles",
    "remove": "remove articles",
}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
SHORTEST_PASSWORD = 8
HEADER = (
    "# Logins of the chat app (python app.py --auth-file FILE, or RAG_AUTH_FILE).\n"
    "# Managed with `rag user add|remove|list`; passwords are kept only as Argon2id hashes.\n"
)


class Forbidden(RagError):
    """An action the signed-in user's role does not allow."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (salted; the password cannot be read back from it)."""
    if len(password) < SHORTEST_PASSWORD:
        raise RagError(f"the password is too short; use at least {SHORTEST_PASSWORD} characters")
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise RagError(
            f"the user name {name!r} is not allowed; use 1 to 64 letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise RagError(f"the role {role!r} is not one of {', '.join(ROLES)}")
    return role


def load_users(path: Path) -> dict[str, User]:
    """The users of an auth file; a RagError names the file and what is wrong in it."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RagError(
            f"the auth file {path} does not exist; create it with `rag user add NAME --role editor --auth-file {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"cannot read the auth file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RagError(f"the auth file {path} is not valid TOML ({exc})") from None
    table = data.get("users", {})
    if not isinstance(table, dict) or set(data) - {"users"}:
        raise RagError(f"the auth file {path} must hold only [users.NAME] tables; manage it with `rag user`")
    users = {}
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise RagError(f"the auth file {path}: users.{name} is not a table")
        try:
            check_name(name)
            role = check_role(entry.get("role"))
        except RagError as exc:
            raise RagError(f"the auth file {path}: {exc}") from None
        password_hash = entry.get("password_hash")
        if not isinstance(password_hash, str) or not password_hash.startswith("$argon2"):
            raise RagError(
                f"the auth file {path}: the user {name} has no Argon2 password hash (plain passwords are "
                f"refused); set the password with `rag user add {name} --role {role} --auth-file {path}`"
            )
        users[name] = User(name, role, password_hash)
    return users


def save_users(path: Path, users: dict[str, User]) -> None:
    """Write the auth file atomically, readable by its owner only."""
    path = Path(path)
    lines = [HEADER]
    for user in sorted(users.values(), key=lambda u: u.name):
        check_name(user.name)
        lines.append(f"\n[users.{json.dumps(user.name)}]\n")
        lines.append(f"role = {json.dumps(check_role(user.role))}\n")
        lines.append(f"password_hash = {json.dumps(user.password_hash)}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("".join(lines))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_user(path: Path, name: str, role: str, password: str) -> bool:
    """Add a user, or give an existing one a new password and role; True when the user is new."""
    path = Path(path)
    users = load_users(path) if path.exists() else {}
    user = User(check_name(name), check_role(role), hash_password(password))
    new = name not in users
    save_users(path, {**users, name: user})
    return new


def remove_user(path: Path, name: str) -> bool:
    """Remove a user; False when there was no such user."""
    users = load_users(path)
    if name not in users:
        return False
    save_users(path, {n: u for n, u in users.items() if n != name})
    return True


def may(role: str | None, action: str) -> bool:
    return action in PERMISSIONS.get(role or "", frozenset())


class Logins:
    """The users of an auth file for a running app, read again whenever the file changes, so that
    ``rag user add`` and ``rag user remove`` take effect without a restart."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._users = load_users(self.path)
        if not self._users:
            raise RagError(f"the auth file {self.path} has no users; add one with `rag user add NAME --role editor`")
        self._stamp = self._current_stamp()
        self._dummy = _hasher().hash("a password no user has")

    def _current_stamp(self):
        try:
            found = self.path.stat()
        except OSError:
            return None
        return (found.st_mtime_ns, found.st_size, found.st_ino)

    def users(self) -> dict[str, User]:
        """The users now; a file made unreadable or invalid since keeps the last good ones in force."""
        with self._lock:
            stamp = self._current_stamp()
            if stamp is not None and stamp != self._stamp:
                try:
                    self._users = load_users(self.path)
                except RagError:
                    pass
                self._stamp = stamp
            return self._users

    def check(self, name: str, password: str) -> bool:
        """Whether ``name`` and ``password`` are a user's (Gradio's ``auth`` callable)."""
        user = self.users().get(name)
        if user is None:
            verify_password(self._dummy, password)  # as slow as a real check: names cannot be probed by timing
            return False
        return verify_password(user.password_hash, password)

    def role(self, name: str | None) -> str | None:
        user = self.users().get(name or "")
        return user.role if user else None

    def require(self, name: str | None, action: str) -> None:
        """Raise :class:`Forbidden` unless the user ``name`` may do ``action``."""
        role = self.role(name)
        if role is None:
            raise Forbidden(f"{name or 'this session'} is not a user of this app (any more); log out and log in again")
        if not may(role, action):
            allowed = " or ".join(r for r in ROLES if may(r, action))
            raise Forbidden(
                f"{name} is {_a(role)} and may not {ACTIONS[action]}; only {_a(allowed)} may "
                "(ask whoever runs this app to change your role)"
            )


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
