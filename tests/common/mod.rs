//! Helpers shared by the integration tests: an in-process broker on 127.0.0.1:0 with a fresh data
//! directory, and rdkafka clients pointed at it. Every wait is bounded.
#![allow(dead_code)]

use std::time::Duration;

use gregor::embedded::EmbeddedBroker;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

pub mod cluster;
pub mod process;
pub mod raw;
pub mod reader;

pub const WAIT: Duration = Duration::from_secs(30);

/// Logs to the test's output at `RUST_LOG` (default `warn`); later calls do nothing.
pub fn init_tracing() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

pub struct TestBroker {
    pub broker: Option<EmbeddedBroker>,
    pub dir: tempfile::TempDir,
}

impl TestBroker {
    pub async fn start() -> TestBroker {
        Self::start_with(&[]).await
    }

    pub async fn start_with(properties: &[(&str, &str)]) -> TestBroker {
        init_tracing();
        let dir = tempfile::tempdir().expect("temp dir");
        let broker = EmbeddedBroker::start_in(dir.path(), properties)
            .await
            .expect("broker starts");
        TestBroker {
            broker: Some(broker),
            dir,
        }
    }

    pub fn bootstrap(&self) -> String {
        self.broker.as_ref().expect("running").bootstrap()
    }

    pub async fn restart(&mut self, properties: &[(&str, &str)]) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        self.broker = Some(
            EmbeddedBroker::start_in(self.dir.path(), properties)
                .await
                .expect("broker restarts"),
        );
    }

    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap())
            .set("broker.address.family", "v4");
        c
    }

    pub fn producer(&self, extra: &[(&str, &str)]) -> FutureProducer {
        let mut c = self.config();
        c.set("message.timeout.ms", "30000");
        for (k, v) in extra {
            c.set(*k, *v);
        }
        c.create().expect("producer")
    }

    pub fn consumer(&self, extra: &[(&str, &str)]) -> BaseConsumer {
        let mut c = self.config();
        // librdkafka needs a group id to assign partitions; no group coordination is used.
        c.set("group.id", "gregor-tests")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false");
        for (k, v) in extra {
            c.set(*k, *v);
        }
        c.create().expect("consumer")
    }

    pub fn admin(&self) -> AdminClient<DefaultClientContext> {
        self.config().create().expect("admin")
    }

    pub async fn create_topic(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) {
        let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            t = t.set(k, v);
        }
        let res = self
            .admin()
            .create_topics(&[t], &AdminOptions::new())
            .await
            .expect("create_topics");
        for r in res {
            r.expect("topic created");
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
    }
}

/// A record as read back: partition, offset, key, value, headers, timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Got {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp: Option<i64>,
}

pub fn got(m: &BorrowedMessage<'_>) -> Got {
    use rdkafka::message::Headers;
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|x| {
                    (
                        x.key.to_string(),
                        x.value.map(|v| v.to_vec()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Got {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(|k| k.to_vec()),
        value: m.payload().map(|v| v.to_vec()),
        headers,
        timestamp: m.timestamp().to_millis(),
    }
}

/// Reads `count` records of `topic` from `partitions` starting at the beginning, within `WAIT`.
pub fn read_all(consumer: &BaseConsumer, topic: &str, partitions: i32, count: usize) -> Vec<Got> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = std::time::Instant::now() + WAIT;
    let mut out = Vec::with_capacity(count);
    while out.len() < count && std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(got(&m)),
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

pub async fn send(
    producer: &FutureProducer,
    topic: &str,
    partition: Option<i32>,
    key: &[u8],
    value: &[u8],
) -> (i32, i64) {
    let mut r = FutureRecord::to(topic).key(key).payload(value);
    if let Some(p) = partition {
        r = r.partition(p);
    }
    let d = producer
        .send(r, WAIT)
        .await
        .map_err(|(e, _)| e)
        .expect("delivered");
    (d.partition, d.offset)
}

/// One magic-2 batch with a record per timestamp: key `k<i>` (when `keyed`), value `v<i>`,
/// CreateTime, no producer id, sequences set (the crate's encoder splits records without them).
pub fn encode_batch(
    compression: kafka_protocol::records::Compression,
    timestamps: &[i64],
    keyed: bool,
) -> bytes::BytesMut {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let records: Vec<Record> = timestamps
        .iter()
        .enumerate()
        .map(|(i, ts)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: *ts,
            key: keyed.then(|| bytes::Bytes::from(format!("k{i}"))),
            value: Some(bytes::Bytes::from(format!("v{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode");
    buf
}

/// The bytes of every `.log` segment of `topic-partition` under a node's `data_dir`, in offset
/// order (base offsets are zero-padded, so names sort as offsets do).
pub fn partition_log_bytes(data_dir: &std::path::Path, topic: &str, partition: i32) -> Vec<u8> {
    let dir = data_dir.join(format!("{topic}-{partition}"));
    let mut segments: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default();
    segments.sort();
    segments
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap_or_default())
        .collect()
}
