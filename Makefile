# tf_lattice: `make demo` and `make test` set everything up on a fresh machine.
PYTHON_BOOTSTRAP ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PYTEST_WORKERS ?= 2
KERNEL_SOURCES := $(shell find tf_lattice/ops/cc -name '*.cc' -o -name '*.h' 2>/dev/null)

.PHONY: install kernels demo test test-slow test-gpu test-tf-estimator tutorials bench bench-quality clean

install: $(VENV)/.kernels-stamp

# Python dependencies: TensorFlow first (the kernels compile against it).
$(VENV)/.deps-stamp: pyproject.toml
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install "tensorflow==2.21.*"
	$(PIP) install "keras>=3.10" "numpy>=1.26" "pandas>=2.1" "scikit-learn>=1.6" \
	    "cvxpy>=1.5" "matplotlib>=3.8" "tqdm>=4.66" "pyarrow>=15" "datasketches>=5.0" "polars>=1.0" \
	    "pytest>=8" "pytest-xdist>=3.5" "hypothesis>=6.100" \
	    "nbclient>=0.10" "nbformat>=5.10" "ipykernel>=6.29" \
	    "tf2onnx>=1.17" "onnxruntime>=1.20"
	touch $@

# An editable install, so the tests and the demo run the source tree.
$(VENV)/.editable-stamp: $(VENV)/.deps-stamp setup.py pyproject.toml
	$(PIP) install --no-build-isolation --no-deps -e .
	touch $@

# The kernel library, rebuilt only when a C++/CUDA source or the build changes.
# Where nvcc is present the CUDA sources are compiled too, GPU or not.
$(VENV)/.kernels-stamp: $(VENV)/.editable-stamp $(KERNEL_SOURCES)
	$(PY) setup.py -q build_ext --inplace
	$(PY) -c "from tf_lattice._native import build_info; print('kernels built for TensorFlow %s, CUDA %s' % build_info())"
	touch $@

kernels: install

demo: install
	$(PY) -m tf_lattice.demo

test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

test-slow: install
	$(PY) -m pytest -q -m slow

test-gpu: install
	$(PY) -m pytest -q -m gpu -p no:xdist

# The canned TensorFlow Estimators (tf_lattice.tf_estimator) need tf.estimator,
# which exists up to TensorFlow 2.15: their lane has its own environment and its
# own (CPU) kernel build, named for TensorFlow 2.15 beside the main one. Keras 3
# (tf_lattice's layers) replaces the Keras 2 that TensorFlow 2.15 pins, so it is
# installed without dependencies (its own are listed); tf-keras 2.15 serves the
# Estimator heads as tf.keras (TF_USE_LEGACY_KERAS=1).
TF215_VENV ?= .venv-tf215
TF215_PY := $(TF215_VENV)/bin/python
TF215_PIP := $(TF215_PY) -m pip --disable-pip-version-check -q

$(TF215_VENV)/.deps-stamp: Makefile
	test -x $(TF215_PY) || $(PYTHON_BOOTSTRAP) -m venv $(TF215_VENV)
	$(TF215_PIP) install --upgrade pip setuptools wheel
	$(TF215_PIP) install "tensorflow-cpu==2.15.1" "tensorflow-estimator==2.15.0" "numpy<2" \
	    "pandas>=2.1" "scikit-learn>=1.6" "cvxpy>=1.5" "tqdm>=4.66" rich namex optree \
	    "pytest>=8,<9" "pytest-xdist>=3.5" "hypothesis>=6.100" \
	    "nbclient>=0.10" "nbformat>=5.10" "ipykernel>=6.29"
	$(TF215_PIP) install --no-deps "keras==3.10.0" "tf-keras==2.15.1"
	touch $@

$(TF215_VENV)/.kernels-stamp: $(TF215_VENV)/.deps-stamp setup.py $(KERNEL_SOURCES)
	TF_LATTICE_CUDA=0 $(TF215_PY) setup.py -q build_ext --inplace
	$(TF215_PY) -c "from tf_lattice._native import build_info; print('kernels built for TensorFlow %s, CUDA %s' % build_info())"
	touch $@

# The kernels' tests and the Estimators' (one xdist worker runs the latter:
# they share trained models; pytest 9.2 with pytest-xdist 3.8 ignores the
# xdist_group marks --dist loadgroup relies on, hence pytest 8 here).
test-tf-estimator: $(TF215_VENV)/.kernels-stamp
	TF_USE_LEGACY_KERAS=1 $(TF215_PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q \
	    tests/ops tests/tf_estimator

# Rebuilds every tutorial notebook from tutorials/build_notebooks.py and
# executes it, so the committed notebooks carry their outputs.
tutorials: install
	$(PY) tutorials/build_notebooks.py

# Benchmarks: TensorFlow Lattice 2.1.1 is installed by the scripts in .venv-tfl.
bench: install
	$(PIP) install "lightgbm>=4"
	$(PY) benchmarks/ops.py
	$(PY) benchmarks/projections.py
	$(PY) benchmarks/estimators.py
	$(PY) benchmarks/fit.py

# Repeated cross-validation of the defaults on six small and medium data sets
# (about 30 to 40 minutes on 2 cores; QUALITY_ARGS="--datasets heart,auto_mpg --repeats 1"
# runs a subset quickly).
bench-quality: install
	$(PY) benchmarks/quality.py $(QUALITY_ARGS)

clean:
	rm -rf build tf_lattice/_native/*.so tf_lattice/_native/_build_info*.py $(VENV)/.kernels-stamp \
	    $(TF215_VENV)/.kernels-stamp
