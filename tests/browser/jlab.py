"""Drive JupyterLab in Chromium: a server on 127.0.0.1 and a page that opens and runs notebooks.

The recipe is the one in ../shared/TESTING.md (verified on these machines): an isolated
JupyterLab on a free port with a random token, Debian's Chromium launched by Playwright,
run-all retried when the kernel did not take it, and the DAG's ``g.node`` fills polled
in the page every 100 ms so that no intermediate colour is missed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from perfect_nb.notebook.lab_settings import OVERRIDES as LAB_SETTINGS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
LOCAL_HOST = "127.0.0.1"

# Settings overrides: no news/update toasts over screenshots; every cell kept in the DOM
# (no windowing), so cells and their outputs can be found wherever they are scrolled.
# Plus the settings `make lab` and Binder install (perfect_nb.notebook.lab_settings).
OVERRIDES = {
    **LAB_SETTINGS,
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}

# Fill colours of the states the tests look for (Prefect 1's palette, perfect_nb.viz.colors).
COLOR_NAMES = {
    "#ffffff": "Pending", "#7ebdff": "Pending", "#3d67ff": "Running", "#28a745": "Success",
    "#34d058": "Cached", "#eb0000": "Failed", "#f66a0a": "Retrying", "#ff5131": "TriggerFailed",
    "#62757f": "Skipped", "#bdbdbd": "Cancelled",
}


def skip_without_browser() -> None:
    """Skip the calling test module (at collection) unless Chromium and Playwright are installed."""
    import pytest

    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)", allow_module_level=True)
    pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package: pip install -e '.[dev]'")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL_HOST, 0))
        return sock.getsockname()[1]


class LabServer:
    """``python -m jupyterlab`` serving ``root``; started by ``start()``, stopped by PID."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.home = root, home
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://{LOCAL_HOST}:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = home / "jupyterlab.log"

    def start(self, timeout: float = 60) -> "LabServer":
        settings = self.home / "app-settings"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
        env = dict(os.environ)
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
            path = self.home / name.lower()
            path.mkdir(exist_ok=True)
            env[name] = str(path)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("JUPYTER_PATH", None)
        args = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--ip={LOCAL_HOST}",
            f"--port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True", f"--LabApp.app_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
        ]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if self.api("GET", "/api/status") is not None:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"JupyterLab not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def delete_sessions(self) -> None:
        """Shut down every kernel session (they outlive the page that started them)."""
        for session in self.api("GET", "/api/sessions"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(OSError, urllib.error.URLError):
            self.delete_sessions()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# --- in the page ---------------------------------------------------------------

# Marks the cell whose source contains `marker` with data-pnb-cell=`key`; returns whether found.
_MARK_CELL = """([marker, key]) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const cell = nb.widgets.find((c) => c.model.sharedModel.getSource().includes(marker));
  if (!cell) return false;
  cell.node.dataset.pnbCell = key;
  return true;
}"""

# Whether the current notebook's kernel is connected and idle, as the UI shows it.
_KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle' || kernel.connectionStatus !== 'connected') return false;
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const bar = document.querySelector('#jp-main-statusbar');
  return (!indicator || indicator.dataset.status === 'idle') && !!bar && bar.textContent.includes('Idle');
}"""

# Whether every anywidget model saved in the notebook's metadata has injected its CSS.
_SAVED_WIDGETS_RESTORED = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const saved = (nb.model.getMetadata('widgets') || {})['application/vnd.jupyter.widget-state+json'];
  const ids = Object.values((saved && saved.state) || {})
    .filter((m) => m.model_name === 'AnyModel' && m.state && m.state._css)
    .map((m) => m.state._anywidget_id);
  return ids.every((id) => document.getElementById(id));
}"""

