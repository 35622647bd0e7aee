"""Private: mark the functions built by filter and adjustment factories.

A factory such as :func:`perfect_nb.schedules.filters.at_time` returns a
closure. :func:`remember` records on that closure the factory's name and the
arguments it was called with, so :mod:`perfect_nb.schedules.serialize` can
write it as plain JSON and rebuild it by calling the same factory again.

The arguments are stored as the Python values given (``datetime``, ``time``,
``timedelta``, ``int``); turning them into JSON is the serializer's job.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

__all__ = ["SPEC_ATTRIBUTE", "remember", "spec_of"]

#: The attribute set on every closure a factory returns.
SPEC_ATTRIBUTE = "__perfect_schedule_spec__"

F = TypeVar("F", bound=Callable)


def remember(fn: F, factory: str, **args: Any) -> F:
    """Record ``(factory, args)`` on ``fn`` and return ``fn``.

    ``args`` must be keyword arguments named as the factory's parameters, so
    ``factory(**args)`` builds an equivalent function.
    """
    setattr(fn, SPEC_ATTRIBUTE, (factory, dict(args)))
    return fn


def spec_of(fn: Any, module_file: str) -> tuple[str, dict] | None:
    """The ``(factory, args)`` recorded on ``fn``, or None.

    Only trusted if ``fn``'s code was compiled from ``module_file`` (the
    factory's own module): :func:`functools.wraps` copies ``__dict__``, so a
    user's wrapper around a factory's closure carries the attribute too, but
    not the closure's code.
    """
    spec = getattr(fn, SPEC_ATTRIBUTE, None)
    code = getattr(fn, "__code__", None)
    if spec is None or code is None or code.co_filename != module_file:
        return None
    if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict)):
        return None
    return spec[0], dict(spec[1])
