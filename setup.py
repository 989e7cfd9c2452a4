"""Build the compiled core of vgcore.

The Cython sources live in ``src_c/`` and are compiled into ``vgcore``'s
package namespace (``vgcore._kernels``).  Everything else (metadata,
dependencies, entry points) is in ``pyproject.toml``.

No ``-march=native``: the wheel must run on any x86-64 CPU.  The heavy
arithmetic is matrix products done by the BLAS that SciPy ships (which
picks its kernels for the CPU at run time); the element-wise loops are
simple enough that ``-O3`` vectorises them for baseline x86-64.
"""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "vgcore._kernels",
        sources=["src_c/_kernels.pyx"],
        include_dirs=[np.get_include(), "src_c"],
        depends=["src_c/_fwd_avx512.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
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
