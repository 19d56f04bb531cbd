# Sourced by the scripts that compare two builds. Needs $repo (the repository root).

# worktree_for REV SCRIPT: prints the directory of a detached worktree of REV under .bench/ab/ (created on first use,
# then reused), after checking that REV has SCRIPT (a path inside the repository), which the caller will run there.
worktree_for() {
    local commit dir
    commit="$(git -C "$repo" rev-parse --verify -q "$1^{commit}")" || { echo "unknown revision $1" >&2; exit 2; }
    dir="$repo/.bench/ab/${commit:0:12}"
    [[ -d $dir ]] || git -C "$repo" worktree add --detach -q "$dir" "$commit"
    [[ -x $dir/$2 ]] || { echo "$1 has no $2" >&2; exit 2; }
    echo "$dir"
}
