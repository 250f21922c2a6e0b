#!/usr/bin/env bash
# Checks what the project ships is made of (scripts/test.sh runs it):
#   - cargo deny: licences (deny.toml: permissive, Apache-2.0 compatible), banned crates
#     (duplicates listed as warnings), sources (crates.io only). No security advisories: they
#     need the RustSec database from GitHub; run `cargo deny check advisories` where it is
#     reachable.
#   - npm audit of the dependencies the npm packages ship (not the dev tools), when the npm
#     registry's audit service answers; it is skipped, with a line saying why, when it does
#     not (offline, or a registry mirror without the audit endpoint).
# cargo-deny itself is installed by scripts/setup.sh test.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
tmp_audit=$(mktemp)
trap 'rm -f "$tmp_audit"' EXIT

echo "--> cargo deny check licenses bans sources"
cargo deny --locked check --hide-inclusion-graph licenses bans sources || status=1

echo "--> npm audit --omit=dev"
# What the npm packages ship from the registry (the dashboard bundles its dependencies; the
# SDK has none: hls.js is the site's own, a peer dependency).
shipped=$(npm ls --omit=dev --all --parseable 2>/dev/null | grep node_modules/ | grep -v node_modules/@swarmcast/ | sed 's|.*node_modules/||' | sort -u | paste -sd' ')
echo "shipped npm dependencies: ${shipped:-none}"
# npm audit exits 0 when the audit service cannot be reached, and says so only in its
# output: read the report itself.
npm audit --omit=dev --json >"$tmp_audit" 2>/dev/null
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8") || "{}");
const v = r.metadata?.vulnerabilities;
if (v) {
  const bad = (v.moderate ?? 0) + (v.high ?? 0) + (v.critical ?? 0);
  console.log(`npm audit: ${v.total} known vulnerabilities (${bad} moderate or worse) in the shipped npm dependencies`);
  process.exit(bad > 0 ? 1 : 0);
}
console.log(`npm audit: skipped, the registry audit service did not answer (${r.message ?? "no report"})`);
' "$tmp_audit" || { npm audit --omit=dev --audit-level=moderate; status=1; }
exit $status
