#!/usr/bin/env python3
"""Start-up to first Metadata answer: spawn BINARY 15 times with a fresh data dir, poll Metadata
every 0.5 ms (kprobe from ../shared/bench), print median/min/max ms.
Usage (from the repo root): python3 benches/tools/startup.py target/release/gregor"""
import os, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "bench"))
import kprobe  # noqa: E402

binary = sys.argv[1]
res = []
for _ in range(15):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    d = tempfile.mkdtemp(dir=".")
    env = dict(os.environ, KAFKA_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}", KAFKA_LOG_DIRS=d,
               KAFKA_NODE_ID="1")
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = t0 + 10
    while time.perf_counter() < deadline:
        try:
            kprobe.metadata("127.0.0.1", port)
            break
        except Exception:
            time.sleep(0.0005)
    res.append((time.perf_counter() - t0) * 1000)
    p.terminate(); p.wait()
    subprocess.run(["rm", "-rf", d])
print("median %.1f min %.1f max %.1f ms" % (statistics.median(res), min(res), max(res)))
