#!/usr/bin/env bash
# Fetch and run a real single-node Apache Kafka broker (KRaft, jars from Maven Central) for the
# Kafka transport's tests: spans go to topic `zipkin`, which the Zipkin server consumes
# (scripts/zipkin-server.sh with ZIPKIN_KAFKA_BOOTSTRAP).
#
#   scripts/kafka.sh fetch       # download kafka_2.13 + kafka-tools with Maven into the cache (idempotent)
#   scripts/kafka.sh start       # fetch if needed, format a fresh node in a new temporary directory, start it
#                                # on 127.0.0.1:$KAFKA_PORT, wait until it answers, create the topic
#   scripts/kafka.sh stop        # stop the broker this script started on $KAFKA_PORT (target/kafka-$KAFKA_PORT.pid)
#                                # and remove its data directory
#   scripts/kafka.sh status      # exit 0 iff a broker answers on the bootstrap address
#   scripts/kafka.sh bootstrap   # print the bootstrap address (127.0.0.1:$KAFKA_PORT)
#   scripts/kafka.sh tool <Class> [args...]
#                                # run a Kafka command-line tool from the fetched jars in the foreground, e.g.
#                                #   scripts/kafka.sh tool ConsoleProducer --bootstrap-server 127.0.0.1:9092 --topic zipkin
#                                #   scripts/kafka.sh tool consumer.ConsoleConsumer --bootstrap-server 127.0.0.1:9092 --topic zipkin --from-beginning
#                                # (a name not starting with org. or kafka. is taken under org.apache.kafka.tools.)
#
# Every start is a fresh broker: its data (and so the topic and its records) lives in a temporary
# directory that `stop` removes. Automatic topic creation is off, so a client that connects
# before the topic exists (Zipkin's consumer after a broker restart, say) cannot create it with
# the wrong partition count.
#
# Environment (all optional):
#   ZIPKIN_RS_CACHE         cache root (default ~/.cache/zipkin-rs); jars go to $ZIPKIN_RS_CACHE/kafka-<version>/lib
#   KAFKA_VERSION           default 4.4.0
#   KAFKA_PORT              PLAINTEXT listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT   KRaft controller listener on 127.0.0.1 (default KAFKA_PORT + 1)
#   KAFKA_START_TIMEOUT     seconds to wait for the broker to answer (default 60)
#   KAFKA_JAVA              java binary (default: `java` on PATH; Kafka 4 needs Java 17+)
#   KAFKA_HEAP              broker max heap (default 384m)
#   KAFKA_TOPIC             topic created by start (default zipkin)
#   KAFKA_PARTITIONS        its partition count (default 6)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${ZIPKIN_RS_CACHE:-$HOME/.cache/zipkin-rs}"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_HEAP="${KAFKA_HEAP:-384m}"
KAFKA_TOPIC="${KAFKA_TOPIC:-zipkin}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-6}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
LOG4J_VERSION="2.25.5" # the log4j2 that kafka 4.4.0 depends on

HOST=127.0.0.1
BOOTSTRAP="$HOST:$KAFKA_PORT"
KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIB_DIR="$KAFKA_HOME/lib"
STAMP="$KAFKA_HOME/.zipkin-rs-complete"
TARGET_DIR="$REPO_ROOT/target"
# One log, pid and data-directory file per port, so that a second broker (the fault tests' own,
# say) is started and stopped apart from the first.
LOG="$TARGET_DIR/kafka-$KAFKA_PORT.log"
PID_FILE="$TARGET_DIR/kafka-$KAFKA_PORT.pid"
DATA_FILE="$TARGET_DIR/kafka-$KAFKA_PORT.datadir" # names the temporary data directory of the running broker
# The command-line tools only need a small, quickly started JVM.
TOOL_OPTS=(-Xms16m -Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1)

die() { echo "kafka.sh: $*" >&2; exit 1; }

