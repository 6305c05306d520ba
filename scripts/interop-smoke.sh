#!/usr/bin/env bash
# End-to-end smoke test of the interop setup, all real: Zipkin server + py_zipkin, Brave and
# zipkin-go peers + the py_zipkin blog demo. Chains every order of the three peers with multi and
# then single outgoing B3, checks the traces stored in Zipkin (tests/interop/smoke.py), and leaves
# observed headers and traces in target/interop/. Stops only what it started.
#
# Environment: INTEROP_PORT_BASE (default 18081: peers on base, base+1, base+2),
# DEMO_PORT (5000), SERVICE1_PORT (6000), plus those of zipkin-server.sh and peers.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ZS="$ROOT/scripts/zipkin-server.sh"
PEERS="$ROOT/scripts/peers.sh"
BASE="${INTEROP_PORT_BASE:-18081}"
export DEMO_PORT="${DEMO_PORT:-5000}" SERVICE1_PORT="${SERVICE1_PORT:-6000}"
OUT="$ROOT/target/interop"
mkdir -p "$OUT"

zipkin_was_up=0
"$ZS" status >/dev/null 2>&1 && zipkin_was_up=1
started_ports=()
cleanup() {
  local p
  for p in "${started_ports[@]}"; do "$PEERS" stop "$p" >/dev/null || true; done
  if ((zipkin_was_up == 0)); then "$ZS" stop >/dev/null || true; fi
}
trap cleanup EXIT

"$ZS" start
"$PEERS" install all

start_peers() {
  local fmt=$1
  "$PEERS" start python "$BASE" py-peer "$fmt" >/dev/null
  started_ports+=("$BASE")
  "$PEERS" start java "$((BASE + 1))" brave-peer "$fmt" >/dev/null
  started_ports+=("$((BASE + 1))")
  "$PEERS" start go "$((BASE + 2))" go-peer "$fmt" >/dev/null
  started_ports+=("$((BASE + 2))")
}
stop_peers() {
  local p
  for p in "${started_ports[@]}"; do "$PEERS" stop "$p" >/dev/null; done
  started_ports=()
}
peer_args=(--peer "python=http://127.0.0.1:$BASE" --peer "java=http://127.0.0.1:$((BASE + 1))"
  --peer "go=http://127.0.0.1:$((BASE + 2))")

start_peers multi
python3 "$ROOT/tests/interop/smoke.py" "${peer_args[@]}" --format multi --dump "$OUT/smoke-multi.json"
stop_peers

start_peers single
"$PEERS" start-demo >/dev/null
started_ports+=("$SERVICE1_PORT" "$DEMO_PORT")
python3 "$ROOT/tests/interop/smoke.py" "${peer_args[@]}" --format single \
  --demo "http://localhost:$DEMO_PORT/" --dump "$OUT/smoke-single.json"
