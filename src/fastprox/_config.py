"""What this build of fastprox is running with."""
import platform
import sys

from . import _kernels
from ._kernels import _openmp
from ._threads import get_num_threads
from ._version import __version__


def config():
    """Return the build and run-time configuration as a dict."""
    import numpy
    import scipy

    return {
        "fastprox": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "openmp": _openmp.openmp_enabled(),
        "num_threads": get_num_threads(),
        "simd_level": _kernels.LEVEL,
        "simd_supported": _kernels.supported_levels(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def show_config(file=None):
    """Print the version, OpenMP status, thread count, kernel variant and library versions.

    Examples
    --------
    >>> import fastprox
    >>> fastprox.show_config()  # doctest: +SKIP
    """
    cfg = config()
    lines = [
        f"fastprox {cfg['fastprox']}",
        f"  python        {cfg['python']} on {cfg['platform']}",
        f"  openmp        {'yes' if cfg['openmp'] else 'NO (serial build)'}",
        f"  num_threads   {cfg['num_threads']}",
        f"  kernels       {cfg['simd_level']} (CPU supports: {', '.join(cfg['simd_supported'])})",
        f"  numpy         {cfg['numpy']}",
        f"  scipy         {cfg['scipy']}",
    ]
    print("\n".join(lines), file=file or sys.stdout)
