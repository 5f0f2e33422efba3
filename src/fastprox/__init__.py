"""fastprox: fused proximal updates and OpenMP CSR kernels."""
from ._version import __version__
