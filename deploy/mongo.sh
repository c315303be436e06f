#!/usr/bin/env bash
# Local MongoDB-compatible server (mongo-java-server 1.47.0, in-memory backend, reports MongoDB 5.0), no
# Docker needed: the jars come from Maven Central (deploy/mongo/pom.xml), deploy/mongo/MongoServerMain.java
# is compiled with javac; Java 17+ (with javac) and Maven are required. Data lives in memory: stop loses it.
#
# Usage: deploy/mongo.sh fetch|start|stop|status|reset|kill
#   fetch   download the jars into $MONGO_HOME/lib (only if missing) and compile the main (if changed)
#   start   start the server in the background and wait until it is ready (no-op if the port answers)
#   stop    SIGTERM, wait up to $MONGO_STOP_TIMEOUT s, then SIGKILL
#   status  print running/stopped (exit 0 / 3)
#   reset   stop and delete this instance's logs (the data went with the process)
#   kill    SIGKILL (crash tests)
#
# Environment (defaults):
#   MONGO_HOME=<repo>/.mongo            jars in lib/, the compiled main in classes/, logs in instances/<MONGO_PORT>/
#   MONGO_HOST=127.0.0.1                 address to bind (mongodb://MONGO_HOST:MONGO_PORT)
#   MONGO_PORT=27017
#   MONGO_HEAP=256m  MONGO_START_TIMEOUT=30  MONGO_STOP_TIMEOUT=10
#   MONGO_LOG_LEVEL=info                 slf4j-simple level (info logs each connection; warn for quiet logs)
# Several instances can run side by side: MONGO_PORT=27018 deploy/mongo.sh start
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CONF_DIR="$SCRIPT_DIR/mongo"
MAIN_SOURCE="$CONF_DIR/MongoServerMain.java"

MONGO_HOME="${MONGO_HOME:-$REPO_ROOT/.mongo}"
MONGO_HOST="${MONGO_HOST:-127.0.0.1}"
MONGO_PORT="${MONGO_PORT:-27017}"
MONGO_HEAP="${MONGO_HEAP:-256m}"
MONGO_START_TIMEOUT="${MONGO_START_TIMEOUT:-30}"
MONGO_STOP_TIMEOUT="${MONGO_STOP_TIMEOUT:-10}"
MONGO_LOG_LEVEL="${MONGO_LOG_LEVEL:-info}"

LIB_DIR="$MONGO_HOME/lib"
LIB_MARKER="$LIB_DIR/.complete"            # written after a successful download
CLASSES_DIR="$MONGO_HOME/classes"
MAIN_CLASS_FILE="$CLASSES_DIR/MongoServerMain.class"
INSTANCE_DIR="$MONGO_HOME/instances/$MONGO_PORT"
PID_FILE="$INSTANCE_DIR/mongo.pid"
OUT_LOG="$INSTANCE_DIR/mongo.log"          # JVM stdout/stderr (READY line, slf4j-simple logs)

log() { echo "[mongo:$MONGO_PORT] $*"; }
die() { echo "[mongo:$MONGO_PORT] error: $*" >&2; exit 1; }

[[ "$MONGO_PORT" =~ ^[0-9]+$ ]] || die "MONGO_PORT must be a number"

# Where to probe: a wildcard bind address answers on loopback.
case "$MONGO_HOST" in
  0.0.0.0) PROBE_HOST=127.0.0.1 ;;
  :: | "[::]") PROBE_HOST=::1 ;;
  *) PROBE_HOST="$MONGO_HOST" ;;
esac

# True if something accepts TCP connections on $PROBE_HOST:$1 (bash's /dev/tcp, no nc needed).
port_open() {
  timeout 1 bash -c "exec 3<>/dev/tcp/$PROBE_HOST/$1" >/dev/null 2>&1
}

# Prints the pid of this instance's server if it is alive, else nothing (returns 1).
# The command line is checked so that a stale pid file never points at an unrelated process.
instance_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    # Zombies and recycled pids have an empty or different command line.
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "MongoServerMain $MONGO_HOST $MONGO_PORT" || return 1
  fi
  echo "$pid"
}

# Compiles MongoServerMain.java into classes/ when the class is missing or older than the source.
compile_main() {
  if [[ -f "$MAIN_CLASS_FILE" && ! "$MAIN_SOURCE" -nt "$MAIN_CLASS_FILE" ]]; then
    return 0
  fi
  command -v javac >/dev/null 2>&1 || die "javac not found (a JDK 17+ is needed, not only a JRE)"
  local tmp="$MONGO_HOME/classes.tmp.$$"
  rm -rf "$tmp"
  log "compiling $(basename "$MAIN_SOURCE") into $CLASSES_DIR"
  if ! javac --release 17 -Xlint:all -d "$tmp" -cp "$LIB_DIR/*" "$MAIN_SOURCE"; then
    rm -rf "$tmp"
    die "javac failed"
  fi
  rm -rf "$CLASSES_DIR"
  mv -T "$tmp" "$CLASSES_DIR"
}

