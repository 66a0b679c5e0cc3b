//! A 3-node in-process cluster (`gregor::embedded::EmbeddedCluster`) through rdkafka: KRaft-style
//! settings, a replicated topic, acks=all produce and consume, and a leader killed mid-stream
//! with every acknowledged record still readable, once, at its acknowledged offset.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::cluster::{READY, SERIAL, client, create_topic, wait_for};
use common::*;
use gregor::embedded::EmbeddedCluster;
use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureProducer;

/// Short sessions so that a killed node is fenced (and its leaderships move) in seconds, and
/// acks=all on two of three replicas.
fn fast() -> Vec<(&'static str, &'static str)> {
    let mut p = gregor::embedded::FAST_FAILOVER_PROPERTIES.to_vec();
    p.push(("min.insync.replicas", "2"));
    p
}

/// The leader, replicas and ISR of a partition in node `id`'s image.
fn partition_state(
    c: &EmbeddedCluster,
    id: i32,
    topic: &str,
    p: i32,
) -> Option<(i32, Vec<i32>, Vec<i32>)> {
    let img = c.broker(id)?.image();
    let t = img.topic(topic)?;
    let s = img.partition(t.topic_id(), p)?;
    Some((s.leader, s.replicas.clone(), s.isr.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_replicate_and_survive_a_leader_kill() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = EmbeddedCluster::start(3, dir.path(), &fast(), READY)
        .await
        .expect("cluster");
    let bootstrap = cluster.bootstrap();
    let topic = "replicated";

    // Create 6 partitions, RF 3, through any node (forwarded to the active controller).
    create_topic(
        &bootstrap,
        NewTopic::new(topic, 6, TopicReplication::Fixed(3)),
    )
    .await;
    // Every node sees the same placement: 3 replicas each, leaders spread over all brokers, and
    // the ISR fills up as followers catch up.
    wait_for("full ISRs on every node", READY, || {
        cluster.running().iter().all(|id| {
            (0..6).all(|p| {
                partition_state(&cluster, *id, topic, p)
                    .is_some_and(|(_, r, isr)| r.len() == 3 && isr.len() == 3)
            })
        })
    })
    .await;
    // DescribeCluster (asked of a node that may not be the controller) names all three brokers
    // and the active controller.
    let mut raw = common::raw::RawClient::connect(&cluster.client_address(2).unwrap()).await;
    let mut req = kafka_protocol::messages::DescribeClusterRequest::default();
    req.endpoint_type = 1;
    let described = raw.call(&req, 1).await;
    assert_eq!(described.error_code, 0);
    let mut ids: Vec<i32> = described.brokers.iter().map(|b| b.broker_id.0).collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3], "DescribeCluster lists every broker");
    assert_eq!(Some(described.controller_id.0), cluster.active_controller());
    let leaders: std::collections::BTreeSet<i32> = (0..6)
        .filter_map(|p| partition_state(&cluster, 1, topic, p).map(|s| s.0))
        .collect();
    assert_eq!(
        leaders.len(),
        3,
        "leaders spread over the brokers: {leaders:?}"
    );
    // KIP-951: Produce v10+ and Fetch v16+ sent to a follower name the partition's leader, its
    // epoch and its endpoint, so a client re-routes without a Metadata round trip.
    let p = (0..6)
        .find(|p| partition_state(&cluster, 2, topic, *p).is_some_and(|s| s.0 != 2))
        .unwrap();
    let (leader, _, _) = partition_state(&cluster, 2, topic, p).unwrap();
    let (topic_id, epoch) = {
        let img = cluster.broker(2).unwrap().image();
        let id = img.topic(topic).unwrap().topic_id();
        (id, img.partition(id, p).unwrap().leader_epoch)
    };
    // (error code, hinted leader, hinted epoch, node endpoints) of a partition's answer.
    let want = (
        6, // NOT_LEADER_OR_FOLLOWER
        leader,
        epoch,
        vec![(leader, cluster.client_address(leader).unwrap())],
    );
    let endpoints = |eps: Vec<(i32, String, i32)>| -> Vec<(i32, String)> {
        eps.into_iter()
            .map(|(id, host, port)| (id, format!("{host}:{port}")))
            .collect()
    };
    // An acks=1 Produce of `records` to partition `p`.
    let produce_to_p = |records: Option<bytes::Bytes>| {
        use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
        let mut pd = PartitionProduceData::default();
        pd.index = p;
        pd.records = records;
        let mut td = TopicProduceData::default();
        td.name = kafka_protocol::messages::TopicName(topic.to_string().into());
        td.partition_data = vec![pd];
        let mut req = kafka_protocol::messages::ProduceRequest::default();
        req.acks = 1;
        req.timeout_ms = 5000;
        req.topic_data = vec![td];
        req
    };
    let produced = {
        let batch = encode_batch(kafka_protocol::records::Compression::None, &[1], false).freeze();
        let resp = raw.call(&produce_to_p(Some(batch)), 11).await;
        let part = &resp.responses[0].partition_responses[0];
        let eps = resp.node_endpoints.iter();
        (
            part.error_code,
            part.current_leader.leader_id.0,
            part.current_leader.leader_epoch,
            endpoints(
                eps.map(|e| (e.node_id.0, e.host.to_string(), e.port))
                    .collect(),
            ),
        )
    };
    assert_eq!(produced, want, "Produce v11 to a follower names the leader");
    // A follower refuses the write as a follower before it looks at the records: an empty
    // Produce gets NOT_LEADER_OR_FOLLOWER, not INVALID_REQUEST, as from Kafka.
    let empty_to_follower = {
        let resp = raw.call(&produce_to_p(None), 11).await;
        resp.responses[0].partition_responses[0].error_code
    };
    assert_eq!(empty_to_follower, 6, "an empty Produce to a follower");
    let fetched = {
        use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
        let mut fp = FetchPartition::default();
        fp.partition = p;
        fp.partition_max_bytes = 1 << 20;
        let mut ft = FetchTopic::default();
        ft.topic_id = uuid::Uuid::from_bytes(topic_id.0);
        ft.partitions = vec![fp];
        let mut req = kafka_protocol::messages::FetchRequest::default();
        req.max_wait_ms = 0;
        req.max_bytes = 1 << 20;
        req.topics = vec![ft];
        let resp = raw.call(&req, 16).await;
        let part = &resp.responses[0].partitions[0];
        let eps = resp.node_endpoints.iter();
        (
            part.error_code,
            part.current_leader.leader_id.0,
            part.current_leader.leader_epoch,
            endpoints(
                eps.map(|e| (e.node_id.0, e.host.to_string(), e.port))
                    .collect(),
            ),
        )
    };
    assert_eq!(fetched, want, "Fetch v16 to a follower names the leader");

    let producer: FutureProducer = client(&bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "60000")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    // acked[(partition, offset)] = value
    let mut acked: HashMap<(i32, i64), String> = HashMap::new();
    let first = 2000;
    for i in 0..first {
        if i % 500 == 0 {
            eprintln!("sent {i}");
        }
        let v = format!("r{i}");
        let (p, o) = send(&producer, topic, Some(i % 6), b"k", v.as_bytes()).await;
        assert!(
            acked.insert((p, o), v).is_none(),
            "offset acknowledged twice"
        );
    }

    // Kill the leader of partition 0 and keep producing: retries land on the new leader.
    let (victim, _, _) = partition_state(&cluster, 1, topic, 0).unwrap();
    cluster.kill(victim).await;
    let survivor = cluster.running()[0];
    let more = 1000;
    for i in first..first + more {
        let v = format!("r{i}");
        let (p, o) = send(&producer, topic, Some(i % 6), b"k", v.as_bytes()).await;
        assert!(
            acked.insert((p, o), v).is_none(),
            "offset acknowledged twice"
        );
    }
    let (new_leader, _, isr) = partition_state(&cluster, survivor, topic, 0).unwrap();
    assert_ne!(new_leader, victim, "partition 0 moved");
    assert!(
        !isr.contains(&victim),
        "the dead node left the ISR: {isr:?}"
    );

    // Bring it back: it catches up and rejoins every ISR.
    cluster.restart(victim).await.expect("restart");
    cluster.wait_ready(READY).await.expect("ready again");
    wait_for("the restarted node back in every ISR", READY, || {
        (0..6).all(|p| {
            partition_state(&cluster, survivor, topic, p)
                .is_some_and(|(_, _, isr)| isr.contains(&victim))
        })
    })
    .await;

    // Every acknowledged record is there, once, at its acknowledged offset.
    let consumer: BaseConsumer = client(&bootstrap)
        .set("group.id", "cluster-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let got = read_all(&consumer, topic, 6, acked.len());
    let mut seen: HashMap<(i32, i64), String> = HashMap::new();
    for g in got {
        let v = String::from_utf8(g.value.unwrap_or_default()).unwrap();
        assert!(seen.insert((g.partition, g.offset), v).is_none());
    }
    for (k, v) in &acked {
        assert_eq!(
            seen.get(k),
            Some(v),
            "acknowledged record at {k:?} lost or changed"
        );
    }
    // The replicas of every partition hold the same log end once settled.
    wait_for("equal log ends on all replicas", READY, || {
        (0..6).all(|p| {
            let ends: Vec<i64> = cluster
                .running()
                .iter()
                .filter_map(|id| cluster.broker(*id)?.partition(topic, p).ok())
                .map(|part| part.log().log_end_offset().0)
                .collect();
            ends.len() == 3 && ends.windows(2).all(|w| w[0] == w[1])
        })
    })
    .await;
    cluster.shutdown().await;
}

/// Two of a partition's three replicas down (on a five-node cluster, so the controller quorum
/// survives): acks=all is refused with NOT_ENOUGH_REPLICAS, acks=1 still works, and one replica
/// coming back restores acks=all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acks_all_needs_min_insync_replicas() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = EmbeddedCluster::start(5, dir.path(), &fast(), READY)
        .await
        .expect("cluster");
    let bootstrap = cluster.bootstrap();
    let assignment: &[&[i32]] = &[&[1, 2, 3]];
    create_topic(
        &bootstrap,
        NewTopic::new("mir", 1, TopicReplication::Variable(assignment)),
    )
    .await;
    wait_for("full ISR", READY, || {
        partition_state(&cluster, 4, "mir", 0).is_some_and(|(_, _, isr)| isr.len() == 3)
    })
    .await;
    let (leader, replicas, _) = partition_state(&cluster, 4, "mir", 0).unwrap();
    assert_eq!(replicas, vec![1, 2, 3], "the explicit assignment");
    let followers: Vec<i32> = replicas.iter().copied().filter(|r| *r != leader).collect();
    for r in &followers {
        cluster.kill(*r).await;
    }
    // The controller fences both after broker.session.timeout.ms and takes them out of the ISR.
    wait_for("the ISR down to the leader", READY, || {
        partition_state(&cluster, leader, "mir", 0)
            .is_some_and(|(l, _, isr)| l == leader && isr == vec![leader])
    })
    .await;
    let strict: FutureProducer = client(&bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("retries", "0")
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let record = || {
        rdkafka::producer::FutureRecord::to("mir")
            .key("k")
            .payload("v")
            .partition(0)
    };
    match strict.send(record(), Duration::from_secs(15)).await {
        Err((rdkafka::error::KafkaError::MessageProduction(code), _)) => assert_eq!(
            code,
            rdkafka::types::RDKafkaErrorCode::NotEnoughReplicas,
            "acks=all below min.insync.replicas"
        ),
        other => panic!("acks=all must fail with NOT_ENOUGH_REPLICAS: {other:?}"),
    }
    let loose: FutureProducer = client(&bootstrap)
        .set("acks", "1")
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let r = loose.send(record(), Duration::from_secs(15)).await;
    assert!(r.is_ok(), "acks=1 still works on the leader: {r:?}");

    // One follower back: it catches up, rejoins the ISR, and acks=all works again.
    cluster.restart(followers[0]).await.expect("restart");
    wait_for("the ISR back to two", READY, || {
        partition_state(&cluster, leader, "mir", 0).is_some_and(|(_, _, isr)| isr.len() == 2)
    })
    .await;
    let r = strict.send(record(), Duration::from_secs(15)).await;
    assert!(r.is_ok(), "acks=all with two in-sync replicas: {r:?}");
    cluster.shutdown().await;
}

/// The active controller killed: the other voters elect a new one, which creates topics, and
/// the old one catches up from them when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn controller_failover() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = EmbeddedCluster::start(3, dir.path(), &fast(), READY)
        .await
        .expect("cluster");
    let bootstrap = cluster.bootstrap();
    let old = cluster.active_controller().expect("an active controller");
    // DescribeQuorum, asked of a node that is not the leader (it forwards), names the leader and
    // three voters, each caught up to the high watermark.
    let other = cluster.running().into_iter().find(|id| *id != old).unwrap();
    let started = std::time::Instant::now();
    let before = loop {
        let d = describe_quorum(&cluster, other).await;
        assert_eq!(d.leader_id.0, old, "the quorum's leader");
        let mut voters: Vec<i32> = d.current_voters.iter().map(|v| v.replica_id.0).collect();
        voters.sort();
        assert_eq!(voters, vec![1, 2, 3]);
        let caught_up = d
            .current_voters
            .iter()
            .all(|v| v.log_end_offset >= d.high_watermark && v.last_caught_up_timestamp > 0);
        if caught_up {
            break d;
        }
        assert!(started.elapsed() < READY, "voters never caught up: {d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    cluster.kill(old).await;
    wait_for("a new active controller", READY, || {
        cluster.active_controller().is_some_and(|c| c != old)
    })
    .await;
    let new = cluster.active_controller().unwrap();
    eprintln!("controller {old} killed; {new} took over");
    let after = describe_quorum(&cluster, new).await;
    assert_eq!(after.leader_id.0, new);
    assert!(after.leader_epoch > before.leader_epoch, "a new term");
    assert!(after.high_watermark >= before.high_watermark);
    // Until its session expires the dead node still counts as a live broker (as in Kafka), and
    // placement could give it replicas.
    wait_for("the dead node fenced", READY, || {
        cluster
            .broker(new)
            .is_some_and(|b| b.image().broker(old).is_some_and(|r| r.fenced))
    })
    .await;
    let started = std::time::Instant::now();
    create_topic(
        &bootstrap,
        NewTopic::new("after-failover", 3, TopicReplication::Fixed(2)),
    )
    .await;
    eprintln!("topic created {:?} after asking", started.elapsed());
    let producer: FutureProducer = client(&bootstrap).set("acks", "all").create().unwrap();
    for p in 0..3 {
        send(&producer, "after-failover", Some(p), b"k", b"v").await;
    }
    cluster.restart(old).await.expect("restart");
    cluster.wait_ready(READY).await.expect("ready again");
    wait_for("the old controller caught up", READY, || {
        cluster
            .broker(old)
            .is_some_and(|b| b.image().topic("after-failover").is_some())
    })
    .await;
    cluster.shutdown().await;
}

/// DescribeQuorum (v2) asked of node `id`: the metadata partition's answer, error-free.
async fn describe_quorum(
    c: &EmbeddedCluster,
    id: i32,
) -> kafka_protocol::messages::describe_quorum_response::PartitionData {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    let mut raw = common::raw::RawClient::connect(&c.client_address(id).unwrap()).await;
    let mut p = PartitionData::default();
    p.partition_index = 0;
    let mut t = TopicData::default();
    t.topic_name = kafka_protocol::messages::TopicName("__cluster_metadata".to_string().into());
    t.partitions = vec![p];
    let mut req = kafka_protocol::messages::DescribeQuorumRequest::default();
    req.topics = vec![t];
    let resp = raw.call(&req, 2).await;
    assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
    let p = resp.topics[0].partitions[0].clone();
    assert_eq!(p.error_code, 0, "{:?}", p.error_message);
    assert_eq!(
        resp.nodes.len(),
        p.current_voters.len(),
        "an endpoint per voter"
    );
    p
}

/// A leader cut off from its peers (`EmbeddedCluster::isolate`; its clients still reach it):
/// acks=all writes sent to it are appended there but never acknowledged; the majority fences
/// it, elects a new leader and acknowledges writes; once healed, the old leader truncates the
/// records only it had, rejoins the ISR, and every replica holds the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn isolated_leader_stops_acknowledging_and_truncates_on_return() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(3, dir.path(), &fast(), READY)
        .await
        .expect("cluster");
    let topic = "cut";
    create_topic(
        &cluster.bootstrap(),
        NewTopic::new(topic, 1, TopicReplication::Fixed(3)),
    )
    .await;
    wait_for("full ISR", READY, || {
        partition_state(&cluster, 1, topic, 0).is_some_and(|(_, _, isr)| isr.len() == 3)
    })
    .await;
    let (leader, _, _) = partition_state(&cluster, 1, topic, 0).unwrap();
    let others: Vec<i32> = cluster
        .running()
        .into_iter()
        .filter(|i| *i != leader)
        .collect();
    let majority = others
        .iter()
        .filter_map(|i| cluster.client_address(*i))
        .collect::<Vec<_>>()
        .join(",");
    let strict = |bootstrap: &str, timeout_ms: &str| -> FutureProducer {
        client(bootstrap)
            .set("acks", "all")
            .set("enable.idempotence", "false")
            .set("retries", "0")
            .set("message.timeout.ms", timeout_ms)
            .create()
            .unwrap()
    };
    fn record<'a>(topic: &'a str, v: &'a str) -> rdkafka::producer::FutureRecord<'a, str, str> {
        rdkafka::producer::FutureRecord::to(topic)
            .key("k")
            .payload(v)
            .partition(0)
    }
    let everyone = strict(&cluster.bootstrap(), "30000");
    let mut acked: HashMap<i64, String> = HashMap::new();
    for i in 0..50 {
        let v = format!("before-{i}");
        let d = everyone
            .send(record(topic, &v), Duration::from_secs(30))
            .await
            .expect("acked");
        acked.insert(d.offset, v);
    }

    // Cut the leader off. Writes sent to it alone are appended there, never acknowledged.
    let end_before = cluster
        .broker(leader)
        .unwrap()
        .partition(topic, 0)
        .unwrap()
        .log()
        .log_end_offset()
        .0;
    cluster.isolate(leader);
    let to_isolated = strict(&cluster.client_address(leader).unwrap(), "6000");
    let lost: Vec<String> = (0..10).map(|i| format!("isolated-{i}")).collect();
    // Enqueued at once (send_result), so they are in flight together.
    let sends: Vec<_> = lost
        .iter()
        .map(|v| {
            to_isolated
                .send_result(record(topic, v))
                .map_err(|(e, _)| e)
                .expect("enqueued")
        })
        .collect();
    for (v, delivery) in lost.iter().zip(sends) {
        let r = delivery.await.expect("delivery reported");
        assert!(
            r.is_err(),
            "the isolated leader acknowledged {v} with acks=all: {r:?}"
        );
    }
    let end_isolated = cluster
        .broker(leader)
        .unwrap()
        .partition(topic, 0)
        .unwrap()
        .log()
        .log_end_offset()
        .0;
    assert!(
        end_isolated > end_before,
        "the isolated leader appended the writes it could not replicate ({end_before} -> {end_isolated})"
    );

    // The majority moves on: a new leader, and acks=all works there.
    wait_for("a new leader on the majority side", READY, || {
        others.iter().all(|id| {
            partition_state(&cluster, *id, topic, 0)
                .is_some_and(|(l, _, isr)| l != leader && l >= 0 && !isr.contains(&leader))
        })
    })
    .await;
    let majority_producer = strict(&majority, "30000");
    for i in 0..50 {
        let v = format!("after-{i}");
        let d = majority_producer
            .send(record(topic, &v), Duration::from_secs(30))
            .await
            .expect("acked by the new leader");
        assert!(
            acked.insert(d.offset, v).is_none(),
            "offset acknowledged twice"
        );
    }

    // Heal: the old leader follows, truncates what only it had, and rejoins the ISR.
    cluster.heal(leader);
    wait_for("the old leader back in the ISR", READY, || {
        others.iter().all(|id| {
            partition_state(&cluster, *id, topic, 0).is_some_and(|(_, _, isr)| isr.len() == 3)
        })
    })
    .await;
    wait_for("identical replicas", READY, || {
        let logs: Vec<Vec<u8>> = cluster
            .running()
            .iter()
            .map(|id| partition_log_bytes(cluster.data_dir(*id).unwrap(), topic, 0))
            .collect();
        logs.windows(2).all(|w| w[0] == w[1])
    })
    .await;
    let consumer: BaseConsumer = client(&cluster.bootstrap())
        .set("group.id", "cut-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    let got = read_all(&consumer, topic, 1, high as usize);
    assert_eq!(got.len() as i64, high, "read the whole partition");
    let values: HashMap<i64, String> = got
        .into_iter()
        .map(|g| {
            (
                g.offset,
                String::from_utf8(g.value.unwrap_or_default()).unwrap(),
            )
        })
        .collect();
    for (o, v) in &acked {
        assert_eq!(values.get(o), Some(v), "acknowledged record at offset {o}");
    }
    for v in &lost {
        assert!(
            !values.values().any(|x| x == v),
            "{v}, never acknowledged, survived on the healed cluster"
        );
    }
    cluster.shutdown().await;
}

/// Two client listeners (an INTERNAL/EXTERNAL pair on different addresses): both accept
/// clients, and Metadata answers each with the endpoints of the listener it was asked on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_listener_advertises_its_own_endpoints() {
    init_tracing();
    let _serial = SERIAL.lock().await;
    let internal = format!("127.0.0.1:{}", process::free_port());
    let external = format!("127.0.0.2:{}", process::free_port_on([127, 0, 0, 2].into()));
    let listeners = format!("INTERNAL://{internal},EXTERNAL://{external}");
    let broker = TestBroker::start_with(&[
        ("listeners", &listeners),
        ("advertised.listeners", &listeners),
        (
            "listener.security.protocol.map",
            "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
        ),
        ("inter.broker.listener.name", "INTERNAL"),
    ])
    .await;
    for addr in [&internal, &external] {
        let c: BaseConsumer = client(addr).create().unwrap();
        let md = c
            .fetch_metadata(None, Duration::from_secs(10))
            .expect("metadata");
        let brokers: Vec<String> = md
            .brokers()
            .iter()
            .map(|b| format!("{}:{}", b.host(), b.port()))
            .collect();
        assert_eq!(brokers, vec![addr.to_string()], "Metadata asked on {addr}");
    }
    let producer: FutureProducer = client(&external).create().unwrap();
    let (p, o) = send(
        &producer,
        "two-listeners",
        Some(0),
        b"k",
        b"through EXTERNAL",
    )
    .await;
    let consumer: BaseConsumer = client(&internal)
        .set("group.id", "two-listeners")
        .create()
        .unwrap();
    let got = read_all(&consumer, "two-listeners", 1, 1);
    assert_eq!((got[0].partition, got[0].offset), (p, o));
    assert_eq!(got[0].value.as_deref(), Some(&b"through EXTERNAL"[..]));
    // Clients first: a client outliving its broker spends seconds on reconnects when dropped.
    drop((consumer, producer));
    drop(broker);
}
