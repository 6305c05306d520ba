#!/usr/bin/env bash
# Fetch and run the real Zipkin server (io.zipkin:zipkin-server:<v>:jar:exec) for interop tests.
#
#   scripts/zipkin-server.sh fetch    # download the exec jar with Maven into the cache (idempotent)
#   scripts/zipkin-server.sh start    # fetch if needed, start on 127.0.0.1:$ZIPKIN_PORT, wait for /health UP
#   scripts/zipkin-server.sh stop     # stop the server this script started on $ZIPKIN_PORT (its pid file,
#                                     # target/zipkin-server-$ZIPKIN_PORT.pid; log: target/zipkin-server-$ZIPKIN_PORT.log)
#   scripts/zipkin-server.sh status   # exit 0 if a Zipkin server answers /health with UP
#   scripts/zipkin-server.sh url      # print the base URL
#
# Environment (all optional):
#   ZIPKIN_RS_CACHE        cache root (default ~/.cache/zipkin-rs); the jar goes to $ZIPKIN_RS_CACHE/zipkin/
#   ZIPKIN_VERSION         default 3.6.1
#   ZIPKIN_PORT            default 9411
#   ZIPKIN_START_TIMEOUT   seconds to wait for /health UP (default 90)
#   ZIPKIN_JAVA            java binary (default: Temurin 25 if installed, else `java` on PATH)
#   ZIPKIN_HEAP            max heap (default 256m)
#   ZIPKIN_MEM_MAX_SPANS   in-memory span cap (default 100000)
#   ZIPKIN_EXTRA_ARGS      extra server args, e.g. "--logging.level.zipkin2.server.internal.ZipkinHttpCollector=DEBUG"
#   ZIPKIN_KAFKA_BOOTSTRAP Kafka bootstrap servers (host:port[,...]); when set, the server also consumes
#                          spans from Kafka (its KAFKA_BOOTSTRAP_SERVERS); the HTTP collector stays on.
#                          Unset (the default): no Kafka collector, as before.
#   ZIPKIN_KAFKA_TOPIC     topic(s) it consumes, comma-separated (its KAFKA_TOPIC; default zipkin)
#
# With the broker of scripts/kafka.sh (start it first: Zipkin does not create the topic, and its
# /health is DOWN while the Kafka collector cannot reach the broker, so `start` would wait for it
# and `status` says DOWN):
#   bash scripts/kafka.sh start
#   ZIPKIN_KAFKA_BOOTSTRAP="$(bash scripts/kafka.sh bootstrap)" bash scripts/zipkin-server.sh start
# `start` reuses a server already up only if it consumes that bootstrap and topic.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${ZIPKIN_RS_CACHE:-$HOME/.cache/zipkin-rs}"
ZIPKIN_VERSION="${ZIPKIN_VERSION:-3.6.1}"
ZIPKIN_PORT="${ZIPKIN_PORT:-9411}"
ZIPKIN_START_TIMEOUT="${ZIPKIN_START_TIMEOUT:-90}"
ZIPKIN_HEAP="${ZIPKIN_HEAP:-256m}"
ZIPKIN_MEM_MAX_SPANS="${ZIPKIN_MEM_MAX_SPANS:-100000}"
ZIPKIN_KAFKA_BOOTSTRAP="${ZIPKIN_KAFKA_BOOTSTRAP:-}"
ZIPKIN_KAFKA_TOPIC="${ZIPKIN_KAFKA_TOPIC:-zipkin}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
TEMURIN25="/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"

JAR_DIR="$CACHE_ROOT/zipkin"
JAR="$JAR_DIR/zipkin-server-$ZIPKIN_VERSION-exec.jar"
TARGET_DIR="$REPO_ROOT/target"
# One log and pid file per port, so that a second server (say, one consuming Kafka on 9412) is
# started, found and stopped apart from the first.
LOG="$TARGET_DIR/zipkin-server-$ZIPKIN_PORT.log"
PID_FILE="$TARGET_DIR/zipkin-server-$ZIPKIN_PORT.pid"
BASE_URL="http://127.0.0.1:$ZIPKIN_PORT"

