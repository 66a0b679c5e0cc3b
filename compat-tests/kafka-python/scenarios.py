#!/usr/bin/env python3
"""Gregor compatibility scenarios for kafka-python 3.x (pure Python).

Usage: scenarios.py RESULTS_FILE [SCENARIO...]
Appends one JSON line per scenario of ../scenarios.txt to RESULTS_FILE. Each scenario runs in its
own thread under a watchdog (SCENARIO_SECONDS); a scenario that raises or times out is a `fail`.
Environment: GREGOR_BOOTSTRAP, GREGOR_PREFIX, GREGOR_CTL (see ../README.md).
"""
import json
import logging
import os
import random
import string
import subprocess
import sys
import threading
import time
import traceback

import kafka
import kafka.errors as Errors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.structs import OffsetAndMetadata

CLIENT = "kafka-python"
SCENARIO_SECONDS = 60
BOOTSTRAP = os.environ.get("GREGOR_BOOTSTRAP", "127.0.0.1:9092")
PREFIX = os.environ.get("GREGOR_PREFIX", CLIENT + "-")
RUN = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))
CREATE_TIME, LOG_APPEND_TIME = 0, 1  # ConsumerRecord.timestamp_type


class Unsupported(Exception):
    """The client lacks the feature the scenario needs."""


def name(base):
    return "%s%s-%s" % (PREFIX, base, RUN)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# ---------------------------------------------------------------------------------------------
# Kafka's murmur2 partitioner, computed independently of the client.

def murmur2(data):
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as an unsigned 32-bit int."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = data[4 * i] | (data[4 * i + 1] << 8) | (data[4 * i + 2] << 16) | (data[4 * i + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    tail = length & ~3
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def signed32(x):
    return x - (1 << 32) if x & 0x80000000 else x


# Vectors from Kafka's UtilsTest.testMurmur2.
MURMUR2_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def murmur2_partition(key, n):
    return (murmur2(key) & 0x7FFFFFFF) % n


# ---------------------------------------------------------------------------------------------
# Helpers

_admin = None


def admin():
    global _admin
    if _admin is None:
        _admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)
    return _admin


