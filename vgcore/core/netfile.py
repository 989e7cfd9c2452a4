"""network2's network files (JSON), read strictly.

``{"sizes": [...], "weights": [...], "biases": [...], "cost": "CrossEntropyCost"}``
as ``Network.save`` writes it (through :func:`vgcore._support.files.atomic_write_json`)
and network2 reads it.  vgcore adds ``"activation"`` when the hidden layers'
activation is not network2's sigmoid, and ``"init"`` when the network was
initialised by one of Glorot and Bengio's or He's initialisers (network2's
own two are not recorded): a network with network2's settings is saved
exactly as network2 saves it.  :func:`read_network` checks the whole file before
a network is built; anything wrong raises
:class:`~vgcore.errors.NetworkFileError` saying what.
"""
import numpy as np

from ..errors import NetworkFileError
from ._checks import check_sizes
from .costs import DROPIN_COSTS as BUILTIN_COSTS
from .reference import ACTIVATIONS, INITIALISERS

#: vgcore's optional keys: their default (not written) and accepted values.
EXTRAS = {"activation": ("sigmoid", tuple(ACTIVATIONS)),
          "init": ("default", tuple(INITIALISERS))}


def extra_keys(activation, init):
    """The keys vgcore adds to a network file for ``activation`` and ``init``
    (none with network2's settings: the file is then network2's own)."""
    extras = {}
    if activation != "sigmoid":
        extras["activation"] = activation
    if init not in ("default", "large"):
        extras["init"] = init
    return extras


def read_network(path, filename):
    """``(sizes, cost, weights, biases, extras)`` from the network2 JSON file
    ``path``; ``extras`` maps ``"activation"`` and ``"init"`` to their values
    (the defaults when the file has none).

    The whole file is checked; anything wrong raises
    :class:`~vgcore.errors.NetworkFileError` naming ``filename`` (as the
    caller gave it).  A missing or unreadable file raises ``OSError``.
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        import json
        data = json.loads(raw, parse_constant=reject_constant)
    except RecursionError:
        raise NetworkFileError(filename, "not a network2 JSON file (nested too "
                                         "deeply)") from None
    except ValueError as e:        # JSONDecodeError, UnicodeDecodeError, our NaN check
        raise NetworkFileError(filename, f"not a network2 JSON file ({e})") from None
    if not isinstance(data, dict):
        raise NetworkFileError(filename, f"expected a JSON object, got {type(data).__name__}")
    missing = {"sizes", "weights", "biases", "cost"} - set(data)
    if missing:
        raise NetworkFileError(filename, f"missing keys {sorted(missing)}")
    cost = BUILTIN_COSTS.get(data["cost"]) if isinstance(data["cost"], str) else None
    if cost is None:
        shown = repr(data["cost"])
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise NetworkFileError(filename, f"unknown cost {shown}; expected one of "
                                         f"{sorted(BUILTIN_COSTS)}")
    extras = {}
    for key, (default, choices) in EXTRAS.items():
        value = data.get(key, default)
        if not isinstance(value, str) or value not in choices:
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise NetworkFileError(filename, f"unknown {key} {shown}; expected one of "
                                             f"{list(choices)}")
        extras[key] = value
    try:
        sizes = check_sizes(data["sizes"])
    except (TypeError, ValueError) as e:
        raise NetworkFileError(filename, f"bad sizes: {e}") from None
    try:
        L = len(sizes) - 1
        weights = json_matrices(data["weights"], "weights",
                                [(sizes[l + 1], sizes[l]) for l in range(L)])
        biases = json_matrices(data["biases"], "biases", [(sizes[l + 1], 1) for l in range(L)])
    except (TypeError, ValueError) as e:
        raise NetworkFileError(filename, f"bad parameters: {e}") from None
    return sizes, cost, weights, biases, extras


def reject_constant(name):
    """``json.loads``'s hook for ``NaN``, ``Infinity`` and ``-Infinity``: refuse them."""
    raise ValueError(f"the literal {name} (parameters must be finite numbers)")


def json_matrices(value, name, shapes):
    """float64 arrays of ``shapes`` from JSON lists, checked strictly."""
    if type(value) is not list:
        raise ValueError(f"{name} must be a list of {len(shapes)} matrices, got "
                         f"{type(value).__name__}")
    if len(value) != len(shapes):
        raise ValueError(f"{name} must be a list of {len(shapes)} matrices (one per layer "
                         f"after the first, for sizes), got {len(value)}")
    out = []
    for l, (m, (rows, cols)) in enumerate(zip(value, shapes)):
        where = f"{name}[{l}]"
        if type(m) is not list or len(m) != rows:
            got = f"{len(m)} rows" if type(m) is list else type(m).__name__
            raise ValueError(f"{where} must have shape {(rows, cols)}: a list of {rows} rows, "
                             f"got {got}")
        for i, row in enumerate(m):
            if type(row) is not list or len(row) != cols:
                got = f"{len(row)} values" if type(row) is list else type(row).__name__
                raise ValueError(f"{where} must have shape {(rows, cols)}: row {i} must be "
                                 f"a list of {cols} numbers, got {got}")
        flat = [v for row in m for v in row]
        kinds = set(map(type, flat))
        if not kinds <= {int, float}:
            bad = sorted(k.__name__ for k in kinds - {int, float})
            raise ValueError(f"{where} must hold numbers only, found {', '.join(bad)}")
        try:
            a = np.array(flat, dtype=np.float64)
        except OverflowError:
            raise ValueError(f"{where} holds an integer too large for float64") from None
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where} holds a number too large for float64 (it reads "
                             f"as infinity)")
        out.append(a.reshape(rows, cols))
    return out
