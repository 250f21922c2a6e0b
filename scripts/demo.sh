#!/usr/bin/env bash
# Builds Swarmcast, makes the test media and runs the all-in-one demo on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
# The SDK bundle and the dashboard are served by the demo.
npm run build --workspaces --if-present --silent
cargo build --release --locked -p swarmcast
exec target/release/swarmcast demo --assets . "$@"
