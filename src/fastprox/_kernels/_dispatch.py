"""Pick the compiled build of each kernel module that matches this CPU.

Each kernel module is built once per x86-64 level (see ``setup.py``) into
``fastprox._kernels._simd.<level>``; the best level the CPU supports is chosen
once, at import. ``FASTPROX_SIMD`` (``baseline``, ``v3`` or ``v4``) forces a
lower level, e.g. to compare them.
"""
import importlib
import os

import numpy as np

from . import _openmp

LEVELS = ("v4", "v3", "baseline")
_REQUIRES = {
    "v3": ("avx", "avx2", "fma", "bmi", "bmi2", "popcnt"),
    "v4": ("avx", "avx2", "fma", "bmi", "bmi2", "popcnt", "avx512f", "avx512bw", "avx512dq",
           "avx512vl", "avx512cd"),
    "baseline": (),
}


def supported_levels():
    """Return the ISA levels this CPU can run, best first."""
    return [lvl for lvl in LEVELS if all(_openmp.cpu_supports(f) for f in _REQUIRES[lvl])]


def available_levels():
    """Return the ISA levels this CPU can run *and* this build contains, best first."""
    return [lvl for lvl in supported_levels() if _built(lvl, "prox_fast") is not None]


def _built(level, name):
    try:
        return importlib.import_module(f"fastprox._kernels._simd.{level}.{name}")
    except ImportError:
        return None


def _select_level():
    forced = os.environ.get("FASTPROX_SIMD", "").strip().lower()
    supported = supported_levels()
    if forced:
        if forced not in LEVELS:
            raise ValueError(f"FASTPROX_SIMD={forced!r}: expected one of {', '.join(LEVELS)}")
        if forced not in supported:
            raise RuntimeError(
                f"FASTPROX_SIMD={forced!r} but this CPU supports only {', '.join(supported)}; "
                "running it would crash with an illegal instruction"
            )
        supported = supported[supported.index(forced):]
    for level in supported:
        if _built(level, "prox_fast") is not None:
            return level
    raise ImportError("no compiled fastprox kernels found; reinstall with `pip install .`")


LEVEL = _select_level()


def load(name):
    """Import kernel module ``name`` (e.g. ``"sparse_fast"``) for the selected ISA level."""
    mod = _built(LEVEL, name)
    if mod is None:  # a variant can be missing if its build was skipped
        mod = _built("baseline", name)
    if mod is None:
        raise ImportError(f"fastprox kernel module {name} is not built")
    return mod


_C_NAMES = {"float32": "float", "float64": "double", "int32": "int32_t", "int64": "int64_t"}
_SPECIALISED = {}


def specialised(kernel, *dtypes):
    """The compiled specialisation of fused ``kernel`` for these NumPy dtypes.

    Calling it directly skips Cython's run-time signature matching, a fixed
    cost larger than a whole update of a small layer or a small mat-vec.
    ``dtypes`` name the fused arguments in the order Cython numbers them.
    """
    key = (kernel,) + dtypes
    fn = _SPECIALISED.get(key)
    if fn is None:
        sig = "|".join(_C_NAMES[np.dtype(d).name] for d in dtypes)
        fn = _SPECIALISED[key] = kernel.__signatures__[sig]
    return fn
