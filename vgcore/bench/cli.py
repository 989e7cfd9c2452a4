"""``vgcore bench``: time the compiled kernels against the numpy reference
and a per-example network2-style loop, on one BLAS thread.

Everything runs in one process on the same data: MNIST from ``--data`` or
``$VGCORE_MNIST`` (the folder of the four gzipped IDX files), or else random
data of MNIST's shape (the timings do not depend on the pixel values; the
report says which was used).  BLAS is limited to ``--threads`` threads
(default 1) with threadpoolctl.

For every case the report gives the median time over ``--repeat`` runs of

* ``kernel``: :mod:`vgcore.kernels` (the compiled Cython kernels);
* ``reference``: :mod:`vgcore.reference` (vectorised numpy, one matrix
  product per layer per mini-batch);
* ``per-example``: :class:`PerExampleNetwork`, a plain loop over examples
  with ``(n, 1)`` column vectors as in the book's ``network2.py``; it is a
  TIMING BASELINE ONLY.  Where the case is large it is timed on a part of
  the work (at most ``PER_EXAMPLE_CAP`` examples) and scaled linearly to
  the whole case; such times are marked ``*``.

and the ratios ``reference/kernel`` and ``per-example/kernel`` (how many
times faster the kernel is), plus the arithmetic floor: the case's
floating-point operations divided by the machine's single-core GEMM rate
(measured here with a large numpy matmul), counting ``2*m*n*k`` per matrix
product: the forward products, the back-propagation of ``delta`` and the
weight gradients.  ``kernel/floor`` is how far the kernel is from it:
``k/floor`` against the best GEMM rate at the start, ``k/floor~`` against
the GEMM probe timed right after each kernel run (the median over the
runs of those ratios: on a shared machine, the fair comparison).
``--only CASE`` times just that case (or those whose name contains it).

Every timing is reported twice: wall time (first table) and the CPU time
of the benchmarking thread (second table).  They agree on an idle machine;
on a machine shared with other busy processes the wall times also hold the
time spent waiting for a core, and the CPU times are the fairer comparison
(the report prints the load average).  The GEMM rate is the best CPU time.

The kernels' path (``avx512``, ``avx2``, ``baseline``, ``blas``; see
:mod:`vgcore.kernels`) is the one in use, or the one given with ``--cpu``;
the report names it.  Do not set ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``
when benchmarking a machine as it is (they select slower BLAS kernels); the
report prints them when they are set.  The exception: to stand in for an
AVX2 machine on an AVX-512 one, run ``--cpu avx2`` with
``OPENBLAS_CORETYPE=Haswell``, so that BLAS (the reference's, the floor's
GEMM and the kernels' own small updates) uses AVX2 too; likewise
``--cpu baseline`` with ``OPENBLAS_CORETYPE=Nehalem`` for a machine without
AVX.  The report says so.
"""
import gzip
import json
import os
import platform
import statistics
import sys
import threading
import time

__all__ = ["PerExampleNetwork", "run", "add_parser", "main"]

#: The per-example baseline is timed on at most this many examples per case.
PER_EXAMPLE_CAP = 10_000


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def _read_idx(path, offset):
    import numpy as np
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load_mnist(folder):
    """``(X_train (50000,784), y_train, X_test (10000,784), y_test)`` float32/int64.

    Pixels / 256 as in network2's data file; ``None`` when the files are absent.
    """
    import numpy as np
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    if not folder or not all(os.path.exists(os.path.join(folder, n)) for n in names):
        return None
    tri = _read_idx(os.path.join(folder, names[0]), 16).reshape(-1, 784)[:50_000]
    trl = _read_idx(os.path.join(folder, names[1]), 8)[:50_000]
    tei = _read_idx(os.path.join(folder, names[2]), 16).reshape(-1, 784)
    tel = _read_idx(os.path.join(folder, names[3]), 8)
    f = np.float32
    return (tri.astype(f) / f(256), trl.astype(np.int64),
            tei.astype(f) / f(256), tel.astype(np.int64))


def random_mnist_shaped(seed=0):
    """Random data of MNIST's shape and range (when MNIST is not available)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    f = np.float32
    return (rng.integers(0, 256, (50_000, 784)).astype(f) / f(256),
            rng.integers(0, 10, 50_000),
            rng.integers(0, 256, (10_000, 784)).astype(f) / f(256),
            rng.integers(0, 10, 10_000))


# ---------------------------------------------------------------------------
# The per-example baseline: network2 itself, written from SPEC.md
# ---------------------------------------------------------------------------
#
# A TIMING BASELINE ONLY, never used for results: Nielsen's network2 as
# SPEC.md describes it -- column vectors, one example at a time, the cost's
# static fn/delta, sigmoid = 1/(1+exp(-z)) -- so that vgcore's per-call
# overhead is measured against the program it replaces.  (The drop-in
# tests compare results against tests/per_example.py, written separately.)

def _sigmoid(z):
    import numpy as np
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_prime(z):
    return _sigmoid(z) * (1 - _sigmoid(z))


class Network2QuadraticCost:
    """network2's ``QuadraticCost`` (baseline)."""

    @staticmethod
    def fn(a, y):
        import numpy as np
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        return (a - y) * _sigmoid_prime(z)


class Network2CrossEntropyCost:
    """network2's ``CrossEntropyCost`` (baseline)."""

    @staticmethod
    def fn(a, y):
        import numpy as np
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        return a - y


def _vectorized_result(j):
    import numpy as np
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


