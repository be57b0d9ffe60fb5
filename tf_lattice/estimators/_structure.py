"""What a fitted Keras model guarantees about each column, read from its layers.

Each layer certifies its own settings (``layer.certify()``: a calibrator
declared increasing has non-decreasing outputs, ...). That alone does not say
that the *model* has the shapes the user declared: a calibrator may carry no
constraint, or a later layer may reverse it. This module traces each declared
constraint through the model's graph:

- ``layers_reading_column(model, j)`` gives the layers that read column ``j``
  (its calibrators); every column-to-layer question goes through it.
- The shape of the output in a column is propagated from those layers through
  every later layer: a calibrator's monotonicity, a lattice dimension's
  monotonicity or unimodality, a linear weight's sign constraint, the routing
  of ``Concatenate`` and ``GatherFeatures``. A layer of an unknown kind makes
  its outputs shapeless in everything it reads, so an unknown structure fails
  the check instead of passing it.
- Pairwise constraints (trust, dominance) must be carried by every layer where
  the two columns first meet, with the indices and direction that layer sees,
  and only increasing linear layers may follow such a meeting.

Shapes along a path are one of ``"inc"``, ``"dec"``, ``"valley"``, ``"peak"``
or ``"none"`` (not known to have any of these shapes).
"""

import numpy as np

from tf_lattice.constraints import ConstraintCheck
from tf_lattice.models.keypoints import refine_keypoints

INC, DEC, VALLEY, PEAK, NONE = "inc", "dec", "valley", "peak", "none"
_FLIP = {INC: DEC, DEC: INC, VALLEY: PEAK, PEAK: VALLEY, NONE: NONE}
_DIRECTION = {"increasing": INC, "decreasing": DEC, "valley": VALLEY, "peak": PEAK, "none": NONE}
_NAMES = {INC: "increasing", DEC: "decreasing", VALLEY: "valley-shaped", PEAK: "peak-shaped",
          NONE: "not shape-constrained"}
#: The violation reported for a structural failure (no finite amount fixes it).
STRUCTURAL = float("inf")


_CALIBRATORS = ("PWLCalibration", "CategoricalCalibration")


def _input_columns(layer):
    """The model-input columns a column-picking layer reads, one per output channel."""
    kind = type(layer).__name__
    if kind == "FeatureColumns":
        return list(layer.indices)
    if kind == "FeatureColumn":  # the per-column layout of earlier versions
        return [layer.index]
    if kind == "SelectColumns":
        return list(layer.columns)
    return None


def _picker(layer):
    """The layer whose output a calibrator reads."""
    return layer._inbound_nodes[0].input_tensors[0]._keras_history.operation


def _calibrator_units(model):
    """``(layer, unit, column)`` for every calibrator unit reading a model-input column.

    A calibrator (PWLCalibration, CategoricalCalibration) reads the input
    through one column-picking layer (``FeatureColumns``, ``SelectColumns``);
    its unit ``u`` reads the picked column ``u`` (every unit reads the one
    column when a single one is picked).
    """
    if len(model.inputs) != 1:
        return []
    source = id(model.inputs[0])
    found = []
    for layer in model.layers:
        nodes = getattr(layer, "_inbound_nodes", [])
        if type(layer).__name__ not in _CALIBRATORS or len(nodes) != 1:
            continue
        picker = _picker(layer)
        picker_nodes = getattr(picker, "_inbound_nodes", [])
        columns = _input_columns(picker)
        if columns is None or len(picker_nodes) != 1 or \
                id(picker_nodes[0].input_tensors[0]) != source:
            continue
        for unit in range(layer.units):
            found.append((layer, unit, columns[0] if len(columns) == 1 else columns[unit]))
    return found


def layers_reading_column(model, j):
    """The calibrators of column ``j`` of the encoded input: ``(layer, unit)`` pairs.

    Found from the model's graph (which layer reads which input column), not
    from layer names; every column-to-layer question goes through here.
    """
    return [(layer, unit) for layer, unit, column in _calibrator_units(model) if column == j]


