"""The monitor's overhead through network2's API: ``SGD(monitor=...)`` against
``SGD()``, one epoch each, in A/B pairs (the order swapped every pair), CPU
time (``time.process_time``); prints the median and quartiles of the
per-pair ratios.

    VGCORE_MNIST=/path/to/mnist python tools/monitor_overhead.py [pairs] [every] [hist]

Network ``[784, 30, 30, 30, 30, 10]``, mini-batches of 10, eta 0.1, lmbda 5.0,
on the 50,000 training images; both networks train from the same start, so
each pair does the same arithmetic (the monitor does not change it).
"""
import contextlib
import io
import sys
import time

import numpy as np


def main(pairs=15, every=100, histograms=False):
    import vgcore.network2 as network2
    from vgcore import mnist_loader
    from vgcore.core import kernels

    (train, _, _), source, _ = mnist_loader.load_data_auto(None)
    X, y = np.asarray(train[0]), np.asarray(train[1])
    sizes = [784, 30, 30, 30, 30, 10]

    def epoch(monitor):
        np.random.seed(0)
        net = network2.Network(sizes)
        t = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD((X, y), 1, 10, 0.1, lmbda=5.0, monitor=monitor)
        return time.process_time() - t

    epoch(None)                                    # warm up: the kernels, the caches
    ratios, base = [], []
    for i in range(pairs):
        mon = network2.Monitor(every=every, histograms=histograms, warn=False)
        if i % 2:
            with_, without = epoch(mon), epoch(None)
        else:
            without, with_ = epoch(None), epoch(mon)
        ratios.append(with_ / without)
        base.append(without)
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    print(f"{source}; kernels {kernels.cpu_path()}; {pairs} pairs, every={every}, "
          f"histograms={histograms}")
    print(f"epoch without the monitor: median {np.median(base):.3f} s CPU")
    print(f"overhead: median {100 * (med - 1):+.1f}% (quartiles {100 * (q1 - 1):+.1f} .. "
          f"{100 * (q3 - 1):+.1f}%)")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 15, int(args[1]) if len(args) > 1 else 100,
         len(args) > 2 and args[2] == "hist")
