#!/usr/bin/env bash
# Install and run the interop peers of tests/interop/ (py_zipkin, Brave, zipkin-go).
#
#   scripts/peers.sh install [python|java|go|all]        # idempotent; cached under $ZIPKIN_RS_CACHE
#   scripts/peers.sh start <python|java|go> <port> <service-name> [multi|single]
#                                                        # background, pid/log in target/peers/, waits for /health
#   scripts/peers.sh start-demo                          # the py_zipkin blog demo: service1.py (6000) + demo.py (5000)
#   scripts/peers.sh run <python|java|go|demo|service1>  # exec in the foreground, configured by the environment
#                                                        # (PORT, SERVICE_NAME, ZIPKIN_ENDPOINT, B3_FORMAT, ...)
#   scripts/peers.sh stop <port>                         # stop the peer this script started on <port>
#   scripts/peers.sh stop-all
#   scripts/peers.sh status
#
# Environment (all optional): ZIPKIN_RS_CACHE (default ~/.cache/zipkin-rs), ZIPKIN_ENDPOINT
# (default http://127.0.0.1:9411/api/v2/spans), PEER_START_TIMEOUT (seconds, default 30),
# PYTHON (interpreter for the venv, default python3), JAVA / JAVAC (default java / javac on PATH), GO.
# The demo uses DEMO_PORT (5000), SERVICE1_PORT (6000), SERVICE1_URL, DO_STUFF_SLEEP, INDEX_SLEEP.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP="$REPO_ROOT/tests/interop"
CACHE_ROOT="${ZIPKIN_RS_CACHE:-$HOME/.cache/zipkin-rs}"
VENV="$CACHE_ROOT/python-venv"
JAVA_DIR="$CACHE_ROOT/java"
GO_DIR="$CACHE_ROOT/go"
RUN_DIR="$REPO_ROOT/target/peers"
PEER_START_TIMEOUT="${PEER_START_TIMEOUT:-30}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
PYTHON="${PYTHON:-python3}"
JAVA="${JAVA:-java}"
JAVAC="${JAVAC:-javac}"
GO="${GO:-go}"
export ZIPKIN_ENDPOINT="${ZIPKIN_ENDPOINT:-http://127.0.0.1:9411/api/v2/spans}"

# True while the process exists and is not a zombie (an exited child of PID 1 can stay a zombie
# for a second or so before it is reaped; kill -0 still succeeds on it).
running() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

die() { echo "peers.sh: $*" >&2; exit 1; }

# Runs a command quietly; on failure prints its output and dies.
quiet() {
  local what=$1 out
  shift
  out="$(mktemp)"
  if ! "$@" >"$out" 2>&1; then
    tail -n 60 "$out" >&2
    rm -f "$out"
    die "$what failed: $*"
  fi
  rm -f "$out"
}

# Hash of the given files plus extra strings (tool versions): the install stamp.
fingerprint() {
  local files=() extra=()
  for a in "$@"; do
    if [[ -f "$a" ]]; then files+=("$a"); else extra+=("$a"); fi
  done
  { cat "${files[@]}"; printf '%s\n' "${extra[@]}"; } | sha256sum | cut -d' ' -f1
}

up_to_date() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

install_python() {
  local req="$INTEROP/python/requirements.txt" fp
  fp="$(fingerprint "$req" "$("$PYTHON" --version 2>&1)")"
  up_to_date "$VENV/.zipkin-rs-stamp" "$fp" && return 0
  rm -rf "$VENV"
  quiet "python venv" "$PYTHON" -m venv "$VENV"
  quiet "pip install" "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$req"
  echo "$fp" >"$VENV/.zipkin-rs-stamp"
  echo "installed python peer: $VENV ($("$VENV/bin/python" -m pip show py-zipkin | grep -i '^version'))"
}

