#!/usr/bin/env python3
"""Gregor compatibility scenarios for aiokafka (asyncio, pure Python).

Usage: scenarios.py RESULTS_FILE [SCENARIO...]
Appends one JSON line per scenario of ../scenarios.txt to RESULTS_FILE. Each scenario is a
coroutine run in its own event loop under asyncio.wait_for(SCENARIO_SECONDS), with a thread
watchdog as a backstop; a scenario that raises or times out is a `fail`.
Environment: GREGOR_BOOTSTRAP, GREGOR_PREFIX, GREGOR_CTL (see ../README.md).
"""
import asyncio
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

import aiokafka
import aiokafka.errors as Errors
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.protocol.admin import DeleteGroupsRequest
from aiokafka.structs import OffsetAndMetadata

CLIENT = "aiokafka"
SCENARIO_SECONDS = 60
BOOTSTRAP = os.environ.get("GREGOR_BOOTSTRAP", "127.0.0.1:9092")
PREFIX = os.environ.get("GREGOR_PREFIX", CLIENT + "-")
RUN = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))
CREATE_TIME, LOG_APPEND_TIME = 0, 1  # timestamp_type
# DescribeConfigs config_source values (KIP-226).
DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5


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
# Helpers. A Scope holds the scenario's admin client and stops every client it started.

class Scope:
    def __init__(self):
        self.clients = []
        self.admin = None

    async def start(self):
        self.admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)
        await self.admin.start()

    async def close(self):
        for c in reversed(self.clients):
            try:
                await asyncio.wait_for(c.stop(), 10)
            except BaseException:
                pass
        if self.admin is not None:
            try:
                await asyncio.wait_for(self.admin.close(), 10)
            except BaseException:
                pass

    async def producer(self, **conf):
        c = {"bootstrap_servers": BOOTSTRAP, "linger_ms": 5, "request_timeout_ms": 15000}
        c.update(conf)
        p = AIOKafkaProducer(**c)
        self.clients.append(p)
        await p.start()
        return p

    async def consumer(self, *topics, **conf):
        c = {
            "bootstrap_servers": BOOTSTRAP,
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "request_timeout_ms": 15000,
        }
        c.update(conf)
        cons = AIOKafkaConsumer(*topics, **c)
        self.clients.append(cons)
        await cons.start()
        return cons

    async def stop(self, client):
        await client.stop()
        if client in self.clients:
            self.clients.remove(client)

    async def describe_topic(self, topic):
        ts = await self.admin.describe_topics([topic])
        return ts[0] if ts else None

    async def wait_topic(self, topic, partitions, timeout=15.0):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            t = await self.describe_topic(topic)
            if t and t["error_code"] == 0 and len(t["partitions"]) == partitions and all(
                p["leader"] >= 0 for p in t["partitions"]
            ):
                return t
            last = t and (t["error_code"], len(t["partitions"]))
            await asyncio.sleep(0.1)
        raise AssertionError("topic %s not ready with %d partitions: %s" % (topic, partitions, last))

    async def create_topic(self, topic, partitions, configs=None):
        resp = await self.admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs or {})])
        errs = [(t[0], t[1]) for t in resp.topic_errors if t[1] != 0]
        if errs:
            raise Errors.for_code(errs[0][1])("create %s: %s" % (topic, errs))
        await self.wait_topic(topic, partitions)

    async def produce_all(self, p, topic, records):
        """records: list of dicts with send() kwargs. Returns RecordMetadata per record, in order."""
        futs = [await p.send(topic, **r) for r in records]
        return list(await asyncio.gather(*futs))

    async def consume_assigned(self, topic, partitions, count, timeout=30.0, c=None):
        """Reads `count` records from the start of the partitions, then polls a little longer to
        see that nothing more arrives."""
        own = c is None
        if own:
            c = await self.consumer()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            msgs = await read(c, count, timeout)
            check(len(msgs) == count, "read %d of %d records" % (len(msgs), count))
            extra = await read(c, 1, 0.5)
            check(not extra, "read %d more records than produced" % len(extra))
            return msgs
        finally:
            if own:
                await self.stop(c)


async def read(c, count, timeout=30.0):
    msgs = []
    deadline = time.time() + timeout
    while len(msgs) < count and time.time() < deadline:
        batch = await c.getmany(timeout_ms=300)
        for recs in batch.values():
            msgs.extend(recs)
    return msgs


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
# Scenarios (each takes the Scope)

async def s_metadata(sc):
    topic = name("metadata")
    await sc.create_topic(topic, 2)
    cl = await sc.admin.describe_cluster()
    brokers = ["%s:%d" % (b["host"], b["port"]) for b in cl["brokers"]]
    check(BOOTSTRAP in brokers, "broker list %s lacks %s" % (brokers, BOOTSTRAP))
    check(cl.get("cluster_id"), "no cluster id in %s" % cl)
    check(cl.get("controller_id") in [b["node_id"] for b in cl["brokers"]], "controller %s" % cl.get("controller_id"))
    check(topic in await sc.admin.list_topics(), "admin topic listing lacks %s" % topic)
    c = await sc.consumer()
    check(topic in await c.topics(), "consumer topic listing lacks %s" % topic)
    t = await sc.describe_topic(topic)
    check(sorted(p["partition"] for p in t["partitions"]) == [0, 1], "partitions %s" % t["partitions"])
    return "brokers %s, cluster id %s, controller %s" % (brokers, cl["cluster_id"], cl["controller_id"])


