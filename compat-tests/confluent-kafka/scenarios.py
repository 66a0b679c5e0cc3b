#!/usr/bin/env python3
"""Gregor compatibility scenarios for confluent-kafka (Python, librdkafka in its wheel).

Usage: scenarios.py RESULTS_FILE [SCENARIO...]
Appends one JSON line per scenario of ../scenarios.txt to RESULTS_FILE. Each scenario runs in its
own thread under a watchdog (SCENARIO_SECONDS); a scenario that raises or times out is a `fail`.
Environment: GREGOR_BOOTSTRAP, GREGOR_PREFIX, GREGOR_CTL (see ../README.md).
"""
import json
import os
import random
import string
import subprocess
import sys
import threading
import time
import traceback
import zlib

import confluent_kafka
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
)

CLIENT = "confluent-kafka"
SCENARIO_SECONDS = 60
BOOTSTRAP = os.environ.get("GREGOR_BOOTSTRAP", "127.0.0.1:9092")
PREFIX = os.environ.get("GREGOR_PREFIX", CLIENT + "-")
# Topic and group names are unique per run so a developer can rerun against the same broker.
RUN = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))


class Unsupported(Exception):
    """The client lacks the feature the scenario needs."""


def name(base):
    return "%s%s-%s" % (PREFIX, base, RUN)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


# ---------------------------------------------------------------------------------------------
# Partitioners, computed independently of the client.

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


def crc32_partition(key, n):
    return (zlib.crc32(key) & 0xFFFFFFFF) % n


# ---------------------------------------------------------------------------------------------
# Helpers

_admin = None


def admin():
    global _admin
    if _admin is None:
        _admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    return _admin


def wait_topic(topic, partitions, timeout=15.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        md = admin().list_topics(topic=topic, timeout=5)
        t = md.topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions and all(
            p.leader >= 0 for p in t.partitions.values()
        ):
            return
        last = t.error if t is not None else "absent"
        time.sleep(0.1)
    raise AssertionError("topic %s not ready with %d partitions: %s" % (topic, partitions, last))


def create_topic(topic, partitions, config=None):
    fs = admin().create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})],
        request_timeout=15,
    )
    fs[topic].result(timeout=20)
    wait_topic(topic, partitions)


def producer(**conf):
    c = {"bootstrap.servers": BOOTSTRAP, "linger.ms": 5}
    c.update(conf)
    return Producer(c)


def consumer(group=None, **conf):
    c = {
        "bootstrap.servers": BOOTSTRAP,
        "group.id": group or name("nogroup"),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
    }
    c.update(conf)
    return Consumer(c)


def produce_all(p, topic, records, flush_timeout=30):
    """records: list of dicts with produce() kwargs. Returns the delivery reports, in input order:
    (error, partition, offset, timestamp) per record."""
    reports = [None] * len(records)

    def make_cb(i):
        def cb(err, msg):
            reports[i] = (err, msg.partition(), msg.offset(), msg.timestamp())
        return cb

    for i, r in enumerate(records):
        while True:
            try:
                p.produce(topic, on_delivery=make_cb(i), **r)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(flush_timeout)
    check(left == 0, "%d records not delivered after %ss" % (left, flush_timeout))
    errs = [(i, rep[0]) for i, rep in enumerate(reports) if rep is None or rep[0] is not None]
    check(not errs, "delivery errors: %s" % errs[:3])
    return reports


def consume_assigned(topic, partitions, count, timeout=30.0, c=None, start=OFFSET_BEGINNING):
    """Reads `count` records from the partitions (from the beginning), then polls a little longer
    to see that nothing more arrives. Returns the messages."""
    own = c is None
    if own:
        c = consumer()
    try:
        c.assign([TopicPartition(topic, p, start) for p in range(partitions)])
        msgs = []
        deadline = time.time() + timeout
        while len(msgs) < count and time.time() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    raise KafkaException(m.error())
                msgs.append(m)
        check(len(msgs) == count, "read %d of %d records" % (len(msgs), count))
        extra = c.consume(num_messages=10, timeout=0.5)
        check(not extra, "read %d more records than produced" % len(extra))
        return msgs
    finally:
        if own:
            c.close()


def verify_against_reports(records, reports, msgs, check_order=True):
    """Every consumed record is at the offset its delivery report named, with the key and value
    written; per partition, the order of writing is kept."""
    by_pos = {}
    for r, rep in zip(records, reports):
        by_pos[(rep[1], rep[2])] = r
    check(len(by_pos) == len(records), "delivery reports name duplicate offsets")
    for m in msgs:
        r = by_pos.get((m.partition(), m.offset()))
        check(r is not None, "record at %d/%d was never acknowledged there" % (m.partition(), m.offset()))
        check(m.key() == r.get("key"), "key at %d/%d: %r != %r" % (m.partition(), m.offset(), m.key(), r.get("key")))
        check(m.value() == r.get("value"), "value differs at %d/%d" % (m.partition(), m.offset()))
    if check_order:
        written = {}
        for i, rep in enumerate(reports):
            written.setdefault(rep[1], []).append(i)
        for part, idxs in written.items():
            offs = [reports[i][2] for i in idxs]
            check(offs == sorted(offs), "partition %d: offsets not in production order" % part)
        read = {}
        for m in msgs:
            read.setdefault(m.partition(), []).append(m.offset())
        for part, offs in read.items():
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
    md = admin().list_topics(timeout=10)
    brokers = ["%s:%d" % (b.host, b.port) for b in md.brokers.values()]
    check(BOOTSTRAP in brokers, "broker list %s lacks %s" % (brokers, BOOTSTRAP))
    check(md.cluster_id, "no cluster id")
    check(topic in md.topics, "topic listing lacks %s" % topic)
    check(len(md.topics[topic].partitions) == 2, "partitions %d" % len(md.topics[topic].partitions))
    check(md.controller_id in md.brokers, "controller id %s not a broker" % md.controller_id)
    desc = admin().describe_cluster(request_timeout=10).result(timeout=15)
    check(desc.cluster_id == md.cluster_id, "DescribeCluster id %s != Metadata id %s" % (desc.cluster_id, md.cluster_id))
    nodes = ["%s:%d" % (n.host, n.port) for n in desc.nodes]
    check(BOOTSTRAP in nodes, "DescribeCluster nodes %s" % nodes)
    return "brokers %s, cluster id %s, controller %s" % (brokers, md.cluster_id, md.controller_id)


