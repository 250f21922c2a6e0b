#!/usr/bin/env bash
# Tracker benchmark: `swarmcast tracker` (release build) against aquatic_ws, same load, same
# core. Not a test; run it by hand (about 6 minutes):
#
#   bench/tracker/run.sh
#
# Each tracker runs pinned to CPU 0 (aquatic_ws with 1 socket + 1 swarm worker), the load
# generators to CPU 1. Four loads, each against both trackers in turn:
#   1. aquatic_ws_load_test (TLS, 64 connections, 10 offers per announce): responses/s.
#   2. our load generator (crates/tracker/examples/loadgen.rs, plain ws), closed loop: every
#      frame is read, every offer answered, a client announces again once answered; the
#      maximum responses/s, offers and answers delivered per second and as a share of what
#      should arrive, p50/p99 relay latency (client -> tracker -> client; at saturation this
#      is mostly queueing).
#   3. 10 000 idle connections (one announce each): tracker RSS growth per connection.
#   4. our load generator, open loop (--rate): announces sent on a fixed schedule whatever
#      the responses do, latency from the scheduled send time, at 1.2 x the responses/s
#      aquatic_ws reached in step 2 (each announce with 5 offers makes 11 frames: response,
#      5 offers, 5 answers): delivered share and p50/p99 relay latency at that load, for both.
#   5. what our rate limits cost: step 2's closed loop against our tracker alone, with its
#      announce and offer rate limits checked on every message (set far above this load,
#      which all comes from one address) and with them off (the admission step skipped),
#      BENCH_LIMIT_PAIRS times each, alternating so that the machine's other work falls on
#      both alike (under `chrt -r 10` with BENCH_PRIORITY=1); medians side by side and the
#      cost in responses/s and per CPU-second.
#   6. with --nodes 1,2,3 (or BENCH_NODES), instead of 1-5: the cluster on Redis. For each
#      of aquatic_ws, our tracker alone (no Redis) and 1, 2, 3 nodes of ours on one
#      redis-server, step 2's closed loop and an open loop at BENCH_PACED_RESPONSES (default
#      100000) responses/s. The generator spreads every torrent's peers over the nodes, so
#      offers and answers cross nodes; for the clusters it reports the share that did (from
#      the nodes' metrics) and the CPU of the nodes and of Redis. Every node and Redis share
#      CPU 0, the generator CPU 1. With BENCH_PRIORITY=1 the open loops run under
#      `chrt -r 10`, servers, Redis and generator alike.
# Steps 1-4 run our tracker with its default rate-limit checks on (limits raised as in 5).
# For every load run the tracker's CPU time is read from /proc, so the table also shows
# how busy its core was and responses per CPU-second (fair even when the load generator,
# not the tracker, is the bottleneck).
# aquatic_ws and aquatic_ws_load_test are installed from crates.io when missing, into
# AQUATIC_ROOT (default ~/.cache/swarmcast/aquatic), outside the repository.
#
# Settings (environment): BENCH_SECONDS (default 20) per load run, BENCH_CONNECTIONS (200)
# and BENCH_TORRENTS (20) for our load generator, BENCH_IDLE (10000), AQUATIC_BIN_DIR (a
# folder holding the aquatic binaries, if not on PATH or in AQUATIC_ROOT), BENCH_ONLY_OURS=1 (skip aquatic:
# our tracker's figures alone), BENCH_NO_INSTALL=1 (install nothing; skip the runs whose
# aquatic binary is missing), BENCH_PACED_RESPONSES (responses/s of step 4; default 1.2 x
# aquatic_ws's step-2 figure; step 4 is skipped without either), BENCH_PRIORITY=1 (run step
# 4 a second time with both trackers and our generator under `chrt -r 10`, real-time
# priority over other work on the machine: on a shared machine, run-queue waits, not the
# tracker, dominate the latency; needs root or CAP_SYS_NICE; only this step, which leaves
# both cores partly idle, so other work is not starved), BENCH_LIMIT_PAIRS (default 3; 0
# skips step 5), BENCH_ONLY_LIMITS=1 (step 5 alone), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" = --nodes ]; then
  BENCH_NODES=${2:?--nodes takes a list, e.g. 1,2,3}
  shift 2
fi
nodes_list=${BENCH_NODES:-}