cmd_fetch() {
  mkdir -p "$MONGO_HOME"
  # Serialise concurrent fetches (two instances started at once on a fresh clone).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$MONGO_HOME/.fetch.lock"
    flock 9
  fi
  if [[ -f "$LIB_MARKER" ]]; then
    log "jars already present in $LIB_DIR"
  else
    command -v mvn >/dev/null 2>&1 || die "mvn not found (Maven is needed once to download the jars)"
    # Download into a private folder, then move it into place, so lib/ is never half filled.
    local tmp="$MONGO_HOME/lib.tmp.$$" start=$SECONDS
    rm -rf "$tmp"
    log "downloading mongo-java-server jars from Maven Central into $LIB_DIR (about 3 MB)..."
    # (Debian's Maven prints colour codes even in batch mode: strip them.)
    if ! mvn -q -B -f "$CONF_DIR/pom.xml" dependency:copy-dependencies \
        "-DoutputDirectory=$tmp" -DincludeScope=runtime 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d'; then
      rm -rf "$tmp"
      die "maven download failed"
    fi
    touch "$tmp/.complete"
    rm -rf "$LIB_DIR"                                  # an incomplete leftover (no marker)
    mv -T "$tmp" "$LIB_DIR"
    log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1)) in $((SECONDS - start)) s"
  fi
  compile_main
}

# Waits until the port answers and this run's log has the READY line.
wait_ready() {
  local pid="$1" start=$SECONDS
  echo -n "[mongo:$MONGO_PORT] waiting for the server (pid $pid, up to $MONGO_START_TIMEOUT s)"
  while :; do
    if grep -q "^READY " "$OUT_LOG" 2>/dev/null && port_open "$MONGO_PORT"; then
      echo
      log "ready on mongodb://$PROBE_HOST:$MONGO_PORT after $((SECONDS - start)) s"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null || ! instance_pid >/dev/null; then
      echo
      print_log_tail
      die "the server exited during start-up"
    fi
    if ((SECONDS - start >= MONGO_START_TIMEOUT)); then
      echo
      print_log_tail
      die "not ready after $MONGO_START_TIMEOUT s (pid $pid still running; 'deploy/mongo.sh stop' to end it)"
    fi
    echo -n "."
    sleep 0.2
  done
}

print_log_tail() {
  [[ -s "$OUT_LOG" ]] || return 0
  echo "----- last 30 lines of $OUT_LOG -----" >&2
  tail -n 30 "$OUT_LOG" >&2
}

cmd_start() {
  local pid
  if pid="$(instance_pid)"; then
    if port_open "$MONGO_PORT"; then
      log "already running (pid $pid) on $PROBE_HOST:$MONGO_PORT"
      return 0
    fi
    log "already starting (pid $pid)"
    wait_ready "$pid"
    return 0
  fi
  if port_open "$MONGO_PORT"; then
    log "something already answers on $PROBE_HOST:$MONGO_PORT, not starting another server"
    return 0
  fi

  command -v java >/dev/null 2>&1 || die "java not found (Java 17+ is required)"
  cmd_fetch
  exec 9>&-                                          # release the fetch lock, java must not inherit it
  mkdir -p "$INSTANCE_DIR"

  # One log per run: the previous run's log is kept as *.1.
  if [[ -f "$OUT_LOG" ]]; then mv -f "$OUT_LOG" "$OUT_LOG.1"; fi
  rm -f "$PID_FILE"

  local setsid=()
  if command -v setsid >/dev/null 2>&1; then setsid=(setsid); fi
  log "starting on $MONGO_HOST:$MONGO_PORT (heap $MONGO_HEAP, log $OUT_LOG)"
  # Detached (own session, SIGHUP ignored, no stdin) so it outlives the calling shell. The inner
  # shell writes its own pid and then execs java, so the pid file holds the JVM's pid.
  (
    cd "$INSTANCE_DIR"
    "${setsid[@]}" nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' mongo-start "$PID_FILE" \
      java "-Xmx$MONGO_HEAP" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      "-Dorg.slf4j.simpleLogger.defaultLogLevel=$MONGO_LOG_LEVEL" -Dorg.slf4j.simpleLogger.showDateTime=true \
      "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ" \
      -cp "$CLASSES_DIR:$LIB_DIR/*" MongoServerMain "$MONGO_HOST" "$MONGO_PORT" \
      </dev/null >"$OUT_LOG" 2>&1 &
  )
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.1
  done
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { print_log_tail; die "the server process did not start"; }
  wait_ready "$pid"
}

cmd_stop() {
  local pid
  if ! pid="$(instance_pid)"; then
    rm -f "$PID_FILE"
    if port_open "$MONGO_PORT"; then
      log "not started by this script (no live pid in $PID_FILE), but something answers on port $MONGO_PORT; left alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local start=$SECONDS
  while instance_pid >/dev/null; do
    if ((SECONDS - start >= MONGO_STOP_TIMEOUT)); then
      log "still running after $MONGO_STOP_TIMEOUT s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped after $((SECONDS - start)) s"
}

cmd_kill() {
  local pid
  if ! pid="$(instance_pid)"; then
    log "not running"
    return 0
  fi
  log "killing pid $pid (SIGKILL)"
  kill -KILL "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    instance_pid >/dev/null || break
    sleep 0.1
  done
  rm -f "$PID_FILE"
}

cmd_status() {
  local pid
  if pid="$(instance_pid)"; then
    if port_open "$MONGO_PORT"; then
      echo "running (pid $pid, $PROBE_HOST:$MONGO_PORT)"
    else
      echo "running (pid $pid, starting: port $MONGO_PORT not answering yet)"
    fi
    return 0
  fi
  if port_open "$MONGO_PORT"; then
    echo "running ($PROBE_HOST:$MONGO_PORT answers, not started by this script)"
    return 0
  fi
  echo "stopped"
  return 3
}

cmd_reset() {
  cmd_stop
  [[ -n "$MONGO_PORT" && "$INSTANCE_DIR" == "$MONGO_HOME/instances/"* ]] || die "refusing to delete $INSTANCE_DIR"
  rm -rf "$INSTANCE_DIR"
  log "deleted $INSTANCE_DIR"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  kill) cmd_kill ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
