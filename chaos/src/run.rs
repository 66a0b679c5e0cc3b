//! One schedule against one fresh in-process cluster: start it, run the workload while the
//! faults happen, heal everything, let it settle, read it all back and hand it to the checker.
//!
//! Contract: every wait is bounded (`Limits`), and a run that cannot settle within them is a
//! failed run (an availability bug is a bug), never a hang. The cluster lives in a temporary
//! directory removed at the end; nothing listens beyond 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use gregor::clock::SteppedClock;
use gregor::embedded::{EmbeddedCluster, FAST_FAILOVER_PROPERTIES};
use gregor::model::Offset;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{TopicPartitionList, util::Timeout};

use crate::checker::{self, Ack, PartitionRead, Promise, StreamVerdict};
use crate::schedule::{Fault, FaultKind, Schedule, Target};

/// acks=all on two of three replicas, over `FAST_FAILOVER_PROPERTIES`.
const MIN_INSYNC_REPLICAS: (&str, &str) = ("min.insync.replicas", "2");

/// The producing streams: topic (also the payload's stream name), promise, producer settings.
const STREAMS: &[(&str, Promise, &str, bool)] = &[
    ("idem", Promise::ExactlyOnceInOrder, "all", true),
    ("all", Promise::NoLoss, "all", false),
    ("one", Promise::None, "1", false),
];
/// The topic the consumer group reads (and whose leaders `Target::LeaderOf` names).
const CONSUMED: &str = "idem";
const GROUP: &str = "chaos";

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub nodes: usize,
    pub partitions: i32,
    pub workload_ms: u64,
    /// Sends in flight per producer.
    pub in_flight_max: usize,
    /// librdkafka's `message.timeout.ms`: a send not acknowledged by then is reported failed
    /// (indeterminate: it may still be in the log).
    pub message_timeout_ms: u64,
    /// How long the healed cluster may take to be whole again (full ISRs, equal log ends).
    pub settle_ms: u64,
}

/// What one schedule did and what the checker found.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    /// (ms since the workload started, what happened).
    pub timeline: Vec<(u64, String)>,
    /// The faults that happened (those whose target was down or unknown did not).
    pub applied: Vec<FaultKind>,
    /// Per stream: its topic, promise, verdict and the sends that failed (indeterminate).
    pub streams: Vec<(&'static str, Promise, StreamVerdict, u64)>,
    pub consumed: usize,
    pub vanished: Vec<(i32, i64, u64)>,
    pub commit_samples: usize,
    pub commits_backwards: Vec<(i32, i64, i64)>,
    /// ("topic-partition", replica ids) whose bytes differ below the high watermark.
    pub divergent: Vec<(String, Vec<i32>)>,
    /// Set when the cluster did not come back whole, or the run could not be checked.
    pub error: Option<String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.vanished.is_empty()
            && self.commits_backwards.is_empty()
            && self.divergent.is_empty()
            && self.streams.iter().all(|(_, p, v, _)| v.holds(*p))
    }
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "3");
    c
}

pub async fn run(schedule: &Schedule, limits: Limits) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        seed: schedule.seed,
        timeline: Vec::new(),
        applied: Vec::new(),
        streams: Vec::new(),
        consumed: 0,
        vanished: Vec::new(),
        commit_samples: 0,
        commits_backwards: Vec::new(),
        divergent: Vec::new(),
        error: None,
        elapsed: Duration::ZERO,
    };
    if let Err(e) = run_into(schedule, limits, &mut outcome).await {
        outcome.error = Some(format!("{e:#}"));
    }
    outcome.elapsed = started.elapsed();
    outcome
}

async fn run_into(schedule: &Schedule, limits: Limits, out: &mut Outcome) -> Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let clock = Arc::new(SteppedClock::new());
    let ready = Duration::from_millis(limits.settle_ms);
    let mut properties = FAST_FAILOVER_PROPERTIES.to_vec();
    properties.push(MIN_INSYNC_REPLICAS);
    let mut cluster = EmbeddedCluster::start_with_clock(
        limits.nodes,
        dir.path(),
        &properties,
        ready,
        clock.clone(),
    )
    .await
    .map_err(|e| anyhow!("cluster start: {e}"))?;
    let result = exercise(schedule, limits, &mut cluster, &clock, out).await;
    cluster.shutdown().await;
    result
}

