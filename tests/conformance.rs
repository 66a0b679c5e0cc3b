//! Answers where Gregor used to differ from Kafka 4.1 (found by independent clients' test suites),
//! each checked through a real client or a raw request: commits to unknown partitions, group
//! configs (DescribeConfigs and IncrementalAlterConfigs on GROUP resources, applied to the
//! group), topic configs altered at run time, DescribeConfigs types and documentation, null
//! error messages where Kafka sends null, the Metadata answer that starts an auto-creation, and
//! transactional producers failing at once while transactions do not exist.

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::{TestBroker, WAIT, send};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_CONFIG: i16 = 40;
const INVALID_REQUEST: i16 = 42;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn commit_request(group: &str, topics: &[(&str, &[i32])]) -> OffsetCommitRequest {
    let mut r = OffsetCommitRequest::default();
    r.group_id = GroupId(s(group));
    r.generation_id_or_member_epoch = -1;
    r.topics = topics
        .iter()
        .map(|(t, parts)| {
            let mut ct = offset_commit_request::OffsetCommitRequestTopic::default();
            ct.name = TopicName(s(t));
            ct.partitions = parts
                .iter()
                .map(|p| {
                    let mut cp = offset_commit_request::OffsetCommitRequestPartition::default();
                    cp.partition_index = *p;
                    cp.committed_offset = 7;
                    cp
                })
                .collect();
            ct
        })
        .collect();
    r
}

fn codes(r: &OffsetCommitResponse) -> Vec<(String, i32, i16)> {
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.0.to_string(), p.partition_index, p.error_code))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_commits_to_unknown_topics_or_partitions_are_refused() {
    let broker = TestBroker::start_with(&[("auto.create.topics.enable", "false")]).await;
    broker.create_topic("known", 2, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    for version in [2, 8, 9] {
        let group = format!("g-commit-{version}");
        let req = commit_request(&group, &[("known", &[0, 1, 2]), ("nowhere", &[0])]);
        let resp = raw.call(&req, version).await;
        assert_eq!(
            codes(&resp),
            vec![
                ("known".into(), 0, 0),
                ("known".into(), 1, 0),
                ("known".into(), 2, UNKNOWN_TOPIC_OR_PARTITION),
                ("nowhere".into(), 0, UNKNOWN_TOPIC_OR_PARTITION),
            ],
            "v{version}"
        );
        // Only the known partitions were committed.
        let mut f = OffsetFetchRequest::default();
        f.group_id = GroupId(s(&group));
        f.topics = None;
        let fetched = raw.call(&f, 7).await;
        let committed: Vec<(String, i32, i64)> = fetched
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.name.0.to_string(), p.partition_index, p.committed_offset))
            })
            .collect();
        assert_eq!(
            committed,
            vec![("known".into(), 0, 7), ("known".into(), 1, 7)]
        );
    }
    // A commit made only of unknown partitions creates no group.
    let req = commit_request("g-ghost", &[("nowhere", &[0, 1])]);
    let resp = raw.call(&req, 9).await;
    assert!(
        codes(&resp)
            .iter()
            .all(|(_, _, c)| *c == UNKNOWN_TOPIC_OR_PARTITION)
    );
    let mut d = DescribeGroupsRequest::default();
    d.groups = vec![GroupId(s("g-ghost"))];
    let described = raw.call(&d, 5).await;
    assert_eq!(described.groups[0].group_state.as_str(), "Dead");

    // OffsetDelete: an unknown topic's partitions are UNKNOWN_TOPIC_OR_PARTITION.
    let mut del = OffsetDeleteRequest::default();
    del.group_id = GroupId(s("g-commit-9"));
    for t in ["known", "nowhere"] {
        let mut dt = offset_delete_request::OffsetDeleteRequestTopic::default();
        dt.name = TopicName(s(t));
        let mut dp = offset_delete_request::OffsetDeleteRequestPartition::default();
        dp.partition_index = 0;
        dt.partitions.push(dp);
        del.topics.push(dt);
    }
    let deleted = raw.call(&del, 0).await;
    assert_eq!(deleted.error_code, 0);
    let by_topic: Vec<(String, i16)> = deleted
        .topics
        .iter()
        .map(|t| (t.name.0.to_string(), t.partitions[0].error_code))
        .collect();
    assert!(by_topic.contains(&("known".into(), 0)), "{by_topic:?}");
    assert!(
        by_topic.contains(&("nowhere".into(), UNKNOWN_TOPIC_OR_PARTITION)),
        "{by_topic:?}"
    );

    // Through librdkafka: a commit naming a missing topic reports its error.
    let consumer = broker.consumer(&[("group.id", "g-rdkafka")]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("nowhere", 0, Offset::Offset(5))
        .unwrap();
    let err = consumer.commit(&tpl, CommitMode::Sync).unwrap_err();
    assert!(
        matches!(
            err,
            KafkaError::ConsumerCommit(RDKafkaErrorCode::UnknownTopicOrPartition)
        ),
        "{err:?}"
    );
    broker.shutdown().await;
}

