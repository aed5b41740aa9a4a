# Sourced by the benchmarks that compare with an anchor revision: builds the binary of
# BENCH_ANCHOR (default `main`) from `git archive` in a temporary folder, or takes
# ANCHOR_BIN=<path>. The anchor is built in its own target folder
# (~/.cache/autopilot/anchor-target) and its binary kept as
# ~/.cache/autopilot/anchor-<commit>/autopilot, so a second benchmark of the same anchor
# builds nothing; its own folder so that building it does not replace this checkout's crates
# (cargo names a workspace crate's artifacts without its absolute path).
# anchor_binary <work dir>: sets `anchor` (the binary) and `anchor_name`.
anchor_binary() {
    anchor=${ANCHOR_BIN:-}
    if [ -n "$anchor" ]; then
        anchor_name=$anchor
        return
    fi
    local ref=${BENCH_ANCHOR:-main}
    local commit
    commit=$(git rev-parse "$ref^{commit}")
    local cache=$HOME/.cache/autopilot
    anchor=$cache/anchor-$commit/autopilot
    anchor_name="$ref (${commit:0:7})"
    if [ -x "$anchor" ]; then
        return
    fi
    echo "building the anchor $anchor_name in $cache/anchor-target (once per commit)..." >&2
    mkdir -p "$1/anchor-src" "$cache/anchor-$commit"
    # -m: files dated now. git archive dates them at the commit, older than the artifacts of
    # another commit already in the target folder, which cargo then took as up to date (the
    # build failed against the other commit's crates).
    git archive "$commit" | tar -x -m -C "$1/anchor-src"
    (cd "$1/anchor-src" && CARGO_TARGET_DIR="$cache/anchor-target" cargo build --release -q --locked --bin autopilot)
    # Copied under a temporary name first: an interrupted copy is never taken for the anchor.
    cp "$cache/anchor-target/release/autopilot" "$anchor.tmp"
    mv "$anchor.tmp" "$anchor"
}
