//! Writes valid seed inputs for every fuzz target into `fuzz/corpus/<target>/`.
//! Run from /work/main/fuzz: `CARGO_TARGET_DIR=target cargo run --example gen_seeds`.

use std::path::Path;

use bytes::{BufMut, Bytes, BytesMut};
use gregor::group::classic::{GroupSnapshot, MemberSnapshot};
use gregor::group::records::{
    OffsetValue, consumer_group_key, consumer_group_value, group_key, group_value, offset_key,
    offset_value,
};
use gregor::log::index::{encode_offset_entries, encode_time_entries};
use gregor::protocol::msg::*;
use gregor::config::BrokerConfig;
use gregor::protocol::ApiKey;
use gregor::protocol::legacy::SERVED;
use gregor::server::handlers::version_table;
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn batch(compression: Compression, n: i64, producer_id: i64) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch: if producer_id >= 0 { 0 } else { -1 },
            timestamp_type: TimestampType::Creation,
            offset: i,
            sequence: i as i32,
            timestamp: 1_700_000_000_000 + (i * 7919) % 1000,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: (i % 3 != 2).then(|| Bytes::from(format!("value-{i}").repeat(3))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression })
        .unwrap();
    buf.freeze()
}

fn frame<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Vec<u8> {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("fuzz")));
    let mut buf = BytesMut::new();
    header.encode(&mut buf, key.request_header_version(version)).unwrap();
    body.encode(&mut buf, version).unwrap();
    let mut out = (buf.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&buf);
    out
}

fn legacy_produce(version: i16, records: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_i16(ApiKey::Produce as i16);
    b.put_i16(version);
    b.put_i32(7);
    b.put_i16(4);
    b.put_slice(b"fuzz");
    b.put_i16(1); // acks
    b.put_i32(30_000);
    b.put_i32(1);
    b.put_i16(5);
    b.put_slice(b"topic");
    b.put_i32(1);
    b.put_i32(0);
    b.put_i32(records.len() as i32);
    b.put_slice(records);
    let mut out = (b.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&b);
    out
}

