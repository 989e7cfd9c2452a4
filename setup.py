"""Build the compiled core of vgcore.

The Cython sources live in ``src_c/`` and are compiled into ``vgcore``'s
package namespace (``vgcore._kernels``).  Everything else (metadata,
dependencies, entry points) is in ``pyproject.toml``.

No ``-march=native``: the wheel must run on any x86-64 CPU.  The heavy
arithmetic is matrix products done by the BLAS that SciPy ships (which
picks its kernels for the CPU at run time); the element-wise loops are
simple enough that ``-O3`` vectorises them for baseline x86-64.

Build time (one translation unit; measured on a 2-core AMD EPYC Zen 4,
gcc 12, idle): cythonize 2.5 s, then gcc 12.9 s with the interpreter's
``-g`` and 10.4 s without it.  ``-O3`` stays: at ``-O2`` (7.7 s) the
AVX-512 kernels ran 1.5-2.5x slower.  ``-g0`` drops the debug information
the interpreter's CFLAGS ask for (the extension goes from 2.5 MB to
0.47 MB, the kernels run at the same speed), unless ``$CFLAGS`` asks for
``-g`` itself, as ``tools/sanitize.sh`` does.
"""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

debug = "-g" in os.environ.get("CFLAGS", "").split()

extensions = [
    Extension(
        "vgcore._kernels",
        sources=["src_c/_kernels.pyx"],
        include_dirs=[np.get_include(), "src_c"],
        depends=["src_c/_fwd_avx512.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"] + ([] if debug else ["-g0"]),
    ),
    Extension(
        "vgcore._small",
        sources=["src_c/_small.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
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