class PerExampleNetwork:
    """network2's per-example algorithm with ``(n, 1)`` column vectors.

    A TIMING BASELINE ONLY (see above): network2's ``feedforward``,
    ``backprop``, ``update_mini_batch``, ``accuracy`` and ``total_cost``,
    for the parameters given (copied), with network2's cross-entropy cost
    unless ``cost`` says otherwise.
    """

    def __init__(self, weights, biases, cost=Network2CrossEntropyCost):
        import numpy as np
        self.weights = [np.array(w) for w in weights]
        self.biases = [np.array(b).reshape(-1, 1) for b in biases]
        self.num_layers = len(self.weights) + 1
        self.cost = cost

    def feedforward(self, a):
        import numpy as np
        for b, w in zip(self.biases, self.weights):
            a = _sigmoid(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        import numpy as np
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = _sigmoid(z)
            activations.append(activation)
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = _sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        import numpy as np
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb
                       for b, nb in zip(self.biases, nabla_b)]

    def sgd_epoch(self, pairs, mini_batch_size, eta, lmbda, n):
        for k in range(0, len(pairs), mini_batch_size):
            self.update_mini_batch(pairs[k:k + mini_batch_size], eta, lmbda, n)

    def accuracy(self, data, convert=False):
        import numpy as np
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data, lmbda, convert=False):
        import numpy as np
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert:
                y = _vectorized_result(y)
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        return cost

    def evaluate(self, pairs, lmbda):
        """``(n_correct, total cost)`` of one-hot pairs: network2's two passes."""
        import numpy as np
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.accuracy(pairs, convert=True), self.total_cost(pairs, lmbda)