seconds=${BENCH_SECONDS:-20}
connections=${BENCH_CONNECTIONS:-200}
torrents=${BENCH_TORRENTS:-20}
idle=${BENCH_IDLE:-10000}
target=${CARGO_TARGET_DIR:-target}
aquatic_root=${AQUATIC_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/swarmcast/aquatic}
export PATH="$aquatic_root/bin:$HOME/.cargo/bin:$PATH"
[ -n "${AQUATIC_BIN_DIR:-}" ] && export PATH="$AQUATIC_BIN_DIR:$PATH"

echo "==> building swarmcast and the load generator (release)"
# One invocation, so both share one feature resolution and nothing is built twice.
cargo build --release -q -p swarmcast -p tracker --bins --example loadgen
if [ -n "$nodes_list" ]; then command -v curl >/dev/null || { echo "curl is needed for --nodes"; exit 1; }; fi
swarmcast=$target/release/swarmcast
loadgen=$target/release/examples/loadgen

only_ours=${BENCH_ONLY_OURS:-}
no_install=${BENCH_NO_INSTALL:-}
if [ -z "$only_ours$no_install" ] && ! command -v aquatic_ws >/dev/null; then
  echo "==> installing aquatic_ws from crates.io into $aquatic_root (about 10 minutes)"
  # Not --locked: its locked metrics 0.22.3 does not build on current Rust.
  CARGO_TARGET_DIR="$aquatic_root/target" cargo install --root "$aquatic_root" aquatic_ws
fi
if [ -z "$only_ours$no_install" ] && ! command -v aquatic_ws_load_test >/dev/null; then
  echo "==> installing aquatic_ws_load_test from crates.io into $aquatic_root"
  CARGO_TARGET_DIR="$aquatic_root/target" cargo install --root "$aquatic_root" --locked aquatic_ws_load_test