# Execution progress of the code cells: how many ran, how many wait or run now.
_PROGRESS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const code = nb.widgets.filter((c) => c.model.type === 'code');
  const busy = code.filter((c) => (c.promptNode && c.promptNode.textContent.includes('*'))).length;
  const done = code.filter((c) => c.model.executionCount !== null).length;
  const errors = code.flatMap((c) => c.model.outputs.toJSON().filter((o) => o.output_type === 'error')
    .map((o) => `${o.ename}: ${o.evalue} (in the cell starting ${JSON.stringify(c.model.sharedModel.getSource().slice(0, 40))})`));
  return {total: code.length, busy, done, errors};
}"""

# Every ~100 ms, record the fills of the DAG's task nodes in the marked cell when they change.
_RECORD = """(key) => {
  const fillOf = (node) => {
    for (const shape of node.querySelectorAll('polygon, ellipse, path, rect')) {
      const fill = shape.getAttribute('fill');
      if (fill && fill !== 'none' && fill !== 'transparent') return fill.toLowerCase();
    }
    return null;
  };
  const rec = window.__pnbRecords = window.__pnbRecords || {};
  if (rec[key]) clearInterval(rec[key].timer);
  const state = rec[key] = {snaps: [], last: null, t0: performance.now()};
  const tick = () => {
    const cell = document.querySelector(`[data-pnb-cell="${key}"]`);
    const nodes = cell ? cell.querySelectorAll('.pnb-dag g.node.pnb-task') : [];
    const fills = {};
    for (const node of nodes) fills[node.dataset.slug] = fillOf(node);
    const text = JSON.stringify(fills);
    if (text !== state.last) {
      state.last = text;
      state.snaps.push({t: Math.round(performance.now() - state.t0), fills});
    }
  };
  tick();
  state.timer = setInterval(tick, 100);
}"""


# Whether an element lies wholly inside the window (JupyterLab scrolls inside its own panels).
_INSIDE_VIEWPORT = """(el) => {
  el.scrollIntoView({block: 'center'});
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
}"""


# Give an element a white margin for its screenshot (on), or take it away (off).
_PAD = """(el, on) => {
  el.style.padding = on ? '10px' : '';
  el.style.boxSizing = on ? 'border-box' : '';
  el.style.background = on ? 'var(--jp-layout-color0, white)' : '';
}"""


@dataclass
class Timeline:
    """Snapshots of a DAG's node fills, each taken when they changed: [(ms, {slug: state name})]."""

    snaps: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    @classmethod
    def from_page(cls, raw: list[dict]) -> "Timeline":
        return cls([(s["t"], {slug: COLOR_NAMES.get(fill, fill) for slug, fill in s["fills"].items()}) for s in raw])

    @property
    def final(self) -> dict[str, str]:
        return self.snaps[-1][1] if self.snaps else {}

    def history(self, slug: str) -> list[str]:
        """The distinct states ``slug`` went through, in order."""
        seen: list[str] = []
        for _, states in self.snaps:
            state = states.get(slug)
            if state is not None and (not seen or seen[-1] != state):
                seen.append(state)
        return seen

    def first(self, slug: str, state: str) -> int | None:
        """Index of the first snapshot that shows ``slug`` in ``state``."""
        return next((i for i, (_, states) in enumerate(self.snaps) if states.get(slug) == state), None)

    def __str__(self) -> str:
        return "\n".join(f"{t:>6} ms  {states}" for t, states in self.snaps)


