#!/usr/bin/env bash
# Run vgcore's tests against the compiled kernels built with AddressSanitizer
# and UndefinedBehaviorSanitizer (issue #6).
#
#   tools/sanitize.sh                 # the committed tree (git HEAD)
#   tools/sanitize.sh --worktree      # the working tree, uncommitted changes included
#   tools/sanitize.sh -- -k kernels   # extra arguments go to pytest
#
# What it does:
# 1. copies the tree (git archive HEAD, or the working tree) into a
#    temporary folder, so the in-place build of the developers is untouched;
# 2. builds vgcore._kernels there with
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
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source=head
if [[ "${1:-}" == "--worktree" ]]; then source=worktree; shift; fi
if [[ "${1:-}" == "--" ]]; then shift; fi

libasan=$(gcc -print-file-name=libasan.so)
if [[ ! -e "$libasan" ]]; then
    echo "sanitize.sh: libasan.so not found (install gcc's libasan, e.g. apt-get install libasan8)" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vgcore-asan.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ $source == head ]]; then
    git -C "$root" archive HEAD | tar -x -C "$work"
    echo "== source: git HEAD $(git -C "$root" rev-parse --short HEAD)"
else
    tar -C "$root" --exclude=.git --exclude=build --exclude='*.so' --exclude=.venv-ci \
        --exclude=.pytest_cache -cf - . | tar -x -C "$work"
    echo "== source: working tree of $root (uncommitted changes included)"
fi

cd "$work"
rm -f src_c/_kernels.c vgcore/_kernels*.so
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
echo "== building vgcore._kernels with: $flags"
# pyproject.toml holds only metadata for this build; an installed setuptools
# older than the one it asks for would refuse to parse it, so it is moved
# aside while the extension is compiled
mv pyproject.toml pyproject.toml.off
CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
    python setup.py build_ext --inplace > build.log 2>&1 || { cat build.log; exit 1; }
mv pyproject.toml.off pyproject.toml
ldd vgcore/_kernels*.so | grep -E "asan|ubsan" || { echo "not instrumented?" >&2; exit 1; }

export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONMALLOC=malloc
export PYTHONPATH="$work"
export VGCORE_NO_DOWNLOAD=1
export VGCORE_MNIST="${VGCORE_MNIST:-$(cd "$root/.." && pwd)/shared/mnist}"
export MPLBACKEND=Agg

tests=()
for t in tests/test_kernels.py tests/test_threads_memory.py tests/test_network2.py \
         tests/test_robustness.py tests/test_fuzz.py tests/test_diagnostics.py \
         tests/test_chain.py; do
    [[ -e $t ]] && tests+=("$t")
done
echo "== running under ASan+UBSan: ${tests[*]}"
set +e
python -m pytest -q -p no:cacheprovider "${tests[@]}" \
    --deselect tests/test_threads_memory.py::test_repeated_calls_do_not_leak \
    --deselect tests/test_robustness.py::test_ten_thousand_calls_leave_resident_memory_flat \
    "$@"
status=$?
set -e
if [[ $status -eq 0 ]]; then
    echo "== sanitize.sh: PASSED (no AddressSanitizer or UBSan report)"
else
    echo "== sanitize.sh: FAILED (pytest exit status $status; an ASan/UBSan report aborts the process)"
fi
exit $status
