//! The measured phases: produce, consume (assign, no group), fixed-rate latency, and time to the
//! first record through a subscribing group consumer. Each is bounded by --phase-timeout-s.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

use crate::report::Report;
use crate::{Args, GroupProtocol, broker};

const MIB: f64 = 1_048_576.0;

/// What every phase shares: the arguments, where the broker is, and its PID if known.
pub struct Ctx<'a> {
    pub args: &'a Args,
    pub bootstrap: String,
    pub pid: Option<i32>,
    pub topic: String,
    pub phase_timeout: Duration,
}

impl<'a> Ctx<'a> {
    pub fn new(args: &'a Args, bootstrap: String, pid: Option<i32>) -> Ctx<'a> {
        let topic = args.topic.clone().unwrap_or_else(|| {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            format!("loadgen-{}-{ms}", std::process::id())
        });
        Ctx {
            args,
            bootstrap,
            pid,
            topic,
            phase_timeout: Duration::from_secs(args.phase_timeout_s),
        }
    }

    fn base_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap)
            .set("broker.address.family", "v4")
            .set("client.id", "gregor-loadgen");
        // Without a `log` logger rdkafka would silence librdkafka; warnings always, debug lines
        // when -X/-C debug=... asks for them.
        let debug = self
            .args
            .producer_config
            .iter()
            .chain(&self.args.consumer_config)
            .any(|kv| kv.starts_with("debug="));
        c.set_log_level(if debug {
            RDKafkaLogLevel::Debug
        } else {
            RDKafkaLogLevel::Warning
        });
        c
    }

    fn broker_cpu(&self) -> Option<f64> {
        self.pid.and_then(|p| broker::cpu_seconds(p).ok())
    }

    /// Creates `topic` with `partitions` partitions (unless --no-create-topic; an existing topic
    /// is accepted) and waits until metadata shows every partition with a leader.
    pub fn ensure_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> =
            self.base_config().create().context("admin client")?;
        if !self.args.no_create_topic {
            let nt = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
            let opts = AdminOptions::new()
                .operation_timeout(Some(Duration::from_secs(30)))
                .request_timeout(Some(Duration::from_secs(30)));
            let res = futures::executor::block_on(admin.create_topics([&nt], &opts))
                .context("CreateTopics")?;
            for r in res {
                match r {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((t, code)) => bail!("create topic {t}: {code}"),
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = admin
                .inner()
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .ok()
                .and_then(|md| {
                    md.topics().iter().find(|t| t.name() == topic).map(|t| {
                        let ps = t.partitions();
                        t.error().is_none()
                            && ps.len() == partitions as usize
                            && ps.iter().all(|p| p.leader() >= 0)
                    })
                })
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("topic {topic} not ready with {partitions} partitions within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn producer(&self, acks: &str, linger_ms: u64) -> Result<BaseProducer<DrCtx>> {
        let a = self.args;
        let mut c = self.base_config();
        c.set("acks", acks)
            .set("linger.ms", linger_ms.to_string())
            .set("compression.type", a.compression.as_str())
            .set(
                "message.timeout.ms",
                (self.phase_timeout.as_millis() as u64).to_string(),
            );
        if let Some(b) = a.batch_bytes {
            c.set("batch.size", b.to_string());
        }
        for kv in &a.producer_config {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("-X {kv}: want KEY=VALUE"))?;
            c.set(k, v);
        }
        c.create_with_context(DrCtx::new()).context("producer")
    }

    fn consumer(&self, group: &str, extra: &[(&str, &str)]) -> Result<BaseConsumer<LogCtx>> {
        let mut c = self.base_config();
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "fetch.queue.backoff.ms",
                self.args.fetch_queue_backoff_ms.to_string(),
            );
        for (k, v) in extra {
            c.set(*k, *v);
        }
        for kv in &self.args.consumer_config {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("-C {kv}: want KEY=VALUE"))?;
            c.set(k, v);
        }
        c.create_with_context(LogCtx).context("consumer")
    }
}

/// librdkafka's log lines (warnings, and `-C debug=...` / `-X debug=...` output) to stderr,
/// stamped with milliseconds since this tool started.
static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

