//! A 3-node Gregor cluster of real `gregor` processes, one loopback address per node
//! (127.0.0.11, .12, .13), configured with Kafka's KRaft settings, driven by rdkafka.
//!
//! - `leader_kill9_loses_no_acknowledged_write`: an idempotent acks=all producer sends 100,000
//!   records over 6 partitions (RF 3, min.insync.replicas 2); the leader of partition 0 gets a
//!   real `kill -9` a third of the way in. The client completes; every acknowledged record is
//!   read back once, at its acknowledged offset, in send order per partition; after the node
//!   returns it rejoins every ISR and the three replicas' log files of every partition are equal
//!   byte for byte. Prints the unavailability of partition 0 (kill to first acknowledged write).
//! - `leader_paused_past_its_session_loses_no_acknowledged_write`: the same, with the leader
//!   paused (SIGSTOP) for 8 s instead: the other two fence it, take its leaderships and drop it
//!   from the ISRs while it sleeps; woken (SIGCONT), it still believes it leads, with requests
//!   read before the pause in hand. The same checks hold, and it rejoins every ISR.
//! - `rolling_restart_under_load`: each node in turn gets SIGTERM (controlled shutdown) and is
//!   started again while a producer and a consumer group run; no non-retriable error reaches the
//!   producer and the consumer sees every acknowledged record.
//!
//! Sessions are short (`FAST`) so that a failover takes seconds; every wait is bounded and every
//! child process is killed and reaped when the test ends (`BrokerProcess`'s drop).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{BrokerProcess, free_port_on};
use common::{init_tracing, partition_log_bytes, read_all};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

/// Short sessions so that a dead node is fenced and its leaderships move within seconds.
const FAST: &[(&str, &str)] = &[
    ("broker.session.timeout.ms", "3000"),
    ("broker.heartbeat.interval.ms", "300"),
    ("replica.lag.time.max.ms", "4000"),
    ("offsets.topic.replication.factor", "3"),
    ("offsets.topic.num.partitions", "3"),
    ("min.insync.replicas", "2"),
];
/// Start-up, readiness and settling bounds.
/// One cluster at a time: several on 2 cores starve each other's heartbeats within the short
/// sessions these tests use, and a fencing that the test did not cause would be noise.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const READY_WAIT: Duration = Duration::from_secs(60);
const PARTITIONS: i32 = 6;

struct Node {
    id: i32,
    ip: IpAddr,
    client_port: u16,
    data_dir: PathBuf,
    process: BrokerProcess,
}

/// N `gregor` processes forming one cluster (every node a voter).
struct ProcessCluster {
    nodes: Vec<Node>,
    _dir: Option<tempfile::TempDir>,
}