def wait_topic(topic, partitions, timeout=15.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        ts = admin().describe_topics([topic])
        t = ts[0] if ts else None
        if t and t["error_code"] == 0 and len(t["partitions"]) == partitions and all(
            p["leader_id"] >= 0 for p in t["partitions"]
        ):
            return
        last = t and (t["error_code"], len(t["partitions"]))
        time.sleep(0.1)
    raise AssertionError("topic %s not ready with %d partitions: %s" % (topic, partitions, last))


def create_topic(topic, partitions, configs=None):
    admin().create_topics({topic: {"num_partitions": partitions, "replication_factor": 1, "configs": configs or {}}})
    wait_topic(topic, partitions)


def producer(**conf):
    c = {"bootstrap_servers": BOOTSTRAP, "linger_ms": 5, "request_timeout_ms": 15000}
    c.update(conf)
    return KafkaProducer(**c)


def consumer(**conf):
    c = {
        "bootstrap_servers": BOOTSTRAP,
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": 15000,
    }
    c.update(conf)
    return KafkaConsumer(**c)


def produce_all(p, topic, records, timeout=30, close=True):
    """records: list of dicts with send() kwargs. Returns RecordMetadata per record, in order."""
    futs = [p.send(topic, **r) for r in records]
    p.flush(timeout=timeout)
    out = [f.get(timeout=timeout) for f in futs]
    if close:
        p.close(timeout=5)
    return out


# kafka-python 3.0.12 can lose a group leader's SyncGroup response when poll()'s timeout expires
# while its JoinGroup/SyncGroup task is in flight: the member then hangs until the broker expels it
# (seen with poll(timeout_ms=100) in about 1 of 15 joins; Gregor had sent the response, see
# FINDINGS.md). Polling with 1 s timeouts keeps the task awaited through the round trip.
POLL_MS = 1000


def read(c, count, timeout=30.0):
    msgs = []
    deadline = time.time() + timeout
    while len(msgs) < count and time.time() < deadline:
        for recs in c.poll(timeout_ms=POLL_MS).values():
            msgs.extend(recs)
    return msgs


def consume_assigned(topic, partitions, count, timeout=30.0, c=None):
    """Reads `count` records from the start of the partitions, then polls a little longer to see
    that nothing more arrives."""
    own = c is None
    if own:
        c = consumer()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        msgs = read(c, count, timeout)
        check(len(msgs) == count, "read %d of %d records" % (len(msgs), count))
        extra = read(c, 1, 0.5)
        check(not extra, "read %d more records than produced" % len(extra))
        return msgs
    finally:
        if own:
            c.close()


def verify_against_metadata(records, metas, msgs):
    """Every consumed record is at the offset its acknowledgement named, with the key and value
    written; per partition, production order is kept."""
    by_pos = {}
    for r, md in zip(records, metas):
        by_pos[(md.partition, md.offset)] = r
    check(len(by_pos) == len(records), "acknowledgements name duplicate offsets")
    for m in msgs:
        r = by_pos.get((m.partition, m.offset))
        check(r is not None, "record at %d/%d was never acknowledged there" % (m.partition, m.offset))
        check(m.key == r.get("key"), "key at %d/%d: %r != %r" % (m.partition, m.offset, m.key, r.get("key")))
        check(m.value == r.get("value"), "value differs at %d/%d" % (m.partition, m.offset))
    written = {}
    for md in metas:
        written.setdefault(md.partition, []).append(md.offset)
    for part, offs in written.items():
        check(offs == sorted(offs), "partition %d: offsets not in production order" % part)
    seen = {}
    for m in msgs:
        seen.setdefault(m.partition, []).append(m.offset)
    for part, offs in seen.items():
        check(offs == sorted(offs), "partition %d: records read out of order" % part)


def keyed_records(n, value_size=100):
    out = []
    for i in range(n):
        key = ("key-%d" % (i % 50)).encode()
        value = ("value-%06d-" % i).encode() + bytes(random.choice(b"abcdefgh") for _ in range(value_size))
        out.append({"key": key, "value": value})
    return out


# ---------------------------------------------------------------------------------------------
# Scenarios

def s_metadata():
    topic = name("metadata")
    create_topic(topic, 2)
    cl = admin().describe_cluster()
    brokers = ["%s:%d" % (b["host"], b["port"]) for b in cl["brokers"]]
    check(BOOTSTRAP in brokers, "broker list %s lacks %s" % (brokers, BOOTSTRAP))
    check(cl.get("cluster_id"), "no cluster id")
    check(cl.get("controller_id") in [b["broker_id"] for b in cl["brokers"]], "controller %s" % cl.get("controller_id"))
    check(topic in admin().list_topics(), "admin topic listing lacks %s" % topic)
    c = consumer()
    try:
        check(topic in c.topics(), "consumer topic listing lacks %s" % topic)
        check(c.partitions_for_topic(topic) == {0, 1}, "partitions %s" % c.partitions_for_topic(topic))
    finally:
        c.close()
    return "brokers %s, cluster id %s, controller %s" % (brokers, cl["cluster_id"], cl["controller_id"])


def s_create_topic():
    topic = name("create")
    create_topic(topic, 3, {"retention.ms": "3600000"})
    t = admin().describe_topics([topic])[0]
    check(len(t["partitions"]) == 3, "partitions %d" % len(t["partitions"]))
    cfg = admin().describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    r = cfg["topic"][topic].get("retention.ms")
    check(r is not None and r["value"] == "3600000", "retention.ms %r" % r)
    try:
        admin().create_topics({topic: {"num_partitions": 3, "replication_factor": 1}})
        raise AssertionError("second create of %s succeeded" % topic)
    except Errors.TopicAlreadyExistsError:
        pass
    return "3 partitions, retention.ms=3600000; duplicate create refused"


def s_delete_topic():
    topic = name("delete")
    create_topic(topic, 3)
    res = admin().delete_topics([topic])
    check(all(t["error_code"] == 0 for t in res["topics"]), "delete result %s" % res)
    deadline = time.time() + 15
    while topic in admin().list_topics():
        check(time.time() < deadline, "topic still listed 15 s after deletion")
        time.sleep(0.2)
    deadline = time.time() + 15
    while True:
        try:
            create_topic(topic, 2)
            break
        except Errors.TopicAlreadyExistsError:
            check(time.time() < deadline, "re-create refused for 15 s")
            time.sleep(0.3)
    metas = produce_all(producer(), topic, [{"key": b"k", "value": b"after-recreate", "partition": 1}])
    msgs = consume_assigned(topic, 2, 1)
    check(msgs[0].value == b"after-recreate" and msgs[0].offset == 0 and metas[0].offset == 0, "re-created topic does not start empty")
    return "deleted, unlisted, re-created with 2 partitions"


def s_create_partitions():
    topic = name("grow")
    create_topic(topic, 3)
    admin().create_partitions({topic: 5})
    wait_topic(topic, 5)
    p = producer()
    # The producer must learn of the new partitions.
    deadline = time.time() + 10
    while p.partitions_for(topic) != {0, 1, 2, 3, 4}:
        check(time.time() < deadline, "producer sees partitions %s" % p.partitions_for(topic))
        time.sleep(0.2)
    produce_all(p, topic, [{"value": b"p%d" % i, "partition": i} for i in range(5)])
    msgs = consume_assigned(topic, 5, 5)
    check(sorted((m.partition, m.value) for m in msgs) == [(i, b"p%d" % i) for i in range(5)], "records per partition differ")
    return "3 -> 5 partitions; new partitions writable"


def produce_consume(codec):
    topic = name("codec-" + codec)
    create_topic(topic, 3)
    recs = keyed_records(1000)
    p = producer(compression_type=None if codec == "none" else codec)
    metas = produce_all(p, topic, recs)
    msgs = consume_assigned(topic, 3, 1000)
    verify_against_metadata(recs, metas, msgs)
    return "1000 records (%s) over partitions %s read back equal, in order" % (codec, sorted({m.partition for m in metas}))


def s_produce_consume_none():
    return produce_consume("none")


def s_produce_consume_gzip():
    return produce_consume("gzip")


def s_produce_consume_snappy():
    return produce_consume("snappy")


def s_produce_consume_lz4():
    return produce_consume("lz4")


def s_produce_consume_zstd():
    return produce_consume("zstd")


def s_keys_headers_timestamps():
    topic = name("khts")
    create_topic(topic, 1)
    base = 1_600_000_000_000
    recs = [
        {"key": b"k0", "value": b"v0", "headers": [("h", b"1"), ("h", b"2"), ("other", b"x")], "timestamp_ms": base},
        # kafka-python refuses a null header value client-side ("All headers items must be (str,
        # bytes) tuples"), so no null header value here.
        {"key": b"k1", "value": b"v1", "headers": [("empty", b""), ("bin", bytes(range(256)))], "timestamp_ms": base + 1},
        {"key": None, "value": b"no key", "headers": [("a", b"")], "timestamp_ms": base + 2},
        {"key": b"tombstone", "value": None, "timestamp_ms": base + 3},
        {"key": b"", "value": b"", "headers": [("utf8-\u00e9", "\u00e9".encode())], "timestamp_ms": base - 86_400_000},
        {"key": bytes(range(256)), "value": bytes(range(255, -1, -1)), "timestamp_ms": base + 5},
    ]
    metas = produce_all(producer(), topic, recs)
    msgs = consume_assigned(topic, 1, len(recs))
    for r, md, m in zip(recs, metas, msgs):
        check(m.offset == md.offset, "offset %d != acknowledged %d" % (m.offset, md.offset))
        check(m.key == r.get("key"), "key %r != %r" % (m.key, r.get("key")))
        check(m.value == r.get("value"), "value %r != %r" % (m.value, r.get("value")))
        check(list(m.headers) == (r.get("headers") or []), "headers %r != %r" % (m.headers, r.get("headers")))
        check(m.timestamp == r["timestamp_ms"] and m.timestamp_type == CREATE_TIME, "timestamp %s type %s != CreateTime %d" % (m.timestamp, m.timestamp_type, r["timestamp_ms"]))
        check(md.timestamp == r["timestamp_ms"], "acknowledged timestamp %s" % md.timestamp)
    return "%d records: keys (null, empty, binary), repeated/empty/binary headers (kafka-python refuses null header values), CreateTime timestamps equal" % len(recs)


def s_log_append_time():
    topic = name("lat")
    create_topic(topic, 1, {"message.timestamp.type": "LogAppendTime"})
    old = 1_000_000_000_000
    before = int(time.time() * 1000)
    recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "timestamp_ms": old + i} for i in range(5)]
    metas = produce_all(producer(), topic, recs)
    after = int(time.time() * 1000)
    msgs = consume_assigned(topic, 1, 5)
    for r, md, m in zip(recs, metas, msgs):
        check(m.value == r["value"], "value differs")
        check(m.timestamp_type == LOG_APPEND_TIME, "timestamp type %s, want LogAppendTime (1)" % m.timestamp_type)
        check(before - 1000 <= m.timestamp <= after + 1000, "timestamp %d outside [%d, %d]" % (m.timestamp, before, after))
        check(before - 1000 <= md.timestamp <= after + 1000, "acknowledged timestamp %s is not the broker's" % md.timestamp)
    return "records stamped %d (type LogAppendTime) instead of %d; produce response carries it" % (msgs[0].timestamp, old)


