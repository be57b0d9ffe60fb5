"""``tf-lattice fit`` on file globs and on several local workers."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tf_lattice import cli

pytest.importorskip("pyarrow")
pytest.importorskip("datasketches")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _shards(folder, n=900, parts=3):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.uniform(0, 1, n), "b": rng.uniform(0, 1, n),
                          "kind": rng.choice(["x", "y"], n)})
    frame["y"] = 2 * frame["a"] - frame["b"] + 0.3 * (frame["kind"] == "x")
    for k, rows in enumerate(np.array_split(np.arange(n), parts)):
        frame.iloc[rows].to_parquet(folder / f"part-{k}.parquet", index=False)
    return frame


def test_fit_reads_a_glob_of_files(tmp_path, capsys):
    frame = _shards(tmp_path)
    out = tmp_path / "model.keras"
    code = cli.main(["fit", str(tmp_path / "part-*.parquet"), "--target", "y", "--increasing",
                     "a", "--decreasing", "b", "--epochs", "3", "--quiet", "--out", str(out)])
    assert code == cli.EXIT_OK, capsys.readouterr().err
    assert "constraints hold" in capsys.readouterr().out
    model = cli.load_estimator(str(out))
    assert list(model.feature_names_in_) == ["a", "b", "kind"]
    assert np.corrcoef(model.predict(frame.drop(columns="y")), frame["y"])[0, 1] > 0.9
    other = str(tmp_path / "other.keras")
    assert cli.main(["fit", str(tmp_path / "none-*.parquet"), "--target", "y", "--quiet",
                     "--out", other]) == cli.EXIT_USAGE
    assert "no files match" in capsys.readouterr().err
    assert cli.main(["fit", str(tmp_path / "part-*.parquet"), "--target", "nope", "--quiet",
                     "--out", other]) == cli.EXIT_USAGE
    assert "'nope' is not a column" in capsys.readouterr().err
    assert cli.main(["fit", str(tmp_path / "part-*.parquet"), "--target", "y", "--quiet",
                     "--out", str(out)]) == cli.EXIT_USAGE
    assert "already exists" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_on_two_local_workers(tmp_path):
    _shards(tmp_path, n=3000, parts=4)
    out = tmp_path / "model.keras"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from tf_lattice.cli import main; sys.exit(main())",
         "fit", str(tmp_path / "part-*.parquet"), "--target", "y", "--increasing", "a",
         "--model", "ensemble", "--epochs", "2", "--quiet", "--workers", "2", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[worker 0] saved" in result.stdout and "constraints hold" in result.stdout
    assert "[worker 1] saved" not in result.stdout
    assert cli.load_estimator(str(out)).certify().holds
