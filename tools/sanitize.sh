#!/usr/bin/env bash
# Run vgcore's tests against the compiled kernels built with AddressSanitizer
# and UndefinedBehaviorSanitizer (issue #6).
#
#   tools/sanitize.sh                 # the committed tree (git HEAD)
#   tools/sanitize.sh --worktree      # the working tree, uncommitted changes included
#   tools/sanitize.sh -- -k kernels   # extra arguments go to pytest
#   tools/sanitize.sh --tests "tests/test_costs.py tests/test_small_calls.py"
#                                     # only these test files
#   tools/sanitize.sh --valgrind      # instead: valgrind memcheck on a driver
#                                     # that calls every kernel (slow, small)
#   tools/sanitize.sh --all-paths     # the tests once per path of the kernels
#                                     # this CPU runs (VGCORE_CPU=avx512, avx2,
#                                     # baseline, blas); without it, the default
#                                     # path (or $VGCORE_CPU)
#
# What it does:
# 1. copies the tree (git archive HEAD, or the working tree) into a
#    temporary folder, so the in-place build of the developers is untouched;
# 2. builds both extensions, vgcore._kernels and vgcore._small, there with
#    -fsanitize=address,undefined -fno-sanitize-recover=undefined
#    -fno-omit-frame-pointer -g -O1;
# 3. runs the tests with libasan preloaded (CPython itself is not
#    instrumented; ASan replaces malloc/free process-wide, so every
#    workspace the kernels allocate, and numpy's arrays, get red zones),
#    PYTHONMALLOC=malloc so Python's objects go through ASan too, and
#    ASAN_OPTIONS=detect_leaks=0 (CPython keeps memory on purpose at exit);
# 4. prints the verdict.  Any ASan or UBSan report aborts the test process,
#    so a clean run means none was triggered by the tests that ran.
#
# The resident-memory tests are deselected: ASan's quarantine keeps freed
# memory on purpose, so RSS grows under it by design.
#
# test_kernels.py, test_paths.py, test_activations.py and
# test_monitor_kernels.py run every path in any case (they are parametrised
# over the paths); --all-paths repeats the other files per path.
#
# --valgrind complements ASan with what it cannot see, reads of
# uninitialised memory: an ordinary -O1 -g build, and a small driver (every
# kernel on every path this CPU runs, float64 and float32, 1-neuron layers,
# data sets crossing the 256-row blocks, mini-batches using each row-block
# shape, speeds, every activation, the monitor with its histograms) run
# under memcheck with PYTHONMALLOC=malloc.  CPython and the dynamic loader
# produce reports of their own under memcheck; the verdict counts only the
# reports whose stack passes through vgcore._kernels.
set -euo pipefail
# The body is one compound command: bash parses all of it before running
# any, so editing this file while it runs cannot derail the run.
{

root=$(cd "$(dirname "$0")/.." && pwd)
source=head
tool=asan
all_paths=0
only_tests=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --worktree) source=worktree; shift ;;
        --tests) only_tests="$2"; shift 2 ;;
        --valgrind) tool=valgrind; shift ;;
        --all-paths) all_paths=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done

libasan=$(gcc -print-file-name=libasan.so)
if [[ ! -e "$libasan" ]]; then
    echo "sanitize.sh: libasan.so not found (install gcc's libasan, e.g. apt-get install libasan8)" >&2
    exit 2
fi

# shellcheck source=tools/_private_copy.sh
. "$root/tools/_private_copy.sh"
private_copy "$root" "$source"
if [[ $tool == valgrind ]]; then
    command -v valgrind > /dev/null || { echo "sanitize.sh: valgrind not found" >&2; exit 2; }
    mv pyproject.toml pyproject.toml.off     # see below
    CFLAGS="-g -O1 -fno-omit-frame-pointer" python setup.py build_ext --inplace \
        > build.log 2>&1 || { cat build.log; exit 1; }
    mv pyproject.toml.off pyproject.toml
    cat > driver.py <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from vgcore import _kernels
