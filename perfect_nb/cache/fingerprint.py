"""Code fingerprints: what a task's code is, not how it is written.

A function's fingerprint covers its bytecode and constants (not line numbers,
formatting or comments), its defaults and closure values, and, through the
global names it reads, the user functions and classes it calls (transitively),
the tokens of other global values, and the name and version of installed
modules. ``None`` means "cannot be fingerprinted": treat as changed.

User code is code defined in the notebook (``__main__``) or in a module whose
file lies outside the Python installation (a ``helpers.py`` beside the
notebook, a package installed in editable mode): it is fingerprinted by its
code, so editing and reloading such a module changes the fingerprint. Code of
installed packages (and of perfect_nb) counts by package name and version.

What else is covered:

- ``functools.partial``: the wrapped callable and the bound arguments;
- a bound method: its function and the instance it is bound to; an instance
  of a user class (a callable object, say): its class's code, base classes
  included, and its attributes;
- a module read through ``module.attr``: the attributes read, of a user module
  whatever they are, of an installed one when they are plain data
  (``settings.RATE = 3`` set from the notebook);
- code that looks names up at run time (``globals()[...]``, ``vars()``,
  ``eval``, ``getattr(user_module, name)``, ``sys.modules``...) cannot be
  fingerprinted: ``None``, and the reason is kept in ``_Hasher.notes``.

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
>>> import functools
>>> fingerprint(functools.partial(double, 1)) == fingerprint(functools.partial(double, 2))
False
>>> def dynamic(x):
...     return globals()["double"](x)
>>> fingerprint(dynamic) is None
True
"""

from __future__ import annotations

import dis
import functools
import hashlib
import importlib.metadata
import math
import os
import sys
import sysconfig
import types
from typing import Any, Callable

from perfect_nb.engine.tokenize import token

__all__ = ["fingerprint", "task_fingerprint"]

_SKIP_ATTRS = frozenset({
    "name", "slug", "tags", "max_retries", "retry_delay", "retry_on", "timeout", "trigger",
    "skip_on_upstream_skip", "cache_for", "cache_validator", "cache_key", "checkpoint", "result",
    "target", "state_handlers", "on_failure", "log_stdout", "task_run_name", "nout", "_sig", "run",
    "__wrapped__", "__doc__", "__module__", "__qualname__", "help", "choices", "bounds", "default", "required",
})
# class members that say nothing about behaviour (or are not deterministic: abc's cache)
_CLASS_SKIP = frozenset({
    "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__firstlineno__",
    "__static_attributes__", "__annotations__", "__abstractmethods__", "_abc_impl", "_sig", "_run_nout",
    "__parameters__", "__orig_bases__", "__dataclass_params__",
})
# builtins read as globals that look names up at run time
_DYNAMIC_GLOBALS = frozenset({"globals", "vars", "locals", "eval", "exec", "__import__"})
# attributes that do the same (importlib.import_module, obj.__dict__[...], sys.modules[...])
_DYNAMIC_ATTRS = frozenset({"import_module", "__dict__", "__getattribute__", "modules"})
_SIMPLE = (type(None), bool, int, float, complex, str, bytes)
_SMALL = 64  # containers up to this length are walked (they may hold functions); larger ones are tokenized


@functools.lru_cache(maxsize=None)
def _library_roots() -> tuple[str, ...]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            paths.add(path)
    try:
        import site

        paths.update(site.getsitepackages())
        paths.add(site.getusersitepackages())
    except Exception:  # pragma: no cover - a stripped-down site module
        pass
    return tuple(os.path.realpath(p) + os.sep for p in paths if p)


@functools.lru_cache(maxsize=4096)
def _is_user_file(file: str) -> bool:
    return not os.path.realpath(file).startswith(_library_roots())


def _is_user_module(module: types.ModuleType) -> bool:
    """True for the notebook and for modules whose file is not part of the Python installation."""
    name = getattr(module, "__name__", "")
    if name == "__main__":
        return True
    if name.split(".")[0] == "perfect_nb":
        return False  # the library itself counts by its version
    file = getattr(module, "__file__", None)
    if file is None:
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        return name not in sys.builtin_module_names and origin not in ("built-in", "frozen")
    return _is_user_file(file)


def _is_user_code(obj: Any) -> bool:
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    return module is None or _is_user_module(module)


def _module_version(module: types.ModuleType) -> str:
    return _package_version(module.__name__.split(".")[0])


@functools.lru_cache(maxsize=None)
def _package_version(top: str) -> str:
    try:
        return importlib.metadata.version(top)
    except Exception:
        return str(getattr(sys.modules.get(top), "__version__", ""))


