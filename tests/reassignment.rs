//! Partition administration on a 3-node in-process cluster (`EmbeddedCluster`), through real
//! sockets: ElectLeaders (KIP-460) and `auto.leader.rebalance.enable` bringing leadership back to
//! the preferred replica after it restarts, and AlterPartitionReassignments /
//! ListPartitionReassignments (KIP-455) moving a partition with its records to another broker,
//! cancelling one, and refusing bad ones with Kafka's codes. rdkafka produces, consumes and reads
//! Metadata; the admin APIs rdkafka lacks go through `common::raw`. Requests are sent to a node
//! that is not the active controller, so they are forwarded. Every wait is bounded.

mod common;

use std::time::Duration;

use common::cluster::{READY, SERIAL, client, create_topic, wait_for};
use common::*;
use gregor::embedded::EmbeddedCluster;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ElectLeadersRequest,
    ElectLeadersResponse, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureProducer;

const FAST: &[(&str, &str)] = gregor::embedded::FAST_FAILOVER_PROPERTIES;

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_REPLICATION_FACTOR: i16 = 38;
const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
const ELECTION_NOT_NEEDED: i16 = 84;
const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;

fn props(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    FAST.iter().chain(extra).copied().collect()
}

/// (leader, replicas, isr, reassigning) of a partition in node `id`'s image.
fn partition_state(
    c: &EmbeddedCluster,
    id: i32,
    topic: &str,
    p: i32,
) -> Option<(i32, Vec<i32>, Vec<i32>, bool)> {
    let img = c.broker(id)?.image();
    let t = img.topic(topic)?;
    let s = img.partition(t.topic_id(), p)?;
    Some((
        s.leader,
        s.replicas.clone(),
        s.isr.clone(),
        s.is_reassigning(),
    ))
}

/// (leader, replicas) of partition 0 of `topic` in a Metadata answer to rdkafka.
fn metadata_partition0(consumer: &BaseConsumer, topic: &str) -> Option<(i32, Vec<i32>)> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    let p = t.partitions().iter().find(|p| p.id() == 0)?;
    Some((p.leader(), p.replicas().to_vec()))
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

async fn elect(
    addr: &str,
    version: i16,
    election_type: i8,
    partitions: Option<&[(&str, &[i32])]>,
) -> ElectLeadersResponse {
    let mut req = ElectLeadersRequest::default();
    req.election_type = election_type;
    req.timeout_ms = 20_000;
    req.topic_partitions = partitions.map(|ps| {
        ps.iter()
            .map(|(t, parts)| {
                let mut tp = TopicPartitions::default();
                tp.topic = name(t);
                tp.partitions = parts.to_vec();
                tp
            })
            .collect()
    });
    let mut raw = raw::RawClient::connect(addr).await;
    raw.call(&req, version).await
}

/// The error code of `topic`-`p` in an ElectLeaders answer.
fn elect_code(r: &ElectLeadersResponse, topic: &str, p: i32) -> Option<i16> {
    r.replica_election_results
        .iter()
        .find(|t| t.topic.0.as_str() == topic)?
        .partition_result
        .iter()
        .find(|x| x.partition_id == p)
        .map(|x| x.error_code)
}

async fn reassign(
    addr: &str,
    version: i16,
    allow_rf_change: bool,
    items: &[(&str, i32, Option<&[i32]>)],
) -> AlterPartitionReassignmentsResponse {
    let mut req = AlterPartitionReassignmentsRequest::default();
    req.timeout_ms = 20_000;
    req.allow_replication_factor_change = allow_rf_change;
    for (t, p, replicas) in items {
        let mut rp = ReassignablePartition::default();
        rp.partition_index = *p;
        rp.replicas = replicas.map(|rs| rs.iter().map(|b| (*b).into()).collect());
        match req.topics.iter_mut().find(|x| x.name.0.as_str() == *t) {
            Some(rt) => rt.partitions.push(rp),
            None => {
                let mut rt = ReassignableTopic::default();
                rt.name = name(t);
                rt.partitions = vec![rp];
                req.topics.push(rt);
            }
        }
    }
    let mut raw = raw::RawClient::connect(addr).await;
    raw.call(&req, version).await
}

