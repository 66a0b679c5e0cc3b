//! Consumer groups: consume and commit, rebalances (both under the classic protocol, librdkafka's
//! default, and KIP-848's), resuming after a broker restart, and group administration.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::ensure;
use crate::util::*;

/// A consumer subscribed to `topic` in `group` (classic protocol).
fn member(ctx: &Ctx, group: &str, topic: &str) -> Result<BaseConsumer, String> {
    member_of(ctx, group, topic, Protocol::Classic)
}

/// The group protocols librdkafka 2.12 speaks: the classic one (JoinGroup/SyncGroup, its
/// default) and KIP-848's (`group.protocol=consumer`, ConsumerGroupHeartbeat).
#[derive(Clone, Copy, Debug)]
enum Protocol {
    Classic,
    Consumer,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Classic => "classic",
            Protocol::Consumer => "consumer",
        }
    }
}

fn member_of(
    ctx: &Ctx,
    group: &str,
    topic: &str,
    protocol: Protocol,
) -> Result<BaseConsumer, String> {
    let mut cfg = ctx.config();
    cfg.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("group.protocol", protocol.name());
    if let Protocol::Classic = protocol {
        // Under KIP-848 these are the broker's to set; librdkafka refuses them.
        cfg.set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500");
    }
    let c: BaseConsumer = cfg.create().or_fail("create group consumer")?;
    c.subscribe(&[topic]).or_fail("subscribe")?;
    Ok(c)
}

fn committed<C: ConsumerContext>(
    c: &BaseConsumer<C>,
    topic: &str,
    partitions: i32,
) -> Result<Vec<Offset>, String> {
    Ok(committed_with_metadata(c, topic, partitions)?
        .into_iter()
        .map(|(o, _)| o)
        .collect())
}

/// The group's committed offsets of `topic` (OffsetFetch), with their metadata strings.
fn committed_with_metadata<C: ConsumerContext>(
    c: &BaseConsumer<C>,
    topic: &str,
    partitions: i32,
) -> Result<Vec<(Offset, String)>, String> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, MD).or_fail("committed offsets")?;
    (0..partitions)
        .map(|p| {
            got.find_partition(topic, p)
                .map(|e| (e.offset(), e.metadata().to_string()))
                .or_fail("partition in committed answer")
        })
        .collect()
}

pub async fn group_consume_commit(ctx: Arc<Ctx>) -> R {
    let mut details = Vec::new();
    for protocol in [Protocol::Classic, Protocol::Consumer] {
        let d = consume_commit(&ctx, protocol)
            .await
            .map_err(|e| format!("group.protocol={}: {e}", protocol.name()))?;
        details.push(format!("{}: {d}", protocol.name()));
    }
    pass(details.join("; "))
}

async fn consume_commit(ctx: &Ctx, protocol: Protocol) -> Result<String, String> {
    let topic = ctx.name(&format!("gcc-{}", protocol.name()));
    let group = ctx.name(&format!("gcc-group-{}", protocol.name()));
    ctx.create_topic(&topic, 3, &[]).await?;
    let producer = ctx.producer(&[])?;
    let first: Vec<Out> = (0..300)
        .map(|i| Out::kv(format!("key-{}", i % 17), format!("first {i}")))
        .collect();
    let acks = send_ok(&producer, &topic, &first).await?;
    let a = member_of(ctx, &group, &topic, protocol)?;
    let got = poll_n(&a, 300, Duration::from_secs(30), Duration::from_millis(500))?;
    check_same(&first, &acks, &got, None).map_err(|e| format!("first member: {e}"))?;
    a.commit_consumer_state(CommitMode::Sync)
        .or_fail("commit")?;
    let mut high = Vec::new();
    for p in 0..3 {
        high.push(Offset::Offset(
            a.fetch_watermarks(&topic, p, MD).or_fail("watermarks")?.1,
        ));
    }
    let c = committed(&a, &topic, 3)?;
    ensure!(
        c == high,
        "committed {c:?}, expected the high watermarks {high:?}"
    );
    drop(a); // closes: leaves the group
    let second: Vec<Out> = (0..30)
        .map(|i| Out::kv(format!("key-{}", i % 17), format!("second {i}")))
        .collect();
    let acks2 = send_ok(&producer, &topic, &second).await?;
    let b = member_of(ctx, &group, &topic, protocol)?;
    let got2 = poll_n(&b, 30, Duration::from_secs(30), Duration::from_secs(2))?;
    check_same(&second, &acks2, &got2, None).map_err(|e| {
        format!("the new member read something already committed or missed some: {e}")
    })?;
    Ok(format!(
        "member 1 read 300 records and committed {c:?}, member 2 of the group read exactly the 30 newer ones"
    ))
}

