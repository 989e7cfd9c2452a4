# cython: language_level=3
"""Compiled kernels of vgcore (placeholder: replaced by the fused kernels)."""

def _abi_check():
    return 1