install_java() {
  local pom="$INTEROP/java/pom.xml" src="$INTEROP/java/Peer.java" fp
  command -v mvn >/dev/null || die "mvn not found"
  fp="$(fingerprint "$pom" "$src" "$("$JAVAC" -version 2>&1)")"
  up_to_date "$JAVA_DIR/.zipkin-rs-stamp" "$fp" && return 0
  rm -rf "$JAVA_DIR"
  mkdir -p "$JAVA_DIR/lib" "$JAVA_DIR/classes"
  quiet "maven (brave jars)" mvn -B -q -f "$pom" "$DEP_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$JAVA_DIR/lib"
  quiet "javac Peer.java" "$JAVAC" --release 17 -Xlint:all,-try -Werror \
    -cp "$JAVA_DIR/lib/*" -d "$JAVA_DIR/classes" "$src"
  echo "$fp" >"$JAVA_DIR/.zipkin-rs-stamp"
  local jars=("$JAVA_DIR"/lib/*.jar)
  echo "installed java peer: $JAVA_DIR (${jars[*]##*/})"
}

install_go() {
  local dir="$INTEROP/go" fp
  fp="$(fingerprint "$dir/go.mod" "$dir/go.sum" "$dir/peer.go" "$("$GO" version)")"
  up_to_date "$GO_DIR/.zipkin-rs-stamp" "$fp" && return 0
  rm -rf "$GO_DIR"
  mkdir -p "$GO_DIR"
  quiet "go build" env -C "$dir" GOFLAGS="-mod=readonly -buildvcs=false" "$GO" build -trimpath -o "$GO_DIR/peer" .
  echo "$fp" >"$GO_DIR/.zipkin-rs-stamp"
  echo "installed go peer: $GO_DIR/peer"
}

cmd_install() {
  case "${1:-all}" in
    python) install_python ;;
    java) install_java ;;
    go) install_go ;;
    all) install_python; install_java; install_go ;;
    *) die "install: unknown peer '$1' (python|java|go|all)" ;;
  esac
}