async def s_create_topic(sc):
    topic = name("create")
    await sc.create_topic(topic, 3, {"retention.ms": "3600000"})
    t = await sc.describe_topic(topic)
    check(len(t["partitions"]) == 3, "partitions %d" % len(t["partitions"]))
    cfg = await topic_configs(sc, topic)
    check(cfg.get("retention.ms", (None,))[0] == "3600000", "retention.ms %r" % (cfg.get("retention.ms"),))
    resp = await sc.admin.create_topics([NewTopic(topic, 3, 1)])
    code = resp.topic_errors[0][1]
    check(code == Errors.TopicAlreadyExistsError.errno, "second create answered error %d" % code)
    return "3 partitions, retention.ms=3600000; duplicate create refused"


async def s_delete_topic(sc):
    topic = name("delete")
    await sc.create_topic(topic, 3)
    resp = await sc.admin.delete_topics([topic])
    check(all(t[1] == 0 for t in resp.topic_error_codes), "delete result %s" % resp)
    deadline = time.time() + 15
    while topic in await sc.admin.list_topics():
        check(time.time() < deadline, "topic still listed 15 s after deletion")
        await asyncio.sleep(0.2)
    deadline = time.time() + 15
    while True:
        try:
            await sc.create_topic(topic, 2)
            break
        except Errors.TopicAlreadyExistsError:
            check(time.time() < deadline, "re-create refused for 15 s")
            await asyncio.sleep(0.3)
    p = await sc.producer()
    metas = await sc.produce_all(p, topic, [{"key": b"k", "value": b"after-recreate", "partition": 1}])
    msgs = await sc.consume_assigned(topic, 2, 1)
    check(msgs[0].value == b"after-recreate" and msgs[0].offset == 0 and metas[0].offset == 0, "re-created topic does not start empty")
    return "deleted, unlisted, re-created with 2 partitions"


async def s_create_partitions(sc):
    topic = name("grow")
    await sc.create_topic(topic, 3)
    await sc.admin.create_partitions({topic: NewPartitions(5)})
    await sc.wait_topic(topic, 5)
    p = await sc.producer()
    deadline = time.time() + 10
    while await p.partitions_for(topic) != {0, 1, 2, 3, 4}:
        check(time.time() < deadline, "producer sees partitions %s" % await p.partitions_for(topic))
        await p.client.force_metadata_update()
        await asyncio.sleep(0.2)
    await sc.produce_all(p, topic, [{"value": b"p%d" % i, "partition": i} for i in range(5)])
    msgs = await sc.consume_assigned(topic, 5, 5)
    check(sorted((m.partition, m.value) for m in msgs) == [(i, b"p%d" % i) for i in range(5)], "records per partition differ")
    return "3 -> 5 partitions; new partitions writable"


async def produce_consume(sc, codec):
    topic = name("codec-" + codec)
    await sc.create_topic(topic, 3)
    recs = keyed_records(1000)
    p = await sc.producer(compression_type=None if codec == "none" else codec)
    metas = await sc.produce_all(p, topic, recs)
    msgs = await sc.consume_assigned(topic, 3, 1000)
    verify_against_metadata(recs, metas, msgs)
    return "1000 records (%s) over partitions %s read back equal, in order" % (codec, sorted({m.partition for m in metas}))


async def s_produce_consume_none(sc):
    return await produce_consume(sc, "none")


async def s_produce_consume_gzip(sc):
    return await produce_consume(sc, "gzip")


async def s_produce_consume_snappy(sc):
    return await produce_consume(sc, "snappy")


async def s_produce_consume_lz4(sc):
    return await produce_consume(sc, "lz4")


async def s_produce_consume_zstd(sc):
    return await produce_consume(sc, "zstd")