def _pairs(X, Y, idx):
    """network2's list of ``(x (n,1), y (10,1))`` column pairs (views)."""
    import numpy as np
    return [(X[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in idx]


# ---------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------

def _init_net(sizes, dtype, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    biases = [rng.standard_normal((y, 1)).astype(dtype) for y in sizes[1:]]
    weights = [(rng.standard_normal((y, x)) / np.sqrt(x)).astype(dtype)
               for x, y in zip(sizes[:-1], sizes[1:])]
    return weights, biases


def _copy(arrays):
    return [a.copy() for a in arrays]


def _median_time(fn, repeat, setup=None):
    """Medians over ``repeat`` runs of ``fn(setup())`` (setup untimed).

    Returns ``(wall seconds, CPU seconds of the calling thread)``.  The CPU
    time is what the run cost this thread; on a machine shared with other
    busy processes the wall time also holds the time it waited for a core.
    """
    return _median_times([fn], repeat, setup)[0]


def _median_times(fns, repeat, setup=None):
    """``_median_time`` of each of ``fns``, their runs INTERLEAVED.

    Returns one ``(wall, cpu)`` pair of medians per function; see
    ``_interleaved_runs``.
    """
    return [tuple(statistics.median(x) for x in runs)
            for runs in _interleaved_runs(fns, repeat, setup)]


def _interleaved_runs(fns, repeat, setup=None):
    """Time ``repeat`` runs of each of ``fns``, INTERLEAVED.

    Run ``k`` of every function is taken before run ``k + 1`` of any, so
    that a slow spell of a shared machine (measured: the same code moving
    25-40% from one minute to the next) falls on all of them alike and
    their ratio is fair.  Returns, per function, ``(walls, cpus)``: the
    lists of its run times in order, so run ``k`` of one function can be
    paired with run ``k`` of the next one, timed right after it.
    """
    walls = [[] for _ in fns]
    cpus = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            arg = setup() if setup is not None else None
            c0 = time.thread_time()
            t0 = time.perf_counter()
            fn(arg)
            walls[i].append(time.perf_counter() - t0)
            cpus[i].append(time.thread_time() - c0)
    return list(zip(walls, cpus))


def train_flops(sizes, n_examples):
    """FLOPs of SGD on ``n_examples``: forward, delta back-propagation, weight gradient."""
    per = sum(4 * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    per += sum(2 * a * b for a, b in zip(sizes[1:-1], sizes[2:]))
    return per * n_examples


def forward_flops(sizes, n_examples):
    return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:])) * n_examples


#: Size of the GEMM whose rate defines the arithmetic floor.
_GEMM_N = 2048

#: Below this fraction of its best GEMM rate during a case, the report warns
#: that the machine was slowed down by something else.
SLOW_MACHINE = 0.9


def gemm_rate(dtype, n=_GEMM_N, repeat=7):
    """The machine's GEMM rate in FLOP/s: best of ``repeat`` ``n x n`` products.

    Timed in CPU time of the calling thread (BLAS limited to one thread runs
    in it), so that other processes on a shared machine do not lower it.
    """
    run = _gemm_runner(dtype, n)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        run(None)
        best = min(best, time.thread_time() - t0)
    return 2.0 * n ** 3 / best


def _gemm_runner(dtype, n=_GEMM_N):
    """``fn(_)`` doing one ``n x n`` product in ``dtype``: the probe of
    ``gemm_rate``, also interleaved with each case's runs."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.random((n, n)).astype(dtype)
    b = rng.random((n, n)).astype(dtype)
    c = a @ b

    def run(_):
        np.matmul(a, b, out=c)
    return run


def _rss_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------

_DEEP = [784, 30, 30, 30, 30, 10]

#: The SGD cases: name, sizes, mini-batch size, dtype, and the number of
#: training examples (None: a whole epoch of 50,000, 10,000 with --quick;
#: a number: full-batch gradient descent on that many, over several epochs).
_SPECS = [
    ("[784,30,10] mb10", [784, 30, 10], 10, "float64", None),
    ("[784,30,10] mb10 f32", [784, 30, 10], 10, "float32", None),
    ("[784,30x4,10] mb10", _DEEP, 10, "float64", None),
    ("full batch 1000", _DEEP, 1000, "float64", 1000),
    ("[784,100,10] mb10", [784, 100, 10], 10, "float64", None),
    ("[784,100,10] mb100", [784, 100, 10], 100, "float64", None),
]
_EVAL_NAME = "evaluate 10k"
_PER_CALL_NAME = "per call"
_STARTUP_NAME = "start-up"
_KERNEL_CASES = [spec[0] for spec in _SPECS] + [_EVAL_NAME]
_CASE_NAMES = _KERNEL_CASES + [_PER_CALL_NAME, _STARTUP_NAME]


def _sgd_case(name, sizes, mbs, dtype, data, n_train, epochs, repeat, per_example,
              rates, eta=0.1, lmbda=5.0):
    """Time ``epochs`` epochs of SGD on the first ``n_train`` training images."""
    import numpy as np
    from ..core import kernels
    from ..core import reference as ref

    Xtr, Ytr = data["X"][dtype][:n_train], data["Y"][dtype][:n_train]
    labels = data["labels"][:n_train]
    w0, b0 = _init_net(sizes, dtype)
    rng = np.random.default_rng(1)
    orders = [rng.permutation(n_train) if mbs < n_train else np.arange(n_train)
              for _ in range(epochs)]

    def setup():
        return _copy(w0), _copy(b0)

    def run_kernel(p):
        ws, bs = p
        for order in orders:
            kernels.sgd_epoch(ws, bs, Xtr, labels, order, mbs, eta, lmbda, n_train)

    def run_ref(p):
        ws, bs = p
        for order in orders:
            ws, bs = ref.sgd_epoch(ws, bs, Xtr, Ytr, order, mbs, eta, lmbda, n=n_train)

    # each kernel run is followed at once by its GEMM probe (the pair meets
    # the machine in the same state), then by the reference
    runs = _interleaved_runs([run_kernel, _gemm_runner(dtype), run_ref], repeat, setup)
    t_p, scaled = None, False
    if per_example:
        total = epochs * n_train
        cap = per_example
        if total <= cap:
            sub_epochs, sub_n, scale = epochs, n_train, 1.0
        elif n_train <= cap:
            sub_epochs, sub_n = max(1, cap // n_train), n_train
            scale = total / (sub_epochs * sub_n)
        else:
            sub_epochs, sub_n = 1, (cap // mbs) * mbs or mbs
            scale = total / sub_n
        scaled = scale != 1.0
        pairs = [_pairs(Xtr, Ytr, o[:sub_n]) for o in orders[:sub_epochs]]

        def run_pe(net):
            for p in pairs:
                net.sgd_epoch(p, mbs, eta, lmbda, n_train)

        t_p = tuple(scale * t for t in _median_time(
            run_pe, max(1, min(repeat, 3)), lambda: PerExampleNetwork(w0, b0)))
    flops = train_flops(sizes, epochs * n_train)
    return _result(name, sizes, mbs, dtype, flops, rates, runs, t_p, scaled,
                   f"{epochs} epoch(s) of {n_train:,} examples")


def _result(name, sizes, mbs, dtype, flops, rates, runs, t_p, scaled, what):
    """One case's record.

    ``runs`` holds the ``(walls, cpus)`` run lists of the kernel, of the GEMM
    probe timed right after each kernel run, and of the reference (from
    ``_interleaved_runs``); ``t_p`` is the per-example ``(wall, cpu)`` pair
    or None.  Times are medians of the runs.  Two floors:

    * ``floor_s``, from the GEMM rate measured once at the start (the best
      of 7 products, so the strict one: a kernel timed in a slow spell of a
      shared machine is compared with the machine at its best);
    * the same-time floor, from the GEMM probe paired with each kernel run
      (the machine as that run found it): ``kernel_over_floor_same_time``
      is the median over the runs of the kernel's time over its own pair's
      floor, and ``floor_same_time_s`` the floor at the median probe.
    """
    import numpy as np
    (k_w, k_c), (g_w, g_c), (r_w, r_c) = runs
    floor = flops / rates[np.dtype(dtype).name]
    gemm_flops = 2.0 * _GEMM_N ** 3
    r = {"case": name, "sizes": list(sizes), "mini_batch_size": mbs,
         "dtype": np.dtype(dtype).name, "work": what, "gflop": flops / 1e9,
         "floor_s": floor, "per_example_scaled": scaled,
         "runs": {"kernel_s": k_w, "kernel_cpu_s": k_c, "gemm_probe_s": g_w,
                  "gemm_probe_cpu_s": g_c, "reference_s": r_w, "reference_cpu_s": r_c}}
    for i, (clock, ks, gs, rs) in enumerate((("", k_w, g_w, r_w), ("cpu_", k_c, g_c, r_c))):
        k, ref, g = statistics.median(ks), statistics.median(rs), statistics.median(gs)
        pe = t_p[i] if t_p else None
        # the case's FLOPs at the GEMM rate of each probe: that run's floor
        paired = statistics.median(kt / (flops * gt / gemm_flops) for kt, gt in zip(ks, gs))
        r.update({
            f"kernel_{clock}s": k, f"reference_{clock}s": ref,
            f"per_example_{clock}s": pe,
            f"reference_over_kernel_{clock}".rstrip("_"): ref / k,
            f"per_example_over_kernel_{clock}".rstrip("_"): (pe / k) if pe else None,
            f"kernel_over_floor_{clock}".rstrip("_"): k / floor,
            f"floor_same_time_{clock}s": flops * g / gemm_flops,
            f"kernel_over_floor_same_time_{clock}".rstrip("_"): paired,
        })
    r["kernel_gflops"] = flops / r["kernel_s"] / 1e9
    # how fast the machine ran during this case (CPU time of this thread):
    # the median GEMM probe's rate over the best one measured at the start,
    # i.e. the ratio of the two floors (1 when undisturbed; ~0.75 was seen
    # while other tenants loaded the host)
    r["machine_speed"] = floor / r["floor_same_time_cpu_s"]
    return r


def _eval_case(data, repeat, per_example, rates, dtype="float64", lmbda=5.0):
    import numpy as np
    from ..core import kernels
    from ..core import reference as ref

    dtype = np.dtype(dtype).type
    sizes = [784, 30, 10]
    X, Y = data["Xte"][dtype], data["Yte"][dtype]
    ws, bs = _init_net(sizes, dtype)

    def run_kernel(_):
        kernels.evaluate(ws, bs, X, Y, lmbda)

    def run_ref(_):
        # one forward pass gives both numbers
        zs, acts = ref.forward(ws, bs, X)
        int(np.sum(np.argmax(acts[-1], 1) == np.argmax(Y, 1)))
        c = ref.CrossEntropyCost.fn_from_z(zs[-1], Y) / len(X)
        c + 0.5 * (lmbda / len(X)) * sum(float(np.sum(w * w)) for w in ws)

    # a short case: more repeats, so a single hiccup does not decide the median
    runs = _interleaved_runs([run_kernel, _gemm_runner(dtype), run_ref], max(repeat, 15))
    t_p = None
    if per_example:
        net = PerExampleNetwork(ws, bs)
        pairs = _pairs(X, Y, range(len(X)))
        t_p = _median_time(lambda _: net.evaluate(pairs, lmbda), max(1, min(repeat, 3)))
    # network2's evaluation does two passes (accuracy, cost); the floor counts one
    flops = forward_flops(sizes, len(X))
    return _result(_EVAL_NAME, sizes, None, dtype, flops, rates, runs, t_p,
                   False, f"accuracy + cost of {len(X):,} examples")


def _dtype_case(data, n_train, repeat):
    """Kernel epochs of ``[784,30,10]`` mb10 in float64 and float32, interleaved.

    Returns the ``(wall, cpu)`` medians of each.  The two dtypes alternate
    so that their ratio is not decided by which one met a slow spell.
    """
    import numpy as np
    from ..core import kernels

    order = np.random.default_rng(1).permutation(n_train)

    def epoch(dtype):
        X, labels = data["X"][dtype][:n_train], data["labels"][:n_train]
        w0, b0 = _init_net([784, 30, 10], dtype)

        def run(_):
            ws, bs = _copy(w0), _copy(b0)      # ~25,000 numbers: negligible
            kernels.sgd_epoch(ws, bs, X, labels, order, 10, 0.1, 5.0, n_train)
        return run

    return _median_times([epoch(np.float64), epoch(np.float32)], repeat)


def _threads_case(data, n_train, repeat):
    """Two threads training two separate networks vs one network alone.

    Besides the wall times, each thread's own CPU time is recorded: if the
    kernels serialised (GIL, locks) or the two threads slowed each other
    down, the per-thread CPU time would grow; on a machine with two free
    cores the wall time of two networks then equals that of one.
    """
    import numpy as np
    from ..core import kernels

    sizes, mbs = [784, 30, 10], 10
    X, labels = data["X"][np.float64][:n_train], data["labels"][:n_train]
    order = np.random.default_rng(2).permutation(n_train)
    w0, b0 = _init_net(sizes, np.float64)
    cpu = {}

    def train(p, key=None):
        c0 = time.thread_time()
        kernels.sgd_epoch(p[0], p[1], X, labels, order, mbs, 0.1, 5.0, n_train)
        if key is not None:
            cpu.setdefault(key, []).append(time.thread_time() - c0)

    def one(_):
        train((_copy(w0), _copy(b0)))

    def two(_):
        nets = [(_copy(w0), _copy(b0)) for _ in range(2)]
        ts = [threading.Thread(target=train, args=(p, i)) for i, p in enumerate(nets)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    t1, c1 = _median_time(one, repeat)
    t2 = _median_time(two, repeat)[0]
    c2 = statistics.median(cpu[0] + cpu[1])
    return {"case": "two threads", "sizes": sizes, "mini_batch_size": mbs,
            "work": f"1 epoch of {n_train:,} per network",
            "one_network_s": t1, "two_networks_two_threads_s": t2,
            "two_over_one": t2 / t1,
            "one_network_cpu_s": c1, "per_thread_cpu_s_when_two": c2,
            "per_thread_cpu_over_one": c2 / c1}


def _memory_case(data, n_train, epochs):
    import numpy as np
    from ..core import kernels

    sizes, mbs = [784, 30, 10], 10
    X, Y = data["X"][np.float64][:n_train], data["Y"][np.float64][:n_train]
    labels = data["labels"][:n_train]
    ws, bs = _init_net(sizes, np.float64)
    rng = np.random.default_rng(3)
    kernels.sgd_epoch(ws, bs, X, labels, rng.permutation(n_train), mbs, 0.1, 5.0, n_train)
    before = _rss_kib()
    for _ in range(epochs):
        kernels.sgd_epoch(ws, bs, X, labels, rng.permutation(n_train), mbs, 0.1, 5.0,
                          n_train)
        kernels.evaluate(ws, bs, X, Y, 5.0)
    after = _rss_kib()
    return {"case": "memory", "sizes": sizes, "mini_batch_size": mbs,
            "work": f"{epochs} epochs of {n_train:,} (+ evaluate each epoch)",
            "rss_before_kib": before, "rss_after_kib": after,
            "rss_growth_kib": (after - before) if before is not None else None}


def run(quick=False, repeat=None, threads=1, data_dir=None, out=print, only=None,
        cpu=None):
    """Run every case; returns a JSON-able dict and prints the table via ``out``.

    ``cpu`` names the kernels' path to time (default: the one in use).

    With ``only`` (a string), run just the timed case of that name, or else
    those whose name contains it (e.g. ``"mb10"``): more repeats of one
    case in less time.  The float32, threads and memory lines are then left
    out.
    """
    chosen = _chosen_cases(_CASE_NAMES, only)
    # Load SciPy's BLAS (used by the kernels) BEFORE limiting the threads:
    # threadpoolctl only limits the libraries loaded when the limit is set.
    from .._support.lazy import load_blas
    load_blas()
    from .. import _kernels
    old_path = _kernels.set_path(cpu) if cpu is not None else None
    try:
        return _run(quick, repeat, threads, data_dir, out, chosen)
    finally:
        if old_path is not None:
            _kernels.set_path(old_path)


def _run(quick, repeat, threads, data_dir, out, chosen):
    """``run`` with the kernels' path set."""
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits
    from ..core import kernels
    only = None if chosen == _CASE_NAMES else chosen

    repeat = repeat or (2 if quick else 5)
    data_dir = data_dir or os.environ.get("VGCORE_MNIST")
    mnist = load_mnist(data_dir)
    source = f"MNIST from {data_dir}" if mnist is not None else \
        "random data of MNIST's shape (no MNIST found: pass --data or set VGCORE_MNIST)"
    if mnist is None:
        mnist = random_mnist_shaped()
    Xtr, ytr, Xte, yte = mnist
    data = {"X": {np.float32: Xtr, np.float64: Xtr.astype(np.float64)},
            "Y": {np.float32: np.eye(10, dtype=np.float32)[ytr],
                  np.float64: np.eye(10)[ytr]},
            # training targets as the kernels get them from vgcore.network2
            # (one-hot targets are passed as their labels)
            "labels": ytr.astype(np.int64),
            "Xte": {np.float32: Xte, np.float64: Xte.astype(np.float64)},
            "Yte": {np.float32: np.eye(10, dtype=np.float32)[yte],
                    np.float64: np.eye(10)[yte]}}
    cap = 2_000 if quick else PER_EXAMPLE_CAP
    n_epoch = 10_000 if quick else 50_000
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                      "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
           if k in os.environ}
    report = {"python": sys.version.split()[0], "numpy": np.__version__,
              "machine": platform.machine(), "processor": _cpu_name(),
              "cpu_path": kernels.cpu_path(), "cpu_paths": list(kernels.cpu_paths()),
              "data": source, "quick": quick, "repeat": repeat,
              "blas_threads": threads, "environment": env, "results": []}
    load0 = _loadavg()
    report["loadavg_start"] = load0
    out(f"vgcore bench: {source}")
    out(f"kernels: {kernels.cpu_path()} (this CPU runs: {', '.join(kernels.cpu_paths())})")
    if load0 is not None and load0 > 1.2:
        out(f"WARNING: 1-minute load average {load0:.2f} on {os.cpu_count()} CPUs: "
            f"other processes compete for the cores, times are pessimistic")
    stand_in = _STAND_INS.get((kernels.cpu_path(), env.get("OPENBLAS_CORETYPE", "").lower()))
    if stand_in:
        out(f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} with the {kernels.cpu_path()} "
            f"kernels: this run stands in for {stand_in}")
    elif env:
        out(f"WARNING: set in the environment: {env} (may select slower BLAS kernels)")
    with threadpool_limits(threads):
        report["threadpools"] = [{k: d.get(k) for k in ("prefix", "version",
                                  "num_threads", "architecture")}
                                 for d in threadpool_info()]
        if any(name in chosen for name in _KERNEL_CASES):
            _kernel_tables(data, chosen, quick, repeat, threads, cap, n_epoch, report, out)
            if only is None:
                _other_cases(data, n_epoch, quick, repeat, report, out)
            out("(* per-example time measured on a part of the work and scaled linearly)")
            out("(k/floor: kernel time over the case's FLOPs at the GEMM rate above, the "
                "best of 7 at the\n start; k/floor~: median over the kernel's runs of its "
                "time over the FLOPs at the rate of\n the 2048^3 product run right after "
                "it)")
            out("")
        if _PER_CALL_NAME in chosen:
            report["per_call"] = _per_call_cases(data, quick, repeat, out)
            out("")
        if _STARTUP_NAME in chosen:
            report["startup"] = _startup_cases(mnist, quick, repeat, out)
            out("")
    report["loadavg_end"] = _loadavg()
    out(f"load average at start {load0}, at end {report['loadavg_end']}")
    return report


