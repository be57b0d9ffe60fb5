"""Smoke tests of the fit benchmark: its clocks, targets, report and a quick run.

No time bound is asserted: timings depend on the machine and its load.
"""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import _cases
from benchmarks import fit as bench


def test_epoch_throughput_counts_the_epochs_after_the_first():
    speed = _cases.epoch_throughput(10.0, [13.0, 14.0, 15.0, 16.0], examples_per_epoch=500)
    assert speed["epochs"] == 4
    assert speed["first_epoch_seconds"] == pytest.approx(3.0)
    assert speed["later_epochs_seconds"] == pytest.approx(3.0)
    assert speed["examples_per_second"] == pytest.approx(500.0)
    assert speed["examples_per_second_all_epochs"] == pytest.approx(2000 / 6.0)
    assert _cases.epoch_throughput(0.0, [2.0], 100)["examples_per_second"] is None
    with pytest.raises(ValueError, match="no epoch"):
        _cases.epoch_throughput(0.0, [], 100)


def test_pooled_speed_sums_examples_and_seconds():
    fits = [{"throughput": _cases.epoch_throughput(0.0, [1.0, 2.0, 3.0], 100)},
            {"throughput": _cases.epoch_throughput(0.0, [1.0, 5.0], 100)},
            {"throughput": None}]
    assert bench.pooled_speed(fits) == pytest.approx(300 / 6.0)
    assert bench.pooled_speed([{"throughput": None}]) is None


def test_epoch_clocks_read_every_epoch_and_restore_the_loop():
    from tf_lattice.estimators import CalibratedLinearRegressor, _training

    saved = _training.EpochProgress, _training.progress_enabled, _training.STEPS_PER_CALL
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.uniform(size=64), "b": rng.uniform(size=64)})
    y = X["a"] + X["b"]
    with bench.epoch_clocks() as clocks:
        # 8 steps per epoch: outside the clocks all 3 epochs run in one call.
        assert _training.epochs_per_call(3, 8, early_stopping=False) == 1
        CalibratedLinearRegressor(epochs=3, batch_size=8, verbose=0, random_state=0).fit(X, y)
    assert _training.epochs_per_call(3, 8, early_stopping=False) == 3
    assert (_training.EpochProgress, _training.progress_enabled,
            _training.STEPS_PER_CALL) == saved
    assert len(clocks) == 1 and len(clocks[0].epoch_ends) == 3
    assert clocks[0].train_begin <= clocks[0].epoch_ends[0] <= clocks[0].epoch_ends[-1]


def test_tfl_cases_configure_both_sides_alike():
    for case in bench.TFL_CASES:
        ours = bench.tfl_case_regressor(case, epochs=4).get_params()
        theirs = bench.tfl_case_model(case)
        assert ours["epochs"] == 4 and ours["batch_size"] == bench.TFL_BATCH_SIZE
        # TFL's premade fit trains every row and scores no validation split.
        assert ours["early_stopping"] is False
        assert ours["num_keypoints"] == bench.TFL_NUM_KEYPOINTS
        assert ours["interpolation"] == theirs["interpolation"] == "hypercube"
        assert sorted(ours["monotonicity"]) == sorted(theirs["features"])
        assert ours["lattice_size"] == theirs["lattice_size"]
        if case["kind"] == "ensemble":
            assert ours["num_lattices"] == bench.TFL_NUM_LATTICES
            assert ours["lattice_rank"] == bench.TFL_LATTICE_RANK
            assert theirs["lattices"] == bench.TFL_ENSEMBLES[ours["ensemble"]]
            assert theirs["separate_calibrators"] is False


def test_scale_data_fills_one_float64_array_chunk_by_chunk():
    X, y = bench.scale_data(250, features=3, chunk=100)
    assert X.shape == (250, 3) and y.shape == (250,)
    assert list(X.columns) == ["x0", "x1", "x2"]
    assert (X.dtypes == np.float64).all()
    assert X.to_numpy().min() >= 0.0 and X.to_numpy().max() <= 1.0
    assert not np.allclose(X.iloc[:100].to_numpy(), X.iloc[100:200].to_numpy())


def _fits(*walls):
    return [{"wall_seconds": w, "cpu_seconds": w, "auc": 0.9} for w in walls]


