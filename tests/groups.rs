//! Consumer groups through real clients: rdkafka members sharing partitions, rebalances on leave
//! and on session expiry, committed offsets across a broker restart, cooperative-sticky, several
//! groups at once, KIP-848 (`group.protocol=consumer`), and group administration.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::raw::RawClient;
use common::*;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

/// Brokers for these tests accept short sessions, so expiry tests stay short.
const GROUP_PROPS: &[(&str, &str)] = &[
    ("group.min.session.timeout.ms", "500"),
    ("group.consumer.min.heartbeat.interval.ms", "300"),
    ("group.consumer.heartbeat.interval.ms", "300"),
    ("group.consumer.min.session.timeout.ms", "1000"),
];

#[derive(Default)]
struct Shared {
    assignment: Mutex<BTreeSet<(String, i32)>>,
    records: Mutex<Vec<(i32, i64, Vec<u8>)>>,
    revoked: Mutex<Vec<(String, i32)>>,
    stop: AtomicBool,
}

struct Recorder(Arc<Shared>);
impl ClientContext for Recorder {}
impl ConsumerContext for Recorder {
    fn pre_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut r = self.0.revoked.lock().unwrap();
            r.extend(
                tpl.elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition())),
            );
        }
    }
}

/// A group member polling on its own thread until stopped; it records its assignment and the
/// records it receives, and commits synchronously when asked to (`commit_every`).
struct Member {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    fn start(broker: &TestBroker, group: &str, topic: &str, extra: &[(&str, &str)]) -> Member {
        Self::start_with(broker, group, topic, extra, true)
    }

    /// KIP-848 members take no session or heartbeat settings: the broker sets them.
    fn start_kip848(
        broker: &TestBroker,
        group: &str,
        topic: &str,
        extra: &[(&str, &str)],
    ) -> Member {
        Self::start_with(broker, group, topic, extra, false)
    }