def _kernel_tables(data, chosen, quick, repeat, threads, cap, n_epoch, report, out):
    """The two tables of the kernels against the reference and network2."""
    import numpy as np

    rates = {"float64": gemm_rate(np.float64), "float32": gemm_rate(np.float32)}
    report["gemm_gflops"] = {k: v / 1e9 for k, v in rates.items()}
    out(f"{threads} BLAS thread(s); GEMM rate (2048^3 numpy matmul, best CPU time): "
        f"float64 {rates['float64'] / 1e9:.1f} GFLOP/s, "
        f"float32 {rates['float32'] / 1e9:.1f} GFLOP/s; median of {repeat} runs, "
        f"kernel and reference runs interleaved")
    out("")
    R = report["results"]
    fb_epochs = 10 if quick else 50
    specs = [(name, sizes, mbs, np.dtype(dt).type, n_epoch if n is None else n,
              fb_epochs if n is not None else 1)
             for name, sizes, mbs, dt, n in _SPECS if name in chosen]
    header = (f"{'case':<22}{'dtype':<8}{'work':<30}{'kernel s':>10}{'ref s':>10}"
              f"{'per-ex s':>11}{'ref/k':>8}{'pe/k':>8}{'floor s':>9}{'k/floor':>9}"
              f"{'k/floor~':>9}")
    out(header)
    out("-" * len(header))
    for name, sizes, mbs, dt, n, ep in specs:
        r = _sgd_case(name, sizes, mbs, dt, data, n, ep, repeat,
                      cap if dt == np.float64 else 0, rates)
        R.append(r)
        out(_row(r))
    if _EVAL_NAME in chosen:
        r = _eval_case(data, repeat, cap, rates)
        R.append(r)
        out(_row(r))
    speeds = [r["machine_speed"] for r in R]
    report["machine_speed_min"] = min(speeds)
    out("machine speed during each case (2048^3 products interleaved with its runs, "
        "over the best at the\n start; 1.00 = as fast as at its best): "
        + ", ".join(f"{s:.2f}" for s in speeds))
    if min(speeds) < SLOW_MACHINE:
        out(f"WARNING: some cases ran while the machine was below {SLOW_MACHINE:.0%} of "
            f"its best speed (other\n tenants or processes): their k/floor is "
            f"pessimistic; k/floor~ compares with the machine as it was")
    out("")
    out("The same runs in CPU time of the benchmarking thread (what each run "
        "cost; the wall\ntimes above also hold any wait for a core taken by "
        "other processes):")
    out(header.replace("kernel s", "kernel cpu").replace("  ref s", "ref cpu"))
    out("-" * len(header))
    for r in R:
        out(_row(r, "cpu_"))
    out("")


