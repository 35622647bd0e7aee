"""DOT -> SVG with both renderers: structure, errors and recovery, size, threads, selection."""

import doctest
import random
import shutil
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from perfect_nb.errors import PerfectError
from perfect_nb.viz import render
from perfect_nb.viz.render import RenderError, RendererUnavailable, render_svg, renderer_name

RENDERERS = [
    pytest.param(
        "dot",
        marks=pytest.mark.skipif(not shutil.which("dot"), reason="system graphviz not installed"),
    ),
    "wasm",
]
SVG = "{http://www.w3.org/2000/svg}"
SMALL = """digraph etl {
  node [style=filled];
  extract [fillcolor="#28a745"];
  transform [fillcolor="#eb0000"];
  load [fillcolor="#7ebdff"];
  extract -> transform -> load;
  extract -> load;
}"""
SMALL_FILLS = {"extract": "#28a745", "transform": "#eb0000", "load": "#7ebdff"}
BAD = ["digraph { a -> }", "digraph { a [color=", "this is not dot"]


def node_fills(svg: str) -> dict[str, str]:
    """``{title: fill}`` of every ``g.node``, the way the browser tests read the drawing."""
    fills = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") == "node":
            shapes = {f"{SVG}ellipse", f"{SVG}polygon", f"{SVG}path"}
            shape = next(el for el in group if el.tag in shapes)
            fills[group.find(f"{SVG}title").text] = shape.get("fill")
    return fills


def edge_count(svg: str) -> int:
    return sum(g.get("class") == "edge" for g in ET.fromstring(svg).iter(f"{SVG}g"))


def big_graph(n_nodes: int = 500, n_extra: int = 200, seed: int = 0) -> tuple[str, int]:
    """A layered-looking DAG: a random tree plus extra forward edges (~700 edges)."""
    rng = random.Random(seed)
    edges = {(rng.randrange(i), i) for i in range(1, n_nodes)}
    while len(edges) < n_nodes - 1 + n_extra:
        a = rng.randrange(n_nodes - 1)
        edges.add((a, rng.randrange(a + 1, n_nodes)))
    lines = ["digraph big {", "  node [shape=box style=filled];"]
    lines += [f'  t{i} [label="task {i}" fillcolor="#28a745"];' for i in range(n_nodes)]
    lines += [f"  t{a} -> t{b};" for a, b in sorted(edges)]
    return "\n".join([*lines, "}"]), len(edges)


def test_doctests():
    assert doctest.testmod(render).failed == 0


@pytest.mark.parametrize("renderer", RENDERERS)
def test_small_graph(renderer):
    svg = render_svg(SMALL, engine=renderer)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert node_fills(svg) == SMALL_FILLS
    assert edge_count(svg) == 3


@pytest.mark.parametrize("renderer", RENDERERS)
def test_syntax_error_raises_and_next_render_works(renderer):
    for bad in BAD:
        with pytest.raises(RenderError) as info:
            render_svg(bad, engine=renderer)
        assert isinstance(info.value, ValueError) and isinstance(info.value, PerfectError)
        assert info.value.renderer == renderer
        assert info.value.message and info.value.message in str(info.value)
        assert node_fills(render_svg(SMALL, engine=renderer)) == SMALL_FILLS


@pytest.mark.skipif(shutil.which("dot") is None, reason="system graphviz not installed")
def test_dot_error_carries_graphvizs_message():
    with pytest.raises(RenderError, match="syntax error in line 1"):
        render_svg("digraph { a -> }", engine="dot")


@pytest.mark.parametrize("renderer", RENDERERS)
def test_500_node_graph(renderer):
    source, n_edges = big_graph()
    render_svg("digraph { warm -> up }", engine=renderer)
    start = time.perf_counter()
    svg = render_svg(source, engine=renderer)
    print(f"{renderer}: 500 nodes, {n_edges} edges in {time.perf_counter() - start:.3f} s")
    assert len(node_fills(svg)) == 500
    assert set(node_fills(svg).values()) == {"#28a745"}
    assert edge_count(svg) == n_edges


@pytest.mark.parametrize("renderer", RENDERERS)
def test_threads_render_at_once(renderer):
    sources = {
        k: "digraph { " + " ".join(f't{k}_{i} -> t{k}_{i + 1};' for i in range(5 + k)) + " }"
        for k in range(4)
    }
    barrier, errors, results = threading.Barrier(4), [], {}

    def work(k):
        try:
            barrier.wait()
            results[k] = [render_svg(sources[k], engine=renderer) for _ in range(5)]
            with pytest.raises(RenderError):  # errors in between do not disturb the others
                render_svg(BAD[0], engine=renderer)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    for k, svgs in results.items():
        assert {frozenset(node_fills(svg)) for svg in svgs} == {
            frozenset(f"t{k}_{i}" for i in range(6 + k))
        }


def test_wasm_instance_is_reused_and_replaced_after_an_error():
    render_svg(SMALL, engine="wasm")
    first = render._WASM._session
    render_svg(SMALL, engine="wasm")
    assert render._WASM._session is first
    with pytest.raises(RenderError):
        render_svg(BAD[0], engine="wasm")
    assert render._WASM._session is None
    render_svg(SMALL, engine="wasm")
    assert render._WASM._session not in (None, first)


def test_wasm_any_failure_drops_the_instance(monkeypatch):
    render_svg(SMALL, engine="wasm")

    def boom(self, source):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(render._WasmSession, "render", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        render_svg(SMALL, engine="wasm")
    monkeypatch.undo()
    assert node_fills(render_svg(SMALL, engine="wasm")) == SMALL_FILLS


def test_environment_variable_forces_a_renderer(monkeypatch):
    monkeypatch.setenv("PERFECT_NB_RENDERER", "wasm")
    assert renderer_name() == "wasm"
    assert renderer_name("auto") in ("dot", "wasm")  # the argument wins
    monkeypatch.setenv("PERFECT_NB_RENDERER", "svg")
    with pytest.raises(ValueError, match="PERFECT_NB_RENDERER"):
        render_svg(SMALL)
    with pytest.raises(ValueError, match="unknown renderer 'cairo'"):
        renderer_name("cairo")


def test_forced_dot_without_dot_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("PERFECT_NB_RENDERER", raising=False)
    assert renderer_name() == "wasm"
    assert node_fills(render_svg(SMALL)) == SMALL_FILLS
    with pytest.raises(RendererUnavailable, match="install Graphviz"):
        render_svg(SMALL, engine="dot")
    monkeypatch.setenv("PERFECT_NB_RENDERER", "dot")
    with pytest.raises(RendererUnavailable, match="PERFECT_NB_RENDERER=wasm"):
        renderer_name()


def test_auto_prefers_the_system_dot(monkeypatch):
    monkeypatch.delenv("PERFECT_NB_RENDERER", raising=False)
    assert renderer_name() == ("dot" if shutil.which("dot") else "wasm")


def test_warm_up_builds_the_wasm_instance(monkeypatch):
    monkeypatch.setenv("PERFECT_NB_RENDERER", "wasm")
    render._WASM.close()
    thread = render.warm_up()
    thread.join(60)
    assert render._WASM._session is not None
    monkeypatch.setenv("PERFECT_NB_RENDERER", "dot")
    if shutil.which("dot"):
        assert render.warm_up() is None


def test_non_text_source_is_rejected():
    with pytest.raises(TypeError, match="str"):
        render_svg(b"digraph { a }", engine="wasm")


def test_render_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(RenderError("bad", "wasm")))
    assert (err.message, err.renderer) == ("bad", "wasm")
    assert str(err) == "Graphviz (wasm) could not render the DOT source: bad"