for v in KAFKA_PORT KAFKA_START_TIMEOUT KAFKA_PARTITIONS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v=${!v} is not a number"
done
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
[[ "$KAFKA_CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT is not a number"

# True while the process exists and is not a zombie (an exited child of PID 1 can stay a zombie
# for a second or so before it is reaped; kill -0 still succeeds on it).
running() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Sends a Kafka ApiVersions v0 request over a plain TCP connection and checks that the reply
# carries our correlation id: the broker is up and serving requests, not just listening.
# (No JVM: a Kafka tool would take seconds per poll on two cores.)
broker_answers() {
  local reply
  # shellcheck disable=SC2016  # $0/$1 expand in the inner shell
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    # size 18 | api_key 18 (ApiVersions) | version 0 | correlation id "zipk" | client id "kafka.sh"
    printf "\x00\x00\x00\x12\x00\x12\x00\x00\x7a\x69\x70\x6b\x00\x08kafka.sh" >&3
    head -c 8 <&3 | od -An -tx1' "$HOST" "$KAFKA_PORT" 2>/dev/null)" || return 1
  # bytes 0-3: response size; bytes 4-7: the correlation id echoed back
  [[ "$(echo "$reply" | awk '{ print $5 $6 $7 $8 }')" == "7a69706b" ]]
}

port_taken() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# A pid from the pid file is only trusted if it is still a java process running kafka.Kafka with
# the configuration this script wrote.
our_pid() {
  [[ -f "$PID_FILE" && -f "$DATA_FILE" ]] || return 1
  local pid data
  pid="$(cat "$PID_FILE")"
  data="$(cat "$DATA_FILE")"
  [[ "$pid" =~ ^[0-9]+$ && -n "$data" ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  local args
  args="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  grep -qx 'kafka.Kafka' <<<"$args" && grep -qxF "$data/server.properties" <<<"$args" || return 1
  running "$pid" || return 1
  echo "$pid"
}

pick_java() {
  if [[ -n "${KAFKA_JAVA:-}" ]]; then
    [[ -x "$KAFKA_JAVA" ]] || command -v "$KAFKA_JAVA" >/dev/null || die "KAFKA_JAVA=$KAFKA_JAVA is not executable"
    echo "$KAFKA_JAVA"
  else
    command -v java || die "no java found (Kafka $KAFKA_VERSION needs a JDK 17+; or set KAFKA_JAVA)"
  fi
}

# The pom whose runtime dependencies are the broker's class path: the broker (Scala module), the
# command-line tools (StorageTool is in the former; TopicCommand, ConsoleProducer, ... in the
# latter), and the SLF4J binding that Kafka's own distribution adds (without it the broker logs
# nothing at all). Its hash is the install stamp: a changed pom fetches again.
pom() {
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>zipkin-rs.scripts</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
}

cmd_fetch() {
  local fp
  fp="$(pom | sha256sum | cut -d' ' -f1)"
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$fp" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$CACHE_ROOT"
  local tmp started
  started="$(now)"
  tmp="$(mktemp -d "$CACHE_ROOT/.kafka-fetch.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  pom >"$tmp/pom.xml"
  if ! mvn -B -q -f "$tmp/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1; then
    tail -n 40 "$tmp/mvn.log" >&2
    die "maven could not fetch org.apache.kafka:kafka_2.13 / kafka-tools $KAFKA_VERSION"
  fi
  [[ -s "$tmp/lib/kafka_2.13-$KAFKA_VERSION.jar" && -s "$tmp/lib/kafka-tools-$KAFKA_VERSION.jar" ]] ||
    die "maven succeeded but the Kafka jars are not in $tmp/lib"
  rm -rf "$KAFKA_HOME"
  mkdir -p "$KAFKA_HOME"
  mv "$tmp/lib" "$LIB_DIR"
  echo "$fp" >"$STAMP"
  local jars=("$LIB_DIR"/*.jar)
  echo "fetched Kafka $KAFKA_VERSION into $LIB_DIR (${#jars[@]} jars, $(du -sh "$LIB_DIR" | cut -f1), $(since "$started")s)"
}

# A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'
# (what `kafka-storage.sh random-uuid` prints, without starting a JVM for it).
cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && break
  done
  echo "$id"
}

write_config() {
  local data=$1
  cat >"$data/server.properties" <<EOF
# Written by scripts/kafka.sh: one node that is both broker and KRaft controller, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/logs
num.partitions=$KAFKA_PARTITIONS
auto.create.topics.enable=false
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A consumer group (Zipkin's) gets its partitions at once instead of after 3 s.
group.initial.rebalance.delay.ms=0
EOF
  # Kafka 4 logs through log4j2; its distribution's config files are not in the jars.
  cat >"$data/log4j2.properties" <<EOF
status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = warn
EOF
  write_tools_log4j "$data/tools-log4j2.properties"
}

# The tools log warnings and errors only, to standard error.
write_tools_log4j() {
  printf '%s\n' 'status = error' 'appender.err.type = Console' 'appender.err.name = err' \
    'appender.err.target = SYSTEM_ERR' 'appender.err.layout.type = PatternLayout' \
    'appender.err.layout.pattern = %p %m (%c)%n' 'rootLogger.level = warn' \
    'rootLogger.appenderRef.err.ref = err' >"$1"
}

# Runs a Kafka tool class in a small JVM (stdio passed through).
run_tool() {
  local java=$1 log4j=$2 class=$3
  shift 3
  "$java" "${TOOL_OPTS[@]}" -Dlog4j2.configurationFile="$log4j" -cp "$LIB_DIR/*" "$class" "$@"
}

create_topic() {
  local java=$1 data=$2 out
  if ! out="$(run_tool "$java" "$data/tools-log4j2.properties" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$KAFKA_TOPIC" \
      --partitions "$KAFKA_PARTITIONS" --replication-factor 1 2>&1)"; then
    echo "$out" >&2
    die "could not create topic $KAFKA_TOPIC on $BOOTSTRAP"
  fi
}

cmd_start() {
  local pid started java data
  started="$(now)"
  if broker_answers; then
    pid="$(our_pid)" || die "a Kafka broker not started by this script answers on $BOOTSTRAP; stop it or set KAFKA_PORT"
    data="$(cat "$DATA_FILE")"
    create_topic "$(pick_java)" "$data"
    echo "reusing Kafka broker already up at $BOOTSTRAP (pid $pid, started by this script, data $data); topic $KAFKA_TOPIC ensured"
    return 0
  fi
  if pid="$(our_pid)"; then
    die "pid file names a running Kafka broker (pid $pid) that does not answer on $BOOTSTRAP; run '$0 stop' first"
  fi
  port_taken "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by something that does not answer as a Kafka broker"
  port_taken "$KAFKA_CONTROLLER_PORT" && die "controller port $KAFKA_CONTROLLER_PORT is taken (set KAFKA_CONTROLLER_PORT)"
  remove_stale_data
  cmd_fetch
  java="$(pick_java)"
  mkdir -p "$TARGET_DIR"
  data="$(mktemp -d "${TMPDIR:-/tmp}/zipkin-rs-kafka.XXXXXX")"
  echo "$data" >"$DATA_FILE"
  write_config "$data"
  local out
  if ! out="$(run_tool "$java" "$data/tools-log4j2.properties" kafka.tools.StorageTool format --standalone \
      -t "$(cluster_id)" -c "$data/server.properties" 2>&1)"; then
    echo "$out" >&2
    rm -rf "$data"
    rm -f "$DATA_FILE"
    die "formatting the KRaft storage in $data failed"
  fi
  local formatted
  formatted="$(since "$started")"
  # setsid + redirected stdio: the broker outlives this script and holds no pipe of the caller open.
  setsid "$java" -Xms64m -Xmx"$KAFKA_HEAP" -XX:+ExitOnOutOfMemoryError \
    -Dlog4j2.configurationFile="$data/log4j2.properties" \
    -cp "$LIB_DIR/*" kafka.Kafka "$data/server.properties" \
    </dev/null >"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"
  while ! broker_answers; do
    if ! running "$pid"; then
      echo "---- tail of $LOG ----" >&2
      tail -n 60 "$LOG" >&2 || true
      rm -f "$PID_FILE" "$DATA_FILE"
      rm -rf "$data"
      die "Kafka broker (pid $pid) exited during startup"
    fi
    if awk -v s="$(since "$started")" -v t="$KAFKA_START_TIMEOUT" 'BEGIN { exit !(s >= t) }'; then
      echo "---- tail of $LOG ----" >&2
      tail -n 60 "$LOG" >&2 || true
      terminate "$pid"
      rm -f "$PID_FILE" "$DATA_FILE"
      rm -rf "$data"
      die "Kafka broker did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  local answered
  answered="$(since "$started")"
  create_topic "$java" "$data"
  echo "Kafka $KAFKA_VERSION up at $BOOTSTRAP (pid $pid, java: $java, log: $LOG, data: $data)"
  echo "  formatted after ${formatted}s, answering after ${answered}s," \
    "topic $KAFKA_TOPIC ($KAFKA_PARTITIONS partitions) ready after $(since "$started")s"
}

# A data directory left by a broker that died without `stop`.
remove_stale_data() {
  [[ -f "$DATA_FILE" ]] || return 0
  local data
  data="$(cat "$DATA_FILE")"
  if [[ "$data" == "${TMPDIR:-/tmp}"/zipkin-rs-kafka.* && -d "$data" ]]; then
    rm -rf "$data"
  fi
  rm -f "$DATA_FILE" "$PID_FILE"
}

# SIGTERM (a controlled shutdown), wait up to 20 s, then SIGKILL.
terminate() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 80); do
    running "$pid" || return 0
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  echo "Kafka broker (pid $pid) did not stop on SIGTERM; killed" >&2
}

cmd_stop() {
  local pid started
  started="$(now)"
  if ! pid="$(our_pid)"; then
    remove_stale_data
    echo "no Kafka broker started by this script is running"
    return 0
  fi
  terminate "$pid"
  remove_stale_data
  echo "stopped Kafka broker (pid $pid, $(since "$started")s) and removed its data"
}

cmd_status() {
  local pid pid_note="not started by this script"
  if pid="$(our_pid)"; then pid_note="pid $pid, data $(cat "$DATA_FILE")"; fi
  if broker_answers; then
    echo "UP at $BOOTSTRAP ($pid_note)"
    return 0
  fi
  echo "DOWN at $BOOTSTRAP ($pid_note)"
  return 1
}

cmd_tool() {
  (($# >= 1)) || die "usage: $0 tool <Class> [args...]"
  local class=$1 java log4j
  shift
  [[ "$class" =~ ^(org|kafka|com)\. ]] || class="org.apache.kafka.tools.$class"
  cmd_fetch
  java="$(pick_java)"
  mkdir -p "$TARGET_DIR"
  log4j="$TARGET_DIR/kafka-tools-log4j2.properties"
  [[ -f "$log4j" ]] || write_tools_log4j "$log4j"
  run_tool "$java" "$log4j" "$class" "$@"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  tool) shift; cmd_tool "$@" ;;
  *) echo "usage: $0 fetch|start|stop|status|bootstrap|tool <Class> [args...]" >&2; exit 2 ;;
esac