# ---------------------------------------------------------------------------
# Per call and start-up: vgcore.network2 against network2 (the baseline above)
# ---------------------------------------------------------------------------

#: The network of the per-call cases: the book's learning-speed script's.
PER_CALL_SIZES = [784, 30, 30, 10]


def _per_call_cases(data, quick, repeat, out):
    """Time the calls a script makes one example (or a few) at a time.

    Each case runs ``number`` calls of vgcore's and then ``number`` of the
    network2 baseline's, ``repeat`` times (at least 5) interleaved; per call
    the median time, and the median over the runs of their ratio.  The
    inputs are network2's: ``x`` a float32 ``(784, 1)`` image as
    ``load_data_wrapper`` gives it, ``y`` a float64 one-hot column, labels
    numpy ints.
    """
    import numpy as np
    from .. import network2 as vg

    X, labels = data["X"][np.float32], data["labels"]
    np.random.seed(0)
    net = vg.Network(PER_CALL_SIZES)
    base = PerExampleNetwork(net.weights, net.biases)
    x = X[0].reshape(784, 1)
    y = vg.vectorized_result(int(labels[0]))
    batch = [(X[i].reshape(784, 1), vg.vectorized_result(int(labels[i]))) for i in range(10)]
    few = [(X[i].reshape(784, 1), labels[i]) for i in range(5)]
    a = net.feedforward(x)
    z = np.linspace(-3, 3, 10).reshape(10, 1)
    ce, q = vg.CrossEntropyCost, vg.QuadraticCost
    bce, bq = Network2CrossEntropyCost, Network2QuadraticCost
    cases = [
        ("feedforward(x)", lambda: net.feedforward(x), lambda: base.feedforward(x), 2000),
        ("backprop(x, y)", lambda: net.backprop(x, y), lambda: base.backprop(x, y), 500),
        ("update_mini_batch, 10 pairs",
         lambda: net.update_mini_batch(batch, 0.1, 5.0, 50_000),
         lambda: base.update_mini_batch(batch, 0.1, 5.0, 50_000), 50),
        ("accuracy, 5 pairs", lambda: net.accuracy(few), lambda: base.accuracy(few), 500),
        ("total_cost, 5 pairs", lambda: net.total_cost(few, 5.0, convert=True),
         lambda: base.total_cost(few, 5.0, convert=True), 200),
        ("CrossEntropyCost.fn", lambda: ce.fn(a, y), lambda: bce.fn(a, y), 5000),
        ("CrossEntropyCost.delta", lambda: ce.delta(z, a, y), lambda: bce.delta(z, a, y),
         20000),
        ("QuadraticCost.fn", lambda: q.fn(a, y), lambda: bq.fn(a, y), 10000),
        ("QuadraticCost.delta", lambda: q.delta(z, a, y), lambda: bq.delta(z, a, y), 5000),
    ]
    runs = max(repeat, 5)
    scale = 0.2 if quick else 1.0
    out(f"Per call: vgcore.network2 against network2 ({PER_CALL_SIZES}, float64; x float32 "
        f"as load_data_wrapper gives it;\n median of {runs} interleaved runs; CPU time of "
        f"this thread)")
    header = f"{'call':<30}{'network2 us':>13}{'vgcore us':>11}{'network2/vgcore':>17}"
    out(header)
    out("-" * len(header))
    results = []
    for name, mine, theirs, number in cases:
        number = max(1, int(number * scale))
        mine()
        theirs()                                     # warm: first calls load things
        t_mine, t_theirs = [], []
        for _ in range(runs):
            for fn, times in ((mine, t_mine), (theirs, t_theirs)):
                c0 = time.thread_time()
                for _ in range(number):
                    fn()
                times.append((time.thread_time() - c0) / number)
        ratio = statistics.median(b / a for a, b in zip(t_mine, t_theirs))
        r = {"call": name, "calls_per_run": number, "runs": runs,
             "network2_us": 1e6 * statistics.median(t_theirs),
             "vgcore_us": 1e6 * statistics.median(t_mine), "network2_over_vgcore": ratio,
             "runs_network2_s": t_theirs, "runs_vgcore_s": t_mine}
        results.append(r)
        out(f"{name:<30}{r['network2_us']:>13.2f}{r['vgcore_us']:>11.2f}{ratio:>17.2f}")
    return results


