"""Parameters: named inputs of a flow, given at run time.

>>> from perfect_nb import Flow, Parameter, task
>>> @task
... def greet(name):
...     return f"hello {name}"
>>> with Flow("greeting") as flow:
...     who = Parameter("who", default="world")
...     message = greet(who)
>>> flow.run(who="team").result[message].result
'hello team'
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable

from perfect_nb.core import context as _context
from perfect_nb.core.task import Task
from perfect_nb.errors import ParameterError
from perfect_nb.utilities.reprs import short_repr

__all__ = ["DateTimeParameter", "Parameter"]

_NO_DEFAULT = object()


class Parameter(Task):
    """A flow input named ``name``.

    Parameters
    ----------
    name : str
        The parameter's name (also its slug; unique within a flow).
    default : Any, optional
        Value used when the run gives none.
    required : bool, optional
        Must the run give a value? Defaults to True when there is no default.
    help : str, optional
        One line shown next to the field in notebook forms.
    choices : list, optional
        Allowed values (a dropdown in forms).
    bounds : (low, high), optional
        Inclusive numeric range (a slider in forms).
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        required: bool | None = None,
        tags: Iterable[str] | None = None,
        help: str | None = None,
        choices: Iterable[Any] | None = None,
        bounds: tuple[Any, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"A Parameter needs a non-empty string name, got {name!r}.")
        super().__init__(name=name, slug=name, tags=tags)
        self.default = default
        self.required = default is None if required is None else bool(required)
        self.help = help
        self.choices = list(choices) if choices is not None else None
        self.bounds = tuple(bounds) if bounds is not None else None
        self._check_hints()
        flow = _context.current().get("flow")
        if flow is not None:
            flow.add_task(self)

    def _check_hints(self) -> None:
        if self.bounds is not None:
            if len(self.bounds) != 2 or not self.bounds[0] <= self.bounds[1]:
                raise ValueError(f"Parameter {self.name!r}: bounds must be (low, high) with low <= high, got {self.bounds!r}.")
        if self.default is not None:
            self.validate(self.default)

    def validate(self, value: Any) -> Any:
        """Check ``value`` against ``choices`` and ``bounds``; return it or raise
        :class:`~perfect_nb.errors.ParameterError` (a ValueError)."""
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"Parameter {self.name!r} must be one of {short_repr(self.choices)}, got {short_repr(value)}.")
        if self.bounds is not None and value is not None:
            low, high = self.bounds
            try:
                inside = low <= value <= high
            except TypeError:  # a value of another kind than the bounds
                inside = False
            if not inside:
                raise ParameterError(f"Parameter {self.name!r} must be between {low!r} and {high!r}, got {short_repr(value)}.")
        return value

    def run(self) -> Any:
        params = _context.current().get("parameters") or {}
        if self.name in params:
            return params[self.name]
        if self.required:
            raise ValueError(f"Parameter {self.name!r} is required but no value was given.")
        return self.default

    def copy(self, **task_args: Any) -> "Parameter":
        raise TypeError(f"Parameter {self.name!r} cannot be copied; a flow has one Parameter per name. Create a new Parameter instead.")

    def __call__(self, flow: Any = None, **kwargs: Any) -> "Parameter":  # type: ignore[override]
        if kwargs:
            raise TypeError(f"Parameter {self.name!r} takes no arguments; its value comes from flow.run(parameters=...).")
        flow = flow if flow is not None else _context.current().get("flow")
        if flow is not None:
            flow.add_task(self)
        return self

    def __repr__(self) -> str:
        return f"<Parameter: {self.name}>"


class DateTimeParameter(Parameter):
    """A Parameter whose value is a ``datetime``; ISO 8601 strings are parsed.

    >>> DateTimeParameter("when", default="2024-01-02T03:04:05").parse("2024-01-02")
    datetime.datetime(2024, 1, 2, 0, 0)
    """

    def parse(self, value: Any) -> Any:
        if value is None or isinstance(value, _dt.datetime):
            return value
        if isinstance(value, _dt.date):
            return _dt.datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            try:
                return _dt.datetime.fromisoformat(value)
            except ValueError:
                raise ParameterError(f"Parameter {self.name!r} needs an ISO 8601 date-time like 2024-01-31T08:00, got {short_repr(value)}.") from None
        raise TypeError(f"Parameter {self.name!r} needs a datetime or an ISO 8601 string, got {short_repr(value)}.")

    def validate(self, value: Any) -> Any:
        return super().validate(self.parse(value))

    def run(self) -> Any:
        return self.parse(super().run())