def s_create_topic():
    topic = name("create")
    create_topic(topic, 3, {"retention.ms": "3600000"})
    md = admin().list_topics(topic=topic, timeout=10)
    check(len(md.topics[topic].partitions) == 3, "partitions: %d" % len(md.topics[topic].partitions))
    res = ConfigResource("topic", topic)
    cfg = admin().describe_configs([res], request_timeout=10)[res].result(timeout=15)
    check(cfg["retention.ms"].value == "3600000", "retention.ms = %r" % cfg["retention.ms"].value)
    # Creating it again is refused with TOPIC_ALREADY_EXISTS.
    fs = admin().create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)], request_timeout=10)
    try:
        fs[topic].result(timeout=15)
        raise AssertionError("second create of %s succeeded" % topic)
    except KafkaException as e:
        check(e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, "second create: %s" % e)
    return "3 partitions, retention.ms=3600000; duplicate create refused"


def s_delete_topic():
    topic = name("delete")
    create_topic(topic, 3)
    admin().delete_topics([topic], request_timeout=15)[topic].result(timeout=20)
    deadline = time.time() + 15
    while topic in admin().list_topics(timeout=5).topics:
        check(time.time() < deadline, "topic still listed 15 s after deletion")
        time.sleep(0.2)
    # Re-create (Kafka may answer TOPIC_ALREADY_EXISTS briefly while deleting).
    deadline = time.time() + 15
    while True:
        try:
            create_topic(topic, 2)
            break
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or time.time() > deadline:
                raise
            time.sleep(0.3)
    p = producer()
    rec = [{"key": b"k", "value": b"after-recreate", "partition": 1}]
    reps = produce_all(p, topic, rec)
    msgs = consume_assigned(topic, 2, 1)
    check(msgs[0].value() == b"after-recreate" and msgs[0].offset() == 0, "re-created topic does not start empty")
    return "deleted, unlisted, re-created with 2 partitions (offset %d)" % reps[0][2]


def s_create_partitions():
    topic = name("grow")
    create_topic(topic, 3)
    admin().create_partitions([NewPartitions(topic, 5)], request_timeout=15)[topic].result(timeout=20)
    wait_topic(topic, 5)
    p = producer()
    recs = [{"value": b"p%d" % i, "partition": i} for i in range(5)]
    produce_all(p, topic, recs)
    msgs = consume_assigned(topic, 5, 5)
    check(sorted((m.partition(), m.value()) for m in msgs) == [(i, b"p%d" % i) for i in range(5)], "records per partition differ")
    return "3 -> 5 partitions; new partitions writable"


def produce_consume(codec):
    topic = name("codec-" + codec)
    create_topic(topic, 3)
    recs = keyed_records(1000)
    p = producer(**{"compression.type": codec})
    reps = produce_all(p, topic, recs)
    msgs = consume_assigned(topic, 3, 1000)
    verify_against_reports(recs, reps, msgs)
    parts = sorted({r[1] for r in reps})
    return "1000 records (%s) over partitions %s read back equal, in order" % (codec, parts)


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
        {"key": b"k0", "value": b"v0", "headers": [("h", b"1"), ("h", b"2"), ("other", b"x")], "timestamp": base},
        {"key": b"k1", "value": b"v1", "headers": [("nullvalue", None)], "timestamp": base + 1},
        {"key": None, "value": b"no key", "headers": [("a", b"")], "timestamp": base + 2},
        {"key": b"tombstone", "value": None, "timestamp": base + 3},
        {"key": b"", "value": b"", "headers": [("utf8-\u00e9", "\u00e9".encode())], "timestamp": base - 86_400_000},
        {"key": bytes(range(256)), "value": bytes(range(255, -1, -1)), "timestamp": base + 5},
    ]
    p = producer()
    reps = produce_all(p, topic, recs)
    msgs = consume_assigned(topic, 1, len(recs))
    for r, m in zip(recs, msgs):
        check(m.key() == r.get("key"), "key %r != %r" % (m.key(), r.get("key")))
        check(m.value() == r.get("value"), "value %r != %r" % (m.value(), r.get("value")))
        want_h = r.get("headers") or None
        got_h = m.headers()
        check(got_h == want_h, "headers %r != %r" % (got_h, want_h))
        check(m.timestamp() == (TIMESTAMP_CREATE_TIME, r["timestamp"]), "timestamp %r != CreateTime %d" % (m.timestamp(), r["timestamp"]))
    check([rep[3] for rep in reps] == [(TIMESTAMP_CREATE_TIME, r["timestamp"]) for r in recs], "delivery report timestamps %s" % [rep[3] for rep in reps])
    return "%d records: keys (null, empty, binary), repeated/null-valued headers, CreateTime timestamps equal" % len(recs)


