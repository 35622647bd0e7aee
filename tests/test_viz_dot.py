"""Flow -> DOT -> SVG: labels, shapes, colours, mapped progress and stripes, legend,
determinism, escaping, both renderers, and the Jupyter repr of flow.visualize()."""

import doctest
import logging
import os
import pickle
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from perfect_nb import Flow, Parameter, task, unmapped
from perfect_nb.engine.state import Failed, Mapped, Pending, Running, Success
from perfect_nb.viz import dot as viz_dot
from perfect_nb.viz import render
from perfect_nb.viz.colors import STATE_COLORS
from perfect_nb.viz.dot import quote_id, svg, to_dot, visualize

HAS_DOT = shutil.which("dot") is not None
RENDERERS = [pytest.param("dot", marks=pytest.mark.skipif(not HAS_DOT, reason="system graphviz not installed")), "wasm"]
SVG = "{http://www.w3.org/2000/svg}"
GREEN, RED, ORANGE = STATE_COLORS["Success"], STATE_COLORS["Failed"], STATE_COLORS["TriggerFailed"]


@pytest.fixture(autouse=True)
def quiet_runs():
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


# --- flows ---------------------------------------------------------------------------
@task
def extract(n):
    return list(range(n))


@task
def transform(x):
    if x % 10 == 3:
        raise ValueError(f"bad item {x}")
    return x + 1


@task
def load(xs):
    return len(xs)


@task
def add(x, y=1):
    return x + y


def etl_flow(n_default=40):
    with Flow("etl") as flow:
        n = Parameter("n", default=n_default)
        rows = extract(n)
        out = transform.map(rows)
        load(out)
    return flow


def plain_flow():
    with Flow("plain") as flow:
        a = add(1, y=12345)  # 1 and 12345 are flow.constants, not nodes
        b = add(a)
        add(a, y=b)
    return flow


def node_lines(dot_text):
    return {m.group(1): m.group(0) for m in re.finditer(r'^  "([^"]*)" \[.*\]$', dot_text, re.M)}


def svg_nodes(svg_text):
    """``{title: [fills of its shapes]}`` of every ``g.node``, as the browser tests read it."""
    out = {}
    for group in ET.fromstring(svg_text).iter(f"{SVG}g"):
        if "node" in (group.get("class") or "").split():
            fills = [el.get("fill") for el in group if el.tag in (f"{SVG}ellipse", f"{SVG}polygon", f"{SVG}path")]
            out[group.find(f"{SVG}title").text] = [f for f in fills if f not in (None, "none")]
    return out


def svg_texts(svg_text):
    return [el.text for el in ET.fromstring(svg_text).iter(f"{SVG}text")]


def test_doctests():
    assert doctest.testmod(viz_dot).failed == 0


# --- DOT text ------------------------------------------------------------------------
def test_plain_flow():
    text = to_dot(plain_flow())
    assert text.startswith("digraph {\n") and text.endswith("}\n")
    nodes = node_lines(text)
    assert list(nodes) == ["add", "add-2", "add-3"]  # slugs, in sorted_tasks() order
    assert all('shape=ellipse' in line and "fillcolor" not in line for line in nodes.values())
    assert all('label="add"' in line for line in nodes.values())
    edges = re.findall(r"^  (.* -> .*)$", text, re.M)
    assert edges == ['"add" -> "add-2" [label="x"]', '"add" -> "add-3" [label="x"]', '"add-2" -> "add-3" [label="y"]']
    assert "12345" not in text and "cluster_legend" not in text  # constants and legend not drawn
    assert "rankdir=TB" in text and "rankdir=LR" in to_dot(plain_flow(), horizontal=True)


def test_upstream_only_edge_has_no_label():
    with Flow("order") as flow:
        first = add(1)
        add(2, upstream_tasks=[first])
    assert '"add" -> "add-2"\n' in to_dot(flow)


def test_parameters_drawn_distinctly():
    nodes = node_lines(to_dot(etl_flow()))
    assert "shape=parallelogram" in nodes["n"] and 'class="task parameter"' in nodes["n"]
    assert "shape=ellipse" in nodes["extract"] and "class=task" in nodes["extract"]
    assert "shape=box" in nodes["transform"] and 'class="task mapped"' in nodes["transform"]


