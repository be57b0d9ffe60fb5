"""A diagram of a fitted estimator's model: columns -> calibrators -> lattices -> output.

:func:`model_graph` reads the structure from the estimator (its columns,
their calibrators and declared shapes, the lattices of an ensemble or deep
lattice network) into a :class:`ModelGraph`: stages of nodes and the edges
between consecutive stages. ``str(graph)`` is a text form;
:class:`ModelGraphDisplay` draws it with matplotlib (no graphviz needed).
"""

import dataclasses

import numpy as np

from tf_lattice.estimators._columns import NUMERIC
from tf_lattice.plotting._display import Display, class_label, column_names, single_axes
from tf_lattice.plotting.calibrators import shape_words


@dataclasses.dataclass(frozen=True)
class ModelGraph:
    """Stages of a model, left to right.

    Attributes:
      title: the estimator's class name.
      stages: ``(stage name, nodes)`` pairs in order, each node a ``(name,
        detail)`` pair of strings.
      edges: per consecutive pair of stages, ``(from node, to node)`` index pairs.
    """

    title: str
    stages: tuple
    edges: tuple

    def __str__(self):
        lines = [self.title]
        for k, (stage, nodes) in enumerate(self.stages):
            lines.append(f"{stage}:")
            sources = {}
            if k > 0:
                for a, b in self.edges[k - 1]:
                    sources.setdefault(b, []).append(self.stages[k - 1][1][a][0])
            for j, (name, detail) in enumerate(nodes):
                reads = f" <- {', '.join(sources[j])}" if j in sources else ""
                lines.append(f"  {name}" + (f": {detail}" if detail else "") + reads)
        return "\n".join(lines)


def _calibrator_node(spec, curve):
    if spec.kind == NUMERIC:
        detail = f"PWL, {len(spec.keypoints)} keypoints"
    else:
        detail = f"categorical, {len(spec.vocabulary)} categories"
    shape = shape_words(curve)
    return f"c({spec.name})", detail + (f", {shape}" if shape else "")


def _output_node(estimator):
    units = estimator.model_.output_shape[-1]
    if not hasattr(estimator, "classes_"):
        return "prediction", "regression"
    if units == 1:
        return "prediction", f"P(y = {class_label(estimator.classes_[1])}) = sigmoid(score)"
    return "prediction", f"class probabilities = softmax of {units} scores"


def _deep_lattice_stages(estimator, size, stages, edges):
    """Appends the blocks of a deep lattice network (``estimator.layers_``):
    per block its embedding, the embedding's calibrators and the lattices.
    The monotone embedding outputs read every signal, the free ones the
    signals that carry no shape."""
    monotone = [feature.shaped for feature in estimator.constraints_.features]
    several = len(estimator.layers_) > 1
    for b, block in enumerate(estimator.layers_):
        suffix, prefix = (f" {b + 1}", f"{b + 1}.") if several else ("", "")
        flags = [True] * block["monotone_dims"] + [False] * block["free_dims"]
        stages.append((f"embedding{suffix}", [
            (f"e{prefix}{k}", "linear, weights >= 0 on shaped inputs" if flag
             else "linear of unshaped inputs") for k, flag in enumerate(flags)]))
        edges.append([(i, k) for k, flag in enumerate(flags) for i, m in enumerate(monotone)
                      if flag or not m])
        stages.append((f"embedding calibrators{suffix}", [
            (f"c(e{prefix}{k})", "PWL, increasing" if flag else "PWL")
            for k, flag in enumerate(flags)]))
        edges.append([(k, k) for k in range(len(flags))])
        lattices = block["lattices"]
        stages.append((f"lattices{suffix}", [(f"lattice {prefix}{k}", f"{size}^{len(subset)} vertices")
                                             for k, subset in enumerate(lattices)]))
        edges.append([(int(i), k) for k, subset in enumerate(lattices) for i in subset])
        monotone = [any(flags[int(i)] for i in subset) for subset in lattices]