async def s_keys_headers_timestamps(sc):
    topic = name("khts")
    await sc.create_topic(topic, 1)
    base = 1_600_000_000_000
    recs = [
        {"key": b"k0", "value": b"v0", "headers": [("h", b"1"), ("h", b"2"), ("other", b"x")], "timestamp_ms": base},
        {"key": b"k1", "value": b"v1", "headers": [("nullvalue", None)], "timestamp_ms": base + 1},
        {"key": None, "value": b"no key", "headers": [("a", b"")], "timestamp_ms": base + 2},
        {"key": b"tombstone", "value": None, "timestamp_ms": base + 3},
        {"key": b"", "value": b"", "headers": [("utf8-\u00e9", "\u00e9".encode())], "timestamp_ms": base - 86_400_000},
        {"key": bytes(range(256)), "value": bytes(range(255, -1, -1)), "timestamp_ms": base + 5},
    ]
    p = await sc.producer()
    metas = await sc.produce_all(p, topic, recs)
    msgs = await sc.consume_assigned(topic, 1, len(recs))
    for r, md, m in zip(recs, metas, msgs):
        check(m.offset == md.offset, "offset %d != acknowledged %d" % (m.offset, md.offset))
        check(m.key == r.get("key"), "key %r != %r" % (m.key, r.get("key")))
        check(m.value == r.get("value"), "value %r != %r" % (m.value, r.get("value")))
        check(list(m.headers) == (r.get("headers") or []), "headers %r != %r" % (m.headers, r.get("headers")))
        check(m.timestamp == r["timestamp_ms"] and m.timestamp_type == CREATE_TIME, "timestamp %s type %s != CreateTime %d" % (m.timestamp, m.timestamp_type, r["timestamp_ms"]))
        # Not md.timestamp: aiokafka 0.14 gives every record of a batch the first record's
        # timestamp in its RecordMetadata (MessageBatch.done() rebinds `timestamp` in its loop).
        check(md.timestamp_type == CREATE_TIME, "acknowledged timestamp type %s" % md.timestamp_type)
    return "%d records: keys (null, empty, binary), repeated/null-valued headers, CreateTime timestamps equal" % len(recs)


async def s_log_append_time(sc):
    topic = name("lat")
    await sc.create_topic(topic, 1, {"message.timestamp.type": "LogAppendTime"})
    old = 1_000_000_000_000
    before = int(time.time() * 1000)
    recs = [{"key": b"k%d" % i, "value": b"v%d" % i, "timestamp_ms": old + i} for i in range(5)]
    p = await sc.producer()
    metas = await sc.produce_all(p, topic, recs)
    after = int(time.time() * 1000)
    msgs = await sc.consume_assigned(topic, 1, 5)
    for r, md, m in zip(recs, metas, msgs):
        check(m.value == r["value"], "value differs")
        check(m.timestamp_type == LOG_APPEND_TIME, "timestamp type %s, want LogAppendTime (1)" % m.timestamp_type)
        check(before - 1000 <= m.timestamp <= after + 1000, "timestamp %d outside [%d, %d]" % (m.timestamp, before, after))
        check(md.timestamp_type == LOG_APPEND_TIME and before - 1000 <= md.timestamp <= after + 1000,
              "acknowledgement: timestamp %s type %s" % (md.timestamp, md.timestamp_type))
    return "records stamped %d (type LogAppendTime, also in the produce acknowledgement) instead of %d" % (msgs[0].timestamp, old)


async def acks_scenario(sc, acks):
    topic = name("acks%s" % acks)
    await sc.create_topic(topic, 3)
    recs = keyed_records(300, 20)
    p = await sc.producer(acks=acks, enable_idempotence=False)
    metas = await sc.produce_all(p, topic, recs)
    msgs = await sc.consume_assigned(topic, 3, len(recs))
    if acks == 0:
        # aiokafka resolves an acks=0 send with None (no RecordMetadata): the expected partition
        # is murmur2's.
        want, got = {}, {}
        for r, md in zip(recs, metas):
            part = md.partition if md is not None else murmur2_partition(r["key"], 3)
            want.setdefault(part, []).append((r["key"], r["value"]))
        for m in msgs:
            got.setdefault(m.partition, []).append((m.key, m.value))
        check(got == want, "records per partition differ")
        return "300 records with acks=0 read back equal, in order (send() resolved with %r)" % (metas[0],)
    verify_against_metadata(recs, metas, msgs)
    return "300 records with acks=%s at their acknowledged offsets" % acks


async def s_acks_0(sc):
    return await acks_scenario(sc, 0)


async def s_acks_1(sc):
    return await acks_scenario(sc, 1)


async def s_acks_all(sc):
    return await acks_scenario(sc, "all")


async def s_partitioner(sc):
    for k, v in MURMUR2_VECTORS.items():
        check(signed32(murmur2(k)) == v, "test's own murmur2 is wrong for %r" % k)
    n = 7
    topic = name("partitioner")
    await sc.create_topic(topic, n)
    keys = [("key-%d" % i).encode() for i in range(200)] + [b"", b"a", bytes(range(40))]
    p = await sc.producer()
    metas = await sc.produce_all(p, topic, [{"key": k, "value": b"v"} for k in keys])
    wrong = [(k, md.partition, murmur2_partition(k, n)) for k, md in zip(keys, metas) if md.partition != murmur2_partition(k, n)]
    check(not wrong, "%d keys elsewhere than murmur2 puts them, e.g. %s" % (len(wrong), wrong[:3]))
    msgs = await sc.consume_assigned(topic, n, len(keys))
    check(all(m.partition == murmur2_partition(m.key, n) for m in msgs), "records read from other partitions")
    return "%d keys (incl. empty) over %d partitions where murmur2 puts them" % (len(keys), n)