# The command line of a peer (after `install`).
peer_cmd() {
  case "$1" in
    python) echo "$VENV/bin/python" -u "$INTEROP/python/peer.py" ;;
    demo) echo "$VENV/bin/python" -u "$INTEROP/python/demo.py" ;;
    service1) echo "$VENV/bin/python" -u "$INTEROP/python/service1.py" ;;
    java) echo "$JAVA" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$JAVA_DIR/classes:$JAVA_DIR/lib/*" Peer ;;
    go) echo "$GO_DIR/peer" ;;
    *) die "unknown peer '$1' (python|java|go|demo|service1)" ;;
  esac
}

ensure_installed() {
  case "$1" in
    python | demo | service1) install_python ;;
    java) install_java ;;
    go) install_go ;;
  esac
}

cmd_run() {
  local lang=${1:?usage: run <python|java|go|demo|service1>}
  ensure_installed "$lang" >&2
  local cmd
  read -r -a cmd <<<"$(peer_cmd "$lang")"
  exec "${cmd[@]}"
}

# pid file line 1: pid; line 2: peer kind; line 3: port.
pid_alive() {
  local pid=$1
  [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]] || return 1
  # a pid recycled by something else must not be killed: it must be one of our peer programs
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq 'peer\.py|demo\.py|service1\.py| Peer( |$)|/go/peer'
}

# start_bg <kind> <port> <probe-url> <strict: 1 = needs 2xx, 0 = any HTTP answer> [VAR=value...]
start_bg() {
  local kind=$1 port=$2 health=$3 strict=$4
  shift 4
  mkdir -p "$RUN_DIR"
  local pid_file="$RUN_DIR/$port.pid" log="$RUN_DIR/$kind-$port.log"
  if [[ -f "$pid_file" ]] && pid_alive "$(head -n1 "$pid_file")"; then
    die "port $port: a peer started by this script is already running (pid $(head -n1 "$pid_file")); stop it first"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use"
  fi
  ensure_installed "$kind"
  local cmd
  read -r -a cmd <<<"$(peer_cmd "$kind")"
  env "$@" setsid "${cmd[@]}" </dev/null >"$log" 2>&1 &
  local pid=$! started=$SECONDS probe_flags=()
  if [[ $strict == 1 ]]; then probe_flags=(--fail); fi
  printf '%s\n%s\n%s\n' "$pid" "$kind" "$port" >"$pid_file"
  while ((SECONDS - started < PEER_START_TIMEOUT)); do
    if ! running "$pid"; then
      rm -f "$pid_file"
      echo "---- $log ----" >&2
      tail -n 40 "$log" >&2 || true
      die "$kind peer on port $port exited during startup"
    fi
    if curl -sS --max-time 2 -o /dev/null "${probe_flags[@]}" "$health" 2>/dev/null; then
      echo "started $kind on 127.0.0.1:$port (pid $pid, log $log)"
      return 0
    fi
    sleep 0.1
  done
  echo "---- $log ----" >&2
  tail -n 40 "$log" >&2 || true
  terminate "$pid"
  rm -f "$pid_file"
  die "$kind peer on port $port did not answer $health within ${PEER_START_TIMEOUT}s"
}

cmd_start() {
  local lang=${1:-} port=${2:-} name=${3:-} fmt=${4:-multi}
  [[ -n "$lang" && -n "$port" && -n "$name" ]] || die "usage: start <python|java|go> <port> <service-name> [multi|single]"
  [[ "$lang" =~ ^(python|java|go)$ ]] || die "start: unknown peer '$lang' (python|java|go)"
  [[ "$port" =~ ^[0-9]+$ ]] || die "start: bad port '$port'"
  [[ "$fmt" =~ ^(multi|single)$ ]] || die "start: b3 format must be multi or single, not '$fmt'"
  start_bg "$lang" "$port" "http://127.0.0.1:$port/health" 1 \
    PORT="$port" SERVICE_NAME="$name" B3_FORMAT="$fmt" ZIPKIN_ENDPOINT="$ZIPKIN_ENDPOINT"
}

cmd_start_demo() {
  local demo_port="${DEMO_PORT:-5000}" s1_port="${SERVICE1_PORT:-6000}"
  local s1_url="${SERVICE1_URL:-http://localhost:$s1_port/service1/}"
  local sleeps=()
  [[ -n "${DO_STUFF_SLEEP:-}" ]] && sleeps+=(DO_STUFF_SLEEP="$DO_STUFF_SLEEP")
  [[ -n "${INDEX_SLEEP:-}" ]] && sleeps+=(INDEX_SLEEP="$INDEX_SLEEP")
  # The demo services have no health route (and GET / on demo would create a trace): any HTTP
  # answer, here a 404, means it is up.
  start_bg service1 "$s1_port" "http://127.0.0.1:$s1_port/not-found" 0 \
    SERVICE1_PORT="$s1_port" ZIPKIN_ENDPOINT="$ZIPKIN_ENDPOINT" "${sleeps[@]}"
  start_bg demo "$demo_port" "http://127.0.0.1:$demo_port/not-found" 0 \
    DEMO_PORT="$demo_port" SERVICE1_URL="$s1_url" ZIPKIN_ENDPOINT="$ZIPKIN_ENDPOINT" "${sleeps[@]}"
}

terminate() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    running "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  echo "peer pid $pid ignored SIGTERM for 10 s; killed" >&2
}

stop_pid_file() {
  local pid_file=$1 pid kind port
  { read -r pid; read -r kind; read -r port; } <"$pid_file" || true
  if pid_alive "$pid"; then
    terminate "$pid"
    echo "stopped $kind on port $port (pid $pid)"
  fi
  rm -f "$pid_file"
}

cmd_stop() {
  local port=${1:?usage: stop <port>}
  [[ -f "$RUN_DIR/$port.pid" ]] || { echo "no peer started by this script on port $port"; return 0; }
  stop_pid_file "$RUN_DIR/$port.pid"
}

cmd_stop_all() {
  shopt -s nullglob
  local f
  for f in "$RUN_DIR"/*.pid; do stop_pid_file "$f"; done
}

cmd_status() {
  shopt -s nullglob
  local f pid kind port any=0
  for f in "$RUN_DIR"/*.pid; do
    { read -r pid; read -r kind; read -r port; } <"$f" || true
    any=1
    if pid_alive "$pid"; then echo "$kind on 127.0.0.1:$port: running (pid $pid)"; else echo "$kind on 127.0.0.1:$port: dead (stale pid file)"; fi
  done
  ((any)) || echo "no peers started"
}

case "${1:-}" in
  install) cmd_install "${2:-all}" ;;
  start) shift; cmd_start "$@" ;;
  start-demo) cmd_start_demo ;;
  run) cmd_run "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  stop-all) cmd_stop_all ;;
  status) cmd_status ;;
  *) sed -n '2,17p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