# True while the process exists and is not a zombie (an exited child of PID 1 can stay a zombie
# for a second or so before it is reaped; kill -0 still succeeds on it).
running() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

die() { echo "zipkin-server.sh: $*" >&2; exit 1; }

if [[ -n "$ZIPKIN_KAFKA_BOOTSTRAP" ]]; then
  [[ "$ZIPKIN_KAFKA_BOOTSTRAP" =~ ^[^[:space:],]+:[0-9]+(,[^[:space:],]+:[0-9]+)*$ ]] ||
    die "ZIPKIN_KAFKA_BOOTSTRAP=$ZIPKIN_KAFKA_BOOTSTRAP is not host:port[,host:port...]"
  [[ "$ZIPKIN_KAFKA_TOPIC" =~ ^[A-Za-z0-9._,-]+$ ]] || die "ZIPKIN_KAFKA_TOPIC=$ZIPKIN_KAFKA_TOPIC is not a topic list"
fi

health_up() {
  local body
  body="$(curl -fsS --max-time 2 "$BASE_URL/health" 2>/dev/null)" || return 1
  [[ "$body" =~ \"status\"[[:space:]]*:[[:space:]]*\"UP\" ]]
}

# /health in one line, whatever its status (it names each component: storage, collectors).
health_line() {
  curl -sS --max-time 2 "$BASE_URL/health" 2>/dev/null | tr -d '\n' | tr -s ' ' || true
}

# The component name Zipkin's /health gives the Kafka collector we ask for.
kafka_component() { echo "KafkaCollector{bootstrapServers=$ZIPKIN_KAFKA_BOOTSTRAP, topic=$ZIPKIN_KAFKA_TOPIC}"; }

# A pid from the pid file is only trusted if it is still a java process running our jar on
# this port.
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid args
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  args="$(tr '\0' '\n' <"/proc/$pid/cmdline")" || return 1
  grep -q "zipkin-server-.*-exec.jar" <<<"$args" || return 1
  grep -qxF -- "--armeria.ports[0].port=$ZIPKIN_PORT" <<<"$args" || return 1
  echo "$pid"
}

pick_java() {
  if [[ -n "${ZIPKIN_JAVA:-}" ]]; then
    echo "$ZIPKIN_JAVA"
  elif [[ -x "$TEMURIN25" ]]; then
    echo "$TEMURIN25"
  else
    command -v java || die "no java found (install a JDK 17+, preferably 21/25)"
  fi
}

cmd_fetch() {
  if [[ -s "$JAR" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$JAR_DIR"
  local tmp
  tmp="$(mktemp -d "$JAR_DIR/.fetch.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  if ! mvn -B -q "$DEP_PLUGIN:copy" \
      -Dartifact="io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" \
      -DoutputDirectory="$tmp" >"$tmp/mvn.log" 2>&1; then
    tail -n 40 "$tmp/mvn.log" >&2
    die "maven could not fetch io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec"
  fi
  [[ -s "$tmp/zipkin-server-$ZIPKIN_VERSION-exec.jar" ]] || die "maven succeeded but no jar in $tmp"
  mv "$tmp/zipkin-server-$ZIPKIN_VERSION-exec.jar" "$JAR"
  echo "fetched $JAR ($(du -h "$JAR" | cut -f1))"
}

cmd_start() {
  if health_up; then
    local info pid_note=""
    info="$(curl -fsS --max-time 2 "$BASE_URL/info" 2>/dev/null || true)"
    if pid="$(our_pid)"; then pid_note=" (pid $pid, started by this script)"; fi
    if [[ -n "$ZIPKIN_KAFKA_BOOTSTRAP" && "$(health_line)" != *"\"$(kafka_component)\""* ]]; then
      die "a Zipkin server is up at $BASE_URL$pid_note but does not consume topic $ZIPKIN_KAFKA_TOPIC" \
        "from $ZIPKIN_KAFKA_BOOTSTRAP (its /health: $(health_line)); stop it first"
    fi
    echo "reusing Zipkin server already up at $BASE_URL$pid_note ${info}"
    return 0
  fi
  if pid="$(our_pid)"; then
    die "pid file names a running zipkin-server (pid $pid) whose /health is not UP; run '$0 stop' first" \
      "(its /health: $(health_line))"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$ZIPKIN_PORT") 2>/dev/null; then
    die "port $ZIPKIN_PORT is taken by something that is not a healthy Zipkin server"
  fi
  cmd_fetch
  local java
  java="$(pick_java)"
  mkdir -p "$TARGET_DIR"
  rm -f "$PID_FILE"
  local started=$SECONDS
  # -XX:TieredStopAtLevel=1 (C1 only): ~3.0 s instead of ~4 s to /health UP on 2 cores.
  # --armeria.ports[0].ip binds loopback only; the port must then be repeated or Armeria picks a random one.
  # setsid + redirected stdio: the server outlives this script and holds no pipe of the caller open.
  # The Kafka collector is on only when KAFKA_BOOTSTRAP_SERVERS is set; the HTTP one stays on.
  local kafka_env=()
  if [[ -n "$ZIPKIN_KAFKA_BOOTSTRAP" ]]; then
    kafka_env=(KAFKA_BOOTSTRAP_SERVERS="$ZIPKIN_KAFKA_BOOTSTRAP" KAFKA_TOPIC="$ZIPKIN_KAFKA_TOPIC")
  fi
  # shellcheck disable=SC2086
  env "${kafka_env[@]}" STORAGE_TYPE=mem MEM_MAX_SPANS="$ZIPKIN_MEM_MAX_SPANS" QUERY_PORT="$ZIPKIN_PORT" \
    setsid "$java" -Xms64m -Xmx"$ZIPKIN_HEAP" -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1 \
      -jar "$JAR" \
      "--armeria.ports[0].ip=127.0.0.1" "--armeria.ports[0].port=$ZIPKIN_PORT" \
      --logging.level.root=WARN \
      ${ZIPKIN_EXTRA_ARGS:-} \
      </dev/null >"$LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  local kafka_note=""
  [[ -n "$ZIPKIN_KAFKA_BOOTSTRAP" ]] && kafka_note=", consuming Kafka topic $ZIPKIN_KAFKA_TOPIC from $ZIPKIN_KAFKA_BOOTSTRAP"
  while ((SECONDS - started < ZIPKIN_START_TIMEOUT)); do
    if ! running "$pid"; then
      rm -f "$PID_FILE"
      echo "---- tail of $LOG ----" >&2
      tail -n 60 "$LOG" >&2 || true
      die "zipkin-server (pid $pid) exited during startup"
    fi
    if health_up; then
      echo "zipkin-server $ZIPKIN_VERSION up at $BASE_URL (pid $pid, $((SECONDS - started))s, java: $java, log: $LOG$kafka_note)"
      return 0
    fi
    sleep 0.5
  done
  echo "---- tail of $LOG ----" >&2
  tail -n 60 "$LOG" >&2 || true
  local last_health
  last_health="$(health_line)"
  terminate "$pid"
  rm -f "$PID_FILE"
  die "zipkin-server did not report UP on $BASE_URL/health within ${ZIPKIN_START_TIMEOUT}s${last_health:+ (last /health: $last_health)}"
}

# SIGTERM, wait up to 15 s, then SIGKILL.
terminate() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do
    running "$pid" || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  echo "zipkin-server (pid $pid) did not stop on SIGTERM; killed" >&2
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    echo "no zipkin-server started by this script is running"
    return 0
  fi
  terminate "$pid"
  rm -f "$PID_FILE"
  echo "stopped zipkin-server (pid $pid)"
}

cmd_status() {
  local pid_note="not started by this script"
  if pid="$(our_pid)"; then pid_note="pid $pid"; fi
  if health_up; then
    echo "UP at $BASE_URL ($pid_note) $(curl -fsS --max-time 2 "$BASE_URL/info" 2>/dev/null || true)"
    return 0
  fi
  local health
  health="$(health_line)"
  echo "DOWN at $BASE_URL ($pid_note)${health:+ /health: $health}"
  return 1
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) echo "$BASE_URL" ;;
  *) echo "usage: $0 fetch|start|stop|status|url" >&2; exit 2 ;;
esac
