"""The experiments of chapter 5, run by ``vgcore chapter5``."""