pub fn init_clock() {
    T0.get_or_init(Instant::now);
}

fn log_line(level: RDKafkaLogLevel, fac: &str, msg: &str) {
    let t = T0.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0;
    eprintln!("[{t:10.3} ms] librdkafka {level:?} {fac}: {msg}");
}

pub struct LogCtx;

impl ClientContext for LogCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
}

impl ConsumerContext for LogCtx {}

/// Delivery-report state. The per-message opaque is the send time in ns since `base`.
pub struct DrCtx {
    base: Instant,
    keep_latency: std::sync::atomic::AtomicBool,
    /// (send ns since base, latency ns, librdkafka's own latency in µs) of each delivered
    /// record, when keep_latency.
    lat: Mutex<Vec<(u64, u64, i64)>>,
    ok: AtomicU64,
    err: AtomicU64,
    first_err: Mutex<Option<String>>,
    last_dr_ns: AtomicU64,
}

impl DrCtx {
    fn new() -> DrCtx {
        DrCtx {
            base: Instant::now(),
            keep_latency: false.into(),
            lat: Mutex::new(Vec::new()),
            ok: 0.into(),
            err: 0.into(),
            first_err: Mutex::new(None),
            last_dr_ns: 0.into(),
        }
    }
    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
    fn done(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + self.err.load(Ordering::Relaxed)
    }
    fn reset(&self) {
        self.ok.store(0, Ordering::Relaxed);
        self.err.store(0, Ordering::Relaxed);
        self.lat.lock().unwrap().clear();
    }
    fn first_error(&self) -> Option<String> {
        self.first_err.lock().unwrap().clone()
    }
}

impl ClientContext for DrCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
}

impl ProducerContext for DrCtx {
    type DeliveryOpaque = usize;
    fn delivery(&self, r: &DeliveryResult<'_>, sent_ns: usize) {
        let now = self.now_ns();
        self.last_dr_ns.store(now, Ordering::Relaxed);
        match r {
            Ok(m) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                if self.keep_latency.load(Ordering::Relaxed) {
                    let s = sent_ns as u64;
                    // librdkafka's produce()-to-acknowledgement time, as Message.latency() in
                    // confluent-kafka (what kbench.py reports), for comparison.
                    let rd = unsafe { rdkafka::bindings::rd_kafka_message_latency(m.ptr()) };
                    self.lat
                        .lock()
                        .unwrap()
                        .push((s, now.saturating_sub(s), rd));
                }
            }
            Err((e, _)) => {
                self.err.fetch_add(1, Ordering::Relaxed);
                self.first_err
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Seeded xorshift64 payload pool: lowercase letters (about 4.7 bits of entropy per byte, so a
/// codec gets roughly 1.7x), 1 MiB + one record long; record i is the slice at i * 4099 mod 1 MiB.
struct Payloads {
    pool: Vec<u8>,
    size: usize,
}

impl Payloads {
    const SPAN: usize = 1 << 20;
    fn new(seed: u64, size: usize) -> Payloads {
        let mut x = seed | 1;
        let pool = (0..Self::SPAN + size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b'a' + (x % 26) as u8
            })
            .collect();
        Payloads { pool, size }
    }
    fn get(&self, i: u64) -> &[u8] {
        let off = (i as usize).wrapping_mul(4099) % Self::SPAN;
        &self.pool[off..off + self.size]
    }
}

/// Sends one record, polling for delivery reports while librdkafka's queue is full.
fn send(p: &BaseProducer<DrCtx>, topic: &str, payload: &[u8], deadline: Instant) -> Result<()> {
    let mut rec =
        BaseRecord::<(), [u8], usize>::with_opaque_to(topic, p.context().now_ns() as usize)
            .payload(payload);
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                if Instant::now() > deadline {
                    bail!("producer queue still full at the phase deadline");
                }
                p.poll(Duration::from_millis(1));
                rec = r;
            }
            Err((e, _)) => bail!("produce: {e}"),
        }
    }
}

