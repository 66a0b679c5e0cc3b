//! The request versions Kafka 4.0 removed (KIP-896) that Gregor still serves: ListOffsets v0,
//! OffsetCommit v0-1, OffsetFetch v0, CreateTopics v0-1, DeleteTopics v0, DescribeConfigs v0.
//!
//! Each request is hand-encoded here from Kafka 3.9's schemas (the kafka-protocol crate has no
//! schema for these versions) and sent over a raw socket to an in-process broker; each answer is
//! decoded field by field, to the last byte, and compared with what Kafka 3.9 sends. With
//! `gregor.legacy.api.versions.enable=false` the broker advertises Kafka 4.1's ranges and closes
//! the connection on these versions, as Kafka 4 does. Every wait is bounded.

mod common;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::raw::RawClient;
use common::reader::Reader;
use common::*;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, GroupId, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const IO_WAIT: Duration = Duration::from_secs(15);
const TEST_WAIT: Duration = Duration::from_secs(120);

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const RESOURCE_TOPIC: i8 = 2;

/// A request body in the non-flexible encodings, built field by field.
#[derive(Default)]
struct Body(BytesMut);

impl Body {
    fn i8(mut self, v: i8) -> Self {
        self.0.put_i8(v);
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.put_i16(v);
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.put_i32(v);
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.put_i64(v);
        self
    }
    fn str(mut self, s: &str) -> Self {
        self.0.put_i16(s.len() as i16);
        self.0.put_slice(s.as_bytes());
        self
    }
}

/// One connection speaking request header v1 and response header v0 (all these versions are
/// non-flexible).
struct Legacy {
    stream: TcpStream,
    correlation_id: i32,
}

impl Legacy {
    async fn connect(addr: &str) -> Legacy {
        let stream = timeout(IO_WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Legacy {
            stream,
            correlation_id: 100,
        }
    }

    /// Sends the request; the response body after the correlation id, or None if the broker
    /// closed the connection instead of answering.
    async fn call(&mut self, api_key: ApiKey, version: i16, body: Body) -> Option<Reader> {
        self.correlation_id += 1;
        let mut frame = Body::default()
            .i16(api_key as i16)
            .i16(version)
            .i32(self.correlation_id)
            .str("legacy-test")
            .0;
        frame.put_slice(&body.0);
        let mut out = BytesMut::new();
        out.put_i32(frame.len() as i32);
        out.put_slice(&frame);
        self.stream.write_all(&out).await.expect("write");
        let mut prefix = [0u8; 4];
        match timeout(IO_WAIT, self.stream.read_exact(&mut prefix))
            .await
            .expect("an answer or a close in time")
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read: {e}"),
        }
        let len = i32::from_be_bytes(prefix);
        assert!((4..(1 << 24)).contains(&len), "response length {len}");
        let mut buf = vec![0u8; len as usize];
        timeout(IO_WAIT, self.stream.read_exact(&mut buf))
            .await
            .expect("the whole response in time")
            .expect("read body");
        let mut a = Reader(Bytes::from(buf));
        assert_eq!(a.i32("correlation id"), self.correlation_id);
        Some(a)
    }

    async fn answer(&mut self, api_key: ApiKey, version: i16, body: Body) -> Reader {
        self.call(api_key, version, body)
            .await
            .unwrap_or_else(|| panic!("{api_key:?} v{version}: the broker closed the connection"))
    }
}

async fn bounded<F: std::future::Future<Output = ()>>(body: F) {
    timeout(TEST_WAIT, body)
        .await
        .expect("test finished in time");
}

/// (key, min, max) of every API the broker advertises, through ApiVersions v3.
async fn advertised(addr: &str) -> Vec<(i16, i16, i16)> {
    let mut raw = RawClient::connect(addr).await;
    let r = raw.call(&ApiVersionsRequest::default(), 3).await;
    assert_eq!(r.error_code, NONE);
    r.api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect()
}

fn range_of(apis: &[(i16, i16, i16)], key: ApiKey) -> (i16, i16) {
    apis.iter()
        .find(|(k, _, _)| *k == key as i16)
        .map(|(_, min, max)| (*min, *max))
        .unwrap_or_else(|| panic!("{key:?} not advertised"))
}

/// CreateTopics v0/v1 body for one topic with `partitions`, replication factor 1 and `configs`.
fn create_topics(
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
    v1_validate: Option<bool>,
) -> Body {
    let mut b = Body::default()
        .i32(1)
        .str(name)
        .i32(partitions)
        .i16(1)
        .i32(0) // no manual assignment
        .i32(configs.len() as i32);
    for (k, v) in configs {
        b = b.str(k).str(v);
    }
    b = b.i32(30_000);
    match v1_validate {
        Some(validate_only) => b.i8(i8::from(validate_only)),
        None => b,
    }
}