def _library_name(kind: str, obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    return f"{kind}:{module}.{getattr(obj, '__qualname__', repr(obj))}:{_package_version(module.split('.')[0])}"


def _digest(parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class _Hasher:
    """One traversal of code; shared by the tasks of a run so common helpers are hashed once.

    ``notes`` lists why something had no fingerprint, in words.
    """

    def __init__(self) -> None:
        self.seen: dict[int, str | None] = {}  # id -> digest of functions and classes
        self.keep: list = []  # what ``seen`` refers to stays alive, so its ids stay unique
        self.active: dict[int, int] = {}  # id -> depth, for what is being hashed now
        self.low = math.inf  # the shallowest active frame a cycle went back to
        self.notes: list[str] = []
        self.why: dict[int, str] = {}  # id -> the note of what has no fingerprint, for memo hits
        self._names: dict[int, frozenset] = {}

    # --- memo and cycles ----------------------------------------------------
    def _guarded(self, obj: Any, label: str, compute: Callable[[], str | None], memo: bool = True) -> str | None:
        key = id(obj)
        if memo and key in self.seen:
            found = self.seen[key]
            if found is None and key in self.why:
                self.notes.append(self.why[key])
            return found
        if key in self.active:  # a cycle: stand for it by name; the frame it closes covers its content
            self.low = min(self.low, self.active[key])
            return f"recursive:{label}"
        depth = len(self.active)
        self.active[key] = depth
        outer_low, self.low = self.low, math.inf
        noted = len(self.notes)
        try:
            result = compute()
        finally:
            del self.active[key]
        if result is None and len(self.notes) > noted:
            self.why[key] = self.notes[noted]
        inner_low = self.low
        if inner_low >= depth:  # no cycle reaches above this frame: the digest is complete
            if memo:
                self.seen[key] = result
                self.keep.append(obj)
            self.low = outer_low
        else:  # part of a cycle opened further up: correct there, not on its own
            self.low = min(outer_low, inner_low)
        return result

    # --- code ------------------------------------------------------------------
    def code(self, code: types.CodeType) -> list:
        parts: list = [code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
                       code.co_argcount, code.co_kwonlyargcount, code.co_flags]
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                parts.append(self.code(const))
            elif isinstance(const, frozenset):  # its repr's order depends on the process's hash seed
                parts.append(("frozenset", sorted(repr(c) for c in const)))
            else:
                parts.append(repr(const))
        return parts

    def names(self, code: types.CodeType) -> frozenset:
        found = self._names.get(id(code))
        if found is None:
            out = set(code.co_names)
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    out |= self.names(const)
            found = self._names[id(code)] = frozenset(out)
        return found

    @staticmethod
    def dynamic(code: types.CodeType, names: frozenset) -> list[str]:
        """The run-time name lookups in ``code`` (globals(), eval, sys.modules...)."""
        if not (names & (_DYNAMIC_GLOBALS | _DYNAMIC_ATTRS)):
            return []
        found = []
        for instruction in dis.get_instructions(code):
            name = instruction.argval
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and name in _DYNAMIC_GLOBALS:
                found.append(f"{name}()")
            elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and name in _DYNAMIC_ATTRS:
                if name != "modules" or "sys" in names:
                    found.append(f"sys.modules" if name == "modules" else f".{name}")
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found += _Hasher.dynamic(const, names)
        return sorted(set(found))

    # --- functions, classes, instances, modules --------------------------------
    def function(self, fn: types.FunctionType) -> str | None:
        return self._guarded(fn, fn.__qualname__, lambda: self._function(fn))

    def _function(self, fn: types.FunctionType) -> str | None:
        code = fn.__code__
        names = self.names(code)
        dynamic = self.dynamic(code, names)
        if dynamic:
            self.notes.append(f"{fn.__qualname__} looks names up at run time ({', '.join(dynamic)}), which the cache cannot see")
            return None
        parts: list = [self.code(code)]
        for value in (fn.__defaults__, fn.__kwdefaults__):
            if value is not None:
                parts.append(self.value(value))
        for cell in fn.__closure__ or ():
            try:
                parts.append(self.value(cell.cell_contents))
            except ValueError:  # an empty cell
                parts.append("empty")
        scope = fn.__globals__
        for name in sorted(names):
            if name in scope:
                digest = self.value(scope[name], names)
                if digest is None:
                    self.notes.append(f"{fn.__qualname__} reads the global {name!r}, which has no fingerprint")
                    return None
                parts.append((name, digest))
        if any(p is None for p in parts):
            return None
        return _digest(parts)

    def klass(self, cls: type) -> str | None:
        return self._guarded(cls, cls.__qualname__, lambda: self._klass(cls))

    def _klass(self, cls: type) -> str | None:
        parts: list = []
        for base in cls.__mro__:  # inherited code counts: an edited base class changes its subclasses
            if base is object:
                continue
            if not _is_user_code(base):
                parts.append(_library_name("class", base))
                continue
            members: list = [base.__qualname__]
            for name, attr in sorted(vars(base).items()):
                if name in _CLASS_SKIP:
                    continue
                if name.startswith("__") and not isinstance(attr, (types.FunctionType, staticmethod, classmethod, property)):
                    continue
                digest = self.value(attr)
                if digest is None:
                    self.notes.append(f"class {base.__qualname__}: {name!r} has no fingerprint")
                    return None
                members.append((name, digest))
            parts.append(members)
        return _digest(parts)

    def instance(self, obj: Any) -> str | None:
        """An object of a user class: its class's code and its attributes."""
        def compute() -> str | None:
            cls = self.klass(type(obj))
            state: dict = dict(getattr(obj, "__dict__", {}))
            for slot in getattr(type(obj), "__slots__", ()):
                if isinstance(slot, str) and hasattr(obj, slot):
                    state[slot] = getattr(obj, slot)
            attrs = self.value(state)
            return None if cls is None or attrs is None else _digest(("instance", cls, attrs))

        return self._guarded(obj, type(obj).__qualname__, compute, memo=False)

    def module(self, module: types.ModuleType, names: frozenset = frozenset()) -> str | None:
        """A module, with the attributes (among ``names``) a function reads from it."""
        user = _is_user_module(module)
        if user and names & {"getattr", "hasattr"}:
            self.notes.append(f"getattr() on the module {module.__name__!r} reads names the cache cannot see")
            return None

        def compute() -> str | None:
            parts: list = [f"module:{module.__name__}" if user else f"module:{module.__name__}:{_module_version(module)}"]
            scope = vars(module)
            for name in sorted(names):
                if name not in scope:
                    continue
                attr = scope[name]
                if not user and not (isinstance(attr, _SIMPLE) or (isinstance(attr, (types.FunctionType, type)) and _is_user_code(attr))):
                    continue  # an installed module's own functions and objects: its version covers them
                digest = self.value(attr, names)
                if digest is None:
                    self.notes.append(f"{module.__name__}.{name} has no fingerprint")
                    return None
                parts.append((name, digest))
            return _digest(parts)

        return self._guarded(module, module.__name__, compute, memo=False)

    # --- any value -----------------------------------------------------------
    def value(self, value: Any, names: frozenset = frozenset()) -> str | None:
        if isinstance(value, _SIMPLE):
            return token(value)
        if isinstance(value, types.ModuleType):
            return self.module(value, names)
        if isinstance(value, types.FunctionType):
            return self.function(value) if _is_user_code(value) else _library_name("fn", value)
        if isinstance(value, type):
            return self.klass(value) if _is_user_code(value) else _library_name("class", value)
        if isinstance(value, types.MethodType):  # bound: the function and what it is bound to
            func, owner = self.value(value.__func__), self.value(value.__self__)
            return None if func is None or owner is None else _digest(("method", func, owner))
        if isinstance(value, functools.partial):
            parts = (self.value(value.func), self.value(value.args), self.value(value.keywords))
            return None if None in parts else _digest(("partial",) + parts)
        if isinstance(value, (staticmethod, classmethod)):
            return self.value(value.__func__)
        if isinstance(value, property):
            parts = tuple(self.value(f) for f in (value.fget, value.fset, value.fdel))
            return None if None in parts else _digest(("property",) + parts)
        if isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType, types.WrapperDescriptorType, types.MethodDescriptorType)):
            return f"builtin:{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
        kind = type(value)
        if kind in (list, tuple, set, frozenset, dict) and len(value) <= _SMALL:
            return self._container(value)
        from perfect_nb.core.task import Task

        if isinstance(value, Task):
            return task_fingerprint(value, self)
        if _is_user_code(kind) and not hasattr(value, "__dask_tokenize__"):
            return self.instance(value)
        return token(value)

    def _container(self, value: Any) -> str | None:
        def compute() -> str | None:
            if isinstance(value, dict):
                items = [(self.value(k), self.value(v)) for k, v in value.items()]
                if any(None in item for item in items):
                    return None
                return _digest(("dict", sorted(items)))
            items = [self.value(v) for v in value]
            if None in items:
                return None
            if isinstance(value, (set, frozenset)):
                items.sort()
            return _digest((type(value).__name__, items))

        return self._guarded(value, type(value).__name__, compute, memo=False)


