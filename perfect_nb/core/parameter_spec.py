"""A flow's Parameters as JSON, and the checks a server can make without loading the flow.

The backend stores this description with each registered flow and checks the
values of a new flow run against it before the run is stored; the engine
checks them again when the run starts.

>>> from perfect_nb import Flow, Parameter
>>> with Flow("f") as flow:
...     n = Parameter("n", default=2, bounds=(0, 10))
>>> spec = describe_parameters(flow)
>>> spec
[{'name': 'n', 'required': False, 'default': 2, 'type': 'int', 'choices': None, 'bounds': [0, 10], 'help': None}]
>>> check_parameters(spec, {"n": 5})
{'n': 5}
>>> check_parameters(spec, {"n": "five"})
Traceback (most recent call last):
...
perfect_nb.errors.ParameterError: Parameter 'n' needs an int, got 'five' (str).
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from perfect_nb.errors import ParameterError

__all__ = ["check_parameters", "describe_parameters", "json_safe"]

_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", tuple: "list", dict: "dict"}
_ACCEPTS = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,), "list": (list,), "dict": (dict,), "datetime": (str,)}


def json_safe(value: Any) -> Any:
    """``value`` if JSON can hold it as it is, else its repr."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _type_name(param: Any) -> str | None:
    if type(param).__name__ == "DateTimeParameter":
        return "datetime"
    return _TYPES.get(type(param.default)) if param.default is not None else None


def describe_parameters(flow: Any) -> list[dict]:
    """One JSON-able dict per Parameter of ``flow``, sorted by name."""
    out = []
    for param in sorted(flow.parameters(), key=lambda p: p.name):
        default = param.default.isoformat() if isinstance(param.default, _dt.datetime) else param.default
        out.append({
            "name": param.name, "required": bool(param.required), "default": json_safe(default), "type": _type_name(param),
            "choices": json_safe(param.choices), "bounds": json_safe(list(param.bounds)) if param.bounds else None, "help": param.help,
        })
    return out


def _check_one(spec: dict, value: Any) -> None:
    name, kind = spec["name"], spec.get("type")
    accepts = _ACCEPTS.get(kind)
    if value is not None and accepts and (not isinstance(value, accepts) or (kind != "bool" and isinstance(value, bool))):
        raise ParameterError(f"Parameter {name!r} needs {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got {value!r} ({type(value).__name__}).")
    if kind == "datetime" and isinstance(value, str):
        try:
            _dt.datetime.fromisoformat(value)
        except ValueError:
            raise ParameterError(f"Parameter {name!r} needs an ISO 8601 date-time like 2024-01-31T08:00, got {value!r}.") from None
    if spec.get("choices") is not None and value not in spec["choices"]:
        raise ParameterError(f"Parameter {name!r} must be one of {spec['choices']!r}, got {value!r}.")
    if spec.get("bounds") and value is not None:
        low, high = spec["bounds"]
        if not (isinstance(value, (int, float)) and low <= value <= high):
            raise ParameterError(f"Parameter {name!r} must be between {low!r} and {high!r}, got {value!r}.")


def check_parameters(spec: list[dict], values: dict) -> dict:
    """Return ``values`` if they fit ``spec``; else raise ParameterError naming the parameter."""
    known = {s["name"]: s for s in spec}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(f"The flow has no parameter {unknown[0]!r}; its parameters are {sorted(known)}.")
    for name, s in known.items():
        if name in values:
            _check_one(s, values[name])
        elif s["required"]:
            raise ParameterError(f"Parameter {name!r} is required but no value was given.")
    return dict(values)
