"""vgcore: a fast, faithful, instrumented drop-in for Nielsen's network2.

The public faces (imported on demand, so ``import vgcore`` stays light):

- ``vgcore.network2``: the drop-in replacement for ``network2.py``;
- ``vgcore.mnist_loader``: the drop-in MNIST loader;
- ``vgcore.errors``: the exceptions and warnings;
- ``vgcore.sweep``: many trainings (cells x seeds) on local processes or Dask;
- the ``vgcore`` command (``vgcore.cli``): ``chapter5``, ``sweep``, ``bench``,
  ``mnist``, ``info``.

Behind them, by layer (``docs/architecture.md``): ``vgcore.core`` (the
numpy reference, the kernels' Python layer, the choice between them, the
data conversion and the checks), ``vgcore.data`` (MNIST on disk),
``vgcore.experiments`` (chapter 5 and the sweep engine), ``vgcore.bench`` (``vgcore bench``)
and ``vgcore._support`` (atomic files, the lock, lazy imports).
"""
__version__ = "0.1.0"
