# Sourced by the benchmarks that compare with an anchor revision: builds the binary of
# BENCH_ANCHOR (default `main`) from `git archive` in a temporary folder, with this checkout's
# target folder (the dependencies are shared), or takes ANCHOR_BIN=<path>. Built before our
# own binary, and copied out, since both land in target/release.
# anchor_binary <work dir>: sets `anchor` (the binary) and `anchor_name`.
anchor_binary() {
    anchor=${ANCHOR_BIN:-}
    if [ -n "$anchor" ]; then
        anchor_name=$anchor
        return
    fi
    local ref=${BENCH_ANCHOR:-main}
    mkdir -p "$1/anchor-src"
    git archive "$ref" | tar -x -C "$1/anchor-src"
    (cd "$1/anchor-src" && CARGO_TARGET_DIR="$OLDPWD/target" cargo build --release -q --locked --bin autopilot)
    cp target/release/autopilot "$1/anchor-autopilot"
    anchor=$1/anchor-autopilot
    anchor_name="$ref ($(git rev-parse --short "$ref"))"
}
