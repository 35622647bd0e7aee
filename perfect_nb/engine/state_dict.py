"""``State.serialize()`` / ``State.deserialize()``: a state as a JSON-compatible dict, as Prefect 1 writes it.

The dict carries what a state *is* (type, message, context, times, counts) and where its
result lives (the Result's type and location), never the value itself: a deserialized
Success holds ``Result(location=...)`` with no value, ready for ``load_result``.

>>> from perfect_nb.engine.state import Retrying, State
>>> data = Retrying("again", run_count=2).serialize()
>>> data["type"], data["run_count"], data["_result"]["type"]
('Retrying', 2, 'NoResultType')
>>> State.deserialize(data).run_count
2
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from perfect_nb._version import __version__
from perfect_nb.engine.result import NoResult, NoResultType, Result

__all__ = ["from_dict", "to_dict"]


def _version() -> str:
    return __version__


def _result_dict(result: Result) -> dict:
    data: dict[str, Any] = {}
    if not isinstance(result, NoResultType):
        data.update({k: str(v) for k, v in vars(result).items() if k == "dir"})
        data["location"] = result.location if isinstance(result.location, str) or result.location is None else str(result.location)
    return {**data, "__version__": _version(), "type": type(result).__name__}


def _when(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, _dt.datetime) else value


def to_dict(state: Any) -> dict:
    """The dict ``state.serialize()`` returns (keys in Prefect 1's order)."""
    from perfect_nb.engine import state as st

    data: dict[str, Any] = {"context": dict(state.context), "message": state.message}
    if not isinstance(state, st.Mapped):  # a mapped parent's result is its children's
        data["_result"] = _result_dict(state._result)
    data["cached_inputs"] = {k: _result_dict(v if isinstance(v, Result) else Result(v)) for k, v in state.cached_inputs.items()}
    if isinstance(state, st.MetaState):
        data["state"] = None if state.state is None else to_dict(state.state)
    if isinstance(state, (st.Scheduled, st.Queued)):
        data["start_time"] = _when(state.start_time)
    if isinstance(state, st.Retrying):
        data["run_count"] = state.run_count
    if isinstance(state, st.Looped):
        data["loop_count"] = state.loop_count
    if isinstance(state, st.Mapped):
        data["n_map_states"] = state.n_map_states
    if isinstance(state, st.Cached):
        data.update(cached_parameters=state.cached_parameters, cached_result_expiration=_when(state.cached_result_expiration),
                    hashed_inputs=state.hashed_inputs)
    data.update({"__version__": _version(), "type": type(state).__name__})
    return data


def _result_from(data: dict | None) -> Result:
    if not data or data.get("type") == "NoResultType":
        return NoResult
    from perfect_nb.engine import results

    cls = getattr(results, data.get("type", "Result"), Result)
    extra = {"dir": data["dir"], "validate_dir": False} if cls is results.LocalResult and "dir" in data else {}
    try:
        return cls(location=data.get("location"), **extra)
    except TypeError:  # a Result class with other arguments: keep the location on a plain Result
        return Result(location=data.get("location"))


def _time(value: Any) -> _dt.datetime | None:
    return _dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def from_dict(data: dict) -> Any:
    """The state ``State.deserialize(data)`` returns: its result is a Result with the stored
    location and no value."""
    from perfect_nb.engine import state as st

    classes = {cls.__name__: cls for cls in [st.State, *st.State.children(), st.MetaState]}
    name = data.get("type")
    if name not in classes:
        raise ValueError(f"Cannot deserialize a state of type {name!r}: known types are {sorted(classes)}.")
    cls = classes[name]
    state = cls.__new__(cls)
    st.State.__init__(state, data.get("message"), _result_from(data.get("_result")), dict(data.get("context") or {}),
                      {k: _result_from(v) for k, v in (data.get("cached_inputs") or {}).items()})
    if issubclass(cls, st.MetaState):
        state.state = from_dict(data["state"]) if data.get("state") else None
    if issubclass(cls, (st.Scheduled, st.Queued)):
        state.start_time = _time(data.get("start_time"))
    if issubclass(cls, st.Retrying):
        state.run_count = data.get("run_count", 1)
    if issubclass(cls, st.Looped):
        state.loop_count = data.get("loop_count", 1)
    if issubclass(cls, st.Mapped):
        state.map_states, state._n_map_states = [], data.get("n_map_states")
    if issubclass(cls, st.Cached):
        state.cached_parameters = data.get("cached_parameters")
        state.cached_result_expiration = _time(data.get("cached_result_expiration"))
        state.hashed_inputs = data.get("hashed_inputs")
    return state
