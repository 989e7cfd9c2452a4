"""Sweeps: many trainings of network2 networks (cells x seeds), locally or on a cluster.

A **cell** is a plain dict of training settings (the keys of
:data:`KEYS`; every one has a default)::

    {"depth": 2, "width": 30, "eta": 0.1, "lmbda": 5.0, "mini_batch_size": 10,
     "epochs": 30, "cost": "cross-entropy", "dtype": "float64",
     "data": "sample", "n_train": None, "n_validation": None,
     "measure": ["accuracy", "cost", "speeds", "norms"]}

(``sizes=[784, 30, 30, 10]`` instead of ``depth`` and ``width``; ``data``
is ``"sample"``, ``"mnist"`` for the full MNIST the loader finds, or a
path).  A **grid** maps keys to a value or a list of values, and every
combination is a cell::

    import vgcore.sweep as sweep

    res = sweep.run({"depth": [1, 2, 3, 4], "epochs": 5, "n_train": 10_000,
                     "data": "mnist"}, seeds=10, out="depth_sweep")
    res.summary          # per cell: mean, std and count of each measure over the seeds
    res.tests            # Welch t-tests between neighbouring depths
    res.to_dataframe()   # results.csv as a pandas DataFrame (with pandas installed)

``run_cell(cell, seed)`` is one training run: a pure function returning a
JSON-able dict, the same for the same cell and seed wherever it runs.
``backend="loky"`` (default: local processes through joblib),
``"serial"`` or ``"dask"`` (``scheduler="tcp://HOST:8786"`` for a running
Dask cluster, ``"local[N]"`` for a ``LocalCluster``; needs
``pip install "vgcore[dask]"``) give the same numbers.  With ``out``
every finished run is a file in ``out/cells/``, and running the sweep
again (even with a larger grid) runs only what is missing.  The command
line is ``vgcore sweep``; bad grids raise :class:`SweepError` before
anything runs.
"""
from .errors import SweepError
from .experiments.sweep import (KEYS, cell_id, derive_seeds, expand_grid, normalize_cell,
                                register_key, run_cell)
from .experiments.sweep_cli import SweepResult, load_spec, run

__all__ = ["run", "run_cell", "expand_grid", "normalize_cell", "cell_id", "derive_seeds",
           "load_spec", "register_key", "KEYS", "SweepResult", "SweepError"]
