"""Running a flow on its schedule: what ``flow.run()`` does when the flow has one.

Each scheduled time is waited for, then the flow runs with that event's
``parameter_defaults`` (overridden by the parameters given to ``flow.run``) and
``scheduled_start_time`` in context. The loop ends when the schedule has no
more times, or on Ctrl-C / a kernel interrupt, and returns the last run's state.
``flow.run(run_on_schedule=False)`` runs once, now.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from typing import Any

from perfect_nb.engine.flow_runner import resume_paused
from perfect_nb.engine.state import Cancelled, Scheduled, State

__all__ = ["run_on_schedule"]

logger = logging.getLogger("perfect_nb.schedule")


def _sleep_until(when: _dt.datetime) -> None:
    while True:
        remaining = (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
        if remaining <= 0:
            return
        time.sleep(min(remaining, 0.5))


def run_on_schedule(flow: Any, runner: Any, parameters: dict, **kwargs: Any) -> State:
    """Run ``flow`` at each time of ``flow.schedule``; return the last state."""
    last: State = Scheduled("No scheduled run has happened yet.")
    context = dict(kwargs.pop("context", None) or {})
    for event in flow.schedule.emit_events(after=_dt.datetime.now(_dt.timezone.utc)):
        logger.info("Flow %r: next run at %s", flow.name, event.start_time.isoformat())
        try:
            _sleep_until(event.start_time)
        except KeyboardInterrupt:
            logger.warning("Flow %r: schedule stopped by an interrupt.", flow.name)
            return last
        params = {**(event.parameter_defaults or {}), **parameters}
        run_context = {**context, "scheduled_start_time": event.start_time}
        state = kwargs.get("state") or Scheduled(start_time=event.start_time)  # as in Prefect 1: from Scheduled at its time
        last = runner.run(parameters=params, context=run_context, **{**kwargs, "state": state})
        last = resume_paused(runner, last, params, {**kwargs, "context": run_context})
        flow.last_run = last
        if isinstance(last, Cancelled):
            return last
    return last
