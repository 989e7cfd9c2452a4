"""MNIST on disk: where it is, how each format is read, the download, the sample.

The public face is :mod:`vgcore.mnist_loader`.
"""