async fn exercise(
    schedule: &Schedule,
    limits: Limits,
    cluster: &mut EmbeddedCluster,
    clock: &SteppedClock,
    out: &mut Outcome,
) -> Result<()> {
    let bootstrap = cluster.bootstrap();
    let admin: AdminClient<DefaultClientContext> = client(&bootstrap).create()?;
    let topics: Vec<NewTopic> = STREAMS
        .iter()
        .map(|s| NewTopic::new(s.0, limits.partitions, TopicReplication::Fixed(3)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    for r in admin.create_topics(&topics, &options).await? {
        r.map_err(|(t, e)| anyhow!("create {t}: {e}"))?;
    }
    settle(cluster, limits)
        .await
        .context("before the workload")?;

    let lateness = Lateness::start();
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = STREAMS
        .iter()
        .map(|&(topic, _, acks, idempotent)| {
            let config = producer_config(&bootstrap, acks, idempotent, limits);
            tokio::spawn(produce(config, topic, limits, stop.clone()))
        })
        .collect();
    let consumer_stop = Arc::new(AtomicBool::new(false));
    // A run that fails part-way (it did not settle, say) still stops its clients: the commit
    // sampler is blocking work, which the runtime waits for when the program exits.
    let _stop_on_exit = StopOnDrop([stop.clone(), consumer_stop.clone()]);
    let consumer = tokio::spawn(consume(bootstrap.clone(), consumer_stop.clone()));
    let sampler = {
        let (bootstrap, stop) = (bootstrap.clone(), consumer_stop.clone());
        let partitions = limits.partitions;
        tokio::task::spawn_blocking(move || sample_commits(&bootstrap, partitions, &stop))
    };

    let t0 = Instant::now();
    out.applied = apply_faults(schedule, cluster, clock, t0, &mut out.timeline).await;
    let left = Duration::from_millis(limits.workload_ms).saturating_sub(t0.elapsed());
    tokio::time::sleep(left).await;
    stop.store(true, Ordering::SeqCst);
    out.timeline
        .push((ms_since(t0), "workload stopped; healing".into()));
    heal_all(cluster, limits.nodes).await?;

    let mut histories = Vec::new();
    for p in producers {
        histories.push(p.await.context("producer task")??);
    }
    settle(cluster, limits).await.context("after the faults")?;
    out.timeline.push((ms_since(t0), "settled".into()));

    let reads = read_back(&bootstrap, limits).await?;
    out.timeline.push((ms_since(t0), "read back".into()));
    for (&(topic, promise, _, _), (acked, failed)) in STREAMS.iter().zip(&histories) {
        let logs = reads.get(topic).map(Vec::as_slice).unwrap_or_default();
        let verdict = checker::check_stream(promise, acked, logs);
        out.streams.push((topic, promise, verdict, *failed));
    }
    // The consumer has had the settled cluster for as long as the read-back took; stop it.
    consumer_stop.store(true, Ordering::SeqCst);
    let seen = consumer.await.context("consumer task")??;
    out.timeline.push((ms_since(t0), "consumer closed".into()));
    out.consumed = seen.len();
    let consumed_logs = reads.get(CONSUMED).map(Vec::as_slice).unwrap_or_default();
    out.vanished = checker::vanished(&seen, consumed_logs);
    let samples = sampler.await.context("commit sampler")?;
    out.commit_samples = samples.len();
    out.commits_backwards = checker::commits_backwards(&samples);
    // Blocking file reads, on the thread that drives this run (`block_on`), not a worker.
    let copies = replica_bytes(cluster, limits)?;
    out.divergent = checker::divergent_replicas(&copies);
    out.timeline
        .push((ms_since(t0), "replicas compared".into()));
    let late = lateness.finish().await;
    out.timeline.push((
        ms_since(t0),
        format!("runtime: longest scheduling delay {late} ms"),
    ));
    Ok(())
}

/// Raises its flags when dropped.
struct StopOnDrop([Arc<AtomicBool>; 2]);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        for flag in &self.0 {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

/// How late a 50 ms ticker on the shared runtime gets: a delay near the session timeouts means
/// the harness (not the cluster) starved the nodes' tasks.
struct Lateness {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl Lateness {
    fn start() -> Lateness {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let (tick, mut worst) = (Duration::from_millis(50), Duration::ZERO);
                while !stop.load(Ordering::SeqCst) {
                    let asked = Instant::now();
                    tokio::time::sleep(tick).await;
                    worst = worst.max(asked.elapsed().saturating_sub(tick));
                }
                worst.as_millis() as u64
            }
        });
        Lateness { stop, task }
    }

    async fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        (&mut self.task).await.unwrap_or_default()
    }
}