/// A group member polling on its own thread until stopped, recording its assignment.
struct Member {
    assignment: Arc<Mutex<BTreeSet<i32>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    fn start(ctx: &Ctx, group: &str, topic: &str, protocol: Protocol) -> Result<Member, String> {
        let c = member_of(ctx, group, topic, protocol)?;
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (assignment.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(90);
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                let _ = c.poll(Duration::from_millis(50));
                if let Ok(tpl) = c.assignment() {
                    *a.lock().unwrap() = tpl.elements().iter().map(|e| e.partition()).collect();
                }
            }
            drop(c);
        });
        Ok(Member {
            assignment,
            stop,
            thread: Some(thread),
        })
    }

    fn assignment(&self) -> BTreeSet<i32> {
        self.assignment.lock().unwrap().clone()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The members' assignments once every partition of `count` is owned by exactly one member
/// with `sizes` partitions each (in any order).
async fn converge(
    what: &str,
    members: &[&Member],
    count: i32,
    sizes: &[usize],
    limit: Duration,
) -> Result<Vec<BTreeSet<i32>>, String> {
    let mut want = sizes.to_vec();
    want.sort_unstable();
    let mut last = vec![];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let a: Vec<BTreeSet<i32>> = members.iter().map(|m| m.assignment()).collect();
        let mut all: Vec<i32> = a.iter().flatten().copied().collect();
        all.sort_unstable();
        let mut got: Vec<usize> = a.iter().map(|s| s.len()).collect();
        got.sort_unstable();
        if all == (0..count).collect::<Vec<_>>() && got == want {
            return Ok(a);
        }
        last = a;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "{what}: assignments never became {sizes:?}: last {last:?}"
    ))
}

pub async fn group_rebalance(ctx: Arc<Ctx>) -> R {
    let mut details = Vec::new();
    for protocol in [Protocol::Classic, Protocol::Consumer] {
        let d = rebalance(&ctx, protocol)
            .await
            .map_err(|e| format!("group.protocol={}: {e}", protocol.name()))?;
        details.push(format!("{}: {d}", protocol.name()));
    }
    pass(details.join("; "))
}

async fn rebalance(ctx: &Ctx, protocol: Protocol) -> Result<String, String> {
    let topic = ctx.name(&format!("rebalance-{}", protocol.name()));
    let group = ctx.name(&format!("rebalance-group-{}", protocol.name()));
    ctx.create_topic(&topic, 6, &[]).await?;
    let started = Instant::now();
    let a = Member::start(ctx, &group, &topic, protocol)?;
    let b = Member::start(ctx, &group, &topic, protocol)?;
    let c = Member::start(ctx, &group, &topic, protocol)?;
    let three = converge(
        "three members",
        &[&a, &b, &c],
        6,
        &[2, 2, 2],
        Duration::from_secs(20),
    )
    .await?;
    let t3 = started.elapsed();
    if let Protocol::Classic = protocol {
        let admin = ctx.consumer(&[])?;
        let described = admin
            .fetch_group_list(Some(&group), MD)
            .or_fail("describe group")?;
        let g = described.groups().first().or_fail("the group")?;
        ensure!(
            g.members().len() == 3 && g.state() == "Stable",
            "described with {} members in state {}",
            g.members().len(),
            g.state()
        );
    }
    let left = Instant::now();
    drop(c); // closes the consumer: leaves the group
    let two = converge(
        "after one left",
        &[&a, &b],
        6,
        &[3, 3],
        Duration::from_secs(20),
    )
    .await?;
    Ok(format!(
        "2/2/2 {three:?} after {:.1} s, after one left 3/3 {two:?} after {:.1} s",
        t3.as_secs_f64(),
        left.elapsed().as_secs_f64()
    ))
}

