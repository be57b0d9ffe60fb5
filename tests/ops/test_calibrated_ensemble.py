"""Tests of tf_lattice.ops.calibrated_ensemble: kernel, pure-TF twin and NumPy oracle."""

import numpy as np
import pytest
import tensorflow as tf

from tests.oracles import lattice as lattice_oracle
from tests.oracles import pwl_calibration as pwl_oracle
from tf_lattice.ops import calibrated_ensemble

IMPLEMENTATIONS = ["kernel", "portable"]
PARAMETERS = ("outputs", "missing_outputs", "tables", "lattice_params", "weights", "bias")


def _case(seed, numeric=3, categorical=2, lattice_sizes=(2, 2, 2), lattices=5, batch=40,
          dtype=np.float64):
    """Random arguments: numeric columns with NaN, values outside the
    keypoints and on them; categorical ids in and out of range, halves, NaN."""
    rng = np.random.default_rng(seed)
    width = numeric + categorical + 1  # One column nobody reads.
    columns = rng.permutation(width)
    numeric_columns = [int(c) for c in columns[:numeric]]
    categorical_columns = [int(c) for c in columns[numeric:numeric + categorical]]
    num_keypoints = 5
    keypoints = np.sort(rng.uniform(-2, 2, (numeric, num_keypoints)), axis=1)
    keypoints[:, 1:] += np.arange(1, num_keypoints) * 0.1  # Strictly increasing.
    features = rng.uniform(-3, 3, (batch, width))
    for p, column in enumerate(numeric_columns):
        features[::7, column] = np.nan
        features[1::9, column] = keypoints[p, rng.integers(0, num_keypoints)]
    num_buckets = [int(n) for n in rng.integers(1, 5, categorical)]
    for c, column in enumerate(categorical_columns):
        features[:, column] = rng.integers(-1, num_buckets[c] + 2, batch)
        features[::5, column] = 0.5  # Rounds to 0 (half to even).
        features[2::5, column] = 1.5  # Rounds to 2.
        features[3::11, column] = np.nan
    rank = len(lattice_sizes)
    calibrated = numeric + categorical
    # Calibrated values spread over each lattice dimension and beyond it.
    low, high = -0.3, max(lattice_sizes) - 0.7
    arguments = dict(
        features=features,
        keypoints=keypoints,
        outputs=rng.uniform(low, high, (numeric, num_keypoints)),
        missing_outputs=rng.uniform(low, high, numeric),
        tables=rng.uniform(low, high, (categorical, max(num_buckets, default=0) + 2)),
        lattice_params=rng.normal(size=(lattices, int(np.prod(lattice_sizes)))),
        weights=rng.normal(size=lattices),
        bias=np.asarray(rng.normal()),
    )
    arguments = {k: np.asarray(v, dtype) for k, v in arguments.items()}
    structure = dict(
        numeric_columns=numeric_columns, categorical_columns=categorical_columns,
        num_buckets=num_buckets, lattice_sizes=list(lattice_sizes),
        lattice_inputs=[int(i) for i in rng.integers(0, calibrated, lattices * rank)])
    return arguments, structure


def _oracle(arguments, structure):
    """The formula, with np.interp calibrators and the lattice oracle."""
    features = arguments["features"].astype(np.float64)
    columns = []
    for p, column in enumerate(structure["numeric_columns"]):
        x = features[:, column:column + 1]
        calibrated = pwl_oracle.pwl_calibration(np.nan_to_num(x), arguments["keypoints"][p:p + 1],
                                                arguments["outputs"][p:p + 1])[:, 0]
        columns.append(np.where(np.isnan(x[:, 0]), arguments["missing_outputs"][p], calibrated))
    for c, column in enumerate(structure["categorical_columns"]):
        ids = np.round(features[:, column])  # NumPy rounds half to even, as tf.round.
        known = structure["num_buckets"][c]
        buckets = np.where((ids >= 0) & (ids < known), np.nan_to_num(ids), known).astype(int)
        columns.append(arguments["tables"][c, buckets])
    z = np.stack(columns, axis=1)
    rank = len(structure["lattice_sizes"])
    inputs = z[:, structure["lattice_inputs"]].reshape(len(z), -1, rank)
    values = lattice_oracle.lattice_interpolation(inputs, arguments["lattice_params"],
                                                  structure["lattice_sizes"], "hypercube")
    return arguments["bias"] + values @ arguments["weights"]