class NotebookPage:
    """One Playwright page on the server, recording requests and console errors."""

    def __init__(self, context: Any, server: LabServer, shots: Path) -> None:
        self.server, self.shots = server, shots
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = page = context.new_page()
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text} ({msg.location})"))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    # --- opening and running ---------------------------------------------------
    def open(self, path: str, timeout: float = 60) -> None:
        """Open notebook ``path`` in its own workspace and wait until its kernel is idle."""
        workspace = "w" + secrets.token_hex(4)
        url = f"{self.server.url}/lab/workspaces/{workspace}/tree/{urllib.parse.quote(path)}?token={self.server.token}"
        self.page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000, polling=100)
        # Widget models saved in the notebook are restored as it opens, each anywidget one
        # injecting its (maybe older) CSS: let that finish before the kernel makes new ones.
        self.page.wait_for_function(_SAVED_WIDGETS_RESTORED, timeout=timeout * 1000, polling=100)

    def mark_cell(self, marker: str, key: str) -> None:
        """Find the cell whose source contains ``marker``; it can then be located as ``cell(key)``."""
        if not self.page.evaluate(_MARK_CELL, [marker, key]):
            raise AssertionError(f"No cell contains {marker!r}.")

    def cell(self, key: str):
        return self.page.locator(f'[data-pnb-cell="{key}"]')

    def view(self, key: str):
        """The FlowView (the widget box holding the DAG) shown by cell ``key``."""
        return self.cell(key).locator(".jp-OutputArea-output:has(.pnb-dag) > .widget-vbox")

    def run_all(self, attempts: int = 3, started_within: float = 5) -> None:
        """Start "run all" (not awaited) and retry if no cell started within ``started_within`` s."""
        for _ in range(attempts):
            self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            deadline = time.monotonic() + started_within
            while time.monotonic() < deadline:
                progress = self.page.evaluate(_PROGRESS)
                if progress["busy"] or progress["done"]:
                    return
                self.page.wait_for_timeout(100)
        raise AssertionError(f"Run all did not start after {attempts} attempts.")

    def wait_all_run(self, timeout: float = 60) -> None:
        """Wait until every code cell has run and the kernel is idle; fail at once on a cell's error."""
        deadline = time.monotonic() + timeout
        while True:
            progress = self.page.evaluate(_PROGRESS)
            if progress["errors"]:
                raise AssertionError("a notebook cell raised: " + "; ".join(progress["errors"]))
            if progress["busy"] == 0 and progress["done"] == progress["total"] and self.page.evaluate(_KERNEL_IDLE):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the notebook did not finish running within {timeout} s: {progress}")
            self.page.wait_for_timeout(100)

    # --- watching a DAG ------------------------------------------------------------
    def record(self, key: str) -> None:
        """Start recording the node fills of the DAG in cell ``key`` (every 100 ms, on change)."""
        self.page.evaluate(_RECORD, key)

    def timeline(self, key: str) -> Timeline:
        return Timeline.from_page(self.page.evaluate("(key) => window.__pnbRecords[key].snaps", key))

    def wait_for(self, key: str, predicate: Callable[[Timeline], bool], timeout: float = 60, what: str = "") -> Timeline:
        """Poll the recording of ``key`` until ``predicate(timeline)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            timeline = self.timeline(key)
            if predicate(timeline):
                return timeline
            if time.monotonic() > deadline:
                raise AssertionError(f"Timed out after {timeout} s waiting for {what or predicate}; node fills seen:\n{timeline}")
            self.page.wait_for_timeout(100)

    # --- evidence ----------------------------------------------------------------------
    def screenshot(self, name: str, locator: Any = None) -> Path:
        """Save a PNG of the page, or of ``locator`` (the window grows to fit it, then shrinks back)."""
        path = self.shots / f"{name}.png"
        if locator is None:
            self.page.screenshot(path=str(path), animations="disabled")
            return path
        size = self.page.viewport_size
        box = locator.bounding_box()
        if box["height"] + 250 > size["height"]:
            self.page.set_viewport_size({"width": size["width"], "height": min(int(box["height"]) + 250, 6000)})
        try:
            locator.scroll_into_view_if_needed()
            self.page.wait_for_function(_INSIDE_VIEWPORT, arg=locator.element_handle(), polling=100, timeout=10_000)
            locator.evaluate(_PAD, True)  # a white margin, as a person would crop it
            box = locator.bounding_box()  # 1 px inside it: no neighbour shows through a rounded edge
            clip = {"x": box["x"] + 1, "y": box["y"] + 1, "width": box["width"] - 2, "height": box["height"] - 2}
            self.page.screenshot(path=str(path), clip=clip, animations="disabled")
        finally:
            locator.evaluate(_PAD, False)
            self.page.set_viewport_size(size)
        return path

    def external_requests(self) -> list[str]:
        """Requested URLs that would leave 127.0.0.1 (data:, blob: and about: stay in the page)."""
        out = []
        for url in self.requests:
            parsed = urllib.parse.urlsplit(url)
            if parsed.scheme in ("data", "blob", "about") or parsed.hostname == LOCAL_HOST:
                continue
            out.append(url)
        return out

    def assert_offline_and_quiet(self) -> None:
        """No request left 127.0.0.1 and the browser console showed no error."""
        assert self.requests, "no request was recorded at all: the recorder is broken"
        assert not self.external_requests(), f"requests left {LOCAL_HOST}: {self.external_requests()}"
        assert not self.errors, "browser console errors:\n" + "\n".join(self.errors)


def copy_notebooks(source: Path, target: Path) -> Path:
    """A temporary copy of ``source`` (JupyterLab autosaves what it opens)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".perfect_cache"))
    return target


# Whether the current notebook has unsaved changes (JupyterLab's dot on the tab).
DIRTY = "() => window.jupyterapp.shell.currentWidget.context.model.dirty"

# What the marked cell's outputs show: their text, and the pictures (img) with their size once loaded.
CELL_OUTPUT = """(key) => {
  const cell = document.querySelector(`[data-pnb-cell="${key}"]`);
  const area = cell.querySelector('.jp-OutputArea');
  const imgs = [...area.querySelectorAll('img')].map((i) => [i.complete ? i.naturalWidth : 0, i.getBoundingClientRect().height]);
  return {text: area.innerText, imgs};
}"""
