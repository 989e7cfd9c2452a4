"""The chain: a network with one sigmoid neuron per layer (chapter 5).

The chapter explains vanishing and exploding gradients on the simplest deep
network there is: an input ``a_0`` and ``L`` sigmoid neurons in a row,
neuron ``j`` having weight ``w_j`` (from neuron ``j - 1``) and bias ``b_j``,

    z_j = w_j a_{j-1} + b_j,        a_j = sigma(z_j),

and a cost ``C(a_L)``.  Backpropagation through the chain gives

    dC/db_1 = sigma'(z_1) * [w_2 sigma'(z_2)] * ... * [w_L sigma'(z_L)] * dC/da_L,

a product of one ``sigma'`` and ``L - 1`` factors ``w_j sigma'(z_j)``.
Since ``sigma'`` peaks at ``1/4`` (at ``z = 0``):

- **vanishing**: with ``|w_j| < 1`` every factor ``|w_j sigma'(z_j)|`` is
  below ``1/4``, so ``|dC/db_1| <= (1/4)^L |dC/da_L|`` shrinks
  exponentially with depth;
- **exploding**: with ``w_j = 100`` and ``b_j = -100 a_{j-1}`` every
  ``z_j`` is exactly 0, so every factor is ``100 * 1/4 = 25``;
- a factor ``|w sigma'(w a + b)| >= 1`` needs ``|w| >= 4``, and then holds
  only for inputs ``a`` in an interval of width

      (2/|w|) ln( |w| (1 + sqrt(1 - 4/|w|)) / 2 - 1 ),

  which is at most about 0.45 (at ``|w|`` about 6.9) and shrinks as
  ``|w|`` grows; that is why sigmoid networks usually vanish rather than
  explode.

This module computes all of it in float64 scalars, with the reference's
``sigmoid`` and ``sigmoid_prime`` (:mod:`vgcore.core.reference`): the forward pass,
``dC/db_j`` by backpropagation (the recursion
``delta_j = w_{j+1} delta_{j+1} sigma'(z_j)``), the same gradient as the
explicit product above, the factors, and the width both from the formula
and by root finding.  :func:`matrix_form_deltas` checks the matrix form of
the same identity on a general network.
"""
import math

import numpy as np

from ..core.reference import sigmoid, sigmoid_prime

__all__ = [
    "sigmoid", "sigmoid_prime", "Chain", "random_chain", "vanishing_chain",
    "exploding_chain", "width_formula", "width_numerical",
    "width_numerical_grid", "max_width", "matrix_form_deltas",
    "chain_summary",
]


class Chain:
    """A chain of ``L`` sigmoid neurons, one per layer.

    ``weights[j - 1]`` and ``biases[j - 1]`` are ``w_j`` and ``b_j`` of
    neuron ``j`` (``j = 1 .. L``); ``w_1`` multiplies the input ``a_0``.
    The cost is the quadratic ``C = (a_L - y)^2 / 2`` unless another
    ``dC/da_L`` function is given as ``cost_grad(a_L, y)``.
    """

    def __init__(self, weights, biases, cost_grad=None):
        self.weights = [float(w) for w in weights]
        self.biases = [float(b) for b in biases]
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError("a chain needs as many weights as biases, at least one")
        self.cost_grad = cost_grad if cost_grad is not None else (lambda a, y: a - y)

    @property
    def depth(self):
        """Number of neurons ``L``."""
        return len(self.weights)

    def forward(self, x):
        """``(zs, activations)``: ``zs[j-1] = z_j``, ``activations[j] = a_j``, ``activations[0] = x``."""
        a = float(x)
        zs, acts = [], [a]
        for w, b in zip(self.weights, self.biases):
            z = w * a + b
            a = sigmoid(z)
            zs.append(z)
            acts.append(a)
        return zs, acts

    def dC_da_L(self, x, y):
        """``dC/da_L`` at input ``x`` and target ``y``."""
        _, acts = self.forward(x)
        return float(self.cost_grad(acts[-1], y))

    def backprop(self, x, y):
        """``[dC/db_1, ..., dC/db_L]`` by backpropagation.

        ``delta_L = dC/da_L sigma'(z_L)``, ``delta_j = w_{j+1} delta_{j+1}
        sigma'(z_j)`` and ``dC/db_j = delta_j``.
        """
        zs, acts = self.forward(x)
        L = self.depth
        deltas = [0.0] * L
        delta = float(self.cost_grad(acts[-1], y)) * sigmoid_prime(zs[-1])
        deltas[-1] = delta
        for j in range(L - 2, -1, -1):
            delta = self.weights[j + 1] * delta * sigmoid_prime(zs[j])
            deltas[j] = delta
        return deltas

    def backprop_weights(self, x, y):
        """``[dC/dw_1, ..., dC/dw_L]``: ``dC/dw_j = a_{j-1} delta_j``."""
        _, acts = self.forward(x)
        return [a * d for a, d in zip(acts[:-1], self.backprop(x, y))]

    def factors(self, x):
        """The factors ``w_j sigma'(z_j)`` for ``j = 2 .. L`` (``L - 1`` numbers)."""
        zs, _ = self.forward(x)
        return [self.weights[j] * sigmoid_prime(zs[j]) for j in range(1, self.depth)]

    def product(self, x, y):
        """``dC/db_1`` as the chapter writes it, an explicit product.

        ``sigma'(z_1) * w_2 sigma'(z_2) * ... * w_L sigma'(z_L) * dC/da_L``,
        multiplied left to right in that order (backprop multiplies right
        to left, so agreement is a genuine check).
        """
        zs, acts = self.forward(x)
        p = sigmoid_prime(zs[0])
        for f in self.factors(x):
            p *= f
        return p * float(self.cost_grad(acts[-1], y))

    def gradient_bound(self, x, y):
        """``(1/4)^L |dC/da_L|``: the bound on ``|dC/db_1|`` when every ``|w_j| <= 1``."""
        return 0.25 ** self.depth * abs(self.dC_da_L(x, y))

    def finite_difference(self, x, y, j=1, h=1e-6):
        """``dC/db_j`` by central differences of the quadratic cost (for tests)."""
        def cost(bj):
            b = list(self.biases)
            b[j - 1] = bj
            _, acts = Chain(self.weights, b).forward(x)
            return 0.5 * (acts[-1] - y) ** 2
        bj = self.biases[j - 1]
        return (cost(bj + h) - cost(bj - h)) / (2 * h)


