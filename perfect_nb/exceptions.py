"""Prefect 1's ``prefect.exceptions``, at the same path, tied to the errors perfect_nb raises.

::

    PrefectException  (= perfect_nb.errors.PerfectError, so it also catches our other errors)
    ├── ClientError            (= perfect_nb.errors.ClientError, what Client raises)
    │   ├── AuthorizationError
    │   └── ObjectNotFoundError
    └── FlowStorageError
    PrefectSignal      (= perfect_nb.engine.signals.PrefectSignal; a BaseException)
    └── VersionLockMismatchSignal
    TaskTimeoutSignal  (= perfect_nb.engine.timeouts.TaskTimeoutError, what a timed-out task raises)

The aliases are the same class objects, so ``except perfect_nb.exceptions.ClientError``
catches what the client raises and ``except PrefectSignal`` catches ``SKIP`` or ``FAIL``.

>>> from perfect_nb.engine import signals
>>> issubclass(signals.SKIP, PrefectSignal), issubclass(AuthorizationError, PrefectException)
(True, True)
"""

from __future__ import annotations

from perfect_nb.engine.signals import PrefectSignal
from perfect_nb.engine.timeouts import TaskTimeoutError
from perfect_nb.errors import ClientError, PerfectError

__all__ = [
    "AuthorizationError", "ClientError", "FlowStorageError", "ObjectNotFoundError",
    "PrefectException", "PrefectSignal", "TaskTimeoutSignal", "VersionLockMismatchSignal",
]

PrefectException = PerfectError
TaskTimeoutSignal = TaskTimeoutError


class AuthorizationError(ClientError):
    """The server refused the request's credentials."""


class ObjectNotFoundError(ClientError):
    """The server has no object with the id asked for."""


class FlowStorageError(PrefectException):
    """A flow could not be stored in, or loaded from, its storage."""


class VersionLockMismatchSignal(PrefectSignal):
    """Another run already moved this task run's state on (a concurrent update)."""