/// Every partition's error code in an AlterPartitionReassignments answer, in answer order.
fn reassign_codes(r: &AlterPartitionReassignmentsResponse) -> Vec<(String, i32, i16)> {
    r.responses
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.0.to_string(), p.partition_index, p.error_code))
        })
        .collect()
}

/// The ongoing reassignments: (topic, partition, replicas, adding, removing).
async fn list(addr: &str) -> Vec<(String, i32, Vec<i32>, Vec<i32>, Vec<i32>)> {
    let mut req = ListPartitionReassignmentsRequest::default();
    req.timeout_ms = 20_000;
    req.topics = None;
    let mut raw = raw::RawClient::connect(addr).await;
    let r: ListPartitionReassignmentsResponse = raw.call(&req, 0).await;
    assert_eq!(r.error_code, NONE, "ListPartitionReassignments: {r:?}");
    let ids = |v: &Vec<kafka_protocol::messages::BrokerId>| v.iter().map(|b| b.0).collect();
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    ids(&p.replicas),
                    ids(&p.adding_replicas),
                    ids(&p.removing_replicas),
                )
            })
        })
        .collect()
}

/// A running node that is not the active controller (requests sent there are forwarded).
fn not_controller(c: &EmbeddedCluster) -> i32 {
    let active = c.active_controller();
    c.running()
        .into_iter()
        .find(|id| Some(*id) != active)
        .expect("a node that is not the controller")
}

/// Creates `topic` with one partition on `replicas` (the first preferred), fills its ISR, writes
/// `records` values `<prefix><i>` with acks=all.
async fn topic_with_records(
    cluster: &EmbeddedCluster,
    topic: &str,
    replicas: &[i32],
    records: usize,
    prefix: &str,
) {
    let bootstrap = cluster.bootstrap();
    let assignment: &[&[i32]] = &[replicas];
    create_topic(
        &bootstrap,
        NewTopic::new(topic, 1, TopicReplication::Variable(assignment)),
    )
    .await;
    wait_for("a full ISR on every node", READY, || {
        cluster.running().iter().all(|id| {
            partition_state(cluster, *id, topic, 0)
                .is_some_and(|(l, _, isr, _)| l == replicas[0] && isr.len() == replicas.len())
        })
    })
    .await;
    let producer: FutureProducer = client(&bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap();
    for i in 0..records {
        send(
            &producer,
            topic,
            Some(0),
            b"k",
            format!("{prefix}{i}").as_bytes(),
        )
        .await;
    }
}

/// Kills the preferred leader `p` of `topic`-0, waits until another replica leads, restarts it
/// and waits until it is back in the ISR.
async fn bounce_preferred_leader(cluster: &mut EmbeddedCluster, topic: &str, p: i32) {
    cluster.kill(p).await;
    let survivor = cluster.running()[0];
    wait_for("leadership to move off the killed node", READY, || {
        partition_state(cluster, survivor, topic, 0)
            .is_some_and(|(l, _, isr, _)| l != p && l >= 0 && !isr.contains(&p))
    })
    .await;
    cluster.restart(p).await.expect("restart");
    cluster.wait_ready(READY).await.expect("ready again");
    wait_for("the restarted node back in the ISR", READY, || {
        partition_state(cluster, survivor, topic, 0).is_some_and(|(_, _, isr, _)| isr.contains(&p))
    })
    .await;
}

/// (a) ElectLeaders PREFERRED moves leadership back to the restarted preferred replica; asking
/// again answers ELECTION_NOT_NEEDED (v0 too, which has no top-level code); UNCLEAN with a
/// leader present and unknown partitions answer as Kafka; null partitions lists nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn elect_leaders_preferred_moves_leadership_back() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let properties = props(&[("auto.leader.rebalance.enable", "false")]);
    let mut cluster = EmbeddedCluster::start(3, dir.path(), &properties, READY)
        .await
        .expect("cluster");
    let topic = "preferred";
    // The preferred leader is not the controller, so killing it leaves the quorum alone.
    let p = not_controller(&cluster);
    let mut replicas = vec![p];
    replicas.extend(cluster.running().into_iter().filter(|id| *id != p));
    topic_with_records(&cluster, topic, &replicas, 50, "e").await;
    bounce_preferred_leader(&mut cluster, topic, p).await;

    let consumer: BaseConsumer = client(&cluster.bootstrap()).create().unwrap();
    let (leader, _) = metadata_partition0(&consumer, topic).expect("metadata");
    assert_ne!(
        leader, p,
        "without rebalancing, leadership stays where it moved"
    );

    let target = cluster.client_address(not_controller(&cluster)).unwrap();
    let first = elect(&target, 2, 0, Some(&[(topic, &[0])])).await;
    assert_eq!(first.error_code, NONE, "{first:?}");
    assert_eq!(elect_code(&first, topic, 0), Some(NONE), "{first:?}");
    wait_for("Metadata to show the preferred leader", READY, || {
        metadata_partition0(&consumer, topic).is_some_and(|(l, _)| l == p)
    })
    .await;

    let again = elect(&target, 2, 0, Some(&[(topic, &[0])])).await;
    assert_eq!(
        elect_code(&again, topic, 0),
        Some(ELECTION_NOT_NEEDED),
        "{again:?}"
    );
    let v0 = elect(&target, 0, 0, Some(&[(topic, &[0])])).await;
    assert_eq!(
        elect_code(&v0, topic, 0),
        Some(ELECTION_NOT_NEEDED),
        "{v0:?}"
    );
    let unclean = elect(&target, 1, 1, Some(&[(topic, &[0])])).await;
    assert_eq!(
        elect_code(&unclean, topic, 0),
        Some(ELECTION_NOT_NEEDED),
        "{unclean:?}"
    );
    let unknown = elect(
        &target,
        2,
        0,
        Some(&[(topic, &[7]), ("no-such-topic", &[0])]),
    )
    .await;
    assert_eq!(
        elect_code(&unknown, topic, 7),
        Some(UNKNOWN_TOPIC_OR_PARTITION)
    );
    assert_eq!(
        elect_code(&unknown, "no-such-topic", 0),
        Some(UNKNOWN_TOPIC_OR_PARTITION)
    );
    let all = elect(&target, 2, 0, None).await;
    assert_eq!(all.error_code, NONE);
    assert_eq!(
        elect_code(&all, topic, 0),
        None,
        "null partitions lists only partitions that needed an election: {all:?}"
    );
    cluster.shutdown().await;
}

