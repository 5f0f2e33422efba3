"""Per-ISA builds of the compiled kernels (see fastprox._kernels._dispatch)."""
