"""Alembic migrations, run from code: ``perfect server database upgrade|reset``.

The server upgrades its database to the newest revision on start, so a user
never runs a migration by hand unless they want to.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from perfect_nb.server.db import Database, DatabaseError, _first_line, redact

__all__ = ["current_revision", "head_revision", "reset", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _run(db: Database, action, *args) -> None:
    config = _config()
    try:
        with db.write() as conn:
            config.attributes["connection"] = conn
            action(config, *args)
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(f"cannot migrate the database {redact(db.url)}: {_first_line(exc)}") from None


def upgrade(db: Database) -> str:
    """Bring the schema to the newest revision; return it."""
    db.check()
    _run(db, command.upgrade, "head")
    return head_revision()


def reset(db: Database) -> str:
    """Drop every table of the backend and build them anew (all runs are lost)."""
    db.check()
    _run(db, command.downgrade, "base")
    return upgrade(db)
