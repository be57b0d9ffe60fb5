"""The frame every benchmark report shares: its date, the machine it ran on,
TensorFlow's thread pools, the two files it is written to, and the mean and
standard error its tables quote.

A benchmark writes its report as ``<name>.json`` (every number) and
``<name>.md`` (the tables a reader looks at) into `OUTPUT_DIR`, where the
committed results live, or into a directory of the caller's choice.
"""

import datetime
import json
import os
import platform
import tempfile

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Where the committed results live.
OUTPUT_DIR = os.path.join(REPO_ROOT, "benchmarks", "results")


def now():
    """The local date and time, ISO 8601 to the second (a report's ``date``)."""
    return datetime.datetime.now().isoformat(timespec="seconds")


def mean_and_standard_error(values):
    """``(mean, standard error of the mean)`` of a sequence of numbers; the
    standard error is 0 for a single number (no spread was measured)."""
    values = np.asarray(list(values), float)
    spread = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return float(values.mean()), float(spread)


def machine():
    """The machine in short: ``{"processor", "cpus", "load_average"}`` (the
    1, 5 and 15 minute load averages when the run starts)."""
    return {"processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "load_average": os.getloadavg()}


def configure_threads(threads):
    """Sets TensorFlow's intra- and inter-op thread pools to ``threads``
    (0 or None: TensorFlow's defaults); before TensorFlow's first op."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def output_dir(requested, temporary_prefix=None):
    """Where a report goes: ``requested`` when given; else a new temporary
    directory named ``<temporary_prefix>...`` when a prefix is given (a run
    whose results are not the committed ones); else `OUTPUT_DIR`."""
    if requested:
        return requested
    if temporary_prefix is not None:
        return tempfile.mkdtemp(prefix=temporary_prefix)
    return OUTPUT_DIR


def write(output_dir, name, report, markdown, indent=2, default=None, final_newline=False):
    """Writes ``report`` to ``<output_dir>/<name>.json`` and the text
    ``markdown`` to ``<name>.md`` (the directory is created when missing).

    Args:
      indent, default: as in `json.dump` (``default`` turns values JSON
        cannot hold into ones it can).
      final_newline: whether the JSON file ends with a newline.

    Returns:
      ``(json_path, md_path)``.
    """
    os.makedirs(output_dir, exist_ok=True)
    json_path = os.path.join(output_dir, f"{name}.json")
    md_path = os.path.join(output_dir, f"{name}.md")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=indent, default=default)
        if final_newline:
            f.write("\n")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(markdown)
    return json_path, md_path
