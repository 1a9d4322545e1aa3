#!/usr/bin/env bash
# Fuzzes the C++ library's parsers of files users get from anywhere (cpp/fuzz: manifest.json,
# engine sidecars, .npy, images) with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer, one parser after another on one core, SECONDS_PER_PARSER each
# (default 60; CI runs 20, benchmarks/results/fuzz-cpu-2core 600):
#   1. builds the fuzz targets with clang-14 (RAPSAM_FUZZ=ON) in $RAPSAM_FUZZ_BUILD_DIR
#      (default build/fuzz);
#   2. writes seed corpora of real files with the Python runtime (cpp/fuzz/make_seeds.py);
#   3. runs each target. OUT_DIR (default runs/fuzz) gets <parser>.log (libFuzzer's log),
#      corpus/<parser> (the inputs it kept, reused by the next run), crashes/<parser> (each input
#      that crashed it, leaked, hung or allocated too much) and summary.txt (seconds, executions
#      and verdict per parser).
# Exit status: 0 when every parser ran clean, 1 on any finding (the input's path is printed),
# 2 when the build or the seeds fail, 3 when clang-14 with libFuzzer is not installed.
#
#   bash benchmarks/fuzz.sh [SECONDS_PER_PARSER] [OUT_DIR]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
out=$(mkdir -p "${2:-$root/runs/fuzz}" && cd "${2:-$root/runs/fuzz}" && pwd)
build=${RAPSAM_FUZZ_BUILD_DIR:-$root/build/fuzz}
cxx=${RAPSAM_FUZZ_CXX:-clang++-14}
jobs=${RAPSAM_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
python=${PYTHON:-$([ -x "$root/.venv/bin/python" ] && echo "$root/.venv/bin/python" || command -v python3)}
parsers=(manifest engine_sidecar npy image)

# ---- 1. build ----------------------------------------------------------------------------
# A one-line fuzz target proves the compiler has libFuzzer and the sanitizer runtimes.
mkdir -p "$build"
if ! command -v "$cxx" >/dev/null ||
  ! echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
  "$cxx" -x c++ -fsanitize=fuzzer,address,undefined - -o "$build/libfuzzer_probe" 2>/dev/null; then
  echo "fuzz.sh: $cxx with libFuzzer and the sanitizer runtimes is not installed" \
    "(Debian: apt-get install clang-14 libclang-rt-14-dev; or set RAPSAM_FUZZ_CXX to such a clang++)" >&2
  exit 3
fi
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DRAPSAM_WITH_CUDA=OFF -DRAPSAM_WITH_TENSORRT=OFF -DRAPSAM_WITH_CPP=ON -DRAPSAM_FUZZ=ON -DRAPSAM_WERROR=ON &&
  cmake --build "$build" --target rapsam_fuzzers --parallel "$jobs"; } >"$out/build.log" 2>&1; then
  tail -n 30 "$out/build.log" >&2
  echo "fuzz.sh: building the fuzz targets failed (log: $out/build.log)" >&2
  exit 2
fi

# ---- 2. seeds ----------------------------------------------------------------------------
rm -rf "$out/seeds"
if ! "$python" "$root/cpp/fuzz/make_seeds.py" "$out/seeds" >"$out/seeds.log" 2>&1; then
  cat "$out/seeds.log" >&2
  echo "fuzz.sh: writing the seed corpora failed (python: $python)" >&2
  exit 2
fi

# ---- 3. fuzz -----------------------------------------------------------------------------
# Per parser: the longest input and the dictionary. OpenCV's decoders print each complaint to
# stderr, so the image target's own output is dropped (libFuzzer's and the sanitizers' remain).
declare -A max_len=([manifest]=16384 [engine_sidecar]=4096 [npy]=8192 [image]=4096)
declare -A extra=(
  [manifest]="-dict=$root/cpp/fuzz/dicts/json.dict"
  [engine_sidecar]="-dict=$root/cpp/fuzz/dicts/json.dict"
  [npy]="-dict=$root/cpp/fuzz/dicts/npy.dict"
  [image]="-close_fd_mask=2")
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# OpenCV allocates up to 2^30 pixels for the size an image header claims: its policy, lowered
# here so that the malloc limit catches what is ours.
export OPENCV_IO_MAX_IMAGE_PIXELS=${OPENCV_IO_MAX_IMAGE_PIXELS:-4194304}

summary=$out/summary.txt
echo "# fuzz.sh $seconds s per parser, $(date -u +%Y-%m-%dT%H:%M:%SZ), $("$cxx" --version | head -n 1)" >"$summary"
findings=0
for parser in "${parsers[@]}"; do
  log=$out/$parser.log
  crashes=$out/crashes/$parser
  mkdir -p "$out/corpus/$parser" "$crashes"
  echo "fuzz.sh: $parser for $seconds s (log: $log)"
  start=$(date +%s)
  status=0
  # shellcheck disable=SC2086  # extra holds one flag
  "$build/bin/fuzz_$parser" "$out/corpus/$parser" "$out/seeds/$parser" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len="${max_len[$parser]}" ${extra[$parser]} -artifact_prefix="$crashes/" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  line="$parser: $elapsed s, ${executions:-?} executions"
  if [ "$status" -ne 0 ]; then
    findings=$((findings + 1))
    input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    line="$line, FINDING (exit $status): input ${input:-not saved}, log $log"
    grep -m 1 -E '^(SUMMARY|==[0-9]+== ?ERROR)' "$log" >&2 || tail -n 20 "$log" >&2
  else
    line="$line, clean"
  fi
  echo "$line" | tee -a "$summary"
done

if [ "$findings" -ne 0 ]; then
  echo "fuzz.sh: $findings of ${#parsers[@]} parsers crashed; reproduce with $build/bin/fuzz_PARSER INPUT" >&2
  exit 1
fi
echo "fuzz.sh: every parser ran clean (summary: $summary)"
