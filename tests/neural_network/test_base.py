"""Activations, derivatives, output functions and losses of neural_network/_base.py."""
import numpy as np
import pytest
from scipy.special import expit, softmax as sp_softmax

from fastprox.neural_network._base import (ACTIVATIONS, activate, batch_loss, derivative, loss,
                                           output, output_activation, softmax)

REF = {"identity": lambda z: z, "logistic": expit, "tanh": np.tanh,
       "relu": lambda z: np.maximum(z, 0)}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_and_derivative_match_reference(name, dtype):
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((5, 7)).astype(dtype)
    H = activate(Z.copy(), name)
    np.testing.assert_allclose(H, REF[name](Z), rtol=1e-6)
    # f'(z) by central differences, against the derivative written with H = f(z)
    h = 1e-6
    Z64 = Z.astype(np.float64)
    fd = (REF[name](Z64 + h) - REF[name](Z64 - h)) / (2 * h)
    delta = np.ones_like(Z)
    mask = np.empty(Z.shape, dtype=bool)
    got = derivative(delta, H, name, mask if name == "relu" else None)
    np.testing.assert_allclose(got, fd, rtol=1e-3, atol=1e-5)


def test_output_functions():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((4, 6))
    np.testing.assert_allclose(softmax(Z.copy()), sp_softmax(Z, axis=0), rtol=1e-12)
    np.testing.assert_allclose(output(Z[:1].copy(), "logistic"), expit(Z[:1]))
    np.testing.assert_array_equal(output(Z.copy(), "identity"), Z)
    assert output_activation(False, 3) == "identity"
    assert output_activation(True, 1) == "logistic"
    assert output_activation(True, 4) == "softmax"


@pytest.mark.parametrize("name,n_out", [("identity", 2), ("logistic", 1), ("softmax", 3)])
def test_batch_loss_is_the_summed_mean_loss(name, n_out):
    rng = np.random.default_rng(2)
    P = output(rng.standard_normal((n_out, 9)), name)
    if name == "identity":
        Y = rng.standard_normal((n_out, 9))
        expected = 0.5 * np.sum((P - Y) ** 2) / 9
    else:
        labels = rng.integers(0, max(n_out, 2), 9)
        Y = (labels[None, :] == np.arange(n_out)[:, None]).astype(float) if n_out > 1 \
            else labels[None, :].astype(float)
        Pc = np.clip(P, np.finfo(float).eps, 1 - np.finfo(float).eps)
        terms = Y * np.log(Pc) + ((1 - Y) * np.log(1 - Pc) if n_out == 1 else 0)
        expected = -terms.sum() / 9
    assert loss(Y, P, name) == pytest.approx(expected, rel=1e-12)
    assert batch_loss(Y, P, np.empty_like(P), name) == pytest.approx(9 * expected, rel=1e-12)
