"""``vgcore bench``: the kernels against the numpy reference and network2."""