fn describe(resource_type: i8, name: &str, docs: bool) -> DescribeConfigsRequest {
    let mut r = DescribeConfigsRequest::default();
    let mut res = describe_configs_request::DescribeConfigsResource::default();
    res.resource_type = resource_type;
    res.resource_name = s(name);
    res.configuration_keys = None;
    r.resources = vec![res];
    r.include_documentation = docs;
    r
}

fn config<'a>(
    r: &'a DescribeConfigsResponse,
    name: &str,
) -> &'a describe_configs_response::DescribeConfigsResourceResult {
    r.results[0]
        .configs
        .iter()
        .find(|c| c.name.as_str() == name)
        .unwrap_or_else(|| panic!("{name} described"))
}

fn alter(
    resource_type: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    let mut r = IncrementalAlterConfigsRequest::default();
    let mut res = incremental_alter_configs_request::AlterConfigsResource::default();
    res.resource_type = resource_type;
    res.resource_name = s(name);
    res.configs = ops
        .iter()
        .map(|(n, op, v)| {
            let mut c = incremental_alter_configs_request::AlterableConfig::default();
            c.name = s(n);
            c.config_operation = *op;
            c.value = v.map(s);
            c
        })
        .collect();
    r.resources = vec![res];
    r.validate_only = validate_only;
    r
}

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const GROUP: i8 = 32;
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// A KIP-848 join over a raw ConsumerGroupHeartbeat: the interval the group hands out.
async fn heartbeat_interval(raw: &mut RawClient, group: &str, topic: &str) -> i32 {
    let mut hb = ConsumerGroupHeartbeatRequest::default();
    hb.group_id = GroupId(s(group));
    hb.member_id = s("m-raw-0000000000000001");
    hb.member_epoch = 0;
    hb.rebalance_timeout_ms = 30_000;
    hb.subscribed_topic_names = Some(vec![TopicName(s(topic))]);
    hb.topic_partitions = Some(vec![]);
    let resp = raw.call(&hb, 0).await;
    assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
    // Leave, so the group can be joined again with the next settings.
    let mut leave = ConsumerGroupHeartbeatRequest::default();
    leave.group_id = GroupId(s(group));
    leave.member_id = resp.member_id.clone().unwrap_or_default();
    leave.member_epoch = -1;
    let left = raw.call(&leave, 0).await;
    assert_eq!(left.error_code, 0);
    resp.heartbeat_interval_ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_configs_are_described_altered_applied_and_kept() {
    let props = [
        ("group.consumer.min.heartbeat.interval.ms", "1000"),
        ("group.consumer.min.session.timeout.ms", "6000"),
    ];
    let mut broker = TestBroker::start_with(&props).await;
    broker.create_topic("gc", 2, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;

    // Any group id is described, every config at its default.
    let d = raw.call(&describe(GROUP, "never-seen", false), 4).await;
    assert_eq!(d.results[0].error_code, 0);
    let session = config(&d, "consumer.session.timeout.ms");
    assert_eq!(session.value.as_deref(), Some("45000"));
    assert_eq!(session.config_source, 5, "DEFAULT_CONFIG");
    assert_eq!(session.config_type, 3, "INT");
    for name in [
        "consumer.heartbeat.interval.ms",
        "share.session.timeout.ms",
        "share.heartbeat.interval.ms",
        "share.record.lock.duration.ms",
        "share.auto.offset.reset",
        "share.isolation.level",
        "streams.session.timeout.ms",
        "streams.heartbeat.interval.ms",
        "streams.num.standby.replicas",
    ] {
        config(&d, name);
    }
    // An empty group id is an invalid request.
    let d = raw.call(&describe(GROUP, "", false), 4).await;
    assert_eq!(d.results[0].error_code, INVALID_REQUEST);

    assert_eq!(heartbeat_interval(&mut raw, "dyn", "gc").await, 5000);

    // Validation: unknown names, bad values, bounds, session above heartbeat.
    for (ops, code) in [
        (vec![("no.such.config", SET, Some("1"))], INVALID_CONFIG),
        (
            vec![("consumer.heartbeat.interval.ms", SET, Some("abc"))],
            INVALID_CONFIG,
        ),
        (
            vec![("consumer.heartbeat.interval.ms", SET, Some("500"))],
            INVALID_CONFIG,
        ),
        (
            vec![("consumer.session.timeout.ms", SET, Some("90000"))],
            INVALID_CONFIG,
        ),
        (
            vec![
                ("consumer.session.timeout.ms", SET, Some("7000")),
                ("consumer.heartbeat.interval.ms", SET, Some("8000")),
            ],
            INVALID_CONFIG,
        ),
        (
            vec![("share.auto.offset.reset", APPEND, Some("x"))],
            INVALID_REQUEST,
        ),
    ] {
        let r = raw.call(&alter(GROUP, "dyn", &ops, false), 1).await;
        assert_eq!(r.responses[0].error_code, code, "{ops:?}");
        assert!(r.responses[0].error_message.is_some());
    }
    // validate_only changes nothing.
    let r = raw
        .call(
            &alter(
                GROUP,
                "dyn",
                &[("consumer.heartbeat.interval.ms", SET, Some("1500"))],
                true,
            ),
            1,
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(heartbeat_interval(&mut raw, "dyn", "gc").await, 5000);

    let r = raw
        .call(
            &alter(
                GROUP,
                "dyn",
                &[
                    ("consumer.heartbeat.interval.ms", SET, Some("1500")),
                    ("share.auto.offset.reset", SET, Some("earliest")),
                ],
                false,
            ),
            1,
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(r.responses[0].error_message, None);
    let d = raw.call(&describe(GROUP, "dyn", false), 4).await;
    let hb = config(&d, "consumer.heartbeat.interval.ms");
    assert_eq!(hb.value.as_deref(), Some("1500"));
    assert_eq!(hb.config_source, 8, "GROUP_CONFIG");
    // Listed among the config resources (KIP-1142) as a group with configs of its own.
    let mut list = ListConfigResourcesRequest::default();
    list.resource_types = vec![GROUP];
    let listed = raw.call(&list, 1).await;
    assert_eq!(listed.error_code, 0);
    let groups: Vec<&str> = listed
        .config_resources
        .iter()
        .map(|r| r.resource_name.as_str())
        .collect();
    assert_eq!(groups, vec!["dyn"]);
    // Applied to the group's members.
    assert_eq!(heartbeat_interval(&mut raw, "dyn", "gc").await, 1500);
    // Other groups keep the broker's default.
    assert_eq!(heartbeat_interval(&mut raw, "other", "gc").await, 5000);

    // Kept across a restart.
    drop(raw);
    broker.restart(&props).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let d = raw.call(&describe(GROUP, "dyn", false), 4).await;
    assert_eq!(
        config(&d, "share.auto.offset.reset").value.as_deref(),
        Some("earliest")
    );
    assert_eq!(heartbeat_interval(&mut raw, "dyn", "gc").await, 1500);

    // DELETE goes back to the default.
    let r = raw
        .call(
            &alter(
                GROUP,
                "dyn",
                &[("consumer.heartbeat.interval.ms", DELETE, None)],
                false,
            ),
            1,
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(heartbeat_interval(&mut raw, "dyn", "gc").await, 5000);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_are_altered_at_run_time() {
    let broker = TestBroker::start().await;
    broker.create_topic("alt", 1, &[]).await;
    let producer = broker.producer(&[]);
    send(&producer, "alt", Some(0), b"k", &[7u8; 4000]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;

    let r = raw
        .call(
            &alter(
                TOPIC,
                "alt",
                &[
                    ("max.message.bytes", SET, Some("2000")),
                    ("cleanup.policy", APPEND, Some("compact")),
                ],
                false,
            ),
            0,
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0, "{:?}", r.responses[0]);
    let d = raw.call(&describe(TOPIC, "alt", false), 4).await;
    assert_eq!(
        config(&d, "cleanup.policy").value.as_deref(),
        Some("delete,compact")
    );
    assert_eq!(config(&d, "max.message.bytes").config_source, 1);

    // The open log applies the new limit at once: a 4000-byte record is now too large.
    let err = producer
        .send(
            FutureRecord::to("alt")
                .partition(0)
                .key("k")
                .payload(&[7u8; 4000][..]),
            WAIT,
        )
        .await
        .map(|_| ())
        .unwrap_err()
        .0;
    assert!(
        matches!(
            err,
            KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
        ),
        "{err:?}"
    );

    // SUBTRACT and DELETE; validation; unknown topic; broker resources are static.
    let r = raw
        .call(
            &alter(
                TOPIC,
                "alt",
                &[
                    ("cleanup.policy", SUBTRACT, Some("delete")),
                    ("max.message.bytes", DELETE, None),
                ],
                false,
            ),
            1,
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let d = raw.call(&describe(TOPIC, "alt", false), 4).await;
    assert_eq!(
        config(&d, "cleanup.policy").value.as_deref(),
        Some("compact")
    );
    assert_eq!(config(&d, "max.message.bytes").config_source, 5);
    send(&producer, "alt", Some(0), b"k", &[7u8; 4000]).await;
    for (resource, name, ops, code) in [
        (
            TOPIC,
            "alt",
            vec![("retention.ms", SET, Some("soon"))],
            INVALID_CONFIG,
        ),
        (
            TOPIC,
            "alt",
            vec![("retention.ms", APPEND, Some("1"))],
            INVALID_REQUEST,
        ),
        (
            TOPIC,
            "alt",
            vec![("bogus", SET, Some("1"))],
            INVALID_CONFIG,
        ),
        (
            TOPIC,
            "absent",
            vec![("retention.ms", SET, Some("1"))],
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        (
            BROKER,
            "1",
            vec![("log.retention.ms", SET, Some("1"))],
            INVALID_REQUEST,
        ),
    ] {
        let r = raw.call(&alter(resource, name, &ops, false), 1).await;
        assert_eq!(r.responses[0].error_code, code, "{name} {ops:?}");
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn described_configs_carry_kafkas_types_and_documentation_on_request() {
    let broker = TestBroker::start().await;
    broker.create_topic("types", 1, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let d = raw.call(&describe(TOPIC, "types", false), 4).await;
    for (name, ty) in [
        ("retention.ms", 5),
        ("segment.bytes", 3),
        ("cleanup.policy", 7),
        ("preallocate", 1),
        ("min.cleanable.dirty.ratio", 6),
        ("compression.type", 2),
        ("leader.replication.throttled.replicas", 7),
    ] {
        let c = config(&d, name);
        assert_eq!(c.config_type, ty, "{name}");
        assert_eq!(
            c.documentation, None,
            "{name}: no documentation unless asked"
        );
    }
    // Kafka leaves a described resource's message at the schema default "".
    assert_eq!(d.results[0].error_message.as_deref(), Some(""));
    let d = raw.call(&describe(BROKER, "1", true), 4).await;
    for (name, ty) in [
        ("offsets.topic.replication.factor", 4),
        ("num.partitions", 3),
        ("log.retention.ms", 5),
        ("auto.create.topics.enable", 1),
        ("listeners", 2),
        ("process.roles", 7),
    ] {
        let c = config(&d, name);
        assert_eq!(c.config_type, ty, "{name}");
        assert!(
            c.documentation.as_ref().is_some_and(|d| !d.is_empty()),
            "{name} documented"
        );
    }
    // Every described config has a type and documentation.
    for resource in [(TOPIC, "types"), (BROKER, "1"), (GROUP, "g")] {
        let d = raw.call(&describe(resource.0, resource.1, true), 4).await;
        for c in &d.results[0].configs {
            assert_ne!(c.config_type, 0, "{}", c.name.as_str());
            assert!(c.documentation.is_some(), "{} documented", c.name.as_str());
        }
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_messages_are_null_where_kafka_sends_null() {
    let broker = TestBroker::start().await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    for version in [2, 5, 7] {
        let mut r = CreateTopicsRequest::default();
        let mut t = create_topics_request::CreatableTopic::default();
        t.name = TopicName(s(&format!("nulls-{version}")));
        t.num_partitions = 1;
        t.replication_factor = 1;
        r.topics = vec![t];
        r.timeout_ms = 5000;
        let resp = raw.call(&r, version).await;
        assert_eq!(resp.topics[0].error_code, 0);
        assert_eq!(resp.topics[0].error_message, None, "v{version}");
    }
    // An error keeps Kafka's message.
    let mut r = CreateTopicsRequest::default();
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(s("nulls-7"));
    t.num_partitions = 1;
    t.replication_factor = 1;
    r.topics = vec![t];
    let resp = raw.call(&r, 7).await;
    assert_eq!(resp.topics[0].error_code, 36);
    assert_eq!(
        resp.topics[0].error_message.as_deref(),
        Some("Topic 'nulls-7' already exists.")
    );
    // FindCoordinator v1-3 carries Errors.NONE's message, as Kafka's does.
    let mut f = FindCoordinatorRequest::default();
    f.key = s("some-group");
    let resp = raw.call(&f, 3).await;
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.error_message.as_deref(), Some("NONE"));
    broker.shutdown().await;
}

fn metadata_request(topic: &str) -> MetadataRequest {
    let mut r = MetadataRequest::default();
    let mut t = metadata_request::MetadataRequestTopic::default();
    t.name = Some(TopicName(s(topic)));
    r.topics = Some(vec![t]);
    r.allow_auto_topic_creation = true;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_that_starts_an_auto_creation_answers_as_kraft_kafka() {
    let broker = TestBroker::start_with(&[("num.partitions", "3")]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let first = raw.call(&metadata_request("made-on-ask"), 12).await;
    assert_eq!(first.topics[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);
    assert!(first.topics[0].partitions.is_empty());
    let second = raw.call(&metadata_request("made-on-ask"), 12).await;
    assert_eq!(second.topics[0].error_code, 0);
    assert_eq!(second.topics[0].partitions.len(), 3);

    // Deleted, then asked for again with auto-creation on: no partitions in that answer.
    let mut del = DeleteTopicsRequest::default();
    let mut dt = delete_topics_request::DeleteTopicState::default();
    dt.name = Some(TopicName(s("made-on-ask")));
    del.topics = vec![dt];
    del.timeout_ms = 5000;
    assert_eq!(raw.call(&del, 6).await.responses[0].error_code, 0);
    let again = raw.call(&metadata_request("made-on-ask"), 12).await;
    assert_eq!(again.topics[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);
    assert!(again.topics[0].partitions.is_empty());

    // librdkafka producing to a topic nobody created still delivers.
    let producer = broker.producer(&[]);
    let (partition, offset) = send(&producer, "fresh-by-produce", None, b"k", b"v").await;
    assert!((0..3).contains(&partition));
    assert_eq!(offset, 0);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_producers_fail_at_once_while_transactions_do_not_exist() {
    let broker = TestBroker::start().await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let mut f = FindCoordinatorRequest::default();
    f.key_type = 1;
    f.coordinator_keys = vec![s("txn-1")];
    let resp = raw.call(&f, 4).await;
    assert_eq!(
        resp.coordinators[0].error_code,
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
    let mut i = InitProducerIdRequest::default();
    i.transactional_id = Some(TransactionalId(s("txn-1")));
    i.transaction_timeout_ms = 60_000;
    let resp = raw.call(&i, 4).await;
    assert_eq!(resp.error_code, TRANSACTIONAL_ID_AUTHORIZATION_FAILED);

    // librdkafka's init_transactions returns an error (instead of retrying until its timeout).
    let producer: FutureProducer = broker
        .config()
        .set("transactional.id", "txn-rdkafka")
        .create()
        .expect("producer");
    let started = std::time::Instant::now();
    let err = producer
        .init_transactions(Duration::from_secs(60))
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "init_transactions waited for its timeout: {err:?}"
    );
    assert!(
        matches!(
            &err,
            KafkaError::Transaction(e) if e.code() == RDKafkaErrorCode::TransactionalIdAuthorizationFailed
        ),
        "{err:?}"
    );
    // Idempotent, non-transactional producing is unaffected.
    let plain = broker.producer(&[("enable.idempotence", "true")]);
    plain
        .send(FutureRecord::to("after-txn").key("k").payload("v"), WAIT)
        .await
        .map_err(|(e, _)| e)
        .expect("delivered");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_groups_answers_consumer_protocol_groups_as_kafka() {
    let broker = TestBroker::start().await;
    broker.create_topic("dg", 1, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    // A KIP-848 group (its member joins, then leaves; the group stays).
    heartbeat_interval(&mut raw, "kip848", "dg").await;
    let describe = |ids: &[&str]| {
        let mut d = DescribeGroupsRequest::default();
        d.groups = ids.iter().map(|g| GroupId(s(g))).collect();
        d
    };
    let v6 = raw.call(&describe(&["kip848", "absent"]), 6).await;
    let got: Vec<(i16, &str, Option<&str>)> = v6
        .groups
        .iter()
        .map(|g| {
            (
                g.error_code,
                g.group_state.as_str(),
                g.error_message.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (69, "Dead", Some("Group kip848 is not a classic group.")),
            (69, "Dead", Some("Group absent not found.")),
        ]
    );
    let v5 = raw.call(&describe(&["kip848", "absent"]), 5).await;
    for g in &v5.groups {
        assert_eq!((g.error_code, g.group_state.as_str()), (0, "Dead"));
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_commit_versions_and_member_epochs_are_checked_as_kafka() {
    const ILLEGAL_GENERATION: i16 = 22;
    const UNSUPPORTED_VERSION: i16 = 35;
    const GROUP_ID_NOT_FOUND: i16 = 69;
    const FENCED_MEMBER_EPOCH: i16 = 110;
    const STALE_MEMBER_EPOCH: i16 = 113;
    let broker = TestBroker::start().await;
    broker.create_topic("oc", 1, &[]).await;
    let mut raw = RawClient::connect(&broker.bootstrap()).await;
    let commit = |group: &str, member: &str, epoch: i32| {
        let mut r = commit_request(group, &[("oc", &[0])]);
        r.member_id = s(member);
        r.generation_id_or_member_epoch = epoch;
        r
    };
    // A member commit to a group that does not exist.
    let code = |r: OffsetCommitResponse| r.topics[0].partitions[0].error_code;
    assert_eq!(
        code(raw.call(&commit("none", "m", 3), 9).await),
        GROUP_ID_NOT_FOUND
    );
    assert_eq!(
        code(raw.call(&commit("none", "m", 3), 8).await),
        ILLEGAL_GENERATION
    );

    // A KIP-848 member: v9 with its epoch; an older version, or another epoch, is refused.
    let mut hb = ConsumerGroupHeartbeatRequest::default();
    hb.group_id = GroupId(s("live"));
    hb.member_id = s("m-raw-0000000000000002");
    hb.member_epoch = 0;
    hb.rebalance_timeout_ms = 30_000;
    hb.subscribed_topic_names = Some(vec![TopicName(s("oc"))]);
    hb.topic_partitions = Some(vec![]);
    let joined = raw.call(&hb, 0).await;
    assert_eq!(joined.error_code, 0);
    let member = joined.member_id.clone().unwrap_or_default().to_string();
    let epoch = joined.member_epoch;
    assert_eq!(code(raw.call(&commit("live", &member, epoch), 9).await), 0);
    assert_eq!(
        code(raw.call(&commit("live", &member, epoch), 8).await),
        UNSUPPORTED_VERSION
    );
    assert_eq!(
        code(raw.call(&commit("live", &member, epoch + 1), 9).await),
        FENCED_MEMBER_EPOCH
    );
    if epoch > 0 {
        assert_eq!(
            code(raw.call(&commit("live", &member, epoch - 1), 9).await),
            STALE_MEMBER_EPOCH
        );
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_group_config_changes_are_all_kept() {
    let broker = TestBroker::start().await;
    let settings = [
        ("share.auto.offset.reset", "earliest"),
        ("share.isolation.level", "read_committed"),
        ("streams.num.standby.replicas", "1"),
        ("share.record.lock.duration.ms", "20000"),
        ("share.session.timeout.ms", "50000"),
        ("share.heartbeat.interval.ms", "6000"),
        ("streams.session.timeout.ms", "50000"),
        ("streams.heartbeat.interval.ms", "6000"),
        ("consumer.session.timeout.ms", "50000"),
        ("consumer.heartbeat.interval.ms", "6000"),
    ];
    let bootstrap = broker.bootstrap();
    let tasks: Vec<_> = settings
        .into_iter()
        .map(|(name, value)| {
            let bootstrap = bootstrap.clone();
            tokio::spawn(async move {
                let mut raw = RawClient::connect(&bootstrap).await;
                let r = raw
                    .call(&alter(GROUP, "busy", &[(name, SET, Some(value))], false), 1)
                    .await;
                assert_eq!(r.responses[0].error_code, 0, "{name}");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("alteration task");
    }
    let mut raw = RawClient::connect(&bootstrap).await;
    let d = raw.call(&describe(GROUP, "busy", false), 4).await;
    for (name, value) in settings {
        let c = config(&d, name);
        assert_eq!(
            (c.value.as_deref(), c.config_source),
            (Some(value), 8),
            "{name}"
        );
    }
    broker.shutdown().await;
}
