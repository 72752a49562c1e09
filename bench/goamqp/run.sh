#!/usr/bin/env bash
# Compare amq with go-amqp (amqbench -engine amq against -engine goamqp) in
# #15's three modes, as alternating pairs against one amqbroker, and print
# each pair's ratios and their medians. See README.md beside this script.
#
# Environment (all optional):
#   PAIRS=10         pairs per mode; each pair runs amq and go-amqp back to
#                    back, and the order flips from one pair to the next
#   DURATION=5s      amqbench -duration of each run
#   SIZE=100         amqbench -size (body bytes)
#   MODES="window1000 presettled window1"   which modes, in this order
#   TRANSPORT=amqp   amqp (TCP) or amqpws (AMQP over WebSockets; go-amqp,
#                    which has no WebSocket transport, runs over amq's)
#   WORK=/tmp/amq-goamqp   where binaries, JSON reports and results go
#   RUN_TIMEOUT=120  seconds before a single run is killed
set -euo pipefail

PAIRS=${PAIRS:-10}
DURATION=${DURATION:-5s}
SIZE=${SIZE:-100}
MODES=${MODES:-window1000 presettled window1}
TRANSPORT=${TRANSPORT:-amqp}
WORK=${WORK:-/tmp/amq-goamqp}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../broker.sh
. "$REPO/bench/broker.sh"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

BROKER_PID=
RUN_PID=
cleanup() {
  [ -n "$RUN_PID" ] && kill -TERM "$RUN_PID" 2>/dev/null || true
  if [ -n "$BROKER_PID" ]; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mode_flags() { # mode
  case "$1" in
    window1000) echo "-window 1000" ;;
    presettled) echo "-presettled" ;;
    window1) echo "-window 1" ;;
    *) die "unknown mode $1 (window1000, presettled or window1)" ;;
  esac
}
for m in $MODES; do mode_flags "$m" >/dev/null; done
case "$TRANSPORT" in amqp | amqpws) ;; *) die "TRANSPORT is amqp or amqpws, not $TRANSPORT" ;; esac
mode_label() { # mode
  case "$1" in
    window1000) echo "window 1000" ;;
    presettled) echo "pre-settled" ;;
    window1) echo "window 1" ;;
  esac
}

mkdir -p "$WORK"
build_tools
start_broker "$TRANSPORT"

jnum() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" "$2"; }
RESULTS="$WORK/results.tsv"
printf 'mode\tpair\tengine\tmsgs_per_s\tcpu_us_per_msg\tallocs_per_msg\tp50_us\n' >"$RESULTS"

run() { # mode pair engine
  local mode=$1 pair=$2 engine=$3 rc=0 out="$WORK/$1-$2-$3.json"
  # shellcheck disable=SC2046 # mode_flags is meant to be split
  timeout "$RUN_TIMEOUT" "$WORK/amqbench" -url "$URL" -address "$mode-$pair-$engine-$$" \
    -engine "$engine" -duration "$DURATION" -size "$SIZE" $(mode_flags "$mode") \
    -label "$engine, $(mode_label "$mode") #$pair" -json </dev/null >"$out" 2>"$WORK/amqbench.err" &
  RUN_PID=$!
  wait "$RUN_PID" || rc=$?
  RUN_PID=
  if [ "$rc" != 0 ] || [ "$(jnum lost "$out")" != 0 ]; then
    cat "$out" "$WORK/amqbench.err" >&2
    die "amqbench $engine $mode pair $pair failed (exit $rc)"
  fi
  printf '%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%.0f\n' "$mode" "$pair" "$engine" \
    "$(jnum throughput_msgs_per_s "$out")" "$(jnum cpu_us_per_msg "$out")" \
    "$(jnum allocs_per_msg "$out")" "$(jnum latency_p50_us "$out")" >>"$RESULTS"
}

for mode in $MODES; do
  for pair in $(seq "$PAIRS"); do
    log "$mode pair $pair/$PAIRS"
    if [ $((pair % 2)) = 1 ]; then
      run "$mode" "$pair" amq; run "$mode" "$pair" goamqp
    else
      run "$mode" "$pair" goamqp; run "$mode" "$pair" amq
    fi
  done
done

echo
echo "broker $URL, $(nproc) CPUs; amqbench -duration $DURATION -size $SIZE; $PAIRS pairs per mode"
awk -F'\t' '
  function median(a, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  NR > 1 { if (!($1 in seen)) { seen[$1] = 1; order[++m] = $1 }
           T[$1, $2, $3] = $4; C[$1, $2, $3] = $5; A[$1, $2, $3] = $6; P[$1, $2, $3] = $7
           if ($2 > pairs[$1]) pairs[$1] = $2 }
  END {
    target["window1000"] = "tput >= 4, cpu <= 0.25"; target["presettled"] = "tput >= 4"; target["window1"] = "tput >= 1.2"
    for (i = 1; i <= m; i++) {
      mo = order[i]; k = pairs[mo]; line = ""
      for (p = 1; p <= k; p++) {
        tr[p] = T[mo, p, "amq"] / T[mo, p, "goamqp"]; cr[p] = C[mo, p, "amq"] / C[mo, p, "goamqp"]
        line = line sprintf(" %.2f", tr[p])
        ta[p] = T[mo, p, "amq"]; tg[p] = T[mo, p, "goamqp"]; aa[p] = A[mo, p, "amq"]; ag[p] = A[mo, p, "goamqp"]
        pa[p] = P[mo, p, "amq"]; pg[p] = P[mo, p, "goamqp"]
      }
      printf "%s: amq/go-amqp throughput per pair:%s\n", mo, line
      printf "  median: amq %.0f msg/s, go-amqp %.0f msg/s; throughput %.2fx, cpu per message %.2fx; allocs %.1f / %.1f; p50 %.0f / %.0f us  (target: %s)\n",
        median(ta, k), median(tg, k), median(tr, k), median(cr, k), median(aa, k), median(ag, k), median(pa, k), median(pg, k), target[mo]
    }
  }' "$RESULTS"
echo
echo "per-run rows: $RESULTS; amqbench JSON (for amqbench -chart): $WORK/*.json"