def test_mapped_edges_dashed_without_states():
    text = to_dot(etl_flow())
    assert '"extract" -> "transform" [label="x" style=dashed]' in text
    assert '"transform" -> "load" [label="xs"]' in text
    assert 'label="transform"' in text  # no progress before a run


def test_mapped_constant_not_a_node():
    with Flow("consts") as flow:
        out = add.map([1, 2, 3], y=unmapped(5))
    assert [t.name for t in flow.sorted_tasks()] == ["Constant[list]", "add"]
    text = to_dot(flow)
    assert list(node_lines(text)) == ["add"] and "->" not in text
    assert 'label="add\\nx=[1, 2, 3]"' in text
    state = flow.run()
    expanded = to_dot(flow, state, expand_mapped=True)
    assert list(node_lines(expanded)) == ["add[0]", "add[1]", "add[2]"]
    assert 'label="add[1]\\nx=2"' in expanded
    assert state.result[out].map_states[1].result == 7


def test_failed_flow_colours():
    flow = etl_flow(4)
    state = flow.run()
    nodes = node_lines(to_dot(flow, state))
    assert f'fillcolor="{GREEN}" fontcolor="#000000"' in nodes["extract"]
    assert f'fillcolor="{GREEN};0.75:{RED};0.25"' in nodes["transform"]
    assert 'label="transform 3/4 ok"' in nodes["transform"] and "style=striped" in nodes["transform"]
    assert f'fillcolor="{ORANGE}"' in nodes["load"]  # TriggerFailed
    with Flow("boom") as flow:
        add(None)
    nodes = node_lines(to_dot(flow, flow.run()))
    assert f'style=filled fillcolor="{RED}" fontcolor="#ffffff"' in nodes["add"]


def test_mapped_progress_and_stripes():
    flow = etl_flow()
    state = flow.run()
    nodes = node_lines(to_dot(flow, state))
    assert 'label="transform 36/40 ok"' in nodes["transform"]
    assert f'style=striped fillcolor="{GREEN};0.9:{RED};0.1"' in nodes["transform"]
    # mid-run, given as slug -> child states: finished children / total
    children = ["Pending"] * 60 + ["Success"] * 700 + ["Running"] * 6 + ["Failed"] * 34 + [None] * 200
    nodes = node_lines(to_dot(flow, {"extract": "Success", "transform": children}))
    line = nodes["transform"]
    assert 'label="transform 734/1000"' in line
    fill = re.search(r'fillcolor="([^"]*)"', line).group(1)
    stripes = [s.split(";") for s in fill.split(":")]
    # a progress bar: finished states first (in legend order), then running, then no state
    assert [c for c, _ in stripes] == [GREEN, RED, STATE_COLORS["Running"], STATE_COLORS["Pending"], "#ffffff"]
    assert [float(p) for _, p in stripes] == [0.7, 0.034, 0.006, 0.06, 0.2]
    assert 'fillcolor="#ffffff"' in nodes["load"] and 'fillcolor="#ffffff"' in nodes["n"]  # no state yet


def test_stripe_shares_always_sum_to_one():
    for counts in ([1, 2], [1, 1, 1], [1, 998, 1], [1, 5000], [3, 3, 3, 3, 3, 3, 3]):
        children = [name for name, n in zip(["Success", "Failed", "Running", "Pending", "Cached", "Skipped", "Retrying"], counts) for _ in range(n)]
        mapped = Mapped(map_states=[getattr(sys.modules["perfect_nb.engine.state"], c)() for c in children])
        line = node_lines(to_dot(etl_flow(), {"transform": mapped}))["transform"]
        shares = [int(round(float(s.split(";")[1]) * 1000)) for s in re.search(r'fillcolor="([^"]*)"', line).group(1).split(":")]
        assert sum(shares) == 1000 and min(shares) >= 1 and len(shares) == len(counts)


