"""Compiled extensions imported at their first use, not at ``import vgcore.network2``.

The extensions take their BLAS from ``scipy.linalg.cython_blas``, and
importing them imports ``scipy.linalg`` (~0.25-0.4 s).  A script that only
builds a network or loads MNIST should not pay for that, so the modules
that call the extensions hold a :class:`LazyModule` in their place: its
first attribute access imports the real module and puts it in the
caller's namespace, so every later access is an ordinary global lookup.
"""
import importlib

__all__ = ["LazyModule", "load_blas"]


class LazyModule:
    """Stands for the module ``name`` in ``namespace[attr]`` until first used."""

    __slots__ = ("_name", "_namespace", "_attr")

    def __init__(self, name, namespace, attr):
        self._name, self._namespace, self._attr = name, namespace, attr

    def __getattr__(self, item):
        module = importlib.import_module(self._name)
        self._namespace[self._attr] = module
        return getattr(module, item)

    def __repr__(self):
        return f"<{self._name}, imported at first use>"


def load_blas():
    """Import the compiled extensions now (and with them SciPy's BLAS).

    For code that limits BLAS threads with threadpoolctl, which only limits
    the libraries already loaded when the limit is set.
    """
    importlib.import_module("vgcore._kernels")
    importlib.import_module("vgcore._small")