def lattice_columns(model):
    """Which input column each dimension of each lattice unit reads.

    Traced through the model's graph from the columns' calibrators (whose
    outputs the column-moving layers route, see `_routed`), not from layer
    names or a layer's arguments.

    Returns:
      A dict from each Lattice layer to one list per unit: the column whose
      calibrated value each of its dimensions reads, in order, or None for a
      dimension that reads anything else (an embedding, another layer's
      output).
    """
    if len(model.inputs) != 1:
        return {}
    captured = {}

    def rule(layer, inputs):
        if type(layer).__name__ == "Lattice":
            captured[layer] = inputs
        routed = _routed(layer, inputs)
        if routed is not None:
            return routed
        return [None] * _channels(layer._inbound_nodes[0].output_tensors[0])

    rule.unknown = lambda inputs: None
    width = _channels(model.inputs[0])
    _trace(model, _seeds(model, {j: (lambda layer, unit, j=j: j) for j in range(width)}), rule,
           None)
    columns = {}
    for layer, inputs in captured.items():
        units, flat = _lattice_units(layer, inputs)
        columns[layer] = [[flat[channel] for channel in unit] for unit in units]
    return columns


# -- the encoding stored beside the model ---------------------------------------------


def check_encoding(model, specs):
    """Checks that the model's calibrators match the stored column encoding.

    Args:
      model: the Keras model.
      specs: the FeatureSpec of every column.

    Returns:
      None when they match, else a message naming the first mismatch.
    """
    width = model.inputs[0].shape[-1] if len(model.inputs) == 1 else None
    if width != len(specs):
        return (f"the model reads {width} columns but the stored encoding describes "
                f"{len(specs)}")
    columns_of = {}
    for layer, _, column in _calibrator_units(model):
        if column < len(specs):
            columns_of.setdefault(layer.name, []).append(column)
    for j, spec in enumerate(specs):
        layers = layers_reading_column(model, j)
        if len(layers) != 1:
            return f"column {spec.name!r} has {len(layers)} calibrators in the model, expected 1"
        layer, unit = layers[0]
        kind = type(layer).__name__
        if spec.kind == "numeric":
            if not hasattr(layer, "input_keypoints"):
                return f"column {spec.name!r} is numeric but the model calibrates it with a {kind}"
            used = np.broadcast_to(np.asarray(layer.input_keypoints, np.float32),
                                   (layer.units, layer.num_keypoints))[unit]
            if used.size < len(spec.keypoints):
                return (f"the calibrator of column {spec.name!r} has {used.size} keypoints but "
                        f"the stored encoding has {len(spec.keypoints)}")
            # The layer's keypoints are the stored ones refined to the layer's count.
            stored = refine_keypoints(spec.keypoints, used.size).astype(np.float32)
            if not np.array_equal(used, stored):
                at = int(np.flatnonzero(used != stored)[0])
                return (f"the calibrator of column {spec.name!r} has keypoint {at} = {used[at]!r} "
                        f"but the stored encoding has {stored[at]!r}")
        else:
            if not hasattr(layer, "num_buckets"):
                return (f"column {spec.name!r} is categorical but the model calibrates it with a "
                        f"{kind}")
            # A categorical calibrator has one bucket per category of its
            # largest vocabulary, plus the default bucket (whose id is the
            # layer's last bucket; the per-column layout of earlier versions
            # used the layer's own default bucket instead).
            widest = max(len(specs[c].vocabulary) for c in columns_of[layer.name])
            legacy = type(_picker(layer)).__name__ == "FeatureColumn"
            if layer.num_buckets != widest + (0 if legacy else 1):
                return (f"the calibrator of column {spec.name!r} has "
                        f"{layer.num_buckets - (0 if legacy else 1)} categories but the stored vocabulary has {len(spec.vocabulary)}")
    return None


# -- graph traversal -----------------------------------------------------------------------


def _compose(prop, state):
    """The shape of ``f(g)`` for ``f`` of shape ``prop`` and ``g`` of shape ``state``."""
    if prop == INC:
        return state
    if prop == DEC:
        return _FLIP[state]
    if prop in (VALLEY, PEAK):
        return prop if state in (INC, DEC) else NONE
    return NONE


def _combine(states):
    """The shape of a sum (or lattice) of parts of the given shapes in one variable."""
    states = list(states)
    if len(states) == 1:
        return states[0]
    if states and all(s == states[0] for s in states) and states[0] in (INC, DEC):
        return states[0]
    return NONE


def _channels(tensor):
    shape = tuple(tensor.shape[1:])
    return int(np.prod(shape)) if shape else 1