def _scores(arguments, structure, implementation):
    return calibrated_ensemble(**arguments, **structure, implementation=implementation)


def _gradients(arguments, structure, implementation, upstream):
    tensors = {k: tf.constant(v) for k, v in arguments.items()}
    with tf.GradientTape() as tape:
        tape.watch([tensors[k] for k in PARAMETERS])
        scores = calibrated_ensemble(**tensors, **structure, implementation=implementation)
        objective = tf.reduce_sum(scores * upstream)
    return dict(zip(PARAMETERS, tape.gradient(objective, [tensors[k] for k in PARAMETERS])))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("lattice_sizes", [(2, 2, 2), (3, 2), (2,), (4, 3, 2, 2), (2,) * 5, (2,) * 6])
@pytest.mark.parametrize("seed", [0, 1])
def test_scores_match_the_oracle(implementation, lattice_sizes, seed):
    arguments, structure = _case(seed, lattice_sizes=lattice_sizes)
    np.testing.assert_allclose(_scores(arguments, structure, implementation),
                               _oracle(arguments, structure), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lattice_sizes", [(2, 2, 2), (3, 2), (4, 3, 2, 2), (2,) * 6])
def test_kernel_gradients_match_the_twins(lattice_sizes):
    arguments, structure = _case(2, lattice_sizes=lattice_sizes)
    upstream = tf.constant(np.random.default_rng(5).normal(size=len(arguments["features"])))
    kernel = _gradients(arguments, structure, "kernel", upstream)
    portable = _gradients(arguments, structure, "portable", upstream)
    for name in PARAMETERS:
        np.testing.assert_allclose(tf.convert_to_tensor(kernel[name]),
                                   tf.convert_to_tensor(portable[name]), rtol=1e-10, atol=1e-12,
                                   err_msg=name)
        assert np.any(tf.convert_to_tensor(kernel[name]).numpy() != 0), name


@pytest.mark.parametrize("name", PARAMETERS)
def test_kernel_gradients_match_finite_differences(name):
    arguments, structure = _case(3, lattice_sizes=(3, 2), batch=12)
    others = {k: v for k, v in arguments.items() if k != name}

    def scores(value):
        return calibrated_ensemble(**others, **{name: value}, **structure)

    theoretical, numerical = tf.test.compute_gradient(scores, [tf.constant(arguments[name])])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-6)


