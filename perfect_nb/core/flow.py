"""Flows: graphs of tasks. Pure data, no execution (``flow.run`` hands over to the engine
through :mod:`perfect_nb.core.seam`).

Functional API:

>>> from perfect_nb import Flow, task
>>> @task
... def add(x, y=1):
...     return x + y
>>> with Flow("functional") as flow:
...     total = add(add(1), y=10)
>>> flow.run().result[total].result
12

Imperative API:

>>> flow = Flow("imperative")
>>> a, b = add.copy(), add.copy()
>>> _ = flow.add_task(a)
>>> _ = b.set_upstream(a, key="x", flow=flow)
>>> _ = a.bind(x=1, flow=flow)
>>> _ = b.bind(y=5, flow=flow)
>>> flow.run().result[b].result
7
"""

from __future__ import annotations

import collections
import copy as _copy
from typing import Any, Iterable

from perfect_nb.core import context as _context
from perfect_nb.core import seam as _seam
from perfect_nb.core.edge import Edge, EdgeAnnotation
from perfect_nb.core.parameter import Parameter
from perfect_nb.core.task import Task, as_task
from perfect_nb.errors import CycleError, FlowValidationError, ParameterError

__all__ = ["Flow"]

_RUN_OPTIONS = frozenset({"state", "backend", "task_runner_state_handlers", "task_states", "executor", "context", "return_tasks", "listeners", "task_contexts", "cache", "runner_cls"})


