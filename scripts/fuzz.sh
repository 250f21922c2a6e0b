#!/usr/bin/env bash
# Builds and runs the fuzz targets in fuzz/ with libFuzzer on stable Rust (docs/testing.md,
# "Fuzzing"). cargo-fuzz needs a nightly compiler for its sanitizer flags; the coverage
# instrumentation libFuzzer needs is made by stable codegen options, given here.
#
#   scripts/fuzz.sh build                 build every target
#   scripts/fuzz.sh list                  the targets
#   scripts/fuzz.sh run TARGET [SECONDS] [-- LIBFUZZER-OPTIONS]
#                                         fuzz one target (default 600 s), its corpus kept in
#                                         fuzz/corpus/TARGET, crashes in fuzz/artifacts/TARGET
#   scripts/fuzz.sh ci [SECONDS]          build, then fuzz every target for SECONDS (default 20)
#                                         on a fresh corpus; prints one line per target and a
#                                         "test result:" summary
#
# SWARMCAST_FUZZ_JOBS (ci): targets fuzzed at once (default 1). CARGO_TARGET_DIR: where the
# build goes (default fuzz/target).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz=$root/fuzz
host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$fuzz/target}
bin_dir=$CARGO_TARGET_DIR/$host/release

# libFuzzer's instrumentation: inline 8-bit edge counters with their PC table, comparison
# tracing (it learns the magic values of a format) and stack depth. `--target` keeps these
# flags off build scripts and proc macros, which do not link libFuzzer.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cllvm-args=-sanitizer-coverage-stack-depth"

targets() {
  sed -n 's/^name = "\(.*\)"$/\1/p' "$fuzz/Cargo.toml" | grep -v '^swarmcast-fuzz$'
}

# The dictionary of tokens that helps a target, by the kind of input it reads.
dict_of() {
  case $1 in
    tracker_client | tracker_server | integrity_manifest | superpeer_rest | console_api) echo json ;;
    worker_playlist | console_manifest | origin_playlist) echo hls ;;
    tracker_http) echo http ;;
    rtc_sdp) echo sdp ;;
    peer_messages | peer_command) echo pml ;;
    ws_frames) echo websocket ;;
    superpeer_env) echo env ;;
    *) ;;
  esac
}

build() {
  echo "==> building the fuzz targets ($host, release, libFuzzer)"
  (cd "$fuzz" && cargo build --locked --release --target "$host" --bins)
}

# Runs one target for $2 seconds with corpus dir $3; extra libFuzzer options follow.
fuzz_one() {
  local target=$1 seconds=$2 corpus=$3
  shift 3
  local dict seeds=$fuzz/seeds/$target opts=()
  dict=$(dict_of "$target")
  [ -n "$dict" ] && opts+=("-dict=$fuzz/dicts/$dict.dict")
  mkdir -p "$corpus" "$fuzz/artifacts/$target"
  local dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  "$bin_dir/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$fuzz/artifacts/$target/" \
    "${opts[@]}" "$@" "${dirs[@]}"
}

# One line of figures from a libFuzzer log: runs, runs/s, edges, features, corpus.
summary() {
  local log=$1 runs rate cov ft corp
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  ft=$(grep -aoE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  corp=$(grep -aoE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
  echo "${runs:-?} runs, ${rate:-?}/s, ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?}"
}

ci() {
  local seconds=${1:-20} jobs=${SWARMCAST_FUZZ_JOBS:-1} logs passed=0 failed=0 running=0
  build || { echo "test result: FAILED. 0 passed; 1 failed; (fuzz build)"; return 1; }
  logs=$(mktemp -d)
  for target in $(targets); do
    (
      corpus=$(mktemp -d)
      if fuzz_one "$target" "$seconds" "$corpus" >"$logs/$target.log" 2>&1; then
        echo ok >"$logs/$target.status"
      else
        echo FAILED >"$logs/$target.status"
      fi
      rm -rf "$corpus"
    ) &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n
      running=$((running - 1))
    fi
  done
  wait
  for target in $(targets); do
    local status
    status=$(cat "$logs/$target.status" 2>/dev/null || echo FAILED)
    echo "fuzz $target: $status ($(summary "$logs/$target.log"))"
    if [ "$status" = ok ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      # The crash and the input that made it (saved under fuzz/artifacts/TARGET/).
      grep -aE -A30 'panicked|ERROR: libFuzzer|SUMMARY|artifact_prefix|Test unit written' \
        "$logs/$target.log" | head -60
    fi
  done
  rm -rf "$logs"
  echo "test result: $([ "$failed" -eq 0 ] && echo ok || echo FAILED). $passed passed; $failed failed; (fuzz targets, ${seconds} s each)"
  [ "$failed" -eq 0 ]
}

case ${1:-} in
  build) build ;;
  list) targets ;;
  run)
    target=${2:?usage: scripts/fuzz.sh run TARGET [SECONDS] [-- OPTIONS]}
    targets | grep -qx "$target" || { echo "no fuzz target $target (scripts/fuzz.sh list)"; exit 2; }
    seconds=${3:-600}
    shift $(($# < 3 ? $# : 3))
    [ "${1:-}" = -- ] && shift
    build && fuzz_one "$target" "$seconds" "$fuzz/corpus/$target" "$@"
    ;;
  ci) ci "${2:-20}" ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
