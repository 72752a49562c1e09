#!/usr/bin/env bash
# Compare the Qpid Proton C example clients (send + receive) with amqbench
# (engine amq, and engine goamqp for reference) against one amqbroker.
# See README.md beside this script for what the figures mean.
#
# Environment (all optional):
#   N=500000        messages per Proton C run (send N, receive N)
#   REPS=3          repetitions; each runs every client once, back to back
#   DURATION=5s     amqbench -duration
#   WINDOW=1000     amqbench -window
#   SIZE=100        amqbench -size (body bytes)
#   EQ_SIZE=41      extra amq run whose transfer payload equals Proton C's
#                   (41-byte data body = 46 bytes encoded); empty to skip
#   GOAMQP=1        also run amqbench -engine goamqp; 0 to skip
#   WORK=/tmp/amq-protonc   where binaries, logs and results go
#   RUN_TIMEOUT=300 seconds before a single client run is killed
set -euo pipefail

N=${N:-500000}
REPS=${REPS:-3}
DURATION=${DURATION:-5s}
WINDOW=${WINDOW:-1000}
SIZE=${SIZE:-100}
EQ_SIZE=${EQ_SIZE-41}
GOAMQP=${GOAMQP:-1}
WORK=${WORK:-/tmp/amq-protonc}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../broker.sh
. "$REPO/bench/broker.sh"
EX=/usr/share/proton/examples/c

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# --- cleanup -----------------------------------------------------------------
# Every background process this script starts is recorded here. Clients run
# under timeout(1), which leads its own process group and passes a TERM on to
# the whole group (/usr/bin/time and the client under it).
PIDS=()
BROKER_PID=
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -n "$BROKER_PID" ]; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. packages ---------------------------------------------------------------
need=()
for pkg in libqpid-proton11-dev libqpid-proton11-dev-examples gcc pkg-config time; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages (run as root or install them): ${need[*]}"
  log "installing ${need[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >&2; then
    apt-get update -qq </dev/null >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >&2
  fi
fi

# --- 2. builds -------------------------------------------------------------------
mkdir -p "$WORK"
for prog in send receive; do
  src="$EX/$prog.c"
  [ -f "$src" ] || die "$src not found (libqpid-proton11-dev-examples)"
  bin="$WORK/$prog"
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    log "building $bin from $src"
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    gcc -O2 -o "$bin.tmp" "$src" -I"$EX" $(pkg-config --cflags --libs libqpid-proton) -lpthread
    mv "$bin.tmp" "$bin"
  fi
done
build_tools

# --- 3. broker -------------------------------------------------------------------
start_broker amqp
HOSTPORT=${URL#amqp://}
HOST=${HOSTPORT%:*}
PORT=${HOSTPORT##*:}

# --- helpers ---------------------------------------------------------------------
TICK=$(getconf CLK_TCK)
# broker_cpu_s: user+sys seconds the broker has used so far.
broker_cpu_s() { awk -v t="$TICK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$BROKER_PID/stat"; }
now_ns() { date +%s%N; }
jnum() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" "$2"; }
RESULTS="$WORK/results.tsv"
printf 'rep\tclient\tbody\tmsgs\twall_s\tmsgs_per_s\tclient_cpu_us_per_msg\tbroker_cpu_us_per_msg\n' >"$RESULTS"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

run_protonc() { # rep
  local rep=$1 addr="protonc-$1-$$" rp sp t0 t1 b0 b1 rc=0
  b0=$(broker_cpu_s)
  t0=$(now_ns)
  timeout "$RUN_TIMEOUT" /usr/bin/time -f '%e %U %S %M' -o "$WORK/receive.time" \
    "$WORK/receive" "$HOST" "$PORT" "$addr" "$N" </dev/null >"$WORK/receive.out" 2>"$WORK/receive.err" &
  rp=$!; PIDS+=("$rp")
  timeout "$RUN_TIMEOUT" /usr/bin/time -f '%e %U %S %M' -o "$WORK/send.time" \
    "$WORK/send" "$HOST" "$PORT" "$addr" "$N" </dev/null >"$WORK/send.out" 2>"$WORK/send.err" &
  sp=$!; PIDS+=("$sp")
  wait "$rp" || rc=$?
  wait "$sp" || rc=$?
  t1=$(now_ns)
  b1=$(broker_cpu_s)
  PIDS=()
  grep -qx "$N messages received" "$WORK/receive.out" || rc=1
  grep -qx "$N messages sent and acknowledged" "$WORK/send.out" || rc=1
  if [ "$rc" != 0 ]; then
    tail -3 "$WORK/receive.out" "$WORK/receive.err" "$WORK/send.out" "$WORK/send.err" >&2
    die "Proton C run $rep failed"
  fi
  read -r _ ru rs rm <"$WORK/receive.time"
  read -r _ su ss sm <"$WORK/send.time"
  log "protonc rep $rep: receive user ${ru}s sys ${rs}s maxrss ${rm}KB; send user ${su}s sys ${ss}s maxrss ${sm}KB"
  awk -v rep="$rep" -v n="$N" -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" \
      -v ru="$ru" -v rs="$rs" -v su="$su" -v ss="$ss" 'BEGIN {
    w = (t1 - t0) / 1e9; c = ru + rs + su + ss
    printf "%s\tprotonc\tamqp-value map, 36-46 B encoded\t%d\t%.3f\t%.0f\t%.2f\t%.2f\n",
      rep, n, w, n / w, c * 1e6 / n, (b1 - b0) * 1e6 / n }' >>"$RESULTS"
  rm -f "$WORK/receive.out"
}

run_amqbench() { # rep engine size label
  local rep=$1 engine=$2 size=$3 label=$4 p b0 b1 rc=0 out="$WORK/amqbench-$2-$3-$1.json"
  b0=$(broker_cpu_s)
  timeout "$RUN_TIMEOUT" "$WORK/amqbench" -url "$URL" -address "$label-$rep-$$" -engine "$engine" \
    -duration "$DURATION" -window "$WINDOW" -size "$size" -json </dev/null >"$out" 2>"$WORK/amqbench.err" &
  p=$!; PIDS+=("$p")
  wait "$p" || rc=$?
  PIDS=()
  b1=$(broker_cpu_s)
  if [ "$rc" != 0 ] || [ "$(jnum lost "$out")" != 0 ]; then
    cat "$out" "$WORK/amqbench.err" >&2
    die "amqbench $engine run $rep failed (exit $rc)"
  fi
  awk -v rep="$rep" -v label="$label" -v size="$size" -v n="$(jnum received "$out")" \
      -v w="$(jnum elapsed_s "$out")" -v tp="$(jnum throughput_msgs_per_s "$out")" \
      -v cpu="$(jnum cpu_us_per_msg "$out")" -v b0="$b0" -v b1="$b1" 'BEGIN {
    printf "%s\t%s\tdata %d B, %d B encoded\t%d\t%.3f\t%.0f\t%.2f\t%.2f\n",
      rep, label, size, size + (size < 256 ? 5 : 8), n, w, tp, cpu, (b1 - b0) * 1e6 / n }' >>"$RESULTS"
}

