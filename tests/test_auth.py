"""The auth file: users with Argon2 hashes and roles, what each role may do, reloading while running."""

import os
import stat

import pytest

from rag import RagError
from rag.auth import (
    Forbidden,
    Logins,
    add_user,
    hash_password,
    is_loopback,
    load_users,
    may,
    remove_user,
    verify_password,
)


def test_passwords_are_kept_only_as_salted_argon2id_hashes(tmp_path):
    path = tmp_path / "users.toml"
    assert add_user(path, "alice", "editor", "correct horse battery") is True
    text = path.read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # readable by its owner only
    first = load_users(path)["alice"]
    assert (first.role, verify_password(first.password_hash, "correct horse battery")) == ("editor", True)
    assert not verify_password(first.password_hash, "correct horse batterY")
    assert hash_password("correct horse battery") != hash_password("correct horse battery")  # salted


def test_add_again_changes_the_password_and_role_and_remove_removes(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", "editor", "first password")
    add_user(path, "bob", "reader", "bobs password")
    assert add_user(path, "alice", "reader", "second password") is False
    users = load_users(path)
    assert {name: u.role for name, u in users.items()} == {"alice": "reader", "bob": "reader"}
    assert verify_password(users["alice"].password_hash, "second password")
    assert not verify_password(users["alice"].password_hash, "first password")
    assert remove_user(path, "bob") is True and remove_user(path, "bob") is False
    assert list(load_users(path)) == ["alice"]


@pytest.mark.parametrize(
    "name, role, password, message",
    [
        ("alice", "admin", "long enough", "the role 'admin' is not one of reader, editor"),
        ("al ice", "reader", "long enough", "the user name 'al ice' is not allowed"),
        ('x"]\n[users.y', "reader", "long enough", "is not allowed"),
        ("alice", "reader", "short", "the password is too short; use at least 8 characters"),
    ],
)
def test_bad_users_are_refused_and_the_file_is_left_alone(tmp_path, name, role, password, message):
    path = tmp_path / "users.toml"
    add_user(path, "bob", "reader", "bobs password")
    before = path.read_text()
    with pytest.raises(RagError, match=message):
        add_user(path, name, role, password)
    assert path.read_text() == before


@pytest.mark.parametrize(
    "text, message",
    [
        ('[users.alice]\nrole = "editor"\npassword = "hunter22"\n', "the user alice has no Argon2 password hash"),
        ('[users.alice]\nrole = "editor"\npassword_hash = "hunter22"\n', "plain passwords are refused"),
        ('[users.alice]\nrole = "boss"\npassword_hash = "$argon2id$x"\n', "the role 'boss' is not one of"),
        ("[users.alice\n", "is not valid TOML"),
        ('title = "x"\n', "must hold only [users.NAME] tables"),
    ],
)
def test_a_bad_auth_file_is_one_clear_error_naming_it(tmp_path, text, message):
    path = tmp_path / "users.toml"
    path.write_text(text)
    with pytest.raises(RagError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        load_users(path)
    assert str(path) in str(caught.value)


def test_a_missing_auth_file_says_how_to_create_it(tmp_path):
    with pytest.raises(RagError, match=r"does not exist; create it with `rag user add NAME --role editor"):
        Logins(tmp_path / "none.toml")


def test_roles():
    assert may("reader", "read") and may("reader", "ask") and may("reader", "export")
    assert not may("reader", "upload") and not may("reader", "remove")
    assert all(may("editor", action) for action in ("read", "ask", "export", "upload", "remove"))
    assert not may(None, "ask") and not may("boss", "ask")


def test_logins_check_passwords_enforce_roles_and_follow_the_file(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", "editor", "alice's password")
    add_user(path, "bob", "reader", "bob's password")
    logins = Logins(path)
    assert logins.check("alice", "alice's password") and logins.check("bob", "bob's password")
    assert not logins.check("alice", "bob's password") and not logins.check("carol", "bob's password")
    logins.require("alice", "remove")
    logins.require("bob", "ask")
    with pytest.raises(Forbidden, match=r"bob is a reader and may not add articles; only an editor may"):
        logins.require("bob", "upload")
    with pytest.raises(Forbidden, match="bob is a reader and may not remove articles"):
        logins.require("bob", "remove")
    with pytest.raises(Forbidden, match="is not a user of this app"):
        logins.require(None, "ask")

    # the file changes while the app runs: a new user can log in, a removed one can do nothing
    add_user(path, "carol", "editor", "carol's password")
    remove_user(path, "bob")
    assert logins.check("carol", "carol's password") and logins.role("carol") == "editor"
    assert not logins.check("bob", "bob's password")
    with pytest.raises(Forbidden, match="bob is not a user of this app"):
        logins.require("bob", "ask")
    # a file broken by hand keeps the last good users in force rather than letting anyone in
    path.write_text("[users.alice\n")
    assert logins.check("alice", "alice's password") and not logins.check("alice", "")


def test_an_auth_file_without_users_is_refused_by_the_app(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", "editor", "alice's password")
    remove_user(path, "alice")
    with pytest.raises(RagError, match="has no users; add one with `rag user add"):
        Logins(path)


@pytest.mark.parametrize(
    "host, loopback",
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True)]
    + [("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("example.org", False), ("", False)],
)
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback
