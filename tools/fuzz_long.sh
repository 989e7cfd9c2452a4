#!/usr/bin/env bash
# The long fuzzing run of issue #6: tests/test_fuzz.py with the hypothesis
# profile "long" (800 examples per test, over 10,000 cases in all), on a
# private copy of the tree with its own build of the kernels, so that
# rebuilding the in-place extension in the shared tree meanwhile cannot
# pull the library out from under the run.
#
#   tools/fuzz_long.sh               # the committed tree (git HEAD)
#   tools/fuzz_long.sh --worktree    # the working tree
#   tools/fuzz_long.sh -- -k load    # extra arguments go to pytest
#   tools/fuzz_long.sh --all-paths   # once per path of the kernels this CPU
#                                    # runs (VGCORE_CPU=avx512, avx2, ...)
#
# Prints hypothesis' statistics (examples tried per test) and pytest's
# verdict; the results of the recorded run are in docs/robustness.md.
set -euo pipefail
# The body is one compound command: bash parses all of it before running
# any, so editing this file while it runs cannot derail the run.
{

root=$(cd "$(dirname "$0")/.." && pwd)
source=head
all_paths=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --worktree) source=worktree; shift ;;
        --all-paths) all_paths=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done

# shellcheck source=tools/_private_copy.sh
. "$root/tools/_private_copy.sh"
private_copy "$root" "$source"
mv pyproject.toml pyproject.toml.off     # metadata only; see tools/sanitize.sh
python setup.py build_ext --inplace > build.log 2>&1 || { cat build.log; exit 1; }
mv pyproject.toml.off pyproject.toml

export PYTHONPATH="$work" VGCORE_NO_DOWNLOAD=1 VGCORE_FUZZ_PROFILE=long
if [[ $all_paths == 1 ]]; then
    paths=$(python -c "from vgcore import _kernels; print(' '.join(_kernels.available_paths()))")
else
    paths=${VGCORE_CPU:-default}
fi
status=0
for path in $paths; do
    echo "== kernels' path: $path"
    set +e
    if [[ $path == default ]]; then
        python -m pytest -q -p no:cacheprovider tests/test_fuzz.py --hypothesis-show-statistics \
            --hypothesis-seed="${VGCORE_FUZZ_SEED:-0}" "$@"
    else
        VGCORE_CPU=$path python -m pytest -q -p no:cacheprovider tests/test_fuzz.py \
            --hypothesis-show-statistics --hypothesis-seed="${VGCORE_FUZZ_SEED:-0}" "$@"
    fi
    st=$?
    set -e
    echo "== path $path: pytest exit status $st"
    [[ $st == 0 ]] || status=$st
done
exit $status
}
