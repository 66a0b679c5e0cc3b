//! Admin APIs over raw requests, field by field, against what Kafka 4.1 answers:
//! DescribeTopicPartitions (cursor paging), ListConfigResources, DescribeLogDirs (real sizes),
//! DescribeQuorum, and the authorized-operations bit sets of Metadata, DescribeTopicPartitions,
//! DescribeCluster, DescribeGroups and ConsumerGroupDescribe, also as librdkafka parses them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::raw::RawClient;
use common::*;
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// What a Kafka 4.1 broker without an authorizer reports (AclEntry.supportedOperations).
const TOPIC_OPS: i32 = 3576;
const GROUP_OPS: i32 = 3400;
const CLUSTER_OPS: i32 = 8096;
const NOT_REQUESTED: i32 = i32::MIN;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

fn dtp(topics: &[&str], limit: i32, cursor: Option<(&str, i32)>) -> DescribeTopicPartitionsRequest {
    let mut r = DescribeTopicPartitionsRequest::default();
    r.topics = topics
        .iter()
        .map(|t| {
            let mut tr = TopicRequest::default();
            tr.name = topic_name(t);
            tr
        })
        .collect();
    r.response_partition_limit = limit;
    r.cursor = cursor.map(|(t, p)| {
        let mut c = Cursor::default();
        c.topic_name = topic_name(t);
        c.partition_index = p;
        c
    });
    r
}

fn name_of(t: &describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic) -> String {
    t.name.as_ref().map(|n| n.to_string()).unwrap_or_default()
}

