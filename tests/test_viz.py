"""ember.viz: training curves to PNG, the autograd graph as DOT text, and ember's own
SVG/PNG drawing of it (no Graphviz needed), for small graphs and a 10,000-op chain."""

from __future__ import annotations

import importlib.util
import re
import time
import xml.etree.ElementTree as ET

import ember
import ember.nn as nn
import pytest
from ember import viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# PNG output goes through matplotlib (an optional extra, in ".[test]"): skip without it
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib is not installed")
SVG_NS = "{http://www.w3.org/2000/svg}"


def parse_dot(dot: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """{node id: label} and [(src label, dst label)] of ember's DOT text."""
    labels = {m[0]: m[1].replace("\\n", "\n")
              for m in re.findall(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M)}
    edges = [(labels[s], labels[d]) for s, d in re.findall(r"^\s*(n\d+) -> (n\d+);", dot, re.M)]
    return labels, edges


def svg_boxes(path) -> list:
    root = ET.parse(path).getroot()  # raises on invalid XML
    assert root.tag == SVG_NS + "svg"
    return [r for r in root.iter(SVG_NS + "rect") if r.get("class") == "node"]


# ---------------------------------------------------------------------------- plot_history
class History:  # the Keras shape: an object with a .history dict
    def __init__(self, history: dict) -> None:
        self.history = history


@needs_matplotlib
@pytest.mark.parametrize("make", [dict, History], ids=["dict", "History"])
def test_plot_history_writes_a_png(tmp_path, make):
    history = make({"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.6],
                    "accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.4, 0.6, 0.7]})
    out = viz.plot_history(history, tmp_path / "h.png")
    data = (tmp_path / "h.png").read_bytes()
    assert out == str(tmp_path / "h.png") and data.startswith(PNG_MAGIC) and len(data) > 1000


@needs_matplotlib
def test_plot_history_selected_metrics_and_errors(tmp_path):
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.9], "lr": [0.1, 0.05]}
    viz.plot_history(history, tmp_path / "m.png", metrics=["accuracy"])
    assert (tmp_path / "m.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="mae"):
        viz.plot_history(history, tmp_path / "x.png", metrics=["mae"])
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history({"loss": []}, tmp_path / "x.png")
    with pytest.raises(TypeError, match="History"):
        viz.plot_history([1.0, 0.5], tmp_path / "x.png")


# ---------------------------------------------------------------------------- DOT
def small_graph():
    x = ember.randn(4, 3)  # no grad: not in the graph
    w = ember.randn(3, 2, requires_grad=True)
    b = ember.zeros(2, requires_grad=True)
    return (x @ w + b).relu().sum(), w, b


def test_to_dot_of_a_known_graph():
    y, w, b = small_graph()
    labels, edges = parse_dot(viz.to_dot(y, params={"w": w, "b": b}))
    # sum(relu(matmul(x, w) + b)): the nodes, named as grad_fn.name() gives them
    assert sorted(labels.values()) == sorted([
        "output\n()", "SumBackward", "ReluBackward", "AddBackward", "MatMulBackward",
        "w\n(3, 2)", "b\n(2,)"])
    assert sorted(edges) == sorted([
        ("w\n(3, 2)", "MatMulBackward"), ("MatMulBackward", "AddBackward"),
        ("b\n(2,)", "AddBackward"), ("AddBackward", "ReluBackward"),
        ("ReluBackward", "SumBackward"), ("SumBackward", "output\n()")])


def test_to_dot_without_names_or_shapes_and_a_shared_leaf():
    a = ember.randn(2, requires_grad=True)
    dot = viz.to_dot((a * a).exp().sum(), show_shapes=False)
    labels, edges = parse_dot(dot)
    assert sorted(labels.values()) == sorted(["output", "SumBackward", "ExpBackward",
                                              "MulBackward", "leaf"])  # one node for a
    assert ("leaf", "MulBackward") in edges and len(edges) == 4
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")


def test_graph_of_a_tensor_without_history():
    labels, edges = parse_dot(viz.to_dot(ember.ones(3)))
    assert list(labels.values()) == ["output\n(3,)"] and edges == []


def test_draw_graph_writes_dot_and_returns_it(tmp_path):
    y, _, _ = small_graph()
    dot = viz.draw_graph(y, tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == dot == viz.to_dot(y)
    assert viz.draw_graph(y) == dot  # no path: DOT text only
    with pytest.raises(ValueError, match="unknown format"):
        viz.draw_graph(y, tmp_path / "g.pdf")


# ---------------------------------------------------------------------------- ember's renderer
def test_svg_is_valid_xml_with_one_box_per_node(tmp_path):
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    loss = (model(ember.randn(3, 5)) ** 2).mean() + model[0].weight.abs().sum()
    dot = viz.draw_graph(loss, tmp_path / "g.svg", params=dict(model.named_parameters()),
                         renderer="ember")
    labels, edges = parse_dot(dot)
    boxes = svg_boxes(tmp_path / "g.svg")
    assert len(boxes) == len(labels)
    root = ET.parse(tmp_path / "g.svg").getroot()
    texts = ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]
    assert "0.weight(8, 5)" in texts and "output()" in texts
    assert len(list(root.iter(SVG_NS + "polyline"))) == len(edges)
    # every arrow points down: from the bottom of a box to the top of a lower one
    for line in root.iter(SVG_NS + "polyline"):
        ys = [float(p.split(",")[1]) for p in line.get("points").split()]
        assert ys == sorted(ys) and ys[0] < ys[-1]


def test_boxes_do_not_overlap(tmp_path):
    lstm = nn.LSTM(3, 4, num_layers=2)
    out, _ = lstm(ember.randn(3, 2, 3))
    g = viz.build_graph(out.sum(), dict(lstm.named_parameters()))
    lay = viz.layout(g)
    rows: dict[float, list] = {}
    for cx, top, w, h in lay.boxes:
        rows.setdefault(round(top + h / 2, 3), []).append((cx - w / 2, cx + w / 2))
    for spans in rows.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


@needs_matplotlib
def test_png_without_graphviz(tmp_path):
    y, w, b = small_graph()
    viz.draw_graph(y, tmp_path / "g.png", params={"w": w, "b": b}, renderer="ember")
    assert (tmp_path / "g.png").read_bytes().startswith(PNG_MAGIC)


def test_a_10000_op_chain_renders_quickly_without_recursion(tmp_path):
    x = ember.randn(3, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    start = time.perf_counter()
    dot = viz.draw_graph(y.sum(), tmp_path / "chain.svg", renderer="ember")
    elapsed = time.perf_counter() - start
    labels, _ = parse_dot(dot)
    assert len(labels) == 10_003  # output, SumBackward, 10,000 MulBackward, the leaf
    assert len(svg_boxes(tmp_path / "chain.svg")) == 10_003
    assert elapsed < 5.0, f"rendering took {elapsed:.1f}s"