_IMPORT_PROBE = ("import sys, time; t = time.perf_counter(); import {module}; "
                 "print(time.perf_counter() - t, 'scipy' in sys.modules)")


def _import_time(module, runs):
    """Median seconds of ``import module`` in fresh interpreters (the import
    alone, not the interpreter's start), and whether SciPy got loaded."""
    import subprocess

    times, scipy = [], False
    for _ in range(runs):
        r = subprocess.run([sys.executable, "-c", _IMPORT_PROBE.format(module=module)],
                           capture_output=True, text=True, check=True)
        t, loaded = r.stdout.split()
        times.append(float(t))
        scipy = scipy or loaded == "True"
    return statistics.median(times), scipy


_LOAD_PROBE = ("import sys, time; from vgcore import mnist_loader; from vgcore.bench import cases as bench; "
               "t, c = time.perf_counter(), time.process_time(); {call}(sys.argv[1]); "
               "print(time.perf_counter() - t, time.process_time() - c)")


def _load_times(path, runs):
    """``load_data_wrapper(path)`` in fresh interpreters, as a script's
    start-up pays it: network2's loader and vgcore's alternately, ``runs``
    each.  Returns ``{"network2": (walls, cpus), "vgcore": (walls, cpus)}``
    (CPU time of the process: what the load cost, page faults included,
    without the waits for a core that a shared machine adds)."""
    import subprocess

    calls = {"network2": "bench._nielsen_load_data_wrapper",
             "vgcore": "mnist_loader.load_data_wrapper"}
    times = {k: ([], []) for k in calls}
    for _ in range(runs):
        for k, call in calls.items():
            r = subprocess.run([sys.executable, "-c", _LOAD_PROBE.format(call=call), path],
                               capture_output=True, text=True, check=True)
            wall, cpu = map(float, r.stdout.split())
            times[k][0].append(wall)
            times[k][1].append(cpu)
    return times


