"""Builds tf_lattice's TensorFlow kernels into one shared library.

The C++ sources under ``tf_lattice/ops/cc`` are compiled with the flags of the
TensorFlow that is importable at build time (``tf.sysconfig``), so install with
``pip install --no-build-isolation .`` (or ``-e .``) into the environment that
will run the library. CUDA sources (``*.cu.cc``) are compiled with ``nvcc`` and
linked in when nvcc is found and TensorFlow is a CUDA build; the environment
variable ``TF_LATTICE_CUDA=1`` forces them on and ``TF_LATTICE_CUDA=0`` off.

The library's name carries the TensorFlow release it was built for
(``_tf_lattice_ops_tf2_21``), with a build record of its own
(``_build_info_tf2_21.py``), so builds for several TensorFlow releases (the
main TensorFlow 2.21 lane and the TensorFlow 2.15 Estimator lane) live side by
side in one checkout.
"""

import ast
import glob
import os
import shutil
import re
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_SOURCES = "tf_lattice/ops/cc"
NATIVE_PACKAGE = "tf_lattice._native"
NATIVE_DIR = os.path.join("tf_lattice", "_native")
LIBRARY_NAME = "_tf_lattice_ops"
DEFAULT_CUDA_ARCHS = "75;80;86;89;90"


def _import_tensorflow():
    try:
        import tensorflow as tf
    except ImportError as error:
        raise RuntimeError(
            "tf_lattice compiles TensorFlow custom ops and needs TensorFlow "
            "importable at build time: install tensorflow==2.21.* first, then "
            "run `pip install --no-build-isolation .`"
        ) from error
    return tf


def _cpp_sources():
    sources = glob.glob(os.path.join(KERNEL_SOURCES, "**", "*.cc"), recursive=True)
    return sorted(s for s in sources if not s.endswith(".cu.cc"))


def _cuda_sources():
    return sorted(glob.glob(os.path.join(KERNEL_SOURCES, "**", "*.cu.cc"), recursive=True))


def _cuda_library_dir():
    """Finds the directory holding the static CUDA runtime nvcc links against."""
    nvcc = shutil.which("nvcc")
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    if nvcc is not None:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    for home in filter(None, candidates):
        for sub in ("lib64", "lib", os.path.join("targets", "x86_64-linux", "lib")):
            if os.path.exists(os.path.join(home, sub, "libcudart_static.a")):
                return os.path.join(home, sub)
    raise RuntimeError(
        "building the CUDA kernels needs libcudart_static.a; set CUDA_HOME to the "
        "CUDA toolkit, or TF_LATTICE_CUDA=0 to build without CUDA"
    )


def _cuda_enabled(tf):
    """Whether to compile the CUDA kernels, from TF_LATTICE_CUDA or by detection."""
    setting = os.environ.get("TF_LATTICE_CUDA", "").strip()
    if setting == "0":
        return False
    if setting == "1":
        if shutil.which("nvcc") is None:
            raise RuntimeError("TF_LATTICE_CUDA=1 but nvcc is not on PATH")
        return True
    if setting:
        raise RuntimeError(f"TF_LATTICE_CUDA must be 0 or 1, got {setting!r}")
    is_cuda_build = bool(tf.sysconfig.get_build_info().get("is_cuda_build", False))
    return is_cuda_build and shutil.which("nvcc") is not None


def _nvcc_arch_flags():
    archs = os.environ.get("TF_LATTICE_CUDA_ARCHS", DEFAULT_CUDA_ARCHS)
    flags = []
    for arch in filter(None, (a.strip() for a in archs.split(";"))):
        flags += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
    return flags


def compile_cuda_objects(sources, output_dir, include_dirs):
    """Compiles each ``.cu.cc`` file with nvcc; returns the object paths.

    The CUDA files include only tf_lattice's own headers and the CUDA runtime,
    never TensorFlow's, so they compile with any nvcc that supports C++17.
    """
    os.makedirs(output_dir, exist_ok=True)
    objects = []
    for source in sources:
        target = os.path.join(output_dir, os.path.basename(source) + ".o")
        command = [
            "nvcc", "-x", "cu", "-std=c++17", "-O3", "-c", source, "-o", target,
            "-Xcompiler", "-fPIC", "--expt-relaxed-constexpr", "--threads", "0",
            # No fused multiply-adds: the GPU then rounds as the CPU loop does.
            "--fmad=false",
            "-DTF_LATTICE_WITH_CUDA=1", *_nvcc_arch_flags(),
            *[f"-I{d}" for d in include_dirs],
        ]
        print(" ".join(command), flush=True)
        subprocess.check_call(command)
        objects.append(target)
    return objects


