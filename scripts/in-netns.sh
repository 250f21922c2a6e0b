#!/usr/bin/env bash
# Runs a command in a private network namespace that has only loopback, so browser and server
# tests are hermetic: nothing they do can leave 127.0.0.1.
# Falls back to the host's namespace (still on 127.0.0.1) where namespaces are not allowed.
set -euo pipefail
inner='ip link set lo up && exec "$@"'
if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  exec unshare -n -- bash -c "$inner" bash "$@"
elif unshare -rn true 2>/dev/null; then
  exec unshare -rn -- bash -c "$inner" bash "$@"
fi
echo "warning: cannot create a network namespace here; running on the host's loopback" >&2
exec "$@"
