"""Reporting training that diverges (see "Divergence" in :mod:`vgcore.network2`).

Called by ``Network.SGD`` and ``Network.update_mini_batch`` when the
parameters or a monitored cost have become NaN or infinite: say where,
then warn (pointing at the caller's line outside vgcore) or raise as
``on_divergence`` asks.
"""
import os
import sys
import warnings

import numpy as np

from ._checks import nonfinite_layers
from ..errors import DivergenceError, DivergenceWarning


_VGCORE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def callers_level():
    """``warnings.warn``'s stacklevel, seen from its caller, of the first frame
    outside vgcore: the user's line that called SGD or update_mini_batch."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_VGCORE + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def report_parameters(net, backend, before, data, idx, mini_batch_size, eta, lmbda, n,
                      epoch, first_batch, on_divergence, results):
    """Find where the parameters first became non-finite; warn or raise.

    Replays the examples ``idx`` one mini-batch at a time from the
    snapshot ``before`` (on copies, with the ``backend`` that trained) to
    find the mini-batch and layer.
    """
    W, B = backend.snapshot(*before)
    last_good = before
    where = None
    for k, s in enumerate(range(0, len(idx), mini_batch_size)):
        prev = backend.snapshot(W, B)
        W, B = backend.train(W, B, data, idx[s:s + mini_batch_size], mini_batch_size,
                             eta, lmbda, n)
        bad = nonfinite_layers(W, B)
        if bad:
            where, last_good = (first_batch + k, bad), prev
            break
    if where is None:     # not reproduced (non-deterministic BLAS?)
        bad = nonfinite_layers(net.weights, net.biases)
        where = (None, bad)
    mini_batch, bad = where
    layer, parameter = bad[0]
    layers = sorted({l for l, _ in bad})
    decay = 1 - eta * lmbda / n
    msg = (f"training diverged: the {parameter} of layer {layer + 2} "
           f"(net.{parameter}[{layer}]) became NaN or infinite")
    if epoch is not None:
        msg += f" in epoch {epoch}"
    if mini_batch is not None:
        msg += f", mini-batch {mini_batch}" if epoch is not None else " in this mini-batch"
    if len(layers) > 1:
        msg += f" (non-finite layers: {[l + 2 for l in layers]})"
    msg += f"; eta={eta!r}, lmbda={lmbda!r}, n={n!r}"
    if abs(decay) > 1:
        msg += (f"; the weight-decay factor 1 - eta*lmbda/n = {decay:.6g} has magnitude "
                f"> 1, so every step multiplies the weights by it")
    msg += "; try a smaller eta" + (" or lmbda" if lmbda else "")
    if on_divergence == "raise":
        net.weights = [np.array(w) for w in last_good[0]]
        net.biases = [np.array(b) for b in last_good[1]]
        raise DivergenceError(msg + "; the network keeps its last finite parameters",
                              epoch, mini_batch, layer, parameter, layers, results)
    warnings.warn(DivergenceWarning(msg, epoch, mini_batch, layer, parameter, layers),
                  stacklevel=callers_level())


def report_cost(what, value, epoch, eta, lmbda, n, on_divergence, results):
    """A monitored cost is NaN or infinite although the parameters are finite."""
    msg = (f"training diverged: the cost on {what} data is {value} after epoch "
           f"{epoch} although the parameters are finite (they are so large that the "
           f"computation overflowed, or the cost's fn returned it); eta={eta!r}, "
           f"lmbda={lmbda!r}, n={n!r}; try a smaller eta")
    if on_divergence == "raise":
        raise DivergenceError(msg, epoch, None, None, "cost", (), results)
    warnings.warn(DivergenceWarning(msg, epoch, None, None, "cost", ()),
                  stacklevel=callers_level())