async def s_offsets_for_times(sc):
    topic = name("oft")
    await sc.create_topic(topic, 1)
    t0 = int(time.time() * 1000) - 3_600_000
    p = await sc.producer()
    await sc.produce_all(p, topic, [{"value": b"v%d" % i, "timestamp_ms": t0 + 1000 * i} for i in range(10)])
    c = await sc.consumer()
    tp = TopicPartition(topic, 0)
    queries = [(t0 - 5000, 0), (t0, 0), (t0 + 2000, 2), (t0 + 2500, 3), (t0 + 9000, 9), (t0 + 9001, None), (t0 + 10_000_000, None)]
    out = []
    for ts, want in queries:
        res = (await c.offsets_for_times({tp: ts}))[tp]
        got = None if res is None else res.offset
        check(got == want, "timestamp t0%+d: offset %s, want %s" % (ts - t0, got, want))
        if res is not None:
            check(res.timestamp == t0 + 1000 * res.offset, "timestamp %d at offset %d" % (res.timestamp, res.offset))
        out.append(got)
    c.assign([tp])
    c.seek(tp, (await c.offsets_for_times({tp: t0 + 4500}))[tp].offset)
    m = await read(c, 1, 10)
    check(m and m[0].value == b"v5" and m[0].timestamp == t0 + 5000, "record at the offset for t0+4500 is %r" % (m and m[0].value))
    return "offsets %s; beyond the last record: None" % out


async def s_seek(sc):
    topic = name("seek")
    await sc.create_topic(topic, 1)
    p = await sc.producer()
    await sc.produce_all(p, topic, [{"key": b"k%d" % i, "value": b"v%d" % i} for i in range(100)])
    c = await sc.consumer(max_poll_records=10)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    await c.seek_to_beginning(tp)
    first = await read(c, 1, 10)
    check(first and first[0].offset == 0, "first read %r" % first[:1])
    for target in (50, 7, 99):
        c.seek(tp, target)
        pos = await c.position(tp)
        check(pos == target, "position after seek(%d) is %d" % (target, pos))
        want = list(range(target, min(target + 10, 100)))
        got = await read(c, len(want), 10)
        check([m.offset for m in got[: len(want)]] == want, "after seek(%d) read offsets %s" % (target, [m.offset for m in got[:5]]))
        check(all(m.value == b"v%d" % m.offset and m.key == b"k%d" % m.offset for m in got), "values differ after seek(%d)" % target)
    return "seek to 50, 7, 99: read from exactly there"


async def group_consumer(sc, group, topic, **conf):
    return await sc.consumer(topic, group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=500, **conf)


async def s_group_consume_commit(sc):
    topic = name("gcc")
    group = name("gcc-group")
    await sc.create_topic(topic, 3)
    recs = keyed_records(300, 20)
    p = await sc.producer()
    metas = await sc.produce_all(p, topic, recs)
    c1 = await group_consumer(sc, group, topic)
    msgs = await read(c1, 300)
    check(len(msgs) == 300, "first member read %d of 300" % len(msgs))
    verify_against_metadata(recs, metas, msgs)
    await c1.commit()
    ends = {}
    for md in metas:
        ends[md.partition] = max(ends.get(md.partition, 0), md.offset + 1)
    got = {pt: await c1.committed(TopicPartition(topic, pt)) for pt in range(3)}
    check(got == ends, "committed %s, want %s" % (got, ends))
    await sc.stop(c1)
    more = [{"key": b"new-%d" % i, "value": b"new-value-%d" % i} for i in range(30)]
    metas2 = await sc.produce_all(p, topic, more)
    c2 = await group_consumer(sc, group, topic)
    msgs2 = await read(c2, 30)
    extra = await read(c2, 1, 2)
    check(len(msgs2) == 30 and not extra, "new member read %d records (+%d), want only the 30 new" % (len(msgs2), len(extra)))
    verify_against_metadata(more, metas2, msgs2)
    return "300 read and committed (%s); a new member read only the 30 later records" % got


async def member_loop(c, stop):
    while not stop.is_set():
        await c.getmany(timeout_ms=100)