def acks_scenario(acks):
    topic = name("acks%s" % acks)
    create_topic(topic, 3)
    recs = keyed_records(300, 20)
    metas = produce_all(producer(acks=acks, enable_idempotence=False), topic, recs)
    msgs = consume_assigned(topic, 3, len(recs))
    if acks == 0:
        want, got = {}, {}
        for r, md in zip(recs, metas):
            want.setdefault(md.partition, []).append((r["key"], r["value"]))
        for m in msgs:
            got.setdefault(m.partition, []).append((m.key, m.value))
        check(got == want, "records per partition differ")
        # kafka-python resolves acks=0 sends with a synthetic response: offset = index in batch.
        return "300 records with acks=0 read back equal, in order (RecordMetadata offsets are synthetic)"
    verify_against_metadata(recs, metas, msgs)
    return "300 records with acks=%s at their acknowledged offsets" % acks


def s_acks_0():
    return acks_scenario(0)


def s_acks_1():
    return acks_scenario(1)


def s_acks_all():
    return acks_scenario("all")


def s_partitioner():
    for k, v in MURMUR2_VECTORS.items():
        check(signed32(murmur2(k)) == v, "test's own murmur2 is wrong for %r" % k)
    n = 7
    topic = name("partitioner")
    create_topic(topic, n)
    keys = [("key-%d" % i).encode() for i in range(200)] + [b"", b"a", bytes(range(40))]
    recs = [{"key": k, "value": b"v"} for k in keys]
    metas = produce_all(producer(), topic, recs)
    wrong = [(k, md.partition, murmur2_partition(k, n)) for k, md in zip(keys, metas) if md.partition != murmur2_partition(k, n)]
    check(not wrong, "%d keys elsewhere than murmur2 puts them, e.g. %s" % (len(wrong), wrong[:3]))
    msgs = consume_assigned(topic, n, len(keys))
    check(all(m.partition == murmur2_partition(m.key, n) for m in msgs), "records read from other partitions")
    return "%d keys (incl. empty) over %d partitions where murmur2 puts them" % (len(keys), n)


def s_offsets_for_times():
    topic = name("oft")
    create_topic(topic, 1)
    t0 = int(time.time() * 1000) - 3_600_000
    recs = [{"value": b"v%d" % i, "timestamp_ms": t0 + 1000 * i} for i in range(10)]
    produce_all(producer(), topic, recs)
    c = consumer()
    tp = TopicPartition(topic, 0)
    try:
        queries = [(t0 - 5000, 0), (t0, 0), (t0 + 2000, 2), (t0 + 2500, 3), (t0 + 9000, 9), (t0 + 9001, None), (t0 + 10_000_000, None)]
        out = []
        for ts, want in queries:
            res = c.offsets_for_times({tp: ts})[tp]
            got = None if res is None else res.offset
            check(got == want, "timestamp t0%+d: offset %s, want %s" % (ts - t0, got, want))
            if res is not None:
                check(res.timestamp == t0 + 1000 * res.offset, "timestamp %d at offset %d" % (res.timestamp, res.offset))
            out.append(got)
        c.assign([tp])
        c.seek(tp, c.offsets_for_times({tp: t0 + 4500})[tp].offset)
        m = read(c, 1, 10)
        check(m and m[0].value == b"v5" and m[0].timestamp == t0 + 5000, "record at the offset for t0+4500 is %r" % (m and m[0].value))
    finally:
        c.close()
    return "offsets %s; beyond the last record: None" % out


def s_seek():
    topic = name("seek")
    create_topic(topic, 1)
    produce_all(producer(), topic, [{"key": b"k%d" % i, "value": b"v%d" % i} for i in range(100)])
    c = consumer(max_poll_records=10)
    tp = TopicPartition(topic, 0)
    try:
        c.assign([tp])
        c.seek_to_beginning(tp)
        first = read(c, 1, 10)
        check(first and first[0].offset == 0, "first read %r" % first[:1])
        for target in (50, 7, 99):
            c.seek(tp, target)
            check(c.position(tp) == target, "position after seek(%d) is %d" % (target, c.position(tp)))
            want = list(range(target, min(target + 10, 100)))
            got = read(c, len(want), 10)
            check([m.offset for m in got[: len(want)]] == want, "after seek(%d) read offsets %s" % (target, [m.offset for m in got[:5]]))
            check(all(m.value == b"v%d" % m.offset and m.key == b"k%d" % m.offset for m in got), "values differ after seek(%d)" % target)
    finally:
        c.close()
    return "seek to 50, 7, 99: read from exactly there"


