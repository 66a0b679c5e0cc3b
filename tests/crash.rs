//! Acknowledged writes survive SIGKILL; a SIGTERM shuts down cleanly. The broker runs as a child
//! process of this test (the `gregor` binary), on a free 127.0.0.1 port, with its data in a
//! temporary directory.
//!
//! Which binary: `GREGOR_BIN` if set, else the one cargo built for this test run
//! (`CARGO_BIN_EXE_gregor`, the debug binary under `cargo test`). `.ci/run` can set
//! `GREGOR_BIN=target/release/gregor` (after `cargo build --release`) to test the release binary.
//! `GREGOR_CRASH_SEED=<u64>` replays a run; every run prints its seed.
//!
//! Every wait is bounded, and every broker process is killed and reaped by a Drop guard, so a
//! failing test leaves no process behind.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::process::{BrokerProcess, broker_binary, free_port};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "crash";
const PARTITIONS: i32 = 3;
const CYCLES: usize = 3;
/// How long reading everything back may take.
const READ_WAIT: Duration = Duration::from_secs(60);
/// How long the producer may take to reach its kill point.
const PRODUCE_WAIT: Duration = Duration::from_secs(90);
/// librdkafka gives up on an unacknowledged record after this (the broker is dead by then).
const MESSAGE_TIMEOUT_MS: &str = "5000";

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    c
}

async fn create_topic(bootstrap: &str) {
    let admin: AdminClient<DefaultClientContext> =
        client_config(bootstrap).create().expect("admin");
    let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1));
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(10)));
    let results = tokio::time::timeout(
        Duration::from_secs(30),
        admin.create_topics(&[topic], &options),
    )
    .await
    .expect("create_topics in time")
    .expect("create_topics");
    for r in results {
        r.expect("topic created");
    }
}

/// One acknowledged record: partition, offset, value.
type Ack = (i32, i64, String);

#[derive(Default)]
struct Acks {
    acked: Mutex<Vec<Ack>>,
    failed: AtomicUsize,
}

