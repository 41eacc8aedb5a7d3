#!/usr/bin/env bash
# Runs the engine benchmark for steer and for transformers (the peer) in one go, on the same CPU,
# one dtype per process, and prints a Markdown table with the ratios (steer / transformers).
#   bench/run_engine_bench.sh [PYTHON]   PYTHON: an interpreter with torch, transformers and gguf
#                                        (default: ${STEER_CACHE:-~/.cache/steer}/venv-ref/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${STEER_BUILD:-build}"
py="${1:-${STEER_CACHE:-$HOME/.cache/steer}/venv-ref/bin/python}"
out="$(mktemp -d)"
for dt in f32 bf16; do
  "$build"/bench/bench_engine --dtype "$dt" --threads 2 >"$out/steer_$dt.json"
done
"$py" bench/peer_transformers.py >"$out/peer.json"
"$py" - "$out" <<'PY'
import json, sys, os
d = sys.argv[1]
peer = json.load(open(os.path.join(d, "peer.json")))
# (label, steer key, transformers key)
rows = [("prefill tok/s (32×64, batch 32)", "prefill_tokens_per_s_batch32", "prefill_batch32_tok_s"),
        ("prefill tok/s (32×64, batch 8)", "prefill_tokens_per_s_batch8", "prefill_batch8_tok_s"),
        ("decode tok/s (batch 1)", "decode_tokens_per_s_batch1", "decode_batch1_tok_s"),
        ("decode tok/s (batch 16)", "decode_tokens_per_s_batch16", "decode_batch16_tok_s"),
        ("peak RSS MiB (lower is better)", "peak_rss_mib", "peak_rss_mib")]
print("| figure | dtype | steer | transformers | ratio |")
print("|---|---|---|---|---|")
for dt, pkey in (("f32", "float32"), ("bf16", "bfloat16")):
    s = json.load(open(os.path.join(d, f"steer_{dt}.json")))
    p = peer[pkey]
    for name, key, peer_key in rows:
        a, b = s[key], p[peer_key]
        print(f"| {name} | {dt} | {a:.1f} | {b:.1f} | {a / b:.2f}× |")
PY
