"""Per-ISA builds of the compiled kernels (see fastprox._dispatch)."""