def group_consumer(group, topic, **conf):
    c = consumer(group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=500, **conf)
    c.subscribe([topic])
    return c


def s_group_consume_commit():
    topic = name("gcc")
    group = name("gcc-group")
    create_topic(topic, 3)
    recs = keyed_records(300, 20)
    metas = produce_all(producer(), topic, recs)
    c1 = group_consumer(group, topic)
    try:
        msgs = read(c1, 300)
        check(len(msgs) == 300, "first member read %d of 300" % len(msgs))
        verify_against_metadata(recs, metas, msgs)
        c1.commit()
        ends = {}
        for md in metas:
            ends[md.partition] = max(ends.get(md.partition, 0), md.offset + 1)
        got = {p: c1.committed(TopicPartition(topic, p)) for p in range(3)}
        check(got == ends, "committed %s, want %s" % (got, ends))
    finally:
        c1.close(autocommit=False)
    more = [{"key": b"new-%d" % i, "value": b"new-value-%d" % i} for i in range(30)]
    metas2 = produce_all(producer(), topic, more)
    c2 = group_consumer(group, topic)
    try:
        msgs2 = read(c2, 30)
        extra = read(c2, 1, 2)
        check(len(msgs2) == 30 and not extra, "new member read %d records (+%d), want only the 30 new" % (len(msgs2), len(extra)))
        verify_against_metadata(more, metas2, msgs2)
    finally:
        c2.close(autocommit=False)
    return "300 read and committed (%s); a new member read only the 30 later records" % got


class Member(threading.Thread):
    """A group member polling in its own thread (kafka-python joins inside poll())."""

    def __init__(self, group, topic):
        super().__init__(daemon=True)
        self.group, self.topic = group, topic
        self.stop = threading.Event()
        self.assigned = set()
        self.error = None

    def run(self):
        try:
            c = group_consumer(self.group, self.topic)
            try:
                while not self.stop.is_set():
                    c.poll(timeout_ms=POLL_MS)
                    self.assigned = {tp.partition for tp in c.assignment()}
            finally:
                c.close(autocommit=False)
        except Exception as e:
            self.error = e


def wait_members(members, want, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for m in members:
            if m.error:
                raise m.error
        sizes = sorted(len(m.assigned) for m in members)
        union = set().union(*(m.assigned for m in members))
        if sizes == want and len(union) == 6:
            return [sorted(m.assigned) for m in members]
        time.sleep(0.1)
    raise AssertionError("assignments %s, want sizes %s" % ([sorted(m.assigned) for m in members], want))


def s_group_rebalance():
    topic = name("rebal")
    group = name("rebal-group")
    create_topic(topic, 6)
    members = [Member(group, topic) for _ in range(3)]
    for m in members:
        m.start()
    try:
        first = wait_members(members, [2, 2, 2], 40)
        members[2].stop.set()
        members[2].join(15)
        second = wait_members(members[:2], [3, 3], 40)
    finally:
        for m in members:
            m.stop.set()
        for m in members:
            m.join(15)
    return "%s then %s" % (first, second)


def s_group_resume_after_restart():
    topic = name("resume")
    group = name("resume-group")
    create_topic(topic, 3)
    recs = keyed_records(120, 20)
    metas = produce_all(producer(), topic, recs)
    per_part = {}
    for md in metas:
        per_part[md.partition] = per_part.get(md.partition, 0) + 1
    commit_at = {p: n // 2 for p, n in per_part.items()}
    c1 = group_consumer(group, topic)
    try:
        msgs = read(c1, 120)
        check(len(msgs) == 120, "first member read %d of 120" % len(msgs))
        c1.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "half", -1) for p, o in commit_at.items()})
    finally:
        c1.close(autocommit=False)
    subprocess.run([os.environ["GREGOR_CTL"], "restart"], check=True, timeout=60)
    c2 = group_consumer(group, topic)
    try:
        want = sum(n - commit_at[p] for p, n in per_part.items())
        msgs2 = read(c2, want, 40)
        extra = read(c2, 1, 2)
        check(len(msgs2) == want and not extra, "after restart read %d (+%d), want %d" % (len(msgs2), len(extra), want))
        firsts = {}
        for m in msgs2:
            firsts.setdefault(m.partition, m.offset)
        check(firsts == commit_at, "resumed at %s, want %s" % (firsts, commit_at))
        verify_against_metadata(recs, metas, msgs2)
        meta = c2.committed(TopicPartition(topic, 0), metadata=True)
        check(meta is not None and meta.metadata == "half", "committed metadata %r" % (meta,))
    finally:
        c2.close(autocommit=False)
    return "committed %s, broker restarted, new member resumed exactly there (%d records)" % (commit_at, want)


