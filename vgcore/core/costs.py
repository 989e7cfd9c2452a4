"""network2's two cost classes as ``vgcore.network2`` exports them: compiled.

``CrossEntropyCost`` and ``QuadraticCost`` here are the reference's classes
(:mod:`vgcore.core.reference`, the numpy oracle, which keeps its own
``fn``/``delta``) with ``fn`` and ``delta`` replaced by the compiled
functions of ``vgcore._small``, which give network2's numbers bit for bit
(see the section "network2's cost functions" of ``src_c/_small.pyx``) at a
fraction of the cost of numpy's expressions on a ``(10, 1)`` column.

The compiled functions ARE the static methods -- no Python frame between
a script's ``cost.delta(z, a, y)`` and the compiled code -- but loading
``vgcore._small`` loads SciPy's BLAS, which ``import vgcore.network2`` must
not do.  So each method is a :class:`_Compiled` placeholder until it is
first looked up; that lookup imports the extension and replaces the
placeholder by ``staticmethod(function)`` in the class, for good.

Both pairs of classes are "the built-in costs" (``_checks.builtin_cost``
maps either to the reference's class, which the kernels are keyed on); a
network file names them the same way.
"""
import importlib

from . import reference

__all__ = ["CrossEntropyCost", "QuadraticCost", "DROPIN_COSTS"]


class _Compiled:
    """Stands for the static method ``vgcore._small.<function>`` until first used."""

    def __init__(self, function):
        self.function = function

    def __set_name__(self, owner, name):
        self.owner, self.name = owner, name

    def __get__(self, obj, owner=None):
        f = getattr(importlib.import_module("vgcore._small"), self.function)
        setattr(self.owner, self.name, staticmethod(f))
        return f


class CrossEntropyCost(reference.CrossEntropyCost):
    """The cross-entropy cost ``C = -sum y ln a + (1 - y) ln(1 - a)``.

    ``fn(a, y)`` is network2's ``np.sum(np.nan_to_num(-y*np.log(a) -
    (1-y)*np.log(1-a)))`` and ``delta(z, a, y)`` its ``a - y``: the same
    numbers, types and warnings, compiled.
    """
    __module__ = "vgcore.network2"
    fn = _Compiled("cross_entropy_fn")
    delta = _Compiled("cross_entropy_delta")


class QuadraticCost(reference.QuadraticCost):
    """The quadratic cost ``C = 0.5 ||a - y||^2``.

    ``fn(a, y)`` is network2's ``0.5 * np.linalg.norm(a - y) ** 2`` and
    ``delta(z, a, y)`` is ``(a - y) * sigmoid_prime(z)`` with vgcore's
    overflow-free sigmoid: the same numbers, types and warnings, compiled.
    """
    __module__ = "vgcore.network2"
    fn = _Compiled("quadratic_fn")
    delta = _Compiled("quadratic_delta")


#: The cost classes by the names a network file gives them: the reference's
#: built-in costs, the two compiled here in place of theirs.
DROPIN_COSTS = {**reference.BUILTIN_COSTS, "CrossEntropyCost": CrossEntropyCost,
                "QuadraticCost": QuadraticCost}