def _nielsen_load_data_wrapper(path):
    """network2's mnist_loader (the Python 3 ports'): the baseline."""
    import pickle

    import numpy as np

    with gzip.open(path, "rb") as f:
        tr_d, va_d, te_d = pickle.load(f, encoding="latin1")
    training_inputs = [np.reshape(x, (784, 1)) for x in tr_d[0]]
    training_results = [_vectorized_result(y) for y in tr_d[1]]
    training_data = list(zip(training_inputs, training_results))
    validation_inputs = [np.reshape(x, (784, 1)) for x in va_d[0]]
    validation_data = list(zip(validation_inputs, va_d[1]))
    test_inputs = [np.reshape(x, (784, 1)) for x in te_d[0]]
    test_data = list(zip(test_inputs, te_d[1]))
    return training_data, validation_data, test_data


def _startup_cases(mnist, quick, repeat, out):
    """What a short script pays before its first epoch, against network2:
    the import, ``load_data_wrapper()`` on Nielsen's ``mnist.pkl.gz``
    (rebuilt from the IDX files into a temporary folder), and one epoch
    through ``network2.SGD`` from the list of pairs against the arrays."""
    import contextlib
    import io
    import tempfile

    import numpy as np
    from ..core import datasets
    from .. import mnist_loader as ml
    from .. import network2 as vg
    from ..data.py2pickle import write_nielsen_pickle

    runs = max(repeat, 3 if quick else 7)
    r = {}
    r["import_vgcore_network2_s"], r["import_loads_scipy"] = _import_time(
        "vgcore.network2", runs)
    r["import_numpy_s"] = _import_time("numpy", runs)[0]
    out(f"Start-up (medians of {runs} runs):")
    out(f"  import vgcore.network2: {r['import_vgcore_network2_s']:.3f} s in a fresh "
        f"interpreter (numpy alone, network2's own import: {r['import_numpy_s']:.3f} s); "
        f"SciPy loaded: {'yes' if r['import_loads_scipy'] else 'no'}")

    Xtr, ytr, Xte, yte = mnist
    splits = ((Xtr, ytr), (Xte, yte), (Xte, yte))     # validation stands in for itself
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mnist.pkl.gz")
        write_nielsen_pickle(path, splits, level=1 if quick else 6)
        load_runs = 1 if quick else 5
        times = _load_times(path, load_runs)
    for k in ("network2", "vgcore"):
        r[f"load_{k}_s"] = statistics.median(times[k][0])
        r[f"load_{k}_cpu_s"] = statistics.median(times[k][1])
        r[f"runs_load_{k}_s"], r[f"runs_load_{k}_cpu_s"] = times[k]
    r["load_vgcore_over_network2"] = r["load_vgcore_s"] / r["load_network2_s"]
    r["load_vgcore_over_network2_cpu"] = r["load_vgcore_cpu_s"] / r["load_network2_cpu_s"]
    out(f"  load_data_wrapper() of mnist.pkl.gz, medians of {load_runs} fresh processes each "
        f"(alternating): network2 {r['load_network2_s']:.2f} s, vgcore "
        f"{r['load_vgcore_s']:.2f} s, vgcore/network2 {r['load_vgcore_over_network2']:.2f} "
        f"(CPU time: {r['load_network2_cpu_s']:.2f} s, {r['load_vgcore_cpu_s']:.2f} s, "
        f"{r['load_vgcore_over_network2_cpu']:.2f})")

    n = 10_000 if quick else 50_000
    X, labels = Xtr[:n], ytr[:n].astype(np.int64)
    pairs = list(zip(X.reshape(n, 784, 1), (vg.vectorized_result(int(k)) for k in labels)))
    np.random.seed(0)
    net = vg.Network([784, 30, 10])
    datasets.clear_cache()

    def epoch(data):
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            net.SGD(data, 1, 10, 0.1, lmbda=5.0)
            return time.perf_counter() - t0

    r["list_first_epoch_s"] = epoch(pairs)          # converts the list once
    t_list, t_arrays = [], []
    for _ in range(runs):
        t_list.append(epoch(pairs))
        t_arrays.append(epoch((X, labels)))
    datasets.clear_cache()
    r["epoch_list_s"] = statistics.median(t_list)
    r["epoch_arrays_s"] = statistics.median(t_arrays)
    r["list_over_arrays"] = statistics.median(a / b for a, b in zip(t_list, t_arrays))
    r["runs_epoch_list_s"], r["runs_epoch_arrays_s"] = t_list, t_arrays
    out(f"  one epoch of [784,30,10] mb10 on {n:,} images, network2.SGD(data, 1, ...) "
        f"once per epoch: list of pairs {r['epoch_list_s']:.3f} s, (X, labels) "
        f"{r['epoch_arrays_s']:.3f} s: list/arrays {r['list_over_arrays']:.2f} "
        f"(first call on the list, converting it: {r['list_first_epoch_s']:.3f} s)")
    return r


#: (path, OPENBLAS_CORETYPE) pairs that make this machine stand in for another
#: kind: the kernels and BLAS both limited to what that kind of CPU has.
_STAND_INS = {("avx2", "haswell"): "an AVX2 machine (BLAS and the kernels without AVX-512)",
              ("baseline", "nehalem"): "an x86-64 machine without AVX (SSE kernels, "
                                       "SSE BLAS)"}