/// (b) With a short `leader.imbalance.check.interval.seconds`, the controller moves leadership
/// back to the restarted preferred replica by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_leader_rebalance_moves_leadership_back() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let properties = props(&[("leader.imbalance.check.interval.seconds", "1")]);
    let mut cluster = EmbeddedCluster::start(3, dir.path(), &properties, READY)
        .await
        .expect("cluster");
    let topic = "rebalanced";
    let p = not_controller(&cluster);
    let mut replicas = vec![p];
    replicas.extend(cluster.running().into_iter().filter(|id| *id != p));
    topic_with_records(&cluster, topic, &replicas, 20, "b").await;
    bounce_preferred_leader(&mut cluster, topic, p).await;
    let consumer: BaseConsumer = client(&cluster.bootstrap()).create().unwrap();
    wait_for("the rebalance to bring leadership back", READY, || {
        metadata_partition0(&consumer, topic).is_some_and(|(l, _)| l == p)
    })
    .await;
    cluster.shutdown().await;
}

/// (c, d) Bad reassignments are refused with Kafka's codes and change nothing; a reassignment
/// that cannot progress (its new replica cut off) is listed and can be cancelled; a partition
/// with records moves from {removed, stay} to {stay, added}: Metadata shows the new replicas,
/// every record reads back, the new replica's log holds them and the removed node's partition
/// directory is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reassignment_moves_a_partition_with_its_records() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(3, dir.path(), FAST, READY)
        .await
        .expect("cluster");
    // `added` is cut off below: it must not be the controller.
    let added = not_controller(&cluster);
    let others: Vec<i32> = cluster
        .running()
        .into_iter()
        .filter(|id| *id != added)
        .collect();
    let (removed, stay) = (others[0], others[1]);
    eprintln!("moving from [{removed}, {stay}] to [{stay}, {added}]");
    let records = 300;
    topic_with_records(&cluster, "moving", &[removed, stay], records, "m").await;
    topic_with_records(&cluster, "stuck", &[stay, removed], 0, "").await;
    let via_added = cluster.client_address(added).unwrap();
    let via_stay = cluster.client_address(stay).unwrap();

    // (d) Refusals, each on its own partition result.
    let bad = reassign(
        &via_added,
        1,
        true,
        &[
            ("moving", 0, Some(&[stay, stay])),
            ("moving", 0, Some(&[stay, 42])),
            ("moving", 0, Some(&[])),
            ("moving", 0, None),
            ("moving", 5, Some(&[stay, added])),
            ("no-such-topic", 0, Some(&[stay, added])),
        ],
    )
    .await;
    assert_eq!(bad.error_code, NONE, "{bad:?}");
    assert!(bad.allow_replication_factor_change);
    let codes: Vec<i16> = reassign_codes(&bad).iter().map(|c| c.2).collect();
    assert_eq!(
        codes,
        vec![
            INVALID_REPLICA_ASSIGNMENT,
            INVALID_REPLICA_ASSIGNMENT,
            INVALID_REPLICA_ASSIGNMENT,
            NO_REASSIGNMENT_IN_PROGRESS,
            UNKNOWN_TOPIC_OR_PARTITION,
            UNKNOWN_TOPIC_OR_PARTITION,
        ],
        "{bad:?}"
    );
    let rf = reassign(
        &via_added,
        1,
        false,
        &[("moving", 0, Some(&[removed, stay, added]))],
    )
    .await;
    assert_eq!(
        reassign_codes(&rf),
        vec![("moving".to_string(), 0, INVALID_REPLICATION_FACTOR)],
        "{rf:?}"
    );
    assert!(!rf.allow_replication_factor_change);
    assert_eq!(
        partition_state(&cluster, stay, "moving", 0).map(|s| (s.1, s.3)),
        Some((vec![removed, stay], false)),
        "refused reassignments change nothing"
    );
    assert!(list(&via_added).await.is_empty());

    // A reassignment onto a node that is cut off stays in progress, is listed, and cancels.
    cluster.isolate(added);
    let start = reassign(&via_stay, 0, true, &[("stuck", 0, Some(&[stay, added]))]).await;
    assert_eq!(
        reassign_codes(&start),
        vec![("stuck".to_string(), 0, NONE)],
        "{start:?}"
    );
    assert_eq!(
        list(&via_stay).await,
        vec![(
            "stuck".to_string(),
            0,
            vec![stay, added, removed],
            vec![added],
            vec![removed]
        )]
    );
    let cancel = reassign(&via_stay, 0, true, &[("stuck", 0, None)]).await;
    assert_eq!(
        reassign_codes(&cancel),
        vec![("stuck".to_string(), 0, NONE)],
        "{cancel:?}"
    );
    assert!(list(&via_stay).await.is_empty());
    wait_for("cancelled: back to the original replicas", READY, || {
        partition_state(&cluster, stay, "stuck", 0).map(|s| (s.1, s.3))
            == Some((vec![stay, removed], false))
    })
    .await;
    cluster.heal(added);
    cluster.wait_ready(READY).await.expect("healed");

    // (c) The move.
    let moved = reassign(&via_added, 1, false, &[("moving", 0, Some(&[stay, added]))]).await;
    assert_eq!(
        reassign_codes(&moved),
        vec![("moving".to_string(), 0, NONE)],
        "{moved:?}"
    );
    let ongoing = list(&via_added).await;
    assert!(
        ongoing.is_empty()
            || ongoing
                == vec![(
                    "moving".to_string(),
                    0,
                    vec![stay, added, removed],
                    vec![added],
                    vec![removed]
                )],
        "in progress or done: {ongoing:?}"
    );
    wait_for("the reassignment to complete on every node", READY, || {
        cluster.running().iter().all(|id| {
            partition_state(&cluster, *id, "moving", 0)
                .is_some_and(|(l, r, _, busy)| r == vec![stay, added] && !busy && l >= 0)
        })
    })
    .await;
    assert!(
        list(&via_added).await.is_empty(),
        "nothing in progress after"
    );
    let consumer: BaseConsumer = client(&cluster.bootstrap())
        .set("group.id", "reassignment-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    wait_for("Metadata to show the new replicas", READY, || {
        metadata_partition0(&consumer, "moving")
            .is_some_and(|(l, r)| r == vec![stay, added] && (l == stay || l == added))
    })
    .await;
    wait_for("the new replica to hold every record", READY, || {
        cluster
            .broker(added)
            .and_then(|b| b.partition("moving", 0).ok())
            .is_some_and(|p| p.log().log_end_offset().0 == records as i64)
    })
    .await;
    let bytes = partition_log_bytes(cluster.data_dir(added).unwrap(), "moving", 0);
    for probe in ["m0", "m150", "m299"] {
        assert!(
            bytes.windows(probe.len()).any(|w| w == probe.as_bytes()),
            "{probe} in the new replica's log"
        );
    }
    let gone = cluster.data_dir(removed).unwrap().join("moving-0");
    wait_for("the removed replica's directory to go", READY, || {
        !gone.exists()
    })
    .await;
    assert!(
        cluster
            .broker(removed)
            .is_some_and(|b| b.partition("moving", 0).is_err()),
        "the removed node no longer hosts the partition"
    );
    let got = read_all(&consumer, "moving", 1, records);
    let values: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8(g.value.clone().unwrap_or_default()).unwrap())
        .collect();
    let expected: Vec<String> = (0..records).map(|i| format!("m{i}")).collect();
    assert_eq!(
        values, expected,
        "every record, in order, from the new replicas"
    );
    cluster.shutdown().await;
}

