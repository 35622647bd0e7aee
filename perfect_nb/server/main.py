"""``perfect server start``: migrate the database, then serve the app with uvicorn."""

from __future__ import annotations

import secrets
import sys

from perfect_nb.configuration import load_config, set_user_config
from perfect_nb.server.db import Database, redact
from perfect_nb.server.db.migrate import upgrade
from perfect_nb.server.security import is_loopback

__all__ = ["server_token", "start"]


def server_token(host: str, given: str | None = None) -> tuple[str | None, bool]:
    """The token to require: none on loopback unless one is set; else the configured one,
    or a new one saved to the config. Returns ``(token, newly_made)``."""
    token = given or load_config().server.token or None
    if token or is_loopback(host):
        return token, False
    token = secrets.token_urlsafe(32)
    set_user_config("server", "token", token)
    return token, True


def start(host: str, port: int, database_url: str | None, keep_days: float, token: str | None = None, log_level: str = "warning") -> None:
    import uvicorn

    from perfect_nb.server.app import MAX_BODY, create_app

    from perfect_nb.server.services import Settings

    settings = Settings.from_config()  # a bad [server] value stops here, before anything starts
    db = Database(database_url or load_config().server.database_url or None)
    revision = upgrade(db)
    token, new = server_token(host, token)
    max_body = int(load_config().server.get("max_body") or MAX_BODY)
    app = create_app(db, token=token, bind_host=host, keep_days=keep_days, max_body=max_body, settings=settings)
    shown = f"[{host}]" if ":" in host else host
    print(f"perfect_nb server on http://{shown}:{port} (database {redact(db.url)}, schema {revision})", flush=True)
    if new:
        print(f"Token for this server (printed once, saved in the [server] section of config.toml): {token}", flush=True)
    elif token:
        print("Requests need the token in config.toml's [server] section (Authorization: Bearer TOKEN).", flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(f"perfect server start: could not listen on {host}:{port} (is another server there? choose another --port).")