/// Polls until `n` delivery reports arrived or the deadline passed.
fn drain(p: &BaseProducer<DrCtx>, n: u64, deadline: Instant) {
    while p.context().done() < n && Instant::now() < deadline {
        p.poll(Duration::from_millis(50));
    }
}

/// Produce N records as fast as librdkafka takes them. Returns how many were delivered.
pub fn produce(ctx: &Ctx, topic: &str, rep: &mut Report) -> Result<u64> {
    let a = ctx.args;
    let n = a.records;
    let pay = Payloads::new(a.seed, a.record_bytes);
    let p = ctx.producer(&a.acks, a.linger_ms)?;
    // Warm up the connection, ApiVersions and the topic's metadata outside the timed section.
    p.client()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .context("producer metadata")?;
    let deadline = Instant::now() + ctx.phase_timeout;
    let (bcpu0, ccpu0) = (ctx.broker_cpu(), broker::self_cpu_seconds());
    let t0 = p.context().now_ns();
    for i in 0..n {
        send(&p, topic, pay.get(i), deadline)?;
        if i & 1023 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    let enqueued = p.context().now_ns() - t0;
    drain(&p, n, deadline);
    let (bcpu1, ccpu1) = (ctx.broker_cpu(), broker::self_cpu_seconds());
    let d = p.context();
    let ok = d.ok.load(Ordering::Relaxed);
    let err = d.err.load(Ordering::Relaxed);
    let wall = (d.last_dr_ns.load(Ordering::Relaxed).saturating_sub(t0)) as f64 / 1e9;
    let mib = ok as f64 * a.record_bytes as f64 / MIB;
    rep.num(
        "produce",
        "produce_records_delivered",
        ok as f64,
        "",
        "delivery reports without error",
    );
    rep.num(
        "produce",
        "produce_errors",
        err as f64,
        "",
        "delivery reports with an error",
    );
    if d.done() < n {
        rep.note(&format!(
            "produce: {} records had no delivery report by the phase deadline",
            n - d.done()
        ));
    }
    if let Some(e) = d.first_error() {
        rep.note(&format!("produce: first delivery error: {e}"));
    }
    rep.num(
        "produce",
        "produce_wall_s",
        wall,
        "s",
        "first send to last delivery report",
    );
    rep.num(
        "produce",
        "produce_enqueue_s",
        enqueued as f64 / 1e9,
        "s",
        "first send to last send() accepted",
    );
    rep.num(
        "produce",
        "produce_records_per_s",
        ok as f64 / wall,
        "rec/s",
        "delivered / wall",
    );
    rep.num(
        "produce",
        "produce_mib_per_s",
        mib / wall,
        "MiB/s",
        "value bytes delivered / wall",
    );
    rep.num(
        "produce",
        "produce_client_cpu_s",
        ccpu1 - ccpu0,
        "s",
        "this tool's CPU (librdkafka threads included)",
    );
    if let (Some(b0), Some(b1)) = (bcpu0, bcpu1) {
        rep.num(
            "produce",
            "produce_broker_cpu_s",
            b1 - b0,
            "s",
            "broker user+sys CPU during the phase",
        );
        rep.num(
            "produce",
            "produce_broker_cpu_s_per_mib",
            (b1 - b0) / mib,
            "s/MiB",
            "broker CPU per MiB written",
        );
    }
    drop(p);
    Ok(ok)
}

/// Read `expect` records back from the beginning of every partition through assign() (no group
/// coordination).
pub fn consume(ctx: &Ctx, topic: &str, expect: u64, rep: &mut Report) -> Result<()> {
    let a = ctx.args;
    let c = ctx.consumer("gregor-loadgen-assign", &[])?;
    let mut tpl = TopicPartitionList::new();
    for part in 0..a.partitions {
        tpl.add_partition_offset(topic, part, Offset::Beginning)?;
    }
    let (bcpu0, ccpu0) = (ctx.broker_cpu(), broker::self_cpu_seconds());
    let t0 = Instant::now();
    let deadline = t0 + ctx.phase_timeout;
    c.assign(&tpl).context("assign")?;
    let (mut got, mut bytes, mut wrong_size, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let mut first = None;
    let mut last = t0;
    let mut first_err = None;
    while got < expect && Instant::now() < deadline {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last = Instant::now();
                first.get_or_insert(last);
                got += 1;
                let len = m.payload_len();
                bytes += len as u64;
                if len != a.record_bytes {
                    wrong_size += 1;
                }
            }
            Some(Err(e)) => {
                errors += 1;
                first_err.get_or_insert_with(|| e.to_string());
            }
            None => {}
        }
    }
    let (bcpu1, ccpu1) = (ctx.broker_cpu(), broker::self_cpu_seconds());
    // Rate from the first record to the last, as kbench.py: assign() to the first record is
    // mostly librdkafka's own start (a 500 ms offset-query back-off when the leader's connection
    // is not up yet at assign time), reported separately.
    let wall = first.map(|f| (last - f).as_secs_f64()).unwrap_or(f64::NAN);
    let mib = bytes as f64 / MIB;
    rep.num("consume", "consume_records", got as f64, "", "records read");
    rep.num(
        "consume",
        "consume_expected",
        expect as f64,
        "",
        "records produced",
    );
    rep.text(
        "consume",
        "consume_count_ok",
        if got == expect && wrong_size == 0 {
            "yes"
        } else {
            "NO"
        },
        "all records read back, each of --record-bytes",
    );
    if wrong_size > 0 {
        rep.note(&format!(
            "consume: {wrong_size} records not {} bytes long",
            a.record_bytes
        ));
    }
    rep.num(
        "consume",
        "consume_errors",
        errors as f64,
        "",
        "consumer errors polled",
    );
    if let Some(e) = first_err {
        rep.note(&format!("consume: first error: {e}"));
    }
    if let Some(f) = first {
        rep.ms(
            "consume",
            "consume_first_record_ms",
            f - t0,
            "assign() to the first record",
        );
    }
    rep.num(
        "consume",
        "consume_wall_s",
        wall,
        "s",
        "first record to the last",
    );
    rep.num(
        "consume",
        "consume_assign_to_last_s",
        (last - t0).as_secs_f64(),
        "s",
        "assign() to the last record",
    );
    rep.num(
        "consume",
        "consume_records_per_s",
        got as f64 / wall,
        "rec/s",
        "records / wall",
    );
    rep.num(
        "consume",
        "consume_mib_per_s",
        mib / wall,
        "MiB/s",
        "value bytes / wall",
    );
    rep.num(
        "consume",
        "consume_client_cpu_s",
        ccpu1 - ccpu0,
        "s",
        "this tool's CPU",
    );
    if let (Some(b0), Some(b1)) = (bcpu0, bcpu1) {
        rep.num(
            "consume",
            "consume_broker_cpu_s",
            b1 - b0,
            "s",
            "broker user+sys CPU during the phase",
        );
        rep.num(
            "consume",
            "consume_broker_cpu_s_per_mib",
            (b1 - b0) / mib,
            "s/MiB",
            "broker CPU per MiB read",
        );
    }
    Ok(())
}