def test_mapped_with_no_children_and_unmapped_parent_states():
    nodes = node_lines(to_dot(etl_flow(), {"transform": Mapped(map_states=[])}))
    assert 'label="transform 0/0"' in nodes["transform"] and f'fillcolor="{STATE_COLORS["Mapped"]}"' in nodes["transform"]
    nodes = node_lines(to_dot(etl_flow(), {"transform": Running()}))
    assert 'label="transform"' in nodes["transform"] and f'fillcolor="{STATE_COLORS["Running"]}"' in nodes["transform"]


def test_live_svg_mapped_node_says_it_maps_until_its_children_are_known():
    """The live view (notebook, run page) keeps a second line on a mapped node for "k/n";
    before any child is known (a flow's page, a run not yet there) it says "mapped"."""
    from collections import Counter

    from perfect_nb.viz.live import LiveSvg

    live = LiveSvg(etl_flow())

    def second_line(svg):
        node = re.search(r'<g id="[^"]*" class="node[^"]*">\s*<title>transform</title>(.*?)</g>', svg, re.S).group(1)
        return re.findall(r"<text[^>]*>([^<]*)</text>", node)[-1]

    assert second_line(live.render()) == "mapped"
    assert second_line(live.render({"transform": "Running"})) == "mapped"
    assert second_line(live.render({"transform": "Mapped"}, {"transform": Counter({"Success": 3, "Running": 1})})) == "3/4"
    assert second_line(live.render({"transform": "Mapped"}, {})) == "0/0"


def test_expand_mapped():
    with Flow("chain") as flow:
        rows = extract(3)
        first = add.map(rows)
        second = add.map(first)
        load(second)
    state = flow.run()
    text = to_dot(flow, state, expand_mapped=True)
    assert list(node_lines(text)) == ["extract", "add[0]", "add[1]", "add[2]", "add-2[0]", "add-2[1]", "add-2[2]", "load"]
    edges = re.findall(r'^  "(.*)" -> "(.*)" \[label="(\w+)"', text, re.M)
    assert edges[:3] == [("extract", "add[0]", "x"), ("extract", "add[1]", "x"), ("extract", "add[2]", "x")]
    assert edges[3:6] == [("add[0]", "add-2[0]", "x"), ("add[1]", "add-2[1]", "x"), ("add[2]", "add-2[2]", "x")]  # zipped
    assert edges[6:] == [("add-2[0]", "load", "xs"), ("add-2[1]", "load", "xs"), ("add-2[2]", "load", "xs")]
    assert to_dot(flow, state) == to_dot(flow, state, expand_mapped=False)
    assert to_dot(flow, expand_mapped=True) == to_dot(flow)  # nothing to expand without states


def test_states_by_slug_and_name():
    flow = etl_flow()
    by_task = to_dot(flow, {t: Success() for t in flow.tasks})
    by_slug = to_dot(flow, {t.slug: "Success" for t in flow.tasks})
    assert by_task == by_slug
    nodes = node_lines(to_dot(flow, {"load": "NoSuchState", "extract": Pending(), "ghost": "Failed"}))
    assert f'fillcolor="{STATE_COLORS["State"]}"' in nodes["load"]  # unknown name: drawn, not raised
    with pytest.raises(TypeError, match="states must be a dict"):
        to_dot(flow, ["Success"])


def test_flow_state_without_results_colours_nothing():
    nodes = node_lines(to_dot(etl_flow(), Failed("could not start")))
    assert all('fillcolor="#ffffff"' in line for line in nodes.values())


def test_deterministic():
    assert to_dot(etl_flow()) == to_dot(etl_flow())
    assert to_dot(plain_flow()) == to_dot(plain_flow())
    first, second = etl_flow(), etl_flow()
    assert to_dot(first, first.run()) == to_dot(second, second.run())
    assert to_dot(first, first.run(), expand_mapped=True) == to_dot(second, second.run(), expand_mapped=True)


