"""The core: network2's mathematics and the checks in front of it.

``reference`` (numpy, the oracle) and ``kernels`` (the Python layer over the
compiled ``vgcore._kernels``) offer the same functions; ``backend`` picks one
of them for a cost; ``small`` is the Python layer over ``vgcore._small``
(calls on one example or a few); ``datasets`` turns network2-style data into
arrays; ``_checks`` holds every argument check; ``netfile`` reads network2's
JSON files; ``divergence`` reports training that produced NaN or infinity;
``monitor`` keeps the per-layer health monitor's records, writes them and warns.
"""
