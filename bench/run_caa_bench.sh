#!/usr/bin/env bash
# A CAA layer × multiplier sweep, steer against the paper's way (bench/peer_caa_sweep.py:
# transformers forward hooks, one forward per question and setting), same model, vectors,
# questions, layers and multipliers, back to back on this machine. Prints both timings, the
# ratio, and the largest difference between the two sides' mean p(matching) per setting.
#   bench/run_caa_bench.sh [MODEL] [N_QUESTIONS] [LAYERS]
#     (defaults smollm2-135m, 10, all; PEER_PYTHON defaults to the reference venv)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-smollm2-135m}"
n="${2:-10}"
layers="${3:-all}"
py="${PEER_PYTHON:-$HOME/.cache/steer/venv-ref/bin/python}"
data=../shared/data/caa/datasets
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, model $model, $n questions, layers $layers, $(date -u +%F)"
python3 -c "import json,sys; json.dump(json.load(open('$data/test/sycophancy/test_dataset_ab.json'))[:$n], open('$dir/test.json','w'))"
# The vectors both sides score: steer's CAA extraction from 64 generate pairs.
build/steer --quiet caa "$model" --train "$data/generate/sycophancy/generate_dataset.json" --test "$dir/test.json" \
    --max-train 64 --few-shot 0 --no-guard --open-ended-count 0 --layers 0 --multipliers 0 -o "$dir/extract" >/dev/null
steer_layers=$([[ "$layers" == all ]] && echo "" || echo "--layers $layers")
/usr/bin/time -f "%e s wall, %M KB max RSS" build/steer --quiet caa "$model" --vectors "$dir/extract/vectors.safetensors" \
    --train "$dir/test.json" --test "$dir/test.json" --max-test "$n" --few-shot 0 --no-guard --open-ended-count 0 \
    $steer_layers --layer-multipliers=-1,0,1 --multipliers 0 -o "$dir/steer" >/dev/null 2>"$dir/steer.time"
"$py" bench/peer_caa_sweep.py --model "$model" --vectors "$dir/extract/vectors.safetensors" --test "$dir/test.json" \
    --limit "$n" --layers "$layers" --multipliers -1,0,1 --threads "$(nproc)" --out "$dir/peer.json" >/dev/null 2>&1
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
steer = json.load(open(f"{d}/steer/summary.json"))
peer = json.load(open(f"{d}/peer.json"))
mine = {(r["layer"], r["multiplier"]): r["p_matching"] for r in steer["layer_sweep"]}
zero = next(r["p_matching"] for r in steer["layer_sweep"] if r["multiplier"] == 0)
diff = 0.0
for r in peer["results"]:
    p = zero if r["layer"] is None else mine[(r["layer"], r["multiplier"])]
    diff = max(diff, abs(p - r["p_matching_mean"]))
s = steer["metadata"]["layer_sweep"]["seconds"]
print(json.dumps({"steer_seconds": round(s, 2), "steer_evaluations": steer["metadata"]["layer_sweep"]["settings"] * steer["metadata"]["layer_sweep"]["questions"],
                  "peer_seconds": round(peer["seconds"], 2), "peer_forwards": peer["forwards"],
                  "speedup": round(peer["seconds"] / s, 1), "max_abs_diff_p_matching": diff}))
PY
sed 's/^/steer process: /' "$dir/steer.time"