/// ElectLeaders UNCLEAN (on five nodes, so the controller quorum survives two deaths): with both
/// replicas of a partition dead it answers ELIGIBLE_LEADERS_NOT_AVAILABLE; once the replica that
/// left the ISR first is back (and, unclean election being off, the partition stays leaderless),
/// it elects that replica with the ISR reset to it, and its records read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn elect_leaders_unclean_revives_a_leaderless_partition() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = EmbeddedCluster::start(5, dir.path(), FAST, READY)
        .await
        .expect("cluster");
    let active = cluster.active_controller();
    let spare: Vec<i32> = cluster
        .running()
        .into_iter()
        .filter(|id| Some(*id) != active)
        .collect();
    let (a, b) = (spare[0], spare[1]);
    let topic = "unclean";
    topic_with_records(&cluster, topic, &[a, b], 10, "u").await;
    let witness = *cluster
        .running()
        .iter()
        .find(|id| **id != a && **id != b)
        .unwrap();
    cluster.kill(b).await;
    wait_for("the ISR down to the leader", READY, || {
        partition_state(&cluster, witness, topic, 0)
            .is_some_and(|(l, _, isr, _)| l == a && isr == vec![a])
    })
    .await;
    cluster.kill(a).await;
    wait_for("the partition to lose its leader", READY, || {
        partition_state(&cluster, witness, topic, 0).is_some_and(|(l, _, _, _)| l < 0)
    })
    .await;
    let via = cluster.client_address(witness).unwrap();
    let none = elect(&via, 2, 1, Some(&[(topic, &[0])])).await;
    assert_eq!(
        elect_code(&none, topic, 0),
        Some(83),
        "no live replica: {none:?}"
    );
    let preferred = elect(&via, 2, 0, Some(&[(topic, &[0])])).await;
    assert_eq!(elect_code(&preferred, topic, 0), Some(80), "{preferred:?}");

    cluster.restart(b).await.expect("restart");
    cluster.wait_ready(READY).await.expect("ready");
    assert_eq!(
        partition_state(&cluster, witness, topic, 0).map(|s| (s.0, s.2)),
        Some((-1, vec![a])),
        "a clean election cannot pick the out-of-sync replica"
    );
    let unclean = elect(&via, 2, 1, Some(&[(topic, &[0])])).await;
    assert_eq!(elect_code(&unclean, topic, 0), Some(NONE), "{unclean:?}");
    wait_for("the revived replica to lead alone", READY, || {
        partition_state(&cluster, witness, topic, 0)
            .is_some_and(|(l, _, isr, _)| l == b && isr == vec![b])
    })
    .await;
    // Bootstrap from the running nodes only: librdkafka reports a refused bootstrap connection
    // as a consume error.
    let live: Vec<String> = cluster
        .running()
        .iter()
        .filter_map(|id| cluster.client_address(*id))
        .collect();
    let consumer: BaseConsumer = client(&live.join(","))
        .set("group.id", "unclean-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let got = read_all(&consumer, topic, 1, 10);
    assert_eq!(got.len(), 10, "the records the revived replica held");
    cluster.shutdown().await;
}
