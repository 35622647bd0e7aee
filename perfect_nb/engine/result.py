"""Result: what holds a state's value, and where that value is kept (Prefect 1's ``engine.result``).

Every state holds its value in a Result: ``state._result`` is the Result object,
``state.result`` its ``value``. A task that returned 3 ends in a Success whose
``_result`` is ``Result(3)``; one whose result was written by a ``LocalResult``
holds that LocalResult, with the ``location`` it was written to. A state with
nothing to hold (Pending, Running, a Skipped downstream) holds ``NoResult``.

The storage classes (``LocalResult``, ``PrefectResult``, ``ConstantResult``) live in
:mod:`perfect_nb.engine.results`; the base class here keeps a value and formats a
location, but stores nothing.

>>> from perfect_nb.engine.state import Success, Pending
>>> state = Success(result=3)
>>> state._result, state.result
(<Result: 3>, 3)
>>> Pending()._result, Pending().result
(<NoResultType: None>, None)
>>> Result(location="{task_name}.pkl").format(task_name="load").location
'load.pkl'
"""

from __future__ import annotations

import copy
import os
import uuid
from typing import Any, Callable

from perfect_nb.engine.serializers import PickleSerializer, Serializer
from perfect_nb.utilities.reprs import short_repr

__all__ = ["NoResult", "NoResultType", "Result", "ResultNotImplementedError"]


class ResultNotImplementedError(NotImplementedError, TypeError):
    """Raised by ``read`` / ``write`` / ``exists`` on a Result class that stores nothing
    (the base class, ``NoResult``). A ``NotImplementedError`` as in Prefect 1, and a
    ``TypeError`` as perfect_nb raised before."""


_PICKLE = PickleSerializer()  # serializers keep no state: one default for every Result


class Result:
    """A value, where it is kept (``location``) and how it is turned into bytes (``serializer``).

    Parameters
    ----------
    value : Any, optional
        The value held.
    location : str or callable, optional
        Where the value lives; a template formatted with the run's context and
        inputs (``"{task_name}-{today}.pkl"``), or a callable of them.
    serializer : Serializer, optional
        Defaults to a PickleSerializer.
    """

    def __init__(self, value: Any = None, location: str | Callable | None = None, serializer: Serializer | None = None) -> None:
        self.value = value
        self.location = location
        self.serializer = serializer if serializer is not None else _PICKLE

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {short_repr(self.value)}>"

    def __eq__(self, other: object) -> bool:
        """Same class and same attributes (value, location, serializer's class, ...)."""
        if type(self) is not type(other):
            return False
        mine, theirs = dict(vars(self)), dict(vars(other))
        mine["serializer"], theirs["serializer"] = type(mine.get("serializer")), type(theirs.get("serializer"))
        try:
            return bool(mine == theirs)
        except Exception:  # values that compare element-wise (arrays, frames)
            return False

    __hash__ = object.__hash__

    def copy(self) -> "Result":
        """A shallow copy."""
        return copy.copy(self)

    def from_value(self, value: Any) -> "Result":
        """A copy holding ``value``, with no location."""
        new = self.copy()
        new.value, new.location = value, None
        return new

    def format(self, **kwargs: Any) -> "Result":
        """A copy whose ``location`` is formatted with ``kwargs`` (a callable location is called with them)."""
        new = self.copy()
        if callable(self.location):
            new.location = os.fspath(self.location(**kwargs))
        elif isinstance(self.location, str) and kwargs:
            new.location = self.location.format(**kwargs)
        elif isinstance(self.location, os.PathLike):
            new.location = os.fspath(self.location)
        return new

    def default_location(self) -> str:
        return f"{uuid.uuid4()}.prefect_result"

    def read(self, location: str) -> "Result":
        """A copy holding the value stored at ``location``."""
        raise self._no_storage()

    def write(self, value: Any, **kwargs: Any) -> "Result":
        """Store ``value``; return a copy whose ``location`` says where."""
        raise self._no_storage()

    def exists(self, location: str, **kwargs: Any) -> bool:
        """Whether a value is stored at ``location``."""
        raise self._no_storage()

    def _no_storage(self) -> ResultNotImplementedError:
        # Prefect 1 lets the base class be built (for its location and format), not stored to
        return ResultNotImplementedError(
            f"{type(self).__name__} has no storage: use LocalResult(dir=...) or PrefectResult() "
            "(from perfect_nb.engine.results) to write or read a value."
        )


class NoResultType(Result):
    """What a state holds when it holds nothing: ``value`` None, nothing stored.

    ``NoResult`` is the one instance the engine uses; as in Prefect 1 every
    ``NoResultType()`` equals it, it is truthy, and its ``value`` is None.
    """

    def __init__(self) -> None:
        super().__init__(value=None)

    def __eq__(self, other: object) -> bool:
        return type(other) is NoResultType

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "<NoResultType: None>"

    __str__ = __repr__

    def __reduce__(self):
        return "NoResult"  # unpickles as the module's one instance (Prefect 1 gives an equal copy)


NoResult = NoResultType()