def s_log_append_time():
    topic = name("lat")
    create_topic(topic, 1, {"message.timestamp.type": "LogAppendTime"})
    old = 1_000_000_000_000
    p = producer()
    before = int(time.time() * 1000)
    recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "timestamp": old + i} for i in range(5)]
    reps = produce_all(p, topic, recs)
    after = int(time.time() * 1000)
    msgs = consume_assigned(topic, 1, 5)
    for r, m in zip(recs, msgs):
        check(m.value() == r["value"], "value differs")
        ttype, ts = m.timestamp()
        check(ttype == TIMESTAMP_LOG_APPEND_TIME, "timestamp type %d, want LogAppendTime (%d)" % (ttype, TIMESTAMP_LOG_APPEND_TIME))
        check(before - 1000 <= ts <= after + 1000, "timestamp %d outside [%d, %d]" % (ts, before, after))
    dr_types = {rep[3][0] for rep in reps}
    dr_ts = [rep[3][1] for rep in reps]
    check(all(before - 1000 <= t <= after + 1000 for t in dr_ts), "delivery report timestamps %s not the broker's time" % dr_ts)
    return "records stamped %d (LogAppendTime) instead of %d; delivery reports type %s" % (msgs[0].timestamp()[1], old, sorted(dr_types))


def acks_scenario(acks):
    topic = name("acks%s" % acks)
    create_topic(topic, 3)
    recs = keyed_records(300, 20)
    p = producer(**{"acks": str(acks), "enable.idempotence": False})
    reps = produce_all(p, topic, recs)
    msgs = consume_assigned(topic, 3, len(recs))
    if acks == 0:
        # No acknowledgement: no offsets. Compare per partition, in order.
        want = {}
        for r, rep in zip(recs, reps):
            want.setdefault(rep[1], []).append((r["key"], r["value"]))
        got = {}
        for m in msgs:
            got.setdefault(m.partition(), []).append((m.key(), m.value()))
        check(got == want, "records per partition differ")
        return "300 records with acks=0 read back equal, in order (offsets in reports: %s)" % sorted({rep[2] for rep in reps})[:3]
    verify_against_reports(recs, reps, msgs)
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
    details = []
    for partitioner, fn in (("default", crc32_partition), ("murmur2_random", murmur2_partition)):
        conf = {} if partitioner == "default" else {"partitioner": partitioner}
        p = producer(**conf)
        recs = [{"key": k, "value": b"v"} for k in keys]
        reps = produce_all(p, topic, recs)
        # librdkafka partitions an empty key randomly with consistent_random (its default), and
        # hashes it with murmur2_random.
        wrong = [(k, rep[1], fn(k, n)) for k, rep in zip(keys, reps)
                 if rep[1] != fn(k, n) and not (k == b"" and partitioner == "default")]
        check(not wrong, "%s partitioner: %d keys elsewhere, e.g. %s" % (partitioner, len(wrong), wrong[:3]))
        details.append("%s = %s" % (partitioner, fn.__name__.replace("_partition", "")))
    msgs = consume_assigned(topic, n, 2 * len(keys))
    for m in msgs:
        check(m.partition() == crc32_partition(m.key(), n) or m.partition() == murmur2_partition(m.key(), n) or m.key() == b"",
              "record with key %r read from partition %d" % (m.key(), m.partition()))
    return "%d keys over %d partitions: %s" % (len(keys), n, ", ".join(details))


def s_offsets_for_times():
    topic = name("oft")
    create_topic(topic, 1)
    t0 = int(time.time() * 1000) - 3_600_000
    recs = [{"value": b"v%d" % i, "timestamp": t0 + 1000 * i} for i in range(10)]
    produce_all(producer(), topic, recs)
    c = consumer()
    try:
        queries = [(t0 - 5000, 0), (t0, 0), (t0 + 2000, 2), (t0 + 2500, 3), (t0 + 9000, 9), (t0 + 9001, -1), (t0 + 10_000_000, -1)]
        out = []
        for ts, want in queries:
            res = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            check(res[0].error is None, "error %s" % res[0].error)
            check(res[0].offset == want, "timestamp t0%+d: offset %d, want %d" % (ts - t0, res[0].offset, want))
            out.append(res[0].offset)
        # The answer is where the record with that timestamp is read.
        c.assign([TopicPartition(topic, 0, c.offsets_for_times([TopicPartition(topic, 0, t0 + 4500)], timeout=10)[0].offset)])
        m = c.poll(10)
        check(m is not None and not m.error() and m.value() == b"v5" and m.timestamp()[1] == t0 + 5000, "record at the offset for t0+4500 is %r" % (m and m.value()))
    finally:
        c.close()
    return "offsets %s; beyond the last record: -1 (OFFSET_END)" % out


def s_seek():
    topic = name("seek")
    create_topic(topic, 1)
    recs = [{"key": b"k%d" % i, "value": b"v%d" % i} for i in range(100)]
    produce_all(producer(), topic, recs)
    c = consumer()
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        m = c.poll(10)
        check(m is not None and not m.error() and m.offset() == 0, "first poll: %r" % m)
        for target in (50, 7, 99):
            c.seek(TopicPartition(topic, 0, target))
            got = []
            deadline = time.time() + 10
            while len(got) < min(10, 100 - target) and time.time() < deadline:
                for m in c.consume(num_messages=10, timeout=0.5):
                    check(not m.error(), "error %s" % m.error())
                    got.append(m)
            want = list(range(target, min(target + 10, 100)))
            check([m.offset() for m in got[: len(want)]] == want, "after seek(%d) read offsets %s" % (target, [m.offset() for m in got[:5]]))
            check(all(m.value() == b"v%d" % m.offset() and m.key() == b"k%d" % m.offset() for m in got), "values differ after seek(%d)" % target)
    finally:
        c.close()
    return "seek to 50, 7, 99: read from exactly there"


