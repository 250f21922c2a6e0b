#!/usr/bin/env bash
# Builds Swarmcast, makes the test media and runs the all-in-one demo on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
# The SDK bundles and the dashboard are built into the binary: build them first.
npm run build --workspaces --if-present --silent
cargo build --release --locked -p swarmcast
exec target/release/swarmcast demo "$@"
