"""vgcore: a fast, faithful, instrumented drop-in for Nielsen's network2.

Submodules (imported on demand, so ``import vgcore`` stays light):

- ``vgcore.network2``: the drop-in replacement for ``network2.py``;
- ``vgcore.mnist_loader``: the drop-in MNIST loader;
- ``vgcore.reference``: the pure-numpy reference of the mathematics;
- ``vgcore.kernels``: the Python layer over the compiled Cython kernels;
- ``vgcore.chain``, ``vgcore.diagnostics``, ``vgcore.chapter5``: the
  chapter 5 experiments, run by ``vgcore chapter5``.
"""
__version__ = "0.1.0"