def _report():
    heart = {"split": "s", "train_rows": 10, "test_rows": 5, "models": {
        bench.README_MODEL: {"family": bench.TF_LATTICE, "baseline": "HGB",
                             "fits": _fits(1.5, 1.0), "auc": 0.9},
        "slow": {"family": bench.TF_LATTICE, "baseline": "HGB", "fits": _fits(2.5, 2.0),
                 "auc": 0.8},
        "HGB": {"family": bench.BASELINE, "baseline": None, "fits": _fits(0.6, 0.6), "auc": 0.85},
        "broken": {"family": bench.TF_LATTICE, "baseline": "HGB", "error": "E: x", "fits": []},
    }}
    adult = {"split": "official", "train_rows": 10, "test_rows": 5, "models": {
        "CalibratedLatticeEnsemble (rtl)": {"family": bench.TF_LATTICE, "fits": _fits(8.0, 7.0),
                                            "auc": 0.921, "seed_aucs": {"0": 0.921, "1": 0.918}},
        "HistGradientBoosting (monotonic_cst)": {"family": bench.BASELINE, "fits": _fits(9.0),
                                                 "auc": 0.93}}}
    throughput = {"examples_per_second": 6000.0}
    tfl = {"rows": 100, "epochs": 3, "batch_size": 256, "num_keypoints": 10, "fits": 2,
           "tfl_status": "ok", "tfl_versions": {"tensorflow-lattice": "2.1.1"},
           "ours": {"a": {"fits": _fits(1.0), "examples_per_second": 6000.0, "speedup": 6.0,
                          "whole_fit_speedup": 3.0},
                    "b": {"fits": _fits(1.0), "examples_per_second": 6000.0, "speedup": 4.0,
                          "whole_fit_speedup": 2.0}},
           "tfl": {"a": {"fits": _fits(3.0), **throughput},
                   "b": {"fits": _fits(2.0), **throughput}}}
    run = {"rows": 10_000, "epochs": 5, "fit_wall_seconds": 0.05, "fit_cpu_seconds": 0.1,
           "rows_per_second": 200_000.0, "peak_bytes": 2_000_000, "raw_bytes": 1_280_000,
           "generate_seconds": 0.1, "rss_bytes_before_fit": 1_500_000,
           "fit_peak_bytes": 1_756_000}
    base = dict(run, rows=1000, rows_per_second=50_000.0, peak_bytes=1_000_000, raw_bytes=128_000)
    scale = {"features": 16, "num_lattices": 32, "baseline": base, "run": run,
             "constant_bytes": 1_000_000, "memory_limit_bytes": 1.5 * 1_280_000 + 1_000_000}
    predict = {"predict_proba": {"median_seconds": 0.004, "calls": 50, "warmup": 5},
               "import": {"tensorflow": {"median_seconds": 2.0, "seconds": [2.0]},
                          "tf_lattice.estimators": {"median_seconds": 3.2, "seconds": [3.2]},
                          "ratio": 1.6}}
    report = {"date": "today", "threads": 2, "quick": False,
              "machine": {"cpu_model": "cpu", "load_average": [1.0, 1.0, 1.0],
                          "load_average_end": [1.0, 1.0, 1.0]},
              "versions": {"tf_lattice": "0", "tensorflow": "2", "scikit-learn": "1",
                           "lightgbm": None},
              "sections": {"heart": heart, "adult": adult, "tfl": tfl, "scale": scale,
                           "predict": predict}}
    report["targets"] = bench.target_status(report)
    return report


def test_targets_report_met_missed_and_not_run():
    statuses = {t["name"]: t["status"] for t in _report()["targets"]}
    readme = f"Heart {bench.README_MODEL}"
    assert statuses[f"{readme}: fit < 2 s"] == "met"
    assert statuses[f"{readme}: fit <= 3x HGB's"] == "met"        # 1.5 / 0.6 = 2.5x
    assert statuses["Heart slow: fit < 2 s"] == "missed"
    assert statuses["Heart slow: fit <= 3x HGB's"] == "missed"     # 4.2x
    assert statuses["Heart broken: fit < 2 s"] == "n/a"
    assert statuses["Adult default ensemble: fit <= HGB's"] == "met"
    assert statuses["Adult default ensemble: fit <= LightGBM's (stretch)"] == "n/a"
    assert statuses["Adult default ensemble: AUC >= 0.920"] == "met"
    # (0.921 + 0.918) / 2 = 0.9195
    assert statuses["Adult default ensemble: mean AUC over 2 seeds >= 0.920"] == "missed"
    assert statuses["same model as TFL: ours >= 5x TFL's examples/s in every case"] == "missed"
    assert statuses["scale: >= 100,000 rows/s end to end"] == "met"
    assert statuses["scale: peak memory <= 1.5x raw float64 + constant"] == "met"
    assert statuses["single-row predict_proba < 5 ms (README model)"] == "met"
    assert statuses["import tf_lattice.estimators <= 1.5x import tensorflow"] == "missed"


