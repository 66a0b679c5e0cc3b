//! What the scenarios share: the environment, client configs, producing with delivery reports,
//! reading back with full record contents, and small checks. Every wait has a deadline.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders, Timestamp};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

pub enum Outcome {
    Pass(String),
    /// A feature rdkafka lacks.
    Unsupported(String),
}

pub type R = Result<Outcome, String>;

pub fn pass(detail: impl Into<String>) -> R {
    Ok(Outcome::Pass(detail.into()))
}

/// `ensure!(cond, "format", args)`: fail the scenario with the message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// Turns any error (or a missing value) into the scenario's failure message.
pub trait OrFail<T> {
    fn or_fail(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Debug> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e:?}"))
    }
}

impl<T> OrFail<T> for Option<T> {
    fn or_fail(self, what: &str) -> Result<T, String> {
        self.ok_or_else(|| format!("{what}: missing"))
    }
}

pub struct Ctx {
    pub bootstrap: String,
    pub prefix: String,
    pub ctl: Option<String>,
    /// Distinguishes this run's topics and groups from an earlier run's on the same broker.
    pub run: String,
}

impl Ctx {
    pub fn from_env() -> Ctx {
        let millis = now_ms() as u64;
        Ctx {
            bootstrap: std::env::var("GREGOR_BOOTSTRAP")
                .unwrap_or_else(|_| "127.0.0.1:9092".into()),
            prefix: std::env::var("GREGOR_PREFIX").unwrap_or_else(|_| "rdkafka-".into()),
            ctl: std::env::var("GREGOR_CTL").ok().filter(|s| !s.is_empty()),
            run: format!("{:x}", millis % 0xff_ffff),
        }
    }

    /// A topic or group name: the prefix, the scenario's name, this run.
    pub fn name(&self, base: &str) -> String {
        format!("{}{}-{}", self.prefix, base, self.run)
    }

    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap)
            .set("broker.address.family", "v4")
            .set("client.id", "gregor-compat-rdkafka");
        c
    }

    pub fn producer(&self, extra: &[(&str, &str)]) -> Result<FutureProducer, String> {
        let mut c = self.config();
        c.set("message.timeout.ms", "20000").set("linger.ms", "5");
        for (k, v) in extra {
            c.set(*k, *v);
        }
        c.create().or_fail("create producer")
    }

    /// A consumer for `assign`: librdkafka wants a group id, but no group coordination is used.
    pub fn consumer(&self, extra: &[(&str, &str)]) -> Result<BaseConsumer, String> {
        let mut c = self.config();
        c.set("group.id", self.name("assign-only"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest");
        for (k, v) in extra {
            c.set(*k, *v);
        }
        c.create().or_fail("create consumer")
    }

    pub fn admin(&self) -> Result<AdminClient<DefaultClientContext>, String> {
        self.config().create().or_fail("create admin client")
    }

    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            t = t.set(k, v);
        }
        let admin = self.admin()?;
        let res = admin
            .create_topics(&[t], &opts())
            .await
            .or_fail("create_topics")?;
        for r in res {
            r.or_fail(&format!("create topic {name}"))?;
        }
        Ok(())
    }
}

pub fn opts() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(Duration::from_secs(15)))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub const MD: Duration = Duration::from_secs(10);

/// A record as written or read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Timestamp,
}

pub fn rec(m: &BorrowedMessage<'_>) -> Rec {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|x| (x.key.to_string(), x.value.map(|v| v.to_vec())))
                .collect()
        })
        .unwrap_or_default();
    Rec {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(|k| k.to_vec()),
        value: m.payload().map(|v| v.to_vec()),
        headers,
        timestamp: m.timestamp(),
    }
}

/// A record to send: `partition` None lets the partitioner choose.
#[derive(Debug, Clone)]
pub struct Out {
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

impl Out {
    pub fn kv(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Out {
        Out {
            partition: None,
            key: Some(key.into()),
            value: Some(value.into()),
            headers: vec![],
            timestamp: None,
        }
    }

    pub fn to(mut self, partition: i32) -> Out {
        self.partition = Some(partition);
        self
    }
}

/// A delivery report: where the broker put the record (offset -1 with acks=0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Timestamp,
}

/// Sends every record (all enqueued before any is awaited, so they batch) and returns one
/// delivery result per record, in order.
pub async fn send_all(
    producer: &FutureProducer,
    topic: &str,
    records: &[Out],
) -> Vec<Result<Acked, String>> {
    let mut futures = Vec::with_capacity(records.len());
    for r in records {
        let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
        if let Some(k) = &r.key {
            fr = fr.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            fr = fr.payload(v.as_slice());
        }
        if let Some(p) = r.partition {
            fr = fr.partition(p);
        }
        if let Some(ts) = r.timestamp {
            fr = fr.timestamp(ts);
        }
        if !r.headers.is_empty() {
            let mut h = OwnedHeaders::new_with_capacity(r.headers.len());
            for (k, v) in &r.headers {
                h = h.insert(Header {
                    key: k.as_str(),
                    value: v.as_deref(),
                });
            }
            fr = fr.headers(h);
        }
        // `send_result` enqueues now (`send` only when first polled), so records batch.
        futures.push(
            producer
                .send_result(fr)
                .map_err(|(e, _)| format!("enqueue: {e:?}")),
        );
    }
    let mut out = Vec::with_capacity(records.len());
    for f in futures {
        out.push(match f {
            Err(e) => Err(e),
            Ok(f) => match f.await {
                Ok(Ok(d)) => Ok(Acked {
                    partition: d.partition,
                    offset: d.offset,
                    timestamp: d.timestamp,
                }),
                Ok(Err((e, _))) => Err(format!("{e:?}")),
                Err(_) => Err("delivery future canceled".to_string()),
            },
        });
    }
    out
}

/// `send_all`, failing on the first undelivered record.
pub async fn send_ok(
    producer: &FutureProducer,
    topic: &str,
    records: &[Out],
) -> Result<Vec<Acked>, String> {
    let mut acks = Vec::with_capacity(records.len());
    for (i, r) in send_all(producer, topic, records)
        .await
        .into_iter()
        .enumerate()
    {
        acks.push(r.map_err(|e| format!("record {i} not delivered: {e}"))?);
    }
    Ok(acks)
}

/// Assigns `partitions` of `topic` at `start` and reads until `count` records arrived or
/// `limit` passed; then keeps polling `linger` longer to catch records that should not be there.
pub fn read_assigned(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: i32,
    start: Offset,
    count: usize,
    limit: Duration,
    linger: Duration,
) -> Result<Vec<Rec>, String> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, start).or_fail("tpl")?;
    }
    consumer.assign(&tpl).or_fail("assign")?;
    poll_n(consumer, count, limit, linger)
}

