"""The server as one ASGI app: the API, its guard, and the retention service.

>>> import tempfile
>>> from perfect_nb.server.db import Database
>>> app = create_app(Database(f"sqlite:///{tempfile.mkdtemp()}/s.db"))
>>> sorted(p for p in app.api.openapi()["paths"] if p.startswith("/api/projects"))
['/api/projects', '/api/projects/{name_or_id}']
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from fastapi import FastAPI

from perfect_nb.server.api import router
from perfect_nb.server.broadcast import Broadcaster
from perfect_nb.server.db import Database
from perfect_nb.server.db.queries import delete_old_runs
from perfect_nb.server.security import Guard

__all__ = ["MAX_BODY", "create_app", "retention_loop"]

logger = logging.getLogger("perfect_nb.server")
MAX_BODY = 64 * 1024 * 1024


def retention_loop(db: Database, keep_days: float, stop: threading.Event, every: float = 3600.0) -> None:
    """Delete runs older than ``keep_days`` in batches, now and then every ``every`` seconds."""
    while not stop.is_set():
        cutoff = time.time() - keep_days * 86400
        try:
            while not stop.is_set():
                with db.write() as conn:
                    if delete_old_runs(conn, cutoff) == 0:
                        break
                time.sleep(0.05)  # let other writers in between batches
        except Exception:
            logger.exception("Retention: deleting old runs failed; trying again later.")
        stop.wait(every)


def create_app(db: Database, token: str | None = None, bind_host: str = "127.0.0.1", keep_days: float | None = None, max_body: int = MAX_BODY):
    """The ASGI app: FastAPI routes behind :class:`~perfect_nb.server.security.Guard`."""
    stop = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if keep_days:
            threading.Thread(target=retention_loop, args=(db, keep_days, stop), name="perfect-retention", daemon=True).start()
        yield
        stop.set()

    from perfect_nb import __version__

    api = FastAPI(title="perfect_nb server", version=__version__, lifespan=lifespan)
    api.state.db = db
    api.state.broadcaster = Broadcaster()
    api.include_router(router)
    guarded = Guard(api, token=token, bind_host=bind_host, max_body=max_body)
    guarded.api = api  # type: ignore[attr-defined]
    return guarded
