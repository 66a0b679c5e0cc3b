"""kafka-python against a three-node Gregor cluster (a client that is not librdkafka).

Starts three `gregor` processes itself (KRaft settings: every node broker and controller, on
127.0.0.21-23 with free ports, data in a temporary directory), then runs each scenario and prints
one line per scenario: `cluster: <id> pass|fail <seconds> <detail>`. Exits 1 when any fails.

Scenarios:
- metadata: three brokers and the active controller (DescribeCluster); a topic with 6 partitions
  and replication factor 3 gets three replicas and a full ISR per partition, leaders on all three.
- remote_coordinator: bootstrapping from node 1 only, a group whose coordinator is another node
  (the leader of its `__consumer_offsets` partition, found from Java's String.hashCode as Kafka
  places it) consumes every acks=all record and commits; the committed offsets read back
  through the admin client equal the log ends; the consumer's coordinator is that node.
- leader_kill: an acks=all producer is mid-stream when the leader of partition 0 gets SIGKILL;
  every send completes, and every acknowledged record is read back once, at its offset; the
  node restarts and rejoins every ISR.
- coordinator_failover: a group commits half of a topic; its coordinator gets SIGKILL; a new
  member of the group, bootstrapped from the survivors, resumes exactly at the committed offsets.

Every wait is bounded; the nodes are stopped (SIGKILL, by their PIDs) when the run ends.
Usage: scenarios.py GREGOR_BINARY
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import InvalidReplicationFactorError

NODES = 3
OFFSETS_PARTITIONS = 3
PROPERTIES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "300",
    "replica.lag.time.max.ms": "4000",
    "offsets.topic.num.partitions": str(OFFSETS_PARTITIONS),
    "offsets.topic.replication.factor": "3",
    "min.insync.replicas": "2",
    "group.initial.rebalance.delay.ms": "0",
}
SCENARIO_SECONDS_MAX = 120


def free_port(ip):
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node:
    def __init__(self, node_id, ip, port, log, overrides, binary):
        self.id, self.ip, self.port = node_id, ip, port
        self.log, self.overrides, self.binary = log, overrides, binary
        self.proc = None

    @property
    def address(self):
        return "%s:%d" % (self.ip, self.port)

    def start(self):
        args = [self.binary]
        for o in self.overrides:
            args += ["--override", o]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=env)

    def wait_accepting(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("node %d exited: %s" % (self.id, self.log_tail()))
            try:
                socket.create_connection((self.ip, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("node %d not accepting after %d s" % (self.id, timeout))

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log_tail(self, n=30):
        try:
            with open(self.log, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Cluster:
    def __init__(self, binary, root):
        ips = ["127.0.0.%d" % (21 + i) for i in range(NODES)]
        ports = [(free_port(ip), free_port(ip)) for ip in ips]
        voters = ",".join("%d@%s:%d" % (i + 1, ip, c) for i, (ip, (_, c)) in enumerate(zip(ips, ports)))
        self.nodes = []
        for i, (ip, (port, cport)) in enumerate(zip(ips, ports)):
            nid = i + 1
            overrides = [
                "node.id=%d" % nid,
                "process.roles=broker,controller",
                "listeners=PLAINTEXT://%s:%d,CONTROLLER://%s:%d" % (ip, port, ip, cport),
                "advertised.listeners=PLAINTEXT://%s:%d" % (ip, port),
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.quorum.voters=%s" % voters,
                "log.dirs=%s" % os.path.join(root, "node-%d" % nid),
            ] + ["%s=%s" % kv for kv in PROPERTIES.items()]
            self.nodes.append(Node(nid, ip, port, os.path.join(root, "node-%d.log" % nid), overrides, binary))
        for n in self.nodes:
            n.start()
        for n in self.nodes:
            n.wait_accepting()

    def node(self, nid):
        return self.nodes[nid - 1]

    def bootstrap(self, ids=None):
        return ",".join(n.address for n in self.nodes if ids is None or n.id in ids)

    def stop(self):
        for n in self.nodes:
            n.kill9()


CLUSTER = None


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_for(what, f, timeout=30.0, every=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = f()
            if v:
                return v
        except Exception as e:  # a node may be down for a moment: ask again
            last = e
        time.sleep(every)
    raise AssertionError("timed out (%d s) waiting for %s%s" % (timeout, what, " (last error: %r)" % last if last else ""))


def admin(ids=None):
    return KafkaAdminClient(bootstrap_servers=CLUSTER.bootstrap(ids), request_timeout_ms=10000)


def partitions(a, topic):
    """partition -> (leader, replicas, isr), from Metadata."""
    t = [t for t in a.describe_topics([topic]) if t["name"] == topic]
    if not t or t[0]["error_code"] != 0:
        return {}
    return {p["partition_index"]: (p["leader_id"], sorted(p["replica_nodes"]), sorted(p["isr_nodes"]))
            for p in t[0]["partitions"] if p["error_code"] == 0}


def create_topic(topic, n, rf=3):
    a = admin()
    try:
        # Right after start-up a broker may still be registering (as in Kafka): the controller
        # then counts fewer brokers than the replication factor. Ask again for a while.
        def create():
            try:
                a.create_topics([NewTopic(topic, n, rf)], timeout_ms=20000)
                return True
            except InvalidReplicationFactorError:
                return False

        wait_for("%s created" % topic, create, timeout=15, every=0.5)
        wait_for("%s with full ISRs" % topic,
                 lambda: len(ps := partitions(a, topic)) == n and all(len(isr) == rf and leader >= 0 for leader, _, isr in ps.values()))
    finally:
        a.close()


def java_hash(s):
    h = 0
    for ch in s.encode("utf-16-be").decode("utf-16-be"):
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def coordinator_of(a, group):
    """The node leading the group's __consumer_offsets partition (Kafka's placement)."""
    p = (java_hash(group) & 0x7FFFFFFF) % OFFSETS_PARTITIONS  # Utils.abs(hashCode) % partitions
    ps = partitions(a, "__consumer_offsets")
    return ps[p][0] if p in ps else None


def ensure_offsets_topic():
    """A first group call creates __consumer_offsets; wait until it has leaders everywhere."""
    a = admin()
    try:
        wait_for("__consumer_offsets", lambda: a.list_group_offsets("warm-up") is not None and
                 len(ps := partitions(a, "__consumer_offsets")) == OFFSETS_PARTITIONS and
                 all(leader >= 0 and len(isr) == 3 for leader, _, isr in ps.values()))
    finally:
        a.close()


def group_with_coordinator(a, prefix, want):
    """A group id whose coordinator is `want(node_id)`-true."""
    for i in range(200):
        g = "%s-%d" % (prefix, i)
        c = coordinator_of(a, g)
        if c is not None and want(c):
            return g, c
    raise AssertionError("no group id with the wanted coordinator")


def produce(topic, records, bootstrap, during=None):
    """Sends (partition, value) pairs with acks=all; returns {(partition, offset): value}.
    `during(i)` runs before record i is sent."""
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=2147483647, linger_ms=5,
                      request_timeout_ms=5000, delivery_timeout_ms=60000, retry_backoff_ms=100,
                      max_in_flight_requests_per_connection=1)
    futures = []
    try:
        for i, (part, value) in enumerate(records):
            if during:
                during(i)
            futures.append((value, p.send(topic, value=value, partition=part)))
        p.flush(timeout=60)
        acked = {}
        for value, f in futures:
            md = f.get(timeout=60)
            check((md.partition, md.offset) not in acked, "offset %s acknowledged twice" % ((md.partition, md.offset),))
            acked[(md.partition, md.offset)] = value
        return acked
    finally:
        p.close(timeout=10)


def poll_records(c, count, timeout, once=False):
    """{(partition, offset): value} of what `c` polls until `count` records or `timeout` s;
    with `once`, a record read twice fails."""
    got = {}
    deadline = time.time() + timeout
    while len(got) < count and time.time() < deadline:
        for batch in c.poll(timeout_ms=500).values():
            for m in batch:
                check(not once or (m.partition, m.offset) not in got, "record at %s read twice" % ((m.partition, m.offset),))
                got[(m.partition, m.offset)] = m.value
    return got


def read_all(topic, n_partitions, count, bootstrap, timeout=45):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                      consumer_timeout_ms=1000)
    try:
        c.assign([TopicPartition(topic, p) for p in range(n_partitions)])
        return poll_records(c, count, timeout, once=True)
    finally:
        c.close()


def s_metadata():
    a = admin()
    try:
        brokers = wait_for("three brokers", lambda: len(a.describe_cluster()["brokers"]) == NODES and a.describe_cluster())
        ids = sorted(b["broker_id"] for b in brokers["brokers"])
        check(ids == [1, 2, 3], "brokers %s" % ids)
        check(brokers["controller_id"] in ids, "controller %s" % brokers["controller_id"])
        create_topic("cluster-meta", 6)
        ps = partitions(a, "cluster-meta")
        leaders = sorted({leader for leader, _, _ in ps.values()})
        check(leaders == [1, 2, 3], "leaders %s" % leaders)
        check(all(r == [1, 2, 3] and isr == [1, 2, 3] for _, r, isr in ps.values()), "replicas/ISR %s" % ps)
        return "brokers %s, controller %d, 6 partitions RF 3 with leaders on %s" % (ids, brokers["controller_id"], leaders)
    finally:
        a.close()


def s_remote_coordinator():
    topic = "cluster-group"
    create_topic(topic, 3)
    ensure_offsets_topic()
    a = admin()
    try:
        group, coord = group_with_coordinator(a, "remote", lambda c: c != 1)
        acked = produce(topic, [(i % 3, b"g%d" % i) for i in range(600)], CLUSTER.bootstrap([1]))
        c = KafkaConsumer(topic, bootstrap_servers=CLUSTER.bootstrap([1]), group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500)
        try:
            got = poll_records(c, len(acked), 45)
            check(got == acked, "the group read %d of %d records" % (len(got), len(acked)))
            c.commit()
            used = getattr(getattr(c, "_coordinator", None), "coordinator_id", None)
            if used is not None:
                check(int(str(used).rsplit("-", 1)[-1]) == coord, "the consumer's coordinator is %s, Kafka's placement says %d" % (used, coord))
        finally:
            c.close()
        ends = {}
        for (p, o) in acked:
            ends[p] = max(ends.get(p, 0), o + 1)
        committed = {tp.partition: om.offset for tp, om in a.list_group_offsets(group)[group].items()}
        check(committed == ends, "committed %s, log ends %s" % (committed, ends))
        return "group %s on coordinator node %d (bootstrap node 1): 600 acks=all records read, committed %s" % (group, coord, committed)
    finally:
        a.close()


def s_leader_kill():
    topic = "cluster-kill"
    create_topic(topic, 6)
    a = admin()
    try:
        victim = partitions(a, topic)[0][0]
    finally:
        a.close()
    killed_at = [None]

    def during(i):
        if i == 1500:
            CLUSTER.node(victim).kill9()
            killed_at[0] = time.time()

    started = time.time()
    acked = produce(topic, [(i % 6, b"k%d" % i) for i in range(4000)], CLUSTER.bootstrap(), during)
    took = time.time() - started
    check(len(acked) == 4000, "%d of 4000 acknowledged" % len(acked))
    survivors = [n.id for n in CLUSTER.nodes if n.id != victim]
    got = read_all(topic, 6, len(acked), CLUSTER.bootstrap(survivors))
    missing = [k for k, v in acked.items() if got.get(k) != v]
    check(not missing, "%d acknowledged records missing or changed, e.g. %s" % (len(missing), missing[:3]))
    a = admin(survivors)
    try:
        new = partitions(a, topic)[0][0]
        check(new != victim and new in survivors, "partition 0 led by %s after the kill of %d" % (new, victim))
        CLUSTER.node(victim).start()
        CLUSTER.node(victim).wait_accepting()
        wait_for("node %d back in every ISR" % victim,
                 lambda: all(victim in isr for _, _, isr in partitions(a, topic).values()), timeout=45)
    finally:
        a.close()
    return "node %d (leader of partition 0) killed after 1500 of 4000 acks=all sends; all acknowledged in %.1f s, read back once at their offsets; it rejoined every ISR" % (victim, took)


def s_coordinator_failover():
    topic = "cluster-coord"
    create_topic(topic, 3)
    ensure_offsets_topic()
    a = admin()
    try:
        group, coord = group_with_coordinator(a, "failover", lambda c: True)
    finally:
        a.close()
    acked = produce(topic, [(i % 3, b"c%d" % i) for i in range(300)], CLUSTER.bootstrap())
    half = {}
    for (p, o) in acked:
        if o < 50:
            half[TopicPartition(topic, p)] = 50
    c = KafkaConsumer(bootstrap_servers=CLUSTER.bootstrap(), group_id=group, enable_auto_commit=False)
    try:
        from kafka.structs import OffsetAndMetadata

        c.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in half.items()})
    finally:
        c.close()
    a = admin()
    try:
        committed = {tp.partition: om.offset for tp, om in a.list_group_offsets(group)[group].items()}
    finally:
        a.close()
    check(committed == {0: 50, 1: 50, 2: 50}, "committed before the kill: %s" % committed)
    CLUSTER.node(coord).kill9()
    survivors = [n.id for n in CLUSTER.nodes if n.id != coord]
    # Until the dead node's session expires (broker.session.timeout.ms) it still leads its
    # partitions, as in Kafka; kafka-python 3.0 surfaces the refused connection to the
    # coordinator from poll() rather than retrying, so the new member starts once it has moved.
    a = admin(survivors)
    try:
        new = wait_for("the group's coordinator to move", lambda: (c := coordinator_of(a, group)) not in (None, coord) and c)
        after = wait_for("the committed offsets on the new coordinator",
                         lambda: {tp.partition: om.offset for tp, om in a.list_group_offsets(group)[group].items()} or None)
        check(after == committed, "committed after the failover: %s, before: %s" % (after, committed))
    finally:
        a.close()
    c = KafkaConsumer(topic, bootstrap_servers=CLUSTER.bootstrap(survivors), group_id=group, enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500)
    try:
        got = poll_records(c, 150, 60)
        want = {k: v for k, v in acked.items() if k[1] >= 50}
        check(got == want, "after the coordinator's kill the group read %d records (%d below the commit), want the %d after it"
              % (len(got), len([k for k in got if k[1] < 50]), len(want)))
    finally:
        c.close()
    CLUSTER.node(coord).start()
    CLUSTER.node(coord).wait_accepting()
    return "group %s: committed 50 per partition on node %d, killed it; node %s took the group, a new member resumed at 50 (%d records)" % (group, coord, new, len(got))


SCENARIOS = ["metadata", "remote_coordinator", "leader_kill", "coordinator_failover"]


def run_one(sid):
    result = {}

    def target():
        try:
            result["detail"] = globals()["s_" + sid]()
            result["status"] = "pass"
        except Exception as e:
            result["status"] = "fail"
            result["detail"] = "%s: %s | %s" % (type(e).__name__, e, traceback.format_exc().splitlines()[-3].strip())

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(SCENARIO_SECONDS_MAX)
    if t.is_alive():
        return "fail", "no result within %d s" % SCENARIO_SECONDS_MAX
    return result["status"], result["detail"]


def main():
    global CLUSTER
    if len(sys.argv) != 2:
        print("usage: scenarios.py GREGOR_BINARY", file=sys.stderr)
        return 2
    keep = os.environ.get("GREGOR_KEEP_TEST_DIR")
    root = tempfile.mkdtemp(prefix="gregor-cluster-compat.")
    failed = 0
    try:
        CLUSTER = Cluster(sys.argv[1], root)
        for sid in SCENARIOS:
            started = time.time()
            status, detail = run_one(sid)
            failed += status != "pass"
            print("cluster: %-22s %-4s %5.1fs  %s" % (sid, status, time.time() - started, detail), flush=True)
            if status != "pass":
                for n in CLUSTER.nodes:
                    print("--- node %d log tail\n%s" % (n.id, n.log_tail()), flush=True)
    finally:
        if CLUSTER is not None:
            CLUSTER.stop()
        if keep:
            print("cluster: kept %s" % root)
        else:
            subprocess.run(["rm", "-rf", root], check=False)
    print("cluster: %d passed, %d failed" % (len(SCENARIOS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
