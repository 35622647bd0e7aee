"""A flow drawing laid out once and recoloured many times (the live DAG).

Graphviz lays the flow out once, with every node blank. Each ``render`` then
rewrites only the fills, label colours, progress labels and stripes of the
nodes in that SVG, so nothing moves while a flow runs and a redraw costs
string work, not a Graphviz call.

>>> from perfect_nb import Flow, task
>>> with Flow("live") as flow:
...     one = task(lambda: 1, name="one")()
>>> live = LiveSvg(flow)
>>> 'fill="#28a745"' in live.render({"one": "Success"})
True
"""

from __future__ import annotations

import functools
import html
import re
from collections import Counter
from typing import Any

from perfect_nb.viz import colors
from perfect_nb.viz.dot import progress_label, quote_id, quote_text, to_dot
from perfect_nb.viz.render import render_svg

__all__ = ["LiveSvg"]

_NODE = re.compile(r'(<g id="[^"]*" class="node[^"]*">\s*<title>)(.*?)(</title>)(.*?)(</g>)', re.S)
_SHAPE = re.compile(r'<(polygon|ellipse|path)\b([^>]*?)\sfill="[^"]*"([^>]*)/>', re.S)
_TEXT = re.compile(r"<text\b([^>]*)>(.*?)</text>", re.S)
_POINTS = re.compile(r'points="([^"]+)"')
_PLACEHOLDER = "000000/000000"


class _Node:
    """One node of the laid-out SVG, split around the parts a redraw changes."""

    def __init__(self, head: str, body: str, tail: str) -> None:
        shape = _SHAPE.search(body)
        self.head, self.tail = head, tail
        self.before = body[: shape.start()] if shape else body
        self.shape = shape.groups() if shape else None
        rest = body[shape.end():] if shape else ""
        self.texts = _TEXT.findall(rest)
        self.after = _TEXT.sub("", rest).strip()
        self.box = _bbox(shape.group(0)) if shape and shape.group(1) == "polygon" else None

    def draw(self, fill: str, stripes: list[tuple[str, float]] | None, progress: str | None, dashed: bool = False) -> str:
        if stripes and self.box:  # the label sits on the widest stripe
            fill = max(stripes, key=lambda stripe: stripe[1])[0]
        font = colors.text_color(fill) if fill != "none" else "#000000"
        parts = [self.head, self.before]
        if self.shape:
            tag, pre, post = self.shape
            outline = ' stroke-dasharray="5,2" stroke-width="2"' if dashed else ""
            if stripes and self.box:
                parts.append(_stripes(self.box, stripes))
                parts.append(f'<{tag}{pre} fill="none"{post}{outline}/>')
            else:
                parts.append(f'<{tag}{pre} fill="{fill}"{post}{outline}/>')
        for i, (attrs, content) in enumerate(self.texts):
            if progress is not None and i == len(self.texts) - 1:
                content = html.escape(progress)
            parts.append(f'<text fill="{font}"{attrs}>{content}</text>')
        parts.append(self.after)
        parts.append(self.tail)
        return "".join(parts)


def _bbox(shape: str) -> tuple[float, float, float, float] | None:
    match = _POINTS.search(shape)
    if not match:
        return None
    xy = [tuple(map(float, p.split(","))) for p in match.group(1).split()]
    xs, ys = [x for x, _ in xy], [y for _, y in xy]
    return min(xs), min(ys), max(xs), max(ys)


def _stripes(box: tuple[float, float, float, float], stripes: list[tuple[str, float]]) -> str:
    x0, y0, x1, y1 = box
    out, x = [], x0
    for i, (fill, share) in enumerate(stripes):
        width = (x1 - x) if i == len(stripes) - 1 else (x1 - x0) * share
        out.append(f'<rect x="{x:.2f}" y="{y0:.2f}" width="{max(width, 0):.2f}" height="{y1 - y0:.2f}" fill="{fill}" stroke="none"/>')
        x += width
    return "".join(out)