impl Drop for Lateness {
    /// A run that ended early (an error) stops its ticker too.
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ms_since(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

fn producer_config(bootstrap: &str, acks: &str, idempotent: bool, limits: Limits) -> ClientConfig {
    let mut c = client(bootstrap);
    c.set("acks", acks)
        .set(
            "enable.idempotence",
            if idempotent { "true" } else { "false" },
        )
        .set("message.timeout.ms", limits.message_timeout_ms.to_string())
        .set("linger.ms", "2");
    c
}

/// Sends `topic:<seq>` round-robin over the partitions, `in_flight_max` at a time, until `stop`;
/// returns the acknowledged sends and the count of failed ones.
async fn produce(
    config: ClientConfig,
    topic: &'static str,
    limits: Limits,
    stop: Arc<AtomicBool>,
) -> Result<(Vec<Ack>, u64)> {
    let producer: FutureProducer = config.create()?;
    let mut in_flight = FuturesUnordered::new();
    let (mut acked, mut failed, mut seq) = (Vec::new(), 0u64, 0u64);
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping && in_flight.len() < limits.in_flight_max {
            let partition = (seq % limits.partitions as u64) as i32;
            let payload = checker::payload(topic, seq);
            let producer = &producer;
            in_flight.push(async move {
                let record = FutureRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload(&payload);
                let sent = producer.send(record, Timeout::Never).await;
                (seq, partition, sent.map(|d| d.offset).map_err(|(e, _)| e))
            });
            seq += 1;
            continue;
        }
        match in_flight.next().await {
            Some((seq, partition, Ok(offset))) => acked.push(Ack {
                seq,
                partition,
                offset,
            }),
            Some((_, _, Err(_))) => failed += 1,
            None if stopping => break,
            None => {}
        }
    }
    // Destroying a client joins its threads: not on a worker the nodes' tasks need.
    drop(in_flight);
    tokio::task::block_in_place(|| drop(producer));
    Ok((acked, failed))
}

/// A group member reading the consumed topic, committing every 100 records, until `stop`:
/// every record handed to it, `(partition, offset, seq)`.
async fn consume(bootstrap: String, stop: Arc<AtomicBool>) -> Result<Vec<(i32, i64, u64)>> {
    let consumer: StreamConsumer = client(&bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()?;
    consumer.subscribe(&[CONSUMED])?;
    let mut seen = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let Ok(next) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await
        else {
            continue;
        };
        // Errors (a coordinator moving, a leader gone) are the faults at work: carry on.
        let Ok(m) = next else { continue };
        if let Some(seq) = m.payload().and_then(|p| checker::sequence_of(CONSUMED, p)) {
            seen.push((m.partition(), m.offset(), seq));
        }
        if seen.len() % 100 == 0 {
            let _ = consumer.commit_consumer_state(CommitMode::Async);
        }
    }
    // Closing leaves the group and waits for the coordinator's answer, blocking the thread:
    // not on a worker the nodes' tasks need.
    tokio::task::block_in_place(|| drop(consumer));
    Ok(seen)
}

/// Reads the group's committed offsets every 200 ms until `stop` (a reader outside the group,
/// as an admin tool would): `(partition, offset)` in the order seen.
fn sample_commits(bootstrap: &str, partitions: i32, stop: &AtomicBool) -> Vec<(i32, i64)> {
    let Ok(reader) = client(bootstrap)
        .set("group.id", GROUP)
        .create::<BaseConsumer>()
    else {
        return Vec::new();
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(CONSUMED, p);
    }
    let mut samples = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if let Ok(committed) = reader.committed_offsets(tpl.clone(), Duration::from_secs(2)) {
            for e in committed.elements() {
                if let rdkafka::Offset::Offset(o) = e.offset() {
                    samples.push((e.partition(), o));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    samples
}

/// Runs the schedule's faults at their times: each starts (target resolved now) and ends (node
/// restarted or healed) on time, overlapping as they were drawn.
async fn apply_faults(
    schedule: &Schedule,
    cluster: &mut EmbeddedCluster,
    clock: &SteppedClock,
    t0: Instant,
    timeline: &mut Vec<(u64, String)>,
) -> Vec<FaultKind> {
    // (at ms, fault index, starts?) in time order; an end sorts before a start at the same ms.
    let mut events: Vec<(u64, usize, bool)> = Vec::new();
    for (i, f) in schedule.faults.iter().enumerate() {
        events.push((f.at_ms, i, true));
        if !matches!(f.kind, FaultKind::ClockJump { .. }) {
            events.push((f.at_ms + f.for_ms, i, false));
        }
    }
    events.sort_by_key(|e| (e.0, e.2));
    // The node each started fault hit (None: skipped, its target was down or unknown).
    let mut hit: Vec<Option<i32>> = vec![None; schedule.faults.len()];
    let mut stopping = Stopping::default();
    let mut applied = Vec::new();
    // Link faults in force, by fault index: a node's links are cut while any of its own is
    // (overlapping faults on one node end one at a time), also while it is down or stopping.
    let mut cuts: BTreeMap<usize, (i32, FaultKind)> = BTreeMap::new();
    for (at, i, starts) in events {
        tokio::time::sleep(Duration::from_millis(at).saturating_sub(t0.elapsed())).await;
        let fault = schedule.faults[i];
        let now = ms_since(t0);
        if starts {
            let note = start_fault(&fault, cluster, clock, &mut hit[i], &mut stopping).await;
            if let (Some(id), true) = (hit[i], cuts_links(fault.kind)) {
                cuts.insert(i, (id, fault.kind));
                set_links(cluster, &cuts, id);
            }
            if hit[i].is_some() || matches!(fault.kind, FaultKind::ClockJump { .. }) {
                applied.push(fault.kind);
            }
            timeline.push((now, format!("{fault}: {note}")));
        } else if let Some(id) = hit[i] {
            let note = if cuts_links(fault.kind) {
                cuts.remove(&i);
                set_links(cluster, &cuts, id)
            } else {
                // Its ports and data are the stopping node's until its stop returns. Its links
                // come back as they were (the cluster keeps them across restarts).
                let mut note = match stopping.finish(id).await {
                    Some(took) => format!("node {id}'s stop took {} ms; ", took.as_millis()),
                    None => String::new(),
                };
                note.push_str(&restart(id, cluster).await);
                note
            };
            timeline.push((ms_since(t0), note));
        }
    }
    for (id, took) in stopping.finish_all().await {
        timeline.push((
            ms_since(t0),
            format!("node {id}'s stop took {} ms", took.as_millis()),
        ));
    }
    applied
}

/// Controlled stops running beside the schedule (they take as long as moving leaderships
/// does, and the other faults keep their times meanwhile).
#[derive(Default)]
struct Stopping(Vec<(i32, tokio::task::JoinHandle<Duration>)>);

impl Stopping {
    fn start(&mut self, id: i32, node: gregor::server::BrokerHandle) {
        self.0.push((
            id,
            tokio::spawn(async move {
                let started = Instant::now();
                node.shutdown().await;
                started.elapsed()
            }),
        ));
    }

    /// Waits for node `id`'s stop, if one runs: how long it took.
    async fn finish(&mut self, id: i32) -> Option<Duration> {
        let i = self.0.iter().position(|s| s.0 == id)?;
        let (_, task) = self.0.remove(i);
        Some(task.await.unwrap_or_default())
    }

    async fn finish_all(&mut self) -> Vec<(i32, Duration)> {
        let mut out = Vec::new();
        for (id, task) in self.0.drain(..) {
            out.push((id, task.await.unwrap_or_default()));
        }
        out
    }
}

fn resolve(target: Target, cluster: &EmbeddedCluster) -> Option<i32> {
    let id = match target {
        Target::Node(id) => id,
        Target::ActiveController => cluster.active_controller()?,
        Target::LeaderOf(p) => cluster.running().iter().find_map(|id| {
            let img = cluster.broker(*id)?.image();
            let t = img.topic(CONSUMED)?;
            let leader = img.partition(t.topic_id(), p)?.leader;
            (leader >= 0).then_some(leader)
        })?,
    };
    cluster.running().contains(&id).then_some(id)
}

async fn start_fault(
    fault: &Fault,
    cluster: &mut EmbeddedCluster,
    clock: &SteppedClock,
    hit: &mut Option<i32>,
    stopping: &mut Stopping,
) -> String {
    if let FaultKind::ClockJump { jump_ms } = fault.kind {
        clock.step_wall_ms(jump_ms);
        return "stepped".into();
    }
    let Some(id) = resolve(fault.target, cluster) else {
        return "skipped (target down or unknown)".into();
    };
    *hit = Some(id);
    let started = Instant::now();
    match fault.kind {
        FaultKind::Kill => cluster.kill(id).await,
        FaultKind::Stop => {
            if let Some(node) = cluster.detach(id) {
                stopping.start(id, node);
            }
        }
        // Link faults: the caller sets the links from every fault in force.
        FaultKind::Isolate | FaultKind::CutOutbound | FaultKind::CutInbound => {}
        FaultKind::ClockJump { .. } => {}
    }
    match fault.kind {
        FaultKind::Stop => format!("node {id} (stopping)"),
        _ => format!("node {id} (took {} ms)", started.elapsed().as_millis()),
    }
}

async fn restart(id: i32, cluster: &mut EmbeddedCluster) -> String {
    match cluster.restart(id).await {
        Ok(()) => format!("node {id} restarted"),
        Err(e) => format!("node {id} restart failed: {e}"),
    }
}

/// Whether the fault cuts links (and its end restores them).
fn cuts_links(kind: FaultKind) -> bool {
    kind.cuts() != (false, false)
}

/// Sets node `id`'s links from the link faults in force on it: what they are now.
fn set_links(
    cluster: &EmbeddedCluster,
    cuts: &BTreeMap<usize, (i32, FaultKind)>,
    id: i32,
) -> String {
    let (mut outbound, mut inbound) = (false, false);
    for (node, kind) in cuts.values() {
        if *node == id {
            let (o, i) = kind.cuts();
            outbound |= o;
            inbound |= i;
        }
    }
    cluster.set_links(id, outbound, inbound);
    match (outbound, inbound) {
        (false, false) => format!("node {id} healed"),
        (true, true) => format!("node {id} still isolated"),
        (true, false) => format!("node {id}: outbound links still cut"),
        (false, true) => format!("node {id}: inbound links still cut"),
    }
}

/// Every node running and connected again.
async fn heal_all(cluster: &mut EmbeddedCluster, nodes: usize) -> Result<()> {
    for id in 1..=nodes as i32 {
        if cluster.running().contains(&id) {
            cluster.heal(id);
        } else {
            cluster
                .restart(id)
                .await
                .map_err(|e| anyhow!("restart node {id}: {e}"))?;
        }
    }
    Ok(())
}

/// Waits until every node is registered, and every partition of every stream's topic has a
/// leader, all three replicas in its ISR and every replica's log end at the leader's high
/// watermark (so nothing is in flight between replicas).
async fn settle(cluster: &EmbeddedCluster, limits: Limits) -> Result<()> {
    let deadline = Instant::now() + Duration::from_millis(limits.settle_ms);
    cluster
        .wait_ready(Duration::from_millis(limits.settle_ms))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    loop {
        let whole = STREAMS.iter().all(|s| {
            (0..limits.partitions).all(|p| partition_whole(cluster, s.0, p).unwrap_or(false))
        });
        if whole {
            return Ok(());
        }
        if Instant::now() > deadline {
            let state: Vec<String> = STREAMS
                .iter()
                .flat_map(|s| (0..limits.partitions).map(move |p| (s.0, p)))
                .map(|(t, p)| format!("{t}-{p}: {}", describe_partition(cluster, t, p)))
                .collect();
            bail!(
                "not whole within {} ms: {}",
                limits.settle_ms,
                state.join("; ")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn partition_whole(cluster: &EmbeddedCluster, topic: &str, p: i32) -> Option<bool> {
    let running = cluster.running();
    let any = cluster.broker(*running.first()?)?;
    let img = any.image();
    let state = img.partition(img.topic(topic)?.topic_id(), p)?;
    let leader = cluster.broker(state.leader)?.partition(topic, p).ok()?;
    let hw = leader.high_watermark().0;
    let ends_equal = state.replicas.iter().all(|id| {
        cluster
            .broker(*id)
            .and_then(|b| b.partition(topic, p).ok())
            .is_some_and(|r| r.log().log_end_offset().0 == hw)
    });
    Some(leader.is_leader() && state.isr.len() == state.replicas.len() && ends_equal)
}

fn describe_partition(cluster: &EmbeddedCluster, topic: &str, p: i32) -> String {
    let Some(b) = cluster.running().first().and_then(|id| cluster.broker(*id)) else {
        return "no node running".into();
    };
    let img = b.image();
    let Some(state) = img
        .topic(topic)
        .and_then(|t| img.partition(t.topic_id(), p))
    else {
        return "unknown".into();
    };
    let ends: Vec<String> = state
        .replicas
        .iter()
        .map(|id| {
            let end = cluster
                .broker(*id)
                .and_then(|b| b.partition(topic, p).ok())
                .map(|r| format!("{}/{}", r.high_watermark().0, r.log().log_end_offset().0));
            format!("{id}:{}", end.unwrap_or_else(|| "-".into()))
        })
        .collect();
    format!(
        "leader {} isr {:?} hw/end {}",
        state.leader,
        state.isr,
        ends.join(" ")
    )
}

/// Reads every partition of every stream's topic from its start to its high watermark through
/// a client, as a consumer would.
async fn read_back(
    bootstrap: &str,
    limits: Limits,
) -> Result<BTreeMap<&'static str, Vec<PartitionRead>>> {
    let bootstrap = bootstrap.to_string();
    let settle_ms = limits.settle_ms;
    let partitions = limits.partitions;
    tokio::task::spawn_blocking(move || {
        let mut out = BTreeMap::new();
        for &(topic, ..) in STREAMS {
            out.insert(topic, read_topic(&bootstrap, topic, partitions, settle_ms)?);
        }
        Ok(out)
    })
    .await?
}

fn read_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    wait_ms: u64,
) -> Result<Vec<PartitionRead>> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "chaos-check")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    let timeout = Duration::from_secs(10);
    let mut reads = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, timeout)?;
        reads.push(PartitionRead {
            partition: p,
            log_start: low,
            high_watermark: high,
            ..Default::default()
        });
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    let mut next: Vec<i64> = reads.iter().map(|r| r.log_start).collect();
    while reads.iter().zip(&next).any(|(r, n)| *n < r.high_watermark) {
        if Instant::now() > deadline {
            bail!("{topic}: read-back incomplete within {wait_ms} ms (at {next:?})");
        }
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m?;
        let (p, o) = (m.partition(), m.offset());
        let Some(read) = reads.get_mut(p as usize) else {
            continue;
        };
        if o >= read.high_watermark {
            continue;
        }
        match m.payload().and_then(|v| checker::sequence_of(topic, v)) {
            Some(seq) => read.records.push((o, seq)),
            None => read.foreign.push(o),
        }
        next[p as usize] = next[p as usize].max(o + 1);
    }
    Ok(reads)
}

/// Each replica's log bytes below its partition leader's high watermark, per partition.
fn replica_bytes(
    cluster: &EmbeddedCluster,
    limits: Limits,
) -> Result<BTreeMap<String, Vec<(i32, Vec<u8>)>>> {
    let mut out = BTreeMap::new();
    for &(topic, ..) in STREAMS {
        for p in 0..limits.partitions {
            let running = cluster.running();
            let img = cluster
                .broker(running[0])
                .ok_or_else(|| anyhow!("no node"))?
                .image();
            let state = img
                .topic(topic)
                .and_then(|t| img.partition(t.topic_id(), p))
                .ok_or_else(|| anyhow!("{topic}-{p} unknown"))?;
            let hw = cluster
                .broker(state.leader)
                .and_then(|b| b.partition(topic, p).ok())
                .ok_or_else(|| anyhow!("{topic}-{p}: leader {} not here", state.leader))?
                .high_watermark();
            let mut copies = Vec::new();
            for id in &state.replicas {
                let replica = cluster
                    .broker(*id)
                    .and_then(|b| b.partition(topic, p).ok())
                    .ok_or_else(|| anyhow!("{topic}-{p}: no replica on node {id}"))?;
                let bytes = log_bytes(replica.log(), hw)
                    .with_context(|| format!("{topic}-{p} on node {id}, below {}", hw.0))?;
                copies.push((*id, bytes));
            }
            out.insert(format!("{topic}-{p}"), copies);
        }
    }
    Ok(out)
}

fn log_bytes(log: &gregor::log::PartitionLog, hw: Offset) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut offset = log.log_start_offset().0;
    while offset < hw.0 {
        let r = log
            .read(Offset(offset), 1 << 20, hw, true)
            .with_context(|| format!("read at offset {offset}"))?;
        let mut last = None;
        for b in gregor::log::BatchIter::new(&r.records) {
            let b = b.with_context(|| {
                format!("reading from offset {offset}, after batch ending {last:?}")
            })?;
            last = Some(b.header.last_offset());
        }
        let Some(last) = last else { break };
        bytes.extend_from_slice(&r.records);
        offset = last + 1;
    }
    Ok(bytes)
}

/// The topic the group consumes (for reports).
pub fn consumed_topic() -> &'static str {
    CONSUMED
}
