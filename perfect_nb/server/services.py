"""The server's own background work: the reaper of silent runs, the scheduler, and retention.

Each runs in one daemon thread of the server process (see
:func:`perfect_nb.server.app.create_app`). They only touch the database
through :mod:`perfect_nb.server.db` and tell waiting agents and open streams
through ``notify``, so a run put back in the queue is picked up at once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Callable

from perfect_nb.server.db import Database
from perfect_nb.server.db.orchestration import reap
from perfect_nb.server.db.queries import delete_old_runs
from perfect_nb.server.db.scheduling import schedule_runs

__all__ = ["Settings", "checkpoint_loop", "retention_loop", "services_loop"]

logger = logging.getLogger("perfect_nb.server")


@dataclasses.dataclass
class Settings:
    """What the services need from ``[server]`` in the configuration."""

    heartbeat_seconds: float = 5.0
    max_claims: int = 3
    late_after_seconds: float = 30.0
    schedule_horizon_hours: float = 24.0
    schedule_max_runs: int = 10
    schedule_every: float = 10.0

    @classmethod
    def from_config(cls) -> "Settings":
        """From ``[server]`` (config.toml or ``PERFECT_NB__SERVER__...``); a bad value is a
        ValueError naming the key."""
        from perfect_nb.configuration import load_config

        server = load_config().server
        values = {}
        for field in dataclasses.fields(cls):
            if field.name in server:
                try:
                    value = _cast(field.default, server[field.name])
                except (TypeError, ValueError):
                    raise ValueError(f"[server] {field.name} must be a positive number, got {server[field.name]!r} "
                                     f"(config.toml or PERFECT_NB__SERVER__{field.name.upper()}).") from None
                values[field.name] = value
        return cls(**values)


def _cast(default: float | int, value: object) -> float | int:
    number = type(default)(value)  # int for counts, float for seconds
    if number <= 0:
        raise ValueError(value)
    return number


def services_loop(db: Database, settings: Settings, stop: threading.Event, notify: Callable[[list[dict]], None], up_since: float,
                  schedule_now: threading.Event | None = None) -> None:
    """Reap every half heartbeat; schedule at once, when ``schedule_now`` is set (a flow was
    registered, a schedule switched) and every ``schedule_every`` seconds."""
    next_schedule = 0.0
    tick = max(0.05, min(1.0, settings.heartbeat_seconds / 2))
    while not stop.is_set():
        now = time.time()
        try:
            with db.write() as conn:
                changed = reap(conn, now, settings.heartbeat_seconds, settings.max_claims, up_since)
            if changed:
                for c in changed:
                    logger.warning("Flow run %s: %s", c["flow_run_id"], c["message"])
                notify([{"type": "state", "flow_run_id": c["flow_run_id"], "task_run_id": None, "state": c["state"], "message": c["message"], "ts": now} for c in changed])
            if schedule_now is not None and schedule_now.is_set():
                schedule_now.clear()
                next_schedule = 0.0
            if now >= next_schedule:
                next_schedule = now + settings.schedule_every
                with db.write() as conn:
                    made = schedule_runs(conn, now, settings.schedule_horizon_hours * 3600, settings.schedule_max_runs)
                if made:
                    notify([])
        except Exception:
            logger.exception("The server's reaper/scheduler failed; trying again.")
        stop.wait(tick)


def checkpoint_loop(db: Database, stop: threading.Event, every: float = 1.0) -> None:
    """Checkpoint an SQLite database's WAL every ``every`` seconds (see Database.checkpoint)."""
    while not stop.wait(every):
        try:
            db.checkpoint()
        except Exception:
            logger.exception("Checkpointing the database's write-ahead log failed; trying again.")


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