def test_float32_kernel_matches_the_float64_oracle():
    arguments, structure = _case(4, dtype=np.float32)
    np.testing.assert_allclose(_scores(arguments, structure, "kernel"),
                               _oracle(arguments, structure), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("numeric, categorical", [(0, 3), (3, 0)])
def test_one_kind_of_column(implementation, numeric, categorical):
    arguments, structure = _case(5, numeric=numeric, categorical=categorical)
    np.testing.assert_allclose(_scores(arguments, structure, implementation),
                               _oracle(arguments, structure), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_no_lattice_scores_the_bias(implementation):
    arguments, structure = _case(6, lattices=0)
    scores = _scores(arguments, structure, implementation)
    np.testing.assert_array_equal(scores, np.full(len(arguments["features"]), arguments["bias"]))


def test_many_rows_split_over_threads_give_the_same_scores_and_gradients():
    # 4,096 rows are worth sharding; the gradient adds per-block sums.
    arguments, structure = _case(7, batch=4096)
    np.testing.assert_allclose(_scores(arguments, structure, "kernel"),
                               _oracle(arguments, structure), rtol=1e-12, atol=1e-12)
    upstream = tf.ones([4096], tf.float64)
    kernel = _gradients(arguments, structure, "kernel", upstream)
    portable = _gradients(arguments, structure, "portable", upstream)
    for name in PARAMETERS:
        np.testing.assert_allclose(tf.convert_to_tensor(kernel[name]),
                                   tf.convert_to_tensor(portable[name]), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("change, message", [
    (dict(numeric_columns=[0, 1, 2, 3]), "keypoints must have shape"),
    (dict(categorical_columns=[9, 1]), "feature column 9 is out of range"),
    (dict(lattice_inputs=[0, 1, 7]), r"lattice_inputs must lie in \[0, 5\)"),
    (dict(lattice_inputs=[0, 1]), "not a multiple of the lattice rank 3"),
    (dict(num_buckets=[1]), "num_buckets has 1 entries for 2 categorical_columns"),
    (dict(num_buckets=[1, 9]), "no default bucket"),
    (dict(lattice_sizes=[2, 1, 2]), "lattice_sizes"),
])
def test_bad_structure_is_reported_before_running(change, message):
    arguments, structure = _case(8, lattices=1)
    with pytest.raises(ValueError, match=message):
        calibrated_ensemble(**arguments, **{**structure, **change})


def test_bad_keypoints_are_reported_by_the_kernel():
    arguments, structure = _case(9)
    arguments["keypoints"][1, 3] = arguments["keypoints"][1, 2]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="keypoints of numeric unit 1 must be strictly increasing"):
        _scores(arguments, structure, "kernel")


def test_mismatched_parameter_shape_is_reported():
    arguments, structure = _case(10)
    arguments["weights"] = arguments["weights"][:-1]
    with pytest.raises(ValueError, match="weights must have shape"):
        _scores(arguments, structure, "kernel")


@pytest.mark.parametrize("lattice_sizes", [(2, 2, 2), (3, 2)])
def test_vertex_values_near_the_dtype_limit_interpolate_to_finite_values(lattice_sizes):
    """Differences of such values overflow; the kernel interpolates as the
    twin does, with no infinity or NaN, forward and backward."""
    arguments, structure = _case(11, lattice_sizes=lattice_sizes, dtype=np.float32)
    rng = np.random.default_rng(0)
    arguments["lattice_params"] = rng.choice([-3e38, 3e38], arguments["lattice_params"].shape
                                             ).astype(np.float32)
    arguments["weights"] = np.full_like(arguments["weights"], 1e-3)
    kernel = _scores(arguments, structure, "kernel").numpy()
    assert np.all(np.isfinite(kernel))
    np.testing.assert_allclose(kernel, _scores(arguments, structure, "portable"), rtol=1e-5)
    upstream = tf.fill([len(arguments["features"])], 1e-3)
    kernel_grads = _gradients(arguments, structure, "kernel", upstream)
    portable_grads = _gradients(arguments, structure, "portable", upstream)
    for name in ("lattice_params", "weights"):
        values = tf.convert_to_tensor(kernel_grads[name]).numpy()
        assert np.all(np.isfinite(values)), name
        np.testing.assert_allclose(values, tf.convert_to_tensor(portable_grads[name]), rtol=1e-5,
                                   err_msg=name)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_clustered_keypoints_find_their_segments(implementation):
    """Keypoints bunched in a small part of their span (as quantiles of a
    column with a mode): many keypoints share a cell of the kernel's search
    grid, and inputs fall inside the bunch, on its keypoints and beyond."""
    arguments, structure = _case(12, dtype=np.float64)
    rng = np.random.default_rng(12)
    bunch = np.array([0.0, 1e-4, 2e-4, 3e-4, 7e-4])
    arguments["keypoints"] = np.stack([bunch, np.r_[bunch[:4], 9.0], np.r_[-3.0, bunch[1:]]])
    for p, column in enumerate(structure["numeric_columns"]):
        values = np.where(rng.random(40) < 0.6, rng.uniform(-1e-4, 8e-4, 40),
                          rng.uniform(-4, 10, 40))
        values[::4] = arguments["keypoints"][p, rng.integers(0, 5, 10)]
        arguments["features"][:, column] = values
    np.testing.assert_allclose(_scores(arguments, structure, implementation),
                               _oracle(arguments, structure), rtol=1e-12, atol=1e-12)