def _lattice_units(layer, inputs):
    """Per unit of a Lattice, the flat input channels of its dimensions, in order."""
    dims = len(layer.lattice_sizes)
    if len(inputs) > 1:  # a list of per-dimension tensors
        flat = [c for info in inputs for c in info]
        return [list(range(dims)) for _ in range(layer.units)], flat
    shape = tuple(layer._inbound_nodes[0].input_tensors[0].shape[1:])
    if len(shape) == 2:  # (units, dims)
        return [list(range(u * dims, (u + 1) * dims)) for u in range(layer.units)], inputs[0]
    return [list(range(dims)) for _ in range(layer.units)], inputs[0]


def _dimension_props(layer, unit):
    """The direction of each dimension of a Lattice's unit ``unit``."""
    spec = layer.unit_spec(unit)
    return [_DIRECTION[unimodality] if unimodality != "none" else _DIRECTION[monotonicity]
            for monotonicity, unimodality in zip(spec.monotonicity_names, spec.unimodality_names)]


def _seeds(model, states):
    """Seed functions for `_trace`: the calibrators of every column.

    Args:
      states: dict column -> function(layer, unit) giving the information of
        the output channel of that column's calibrator unit; columns not in it
        get None (the calibrator does not depend on what is traced).
    """
    units_of = {}
    for layer, unit, column in _calibrator_units(model):
        state = states.get(column, lambda layer, unit: None)
        units_of.setdefault(layer.name, {})[unit] = state
    return {name: (lambda layer, units=units: [
                units[u](layer, u) if u in units else None
                for u in range(_channels(layer._inbound_nodes[0].output_tensors[0]))])
            for name, units in units_of.items()}


def _trace(model, seeds, rule, input_info):
    """Propagates per-channel information from seed layers to the model output.

    Every column's calibrators are seeds: what flows into them is replaced by
    the seed. The model input itself carries ``input_info`` on every channel,
    so a path that reaches the output without passing a calibrator shows up.

    Args:
      model: a functional Keras model.
      seeds: dict layer name -> function(layer) returning the information of
        each channel of that layer's first output.
      rule: function(layer, inputs) -> the information of each channel of
        ``layer``'s first output, given ``inputs``, one list of channel
        information per input tensor; ``rule.unknown(inputs)`` gives the
        information of the channels of any further output.
      input_info: the information of the model input's channels.

    Returns:
      the channel information of the model's (first) output.

    Raises:
      ValueError: the graph cannot be traced (shared layers, several inputs).
    """
    if len(model.inputs) != 1:
        raise ValueError(f"the model has {len(model.inputs)} inputs, expected 1")
    known = {id(model.inputs[0]): [input_info] * _channels(model.inputs[0])}
    for layer in model.layers:
        nodes = getattr(layer, "_inbound_nodes", [])
        if not nodes or not nodes[0].input_tensors:
            continue
        if len(nodes) != 1:
            raise ValueError(f"layer {layer.name!r} is called more than once")
        node = nodes[0]
        inputs = []
        for tensor in node.input_tensors:
            if id(tensor) not in known:
                raise ValueError(f"layer {layer.name!r} reads a tensor the trace has not reached")
            inputs.append(known[id(tensor)])
        first = seeds[layer.name](layer) if layer.name in seeds else rule(layer, inputs)
        for index, tensor in enumerate(node.output_tensors):
            known[id(tensor)] = first if index == 0 else [rule.unknown(inputs)] * _channels(tensor)
    if id(model.outputs[0]) not in known:
        raise ValueError("the model output was not reached")
    return known[id(model.outputs[0])]


# -- shapes of the output in one column ----------------------------------------------------


def _routed(layer, inputs):
    """The channel information of a layer that only moves channels around
    (Concatenate, GatherFeatures, ReorderFeatures, SelectColumns), or None
    for any other layer."""
    kind = type(layer).__name__
    if kind == "Concatenate" and layer.axis in (-1, 1) and all(
            len(t.shape) == 2 for t in layer._inbound_nodes[0].input_tensors):
        return [c for info in inputs for c in info]
    if kind == "GatherFeatures":
        return [inputs[0][i] for subset in layer.subsets for i in subset]
    if kind in ("ReorderFeatures", "SelectColumns"):
        return [inputs[0][i] for i in layer.columns]
    return None


