"""A quiet first import of TensorFlow.

TensorFlow writes start-up lines to the process's standard error while its
libraries load (``oneDNN custom operations are on``, ``Could not find cuda
drivers``, ``All log messages before absl::InitializeLog() ...``), before
``TF_CPP_MIN_LOG_LEVEL`` applies; in a notebook they fill the first cell.

:func:`install` (called when ``tf_lattice`` is imported) does two things,
both only when the user has not chosen otherwise:

- sets ``TF_CPP_MIN_LOG_LEVEL`` to ``"3"`` unless it is set, which silences
  TensorFlow's C++ log once it is initialized (e.g. the ``failed call to
  cuInit`` error line of CPU machines); errors still reach Python as
  exceptions. Set ``TF_CPP_MIN_LOG_LEVEL=0`` before importing to see the log;
- while TensorFlow is first imported (by tf_lattice or by the user, once
  tf_lattice is imported), holds back the lines written to file descriptor 2
  and writes back all but TensorFlow's log lines (``I0000 ...``,
  ``W0000 ...``) and their known continuations. Nothing is held back when
  ``TF_CPP_MIN_LOG_LEVEL`` was set by the user or TensorFlow is already
  imported.
"""

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
#: TensorFlow's start-up lines: glog/absl info and warning lines and the notes that follow them.
_NOISE = re.compile(
    r"^(?:[IW]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions:"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] )")


def filter_noise(text):
    """``text`` without TensorFlow's start-up log lines (see `_NOISE`)."""
    return "".join(line for line in text.splitlines(keepends=True) if not _NOISE.match(line))


def _flush_stderr():
    stream = sys.stderr
    if stream is not None and hasattr(stream, "flush"):
        stream.flush()


class _HeldStderr:
    """Holds back what is written to file descriptor 2, then writes back the
    lines that are not TensorFlow's start-up log."""

    def __enter__(self):
        self.saved = None
        _flush_stderr()
        try:
            held = tempfile.TemporaryFile()
            saved = os.dup(2)
        except OSError:  # no descriptor 2 (a windowless process): hold nothing
            return self
        os.dup2(held.fileno(), 2)
        self.saved, self.held = saved, held
        return self

    def __exit__(self, *exc_info):
        if self.saved is None:
            return False
        try:
            _flush_stderr()
        finally:
            os.dup2(self.saved, 2)
            os.close(self.saved)
        self.held.seek(0)
        kept = filter_noise(self.held.read().decode("utf-8", "replace"))
        self.held.close()
        if kept:
            os.write(2, kept.encode("utf-8"))
        return False


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once and runs its first import under `_HeldStderr`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def quiet_exec_module(module):
            with _HeldStderr():
                execute(module)

        spec.loader.exec_module = quiet_exec_module
        return spec


_FINDER = _QuietTensorFlowFinder()


def uninstall():
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


def install():
    """Quiets TensorFlow's start-up unless the user set its log level (see the module doc)."""
    if LOG_LEVEL_VARIABLE in os.environ:
        return
    os.environ[LOG_LEVEL_VARIABLE] = "3"
    if "tensorflow" not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
