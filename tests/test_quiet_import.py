"""Importing tf_lattice prints nothing; notebooks get a progress bar by default.

Each case runs in a fresh interpreter (TensorFlow's start-up lines appear
only on its first import). A Jupyter kernel is imitated by an IPython shell
whose configuration has an ``IPKernelApp`` section, which is what tqdm.auto
and the estimators test for.
"""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOISE = ("absl::InitializeLog", "cudart_stub", "cuInit", "oneDNN", "cpu_feature_guard",
         "ipywidgets", "IProgress", "TqdmWarning", "TqdmExperimentalWarning")

NOTEBOOK = """
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
config = Config()
config.IPKernelApp.connection_file = "kernel.json"
InteractiveShell.instance(config=config)
"""


def _run(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_changes)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_import_and_first_op_print_nothing_on_stderr():
    result = _run("""
        import os, sys
        import tf_lattice.estimators
        import tensorflow as tf
        print(float(tf.constant(1.0) + 1), os.environ["TF_CPP_MIN_LOG_LEVEL"])
        print("kept", file=sys.stderr)
    """)
    assert result.stdout.split() == ["2.0", "3"]
    assert result.stderr == "kept\n", result.stderr


def test_a_log_level_the_user_set_is_kept():
    result = _run("""
        import os
        import tf_lattice.estimators
        print(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    """, TF_CPP_MIN_LOG_LEVEL="1")
    assert result.stdout.split() == ["1"]


@pytest.mark.skipif(not all(__import__("importlib").util.find_spec(m) for m in
                            ("IPython", "traitlets")), reason="needs IPython")
def test_a_notebook_imports_quietly_and_draws_a_bar_by_default():
    result = _run(NOTEBOOK + textwrap.dedent("""
        import sys
        import numpy as np
        import pandas as pd
        from tf_lattice.estimators import CalibratedLinearRegressor
        from tf_lattice.estimators._progress import progress_enabled
        print(progress_enabled(1, stream=sys.stdout), progress_enabled(0, stream=sys.stdout))
        sys.stderr.write("fit:\\n")
        X = pd.DataFrame({"a": np.linspace(0, 1, 40)})
        CalibratedLinearRegressor(epochs=2, random_state=0).fit(X, X["a"].to_numpy())
    """))
    assert result.stdout.split() == ["True", "False"]
    before, _, after = result.stderr.partition("fit:\n")
    assert not [word for word in NOISE if word in before], before
    assert "epoch" in after and "2/2" in after, after


def test_filter_noise_keeps_everything_but_tensorflow_log_lines():
    from tf_lattice._quiet import filter_noise

    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to "
            "STDERR\n"
            "I0000 00:00:1796190171.775798    9339 port.cc:153] oneDNN custom operations are on.\n"
            "W0000 00:00:1796190171.776198    9339 cudart_stub.cc:31] Could not find cuda drivers\n"
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild\n"
            "E0000 00:00:1796190185.588994    8230 cuda_platform.cc:52] failed call to cuInit\n"
            "Traceback (most recent call last):\n"
            "a warning of the user's own\n")
    assert filter_noise(text) == (
        "E0000 00:00:1796190185.588994    8230 cuda_platform.cc:52] failed call to cuInit\n"
        "Traceback (most recent call last):\na warning of the user's own\n")


def test_an_import_without_stderr_still_works():
    result = _run("""
        import os, sys
        sys.stderr = None
        os.close(2)
        import tf_lattice.estimators
        import tensorflow as tf
        print(float(tf.constant(2.0) * 2))
    """)
    assert result.stdout.split() == ["4.0"]