def test_legend():
    flow = etl_flow(4)
    text = to_dot(flow, flow.run())
    legend = text[text.index("subgraph cluster_legend"):]
    assert re.findall(r'^    "legend:(\w+)" \[label="\1" .* fillcolor="(#\w+)"', legend, re.M) == [
        ("Success", GREEN), ("Failed", RED), ("TriggerFailed", ORANGE)
    ]
    assert 'label="States"' in legend
    assert '"legend:Success" -> "legend:Failed" -> "legend:TriggerFailed" [style=invis minlen=0 weight=100]' in legend
    horizontal = to_dot(flow, flow.run(), horizontal=True)  # along the ranks, not in one
    assert '"legend:Success" -> "legend:Failed" -> "legend:TriggerFailed" [style=invis]' in horizontal
    assert "rank=same" not in horizontal
    assert "cluster_legend" not in to_dot(flow) and "cluster_legend" not in to_dot(flow, {})
    with Flow("names") as flow:
        add(1, task_args={"name": "legend:Running"})
    assert '"_legend:Running" [label="Running"' in to_dot(flow, {"legend:Running": "Running"})  # no clash


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("horizontal", [False, True])
def test_legend_drawn_in_order(renderer, horizontal):
    flow = etl_flow(4)
    drawn = ET.fromstring(svg(flow, flow.run(), horizontal=horizontal, engine=renderer))
    boxes = {}
    for group in drawn.iter(f"{SVG}g"):
        if "legend" in (group.get("class") or ""):
            text = group.find(f"{SVG}text")
            boxes[group.find(f"{SVG}title").text] = (float(text.get("x")), float(text.get("y")))
    assert list(boxes) == ["legend:Success", "legend:Failed", "legend:TriggerFailed"]
    xs, ys = zip(*boxes.values())
    assert len(set(ys)) == 1 and list(xs) == sorted(xs)  # one row, left to right
    assert sum(g.get("class") == "edge" for g in drawn.iter(f"{SVG}g")) == 3  # the flow's 3 edges; the chain is not drawn


ODD = ['say "hi"', "C:\\temp\\new", "dir\\", 'back\\"quote', "naïve ☃ 数据", "two\nlines", "a&b <c>", "node", "-> x"]


@pytest.fixture
def odd_flow():
    with Flow("odd") as flow:
        prev = None
        for name in ODD:
            prev = add(prev if prev is not None else 1, task_args={"name": name})
    return flow


@pytest.mark.parametrize("renderer", RENDERERS)
def test_escaping_odd_names(odd_flow, renderer):
    states = {t: Success() for t in odd_flow.tasks}
    text = to_dot(odd_flow, states)
    drawn = svg_nodes(render.render_svg(text, engine=renderer))
    assert set(drawn) == set(ODD) | {"legend:Success"}
    assert all(fills == [GREEN] for fills in drawn.values())
    texts = svg_texts(render.render_svg(text, engine=renderer))
    for name in ODD:
        assert name.split("\n")[0] in texts


def test_quote_id_round_trips_what_it_can():
    assert quote_id("plain") == '"plain"'
    assert quote_id('a"b') == '"a\\"b"'
    assert quote_id("end\\") == "<end\\>"
    assert quote_id("<x>\\") == '"<x>\\\\"'  # cannot be exact: still valid DOT


# --- SVG, both renderers ---------------------------------------------------------------
@pytest.mark.parametrize("renderer", RENDERERS)
def test_render_titles_are_slugs_and_fills_present(renderer, monkeypatch):
    monkeypatch.setenv(render.ENV_RENDERER, renderer)
    flow = etl_flow(20)
    state = flow.run()
    drawn = svg_nodes(svg(flow, state))
    legend = {"legend:Success", "legend:Failed", "legend:TriggerFailed"}
    assert set(drawn) == {t.slug for t in flow.tasks} | legend
    assert drawn["extract"] == [GREEN] and drawn["n"] == [GREEN] and drawn["load"] == [ORANGE]
    assert drawn["transform"] == [GREEN, RED]  # one polygon per stripe
    assert [drawn[key] for key in sorted(legend)] == [[RED], [GREEN], [ORANGE]]
    expanded = svg_nodes(svg(flow, state, expand_mapped=True))
    assert {f"transform[{i}]" for i in range(20)} <= set(expanded)
    assert expanded["transform[3]"] == [RED] and expanded["transform[4]"] == [GREEN]


