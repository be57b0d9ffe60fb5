"""Builds tf_lattice's TensorFlow kernels into one shared library.

The C++ sources under ``tf_lattice/ops/cc`` are compiled with the flags of the
TensorFlow that is importable at build time (``tf.sysconfig``), so install with
``pip install --no-build-isolation .`` (or ``-e .``) into the environment that
will run the library. CUDA sources (``*.cu.cc``) are compiled with ``nvcc`` and
linked in when nvcc is found and TensorFlow is a CUDA build; the environment
variable ``TF_LATTICE_CUDA=1`` forces them on and ``TF_LATTICE_CUDA=0`` off.
"""

import ast
import glob
import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL_SOURCES = "tf_lattice/ops/cc"
LIBRARY_MODULE = "tf_lattice._native._tf_lattice_ops"
BUILD_INFO_PATH = os.path.join("tf_lattice", "_native", "_build_info.py")
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


def _recorded_build():
    """``(tensorflow_version, cuda_enabled)`` of the last in-place build, if any."""
    try:
        with open(BUILD_INFO_PATH, encoding="utf-8") as handle:
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
        compile_flags = list(tf.sysconfig.get_compile_flags())
        link_flags = list(tf.sysconfig.get_link_flags())
        for extension in self.extensions:
            extension.extra_compile_args = compile_flags + [
                "-O3", "-fPIC", "-DNDEBUG", "-Wno-sign-compare",
                "-Wno-deprecated-declarations", "-Wno-unused-result",
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
        if _recorded_build() != (tf.__version__, cuda):
            self.force = True
        self._write_build_info(tf.__version__, cuda)
        super().build_extensions()

    def _write_build_info(self, tf_version, cuda):
        text = (
            '"""Written by setup.py: how the kernel library was built."""\n\n'
            f"TENSORFLOW_VERSION = {tf_version!r}\n"
            f"CUDA_ENABLED = {cuda!r}\n"
        )
        targets = {BUILD_INFO_PATH}
        if not self.inplace:
            targets.add(os.path.join(self.build_lib, BUILD_INFO_PATH))
        for path in targets:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)


setup(
    ext_modules=[
        Extension(
            LIBRARY_MODULE,
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