class _ShapeRule:
    """Channel information: None (does not depend on the column) or a shape."""

    def unknown(self, inputs):
        depends = any(c is not None for info in inputs for c in info)
        return NONE if depends else None

    def __call__(self, layer, inputs):
        kind = type(layer).__name__
        if kind == "PWLCalibration":
            values = inputs[0]
            return [None if values[0 if len(values) == 1 else u] is None
                    else _compose(_DIRECTION[layer.unit_monotonicities[u]],
                                  values[0 if len(values) == 1 else u])
                    for u in range(layer.units)]
        routed = _routed(layer, inputs)
        if routed is not None:
            return routed
        if kind == "Lattice":
            units, flat = _lattice_units(layer, inputs)
            merged = []
            for u, unit in enumerate(units):
                props = _dimension_props(layer, u)
                merged.append(self._merge([_compose(props[k], flat[c])
                                           for k, c in enumerate(unit) if flat[c] is not None]))
            return merged
        if kind == "Linear":
            props = [_DIRECTION[m] for m in layer.monotonicities]
            merged = self._merge([_compose(props[k], c) for k, c in enumerate(inputs[0])
                                  if c is not None])
            return [merged] * layer.units
        return [self.unknown(inputs)] * _channels(layer._inbound_nodes[0].output_tensors[0])

    @staticmethod
    def _merge(states):
        return _combine(states) if states else None


def output_shape_in_column(model, j, seed_state):
    """The shape of every model output channel in column ``j``.

    Args:
      model: the Keras model.
      j: the column.
      seed_state: function(layer, unit) -> the shape of that calibrator unit's output in
        the column (its monotonicity, or ``INC`` to trace the calibrated value).

    Returns:
      list, per output channel, of a shape or None (the channel does not
      depend on column ``j``).
    """
    return _trace(model, _seeds(model, {j: seed_state}), _ShapeRule(), NONE)


# -- pairwise constraints --------------------------------------------------------------------

_FIRST, _SECOND, _JOINED, _BROKEN = "first", "second", "joined", "broken"


class _PairRule:
    """Channel information: None, ``first``, ``second``, ``joined`` or ``broken``.

    ``joined``: the channel depends on both columns and the pairwise constraint
    holds on it; ``broken``: it depends on both and nothing guarantees it.
    """

    def __init__(self, kind, direction, conditional_state, additive_ok):
        self.kind = kind  # "edgeworth", "trapezoid" or "dominance"
        self.direction = direction
        self.conditional_state = conditional_state  # column-shape info of the second column
        self.additive_ok = additive_ok  # trust holds on f(first) + g(second); dominance does not
        self.reasons = []

    def unknown(self, inputs):
        statuses = {c for info in inputs for c in info if c is not None}
        return _BROKEN if statuses else None

    def _entries(self, layer, unit):
        """The pair constraints the layer declares for its unit ``unit``."""
        if type(layer).__name__ == "Lattice":
            declared = layer.unit_spec(unit).to_config()
        else:
            declared = {name: getattr(layer, name, ()) or ()
                        for name in ("monotonic_dominances", f"{self.kind}_trusts")}
        if self.kind == "dominance":
            return [tuple(e[:2]) for e in declared["monotonic_dominances"]]
        return [tuple(e) for e in declared[f"{self.kind}_trusts"]]

    def _expected(self, k_first, k_second, second_state):
        """The entry a layer must declare: its own indices, and the trust direction in
        its inputs' terms (flipped when the second column reaches it decreasing)."""
        if self.kind == "dominance":
            return (k_first, k_second)
        direction = self.direction
        if second_state == DEC:
            direction = {"increasing": "decreasing", "decreasing": "increasing"}[direction]
        return (k_first, k_second, direction)

    def _meet(self, layer, unit, statuses, props, shapes):
        """The status of one output of a layer reading ``statuses`` (one per dimension)."""
        present = [s for s in statuses if s is not None]
        if not present:
            return None
        if _BROKEN in present:
            return _BROKEN
        firsts = [k for k, s in enumerate(statuses) if s == _FIRST]
        seconds = [k for k, s in enumerate(statuses) if s == _SECOND]
        joined = [k for k, s in enumerate(statuses) if s == _JOINED]
        linear = type(layer).__name__ == "Linear"
        if joined and (not linear or any(props[k] != INC for k in joined)):
            self.reasons.append(f"{layer.name!r} transforms the pair non-linearly or with a weight "
                                "of either sign after they meet")
            return _BROKEN
        if not (firsts and seconds):
            if joined and seconds and not self.additive_ok:
                self.reasons.append(f"{layer.name!r} adds an effect of the second column apart "
                                    "from the first")
                return _BROKEN
            return _JOINED if joined else (_FIRST if firsts else _SECOND)
        if len(firsts) == 1 and len(seconds) == 1 and not joined:
            expected = self._expected(firsts[0], seconds[0], shapes[seconds[0]])
            if expected in self._entries(layer, unit):
                return _JOINED
            if not (linear and self.additive_ok):
                self.reasons.append(f"{layer.name!r} (unit {unit}) reads both columns without "
                                    f"declaring {expected}")
                return _BROKEN
        if linear and self.additive_ok:
            # A sum of parts: the effect of the first column changes with the
            # second only within the joined parts, which carry the constraint.
            return _JOINED
        self.reasons.append(f"{layer.name!r} (unit {unit}) reads the columns through several "
                            "inputs without a constraint between each pair")
        return _BROKEN

    def __call__(self, layer, inputs):
        kind = type(layer).__name__
        if kind == "PWLCalibration":
            values = inputs[0]
            out = []
            for u in range(layer.units):
                status = values[0 if len(values) == 1 else u]
                if status == _JOINED:
                    self.reasons.append(f"{layer.name!r} recalibrates the pair after they meet")
                    status = _BROKEN
                out.append(status)
            return out
        routed = _routed(layer, inputs)
        if routed is not None:
            return routed
        if kind == "Lattice":
            units, flat = _lattice_units(layer, inputs)
            shape_units, shape_flat = _lattice_units(layer, self.conditional_state[layer.name])
            return [self._meet(layer, u, [flat[c] for c in unit], _dimension_props(layer, u),
                               [shape_flat[c] for c in shape_units[u]])
                    for u, unit in enumerate(units)]
        if kind == "Linear":
            props = [_DIRECTION[m] for m in layer.monotonicities]
            shapes = self.conditional_state[layer.name][0]
            status = self._meet(layer, 0, list(inputs[0]), props, shapes)
            return [status] * layer.units
        status = self.unknown(inputs)
        if any(c not in (None, _BROKEN) for info in inputs for c in info):
            self.reasons.append(f"{layer.name!r} ({kind}) is a layer the check does not know")
        return [status] * _channels(layer._inbound_nodes[0].output_tensors[0])


