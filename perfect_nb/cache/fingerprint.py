"""Code fingerprints: what a task's code is, not how it is written.

A function's fingerprint covers its bytecode and constants (not line numbers,
formatting or comments), its defaults and closure values, and, through the
global names it reads, the user-defined functions and classes it calls
(transitively), the tokens of other global values, and the name and version
of modules. ``None`` means "cannot be fingerprinted": treat as changed.

>>> def double(x):
...     return 2 * x  # a comment does not count
>>> def double_again(x):
...     return 2 * x
>>> fingerprint(double) == fingerprint(double_again)
True
>>> def triple(x):
...     return 3 * x
>>> fingerprint(double) == fingerprint(triple)
False
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import sys
import types
from typing import Any

from perfect_nb.cache.tokenize import token

__all__ = ["fingerprint", "task_fingerprint"]

_SKIP_ATTRS = frozenset({
    "name", "slug", "tags", "max_retries", "retry_delay", "retry_on", "timeout", "trigger",
    "skip_on_upstream_skip", "cache_for", "cache_validator", "cache_key", "checkpoint", "result",
    "target", "state_handlers", "on_failure", "log_stdout", "task_run_name", "nout", "_sig", "run",
    "__wrapped__", "__doc__", "__module__", "__qualname__", "help", "choices", "bounds", "default", "required",
})


def _is_user_code(obj: Any) -> bool:
    module = getattr(obj, "__module__", None)
    return module == "__main__" or module is None or (module in sys.modules and not hasattr(sys.modules[module], "__file__"))


def _module_version(module: types.ModuleType) -> str:
    return _package_version(module.__name__.split(".")[0])


@functools.lru_cache(maxsize=None)
def _package_version(top: str) -> str:
    try:
        return importlib.metadata.version(top)
    except Exception:
        return str(getattr(sys.modules.get(top), "__version__", ""))


class _Hasher:
    def __init__(self) -> None:
        self.seen: dict[int, str] = {}

    def code(self, code: types.CodeType) -> list:
        parts: list = [code.co_code, code.co_names, code.co_varnames, code.co_argcount, code.co_kwonlyargcount]
        for const in code.co_consts:
            parts.append(self.code(const) if isinstance(const, types.CodeType) else repr(const))
        return parts

    def names(self, code: types.CodeType) -> set[str]:
        out = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                out |= self.names(const)
        return out

    def function(self, fn: types.FunctionType) -> str | None:
        if id(fn) in self.seen:
            return self.seen[id(fn)]
        self.seen[id(fn)] = "recursive:" + fn.__qualname__
        parts: list = [self.code(fn.__code__)]
        for value in (fn.__defaults__, fn.__kwdefaults__):
            if value is not None:
                parts.append(self.value(value))
        for cell in fn.__closure__ or ():
            try:
                parts.append(self.value(cell.cell_contents))
            except ValueError:  # an empty cell
                parts.append("empty")
        names = sorted(self.names(fn.__code__))
        scope = fn.__globals__
        for name in names:
            if name in scope:
                parts.append((name, self.value(scope[name])))
        if any(p is None or (isinstance(p, tuple) and p[1] is None) for p in parts):
            self.seen[id(fn)] = None  # type: ignore[assignment]
            return None
        digest = hashlib.sha256(repr(parts).encode()).hexdigest()
        self.seen[id(fn)] = digest
        return digest

    def klass(self, cls: type) -> str | None:
        parts: list = [cls.__qualname__]
        for name, attr in sorted(vars(cls).items()):
            if name.startswith("__") and name not in ("__init__", "__call__"):
                continue
            attr = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            parts.append((name, self.value(attr)))
        if any(p[1] is None for p in parts[1:]):
            return None
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def value(self, value: Any) -> str | None:
        if isinstance(value, types.ModuleType):
            return f"module:{value.__name__}:{_module_version(value)}"
        if isinstance(value, types.FunctionType):
            return self.function(value) if _is_user_code(value) else f"fn:{value.__module__}.{value.__qualname__}"
        if isinstance(value, type):
            return self.klass(value) if _is_user_code(value) else f"class:{value.__module__}.{value.__qualname__}"
        if isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType)):
            return f"builtin:{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
        from perfect_nb.core.task import Task

        if isinstance(value, Task):
            return task_fingerprint(value, self)
        return token(value)


def fingerprint(obj: Any) -> str | None:
    """The fingerprint of a function, class or value; None when there is none.

    A function or class given here is always fingerprinted by its code; the
    ones it refers to are, when they are defined in the notebook (``__main__``).
    """
    hasher = _Hasher()
    if isinstance(obj, types.FunctionType):
        return hasher.function(obj)
    if isinstance(obj, type):
        return hasher.klass(obj)
    return hasher.value(obj)


def task_fingerprint(task: Any, hasher: _Hasher | None = None) -> str | None:
    """A task's code and the options that change its result."""
    hasher = hasher or _Hasher()
    run = task.run
    code = hasher.function(run) if isinstance(run, types.FunctionType) else hasher.klass(type(task))
    if code is None:
        return None
    options = {k: v for k, v in vars(task).items() if k not in _SKIP_ATTRS and not k.startswith("_")}
    options_token = token(options) if options else ""
    if options_token is None:
        return None
    return hashlib.sha256(f"{type(task).__qualname__}:{code}:{options_token}".encode()).hexdigest()

