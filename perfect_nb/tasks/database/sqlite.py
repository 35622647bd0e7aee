"""``SQLiteQuery`` (one statement, returns all rows) and ``SQLiteScript`` (many statements).

Each run opens ``db`` (a file path, or ``":memory:"``), runs, commits and closes it.

>>> import os, tempfile
>>> db = os.path.join(tempfile.mkdtemp(), "doc.db")
>>> SQLiteScript(db=db, script="create table t (n int); insert into t values (7);").run()
>>> SQLiteQuery(db=db, query="select n from t").run()
[(7,)]
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from perfect_nb.core.task import Task
from perfect_nb.utilities.tasks import defaults_from_attrs

__all__ = ["SQLiteQuery", "SQLiteScript"]


def _need(value: Any, what: str) -> None:
    if not value:
        raise ValueError(f"A {what} must be provided (when the task is created or called).")


class SQLiteQuery(Task):
    """Run one SQL ``query`` with ``data`` as its parameters; the result is
    ``cursor.fetchall()``, a list of row tuples (empty for a statement without rows).

    Unlike Prefect 1.4.1, which closes the connection without committing (so an
    ``INSERT`` through SQLiteQuery is lost), the statement is committed.
    """

    def __init__(self, db: str | None = None, query: str | None = None, data: tuple = (), **kwargs: Any) -> None:
        self.db = db
        self.query = query
        self.data = data
        super().__init__(**kwargs)

    @defaults_from_attrs("db", "query", "data")
    def run(self, db: str | None = None, query: str | None = None, data: tuple = ()) -> list:
        _need(db, "database (db)")
        _need(query, "query")
        with contextlib.closing(sqlite3.connect(db)) as conn:
            with conn:  # commits on success, rolls back on error
                return conn.execute(query, data or ()).fetchall()


class SQLiteScript(Task):
    """Run a ``script`` of ``;``-separated SQL statements (``executescript``); the result is None."""

    def __init__(self, db: str | None = None, script: str | None = None, **kwargs: Any) -> None:
        self.db = db
        self.script = script
        super().__init__(**kwargs)

    @defaults_from_attrs("db", "script")
    def run(self, db: str | None = None, script: str | None = None) -> None:
        _need(db, "database (db)")
        _need(script, "script")
        with contextlib.closing(sqlite3.connect(db)) as conn:
            with conn:
                conn.executescript(script)
