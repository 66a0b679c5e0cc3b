#!/usr/bin/env bash
# Instructions the broker spends per one-record Produce request, counted by callgrind (repeatable,
# unlike wall-clock figures on a shared machine). Runs the broker under callgrind twice, with
# N_SMALL and N_LARGE one-record requests (confluent-kafka, linger 0, batch.num.messages=1,
# acks=1, 100-byte values, one partition), and prints (Ir(N_LARGE) - Ir(N_SMALL)) / (N_LARGE -
# N_SMALL): start-up, topic creation and shutdown cancel out.
# Usage: benches/tools/callgrind_produce.sh GREGOR_BINARY [N_SMALL N_LARGE]   (default 200 2200)
# Needs valgrind and a Python with confluent-kafka ($PYTHON, default: the compat-tests venv).
# With KEEP_DIR set, the two callgrind outputs are kept there (cg-N.out) for callgrind_annotate.
set -euo pipefail
bin=$(realpath "$1"); small=${2:-200}; large=${3:-2200}
py=${PYTHON:-$HOME/.cache/gregor-compat/venv/bin/python}
run() {
  local n=$1 dir port pid
  dir=$(mktemp -d /tmp/gregor-cg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" \
    --override "listeners=PLAINTEXT://127.0.0.1:$port" --override "log.dirs=$dir/data" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  "$py" - "$port" "$n" <<'PY'
import sys
from confluent_kafka import Producer
port, n = sys.argv[1], int(sys.argv[2])
p = Producer({"bootstrap.servers": "127.0.0.1:" + port, "linger.ms": 0, "batch.num.messages": 1,
              "acks": 1, "enable.idempotence": False, "broker.address.family": "v4"})
errors = []
for i in range(n):
    p.produce("cg", value=b"x" * 100, partition=0, on_delivery=lambda e, m: e and errors.append(e))
    p.poll(0)
    if i % 100 == 99:
        p.flush(60)
if p.flush(120) or errors:
    sys.exit("undelivered: %s" % errors[:3])
PY
  kill -TERM "$pid"; wait "$pid" || true
  if [ -n "${KEEP_DIR:-}" ]; then mkdir -p "$KEEP_DIR" && cp "$dir/cg.out" "$KEEP_DIR/cg-$n.out"; fi
  callgrind_annotate "$dir/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
  rm -rf "$dir"
}
a=$(run "$small"); b=$(run "$large")
echo "Ir with $small requests: $a; with $large: $b"
echo "instructions per one-record produce request: $(( (b - a) / (large - small) ))"