fn want_committed() -> Vec<(Offset, String)> {
    (0..2)
        .map(|p| (Offset::Offset(25), format!("half-way p{p}")))
        .collect()
}

pub async fn group_resume_after_restart(ctx: Arc<Ctx>) -> R {
    let mut details = Vec::new();
    for protocol in [Protocol::Classic, Protocol::Consumer] {
        let d = resume_after_restart(&ctx, protocol)
            .await
            .map_err(|e| format!("group.protocol={}: {e}", protocol.name()))?;
        details.push(format!("{}: {d}", protocol.name()));
    }
    pass(details.join("; "))
}

async fn resume_after_restart(ctx: &Ctx, protocol: Protocol) -> Result<String, String> {
    let Some(ctl) = ctx.ctl.clone() else {
        return Err("GREGOR_CTL is not set: cannot restart the broker".into());
    };
    let topic = ctx.name(&format!("resume-{}", protocol.name()));
    let group = ctx.name(&format!("resume-group-{}", protocol.name()));
    ctx.create_topic(&topic, 2, &[]).await?;
    let sent: Vec<Out> = (0..100)
        .map(|i| Out::kv(format!("k{i}"), format!("resume {i}")).to(i % 2))
        .collect();
    let acks = {
        let producer = ctx.producer(&[])?;
        send_ok(&producer, &topic, &sent).await?
    };
    {
        let a = member_of(ctx, &group, &topic, protocol)?;
        let got = poll_n(&a, 100, Duration::from_secs(30), Duration::ZERO)?;
        ensure!(got.len() == 100, "first member read {} of 100", got.len());
        // Commit half: offset 25 of the 50 in each partition, with metadata.
        let mut tpl = TopicPartitionList::new();
        for p in 0..2 {
            tpl.add_partition_offset(&topic, p, Offset::Offset(25))
                .or_fail("tpl")?;
            tpl.find_partition(&topic, p)
                .or_fail("tpl element")?
                .set_metadata(format!("half-way p{p}"));
        }
        a.commit(&tpl, CommitMode::Sync).or_fail("commit 25/25")?;
        let c = committed_with_metadata(&a, &topic, 2)?;
        ensure!(c == want_committed(), "committed before the restart: {c:?}");
    }
    let restarted = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&ctl).arg("restart").output()
    })
    .await
    .or_fail("restart task")?
    .or_fail("run GREGOR_CTL restart")?;
    ensure!(
        out.status.success(),
        "GREGOR_CTL restart failed: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let restart_s = restarted.elapsed().as_secs_f64();
    let b = member_of(ctx, &group, &topic, protocol)?;
    let c = eventually(
        "committed offsets after the restart",
        Duration::from_secs(20),
        || {
            let c = committed_with_metadata(&b, &topic, 2)?;
            ensure!(c == want_committed(), "{c:?}");
            Ok(c)
        },
    )
    .await?;
    let got = poll_n(&b, 50, Duration::from_secs(30), Duration::from_secs(1))?;
    let want: Vec<usize> = (0..100).filter(|i| acks[*i].offset >= 25).collect();
    let want_sent: Vec<Out> = want.iter().map(|i| sent[*i].clone()).collect();
    let want_acks: Vec<Acked> = want.iter().map(|i| acks[*i]).collect();
    check_same(&want_sent, &want_acks, &got, None)
        .map_err(|e| format!("after the restart: {e}"))?;
    let firsts: Vec<(i32, i64)> = by_partition(&got)
        .iter()
        .map(|(p, v)| (*p, v[0].offset))
        .collect();
    ensure!(
        firsts == vec![(0, 25), (1, 25)],
        "resumed at {firsts:?}, expected 25 on both partitions"
    );
    Ok(format!(
        "committed 25/25 of 50/50 with metadata, restart took {restart_s:.1} s, committed offsets and metadata {c:?} read back, the new member resumed at 25 on both partitions and read the 50 remaining records"
    ))
}

