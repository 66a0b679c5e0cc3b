//! Micro benchmarks of the hot paths (criterion): frame decode, batch header parse + CRC check,
//! log append (RAM-backed and real file), offset-index lookup, a 1 MiB fetch read, and a Fetch
//! response of 8 × 1 MiB encoded by the crate (records copied) and as segments (records shared).
//! Run: `cargo bench --bench micro`. Timings belong here, never in tests.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gregor::clock::SystemClock;
use gregor::config::TopicSettings;
use gregor::log::{BatchHeader, PartitionLog, batch};
use gregor::model::{LeaderEpoch, Offset, TopicId};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, FetchResponse, ProduceRequest, RequestHeader, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const RECORD_BYTES: usize = 1024;
const RECORDS_PER_BATCH: usize = 16;

/// One uncompressed magic-2 batch of `RECORDS_PER_BATCH` records of `RECORD_BYTES` each.
fn batch_bytes() -> Bytes {
    let value = Bytes::from(vec![b'v'; RECORD_BYTES]);
    let records: Vec<Record> = (0..RECORDS_PER_BATCH)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(value.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    buf.freeze()
}

fn produce_frame(batch: &Bytes) -> Bytes {
    let mut header = RequestHeader::default();
    header.request_api_key = ApiKey::Produce as i16;
    header.request_api_version = 9;
    header.correlation_id = 1;
    header.client_id = Some(StrBytes::from_static_str("bench"));
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(batch.clone());
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_static_str("bench"));
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 1000;
    req.topic_data = vec![td];
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, ApiKey::Produce.request_header_version(9))
        .expect("header");
    req.encode(&mut buf, 9).expect("body");
    buf.freeze()
}

fn frame_decode(c: &mut Criterion) {
    let batch = batch_bytes();
    let frame = produce_frame(&batch);
    let table = gregor::server::handlers::version_table(&gregor::config::BrokerConfig::default());
    let mut g = c.benchmark_group("frame_decode");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("produce_v9_16KiB", |b| {
        b.iter(|| {
            let mut prefix = BytesMut::with_capacity(4);
            prefix.put_i32(frame.len() as i32);
            let len = gregor::protocol::frame_body_len(
                [prefix[0], prefix[1], prefix[2], prefix[3]],
                1 << 20,
            )
            .unwrap();
            assert_eq!(len, frame.len());
            gregor::protocol::decode_request(frame.clone(), &table).expect("decodes")
        })
    });
    g.finish();
}

fn batch_header_crc(c: &mut Criterion) {
    let batch = batch_bytes();
    let mut g = c.benchmark_group("batch_header");
    g.throughput(Throughput::Bytes(batch.len() as u64));
    g.bench_function("parse_and_crc_16KiB", |b| {
        b.iter(|| {
            let h = BatchHeader::parse(&batch).expect("parses");
            batch::verify_crc(&batch).expect("crc");
            h
        })
    });
    g.finish();
}

fn settings() -> TopicSettings {
    TopicSettings {
        segment_bytes: 256 << 20,
        ..TopicSettings::default()
    }
}

fn log_append(c: &mut Criterion) {
    let batch = batch_bytes();
    let mut g = c.benchmark_group("log_append");
    g.throughput(Throughput::Bytes(batch.len() as u64));
    let mut places: Vec<(&str, tempfile::TempDir)> =
        vec![("file", tempfile::tempdir().expect("tempdir"))];
    if std::path::Path::new("/dev/shm").is_dir()
        && let Ok(d) = tempfile::tempdir_in("/dev/shm")
    {
        places.push(("ram", d));
    }
    // "file": the page cache keeps every byte (Kafka's way); "file_drop_behind": only the last
    // 16 MiB stay cached, older bytes are written back and dropped, so pages are recycled.
    let drop_behind = tempfile::tempdir().expect("tempdir");
    let mut runs: Vec<(&str, &std::path::Path, u64)> = places
        .iter()
        .map(|(name, dir)| (*name, dir.path(), 0))
        .collect();
    runs.push(("file_drop_behind", drop_behind.path(), 16 << 20));
    for (name, dir, window) in runs {
        let log = PartitionLog::open(
            &dir.join("t-0"),
            TopicId([1; 16]),
            TopicSettings {
                drop_behind_bytes: window,
                ..settings()
            },
            SystemClock::shared(),
            None,
        )
        .expect("open");
        g.bench_function(format!("16KiB_batch_{name}"), |b| {
            b.iter(|| log.append(batch.clone(), LeaderEpoch(0)).expect("append"))
        });
    }
    g.finish();
}

fn offset_index_lookup(c: &mut Criterion) {
    let file = tempfile::tempfile().expect("tempfile");
    let entries: Vec<(u32, u32)> = (0..100_000u32).map(|i| (i * 16, i * 16_500)).collect();
    let index = gregor::log::index::OffsetIndex {
        entries,
        file,
        max_entries: 1 << 20,
    };
    let mut x = 12345u32;
    c.bench_function("offset_index_lookup_100k_entries", |b| {
        b.iter(|| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            index.lookup(x % 1_600_000)
        })
    });
}

fn fetch_read(c: &mut Criterion) {
    let batch = batch_bytes();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(
        PartitionLog::open(
            &dir.path().join("t-0"),
            TopicId([2; 16]),
            settings(),
            SystemClock::shared(),
            None,
        )
        .expect("open"),
    );
    // 64 MiB of batches, so reads come from all over the segment (page cache warm).
    for _ in 0..(64 << 20) / batch.len() {
        log.append(batch.clone(), LeaderEpoch(0)).expect("append");
    }
    let end = log.log_end_offset().0;
    let mut g = c.benchmark_group("fetch_read");
    g.throughput(Throughput::Bytes(1 << 20));
    let mut x = 7u64;
    g.bench_function("1MiB", |b| {
        b.iter_batched(
            || {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                Offset((x % (end as u64 / 2)) as i64)
            },
            |offset| log.read(offset, 1 << 20, Offset(end), true).expect("read"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn fetch_response_encode(c: &mut Criterion) {
    const PARTITIONS: i32 = 8;
    const RECORDS_BYTES: usize = 1 << 20;
    const VERSION: i16 = 16;
    let mut topic = FetchableTopicResponse::default();
    topic.topic_id = uuid::Uuid::from_u64_pair(1, 2);
    for i in 0..PARTITIONS {
        let mut p = PartitionData::default();
        p.partition_index = i;
        p.high_watermark = 1_000_000;
        p.last_stable_offset = 1_000_000;
        p.log_start_offset = 0;
        p.records = Some(Bytes::from(vec![i as u8; RECORDS_BYTES]));
        topic.partitions.push(p);
    }
    let mut fetch = FetchResponse::default();
    fetch.session_id = 7;
    fetch.responses.push(topic);
    let response = gregor::protocol::Response::Fetch(fetch.clone());
    let mut g = c.benchmark_group("fetch_response_encode");
    g.throughput(Throughput::Bytes(PARTITIONS as u64 * RECORDS_BYTES as u64));
    g.bench_function("crate_8x1MiB", |b| {
        b.iter(|| gregor::protocol::encode_response(1, VERSION, &response).expect("encodes"))
    });
    g.bench_function("segments_8x1MiB", |b| {
        b.iter(|| {
            gregor::protocol::fetch_encode::encode_fetch_response_frame(1, VERSION, &fetch)
                .expect("encodes")
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    frame_decode,
    batch_header_crc,
    log_append,
    offset_index_lookup,
    fetch_read,
    fetch_response_encode
);
criterion_main!(benches);
