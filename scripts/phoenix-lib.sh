# Sourced by the scripts that need a running Arize Phoenix (bench-otlp.sh, screenshot-phoenix.sh).
# phoenix_start DIR: starts `phoenix serve` on free loopback ports with its working folder in DIR,
# in its own session, and waits until it answers; sets PHOENIX_URL and PHOENIX_PID.
# phoenix_stop: ends it (its whole process group).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
phoenix_start() {
    local dir=$1 phoenix port started
    phoenix=$(bash "$(dirname "${BASH_SOURCE[0]}")/setup-phoenix.sh")
    port=$(free_port)
    mkdir -p "$dir"
    started=$(date +%s)
    (cd "$dir" && PHOENIX_WORKING_DIR="$dir" PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=$port \
        PHOENIX_GRPC_PORT=$(free_port) PHOENIX_TELEMETRY_ENABLED=false \
        exec setsid "$phoenix" serve >"$dir/phoenix.log" 2>&1) &
    PHOENIX_PID=$!
    PHOENIX_URL="http://127.0.0.1:$port"
    until curl -sf "$PHOENIX_URL/healthz" >/dev/null; do
        kill -0 "$PHOENIX_PID" 2>/dev/null || { echo "phoenix died: $(tail -5 "$dir/phoenix.log")" >&2; return 1; }
        sleep 1
    done
    echo "phoenix ready at $PHOENIX_URL in $(( $(date +%s) - started )) s" >&2
}
phoenix_stop() {
    [ -n "${PHOENIX_PID:-}" ] && kill -- "-$PHOENIX_PID" 2>/dev/null
    PHOENIX_PID=""
}