def s_admin_groups():
    topic = name("admgrp")
    group = name("admgrp-group")
    create_topic(topic, 2)
    produce_all(producer(), topic, [{"value": b"x%d" % i, "partition": i % 2} for i in range(10)])
    member = Member(group, topic)
    member.start()
    try:
        deadline = time.time() + 30
        while member.assigned != {0, 1}:
            check(time.time() < deadline and not member.error, "member never assigned: %s" % member.error)
            time.sleep(0.1)
        listed = {g["group_id"]: g for g in admin().list_groups()}
        check(group in listed, "group %s not listed (%d listed)" % (group, len(listed)))
        desc = admin().describe_groups([group])[group]
        check(desc.get("error") is None and desc["group_state"] == "Stable", "describe: %s" % desc)
        check(desc["protocol_type"] == "consumer" and desc["protocol_data"] == "range", "protocol %r/%r" % (desc["protocol_type"], desc["protocol_data"]))
        check(listed[group]["group_state"] == "Stable" and listed[group]["protocol_type"] == "consumer", "listed as %s" % listed[group])
        proto = desc["protocol_data"]
        check(len(desc["members"]) == 1, "%d members" % len(desc["members"]))
        assignment = desc["members"][0]["member_assignment"]
        parts = sorted((t["topic"], p) for t in assignment["assigned_partitions"] for p in t["partitions"])
        check(parts == [(topic, 0), (topic, 1)], "assignment %r" % (assignment,))
        res = admin().delete_groups([group])
        check(res.get(group) == "NonEmptyGroupError", "delete of a non-empty group: %s" % res)
    finally:
        member.stop.set()
        member.join(15)
    c = consumer(group_id=group)
    try:
        c.commit({TopicPartition(topic, 0): OffsetAndMetadata(5, "", -1), TopicPartition(topic, 1): OffsetAndMetadata(3, "", -1)})
    finally:
        c.close(autocommit=False)
    offs = admin().list_group_offsets({group: None})[group]
    got = sorted((tp.topic, tp.partition, om.offset) for tp, om in offs.items())
    check(got == [(topic, 0, 5), (topic, 1, 3)], "committed offsets %s" % got)
    desc = admin().describe_groups([group])[group]
    check(desc["group_state"] == "Empty" and not desc["members"], "after close: %s, %d members" % (desc["group_state"], len(desc["members"])))
    res = admin().delete_groups([group])
    check(res.get(group) == "OK", "delete: %s" % res)
    check(group not in {g["group_id"] for g in admin().list_groups()}, "group still listed after delete")
    return "listed, described (Stable, 1 member, protocol %s), delete refused while active, offsets listed, deleted when empty" % proto


def s_admin_configs():
    topic = name("cfg")
    create_topic(topic, 1, {"retention.ms": "3600000"})
    cfg = admin().describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")["topic"][topic]
    r = cfg.get("retention.ms")
    check(r is not None and r["value"] == "3600000" and r["config_source"] == "DYNAMIC_TOPIC_CONFIG", "retention.ms %r" % r)
    cp = cfg.get("cleanup.policy")
    check(cp is not None and cp["value"] == "delete" and cp["config_source"] == "DEFAULT_CONFIG", "cleanup.policy %r" % cp)
    mm = cfg.get("max.message.bytes")
    check(mm is not None and mm["value"] == "1048588", "max.message.bytes %r" % mm)
    modified = admin().describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])["topic"][topic]
    check(set(modified) == {"retention.ms"}, "modified-only filter gives %s" % sorted(modified))
    broker_id = admin().describe_cluster()["brokers"][0]["broker_id"]
    bcfg = admin().describe_configs([ConfigResource(ConfigResourceType.BROKER, str(broker_id))], config_filter="all")["broker"][str(broker_id)]
    mmb = bcfg.get("message.max.bytes")
    check(mmb is not None and mmb["value"] == "1048588", "broker message.max.bytes %r" % mmb)
    gm = bcfg.get("group.min.session.timeout.ms")
    check(gm is not None and gm["value"] == "1000" and gm["config_source"] == "STATIC_BROKER_CONFIG", "broker group.min.session.timeout.ms (set by --override) %r" % gm)
    return "topic: %d entries (retention.ms dynamic, cleanup.policy default); broker %s: %d entries" % (len(cfg), broker_id, len(bcfg))


def s_idempotent_producer():
    topic = name("idem")
    create_topic(topic, 2)
    recs = [{"key": b"k%d" % (i % 2), "value": b"v%d" % i, "partition": i % 2} for i in range(1000)]
    p = producer(enable_idempotence=True, acks="all", max_in_flight_requests_per_connection=5, linger_ms=1)
    metas = produce_all(p, topic, recs)
    for part in (0, 1):
        offs = [md.offset for md in metas if md.partition == part]
        check(offs == list(range(500)), "partition %d acknowledged offsets not 0..499 in order" % part)
    msgs = consume_assigned(topic, 2, 1000)
    verify_against_metadata(recs, metas, msgs)
    return "1000 records acknowledged once each at consecutive offsets, read back in order"


def s_large_records():
    topic = name("large")
    create_topic(topic, 1)
    big = os.urandom(1_000_000)
    p = producer(max_request_size=4_000_000, linger_ms=0, enable_idempotence=False, retries=0)
    try:
        md = p.send(topic, key=b"big", value=big).get(timeout=30)
        too_big = os.urandom(1_100_000)
        try:
            p.send(topic, key=b"too-big", value=too_big).get(timeout=30)
            raise AssertionError("a 1,100,000-byte record was accepted")
        except Errors.MessageSizeTooLargeError as e:
            refused = e
    finally:
        p.close(timeout=5)
    c = consumer(max_partition_fetch_bytes=10_000_000, fetch_max_bytes=20_000_000)
    try:
        msgs = consume_assigned(topic, 1, 1, c=c)
    finally:
        c.close()
    check(msgs[0].value == big and msgs[0].offset == md.offset, "the 1,000,000-byte value differs")
    return "1,000,000-byte value round-trips; 1,100,000 bytes refused: %s" % type(refused).__name__


def s_empty_topic():
    topic = name("empty")
    create_topic(topic, 2)
    c = consumer()
    tps = [TopicPartition(topic, p) for p in (0, 1)]
    try:
        b, e = c.beginning_offsets(tps), c.end_offsets(tps)
        check(all(b[tp] == 0 and e[tp] == 0 for tp in tps), "watermarks %s / %s" % (b, e))
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got = read(c, 1, 3)
        check(not got, "read %d records from an empty topic" % len(got))
        check([c.position(tp) for tp in tps] == [0, 0], "positions %s" % [c.position(tp) for tp in tps])
        check([c.highwater(tp) for tp in tps] == [0, 0], "highwater %s" % [c.highwater(tp) for tp in tps])
    finally:
        c.close()
    return "watermarks 0/0, no records, no errors, positions 0"