fi
command -v openssl >/dev/null || { echo "openssl is needed for the self-signed certificate"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1"; exit 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system) of a process and all its threads, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Time a process's threads spent runnable but waiting for a CPU, in ns (other work on the
# machine took their core): what a shared machine adds to every latency.
wait_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{w += $2} END {printf "%.0f\n", w}'; }
# wait_share KEY PID NS_BEFORE TIME_BEFORE: stores the share of wall time PID waited for a CPU.
wait_share() {
  result[$1]=$(python3 -c "import sys; print((int(sys.argv[1]) - int(sys.argv[2])) / 1e9 / (float(sys.argv[4]) - float(sys.argv[3])))" "$(wait_ns "$2")" "$3" "$4" "$(now_s)")
}
ticks_per_s=$(getconf CLK_TCK)
now_s() { date +%s.%N; }
# cpu_share KEY TICKS_BEFORE TIME_BEFORE: stores the tracker's busy share of its core since then.
cpu_share() {
  local after
  after=$(cpu_ticks "$tracker_pid")
  result[$1]=$(python3 -c "import sys; print((int(sys.argv[1]) - int(sys.argv[2])) / int(sys.argv[3]) / (float(sys.argv[5]) - float(sys.argv[4])))" "$after" "$2" "$ticks_per_s" "$3" "$(now_s)")
}

# Our tracker's rate limits, checked on every message but never reached by this load (it all
# comes from one address), or off: then the tracker skips the admission step.
limits_on=(--announce-rate 1000000,1000000 --announce-rate-per-ip 1000000,1000000
           --offer-rate 10000000,10000000 --offer-rate-per-ip 10000000,10000000)
limits_off=(--announce-rate 0 --announce-rate-per-ip 0 --offer-rate 0 --offer-rate-per-ip 0)
ours_limits=("${limits_on[@]}")

# start_tracker ours|aquatic tls|plain -> sets $tracker_pid and $port
start_tracker() {
  port=$(free_port)
  if [ "$1" = ours ]; then
    local tls=()
    [ "$2" = tls ] && tls=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    RUST_LOG=warn "${prio[@]}" taskset -c 0 "$swarmcast" tracker --listen "127.0.0.1:$port" "${tls[@]}" \
      --max-connections 100000 --max-connections-per-ip 100000 \
      --max-info-hashes-per-connection 100000 "${ours_limits[@]}" >"$work/ours.log" 2>&1 &
  else
    cat >"$work/aquatic.toml" <<TOML
socket_workers = 1
swarm_workers = 1
log_level = "warn"
[network]
address = "127.0.0.1:$port"
enable_tls = $([ "$2" = tls ] && echo true || echo false)
tls_certificate_path = "$work/cert.pem"
tls_private_key_path = "$work/key.pem"
TOML
    "${prio[@]}" taskset -c 0 aquatic_ws -c "$work/aquatic.toml" >"$work/aquatic.log" 2>&1 &
  fi
  tracker_pid=$!
  pids+=("$tracker_pid")
  wait_port "$port"
}
stop_tracker() { kill "$tracker_pid" 2>/dev/null || true; wait "$tracker_pid" 2>/dev/null || true; }

declare -A result
# Command prefix for the trackers and our generator (BENCH_PRIORITY's second open-loop run).
prio=()
aquatic_load() { # $1 = ours|aquatic
  start_tracker "$1" tls
  cat >"$work/load.toml" <<TOML
server_address = "127.0.0.1:$port"
log_level = "error"
num_workers = 1
num_connections_per_worker = 64
connection_creation_interval_ms = 10
duration = $seconds
[torrents]
offers_per_request = 10
number_of_torrents = 10000
TOML
  # The load tester never ends if it cannot open all its connections: bound it.
  local out start t0
  start=$(cpu_ticks "$tracker_pid") t0=$(now_s)
  out=$(timeout $((seconds + 60)) taskset -c 1 aquatic_ws_load_test -c "$work/load.toml" 2>&1 || true)
  cpu_share "$1.aq_cpu" "$start" "$t0"
  result[$1.aq_rps]=$(grep -oE 'Average responses per second: [0-9.]+' <<<"$out" | awk '{print $5}' | tail -1 || true)
  result[$1.aq_rps]=${result[$1.aq_rps]:-0}
  stop_tracker
}
offers=5
# our_load ours|aquatic [ANNOUNCES_PER_S]: closed loop, or open loop at that rate (keys
# prefixed "paced_").
our_load() {
  start_tracker "$1" plain
  local json start t0 rate=() prefix=${3:-}
  [ -n "${2:-}" ] && rate=(--rate "$2")
  start=$(cpu_ticks "$tracker_pid") t0=$(now_s)
  timeout $((seconds + 60)) "${prio[@]}" taskset -c 1 "$loadgen" load "ws://127.0.0.1:$port" "$connections" "$torrents" "$offers" "$seconds" "${rate[@]}" >"$work/load.json" 2>"$work/load.err" &
  local bound=$! gen tracker_wait gen_wait
  pids+=("$bound")
  sleep 0.2
  gen=$(pgrep -P "$bound" | head -1)
  tracker_wait=$(wait_ns "$tracker_pid") gen_wait=$(wait_ns "$gen")
  sleep "$seconds"
  wait_share "$1.${prefix}tracker_wait" "$tracker_pid" "$tracker_wait" "$t0"
  wait_share "$1.${prefix}gen_wait" "$gen" "$gen_wait" "$t0"
  wait "$bound" || true
  json=$(cat "$work/load.json")
  [ -n "$json" ] || echo "    the load generator gave no result: $(tail -c 300 "$work/load.err")"
  cpu_share "$1.${prefix}cpu" "$start" "$t0"
  for key in responses_per_s offers_per_s answers_per_s offers_delivered answers_delivered relay_p50_ms relay_p99_ms send_lag_p99_ms failed_connections; do
    # A generator that failed leaves no JSON: its figures are n/a, the bench goes on.
    result[$1.$prefix$key]=$(python3 -c "import json,sys; s=sys.argv[1]; print(json.loads(s).get('$key', 'n/a') if s.strip() else 'n/a')" "$json")
  done
  local failed=${result[$1.${prefix}failed_connections]}
  if [ "$failed" != n/a ] && [ "$failed" != 0 ]; then
    echo "    $failed of $connections connections failed: figures of this run are n/a"
    for key in responses_per_s offers_per_s answers_per_s offers_delivered answers_delivered relay_p50_ms relay_p99_ms send_lag_p99_ms; do
      result[$1.$prefix$key]=n/a
    done
  fi
  if [ "$1" = ours ]; then
    # The tracker's own share of the relay latency (read -> written to the target socket),
    # as the upper bound of the histogram bucket holding the 99th percentile.
    result[ours.${prefix}inner_p99_ms]=$(curl -s "http://127.0.0.1:$port/metrics" | python3 -c '
import re, sys
buckets = [(float(m[1]) if m[1] != "+Inf" else float("inf"), int(m[2]))
           for m in re.finditer(r"tracker_relay_latency_seconds_bucket\{le=\"([^\"]+)\"\} (\d+)", sys.stdin.read())]
total = buckets[-1][1] if buckets else 0
print(next((f"<= {b * 1000:g}" for b, c in buckets if total and c >= 0.99 * total), "n/a"))')
  fi
  stop_tracker
}
idle_rss() {
  start_tracker "$1" plain
  sleep 1
  local before after
  before=$(rss_kb "$tracker_pid")
  coproc IDLE { exec taskset -c 1 "$loadgen" idle "ws://127.0.0.1:$port" "$idle" 600; }
  pids+=("$IDLE_PID")
  read -r -t 180 line <&"${IDLE[0]}" || line="idle connections not ready in time"
  sleep 2
  after=$(rss_kb "$tracker_pid")
  result[$1.idle_bytes]=$(( (after - before) * 1024 / idle ))
  result[$1.idle_note]=$line
  kill "$IDLE_PID" 2>/dev/null || true
  wait "$IDLE_PID" 2>/dev/null || true
  stop_tracker
}

# metric_sum NAME_REGEX PORT...: the sum of matching /metrics lines over nodes.
metric_sum() {
  local re=$1 total=0 v
  shift
  for p in "$@"; do
    v=$(curl -s "http://127.0.0.1:$p/metrics" | python3 -c '
import re, sys
print(round(sum(float(l.split()[-1]) for l in sys.stdin if re.match(sys.argv[1], l))))' "$re")
    total=$((total + v))
  done
  echo "$total"
}
# cluster_load N [ANNOUNCES_PER_S] PREFIX: N nodes of ours on one fresh redis-server.
cluster_load() {
  local n=$1 rate=() prefix=$3 rport ports=() node_pids=() urls="" redis_pid json
  [ -n "${2:-}" ] && rate=(--rate "$2")
  rport=$(free_port)
  "${prio[@]}" taskset -c 0 redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  wait_port "$rport"
  for i in $(seq "$n"); do
    local p
    p=$(free_port)
    RUST_LOG=warn "${prio[@]}" taskset -c 0 "$swarmcast" tracker --listen "127.0.0.1:$p" --redis "redis://127.0.0.1:$rport" \
      --max-connections 100000 --max-connections-per-ip 100000 \
      --max-info-hashes-per-connection 100000 "${ours_limits[@]}" >"$work/node$i.log" 2>&1 &
    node_pids+=($!)
    pids+=($!)
    ports+=("$p")
    urls+="${urls:+,}ws://127.0.0.1:$p"
  done
  for p in "${ports[@]}"; do
    wait_port "$p"
    for _ in $(seq 100); do
      curl -s "http://127.0.0.1:$p/cluster" | grep -q "\"nodes\":$n," && break
      sleep 0.1
    done
  done
  local ticks_before=0 t0
  for pid in "${node_pids[@]}"; do ticks_before=$((ticks_before + $(cpu_ticks "$pid"))); done
  local redis_before
  redis_before=$(cpu_ticks "$redis_pid")
  t0=$(now_s)
  timeout $((seconds + 60)) "${prio[@]}" taskset -c 1 "$loadgen" load "$urls" "$connections" "$torrents" "$offers" "$seconds" "${rate[@]}" >"$work/load.json" 2>"$work/load.err" || true
  json=$(cat "$work/load.json")
  [ -n "$json" ] || echo "    the load generator gave no result: $(tail -c 300 "$work/load.err")"
  local ticks_after=0
  for pid in "${node_pids[@]}"; do ticks_after=$((ticks_after + $(cpu_ticks "$pid"))); done
  result[c$n.${prefix}cpu]=$(python3 -c "import sys; print((int(sys.argv[1]) - int(sys.argv[2])) / int(sys.argv[3]) / (float(sys.argv[5]) - float(sys.argv[4])))" "$ticks_after" "$ticks_before" "$ticks_per_s" "$t0" "$(now_s)")
  result[c$n.${prefix}redis_cpu]=$(python3 -c "import sys; print((int(sys.argv[1]) - int(sys.argv[2])) / int(sys.argv[3]) / (float(sys.argv[5]) - float(sys.argv[4])))" "$(cpu_ticks "$redis_pid")" "$redis_before" "$ticks_per_s" "$t0" "$(now_s)")
  for key in responses_per_s offers_per_s answers_per_s offers_delivered answers_delivered relay_p50_ms relay_p99_ms send_lag_p99_ms failed_connections; do
    result[c$n.$prefix$key]=$(python3 -c "import json,sys; s=sys.argv[1]; print(json.loads(s).get('$key', 'n/a') if s.strip() else 'n/a')" "$json")
  done
  local crossed delivered dropped
  crossed=$(metric_sum '^tracker_cluster_relays_in_total' "${ports[@]}")
  dropped=$(metric_sum '^tracker_cluster_relays_dropped_total' "${ports[@]}")
  delivered=$(metric_sum 'tracker_messages_out_total[{]type="(offer|answer)"' "${ports[@]}")
  result[c$n.${prefix}cross]=$(python3 -c "import sys; c,d=int(sys.argv[1]),int(sys.argv[2]); print(c/d if d else 0)" "$crossed" "$delivered")
  result[c$n.${prefix}dropped]=$dropped
  for pid in "${node_pids[@]}" "$redis_pid"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}

if [ -n "$nodes_list" ]; then
  command -v redis-server >/dev/null || { echo "redis-server is needed (Debian package redis-server)"; exit 1; }
  paced_responses=${BENCH_PACED_RESPONSES:-100000}
  paced_rate=$(python3 -c "import sys; print(round(float(sys.argv[1]) / (1 + 2 * int(sys.argv[2]))))" "$paced_responses" "$offers")
  cols=(aquatic ours)
  command -v aquatic_ws >/dev/null || cols=(ours)
  for t in "${cols[@]}"; do
    echo "==> our load generator against $t (one process, no Redis): closed loop, then $paced_rate announces/s"
    our_load "$t"
    [ -n "${BENCH_PRIORITY:-}" ] && prio=(chrt -r 10)
    our_load "$t" "$paced_rate" paced_
    prio=()
  done
  IFS=, read -r -a node_counts <<<"$nodes_list"
  for n in "${node_counts[@]}"; do
    echo "==> $n node(s) of ours on Redis: closed loop, then $paced_rate announces/s"
    cluster_load "$n" "" ""
    [ -n "${BENCH_PRIORITY:-}" ] && prio=(chrt -r 10)
    cluster_load "$n" "$paced_rate" paced_
    prio=()
    cols+=("c$n")
  done
  echo
  hdr() { printf '%-46s' "$1"; shift; for c in "$@"; do printf ' %13s' "$c"; done; echo; }
  line() { local label=$1 key=$2 kind=$3; printf '%-46s' "$label"; for c in "${cols[@]}"; do
    local v=${result[$c.$key]:-n/a}
    case $kind in
      n) v=$(python3 -c "import sys; v=sys.argv[1]; print(v if v=='n/a' else f'{float(v):.0f}')" "$v");;
      ms) v=$(python3 -c "import sys; v=sys.argv[1]; print(v if v=='n/a' else f'{float(v):.2f}')" "$v");;
      pct) v=$(python3 -c "import sys; v=sys.argv[1]; print(v if v=='n/a' else f'{float(v)*100:.2f} %')" "$v");;
    esac
    printf ' %13s' "$v"; done; echo; }
  names=(); for c in "${cols[@]}"; do case $c in aquatic) names+=(aquatic_ws);; ours) names+=("ours, 1 proc");; *) names+=("${c#c} node(s)+Redis");; esac; done
  hdr "metric (servers on CPU 0, generator on CPU 1)" "${names[@]}"
  echo "closed loop ($connections connections, $torrents torrents, $offers offers per announce):"
  line "  responses/s" responses_per_s n
  line "  servers' CPU busy (nodes, of one core)" cpu pct
  line "  Redis CPU busy (of one core)" redis_cpu pct
  line "  offers delivered / due" offers_delivered pct
  line "  answers delivered / sent" answers_delivered pct
  line "  relay p50 (ms)" relay_p50_ms ms
  line "  relay p99 (ms)" relay_p99_ms ms
  line "  offers+answers that crossed nodes" cross pct
  line "  relays lost between nodes" dropped n
  echo "open loop at $paced_rate announces/s (~$paced_responses responses/s)${BENCH_PRIORITY:+, servers, Redis and generator under chrt -r 10}:"
  line "  responses/s" paced_responses_per_s n
  line "  servers' CPU busy (nodes, of one core)" paced_cpu pct
  line "  Redis CPU busy (of one core)" paced_redis_cpu pct
  line "  offers delivered / due" paced_offers_delivered pct
  line "  answers delivered / sent" paced_answers_delivered pct
  line "  relay p50 (ms)" paced_relay_p50_ms ms
  line "  relay p99 (ms)" paced_relay_p99_ms ms
  line "  generator's send lag p99 (ms)" paced_send_lag_p99_ms ms
  line "  offers+answers that crossed nodes" paced_cross pct
  line "  relays lost between nodes" paced_dropped n
  echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  exit 0
