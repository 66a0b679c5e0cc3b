#!/usr/bin/env bash
# Runs every test of Gregor on a fresh machine, installing what it needs first.
# Usage: ./test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")"

# librdkafka (through rdkafka-sys, used by the tests) builds from source with a C toolchain.
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "test.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi

# One release build serves the unit tests, the integration tests and the crash test's child
# broker (cargo hands it the release binary). The container test builds its own static binary.
cargo test --release "$@"

# Seeded fault schedules against in-process 3-node clusters (gregor-chaos; chaos/RESULTS.md):
# a short fixed run of 12 (about 3 minutes). The 1,000-schedule run is a separate command (README).
cargo run --release --bin gregor-chaos -- --schedules 12 --seed 1

# The compatibility suite: six independent clients against a release broker; writes
# compat-tests/REPORT.md and fails on any failure a client's allow-list does not name.
compat-tests/run

# kafka-python against a three-node cluster the script starts itself (coordinator elsewhere,
# leader and coordinator killed with SIGKILL).
compat-tests/cluster/run