def s_nonexistent_topic():
    topic = name("does-not-exist")
    t = admin().describe_topics([topic])
    check(len(t) == 1 and t[0]["error_code"] == Errors.UnknownTopicOrPartitionError.errno, "metadata for a missing topic: %s" % t)
    c = consumer(allow_auto_create_topics=False)
    try:
        # kafka-python 3 answers an empty set (2.x: None) for a topic it does not know.
        check(not c.partitions_for_topic(topic), "consumer sees partitions %s" % c.partitions_for_topic(topic))
        real = name("exists")
        create_topic(real, 1)
        produce_all(producer(), real, [{"value": b"still usable"}])
        msgs = consume_assigned(real, 1, 1, c=c)
        check(msgs[0].value == b"still usable", "value differs")
    finally:
        c.close()
    check(topic not in admin().list_topics(), "the missing topic was auto-created")
    return "UNKNOWN_TOPIC_OR_PARTITION (admin), no partitions (consumer), not created; client usable afterwards"


def s_many_partitions():
    topic = name("many")
    create_topic(topic, 100)
    recs = [{"key": b"k%d" % p, "value": b"partition-%d" % p, "partition": p} for p in range(100)]
    metas = produce_all(producer(), topic, recs)
    check(all(md.partition == i and md.offset == 0 for i, md in enumerate(metas)), "acknowledged positions differ")
    msgs = consume_assigned(topic, 100, 100)
    got = sorted((m.partition, m.offset, m.key, m.value) for m in msgs)
    check(got == [(p, 0, b"k%d" % p, b"partition-%d" % p) for p in range(100)], "records per partition differ")
    return "one record in each of 100 partitions read back"


class ErrorLog(logging.Handler):
    """Collects the client's log records at ERROR (kafka-python logs per-partition commit errors
    it retries instead of returning them)."""

    def __init__(self, logger_name):
        super().__init__(level=logging.ERROR)
        self.messages = []
        self.logger = logging.getLogger(logger_name)

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        self.logger.addHandler(self)
        self.logger.propagate = False  # the retries' errors are expected: keep them off stderr
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.propagate = True


def s_commit_unknown_topic():
    topic = name("cut")
    missing = name("cut-missing")  # never created; nothing here asks metadata for it by name
    create_topic(topic, 3)
    known, beyond, absent = TopicPartition(topic, 0), TopicPartition(topic, 7), TopicPartition(missing, 0)
    oam = lambda o: OffsetAndMetadata(o, "m", -1)
    # Admin: alter_group_offsets returns one error class per partition.
    group = name("cut-admin")
    res = admin().alter_group_offsets(group, {known: oam(2), beyond: oam(2), absent: oam(2)})
    got = {str(tp): e.__name__ for tp, e in res.items()}
    check(res.get(known) is Errors.NoError, "admin: known partition answered %s" % got)
    check(res.get(beyond) is Errors.UnknownTopicOrPartitionError, "admin: partition 7 of 3 answered %s" % got)
    check(res.get(absent) is Errors.UnknownTopicOrPartitionError, "admin: missing topic answered %s" % got)
    offs = admin().list_group_offsets({group: None})[group]
    stored = sorted((tp.topic, tp.partition, om.offset) for tp, om in offs.items())
    check(stored == [(topic, 0, 2)], "admin: committed offsets afterwards %s, want only %s/0 at 2" % (stored, topic))
    # Consumer: kafka-python treats UNKNOWN_TOPIC_OR_PARTITION as retriable, so commit() retries
    # until its timeout and logs the partition's error at each attempt; the known partition of the
    # same request is stored by the broker.
    group2 = name("cut-consumer")
    c = consumer(group_id=group2)
    seen = []
    try:
        for good, bad in ((TopicPartition(topic, 1), beyond), (TopicPartition(topic, 2), absent)):
            with ErrorLog("kafka.coordinator.consumer") as log:
                try:
                    c.commit({good: oam(3), bad: oam(3)}, timeout_ms=2500)
                    raise AssertionError("consumer commit including %s succeeded" % (bad,))
                except (Errors.KafkaTimeoutError, Errors.UnknownTopicOrPartitionError) as e:
                    seen.append(type(e).__name__)
            named = [m for m in log.messages if "UnknownTopicOrPartitionError" in m and "%s" % bad.topic in m]
            check(named, "consumer: no UnknownTopicOrPartitionError logged for %s: %s" % (bad, log.messages[:3]))
    finally:
        c.close(autocommit=False)
    offs = admin().list_group_offsets({group2: None})[group2]
    stored2 = sorted((tp.topic, tp.partition, om.offset) for tp, om in offs.items())
    check(stored2 == [(topic, 1, 3), (topic, 2, 3)], "consumer: committed offsets afterwards %s" % stored2)
    check(not admin().describe_topics([missing])[0]["partitions"], "the missing topic exists now")
    return ("admin alter_group_offsets: known partition OK, partition 7 of 3 and a missing topic UnknownTopicOrPartitionError; "
            "consumer commit: the broker's UNKNOWN_TOPIC_OR_PARTITION is retried by kafka-python until its timeout (%s), "
            "the known partitions of the same requests are stored" % "/".join(seen))


# The gap between closing one static member and the next (static_member_expiry): all three are
# closed before the first can expire (>= 5 s after its close), so no live member sees a rebalance.
STATIC_CLOSE_GAP_S = 1.5
# static_member_expiry: a member's last heartbeat is at most heartbeat.interval.ms (1 s) before its
# close, so Kafka expires it at most session.timeout.ms (6 s) after it; 2 s more for polling.
STATIC_SESSION_S, STATIC_SLACK_S = 6.0, 2.0


