"""``python -m vgcore.bench``: the same as ``vgcore bench``."""
import sys

from .cli import main

sys.exit(main())