def version_tag(tf_version):
    """``"tf2_21"`` for TensorFlow ``2.21.x``: the suffix of the library's and
    the build record's names (kernels are built per TensorFlow minor release)."""
    match = re.match(r"(\d+)\.(\d+)", tf_version)
    if match is None:
        raise RuntimeError(f"cannot read a release from the TensorFlow version {tf_version!r}")
    return f"tf{match.group(1)}_{match.group(2)}"


def build_info_path(tf_version):
    return os.path.join(NATIVE_DIR, f"_build_info_{version_tag(tf_version)}.py")


def _recorded_build(tf_version):
    """``(tensorflow_version, cuda_enabled)`` of the last in-place build for
    this TensorFlow release, if any."""
    try:
        with open(build_info_path(tf_version), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    values = dict(line.split(" = ", 1) for line in lines if " = " in line)
    return (ast.literal_eval(values.get("TENSORFLOW_VERSION", "None")),
            ast.literal_eval(values.get("CUDA_ENABLED", "None")))


class BuildTensorFlowKernels(build_ext):
    """build_ext that takes its flags from the installed TensorFlow."""

    def build_extensions(self):
        tf = _import_tensorflow()
        cuda = _cuda_enabled(tf)
        tag = version_tag(tf.__version__)
        # Objects compiled against one TensorFlow's headers never link into
        # another's library: each release has its own temporary directory.
        self.build_temp = os.path.join(self.build_temp, tag)
        compile_flags = list(tf.sysconfig.get_compile_flags())
        link_flags = list(tf.sysconfig.get_link_flags())
        for extension in self.extensions:
            extension.name = f"{NATIVE_PACKAGE}.{LIBRARY_NAME}_{tag}"
            extension.extra_compile_args = compile_flags + [
                "-O3", "-fPIC", "-DNDEBUG", "-Wno-sign-compare",
                "-Wno-deprecated-declarations", "-Wno-unused-result",
                # The kernels' vectors of four doubles live in always-inlined
                # helpers; the calling convention GCC warns of never applies.
                "-Wno-psabi",
            ]
            extension.extra_link_args = link_flags
            if cuda:
                extension.define_macros = [("TF_LATTICE_WITH_CUDA", "1")]
                extension.extra_objects = compile_cuda_objects(
                    _cuda_sources(), os.path.join(self.build_temp, "cuda"), ["."])
                extension.extra_link_args += [
                    f"-L{_cuda_library_dir()}",
                    "-l:libcudart_static.a", "-ldl", "-lrt", "-lpthread",
                ]
        self.parallel = self.parallel or os.cpu_count()
        # Objects compiled with CUDA on differ from those with it off (and the
        # TensorFlow headers differ per version): a change of either rebuilds all.
        if _recorded_build(tf.__version__) != (tf.__version__, cuda):
            self.force = True
        self._write_build_info(tf.__version__, cuda)
        super().build_extensions()

    def _write_build_info(self, tf_version, cuda):
        text = (
            '"""Written by setup.py: how the kernel library was built."""\n\n'
            f"TENSORFLOW_VERSION = {tf_version!r}\n"
            f"CUDA_ENABLED = {cuda!r}\n"
        )
        path = build_info_path(tf_version)
        targets = {path}
        if not self.inplace:
            targets.add(os.path.join(self.build_lib, path))
        for path in targets:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)


setup(
    ext_modules=[
        Extension(
            # Renamed per TensorFlow release in BuildTensorFlowKernels.
            f"{NATIVE_PACKAGE}.{LIBRARY_NAME}",
            sources=_cpp_sources(),
            include_dirs=["."],
            language="c++",
            # The CUDA objects are linked in, so a changed .cu.cc must relink.
            depends=sorted(
                glob.glob(os.path.join(KERNEL_SOURCES, "**", "*.h"), recursive=True)
                + _cuda_sources()),
        )
    ],
    cmdclass={"build_ext": BuildTensorFlowKernels},
)