/// Index round(q * (n-1)) of sorted values, as kbench.py does.
fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1);
    sorted[k] as f64 / 1e6
}

/// Fixed-rate produce, linger.ms=0: latency of each record from send() to its delivery report.
pub fn latency(ctx: &Ctx, topic: &str, rep: &mut Report) -> Result<()> {
    let a = ctx.args;
    if a.latency_acks == "0" {
        bail!("--latency-acks 0 has no delivery acknowledgement to time");
    }
    if a.rate == 0 || a.latency_duration_s <= 0.0 {
        bail!("--rate and --latency-duration-s must be positive");
    }
    let pay = Payloads::new(a.seed ^ 0x5555, a.record_bytes);
    let p = ctx.producer(&a.latency_acks, 0)?;
    let total = (a.rate as f64 * a.latency_duration_s).round() as u64;
    p.context().lat.lock().unwrap().reserve(total as usize);
    // Warm-up record (connection, metadata, first produce path), not counted.
    let warm_deadline = Instant::now() + Duration::from_secs(30);
    send(&p, topic, pay.get(0), warm_deadline)?;
    drain(&p, 1, warm_deadline);
    p.context().reset();
    p.context().keep_latency.store(true, Ordering::Relaxed);

    let slot = Duration::from_millis(1);
    let rate = a.rate as f64;
    let bcpu0 = ctx.broker_cpu();
    let t0 = Instant::now();
    let send_deadline = t0 + Duration::from_secs_f64(a.latency_duration_s) + ctx.phase_timeout;
    let mut sent = 0u64;
    while sent < total {
        let now = Instant::now();
        if now > send_deadline {
            rep.note("latency: sending stopped at the phase deadline");
            break;
        }
        let due = (((now - t0).as_secs_f64() * rate) as u64 + 1).min(total);
        while sent < due {
            send(&p, topic, pay.get(sent), send_deadline)?;
            sent += 1;
        }
        // Serve delivery reports while waiting for the next send time (at most one 1 ms slot).
        let next = t0 + Duration::from_secs_f64(sent as f64 / rate);
        let wait = next.saturating_duration_since(Instant::now()).min(slot);
        p.poll(wait);
    }
    let send_el = t0.elapsed().as_secs_f64();
    drain(&p, sent, Instant::now() + ctx.phase_timeout);
    let bcpu1 = ctx.broker_cpu();
    let d = p.context();
    let pairs = std::mem::take(&mut *d.lat.lock().unwrap());
    if let Some(path) = &a.latency_dump {
        let mut out = String::from("send_ms,latency_ms\n");
        for &(s, l, _) in &pairs {
            let t = s.saturating_sub((t0 - d.base).as_nanos() as u64);
            out.push_str(&format!("{:.3},{:.3}\n", t as f64 / 1e6, l as f64 / 1e6));
        }
        std::fs::write(path, out).with_context(|| format!("write {}", path.display()))?;
    }
    let mut lat: Vec<u64> = pairs.iter().map(|&(_, l, _)| l).collect();
    let mut rd: Vec<u64> = pairs
        .iter()
        .filter(|t| t.2 >= 0)
        .map(|&(_, _, r)| r as u64 * 1000)
        .collect();
    rd.sort_unstable();
    lat.sort_unstable();
    // Stall analysis as kbench.py: 100 ms windows by send time whose worst latency is > 50 ms.
    let base_ns = (t0 - d.base).as_nanos() as u64;
    let mut windows = std::collections::BTreeMap::<u64, u64>::new();
    for &(s, l, _) in &pairs {
        let w = s.saturating_sub(base_ns) / 100_000_000;
        let e = windows.entry(w).or_default();
        *e = (*e).max(l);
    }
    let slow: Vec<u64> = windows
        .iter()
        .filter(|&(_, &m)| m > 50_000_000)
        .map(|(&w, _)| w)
        .collect();
    let mean = if lat.is_empty() {
        f64::NAN
    } else {
        lat.iter().sum::<u64>() as f64 / lat.len() as f64 / 1e6
    };
    rep.num("latency", "latency_sent", sent as f64, "", "records sent");
    rep.num(
        "latency",
        "latency_acked",
        lat.len() as f64,
        "",
        "delivered without error",
    );
    rep.num(
        "latency",
        "latency_errors",
        d.err.load(Ordering::Relaxed) as f64,
        "",
        "delivery errors",
    );
    if let Some(e) = d.first_error() {
        rep.note(&format!("latency: first delivery error: {e}"));
    }
    rep.num(
        "latency",
        "latency_achieved_rate_per_s",
        sent as f64 / send_el,
        "rec/s",
        "sent / sending time",
    );
    rep.num(
        "latency",
        "latency_p50_ms",
        pct(&lat, 0.50),
        "ms",
        "send() to delivery report",
    );
    rep.num("latency", "latency_p90_ms", pct(&lat, 0.90), "ms", "");
    rep.num("latency", "latency_p99_ms", pct(&lat, 0.99), "ms", "");
    rep.num("latency", "latency_p999_ms", pct(&lat, 0.999), "ms", "");
    rep.num(
        "latency",
        "latency_max_ms",
        lat.last().map(|&m| m as f64 / 1e6).unwrap_or(f64::NAN),
        "ms",
        "",
    );
    rep.num("latency", "latency_mean_ms", mean, "ms", "");
    rep.num(
        "latency",
        "latency_librdkafka_p50_ms",
        pct(&rd, 0.50),
        "ms",
        "librdkafka's own message latency (kbench.py's figure)",
    );
    rep.num(
        "latency",
        "latency_librdkafka_p99_ms",
        pct(&rd, 0.99),
        "ms",
        "",
    );
    rep.num(
        "latency",
        "latency_librdkafka_p999_ms",
        pct(&rd, 0.999),
        "ms",
        "",
    );
    rep.num(
        "latency",
        "latency_windows_over_50ms",
        slow.len() as f64,
        "",
        &format!(
            "100 ms send windows (of {}) whose max latency > 50 ms",
            windows.len()
        ),
    );
    if !slow.is_empty() {
        let starts: Vec<String> = slow
            .iter()
            .take(10)
            .map(|w| format!("{:.1}", *w as f64 / 10.0))
            .collect();
        rep.note(&format!(
            "latency: slow windows start at s = {}",
            starts.join(", ")
        ));
    }
    if let (Some(b0), Some(b1)) = (bcpu0, bcpu1) {
        rep.num(
            "latency",
            "latency_broker_cpu_s",
            b1 - b0,
            "s",
            "broker CPU during the phase",
        );
    }
    Ok(())
}