impl ProcessCluster {
    fn start(n: usize, properties: &[(&str, &str)]) -> ProcessCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ips: Vec<IpAddr> = (0..n)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11 + i as u8)))
            .collect();
        let ports: Vec<(u16, u16)> = ips
            .iter()
            .map(|ip| (free_port_on(*ip), free_port_on(*ip)))
            .collect();
        let voters: Vec<String> = ips
            .iter()
            .zip(&ports)
            .enumerate()
            .map(|(i, (ip, (_, c)))| format!("{}@{ip}:{c}", i + 1))
            .collect();
        let mut nodes = Vec::new();
        for (i, (ip, (client_port, controller_port))) in ips.iter().zip(&ports).enumerate() {
            let id = i as i32 + 1;
            let data_dir = dir.path().join(format!("node-{id}"));
            let mut overrides = common::cluster::kraft_overrides(
                id,
                (*ip, *client_port).into(),
                (*ip, *controller_port).into(),
                &voters.join(","),
                &data_dir,
            );
            overrides.extend(properties.iter().map(|(k, v)| format!("{k}={v}")));
            let process = BrokerProcess::spawn(
                overrides,
                (*ip, *client_port).into(),
                dir.path().join(format!("node-{id}.log")),
            );
            nodes.push(Node {
                id,
                ip: *ip,
                client_port: *client_port,
                data_dir,
                process,
            });
        }
        for n in &mut nodes {
            n.process.wait_accepting();
        }
        // GREGOR_KEEP_TEST_DIR=1 keeps the data and the nodes' logs for a post-mortem.
        let dir = if std::env::var_os("GREGOR_KEEP_TEST_DIR").is_some() {
            eprintln!("keeping {}", dir.path().display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let c = ProcessCluster { nodes, _dir: dir };
        c.wait_brokers(n);
        c
    }

    fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}:{}", n.ip, n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn node(&mut self, id: i32) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.id == id).expect("node id")
    }

    fn logs(&self) -> String {
        self.nodes.iter().map(|n| n.process.log_tail()).collect()
    }

    /// Waits until Metadata lists `n` brokers.
    fn wait_brokers(&self, n: usize) {
        let consumer: BaseConsumer = client(&self.bootstrap()).create().expect("client");
        let deadline = Instant::now() + READY_WAIT;
        loop {
            if let Ok(md) = consumer.fetch_metadata(None, Duration::from_secs(2))
                && md.brokers().len() == n
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{n} brokers not in Metadata within {READY_WAIT:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    c
}

/// (leader, replicas, isr) of every partition of `topic`, as Metadata answers it.
type Placement = BTreeMap<i32, (i32, Vec<i32>, Vec<i32>)>;

fn placement(consumer: &BaseConsumer, topic: &str) -> Option<Placement> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    if t.error().is_some() {
        return None;
    }
    Some(
        t.partitions()
            .iter()
            .map(|p| {
                (
                    p.id(),
                    (p.leader(), p.replicas().to_vec(), p.isr().to_vec()),
                )
            })
            .collect(),
    )
}

/// Waits (bounded) until every partition of `topic` satisfies `ok`; returns that placement.
fn wait_placement(
    c: &ProcessCluster,
    topic: &str,
    what: &str,
    ok: impl Fn(&(i32, Vec<i32>, Vec<i32>)) -> bool,
) -> Placement {
    let consumer: BaseConsumer = client(&c.bootstrap()).create().expect("client");
    let deadline = Instant::now() + READY_WAIT;
    loop {
        if let Some(p) = placement(&consumer, topic)
            && p.len() == PARTITIONS as usize
            && p.values().all(&ok)
        {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {READY_WAIT:?}: {:?}\n{}",
            placement(&consumer, topic),
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn create_topic(bootstrap: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = client(bootstrap).create().expect("admin");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let res = tokio::time::timeout(
        Duration::from_secs(30),
        admin.create_topics(
            &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(3))],
            &options,
        ),
    )
    .await
    .expect("create_topics in time")
    .expect("create_topics");
    for r in res {
        r.expect("topic created");
    }
}

/// What the producer's delivery reports said, by record index.
#[derive(Default)]
struct Deliveries {
    acked: Mutex<HashMap<usize, (i32, i64, Instant)>>,
    failed: Mutex<Vec<(usize, KafkaError)>>,
    done: AtomicUsize,
}

struct Recorder(Arc<Deliveries>);

impl ClientContext for Recorder {}

impl ProducerContext for Recorder {
    type DeliveryOpaque = Box<usize>;

    fn delivery(&self, result: &DeliveryResult<'_>, index: Box<usize>) {
        match result {
            Ok(m) => {
                self.0
                    .acked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(*index, (m.partition(), m.offset(), Instant::now()));
            }
            Err((e, _)) => self
                .0
                .failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((*index, e.clone())),
        }
        self.0.done.fetch_add(1, Ordering::Release);
    }
}

fn value_of(i: usize) -> String {
    format!("record-{i:08}-{}", "x".repeat(80))
}

fn index_of(value: &[u8]) -> usize {
    let s = std::str::from_utf8(value).expect("utf-8 value");
    s[7..15].parse().expect("record index")
}

/// Sends record `i` to partition `i % PARTITIONS`, waiting out a full local queue (bounded).
fn send(producer: &ThreadedProducer<Recorder>, topic: &str, i: usize) {
    let value = value_of(i);
    let key = i.to_string();
    let mut record = BaseRecord::with_opaque_to(topic, Box::new(i))
        .partition((i % PARTITIONS as usize) as i32)
        .key(&key)
        .payload(&value);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                assert!(Instant::now() < deadline, "producer queue full for 120 s");
                record = r;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, _)) => panic!("send {i}: {e}"),
        }
    }
}

