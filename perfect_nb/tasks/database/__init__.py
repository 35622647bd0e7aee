"""Database tasks: ``tasks.database.sqlite`` (SQLiteQuery, SQLiteScript) on the stdlib ``sqlite3``."""

from perfect_nb.tasks.database.sqlite import SQLiteQuery, SQLiteScript

__all__ = ["SQLiteQuery", "SQLiteScript"]
