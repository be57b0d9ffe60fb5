"""Trains TensorFlow Lattice 2.1.1's premade classifiers (runs in the TFL environment).

Imports ``tensorflow_lattice``, never ``tf_lattice``. Reads a JSON request on
stdin::

    {"threads": int, "jobs": [{"name": str, "data_path": str, "save_dir": str,
      "features": [{"name", "kind": "numeric"|"categorical", "num_buckets",
                    "monotonicity": "increasing"|"decreasing"|"none"}],
      "models": [{"name", "kind": "linear"|"lattice"|"ensemble",
                  "lattices": "random"|"crystals"|"rtl_layer"}],
      "settings": {"num_keypoints", "lattice_size", "num_lattices",
                   "lattice_rank", "epochs", "batch_size", "learning_rate",
                   "prefitting_epochs", "seed"}}]}

``data_path`` is an ``.npz`` with ``train_<feature>``, ``test_<feature>``
and ``probe_<probed>__<feature>`` columns (numeric float32, categorical int32
bucket indices) and ``train_label``. Each model is trained with Adam on the
binary cross-entropy of its logit (unbounded output); its test and probe
logits are saved as ``<save_dir>/<model>__test.npy`` and
``<model>__probe__<probed>.npy``. The last stdout line is one JSON object
``{"versions": {...}, "results": {job: {model: {"fit_seconds": float} or
{"error": str}}}}``. Progress lines on stderr start with ``tfl ``.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tfl_serve import failure, progress, serve  # noqa: E402


def quantile_keypoints(values, count):
    """``count`` keypoints at evenly spaced quantiles of the distinct finite
    values (nearest value), or every distinct value when there are fewer.

    TFL's own ``premade_lib.compute_keypoints`` does the same but calls
    ``np.quantile(interpolation=...)``, which NumPy 2 no longer accepts.
    """
    distinct = np.unique(values[np.isfinite(values)])
    if len(distinct) <= count:
        return distinct
    return np.unique(np.quantile(distinct, np.linspace(0.0, 1.0, count), method="nearest"))


def feature_configs(tfl, features, settings, train):
    """One ``tfl.configs.FeatureConfig`` per feature: quantile keypoints of the
    training column, the declared monotonicity, categorical calibration for
    categorical columns."""
    configs = []
    for feature in features:
        common = {"name": feature["name"], "lattice_size": settings["lattice_size"],
                  "monotonicity": feature["monotonicity"]}
        if feature["kind"] == "categorical":
            configs.append(tfl.configs.FeatureConfig(
                num_buckets=feature["num_buckets"], **common))
        else:
            configs.append(tfl.configs.FeatureConfig(
                pwl_calibration_num_keypoints=settings["num_keypoints"],
                pwl_calibration_input_keypoints=[float(k) for k in quantile_keypoints(
                    train[f"train_{feature['name']}"].astype(np.float64),
                    settings["num_keypoints"])],
                **common))
    return configs


def columns(data, prefix, features):
    """The model inputs: one ``[n, 1]`` array per feature."""
    return [data[f"{prefix}{feature['name']}"].reshape(-1, 1) for feature in features]


#: Initial output range of every model: logits spread over [-2, 2] (the
#: premade configs' default, "quantiles", needs label keypoints).
OUTPUT_INITIALIZATION = [-2.0, 2.0]


def model_config(tfl, model, configs, settings):
    """The premade config of ``model``; ``settings["output_initialization"]``
    and ``model["separate_calibrators"]`` (ensembles) override the defaults
    `OUTPUT_INITIALIZATION` and True."""
    output_initialization = settings.get("output_initialization", OUTPUT_INITIALIZATION)
    if model["kind"] == "linear":
        return tfl.configs.CalibratedLinearConfig(
            feature_configs=configs, use_bias=True, output_initialization=output_initialization)
    if model["kind"] == "lattice":
        return tfl.configs.CalibratedLatticeConfig(
            feature_configs=configs, interpolation=model.get("interpolation", "hypercube"),
            output_initialization=output_initialization)
    return tfl.configs.CalibratedLatticeEnsembleConfig(
        feature_configs=configs, lattices=model["lattices"],
        output_initialization=output_initialization,
        num_lattices=settings["num_lattices"], lattice_rank=settings["lattice_rank"],
        separate_calibrators=model.get("separate_calibrators", True),
        use_linear_combination=True, use_bias=True, random_seed=settings["seed"])


def loss_of(keras, task):
    """The loss of ``task``: the binary cross-entropy of the logit for
    "classification", the mean squared error for "regression"."""
    if task == "classification":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


def compile_and_fit(tf, keras, model, inputs, labels, settings, epochs, task="classification"):
    model.compile(loss=loss_of(keras, task),
                  optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    model.fit(inputs, labels, epochs=epochs, batch_size=settings["batch_size"], verbose=0,
              shuffle=True)


def build_model(tf, keras, tfl, premade_lib, model, features, settings, train, labels):
    """Builds (and, for crystals, prefits the structure of) one premade model."""
    configs = feature_configs(tfl, features, settings, train)
    config = model_config(tfl, model, configs, settings)
    if model["kind"] == "linear":
        return tfl.premade.CalibratedLinear(config)
    if model["kind"] == "lattice":
        return tfl.premade.CalibratedLattice(config)
    if model["lattices"] == "random":
        premade_lib.set_random_lattice_ensemble(config)
    elif model["lattices"] == "crystals":
        prefitting_config = premade_lib.construct_prefitting_model_config(config)
        prefitting_model = tfl.premade.CalibratedLatticeEnsemble(prefitting_config)
        compile_and_fit(tf, keras, prefitting_model, columns(train, "train_", features), labels,
                        settings, settings["prefitting_epochs"])
        premade_lib.set_crystals_lattice_ensemble(config, prefitting_config, prefitting_model)
    return tfl.premade.CalibratedLatticeEnsemble(config)


def predict(model, inputs):
    return np.asarray(model.predict(inputs, batch_size=8192, verbose=0)).reshape(-1)


def run_job(tf, keras, tfl, premade_lib, job, task="classification", clear_session=False):
    """Trains every model of ``job`` on the loss of ``task`` (see `loss_of`),
    saves its test and probe outputs and returns ``{model: {"fit_seconds"} or
    {"error"}}``; ``clear_session`` clears the Keras session after each model."""
    data = np.load(job["data_path"])
    features, settings = job["features"], job["settings"]
    labels = data["train_label"].astype(np.float32).reshape(-1, 1)
    train_inputs = columns(data, "train_", features)
    probed = sorted({key.split("__")[0][len("probe_"):] for key in data.files
                     if key.startswith("probe_")})
    results = {}
    for model in job["models"]:
        progress(f"{job['name']} {model['name']}")
        try:
            keras.utils.set_random_seed(settings["seed"])
            start = time.perf_counter()
            built = build_model(tf, keras, tfl, premade_lib, model, features, settings, data,
                                labels)
            compile_and_fit(tf, keras, built, train_inputs, labels, settings, settings["epochs"],
                            task)
            results[model["name"]] = {"fit_seconds": time.perf_counter() - start}
            stem = os.path.join(job["save_dir"], model["name"])
            np.save(f"{stem}__test.npy", predict(built, columns(data, "test_", features)))
            for name in probed:
                np.save(f"{stem}__probe__{name}.npy",
                        predict(built, columns(data, f"probe_{name}__", features)))
        except Exception as error:  # noqa: BLE001 - one model's failure is reported, not fatal
            results[model["name"]] = failure(error)
        if clear_session:
            keras.backend.clear_session()
    return results


def run(request, tf, keras, tfl, premade_lib):
    return {job["name"]: run_job(tf, keras, tfl, premade_lib, job) for job in request["jobs"]}


if __name__ == "__main__":
    serve(run)
