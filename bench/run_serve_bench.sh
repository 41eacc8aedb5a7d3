#!/usr/bin/env bash
# steer serve under load, on loopback: the continuous-batching server (--max-batch 32) and the
# same server one request at a time (--max-batch 1), the same model, vectors and workload, back
# to back; then (SOAK_SECONDS > 0) a soak at 16 clients against the batching server with its
# RSS sampled. Prints serve_load's JSON lines, prefixed with the server's batch size.
#   bench/run_serve_bench.sh [MODEL]      (default smollm2-135m; SECONDS_PER_LEVEL=30 SOAK_SECONDS=600;
#                                          PEER_PYTHON=venv/bin/python adds llama-cpp-python's server;
#                                          PEER_ONLY=1 runs only that comparison)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-smollm2-135m}"
per_level="${SECONDS_PER_LEVEL:-30}"
soak="${SOAK_SECONDS:-0}"
steer=build/steer
load=build/bench/serve_load
dir=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# A steering vector for the model: CAA (A/B letter) vectors from the project's own set.
"$steer" --quiet extract "$model" --method caa --layers 4-20 -o "$dir/caa.gguf" >/dev/null

serve() {  # serve BATCH → sets pid and port
  "$steer" --quiet serve "$model" --port 0 --vectors "$dir" --max-batch "$1" --max-queue 256 2>"$dir/serve.log" &
  pid=$!
  port=""
  for _ in $(seq 1 600); do
    port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\)/ .*|\1|p' "$dir/serve.log" | head -n 1)
    [[ -n "$port" ]] && return 0
    sleep 0.1
  done
  echo "server did not start:" >&2
  cat "$dir/serve.log" >&2
  exit 1
}
stop() { kill -TERM "$pid"; wait "$pid"; pid=""; }

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, model $model, $(date -u +%F)"
for batch in 32 1; do
  [[ -n "${PEER_ONLY:-}" ]] && break
  serve "$batch"
  "$load" --port "$port" --vector caa --concurrency 1,4,16,32 --seconds "$per_level" | sed "s/^/batch $batch: /"
  stop
done
if [[ "$soak" != 0 && -z "${PEER_ONLY:-}" ]]; then
  serve 32
  "$load" --port "$port" --vector caa --concurrency 16 --seconds 5 --soak-seconds "$soak" --soak-concurrency 16 \
      --pid "$pid" | tail -n 1 | sed "s/^/batch 32 soak: /"
  stop
fi

# Peer (PEER_PYTHON=path to a python with llama-cpp-python[server]): llama.cpp's OpenAI server on
# the same GGUF against steer's batching server, unsteered requests only (the peer has no
# per-request steering), same client and workload.
if [[ -n "${PEER_PYTHON:-}" ]]; then
  gguf="${STEER_CACHE:-$HOME/.cache/steer}/models/$model.gguf"
  serve 32
  "$load" --port "$port" --concurrency 1,4,16 --seconds "$per_level" | sed "s/^/steer unsteered: /"
  stop
  peer_port=$((20000 + RANDOM % 20000))
  "$PEER_PYTHON" -m llama_cpp.server --model "$gguf" --n_threads "$(nproc)" --n_ctx 2048 --host 127.0.0.1 \
      --port "$peer_port" >"$dir/peer.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$peer_port/v1/models" >/dev/null 2>&1 && break
    sleep 0.2
  done
  "$load" --port "$peer_port" --concurrency 1,4,16 --seconds "$per_level" | sed "s/^/llama-cpp-python: /"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
fi
