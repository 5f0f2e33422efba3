"""Build the Cython kernels, with OpenMP when the compiler accepts it.

Every kernel module ``src/fastprox/_kernels/<name>.pyx`` (except ``_openmp.pyx``)
is compiled once per instruction-set level into
``fastprox._kernels._simd.<level>.<name>`` and ``fastprox._kernels`` imports the
best one the CPU supports. The levels are
x86-64 baseline, x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512); on other
architectures only the baseline is built. The kernels are memory-bound loops
whose speed is decided by vectorisation: the same prox update runs an order of
magnitude faster with AVX2/AVX-512 than with SSE2 (docs/design/simd-levels.md).

Environment switches
--------------------
FASTPROX_NATIVE=1        add ``-march=native`` to the baseline build (local use only;
                         the result does not run on older CPUs).
FASTPROX_NO_OPENMP=1     build without OpenMP (serial kernels).
FASTPROX_SIMD_LEVELS     comma-separated subset of ``baseline,v3,v4`` to build.
FASTPROX_CYTHON_DEBUG=1  turn bounds / wraparound / initialisation checks back on.
"""
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = "src"
KERNELS = os.path.join(SRC, "fastprox", "_kernels")

# -march flags of each level; "baseline" keeps the compiler's default target.
LEVELS = {"baseline": [], "v3": ["-march=x86-64-v3"], "v4": ["-march=x86-64-v4", "-mprefer-vector-width=512"]}

# -fno-math-errno lets sqrt vectorise; -fno-trapping-math lets gcc if-convert the
# compare-and-select soft-threshold. Neither changes results on finite inputs.
BASE_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math"]


def _compiler_cmd():
    import sysconfig

    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _accepts(flags, source="int main(void){return 0;}\n", link=True):
    """Return True if the C compiler compiles (and links) ``source`` with ``flags``."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        cmd = _compiler_cmd() + flags + [src, "-o", os.path.join(tmp, "probe")]
        if not link:
            cmd.insert(len(_compiler_cmd()), "-c")
        res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return res.returncode == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)


def openmp_flags():
    if os.environ.get("FASTPROX_NO_OPENMP"):
        warnings.warn("fastprox: FASTPROX_NO_OPENMP is set; building SERIAL kernels.", stacklevel=1)
        return None
    if sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    elif sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    for cflags, lflags in candidates:
        if _accepts(cflags + lflags, OPENMP_PROBE):
            return cflags, lflags
    return None


def simd_levels():
    requested = os.environ.get("FASTPROX_SIMD_LEVELS")
    names = requested.split(",") if requested else list(LEVELS)
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64") or sys.platform == "win32":
        names = ["baseline"]
    return [n for n in names if n == "baseline" or _accepts(LEVELS[n], link=False)]


def extensions():
    omp = openmp_flags()
    if omp is None and not os.environ.get("FASTPROX_NO_OPENMP"):
        warnings.warn(
            "fastprox: the C compiler does not accept OpenMP flags; building SERIAL "
            "kernels. Install a compiler with OpenMP support (gcc, or clang + libomp) "
            "and rebuild to use several cores.",
            stacklevel=1,
        )
    cflags, lflags = omp if omp is not None else ([], [])
    base = list(BASE_FLAGS) if sys.platform != "win32" else ["/O2"]
    if os.environ.get("FASTPROX_NATIVE"):
        base.append("-march=native")
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
    common = dict(include_dirs=[np.get_include(), KERNELS], define_macros=macros)

    directives = {
        "language_level": 3,
        "boundscheck": False,
        "wraparound": False,
        "initializedcheck": False,
        "cdivision": True,
        "nonecheck": False,
    }
    if os.environ.get("FASTPROX_CYTHON_DEBUG"):
        directives.update(boundscheck=True, wraparound=True, initializedcheck=True)

    exts = cythonize(
        [
            Extension(
                "fastprox._kernels._openmp",
                [os.path.join(KERNELS, "_openmp.pyx")],
                extra_compile_args=base + cflags,
                extra_link_args=lflags,
                **common,
            )
        ],
        compiler_directives=directives,
        include_path=[SRC],
        build_dir=os.path.join("build", "cython", "common"),
    )
    kernels = sorted(
        p for p in glob.glob(os.path.join(KERNELS, "*.pyx")) if os.path.basename(p) != "_openmp.pyx"
    )
    for level in simd_levels():
        mods = [
            Extension(
                f"fastprox._kernels._simd.{level}.{os.path.basename(p)[:-4]}",
                [p],
                extra_compile_args=base + LEVELS[level] + cflags,
                extra_link_args=lflags,
                **common,
            )
            for p in kernels
        ]
        exts += cythonize(
            mods,
            compiler_directives=directives,
            include_path=[SRC],
            build_dir=os.path.join("build", "cython", level),
        )
    return exts


class ParallelBuildExt(build_ext):
    """Compile the extensions in parallel (there are one per kernel per ISA level)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


setup(ext_modules=extensions(), cmdclass={"build_ext": ParallelBuildExt})
