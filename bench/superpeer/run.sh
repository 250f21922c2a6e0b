#!/usr/bin/env bash
# Super-peer benchmark: viewers per worker. Not a test; run it by hand (about 5 minutes):
#
#   bench/superpeer/run.sh [viewer-sim flags, e.g. --steps 100,200,400 --hold-secs 20]
#
# Starts a real `swarmcast origin` looping a ~2.5 Mbit/s HLS stream live, a real `swarmcast
# tracker`, a real `swarmcast superpeer` (master + the one worker it spawns for the channel,
# seeded through POST /seed), then `viewer-sim`, which ramps simulated P2P Media Loader viewers
# against that worker until segments miss their deadlines, and prints one row per step and the
# comparison with the reference product (200 viewers, 1 core, 400 MB, 200 Mbit/s per worker).
# Everything runs on 127.0.0.1, release builds. `viewer-sim --help` lists the flags.
#
# The stream is the 720p video + audio of the test media's ladder.mp4 (about 2.6 Mbit/s),
# remuxed into 2 s HLS segments with ffmpeg (no re-encoding) into the cache folder below.
# Settings (environment): CARGO_TARGET_DIR, SWARMCAST_MEDIA_DIR (test media folder, default
# ~/.cache/swarmcast/media), BENCH_PIN=1 (worker on CPU 0, simulator, tracker and origin on
# CPU 1, so the worker has a core of its own), BENCH_SP_ENV (more lines for the super peer's
# .env, e.g. "sendBudgetMB=1024" to compare send budgets), BENCH_HEAPTRACK=FILE (the worker runs
# under heaptrack, built with glibc's malloc, and its profile goes to FILE.zst; the peak heap
# is printed at the end, `heaptrack_print -f FILE.zst` tells by allocation site).
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${CARGO_TARGET_DIR:-target}
media=${SWARMCAST_MEDIA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/swarmcast/media}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/swarmcast/bench-superpeer

echo "==> building swarmcast and viewer-sim (release)"
features=()
# heaptrack watches malloc; the default allocator (mimalloc) does not call it.
[ -n "${BENCH_HEAPTRACK:-}" ] && features=(--features swarmcast/system-allocator)
cargo build --release -q -p swarmcast -p viewer-sim "${features[@]}"
bin=$(realpath "$target/release/swarmcast")
sim=$(realpath "$target/release/viewer-sim")

if [ ! -f "$cache/live720/index.m3u8" ]; then
  [ -f "$media/ladder.mp4" ] || "$bin" media generate --dir "$media"
  echo "==> making the 2.5 Mbit/s HLS rendition in $cache/live720"
  mkdir -p "$cache/live720"
  ffmpeg -loglevel error -y -i "$media/ladder.mp4" -map 0:v:0 -map 0:a:0 -c copy \
    -f hls -hls_time 2 -hls_playlist_type vod \
    -hls_segment_filename "$cache/live720/seg_%03d.ts" "$cache/live720/index.m3u8"
