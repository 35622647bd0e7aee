"""The notebook cache: content keys per task run, so only what an edit affects runs again.

A task run's key has two halves. The first, known before anything runs
(``RunPlan.keys``), hashes the task's code fingerprint, the tokens of its
constant inputs and the values of the parameters it reads. The second names
the exact values its upstream tasks handed it: each result is stored as a
snapshot with a content id (see :mod:`perfect_nb.cache.store`), and a task's
key lists the content ids of its inputs. So a result is reused only with the
very inputs it was computed from: an upstream task re-run on its own
(``%perfect_rerun --only``), cleared, or evicted and computed again with another
outcome gives its downstream tasks new keys, while an upstream edit that gives
the same value again leaves them hits. Upstream data is never hashed again to
key them (its id was taken once, when it was stored). A mapped child's key is
its parent's plus its index, and the ids of the items it is given.

A hit needs every upstream task to have succeeded with a result, and the
task's trigger to pass on those states, as it would for a run; otherwise the
task goes to the task runner like any other (a failed upstream gives
TriggerFailed, never an old result).

What the cache cannot see — files, the environment, the clock, randomness,
names looked up at run time — is the task's to declare: a task marked
``cache_validator=never_use`` is never reused (reason ``volatile``); its
downstream tasks still are, when it hands them the same value again. A task
whose code cannot be fingerprinted (it reads ``globals()[...]``, say) is
treated the same way, with a warning that says so.

``FlowCache`` holds the results of one flow (one notebook cell) and remembers
what each task's key was made of last time, to say *why* a task ran:
``cached``, ``code``, ``input``, ``parameter``, ``missing``, ``forced``,
``volatile`` or ``held`` (not run: ``--only`` re-ran an upstream task).

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

import collections
import copy
import hashlib
import logging
from typing import Any, Iterable

from perfect_nb.cache.fingerprint import _Hasher, task_fingerprint
from perfect_nb.cache.store import ResultStore, freeze, thaw
from perfect_nb.core.parameter import Parameter
from perfect_nb.engine.signals import PrefectStateSignal
from perfect_nb.engine.state import Cached, Failed, Mapped, Skipped, State, Success
from perfect_nb.engine.tokenize import token

__all__ = ["FlowCache", "RunPlan"]

logger = logging.getLogger("perfect_nb.cache")

REASONS = {
    "cached": "cached", "code": "code changed", "input": "input {} changed",
    "parameter": "parameter {} changed", "missing": "not in cache", "forced": "forced",
    "volatile": "not cacheable: {}", "held": "not run (--only): {}",
}
NEVER_USE = "marked cache_validator=never_use"
_WARNED: set[tuple[str, str]] = set()


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


def content(state: State) -> str | None:
    """The content id of the value ``state`` hands downstream; None if it hands none
    (not a success, skipped, or a result that was never given an id)."""
    if type(state) is Mapped:
        children = [None if child is None else content(child) for child in state.map_states]
        return None if None in children else _hash("mapped", children)
    if isinstance(state, Success) and not isinstance(state, Skipped):
        return state.context.get("cache_content")
    return None


def _never_use(task: Any) -> bool:
    from perfect_nb.engine.cache_validators import never_use

    return task.cache_validator is never_use and getattr(task, "_cache_validator_given", True)


class FlowCache:
    """Results and key history of one flow name."""

    def __init__(self, store: ResultStore | None = None) -> None:
        self.store = store or ResultStore()
        self.previous: dict[str, dict] = {}  # slug -> components of its last key
        self.previous_inputs: dict[tuple, dict] = {}  # (slug, map index) -> content ids of its last inputs
        self.keys: dict[str, str] = {}  # slug -> last key (first half)

    def plan(self, flow: Any, parameters: dict | None = None, force: Iterable[Any] = (), hold: Iterable[Any] = ()) -> "RunPlan":
        """Keys and reasons for one run of ``flow``; pass it as ``flow.run(cache=...)``.

        ``force``: tasks to run whatever the cache holds. ``hold``: tasks not to run in this
        run (``%perfect_rerun --only``): a held task is reused on a hit and otherwise ends
        Skipped, saying why, unless its trigger fails (then it fails, as in any run).
        """
        return RunPlan(self, flow, parameters or {}, set(force), set(hold))

    def clear(self, slugs: Iterable[str] | None = None) -> int:
        """Drop the entries of these task slugs (all when None); returns how many went."""
        if slugs is None:
            self.previous.clear()
            self.previous_inputs.clear()
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

    def __init__(self, cache: FlowCache, flow: Any, parameters: dict, force: set, hold: set = frozenset()) -> None:
        self.cache = cache
        self.flow = flow
        self.force = force
        self.hold = hold - force
        self.keys: dict[Any, str | None] = {}
        self.parts: dict[Any, dict] = {}
        self.volatile: dict[Any, str] = {}  # task -> why it is never reused
        self.store_keys: dict[tuple, str | None] = {}  # (slug, index) -> the full key it was looked up under
        self.inputs: dict[tuple, dict] = {}  # (slug, index) -> content ids of its inputs
        self.reasons: dict[tuple, tuple[str, str | None]] = {}
        self.shared = _shared(flow)  # task -> its result is handed to more than one task run
        self._blobs: dict[str, bytes] = {}  # snapshots of handed-on results that are not stored
        self._copies: dict[str, Any] = {}  # content id -> the one copy this run's hits hand out
        self._uses: collections.Counter[str] = collections.Counter()  # content id -> hits holding that copy
        self.settled: set[tuple] = set()  # (slug, index) that ended with a result: a hit or a success
        hasher = _Hasher()
        for task in flow.sorted_tasks():
            noted = len(hasher.notes)
            self.parts[task] = parts = self._parts(flow, task, parameters, hasher)
            if not isinstance(task, Parameter) and (parts["code"] is None or _never_use(task)):
                self.volatile[task] = NEVER_USE if _never_use(task) else (hasher.notes[noted:] or ["its code has no fingerprint"])[0]
                parts["code"] = None
                if self.volatile[task] != NEVER_USE:
                    _warn(task, self.volatile[task])
            complete = all(v is not None for v in parts.values())
            self.keys[task] = f"{slug_tag(task.slug)}.{_hash(sorted(parts.items()))}" if complete else None

    def _parts(self, flow: Any, task: Any, parameters: dict, hasher: _Hasher) -> dict:
        if isinstance(task, Parameter):
            value = parameters.get(task.name, task.default)
            return {"parameter": token(value)}
        parts: dict[str, Any] = {"code": task_fingerprint(task, hasher)}
        for edge in flow._up[task]:  # what an upstream task hands over is named by its content id, in lookup
            up = edge.upstream_task
            value = self.parts[up]["parameter"] if isinstance(up, Parameter) else "task"
            parts[f"input:{_edge_name(edge)}"] = None if value is None else f"{value}:{edge.mapped}:{edge.flattened}"
        for name, value in flow.constants.get(task, {}).items():
            parts[f"input:{name}"] = token(value)
        return parts

    def key(self, task: Any, index: int | None) -> str | None:
        """The first half of a task run's key (known before the run)."""
        key = self.keys.get(task)
        return key if key is None or index is None else f"{key}-{index}"

    # --- called by the flow runner ---------------------------------------------
    def lookup(self, task: Any, index: int | None, upstream: dict | None = None) -> State | None:
        """A state to use instead of running (Cached, or Skipped for a held task), or None to run.

        ``upstream`` maps each incoming edge to the upstream state the task would be given.
        When the task is to run, an upstream value that something else holds too is
        replaced, in ``upstream``, by a copy of its own (made from the stored snapshot):
        a task that changes an input in place changes only its copy, so what every other
        task gets is the same whatever runs first and whether it ran or came from the cache.
        """
        found = self._lookup(task, index, upstream if upstream is not None else {})
        if found is None and upstream:
            self._private_inputs(task, upstream)
        return found

    def _lookup(self, task: Any, index: int | None, upstream: dict) -> State | None:
        where = (task.slug, index)
        inputs = {f"input:{_edge_name(edge)}": content(state) for edge, state in upstream.items()}
        self.inputs[where] = inputs
        first = self.key(task, index)
        usable = first is not None and None not in inputs.values()
        self.store_keys[where] = f"{first}.{_hash(sorted(inputs.items()))}" if usable else None
        if task in self.force:
            self.reasons[where] = ("forced", None)
            return None
        if usable and _trigger_passes(task, upstream):
            found, value, cid = self.cache.store.fetch(self.store_keys[where], self._copies)
            if found:
                self.reasons[where] = ("cached", None)
                state = Cached("Result reused from the notebook cache.", result=value)
                state.context.update(cache_reason="cached", cache_detail=None, cache_content=cid)
                self._uses[cid] += 1
                self.settled.add(where)
                return state
        if None not in inputs.values():  # else an upstream task gave no value: the task runner decides
            self.reasons[where] = self._why(task, where)
        return self._held(task, where, upstream) if task in self.hold else None

    def _held(self, task: Any, where: tuple, upstream: dict) -> State | None:
        """A held task that would run: Skipped with the reason, unless its trigger fails (None: the runner fails it)."""
        from perfect_nb.engine.triggers import all_successful

        try:
            if not (task.trigger or all_successful)(upstream):
                return None
        except (Exception, PrefectStateSignal):
            return None
        why = describe(*self.reasons.get(where, ("missing", None)))
        if any(isinstance(s, Skipped) for s in upstream.values()):
            why = "an upstream task was not run"
        self.reasons[where] = ("held", why)
        state = Skipped(f"Not run: only the task asked for was re-run (--only), and here {why}. Run the cell again to update it.", result=None)
        state.context.update(cache_reason="held", cache_detail=why)
        return state

    def save(self, task: Any, index: int | None, state: State) -> None:
        """Keep a successful result under its key and give the state its content id."""
        key = self.store_keys.get((task.slug, index))
        if isinstance(state, Failed) and key is not None and task in self.force:
            self.cache.store.drop([key])  # asked to run again, it failed: the old result no longer stands
        if not isinstance(state, Success) or isinstance(state, (Skipped, Mapped)):
            return
        self.settled.add((task.slug, index))
        if key is not None and task not in self.volatile:
            state.context["cache_content"] = self.cache.store.put(key, state.result)
        else:
            blob, state.context["cache_content"] = freeze(state.result)
            if blob is not None and self.shared.get(task):
                self._blobs[state.context["cache_content"]] = blob

    # --- private copies of shared inputs -----------------------------------------
    def _private_inputs(self, task: Any, upstream: dict) -> None:
        """Give the task its own copy of each input that something else holds too: a value
        handed to several task runs, or one copy shared by several hits of this run. An
        input it alone holds is handed as it is (no copy): a fresh run would do the same."""
        copies: dict[int, State] = {}  # one copy per upstream state: two edges from one task share it
        for edge, state in upstream.items():
            if edge.key is None:
                continue
            if id(state) not in copies:
                if self.shared.get(edge.upstream_task) or self._held_by_others(state):
                    copies[id(state)] = self._copy(state)
                else:
                    self._release(state)
                    copies[id(state)] = state
            upstream[edge] = copies[id(state)]

    def _hit_copy(self, state: State) -> str | None:
        """The content id under which ``state``'s value is this run's shared hit copy, if it is."""
        cid = state.context.get("cache_content")
        if cid is None:
            return None
        base = cid.split("[", 1)[0]  # a map item names its source's id: c[i]
        return base if base in self._copies else None

    def _held_by_others(self, state: State) -> bool:
        if type(state) is Mapped:
            return any(child is not None and self._held_by_others(child) for child in state.map_states)
        cid = self._hit_copy(state)
        return cid is not None and self._uses[cid] > 1

    def _release(self, state: State) -> None:
        """The task may change this hit copy: later hits of the same value get a new one."""
        for child in state.map_states if type(state) is Mapped else (state,):
            cid = None if child is None else self._hit_copy(child)
            if cid is not None:
                del self._copies[cid]
                self._uses[cid] = 0

    def _copy(self, state: State) -> State:
        if type(state) is Mapped:
            new = copy.copy(state)
            new.map_states = [None if child is None else self._copy(child) for child in state.map_states]
            return new
        if not isinstance(state, Success) or _immutable(state.result):
            return state
        cid = state.context.get("cache_content")
        blob = self.cache.store.blob(cid) if cid is not None else None
        blob = blob if blob is not None else self._blobs.get(cid)
        try:
            value = thaw(blob if blob is not None else freeze(state.result)[0])
        except Exception:  # cannot be copied: handed as it is
            return state
        new = copy.copy(state)
        new.result = value
        return new

    def finish(self, flow_state: State) -> None:
        """Stamp each task state with why it ran, and remember this run's keys."""
        for task, state in (flow_state.result or {}).items() if isinstance(flow_state.result, dict) else ():
            if type(state) is Mapped:
                for i, child in enumerate(state.map_states):
                    if child is not None:
                        self._stamp(child, self.reasons.get((task.slug, i)))
                child_reasons = [self.reasons.get((task.slug, i)) for i in range(len(state.map_states))]
                cached = bool(child_reasons) and all(r and r[0] == "cached" for r in child_reasons)
                ran = [r for r in child_reasons if r and r[0] != "cached"]
                self._stamp(state, ("cached", None) if cached else (ran[0] if ran else self._why(task, (task.slug, None))))
            else:
                self._stamp(state, self.reasons.get((task.slug, None)))
        for task, parts in self.parts.items():
            if self.keys[task] is not None:
                self.cache.previous[task.slug] = parts
                self.cache.keys[task.slug] = self.keys[task]
        for where, inputs in self.inputs.items():  # what the results now held were computed from
            if where in self.settled and None not in inputs.values():
                self.cache.previous_inputs[where] = inputs
        self._blobs.clear()
        self._copies.clear()

    @staticmethod
    def _stamp(state: State, reason: tuple | None) -> None:
        if reason is not None:
            state.context["cache_reason"], state.context["cache_detail"] = reason

    def _why(self, task: Any, where: tuple) -> tuple[str, str | None]:
        """Why this task run is not a hit: what changed since its last key."""
        if task in self.force:
            return ("forced", None)
        if task in self.volatile:
            return ("volatile", self.volatile[task])
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
        inputs_before = self.cache.previous_inputs.get(where)
        inputs_now = self.inputs.get(where, {})
        if inputs_before is not None:
            for name in sorted(inputs_now):
                if inputs_now[name] != inputs_before.get(name):
                    return self._input_reason(task, name[len("input:"):])
        return ("missing", None)

    def _input_reason(self, task: Any, name: str) -> tuple[str, str]:
        for edge in self.flow._up[task]:
            if edge.key == name and isinstance(edge.upstream_task, Parameter):
                return ("parameter", edge.upstream_task.name)
        return ("input", name)