@pytest.mark.parametrize("renderer", RENDERERS)
def test_500_task_flow_renders(renderer):
    with Flow("wide") as flow:
        layer = [add(i) for i in range(50)]
        for _ in range(9):
            layer = [add(layer[i], y=layer[(i + 7) % 50]) for i in range(50)]
    assert len(flow.tasks) == 500
    states = {t: Success() for t in flow.tasks}
    drawn = svg_nodes(svg(flow, states, engine=renderer))
    assert len(drawn) == 501 and drawn["legend:Success"] == [GREEN] and all(drawn[t.slug] == [GREEN] for t in flow.tasks)


# --- flow.visualize() -------------------------------------------------------------------
@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """`dot` hidden from PATH (and from shutil.which), as on a machine without Graphviz."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(render.ENV_RENDERER, raising=False)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == "dot" else real_which(cmd, *a, **k))
    assert render.renderer_name() == "wasm"


def test_visualize_is_a_digraph_with_our_source():
    import graphviz

    flow = etl_flow(4)
    state = flow.run()
    graph = flow.visualize(flow_state=state)
    assert isinstance(graph, graphviz.Digraph)
    assert graph.source == to_dot(flow, state)
    assert visualize(flow, state.result, horizontal=True).source == to_dot(flow, state, horizontal=True)
    assert type(pickle.loads(pickle.dumps(graph))) is type(graph)


def test_visualize_repr_without_system_dot(no_dot):
    flow = etl_flow(4)
    state = flow.run()
    bundle = flow.visualize(flow_state=state)._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    drawn = svg_nodes(bundle["image/svg+xml"])
    assert drawn["transform"] == [GREEN, RED] and drawn["load"] == [ORANGE]
    assert flow.visualize()._repr_mimebundle_(include=[]) == {}


@pytest.mark.skipif(not HAS_DOT, reason="system graphviz not installed")
def test_visualize_repr_with_system_dot(monkeypatch):
    monkeypatch.setenv(render.ENV_RENDERER, "dot")
    bundle = etl_flow().visualize()._repr_mimebundle_()
    assert set(svg_nodes(bundle["image/svg+xml"])) == {"n", "extract", "transform", "load"}


def test_visualize_filename_svg_without_dot(no_dot, tmp_path):
    flow = etl_flow(4)
    flow.visualize(filename=tmp_path / "flow.svg")
    flow.visualize(filename=str(tmp_path / "plain"), format="svg")
    for name in ("flow.svg", "plain.svg"):
        content = (tmp_path / name).read_text(encoding="utf-8")
        assert content.startswith("<?xml") and "<title>transform</title>" in content
    with pytest.raises(render.RendererUnavailable, match="format='svg'"):
        flow.visualize(filename=tmp_path / "flow")  # pdf, the Prefect 1 default, needs dot
    assert sorted(os.listdir(tmp_path)) == ["flow.svg", "plain.svg"]


@pytest.mark.skipif(not HAS_DOT, reason="system graphviz not installed")
def test_visualize_filename_with_dot(tmp_path):
    flow = etl_flow(4)
    flow.visualize(flow_state=flow.run(), filename=str(tmp_path / "flow"))  # Prefect 1: flow.pdf
    flow.visualize(filename=str(tmp_path / "pic"), format="png")
    flow.visualize(filename=str(tmp_path / "named.png"))
    assert sorted(os.listdir(tmp_path)) == ["flow.pdf", "named.png", "pic.png"]  # no DOT source left behind
    assert (tmp_path / "flow.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "pic.png").read_bytes().startswith(b"\x89PNG")


def test_importing_does_not_import_graphviz():
    code = "import sys, perfect_nb, perfect_nb.viz.dot as d; d.to_dot; assert 'graphviz' not in sys.modules, 'graphviz imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_big_graphs_drop_edge_labels(monkeypatch):
    assert 'label="x"' in to_dot(plain_flow())
    monkeypatch.setattr(viz_dot, "EDGE_LABEL_LIMIT", 2)  # plain_flow draws 3 edges
    text = to_dot(plain_flow())
    assert "label=\"x\"" not in text and text.count(" -> ") == 3
    assert '"extract" -> "transform" [style=dashed]' in to_dot(etl_flow())  # still dashed