fn main() {
    let codecs = [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ];

    // batch_header and records
    let mut two = BytesMut::new();
    for (name, c) in codecs {
        let b = batch(c, 5, 1000);
        write("batch_header", name, &b);
        two.extend_from_slice(&b);
        let mut r = 1_700_000_000_500i64.to_be_bytes().to_vec();
        r.extend_from_slice(&b);
        write("records", name, &r);
    }
    write("batch_header", "five-batches", &two);
    let plain = batch(Compression::None, 3, -1);
    write("batch_header", "no-producer", &plain);

    // frame: a real Produce v9 (and the other ends of the range), legacy Produce, and a default
    // request of every other API at its min and max version.
    let table = version_table(&BrokerConfig::default());
    let topic = TopicName(StrBytes::from_static_str("topic"));
    let produce = || {
        let mut p = ProduceRequest::default().with_acks(-1).with_timeout_ms(30_000);
        let data = produce_request::TopicProduceData::default()
            .with_name(topic.clone())
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch(Compression::None, 3, -1))),
            ]);
        p.topic_data = vec![data];
        p
    };
    let pr = table.range(ApiKey::Produce).unwrap();
    for v in [pr.min.max(3), 9, pr.max] {
        if pr.contains(v) {
            write("frame", &format!("produce-v{v}"), &frame(ApiKey::Produce, v, &produce()));
        }
    }
    for v in 0..3 {
        if pr.contains(v) {
            write("frame", &format!("produce-legacy-v{v}"), &legacy_produce(v, &[0u8; 20]));
        }
    }
    macro_rules! defaults {
        ($($key:ident => $req:ty,)*) => {$(
            if let Some(r) = table.range(ApiKey::$key) {
                for v in [r.min, r.max] {
                    let body = <$req>::default();
                    if body.encode(&mut BytesMut::new(), v).is_ok() {
                        write("frame", &format!("{}-v{v}", stringify!($key)), &frame(ApiKey::$key, v, &body));
                    }
                }
            }
        )*};
    }
    defaults! {
        Fetch => FetchRequest,
        ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest,
        ApiVersions => ApiVersionsRequest,
        CreateTopics => CreateTopicsRequest,
        DeleteTopics => DeleteTopicsRequest,
        InitProducerId => InitProducerIdRequest,
        DescribeConfigs => DescribeConfigsRequest,
        CreatePartitions => CreatePartitionsRequest,
        DescribeCluster => DescribeClusterRequest,
        FindCoordinator => FindCoordinatorRequest,
        JoinGroup => JoinGroupRequest,
        SyncGroup => SyncGroupRequest,
        Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest,
        OffsetCommit => OffsetCommitRequest,
        OffsetFetch => OffsetFetchRequest,
        DescribeGroups => DescribeGroupsRequest,
        ListGroups => ListGroupsRequest,
        DeleteGroups => DeleteGroupsRequest,
        OffsetDelete => OffsetDeleteRequest,
        ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest,
        ConsumerGroupDescribe => ConsumerGroupDescribeRequest,
    }

    // legacy: byte 0 = index into the (api, version) pairs of `legacy::SERVED`, then the body:
    // one topic "t" (or resource, or group "g" with one topic) with one partition 0.
    let pairs: Vec<(ApiKey, i16)> = SERVED
        .iter()
        .flat_map(|(k, r)| (r.min..=r.max).map(move |v| (*k, v)))
        .collect();
    for (i, (key, v)) in pairs.iter().enumerate() {
        let mut b = BytesMut::new();
        b.put_u8(i as u8);
        let name = |b: &mut BytesMut, s: &[u8]| {
            b.put_i16(s.len() as i16);
            b.put_slice(s);
        };
        match key {
            ApiKey::ListOffsets => {
                b.put_i32(-1);
                b.put_i32(1);
                name(&mut b, b"t");
                b.put_i32(1);
                b.put_i32(0);
                b.put_i64(-1);
                b.put_i32(1);
            }
            ApiKey::OffsetCommit | ApiKey::OffsetFetch => {
                name(&mut b, b"g");
                if *key == ApiKey::OffsetCommit && *v == 1 {
                    b.put_i32(3);
                    name(&mut b, b"m-1");
                }
                b.put_i32(1);
                name(&mut b, b"t");
                b.put_i32(1);
                b.put_i32(0);
                if *key == ApiKey::OffsetCommit {
                    b.put_i64(42);
                    if *v == 1 {
                        b.put_i64(-1);
                    }
                    name(&mut b, b"meta");
                }
            }
            ApiKey::CreateTopics => {
                b.put_i32(1);
                name(&mut b, b"t");
                b.put_i32(1);
                b.put_i16(1);
                b.put_i32(0);
                b.put_i32(1);
                name(&mut b, b"retention.ms");
                name(&mut b, b"1000");
                b.put_i32(30_000);
                if *v == 1 {
                    b.put_u8(1);
                }
            }
            ApiKey::DeleteTopics => {
                b.put_i32(1);
                name(&mut b, b"t");
                b.put_i32(30_000);
            }
            _ => {
                b.put_i32(1);
                b.put_i8(2);
                name(&mut b, b"t");
                b.put_i32(-1);
            }
        }
        write("legacy", &format!("{key:?}-v{v}"), &b);
    }

    // group_records: byte 0 = key length (< 128; high bit = null value), then key, then value.
    let gr = |name: &str, k: &[u8], v: Option<&[u8]>| {
        assert!(k.len() < 128);
        let mut out = vec![k.len() as u8 | if v.is_none() { 0x80 } else { 0 }];
        out.extend_from_slice(k);
        out.extend_from_slice(v.unwrap_or_default());
        write("group_records", name, &out);
    };
    let ov = OffsetValue {
        offset: 42,
        leader_epoch: 3,
        metadata: "meta".into(),
        commit_timestamp_ms: 1_700_000_000_000,
    };
    gr("offset", &offset_key("g", "topic", 3), Some(&offset_value(&ov)));
    gr("offset-tombstone", &offset_key("g", "topic", 3), None);
    let g = GroupSnapshot {
        group_id: "g".into(),
        protocol_type: Some("consumer".into()),
        generation_id: 5,
        protocol_name: Some("range".into()),
        leader_id: Some("m-1".into()),
        state_timestamp_ms: 1_700_000_000_000,
        members: vec![MemberSnapshot {
            member_id: "m-1".into(),
            group_instance_id: Some("i-1".into()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            rebalance_timeout_ms: 30_000,
            session_timeout_ms: 10_000,
            subscription: Bytes::from_static(b"\0\x01sub"),
            assignment: Bytes::from_static(b"\0\x01asg"),
        }],
    };
    gr("group", &group_key("g"), Some(&group_value(&g)));
    gr("group-tombstone", &group_key("g"), None);
    gr("consumer-group", &consumer_group_key("g"), Some(&consumer_group_value(9)));

    // index_files
    write("index_files", "offset-index", &encode_offset_entries(&[(0, 0), (17, 4096), (40, 9000)]));
    write("index_files", "time-index", &encode_time_entries(&[(1_700_000_000_000, 0), (1_700_000_001_000, 17)]));
    write("index_files", "offset-checkpoint", b"0\n2\na 0 7\nmy-topic 3 42\n");
    write("index_files", "leader-epoch-checkpoint", b"0\n2\n0 0\n3 1200\n");
    write("index_files", "partition-metadata", b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n");
    write("index_files", "topic-id", b"-_8BAgMEBQYHCAkKCwwN_w");
    println!("seeds written");
}