def group_read(c, count, timeout=30.0):
    msgs = []
    deadline = time.time() + timeout
    while len(msgs) < count and time.time() < deadline:
        for m in c.consume(num_messages=500, timeout=0.5):
            if m.error():
                raise KafkaException(m.error())
            msgs.append(m)
    return msgs


def protocol_conf(protocol):
    """A group member's settings: the classic protocol takes its session timeout from the member;
    under KIP-848 (group.protocol=consumer) librdkafka refuses it (the broker's to set)."""
    if protocol == "classic":
        return {"session.timeout.ms": 6000}
    return {"group.protocol": "consumer"}


def both_protocols(fn):
    """Runs fn(protocol) under the classic protocol, then KIP-848's."""
    out = []
    for protocol in ("classic", "consumer"):
        try:
            out.append("%s: %s" % (protocol, fn(protocol)))
        except Exception as e:
            raise AssertionError("%sgroup.protocol=%s: %s" % ("; ".join(out + [""]), protocol, e))
    return "; ".join(out)


def s_group_consume_commit():
    return both_protocols(consume_commit)


def consume_commit(protocol):
    topic = name("gcc-" + protocol)
    group = name("gcc-group-" + protocol)
    create_topic(topic, 3)
    recs = keyed_records(300, 20)
    reps = produce_all(producer(), topic, recs)
    c1 = consumer(group, **protocol_conf(protocol))
    c1.subscribe([topic])
    msgs = group_read(c1, 300)
    check(len(msgs) == 300, "first member read %d of 300" % len(msgs))
    verify_against_reports(recs, reps, msgs)
    c1.commit(asynchronous=False)
    ends = {}
    for rep in reps:
        ends[rep[1]] = max(ends.get(rep[1], -1), rep[2] + 1)
    committed = c1.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    got = {tp.partition: tp.offset for tp in committed}
    check(got == ends, "committed %s, want %s" % (got, ends))
    c1.close()
    more = [{"key": b"new-%d" % i, "value": b"new-value-%d" % i} for i in range(30)]
    reps2 = produce_all(producer(), topic, more)
    c2 = consumer(group, **protocol_conf(protocol))
    c2.subscribe([topic])
    try:
        msgs2 = group_read(c2, 30)
        extra = group_read(c2, 1, timeout=2)
        check(len(msgs2) == 30 and not extra, "new member read %d records (+%d), want only the 30 new" % (len(msgs2), len(extra)))
        verify_against_reports(more, reps2, msgs2)
    finally:
        c2.close()
    return "300 read and committed (%s); a new member read only the 30 later records" % got


def wait_assignments(consumers, want_sizes, total, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for c in consumers:
            for m in c.consume(num_messages=100, timeout=0.1):
                if m.error():
                    raise KafkaException(m.error())
        sizes = [len(c.assignment()) for c in consumers]
        union = set()
        for c in consumers:
            union |= {(tp.topic, tp.partition) for tp in c.assignment()}
        if sorted(sizes) == want_sizes and len(union) == total:
            return sizes
    raise AssertionError("assignment sizes %s, want %s" % ([len(c.assignment()) for c in consumers], want_sizes))


def rebalance_once(protocol):
    topic = name("rebal-" + protocol)
    group = name("rebal-group-" + protocol)
    create_topic(topic, 6)
    if protocol == "classic":
        conf = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "partition.assignment.strategy": "range"}
    else:
        conf = {"group.protocol": "consumer"}
    cs = [consumer(group, **conf) for _ in range(3)]
    try:
        for c in cs:
            c.subscribe([topic])
        first = wait_assignments(cs, [2, 2, 2], 6, 40)
        cs[2].close()
        left = cs[:2]
        cs = left
        second = wait_assignments(left, [3, 3], 6, 40)
    finally:
        for c in cs:
            try:
                c.close()
            except Exception:
                pass
    return "%s: %s then %s" % (protocol, first, second)


def s_group_rebalance():
    out = []
    out.append(rebalance_once("classic"))
    try:
        out.append(rebalance_once("consumer"))
    except Exception as e:
        raise AssertionError("%s; KIP-848 group.protocol=consumer: %s" % (out[0], e))
    return "; ".join(out)


def s_group_resume_after_restart():
    return both_protocols(resume_after_restart)


