"""The server as one ASGI app: the API, its guard, and the background services.

>>> import tempfile
>>> from perfect_nb.server.db import Database
>>> app = create_app(Database(f"sqlite:///{tempfile.mkdtemp()}/s.db"))
>>> sorted(p for p in app.api.openapi()["paths"] if p.startswith("/api/projects"))
['/api/projects', '/api/projects/{name_or_id}']
"""

from __future__ import annotations

import contextlib
import threading
import time

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from perfect_nb.server import api_docs, api_orchestration
from perfect_nb.server.api import router
from perfect_nb.server.broadcast import Broadcaster, Wakeup
from perfect_nb.server.db import Database
from perfect_nb.server.security import Guard
from perfect_nb.server.services import Settings, checkpoint_loop, retention_loop, services_loop

__all__ = ["MAX_BODY", "create_app"]

MAX_BODY = 64 * 1024 * 1024


def create_app(db: Database, token: str | None = None, bind_host: str = "127.0.0.1", keep_days: float | None = None, max_body: int = MAX_BODY,
               settings: Settings | None = None):
    """The ASGI app: FastAPI routes behind :class:`~perfect_nb.server.security.Guard`."""
    stop = threading.Event()
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if keep_days:
            threading.Thread(target=retention_loop, args=(db, keep_days, stop), name="perfect-retention", daemon=True).start()
        threading.Thread(target=services_loop, args=(db, settings, stop, notify, time.time(), api.state.schedule_now), name="perfect-services", daemon=True).start()
        if db.dialect == "sqlite":
            threading.Thread(target=checkpoint_loop, args=(db, stop), name="perfect-checkpoint", daemon=True).start()
        yield
        stop.set()

    def notify(events: list[dict]) -> None:
        """Runs changed outside a request: wake claiming agents, tell the streams."""
        api.state.wakeup.notify()
        if events:
            api.state.broadcaster.publish(events)

    from perfect_nb import __version__

    # /docs is our own page (api_docs): Swagger UI and ReDoc would load their scripts from a CDN
    api = FastAPI(title="perfect_nb server", version=__version__, lifespan=lifespan, openapi_url="/api/openapi.json", docs_url=None, redoc_url=None)
    api.state.db = db
    api.state.broadcaster = Broadcaster()
    api.state.wakeup = Wakeup()
    api.state.settings = settings
    api.state.schedule_now = threading.Event()
    api.include_router(router)
    api.include_router(api_orchestration.router)
    api.include_router(api_docs.router)
    api.include_router(__import__("perfect_nb.server.ui", fromlist=["router"]).router)  # the web UI (server/ui/)
    # pages and JSON over 1 kB go gzipped to clients that ask (a 5,000-item map's run page is ~350 kB);
    # server-sent event streams never are (Starlette leaves text/event-stream alone)
    api.add_middleware(GZipMiddleware, minimum_size=1024)
    guarded = Guard(api, token=token, bind_host=bind_host, max_body=max_body)
    guarded.api = api  # type: ignore[attr-defined]
    return guarded