def _layer_inputs_shapes(model, j, seed_state):
    """Per layer name, the column-``j`` shapes of its inputs (as `_trace` passes them)."""
    captured = {}
    shape_rule = _ShapeRule()

    def rule(layer, inputs):
        captured[layer.name] = inputs
        return shape_rule(layer, inputs)

    rule.unknown = shape_rule.unknown
    _trace(model, _seeds(model, {j: seed_state}), rule, NONE)
    return captured


def pair_status(model, first, second, kind, direction, seed_state):
    """Whether a pairwise constraint is carried through the model.

    Args:
      model: the Keras model.
      first, second: the columns (main and conditional of a trust, dominant
        and weak of a dominance).
      kind: ``"edgeworth"``, ``"trapezoid"`` or ``"dominance"``.
      direction: trusts: ``"increasing"`` or ``"decreasing"``.
      seed_state: as for `output_shape_in_column` (the calibrators' shapes).

    Returns:
      ``(holds, reason)``.
    """
    rule = _PairRule(kind, direction, _layer_inputs_shapes(model, second, seed_state),
                     additive_ok=kind != "dominance")
    seeds = _seeds(model, {first: lambda layer, unit: _FIRST, second: lambda layer, unit: _SECOND})
    outputs = _trace(model, seeds, rule, _BROKEN)
    if _BROKEN in outputs:
        return False, ("; ".join(dict.fromkeys(rule.reasons))
                       or "the output reads the input through layers other than the calibrators")
    if kind == "dominance" and _SECOND in outputs:
        return False, ("an output depends on the weak column without the dominant one "
                       "(they are in different lattices)")
    return True, None


# -- the checks of declared constraints ------------------------------------------------------


def _calibrator_shape(layer, unit):
    """The shape in its column of a calibrator unit's output, from the layer's settings."""
    if hasattr(layer, "unit_monotonicities"):
        return _DIRECTION[layer.unit_monotonicities[unit]]
    return NONE


def _implied_pairs(pairs, size):
    """The transitive closure of ``i <= j`` pairs over ``size`` categories."""
    reach = np.zeros((size, size), dtype=bool)
    for i, j in pairs:
        if 0 <= i < size and 0 <= j < size:
            reach[i, j] = True
    for k in range(size):
        reach |= reach[:, k:k + 1] & reach[k:k + 1, :]
    return reach