/// Polls an assigned or subscribed consumer until `count` records arrived or `limit` passed, then
/// `linger` longer. A consume error fails.
pub fn poll_n(
    consumer: &BaseConsumer,
    count: usize,
    limit: Duration,
    linger: Duration,
) -> Result<Vec<Rec>, String> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::with_capacity(count);
    while out.len() < count && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(rec(&m)),
            Some(Err(e)) => return Err(format!("consume error after {} records: {e}", out.len())),
            None => {}
        }
    }
    let until = Instant::now() + linger;
    while Instant::now() < until {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(rec(&m)),
            Some(Err(e)) => return Err(format!("consume error after {} records: {e}", out.len())),
            None => {}
        }
    }
    Ok(out)
}

/// Records read back, grouped by partition in the order read.
pub fn by_partition(recs: &[Rec]) -> std::collections::BTreeMap<i32, Vec<&Rec>> {
    let mut m: std::collections::BTreeMap<i32, Vec<&Rec>> = Default::default();
    for r in recs {
        m.entry(r.partition).or_default().push(r);
    }
    m
}

/// Maps a sent record and its delivery report to the timestamp it must be read back with.
pub type ExpectedTimestamp = dyn Fn(&Out, &Acked) -> Timestamp;

/// Checks that `got` is exactly `sent` (with its delivery reports): every record at the
/// partition and offset it was acknowledged at, key, value and headers equal, each partition's
/// records in send order, nothing missing or extra. Timestamps are compared when `ts` is Some:
/// it maps the sent record to the expected read-back timestamp.
pub fn check_same(
    sent: &[Out],
    acks: &[Acked],
    got: &[Rec],
    ts: Option<&ExpectedTimestamp>,
) -> Result<(), String> {
    ensure!(
        got.len() == sent.len(),
        "read back {} records, sent {}",
        got.len(),
        sent.len()
    );
    let mut expected: std::collections::BTreeMap<i32, Vec<(usize, &Out, &Acked)>> =
        Default::default();
    for (i, (o, a)) in sent.iter().zip(acks).enumerate() {
        expected.entry(a.partition).or_default().push((i, o, a));
    }
    let got_by = by_partition(got);
    for (p, want) in &expected {
        let have = got_by.get(p).map(|v| v.as_slice()).unwrap_or(&[]);
        ensure!(
            have.len() == want.len(),
            "partition {p}: read {} records, {} were acknowledged there",
            have.len(),
            want.len()
        );
        for ((i, o, a), g) in want.iter().zip(have) {
            ensure!(
                a.offset < 0 || g.offset == a.offset,
                "partition {p}: record {i} acknowledged at offset {} but read at {} (order kept?)",
                a.offset,
                g.offset
            );
            ensure!(
                g.key == o.key && g.value == o.value,
                "partition {p} offset {}: read key {:?} value {:?}, expected record {i} key {:?} value {:?}",
                g.offset,
                short(&g.key),
                short(&g.value),
                short(&o.key),
                short(&o.value)
            );
            ensure!(
                g.headers == o.headers,
                "partition {p} offset {}: headers {:?}, sent {:?}",
                g.offset,
                g.headers,
                o.headers
            );
            if let Some(ts) = ts {
                let want_ts = ts(o, a);
                ensure!(
                    g.timestamp == want_ts,
                    "partition {p} offset {}: timestamp {:?}, expected {:?}",
                    g.offset,
                    g.timestamp,
                    want_ts
                );
            }
        }
    }
    for p in got_by.keys() {
        ensure!(
            expected.contains_key(p),
            "records read from partition {p}, where none was acknowledged"
        );
    }
    Ok(())
}

pub fn short(b: &Option<Vec<u8>>) -> String {
    match b {
        None => "null".into(),
        Some(v) if v.len() > 40 => format!(
            "{}... ({} bytes)",
            String::from_utf8_lossy(&v[..40]),
            v.len()
        ),
        Some(v) => String::from_utf8_lossy(v).into_owned(),
    }
}

/// Waits for `check` to hold, polling every 100 ms, for at most `limit`.
pub async fn eventually<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(format!("{what}: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A small deterministic pseudo-random generator (xorshift64*), for incompressible payloads.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// The partition count of `topic` as a fresh metadata request reports it (a topic error fails).
pub fn topic_partitions(consumer: &BaseConsumer, topic: &str) -> Result<usize, String> {
    let md = consumer
        .fetch_metadata(Some(topic), MD)
        .or_fail("metadata")?;
    let t = md.topics().first().or_fail("topic in metadata")?;
    if let Some(e) = t.error() {
        return Err(format!(
            "topic error {:?}",
            rdkafka::types::RDKafkaErrorCode::from(e)
        ));
    }
    Ok(t.partitions().len())
}