@functools.lru_cache(maxsize=32)
def _layout(dot: str) -> list[Any]:
    """Render ``dot`` once and split the SVG into fixed text and redrawable nodes.

    Cached by the DOT text: re-running a cell whose graph did not change costs no
    Graphviz call (the pieces are never mutated).
    """
    svg = render_svg(dot)
    pieces: list[Any] = []
    last = 0
    for match in _NODE.finditer(svg):
        pieces.append(svg[last:match.start()])
        slug = html.unescape(match.group(2))
        head = match.group(1) + match.group(2) + match.group(3)
        pieces.append((slug, _Node(head, match.group(4), match.group(5))))
        last = match.end()
    pieces.append(svg[last:])
    return pieces


class LiveSvg:
    """Lay ``flow`` out once; ``render(states, progress)`` returns the SVG with current colours.

    ``states`` maps task slug -> state name; ``progress`` maps a mapped task's
    slug -> a Counter of its children's state names.
    """

    def __init__(self, flow: Any, horizontal: bool = False) -> None:
        self.mapped = {t.slug for t in flow.tasks if any(e.mapped for e in flow.edges_to(t))}
        self.names = {t.slug: t.name for t in flow.tasks}
        self._pieces = _layout(self._layout_dot(flow, horizontal))

    def _layout_dot(self, flow: Any, horizontal: bool) -> str:
        dot = to_dot(flow, horizontal=horizontal)
        for slug in self.mapped:  # room for the progress line "734/1000"
            start = re.search(rf"^\s*{re.escape(quote_id(slug))} \[label=", dot, re.M).end()
            end = start + len(_label_token(dot[start:]))
            dot = dot[:start] + quote_text(f"{self.names[slug]}\n{_PLACEHOLDER}") + dot[end:]
        return dot

    def render(self, states: dict[str, str] | None = None, progress: dict[str, Counter] | None = None) -> str:
        states, progress = states or {}, progress or {}
        out = []
        for piece in self._pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            slug, node = piece
            name = states.get(slug)
            fill = colors.color_for(name) if name else "#ffffff"
            stripes, label, shown = None, None, [name]
            if slug in self.mapped:
                counts = progress.get(slug)
                label = _progress_label(counts, name)
                stripes = _shares(counts) if counts else None
                shown = [n for n, c in counts.items() if c > 0] if counts else shown
            out.append(node.draw(fill, stripes, label, dashed=all(n in colors.DASHED for n in shown)))
        return "".join(out)

    def legend(self, states: dict[str, str] | None = None, progress: dict[str, Counter] | None = None) -> list[list[Any]]:
        """``[[state name, fill, nodes, dashed], ...]``: one entry per colour on screen, in legend order.

        A mapped node drawn in stripes counts once under each of its children's states,
        so each swatch has the colour of the nodes (or stripes) it names, and no other.
        """
        states, progress = states or {}, progress or {}
        nodes: Counter = Counter()
        for piece in self._pieces:
            if isinstance(piece, str):
                continue
            slug = piece[0]
            name, counts = states.get(slug), progress.get(slug)
            if slug in self.mapped and counts and any(counts.values()):
                nodes.update({n for n, c in counts.items() if c > 0})
            elif name:
                nodes[name] += 1
        return [[name, fill, nodes[name], name in colors.DASHED] for name, fill in colors.legend(list(nodes))]


def _label_token(text: str) -> str:
    """The DOT value at the start of ``text``: a quoted string or a bare word."""
    if text.startswith('"'):
        i = 1
        while text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return text[: i + 1]
    return re.match(r"[A-Za-z0-9_.]+", text).group(0)


def _progress_label(counts: Counter | None, name: str | None) -> str:
    """A mapped node's second line: "k/n" once its children are known, else that it maps."""
    if not counts:
        return "0/0" if name == "Mapped" else "mapped"
    return progress_label(counts)


def _shares(counts: Counter) -> list[tuple[str, float]]:
    total = sum(counts.values())
    order = [name for name, _ in colors.legend(list(counts))] if counts else []
    return [(colors.color_for(name), counts[name] / total) for name in order if counts[name] > 0]