def _structural(name, holds, location):
    return ConstraintCheck(name, 0.0 if holds else STRUCTURAL, None if holds else location)


def _output_check(name, model, j, seed_state, wanted):
    try:
        shapes = output_shape_in_column(model, j, seed_state)
    except ValueError as error:
        return _structural(name, False, f"cannot trace the model: {error}")
    bad = [u for u, shape in enumerate(shapes) if shape is not None and shape != wanted]
    if not bad:
        return _structural(name, True, None)
    return _structural(name, False, f"output {bad[0]} is {_NAMES[shapes[bad[0]]]} in it")


def _convexity_domain(layers):
    """Where a convex (concave) calibrator is convex (concave): everywhere when
    every calibrator of the column continues its end segments, otherwise
    between its first and last keypoint (a flat tail breaks the shape)."""
    linear = all(getattr(layer, "unit_extrapolations", ["constant"] * (unit + 1))[unit] == "linear"
                 for layer, unit in layers)
    return "on the whole real line" if linear else "between the first and last keypoint"


def declared_checks(model, specs, constraints):
    """One structural check per declared constraint.

    Args:
      model: the Keras model.
      specs: the FeatureSpec of every column.
      constraints: the resolved ModelConstraints (the user's declarations: a
        FeatureConfig per column and the pairwise constraints by position).

    Returns:
      list of ConstraintCheck; a failing check has an infinite violation and
      a location that says what is wrong.
    """
    checks = []
    for j, (spec, feature) in enumerate(zip(specs, constraints.features)):
        layers = layers_reading_column(model, j)
        label = f"declared {{}}[{spec.name!r}]={{}}"
        declared = []
        if feature.monotonicity != "none":
            declared.append(("monotonicity", feature.monotonicity))
        if feature.unimodality != "none":
            declared.append(("unimodality", feature.unimodality))
        if feature.convexity != "none":
            declared.append(("convexity", feature.convexity))
        if feature.category_order:
            pairs = [(spec.vocabulary[a], spec.vocabulary[b]) for a, b in feature.category_order]
            declared.append(("category_order", pairs))
        if declared and not layers:
            for argument, value in declared:
                checks.append(_structural(label.format(argument, value), False,
                                          "no layer of the model reads the column"))
            continue
        for argument, value in declared:
            name = label.format(argument, value)
            if argument in ("monotonicity", "unimodality"):
                checks.append(_output_check(f"{name}: the model output", model, j,
                                            _calibrator_shape, _DIRECTION[value]))
                continue
            if argument == "convexity":
                wrong = [f"{layer.name} (unit {unit})" for layer, unit in layers
                         if getattr(layer, "unit_convexities", ["none"] * (unit + 1))[unit] != value]
                checks.append(_structural(f"{name}: calibrator, {_convexity_domain(layers)}",
                                          not wrong, f"{wrong[0] if wrong else ''} is not {value}"))
            else:
                missing = []
                for layer, _ in layers:
                    reach = _implied_pairs(getattr(layer, "category_order", ()) or (),
                                           len(spec.vocabulary))
                    missing += [(spec.vocabulary[a], spec.vocabulary[b])
                                for a, b in feature.category_order if not reach[a, b]]
                checks.append(_structural(f"{name}: calibrator", not missing,
                                          f"the calibrator does not order {missing[:1]}"))
            checks.append(_output_check(f"{name}: later layers increasing in the calibrated value",
                                        model, j, lambda layer, unit: INC, INC))
    columns = [spec.name for spec in specs]
    pairs = [("edgeworth", t) for t in constraints.edgeworth_trusts]
    pairs += [("trapezoid", t) for t in constraints.trapezoid_trusts]
    pairs += [("dominance", d + (None,)) for d in constraints.monotonic_dominances]
    for kind, (first, second, direction) in pairs:
        if kind == "dominance":
            name = f"declared dominance[{columns[first]!r} over {columns[second]!r}]"
        else:
            name = (f"declared {kind} trust[{columns[first]!r} {direction} with "
                    f"{columns[second]!r}]")
        try:
            holds, reason = pair_status(model, first, second, kind, direction, _calibrator_shape)
        except ValueError as error:
            holds, reason = False, f"cannot trace the model: {error}"
        checks.append(_structural(name, holds, reason))
    return checks
