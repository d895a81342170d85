"""Pictures: training curves (``plot_history``) and the autograd graph (``draw_graph``).

The graph as a picture without installing anything: ``to_dot`` always gives Graphviz DOT
text; ``draw_graph(y, "graph.svg")`` uses Graphviz's ``dot`` when it is on the PATH and
otherwise lays the graph out and draws the SVG itself, in pure Python:

1. *layers*: the output is layer 0 and every other node sits one layer above the
   furthest-down node that consumes it (longest path), so every arrow points down;
2. edges spanning several layers get an invisible bend point on each layer between;
3. *order within a layer*: a few barycenter sweeps (each node moves towards the mean
   position of its neighbours in the layer before) to uncross edges;
4. *coordinates*: each node is centred under the nodes feeding it, pushed right just
   enough not to overlap its left neighbour.

Everything walks the graph with explicit stacks and queues: a 10,000-op chain draws without
touching Python's recursion limit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from .autograd.function import AccumulateGrad
from .tensor import Tensor

__all__ = ["plot_history", "draw_graph", "to_dot", "Graph", "build_graph"]

ParamNames = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]  # names for leaf tensors

_FILL = {"output": "#b7e1a1", "leaf": "#cfe2f3", "op": "#eeeeee"}


# ---------------------------------------------------------------------------- training curves
def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ember.viz.plot_history draws with matplotlib: "
                          "pip install matplotlib") from e
    return Figure


def plot_history(history: Any, path: str | os.PathLike | None = None,
                 metrics: Sequence[str] | None = None) -> str:
    """Plot training curves (loss and each metric; train and validation) to a PNG file.

    Args:
        history: a Keras-style ``History`` (with a ``.history`` dict) or a dict mapping
            names to per-epoch values, e.g. ``{"loss": [...], "val_loss": [...],
            "accuracy": [...]}``; ``val_<name>`` is drawn in the same panel as ``<name>``.
        path: the PNG file to write (default ``history.png``).
        metrics: the names to plot (default: every name in ``history``, loss first).

    Returns:
        the path written.

    Drawn on a bare matplotlib ``Figure`` with the Agg canvas: no window opens and the
    pyplot backend of the caller is left alone.
    """
    Figure = _matplotlib_figure()  # noqa: N806 - a class
    logs = _history_dict(history)
    names = _metric_names(logs, metrics)
    path = os.fspath(path) if path is not None else "history.png"

    fig = Figure(figsize=(5.0 * len(names), 3.6), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            values = logs.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3,
                        label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.savefig(path, format="png", dpi=100)
    return path


def _history_dict(history: Any) -> dict[str, list[float]]:
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError("plot_history: expected a History (with a .history dict) or a dict of "
                        f"lists, got {type(history).__name__}")
    out = {}
    for k, v in logs.items():
        try:
            out[str(k)] = [float(x) for x in v]
        except (TypeError, ValueError) as e:
            raise TypeError(f"plot_history: history[{k!r}] must be a list of numbers") from e
    if not any(out.values()):
        raise ValueError("plot_history: the history is empty (nothing was recorded)")
    return out


def _metric_names(logs: dict[str, list[float]], metrics: Sequence[str] | None) -> list[str]:
    bases = []
    for k in logs:
        base = k[4:] if k.startswith("val_") else k
        if base not in bases:
            bases.append(base)
    bases.sort(key=lambda b: b != "loss")  # loss first, the others in recorded order
    if metrics is None:
        return bases
    missing = [m for m in metrics if m not in bases]
    if missing:
        raise ValueError(f"plot_history: no values for {missing}; the history has {bases}")
    return list(metrics)


# ---------------------------------------------------------------------------- the graph
@dataclass
class Graph:
    """The autograd graph as plain data: ``labels[i]``/``kinds[i]`` describe node ``i``
    ('output', 'op' or 'leaf'); ``edges`` are (src, dst) pairs along the data flow (from
    an input towards the op that consumed it). Node 0 is the output."""

    labels: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def build_graph(tensor: Tensor, params: ParamNames | None = None,
                show_shapes: bool = True) -> Graph:
    """Walk the graph that produced ``tensor`` (iteratively) into a ``Graph``.

    Op nodes are the ``grad_fn`` nodes (labelled ``name()``, e.g. ``MatMulBackward``); a
    leaf that requires grad appears once however many ops use it (labelled with its name
    from ``params`` if given, and its shape); node 0 is ``tensor`` itself.
    """
    names = {id(t): n for n, t in dict(params or {}).items()}
    g = Graph()
    out_label = "output" + (f"\n{_shape_text(tensor.shape)}" if show_shapes else "")
    _add_node(g, out_label, "output")
    if tensor.grad_fn is None:
        return g

    index: dict[int, int] = {}  # id(grad_fn) or id(leaf tensor) -> node

    def node_of(fn: Any) -> tuple[int, bool]:
        """The node of ``fn`` and whether it is new (leaves are keyed by their tensor:
        each use of a leaf gets a fresh AccumulateGrad object)."""
        key = id(fn.leaf) if isinstance(fn, AccumulateGrad) else id(fn)
        if key in index:
            return index[key], False
        if isinstance(fn, AccumulateGrad):
            lines = [names.get(id(fn.leaf), "")] + ([_shape_text(fn.leaf.shape)]
                                                   if show_shapes else [])
            label = "\n".join(x for x in lines if x) or "leaf"
            index[key] = _add_node(g, label, "leaf")
        else:
            index[key] = _add_node(g, fn.name(), "op")
        return index[key], True

    root, _ = node_of(tensor.grad_fn)
    g.edges.append((root, 0))
    seen_edges = {(root, 0)}
    stack = [tensor.grad_fn]
    while stack:  # depth-first with an explicit stack: no recursion limit
        fn = stack.pop()
        dst = index[id(fn)]
        for nxt, _ in getattr(fn, "next_functions", ()):
            if nxt is None:
                continue
            src, new = node_of(nxt)
            if (src, dst) not in seen_edges:
                seen_edges.add((src, dst))
                g.edges.append((src, dst))
            if new and not isinstance(nxt, AccumulateGrad):
                stack.append(nxt)
    return g


def _add_node(g: Graph, label: str, kind: str) -> int:
    g.labels.append(label)
    g.kinds.append(kind)
    return len(g.labels) - 1


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor: Tensor, params: ParamNames | None = None,
           show_shapes: bool = True) -> str:
    """Graphviz DOT text of the autograd graph that produced ``tensor``.

    Arrows follow the data (inputs at the top, the output at the bottom), each edge the
    reverse of a ``next_functions`` link. Render it with ``dot -Tsvg``, an online viewer,
    or ``draw_graph``.
    """
    return _graph_to_dot(build_graph(tensor, params, show_shapes))


def _graph_to_dot(g: Graph) -> str:
    lines = [
        "digraph ember_graph {",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
    ]
    for i, (label, kind) in enumerate(zip(g.labels, g.kinds)):
        lines.append(f'  n{i} [label={_dot_string(label)}, fillcolor="{_FILL[kind]}"];')
    lines += [f"  n{s} -> n{d};" for s, d in g.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(tensor: Tensor, path: str | os.PathLike | None = None,
               format: str | None = None, show_shapes: bool = True,  # noqa: A002
               params: ParamNames | None = None, renderer: str = "auto") -> str:
    """Draw the autograd graph that produced ``tensor``; always returns its DOT text.

    Args:
        tensor: the output whose graph is drawn (e.g. the loss).
        path: where to write the picture (nothing is written when None).
        format: ``"dot"``, ``"svg"`` or ``"png"``; by default the extension of ``path``.
        show_shapes: show the shapes of leaf tensors and of the output.
        params: names for the leaves: ``dict(model.named_parameters())`` (or the
            ``named_parameters()`` pairs themselves).
        renderer: ``"auto"`` (Graphviz's ``dot`` if installed, else ember's own layout),
            ``"dot"`` (require Graphviz) or ``"ember"`` (never call Graphviz).

    SVG without Graphviz is drawn by ember in pure Python; PNG without Graphviz is drawn
    by matplotlib from the same layout.
    """
    graph = build_graph(tensor, params, show_shapes)
    dot_text = _graph_to_dot(graph)
    if path is None:
        return dot_text
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".")).lower()
    if fmt not in ("dot", "gv", "svg", "png"):
        raise ValueError(f"draw_graph: unknown format {fmt!r} for {path!r}; use .dot, .svg or "
                         ".png (or pass format=)")
    if renderer not in ("auto", "dot", "ember"):
        raise ValueError(f"draw_graph: renderer must be 'auto', 'dot' or 'ember', got "
                         f"{renderer!r}")
    if fmt in ("dot", "gv"):
        _write_text(path, dot_text)
    elif renderer == "ember" or not _run_dot(dot_text, fmt, path, renderer == "dot"):
        if fmt == "svg":
            _write_text(path, render_svg(graph))
        else:
            _render_png(graph, path)
    return dot_text


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _run_dot(dot_text: str, fmt: str, path: str, required: bool) -> bool:
    """Render with Graphviz's ``dot``; False when it is not installed (unless required)."""
    exe = shutil.which("dot")
    if exe is None:
        if required:
            raise RuntimeError("draw_graph(renderer='dot'): Graphviz's `dot` is not on the "
                               "PATH; install Graphviz or use renderer='auto'")
        return False
    done = subprocess.run([exe, f"-T{fmt}", "-o", path], input=dot_text.encode(),
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"draw_graph: Graphviz's dot failed writing {path!r}: "
                           f"{done.stderr.decode(errors='replace').strip()} (renderer='ember' "
                           "draws without Graphviz)")
    return True


