#!/usr/bin/env bash
# Runs every test: Rust (fmt, clippy, unit + integration, a short run of every fuzz target),
# supply-chain checks (cargo deny, npm audit), TypeScript unit tests, and the real-browser
# end-to-end tests in a loopback-only network namespace. Installs what it needs.
# Every stage runs even when an earlier one fails; the exit status says whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
failed_stages=()
passed=0
failed=0

stage() {
  local name=$1; shift
  echo
  echo "==> $name: $*"
  if "$@" 2>&1 | tee "$logs/$name.log"; then
    echo "<== $name: ok"
  else
    echo "<== $name: FAILED"
    failed_stages+=("$name")
  fi
}

# Adds the pass/fail counts that cargo test, node --test and vitest print to the totals.
count() {
  local log=$logs/$1.log p f
  [ -f "$log" ] || return 0
  p=$(grep -aoE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
  f=$(grep -aoE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
  p=$((p + $(grep -aoE '^ℹ pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
  f=$((f + $(grep -aoE '^ℹ fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
  p=$((p + $(grep -aoE 'Tests +[0-9]+ passed' "$log" | awk '{s+=$2} END {print s+0}')))
  f=$((f + $(grep -aoE 'Tests +([0-9]+ passed \| )?[0-9]+ failed' "$log" | grep -oE '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')))
  passed=$((passed + p))
  failed=$((failed + f))
}

scripts/setup.sh test || { echo "setup failed: see above"; exit 1; }
# The build, npm packages, test media and browser profiles take about 2 GB (and 1.1 GB in the
# temp folder during the 1 GB media test); say what there
# is, so that a full disk shows as such and not as a string of unrelated failures.
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$target_dir"
echo "disk: $(df -Ph "$target_dir" | awk 'NR==2 {print $4}') free where the build goes, $(df -Ph "${TMPDIR:-/tmp}" | awk 'NR==2 {print $4}') in ${TMPDIR:-/tmp}"

stage fmt cargo fmt --all --check
# Before any cargo build: the binary embeds the dashboard and the SDK bundles the npm build
# makes (crates/webassets), and e2e/tests/single-binary.test.mjs checks that it does.
stage npm-build npm run build --workspaces --if-present
stage clippy cargo clippy --workspace --all-targets --locked -- -D warnings
stage supply-chain scripts/supply-chain.sh
stage cargo-test cargo test --workspace --locked
# Every fuzz target for a few seconds on a fresh corpus, two at a time (docs/testing.md,
# "Fuzzing"); the instrumented release build is most of the stage's time.
SWARMCAST_FUZZ_JOBS=${SWARMCAST_FUZZ_JOBS:-2} stage fuzz scripts/fuzz.sh ci "${SWARMCAST_FUZZ_SECONDS:-10}"
stage build cargo build --locked -p swarmcast
stage npm-unit npm run test:unit --workspaces --if-present
export SWARMCAST_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/swarmcast"
stage media "$SWARMCAST_BIN" media generate
stage e2e scripts/in-netns.sh node --test --test-concurrency=1 --test-reporter=spec e2e/tests/*.test.mjs

for s in cargo-test fuzz npm-unit e2e; do count "$s"; done
echo
if [ ${#failed_stages[@]} -gt 0 ]; then
  echo "failed stages: ${failed_stages[*]}"
  failed=$((failed > 0 ? failed : ${#failed_stages[@]}))
fi
rm -rf "$logs"
echo "$passed passed, $failed failed"
[ ${#failed_stages[@]} -eq 0 ]
