"""The notebook cache: content keys per task run, so only what an edit affects runs again.

A task run's key is a hash of the task's code fingerprint, the tokens of its
constant inputs, the values of the parameters it reads, and the KEYS of the
upstream tasks that feed it (Merkle style: upstream data is never hashed
again, so a large DataFrame costs nothing to key). All keys of a run are known
before anything runs; a mapped child's key is its parent's key plus its index.

``FlowCache`` holds the results of one flow (one notebook cell) and remembers
what each task's key was made of last time, to say *why* a task ran:
``cached``, ``code``, ``input``, ``parameter``, ``missing`` or ``forced``.

>>> from perfect_nb import Flow, task
>>> @task
... def load():
...     print("loading...")
...     return 41
>>> with Flow("cached") as flow:
...     value = load()
>>> cache = FlowCache()
>>> first = flow.run(cache=cache.plan(flow))
loading...
>>> second = flow.run(cache=cache.plan(flow))
>>> second.result[value].context["cache_reason"], second.result[value].result
('cached', 41)
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from perfect_nb.cache.fingerprint import _Hasher, task_fingerprint
from perfect_nb.cache.store import ResultStore
from perfect_nb.cache.tokenize import token
from perfect_nb.core.parameter import Parameter
from perfect_nb.engine.state import Cached, Mapped, Skipped, State, Success

__all__ = ["FlowCache", "RunPlan"]

REASONS = {
    "cached": "cached", "code": "code changed", "input": "input {} changed",
    "parameter": "parameter {} changed", "missing": "not in cache", "forced": "forced",
}


def describe(reason: str | None, detail: str | None = None) -> str:
    """Human words for a reason: ``describe("input", "x") == "input x changed"``."""
    if reason is None:
        return ""
    return REASONS[reason].format(detail)


def _hash(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def slug_tag(slug: str) -> str:
    """A short file-name-safe tag of a task slug; every key of that task starts with it."""
    return hashlib.sha256(slug.encode()).hexdigest()[:10]


class FlowCache:
    """Results and key history of one flow name."""

    def __init__(self, store: ResultStore | None = None) -> None:
        self.store = store or ResultStore()
        self.previous: dict[str, dict] = {}  # slug -> components of its last key
        self.keys: dict[str, str] = {}  # slug -> last key

    def plan(self, flow: Any, parameters: dict | None = None, force: Iterable[Any] = ()) -> "RunPlan":
        """Keys and reasons for one run of ``flow``; pass it as ``flow.run(cache=...)``."""
        return RunPlan(self, flow, parameters or {}, set(force))

    def clear(self, slugs: Iterable[str] | None = None) -> int:
        """Drop the entries of these task slugs (all when None); returns how many went."""
        if slugs is None:
            self.previous.clear()
            self.keys.clear()
            return self.store.drop()
        slugs = set(slugs)
        prefixes = tuple(f"{slug_tag(slug)}." for slug in slugs)
        targets = [k for k in self.store.keys(include_disk=True) if k.startswith(prefixes)]
        for slug in slugs:
            self.previous.pop(slug, None)
            self.keys.pop(slug, None)
        return self.store.drop(targets)


class RunPlan:
    """The keys of one run; the flow runner calls ``lookup``, ``save`` and ``finish``."""

    def __init__(self, cache: FlowCache, flow: Any, parameters: dict, force: set) -> None:
        self.cache = cache
        self.flow = flow
        self.force = force
        self.keys: dict[Any, str | None] = {}
        self.parts: dict[Any, dict] = {}
        self.reasons: dict[tuple, tuple[str, str | None]] = {}
        hasher = _Hasher()
        for task in flow.sorted_tasks():
            self.parts[task] = parts = self._parts(flow, task, parameters, hasher)
            complete = all(v is not None for v in parts.values())
            self.keys[task] = f"{slug_tag(task.slug)}.{_hash(sorted(parts.items()))}" if complete else None

    def _parts(self, flow: Any, task: Any, parameters: dict, hasher: _Hasher) -> dict:
        if isinstance(task, Parameter):
            value = parameters.get(task.name, task.default)
            return {"parameter": token(value)}
        parts: dict[str, Any] = {"code": task_fingerprint(task, hasher)}
        for edge in flow._up[task]:
            name = edge.key if edge.key is not None else f"<after {edge.upstream_task.slug}>"
            key = self.keys[edge.upstream_task]
            parts[f"input:{name}"] = None if key is None else f"{key}:{edge.mapped}:{edge.flattened}"
        for name, value in flow.constants.get(task, {}).items():
            parts[f"input:{name}"] = token(value)
        return parts

    def key(self, task: Any, index: int | None) -> str | None:
        key = self.keys.get(task)
        return key if key is None or index is None else f"{key}-{index}"

    # --- called by the flow runner ---------------------------------------------
    def lookup(self, task: Any, index: int | None) -> State | None:
        """A Cached state to use instead of running, or None to run."""
        where = (task.slug, index)
        if task in self.force:
            self.reasons[where] = ("forced", None)
            return None
        key = self.key(task, index)
        if key is not None:
            found, value = self.cache.store.get(key)
            if found:
                self.reasons[where] = ("cached", None)
                state = Cached("Result reused from the notebook cache.", result=value)
                state.context.update(cache_reason="cached", cache_detail=None)
                return state
        self.reasons[where] = self._why(task)
        return None

    def save(self, task: Any, index: int | None, state: State) -> None:
        """Keep a successful result under its key."""
        key = self.key(task, index)
        if key is not None and isinstance(state, Success) and not isinstance(state, (Skipped, Mapped)):
            self.cache.store.put(key, state.result)

    def finish(self, flow_state: State) -> None:
        """Stamp each task state with why it ran, and remember this run's keys."""
        for task, state in (flow_state.result or {}).items() if isinstance(flow_state.result, dict) else ():
            if type(state) is Mapped:
                for i, child in enumerate(state.map_states):
                    if child is not None:
                        self._stamp(child, self.reasons.get((task.slug, i)))
                child_reasons = [self.reasons.get((task.slug, i)) for i in range(len(state.map_states))]
                cached = bool(child_reasons) and all(r and r[0] == "cached" for r in child_reasons)
                self._stamp(state, ("cached", None) if cached else self._why(task))
            else:
                self._stamp(state, self.reasons.get((task.slug, None)))
        for task, parts in self.parts.items():
            if self.keys[task] is not None:
                self.cache.previous[task.slug] = parts
                self.cache.keys[task.slug] = self.keys[task]

    @staticmethod
    def _stamp(state: State, reason: tuple | None) -> None:
        if reason is not None:
            state.context["cache_reason"], state.context["cache_detail"] = reason

    def _why(self, task: Any) -> tuple[str, str | None]:
        """Why this task is not a hit: what changed since its last key."""
        if task in self.force:
            return ("forced", None)
        before = self.cache.previous.get(task.slug)
        now = self.parts[task]
        if before is None:
            return ("missing", None)
        if isinstance(task, Parameter):
            return ("parameter", task.name) if before != now else ("missing", None)
        if now.get("code") is None or before.get("code") != now.get("code"):
            return ("code", None)
        for name in sorted(set(now) | set(before)):
            if name.startswith("input:") and (now.get(name) is None or now.get(name) != before.get(name)):
                return self._input_reason(task, name[len("input:"):])
        return ("missing", None)

    def _input_reason(self, task: Any, name: str) -> tuple[str, str]:
        for edge in self.flow._up[task]:
            if edge.key == name and isinstance(edge.upstream_task, Parameter):
                return ("parameter", edge.upstream_task.name)
        return ("input", name)

