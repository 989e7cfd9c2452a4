"""Build the compiled core of vgcore.

The Cython sources live in ``src_c/`` and are compiled into ``vgcore``'s
package namespace (``vgcore._kernels``).  Everything else (metadata,
dependencies, entry points) is in ``pyproject.toml``.

No ``-march`` flag: the wheel must run on any x86-64 CPU.  The hand-written
kernels (``src_c/simd_*.h``) are compiled for each target inside the one
extension, with per-function target attributes, and chosen at run time by
CPUID (``src_c/simd_dispatch.h``).  ``-ffp-contract=off``: a multiply and
an add are fused only where the kernels ask for an FMA, so every path does
the operations its source says (the baseline's results are the same on
every architecture).
"""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "vgcore._kernels",
        sources=["src_c/_kernels.pyx"],
        include_dirs=[np.get_include(), "src_c"],
        depends=["src_c/simd_dispatch.h", "src_c/simd_target.h",
                 "src_c/simd_kernels.h", "src_c/simd_vectors.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", "-ffp-contract=off"],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
