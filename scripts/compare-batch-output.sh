#!/usr/bin/env bash
# Shows that a change left what a batch writes as it was: runs the same 50-session batch
# (instant scripted LLM, real compiles then compile-cache hits, simulation off) with the
# anchor's binary (scripts/anchor-lib.sh: BENCH_ANCHOR, default `main`, or ANCHOR_BIN) and with
# ours, in the same run folder and cache folder paths, then compares the traces (times, ids
# of nothing else: `ts` and every `*_ms` field set to 0) and every artifact file (names and
# bytes; the compiler's own build folder aside) and the manifest (its `created`/`updated`
# times set aside). Prints the differences
# and exits 1 when there are any. SESSIONS=<n> changes the size.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. scripts/anchor-lib.sh
anchor_binary "$work"
cargo build --release -q --bin autopilot
ours=$PWD/target/release/autopilot
sessions=${SESSIONS:-50}
printf '[simulation]\nenabled = false\n' > "$work/policies.toml"
printf 'name = "compare"\napp = "%s"\nmodels = ["replay:demo"]\nruns = %s\npolicies = "%s"\nanswers = "%s"\n[concurrency]\ntotal = 4\n' \
    "$PWD/examples/color_uno/app.toml" "$sessions" "$work/policies.toml" "$PWD/examples/color_uno/demo-answers.toml" > "$work/compare.toml"

# run <binary> <side>: the batch in $work/run with a fresh cache, then moved to $work/<side>.
run() {
    rm -rf "$work/run" "$work/cache"
    "$1" batch "$work/compare.toml" --out "$work/run" --cache-dir "$work/cache" -q >/dev/null
    mv "$work/run" "$work/$2"
}
run "$anchor" anchor
run "$ours" ours

# normalise <side>: one line per trace event (times zeroed) and one per artifact file.
normalise() {
    python3 - "$work/$1" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
def zero(value):
    if isinstance(value, dict):
        return {k: (0 if (k == "ts" or k.endswith("_ms")) else zero(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [zero(v) for v in value]
    return value
out = []
for dirpath, _, files in sorted(os.walk(root)):
    for name in sorted(files):
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)
        if rel.endswith(".jsonl") and rel.startswith("sessions/"):
            with open(path) as f:
                for line in f:
                    out.append(rel + " " + json.dumps(zero(json.loads(line)), sort_keys=True))
        elif rel == "manifest.json":
            with open(path) as f:
                manifest = json.load(f)
            for key in ("created", "updated"):
                manifest.pop(key, None)
            out.append(rel + " " + json.dumps(manifest, sort_keys=True))
        elif rel.startswith("build/") or rel.endswith(".lock"):
            # The compiler's build folder (object files differ from build to build) and the lock.
            continue
        else:
            with open(path, "rb") as f:
                out.append(rel + " sha256:" + hashlib.sha256(f.read()).hexdigest())
print("\n".join(out))
PY
}
normalise anchor > "$work/anchor.txt"
normalise ours > "$work/ours.txt"
files() { find "$work/$1" -type f | wc -l; }
echo "anchor: $anchor_name, $(files anchor) files, $(wc -l < "$work/anchor.txt") normalised lines"
echo "ours:   $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + uncommitted changes'), $(files ours) files, $(wc -l < "$work/ours.txt") normalised lines"
if diff -u "$work/anchor.txt" "$work/ours.txt" > "$work/diff.txt"; then
    echo "identical: traces (times zeroed), artifacts and manifest (times set aside) of $sessions sessions"
else
    echo "differences:"
    cut -c1-300 "$work/diff.txt" | head -60
    exit 1
fi
