#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cc; clang with ASan + UBSan) in build-fuzz/ and
# runs each for a while with a memory limit. Findings (crashes, leaks, timeouts, out-of-memory)
# land in build-fuzz/findings/<target>/; each one fixed becomes a file in
# tests/fuzz/regressions/<target>/, which the normal test suite replays (fuzz_replay_tests).
#
#   scripts/fuzz.sh                      every target, 600 s each, one at a time
#   scripts/fuzz.sh --seconds 3600 --jobs 2 gguf tokenize
#   scripts/fuzz.sh --build-only
#
# The work corpus (build-fuzz/corpus/<target>/) starts from the seeds in tests/fuzz/corpus/ and
# grows across runs. Exit status 1 when any target left a finding.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600 jobs=1 rss_mb=2048 build_only=0 targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --rss-limit-mb) rss_mb="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/fuzz_*.cc; do
    t=$(basename "$f" .cc); t=${t#fuzz_}
    [[ $t == util ]] || targets+=("$t")
  done
fi
for t in "${targets[@]}"; do
  [[ -f tests/fuzz/fuzz_$t.cc ]] || { echo "fuzz.sh: no target '$t' (tests/fuzz/fuzz_$t.cc)" >&2; exit 2; }
done

# Debian's clang and its libFuzzer runtime (libclang-rt-dev).
if ! command -v clang++ >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-dev 2>/dev/null | grep -q "ok installed"; then
  echo "fuzz.sh: installing clang and libclang-rt-dev"
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends clang libclang-rt-dev
fi

# libtorch is built against GNU OpenMP; clang would pick LLVM's libomp, and two OpenMP runtimes
# in one process do not mix.
gomp=$(g++ -print-file-name=libgomp.so)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DSTEER_FUZZ=ON -DSTEER_BUILD_TESTS=OFF -DSTEER_BUILD_BENCH=OFF \
  -DOpenMP_CXX_FLAGS=-fopenmp=libgomp -DOpenMP_CXX_LIB_NAMES=gomp -DOpenMP_gomp_LIBRARY="$gomp" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
((build_only)) && exit 0

run_one() {
  local t=$1 corpus=build-fuzz/corpus/$1 findings=build-fuzz/findings/$1/
  mkdir -p "$corpus" "$findings" build-fuzz/logs
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a few-kilobyte input must not
  # make steer allocate gigabytes; -malloc_limit_mb: nor in one allocation.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    build-fuzz/fuzz_"$t" "$corpus" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" \
      -malloc_limit_mb="$rss_mb" -timeout=10 -artifact_prefix="$findings" -print_final_stats=1 \
      > build-fuzz/logs/"$t".log 2>&1 || true
  local runs cov
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' build-fuzz/logs/"$t".log | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' build-fuzz/logs/"$t".log | tail -1 | grep -o '[0-9]*' || echo "?")
  local n; n=$(find "$findings" -type f | wc -l)
  printf '%-16s %6ss  runs %-10s cov %-6s findings %s\n' "$t" "$seconds" "$runs" "$cov" "$n"
}
export -f run_one
export seconds rss_mb
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'

found=$(find build-fuzz/findings -type f 2>/dev/null | wc -l)
if ((found)); then
  echo "fuzz.sh: $found finding(s) under build-fuzz/findings/ (logs in build-fuzz/logs/)"
  exit 1
fi
echo "fuzz.sh: no findings"
