#!/usr/bin/env bash
# `steer serve` as a user runs it: starts on a free port, answers /health and a completion over
# real HTTP, and on SIGTERM stops accepting, finishes and exits 0 within its grace period.
# Usage: serve_sigterm.sh STEER_BINARY MODEL_GGUF
set -euo pipefail
steer="$1" model="$2"
log=$(mktemp)
trap 'kill -9 "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
"$steer" --quiet serve "$model" --port 0 --grace 5 2>"$log" &
pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\)/ .*|\1|p' "$log" | head -n 1)
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "serve exited early:"; cat "$log"; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "no port line in:"; cat "$log"; exit 1; }
curl -sf "http://127.0.0.1:$port/health" | grep -q '"ok"' || { echo "health failed"; exit 1; }
out=$(curl -sf "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
      -d '{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}')
echo "$out" | grep -q '"text_completion"' || { echo "completion failed: $out"; exit 1; }
kill -TERM "$pid"
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then echo "still running 10 s after SIGTERM"; exit 1; fi
wait "$pid" && rc=0 || rc=$?
[[ $rc -eq 0 ]] || { echo "exit code $rc after SIGTERM:"; cat "$log"; exit 1; }
grep -q "stopped" "$log" || { echo "no 'stopped' line:"; cat "$log"; exit 1; }
echo "serve: health, completion and SIGTERM ok (port $port)"