class Flow:
    """A named graph of tasks and the edges between them.

    Parameters
    ----------
    name : str
    schedule : Schedule, optional
        When ``flow.run()`` should run (see ``perfect_nb.schedules``).
    executor : Executor, optional
        Default executor for ``flow.run()``.
    tasks, edges : optional
        Tasks and Edges to start with.
    reference_tasks : optional
        Tasks whose states decide the flow's final state (default: terminal tasks).
    state_handlers : list, optional
        ``handler(flow, old_state, new_state)`` on each flow transition.
    on_failure : callable, optional
        ``fn(flow, state)`` when the flow fails.
    """

    def __init__(
        self,
        name: str,
        schedule: Any = None,
        executor: Any = None,
        tasks: Iterable[Task] | None = None,
        edges: Iterable[Edge] | None = None,
        reference_tasks: Iterable[Task] | None = None,
        state_handlers: list | None = None,
        on_failure: Any = None,
        validate: bool | None = None,
        result: Any = None,
        terminal_state_handler: Any = None,
        **unused: Any,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"A Flow needs a non-empty string name, got {name!r}.")
        self.name = name
        self.schedule = schedule
        self.executor = executor
        self.result = result
        self.state_handlers = list(state_handlers or [])
        self.on_failure = on_failure
        self.terminal_state_handler = terminal_state_handler
        self.extra_options = unused  # environment, storage, run_config: accepted, unused locally
        self.tasks: set[Task] = set()
        self.edges: set[Edge] = set()
        self.constants: dict[Task, dict[str, Any]] = collections.defaultdict(dict)
        self.last_run = None
        self._order: dict[Task, int] = {}
        self._up: dict[Task, list[Edge]] = {}
        self._down: dict[Task, list[Edge]] = {}
        self._keys: dict[Task, set[str]] = {}
        self._slugs: dict[str, Task] = {}
        self._slug_counts: dict[str, int] = {}
        self._reference_tasks: set[Task] = set()
        self._sorted: list[Task] | None = None
        self._context_token = None
        for t in tasks or ():
            self.add_task(t)
        for e in edges or ():
            self.add_edge(e.upstream_task, e.downstream_task, key=e.key, mapped=e.mapped, flattened=e.flattened)
        if reference_tasks:
            self.set_reference_tasks(reference_tasks)

    # --- context manager -------------------------------------------------
    def __enter__(self) -> "Flow":
        self._context_token = _context.set_run_context({**_context.current(), "flow": self})
        return self

    def __exit__(self, *exc: Any) -> None:
        _context.reset_run_context(self._context_token)
        self._context_token = None

    def __repr__(self) -> str:
        return f'<Flow: name="{self.name}">'

    def __iter__(self):
        return iter(self.sorted_tasks())

    # --- building --------------------------------------------------------
    def add_task(self, task: Task) -> Task:
        """Add ``task`` (once); gives it a slug unique in this flow."""
        if task in self._order:
            return task
        if not isinstance(task, Task):
            raise TypeError(f"Flow {self.name!r} can only hold Tasks, got {task!r} (wrap a function with @task).")
        task.slug = self._unique_slug(task)
        self._slugs[task.slug] = task
        self.tasks.add(task)
        self._order[task] = len(self._order)
        self._up[task] = []
        self._down[task] = []
        self._keys[task] = set()
        self._sorted = None
        return task

    def _unique_slug(self, task: Task) -> str:
        """A chosen slug (a Parameter's name, ``Task(slug=...)``) is kept and must be
        free; a generated one is ``name``, then ``name-2``, ``name-3`` ... and gives
        way to a chosen one."""
        slug = task.slug
        other = self._slugs.get(slug) if slug is not None else None
        if other is not None:
            if getattr(task, "_auto_slug", False):
                slug = None  # generated by another flow: pick a free one here
            elif getattr(other, "_auto_slug", False):
                self._reslug(other)
            elif isinstance(task, Parameter):
                raise ValueError(f"Flow {self.name!r} already has a task with slug {slug!r}; Parameter names must be unique in a flow.")
            else:
                raise ValueError(f"Flow {self.name!r} already has a task with slug {slug!r}; give this task another slug.")
        task._auto_slug = slug is None
        return slug if slug is not None else self._generate_slug(task.name)

    def _generate_slug(self, base: str) -> str:
        n = self._slug_counts.get(base, 0)
        while True:
            n += 1
            slug = base if n == 1 else f"{base}-{n}"
            if slug not in self._slugs:
                self._slug_counts[base] = n
                return slug

    def _reslug(self, task: Task) -> None:
        del self._slugs[task.slug]
        task.slug = self._generate_slug(task.name)
        self._slugs[task.slug] = task

    def add_edge(self, upstream_task: Task, downstream_task: Task, key: str | None = None, mapped: bool = False, flattened: bool = False, validate: bool | None = None) -> Edge:
        """Make ``upstream_task`` run before ``downstream_task`` (feeding argument ``key``)."""
        self.add_task(upstream_task)
        self.add_task(downstream_task)
        if key is not None:
            sig = downstream_task.signature
            if key not in sig.names and not sig.var_kw:
                raise ValueError(f"Task {downstream_task.name!r} has no argument {key!r}; its arguments are {sorted(sig.names)}.")
            if key in self._keys[downstream_task] or key in self.constants.get(downstream_task, ()):
                raise ValueError(f"Argument {key!r} of task {downstream_task.name!r} already has a value; each argument takes one.")
        edge = Edge(upstream_task, downstream_task, key=key, mapped=mapped, flattened=flattened)
        if edge in self.edges:
            return edge
        self.edges.add(edge)
        self._up[downstream_task].append(edge)
        self._down[upstream_task].append(edge)
        if key is not None:
            self._keys[downstream_task].add(key)
        self._sorted = None
        if validate:
            self.validate()
        return edge

    def _remap_edge(self, edge: Edge, mapped: bool, flattened: bool) -> Edge:
        """Replace ``edge`` by the same edge with these mapping flags (``apply_map`` uses it)."""
        if (edge.mapped, edge.flattened) == (mapped, flattened):
            return edge
        new = Edge(edge.upstream_task, edge.downstream_task, key=edge.key, mapped=mapped, flattened=flattened)
        self.edges.discard(edge)
        self._up[edge.downstream_task].remove(edge)
        self._down[edge.upstream_task].remove(edge)
        if new not in self.edges:
            self.edges.add(new)
            self._up[new.downstream_task].append(new)
            self._down[new.upstream_task].append(new)
        self._sorted = None
        return new

    def set_dependencies(self, task: Task, upstream_tasks: Iterable | None = None, downstream_tasks: Iterable | None = None, keyword_tasks: dict | None = None, mapped: bool = False, validate: bool | None = None) -> None:
        """Add ``task`` with edges from ``upstream_tasks``, to ``downstream_tasks`` and from ``keyword_tasks`` (argument -> task or value)."""
        self.add_task(task)
        for up in upstream_tasks or ():
            up, flags = _unwrap(up)
            self.add_edge(as_task(up, flow=self), task, mapped=flags.get("mapped", mapped), flattened=flags.get("flattened", False))
        for down in downstream_tasks or ():
            self.add_edge(task, as_task(down, flow=self), mapped=mapped)
        for key, value in (keyword_tasks or {}).items():
            value, flags = _unwrap(value)
            is_mapped = flags.get("mapped", mapped)
            if isinstance(value, Task) or is_mapped:
                self.add_edge(as_task(value, flow=self), task, key=key, mapped=is_mapped, flattened=flags.get("flattened", False))
            elif _has_task(value):
                self.add_edge(as_task(value, flow=self), task, key=key)
            else:
                self._set_constant(task, key, value)
        if validate:
            self.validate()

    def chain(self, *tasks: Task, validate: bool | None = None) -> list[Edge]:
        """Add edges so ``tasks`` run one after another."""
        edges = [self.add_edge(a, b) for a, b in zip(tasks, tasks[1:])]
        if validate:
            self.validate()
        return edges

    def update(self, flow: "Flow", merge_parameters: bool = False, validate: bool | None = None, merge_reference_tasks: bool = False) -> None:
        """Add every task, edge and constant of ``flow`` to this one.

        With ``merge_parameters``, each Parameter of this flow that has a
        namesake in ``flow`` is replaced by that one (as in Prefect 1); with
        ``merge_reference_tasks``, ``flow``'s reference tasks are added too.
        """
        if merge_parameters:
            theirs = {p.name: p for p in flow.parameters()}
            for mine in [p for p in self.parameters() if p.name in theirs and theirs[p.name] is not p]:
                self.replace(mine, theirs[mine.name], validate=False)
        for t in flow._order:
            self.add_task(t)
        for e in flow.edges:
            self.add_edge(e.upstream_task, e.downstream_task, key=e.key, mapped=e.mapped, flattened=e.flattened)
        for t, consts in flow.constants.items():
            self.constants[t].update(consts)
        if merge_reference_tasks:
            self._reference_tasks |= flow._reference_tasks
        if validate:
            self.validate()

    def replace(self, old: Task, new: Task, validate: bool = True) -> None:
        """Put ``new`` wherever ``old`` was: same edges, constants and reference status."""
        if old not in self._order:
            raise ValueError(f"Task {old.name!r} is not in flow {self.name!r}.")
        edges = [e for e in self.edges if old in (e.upstream_task, e.downstream_task)]
        consts = self.constants.pop(old, {})
        was_reference = old in self._reference_tasks
        self._remove(old)
        self.add_task(new)
        if consts:
            self.constants[new].update(consts)
        for e in edges:
            up = new if e.upstream_task is old else e.upstream_task
            down = new if e.downstream_task is old else e.downstream_task
            self.add_edge(up, down, key=e.key, mapped=e.mapped, flattened=e.flattened)
        if was_reference:
            self._reference_tasks.add(new)
        if validate:
            self.validate()

    def _remove(self, task: Task) -> None:
        self._keys.pop(task, None)
        for e in self._up.pop(task) + self._down.pop(task):
            self.edges.discard(e)
            if e.upstream_task is not task:
                self._down[e.upstream_task].remove(e)
            if e.downstream_task is not task:
                self._up[e.downstream_task].remove(e)
                self._keys[e.downstream_task].discard(e.key)
        self.tasks.discard(task)
        del self._order[task]
        self._slugs.pop(task.slug, None)
        self._reference_tasks.discard(task)
        self._sorted = None

    def copy(self) -> "Flow":
        """A new flow with the same tasks and edges (the tasks are shared, not copied)."""
        new = _copy.copy(self)
        new.tasks = set(self.tasks)
        new.edges = set(self.edges)
        new.constants = collections.defaultdict(dict, {t: dict(c) for t, c in self.constants.items()})
        new._order = dict(self._order)
        new._up = {t: list(es) for t, es in self._up.items()}
        new._down = {t: list(es) for t, es in self._down.items()}
        new._keys = {t: set(ks) for t, ks in self._keys.items()}
        new._slugs = dict(self._slugs)
        new._slug_counts = dict(self._slug_counts)
        new._reference_tasks = set(self._reference_tasks)
        new.state_handlers = list(self.state_handlers)
        new.last_run = None
        return new

    def _set_constant(self, task: Task, key: str, value: Any) -> None:
        """Pass ``value`` as argument ``key`` of ``task`` (an argument an edge feeds cannot take one)."""
        if key in self._keys.get(task, ()):
            raise ValueError(f"Argument {key!r} of task {task.name!r} already has a value from an upstream task; each argument takes one.")
        self.constants[task][key] = value

    def _bound_keys(self, task: Task) -> set[str]:
        """Arguments of ``task`` that already have a value here: an edge or a constant."""
        return self._keys.get(task, set()) | set(self.constants.get(task, ()))

    # --- reading ---------------------------------------------------------
    def get_tasks(self, name: str | None = None, slug: str | None = None, tags: Iterable[str] | None = None, task_type: type | None = None) -> list[Task]:
        """Tasks matching every criterion given."""
        tags = set(tags or ())
        return [
            t for t in self.sorted_tasks()
            if (name is None or t.name == name) and (slug is None or t.slug == slug)
            and tags <= t.tags and (task_type is None or isinstance(t, task_type))
        ]

    def get_task(self, key: str) -> Task:
        """The task with this slug, or the only task with this name."""
        if key in self._slugs:
            return self._slugs[key]
        found = self.get_tasks(name=key)
        if len(found) == 1:
            return found[0]
        hint = "several tasks have that name; use a slug" if found else f"slugs are {sorted(self._slugs)}"
        raise KeyError(f"Flow {self.name!r} has no task {key!r} ({hint}).")

    def parameters(self) -> set[Parameter]:
        return {t for t in self.tasks if isinstance(t, Parameter)}

    def root_tasks(self) -> set[Task]:
        return {t for t in self.tasks if not self._up[t]}

    def terminal_tasks(self) -> set[Task]:
        return {t for t in self.tasks if not self._down[t]}

    def reference_tasks(self) -> set[Task]:
        """The tasks whose states decide the flow's (``set_reference_tasks``); by default the
        terminal tasks, where a resource manager's cleanup does not count (as in Prefect 1)."""
        if self._reference_tasks:
            return set(self._reference_tasks)
        return {
            t for t, down in self._down.items()
            if t._resource_role is None and (not down or (
                down[0].downstream_task._resource_role == "cleanup"  # cheap test first: most tasks stop here
                and all(e.downstream_task._resource_role == "cleanup" for e in down)))
        }

    def set_reference_tasks(self, tasks: Iterable[Task]) -> None:
        tasks = set(tasks)
        missing = [t.name for t in tasks if t not in self._order]
        if missing:
            raise ValueError(f"Reference tasks must be in flow {self.name!r}; not found: {missing}.")
        self._reference_tasks = tasks

    def upstream_tasks(self, task: Task) -> set[Task]:
        return {e.upstream_task for e in self.edges_to(task)}

    def downstream_tasks(self, task: Task) -> set[Task]:
        return {e.downstream_task for e in self.edges_from(task)}

    def edges_to(self, task: Task) -> set[Edge]:
        return set(self._edges(self._up, task))

    def edges_from(self, task: Task) -> set[Edge]:
        return set(self._edges(self._down, task))

    def _edges(self, index: dict, task: Task) -> list[Edge]:
        if task not in index:
            raise ValueError(f"Task {task.name!r} is not in flow {self.name!r}.")
        return index[task]

    def all_upstream_edges(self) -> dict[Task, set[Edge]]:
        return {t: set(es) for t, es in self._up.items()}

    def all_downstream_edges(self) -> dict[Task, set[Edge]]:
        return {t: set(es) for t, es in self._down.items()}

    def sorted_tasks(self, root_tasks: Iterable[Task] | None = None) -> tuple[Task, ...]:
        """Tasks in dependency order (ties in the order they were added).

        With ``root_tasks``, only those and what is downstream of them.
        """
        if self._sorted is None:
            self._sorted = self._toposort()
        if root_tasks is None:
            return tuple(self._sorted)
        keep = self._downstream_closure(root_tasks)
        return tuple(t for t in self._sorted if t in keep)

    def _downstream_closure(self, roots: Iterable[Task]) -> set[Task]:
        seen: set[Task] = set()
        stack = list(roots)
        while stack:
            t = stack.pop()
            if t not in seen:
                seen.add(t)
                stack.extend(e.downstream_task for e in self._down[t])
        return seen

    def _toposort(self) -> list[Task]:
        waiting = {t: len({id(e.upstream_task) for e in es}) for t, es in self._up.items()}
        ready = collections.deque(t for t in self._order if waiting[t] == 0)
        out: list[Task] = []
        while ready:
            t = ready.popleft()
            out.append(t)
            for down in dict.fromkeys(e.downstream_task for e in self._down[t]):
                waiting[down] -= 1
                if waiting[down] == 0:
                    ready.append(down)
        if len(out) != len(self._order):
            raise CycleError(self.name, self._find_cycle({t for t, n in waiting.items() if n > 0}))
        return out

    def _find_cycle(self, stuck: set[Task]) -> list[str]:
        node = next(iter(sorted(stuck, key=self._order.get)))
        path: list[Task] = []
        while node not in path:
            path.append(node)
            node = next(e.upstream_task for e in self._up[node] if e.upstream_task in stuck)
        cycle = path[path.index(node):]
        return [t.slug for t in reversed(cycle)]

    def validate(self) -> None:
        """Check the graph: edges within the flow, reference tasks present, no cycles."""
        for e in self.edges:
            for t in (e.upstream_task, e.downstream_task):
                if t not in self._order:
                    raise FlowValidationError(f"Edge {e!r} refers to task {t.name!r}, which is not in flow {self.name!r}.")
        self.set_reference_tasks(self._reference_tasks)
        self._sorted = None
        self.sorted_tasks()

    # --- running ---------------------------------------------------------
    def run(self, parameters: dict | None = None, run_on_schedule: bool | None = None, **kwargs: Any):
        """Run the flow here and return its final State.

        Keyword arguments naming a parameter are parameter values; the others
        go to the FlowRunner (``task_states``, ``executor``, ``context``,
        ``listeners``, ``return_tasks``). When a backend is configured
        (``perfect backend server``) the run is recorded there;
        ``backend=False`` opts out.
        """
        params = dict(parameters or {})
        names = {p.name for p in self.parameters()}
        for key in [k for k in kwargs if k not in _RUN_OPTIONS]:
            if key not in names:
                raise ParameterError(f"Flow {self.name!r} got an unexpected argument {key!r}; its parameters are {sorted(names)}.")
            params[key] = kwargs.pop(key)
        return _seam.run_flow(self, parameters=params, run_on_schedule=run_on_schedule, **kwargs)

    def register(self, project_name: str | None = None, labels: list[str] | None = None, idempotency_key: str | None = None,
                 force: bool = False, api: str | None = None) -> str:
        """Store this flow in the backend's project ``project_name`` and return its id.

        An unchanged flow keeps its version; a changed one (graph, parameters,
        schedule or any task's code) becomes version + 1 and archives the older
        ones. ``api`` is the server (default: the configured ``[backend] api``).
        """
        return _seam.register(self, project_name, labels=labels, idempotency_key=idempotency_key, force=force, api=api)

    def visualize(self, flow_state: Any = None, filename: str | None = None, format: str | None = None, horizontal: bool = False, expand_mapped: bool = False):
        """Draw the flow as a ``graphviz.Digraph`` (coloured by ``flow_state`` when given)."""
        return _seam.visualize(self, flow_state=flow_state, filename=filename, format=format, horizontal=horizontal, expand_mapped=expand_mapped)


def _unwrap(value: Any) -> tuple[Any, dict]:
    if isinstance(value, EdgeAnnotation):
        return value.value, value.annotations
    return value, {}


def _has_task(value: Any) -> bool:
    from perfect_nb.core.task import _contains_task

    return _contains_task(value)
