"""The chain of one-neuron layers: the identities of chapter 5."""
import math

import numpy as np
import pytest

from vgcore.core import reference
from vgcore.experiments import chain


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 7, 20, 60])
@pytest.mark.parametrize("seed", range(8))
def test_backprop_equals_explicit_product(depth, seed):
    rng = np.random.default_rng(1000 * depth + seed)
    ch = chain.random_chain(depth, rng, weight_scale=rng.uniform(0.2, 8.0))
    x, y = rng.uniform(-2, 2), rng.uniform(0, 1)
    bp = ch.backprop(x, y)
    assert len(bp) == depth
    assert rel(bp[0], ch.product(x, y)) <= 1e-12


@pytest.mark.parametrize("depth", [1, 4, 9])
def test_chain_matches_reference_backprop_with_1x1_weights(depth):
    rng = np.random.default_rng(depth)
    ch = chain.random_chain(depth, rng, weight_scale=2.0)
    x, y = 0.7, 0.2
    W = [np.array([[w]]) for w in ch.weights]
    B = [np.array([[b]]) for b in ch.biases]
    nb, nw = reference.backprop(W, B, np.array([[x]]), np.array([[y]]),
                                reference.QuadraticCost)
    for got, want in zip(ch.backprop(x, y), nb):
        assert rel(got, want[0, 0]) <= 1e-12
    for got, want in zip(ch.backprop_weights(x, y), nw):
        assert rel(got, want[0, 0]) <= 1e-12


def test_backprop_matches_finite_differences():
    ch = chain.random_chain(4, 3, weight_scale=1.5)
    for j in range(1, 5):
        fd = ch.finite_difference(0.4, 0.9, j=j)
        assert abs(fd - ch.backprop(0.4, 0.9)[j - 1]) < 1e-8


def test_sigmoid_prime_peaks_at_a_quarter():
    assert chain.sigmoid_prime(0.0) == 0.25
    z = np.linspace(-30, 30, 60001)
    assert max(chain.sigmoid_prime(t) for t in z) == 0.25
    assert chain.sigmoid(-800.0) == 0.0 and chain.sigmoid(800.0) == 1.0


@pytest.mark.parametrize("seed", range(20))
def test_vanishing_every_factor_below_a_quarter(seed):
    ch = chain.vanishing_chain(10, seed)
    assert all(abs(w) < 1 for w in ch.weights)
    x, y = 0.3, 1.0
    fs = ch.factors(x)
    assert len(fs) == 9
    assert all(abs(f) < 0.25 for f in fs)
    # |dC/db_1| <= (1/4)^L |dC/da_L|, and every layer is slower than the next
    bp = ch.backprop(x, y)
    assert abs(bp[0]) <= ch.gradient_bound(x, y)
    assert all(abs(bp[j]) < 0.25 * abs(bp[j + 1]) for j in range(9))


@pytest.mark.parametrize("x", [0.5, 0.0, -3.7, 0.123456789, 1e-9])
def test_exploding_factors_are_exactly_25(x):
    ch = chain.exploding_chain(8, x=x)
    zs, acts = ch.forward(x)
    assert zs == [0.0] * 8
    assert acts[1:] == [0.5] * 8
    assert ch.factors(x) == [25.0] * 7
    bp = ch.backprop(x, 0.0)
    # dC/db_1 = sigma'(0) 25^7 (a_L - y) = 0.25 * 25**7 * 0.5, exactly
    assert bp[0] == 0.25 * 25.0 ** 7 * 0.5
    assert ch.product(x, 0.0) == bp[0]
    assert [bp[j] / bp[j + 1] for j in range(7)] == [25.0] * 7


@pytest.mark.parametrize("w", [4.0001, 4.5, 5.0, 6.0, 6.9, 8.0, 12.0, 30.0, 100.0, 1e4])
@pytest.mark.parametrize("b", [0.0, 0.3, -5.0])
def test_width_formula_against_root_finding(w, b):
    f = chain.width_formula(w)
    assert abs(f - chain.width_numerical(w, b)) < 1e-6
    assert abs(f - chain.width_numerical(-w, b)) < 1e-6
    assert f == chain.width_formula(-w)


@pytest.mark.parametrize("w", [5.0, 6.9, 20.0])
def test_width_formula_against_dense_grid(w):
    # grid spacing 1e-6: agreement to a few spacings
    assert abs(chain.width_formula(w) - chain.width_numerical_grid(w, 0.1)) < 5e-6


def test_no_input_gives_a_factor_of_one_below_four():
    for w in [0.5, 1.0, 3.0, 3.999]:
        assert chain.width_formula(w) == 0.0
        assert chain.width_numerical(w) == 0.0
        t = np.linspace(-20, 20, 4001)
        s = 1 / (1 + np.exp(-t))
        assert np.all(w * s * (1 - s) < 1)


def test_inputs_inside_the_interval_give_factors_at_least_one():
    w, b = 10.0, 0.7
    width = chain.width_formula(w)
    centre = -b / w
    for a in np.linspace(centre - 0.499 * width, centre + 0.499 * width, 101):
        assert abs(w * chain.sigmoid_prime(w * a + b)) >= 1
    for a in [centre - 0.501 * width, centre + 0.501 * width]:
        assert abs(w * chain.sigmoid_prime(w * a + b)) < 1


def test_maximum_width_is_about_045_near_69():
    w_star, width = chain.max_width()
    assert 6.85 < w_star < 6.95
    assert 0.447 < width < 0.448
    assert abs(width - chain.width_numerical(w_star)) < 1e-6
    for w in [4.5, 6.0, 8.0, 20.0]:
        assert chain.width_formula(w) < width
    # shrinks as |w| grows past the maximum
    ws = [7, 10, 20, 50, 100, 1000]
    assert all(chain.width_formula(a) > chain.width_formula(b) for a, b in zip(ws, ws[1:]))


@pytest.mark.parametrize("seed", range(4))
def test_matrix_form_equals_reference_backprop(seed):
    rng = np.random.default_rng(seed)
    sizes = [5, 4, 6, 3, 2]
    W = [rng.normal(size=(n, m)) for m, n in zip(sizes, sizes[1:])]
    B = [rng.normal(size=(n, 1)) for n in sizes[1:]]
    x = rng.uniform(size=5)
    y = np.array([0.0, 1.0])
    zs, acts = reference.forward(W, B, x[None, :])
    grad_a = acts[-1][0] - y  # quadratic cost
    got = chain.matrix_form_deltas(W, B, x, grad_a)
    nb, _ = reference.backprop(W, B, x[None, :], y[None, :], reference.QuadraticCost)
    for g, want in zip(got, nb):
        np.testing.assert_allclose(g, want[:, 0], rtol=1e-12, atol=1e-15)


def test_chain_summary_is_consistent():
    s = chain.chain_summary(depth=4, seed=0)
    assert s["exploding"]["abs_factors"] == [25.0, 25.0, 25.0]
    assert all(f < 0.25 for f in s["vanishing"]["abs_factors"])
    assert s["vanishing"]["relative_difference"] <= 1e-12
    assert abs(s["width"]["max_width"] - 0.4477) < 1e-3
    for row in s["width"]["rows"]:
        assert abs(row["formula"] - row["root_finding"]) < 1e-6
        assert abs(row["formula"] - row["grid"]) < 2e-5
    assert math.isfinite(s["vanishing"]["ratio_db1_dbL"])