fi
bytes=$(cat "$cache"/live720/*.ts | wc -c)
seconds=$(awk -F: '/^#EXTINF/ { s += $2 } END { print s }' "$cache/live720/index.m3u8")
echo "==> stream: $(awk -v b="$bytes" -v s="$seconds" 'BEGIN { printf "%.2f", b * 8 / s / 1e6 }') Mbit/s, $seconds s looping"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for FILE REGEX: the first match, within 30 s.
wait_for() {
  for _ in $(seq 300); do
    if grep -Eo "$2" "$1" 2>/dev/null | head -1 | grep .; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for /$2/ in $1:" >&2; cat "$1" >&2; return 1
}
# Runs in a background subshell: exec, so that $! is the process itself and the cleanup reaches it.
pin() { if [ -n "${BENCH_PIN:-}" ]; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }

origin_port=$(free_port)
pin 1 "$bin" origin --root "$cache" --listen "127.0.0.1:$origin_port" >"$work/origin.log" 2>&1 &
pids+=($!); origin_pid=$!
# Every simulated viewer comes from 127.0.0.1: the limits per IP address are for real
# audiences, where one address holds a household or a NAT, not hundreds of viewers.
pin 1 "$bin" tracker --listen 127.0.0.1:0 --announce-rate-per-ip 0 --offer-rate-per-ip 0 \
  >"$work/tracker.log" 2>&1 &
pids+=($!); tracker_pid=$!
tracker=$(wait_for "$work/tracker.log" 'ws://[0-9.:]+')
api_port=$(free_port)
mkdir -p "$work/sp"
printf 'listenPort=%s\nlistenHost=127.0.0.1\nsignal1=%s\ncacheDir=%s/cache\nmaxWorkers=1\noriginHosts=127.0.0.1\n' \
  "$api_port" "$tracker" "$work" >"$work/sp/.env"
[ -n "${BENCH_SP_ENV:-}" ] && printf '%s\n' "$BENCH_SP_ENV" >>"$work/sp/.env"
master_bin=$bin
if [ -n "${BENCH_HEAPTRACK:-}" ]; then
  # The master spawns its workers from its own executable's path: start it from a copy, then
  # put a script there that runs the worker under heaptrack's preload library.
  mkdir -p "$work/bin" && cp "$bin" "$work/bin/swarmcast"
  master_bin=$work/bin/swarmcast
  cat >"$work/bin/worker" <<EOF
#!/bin/sh
rm -f "$work/heaptrack.fifo" && mkfifo "$work/heaptrack.fifo"
/usr/lib/heaptrack/libexec/heaptrack_interpret <"$work/heaptrack.fifo" | zstd -q >"$BENCH_HEAPTRACK.zst" &
LD_PRELOAD=/usr/lib/heaptrack/libheaptrack_preload.so DUMP_HEAPTRACK_OUTPUT="$work/heaptrack.fifo" exec "$bin" "\$@"
EOF
  chmod +x "$work/bin/worker"
fi
(cd "$work/sp" && exec "$master_bin" superpeer) >"$work/superpeer.log" 2>&1 &
pids+=($!); master_pid=$!
wait_for "$work/superpeer.log" 'REST API on http' >/dev/null
[ -n "${BENCH_HEAPTRACK:-}" ] && mv -f "$work/bin/worker" "$master_bin"
api=http://127.0.0.1:$api_port

manifest=http://127.0.0.1:$origin_port/live/live720/index.m3u8
channel=$(printf %s "$manifest" | base64 -w0)
curl -sf -d '{"list":[{"channel":"'"$channel"'","live":true,"keepAlive":true,"maxConnections":100000,"label":"bench"}]}' "$api/seed" >/dev/null
worker_pid=
for _ in $(seq 100); do
  worker_pid=$(curl -sf "$api/stats" | python3 -c 'import json,sys; w=[w for w in json.load(sys.stdin)["workers"] if w["segments"] > 0 and w["signal"]]; print(w[0]["pid"] if w else "")')
  [ -n "$worker_pid" ] && break
  sleep 0.2
done
[ -n "$worker_pid" ] || { echo "the worker did not start seeding"; cat "$work/superpeer.log"; exit 1; }
[ -n "${BENCH_PIN:-}" ] && taskset -pc 0 "$worker_pid" >/dev/null
echo "==> origin $origin_pid, tracker $tracker_pid, master $master_pid, worker $worker_pid"

(pin 1 "$sim" --tracker "$tracker" --manifest "$manifest" --worker-pid "$worker_pid" \
  --watch "tracker=$tracker_pid" --watch "origin=$origin_pid" --watch "master=$master_pid" "$@")
echo
echo "worker /stats at the end:"
curl -sf "$api/stats/$worker_pid" | python3 -c 'import json,sys; w=json.load(sys.stdin); print({k: w[k] for k in ("peers","segments","uploadedKB","originKB","cpu","memoryMB")})' || true
if [ -n "${BENCH_HEAPTRACK:-}" ]; then
  # The worker ends with its master; heaptrack's interpreter then finishes the file.
  kill "$master_pid" 2>/dev/null || true
  sleep 3
  echo "worker heap profile: $BENCH_HEAPTRACK.zst"
  heaptrack_print -f "$BENCH_HEAPTRACK.zst" --print-peaks 0 --print-allocators 0 \
    --print-temporary 0 --print-leaks 0 2>/dev/null | grep -E 'peak heap|peak RSS' || true
fi
