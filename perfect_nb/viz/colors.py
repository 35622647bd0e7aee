"""State -> colour: the palette of the DAG drawing and of its legend.

There is one colour table, the ``color`` class attribute of the states in
:mod:`perfect_nb.engine.state` (Prefect Core 1.x's own state colours, so a run
drawn here reads like one drawn by Prefect 1); the notifiers read it too
(:func:`perfect_nb.utilities.notifications.state_color`). This module only
writes those colours in lower case, as DOT and SVG text, and orders the legend.
A state class without a colour of its own (a user subclass, ``MetaState``)
inherits its nearest ancestor's, as any class attribute; a user subclass may set
its own. A look-alike class without ``color`` (one re-created by a notebook
reload) is matched by class *name* along its MRO.

>>> from perfect_nb.engine.state import Failed, Success, TriggerFailed
>>> color_for(Success())
'#28a745'
>>> color_for("TriggerFailed")
'#ff5131'
>>> class Flaky(Failed): ...
>>> color_for(Flaky())
'#eb0000'
>>> legend([TriggerFailed(), Success(), None, Success()])
[('Success', '#28a745'), ('TriggerFailed', '#ff5131')]
>>> text_color("#28a745"), text_color("#003ccb")
('#000000', '#ffffff')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perfect_nb.engine import state as _state

__all__ = ["DASHED", "LEGEND_ORDER", "NO_STATE_COLOR", "STATE_COLORS", "color_for", "legend", "text_color"]


def _own_colors() -> dict[str, str]:
    """Name -> colour of each state class of :mod:`perfect_nb.engine.state` that sets one."""
    return {
        cls.__name__: cls.color.lower()
        for cls in vars(_state).values()
        if isinstance(cls, type) and issubclass(cls, _state.State) and "color" in vars(cls)
    }


#: The colour of each state class that has one of its own, read from the classes'
#: ``color`` (the one table), in lower case: ``{"State": "#696969", "Pending": ..., ...}``.
STATE_COLORS: dict[str, str] = _own_colors()

#: States whose nodes get a dashed outline as well as their fill: Cached is a lighter
#: green than Success, too close to tell apart by colour alone.
DASHED: frozenset[str] = frozenset({"Cached"})

#: Fill of a task that has no state yet (``color_for(None)``).
NO_STATE_COLOR = "#ffffff"

#: Legend order: roughly the life of a run, waiting -> running -> done -> failed.
LEGEND_ORDER: tuple[str, ...] = (
    "Pending", "Scheduled", "Paused", "Resume", "Retrying", "Submitted", "Queued",
    "Running", "Cancelling", "Success", "Cached", "Mapped", "Skipped", "Looped",
    "Finished", "Cancelled", "Failed", "TimedOut", "TriggerFailed", "ValidationFailed",
    "ClientFailed", "MetaState", "State",
)
_RANK = {name: i for i, name in enumerate(LEGEND_ORDER)}


def _class(state: Any) -> type:
    """The class of a State, a State class, or the state class a name names."""
    if isinstance(state, str):
        cls = getattr(_state, state, None)
        if not (isinstance(cls, type) and issubclass(cls, _state.State)):
            known = ", ".join(sorted(STATE_COLORS))
            raise ValueError(f"unknown state name {state!r}; expected one of: {known}")
        return cls
    return state if isinstance(state, type) else type(state)


def _lineage(state: Any) -> tuple[str, tuple[str, ...]]:
    """Return ``(name, names of the class and its ancestors, nearest first)``."""
    cls = _class(state)
    return cls.__name__, tuple(c.__name__ for c in cls.__mro__)


def color_for(state: Any) -> str:
    """Return the ``"#rrggbb"`` fill for a State, a State class or a state class name.

    ``None`` (no state yet) gives `NO_STATE_COLOR`.

    >>> color_for("Retrying"), color_for(None)
    ('#f66a0a', '#ffffff')
    """
    if state is None:
        return NO_STATE_COLOR
    cls = _class(state)
    color = getattr(cls, "color", None)
    if isinstance(color, str):
        return color.lower()
    for ancestor in cls.__mro__:  # a look-alike with no ``color`` (a class re-created by a reload): by name
        if ancestor.__name__ in STATE_COLORS:
            return STATE_COLORS[ancestor.__name__]
    raise TypeError(f"expected a State, a State class or a state name, got {cls.__name__} ({state!r})")


def legend(states: Iterable[Any]) -> list[tuple[str, str]]:
    """List ``(name, colour)`` once for each kind of state present, in `LEGEND_ORDER`.

    A class missing from `LEGEND_ORDER` sorts with its nearest listed ancestor;
    ``None`` entries are skipped.

    >>> legend(["Failed", "Running", "Pending", "Running"])
    [('Pending', '#7ebdff'), ('Running', '#3d67ff'), ('Failed', '#eb0000')]
    """
    entries: dict[str, tuple[int, str]] = {}
    for state in states:
        if state is None:
            continue
        name, lineage = _lineage(state)
        if name not in entries:
            rank = next((_RANK[a] for a in lineage if a in _RANK), len(LEGEND_ORDER))
            entries[name] = (rank, color_for(state))
    ordered = sorted(entries.items(), key=lambda item: (item[1][0], item[0]))
    return [(name, color) for name, (_, color) in ordered]


def _luminance(fill: str) -> float:
    text = fill.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    try:
        if len(text) != 6:
            raise ValueError
        channels = [int(text[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    except ValueError:
        raise ValueError(f"expected a colour like '#rrggbb' or '#rgb', got {fill!r}") from None
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_color(fill: str) -> str:
    """Pick black or white text, whichever contrasts more with ``fill`` (WCAG).

    >>> text_color("#eb0000"), text_color("#ffdf5d"), text_color("#FFF")
    ('#ffffff', '#000000', '#000000')
    """
    lum = _luminance(fill)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"