async def wait_members(cs, want, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        sets = [{tp.partition for tp in c.assignment()} for c in cs]
        if sorted(len(s) for s in sets) == want and len(set().union(*sets)) == 6:
            return [sorted(s) for s in sets]
        await asyncio.sleep(0.1)
    raise AssertionError("assignments %s, want sizes %s" % ([sorted(tp.partition for tp in c.assignment()) for c in cs], want))


async def s_group_rebalance(sc):
    topic = name("rebal")
    group = name("rebal-group")
    await sc.create_topic(topic, 6)
    cs = [await group_consumer(sc, group, topic) for _ in range(3)]
    stops = [asyncio.Event() for _ in cs]
    loops = [asyncio.ensure_future(member_loop(c, s)) for c, s in zip(cs, stops)]
    try:
        first = await wait_members(cs, [2, 2, 2], 40)
        stops[2].set()
        await loops[2]
        await sc.stop(cs[2])
        second = await wait_members(cs[:2], [3, 3], 40)
    finally:
        for s in stops:
            s.set()
        await asyncio.gather(*loops, return_exceptions=True)
    return "%s then %s" % (first, second)


async def s_group_resume_after_restart(sc):
    topic = name("resume")
    group = name("resume-group")
    await sc.create_topic(topic, 3)
    recs = keyed_records(120, 20)
    p = await sc.producer()
    metas = await sc.produce_all(p, topic, recs)
    await sc.stop(p)
    per_part = {}
    for md in metas:
        per_part[md.partition] = per_part.get(md.partition, 0) + 1
    commit_at = {pt: n // 2 for pt, n in per_part.items()}
    c1 = await group_consumer(sc, group, topic)
    msgs = await read(c1, 120)
    check(len(msgs) == 120, "first member read %d of 120" % len(msgs))
    await c1.commit({TopicPartition(topic, pt): OffsetAndMetadata(o, "half") for pt, o in commit_at.items()})
    await sc.stop(c1)
    await asyncio.to_thread(subprocess.run, [os.environ["GREGOR_CTL"], "restart"], check=True, timeout=60)
    c2 = await group_consumer(sc, group, topic)
    want = sum(n - commit_at[pt] for pt, n in per_part.items())
    msgs2 = await read(c2, want, 40)
    extra = await read(c2, 1, 2)
    check(len(msgs2) == want and not extra, "after restart read %d (+%d), want %d" % (len(msgs2), len(extra), want))
    firsts = {}
    for m in msgs2:
        firsts.setdefault(m.partition, m.offset)
    check(firsts == commit_at, "resumed at %s, want %s" % (firsts, commit_at))
    verify_against_metadata(recs, metas, msgs2)
    offs = await sc.admin.list_consumer_group_offsets(group)
    got = {tp.partition: (om.offset, om.metadata) for tp, om in offs.items()}
    check(got == {pt: (o, "half") for pt, o in commit_at.items()}, "committed after restart %s" % got)
    return "committed %s, broker restarted, new member resumed exactly there (%d records)" % (commit_at, want)


async def delete_group(sc, group):
    """aiokafka's admin client has no delete_consumer_groups: send its protocol class
    DeleteGroupsRequest to the coordinator through the admin client's own connection."""
    coordinator = await sc.admin.find_coordinator(group)
    resp = await sc.admin._send_request_to_node(coordinator, DeleteGroupsRequest([group]))
    return dict(resp.results)[group]


async def list_groups(sc):
    return {g[0]: g for g in await sc.admin.list_consumer_groups()}


async def s_admin_groups(sc):
    topic = name("admgrp")
    group = name("admgrp-group")
    await sc.create_topic(topic, 2)
    p = await sc.producer()
    await sc.produce_all(p, topic, [{"value": b"x%d" % i, "partition": i % 2} for i in range(10)])
    c = await group_consumer(sc, group, topic)
    msgs = await read(c, 10)
    check(len(msgs) == 10, "read %d of 10" % len(msgs))
    await c.commit()
    listed = await list_groups(sc)
    check(group in listed and listed[group][1] == "consumer", "group %s not listed as a consumer group: %s" % (group, listed.get(group)))
    resps = await sc.admin.describe_consumer_groups([group])
    g = resps[0].groups[0]
    # DescribeGroups v0-v3 group: error_code, group_id, state, protocol_type, protocol, members, [authorized_operations]
    check(g[0] == 0 and g[1] == group and g[2] == "Stable", "describe: %s" % (g[:5],))
    check(g[3] == "consumer" and g[4] in ("range", "roundrobin"), "protocol %r/%r" % (g[3], g[4]))
    check(len(g[5]) == 1, "%d members" % len(g[5]))
    protocol = g[4]
    offs = await sc.admin.list_consumer_group_offsets(group)
    got = sorted((tp.topic, tp.partition, om.offset) for tp, om in offs.items())
    check(got == [(topic, 0, 5), (topic, 1, 5)], "committed offsets %s" % got)
    code = await delete_group(sc, group)
    check(code == Errors.NonEmptyGroup.errno, "delete of a non-empty group answered %d" % code)
    await sc.stop(c)
    g = (await sc.admin.describe_consumer_groups([group]))[0].groups[0]
    check(g[2] == "Empty" and not g[5], "after leaving: state %s, %d members" % (g[2], len(g[5])))
    code = await delete_group(sc, group)
    check(code == 0, "delete answered %d" % code)
    check(group not in await list_groups(sc), "group still listed after delete")
    return ("listed, described (Stable, 1 member, protocol %s), offsets listed; deleted (NON_EMPTY_GROUP while active) "
            "with aiokafka's DeleteGroupsRequest, as its admin client has no delete_consumer_groups" % protocol)


async def topic_configs(sc, topic):
    resps = await sc.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return config_map(resps)


def config_map(resps):
    """DescribeConfigs v1-v3 resource: error_code, error_message, resource_type, resource_name,
    config_entries[(name, value, read_only, config_source, is_sensitive, synonyms, ...)]."""
    out = {}
    for resp in resps:
        for res in resp.resources:
            check(res[0] == 0, "DescribeConfigs error %d %s" % (res[0], res[1]))
            for e in res[4]:
                out[e[0]] = (e[1], e[3])
    return out


async def s_admin_configs(sc):
    topic = name("cfg")
    await sc.create_topic(topic, 1, {"retention.ms": "3600000"})
    cfg = await topic_configs(sc, topic)
    check(cfg.get("retention.ms") == ("3600000", DYNAMIC_TOPIC_CONFIG), "retention.ms %r" % (cfg.get("retention.ms"),))
    check(cfg.get("cleanup.policy") == ("delete", DEFAULT_CONFIG), "cleanup.policy %r" % (cfg.get("cleanup.policy"),))
    check(cfg.get("max.message.bytes", (None,))[0] == "1048588", "max.message.bytes %r" % (cfg.get("max.message.bytes"),))
    broker_id = (await sc.admin.describe_cluster())["brokers"][0]["node_id"]
    bcfg = config_map(await sc.admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(broker_id))]))
    check(bcfg.get("message.max.bytes", (None,))[0] == "1048588", "broker message.max.bytes %r" % (bcfg.get("message.max.bytes"),))
    check(bcfg.get("group.min.session.timeout.ms") == ("1000", STATIC_BROKER_CONFIG),
          "broker group.min.session.timeout.ms (set by --override) %r" % (bcfg.get("group.min.session.timeout.ms"),))
    return "topic: %d entries (retention.ms dynamic, cleanup.policy default); broker %s: %d entries" % (len(cfg), broker_id, len(bcfg))