/// DescribeConfigs v0 for one topic, all keys (None) or the given ones.
fn describe_topic(name: &str, keys: Option<&[&str]>) -> Body {
    let b = Body::default().i32(1).i8(RESOURCE_TOPIC).str(name);
    match keys {
        None => b.i32(-1),
        Some(keys) => keys.iter().fold(b.i32(keys.len() as i32), |b, k| b.str(k)),
    }
}

/// One config entry of a DescribeConfigs v0 answer.
#[derive(Debug)]
struct ConfigV0 {
    name: String,
    value: Option<String>,
    read_only: bool,
    is_default: bool,
    is_sensitive: bool,
}

/// DescribeConfigs v0 answer for one resource: (error code, error message, configs).
fn read_describe_v0(mut a: Reader, name: &str) -> (i16, Option<String>, Vec<ConfigV0>) {
    assert_eq!(a.i32("throttle_time_ms"), 0);
    assert_eq!(a.count("results"), 1);
    let error = a.i16("error_code");
    let message = a.null_str("error_message");
    assert_eq!(a.i8("resource_type"), RESOURCE_TOPIC);
    assert_eq!(a.str("resource_name"), name);
    let configs = (0..a.count("configs"))
        .map(|_| ConfigV0 {
            name: a.str("name"),
            value: a.null_str("value"),
            read_only: a.bool("read_only"),
            is_default: a.bool("is_default"),
            is_sensitive: a.bool("is_sensitive"),
        })
        .collect();
    a.done();
    (error, message, configs)
}

