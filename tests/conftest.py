import numpy as np
import pytest

import fastprox

# Per-dtype tolerance for comparisons against NumPy/SciPy references.
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def n_threads(request):
    """Run the test with fastprox capped at 1 and at 2 OpenMP threads."""
    previous = fastprox.set_num_threads(request.param)
    yield request.param
    fastprox.set_num_threads(previous)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