/// subscribe() with a fresh group on an idle broker, one record already in the topic: time to
/// the first record (coordinator lookup, join, assignment, offset fetch, first fetch).
pub fn first_record(ctx: &Ctx, topic: &str, rep: &mut Report) -> Result<()> {
    let a = ctx.args;
    {
        let p = ctx.producer("all", 0)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        send(&p, topic, b"first-record", deadline)?;
        drain(&p, 1, deadline);
        if p.context().ok.load(Ordering::Relaxed) != 1 {
            bail!(
                "first-record: seed record not delivered: {:?}",
                p.context().first_error()
            );
        }
    }
    let proto = match a.group_protocol {
        GroupProtocol::Classic => "classic",
        GroupProtocol::Consumer => "consumer",
    };
    rep.text(
        "first-record",
        "first_record_group_protocol",
        proto,
        "group.protocol of the subscriber",
    );
    // Twice, each with a fresh group after an idle pause: the first may include the broker's
    // creation of __consumer_offsets (first group coordinator lookup on a fresh broker).
    for (i, key) in ["first_record_ms", "first_record_repeat_ms"]
        .into_iter()
        .enumerate()
    {
        std::thread::sleep(Duration::from_millis(a.first_record_idle_ms));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let group = format!("gregor-loadgen-first-{nanos}");
        let c = ctx.consumer(&group, &[("group.protocol", proto)])?;
        let t0 = Instant::now();
        let deadline = t0 + ctx.phase_timeout.min(Duration::from_secs(120));
        c.subscribe(&[topic]).context("subscribe")?;
        let mut first = None;
        let mut errors = Vec::new();
        while first.is_none() && Instant::now() < deadline {
            match c.poll(Duration::from_millis(20)) {
                Some(Ok(_)) => first = Some(t0.elapsed()),
                Some(Err(e)) => errors.push(e.to_string()),
                None => {}
            }
        }
        let what = if i == 0 {
            "subscribe() to the first record, fresh group, idle broker"
        } else {
            "the same again with another fresh group"
        };
        match first {
            Some(d) => rep.ms("first-record", key, d, what),
            None => rep.note(&format!(
                "first-record: no record within {:?}",
                deadline - t0
            )),
        }
        if !errors.is_empty() {
            rep.note(&format!(
                "first-record: {} consumer errors, first: {}",
                errors.len(),
                errors[0]
            ));
        }
        let t1 = Instant::now();
        c.unsubscribe();
        drop(c);
        if i == 0 {
            rep.ms(
                "first-record",
                "first_record_close_ms",
                t1.elapsed(),
                "unsubscribe + close (leave group)",
            );
        }
    }
    Ok(())
}