def _other_cases(data, n_epoch, quick, repeat, report, out):
    """The lines under the tables: float32 against float64, two threads,
    resident memory (left out by ``run(only=...)``)."""
    R = report["results"]
    (f64, f64c), (f32, f32c) = _dtype_case(data, n_epoch, repeat)
    report["float32_speedup"] = f64 / f32
    report["float32_speedup_cpu"] = f64c / f32c
    out(f"float32 vs float64 kernel ([784,30,10] mb10, the two interleaved): "
        f"{f64 / f32:.2f}x faster (CPU time: {f64c / f32c:.2f}x)")
    t = _threads_case(data, n_epoch // 2 if not quick else 5_000, repeat)
    R.append(t)
    out(f"two threads, two networks ([784,30,10] mb10, {t['work']}): "
        f"{t['two_networks_two_threads_s']:.3f} s vs one network alone "
        f"{t['one_network_s']:.3f} s: ratio {t['two_over_one']:.2f}; CPU time "
        f"per thread {t['per_thread_cpu_s_when_two']:.3f} s vs "
        f"{t['one_network_cpu_s']:.3f} s alone: ratio {t['per_thread_cpu_over_one']:.2f}")
    m = _memory_case(data, 5_000, 30)
    R.append(m)
    out(f"resident memory, {m['work']}: before {m['rss_before_kib']} KiB, "
        f"after {m['rss_after_kib']} KiB, growth {m['rss_growth_kib']} KiB")


def _chosen_cases(names, only):
    """The case names ``run(only=...)`` times: all (None), the one named
    ``only``, or those containing it; ValueError if there are none."""
    if only is None:
        return list(names)
    if only in names:
        return [only]
    chosen = [n for n in names if only in n]
    if not chosen:
        raise ValueError(f"--only {only!r} matches no case; the cases are: "
                         + ", ".join(names))
    return chosen


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _row(r, clock=""):
    sfx = clock.rstrip("_")
    sfx = f"_{sfx}" if sfx else ""
    pes, pek = r[f"per_example_{clock}s"], r[f"per_example_over_kernel{sfx}"]
    pe = "-" if pes is None else f"{pes:.3f}{'*' if r['per_example_scaled'] else ''}"
    pek = "-" if pek is None else f"{pek:.1f}"
    return (f"{r['case']:<22}{r['dtype']:<8}{r['work']:<30}{r[f'kernel_{clock}s']:>10.4f}"
            f"{r[f'reference_{clock}s']:>10.4f}{pe:>11}{r[f'reference_over_kernel{sfx}']:>8.2f}"
            f"{pek:>8}{r['floor_s']:>9.4f}{r[f'kernel_over_floor{sfx}']:>9.2f}"
            f"{r[f'kernel_over_floor_same_time{sfx}']:>9.2f}")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _configure(p):
    p.add_argument("--quick", action="store_true",
                   help="smaller cases (10,000-example epochs) and 2 repeats")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per timing; the median is reported (default 5, quick 2)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default 1: the single-core comparison)")
    p.add_argument("--data", default=None,
                   help="folder of the MNIST IDX .gz files (default $VGCORE_MNIST)")
    p.add_argument("--only", default=None, metavar="TEXT",
                   help="run only the case named TEXT, or else those whose name "
                        "contains it (e.g. 'mb100', 'per call', 'start-up')")
    p.add_argument("--cpu", default=None, metavar="PATH",
                   help="time the kernels of this path: avx512, avx2, baseline or blas "
                        "(default: the one in use, see `vgcore info`)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write the results to FILE as JSON")
    return p


def _argument_problem(args):
    """What is wrong with the command line, or None: checked before anything
    runs (an hour of benchmarks must not end in a traceback)."""
    try:
        _chosen_cases(_CASE_NAMES, args.only)
        if args.cpu is not None:
            from .. import _kernels
            _kernels.choose_path(args.cpu, _kernels.available_paths(), "--cpu")
    except ValueError as e:
        return str(e)
    if args.repeat is not None and args.repeat < 1:
        return f"--repeat must be >= 1, got {args.repeat}"
    if args.threads < 1:
        return f"--threads must be >= 1, got {args.threads}"
    if args.data is not None and not os.path.isdir(args.data):
        return f"--data {args.data}: not a folder (give the folder of the MNIST IDX .gz files)"
    if args.json is not None:
        target = os.path.abspath(args.json)
        folder = os.path.dirname(target)
        if os.path.isdir(target):
            return f"--json {args.json}: is a folder; give a file name"
        if not os.path.isdir(folder):
            return f"--json {args.json}: no folder {folder} to write it in"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"--json {args.json}: cannot write in {folder} (permission denied)"
    return None


def _main_args(args):
    problem = _argument_problem(args)
    if problem:
        print(f"vgcore bench: error: {problem}", file=sys.stderr)
        return 2
    report = run(quick=args.quick, repeat=args.repeat, threads=args.threads,
                 data_dir=args.data, only=args.only, cpu=args.cpu)
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
        except OSError as e:
            print(f"vgcore bench: error: cannot write {args.json}: {e.strerror or e}",
                  file=sys.stderr)
            return 1
        print(f"results written to {args.json}")
    return 0


def add_parser(subparsers):
    """Register ``vgcore bench`` (called by ``vgcore.cli``)."""
    p = subparsers.add_parser("bench", help="time the kernels against the reference",
                              description=__doc__.split("\n\n")[0])
    _configure(p)
    p.set_defaults(func=_main_args)
    return p


def main(argv=None):
    """``python -m vgcore.bench`` / ``benchmarks/bench.py``."""
    import argparse
    parser = _configure(argparse.ArgumentParser(prog="vgcore bench",
                                                description=__doc__.split("\n\n")[0]))
    return _main_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
