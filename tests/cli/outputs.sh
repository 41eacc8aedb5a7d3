#!/usr/bin/env bash
# The CLI's outputs and acceptance, as a user meets them (issue 16, classes 3, 6, 7):
#   - -o is checked before the work (a missing folder, a folder for a file, a wrong extension);
#   - a model or vector file is never written over its own input;
#   - NaN options, out-of-range layers, identical prompt sets and overflowing steering fail
#     with an error instead of a silent result;
#   - text that is not valid UTF-8 (a model path with a Latin-1 byte) never breaks --json or
#     the files written;
#   - SIGINT ends the run by the signal and leaves no temporary file.
# Usage: outputs.sh STEER_BINARY MODEL_GGUF
set -uo pipefail
steer="$1" model=$(realpath "$2")
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
failures=0
check() {  # check NAME CONDITION-COMMAND...
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
# run EXPECTED_RC ARGS...: runs steer quietly, stderr in $d/err, stdout in $d/out; true when rc matches.
run() {
  local want="$1"; shift
  "$steer" --quiet "$@" >"$d/out" 2>"$d/err"
  local rc=$?
  [[ $rc -eq $want ]] || { echo "  rc $rc (wanted $want): steer $*"; sed 's/^/  | /' "$d/err" | head -5; return 1; }
}
err_has() { grep -q -- "$1" "$d/err" || { echo "  stderr lacks '$1':"; sed 's/^/  | /' "$d/err" | head -5; return 1; }; }
valid_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$1"; }

printf 'Once upon a time there was a dog\nThe dog ran fast\nA big dog barked\n' >"$d/pos.txt"
printf 'Lily liked her cat\nThe cat slept all day\nTom and his cat played\n' >"$d/neg.txt"

# -o before the work: the model named here does not exist, so an -o error proves -o came first.
check "extract -o in a missing folder fails first" \
  bash -c "'$steer' --quiet extract /no/such/model.gguf --raw -o '$d/missing/v.safetensors' 2>&1 | grep -q 'does not exist'"
check "extract -o a folder fails" run 1 extract /no/such/model.gguf --raw -o "$d"
check "  ... naming it" err_has "is a folder"
check "extract -o with an unknown extension fails" run 1 extract /no/such/model.gguf --raw -o "$d/v.txt"
check "capture -o x.gguf (the bytes are safetensors) fails" run 1 capture /no/such/model.gguf --raw --prompts "$d/pos.txt" -o "$d/a.gguf"
check "  ... saying why" err_has "written as safetensors"

# Silent acceptance.
check "extract with identical sets fails" run 1 extract "$model" --raw --positive "$d/pos.txt" --negative "$d/pos.txt" -o "$d/z.safetensors"
check "  ... before writing a zero vector" test ! -e "$d/z.safetensors"
check "  ... saying so" err_has "are the same"
check "extract writes a vector" run 0 extract "$model" --raw --positive "$d/pos.txt" --negative "$d/neg.txt" --layers 1-2 -o "$d/v.safetensors"
check "convert keeps one layer" run 0 convert "$d/v.safetensors" "$d/v1.safetensors" --layers 1
check "generate --temperature nan fails" run 105 generate "$model" --raw -p Once -n 2 --temperature nan
check "  ... naming the option" err_has "temperature"
check "generate --top-p nan fails" run 105 generate "$model" --raw -p Once -n 2 --top-p nan
# A file with one vector serves any @L, but not an L the model lacks.
check "generate --ablate FILE@999 fails" run 1 generate "$model" --raw -p Once -n 2 --ablate "$d/v1.safetensors@999"
check "  ... as out of range" err_has "layer 999 is out of range"
# Two additions of 3e38·v overflow float32: the residual stream, then the logits, become NaN.
check "generate with an overflowing --add fails" run 1 generate "$model" --raw -p Once -n 4 \
  --add "$d/v1.safetensors@1:3e38" --add "$d/v1.safetensors@1:3e38"
check "  ... saying the logits are not finite" err_has "not finite"

# Never over its own input.
check "convert onto its input is refused" run 1 convert "$d/v.safetensors" "$d/v.safetensors"
check "  ... saying so" err_has "would overwrite the input"
cp "$model" "$d/m.gguf"
check "abliterate -o its own model is refused" run 1 abliterate "$d/m.gguf" --direction "$d/v.safetensors@1" -o "$d/./m.gguf"
check "  ... and the model is intact" cmp -s "$model" "$d/m.gguf"
check "extract -o its own model is refused" run 1 extract "$d/m.gguf" --raw --positive "$d/pos.txt" --negative "$d/neg.txt" -o "$d/m.gguf"
check "  ... and the model is intact" cmp -s "$model" "$d/m.gguf"

# Text that is not valid UTF-8: a model path with a Latin-1 byte (0xE9).
latin=$(printf '%s/caf\xe9.gguf' "$d")
ln -s "$model" "$latin"
check "generate --json with a non-UTF-8 model path" run 0 generate "$latin" --raw -p Once -n 3 --json
cp "$d/out" "$d/gen.json"
check "  ... prints valid JSON" valid_json "$d/gen.json"
check "  ... with the token ids" grep -q '"ids"' "$d/gen.json"
latin_vec=$(printf '%s/caf\xe9.safetensors' "$d")
check "extract from a non-UTF-8 model path, to a non-UTF-8 file name" run 0 extract "$latin" --raw \
  --positive "$d/pos.txt" --negative "$d/neg.txt" --layers 1-2 -o "$latin_vec"
check "vectors info --json of those vectors" run 0 vectors info "$latin_vec" --json
cp "$d/out" "$d/info.json"
check "  ... prints valid JSON" valid_json "$d/info.json"

# SIGINT: enough prompts that the run is still going when the signal comes on a quiet machine
# (3,000 were done in under a second), and the signal late enough that a loaded machine has
# started the process and its signal thread. Job control on, so the background job gets SIGINT's
# default action as a foreground one would (not SIG_IGN).
set -m
for i in $(seq 1 100000); do echo "Once upon a time there was a little dog number $i who ran in the park"; done >"$d/many.txt"
"$steer" --quiet capture "$model" --raw --prompts "$d/many.txt" --layers 0-1 --per-example -o "$d/big.safetensors" 2>"$d/err" &
pid=$!
sleep 3
kill -INT "$pid"
wait "$pid"; rc=$?
check "SIGINT ends the run by the signal (rc 130)" test "$rc" -eq 130
check "  ... saying so" err_has "interrupted"
check "  ... leaving no temporary file" bash -c "! ls -A '$d' | grep -q -e '\.tmp-' -e '\.partial-'"
check "  ... and no output" test ! -e "$d/big.safetensors"

[[ $failures -eq 0 ]] || { echo "$failures check(s) failed"; exit 1; }
echo "outputs: all checks passed"