/// What happens to partition 0's leader a third of the way in.
#[derive(Clone, Copy, Debug)]
enum LeaderFault {
    /// A real `kill -9`; restarted once its leaderships have moved.
    Kill9,
    /// SIGSTOP for this long (past its broker session and `replica.lag.time.max.ms`), then
    /// SIGCONT: it wakes up believing it still leads, with requests it took before the pause.
    Pause(Duration),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill9_loses_no_acknowledged_write() {
    leader_fault_loses_no_acknowledged_write("kill9", LeaderFault::Kill9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_paused_past_its_session_loses_no_acknowledged_write() {
    leader_fault_loses_no_acknowledged_write("pause", LeaderFault::Pause(Duration::from_secs(8)))
        .await;
}

async fn leader_fault_loses_no_acknowledged_write(topic: &str, fault: LeaderFault) {
    init_tracing();
    let _serial = SERIAL.lock().await;
    const RECORDS: usize = 100_000;
    const KILL_AT: usize = RECORDS / 3;
    let mut cluster = ProcessCluster::start(3, FAST);
    let bootstrap = cluster.bootstrap();
    create_topic(&bootstrap, topic).await;
    let before = wait_placement(&cluster, topic, "full ISRs", |(l, r, isr)| {
        *l >= 0 && r.len() == 3 && isr.len() == 3
    });
    let leaders: std::collections::BTreeSet<i32> = before.values().map(|s| s.0).collect();
    assert_eq!(
        leaders.len(),
        3,
        "leaders spread over the brokers: {before:?}"
    );

    let deliveries = Arc::new(Deliveries::default());
    let producer: ThreadedProducer<Recorder> = client(&bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "120000")
        .set("queue.buffering.max.messages", "20000")
        .create_with_context(Recorder(deliveries.clone()))
        .expect("producer");
    let victim = before[&0].0;
    let mut killed_at = None;
    let mut first_sent_after_kill = None;
    let started = Instant::now();
    for i in 0..RECORDS {
        send(&producer, topic, i);
        if killed_at.is_some() && first_sent_after_kill.is_none() && i % PARTITIONS as usize == 0 {
            first_sent_after_kill = Some(i);
        }
        if killed_at.is_none() && deliveries.done.load(Ordering::Acquire) >= KILL_AT {
            match fault {
                LeaderFault::Kill9 => cluster.node(victim).process.kill9(),
                LeaderFault::Pause(_) => cluster.node(victim).process.signal(libc::SIGSTOP),
            }
            killed_at = Some(Instant::now());
            eprintln!("{fault:?} node {victim} (leader of partition 0) after {i} sends");
        }
    }
    if let LeaderFault::Pause(pause) = fault {
        // While it sleeps, the others fence it and take its leaderships; then it wakes.
        let after = wait_placement(
            &cluster,
            topic,
            "leaders moved off the paused node",
            |(l, _, isr)| *l >= 0 && *l != victim && !isr.contains(&victim),
        );
        eprintln!("during the pause: {after:?}");
        let paused = killed_at.map(|t| t.elapsed()).unwrap_or_default();
        std::thread::sleep(pause.saturating_sub(paused));
        cluster.node(victim).process.signal(libc::SIGCONT);
        let paused = killed_at.map(|t| t.elapsed()).unwrap_or_default();
        eprintln!("SIGCONT node {victim} after {paused:?} (at least {pause:?})");
    }
    producer
        .flush(Duration::from_secs(180))
        .expect("every record delivered or failed within 180 s");
    let killed_at = killed_at.expect("the kill happened mid-stream");
    let failed = deliveries.failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "deliveries failed: {:?}",
        &failed[..failed.len().min(5)]
    );
    let acked = deliveries.acked.lock().unwrap().clone();
    assert_eq!(acked.len(), RECORDS, "the client completes every record");
    // Partition 0's first record sent after the kill cannot have been acknowledged by the
    // dead leader: its delivery time bounds the unavailability from above.
    let first = first_sent_after_kill.expect("records sent after the kill");
    let first_after = acked[&first].2;
    eprintln!(
        "{RECORDS} records in {:?}; partition 0's first record sent after the kill acknowledged \
         {:?} after it (on offset {})",
        started.elapsed(),
        first_after - killed_at,
        acked[&first].1
    );

    // The node comes back, truncates whatever it had that the new leader has not, and rejoins.
    if let LeaderFault::Kill9 = fault {
        let after = wait_placement(
            &cluster,
            topic,
            "leaders moved off the dead node",
            |(l, _, _)| *l >= 0 && *l != victim,
        );
        assert!(
            after.values().all(|s| !s.2.contains(&victim)),
            "dead node left the ISRs: {after:?}"
        );
        let node = cluster.node(victim);
        node.process.respawn();
        node.process.wait_accepting();
    }
    wait_placement(
        &cluster,
        topic,
        "the node back in every ISR",
        |(_, _, isr)| isr.len() == 3,
    );

    // Every acknowledged record, once, at its acknowledged offset, in send order per partition.
    let consumer: BaseConsumer = client(&bootstrap)
        .set("group.id", "kill9-check")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let got = read_all(&consumer, topic, PARTITIONS, RECORDS);
    assert_eq!(got.len(), RECORDS, "read back every record, no more");
    let mut at: HashMap<(i32, i64), usize> = HashMap::new();
    for g in &got {
        let i = index_of(g.value.as_deref().unwrap_or_default());
        assert!(
            at.insert((g.partition, g.offset), i).is_none(),
            "offset read twice"
        );
    }
    let mut by_partition: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
    for (i, (p, o, _)) in &acked {
        assert_eq!(
            at.get(&(*p, *o)),
            Some(i),
            "record {i} acknowledged at {p}/{o} is not there"
        );
        by_partition.entry(*p).or_default().push((*o, *i));
    }
    for (p, mut v) in by_partition {
        v.sort();
        assert!(
            v.windows(2).all(|w| w[0].1 < w[1].1),
            "partition {p}: offsets out of send order"
        );
    }

    // The three replicas of every partition hold the same bytes once settled.
    let deadline = Instant::now() + READY_WAIT;
    for p in 0..PARTITIONS {
        loop {
            let logs: Vec<Vec<u8>> = cluster
                .nodes
                .iter()
                .map(|n| partition_log_bytes(&n.data_dir, topic, p))
                .collect();
            if logs.windows(2).all(|w| w[0] == w[1]) && !logs[0].is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "partition {p}: replicas differ: {:?} bytes",
                logs.iter().map(Vec::len).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_load() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let topic = "rolling";
    let mut cluster = ProcessCluster::start(3, FAST);
    let bootstrap = cluster.bootstrap();
    create_topic(&bootstrap, topic).await;
    wait_placement(&cluster, topic, "full ISRs", |(l, _, isr)| {
        *l >= 0 && isr.len() == 3
    });

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let deliveries = Arc::new(Deliveries::default());
    let producer: ThreadedProducer<Recorder> = client(&bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "120000")
        .create_with_context(Recorder(deliveries.clone()))
        .expect("producer");
    let sender = {
        let stop = stop.clone();
        let producer = producer.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Acquire) {
                send(&producer, topic, i);
                i += 1;
                if i % 20 == 0 {
                    std::thread::sleep(Duration::from_millis(5)); // about 4,000 records/s
                }
            }
            i
        })
    };
    let seen: Arc<Mutex<std::collections::HashSet<usize>>> = Arc::default();
    let consumer_errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let reader_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (seen, errors, stop) = (seen.clone(), consumer_errors.clone(), reader_stop.clone());
        let consumer: BaseConsumer = client(&bootstrap)
            .set("group.id", "rolling-readers")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        seen.lock()
                            .unwrap()
                            .insert(index_of(m.payload().unwrap_or_default()));
                    }
                    Some(Err(e)) => errors.lock().unwrap().push(e.to_string()),
                    None => {}
                }
            }
        })
    };

    for id in 1..=3 {
        std::thread::sleep(Duration::from_secs(2));
        let before = deliveries.acked.lock().unwrap().len();
        let status = cluster.node(id).process.terminate(Duration::from_secs(40));
        assert!(status.success(), "node {id} exited with {status}");
        eprintln!("node {id} stopped by SIGTERM ({before} records acknowledged so far)");
        {
            let node = cluster.node(id);
            node.process.respawn();
            node.process.wait_accepting();
        }
        wait_placement(&cluster, topic, "node back in every ISR", |(l, _, isr)| {
            *l >= 0 && isr.len() == 3
        });
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Release);
    let sent = sender.join().expect("sender thread");
    producer
        .flush(Duration::from_secs(120))
        .expect("every record delivered or failed");
    let failed = deliveries.failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "{} of {sent} deliveries failed, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let acked: Vec<usize> = deliveries.acked.lock().unwrap().keys().copied().collect();
    assert_eq!(acked.len(), sent, "every record acknowledged");
    let deadline = Instant::now() + READY_WAIT;
    loop {
        let missing = acked
            .iter()
            .filter(|i| !seen.lock().unwrap().contains(i))
            .count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the consumer group never saw {missing} of {sent} acknowledged records; errors: {:?}",
            consumer_errors.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    reader_stop.store(true, Ordering::Release);
    reader.join().expect("reader thread");
    eprintln!(
        "{sent} records through a rolling restart; consumer errors (retriable, logged): {:?}",
        consumer_errors.lock().unwrap()
    );
}
