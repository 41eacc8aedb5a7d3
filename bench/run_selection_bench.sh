#!/usr/bin/env bash
# Refusal-direction selection (issue 4): bench_selection (steer) then bench/peer_selection.py
# (transformers + hooks, the paper's way) on the same token ids and candidate directions, back to
# back on the same CPU, and the ratio seconds_per_candidate(transformers) / seconds_per_candidate(steer)
# (higher is better for steer), plus the peer's agreement with steer's scores.
#
#   bench/run_selection_bench.sh [--quick] [--dtype f32|bf16] [--threads N] [--keep DIR]
#     default  10 candidates (positions -1,-2 × layers 1,5,10,15,20), 32 + 32 val prompts,
#              candidates from 128 + 128 train prompts
#     --quick  2 candidates (position -1 × layers 1,10), 8 + 8 val prompts, 16 + 16 train prompts:
#              checks the pipeline and the agreement in a couple of minutes
#     --keep   write the inputs and both JSON results into DIR (default: a temporary folder)
# Environment: STEER_BUILD (default build), PY (default ~/.cache/steer/venv-ref/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${STEER_BUILD:-build}"
py="${PY:-${STEER_CACHE:-$HOME/.cache/steer}/venv-ref/bin/python}"
dtype=f32 threads=2 out="" quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --dtype) dtype="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --keep) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
case "$dtype" in
  f32) pdtype=float32 ;;
  bf16) pdtype=bfloat16 ;;
  *) echo "--dtype: f32 or bf16" >&2; exit 1 ;;
esac
if [ "$quick" = 1 ]; then
  args=(--positions -1 --layers 1,10 --n-val 8 --n-train 16)
else
  args=(--positions -1,-2 --layers 1,5,10,15,20)
fi
[ -n "$out" ] || out="$(mktemp -d)"
mkdir -p "$out"
"$build"/bench/bench_selection --dtype "$dtype" --threads "$threads" "${args[@]}" \
  --write-inputs "$out/inputs" >"$out/steer.json"
"$py" bench/peer_selection.py --inputs "$out/inputs" --dtype "$pdtype" --threads "$threads" \
  --compare "$out/steer.json" >"$out/peer.json"
"$py" - "$out" <<'PY'
import json, os, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "steer.json")))
p = json.load(open(os.path.join(d, "peer.json")))
print(f"{s['candidates_scored']} candidates, {s['n_harmful_val']} + {s['n_harmless_val']} val prompts, "
      f"{s['dtype']}, {s['threads']} threads (results in {d})")
print("| figure | steer | transformers | ratio (transformers / steer) |")
print("|---|---|---|---|")
for name, key in (("seconds per candidate", "seconds_per_candidate"),
                  ("marginal seconds per candidate (baseline pass excluded)", "marginal_seconds_per_candidate"),
                  ("baseline pass seconds", "baseline_seconds")):
    print(f"| {name} | {s[key]:.3f} | {p[key]:.3f} | {p[key] / s[key]:.2f}× |")
print(f"| peak RSS MiB | {s['peak_rss_mib']:.0f} | {p['peak_rss_mib']:.0f} | |")
a = p["agreement"]
print("agreement, max |transformers - steer|: " +
      ", ".join(f"{k} {v:.2e}" for k, v in a["max_abs_diff"].items()) +
      f"; max relative KL difference {a['max_rel_diff_kl']:.2e}" +
      (f"; {a['missing']} candidates not scored on both sides, not compared" if a["missing"] else ""))
PY
