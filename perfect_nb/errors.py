"""Errors perfect_nb raises when it is used wrongly. Each says how to fix it.

::

    PerfectError                 base of everything below
    ├── FlowValidationError      the graph is inconsistent (ValueError)
    │   └── CycleError           the graph has a cycle; names the tasks on it
    ├── ParameterError           missing, unknown or invalid parameter values (ValueError)
    ├── SerializationError       a result, or a flow being registered, cannot be pickled (or unpickled)
    └── ClientError              a perfect_nb server cannot be reached or refused a request

Failures inside tasks are not raised: they become ``Failed`` states.
"""

from __future__ import annotations

__all__ = ["ClientError", "CycleError", "FlowValidationError", "ParameterError", "PerfectError", "SerializationError"]


class PerfectError(Exception):
    """Base of perfect_nb's own errors."""


class FlowValidationError(PerfectError, ValueError):
    """Raised by ``Flow.validate`` (and before a run) when the graph is inconsistent."""


class CycleError(FlowValidationError):
    """Raised when the flow's edges form a cycle; ``cycle`` lists the task slugs on it."""

    def __init__(self, flow_name: str, cycle: list[str]) -> None:
        self.cycle = cycle
        path = " -> ".join(cycle + cycle[:1])
        super().__init__(f"Flow {flow_name!r} has a cycle: {path}. Remove one of these edges.")


class ParameterError(PerfectError, ValueError):
    """Raised before a run when required parameters are missing, unknown ones are
    given, or a value is outside a Parameter's ``choices`` or ``bounds``."""


class SerializationError(PerfectError):
    """Raised when a value must cross a process boundary and cannot be pickled."""


class ClientError(PerfectError):
    """Raised by :class:`perfect_nb.client.Client` when the server cannot be reached
    (``status`` 0) or answers an error (``status`` is the HTTP status)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status
