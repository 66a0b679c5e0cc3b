#!/usr/bin/env python3
"""Helpers for scenarios.sh: generate input for `kcat -P` and check what `kcat -C -J` read back.

Every check prints one line (the detail for the result) and exits 0 when it holds, 1 when not.

  check.py gen N TAG                      N lines "key<TAB>value" (distinct keys and values)
  check.py same INPUT CONSUMED [START]    the records read (kcat -J lines) are the input lines,
                                          each once, in input order within each partition, at
                                          offsets START, START+1, ... of each partition
  check.py acked INPUT STDERR CONSUMED    every delivery report "(offset N)" of `kcat -P -v -v`
                                          (in input order, one partition) is where that record
                                          was read back
  check.py result ID STATUS DETAIL        one JSON result line (client kcat) on stdout
"""
import json
import re
import sys


def read_input(path):
    with open(path, encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f if line.strip()]


def read_consumed(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def done(ok, detail):
    print(" ".join(str(detail).split()))
    sys.exit(0 if ok else 1)


def gen(n, tag):
    # Values repeat a phrase so that every codec actually compresses them.
    for i in range(int(n)):
        print("%s-key-%05d\t%s-value-%05d-%s" % (tag, i, tag, i, "the quick brown fox " * (1 + i % 5)))


def same(input_path, consumed_path, start="0"):
    """Per partition: offsets START, START+1, ... and the input's order; all input read once."""
    want = read_input(input_path)
    got = read_consumed(consumed_path)
    start = int(start)
    index = {w: i for i, w in enumerate(want)}
    if len(index) != len(want):
        done(False, "test input has duplicate records")
    last = {}
    for g in got:
        p, rec = g.get("partition"), (g.get("key"), g.get("payload"))
        if rec not in index:
            done(False, "read %r/%r at %s:%s, never written" % (rec[0], (rec[1] or "")[:40], p, g.get("offset")))
        expect_off = last[p][0] + 1 if p in last else start
        if g.get("offset") != expect_off:
            done(False, "partition %s: record at offset %s, expected %d" % (p, g.get("offset"), expect_off))
        if p in last and index[rec] <= last[p][1]:
            done(False, "partition %s: %r read after %r, written before it" % (p, rec[0], want[last[p][1]][0]))
        last[p] = (g.get("offset"), index[rec])
    if len(got) != len(want):
        done(False, "read %d records, wrote %d" % (len(got), len(want)))
    done(True, "%d records read back equal, order kept (%d partition(s), from offset %d)"
         % (len(got), len(last), start))


def acked(input_path, stderr_path, consumed_path):
    want = read_input(input_path)
    with open(stderr_path, encoding="utf-8", errors="replace") as f:
        reports = [int(m.group(1)) for m in re.finditer(r"Message delivered to partition \d+ \(offset (-?\d+)\)", f.read())]
    if len(reports) != len(want):
        done(False, "%d delivery reports for %d records" % (len(reports), len(want)))
    by_offset = {g["offset"]: g for g in read_consumed(consumed_path)}
    for (k, v), off in zip(want, reports):
        g = by_offset.get(off)
        if g is None:
            done(False, "record %s acknowledged at offset %d, nothing read there" % (k, off))
        if (g.get("key"), g.get("payload")) != (k, v):
            done(False, "acknowledged offset %d holds %r, wrote %r" % (off, g.get("key"), k))
    if len(by_offset) != len(want):
        done(False, "read %d records, wrote %d" % (len(by_offset), len(want)))
    done(True, "%d records acknowledged at offsets %d..%d, each read back there"
         % (len(want), min(reports), max(reports)))


def result(sid, status, detail):
    print(json.dumps({"client": "kcat", "scenario": sid, "status": status,
                      "detail": " ".join(detail.split())}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"gen": gen, "same": same, "acked": acked, "result": result}[cmd](*args)