def resume_after_restart(protocol):
    topic = name("resume-" + protocol)
    group = name("resume-group-" + protocol)
    create_topic(topic, 3)
    recs = keyed_records(120, 20)
    reps = produce_all(producer(), topic, recs)
    per_part = {}
    for r, rep in zip(recs, reps):
        per_part.setdefault(rep[1], []).append((rep[2], r))
    commit_at = {p: len(v) // 2 for p, v in per_part.items()}
    c1 = consumer(group, **protocol_conf(protocol))
    c1.subscribe([topic])
    msgs = group_read(c1, 120)
    check(len(msgs) == 120, "first member read %d of 120" % len(msgs))
    c1.commit(offsets=[TopicPartition(topic, p, o) for p, o in commit_at.items()], asynchronous=False)
    c1.close()
    subprocess.run([os.environ["GREGOR_CTL"], "restart"], check=True, timeout=60)
    c2 = consumer(group, **protocol_conf(protocol))
    try:
        committed = c2.committed([TopicPartition(topic, p) for p in per_part], timeout=15)
        got = {tp.partition: tp.offset for tp in committed}
        check(got == commit_at, "committed after restart %s, want %s" % (got, commit_at))
        c2.subscribe([topic])
        want = sum(len(v) - commit_at[p] for p, v in per_part.items())
        msgs2 = group_read(c2, want, timeout=40)
        extra = group_read(c2, 1, timeout=2)
        check(len(msgs2) == want and not extra, "after restart read %d (+%d), want %d" % (len(msgs2), len(extra), want))
        firsts = {}
        for m in msgs2:
            firsts.setdefault(m.partition(), m.offset())
        check(firsts == commit_at, "resumed at %s, want %s" % (firsts, commit_at))
        verify_against_reports(recs, reps, msgs2)
    finally:
        c2.close()
    return "committed %s, broker restarted, new member resumed exactly there (%d records)" % (commit_at, want)


def s_admin_groups():
    from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, ConsumerGroupType

    topic = name("admgrp")
    group = name("admgrp-group")
    create_topic(topic, 2)
    produce_all(producer(), topic, [{"value": b"x%d" % i, "partition": i % 2} for i in range(10)])
    c = consumer(group, **{"session.timeout.ms": 6000})
    c.subscribe([topic])
    try:
        msgs = group_read(c, 10)
        check(len(msgs) == 10, "read %d of 10" % len(msgs))
        c.commit(asynchronous=False)
        listed = admin().list_consumer_groups(request_timeout=10).result(timeout=15)
        check(not listed.errors, "list errors %s" % listed.errors)
        ids = {g.group_id: g for g in listed.valid}
        check(group in ids, "group %s not listed (%d listed)" % (group, len(ids)))
        ctype = ids[group].type
        check(ctype == ConsumerGroupType.CLASSIC and ids[group].state == ConsumerGroupState.STABLE,
              "listed as type %s state %s" % (ctype, ids[group].state))
        desc = admin().describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
        check(desc.state == ConsumerGroupState.STABLE, "state %s" % desc.state)
        check(len(desc.members) == 1, "%d members" % len(desc.members))
        assigned = sorted((tp.topic, tp.partition) for tp in desc.members[0].assignment.topic_partitions)
        check(assigned == [(topic, 0), (topic, 1)], "assignment %s" % assigned)
        assignor = desc.partition_assignor
        check(assignor, "no assignor named")
        offs = admin().list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=10)[group].result(timeout=15)
        got = sorted((tp.topic, tp.partition, tp.offset) for tp in offs.topic_partitions)
        check(got == [(topic, 0, 5), (topic, 1, 5)], "committed offsets %s" % got)
        # Deleting a group with a member is refused (NON_EMPTY_GROUP).
        try:
            admin().delete_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
            raise AssertionError("deleting a non-empty group succeeded")
        except KafkaException as e:
            check(e.args[0].code() == KafkaError.NON_EMPTY_GROUP, "delete of non-empty group: %s" % e)
    finally:
        c.close()
    desc = admin().describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    check(desc.state == ConsumerGroupState.EMPTY and not desc.members, "after close: state %s, %d members" % (desc.state, len(desc.members)))
    admin().delete_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    listed = admin().list_consumer_groups(request_timeout=10).result(timeout=15)
    check(group not in {g.group_id for g in listed.valid}, "group still listed after delete")
    kip848 = admin_groups_consumer_protocol(topic)
    return ("classic group: listed (type %s), described (Stable, 1 member, assignor %s), offsets listed, delete refused "
            "while active, deleted when empty; %s" % (ctype, assignor, kip848))


def admin_groups_consumer_protocol(topic):
    """The same for a KIP-848 group (group.protocol=consumer): librdkafka describes it with
    ConsumerGroupDescribe."""
    from confluent_kafka import ConsumerGroupState, ConsumerGroupType

    group = name("admgrp848-group")
    c = consumer(group, **{"group.protocol": "consumer"})
    c.subscribe([topic])
    try:
        deadline = time.time() + 30
        while len(c.assignment()) != 2:
            check(time.time() < deadline, "KIP-848 member assigned %s" % c.assignment())
            c.poll(0.2)
        listed = {g.group_id: g for g in admin().list_consumer_groups(request_timeout=10).result(timeout=15).valid}
        check(group in listed and listed[group].type == ConsumerGroupType.CONSUMER, "KIP-848 group listed as %s" % (listed.get(group) and listed[group].type))
        desc = admin().describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
        check(desc.type == ConsumerGroupType.CONSUMER and desc.state == ConsumerGroupState.STABLE, "KIP-848 group: type %s state %s" % (desc.type, desc.state))
        check(len(desc.members) == 1, "KIP-848 group: %d members" % len(desc.members))
        assigned = sorted((tp.topic, tp.partition) for tp in desc.members[0].assignment.topic_partitions)
        check(assigned == [(topic, 0), (topic, 1)], "KIP-848 assignment %s" % assigned)
        assignor = desc.partition_assignor
    finally:
        c.close()
    deadline = time.time() + 15
    while True:
        try:
            admin().delete_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
            break
        except KafkaException as e:
            # The member's leave heartbeat may still be in flight.
            check(e.args[0].code() == KafkaError.NON_EMPTY_GROUP and time.time() < deadline, "KIP-848 delete: %s" % e)
            time.sleep(0.3)
    return "KIP-848 group: listed and described (type consumer, Stable, 1 member, assignor %s), deleted" % assignor


def srcv(entry):
    return getattr(entry.source, "value", entry.source)