# ---------------------------------------------------------------------------- layout
_CHAR_W, _LINE_H, _PAD_X, _PAD_Y = 7.0, 14.0, 10.0, 7.0
_GAP_X, _GAP_Y, _MARGIN = 24.0, 36.0, 16.0


@dataclass
class Layout:
    """Node boxes (centre x, top y, width, height) and edges as polylines of points."""

    boxes: list[tuple[float, float, float, float]]
    routes: list[list[tuple[float, float]]]
    width: float
    height: float


def _layers(g: Graph) -> list[int]:
    """Longest-path layering from the output: layer(v) = 1 + max layer of v's consumers."""
    n = len(g.labels)
    consumers = [0] * n  # how many edges leave v (to nodes not yet layered)
    inputs: list[list[int]] = [[] for _ in range(n)]
    for s, d in g.edges:
        consumers[s] += 1
        inputs[d].append(s)
    layer = [0] * n
    queue = deque(v for v in range(n) if consumers[v] == 0)
    while queue:  # Kahn's algorithm from the output upwards
        v = queue.popleft()
        for u in inputs[v]:
            layer[u] = max(layer[u], layer[v] + 1)
            consumers[u] -= 1
            if consumers[u] == 0:
                queue.append(u)
    return layer


def _split_long_edges(g: Graph, layer: list[int]) -> tuple[list[int], list[list[int]]]:
    """Give every edge spanning k > 1 layers k - 1 virtual nodes. Returns the layer of each
    (real + virtual) node and each edge's chain of nodes from source to destination."""
    layer = list(layer)
    chains = []
    for s, d in g.edges:
        chain = [s]
        for lv in range(layer[s] - 1, layer[d], -1):
            layer.append(lv)
            chain.append(len(layer) - 1)
        chain.append(d)
        chains.append(chain)
    return layer, chains


