"""Tasks: the units of work in a flow.

Write a task as a function with ``@task`` or as a subclass of :class:`Task`
that overrides ``run()``. Calling a task inside ``with Flow(...)`` does not run
it: it copies the task, binds the arguments as edges and returns the copy.

>>> from perfect_nb import task, Flow
>>> @task
... def plus_one(x):
...     return x + 1
>>> plus_one.run(1)
2
>>> with Flow("add") as flow:
...     two = plus_one(1)
...     three = plus_one(two)
>>> flow.run().result[three].result
3
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import logging
import typing
from typing import Any, Callable, Iterable

from perfect_nb._version import __version__
from perfect_nb.configuration import config as _config
from perfect_nb.core import context as _context
from perfect_nb.core import seam as _seam
from perfect_nb.core.edge import EdgeAnnotation
from perfect_nb.utilities.logging import task_logger

__all__ = ["FunctionTask", "Task", "as_task", "task"]

RESERVED_ARGS = frozenset({"upstream_tasks", "mapped", "task_args", "flow"})

#: The task classes Task builds by itself, by class name: Constant and List, Tuple, Set, Dict
#: (``as_task``), and the operator tasks (``a + b``, ``a[k]``, ...). They subclass Task, so
#: perfect_nb.core.implicit defines them after it and fills this table on import (perfect_nb.core
#: imports it); this module never imports them, so the dependency points one way.
IMPLICIT: dict[str, type] = {}


class _Signature:
    """What a run() accepts, computed once per function: fast argument binding."""

    __slots__ = ("names", "positional", "required", "var_kw", "signature")

    def __init__(self, fn: Callable, owner: str) -> None:
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.name != "self"]
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            raise ValueError(
                f"{owner}: run() may not take *args, because task arguments are bound by "
                "name. Accept **kwargs instead, or name each argument."
            )
        reserved = RESERVED_ARGS & {p.name for p in params}
        if reserved:
            raise ValueError(
                f"{owner}: run() may not have an argument named {sorted(reserved)}; "
                "those names are reserved for binding (rename the argument)."
            )
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.positional = tuple(p.name for p in params if p.kind in kinds)
        self.names = frozenset(p.name for p in params if p.kind is not p.VAR_KEYWORD)
        self.required = tuple(p.name for p in params if p.default is p.empty and p.kind is not p.VAR_KEYWORD)
        self.var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
        self.signature = sig

    def bind(self, task_name: str, args: tuple, kwargs: dict) -> dict:
        if len(args) > len(self.positional):
            raise TypeError(f"Task {task_name!r} takes {len(self.positional)} positional arguments but {len(args)} were given.")
        bound = dict(zip(self.positional, args))
        for key, value in kwargs.items():
            if key in bound:
                raise TypeError(f"Task {task_name!r} got multiple values for argument {key!r}.")
            if key not in self.names and not self.var_kw:
                raise TypeError(f"Task {task_name!r} got an unexpected argument {key!r}; it accepts {sorted(self.names)}.")
            bound[key] = value
        return bound

    def missing(self, provided: Iterable[str]) -> list[str]:
        provided = set(provided)
        return [name for name in self.required if name not in provided]


def _as_timedelta(value: Any, what: str) -> _dt.timedelta | None:
    if value is None or isinstance(value, _dt.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.timedelta(seconds=value)
    raise TypeError(f"{what} must be a datetime.timedelta or a number of seconds, got {value!r}.")


def _type_hints(fn: Callable) -> dict:
    """Annotations of ``fn`` with strings (``from __future__ import annotations``) resolved."""
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return {k: v for k, v in getattr(fn, "__annotations__", {}).items()}


def _infer_nout(fn: Callable) -> int | None:
    hint = _type_hints(fn).get("return")
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and args and args[-1] is not Ellipsis:
        return len(args)
    return None


class Task:
    """A unit of work. Subclass it and override ``run()``, or use ``@task``.

    Parameters
    ----------
    name : str, optional
        Display name; defaults to the class (or function) name.
    slug : str, optional
        Unique id within a flow; the flow picks one from the name when unset.
    tags : iterable of str, optional
    max_retries : int, optional
        How many times to retry after a failure (needs ``retry_delay``).
    retry_delay : timedelta or seconds, optional
    retry_on : exception class or list of them, optional
        Retry only on these errors.
    timeout : int seconds or timedelta, optional
        Fail with TimedOut when a run takes longer. The body is told to stop; one
        blocked in C code (``time.sleep``, I/O) may keep running in the flow
        runner's process on LocalExecutor and threads. On processes (the worker is
        replaced) and Dask (the worker is restarted) it is really stopped.
    trigger : callable, optional
        ``trigger(upstream_states) -> bool``; default ``all_successful``.
    skip_on_upstream_skip : bool
        Skip when an upstream task skipped (default True).
    cache_for, cache_validator, cache_key : optional
        Prefect-1 style caching of successful results.
    checkpoint, result, target : optional
        Persisting results.
    state_handlers : list of callables, optional
        ``handler(task, old_state, new_state) -> state | None`` on each transition.
    on_failure : callable, optional
        ``fn(task, failed_state)`` when the task fails.
    log_stdout : bool
        Send ``print`` output of the task to its logger.
    task_run_name : str or callable, optional
        Run name, formatted from the inputs (``"load-{date}"``).
    nout : int, optional
        Number of outputs, to unpack ``a, b = t()``.
    """

    _sig: _Signature | None = None
    auto_generated = False  # True for the Constants and collections ``as_task`` adds
    _resource_role: str | None = None  # "init" / "cleanup" for a resource manager's tasks
    _run_nout: int | None = None  # from run()'s ``-> tuple[...]`` annotation

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "run" in cls.__dict__:
            cls._sig = _Signature(cls.run, cls.__name__)
            cls._run_nout = _infer_nout(cls.run)

    def __init__(
        self,
        name: str | None = None,
        slug: str | None = None,
        tags: Iterable[str] | None = None,
        max_retries: int | None = None,
        retry_delay: _dt.timedelta | float | None = None,
        retry_on: type | Iterable[type] | None = None,
        timeout: int | _dt.timedelta | None = None,
        trigger: Callable | None = None,
        skip_on_upstream_skip: bool = True,
        cache_for: _dt.timedelta | None = None,
        cache_validator: Callable | None = None,
        cache_key: str | None = None,
        checkpoint: bool | None = None,
        state_handlers: list[Callable] | None = None,
        on_failure: Callable | None = None,
        log_stdout: bool = False,
        result: Any = None,
        target: str | Callable | None = None,
        task_run_name: str | Callable | None = None,
        nout: int | None = None,
    ) -> None:
        self.name = name or type(self).__name__
        self.slug = slug
        if isinstance(tags, str):
            raise TypeError(f"Task {self.name!r}: tags must be a collection of strings such as [{tags!r}], not one string.")
        self.tags = set(tags or ()) | set(_context.current().get("tags", ()))
        defaults = _config_defaults()  # config.tasks.defaults, as in Prefect 1
        from_config = max_retries is None and bool(defaults.get("max_retries"))
        if max_retries is None:
            max_retries = defaults.get("max_retries")
        if retry_delay is None:
            retry_delay = defaults.get("retry_delay")
        if timeout is None:
            timeout = defaults.get("timeout")
        self.max_retries = int(max_retries or 0)
        self.retry_delay = _as_timedelta(retry_delay, "retry_delay")
        if self.max_retries > 0 and self.retry_delay is None:
            where = " (from config tasks.defaults.max_retries)" if from_config else ""
            raise ValueError(f"Task {self.name!r}: max_retries={max_retries}{where} needs a retry_delay (a datetime.timedelta or seconds; 0 retries at once).")
        self.retry_on = _exception_set(retry_on)
        self.timeout = _timeout_seconds(timeout)
        self.trigger = trigger if trigger is not None else _seam.default_trigger()  # Prefect 1.4.1's default
        self.skip_on_upstream_skip = skip_on_upstream_skip
        self.cache_for = _as_timedelta(cache_for, "cache_for")
        self._cache_validator_given = cache_validator is not None  # the notebook cache reads never_use as 'volatile' only when given
        self.cache_validator = cache_validator if cache_validator is not None else (  # Prefect 1.4.1's defaults
            _seam.cache_validator("duration_only" if self.cache_for is not None else "never_use"))
        self.cache_key = cache_key
        self.checkpoint = checkpoint
        self.result = result
        self.target = target
        if state_handlers is not None and (callable(state_handlers) or not isinstance(state_handlers, Iterable)):
            raise TypeError(f"Task {self.name!r}: state_handlers must be a list of callables, got {state_handlers!r}.")
        self.state_handlers = list(state_handlers or [])
        if on_failure is not None and not callable(on_failure):
            raise TypeError(f"Task {self.name!r}: on_failure must be a callable (task, state) -> None.")
        self.on_failure = on_failure
        self.log_stdout = log_stdout
        self.task_run_name = task_run_name
        self.nout = nout if nout is not None else self._run_nout
        self._validate_hooks()

    def _validate_hooks(self) -> None:
        for handler in self.state_handlers:
            if not callable(handler):
                raise TypeError(f"Task {self.name!r}: each state handler must be a callable (task, old_state, new_state) -> state, got {handler!r}.")
        if isinstance(self.cache_validator, str):
            self.cache_validator = _seam.cache_validator(self.cache_validator)
        if self.trigger is not None and not callable(self.trigger):
            raise TypeError(f"Task {self.name!r}: trigger must be a callable such as perfect_nb.triggers.all_finished, got {self.trigger!r}.")

    # --- what runs -------------------------------------------------------
    def run(self) -> Any:  # noqa: D401 - overridden by subclasses
        """The work of the task; override it (the base task does nothing)."""
        return None

    @property
    def signature(self) -> _Signature:
        return self._sig or _BASE_SIG

    @property
    def logger(self) -> logging.Logger:
        """``perfect_nb.<task name>``, as Prefect 1's ``prefect.<task name>``."""
        return task_logger(self.name)

    def inputs(self) -> dict[str, dict]:
        """The run() arguments: name -> {"type": annotation, "default": value, "required": bool}."""
        out = {}
        hints = _type_hints(self.run)
        for name, p in self.signature.signature.parameters.items():
            if name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            required = p.default is p.empty
            out[name] = {
                "type": hints.get(name, Any),
                "default": None if required else p.default,
                "required": required,
            }
        return out

    def outputs(self) -> Any:
        """The return annotation of run() (``Any`` when there is none)."""
        return _type_hints(self.run).get("return", Any)

    # --- building flows --------------------------------------------------
    def copy(self, **task_args: Any) -> "Task":
        """A new task with the same settings (``task_args`` override some);
        inside a ``tags(...)`` block the copy gets those tags too."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.slug = None
        new._auto_slug = False
        new.tags = self.tags | set(_context.current().get("tags", ()))
        new.state_handlers = list(self.state_handlers)
        for key, value in task_args.items():
            if not hasattr(new, key):
                raise AttributeError(f"{type(self).__name__} has no option {key!r} to set through task_args.")
            setattr(new, key, set(value) if key == "tags" else value)
        return new

    def __call__(self, *args: Any, mapped: bool = False, task_args: dict | None = None, upstream_tasks: Iterable | None = None, flow: Any = None, **kwargs: Any) -> "Task":
        """Copy this task and bind the arguments in the active flow (or ``flow=``)."""
        new = self.copy(**(task_args or {}))
        return new.bind(*args, mapped=mapped, upstream_tasks=upstream_tasks, flow=flow, **kwargs)

    def map(self, *args: Any, upstream_tasks: Iterable | None = None, flow: Any = None, task_args: dict | None = None, **kwargs: Any) -> "Task":
        """Run one copy of this task per item of the arguments (``unmapped(x)`` to pass whole)."""
        new = self.copy(**(task_args or {}))
        return new.bind(*args, mapped=True, upstream_tasks=upstream_tasks, flow=flow, **kwargs)

    def bind(self, *args: Any, mapped: bool = False, upstream_tasks: Iterable | None = None, flow: Any = None, **kwargs: Any) -> "Task":
        """Bind arguments to this task (not a copy) in the active flow or ``flow=``."""
        flow = _require_flow(flow, self, "bind")
        bound = self.signature.bind(self.name, args, kwargs)
        missing = [name for name in self.signature.required if name not in bound]
        if missing:  # an edge or constant bound earlier may provide them
            missing = self.signature.missing(set(bound) | flow._bound_keys(self))
        if missing:
            raise TypeError(f"Task {self.name!r} is missing a value for argument(s) {missing}: pass them when calling it.")
        keyword_tasks = {}
        for key, value in bound.items():
            if isinstance(value, Task):
                keyword_tasks[key] = (value, mapped, False)
                continue
            value, flags = _unwrap(value)
            is_mapped = flags.get("mapped", mapped)
            value = as_task(value, flow=flow) if (is_mapped or _contains_task(value)) else value
            if isinstance(value, Task):
                keyword_tasks[key] = (value, is_mapped, flags.get("flattened", False))
            else:
                flow._set_constant(self, key, value)
        flow.add_task(self)
        for key, (up, is_mapped, flattened) in keyword_tasks.items():
            flow.add_edge(up, self, key=key, mapped=is_mapped, flattened=flattened)
        for up in upstream_tasks or ():
            up, flags = _unwrap(up)
            flow.add_edge(as_task(up, flow=flow), self, mapped=flags.get("mapped", mapped), flattened=flags.get("flattened", False))
        return self

    def set_upstream(self, task: Any, flow: Any = None, key: str | None = None, mapped: bool = False) -> "Task":
        """Make ``task`` run before this one (with ``key``, pass its result as that argument)."""
        flow = _require_flow(flow, self, "set_upstream")
        flow.set_dependencies(self, upstream_tasks=None if key else [task], keyword_tasks={key: task} if key else None, mapped=mapped)
        return self

    def set_downstream(self, task: "Task", flow: Any = None, key: str | None = None, mapped: bool = False) -> "Task":
        """Make this task run before ``task`` (with ``key``, feeding that argument)."""
        flow = _require_flow(flow, self, "set_downstream")
        flow.set_dependencies(task, upstream_tasks=None if key else [self], keyword_tasks={key: self} if key else None, mapped=mapped)
        return self

    def set_dependencies(self, flow: Any = None, upstream_tasks=None, downstream_tasks=None, keyword_tasks=None, mapped: bool = False, validate: bool | None = None) -> "Task":
        flow = _require_flow(flow, self, "set_dependencies")
        flow.set_dependencies(self, upstream_tasks=upstream_tasks, downstream_tasks=downstream_tasks, keyword_tasks=keyword_tasks, mapped=mapped, validate=validate)
        return self

    def pipe(_prefect_self, _prefect_task: "Task", **kwargs: Any) -> "Task":  # noqa: N805 - names free for kwargs
        """``a.pipe(b, y=1)`` is ``b(a, y=1)``: this task's result is ``b``'s first argument.

        >>> from perfect_nb import Flow, task
        >>> inc, add = task(lambda x: x + 1, name="inc"), task(lambda x, y: x + y, name="add")
        >>> with Flow("pipe") as flow:
        ...     out = inc(1).pipe(add, y=10).pipe(inc)
        >>> flow.run().result[out].result
        13
        """
        return _prefect_task(_prefect_self, **kwargs)

    def serialize(self) -> dict:
        """The task's settings as JSON-ready data (the keys of Prefect 1's task schema)."""
        def seconds(delta: _dt.timedelta | None) -> float | None:
            return None if delta is None else delta.total_seconds()

        def qualified(obj: Any) -> dict | None:
            return None if obj is None else {"fn": f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}", "kwargs": {}}

        return {
            "type": f"{type(self).__module__}.{type(self).__qualname__}",
            "name": self.name,
            "slug": self.slug,
            "tags": sorted(self.tags),
            "max_retries": self.max_retries,
            "retry_delay": seconds(self.retry_delay),
            "inputs": {k: {"required": v["required"], "type": str(v["type"])} for k, v in self.inputs().items()},
            "outputs": str(self.outputs()),
            "timeout": self.timeout,
            "trigger": qualified(self.trigger or _seam.default_trigger()),
            "skip_on_upstream_skip": self.skip_on_upstream_skip,
            "cache_for": seconds(self.cache_for),
            "cache_key": self.cache_key,
            "cache_validator": qualified(self.cache_validator),
            "auto_generated": self.auto_generated,
            "__version__": __version__,
        }

    @property
    def __signature__(self) -> inspect.Signature:
        """What calling the task accepts: run()'s arguments plus the binding keywords."""
        params = [p for name, p in self.signature.signature.parameters.items() if name != "self"]
        var_kw = [p for p in params if p.kind is p.VAR_KEYWORD]
        params = [p for p in params if p.kind is not p.VAR_KEYWORD]
        extra = [
            inspect.Parameter("mapped", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=bool),
            inspect.Parameter("task_args", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=dict),
            inspect.Parameter("upstream_tasks", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Iterable),
            inspect.Parameter("flow", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="Flow"),
        ]
        return inspect.Signature(params + extra + var_kw, return_annotation="Task")

    # --- operators build tasks --------------------------------------------
    def __getitem__(self, key: Any) -> "Task":
        return IMPLICIT["GetItem"](name=f"{self.name}[{key!r}]").bind(self, key)

    def __iter__(self):
        if not self.nout:
            raise TypeError(
                f"Task {self.name!r} is not iterable. If it returns several values, "
                "give it nout=N (or a tuple[...] return annotation) to unpack them."
            )
        return (self[i] for i in range(self.nout))

    def __bool__(self) -> bool:
        return True

    def __or__(self, other: Any) -> Any:
        """``a | b``: ``b`` runs after ``a`` (no data passed); returns ``b``, as in Prefect 1."""
        self.set_dependencies(downstream_tasks=[other])
        return other

    def __ror__(self, other: Any) -> "Task":
        """``b | a`` with ``b`` not a task: ``a`` runs after it; returns ``a``."""
        self.set_dependencies(upstream_tasks=[other])
        return self

    def __repr__(self) -> str:
        return f"<Task: {self.name}>"

    def is_equal(self, other: Any) -> "Task":
        return _binary("Equal", self, other)

    def is_not_equal(self, other: Any) -> "Task":
        return _binary("NotEqual", self, other)

    def not_(self) -> "Task":
        return IMPLICIT["Not"]().bind(self)

    def or_(self, other: Any) -> "Task":
        return _binary("Or", self, other)

    def and_(self, other: Any) -> "Task":
        return _binary("And", self, other)