def test_markdown_has_a_table_per_section_and_the_targets():
    text = bench.markdown(_report())
    for heading in ("## Heart", "## Adult", "## Same models as TensorFlow Lattice", "## Scale",
                    "## Prediction latency", "## Targets"):
        assert heading in text
    assert f"| {bench.README_MODEL} | 1.50 (1.50) | 1.00 (1.00) | HGB 2.5x | 0.9000 |" in text
    assert "| broken | failed: E: x |" in text
    assert "| a | 6.0k | 6.0k | 6.0x | 1.00 s | 3.00 s | 3.0x |" in text
    assert "| 10,000 | 5 | 0.05 (0.10) | 200,000 | 2 MiB | 1 MiB | 1 MiB | 0.20 |" in text
    assert "| 0.9195 ± 0.0015 (seeds 0: 0.9210, 1: 0.9180) | missed |" in text
    assert text.count("| missed |") == 5


def test_tfl_section_runs_each_case_ours_then_theirs(monkeypatch):
    calls = []

    def ours(X, y, epochs, threads, fits, cases, log):
        calls.append(("ours", cases[0]["name"]))
        return {cases[0]["name"]: {"fits": [], "examples_per_second": 10.0}}

    def theirs(X, y, epochs, threads, fits, python, work_dir, cases, log):
        calls.append(("tfl", cases[0]["name"]))
        if cases[0] is bench.TFL_CASES[2]:
            raise RuntimeError("runner broke")
        return {"tensorflow-lattice": "2.1.1"}, {cases[0]["name"]: {"fits": [],
                                                                   "examples_per_second": 2.0}}

    monkeypatch.setattr(bench, "run_ours_on_tfl_cases", ours)
    monkeypatch.setattr(bench, "run_tfl_cases", theirs)
    section = bench.run_tfl_section(True, 1, True, "python", log=lambda _: None)
    names = [case["name"] for case in bench.TFL_CASES]
    # A runner failure stops TFL's side; ours still runs every case.
    assert calls == [("ours", names[0]), ("tfl", names[0]), ("ours", names[1]),
                     ("tfl", names[1]), ("ours", names[2]), ("tfl", names[2])] + [
                        ("ours", name) for name in names[3:]]
    assert section["tfl_status"] == "failed: runner broke"
    assert [section["ours"][name]["speedup"] for name in names] == [5.0, 5.0, None, None, None]


class _SeededScorer:
    """A classifier stand-in whose test scores depend on its random_state."""

    def __init__(self, fail_on=None):
        self.random_state, self.fail_on, self.fitted_with = None, fail_on, []

    def set_params(self, random_state):
        self.random_state = random_state
        return self

    def fit(self, X, y):
        if self.random_state == self.fail_on:
            raise ValueError("cannot fit")
        self.fitted_with.append(self.random_state)
        return self

    def predict_proba(self, X):
        # Seed s ranks the first s test rows last: a different AUC per seed.
        scores = np.asarray(X, float)[:, 0].copy()
        scores[:self.random_state] = -1.0
        return np.column_stack([1.0 - scores, scores])


def test_seed_aucs_fit_a_fresh_model_per_seed():
    data = (np.zeros((4, 1)), np.array([0, 1, 0, 1]),
            np.array([[0.9], [0.8], [0.1], [0.2]]), np.array([1, 1, 0, 0]))
    models = []

    def factory():
        models.append(_SeededScorer())
        return models[-1]

    aucs = bench.seed_aucs(factory, data, (0, 1, 2), threads=1)
    assert aucs == {"0": 1.0, "1": 0.5, "2": 0.0}
    assert [model.fitted_with for model in models] == [[0], [1], [2]]
    with pytest.raises(RuntimeError, match="seed 2: ValueError: cannot fit"):
        bench.seed_aucs(lambda: _SeededScorer(fail_on=2), data, (1, 2), threads=1)


@pytest.mark.slow
def test_quick_run_writes_the_report(tmp_path, capsys):
    bench.main(["--quick", "--no-tfl", "--only", "heart,predict", "--output-dir", str(tmp_path)])
    report = json.loads((tmp_path / "fit.json").read_text())
    assert (tmp_path / "fit.md").read_text().startswith("# Fit benchmark")
    assert set(report["sections"]) == {"heart", "predict"}
    models = report["sections"]["heart"]["models"]
    assert bench.README_MODEL in models
    assert {m["family"] for m in models.values()} == {bench.TF_LATTICE, bench.BASELINE}
    for name, model in models.items():
        assert "error" not in model, name
        assert len(model["fits"]) == bench.FITS
        for run in model["fits"]:
            assert run["wall_seconds"] > 0 and run["cpu_seconds"] > 0
            assert 0.0 <= run["auc"] <= 1.0
    predict = report["sections"]["predict"]
    assert predict["predict_proba"]["median_seconds"] > 0
    assert predict["import"]["ratio"] > 0
    assert all(t["status"] in ("met", "missed", "n/a") for t in report["targets"])