def s_admin_configs():
    topic = name("cfg")
    create_topic(topic, 1, {"retention.ms": "3600000"})
    res = ConfigResource("topic", topic)
    cfg = admin().describe_configs([res], request_timeout=10)[res].result(timeout=15)
    r = cfg.get("retention.ms")
    check(r is not None and r.value == "3600000", "retention.ms %r" % (r and r.value))
    check(srcv(r) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and not r.is_default, "retention.ms source %s default %s" % (r.source, r.is_default))
    cp = cfg.get("cleanup.policy")
    check(cp is not None and cp.value == "delete" and cp.is_default and srcv(cp) == ConfigSource.DEFAULT_CONFIG.value,
          "cleanup.policy %r source %s" % (cp and cp.value, cp and cp.source))
    mm = cfg.get("max.message.bytes")
    check(mm is not None and mm.value == "1048588", "max.message.bytes %r" % (mm and mm.value))
    md = admin().list_topics(timeout=10)
    broker_id = str(next(iter(md.brokers)))
    bres = ConfigResource("broker", broker_id)
    bcfg = admin().describe_configs([bres], request_timeout=10)[bres].result(timeout=15)
    mmb = bcfg.get("message.max.bytes")
    check(mmb is not None and mmb.value == "1048588", "broker message.max.bytes %r" % (mmb and mmb.value))
    gm = bcfg.get("group.min.session.timeout.ms")
    check(gm is not None and gm.value == "1000" and srcv(gm) == ConfigSource.STATIC_BROKER_CONFIG.value,
          "broker group.min.session.timeout.ms (set by --override) %r source %s" % (gm and gm.value, gm and gm.source))
    return "topic: %d entries (retention.ms dynamic, cleanup.policy default); broker %s: %d entries" % (len(cfg), broker_id, len(bcfg))


def s_idempotent_producer():
    topic = name("idem")
    create_topic(topic, 2)
    recs = [{"key": b"k%d" % (i % 2), "value": b"v%d" % i, "partition": i % 2} for i in range(1000)]
    p = producer(**{"enable.idempotence": True, "max.in.flight.requests.per.connection": 5, "linger.ms": 1})
    reps = produce_all(p, topic, recs)
    for part in (0, 1):
        offs = [rep[2] for rep in reps if rep[1] == part]
        check(offs == list(range(500)), "partition %d acknowledged offsets not 0..499 in order" % part)
    msgs = consume_assigned(topic, 2, 1000)
    verify_against_reports(recs, reps, msgs)
    return "1000 records acknowledged once each at consecutive offsets, read back in order"


def s_large_records():
    topic = name("large")
    create_topic(topic, 1)
    big = os.urandom(1_000_000)
    p = producer(**{"message.max.bytes": 4_000_000, "batch.size": 4_000_000, "linger.ms": 0, "compression.type": "none", "enable.idempotence": False})
    reps = produce_all(p, topic, [{"key": b"big", "value": big}])
    too_big = os.urandom(1_100_000)
    result = []
    p.produce(topic, key=b"too-big", value=too_big, on_delivery=lambda err, msg: result.append(err))
    p.flush(30)
    check(result and result[0] is not None, "a 1,100,000-byte record was accepted")
    check(result[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, "too-large record refused with %s, want MSG_SIZE_TOO_LARGE" % result[0])
    c = consumer(**{"fetch.max.bytes": 10_000_000, "max.partition.fetch.bytes": 10_000_000, "receive.message.max.bytes": 20_000_000})
    try:
        msgs = consume_assigned(topic, 1, 1, c=c)
    finally:
        c.close()
    check(msgs[0].value() == big and msgs[0].offset() == reps[0][2], "the 1,000,000-byte value differs")
    return "1,000,000-byte value round-trips; 1,100,000 bytes refused: %s" % result[0].name()


def s_empty_topic():
    topic = name("empty")
    create_topic(topic, 2)
    c = consumer(**{"enable.partition.eof": True})
    try:
        for part in (0, 1):
            wm = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
            check(wm == (0, 0), "partition %d watermarks %s" % (part, wm))
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in (0, 1)])
        eofs = set()
        deadline = time.time() + 3
        while time.time() < deadline:
            m = c.poll(0.3)
            if m is None:
                continue
            if m.error() and m.error().code() == KafkaError._PARTITION_EOF:
                eofs.add(m.partition())
                continue
            raise AssertionError("unexpected %s" % (m.error() or "record at %d" % m.offset()))
        check(eofs == {0, 1}, "partition EOF for %s, want both" % sorted(eofs))
        wm = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in (0, 1)]
        check(wm == [(0, 0), (0, 0)], "watermarks after reading %s" % wm)
    finally:
        c.close()
    return "watermarks 0/0, no records, no errors (only partition EOF at 0)"


def s_nonexistent_topic():
    topic = name("does-not-exist")
    c = consumer(**{"allow.auto.create.topics": False})
    try:
        md = c.list_topics(topic=topic, timeout=10)
        t = md.topics.get(topic)
        check(t is not None and t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART,
              "metadata for a missing topic: %s" % (t and t.error))
        # Still usable: a real topic works on the same client.
        real = name("exists")
        create_topic(real, 1)
        produce_all(producer(), real, [{"value": b"still usable"}])
        msgs = consume_assigned(real, 1, 1, c=c)
        check(msgs[0].value() == b"still usable", "value differs")
    finally:
        c.close()
    check(topic not in admin().list_topics(timeout=10).topics, "the missing topic was auto-created")
    return "UNKNOWN_TOPIC_OR_PART, not created; client usable afterwards"


def s_many_partitions():
    topic = name("many")
    create_topic(topic, 100)
    recs = [{"key": b"k%d" % p, "value": b"partition-%d" % p, "partition": p} for p in range(100)]
    reps = produce_all(producer(), topic, recs)
    check(all(rep[1] == i and rep[2] == 0 for i, rep in enumerate(reps)), "acknowledged positions differ")
    msgs = consume_assigned(topic, 100, 100)
    got = sorted((m.partition(), m.offset(), m.key(), m.value()) for m in msgs)
    check(got == [(p, 0, b"k%d" % p, b"partition-%d" % p) for p in range(100)], "records per partition differ")
    return "one record in each of 100 partitions read back"


def tp_errors(tps):
    return {(tp.topic, tp.partition): (tp.error.code() if tp.error else 0) for tp in tps}