def _order(layer: list[int], chains: list[list[int]], sweeps: int = 2) -> list[list[int]]:
    """Nodes of each layer, top (highest layer) first, ordered by barycenter sweeps."""
    top = max(layer)
    rows: list[list[int]] = [[] for _ in range(top + 1)]
    for v in range(len(layer)):  # discovery order is a good start (depth-first from output)
        rows[top - layer[v]].append(v)
    up: list[list[int]] = [[] for _ in layer]    # neighbours in the row above
    down: list[list[int]] = [[] for _ in layer]  # neighbours in the row below
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
    for _ in range(sweeps):
        for rows_seq, nbrs in ((rows, up), (rows[::-1], down)):
            pos: dict[int, float] = {}
            for row in rows_seq:
                _barycenter_sort(row, nbrs, pos)
                pos.update((v, i) for i, v in enumerate(row))
    return rows


def _barycenter_sort(row: list[int], nbrs: list[list[int]], pos: dict[int, float]) -> None:
    def key(item: tuple[int, int]) -> float:
        i, v = item
        ps = [pos[u] for u in nbrs[v] if u in pos]
        return sum(ps) / len(ps) if ps else float(i)

    row[:] = [v for _, v in sorted(enumerate(row), key=key)]


def _box_size(label: str) -> tuple[float, float]:
    lines = label.split("\n")
    return (max(len(x) for x in lines) * _CHAR_W + 2 * _PAD_X,
            len(lines) * _LINE_H + 2 * _PAD_Y)