/// Pages through `topics` (empty: all) with `limit` partitions a page; returns every
/// (topic, partition) in the order received and the number of pages.
async fn page_through(
    raw: &mut RawClient,
    topics: &[&str],
    limit: i32,
) -> (Vec<(String, i32)>, usize) {
    let mut seen = Vec::new();
    let mut cursor: Option<(String, i32)> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 100, "paging ends");
        let req = dtp(
            topics,
            limit,
            cursor.as_ref().map(|(t, p)| (t.as_str(), *p)),
        );
        let resp = raw.call(&req, 0).await;
        let count: usize = resp.topics.iter().map(|t| t.partitions.len()).sum();
        assert!(
            count <= limit as usize,
            "page {pages} holds at most {limit}"
        );
        for t in &resp.topics {
            assert_eq!(t.error_code, 0, "{}", name_of(t));
            assert_eq!(t.topic_authorized_operations, TOPIC_OPS);
            assert!(!t.topic_id.is_nil());
            for p in &t.partitions {
                assert_eq!(p.error_code, 0);
                assert_eq!(p.leader_id.0, 1);
                assert_eq!(p.replica_nodes.iter().map(|b| b.0).collect::<Vec<_>>(), [1]);
                assert_eq!(p.isr_nodes.iter().map(|b| b.0).collect::<Vec<_>>(), [1]);
                assert_eq!(p.eligible_leader_replicas, Some(vec![]));
                assert_eq!(p.last_known_elr, Some(vec![]));
                assert!(p.offline_replicas.is_empty());
                seen.push((name_of(t), p.partition_index));
            }
        }
        match resp.next_cursor {
            Some(c) => cursor = Some((c.topic_name.to_string(), c.partition_index)),
            None => return (seen, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_topic_partitions_pages_visit_every_partition_exactly_once() {
    let broker = TestBroker::start().await;
    for (t, n) in [("pc", 3), ("pa", 5), ("pb", 1), ("pd", 2)] {
        broker.create_topic(t, n, &[]).await;
    }
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let mut expected = Vec::new();
    for (t, n) in [("pa", 5), ("pb", 1), ("pc", 3), ("pd", 2)] {
        expected.extend((0..n).map(|p| (t.to_string(), p)));
    }
    for limit in [1, 2, 3, 5, 11, 100] {
        // Every topic, and the same topics named (in another order, one twice).
        let (all, pages) = page_through(&mut raw, &[], limit).await;
        assert_eq!(all, expected, "all topics, limit {limit}");
        assert_eq!(
            pages,
            11usize.div_ceil(limit as usize).max(1),
            "limit {limit}"
        );
        let (named, _) = page_through(&mut raw, &["pd", "pb", "pa", "pc", "pb"], limit).await;
        assert_eq!(named, expected, "named topics, limit {limit}");
    }

    // The limit is used up exactly by "pa": the cursor names the next topic at partition 0.
    let resp = raw.call(&dtp(&[], 5, None), 0).await;
    assert_eq!(resp.topics.len(), 1);
    let c = resp.next_cursor.expect("a cursor");
    assert_eq!(
        (c.topic_name.to_string(), c.partition_index),
        ("pb".into(), 0)
    );
    // Within a topic: the first partition left out.
    let resp = raw.call(&dtp(&[], 4, Some(("pa", 2))), 0).await;
    let got: Vec<_> = resp
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (name_of(t), p.partition_index))
        })
        .collect();
    assert_eq!(
        got,
        [
            ("pa".into(), 2),
            ("pa".into(), 3),
            ("pa".into(), 4),
            ("pb".into(), 0)
        ]
    );
    let c = resp.next_cursor.expect("a cursor");
    assert_eq!(
        (c.topic_name.to_string(), c.partition_index),
        ("pc".into(), 0)
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_topic_partitions_edge_cases_match_kafka() {
    let broker = TestBroker::start_with(&[("auto.create.topics.enable", "false")]).await;
    broker.create_topic("ea", 2, &[]).await;
    broker.create_topic("ec", 3, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;

    // Unknown and invalid names: an error each, no partitions, none of the limit used, and
    // still their operations; nothing is created.
    let resp = raw
        .call(&dtp(&["ec", "missing", "bad name!", "ea"], 2000, None), 0)
        .await;
    let summary: Vec<_> = resp
        .topics
        .iter()
        .map(|t| {
            (
                name_of(t),
                t.error_code,
                t.partitions.len(),
                t.topic_id.is_nil(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("bad name!".into(), 17, 0, true),
            ("ea".into(), 0, 2, false),
            ("ec".into(), 0, 3, false),
            ("missing".into(), 3, 0, true),
        ]
    );
    assert!(
        resp.topics
            .iter()
            .all(|t| t.topic_authorized_operations == TOPIC_OPS)
    );
    assert!(resp.topics.iter().all(|t| !t.is_internal));
    assert!(resp.next_cursor.is_none());

    // A cursor whose topic is not among the named ones fails every named topic.
    let resp = raw
        .call(&dtp(&["ea", "ec", "ea"], 10, Some(("eb", 0))), 0)
        .await;
    let summary: Vec<_> = resp
        .topics
        .iter()
        .map(|t| (name_of(t), t.error_code, t.topic_authorized_operations))
        .collect();
    assert_eq!(
        summary,
        [
            ("ea".into(), 42, NOT_REQUESTED),
            ("ec".into(), 42, NOT_REQUESTED),
            ("ea".into(), 42, NOT_REQUESTED)
        ]
    );
    assert!(resp.next_cursor.is_none());

    // Listing every topic, a cursor topic that does not exist starts at the next name, at 0.
    let resp = raw.call(&dtp(&[], 10, Some(("eb", 2))), 0).await;
    let got: Vec<_> = resp
        .topics
        .iter()
        .map(|t| {
            (
                name_of(t),
                t.partitions
                    .iter()
                    .map(|p| p.partition_index)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(got, [("ec".to_string(), vec![0, 1, 2])]);

    // A cursor partition past the topic's end: the topic with no partitions, and on to the next.
    let resp = raw.call(&dtp(&[], 10, Some(("ea", 7))), 0).await;
    let got: Vec<_> = resp
        .topics
        .iter()
        .map(|t| (name_of(t), t.partitions.len()))
        .collect();
    assert_eq!(got, [("ea".to_string(), 0), ("ec".to_string(), 3)]);
    assert!(resp.next_cursor.is_none());

    // A limit of 0 answers no topic and points at the first.
    let resp = raw.call(&dtp(&[], 0, None), 0).await;
    assert!(resp.topics.is_empty());
    let c = resp.next_cursor.expect("a cursor");
    assert_eq!(
        (c.topic_name.to_string(), c.partition_index),
        ("ea".into(), 0)
    );

    // A limit beyond max.request.partition.size.limit (2000) is cut to it: see the handler's
    // unit tests (a topic of 2001 partitions takes too long to create here).
    let resp = raw.call(&dtp(&["ec"], i32::MAX, None), 0).await;
    assert_eq!(resp.topics[0].partitions.len(), 3);

    // The offsets topic is flagged internal.
    broker.create_topic("__consumer_offsets", 1, &[]).await;
    let resp = raw.call(&dtp(&["__consumer_offsets"], 10, None), 0).await;
    assert!(resp.topics[0].is_internal);
    broker.shutdown().await;
}

fn list_config_resources(types: &[i8]) -> ListConfigResourcesRequest {
    let mut r = ListConfigResourcesRequest::default();
    r.resource_types = types.to_vec();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_config_resources_lists_the_broker_and_topics() {
    let broker = TestBroker::start().await;
    broker.create_topic("lc-b", 1, &[]).await;
    broker.create_topic("lc-a", 2, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let listed = |r: &ListConfigResourcesResponse| -> Vec<(i8, String)> {
        r.config_resources
            .iter()
            .map(|c| (c.resource_type, c.resource_name.to_string()))
            .collect()
    };

    // Every type: broker loggers, brokers, topics (no group or client-metrics configs exist).
    let all = raw.call(&list_config_resources(&[]), 1).await;
    assert_eq!(all.error_code, 0);
    assert_eq!(
        listed(&all),
        [
            (8, "1".to_string()),
            (4, "1".to_string()),
            (2, "lc-a".to_string()),
            (2, "lc-b".to_string())
        ]
    );
    let topics = raw.call(&list_config_resources(&[2, 2]), 1).await;
    assert_eq!(
        listed(&topics),
        [(2, "lc-a".to_string()), (2, "lc-b".to_string())]
    );
    let none = raw.call(&list_config_resources(&[32, 16]), 1).await;
    assert_eq!((none.error_code, listed(&none)), (0, vec![]));
    // A type v1 does not know fails the request.
    let bad = raw.call(&list_config_resources(&[2, 1]), 1).await;
    assert_eq!((bad.error_code, listed(&bad)), (35, vec![]));
    // v0 (ListClientMetricsResources) lists client metrics only.
    let v0 = raw.call(&ListConfigResourcesRequest::default(), 0).await;
    assert_eq!((v0.error_code, v0.config_resources.len()), (0, 0));
    broker.shutdown().await;
}

fn log_file_bytes(dir: &Path) -> i64 {
    std::fs::read_dir(dir)
        .expect("partition dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| std::fs::metadata(&p).expect("metadata").len() as i64)
        .sum()
}

fn sizes(resp: &DescribeLogDirsResponse) -> BTreeMap<(String, i32), i64> {
    resp.results
        .iter()
        .flat_map(|r| {
            r.topics.iter().flat_map(|t| {
                t.partitions.iter().map(|p| {
                    assert_eq!((p.offset_lag, p.is_future_key), (0, false));
                    ((t.name.to_string(), p.partition_index), p.partition_size)
                })
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_log_dirs_reports_real_sizes_and_volume_space() {
    let broker = TestBroker::start().await;
    broker.create_topic("ld", 2, &[]).await;
    broker.create_topic("ld-other", 1, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let mut all = DescribeLogDirsRequest::default();
    all.topics = None; // null: every partition
    let data_dir = std::path::absolute(broker.dir.path()).expect("absolute");

    let before = raw.call(&all, 4).await;
    assert_eq!(before.error_code, 0);
    assert_eq!(before.results.len(), 1);
    let dir = &before.results[0];
    assert_eq!(dir.error_code, 0);
    assert_eq!(dir.log_dir.as_str(), data_dir.to_string_lossy());
    assert!(dir.total_bytes > 0 && dir.usable_bytes > 0 && dir.usable_bytes <= dir.total_bytes);
    assert_eq!(
        sizes(&before),
        BTreeMap::from([
            (("ld".to_string(), 0), 0),
            (("ld".to_string(), 1), 0),
            (("ld-other".to_string(), 0), 0)
        ])
    );

    let producer = broker.producer(&[]);
    for i in 0..50 {
        send(
            &producer,
            "ld",
            Some(0),
            b"k",
            format!("value {i}").as_bytes(),
        )
        .await;
    }
    let after = sizes(&raw.call(&all, 4).await);
    let p0 = after[&("ld".to_string(), 0)];
    assert!(p0 > 0, "the log grew");
    assert_eq!(
        p0,
        log_file_bytes(&data_dir.join("ld-0")),
        "the files' size"
    );
    assert_eq!(after[&("ld".to_string(), 1)], 0);
    send(&producer, "ld", Some(0), b"k", b"one more").await;
    let grown = sizes(&raw.call(&all, 4).await)[&("ld".to_string(), 0)];
    assert!(grown > p0);
    assert_eq!(grown, log_file_bytes(&data_dir.join("ld-0")));

    // A filter answers only the partitions asked for; a topic with none of them is left out.
    let mut filtered = DescribeLogDirsRequest::default();
    let mut t = DescribableLogDirTopic::default();
    t.topic = topic_name("ld");
    t.partitions = vec![1, 9];
    let mut missing = DescribableLogDirTopic::default();
    missing.topic = topic_name("nope");
    missing.partitions = vec![0];
    filtered.topics = Some(vec![t, missing]);
    let resp = raw.call(&filtered, 4).await;
    assert_eq!(sizes(&resp), BTreeMap::from([(("ld".to_string(), 1), 0)]));
    assert_eq!(resp.results[0].topics.len(), 1);
    // An empty list asks for nothing.
    let mut nothing = DescribeLogDirsRequest::default();
    nothing.topics = Some(vec![]);
    let resp = raw.call(&nothing, 4).await;
    assert_eq!(resp.results.len(), 1);
    assert!(resp.results[0].topics.is_empty());
    // Before v4 the volume's space is not on the wire.
    let v1 = raw.call(&all, 1).await;
    assert_eq!(v1.results[0].total_bytes, -1);
    assert_eq!(sizes(&v1)[&("ld".to_string(), 0)], grown);
    broker.shutdown().await;
}

fn describe_quorum(topic: &str, partitions: &[i32]) -> DescribeQuorumRequest {
    let mut t = TopicData::default();
    t.topic_name = topic_name(topic);
    t.partitions = partitions
        .iter()
        .map(|p| {
            let mut d = PartitionData::default();
            d.partition_index = *p;
            d
        })
        .collect();
    let mut r = DescribeQuorumRequest::default();
    r.topics = vec![t];
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_quorum_of_one_node() {
    let broker = TestBroker::start().await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let port: u16 = broker
        .bootstrap()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("port");
    for version in 0..=2 {
        let resp = raw
            .call(&describe_quorum("__cluster_metadata", &[0]), version)
            .await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.topics.len(), 1);
        assert_eq!(resp.topics[0].topic_name.as_str(), "__cluster_metadata");
        let p = &resp.topics[0].partitions[0];
        assert_eq!((p.partition_index, p.error_code, p.leader_id.0), (0, 0, 1));
        // A quorum of one: the Raft term is the epoch; the metadata log holds at least the
        // bootstrap records, all committed.
        assert!(p.leader_epoch >= 1, "epoch {}", p.leader_epoch);
        assert!(p.high_watermark > 0, "high watermark {}", p.high_watermark);
        assert_eq!(p.current_voters.len(), 1);
        let v = &p.current_voters[0];
        assert_eq!(v.replica_id.0, 1);
        assert!(v.log_end_offset >= p.high_watermark);
        if version >= 1 {
            assert!(v.last_fetch_timestamp > 0 && v.last_caught_up_timestamp > 0);
        }
        assert!(p.observers.is_empty());
        if version == 2 {
            assert!(v.replica_directory_id.is_nil());
            assert_eq!(resp.nodes.len(), 1);
            assert_eq!(resp.nodes[0].node_id.0, 1);
            let l: Vec<_> = resp.nodes[0]
                .listeners
                .iter()
                .map(|l| (l.name.to_string(), l.host.to_string(), l.port))
                .collect();
            assert_eq!(
                l,
                [("PLAINTEXT".to_string(), "127.0.0.1".to_string(), port)]
            );
        } else {
            assert!(resp.nodes.is_empty());
        }
    }
    // Anything but __cluster_metadata-0 alone: each named partition is unknown.
    let resp = raw
        .call(&describe_quorum("__cluster_metadata", &[0, 1]), 2)
        .await;
    let errors: Vec<_> = resp.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    assert_eq!(errors, [(0, 3), (1, 3)]);
    assert!(resp.nodes.is_empty());
    let resp = raw.call(&describe_quorum("other", &[0]), 2).await;
    assert_eq!(resp.topics[0].topic_name.as_str(), "other");
    assert_eq!(resp.topics[0].partitions[0].error_code, 3);
    broker.shutdown().await;
}

fn metadata(topics: Option<&[&str]>, topic_ops: bool, cluster_ops: bool) -> MetadataRequest {
    let mut r = MetadataRequest::default();
    r.topics = topics.map(|ts| {
        ts.iter()
            .map(|t| {
                let mut m = MetadataRequestTopic::default();
                m.name = Some(topic_name(t));
                m
            })
            .collect()
    });
    r.include_topic_authorized_operations = topic_ops;
    r.include_cluster_authorized_operations = cluster_ops;
    r
}

fn describe_cluster(ops: bool, endpoint_type: i8) -> DescribeClusterRequest {
    let mut r = DescribeClusterRequest::default();
    r.include_cluster_authorized_operations = ops;
    r.endpoint_type = endpoint_type;
    r
}

/// Joins a classic group with one member (rdkafka's two-step join at v5).
async fn join_classic_group(raw: &mut RawClient, group: &str) {
    let mut find = FindCoordinatorRequest::default();
    find.key = s(group);
    assert_eq!(raw.call(&find, 3).await.error_code, 0);
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(s(group));
    join.session_timeout_ms = 30_000;
    join.rebalance_timeout_ms = 30_000;
    join.protocol_type = s("consumer");
    let mut proto = JoinGroupRequestProtocol::default();
    proto.name = s("range");
    join.protocols = vec![proto];
    let first = raw.call(&join, 5).await;
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED first");
    join.member_id = first.member_id;
    assert_eq!(raw.call(&join, 5).await.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_operations_are_kafkas_sets_when_asked_and_int_min_otherwise() {
    let broker = TestBroker::start_with(&[("auto.create.topics.enable", "false")]).await;
    broker.create_topic("ops", 2, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;

    // Metadata: topics from v8, the cluster only for v8-10.
    for version in [8, 10, 12, 13] {
        let resp = raw
            .call(
                &metadata(Some(&["ops", "absent"]), true, version <= 10),
                version,
            )
            .await;
        let got: Vec<_> = resp
            .topics
            .iter()
            .map(|t| (t.error_code, t.topic_authorized_operations))
            .collect();
        assert_eq!(got, [(0, TOPIC_OPS), (3, TOPIC_OPS)], "v{version}");
        let cluster = if version <= 10 {
            CLUSTER_OPS
        } else {
            NOT_REQUESTED
        };
        assert_eq!(resp.cluster_authorized_operations, cluster, "v{version}");
        let resp = raw.call(&metadata(None, false, false), version).await;
        assert!(
            resp.topics
                .iter()
                .all(|t| t.topic_authorized_operations == NOT_REQUESTED)
        );
        assert_eq!(resp.cluster_authorized_operations, NOT_REQUESTED);
        let resp = raw.call(&metadata(None, true, false), version).await;
        assert!(
            resp.topics
                .iter()
                .all(|t| t.topic_authorized_operations == TOPIC_OPS)
        );
        assert_eq!(resp.cluster_authorized_operations, NOT_REQUESTED);
    }

    // DescribeCluster.
    for version in 0..=2 {
        let resp = raw.call(&describe_cluster(true, 1), version).await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.cluster_authorized_operations, CLUSTER_OPS);
        let resp = raw.call(&describe_cluster(false, 1), version).await;
        assert_eq!(resp.cluster_authorized_operations, NOT_REQUESTED);
    }

    // DescribeGroups from v3, for groups described without error.
    join_classic_group(&mut raw, "ops-classic").await;
    for version in [3, 5, 6] {
        let mut req = DescribeGroupsRequest::default();
        req.groups = vec![GroupId(s("ops-classic")), GroupId(s("ops-unknown"))];
        req.include_authorized_operations = true;
        let resp = raw.call(&req, version).await;
        let got: Vec<_> = resp
            .groups
            .iter()
            .map(|g| (g.error_code, g.authorized_operations))
            .collect();
        // Before v6 an unknown group is a Dead group without error; from v6 GROUP_ID_NOT_FOUND.
        let unknown = if version >= 6 {
            (69, NOT_REQUESTED)
        } else {
            (0, GROUP_OPS)
        };
        assert_eq!(got, [(0, GROUP_OPS), unknown], "v{version}");
        req.include_authorized_operations = false;
        let resp = raw.call(&req, version).await;
        assert!(
            resp.groups
                .iter()
                .all(|g| g.authorized_operations == NOT_REQUESTED)
        );
    }

    // ConsumerGroupDescribe.
    let mut hb = ConsumerGroupHeartbeatRequest::default();
    hb.group_id = GroupId(s("ops-848"));
    hb.member_id = s("ops-member-1");
    hb.member_epoch = 0;
    hb.rebalance_timeout_ms = 30_000;
    hb.subscribed_topic_names = Some(vec![topic_name("ops")]);
    hb.topic_partitions = Some(vec![]);
    assert_eq!(raw.call(&hb, 1).await.error_code, 0);
    let mut req = ConsumerGroupDescribeRequest::default();
    req.group_ids = vec![GroupId(s("ops-848")), GroupId(s("ops-none"))];
    req.include_authorized_operations = true;
    let resp = raw.call(&req, 1).await;
    let got: Vec<_> = resp
        .groups
        .iter()
        .map(|g| (g.error_code, g.authorized_operations))
        .collect();
    assert_eq!(got, [(0, GROUP_OPS), (69, NOT_REQUESTED)]);
    req.include_authorized_operations = false;
    let resp = raw.call(&req, 1).await;
    assert_eq!(resp.groups[0].authorized_operations, NOT_REQUESTED);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_cluster_refuses_other_endpoint_types_with_kafkas_codes() {
    let broker = TestBroker::start().await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let codes = |r: &DescribeClusterResponse| (r.error_code, r.brokers.len());
    assert_eq!(
        codes(&raw.call(&describe_cluster(false, 1), 1).await),
        (0, 1)
    );
    // Controllers: MISMATCHED_ENDPOINT_TYPE; unknown types: UNSUPPORTED_ENDPOINT_TYPE.
    assert_eq!(
        codes(&raw.call(&describe_cluster(false, 2), 1).await),
        (114, 0)
    );
    assert_eq!(
        codes(&raw.call(&describe_cluster(false, 3), 2).await),
        (115, 0)
    );
    assert_eq!(
        codes(&raw.call(&describe_cluster(false, 0), 1).await),
        (115, 0)
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_advertises_the_admin_apis() {
    let broker = TestBroker::start().await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let resp = raw.call(&ApiVersionsRequest::default(), 3).await;
    let range = |key: i16| {
        resp.api_keys
            .iter()
            .find(|k| k.api_key == key)
            .map(|k| (k.min_version, k.max_version))
    };
    assert_eq!(range(35), Some((1, 4)), "DescribeLogDirs");
    assert_eq!(range(55), Some((0, 2)), "DescribeQuorum");
    assert_eq!(range(74), Some((0, 1)), "ListConfigResources");
    assert_eq!(range(75), Some((0, 0)), "DescribeTopicPartitions");
    assert_eq!(range(43), Some((0, 2)), "ElectLeaders");
    assert_eq!(range(45), Some((0, 1)), "AlterPartitionReassignments");
    assert_eq!(range(46), Some((0, 0)), "ListPartitionReassignments");
    broker.shutdown().await;
}

/// A single node is its own active controller: ElectLeaders, AlterPartitionReassignments and
/// ListPartitionReassignments run there without forwarding, with Kafka's codes (the cluster
/// cases are in `tests/reassignment.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_admin_apis_on_a_single_node() {
    let broker = TestBroker::start().await;
    broker.create_topic("solo", 2, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let mut tp = elect_leaders_request::TopicPartitions::default();
    tp.topic = topic_name("solo");
    tp.partitions = vec![0, 1, 9];
    let mut elect = ElectLeadersRequest::default();
    elect.topic_partitions = Some(vec![tp]);
    for version in 0..=2 {
        let r = raw.call(&elect, version).await;
        assert_eq!(r.error_code, 0, "v{version}");
        let codes: Vec<(i32, i16)> = r.replica_election_results[0]
            .partition_result
            .iter()
            .map(|p| (p.partition_id, p.error_code))
            .collect();
        assert_eq!(codes, vec![(0, 84), (1, 84), (9, 3)], "v{version}");
    }
    elect.election_type = 1;
    let r = raw.call(&elect, 1).await;
    assert_eq!(
        r.replica_election_results[0].partition_result[0].error_code, 84,
        "UNCLEAN"
    );
    elect.election_type = 5;
    let r = raw.call(&elect, 2).await;
    assert_eq!(
        r.error_code, 42,
        "an unknown election type is INVALID_REQUEST"
    );

    let reassign = |replicas: Option<Vec<i32>>| {
        let mut p = alter_partition_reassignments_request::ReassignablePartition::default();
        p.partition_index = 0;
        p.replicas = replicas.map(|rs| rs.into_iter().map(BrokerId).collect());
        let mut t = alter_partition_reassignments_request::ReassignableTopic::default();
        t.name = topic_name("solo");
        t.partitions = vec![p];
        let mut r = AlterPartitionReassignmentsRequest::default();
        r.topics = vec![t];
        r
    };
    let code = |r: &AlterPartitionReassignmentsResponse| r.responses[0].partitions[0].error_code;
    assert_eq!(
        code(&raw.call(&reassign(None), 0).await),
        85,
        "nothing to cancel"
    );
    assert_eq!(
        code(&raw.call(&reassign(Some(vec![2])), 0).await),
        39,
        "unknown broker"
    );
    assert_eq!(
        code(&raw.call(&reassign(Some(vec![1, 1])), 1).await),
        39,
        "duplicate"
    );
    // The partition's own replica: nothing to move, so nothing stays in progress.
    assert_eq!(code(&raw.call(&reassign(Some(vec![1])), 1).await), 0);
    let list = raw
        .call(&ListPartitionReassignmentsRequest::default(), 0)
        .await;
    assert_eq!((list.error_code, list.topics.len()), (0, 0), "{list:?}");
    broker.shutdown().await;
}

/// librdkafka's own admin calls (rdkafka 0.39 wraps none of them, so through its C API): the
/// authorized operations it parses from our answers are Kafka's lists.
mod librdkafka {
    use std::ffi::{CStr, CString};

    use rdkafka::bindings as rd;
    use rdkafka::bindings::rd_kafka_admin_op_t as Op;

    /// Operation codes as librdkafka lists them, lowest first.
    pub const TOPIC: &[u32] = &[3, 4, 5, 6, 7, 8, 10, 11];
    pub const GROUP: &[u32] = &[3, 6, 8, 10, 11];
    pub const CLUSTER: &[u32] = &[5, 7, 8, 9, 10, 11, 12];

    pub struct Admin(pub rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>);

    impl Admin {
        /// Starts one admin call with authorized operations requested and waits for its result
        /// event; `read` turns the event into the operation lists.
        fn call<T>(
            &self,
            op: Op,
            launch: impl FnOnce(
                *mut rd::rd_kafka_t,
                *const rd::rd_kafka_AdminOptions_t,
                *mut rd::rd_kafka_queue_t,
            ),
            read: impl FnOnce(*mut rd::rd_kafka_event_t) -> T,
        ) -> T {
            let rk = self.0.inner().native_ptr();
            // SAFETY: `rk` lives as long as `self`; every object created here is destroyed
            // here, after the event that refers to it.
            unsafe {
                let options = rd::rd_kafka_AdminOptions_new(rk, op);
                assert!(
                    rd::rd_kafka_AdminOptions_set_include_authorized_operations(options, 1)
                        .is_null()
                );
                let queue = rd::rd_kafka_queue_new(rk);
                launch(rk, options, queue);
                let event = rd::rd_kafka_queue_poll(queue, 30_000);
                assert!(!event.is_null(), "an answer in time");
                let err = rd::rd_kafka_event_error(event);
                assert_eq!(
                    err,
                    rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
                    "{:?}",
                    CStr::from_ptr(rd::rd_kafka_event_error_string(event))
                );
                let out = read(event);
                rd::rd_kafka_event_destroy(event);
                rd::rd_kafka_queue_destroy(queue);
                rd::rd_kafka_AdminOptions_destroy(options);
                out
            }
        }

        pub fn cluster(&self) -> Vec<u32> {
            self.call(
                Op::RD_KAFKA_ADMIN_OP_DESCRIBECLUSTER,
                |rk, o, q| unsafe { rd::rd_kafka_DescribeCluster(rk, o, q) },
                |ev| unsafe {
                    let r = rd::rd_kafka_event_DescribeCluster_result(ev);
                    let mut n = 0;
                    let ops = rd::rd_kafka_DescribeCluster_result_authorized_operations(r, &mut n);
                    codes(ops, n)
                },
            )
        }

        pub fn topics(&self, names: &[&str]) -> Vec<(String, Vec<u32>)> {
            let owned: Vec<CString> = names.iter().map(|n| CString::new(*n).unwrap()).collect();
            let mut ptrs: Vec<*const std::os::raw::c_char> =
                owned.iter().map(|c| c.as_ptr()).collect();
            // SAFETY: the names outlive the collection, which is destroyed after the call.
            let collection = unsafe {
                rd::rd_kafka_TopicCollection_of_topic_names(ptrs.as_mut_ptr(), ptrs.len())
            };
            let out = self.call(
                Op::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
                |rk, o, q| unsafe { rd::rd_kafka_DescribeTopics(rk, collection, o, q) },
                |ev| unsafe {
                    let r = rd::rd_kafka_event_DescribeTopics_result(ev);
                    let mut n = 0;
                    let topics = rd::rd_kafka_DescribeTopics_result_topics(r, &mut n);
                    (0..n)
                        .map(|i| {
                            let t = *topics.add(i);
                            assert!(rd::rd_kafka_TopicDescription_error(t).is_null());
                            let name = CStr::from_ptr(rd::rd_kafka_TopicDescription_name(t));
                            let mut m = 0;
                            let ops =
                                rd::rd_kafka_TopicDescription_authorized_operations(t, &mut m);
                            (name.to_string_lossy().into_owned(), codes(ops, m))
                        })
                        .collect()
                },
            );
            unsafe { rd::rd_kafka_TopicCollection_destroy(collection) };
            out
        }

        pub fn groups(&self, ids: &[&str]) -> Vec<(String, Vec<u32>)> {
            let owned: Vec<CString> = ids.iter().map(|n| CString::new(*n).unwrap()).collect();
            let mut ptrs: Vec<*const std::os::raw::c_char> =
                owned.iter().map(|c| c.as_ptr()).collect();
            self.call(
                Op::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
                |rk, o, q| unsafe {
                    rd::rd_kafka_DescribeConsumerGroups(rk, ptrs.as_mut_ptr(), ptrs.len(), o, q)
                },
                |ev| unsafe {
                    let r = rd::rd_kafka_event_DescribeConsumerGroups_result(ev);
                    let mut n = 0;
                    let groups = rd::rd_kafka_DescribeConsumerGroups_result_groups(r, &mut n);
                    (0..n)
                        .map(|i| {
                            let g = *groups.add(i);
                            let error = rd::rd_kafka_ConsumerGroupDescription_error(g);
                            assert!(
                                error.is_null(),
                                "{:?}",
                                CStr::from_ptr(rd::rd_kafka_error_string(error))
                            );
                            let id =
                                CStr::from_ptr(rd::rd_kafka_ConsumerGroupDescription_group_id(g));
                            let mut m = 0;
                            let ops = rd::rd_kafka_ConsumerGroupDescription_authorized_operations(
                                g, &mut m,
                            );
                            (id.to_string_lossy().into_owned(), codes(ops, m))
                        })
                        .collect()
                },
            )
        }
    }

    /// The operation list librdkafka returns (NULL: not requested).
    unsafe fn codes(ops: *const rd::rd_kafka_AclOperation_t, n: usize) -> Vec<u32> {
        assert!(!ops.is_null(), "authorized operations were parsed");
        // SAFETY: librdkafka returns `n` entries at `ops`; read as integers, any value is valid.
        (0..n)
            .map(|i| unsafe { *(ops as *const u32).add(i) })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_admin_calls_parse_kafkas_authorized_operations() {
    let broker = TestBroker::start().await;
    broker.create_topic("rk-ops", 2, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    join_classic_group(&mut raw, "rk-classic").await;
    let mut hb = ConsumerGroupHeartbeatRequest::default();
    hb.group_id = GroupId(s("rk-848"));
    hb.member_id = s("rk-member-1");
    hb.rebalance_timeout_ms = 30_000;
    hb.subscribed_topic_names = Some(vec![topic_name("rk-ops")]);
    hb.topic_partitions = Some(vec![]);
    assert_eq!(raw.call(&hb, 1).await.error_code, 0);
    let admin = librdkafka::Admin(broker.admin());
    let (cluster, topics, groups) = tokio::task::spawn_blocking(move || {
        (
            admin.cluster(),
            admin.topics(&["rk-ops"]),
            admin.groups(&["rk-classic", "rk-848"]),
        )
    })
    .await
    .expect("admin calls");
    assert_eq!(cluster, librdkafka::CLUSTER);
    assert_eq!(topics, [("rk-ops".to_string(), librdkafka::TOPIC.to_vec())]);
    // A classic group (DescribeGroups) and a KIP-848 one (ConsumerGroupDescribe).
    assert_eq!(
        groups,
        [
            ("rk-classic".to_string(), librdkafka::GROUP.to_vec()),
            ("rk-848".to_string(), librdkafka::GROUP.to_vec())
        ]
    );
    broker.shutdown().await;
}