fi

trackers=(aquatic ours)
if [ -n "$only_ours" ] || ! command -v aquatic_ws >/dev/null; then trackers=(ours); fi
only_limits=${BENCH_ONLY_LIMITS:-}
[ -n "$only_limits" ] && trackers=()
for t in "${trackers[@]}"; do
  if command -v aquatic_ws_load_test >/dev/null; then
    echo "==> aquatic_ws_load_test against $t"; aquatic_load "$t"
  fi
  echo "==> our load generator against $t"; our_load "$t"
  echo "==> $idle idle connections against $t"; idle_rss "$t"
done
paced_responses=${BENCH_PACED_RESPONSES:-}
if [ -z "$paced_responses" ] && [ -n "${result[aquatic.responses_per_s]:-}" ]; then
  paced_responses=$(python3 -c "import sys; print(round(1.2 * float(sys.argv[1])))" "${result[aquatic.responses_per_s]}")
fi
if [ -n "$paced_responses" ] && [ -z "$only_limits" ]; then
  paced_rate=$(python3 -c "import sys; print(round(float(sys.argv[1]) / (1 + 2 * int(sys.argv[2]))))" "$paced_responses" "$offers")
  result[paced_target]=$paced_responses
  for t in "${trackers[@]}"; do
    echo "==> our load generator, open loop at $paced_rate announces/s (~$paced_responses responses/s), against $t"
    our_load "$t" "$paced_rate" paced_
  done
  if [ -n "${BENCH_PRIORITY:-}" ]; then
    prio=(chrt -r 10)
    for t in "${trackers[@]}"; do
      echo "==> the same open loop, tracker and generator under chrt -r 10, against $t"
      our_load "$t" "$paced_rate" prio_
    done
    prio=()
  fi
