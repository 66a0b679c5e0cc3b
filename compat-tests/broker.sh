#!/usr/bin/env bash
# Controls the broker the compatibility suite runs against.
#   broker.sh start BIN PORT DATA_DIR LOG_FILE   starts it, writes its PID to DATA_DIR.pid, waits until it accepts
#   broker.sh restart                             (uses GREGOR_STATE) SIGTERM, wait, start again on the same port and data
#   broker.sh stop                                (uses GREGOR_STATE) SIGTERM, wait (SIGKILL after 15 s)
# GREGOR_STATE names a file holding "BIN PORT DATA_DIR LOG_FILE" (written by start).
set -euo pipefail

wait_accepting() {
  local port=$1 pid=$2
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then echo "broker.sh: broker exited during start-up" >&2; return 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "broker.sh: broker not accepting on $port after 30 s" >&2
  return 1
}

start() {
  local bin=$1 port=$2 data=$3 log=$4
  mkdir -p "$data"
  env -u KAFKA_HEAP_OPTS RUST_LOG=${RUST_LOG:-warn} "$bin" \
    --override "listeners=PLAINTEXT://127.0.0.1:$port" \
    --override "log.dirs=$data" \
    --override "group.min.session.timeout.ms=1000" \
    --override "group.consumer.min.heartbeat.interval.ms=500" \
    --override "group.consumer.heartbeat.interval.ms=500" \
    >>"$log" 2>&1 &
  local pid=$!
  echo "$pid" >"$data.pid"
  echo "$bin $port $data $log" >"${GREGOR_STATE:?}"
  wait_accepting "$port" "$pid"
}

stop() {
  read -r _bin _port data _log <"${GREGOR_STATE:?}"
  local pid
  pid=$(cat "$data.pid")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  restart)
    read -r bin port data log <"${GREGOR_STATE:?}"
    stop
    start "$bin" "$port" "$data" "$log"
    ;;
  *) echo "usage: broker.sh start BIN PORT DATA_DIR LOG | restart | stop" >&2; exit 2 ;;
esac