impl Acks {
    fn count(&self) -> usize {
        self.acked.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Records every delivery report: acknowledged records with their offsets, and failures.
struct Recorder(Arc<Acks>);

impl ClientContext for Recorder {}

impl ProducerContext for Recorder {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let value = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                self.0
                    .acked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((m.partition(), m.offset(), value));
            }
            Err(_) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Produces keyed records until `stop`, then flushes (bounded); returns how many were sent.
fn produce_until(
    bootstrap: String,
    extra: &'static [(&'static str, &'static str)],
    cycle: usize,
    stop: Arc<AtomicBool>,
    acks: Arc<Acks>,
) -> u64 {
    let mut cfg = client_config(&bootstrap);
    cfg.set("acks", "all")
        .set("message.timeout.ms", MESSAGE_TIMEOUT_MS)
        .set("linger.ms", "1")
        .set("batch.num.messages", "100")
        .set("queue.buffering.max.messages", "20000");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    let producer: ThreadedProducer<Recorder> =
        cfg.create_with_context(Recorder(acks)).expect("producer");
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("key-{}", sent % 101);
        let value = format!("cycle-{cycle}-record-{sent}");
        match producer.send(BaseRecord::to(TOPIC).key(&key).payload(&value)) {
            Ok(()) => sent += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err((e, _)) => panic!("produce: {e}"),
        }
    }
    // The broker is dead now: what is unacknowledged fails within message.timeout.ms.
    let _ = producer.flush(Duration::from_secs(20));
    sent
}

/// Reads every record of TOPIC: (partition, offset) -> value, plus each partition's high watermark.
fn read_everything(bootstrap: &str) -> (HashMap<(i32, i64), String>, BTreeMap<i32, i64>) {
    let mut cfg = client_config(bootstrap);
    cfg.set("group.id", "crash-check")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = cfg.create().expect("consumer");
    let mut high = BTreeMap::new();
    for p in 0..PARTITIONS {
        let (low, hw) = consumer
            .fetch_watermarks(TOPIC, p, Duration::from_secs(10))
            .expect("fetch_watermarks");
        assert_eq!(low, 0, "partition {p}: log start offset");
        high.insert(p, hw);
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let total: i64 = high.values().sum();
    let mut got = HashMap::new();
    let deadline = Instant::now() + READ_WAIT;
    while (got.len() as i64) < total && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let value = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                assert!(
                    got.insert((m.partition(), m.offset()), value).is_none(),
                    "offset read twice"
                );
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    (got, high)
}

/// Every acknowledged record is at its acknowledged partition/offset with its value; offsets
/// are dense below each high watermark.
fn verify(bootstrap: &str, acked: &[Ack], what: &str) {
    let mut by_position: HashMap<(i32, i64), &str> = HashMap::new();
    for (p, o, v) in acked {
        if let Some(other) = by_position.insert((*p, *o), v) {
            panic!("{what}: two records acknowledged at {p}/{o}: {other:?} and {v:?}");
        }
    }
    let (got, high) = read_everything(bootstrap);
    for (p, hw) in &high {
        let missing: Vec<i64> = (0..*hw)
            .filter(|o| !got.contains_key(&(*p, *o)))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "{what}: partition {p} below high watermark {hw}: offsets not readable, e.g. {missing:?}"
        );
    }
    let mut bad = Vec::new();
    for (p, o, v) in acked {
        match got.get(&(*p, *o)) {
            Some(g) if g == v => {}
            other => bad.push(format!(
                "{p}/{o}: acknowledged {v:?}, read {other:?} (high watermark {:?})",
                high.get(p)
            )),
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {} acknowledged records lost or changed; first: {:#?}",
        bad.len(),
        acked.len(),
        &bad[..bad.len().min(10)]
    );
    eprintln!(
        "{what}: all {} acknowledged records present ({} records in the log, high watermarks {high:?})",
        acked.len(),
        got.len()
    );
}

fn assert_kafka_layout(data_dir: &Path) {
    for p in 0..PARTITIONS {
        let dir = data_dir.join(format!("{TOPIC}-{p}"));
        for file in [
            "00000000000000000000.log",
            "00000000000000000000.index",
            "partition.metadata",
        ] {
            assert!(
                dir.join(file).is_file(),
                "{} missing",
                dir.join(file).display()
            );
        }
    }
}

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn seed() -> u64 {
    match std::env::var("GREGOR_CRASH_SEED") {
        Ok(s) => s.parse().expect("GREGOR_CRASH_SEED is a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// Produce, SIGKILL the broker after a seeded number of acknowledgements, restart it on the same
/// data dir and port, check every acknowledged record; CYCLES times.
async fn survive_sigkill(extra: &'static [(&'static str, &'static str)], name: &str) {
    let seed = seed();
    eprintln!(
        "{name}: seed {seed} (GREGOR_CRASH_SEED={seed} replays it); binary {}",
        broker_binary().display()
    );
    let mut next = xorshift(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let port = free_port();
    let mut broker = BrokerProcess::start(port, &data_dir, dir.path().join("broker-0.log"));
    create_topic(&broker.bootstrap()).await;
    let mut all_acked: Vec<Ack> = Vec::new();
    for cycle in 0..CYCLES {
        let kill_at = 500 + (next() % 3000) as usize;
        let acks = Arc::new(Acks::default());
        let stop = Arc::new(AtomicBool::new(false));
        let producer = {
            let (bootstrap, stop, acks) = (broker.bootstrap(), stop.clone(), acks.clone());
            std::thread::spawn(move || produce_until(bootstrap, extra, cycle, stop, acks))
        };
        let deadline = Instant::now() + PRODUCE_WAIT;
        while acks.count() < kill_at && !producer.is_finished() {
            if Instant::now() > deadline {
                stop.store(true, Ordering::Relaxed);
                panic!(
                    "{name} cycle {cycle}: only {} of {kill_at} records acknowledged in {PRODUCE_WAIT:?}\n{}",
                    acks.count(),
                    broker.log_tail()
                );
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        broker.kill9();
        let acked_at_kill = acks.count();
        stop.store(true, Ordering::Relaxed);
        let join_deadline = Instant::now() + Duration::from_secs(40);
        while !producer.is_finished() {
            assert!(
                Instant::now() < join_deadline,
                "{name}: producer did not stop after the kill"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let sent = producer.join().expect("producer thread");
        let acked = std::mem::take(&mut *acks.acked.lock().unwrap_or_else(|p| p.into_inner()));
        eprintln!(
            "{name} cycle {cycle}: SIGKILL after {acked_at_kill} acks (target {kill_at}); {sent} sent, {} acknowledged, {} failed",
            acked.len(),
            acks.failed.load(Ordering::Relaxed)
        );
        all_acked.extend(acked);
        broker = BrokerProcess::start(
            port,
            &data_dir,
            dir.path().join(format!("broker-{}.log", cycle + 1)),
        );
        let bootstrap = broker.bootstrap();
        let expected = all_acked.clone();
        let what = format!("{name} (seed {seed}) after kill {}", cycle + 1);
        tokio::task::spawn_blocking(move || verify(&bootstrap, &expected, &what))
            .await
            .expect("verify");
    }
    assert_kafka_layout(&data_dir);
    let status = broker.terminate(Duration::from_secs(10));
    assert!(
        status.success(),
        "{name}: exit after SIGTERM: {status}\n{}",
        broker.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    survive_sigkill(&[], "acks=all").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_idempotent_writes_survive_sigkill() {
    survive_sigkill(&[("enable.idempotence", "true")], "acks=all idempotent").await;
}

/// SIGTERM: exit 0 within 10 s, the clean-shutdown marker written, the same data served after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let port = free_port();
    let mut broker = BrokerProcess::start(port, &data_dir, dir.path().join("broker-0.log"));
    create_topic(&broker.bootstrap()).await;
    const RECORDS: u64 = 3000;
    let acks = Arc::new(Acks::default());
    let (bootstrap, a) = (broker.bootstrap(), acks.clone());
    let acked = tokio::task::spawn_blocking(move || {
        let mut cfg = client_config(&bootstrap);
        cfg.set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "1")
            .set("batch.num.messages", "100");
        let producer: ThreadedProducer<Recorder> = cfg
            .create_with_context(Recorder(a.clone()))
            .expect("producer");
        for i in 0..RECORDS {
            let (key, value) = (format!("key-{}", i % 101), format!("clean-{i}"));
            let mut record = BaseRecord::to(TOPIC).key(&key).payload(&value);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                        if Instant::now() < deadline =>
                    {
                        record = r;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => panic!("produce: {e}"),
                }
            }
        }
        producer.flush(Duration::from_secs(30)).expect("flush");
        std::mem::take(&mut *a.acked.lock().unwrap_or_else(|p| p.into_inner()))
    })
    .await
    .expect("producer task");
    assert_eq!(
        acked.len() as u64,
        RECORDS,
        "every record acknowledged ({} failed)",
        acks.failed.load(Ordering::Relaxed)
    );

    let status = broker.terminate(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit after SIGTERM: {status}\n{}",
        broker.log_tail()
    );
    assert_eq!(status.code(), Some(0));
    assert!(
        data_dir.join(".kafka_cleanshutdown").is_file(),
        "clean-shutdown marker written\n{}",
        broker.log_tail()
    );
    assert_kafka_layout(&data_dir);

    let mut broker = BrokerProcess::start(port, &data_dir, dir.path().join("broker-1.log"));
    let bootstrap = broker.bootstrap();
    let expected = acked.clone();
    tokio::task::spawn_blocking(move || verify(&bootstrap, &expected, "after SIGTERM and restart"))
        .await
        .expect("verify");
    let status = broker.terminate(Duration::from_secs(10));
    assert!(
        status.success(),
        "second exit after SIGTERM: {status}\n{}",
        broker.log_tail()
    );
}

/// A group member's consumes `count` records of TOPIC (subscribed as `group`), commits them
/// synchronously, and returns (partition, offset, value) of what it read.
fn consume_and_commit(bootstrap: &str, group: &str, count: usize) -> Vec<(i32, i64, String)> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[TOPIC]).expect("subscribe");
    let deadline = Instant::now() + READ_WAIT;
    let mut got = Vec::new();
    while got.len() < count {
        assert!(Instant::now() < deadline, "read {} of {count}", got.len());
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.expect("consume");
            let value = String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string();
            got.push((m.partition(), m.offset(), value));
        }
    }
    // Commit exactly what was read: the next offset of each partition's last record.
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o, _) in &got {
        next.insert(*p, o + 1);
    }
    let mut tpl = TopicPartitionList::new();
    for (p, o) in &next {
        tpl.add_partition_offset(TOPIC, *p, Offset::Offset(*o))
            .expect("tpl");
    }
    consumer
        .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
        .expect("commit");
    got
}

/// Committed offsets are acknowledged only once written to `__consumer_offsets`: a SIGKILL right
/// after the commit loses none, and the group resumes exactly there after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let log_path = dir.path().join("broker.log");
    let data = dir.path().join("data");
    let mut broker = BrokerProcess::start(port, &data, log_path.clone());
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap).await;
    let producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext> =
        client_config(&bootstrap)
            .set("acks", "all")
            .create()
            .expect("producer");
    for i in 0..300 {
        let value = format!("r{i}");
        producer
            .send(
                BaseRecord::to(TOPIC)
                    .key(&value)
                    .payload(&value)
                    .partition(i % PARTITIONS),
            )
            .map_err(|(e, _)| e)
            .expect("enqueue");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    let b = bootstrap.clone();
    let first = tokio::task::spawn_blocking(move || consume_and_commit(&b, "crash-group", 150))
        .await
        .unwrap();
    broker.kill9();
    let mut broker = BrokerProcess::start(port, &data, log_path);
    let b = broker.bootstrap();
    let rest = tokio::task::spawn_blocking(move || consume_and_commit(&b, "crash-group", 150))
        .await
        .unwrap();
    let mut all: Vec<String> = first
        .iter()
        .chain(rest.iter())
        .map(|(_, _, v)| v.clone())
        .collect();
    all.sort();
    let mut want: Vec<String> = (0..300).map(|i| format!("r{i}")).collect();
    want.sort();
    assert_eq!(
        all, want,
        "after the crash the group resumed where it committed: nothing twice, nothing skipped"
    );
    broker.terminate(Duration::from_secs(10));
}
