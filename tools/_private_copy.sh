# Sourced by tools/sanitize.sh and tools/fuzz_long.sh: copy the project into
# a private temporary folder (removed on exit) so that a special build there
# never touches the shared tree's extension.
#   private_copy ROOT SOURCE   SOURCE is "head" (git HEAD) or "worktree"
# Sets $work and leaves the shell in it, without a generated .c or any .so.
private_copy() {
    local root=$1 source=$2
    work=$(mktemp -d "${TMPDIR:-/tmp}/vgcore-private.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    if [[ $source == head ]]; then
        git -C "$root" archive HEAD | tar -x -C "$work"
        echo "== source: git HEAD $(git -C "$root" rev-parse --short HEAD)"
    else
        tar -C "$root" --exclude=.git --exclude=build --exclude='*.so' --exclude=.venv-ci --exclude=.venv \
            --exclude=.pytest_cache -cf - . | tar -x -C "$work"
        echo "== source: working tree of $root (uncommitted changes included)"
    fi
    cd "$work" || exit 2
    rm -f src_c/_kernels.c vgcore/_kernels*.so
}