def _immutable(value: Any, depth: int = 2) -> bool:
    if isinstance(value, (type(None), bool, int, float, complex, str, bytes, range)):
        return True
    if depth and type(value) in (tuple, frozenset) and len(value) <= 64:
        return all(_immutable(v, depth - 1) for v in value)
    return False


def _shared(flow: Any) -> dict:
    """Tasks whose result is handed to more than one task run (several downstream tasks,
    or every child of a mapped task): each of those runs gets its own copy."""
    shared = {}
    for task, edges in flow._down.items():
        data = [e for e in edges if e.key is not None]
        consumers = {e.downstream_task for e in data}
        whole_to_children = any(not e.mapped and any(d.mapped for d in flow._up[e.downstream_task]) for e in data)
        shared[task] = len(consumers) > 1 or whole_to_children
    return shared


def _edge_name(edge: Any) -> str:
    return edge.key if edge.key is not None else f"<after {edge.upstream_task.slug}>"


def _trigger_passes(task: Any, upstream: dict) -> bool:
    """A task's own trigger, asked of a hit as of a run (the default passes when every upstream succeeded)."""
    if task.trigger is None or not upstream:
        return True
    try:
        return bool(task.trigger(upstream))
    except (Exception, PrefectStateSignal):  # a signal (TRIGGERFAIL, SKIP, PAUSE) or an error: the task runner applies it
        return False


def _warn(task: Any, why: str) -> None:
    """Say once per task and reason that a task is never reused, and how to mark it."""
    if (task.name, why) in _WARNED:
        return
    _WARNED.add((task.name, why))
    logger.warning(
        "Task %r is not cached: %s. It runs every time its cell runs. Pass what it reads as an "
        "argument so the cache can see it, or mark the task @task(cache_validator=never_use) "
        "(from perfect_nb.engine.cache_validators) to say it must always run.", task.name, why,
    )