fi

limit_pairs=${BENCH_LIMIT_PAIRS:-3}
# Under BENCH_PRIORITY both sides run at real-time priority here too: without it, the other
# work of a shared machine moves responses/s by far more than the limits cost. Keep
# BENCH_SECONDS short then: this closed loop keeps both cores busy.
[ -n "${BENCH_PRIORITY:-}" ] && prio=(chrt -r 10)
for i in $(seq "$limit_pairs"); do
  for l in on off; do
    echo "==> our load generator against our tracker, rate limits $l ($i of $limit_pairs)"
    if [ $l = on ]; then ours_limits=("${limits_on[@]}"); else ours_limits=("${limits_off[@]}"); fi
    our_load ours "" "lim_${l}_${i}_"
  done
done
ours_limits=("${limits_on[@]}")
prio=()
# limits_summary: medians of step 5 (responses/s, per CPU-second) and the cost of the limits.
limits_summary() {
  local args=()
  for i in $(seq "$limit_pairs"); do
    for l in on off; do
      args+=("$l" "${result[ours.lim_${l}_${i}_responses_per_s]:-n/a}" "${result[ours.lim_${l}_${i}_cpu]:-n/a}")
    done
  done
  python3 - "${args[@]}" <<'PY'
import statistics, sys
runs = {"on": [], "off": []}
a = sys.argv[1:]
for i in range(0, len(a), 3):
    l, rps, cpu = a[i], a[i + 1], a[i + 2]
    if "n/a" not in (rps, cpu) and float(cpu) > 0:
        runs[l].append((float(rps), float(rps) / float(cpu)))
def line(name, vals):
    print(f"{name:<52} " + "  ".join(f"{r:>9.0f} ({c:.0f}/CPU-s)" for r, c in vals))
line("  runs with rate limits on: responses/s", runs["on"])
line("  runs with rate limits off: responses/s", runs["off"])
if runs["on"] and runs["off"]:
    med = {l: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for l, v in runs.items()}
    print(f"{'  median, limits on / off: responses/s':<52} {med['on'][0]:>16.0f} {med['off'][0]:>16.0f}")
    print(f"{'  median, limits on / off: per tracker CPU-second':<52} {med['on'][1]:>16.0f} {med['off'][1]:>16.0f}")
    cost = lambda on, off: f"{(1 - on / off) * 100:+.1f} %"
    print(f"  cost of the rate limits: {cost(med['on'][0], med['off'][0])} of responses/s, "
          f"{cost(med['on'][1], med['off'][1])} of responses per tracker CPU-second (negative: within noise)")
else:
    print("  cost of the rate limits: n/a (a run gave no figures)")
PY
}

