"""The backend's database: one :class:`Database` per server process.

SQLite (the default, a file under ``$PERFECT_NB_HOME``) runs in WAL mode with a
busy timeout, and the server serialises its writes with a lock, so readers
never wait for writers and "database is locked" never reaches a user.
PostgreSQL (``postgresql+psycopg://...``) runs the same statements.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any, Iterator

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from perfect_nb.configuration import home

__all__ = ["Database", "DatabaseError", "default_url", "redact"]


class DatabaseError(RuntimeError):
    """The database cannot be opened, reached or migrated; the message names its URL without the password."""


def default_url() -> str:
    """``sqlite:///$PERFECT_NB_HOME/server.db``."""
    return f"sqlite:///{home() / 'server.db'}"


def redact(url: str | URL) -> str:
    """The URL with its password hidden: ``postgresql://u:***@host/db``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _to_json(value: Any) -> str:
    """A JSON column's text, by orjson (a recorded run's graph of 2,000 tasks: 1.5 ms,
    not the 10 ms of the standard library); what orjson refuses goes the standard way."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


_JSON = {"json_serializer": _to_json, "json_deserializer": orjson.loads}
AUTOCHECKPOINT_PAGES = 20_000  # about 80 MB of WAL


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # The server checkpoints the WAL in the background (Database.checkpoint); SQLite's own
    # checkpoint, inside a writer's commit, is kept only as a safety net for a large WAL.
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """An engine plus the write discipline of its dialect.

    >>> import tempfile, os
    >>> db = Database(f"sqlite:///{tempfile.mkdtemp()}/x.db")
    >>> db.dialect
    'sqlite'
    >>> with db.write() as conn:
    ...     _ = conn.execute(sa.text("create table t (x int)"))
    >>> with db.read() as conn:
    ...     conn.execute(sa.text("select count(*) from t")).scalar()
    0
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        try:
            parsed = make_url(self.url)
        except Exception:
            raise DatabaseError(f"{redact(self.url)} is not a database URL; use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB.") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                from pathlib import Path

                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30}, **_JSON)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        elif self.dialect == "postgresql":
            self.engine = sa.create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True, **_JSON)
        else:
            raise DatabaseError(f"{redact(self.url)}: the backend runs on SQLite or PostgreSQL, not {self.dialect!r}.")
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """One transaction, committed at the end; on SQLite one writer at a time."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def checkpoint(self) -> None:
        """SQLite: copy what the WAL holds into the database file, without waiting for
        readers or the writer (a passive checkpoint). Done by the server every second, so a
        writer's commit never pays for it; a no-op on PostgreSQL."""
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def check(self) -> None:
        """Connect once, or raise DatabaseError naming the URL (password hidden)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except Exception as exc:
            raise DatabaseError(f"cannot open the database {redact(self.url)}: {_first_line(exc)}") from None

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
