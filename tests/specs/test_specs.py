"""The specs: the vocabulary parsed once, each contradiction named, config round trips."""

import json
import os
import subprocess
import sys

import pytest

from tf_lattice.specs import CalibratorSpec, CategoricalSpec, LatticeSpec, LinearSpec

INC, DEC, NONE = "increasing", "decreasing", "none"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_specs_load_without_tensorflow():
    code = ("import sys, tf_lattice.specs as specs; specs.LatticeSpec.parse([2]); "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _round_trip(spec):
    config = json.loads(json.dumps(spec.to_config()))  # JSON-able
    again = type(spec).from_config(config)
    assert again == spec
    assert again.to_config() == spec.to_config()
    return again


# LatticeSpec -----------------------------------------------------------------


def test_lattice_spec_parses_the_vocabulary_once():
    spec = LatticeSpec.parse([2, 3, 3], monotonicities=[INC, None, "Decreasing"],
                             unimodalities=[NONE, "valley", NONE],
                             edgeworth_trusts=[(0, 2, DEC)], trapezoid_trusts=[(2, 0, INC)],
                             joint_monotonicities=[(0, 1), (0, 1)], output_min=-1, units=4)
    assert spec.lattice_sizes == (2, 3, 3) and spec.rank == 3 and spec.num_vertices == 18
    assert spec.monotonicities == (1, 0, -1) and spec.unimodalities == (0, 1, 0)
    assert spec.edgeworth_trusts == ((0, 2, -1),) and spec.trapezoid_trusts == ((2, 0, 1),)
    assert spec.joint_monotonicities == ((0, 1),)  # declared twice: one constraint
    assert spec.output_min == -1.0 and spec.output_max is None and spec.units == 4
    assert spec.monotonicity_names == [INC, NONE, DEC] and spec.has_constraints
    assert LatticeSpec.parse([2, 2], monotonicities=INC).monotonicities == (1, 1)
    assert not LatticeSpec.parse([2, 2]).has_constraints
    _round_trip(spec)
    _round_trip(LatticeSpec.parse([2]))


@pytest.mark.parametrize("kwargs, message", [
    (dict(lattice_sizes=3), "lattice_sizes must be a list"),
    (dict(lattice_sizes=[]), "lattice_sizes must name at least one"),
    (dict(lattice_sizes=[2, 1]), r"lattice_sizes\[1\] must be at least 2"),
    (dict(monotonicities=[INC]), "monotonicities must have one entry per dimension"),
    (dict(monotonicities=[INC, "up"]), r"monotonicities\[1\] must be one of"),
    (dict(monotonicities=[1, 0]), r"monotonicities\[0\] must be one of"),
    (dict(unimodalities=["valley", NONE]), r"unimodalities\[0\] needs lattice_sizes\[0\] >= 3"),
    (dict(lattice_sizes=[3, 2], monotonicities=[INC, NONE], unimodalities=["peak", NONE]),
     r"unimodalities\[0\] is set but dimension 0 is also monotone"),
    (dict(edgeworth_trusts=[(0, 2, INC)]), r"edgeworth_trusts\[0\] names dimension 2, out of range"),
    (dict(edgeworth_trusts=[(0, 1, "up")]), r"edgeworth_trusts\[0\] direction must be one of"),
    (dict(edgeworth_trusts=[(0, 1)]), r"edgeworth_trusts\[0\] must be \(main, conditional"),
    (dict(trapezoid_trusts=[(0, 1, INC)]), r"trapezoid_trusts\[0\] needs its main dimension 0"),
    (dict(monotonicities=[DEC, INC], monotonic_dominances=[(0, 1)]),
     r"monotonic_dominances\[0\] = \(0, 1\) needs both dimensions increasing"),
    (dict(monotonicities=[INC, NONE], range_dominances=[(0, 1)]),
     r"range_dominances\[0\] = \(0, 1\) needs both dimensions increasing"),
    (dict(joint_monotonicities=[(1, 1)]), r"joint_monotonicities\[0\] .* names dimension 1 twice"),
    (dict(joint_monotonicities=[(0, 1.0)]), r"joint_monotonicities\[0\] must name dimensions by int"),
    (dict(output_min=1.0, output_max=0.0), "infeasible bounds: output_min=1.0 > output_max=0.0"),
    (dict(output_max=float("inf")), "output_max must be finite"),
    (dict(units=0), "units must be at least 1"),
])
def test_lattice_spec_names_the_argument_of_each_contradiction(kwargs, message):
    kwargs = dict(kwargs)
    sizes = kwargs.pop("lattice_sizes", [2, 2])
    with pytest.raises(ValueError, match=message):
        LatticeSpec.parse(sizes, **kwargs)


def test_lattice_spec_constructor_takes_canonical_values_and_checks_them():
    spec = LatticeSpec((2, 2), (1, 1), None, monotonic_dominances=((0, 1),))
    assert spec == LatticeSpec.parse([2, 2], monotonicities=INC, monotonic_dominances=[(0, 1)])
    with pytest.raises(ValueError, match=r"monotonicities\[0\] must be -1, 0 or 1"):
        LatticeSpec((2, 2), (INC, INC))
    with pytest.raises(ValueError, match="needs both dimensions increasing"):
        LatticeSpec((2, 2), (1, -1), monotonic_dominances=((0, 1),))
    with pytest.raises(ValueError, match="unknown keys"):
        LatticeSpec.from_config({"lattice_sizes": [2], "monotonicity": [INC]})


# LinearSpec ------------------------------------------------------------------


def test_linear_spec_parses_and_round_trips():
    spec = LinearSpec.parse(3, monotonicities=INC, monotonic_dominances=[(0, 1)],
                            range_dominances=[(2, 0)], input_ranges=[(0, 4), (0, 1), (-1, 1)],
                            normalization_order=1, units=2)
    assert spec.monotonicities == (1, 1, 1) and spec.widths == (4.0, 1.0, 2.0)
    assert spec.has_constraints and not LinearSpec.parse(2).has_constraints
    _round_trip(spec)
    _round_trip(LinearSpec.parse(1))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_inputs=0), "num_input_dims must be at least 1"),
    (dict(monotonicities=[INC]), "one direction per input: one entry per dimension"),
    (dict(monotonicities="up"), "monotonicities must be one of"),
    (dict(monotonicities=[INC, DEC], monotonic_dominances=[(0, 1)]),
     r"monotonic_dominances entry \(0, 1\) needs both inputs declared 'increasing'"),
    (dict(monotonicities=INC, range_dominances=[(0, 1)]), "range_dominances need input_ranges"),
    (dict(monotonicities=INC, range_dominances=[(0, 1)], input_ranges=[(0, 1), (1, 1)]),
     r"input_ranges\[1\] = \(1, 1\) must have min < max"),
    (dict(monotonicities=INC, input_ranges=[(0, 1)]), "one \\(min, max\\) pair per input"),
    (dict(monotonicities=INC, monotonic_dominances=[(0, 1)], range_dominances=[(1, 0)],
          input_ranges=[(0, 1), (0, 1)]), "contain a cycle"),
    (dict(monotonic_dominances=[(0, 2)]), r"monotonic_dominances\[0\] names input 2, out of range"),
    (dict(normalization_order=2), "normalization_order must be None or 1"),
])
def test_linear_spec_names_the_argument_of_each_contradiction(kwargs, message):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=message):
        LinearSpec.parse(kwargs.pop("num_inputs", 2), **kwargs)