val() { echo "${result[$1]:-n/a}"; }
num() { python3 -c "import sys; v=sys.argv[1]; print(v if v=='n/a' else f'{float(v):.{sys.argv[2]}f}')" "$(val "$1")" "$2"; }
ratio_of() { python3 -c "import sys; a,b=sys.argv[1],sys.argv[2]; print('n/a' if 'n/a' in (a,b) or float(b)==0 else f'{float(a)/float(b):.2f}')" "$1" "$2"; }
ratio() { python3 -c "import sys; a,b=sys.argv[1],sys.argv[2]; print('n/a' if 'n/a' in (a,b) or float(b)==0 else f'{float(a)/float(b):.2f}')" "$(val "$1")" "$(val "$2")"; }
per_cpu() { python3 -c "import sys; r,c=sys.argv[1],sys.argv[2]; print('n/a' if 'n/a' in (r,c) or float(c)==0 else f'{float(r)/float(c):.0f}')" "$(val "$1")" "$(val "$2")"; }
pct() { python3 -c "import sys; v=sys.argv[1]; print(v if v=='n/a' else f'{float(v)*100:.2f} %')" "$(val "$1")"; }
row() { printf '%-52s %16s %16s\n' "$1" "$2" "$3"; }
if [ -n "$only_limits" ]; then
  echo
  row "rate limits, our load generator, closed loop ($limit_pairs pairs${BENCH_PRIORITY:+, chrt -r 10}):" "" ""
  limits_summary
  echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  exit 0
