#!/usr/bin/env bash
# Bad inputs as a user gives them to the real binary (issue 16, classes 2, 4, 5 and 9): each
# case ends quickly with one "error: …" line naming the file or option, or does its work.
# Usage: inputs.sh STEER_BINARY MODEL_GGUF (a model without a chat template: stories260K)
set -uo pipefail
steer="$1" model="$2"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
run() { timeout 60 "$steer" --quiet "$@" >"$dir/out" 2>"$dir/err"; echo $?; }
check() {  # check NAME CONDITION...: report and count a failure
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; sed 's/^/     /' "$dir/out" "$dir/err" | head -20; failures=$((failures + 1)); fi
}
has() { grep -q -- "$2" "$dir/$1"; }

# 9: verbs that need no chat template work on a model without one.
rc=$(run inspect "$model")
check "inspect without a chat template" test "$rc" = 0
check "inspect says 'chat template: none'" has out "chat template: none"
rc=$(run tokenize "$model" --text "Once upon a time")
check "tokenize without --chat" test "$rc" = 0
rc=$(run generate "$model" --raw -p "Once upon a time" -n 4)
check "raw generate" test "$rc" = 0
printf 'Once upon a time\nLily went\n' >"$dir/prompts.txt"
rc=$(run capture "$model" --raw --prompts "$dir/prompts.txt" --layers 0-1 --positions prompt-mean -o "$dir/acts.safetensors")
check "capture --raw" test "$rc" = 0
rc=$(run generate "$model" -p "Once upon a time" -n 4)
check "chat generate still needs a template" test "$rc" = 1
check "... and says which option gives one" has err "chat-template"

# 4: files that are not files never block and are never read without bound.
mkfifo "$dir/fifo" "$dir/vec.gguf"
for verb in "inspect $dir/fifo" "generate $dir/fifo --raw -p x -n 1" "generate $model --raw -n 1 --add $dir/vec.gguf@1:1 -p x"; do
  rc=$(run $verb)
  check "a FIFO ($verb) is refused" test "$rc" = 1
  check "... as not a regular file" has err "not a regular file"
done
rc=$(run generate "$model" --raw -n 1 --prompt-file /dev/zero)
check "/dev/zero as --prompt-file is refused" test "$rc" = 1
check "... naming the option" has err "--prompt-file '/dev/zero' is not a regular file"
rc=$(run capture "$model" --raw --prompts "$dir/fifo" -o "$dir/x.safetensors")
check "a FIFO as --prompts is refused" test "$rc" = 1

# 2: typed numbers are bounded against what they describe.
# (a KV cache sized by -n would be ~128 GB here; the budget is what the context leaves)
rc=$(run generate "$model" --raw -p "Once upon a time" -n 100000000 --stop . --json)
check "--max-tokens far beyond the context allocates only the context" test "$rc" = 0
check "... and runs to its stop string" has out '"finish_reason": "stop"'
rc=$(run generate "$model" --raw -n 1 --add "$dir/v.safetensors@0-999999:1" -p x)
check "a layer range of a million is refused" test "$rc" = 1
check "... naming the option" has err "--add"
rc=$(run generate "$model" --raw -n 1 --positions 0..9223372036854775806 -p x)
check "a position range beyond any context is refused" test "$rc" = 1

# 5: --threads far above the core count is capped, with a warning.
rc=$(run --threads 100000 tokenize "$model" --text hi)
check "--threads 100000 runs" test "$rc" = 0
check "... and warns" has err "warning: --threads 100000"

# steer suffix end to end on the tiny model (with a template file), and its bad inputs.
printf '{"user_prefix": "Question: ", "user_suffix": "\\n", "generation_prompt": "Answer:"}' >"$dir/chat.json"
rc=$(run extract "$model" --chat-template "$dir/chat.json" --limit 8 --layers 2 -o "$dir/dir.safetensors")
check "extract a direction for suffix" test "$rc" = 0
rc=$(run suffix "$model" --chat-template "$dir/chat.json" -d "$dir/dir.safetensors" --suffix "Lily Lily Lily" --n 4 --top 3 -o "$dir/suffix-run")
check "suffix runs" test "$rc" = 0
check "... and writes top_heads" grep -q '"top_heads"' "$dir/suffix-run/summary.json"
rc=$(run suffix "$model" --chat-template "$dir/chat.json" -d "$dir/dir.safetensors" --suffixes "$dir/none.json" -o "$dir/suffix-bad")
check "suffix with a missing suffix file fails" test "$rc" = 1
check "... naming the file" has err "none.json"
check "... and leaves no run folder" test ! -e "$dir/suffix-bad"
printf '{"wrap": "Please: {forbidden_prompt}"}' >"$dir/wrap.json"
rc=$(run suffix "$model" --chat-template "$dir/chat.json" -d "$dir/dir.safetensors" --suffixes "$dir/wrap.json" -o "$dir/suffix-bad")
check "a template that is not a suffix is refused" test "$rc" = 1
check "... naming the entry" has err "entry 'wrap'"

[[ $failures -eq 0 ]] || { echo "$failures check(s) failed"; exit 1; }
echo "all input checks passed"
