"""The Run form of a flow page: fields from the stored Parameter description, typed values back.

A field's text becomes the parameter's value by the spec's ``type`` (from
:func:`perfect_nb.core.parameter_spec.describe_parameters`), then each value is
checked with :func:`~perfect_nb.core.parameter_spec.check_parameters`, one
parameter at a time, so every bad field gets its own message.

>>> spec = [{"name": "n", "required": False, "default": 2, "type": "int", "choices": None, "bounds": [0, 10], "help": None}]
>>> read_form(spec, {"n": "5"})
({'n': 5}, {})
>>> read_form(spec, {"n": "50"})[1]
{'n': 'Must be between 0 and 10, got 50.'}
>>> read_form(spec, {"n": "five"})[1]
{'n': "Needs a whole number, got 'five'."}
"""

from __future__ import annotations

import ast
import json
from typing import Any

from perfect_nb.core.parameter_spec import check_parameters
from perfect_nb.errors import ParameterError

__all__ = ["field_text", "fields", "page_spec", "read_form"]

_INPUT = {"int": "number", "float": "number", "datetime": "datetime-local"}


def field_text(spec: dict, value: Any) -> str:
    """What a field shows for ``value``."""
    if value is None:
        return ""
    if spec.get("type") in ("list", "dict") or not isinstance(value, (str, int, float, bool)):
        return json.dumps(value)
    return str(value)


def fields(spec: list[dict], given: dict[str, str] | None = None) -> list[dict]:
    """One dict per field for the template: name, input kind, text, choices, help, hint."""
    out = []
    for s in spec:
        kind = s.get("type")
        text = given[s["name"]] if given is not None and s["name"] in given else field_text(s, s.get("default"))
        if s.get("choices"):
            widget = "select"
        elif kind == "bool":
            widget = "checkbox"
        elif kind in ("list", "dict") or kind is None:
            widget = "textarea" if kind in ("list", "dict") else "text"
        else:
            widget = _INPUT.get(kind, "text")
        hint = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false", "list": "a JSON list, e.g. [1, 2]",
                "dict": 'a JSON object, e.g. {"a": 1}', "datetime": "an ISO 8601 date and time, e.g. 2024-01-31T08:00", None: "JSON or a Python literal; other text stays text"}.get(kind, "")
        if s.get("bounds"):
            hint += f", from {s['bounds'][0]} to {s['bounds'][1]}"
        out.append({"name": s["name"], "widget": widget, "text": text, "checked": text.lower() in ("true", "on", "1"), "required": s.get("required"),
                    "choices": [field_text(s, c) for c in s.get("choices") or []], "help": s.get("help"), "hint": hint,
                    "step": "1" if kind == "int" else "any"})
    return out


def page_spec(spec: list[dict]) -> list[dict]:
    """The spec the page's own checks read (static/ui.js ``checkField``): each parameter with the
    texts of its choices (as the select shows them) and the reprs of its bounds (as the server's
    messages quote them), so the page says what the server would."""
    return [{**s, "choices_text": [field_text(s, c) for c in s.get("choices") or []] or None,
             "bounds_text": [repr(b) for b in s["bounds"]] if s.get("bounds") else None} for s in spec]


def _parse(spec: dict, text: str) -> Any:
    kind = spec.get("type")
    if spec.get("choices"):
        for choice in spec["choices"]:
            if field_text(spec, choice) == text:
                return choice
        raise ValueError(f"Must be one of {', '.join(field_text(spec, c) for c in spec['choices'])}, got {text!r}.")
    if kind == "bool":
        return text.lower() in ("true", "on", "1", "yes")
    stripped = text.strip()
    if not stripped:
        return None
    if kind == "str":
        return text
    if kind == "datetime":
        return stripped
    if kind in ("int", "float"):
        try:
            number = float(stripped)
        except ValueError:
            raise ValueError(f"Needs {'a whole number' if kind == 'int' else 'a number'}, got {stripped!r}.") from None
        if kind == "int":
            if not number.is_integer():
                raise ValueError(f"Needs a whole number, got {stripped!r}.")
            return int(number)
        return number
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if kind in ("list", "dict"):
            wanted = "a list like [1, 2]" if kind == "list" else 'an object like {"a": 1}'
            raise ValueError(f"Needs {wanted}: check brackets, quotes and commas in {stripped!r}.") from None
        return text


def _short(message: str, name: str) -> str:
    """The checker's message without the parameter's name (the field already shows it)."""
    prefix = f"Parameter {name!r} "
    if message.startswith(prefix):
        rest = message[len(prefix):]
        return rest[0].upper() + rest[1:]
    return message


def read_form(spec: list[dict], form: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """``(values, errors)``: the typed values of the fields, and a message per bad field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for s in spec:
        name = s["name"]
        text = form.get(name, "false" if s.get("type") == "bool" else "")
        try:
            value = _parse(s, text)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if value is None and s.get("required"):  # an empty field (check_parameters would take None as a value)
            errors[name] = "Is required but no value was given."
            continue
        given = {} if value is None else {name: value}
        try:
            values.update(check_parameters([s], given))
        except ParameterError as exc:
            errors[name] = _short(str(exc), name)
    return values, errors