fi
echo
row "metric (tracker on 1 core)" swarmcast aquatic_ws
row "responses/s, aquatic_ws_load_test (TLS, 64 conns)" "$(num ours.aq_rps 0)" "$(num aquatic.aq_rps 0)"
row "  tracker CPU busy (share of its core)" "$(pct ours.aq_cpu)" "$(pct aquatic.aq_cpu)"
row "  responses per tracker CPU-second" "$(per_cpu ours.aq_rps ours.aq_cpu)" "$(per_cpu aquatic.aq_rps aquatic.aq_cpu)"
row "responses/s, our load generator (all frames read)" "$(num ours.responses_per_s 0)" "$(num aquatic.responses_per_s 0)"
row "  tracker CPU busy (share of its core)" "$(pct ours.cpu)" "$(pct aquatic.cpu)"
row "  responses per tracker CPU-second" "$(per_cpu ours.responses_per_s ours.cpu)" "$(per_cpu aquatic.responses_per_s aquatic.cpu)"
row "offers delivered/s" "$(num ours.offers_per_s 0)" "$(num aquatic.offers_per_s 0)"
row "answers delivered/s" "$(num ours.answers_per_s 0)" "$(num aquatic.answers_per_s 0)"
row "offers delivered / offers due" "$(pct ours.offers_delivered)" "$(pct aquatic.offers_delivered)"
row "answers delivered / answers sent" "$(pct ours.answers_delivered)" "$(pct aquatic.answers_delivered)"
row "relay latency p50 (ms)" "$(num ours.relay_p50_ms 2)" "$(num aquatic.relay_p50_ms 2)"
row "relay latency p99 (ms)" "$(num ours.relay_p99_ms 2)" "$(num aquatic.relay_p99_ms 2)"
row "  tracker / generator waiting for a CPU (share)" "$(pct ours.tracker_wait) / $(pct ours.gen_wait)" "$(pct aquatic.tracker_wait) / $(pct aquatic.gen_wait)"
row "  of which inside the tracker, p99 (ms)" "$(val ours.inner_p99_ms)" "n/a"
row "RSS per idle connection (bytes, $idle conns)" "$(val ours.idle_bytes)" "$(val aquatic.idle_bytes)"
row "open loop at $(val paced_target) responses/s (1.2 x aquatic's max):" "" ""
row "  responses/s reached" "$(num ours.paced_responses_per_s 0)" "$(num aquatic.paced_responses_per_s 0)"
row "  tracker CPU busy (share of its core)" "$(pct ours.paced_cpu)" "$(pct aquatic.paced_cpu)"
row "  offers delivered / offers due" "$(pct ours.paced_offers_delivered)" "$(pct aquatic.paced_offers_delivered)"
row "  answers delivered / answers sent" "$(pct ours.paced_answers_delivered)" "$(pct aquatic.paced_answers_delivered)"
row "  relay latency p50 (ms)" "$(num ours.paced_relay_p50_ms 2)" "$(num aquatic.paced_relay_p50_ms 2)"
row "  relay latency p99 (ms)" "$(num ours.paced_relay_p99_ms 2)" "$(num aquatic.paced_relay_p99_ms 2)"
row "    of which inside the tracker, p99 (ms)" "$(val ours.paced_inner_p99_ms)" "n/a"
row "  generator's own send lag, p99 (ms)" "$(num ours.paced_send_lag_p99_ms 2)" "$(num aquatic.paced_send_lag_p99_ms 2)"
row "  tracker / generator waiting for a CPU (share)" "$(pct ours.paced_tracker_wait) / $(pct ours.paced_gen_wait)" "$(pct aquatic.paced_tracker_wait) / $(pct aquatic.paced_gen_wait)"
if [ -n "${BENCH_PRIORITY:-}" ]; then
  row "the same open loop under chrt -r 10 (BENCH_PRIORITY):" "" ""
  row "  responses/s reached" "$(num ours.prio_responses_per_s 0)" "$(num aquatic.prio_responses_per_s 0)"
  row "  tracker CPU busy (share of its core)" "$(pct ours.prio_cpu)" "$(pct aquatic.prio_cpu)"
  row "  offers delivered / offers due" "$(pct ours.prio_offers_delivered)" "$(pct aquatic.prio_offers_delivered)"
  row "  answers delivered / answers sent" "$(pct ours.prio_answers_delivered)" "$(pct aquatic.prio_answers_delivered)"
  row "  relay latency p50 (ms)" "$(num ours.prio_relay_p50_ms 2)" "$(num aquatic.prio_relay_p50_ms 2)"
  row "  relay latency p99 (ms)" "$(num ours.prio_relay_p99_ms 2)" "$(num aquatic.prio_relay_p99_ms 2)"
  row "    of which inside the tracker, p99 (ms)" "$(val ours.prio_inner_p99_ms)" "n/a"
  row "  generator's own send lag, p99 (ms)" "$(num ours.prio_send_lag_p99_ms 2)" "$(num aquatic.prio_send_lag_p99_ms 2)"
  row "  tracker / generator waiting for a CPU (share)" "$(pct ours.prio_tracker_wait) / $(pct ours.prio_gen_wait)" "$(pct aquatic.prio_tracker_wait) / $(pct aquatic.prio_gen_wait)"