def s_commit_unknown_topic():
    from confluent_kafka import ConsumerGroupTopicPartitions

    topic = name("cut")
    missing = name("cut-missing")  # never created; nothing here asks metadata for it by name
    create_topic(topic, 3)
    want = {(topic, 0): 0, (topic, 7): KafkaError.UNKNOWN_TOPIC_OR_PART, (missing, 0): KafkaError.UNKNOWN_TOPIC_OR_PART}
    offsets = lambda o, known=0: [TopicPartition(topic, known, o), TopicPartition(topic, 7, o), TopicPartition(missing, 0, o)]
    # Admin: AlterConsumerGroupOffsets gives each partition's error.
    group = name("cut-admin")
    res = admin().alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, offsets(2))], request_timeout=10)[group].result(timeout=15)
    got = tp_errors(res.topic_partitions)
    check(got == want, "admin alter_consumer_group_offsets: per-partition errors %s, want %s" % (got, want))
    listed = admin().list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=10)[group].result(timeout=15)
    stored = sorted((tp.topic, tp.partition, tp.offset) for tp in listed.topic_partitions)
    check(stored == [(topic, 0, 2)], "admin: committed offsets afterwards %s" % stored)
    # Consumer, synchronous commit: librdkafka raises the partitions' error.
    group2 = name("cut-consumer")
    c = consumer(group2)
    try:
        try:
            c.commit(offsets=offsets(3, known=1), asynchronous=False)
            raise AssertionError("synchronous commit including unknown partitions succeeded")
        except KafkaException as e:
            check(e.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, "synchronous commit raised %s" % e)
    finally:
        c.close()
    # Consumer, asynchronous commit: on_commit gets each partition's error.
    box = {}
    c = consumer(group2, on_commit=lambda err, parts: box.update(err=err, parts=parts))
    try:
        c.commit(offsets=offsets(4, known=2), asynchronous=True)
        deadline = time.time() + 15
        while "parts" not in box and time.time() < deadline:
            c.poll(0.2)
        check("parts" in box, "on_commit never called")
        got2 = tp_errors(box["parts"])
        # librdkafka 2.16 hands on_commit the request's error on every partition, the known one
        # included (the broker stored it: checked below through list_consumer_group_offsets).
        bad2 = {k: v for k, v in got2.items() if k != (topic, 2)}
        check(bad2 == {k: v for k, v in want.items() if k != (topic, 0)} and (topic, 2) in got2,
              "on_commit per-partition errors %s" % got2)
    finally:
        c.close()
    listed = admin().list_consumer_group_offsets([ConsumerGroupTopicPartitions(group2)], request_timeout=10)[group2].result(timeout=15)
    stored2 = sorted((tp.topic, tp.partition, tp.offset) for tp in listed.topic_partitions)
    check(stored2 == [(topic, 1, 3), (topic, 2, 4)], "consumer: committed offsets afterwards %s" % stored2)
    md = admin().list_topics(timeout=10)
    check(missing not in md.topics, "the missing topic exists now")
    return ("admin alter_consumer_group_offsets and consumer commit (on_commit per partition; synchronous commit raises it): "
            "partition 7 of 3 and a missing topic UNKNOWN_TOPIC_OR_PART (3), the known partition committed "
            "(on_commit shows error %d on it too: librdkafka copies the request's error there)" % got2[(topic, 2)])


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
    # max.poll.interval.ms is the rebalance timeout: if a member expires while another is still
    # closing (a slow close under load), the rebalance that follows, and that close, wait at most
    # 10 s for the members that will never rejoin, not librdkafka's default 300 s.
    cs = [consumer(group, **{"group.instance.id": "%s-m%d" % (group, i), "session.timeout.ms": 6000,
                             "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 10000})
          for i in range(3)]
    try:
        for c in cs:
            c.subscribe([topic])
        got = set()  # a rebalance may hand a partition over before its records were committed
        deadline = time.time() + 40
        while len(got) < 30 and time.time() < deadline:
            for c in cs:
                for m in c.consume(num_messages=100, timeout=0.2):
                    check(not m.error(), "consume error %s" % m.error())
                    got.add(m.value())
        check(got == {b"s%d" % i for i in range(30)}, "the static members read %d of the 30 records" % len(got))
        # One member may have read everything before the others joined: keep polling until the
        # group is Stable with all three and each has taken its assignment. The group is Stable
        # as soon as the SyncGroup answers are sent; a member whose assignment event is still
        # queued must be polled before close(): librdkafka 2.16 serves that event inside
        # close(), and its assign() call then waits forever on the terminated group.
        from confluent_kafka import ConsumerGroupState

        deadline = time.time() + 30
        while True:
            desc = admin().describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
            ids = sorted(m.group_instance_id or "" for m in desc.members)
            assigned = [len(c.assignment()) for c in cs]
            if desc.state == ConsumerGroupState.STABLE and len(ids) == 3 and all(ids) and all(assigned):
                break
            check(time.time() < deadline, "before closing: state %s, %d members, instance ids %s, assigned %s"
                  % (desc.state, len(ids), ids, assigned))
            for c in cs:
                c.poll(0.2)
    finally:
        # One at a time, STATIC_CLOSE_GAP_S apart, so that the first expiry (a rebalance) comes
        # while the others are gone but not yet expired: Kafka expires those at their session timeout too.
        closes = []
        for i, c in enumerate(cs):
            if i:
                time.sleep(STATIC_CLOSE_GAP_S)
            c.close()  # static members: librdkafka sends no LeaveGroup
            closes.append(time.time())
    last, seen = None, []  # seen: (s after the first close, members described) at each change
    while time.time() < closes[-1] + 20:
        desc = admin().describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
        static_expiry_check(closes, seen, len(desc.members))
        try:
            admin().delete_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
            return static_expiry_pass(closes, seen)
        except KafkaException as e:
            last = e.args[0]
            check(last.code() == KafkaError.NON_EMPTY_GROUP, "DeleteGroups: %s" % last)
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


GROUP_CONFIG_NAMES = {
    "consumer.heartbeat.interval.ms", "consumer.session.timeout.ms",
    "share.auto.offset.reset", "share.heartbeat.interval.ms", "share.isolation.level",
    "share.record.lock.duration.ms", "share.session.timeout.ms",
    "streams.heartbeat.interval.ms", "streams.num.standby.replicas", "streams.session.timeout.ms",
}


def s_describe_group_configs():
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ResourceType

    group = name("gcfg")
    md = admin().list_topics(timeout=10)
    bres = ConfigResource("broker", str(next(iter(md.brokers))))
    bcfg = admin().describe_configs([bres], request_timeout=10)[bres].result(timeout=15)
    # Kafka's group config defaults are the broker's group.consumer.* values.
    want = {
        "consumer.session.timeout.ms": bcfg["group.consumer.session.timeout.ms"].value,
        "consumer.heartbeat.interval.ms": bcfg["group.consumer.heartbeat.interval.ms"].value,
        "share.auto.offset.reset": "latest",
        "share.isolation.level": "read_uncommitted",
        "share.record.lock.duration.ms": "30000",
        "streams.num.standby.replicas": "0",
    }
    res = ConfigResource(ResourceType.GROUP, group)
    cfg = admin().describe_configs([res], request_timeout=10)[res].result(timeout=15)
    missing = GROUP_CONFIG_NAMES - set(cfg)
    check(not missing, "group configs missing: %s (got %s)" % (sorted(missing), sorted(cfg)))
    for k, v in want.items():
        e = cfg[k]
        check(e.value == v and e.is_default and srcv(e) == ConfigSource.DEFAULT_CONFIG.value,
              "%s: %r source %s, want default %s" % (k, e.value, e.source, v))
    alter = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("consumer.heartbeat.interval.ms", "6000", incremental_operation=AlterConfigOpType.SET)])
    admin().incremental_alter_configs([alter], request_timeout=10)[alter].result(timeout=15)
    cfg = admin().describe_configs([res], request_timeout=10)[res].result(timeout=15)
    e = cfg["consumer.heartbeat.interval.ms"]
    check(e.value == "6000" and srcv(e) == 8 and not e.is_default, "after setting 6000: %r source %s" % (e.value, e.source))
    # Above group.consumer.max.heartbeat.interval.ms (15000): INVALID_CONFIG (40), nothing changes.
    alter = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("consumer.heartbeat.interval.ms", "16000", incremental_operation=AlterConfigOpType.SET)])
    try:
        admin().incremental_alter_configs([alter], request_timeout=10)[alter].result(timeout=15)
        raise AssertionError("setting 16000 (above the 15000 bound) succeeded")
    except KafkaException as ex:
        check(ex.args[0].code() == KafkaError.INVALID_CONFIG, "setting 16000 (above the 15000 bound): %s" % ex)
    e = admin().describe_configs([res], request_timeout=10)[res].result(timeout=15)["consumer.heartbeat.interval.ms"]
    check(e.value == "6000", "after the refused 16000: %r" % e.value)
    return ("%d group configs with defaults (consumer.session.timeout.ms %s, consumer.heartbeat.interval.ms %s: the broker's); "
            "IncrementalAlterConfigs consumer.heartbeat.interval.ms=6000 reads back 6000 from GROUP_CONFIG (8); 16000, above "
            "group.consumer.max.heartbeat.interval.ms, is refused with INVALID_CONFIG"
            % (len(cfg), want["consumer.session.timeout.ms"], want["consumer.heartbeat.interval.ms"]))


