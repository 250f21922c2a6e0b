#!/usr/bin/env bash
# Installs what the demo or the tests need and is not there yet: Debian packages, npm packages.
# Usage: scripts/setup.sh demo|test
set -euo pipefail
cd "$(dirname "$0")/.."

want=(ffmpeg)
if [ "${1:-test}" = test ]; then
  # Browser tests: Debian's Chromium (never a downloaded one), the tools for a
  # loopback-only network namespace, and coturn (a TURN server for the relay-only test).
  want+=(chromium iproute2 util-linux coturn)
  # Redis for the tracker cluster's tests (each test starts its own on a free port).
  want+=(redis-server)
  # The load balancer of docs/operations.md, and openssl for its test certificate.
  want+=(haproxy openssl)
  # The fuzz targets link libFuzzer, which libfuzzer-sys compiles from C++.
  want+=(g++)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cargo-deny for the supply-chain checks (scripts/supply-chain.sh), built once into ~/.cargo
# (about 4 minutes on 2 cores), pinned so every machine checks with the same rules.
cargo_deny_version=0.20.2
if [ "${1:-test}" = test ] && [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $cargo_deny_version" ]; then
  echo "==> cargo install cargo-deny $cargo_deny_version"
  cargo install --locked --quiet "cargo-deny@$cargo_deny_version"
fi

# npm ci is quick when node_modules already matches the lock file.
stamp=node_modules/.swarmcast-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