pub async fn admin_groups(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("admin-groups");
    let group = ctx.name("admin-group");
    ctx.create_topic(&topic, 2, &[]).await?;
    let producer = ctx.producer(&[])?;
    let sent: Vec<Out> = (0..10)
        .map(|i| Out::kv("k", format!("v{i}")).to(i % 2))
        .collect();
    send_ok(&producer, &topic, &sent).await?;
    let m = member(&ctx, &group, &topic)?;
    let got = poll_n(&m, 10, Duration::from_secs(30), Duration::ZERO)?;
    ensure!(got.len() == 10, "member read {} of 10", got.len());
    m.commit_consumer_state(CommitMode::Sync)
        .or_fail("commit")?;
    let probe = ctx.consumer(&[])?;
    let described = {
        // List: the group is there, as a consumer group.
        let list = probe.fetch_group_list(None, MD).or_fail("list groups")?;
        let listed = list.groups().iter().find(|g| g.name() == group);
        let listed = listed.or_fail(&format!("group {group} in the listing"))?;
        ensure!(
            listed.protocol_type() == "consumer",
            "listed with protocol type {:?}",
            listed.protocol_type()
        );
        // Describe: state, protocol, the one member with its client id and assignment.
        let d = probe
            .fetch_group_list(Some(&group), MD)
            .or_fail("describe group")?;
        let g = d.groups().first().or_fail("described group")?;
        ensure!(
            g.state() == "Stable",
            "state {:?}, expected Stable",
            g.state()
        );
        ensure!(
            g.protocol_type() == "consumer"
                && (g.protocol() == "range" || g.protocol() == "roundrobin"),
            "protocol type {:?} protocol {:?}",
            g.protocol_type(),
            g.protocol()
        );
        ensure!(g.members().len() == 1, "{} members", g.members().len());
        let mi = &g.members()[0];
        ensure!(
            mi.client_id() == "gregor-compat-rdkafka"
                && !mi.client_host().is_empty()
                && !mi.id().is_empty(),
            "member id {:?} client id {:?} host {:?}",
            mi.id(),
            mi.client_id(),
            mi.client_host()
        );
        let contains = |hay: Option<&[u8]>| {
            hay.is_some_and(|h| h.windows(topic.len()).any(|w| w == topic.as_bytes()))
        };
        ensure!(
            contains(mi.metadata()) && contains(mi.assignment()),
            "member metadata/assignment do not name the topic: {:?} / {:?}",
            mi.metadata().map(|m| m.len()),
            mi.assignment().map(|a| a.len())
        );
        format!(
            "state {}, protocol {}/{}, member {} from {}",
            g.state(),
            g.protocol_type(),
            g.protocol(),
            mi.client_id(),
            mi.client_host()
        )
    };
    // Delete while it has a member: refused.
    let admin = ctx.admin()?;
    let res = admin
        .delete_groups(&[&group], &opts())
        .await
        .or_fail("delete_groups")?;
    match &res[0] {
        Err((_, RDKafkaErrorCode::NonEmptyGroup)) => {}
        other => {
            return Err(format!(
                "deleting a group with a member answered {other:?}, expected NonEmptyGroup"
            ));
        }
    }
    drop(m); // leaves
    let empty = eventually(
        "the group is empty after the member left",
        Duration::from_secs(15),
        || {
            let d = probe
                .fetch_group_list(Some(&group), MD)
                .or_fail("describe")?;
            let g = d.groups().first().or_fail("group")?;
            ensure!(
                g.state() == "Empty" && g.members().is_empty(),
                "state {} with {} members",
                g.state(),
                g.members().len()
            );
            Ok(g.state().to_string())
        },
    )
    .await?;
    let res = admin
        .delete_groups(&[&group], &opts())
        .await
        .or_fail("delete_groups")?;
    res[0].clone().or_fail("delete the empty group")?;
    let still_listed = {
        let list = probe.fetch_group_list(None, MD).or_fail("list groups")?;
        list.groups().iter().any(|g| g.name() == group)
    };
    ensure!(!still_listed, "the deleted group is still listed");
    // Its committed offsets went with it.
    let c = {
        let mut cfg = ctx.config();
        cfg.set("group.id", &group)
            .set("enable.auto.commit", "false");
        let c: BaseConsumer = cfg.create().or_fail("consumer")?;
        committed(&c, &topic, 2)?
    };
    ensure!(
        c == vec![Offset::Invalid; 2],
        "committed offsets after the delete: {c:?}"
    );
    let missing = ctx.name("no-such-group");
    let res = admin
        .delete_groups(&[&missing], &opts())
        .await
        .or_fail("delete_groups")?;
    match &res[0] {
        Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
        other => {
            return Err(format!(
                "deleting a missing group answered {other:?}, expected GroupIdNotFound"
            ));
        }
    }
    pass(format!(
        "listed; described ({described}); delete with a member refused NON_EMPTY_GROUP; after leaving {empty}; deleted, unlisted, offsets gone; missing group GROUP_ID_NOT_FOUND"
    ))
}

