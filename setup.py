"""Build the compiled core of vgcore.

The Cython sources live in ``src_c/`` and are compiled into ``vgcore``'s
package namespace: ``vgcore._kernels`` (the whole-batch kernels) and
``vgcore._small`` (calls on one example or a few, in network2's layout).  Everything else (metadata,
dependencies, entry points) is in ``pyproject.toml``.

No ``-march`` flag: the wheel must run on any x86-64 CPU.  The hand-written
kernels (``src_c/simd_*.h``) are compiled for each target inside the one
extension, with per-function target attributes, and chosen at run time by
CPUID (``src_c/simd_dispatch.h``).  ``-ffp-contract=off``: a multiply and
an add are fused only where the kernels ask for an FMA, so every path does
the operations its source says (the baseline's results are the same on
every architecture).

Build time (measured on a 2-core AMD EPYC Zen 4, gcc 12, idle, before the
SIMD targets): cythonize 2.5 s, then gcc 12.9 s with the interpreter's
``-g`` and 10.4 s without it.  ``-O3`` stays: at ``-O2`` (7.7 s) the
AVX-512 kernels ran 1.5-2.5x slower.  ``-g0`` drops the debug information
the interpreter's CFLAGS ask for (the extension goes from 2.5 MB to
0.47 MB, the kernels run at the same speed), unless ``$CFLAGS`` asks for
``-g`` itself, as ``tools/sanitize.sh`` does.  With the SIMD targets, the
activations and the monitor (issue 17): a fresh build of both extensions
21.6 s against 17.5-18.2 s before them (0077106), the same machine with a
second job running, two builds each; ``_kernels`` 0.63 MB -> 0.76 MB.
"""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

debug = "-g" in os.environ.get("CFLAGS", "").split()
compile_args = ["-O3", "-ffp-contract=off"] + ([] if debug else ["-g0"])

extensions = [
    Extension(
        "vgcore._kernels",
        sources=["src_c/_kernels.pyx"],
        include_dirs=[np.get_include(), "src_c"],
        depends=["src_c/vg_codes.h", "src_c/simd_dispatch.h", "src_c/simd_target.h",
                 "src_c/simd_kernels.h", "src_c/simd_vectors.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
    ),
    Extension(
        "vgcore._small",
        sources=["src_c/_small.pyx"],
        include_dirs=[np.get_include(), "src_c"],
        depends=["src_c/vg_codes.h", "src_c/_elementwise.pxd"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
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