def fingerprint(obj: Any) -> str | None:
    """The fingerprint of a function, class, callable or value; None when there is none.

    A function or class given here is always fingerprinted by its code; the
    ones it refers to are, when they are user code (see the module docstring).
    """
    hasher = _Hasher()
    if isinstance(obj, types.FunctionType):
        return hasher.function(obj)
    if isinstance(obj, type):
        return hasher.klass(obj)
    return hasher.value(obj)


def task_fingerprint(task: Any, hasher: _Hasher | None = None) -> str | None:
    """A task's code and the options that change its result (None: it has none)."""
    hasher = hasher or _Hasher()
    run = task.run
    if isinstance(run, types.MethodType) and run.__self__ is task:  # a Task subclass: its class, bases included
        code = hasher.klass(type(task))
    else:  # what @task or FunctionTask was given: a function, a partial, a bound method, a callable object
        code = hasher.value(run)
        if code is not None and type(task).__module__.split(".")[0] != "perfect_nb":
            klass = hasher.klass(type(task))
            code = None if klass is None else f"{code}:{klass}"
    if code is None:
        return None
    options = {k: v for k, v in vars(task).items() if k not in _SKIP_ATTRS and not k.startswith("_")}
    options_token = hasher.value(options) if options else ""
    if options_token is None:
        return None
    return hashlib.sha256(f"{type(task).__qualname__}:{code}:{options_token}".encode()).hexdigest()