def random_chain(depth, rng, weight_scale=1.0, bias_scale=1.0):
    """A chain with Gaussian weights ``N(0, weight_scale^2)`` and biases ``N(0, bias_scale^2)``.

    ``rng`` is a :class:`numpy.random.Generator` (or an int seed).
    """
    rng = np.random.default_rng(rng)
    return Chain(rng.normal(0.0, weight_scale, depth), rng.normal(0.0, bias_scale, depth))


def vanishing_chain(depth, rng):
    """A chain with every ``|w_j| < 1`` (uniform in ``(-1, 1)``) and Gaussian biases.

    This is the chapter's typical case: with weights of the default
    initializer's size, every factor ``|w_j sigma'(z_j)| < 1/4``.
    """
    rng = np.random.default_rng(rng)
    w = rng.uniform(-1.0, 1.0, depth)
    w[w == -1.0] = 0.0  # uniform is [-1, 1): keep |w| < 1 strictly
    return Chain(w, rng.normal(0.0, 1.0, depth))


def exploding_chain(depth, x=0.5, w=100.0):
    """The chapter's exploding chain: ``w_j = w`` and ``b_j = -w a_{j-1}``.

    Each bias cancels its neuron's input exactly in floating point
    (``b_j = -(w * a_{j-1})`` and ``z_j = w * a_{j-1} + b_j``), so every
    ``z_j`` is exactly 0, every ``a_j`` is ``1/2`` and every factor
    ``w sigma'(0) = w / 4`` (25 for ``w = 100``) exactly.
    """
    weights, biases = [], []
    a = float(x)
    for _ in range(depth):
        weights.append(float(w))
        biases.append(-(float(w) * a))
        a = sigmoid(float(w) * a + biases[-1])
    return Chain(weights, biases)


# ---------------------------------------------------------------------------
# Where can a factor exceed 1?
# ---------------------------------------------------------------------------

def width_formula(w):
    """The chapter's width of the set of inputs ``a`` with ``|w sigma'(w a + b)| >= 1``.

    ``(2/|w|) ln(|w| (1 + sqrt(1 - 4/|w|)) / 2 - 1)`` for ``|w| >= 4``,
    and 0 below (no input can make the factor reach 1).  The width does not
    depend on ``b``, which only shifts the interval.
    """
    w = abs(float(w))
    if w < 4.0:
        return 0.0
    return (2.0 / w) * math.log(w * (1.0 + math.sqrt(1.0 - 4.0 / w)) / 2.0 - 1.0)


def _sigmoid_prime_root(w):
    """The ``t >= 0`` with ``|w| sigma'(t) = 1`` (root finding, not the closed form)."""
    from scipy.optimize import brentq

    w = abs(float(w))

    def f(t):
        return w * sigmoid_prime(t) - 1.0

    hi = 1.0
    while f(hi) > 0:
        hi *= 2.0
    return brentq(f, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)