def layout(g: Graph) -> Layout:
    """Positions for drawing ``g`` top-down (see the module docstring for the steps)."""
    layer, chains = _split_long_edges(g, _layers(g))
    rows = _order(layer, chains)
    n_real = len(g.labels)
    size = [_box_size(lbl) for lbl in g.labels] + [(0.0, 0.0)] * (len(layer) - n_real)
    up: list[list[int]] = [[] for _ in layer]
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            up[b].append(a)

    x = [0.0] * len(layer)
    y = [0.0] * len(layer)
    top = _MARGIN
    for row in rows:
        row_h = max((size[v][1] for v in row), default=0.0)
        right: float | None = None  # right edge of the last box placed in this row
        for v in row:
            x[v] = _place(size[v][0], [x[u] for u in up[v]], right)
            right = x[v] + size[v][0] / 2
            y[v] = top + (row_h - size[v][1]) / 2
        top += row_h + _GAP_Y
    shift = _MARGIN - min(x[v] - size[v][0] / 2 for v in range(len(layer)))
    x = [xi + shift for xi in x]
    boxes = [(x[v], y[v], size[v][0], size[v][1]) for v in range(n_real)]
    routes = [[(x[v], y[v] + size[v][1] if i == 0 else y[v]) for i, v in enumerate(chain)]
              for chain in chains]  # from the bottom of the source to the top of the target
    width = max(x[v] + size[v][0] / 2 for v in range(len(layer))) + _MARGIN
    return Layout(boxes, routes, width, top - _GAP_Y + _MARGIN)


def _place(width: float, inputs_x: list[float], right: float | None) -> float:
    """The centre x of a box: under the mean of its inputs, else packed to the right, never
    overlapping the box on its left (whose right edge is ``right``)."""
    if inputs_x:
        want = sum(inputs_x) / len(inputs_x)
    else:
        want = width / 2 if right is None else right + _GAP_X + width / 2
    return want if right is None else max(want, right + _GAP_X + width / 2)


# ---------------------------------------------------------------------------- SVG
def render_svg(g: Graph) -> str:
    """An SVG picture of ``g`` drawn by ember itself (no Graphviz needed)."""
    lay = layout(g)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width:.0f}" '
        f'height="{lay.height:.0f}" viewBox="0 0 {lay.width:.1f} {lay.height:.1f}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        '<g class="edges" fill="none" stroke="#555" stroke-width="1.2">',
    ]
    for route in lay.routes:
        pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in route)
        out.append(f'<polyline points="{pts}" marker-end="url(#arrow)"/>')
    out.append("</g>")
    out.append('<g class="nodes">')
    for (cx, top, w, h), label, kind in zip(lay.boxes, g.labels, g.kinds):
        out.append(_svg_node(cx, top, w, h, label, kind))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_node(cx: float, top: float, w: float, h: float, label: str, kind: str) -> str:
    lines = label.split("\n")
    first = top + _PAD_Y + _LINE_H * 0.8
    spans = "".join(f'<tspan x="{cx:.1f}" y="{first + i * _LINE_H:.1f}">{escape(t)}</tspan>'
                    for i, t in enumerate(lines))
    return (f'<g class="node {kind}"><title>{escape(label)}</title>'
            f'<rect class="node" x="{cx - w / 2:.1f}" y="{top:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="5" fill="{_FILL[kind]}" stroke="#333"/>'
            f'<text text-anchor="middle">{spans}</text></g>')


# ---------------------------------------------------------------------------- PNG
_MAX_PIXELS = 30000  # matplotlib's Agg refuses images over 2**16 pixels on a side


def _render_png(g: Graph, path: str) -> None:
    """The same layout as ``render_svg``, drawn by matplotlib (used without Graphviz)."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("draw_graph: PNG output needs Graphviz's `dot` or matplotlib "
                          "(pip install matplotlib); or write an .svg, which needs "
                          "nothing") from e
    lay = layout(g)
    dpi = min(100.0, 100.0 * _MAX_PIXELS / max(lay.width, lay.height))
    fig = Figure(figsize=(lay.width / 100, lay.height / 100), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)  # SVG coordinates: y grows downwards
    ax.axis("off")
    for route in lay.routes:
        xs, ys = zip(*route)
        ax.plot(xs, ys, color="#555", linewidth=1)
        ax.annotate("", xy=route[-1], xytext=route[-2],
                    arrowprops={"arrowstyle": "-|>", "color": "#555", "lw": 1})
    for (cx, top, w, h), label, kind in zip(lay.boxes, g.labels, g.kinds):
        ax.add_patch(FancyBboxPatch((cx - w / 2, top), w, h,
                                    boxstyle="round,pad=0,rounding_size=5",
                                    facecolor=_FILL[kind], edgecolor="#333"))
        ax.text(cx, top + h / 2, label, ha="center", va="center", fontsize=9,
                family="sans-serif", linespacing=1.3)
    fig.savefig(path, format="png", dpi=dpi)
