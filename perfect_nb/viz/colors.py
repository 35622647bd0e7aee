"""State -> colour: the palette of the DAG drawing and of its legend.

The colours are Prefect Core 1.x's own state colours, so a run drawn here reads
like one drawn by Prefect 1. A state class without an entry of its own (a user
subclass, ``MetaState``) takes the colour of its nearest ancestor that has one.
States are matched by class *name* along the MRO, so classes re-created by a
notebook reload still get their colour.

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

#: Prefect 1's colour of each state class that has one of its own.
STATE_COLORS: dict[str, str] = {
    "State": "#696969",
    "Pending": "#7ebdff",
    "Scheduled": "#ffab00",
    "Paused": "#99a8e8",
    "Resume": "#f58c0c",
    "Retrying": "#f66a0a",
    "Submitted": "#ffdf5d",
    "Queued": "#ffea7f",
    "Running": "#3d67ff",
    "Cancelling": "#e8e8e8",
    "Finished": "#003ccb",
    "Success": "#28a745",
    "Cached": "#34d058",
    "Mapped": "#003ccb",
    "Skipped": "#62757f",
    "Looped": "#003ccb",
    "Cancelled": "#bdbdbd",
    "Failed": "#eb0000",
    "TimedOut": "#ff4e33",
    "TriggerFailed": "#ff5131",
    "ValidationFailed": "#ff5131",
}

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
    "MetaState", "State",
)
_RANK = {name: i for i, name in enumerate(LEGEND_ORDER)}


def _lineage(state: Any) -> tuple[str, tuple[str, ...]]:
    """Return ``(name, names of the class and its ancestors, nearest first)``."""
    if isinstance(state, str):
        cls = getattr(_state, state, None)
        if not (isinstance(cls, type) and issubclass(cls, _state.State)):
            if state in STATE_COLORS:
                return state, (state,)
            known = ", ".join(sorted(STATE_COLORS))
            raise ValueError(f"unknown state name {state!r}; expected one of: {known}")
    else:
        cls = state if isinstance(state, type) else type(state)
    return cls.__name__, tuple(c.__name__ for c in cls.__mro__)


def color_for(state: Any) -> str:
    """Return the ``"#rrggbb"`` fill for a State, a State class or a state class name.

    ``None`` (no state yet) gives `NO_STATE_COLOR`.

    >>> color_for("Retrying"), color_for(None)
    ('#f66a0a', '#ffffff')
    """
    if state is None:
        return NO_STATE_COLOR
    name, lineage = _lineage(state)
    for ancestor in lineage:
        if ancestor in STATE_COLORS:
            return STATE_COLORS[ancestor]
    raise TypeError(f"expected a State, a State class or a state name, got {name} ({state!r})")


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
