#!/usr/bin/env bash
# Checks what the project ships is made of (scripts/test.sh runs it):
#   - cargo deny: licences (deny.toml: permissive, Apache-2.0 compatible), banned crates
#     (duplicates listed as warnings), sources (crates.io only). No security advisories: they
#     need the RustSec database from GitHub; run `cargo deny check advisories` where it is
#     reachable.
#   - npm audit of the dependencies the npm packages ship (not the dev tools), when the npm
#     registry's audit service answers; it is skipped, with a line saying so, when it cannot
#     be reached.
# cargo-deny itself is installed by scripts/setup.sh test.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0

echo "--> cargo deny check licenses bans sources"
cargo deny --locked check --hide-inclusion-graph licenses bans sources || status=1

echo "--> npm audit --omit=dev"
audit=$(npm audit --omit=dev --audit-level=moderate --json 2>/dev/null)
audit_status=$?
if [ $audit_status -eq 0 ]; then
  echo "npm audit: no known vulnerability in the shipped npm dependencies"
elif printf %s "$audit" | grep -qE '"code": *"(ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|E4[0-9][0-9]|E5[0-9][0-9])"'; then
  echo "npm audit: skipped, the registry's audit service cannot be reached from here"
else
  npm audit --omit=dev --audit-level=moderate
  status=1
fi
exit $status