# CalibratorSpec --------------------------------------------------------------


def test_calibrator_spec_parses_and_round_trips():
    spec = CalibratorSpec.parse([[0, 1, 2], [0, 2, 4]], units=2, monotonicity=[INC, NONE],
                                convexity="convex", output_min=0.0, output_max=1.0,
                                missing_input_value=-1, missing_output_value=0.5)
    assert spec.per_unit_keypoints and spec.num_keypoints == 3
    assert spec.monotonicity == (1, 0) and spec.convexity == 1
    assert spec.unit_monotonicities == (1, 0) and spec.unit_convexities == (1, 1)
    assert spec.impute_missing and spec.missing_input_value == -1.0
    selected = spec.select([1])
    assert selected.units == 1 and selected.monotonicity == (0,)
    assert selected.input_keypoints == ((0.0, 2.0, 4.0),)
    _round_trip(spec)
    clamped = CalibratorSpec.parse([0, 1], monotonicity=DEC, output_min=0, clamp_min=True,
                                   extrapolation=["constant"])
    assert clamped.monotonicity == -1 and clamped.extrapolation == ("constant",)
    _round_trip(clamped)


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_keypoints=[0.0]), r"input_keypoints must have shape \[K\] or \[units, K\]"),
    (dict(input_keypoints=[0.0, 0.0, 1.0]), "finite and strictly increasing"),
    (dict(input_keypoints=[[0.0, 1.0]], units=2), "one row per unit"),
    (dict(monotonicity="up"), "monotonicity must be one of"),
    (dict(units=2, convexity=["convex", "wavy"]), r"convexity\[1\] must be one of"),
    (dict(units=2, monotonicity=[INC] * 3), "one direction or one per unit"),
    (dict(extrapolation="quadratic"), "extrapolation must be one of"),
    (dict(output_min=2.0, output_max=1.0), "infeasible bounds: output_min=2.0"),
    (dict(is_cyclic=True, monotonicity=INC), "is_cyclic=True cannot be combined"),
    (dict(extrapolation="linear", output_max=1.0), "extrapolation='linear' cannot be combined"),
    (dict(extrapolation="linear", is_cyclic=True), "cannot be combined with is_cyclic"),
    (dict(convexity="convex", input_keypoints_type="learned_interior"),
     "convexity requires input_keypoints_type='fixed'"),
    (dict(input_keypoints_type="learned"), "input_keypoints_type must be one of"),
    (dict(clamp_min=True, monotonicity=INC), "clamp_min=True requires output_min"),
    (dict(units=2, clamp_max=True, monotonicity=[INC, INC], output_max=1.0),
     "clamp_max=True requires output_max and one monotonicity shared"),
    (dict(clamp_max=True, monotonicity=INC, convexity="concave", output_max=1.0),
     "clamp_max=True cannot be combined with a convexity"),
    (dict(output_max=1.0, missing_output_value=2.0), "missing_output_value=2.0 lies outside"),
    (dict(missing_input_value="?"), "missing_input_value must be a number"),
])
def test_calibrator_spec_names_the_argument_of_each_contradiction(kwargs, message):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=message):
        CalibratorSpec.parse(kwargs.pop("input_keypoints", [0.0, 0.5, 1.0]), **kwargs)


# CategoricalSpec -------------------------------------------------------------


def test_categorical_spec_parses_and_round_trips():
    spec = CategoricalSpec.parse(4, units=2, category_order=[(0, 1), (1, 3), (0, 1)],
                                 output_min=-1, output_max=1)
    assert spec.category_order == ((0, 1), (1, 3)) and spec.has_constraints
    assert not CategoricalSpec.parse(2).has_constraints
    _round_trip(spec)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_buckets=0), "num_buckets must be at least 1"),
    (dict(category_order=[(0, 3)]), r"category_order\[0\] names category 3, out of range"),
    (dict(category_order=[(2, 2)]), r"category_order\[0\] .* names category 2 twice"),
    (dict(category_order=[(0, 1), (1, 2), (2, 0)]), r"category_order .* contains a cycle \(0 <= 1"),
    (dict(output_min=1.0, output_max=-1.0), "infeasible bounds"),
    (dict(units=0), "units must be at least 1"),
])
def test_categorical_spec_names_the_argument_of_each_contradiction(kwargs, message):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=message):
        CategoricalSpec.parse(kwargs.pop("num_buckets", 3), **kwargs)
