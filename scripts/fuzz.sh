#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (tests/fuzz) and runs each for a bounded time, starting
# from the committed corpus. A crash, leak, hang or sanitizer finding fails the run; its input is
# kept in $STEWARD_BUILD-fuzz/findings. Seconds per target: $1 (default 30).
set -euo pipefail
source "$(dirname "$0")/common.sh"
seconds="${1:-30}"
build="$STEWARD_BUILD-fuzz"
echo "== building the fuzz targets in $build"
cmake -S "$STEWARD_ROOT" -B "$build" -DSTEWARD_FUZZ=ON -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
mkdir -p "$build/findings"

# Seeds too large to keep in git, made afresh: nesting a recursive parser would not survive, and
# inputs near the size limits. max_len lets the fuzzer grow inputs that far (its default is 4 KB,
# too small to find a stack overflow).
repeat() { head -c "$2" /dev/zero | tr '\0' "$1"; }
big_seeds() {  # target folder
  case "$1" in
    input|wire|status)
      repeat '[' 200000 >"$2/deep-arrays"
      { repeat '{' 1; for _ in $(seq 2000); do printf '"a":{'; done; } >"$2/deep-objects"
      { printf '[{"toNode":"ship1","method":"REQCliCommand","data":["'; repeat x 900000; printf '"]}]'; } >"$2/huge-data"
      { printf '[{"toNode":"ship1","method":"REQCliCommand","data":["'; repeat '[' 100000; printf '"]}]'; } >"$2/deep-in-a-string"
      ;;
    config)
      { printf 'a = '; repeat '[' 100000; } >"$2/deep-arrays.toml"
      { printf 'a = '; for _ in $(seq 5000); do printf '{ b = '; done; } >"$2/deep-tables.toml"
      ;;
  esac
}

for target in input wire config status copy; do
  echo "== fuzzing $target for $seconds s"
  # New inputs go to a scratch copy: the committed corpus stays as it is.
  corpus="$(mktemp -d)"
  cp "$STEWARD_ROOT/tests/fuzz/corpus/$target/"* "$corpus/"
  big_seeds "$target" "$corpus"
  if ! "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=1048576 -artifact_prefix="$build/findings/$target-" -print_final_stats=1 \
      "$corpus" 2>"$build/fuzz-$target.log"; then
    tail -40 "$build/fuzz-$target.log"
    echo "fuzz_$target found a problem; the input is in $build/findings"
    rm -rf "$corpus"
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$build/fuzz-$target.log" || true
  rm -rf "$corpus"
done
echo "== fuzzing found nothing"
