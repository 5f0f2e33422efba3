"""Pick the compiled kernel variant that matches this CPU.

Each kernel module is built for several x86-64 levels (see ``setup.py``); the
best one the CPU supports is imported once, at first use. ``FASTPROX_SIMD``
(``baseline``, ``v3`` or ``v4``) forces a lower level, e.g. to compare them.
"""
import importlib
import os

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
    return [lvl for lvl in supported_levels() if _built(lvl, "_prox") is not None]


def _built(level, name):
    try:
        return importlib.import_module(f"fastprox._simd.{level}.{name}")
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
        if _built(level, "_prox") is not None:
            return level
    raise ImportError("no compiled fastprox kernels found; reinstall with `pip install .`")


LEVEL = _select_level()


def load(name):
    """Import kernel module ``name`` (e.g. ``"_sparse"``) for the selected ISA level."""
    mod = _built(LEVEL, name)
    if mod is None:  # a variant can be missing if its build was skipped
        mod = _built("baseline", name)
    if mod is None:
        raise ImportError(f"fastprox kernel module {name} is not built")
    return mod
