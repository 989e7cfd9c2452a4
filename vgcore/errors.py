"""The exceptions and warnings of vgcore.

Every bad argument given to :mod:`vgcore.network2` raises ``TypeError``
(wrong kind of object: a float where an int is needed, a string where an
array is needed, a cost that is not a class with ``fn`` and ``delta``) or
``ValueError`` (right kind, wrong value: a negative size, data of the wrong
shape, a label out of range).  The messages name the argument and say what
was expected.  Three documented subclasses let a script tell the cases
apart:

- :class:`NonFiniteError` (a ``ValueError``): NaN or infinity in data or in
  the network's parameters, or a result that overflowed float64 (inputs
  and weights so large that ``w a + b`` is not representable);
- :class:`NetworkFileError` (a ``ValueError``): :func:`vgcore.network2.load`
  was given a file that is not a valid network file;
- :class:`DivergenceError` (a ``FloatingPointError``): training with
  ``on_divergence="raise"`` drove the parameters or the cost to NaN or
  infinity.  With the default ``on_divergence="warn"`` the same event is a
  :class:`DivergenceWarning` (a ``RuntimeWarning``) and training goes on as
  network2's would.

The monitor (``SGD(monitor=...)``, :class:`vgcore.network2.Monitor`) issues a
:class:`MonitorWarning` (a ``RuntimeWarning``) when what it records calls
for action: the early layers learning 100x slower than the last hidden one
(or faster), a hidden layer more than 90% saturated, ReLU units dead.

The MNIST loader (:mod:`vgcore.mnist_loader`) has its own five:

- :class:`MNISTFormatError` (a ``ValueError``): a data file is malformed;
- :class:`MNISTChecksumError` (a ``MNISTFormatError``): a download did not
  match its MD5 or size;
- :class:`UnsafePickleError` (a ``MNISTFormatError`` and a
  ``pickle.UnpicklingError``): a pickle asked for more than plain arrays;
- :class:`MNISTNotFoundError` (a ``FileNotFoundError``): no data anywhere;
- :class:`MNISTDownloadError` (an ``OSError``): no mirror could be reached.

The sweep engine (:mod:`vgcore.sweep`) has one:

- :class:`SweepError` (a ``ValueError``): a bad grid, cell, seed list or
  backend, refused before anything runs.
"""
import os
import pickle

__all__ = ["NonFiniteError", "NetworkFileError", "DivergenceWarning", "DivergenceError",
           "MonitorWarning",
           "MNISTFormatError", "MNISTChecksumError", "UnsafePickleError",
           "MNISTNotFoundError", "MNISTDownloadError", "SweepError"]


class NonFiniteError(ValueError):
    """NaN or infinity where finite numbers are required.

    Raised for data (``x``, ``y``, labels) or parameters (``weights``,
    ``biases``) holding NaN or infinity, and for a result of finite inputs
    that overflowed float64.
    """


class NetworkFileError(ValueError):
    """A file given to ``load`` is not a valid network file.

    ``filename`` is the file, ``reason`` says what is wrong with it.
    """

    def __init__(self, filename, reason):
        super().__init__(f"{filename}: {reason}")
        self.filename = filename
        self.reason = reason


class _DivergenceInfo:
    """Where training first produced NaN or infinity.

    Attributes
    ----------
    epoch : int
        The epoch (0-based, as printed in ``Epoch j training complete``).
    mini_batch : int or None
        The mini-batch within the epoch (0-based) whose update produced the
        first non-finite value; None when it is the monitored cost that is
        not finite.
    layer : int or None
        Index into ``net.weights``/``net.biases`` of the first layer whose
        parameters are not finite (``layer + 2`` is the book's layer
        number); None when only the cost is not finite.
    parameter : str
        ``"weights"``, ``"biases"`` or ``"cost"``.
    layers : list of int
        Every layer whose parameters became non-finite in that mini-batch.
    """

    def _set_info(self, epoch, mini_batch, layer, parameter, layers, message):
        self.epoch = epoch
        self.mini_batch = mini_batch
        self.layer = layer
        self.parameter = parameter
        self.layers = list(layers)
        self.message = message


class DivergenceWarning(RuntimeWarning, _DivergenceInfo):
    """Training produced NaN or infinity (``on_divergence="warn"``).

    Issued at most once per ``SGD`` call for the parameters and once for
    the monitored costs; training then goes on as in network2.
    Attributes as :class:`DivergenceError`.
    """

    def __init__(self, message, epoch=None, mini_batch=None, layer=None,
                 parameter=None, layers=()):
        super().__init__(message)
        self._set_info(epoch, mini_batch, layer, parameter, layers, message)


class DivergenceError(FloatingPointError, _DivergenceInfo):
    """Training produced NaN or infinity (``on_divergence="raise"``).

    Training stops; the network keeps its last finite parameters, those
    from just before the mini-batch that produced the non-finite value.
    Attributes: ``epoch``, ``mini_batch``, ``layer``, ``parameter``,
    ``layers`` (see :class:`DivergenceWarning`'s base) and ``results``, the
    tuple of per-epoch monitoring lists ``SGD`` would have returned, for the
    epochs completed so far.
    """

    def __init__(self, message, epoch=None, mini_batch=None, layer=None,
                 parameter=None, layers=(), results=None):
        super().__init__(message)
        self._set_info(epoch, mini_batch, layer, parameter, layers, message)
        self.results = results


class MonitorWarning(RuntimeWarning):
    """What the monitor recorded in an epoch calls for action.

    Attributes: ``kind`` (``"vanishing"``, ``"exploding"``, ``"saturated"``
    or ``"dead"``), ``epoch`` (the monitor's epoch, 0-based), ``layers``
    (the layers concerned, 1 = the first hidden layer) and ``values`` (the
    measured numbers behind the message: speed ratio or fractions, one per
    layer in ``layers``).  Issued at most once per kind per ``SGD`` call.
    """

    def __init__(self, message, kind=None, epoch=None, layers=(), values=()):
        super().__init__(message)
        self.kind, self.epoch = kind, epoch
        self.layers, self.values = list(layers), list(values)


# ----------------------------------------------------------------------
# MNIST (vgcore.mnist_loader)
# ----------------------------------------------------------------------

class MNISTFormatError(ValueError):
    """A data file is malformed.  ``path`` is the file, when known, and
    ``reason`` what is wrong with it (the message without the path)."""

    def __init__(self, message, path=None):
        self.reason = message
        self.path = None if path is None else os.fspath(path)
        super().__init__(message if path is None else f"{self.path}: {message}")


class MNISTChecksumError(MNISTFormatError):
    """A downloaded file did not have the expected MD5 checksum or size."""


class UnsafePickleError(MNISTFormatError, pickle.UnpicklingError):
    """A pickle asked for something other than plain numpy arrays.

    Raised before that thing is created: a hostile pickle cannot run code.
    """


class MNISTNotFoundError(FileNotFoundError):
    """No MNIST data was found.  ``searched`` lists every place tried."""

    def __init__(self, message, searched=()):
        self.searched = list(searched)
        super().__init__(message)

    def __str__(self):
        return self.args[0] if self.args else ""


class MNISTDownloadError(OSError):
    """``download_mnist`` could not fetch a file from any mirror."""

    def __str__(self):
        return self.args[0] if self.args else ""


# ----------------------------------------------------------------------
# Sweeps (vgcore.sweep)
# ----------------------------------------------------------------------

class SweepError(ValueError):
    """A sweep's grid, cells, seeds or backend are wrong; nothing has run."""