def _binary(op: str, left: Any, right: Any) -> Task:
    return IMPLICIT[op]().bind(left, right)


def _add_operator(dunder: str, op: str, reflected: bool = False) -> None:
    if reflected:
        setattr(Task, dunder, lambda self, other: _binary(op, other, self))
    else:
        setattr(Task, dunder, lambda self, other: _binary(op, self, other))


for _d, _op in [("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("truediv", "Div"), ("floordiv", "FloorDiv"), ("mod", "Mod"), ("pow", "Pow"), ("and", "And")]:
    _add_operator(f"__{_d}__", _op)
    _add_operator(f"__r{_d}__", _op, reflected=True)
for _d, _op in [("gt", "GreaterThan"), ("ge", "GreaterThanOrEqual"), ("lt", "LessThan"), ("le", "LessThanOrEqual")]:
    _add_operator(f"__{_d}__", _op)

_BASE_SIG = _Signature(Task.run, "Task")


class FunctionTask(Task):
    """A task whose run() is a plain function (what ``@task`` makes)."""

    def __init__(self, fn: Callable, name: str | None = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function, got {fn!r}.")
        self._sig = _Signature(fn, getattr(fn, "__name__", "task"))
        self.run = fn  # type: ignore[method-assign]
        kwargs.setdefault("nout", _infer_nout(fn))
        super().__init__(name=name or getattr(fn, "__name__", type(self).__name__), **kwargs)
        functools.update_wrapper(self, fn, assigned=("__module__", "__doc__", "__qualname__"), updated=())

    def __repr__(self) -> str:
        return f"<Task: {self.name}>"


def task(fn: Callable | None = None, **task_init_kwargs: Any) -> Any:
    """Turn a function into a task: ``@task``, ``@task(name=..., max_retries=...)`` or ``task(fn, ...)``.

    >>> @task(name="double", tags=["math"])
    ... def times_two(x):
    ...     return 2 * x
    >>> times_two.name, times_two.run(4)
    ('double', 8)
    """
    if fn is None:
        return lambda f: FunctionTask(f, **task_init_kwargs)
    return FunctionTask(fn, **task_init_kwargs)


def _exception_set(retry_on: Any) -> tuple[type, ...] | None:
    if retry_on is None:
        return None
    items = tuple(retry_on) if isinstance(retry_on, (list, tuple, set)) else (retry_on,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise TypeError(f"retry_on takes exception classes, got {item!r}.")
    return items


def _config_defaults() -> dict:
    tasks = _config.get("tasks")
    defaults = tasks.get("defaults") if isinstance(tasks, dict) else None
    return defaults if isinstance(defaults, dict) else {}


def _timeout_seconds(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, _dt.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or a datetime.timedelta, got {timeout!r}.")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r} seconds.")
    return float(timeout)


def _require_flow(flow: Any, task: Task, action: str) -> Any:
    flow = flow if flow is not None else _context.current().get("flow")
    if flow is None:
        raise ValueError(
            f"Could not find a flow for {action}() of task {task.name!r}. Build flows inside "
            "`with Flow('name') as flow:`, pass flow=... explicitly, or call "
            f"`{task.name}.run(...)` to run the task once on its own."
        )
    return flow


def _unwrap(value: Any) -> tuple[Any, dict]:
    if isinstance(value, EdgeAnnotation):
        return value.value, value.annotations
    return value, {}


def _contains_task(value: Any) -> bool:
    if isinstance(value, Task):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_contains_task(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_task(k) or _contains_task(v) for k, v in value.items())
    return False


def as_task(value: Any, flow: Any = None) -> Task:
    """A Task for ``value``: tasks as they are, collections holding tasks as a
    collection task, anything else as a Constant task."""
    if isinstance(value, Task):
        return value
    if isinstance(value, EdgeAnnotation):
        value = value.value
    if _contains_task(value):
        if isinstance(value, dict):
            made = IMPLICIT["Dict"]().bind(keys=list(value.keys()), values=list(value.values()), flow=flow)
            made.auto_generated = True
            return made
        kind = IMPLICIT[{list: "List", tuple: "Tuple", set: "Set", frozenset: "Set"}[type(value)]]
        made = kind().bind(*value, flow=flow)
    else:
        made = IMPLICIT["Constant"](value)
    made.auto_generated = True
    return made