def s_static_member_expiry():
    topic = name("static")
    group = name("static-group")
    create_topic(topic, 3)
    produce_all(producer(), topic, [{"value": b"s%d" % i, "partition": i % 3} for i in range(30)])
    members = [consumer(group_id=group, group_instance_id="%s-m%d" % (group, i), session_timeout_ms=6000,
                        heartbeat_interval_ms=1000) for i in range(3)]
    for m in members:
        m.subscribe([topic])
    try:
        got = set()  # a rebalance may hand a partition over before its records were committed
        deadline = time.time() + 40
        while len(got) < 30 and time.time() < deadline:
            for m in members:
                for recs in m.poll(timeout_ms=300).values():
                    got.update(r.value for r in recs)
        check(got == {b"s%d" % i for i in range(30)}, "the static members read %d of the 30 records" % len(got))
        # One member may have read everything before the others joined: keep polling until the
        # group is Stable with all three.
        deadline = time.time() + 30
        while True:
            desc = admin().describe_groups([group])[group]
            ids = sorted(x.get("group_instance_id") or "" for x in desc["members"])
            if desc["group_state"] == "Stable" and len(ids) == 3 and all(ids):
                break
            check(time.time() < deadline, "before closing: state %s, %d members, instance ids %s" % (desc["group_state"], len(ids), ids))
            for m in members:
                m.poll(timeout_ms=200)
    finally:
        # One at a time, STATIC_CLOSE_GAP_S apart, so that the first expiry (a rebalance) comes
        # while the others are gone but not yet expired: Kafka expires those at their session timeout too.
        closes = []
        for i, m in enumerate(members):
            if i:
                time.sleep(STATIC_CLOSE_GAP_S)
            m.close(autocommit=False)  # static members: kafka-python sends no LeaveGroup
            closes.append(time.time())
    last, seen = None, []  # seen: (s after the first close, members described) at each change
    while time.time() < closes[-1] + 20:
        static_expiry_check(closes, seen, len(admin().describe_groups([group])[group].get("members") or []))
        res = admin().delete_groups([group])
        last = res.get(group)
        if last == "OK":
            return static_expiry_pass(closes, seen)
        time.sleep(0.5)
    raise AssertionError("DeleteGroups still answered %s 20 s after the last static member closed (members over time, "
                         "s after the first close: %s)" % (last, seen))


def static_expiry_check(closes, seen, n):
    """Kafka expires each closed static member at most STATIC_SESSION_S after its close: fails when
    more members are described than may still be alive. closes: time.time() of each close."""
    now = time.time()
    if not seen or seen[-1][1] != n:
        seen.append((round(now - closes[0], 1), n))
    alive = sum(1 for c in closes if now < c + STATIC_SESSION_S + STATIC_SLACK_S)
    check(n <= alive, "%d members described %.1f s after the first close (closes at %s s): a static member outlived "
          "its %.0f s session timeout (members over time: %s)"
          % (n, now - closes[0], [round(c - closes[0], 1) for c in closes], STATIC_SESSION_S, seen))


def static_expiry_pass(closes, seen, extra=""):
    took = time.time() - closes[-1]
    check(took >= 4, "deleted %.1f s after the last close, before the 6 s session timeout could expire it" % took)
    return ("3 static members read 30 records and closed %.1f s apart (no LeaveGroup); each expired within its session "
            "timeout; DeleteGroups%s succeeded %.1f s after the last close (members over time, s after the first "
            "close: %s)" % (STATIC_CLOSE_GAP_S, extra, took, seen))


# Kafka 4.1's group configs (GroupConfig) and their defaults; consumer.heartbeat.interval.ms and
# consumer.session.timeout.ms default to the broker's group.consumer.* values.
GROUP_CONFIG_NAMES = {
    "consumer.heartbeat.interval.ms", "consumer.session.timeout.ms",
    "share.auto.offset.reset", "share.heartbeat.interval.ms", "share.isolation.level",
    "share.record.lock.duration.ms", "share.session.timeout.ms",
    "streams.heartbeat.interval.ms", "streams.num.standby.replicas", "streams.session.timeout.ms",
}


def s_describe_group_configs():
    group = name("gcfg")
    broker_id = admin().describe_cluster()["brokers"][0]["broker_id"]
    bcfg = admin().describe_configs([ConfigResource(ConfigResourceType.BROKER, str(broker_id))], config_filter="all")["broker"][str(broker_id)]
    want = {
        "consumer.session.timeout.ms": bcfg["group.consumer.session.timeout.ms"]["value"],
        "consumer.heartbeat.interval.ms": bcfg["group.consumer.heartbeat.interval.ms"]["value"],
        "share.auto.offset.reset": "latest",
        "share.isolation.level": "read_uncommitted",
        "share.record.lock.duration.ms": "30000",
        "streams.num.standby.replicas": "0",
    }
    res = ConfigResource(ConfigResourceType.GROUP, group)
    cfg = admin().describe_configs([res], config_filter="all")["group"][group]
    missing = GROUP_CONFIG_NAMES - set(cfg)
    check(not missing, "group configs missing: %s (got %s)" % (sorted(missing), sorted(cfg)))
    for k, v in want.items():
        e = cfg[k]
        check(e["value"] == v and e["config_source"] == "DEFAULT_CONFIG", "%s: %r, want default %s" % (k, e, v))
    out = admin().alter_configs([ConfigResource(ConfigResourceType.GROUP, group, {"consumer.heartbeat.interval.ms": "6000"})],
                                raise_on_unknown=False, incremental=True)
    check("%s" % out.get("group", {}).get(group) in ("OK", "None", "NoError"), "IncrementalAlterConfigs answered %s" % out)
    cfg = admin().describe_configs([ConfigResource(ConfigResourceType.GROUP, group)], config_filter="all")["group"][group]
    e = cfg["consumer.heartbeat.interval.ms"]
    check(e["value"] == "6000" and e["config_source"] == "DYNAMIC_GROUP_CONFIG", "after setting 6000: %r" % e)
    modified = admin().describe_configs([ConfigResource(ConfigResourceType.GROUP, group)])["group"][group]
    check(set(modified) == {"consumer.heartbeat.interval.ms"}, "modified-only filter gives %s" % sorted(modified))
    # Above group.consumer.max.heartbeat.interval.ms (15000): INVALID_CONFIG (40), nothing changes.
    out = admin().alter_configs([ConfigResource(ConfigResourceType.GROUP, group, {"consumer.heartbeat.interval.ms": "16000"})],
                                raise_on_unknown=False, incremental=True)
    check("Error 40" in "%s" % out.get("group", {}).get(group), "setting 16000 (above the 15000 bound) answered %s" % out)
    e = admin().describe_configs([ConfigResource(ConfigResourceType.GROUP, group)])["group"][group]["consumer.heartbeat.interval.ms"]
    check(e["value"] == "6000", "after the refused 16000: %r" % e)
    return ("%d group configs with defaults (consumer.session.timeout.ms %s and consumer.heartbeat.interval.ms %s, the broker's); "
            "IncrementalAlterConfigs consumer.heartbeat.interval.ms=6000 reads back 6000 from DYNAMIC_GROUP_CONFIG (8); 16000, "
            "above group.consumer.max.heartbeat.interval.ms, is refused with INVALID_CONFIG (40)"
            % (len(cfg), want["consumer.session.timeout.ms"], want["consumer.heartbeat.interval.ms"]))