fi
print_limits() {
  if [ "$limit_pairs" -gt 0 ]; then
    row "rate limits, our load generator, closed loop ($limit_pairs pairs${BENCH_PRIORITY:+, chrt -r 10}):" "" ""
    limits_summary
  fi
}
print_limits
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "ratios ours/aquatic: responses/s (aquatic load test) $(ratio ours.aq_rps aquatic.aq_rps), responses/s (our load) $(ratio ours.responses_per_s aquatic.responses_per_s), responses per tracker CPU-second (aquatic load test) $(ratio_of "$(per_cpu ours.aq_rps ours.aq_cpu)" "$(per_cpu aquatic.aq_rps aquatic.aq_cpu)"), (our load) $(ratio_of "$(per_cpu ours.responses_per_s ours.cpu)" "$(per_cpu aquatic.responses_per_s aquatic.cpu)"), offers/s $(ratio ours.offers_per_s aquatic.offers_per_s), answers/s $(ratio ours.answers_per_s aquatic.answers_per_s), p99 latency $(ratio ours.relay_p99_ms aquatic.relay_p99_ms), RSS per idle connection $(ratio ours.idle_bytes aquatic.idle_bytes), open loop at $(val paced_target) responses/s: responses/s $(ratio ours.paced_responses_per_s aquatic.paced_responses_per_s), p99 latency $(ratio ours.paced_relay_p99_ms aquatic.paced_relay_p99_ms), under chrt: responses/s $(ratio ours.prio_responses_per_s aquatic.prio_responses_per_s), p99 latency $(ratio ours.prio_relay_p99_ms aquatic.prio_relay_p99_ms)"