pub async fn commit_unknown_topic(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("cut");
    // Never created; nothing here asks metadata for it by name.
    let missing = ctx.name("cut-missing");
    let group = ctx.name("cut-group");
    ctx.create_topic(&topic, 3, &[]).await?;
    let mut cfg = ctx.config();
    cfg.set("group.id", &group)
        .set("enable.auto.commit", "false");
    let c: BaseConsumer = cfg.create().or_fail("create consumer")?;
    let mut tpl = TopicPartitionList::new();
    for (t, p) in [(&topic, 0), (&topic, 7), (&missing, 0)] {
        tpl.add_partition_offset(t, p, Offset::Offset(2))
            .or_fail("tpl")?;
    }
    // rdkafka 0.39 surfaces only the request's error: librdkafka hands per-partition results to
    // an offset_commit_cb, which the crate never sets (it polls events instead), so the
    // ConsumerContext's commit_callback never runs for these commits.
    let sync = c.commit(&tpl, CommitMode::Sync);
    ensure!(
        matches!(
            &sync,
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition)
        ),
        "the commit answered {sync:?}, expected UnknownTopicOrPartition"
    );
    let stored = committed(&c, &topic, 3)?;
    ensure!(
        stored == vec![Offset::Offset(2), Offset::Invalid, Offset::Invalid],
        "committed offsets of {topic} afterwards {stored:?}, expected 2 on partition 0 only"
    );
    let md = c.fetch_metadata(None, MD).or_fail("metadata")?;
    ensure!(
        !md.topics().iter().any(|t| t.name() == missing),
        "the missing topic exists now"
    );
    pass(format!(
        "a commit of {topic}/0, {topic}/7 (of 3) and a missing topic answers UnknownTopicOrPartition, and the broker stored /0 only; per-partition errors are not visible through rdkafka 0.39 (no offset_commit_cb, no AlterConsumerGroupOffsets binding)"
    ))
}

/// The gap between closing one static member and the next (`static_member_expiry`): all three
/// are closed before the first can expire (>= 5 s after its close), so no live member sees a
/// rebalance.
const STATIC_CLOSE_GAP: Duration = Duration::from_millis(1500);
/// `static_member_expiry`'s members' session timeout; a member's last heartbeat is at most
/// heartbeat.interval.ms (1 s) before its close, so Kafka expires it within this after the close.
const STATIC_SESSION: Duration = Duration::from_secs(6);
/// What polling adds to that.
const STATIC_SLACK: Duration = Duration::from_secs(2);