# AclEntry.supportedOperations in Kafka 4.1, by resource type (AclOperation codes).
ACL_OPS = {3: "READ", 4: "WRITE", 5: "CREATE", 6: "DELETE", 7: "ALTER", 8: "DESCRIBE", 9: "CLUSTER_ACTION",
           10: "DESCRIBE_CONFIGS", 11: "ALTER_CONFIGS", 12: "IDEMPOTENT_WRITE", 13: "CREATE_TOKENS", 14: "DESCRIBE_TOKENS"}
TOPIC_OPS = {"READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}
CLUSTER_OPS = {"CREATE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE"}
GROUP_OPS = {"READ", "DESCRIBE", "DELETE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}


def op_names(v):
    """An authorized-operations value as kafka-python gives it: None when the broker sent
    "not requested" (INT32_MIN), else ACLOperation members (or the raw 32-bit field)."""
    if v is None:
        return None
    if isinstance(v, int):
        if v == -2147483648:
            return None
        return {ACL_OPS.get(b, "bit%d" % b) for b in range(32) if v & (1 << b)}
    return {getattr(x, "name", str(x)) for x in v}


def shown(ops):
    return "not sent (INT32_MIN)" if ops is None else sorted(ops)


def s_authorized_operations():
    topic = name("authops")
    group = name("authops-group")
    create_topic(topic, 1)
    c = consumer(group_id=group)
    try:
        c.commit({TopicPartition(topic, 0): OffsetAndMetadata(0, "", -1)})
    finally:
        c.close(autocommit=False)
    bad = []
    t = admin().describe_topics([topic])[0]
    tops = op_names(t.get("topic_authorized_operations", t.get("authorized_operations")))
    if tops != TOPIC_OPS:
        bad.append("topic %s, want %s" % (shown(tops), sorted(TOPIC_OPS)))
    cl = admin().describe_cluster()
    cops = op_names(cl.get("cluster_authorized_operations", cl.get("authorized_operations")))
    if cops != CLUSTER_OPS:
        bad.append("cluster %s, want %s" % (shown(cops), sorted(CLUSTER_OPS)))
    g = admin().describe_groups([group], include_authorized_operations=True)[group]
    gops = op_names(g.get("authorized_operations"))
    if gops != GROUP_OPS:
        bad.append("group %s, want %s" % (shown(gops), sorted(GROUP_OPS)))
    check(not bad, "authorized operations: " + "; ".join(bad))
    return "topic (Metadata), cluster (DescribeCluster) and group (DescribeGroups) list every supported operation"


# ---------------------------------------------------------------------------------------------
# Runner

def scenario_ids():
    here = os.path.dirname(os.path.abspath(__file__))
    ids = []
    with open(os.path.join(here, "..", "scenarios.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                ids.append(line.split("|")[0].strip())
    return ids


def one_line(text):
    return " ".join(str(text).split())[:1000]


def run_one(sid):
    fn = globals().get("s_" + sid)
    if fn is None:
        return "fail", "scenario not implemented"
    box = {}

    def target():
        try:
            box["detail"] = fn()
            box["status"] = "pass"
        except Unsupported as e:
            box["status"], box["detail"] = "unsupported", str(e)
        except Exception as e:
            box["status"] = "fail"
            box["detail"] = "%s: %s" % (type(e).__name__, e)
            box["trace"] = traceback.format_exc()

    t = threading.Thread(target=target, name=sid, daemon=True)
    t.start()
    t.join(SCENARIO_SECONDS)
    if t.is_alive():
        return "fail", "timed out after %d s" % SCENARIO_SECONDS
    if "trace" in box:
        sys.stderr.write(box["trace"])
    return box.get("status", "fail"), box.get("detail") or ""


def main():
    if len(sys.argv) < 2:
        print("usage: scenarios.py RESULTS_FILE [SCENARIO...]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    results = sys.argv[1]
    wanted = sys.argv[2:] or scenario_ids()
    print("%s: kafka-python %s" % (CLIENT, kafka.__version__), flush=True)
    for sid in wanted:
        start = time.time()
        status, detail = run_one(sid)
        print("%s: %-28s %-11s %5.1fs  %s" % (CLIENT, sid, status, time.time() - start, one_line(detail)[:200]), flush=True)
        with open(results, "a") as f:
            f.write(json.dumps({"client": CLIENT, "scenario": sid, "status": status, "detail": one_line(detail)}) + "\n")
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Client threads of a timed-out scenario must not keep the process alive.
    os._exit(rc)