# AclEntry.supportedOperations in Kafka 4.1, by resource type.
TOPIC_OPS = {"READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}
CLUSTER_OPS = {"CREATE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE"}
GROUP_OPS = {"READ", "DESCRIBE", "DELETE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}


def s_authorized_operations():
    from confluent_kafka import TopicCollection

    topic = name("authops")
    group = name("authops-group")
    create_topic(topic, 1)
    c = consumer(group)
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        c.close()
    names = lambda ops: None if ops is None else {o.name for o in ops}
    shown = lambda ops: "none (the broker sent INT32_MIN)" if ops is None else sorted(ops)
    bad = []
    t = admin().describe_topics(TopicCollection([topic]), include_authorized_operations=True, request_timeout=10)[topic].result(timeout=15)
    if names(t.authorized_operations) != TOPIC_OPS:
        bad.append("topic %s, want %s" % (shown(names(t.authorized_operations)), sorted(TOPIC_OPS)))
    cl = admin().describe_cluster(include_authorized_operations=True, request_timeout=10).result(timeout=15)
    if names(cl.authorized_operations) != CLUSTER_OPS:
        bad.append("cluster %s, want %s" % (shown(names(cl.authorized_operations)), sorted(CLUSTER_OPS)))
    g = admin().describe_consumer_groups([group], include_authorized_operations=True, request_timeout=10)[group].result(timeout=15)
    if names(g.authorized_operations) != GROUP_OPS:
        bad.append("group %s, want %s" % (shown(names(g.authorized_operations)), sorted(GROUP_OPS)))
    check(not bad, "authorized operations: " + "; ".join(bad))
    return "describe_topics, describe_cluster and describe_consumer_groups list every supported operation"


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
    results = sys.argv[1]
    wanted = sys.argv[2:] or scenario_ids()
    print("%s: confluent-kafka %s, librdkafka %s" % (CLIENT, confluent_kafka.version()[0], confluent_kafka.libversion()[0]), flush=True)
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
    # librdkafka threads of a timed-out scenario must not keep the process alive.
    os._exit(rc)