def width_numerical(w, b=0.0):
    """The width measured by root finding, for a given ``b``.

    Finds both ends ``a_-`` and ``a_+`` where ``|w sigma'(w a + b)| = 1``
    directly in terms of ``a`` (bracketing each side of the peak at
    ``a = -b/w``) and returns ``a_+ - a_-``; 0 when ``|w| <= 4``.
    """
    from scipy.optimize import brentq

    w = float(w)
    b = float(b)
    aw = abs(w)
    if aw <= 4.0:
        return 0.0
    centre = -b / w

    def f(a):
        return aw * sigmoid_prime(w * a + b) - 1.0

    step = 1.0 / aw
    hi = centre + step
    while f(hi) > 0:
        step *= 2.0
        hi = centre + step
    lo = centre - step
    while f(lo) > 0:
        step *= 2.0
        lo = centre - step
    kw = dict(xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    a_plus = brentq(f, centre, hi, **kw)
    a_minus = brentq(f, lo, centre, **kw)
    return a_plus - a_minus


def width_numerical_grid(w, b=0.0, n=2_000_001):
    """The width measured on a dense grid of inputs (a coarse, independent check).

    Counts grid points of ``[-b/w - R, -b/w + R]`` where the factor is at
    least 1; accurate to about the grid spacing ``2R/(n - 1)``.
    """
    w = float(w)
    aw = abs(w)
    if aw <= 4.0:
        return 0.0
    centre = -float(b) / w
    R = 1.0  # the width never exceeds 0.45
    a = np.linspace(centre - R, centre + R, n)
    z = w * a + b
    inside = aw * sigmoid_prime(z) >= 1.0
    return float(np.count_nonzero(inside)) * (2 * R / (n - 1))


def max_width():
    """``(|w|, width)`` at the maximum of :func:`width_formula` over ``|w| > 4``."""
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda w: -width_formula(w), bounds=(4.0, 50.0),
                          method="bounded", options={"xatol": 1e-10})
    return float(res.x), float(-res.fun)


# ---------------------------------------------------------------------------
# The matrix form, on a general network
# ---------------------------------------------------------------------------

def matrix_form_deltas(weights, biases, x, grad_a):
    """``delta^l`` of one example as the chapter's explicit matrix product.

    ``delta^l = Sigma'(z^l) (w^{l+1})^T Sigma'(z^{l+1}) ... (w^L)^T
    Sigma'(z^L) grad_a C`` with ``Sigma'(z) = diag(sigma'(z))``.
    ``weights``/``biases`` are network2-shaped, ``x`` is ``(n_in,)`` and
    ``grad_a`` is ``dC/da^L`` as ``(n_L,)``.  Returns a list of ``(n_l,)``
    arrays, each built from the dense product of matrices (not the
    backprop recursion), for comparison with backpropagation.
    """
    a = np.asarray(x, dtype=float).reshape(-1)
    zs = []
    for w, b in zip(weights, biases):
        z = w @ a + np.asarray(b).reshape(-1)
        zs.append(z)
        a = sigmoid(z)

    def Sp(z):
        return np.diag(sigmoid_prime(z))

    L = len(weights)
    g = np.asarray(grad_a, dtype=float).reshape(-1)
    out = []
    for l in range(L):
        M = Sp(zs[l])
        for j in range(l + 1, L):
            M = M @ weights[j].T @ Sp(zs[j])
        out.append(M @ g)
    return out


def chain_summary(depth=4, seed=0, x=0.5, y=0.0, ws=None):
    """The chain results that ``vgcore chapter5`` reports, as a JSON-ready dict.

    - ``vanishing``/``exploding``: per-layer factors, ``dC/db_j`` by
      backprop and by the explicit product, and their relative agreement;
    - ``width``: the formula against root finding and a dense grid at
      several ``|w|``, and the maximum over ``|w|``.
    """
    def describe(ch):
        bp = ch.backprop(x, y)
        prod = ch.product(x, y)
        rel = abs(bp[0] - prod) / max(abs(bp[0]), abs(prod), 1e-300)
        return {
            "weights": ch.weights,
            "biases": ch.biases,
            "factors": ch.factors(x),
            "abs_factors": [abs(f) for f in ch.factors(x)],
            "dC_db_backprop": bp,
            "dC_db1_product": prod,
            "relative_difference": rel,
            "ratio_db1_dbL": bp[0] / bp[-1] if bp[-1] != 0 else float("nan"),
        }

    van = vanishing_chain(depth, seed)
    exp = exploding_chain(depth, x=x)
    v = describe(van)
    v["bound_quarter_pow_L"] = van.gradient_bound(x, y)
    e = describe(exp)
    if ws is None:
        ws = [4.5, 5.0, 6.0, 6.9, 8.0, 10.0, 20.0, 50.0, 100.0]
    rows = []
    for w in ws:
        rows.append({"w": w, "formula": width_formula(w),
                     "root_finding": width_numerical(w, b=0.3),
                     "grid": width_numerical_grid(w, b=0.3, n=200_001)})
    w_star, width_star = max_width()
    return {
        "depth": depth, "x": x, "y": y, "cost": "quadratic (a_L - y)^2 / 2",
        "vanishing": v, "exploding": e,
        "width": {"rows": rows, "max_w": w_star, "max_width": width_star},
    }