# --- 4. runs ---------------------------------------------------------------------
# Alternate which side goes first, so that neither always follows the other.
for rep in $(seq "$REPS"); do
  log "rep $rep/$REPS"
  if [ $((rep % 2)) = 1 ]; then
    run_protonc "$rep"
    run_amqbench "$rep" amq "$SIZE" amq
  else
    run_amqbench "$rep" amq "$SIZE" amq
    run_protonc "$rep"
  fi
  if [ "$GOAMQP" = 1 ]; then run_amqbench "$rep" goamqp "$SIZE" goamqp; fi
  if [ -n "$EQ_SIZE" ]; then run_amqbench "$rep" amq "$EQ_SIZE" "amq-${EQ_SIZE}B"; fi
done

# --- 5. report -------------------------------------------------------------------
echo
echo "broker $URL, $(nproc) CPUs; Proton C N=$N; amqbench -duration $DURATION -window $WINDOW"
if command -v column >/dev/null; then column -t -s $'\t' "$RESULTS"; else cat "$RESULTS"; fi
echo
awk -F'\t' '
  function median(a, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  NR > 1 { c = $2; if (!(c in n)) order[++m] = c; k = ++n[c]; tp[c, k] = $6; cpu[c, k] = $7; br[c, k] = $8
           RT[$1, c] = $6; RC[$1, c] = $7; if ($1 > reps) reps = $1 }
  END {
    # Paired ratios: each repetition against the Proton C run next to it.
    for (r = 1; r <= reps; r++) {
      printf "rep %d amq/protonc: tput %.2f  cpu %.2f\n", r, RT[r, "amq"] / RT[r, "protonc"], RC[r, "amq"] / RC[r, "protonc"]
    }
    print ""
    printf "%-10s %12s %18s %18s %14s %10s\n", "median", "msg/s", "client_us/msg", "broker_us/msg", "tput/protonc", "cpu/protonc"
    for (i = 1; i <= m; i++) {
      c = order[i]
      for (k = 1; k <= n[c]; k++) { a[k] = tp[c, k] } ; T[c] = median(a, n[c])
      for (k = 1; k <= n[c]; k++) { a[k] = cpu[c, k] }; C[c] = median(a, n[c])
      for (k = 1; k <= n[c]; k++) { a[k] = br[c, k] } ; B[c] = median(a, n[c])
    }
    for (i = 1; i <= m; i++) {
      c = order[i]
      printf "%-10s %12.0f %18.2f %18.2f %14.2f %10.2f\n", c, T[c], C[c], B[c], T[c] / T["protonc"], C[c] / C["protonc"]
    }
    printf "\nissue target: amq tput/protonc >= 1.00 (%s), amq cpu/protonc <= 1.00 (%s)\n",
      (T["amq"] >= T["protonc"] ? "met" : "NOT met"), (C["amq"] <= C["protonc"] ? "met" : "NOT met")
  }' "$RESULTS"
echo
echo "per-run rows: $RESULTS; amqbench JSON: $WORK/amqbench-*.json"
