"""The seam: the one place where the model (``core/``) reaches the layers above it.

``core/`` is the pure model, and the engine, the drawing and the client are built on
it (they import ``core/``). A few of the model's public methods are Prefect 1's
entry points into those layers, so they must reach up: ``flow.run()`` runs the
engine, ``flow.visualize()`` draws, ``flow.register()`` talks to the backend, a
task resolves a ``cache_validator`` given by name, and ``task.serialize()`` names
the default trigger. They do it only through the functions below. Each loads what
it hands over by its dotted name when it is called, so no module of ``core/``
imports ``engine/``, ``viz/`` or ``client/``: the imports of ``core/`` point one way,
down, while ``flow.run()`` still runs the engine.

===================  ==============================================
``run_flow``         ``perfect_nb.engine.flow_runner.run_flow``
``visualize``        ``perfect_nb.viz.dot.visualize``
``register``         ``perfect_nb.client.register.register``
``cache_validator``  ``perfect_nb.engine.cache_validators.resolve``
``default_trigger``  ``perfect_nb.engine.triggers.all_successful``
===================  ==============================================

Add a row here, rather than an import in ``core/``, when the model must reach up.

>>> cache_validator("all_inputs").__module__, default_trigger().__name__
('perfect_nb.engine.cache_validators', 'all_successful')
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

__all__ = ["cache_validator", "default_trigger", "register", "run_flow", "visualize"]

# name -> (module, attribute): everything core/ reaches above itself
_TARGETS: dict[str, tuple[str, str]] = {
    "run_flow": ("perfect_nb.engine.flow_runner", "run_flow"),
    "visualize": ("perfect_nb.viz.dot", "visualize"),
    "register": ("perfect_nb.client.register", "register"),
    "cache_validator": ("perfect_nb.engine.cache_validators", "resolve"),
    "default_trigger": ("perfect_nb.engine.triggers", "all_successful"),
}


def _load(name: str) -> Any:
    """The target of ``name``: its module imported now, or found in ``sys.modules`` once it
    has been (a few dictionary look-ups, cheap enough for ``Task()``'s default trigger)."""
    module, attr = _TARGETS[name]
    loaded = sys.modules.get(module)
    return getattr(loaded if loaded is not None else importlib.import_module(module), attr)


def run_flow(flow: Any, **kwargs: Any) -> Any:
    """What ``flow.run()`` does: the engine's ``run_flow``; returns the flow's final State."""
    return _load("run_flow")(flow, **kwargs)


def visualize(flow: Any, **kwargs: Any) -> Any:
    """What ``flow.visualize()`` does: the drawing's ``visualize``."""
    return _load("visualize")(flow, **kwargs)


def register(flow: Any, *args: Any, **kwargs: Any) -> str:
    """What ``flow.register()`` does: the client's ``register``; returns the flow's id."""
    return _load("register")(flow, *args, **kwargs)


def cache_validator(validator: Any) -> Callable | None:
    """A cache validator from a function or one of the engine's validator names."""
    return _load("cache_validator")(validator)


def default_trigger() -> Callable:
    """The trigger a task without one has (``all_successful``)."""
    return _load("default_trigger")