from vgcore.core import kernels as K
rng = np.random.default_rng(0)
calls = 0
for path, sizes in [(p, s) for p in _kernels.available_paths()
                    for s in ([4, 3, 2], [7, 5, 5, 3], [1, 1, 1], [30, 40, 10], [13, 17, 9])]:
    _kernels.set_path(path)
    W = [rng.standard_normal((b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    B = [rng.standard_normal((b, 1)) for b in sizes[1:]]
    for N in (1, 7, 300):
        X = rng.random((N, sizes[0]))
        labels = rng.integers(0, sizes[-1], N)
        Y = np.eye(sizes[-1])[labels]
        for dt in (np.float64, np.float32):
            for mbs in (1, 3, 12, 20, 1000):
                w = [a.astype(dt) for a in W]
                b = [a.astype(dt) for a in B]
                x, y = X.astype(dt), Y.astype(dt)
                speeds = np.zeros((-(-N // mbs), len(w)))
                K.sgd_epoch(w, b, x, y, rng.permutation(N), mbs, 0.1, 0.5, N, speeds=speeds)
                K.sgd_epoch(w, b, x, labels, rng.permutation(N), mbs, 0.1, 0.5, N)
                K.backprop(w, b, x, y)
                K.feedforward(w, b, x)
                K.evaluate(w, b, x, y, 0.1)
                K.mean_nabla_b(w, b, x, y)
                calls += 6
                for act in K.ACTIVATIONS[1:]:
                    mon = np.zeros(K.monitor_shape(N, mbs, len(w), 2))
                    hist = np.zeros(mon.shape[:2] + (7,), dtype=np.int64)
                    K.sgd_epoch(w, b, x, labels, rng.permutation(N), mbs, 0.1, 0.5, N,
                                activation=act, monitor=mon, monitor_every=2,
                                act_hist=hist, act_range=(-1, 1),
                                delta_hist=hist.copy(), delta_range=(-0.1, 0.1))
                    K.backprop(w, b, x, y, activation=act)
                    K.evaluate(w, b, x, y, 0.1, activation=act)
                    calls += 3
print(f"driver: {calls} kernel calls on the paths {_kernels.available_paths()}")
PY
    py=$(python -c "import sys; print(sys.executable)")    # not a pyenv shim
    echo "== valgrind memcheck: $(valgrind --version), driver.py"
    PYTHONMALLOC=malloc valgrind --tool=memcheck --num-callers=40 --log-file=valgrind.log \
        "$py" driver.py "$work"
    python - valgrind.log <<'PY'
import re, sys
blocks, cur = [], None
for line in open(sys.argv[1]):
    m = re.match(r"==\d+== (.*)", line.rstrip("\n"))
    if not m:
        continue
    text = m.group(1)
    if text and not text.startswith(" "):
        cur = [text]
        blocks.append(cur)
    elif cur is not None:
        cur.append(text)
errors = [b for b in blocks if re.match(r"(Invalid|Conditional|Use of uninit|Syscall|"
                                        r"Mismatched|Source and destination)", b[0])]
ours = [b for b in errors if any("_kernels" in l for l in b)]
print(f"== memcheck: {len(errors)} reports in all (CPython, the loader...), "
      f"{len(ours)} through vgcore._kernels")
for b in ours[:5]:
    print("\n".join(b[:30]))
print("== sanitize.sh --valgrind: " + ("PASSED" if not ours else "FAILED"))
sys.exit(1 if ours else 0)
PY
    exit $?
fi
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
echo "== building vgcore._kernels and vgcore._small with: $flags"
# pyproject.toml holds only metadata for this build; an installed setuptools
# older than the one it asks for would refuse to parse it, so it is moved
# aside while the extension is compiled
mv pyproject.toml pyproject.toml.off
CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
    python setup.py build_ext --inplace > build.log 2>&1 || { cat build.log; exit 1; }
mv pyproject.toml.off pyproject.toml
for so in vgcore/_kernels*.so vgcore/_small*.so; do
    ldd "$so" | grep -E "asan|ubsan" || { echo "$so not instrumented?" >&2; exit 1; }
done

export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONMALLOC=malloc
export PYTHONPATH="$work"
export VGCORE_NO_DOWNLOAD=1
export VGCORE_MNIST="${VGCORE_MNIST:-$(cd "$root/.." && pwd)/shared/mnist}"
export MPLBACKEND=Agg

tests=()
# the last four exercise vgcore._small (the small calls and the costs) directly
for t in ${only_tests:-tests/test_kernels.py tests/test_threads_memory.py tests/test_network2.py \
         tests/test_robustness.py tests/test_fuzz.py tests/test_diagnostics.py \
         tests/test_chain.py tests/test_activations.py tests/test_monitor_kernels.py \
         tests/test_dropin_fidelity.py tests/test_costs.py tests/test_small_calls.py}; do
    [[ -e $t ]] && tests+=("$t")
done
[[ -z $only_tests && -e tests/test_paths.py ]] && tests+=(tests/test_paths.py)
if [[ $all_paths == 1 ]]; then
    paths=$(python -c "from vgcore import _kernels; print(' '.join(_kernels.available_paths()))")
else
    paths=${VGCORE_CPU:-default}
fi
status=0
first=1
for path in $paths; do
    run=("${tests[@]}")
    if [[ $first == 0 ]]; then      # these cover every path already
        run=()
        for t in "${tests[@]}"; do
            case $t in
                tests/test_kernels.py|tests/test_paths.py|tests/test_activations.py|tests/test_monitor_kernels.py) ;;
                *) run+=("$t") ;;
            esac
        done
    fi
    first=0
    echo "== running under ASan+UBSan, kernels' path $path: ${run[*]}"
    set +e
    if [[ $path == default ]]; then
        python -m pytest -q -p no:cacheprovider "${run[@]}" \
            --deselect tests/test_threads_memory.py::test_repeated_calls_do_not_leak \
            --deselect tests/test_robustness.py::test_ten_thousand_calls_leave_resident_memory_flat \
            "$@"
    else
        VGCORE_CPU=$path python -m pytest -q -p no:cacheprovider "${run[@]}" \
            --deselect tests/test_threads_memory.py::test_repeated_calls_do_not_leak \
            --deselect tests/test_robustness.py::test_ten_thousand_calls_leave_resident_memory_flat \
            "$@"
    fi
    st=$?
    set -e
    echo "== path $path: pytest exit status $st"
    [[ $st == 0 ]] || status=$st
done
if [[ $status -eq 0 ]]; then
    echo "== sanitize.sh: PASSED (no AddressSanitizer or UBSan report)"
else
    echo "== sanitize.sh: FAILED (pytest exit status $status; an ASan/UBSan report aborts the process)"
fi
exit $status
exit
}
