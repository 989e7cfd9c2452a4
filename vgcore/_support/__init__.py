"""Helpers without mathematics: atomic files, the network's lock, lazy imports."""