def model_graph(estimator):
    """The :class:`ModelGraph` of a fitted estimator."""
    names = column_names(estimator, None)
    specs = estimator.feature_specs_
    curves = estimator.calibrator_curves()
    model = estimator.model_
    size = getattr(estimator, "lattice_size", 2)
    units = model.output_shape[-1]
    stages = [("columns", [(spec.name, spec.kind) for spec in specs]),
              ("calibrators", [_calibrator_node(s, c) for s, c in zip(specs, curves)])]
    edges = [[(j, j) for j in range(len(specs))]]
    everything = [(j, 0) for j in range(len(specs))]
    if model.name == "calibrated_linear":
        stages.append(("linear", [("linear", f"weighted sum, {units} output(s)")]))
        edges.append(everything)
    elif model.name == "calibrated_lattice":
        stages.append(("lattice", [("lattice", f"{size}^{len(specs)} vertices, "
                                               f"{units} output(s)")]))
        edges.append(everything)
    else:
        if model.name == "deep_lattice_network":
            _deep_lattice_stages(estimator, size, stages, edges)
        else:
            lattices = [list(subset) for subset in estimator.lattices_]
            stages.append(("lattices", [(f"lattice {k}", f"{size}^{len(s)} vertices")
                                        for k, s in enumerate(lattices)]))
            edges.append([(names.index(c), k) for k, subset in enumerate(lattices)
                          for c in subset])
        width = len(stages[-1][1])
        combine = ("weighted sum, weights >= 0 on lattices of shaped inputs"
                   if model.name == "deep_lattice_network" else "increasing weighted sum")
        stages.append(("combine", [("combine", f"{combine}, {units} output(s)")]))
        edges.append([(k, 0) for k in range(width)])
    stages.append(("output", [_output_node(estimator)]))
    edges.append([(0, 0)])
    return ModelGraph(type(estimator).__name__, tuple((n, tuple(nodes)) for n, nodes in stages),
                      tuple(tuple(e) for e in edges))


class ModelGraphDisplay(Display):
    """The model's stages as boxes joined by arrows.

    Args:
      graph: a :class:`ModelGraph`.

    Attributes:
      figure_, ax_: the matplotlib Figure and Axes.
      boxes_: per stage, the text artists of its nodes.
    """

    def __init__(self, graph):
        self.graph = graph

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Draws the graph of a fitted estimator (``ax``: an Axes or None)."""
        return cls(model_graph(estimator)).plot(ax=ax)

    def plot(self, ax=None):
        """Draws the graph on ``ax`` (a new figure when None); returns self."""
        tallest = max(len(nodes) for _, nodes in self.graph.stages)
        count = len(self.graph.stages)
        self.figure_, self.ax_ = single_axes(ax, (2.6 * count, max(2.5, 0.45 * tallest + 1.2)))
        ax = self.ax_
        ax.set_axis_off()
        ax.set_xlim(-0.6, count - 0.4)
        ax.set_ylim(-0.7, tallest - 0.3)
        positions = []
        self.boxes_ = []
        for k, (stage, nodes) in enumerate(self.graph.stages):
            ys = np.linspace(0, tallest - 1, len(nodes) + 2)[1:-1] if len(nodes) < tallest \
                else np.arange(len(nodes), dtype=float)
            ys = ys[::-1]
            positions.append(ys)
            ax.text(k, tallest - 0.45, stage, ha="center", va="bottom", fontsize=9,
                    fontweight="bold")
            self.boxes_.append([ax.text(k, y, f"{name}\n{detail}" if detail else name,
                                        ha="center", va="center", fontsize=6.5,
                                        bbox=dict(boxstyle="round,pad=0.3",
                                                  facecolor=f"C{k % 10}", alpha=0.25))
                                for y, (name, detail) in zip(ys, nodes)])
        for k, pairs in enumerate(self.graph.edges):
            for a, b in pairs:
                ax.annotate("", xy=(k + 1 - 0.32, positions[k + 1][b]),
                            xytext=(k + 0.32, positions[k][a]),
                            arrowprops=dict(arrowstyle="->", color="0.45", linewidth=0.6))
        ax.set_title(self.graph.title, fontsize=10)
        return self