pub async fn static_member_expiry(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("static");
    let group = ctx.name("static-group");
    ctx.create_topic(&topic, 3, &[]).await?;
    let producer = ctx.producer(&[])?;
    let sent: Vec<Out> = (0..30)
        .map(|i| Out::kv("k", format!("s{i}")).to(i % 3))
        .collect();
    send_ok(&producer, &topic, &sent).await?;
    let mut members = Vec::new();
    for i in 0..3 {
        let mut cfg = ctx.config();
        cfg.set("group.id", &group)
            .set("group.instance.id", format!("{group}-m{i}"))
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            // The rebalance timeout: if a member expires while another is still closing, the
            // rebalance that follows (and that close) waits at most this long, not 300 s.
            .set("max.poll.interval.ms", "10000")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        let c: BaseConsumer = cfg.create().or_fail("create static member")?;
        c.subscribe(&[&topic]).or_fail("subscribe")?;
        members.push(c);
    }
    // A set: a rebalance may hand a partition over before its records were committed.
    let mut got = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    while got.len() < 30 && Instant::now() < deadline {
        for m in &members {
            match m.poll(Duration::from_millis(100)) {
                Some(Ok(r)) => {
                    got.insert(rec(&r).value);
                }
                Some(Err(e)) => return Err(format!("consume error: {e}")),
                None => {}
            }
        }
    }
    let want: BTreeSet<Option<Vec<u8>>> = (0..30)
        .map(|i| Some(format!("s{i}").into_bytes()))
        .collect();
    ensure!(
        got == want,
        "the static members read {} of the 30 records",
        got.len()
    );
    let probe = ctx.consumer(&[])?;
    let described = |probe: &BaseConsumer| -> Result<(usize, String), String> {
        let d = probe
            .fetch_group_list(Some(&group), MD)
            .or_fail("describe group")?;
        let g = d.groups().first().or_fail("the group")?;
        Ok((g.members().len(), g.state().to_string()))
    };
    // One member may have read everything before the others joined: keep polling until the
    // group is Stable with all three.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (n, state) = described(&probe)?;
        if n == 3 && state == "Stable" {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "before closing: {n} members in state {state}"
        );
        for m in &members {
            let _ = m.poll(Duration::from_millis(200));
        }
    }
    // One at a time, STATIC_CLOSE_GAP apart, so that the first expiry (a rebalance) comes while
    // the others are gone but not yet expired: Kafka expires those at their session timeout too.
    // Dropping closes a member; librdkafka sends no LeaveGroup for static members.
    let mut closes = Vec::new();
    for (i, m) in members.into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(STATIC_CLOSE_GAP).await;
        }
        tokio::task::spawn_blocking(move || drop(m))
            .await
            .or_fail("close a member")?;
        closes.push(Instant::now());
    }
    let first = closes[0];
    let since_first = |t: Instant| (t - first).as_secs_f64();
    let close_times: Vec<String> = closes
        .iter()
        .map(|c| format!("{:.1}", since_first(*c)))
        .collect();
    let admin = ctx.admin()?;
    // (s after the first close, members described) at each change.
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut last = None;
    while closes[2].elapsed() < Duration::from_secs(20) {
        let (n, _) = described(&probe)?;
        let now = Instant::now();
        if seen.last().is_none_or(|(_, m)| *m != n) {
            seen.push((format!("{:.1}", since_first(now)), n));
        }
        // Kafka expires each member at most its session timeout after its close.
        let alive = closes
            .iter()
            .filter(|c| now < **c + STATIC_SESSION + STATIC_SLACK)
            .count();
        ensure!(
            n <= alive,
            "{n} members described {:.1} s after the first close (closes at {close_times:?} s): a static member outlived its 6 s session timeout (members over time: {seen:?})",
            since_first(now)
        );
        let res = admin
            .delete_groups(&[&group], &opts())
            .await
            .or_fail("delete_groups")?;
        match res.into_iter().next() {
            Some(Ok(_)) => {
                let took = closes[2].elapsed().as_secs_f64();
                ensure!(
                    took >= 4.0,
                    "deleted {took:.1} s after the last close, before the 6 s session timeout could expire it"
                );
                return pass(format!(
                    "3 static members read 30 records and closed {:.1} s apart (no LeaveGroup); each expired within its session timeout; DeleteGroups succeeded {took:.1} s after the last close (members over time, s after the first close: {seen:?})",
                    STATIC_CLOSE_GAP.as_secs_f64()
                ));
            }
            Some(Err((_, RDKafkaErrorCode::NonEmptyGroup))) => {
                last = Some(RDKafkaErrorCode::NonEmptyGroup)
            }
            other => return Err(format!("DeleteGroups answered {other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!(
        "DeleteGroups still answered {last:?} 20 s after the last static member closed (members over time, s after the first close: {seen:?})"
    ))
}