    fn start_with(
        broker: &TestBroker,
        group: &str,
        topic: &str,
        extra: &[(&str, &str)],
        classic: bool,
    ) -> Member {
        let shared = Arc::new(Shared::default());
        let mut cfg = broker.config();
        cfg.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        if classic {
            cfg.set("session.timeout.ms", "6000")
                .set("heartbeat.interval.ms", "500");
        }
        for (k, v) in extra {
            cfg.set(*k, *v);
        }
        let consumer: BaseConsumer<Recorder> = cfg
            .create_with_context(Recorder(shared.clone()))
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !s.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                    s.records.lock().unwrap().push((
                        m.partition(),
                        m.offset(),
                        m.payload().unwrap_or_default().to_vec(),
                    ));
                }
                if let Ok(a) = consumer.assignment() {
                    *s.assignment.lock().unwrap() = a
                        .elements()
                        .iter()
                        .map(|e| (e.topic().to_string(), e.partition()))
                        .collect();
                }
            }
            if !s.records.lock().unwrap().is_empty() {
                let _ = consumer.commit_consumer_state(CommitMode::Sync);
            }
            drop(consumer); // closes: commits nothing more, leaves the group
        });
        Member {
            shared,
            thread: Some(thread),
        }
    }

    fn assignment(&self) -> BTreeSet<(String, i32)> {
        self.shared.assignment.lock().unwrap().clone()
    }

    fn stop(mut self) -> Arc<Shared> {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.shared.clone()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits until `check` holds over the members' assignments, or fails after `limit`.
async fn until(
    what: &str,
    limit: Duration,
    members: &[&Member],
    check: impl Fn(&[BTreeSet<(String, i32)>]) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let a: Vec<_> = members.iter().map(|m| m.assignment()).collect();
        if check(&a) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: assignments never converged: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every partition of a `count`-partition topic is owned by exactly one member, `per` each.
fn balanced(a: &[BTreeSet<(String, i32)>], count: usize, per: &[usize]) -> bool {
    let mut all: Vec<i32> = a.iter().flat_map(|s| s.iter().map(|(_, p)| *p)).collect();
    let mut sizes: Vec<usize> = a.iter().map(|s| s.len()).collect();
    sizes.sort_unstable();
    let mut want = per.to_vec();
    want.sort_unstable();
    all.sort_unstable();
    all == (0..count as i32).collect::<Vec<_>>() && sizes == want
}

async fn produce_values(broker: &TestBroker, topic: &str, partitions: i32, n: usize) {
    let producer = broker.producer(&[("linger.ms", "5")]);
    for i in 0..n {
        send(
            &producer,
            topic,
            Some((i % partitions as usize) as i32),
            b"k",
            format!("v{i}").as_bytes(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_six_partitions_and_rebalance_when_one_leaves() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("six", 6, &[]).await;
    let start = Instant::now();
    let a = Member::start(&broker, "g1", "six", &[]);
    let b = Member::start(&broker, "g1", "six", &[]);
    let c = Member::start(&broker, "g1", "six", &[]);
    until(
        "three members",
        Duration::from_secs(20),
        &[&a, &b, &c],
        |x| balanced(x, 6, &[2, 2, 2]),
    )
    .await;
    eprintln!("three members settled 2/2/2 in {:?}", start.elapsed());
    c.stop();
    until("after a leave", Duration::from_secs(20), &[&a, &b], |x| {
        balanced(x, 6, &[3, 3])
    })
    .await;
    broker.shutdown().await;
}

/// A member that stops heartbeating (a raw client that joined and went silent) loses its
/// partitions after its session timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_member_is_expired_after_its_session_timeout() {
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::{
        ConsumerProtocolAssignment, ConsumerProtocolSubscription, JoinGroupRequest,
        SyncGroupRequest,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("silent", 4, &[]).await;
    let a = Member::start(
        &broker,
        "g2",
        "silent",
        &[("partition.assignment.strategy", "range")],
    );
    let b = Member::start(
        &broker,
        "g2",
        "silent",
        &[("partition.assignment.strategy", "range")],
    );
    until("two members", Duration::from_secs(20), &[&a, &b], |x| {
        balanced(x, 4, &[2, 2])
    })
    .await;

    let mut sub = ConsumerProtocolSubscription::default();
    sub.topics = vec![StrBytes::from_static_str("silent")];
    let mut metadata = bytes::BytesMut::new();
    bytes::BufMut::put_i16(&mut metadata, 0);
    sub.encode(&mut metadata, 0).unwrap();
    let mut join = JoinGroupRequest::default();
    join.group_id = kafka_protocol::messages::GroupId(StrBytes::from_static_str("g2"));
    join.session_timeout_ms = 1500;
    join.rebalance_timeout_ms = 10_000;
    join.protocol_type = StrBytes::from_static_str("consumer");
    let mut proto = JoinGroupRequestProtocol::default();
    proto.name = StrBytes::from_static_str("range");
    proto.metadata = metadata.freeze();
    join.protocols = vec![proto];
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let first = raw.call(&join, 5).await;
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED first");
    join.member_id = first.member_id.clone();
    let joined = raw.call(&join, 5).await;
    assert_eq!(joined.error_code, 0);
    assert!(joined.members.is_empty(), "an rdkafka member stays leader");
    let mut sync = SyncGroupRequest::default();
    sync.group_id = join.group_id.clone();
    sync.generation_id = joined.generation_id;
    sync.member_id = join.member_id.clone();
    let synced = raw.call(&sync, 3).await;
    assert_eq!(synced.error_code, 0);
    let mut asg = synced.assignment.clone();
    let _version = bytes::Buf::get_i16(&mut asg);
    let assignment = ConsumerProtocolAssignment::decode(&mut asg, 0).unwrap();
    let mine: usize = assignment
        .assigned_partitions
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert!(mine >= 1, "the raw member got partitions");
    until("three members", Duration::from_secs(20), &[&a, &b], |x| {
        x.iter().map(|s| s.len()).sum::<usize>() == 4 - mine
    })
    .await;
    // Silence: no heartbeat. After 1.5 s the broker expires the member and rebalances.
    let silent_since = Instant::now();
    until("after expiry", Duration::from_secs(20), &[&a, &b], |x| {
        balanced(x, 4, &[2, 2])
    })
    .await;
    assert!(
        silent_since.elapsed() >= Duration::from_millis(1000),
        "not before the session timeout"
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_broker_restart_and_the_group_resumes_exactly() {
    let mut broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("resume", 2, &[]).await;
    produce_values(&broker, "resume", 2, 100).await;
    // Consume everything and commit, then stop: 100 committed.
    let m = Member::start(&broker, "g3", "resume", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while m.shared.records.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "first consumer did not read all");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = m.stop();
    assert_eq!(first.records.lock().unwrap().len(), 100);
    broker.restart(GROUP_PROPS).await;
    produce_values(&broker, "resume", 2, 40).await; // v0..v39 again: offsets 50.. per partition
    let m = Member::start(&broker, "g3", "resume", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while m.shared.records.lock().unwrap().len() < 40 {
        assert!(
            Instant::now() < deadline,
            "resumed consumer did not read the new records"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = m.stop();
    let got = second.records.lock().unwrap().clone();
    assert_eq!(got.len(), 40, "nothing re-delivered");
    assert!(
        got.iter().all(|(_, offset, _)| *offset >= 50),
        "resumed after the committed offsets: {got:?}"
    );
    let mut per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
    for (p, o, _) in &got {
        per_partition.entry(*p).or_default().push(*o);
    }
    for offsets in per_partition.values() {
        assert_eq!(offsets, &(50..70).collect::<Vec<_>>(), "nothing skipped");
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_keeps_unaffected_partitions_during_a_rebalance() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("coop", 6, &[]).await;
    let strategy = [("partition.assignment.strategy", "cooperative-sticky")];
    let a = Member::start(&broker, "g4", "coop", &strategy);
    let b = Member::start(&broker, "g4", "coop", &strategy);
    until("two members", Duration::from_secs(20), &[&a, &b], |x| {
        balanced(x, 6, &[3, 3])
    })
    .await;
    let before: Vec<_> = [&a, &b].iter().map(|m| m.assignment()).collect();
    a.shared.revoked.lock().unwrap().clear();
    b.shared.revoked.lock().unwrap().clear();
    let c = Member::start(&broker, "g4", "coop", &strategy);
    until(
        "three members",
        Duration::from_secs(30),
        &[&a, &b, &c],
        |x| balanced(x, 6, &[2, 2, 2]),
    )
    .await;
    for (m, before) in [&a, &b].iter().zip(before) {
        let revoked: BTreeSet<_> = m.shared.revoked.lock().unwrap().iter().cloned().collect();
        let kept = m.assignment();
        assert_eq!(
            revoked.len(),
            1,
            "exactly the partition that moved is revoked: {revoked:?}"
        );
        assert!(
            kept.is_subset(&before),
            "kept partitions were never taken away"
        );
        assert!(revoked.is_disjoint(&kept));
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_groups_each_receive_every_record() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("shared", 3, &[]).await;
    produce_values(&broker, "shared", 3, 90).await;
    let x = Member::start(&broker, "gx", "shared", &[]);
    let y = Member::start(&broker, "gy", "shared", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while x.shared.records.lock().unwrap().len() < 90 || y.shared.records.lock().unwrap().len() < 90
    {
        assert!(Instant::now() < deadline, "both groups read everything");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for shared in [x.stop(), y.stop()] {
        let mut values: Vec<_> = shared
            .records
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, v)| v.clone())
            .collect();
        values.sort();
        let mut want: Vec<_> = (0..90).map(|i| format!("v{i}").into_bytes()).collect();
        want.sort();
        assert_eq!(values, want);
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_groups_rebalancing_at_once_all_converge() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("busy", 4, &[]).await;
    let mut members = Vec::new();
    for g in 0..12 {
        for _ in 0..2 {
            members.push((g, Member::start(&broker, &format!("many-{g}"), "busy", &[])));
        }
    }
    for g in 0..12 {
        let group: Vec<&Member> = members
            .iter()
            .filter(|(x, _)| *x == g)
            .map(|(_, m)| m)
            .collect();
        until(
            &format!("group {g}"),
            Duration::from_secs(60),
            &group,
            |x| balanced(x, 4, &[2, 2]),
        )
        .await;
    }
    broker.shutdown().await;
}

/// KIP-848: librdkafka's `group.protocol=consumer` with server-side assignment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_members_share_partitions() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("kip848", 6, &[]).await;
    produce_values(&broker, "kip848", 6, 60).await;
    let proto: &[(&str, &str)] = &[("group.protocol", "consumer")];
    let start = Instant::now();
    let a = Member::start_kip848(&broker, "g848", "kip848", proto);
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.shared.records.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "first record");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "KIP-848 consumer: first record {:?} after subscribe",
        start.elapsed()
    );
    let b = Member::start_kip848(&broker, "g848", "kip848", proto);
    let c = Member::start_kip848(&broker, "g848", "kip848", proto);
    until(
        "three KIP-848 members",
        Duration::from_secs(30),
        &[&a, &b, &c],
        |x| balanced(x, 6, &[2, 2, 2]),
    )
    .await;
    c.stop();
    until("after a leave", Duration::from_secs(30), &[&a, &b], |x| {
        balanced(x, 6, &[3, 3])
    })
    .await;
    let view = {
        let consumer = broker.consumer(&[]);
        consumer
            .fetch_group_list(Some("g848"), Duration::from_secs(10))
            .unwrap()
            .groups()
            .len()
    };
    assert_eq!(view, 1, "listed");
    // Close the members while the broker still answers their leave (a KIP-848 close against a
    // stopped broker waits out librdkafka's own timeouts).
    drop((a, b));
    broker.shutdown().await;
}

/// Group administration through rdkafka (list, describe, delete) and OffsetDelete over the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_describe_and_delete_groups_and_offsets() {
    use rdkafka::admin::AdminOptions;

    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("admin", 2, &[]).await;
    produce_values(&broker, "admin", 2, 10).await;
    let m = Member::start(&broker, "g-admin", "admin", &[]);
    until("one member", Duration::from_secs(20), &[&m], |x| {
        x[0].len() == 2
    })
    .await;
    let consumer = broker.consumer(&[]);
    let list = consumer
        .fetch_group_list(None, Duration::from_secs(10))
        .unwrap();
    let g = list
        .groups()
        .iter()
        .find(|g| g.name() == "g-admin")
        .expect("listed");
    assert_eq!(g.state(), "Stable");
    assert_eq!(g.protocol_type(), "consumer");
    assert_eq!(g.members().len(), 1);
    // A group with members cannot be deleted.
    let admin = broker.admin();
    let res = admin
        .delete_groups(&["g-admin"], &AdminOptions::new())
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().1,
        rdkafka::types::RDKafkaErrorCode::NonEmptyGroup
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while m.shared.records.lock().unwrap().len() < 10 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    m.stop(); // commits and leaves

    // Committed offsets are visible; delete one partition's offset over the wire (OffsetDelete).
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("admin", 0);
    tpl.add_partition("admin", 1);
    let committed = {
        let c = broker.consumer(&[("group.id", "g-admin")]);
        c.committed_offsets(tpl.clone(), Duration::from_secs(10))
            .unwrap()
    };
    assert_eq!(
        committed.find_partition("admin", 0).unwrap().offset(),
        Offset::Offset(5)
    );
    {
        use kafka_protocol::messages::offset_delete_request::{
            OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
        };
        use kafka_protocol::messages::{GroupId, OffsetDeleteRequest, TopicName};
        use kafka_protocol::protocol::StrBytes;
        let mut p = OffsetDeleteRequestPartition::default();
        p.partition_index = 0;
        let mut t = OffsetDeleteRequestTopic::default();
        t.name = TopicName(StrBytes::from_static_str("admin"));
        t.partitions = vec![p];
        let mut req = OffsetDeleteRequest::default();
        req.group_id = GroupId(StrBytes::from_static_str("g-admin"));
        req.topics = vec![t];
        let mut raw = RawClient::connect(&broker.bootstrap()).await;
        let resp = raw.call(&req, 0).await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    }
    let committed = {
        let c = broker.consumer(&[("group.id", "g-admin")]);
        c.committed_offsets(tpl.clone(), Duration::from_secs(10))
            .unwrap()
    };
    assert_eq!(
        committed.find_partition("admin", 0).unwrap().offset(),
        Offset::Invalid,
        "deleted"
    );
    assert_eq!(
        committed.find_partition("admin", 1).unwrap().offset(),
        Offset::Offset(5),
        "kept"
    );

    let res = admin
        .delete_groups(&["g-admin", "nope"], &AdminOptions::new())
        .await
        .unwrap();
    assert!(res[0].is_ok(), "{res:?}");
    assert_eq!(
        res[1].as_ref().unwrap_err().1,
        rdkafka::types::RDKafkaErrorCode::GroupIdNotFound
    );
    let list = consumer
        .fetch_group_list(None, Duration::from_secs(10))
        .unwrap();
    assert!(
        list.groups().iter().all(|g| g.name() != "g-admin"),
        "deleted"
    );
    broker.shutdown().await;
}

/// A static member (`group.instance.id`) that restarts within its session timeout gets its
/// partitions back without a rebalance: the other member is never asked to revoke anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_static_member_rejoins_without_a_rebalance() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("static", 4, &[]).await;
    let static_cfg: &[(&str, &str)] = &[
        ("group.instance.id", "static-a"),
        ("session.timeout.ms", "10000"),
    ];
    let a = Member::start(&broker, "g-static", "static", static_cfg);
    let b = Member::start(&broker, "g-static", "static", &[]);
    until("two members", Duration::from_secs(20), &[&a, &b], |x| {
        balanced(x, 4, &[2, 2])
    })
    .await;
    let a_before = a.assignment();
    let b_before = b.assignment();
    b.shared.revoked.lock().unwrap().clear();
    a.stop(); // a static member does not send LeaveGroup when it closes
    let a2 = Member::start(&broker, "g-static", "static", static_cfg);
    until("static member back", Duration::from_secs(20), &[&a2], |x| {
        x[0] == a_before
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // time for any rebalance to show
    assert!(
        b.shared.revoked.lock().unwrap().is_empty(),
        "the other member was not disturbed"
    );
    assert_eq!(b.assignment(), b_before);
    assert_eq!(a2.assignment(), a_before);
    broker.shutdown().await;
}

/// Retries DeleteGroups until it succeeds; only NON_EMPTY_GROUP is expected meanwhile.
async fn delete_group_eventually(broker: &TestBroker, group: &str, limit: Duration) {
    use rdkafka::admin::AdminOptions;
    use rdkafka::types::RDKafkaErrorCode;
    let admin = broker.admin();
    let deadline = Instant::now() + limit;
    loop {
        let res = admin
            .delete_groups(&[group], &AdminOptions::new())
            .await
            .expect("delete_groups");
        match &res[0] {
            Ok(_) => return,
            Err((_, code)) => {
                assert_eq!(*code, RDKafkaErrorCode::NonEmptyGroup, "{group}");
                assert!(
                    Instant::now() < deadline,
                    "{group} still has members after {limit:?}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Three static members of `group` join, close without leaving, and must be gone (the group
/// deletable) within 20 s.
async fn static_members_expire_after_close(broker: &TestBroker, group: &str, kip848: bool) {
    let topic = format!("{group}-topic");
    broker.create_topic(&topic, 3, &[]).await;
    let ids: Vec<String> = (0..3).map(|i| format!("{group}-instance-{i}")).collect();
    let members: Vec<Member> = ids
        .iter()
        .map(|id| {
            if kip848 {
                let extra = [("group.protocol", "consumer"), ("group.instance.id", id)];
                Member::start_kip848(broker, group, &topic, &extra)
            } else {
                let extra = [
                    ("group.instance.id", id.as_str()),
                    ("session.timeout.ms", "2000"),
                ];
                Member::start(broker, group, &topic, &extra)
            }
        })
        .collect();
    let refs: Vec<&Member> = members.iter().collect();
    until(
        "three static members",
        Duration::from_secs(30),
        &refs,
        |x| balanced(x, 3, &[1, 1, 1]),
    )
    .await;
    for m in members {
        m.stop();
    }
    delete_group_eventually(broker, group, Duration::from_secs(20)).await;
}

/// Issue 16: static members (`group.instance.id`) send no LeaveGroup when they close; like
/// dynamic ones they are removed at their session timeout, and the group can then be deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_static_classic_members_expire_at_their_session_timeout() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    static_members_expire_after_close(&broker, "g-static-exp", false).await;
    broker.shutdown().await;
}

/// The same with KIP-848: a static member leaves with epoch -2, keeps its place until its session
/// times out, and is removed then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_static_consumer_protocol_members_expire_at_their_session_timeout() {
    let mut props = GROUP_PROPS.to_vec();
    props.push(("group.consumer.session.timeout.ms", "2000"));
    let broker = TestBroker::start_with(&props).await;
    static_members_expire_after_close(&broker, "g-static-exp848", true).await;
    broker.shutdown().await;
}

/// Issue 16: a `group.protocol=consumer` consumer that assigns partitions itself commits with
/// member epoch -1 and its own member id; Kafka accepts that into a missing (or empty) group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_protocol_client_without_subscription_commits_offsets() {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("simple848", 2, &[]).await;
    let consumer = broker.consumer(&[("group.id", "g-simple848"), ("group.protocol", "consumer")]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("simple848", 0, Offset::Beginning)
        .unwrap();
    tpl.add_partition_offset("simple848", 1, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset("simple848", 0, Offset::Offset(3))
        .unwrap();
    commit
        .add_partition_offset("simple848", 1, Offset::Offset(5))
        .unwrap();
    consumer
        .commit(&commit, CommitMode::Sync)
        .expect("the simple commit is accepted");
    let committed = consumer
        .committed_offsets(commit.clone(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        committed.find_partition("simple848", 0).unwrap().offset(),
        Offset::Offset(3)
    );
    assert_eq!(
        committed.find_partition("simple848", 1).unwrap().offset(),
        Offset::Offset(5)
    );
    // The group now exists (simple, empty): a second commit is accepted as well.
    commit
        .set_partition_offset("simple848", 0, Offset::Offset(4))
        .unwrap();
    consumer
        .commit(&commit, CommitMode::Sync)
        .expect("a commit into the empty group is accepted");
    drop(consumer);
    broker.shutdown().await;
}

// ---- KIP-848 online migration (issue 16) ------------------------------------------------------

/// Produces `n` records `<tag><i>` round-robin over `partitions`.
async fn produce_tagged(broker: &TestBroker, topic: &str, partitions: i32, n: usize, tag: &str) {
    let producer = broker.producer(&[("linger.ms", "5")]);
    for i in 0..n {
        let value = format!("{tag}{i}");
        let p = Some((i % partitions as usize) as i32);
        send(&producer, topic, p, b"k", value.as_bytes()).await;
    }
}

/// Waits until the members together received every record `<tag>0..<tag>n`.
async fn until_received(members: &[&Member], tag: &str, n: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut seen = BTreeSet::new();
        for m in members {
            for (_, _, v) in m.shared.records.lock().unwrap().iter() {
                if let Some(rest) = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.strip_prefix(tag))
                {
                    seen.insert(rest.to_string());
                }
            }
        }
        if seen.len() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "records {tag}*: only {} of {n} arrived",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The group's type as ListGroups v5 reports it ("classic" or "consumer"), if listed.
async fn group_type(broker: &TestBroker, group: &str) -> Option<String> {
    use kafka_protocol::messages::ListGroupsRequest;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let resp = raw.call(&ListGroupsRequest::default(), 5).await;
    resp.groups
        .iter()
        .find(|g| g.group_id.0.as_str() == group)
        .map(|g| g.group_type.to_string())
}

/// ConsumerGroupDescribe v1 of one group: (member id, member type, assigned partitions).
async fn describe_848(broker: &TestBroker, group: &str) -> Option<Vec<(String, i8, Vec<i32>)>> {
    use kafka_protocol::messages::{ConsumerGroupDescribeRequest, GroupId};
    use kafka_protocol::protocol::StrBytes;
    let mut req = ConsumerGroupDescribeRequest::default();
    req.group_ids = vec![GroupId(StrBytes::from_string(group.to_string()))];
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let resp = raw.call(&req, 1).await;
    let g = resp.groups.first()?;
    if g.error_code != 0 {
        return None;
    }
    Some(
        g.members
            .iter()
            .map(|m| {
                let parts = m
                    .assignment
                    .topic_partitions
                    .iter()
                    .flat_map(|t| t.partitions.iter().copied())
                    .collect();
                (m.member_id.to_string(), m.member_type, parts)
            })
            .collect(),
    )
}

/// Two classic rdkafka consumers share a 6-partition topic; a third joins with
/// `group.protocol=consumer`: the group becomes a consumer group keeping its classic members, the
/// broker never gives a partition to two members at once, all three share the partitions and
/// records keep flowing. When the consumer-protocol member leaves, the group is classic again and
/// the two classic members share everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_upgrades_when_a_consumer_protocol_member_joins_and_downgrades_after() {
    upgrade_and_downgrade("range").await;
}

/// The same with cooperative classic members (incremental revocation through the owned
/// partitions of their subscriptions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_classic_members_migrate_too() {
    upgrade_and_downgrade("cooperative-sticky").await;
}

async fn upgrade_and_downgrade(strategy: &str) {
    let broker = TestBroker::start_with(GROUP_PROPS).await;
    broker.create_topic("mig", 6, &[]).await;
    produce_tagged(&broker, "mig", 6, 60, "a").await;
    let classic: &[(&str, &str)] = &[
        ("group.protocol", "classic"),
        ("partition.assignment.strategy", strategy),
    ];
    let a = Member::start(&broker, "g-mig", "mig", classic);
    let b = Member::start(&broker, "g-mig", "mig", classic);
    until(
        "two classic members",
        Duration::from_secs(30),
        &[&a, &b],
        |x| balanced(x, 6, &[3, 3]),
    )
    .await;
    until_received(&[&a, &b], "a", 60, Duration::from_secs(30)).await;
    assert_eq!(
        group_type(&broker, "g-mig").await.as_deref(),
        Some("classic")
    );

    let c = Member::start_kip848(&broker, "g-mig", "mig", &[("group.protocol", "consumer")]);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(members) = describe_848(&broker, "g-mig").await {
            let mut owned = BTreeSet::new();
            for (id, _, parts) in &members {
                for p in parts {
                    assert!(
                        owned.insert(*p),
                        "partition {p} given twice (to {id}): {members:?}"
                    );
                }
            }
            let clients = [a.assignment(), b.assignment(), c.assignment()];
            if members.len() == 3 && balanced(&clients, 6, &[2, 2, 2]) {
                let mut types: Vec<i8> = members.iter().map(|m| m.1).collect();
                types.sort_unstable();
                assert_eq!(types, vec![0, 0, 1], "two classic members, one consumer");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never shared: {:?}",
            [a.assignment(), b.assignment(), c.assignment()]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        group_type(&broker, "g-mig").await.as_deref(),
        Some("consumer")
    );
    produce_tagged(&broker, "mig", 6, 60, "b").await;
    until_received(&[&a, &b, &c], "b", 60, Duration::from_secs(30)).await;

    c.stop(); // leaves (epoch -1): only classic members remain
    until("downgraded", Duration::from_secs(40), &[&a, &b], |x| {
        balanced(x, 6, &[3, 3])
    })
    .await;
    assert_eq!(
        group_type(&broker, "g-mig").await.as_deref(),
        Some("classic")
    );
    produce_tagged(&broker, "mig", 6, 30, "c").await;
    until_received(&[&a, &b], "c", 30, Duration::from_secs(30)).await;
    drop((a, b));
    broker.shutdown().await;
}

/// A raw ConsumerGroupHeartbeat (v0) joining `group` with a subscription to `topic`.
async fn raw_consumer_join(
    raw: &mut RawClient,
    group: &str,
    topic: &str,
) -> kafka_protocol::messages::ConsumerGroupHeartbeatResponse {
    use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, GroupId, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let mut req = ConsumerGroupHeartbeatRequest::default();
    req.group_id = GroupId(StrBytes::from_string(group.to_string()));
    req.member_epoch = 0;
    req.rebalance_timeout_ms = 30_000;
    req.subscribed_topic_names = Some(vec![TopicName(StrBytes::from_string(topic.to_string()))]);
    req.topic_partitions = Some(vec![]);
    raw.call(&req, 0).await
}

/// One broker per `group.consumer.migration.policy` value: the upgrade of a classic group with
/// members is refused with GROUP_ID_NOT_FOUND unless the policy allows it, and a consumer group
/// left with only classic members stays a consumer group (its classic member keeps working in
/// it) unless the policy allows the downgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_policy_allows_only_its_directions() {
    use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, GroupId};
    use kafka_protocol::protocol::StrBytes;
    for (policy, upgrade, downgrade) in [
        ("disabled", false, false),
        ("upgrade", true, false),
        ("downgrade", false, true),
        ("bidirectional", true, true),
    ] {
        let mut props = GROUP_PROPS.to_vec();
        props.push(("group.consumer.migration.policy", policy));
        let broker = TestBroker::start_with(&props).await;
        broker.create_topic("pol", 2, &[]).await;
        broker.create_topic("pol-other", 1, &[]).await;

        // Upgrade: a classic group with a member, then a consumer-protocol join.
        let a = Member::start(&broker, "g-up", "pol", &[("group.protocol", "classic")]);
        until("classic member", Duration::from_secs(30), &[&a], |x| {
            x[0].len() == 2
        })
        .await;
        let mut raw = RawClient::connect(&broker.bootstrap()).await;
        let joined = raw_consumer_join(&mut raw, "g-up", "pol-other").await;
        if upgrade {
            assert_eq!(joined.error_code, 0, "{policy}: upgrade allowed");
            assert_eq!(
                group_type(&broker, "g-up").await.as_deref(),
                Some("consumer")
            );
        } else {
            assert_eq!(joined.error_code, 69, "{policy}: GROUP_ID_NOT_FOUND");
            assert_eq!(
                group_type(&broker, "g-up").await.as_deref(),
                Some("classic")
            );
        }
        drop(a);

        // Downgrade: a consumer group, a classic member joins it, the consumer member leaves.
        let joined = raw_consumer_join(&mut raw, "g-down", "pol-other").await;
        assert_eq!(joined.error_code, 0, "{policy}: a new consumer group");
        let d = Member::start(&broker, "g-down", "pol", &[("group.protocol", "classic")]);
        until(
            "classic member in a consumer group",
            Duration::from_secs(30),
            &[&d],
            |x| x[0].len() == 2,
        )
        .await;
        let mut leave = ConsumerGroupHeartbeatRequest::default();
        leave.group_id = GroupId(StrBytes::from_static_str("g-down"));
        leave.member_id = joined.member_id.clone().unwrap_or_default();
        leave.member_epoch = -1;
        assert_eq!(raw.call(&leave, 0).await.error_code, 0);
        let want = if downgrade { "classic" } else { "consumer" };
        let deadline = Instant::now() + Duration::from_secs(20);
        while group_type(&broker, "g-down").await.as_deref() != Some(want) {
            assert!(Instant::now() < deadline, "{policy}: g-down never {want}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Either way the classic member keeps consuming both partitions.
        produce_tagged(&broker, "pol", 2, 10, policy).await;
        until_received(&[&d], policy, 10, Duration::from_secs(30)).await;
        assert_eq!(d.assignment().len(), 2, "{policy}");
        drop(d);
        broker.shutdown().await;
    }
}