async def s_idempotent_producer(sc):
    topic = name("idem")
    await sc.create_topic(topic, 2)
    recs = [{"key": b"k%d" % (i % 2), "value": b"v%d" % i, "partition": i % 2} for i in range(1000)]
    p = await sc.producer(enable_idempotence=True, acks="all", linger_ms=1)
    metas = await sc.produce_all(p, topic, recs)
    for part in (0, 1):
        offs = [md.offset for md in metas if md.partition == part]
        check(offs == list(range(500)), "partition %d acknowledged offsets not 0..499 in order" % part)
    msgs = await sc.consume_assigned(topic, 2, 1000)
    verify_against_metadata(recs, metas, msgs)
    return "1000 records acknowledged once each at consecutive offsets, read back in order"


async def s_large_records(sc):
    topic = name("large")
    await sc.create_topic(topic, 1)
    big = os.urandom(1_000_000)
    p = await sc.producer(max_request_size=4_000_000, linger_ms=0, enable_idempotence=False)
    md = await p.send_and_wait(topic, key=b"big", value=big)
    try:
        await p.send_and_wait(topic, key=b"too-big", value=os.urandom(1_100_000))
        raise AssertionError("a 1,100,000-byte record was accepted")
    except Errors.MessageSizeTooLargeError as e:
        refused = e
    c = await sc.consumer(max_partition_fetch_bytes=10_000_000, fetch_max_bytes=20_000_000)
    msgs = await sc.consume_assigned(topic, 1, 1, c=c)
    check(msgs[0].value == big and msgs[0].offset == md.offset, "the 1,000,000-byte value differs")
    return "1,000,000-byte value round-trips; 1,100,000 bytes refused: %s" % type(refused).__name__


async def s_empty_topic(sc):
    topic = name("empty")
    await sc.create_topic(topic, 2)
    c = await sc.consumer()
    tps = [TopicPartition(topic, pt) for pt in (0, 1)]
    b, e = await c.beginning_offsets(tps), await c.end_offsets(tps)
    check(all(b[tp] == 0 and e[tp] == 0 for tp in tps), "watermarks %s / %s" % (b, e))
    c.assign(tps)
    await c.seek_to_beginning(*tps)
    got = await read(c, 1, 3)
    check(not got, "read %d records from an empty topic" % len(got))
    pos = [await c.position(tp) for tp in tps]
    check(pos == [0, 0], "positions %s" % pos)
    check([c.highwater(tp) for tp in tps] == [0, 0], "highwater %s" % [c.highwater(tp) for tp in tps])
    return "watermarks 0/0, no records, no errors, positions 0"


async def s_nonexistent_topic(sc):
    topic = name("does-not-exist")
    # aiokafka's consumer, producer and admin client always ask for auto-creation in their
    # MetadataRequests (v4+: allow_auto_topic_creation=True, no setting to turn it off), so the
    # request with auto-creation off is built from aiokafka's own MetadataRequest class and sent
    # through the consumer's client.
    from aiokafka.protocol.metadata import MetadataRequest

    c = await sc.consumer()
    resp = await c._client.send(c._client.get_random_node(), MetadataRequest([topic], allow_auto_topic_creation=False))
    entry = [t for t in resp.topics if t[1] == topic]
    check(entry and entry[0][0] == Errors.UnknownTopicOrPartitionError.errno, "metadata for a missing topic: %s" % (entry,))
    check(topic not in await sc.admin.list_topics(), "the missing topic was auto-created")
    real = name("exists")
    await sc.create_topic(real, 1)
    p = await sc.producer()
    await sc.produce_all(p, real, [{"value": b"still usable"}])
    msgs = await sc.consume_assigned(real, 1, 1, c=c)
    check(msgs[0].value == b"still usable", "value differs")
    return "UNKNOWN_TOPIC_OR_PARTITION, not created; client usable afterwards"