#[tokio::test]
async fn api_versions_advertise_the_removed_versions_served() {
    bounded(async {
        let broker = TestBroker::start().await;
        let apis = advertised(&broker.bootstrap()).await;
        assert_eq!(range_of(&apis, ApiKey::ListOffsets), (0, 10));
        assert_eq!(range_of(&apis, ApiKey::OffsetCommit), (0, 9));
        assert_eq!(range_of(&apis, ApiKey::OffsetFetch), (0, 9));
        assert_eq!(range_of(&apis, ApiKey::CreateTopics), (0, 7));
        assert_eq!(range_of(&apis, ApiKey::DeleteTopics), (0, 6));
        assert_eq!(range_of(&apis, ApiKey::DescribeConfigs), (0, 4));
        // Message-format v0/v1 versions are as before: Produce 0-2 advertised (and refused),
        // Fetch from 4.
        assert_eq!(range_of(&apis, ApiKey::Produce).0, 0);
        assert_eq!(range_of(&apis, ApiKey::Fetch).0, 4);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn topics_are_created_described_and_deleted_at_removed_versions() {
    bounded(async {
        let broker = TestBroker::start().await;
        let mut c = Legacy::connect(&broker.bootstrap()).await;

        // CreateTopics v0: [name, error_code].
        let mut a = c
            .answer(
                ApiKey::CreateTopics,
                0,
                create_topics("old-a", 2, &[("retention.ms", "3600000")], None),
            )
            .await;
        assert_eq!(a.count("topics"), 1);
        assert_eq!(a.str("name"), "old-a");
        assert_eq!(a.i16("error_code"), NONE);
        a.done();

        // CreateTopics v1: [name, error_code, error_message]; validate_only creates nothing.
        let mut a = c
            .answer(
                ApiKey::CreateTopics,
                1,
                create_topics("old-b", 1, &[], Some(true)),
            )
            .await;
        assert_eq!(a.count("topics"), 1);
        assert_eq!(a.str("name"), "old-b");
        assert_eq!(a.i16("error_code"), NONE);
        // Null or empty: the schema default; either reads as "no error" in every client.
        assert!(a.null_str("error_message").is_none_or(|m| m.is_empty()));
        a.done();
        let mut a = c
            .answer(
                ApiKey::CreateTopics,
                1,
                create_topics("old-a", 1, &[], Some(false)),
            )
            .await;
        assert_eq!(a.count("topics"), 1);
        assert_eq!(a.str("name"), "old-a");
        assert_eq!(a.i16("error_code"), TOPIC_ALREADY_EXISTS);
        assert!(a.null_str("error_message").is_some_and(|m| !m.is_empty()));
        a.done();

        // DescribeConfigs v0, every key: the override is not default, the rest are.
        let a = c
            .answer(ApiKey::DescribeConfigs, 0, describe_topic("old-a", None))
            .await;
        let (error, message, configs) = read_describe_v0(a, "old-a");
        // Kafka leaves the message at its schema default, "", on success.
        assert_eq!((error, message.as_deref()), (NONE, Some("")));
        let get = |name: &str| {
            configs
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{name} not described: {configs:?}"))
        };
        let retention = get("retention.ms");
        assert_eq!(retention.value.as_deref(), Some("3600000"));
        assert!(!retention.is_default && !retention.read_only && !retention.is_sensitive);
        let cleanup = get("cleanup.policy");
        assert_eq!(cleanup.value.as_deref(), Some("delete"));
        assert!(cleanup.is_default && !cleanup.read_only && !cleanup.is_sensitive);
        assert!(configs.len() > 10, "all topic configs: {configs:?}");
        assert_eq!(
            configs.iter().filter(|c| !c.is_default).count(),
            1,
            "only the override is not default: {configs:?}"
        );

        // DescribeConfigs v0 with keys: exactly those.
        let a = c
            .answer(
                ApiKey::DescribeConfigs,
                0,
                describe_topic("old-a", Some(&["segment.bytes", "retention.ms"])),
            )
            .await;
        let (error, _, configs) = read_describe_v0(a, "old-a");
        assert_eq!(error, NONE);
        let mut names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["retention.ms", "segment.bytes"]);

        // The validate-only topic does not exist.
        let a = c
            .answer(ApiKey::DescribeConfigs, 0, describe_topic("old-b", None))
            .await;
        let (error, message, configs) = read_describe_v0(a, "old-b");
        assert_eq!(error, UNKNOWN_TOPIC_OR_PARTITION);
        assert!(message.is_some() && configs.is_empty());

        // DeleteTopics v0: [name, error_code], no throttle time.
        let body = Body::default()
            .i32(2)
            .str("old-a")
            .str("old-missing")
            .i32(30_000);
        let mut a = c.answer(ApiKey::DeleteTopics, 0, body).await;
        assert_eq!(a.count("responses"), 2);
        assert_eq!(a.str("name"), "old-a");
        assert_eq!(a.i16("error_code"), NONE);
        assert_eq!(a.str("name"), "old-missing");
        assert_eq!(a.i16("error_code"), UNKNOWN_TOPIC_OR_PARTITION);
        a.done();
        let a = c
            .answer(ApiKey::DescribeConfigs, 0, describe_topic("old-a", None))
            .await;
        assert_eq!(read_describe_v0(a, "old-a").0, UNKNOWN_TOPIC_OR_PARTITION);
        broker.shutdown().await;
    })
    .await;
}

/// ListOffsets v0 for partitions of `topic` at `timestamp`: [(partition, error, offsets)].
async fn list_offsets_v0(
    c: &mut Legacy,
    topic: &str,
    partitions: &[i32],
    timestamp: i64,
    max_num_offsets: i32,
) -> Vec<(i32, i16, Vec<i64>)> {
    let mut b = Body::default()
        .i32(-1)
        .i32(1)
        .str(topic)
        .i32(partitions.len() as i32);
    for p in partitions {
        b = b.i32(*p).i64(timestamp).i32(max_num_offsets);
    }
    let mut a = c.answer(ApiKey::ListOffsets, 0, b).await;
    assert_eq!(a.count("topics"), 1);
    assert_eq!(a.str("name"), topic);
    let out = (0..a.count("partitions"))
        .map(|_| {
            let p = a.i32("partition_index");
            let e = a.i16("error_code");
            let offsets = (0..a.count("old_style_offsets"))
                .map(|_| a.i64("offset"))
                .collect();
            (p, e, offsets)
        })
        .collect();
    a.done();
    out
}

#[tokio::test]
async fn list_offsets_v0_answers_old_style_offsets() {
    bounded(async {
        let broker = TestBroker::start().await;
        broker.create_topic("old-offsets", 1, &[]).await;
        let producer = broker.producer(&[]);
        for i in 0..5 {
            send(
                &producer,
                "old-offsets",
                Some(0),
                b"k",
                format!("v{i}").as_bytes(),
            )
            .await;
        }
        let mut c = Legacy::connect(&broker.bootstrap()).await;
        assert_eq!(
            list_offsets_v0(&mut c, "old-offsets", &[0, 7], -1, 1).await,
            vec![(0, NONE, vec![5]), (7, UNKNOWN_TOPIC_OR_PARTITION, vec![])]
        );
        assert_eq!(
            list_offsets_v0(&mut c, "old-offsets", &[0], -2, 1).await,
            vec![(0, NONE, vec![0])]
        );
        broker.shutdown().await;
    })
    .await;
}

/// OffsetCommit v0 (v1 when `v1` gives generation and member) of one partition; its error code.
async fn commit(
    c: &mut Legacy,
    topic: &str,
    offset: i64,
    meta: &str,
    v1: Option<(i32, &str)>,
) -> i16 {
    let mut b = Body::default().str("old-group");
    if let Some((generation, member)) = v1 {
        b = b.i32(generation).str(member);
    }
    b = b.i32(1).str(topic).i32(1).i32(0).i64(offset);
    if v1.is_some() {
        b = b.i64(-1); // commit_timestamp
    }
    b = b.str(meta);
    let mut a = c
        .answer(ApiKey::OffsetCommit, if v1.is_some() { 1 } else { 0 }, b)
        .await;
    assert_eq!(a.count("topics"), 1);
    assert_eq!(a.str("name"), topic);
    assert_eq!(a.count("partitions"), 1);
    assert_eq!(a.i32("partition_index"), 0);
    let error = a.i16("error_code");
    a.done();
    error
}

/// OffsetFetch v0 of partitions 0 and 1: [(partition, offset, metadata, error)].
async fn fetch_v0(c: &mut Legacy, topic: &str) -> Vec<(i32, i64, Option<String>, i16)> {
    let b = Body::default()
        .str("old-group")
        .i32(1)
        .str(topic)
        .i32(2)
        .i32(0)
        .i32(1);
    let mut a = c.answer(ApiKey::OffsetFetch, 0, b).await;
    assert_eq!(a.count("topics"), 1);
    assert_eq!(a.str("name"), topic);
    let out = (0..a.count("partitions"))
        .map(|_| {
            (
                a.i32("partition_index"),
                a.i64("committed_offset"),
                a.null_str("metadata"),
                a.i16("error_code"),
            )
        })
        .collect();
    a.done();
    out
}

#[tokio::test]
async fn offsets_committed_at_v0_and_v1_are_fetched_at_v0() {
    bounded(async {
        let broker = TestBroker::start().await;
        broker.create_topic("old-commits", 2, &[]).await;
        let mut c = Legacy::connect(&broker.bootstrap()).await;
        // The offsets topic is created on first use: retry while the coordinator is not ready
        // (COORDINATOR_LOAD_IN_PROGRESS 14, COORDINATOR_NOT_AVAILABLE 15).
        let mut error = commit(&mut c, "old-commits", 3, "m0", None).await;
        for _ in 0..100 {
            if error != 14 && error != 15 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            error = commit(&mut c, "old-commits", 3, "m0", None).await;
        }
        assert_eq!(error, NONE);
        assert_eq!(
            fetch_v0(&mut c, "old-commits").await,
            vec![
                (0, 3, Some("m0".into()), NONE),
                (1, -1, Some(String::new()), NONE)
            ]
        );

        // v1 as a simple commit (generation -1, no member), then read at v0 and at v1.
        assert_eq!(
            commit(&mut c, "old-commits", 4, "m1", Some((-1, ""))).await,
            NONE
        );
        assert_eq!(
            fetch_v0(&mut c, "old-commits").await[0],
            (0, 4, Some("m1".into()), NONE)
        );
        let mut raw = RawClient::connect(&broker.bootstrap()).await;
        let mut req = OffsetFetchRequest::default();
        req.group_id = GroupId(StrBytes::from_static_str("old-group"));
        let mut t = OffsetFetchRequestTopic::default();
        t.name = TopicName(StrBytes::from_static_str("old-commits"));
        t.partition_indexes = vec![0];
        req.topics = Some(vec![t]);
        let r = raw.call(&req, 1).await;
        assert_eq!(r.topics[0].partitions[0].committed_offset, 4);

        // v1 with a generation for a group that has none is refused, as Kafka does.
        assert_ne!(
            commit(&mut c, "old-commits", 9, "", Some((5, "nobody"))).await,
            NONE
        );
        assert_eq!(fetch_v0(&mut c, "old-commits").await[0].1, 4);
        broker.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn disabled_legacy_versions_serve_kafka_4_1_ranges() {
    bounded(async {
        let broker =
            TestBroker::start_with(&[("gregor.legacy.api.versions.enable", "false")]).await;
        let apis = advertised(&broker.bootstrap()).await;
        assert_eq!(range_of(&apis, ApiKey::ListOffsets), (1, 10));
        assert_eq!(range_of(&apis, ApiKey::OffsetCommit), (2, 9));
        assert_eq!(range_of(&apis, ApiKey::OffsetFetch), (1, 9));
        assert_eq!(range_of(&apis, ApiKey::CreateTopics), (2, 7));
        assert_eq!(range_of(&apis, ApiKey::DeleteTopics), (1, 6));
        assert_eq!(range_of(&apis, ApiKey::DescribeConfigs), (1, 4));
        assert_eq!(range_of(&apis, ApiKey::Produce).0, 0);
        // An unsupported version closes the connection without an answer, as Kafka 4 does.
        let mut c = Legacy::connect(&broker.bootstrap()).await;
        assert!(
            c.call(ApiKey::DescribeConfigs, 0, describe_topic("any", None))
                .await
                .is_none()
        );
        let mut c = Legacy::connect(&broker.bootstrap()).await;
        let body = Body::default().i32(1).str("any").i32(30_000);
        assert!(c.call(ApiKey::DeleteTopics, 0, body).await.is_none());
        broker.shutdown().await;
    })
    .await;
}
