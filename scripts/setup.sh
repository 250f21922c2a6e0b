#!/usr/bin/env bash
# Installs what the demo or the tests need and is not there yet: Debian packages, npm packages.
# Usage: scripts/setup.sh demo|test
set -euo pipefail
cd "$(dirname "$0")/.."

want=(ffmpeg)
if [ "${1:-test}" = test ]; then
  # Browser tests: Debian's Chromium (never a downloaded one), and the tools for a
  # loopback-only network namespace.
  want+=(chromium iproute2 util-linux)
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

# npm ci is quick when node_modules already matches the lock file.
stamp=node_modules/.swarmcast-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
