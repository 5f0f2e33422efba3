"""Shared by the thread-policy tests: run a kernel under every part count x adaptive
setting x 1, 2 threads and check that the results are the same bits.
"""
import contextlib

import numpy as np

import fastprox

POLICIES = [(1, False), (3, False), (8, True), (16, False), (16, True)]


@contextlib.contextmanager
def policy_runs(module):
    """Yield ``run_all(fn)``: ``fn(n_threads)`` under every policy of ``module``'s team.

    ``module`` is a compiled kernel module with a ``_thread_policy(parts, adaptive)``
    hook; its policy and the thread count are restored afterwards.
    """
    old = module._thread_policy(8, True)
    old_threads = fastprox.set_num_threads(None)

    def run_all(fn):
        out = []
        for parts, adaptive in POLICIES:
            for n_threads in (1, 2):
                module._thread_policy(parts, adaptive)
                fastprox.set_num_threads(n_threads)
                out.append(fn(n_threads))
        return out

    try:
        yield run_all
    finally:
        module._thread_policy(*old)
        fastprox.set_num_threads(old_threads)


def same(res):
    """Every run's arrays equal the first run's, bit for bit."""
    for r in res[1:]:
        for a, b in zip(r, res[0]):
            np.testing.assert_array_equal(a, b)


def layouts(X):
    """C order, Fortran order and a strided view (every other column) of ``X``."""
    return (np.ascontiguousarray(X), np.asfortranarray(X),
            np.ascontiguousarray(np.repeat(X, 2, axis=1))[:, ::2])