async def s_many_partitions(sc):
    topic = name("many")
    await sc.create_topic(topic, 100)
    p = await sc.producer()
    recs = [{"key": b"k%d" % pt, "value": b"partition-%d" % pt, "partition": pt} for pt in range(100)]
    metas = await sc.produce_all(p, topic, recs)
    check(all(md.partition == i and md.offset == 0 for i, md in enumerate(metas)), "acknowledged positions differ")
    msgs = await sc.consume_assigned(topic, 100, 100)
    got = sorted((m.partition, m.offset, m.key, m.value) for m in msgs)
    check(got == [(pt, 0, b"k%d" % pt, b"partition-%d" % pt) for pt in range(100)], "records per partition differ")
    return "one record in each of 100 partitions read back"


class ErrorLog(logging.Handler):
    """Collects a logger's ERROR records (aiokafka logs each partition's commit error and retries
    the commit instead of returning it)."""

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


async def s_commit_unknown_topic(sc):
    topic = name("cut")
    missing = name("cut-missing")
    group = name("cut-consumer")
    await sc.create_topic(topic, 3)
    # aiokafka commits only assigned partitions, and assigning a topic makes it ask metadata for
    # it (Metadata v1-v3 let the broker auto-create it, as Kafka does): so the missing topic is
    # committed without being assigned through the coordinator's commit_offsets, the consumer's
    # own path below commit() (its assignment check is client-side only).
    known, beyond, absent = TopicPartition(topic, 0), TopicPartition(topic, 7), TopicPartition(missing, 0)
    c = await sc.consumer(group_id=group)
    c.assign([known, beyond])
    seen = []
    for offsets in ({known: OffsetAndMetadata(2, "m"), beyond: OffsetAndMetadata(2, "m")},
                    {TopicPartition(topic, 1): OffsetAndMetadata(3, "m"), absent: OffsetAndMetadata(3, "m")}):
        bad = [tp for tp in offsets if tp in (beyond, absent)][0]
        with ErrorLog("aiokafka.consumer.group_coordinator") as log:
            try:
                if absent in offsets:
                    assignment = c._subscription.subscription.assignment
                    await asyncio.wait_for(c._coordinator.commit_offsets(assignment, offsets), 3)
                else:
                    await asyncio.wait_for(c.commit(offsets), 3)
                raise AssertionError("commit including %s succeeded" % (bad,))
            except (asyncio.TimeoutError, TimeoutError):
                seen.append("retried until our 3 s timeout")
            except Errors.UnknownTopicOrPartitionError:
                seen.append("raised UnknownTopicOrPartitionError")
        named = [m for m in log.messages if "UnknownTopicOrPartitionError" in m and bad.topic in m and "partition=%d" % bad.partition in m]
        check(named, "no UnknownTopicOrPartitionError for %s: %s" % (bad, log.messages[:3]))
    await sc.stop(c)
    offs = await sc.admin.list_consumer_group_offsets(group)
    stored = sorted((tp.topic, tp.partition, om.offset) for tp, om in offs.items())
    check(stored == [(topic, 0, 2), (topic, 1, 3)], "committed offsets afterwards %s" % stored)
    check(missing not in await sc.admin.list_topics(), "the missing topic exists now")
    return ("consumer commit: partition 7 of 3 and a missing topic answered UNKNOWN_TOPIC_OR_PARTITION (aiokafka %s), "
            "the known partitions of the same requests stored; aiokafka's admin client has no alter-offsets"
            % " / ".join(seen))


# The gap between closing one static member and the next (static_member_expiry): all three are
# closed before the first can expire (>= 5 s after its close), so no live member sees a rebalance.
STATIC_CLOSE_GAP_S = 1.5
# static_member_expiry: a member's last heartbeat is at most heartbeat.interval.ms (1 s) before its
# close, so Kafka expires it at most session.timeout.ms (6 s) after it; 2 s more for polling.
STATIC_SESSION_S, STATIC_SLACK_S = 6.0, 2.0


