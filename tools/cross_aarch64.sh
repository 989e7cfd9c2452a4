#!/usr/bin/env bash
# The hand-written kernels build for a non-x86 CPU from the same source:
# compile src_c/simd_*.h and the C test tools/simd_check.c with Debian's
# aarch64 cross compiler (the vector extensions become NEON there; only the
# baseline path exists, the x86 targets are left out by simd_dispatch.h) and
# run the test under qemu-user.  The baseline path has no FMA, so it computes
# the same bits on x86-64 (SSE2) and aarch64 (NEON): the script compares the
# checksum of its outputs with the native build's.
#
#   tools/cross_aarch64.sh            # installs the tools with apt if missing
#
# Not part of CI (the apt install alone takes a minute or two).
set -euo pipefail
{
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v aarch64-linux-gnu-gcc > /dev/null || ! command -v qemu-aarch64 > /dev/null; then
    echo "== installing gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu \
        libc6-dev-arm64-cross qemu-user > /dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-O2 -ffp-contract=off -Wall -Wextra -I"$root/src_c")

echo "== native: $(gcc --version | head -1)"
gcc "${flags[@]}" "$root/tools/simd_check.c" -lm -o "$work/check_native"
"$work/check_native" | tee "$work/native.txt"

echo "== aarch64: $(aarch64-linux-gnu-gcc --version | head -1), run under $(qemu-aarch64 --version | head -1)"
aarch64-linux-gnu-gcc "${flags[@]}" -static "$root/tools/simd_check.c" -lm -o "$work/check_aarch64"
file "$work/check_aarch64" | sed 's/^[^:]*: /   /'
qemu-aarch64 "$work/check_aarch64" | tee "$work/aarch64.txt"

native=$(grep "baseline checksum" "$work/native.txt")
cross=$(grep "baseline checksum" "$work/aarch64.txt")
if [[ "$native" == "$cross" ]]; then
    echo "== cross_aarch64.sh: PASSED (aarch64 kernels correct; baseline bits equal to x86-64's)"
else
    echo "== cross_aarch64.sh: FAILED: $native (x86-64) vs $cross (aarch64)"
    exit 1
fi
exit
}