async def s_static_member_expiry(sc):
    topic = name("static")
    group = name("static-group")
    await sc.create_topic(topic, 3)
    p = await sc.producer()
    await sc.produce_all(p, topic, [{"value": b"s%d" % i, "partition": i % 3} for i in range(30)])
    cs = [await sc.consumer(topic, group_id=group, group_instance_id="%s-m%d" % (group, i), session_timeout_ms=6000,
                            heartbeat_interval_ms=1000) for i in range(3)]
    got = set()  # a rebalance may hand a partition over before its records were committed
    deadline = time.time() + 40
    while len(got) < 30 and time.time() < deadline:
        for c in cs:
            for recs in (await c.getmany(timeout_ms=200)).values():
                got.update(r.value for r in recs)
    check(got == {b"s%d" % i for i in range(30)}, "the static members read %d of the 30 records" % len(got))
    # One member may have read everything before the others joined: keep polling until the group
    # is Stable with all three.
    deadline = time.time() + 30
    while True:
        g = (await sc.admin.describe_consumer_groups([group]))[0].groups[0]
        if g[2] == "Stable" and len(g[5]) == 3:
            break
        check(time.time() < deadline, "before closing: state %s, %d members" % (g[2], len(g[5])))
        for c in cs:
            await c.getmany(timeout_ms=200)
    # One at a time, STATIC_CLOSE_GAP_S apart, so that the first expiry (a rebalance) comes
    # while the others are gone but not yet expired: Kafka expires those at their session timeout too.
    closes = []
    for i, c in enumerate(cs):
        if i:
            await asyncio.sleep(STATIC_CLOSE_GAP_S)
        await sc.stop(c)  # static members: aiokafka sends no LeaveGroup
        closes.append(time.time())
    code, seen = None, []  # seen: (s after the first close, members described) at each change
    while time.time() < closes[-1] + 20:
        g = (await sc.admin.describe_consumer_groups([group]))[0].groups[0]
        static_expiry_check(closes, seen, len(g[5]))
        code = await delete_group(sc, group)
        if code == 0:
            return static_expiry_pass(closes, seen, " (aiokafka's DeleteGroupsRequest)")
        check(code == Errors.NonEmptyGroup.errno, "DeleteGroups answered %d" % code)
        await asyncio.sleep(0.5)
    raise AssertionError("DeleteGroups still answered %d 20 s after the last static member closed (members over time, "
                         "s after the first close: %s)" % (code, seen))


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


async def s_describe_group_configs(sc):
    raise Unsupported("aiokafka 0.14's ConfigResourceType has only BROKER (4) and TOPIC (2), so describe_configs "
                      "cannot name a GROUP resource (32), and its admin client has no IncrementalAlterConfigs")


GROUP_OPS = {"READ", "DESCRIBE", "DELETE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}
ACL_OPS = {3: "READ", 4: "WRITE", 5: "CREATE", 6: "DELETE", 7: "ALTER", 8: "DESCRIBE", 9: "CLUSTER_ACTION",
           10: "DESCRIBE_CONFIGS", 11: "ALTER_CONFIGS", 12: "IDEMPOTENT_WRITE", 13: "CREATE_TOKENS", 14: "DESCRIBE_TOKENS"}


async def s_authorized_operations(sc):
    topic = name("authops")
    group = name("authops-group")
    await sc.create_topic(topic, 1)
    c = await sc.consumer(group_id=group)
    c.assign([TopicPartition(topic, 0)])
    await c.commit({TopicPartition(topic, 0): OffsetAndMetadata(0, "")})
    await sc.stop(c)
    resp = (await sc.admin.describe_consumer_groups([group], include_authorized_operations=True))[0]
    g = resp.groups[0]
    if len(g) <= 6:
        # aiokafka 0.14's DescribeGroupsRequest_v3 names DescribeGroupsResponse_v2 as its response
        # type, so the answer's authorized_operations is never decoded.
        raise Unsupported("aiokafka 0.14 sends DescribeGroups v3 with include_authorized_operations but decodes the "
                          "answer as DescribeGroupsResponse_v%d (DescribeGroupsRequest_v3.RESPONSE_TYPE), dropping "
                          "authorized_operations; its describe_topics/describe_cluster send Metadata below v8, "
                          "which has none" % resp.API_VERSION)
    v = g[6]
    ops = None if v == -2147483648 else {ACL_OPS.get(b, "bit%d" % b) for b in range(31) if v & (1 << b)}
    check(ops == GROUP_OPS, "group authorized operations %s, want %s" % (
        "not sent (INT32_MIN)" if ops is None else sorted(ops), sorted(GROUP_OPS)))
    return ("group (DescribeGroups v%d): every supported operation; topics and cluster not checked: aiokafka's "
            "describe_topics/describe_cluster send Metadata below v8, which has no authorized operations" % resp.API_VERSION)


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


async def run_scenario(fn):
    sc = Scope()
    try:
        await sc.start()
        return await fn(sc)
    finally:
        await sc.close()


def run_one(sid):
    fn = globals().get("s_" + sid)
    if fn is None:
        return "fail", "scenario not implemented"
    box = {}

    def target():
        try:
            box["detail"] = asyncio.run(asyncio.wait_for(run_scenario(fn), SCENARIO_SECONDS))
            box["status"] = "pass"
        except Unsupported as e:
            box["status"], box["detail"] = "unsupported", str(e)
        except (asyncio.TimeoutError, TimeoutError):
            box["status"], box["detail"] = "fail", "timed out after %d s" % SCENARIO_SECONDS
            box["trace"] = traceback.format_exc()
        except Exception as e:
            box["status"] = "fail"
            box["detail"] = "%s: %s" % (type(e).__name__, e)
            box["trace"] = traceback.format_exc()

    t = threading.Thread(target=target, name=sid, daemon=True)
    t.start()
    t.join(SCENARIO_SECONDS + 30)
    if t.is_alive():
        return "fail", "timed out after %d s (event loop blocked)" % SCENARIO_SECONDS
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
    print("%s: aiokafka %s" % (CLIENT, aiokafka.__version__), flush=True)
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
    os._exit(rc)
