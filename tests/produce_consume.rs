//! Produce and consume through rdkafka against an in-process broker: every codec, every acks
//! setting, keys, headers and order per partition.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const RECORDS: usize = 100_000;
const PARTITIONS: i32 = 3;

fn value_of(i: usize) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat(i % 50)).into_bytes()
}

/// Produces RECORDS keyed records with headers and reads them back: complete, in order per
/// partition, same key/value/headers, same partition for the same key.
async fn round_trip(codec: &str) {
    let broker = TestBroker::start().await;
    let topic = format!("codec-{codec}");
    broker.create_topic(&topic, PARTITIONS, &[]).await;
    let mut cfg = broker.config();
    cfg.set("compression.codec", codec)
        .set("linger.ms", "5")
        .set("batch.num.messages", "2000");
    let producer: ThreadedProducer<DefaultProducerContext> = cfg.create().expect("producer");
    for i in 0..RECORDS {
        let key = format!("key-{}", i % 1000);
        let value = value_of(i);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "seq",
                value: Some(&i.to_string()),
            })
            .insert(Header {
                key: "codec",
                value: Some(codec),
            });
        let mut record = BaseRecord::to(&topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r)) => {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "{e}"
                    );
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    assert_eq!(producer.in_flight_count(), 0);

    let consumer = broker.consumer(&[]);
    let got = tokio::task::spawn_blocking(move || read_all(&consumer, &topic, PARTITIONS, RECORDS))
        .await
        .unwrap();
    assert_eq!(got.len(), RECORDS, "every record read back with {codec}");
    let mut last_seq: HashMap<i32, i64> = HashMap::new();
    let mut last_offset: HashMap<i32, i64> = HashMap::new();
    let mut key_partition: HashMap<Vec<u8>, i32> = HashMap::new();
    let mut seen = vec![false; RECORDS];
    for g in &got {
        let seq: usize = String::from_utf8(g.headers[0].1.clone())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(g.headers[0].0, "seq");
        assert_eq!(
            g.headers[1],
            ("codec".to_string(), codec.as_bytes().to_vec())
        );
        assert_eq!(
            g.key.as_deref(),
            Some(format!("key-{}", seq % 1000).as_bytes())
        );
        assert_eq!(g.value.as_deref(), Some(value_of(seq).as_slice()));
        assert!(!seen[seq], "record {seq} read twice");
        seen[seq] = true;
        // Order per partition: sequence numbers and offsets only grow.
        if let Some(prev) = last_seq.insert(g.partition, seq as i64) {
            assert!(
                prev < seq as i64,
                "partition {} out of order: {prev} then {seq}",
                g.partition
            );
        }
        if let Some(prev) = last_offset.insert(g.partition, g.offset) {
            assert_eq!(prev + 1, g.offset, "offsets are dense");
        }
        let p = *key_partition
            .entry(g.key.clone().unwrap())
            .or_insert(g.partition);
        assert_eq!(p, g.partition, "one key, one partition");
    }
    assert_eq!(last_seq.len(), PARTITIONS as usize, "all partitions used");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_uncompressed() {
    round_trip("none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_gzip() {
    round_trip("gzip").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_snappy() {
    round_trip("snappy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_lz4() {
    round_trip("lz4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_zstd() {
    round_trip("zstd").await;
}

/// acks=0, 1 and all each deliver; with acks≠0 the reported offsets are where records are read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acks_setting_delivers() {
    let broker = TestBroker::start().await;
    for acks in ["0", "1", "all"] {
        let topic = format!("acks-{acks}");
        broker.create_topic(&topic, 1, &[]).await;
        let producer = broker.producer(&[("acks", acks)]);
        let mut offsets = Vec::new();
        for i in 0..50 {
            offsets.push(
                send(
                    &producer,
                    &topic,
                    Some(0),
                    b"k",
                    format!("{acks}-{i}").as_bytes(),
                )
                .await,
            );
        }
        let consumer = broker.consumer(&[]);
        let t = topic.clone();
        let got = tokio::task::spawn_blocking(move || read_all(&consumer, &t, 1, 50))
            .await
            .unwrap();
        assert_eq!(got.len(), 50, "acks={acks}");
        for (i, g) in got.iter().enumerate() {
            assert_eq!(g.value.as_deref(), Some(format!("{acks}-{i}").as_bytes()));
            assert_eq!(g.offset, i as i64);
            if acks != "0" {
                assert_eq!(
                    offsets[i],
                    (0, i as i64),
                    "acknowledged offset is the stored offset"
                );
            }
        }
    }
    broker.shutdown().await;
}

/// A topic whose `flush.messages=1` acknowledges only after fsync (group commit) still delivers
/// everything from concurrent producers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsync_before_ack_topic_delivers_from_concurrent_producers() {
    let broker = TestBroker::start().await;
    broker
        .create_topic("durable", 2, &[("flush.messages", "1")])
        .await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let producer = broker.producer(&[("acks", "all"), ("linger.ms", "0")]);
        tasks.push(tokio::spawn(async move {
            for i in 0..100 {
                send(
                    &producer,
                    "durable",
                    Some(i % 2),
                    b"k",
                    format!("{w}-{i}").as_bytes(),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let consumer = broker.consumer(&[]);
    let got = tokio::task::spawn_blocking(move || read_all(&consumer, "durable", 2, 400))
        .await
        .unwrap();
    assert_eq!(got.len(), 400);
    broker.shutdown().await;
}

/// Page-cache drop-behind with a small window: a consumer far behind the log end reads dropped
/// bytes from the device (O_DIRECT, read ahead) and gets every record exactly, before and after a
/// restart; a consumer at the tail keeps reading while the producer writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_behind_the_drop_behind_window_read_every_record() {
    const N: usize = 24_000;
    const VALUE_BYTES: usize = 1000;
    let props = [
        ("gregor.log.drop.behind.bytes", "1048576"),
        ("log.segment.bytes", "8388608"),
    ];
    let mut broker = TestBroker::start_with(&props).await;
    let topic = "drop-behind";
    broker.create_topic(topic, 2, &[]).await;
    let value = |i: usize| -> Vec<u8> {
        let mut v = format!("{i:08}-").into_bytes();
        v.extend((0..VALUE_BYTES - v.len()).map(|j| ((i * 7 + j) % 251) as u8));
        v
    };
    // A tail consumer runs while the producer writes.
    let tail = broker.consumer(&[]);
    let tail_reader = tokio::task::spawn_blocking(move || read_all(&tail, topic, 2, N));
    let mut cfg = broker.config();
    cfg.set("linger.ms", "5");
    let producer: ThreadedProducer<DefaultProducerContext> = cfg.create().expect("producer");
    for i in 0..N {
        let key = format!("k{}", i % 64);
        let v = value(i);
        let mut record = BaseRecord::to(topic).key(&key).payload(&v);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let check = |got: Vec<Got>, what: &str| {
        assert_eq!(got.len(), N, "{what}: every record");
        let mut seen = vec![false; N];
        for g in got {
            let v = g.value.expect("value");
            let i: usize = std::str::from_utf8(&v[..8]).unwrap().parse().unwrap();
            assert_eq!(v, value(i), "{what}: record {i} intact");
            assert!(!seen[i], "{what}: record {i} twice");
            seen[i] = true;
        }
    };
    check(tail_reader.await.unwrap(), "tail consumer");
    // 24 MB over 2 partitions against a 1 MiB window: most of it is read back from the device.
    let behind = broker.consumer(&[]);
    check(
        tokio::task::spawn_blocking(move || read_all(&behind, topic, 2, N))
            .await
            .unwrap(),
        "consumer from the beginning",
    );
    broker.restart(&props).await;
    let after = broker.consumer(&[]);
    check(
        tokio::task::spawn_blocking(move || read_all(&after, topic, 2, N))
            .await
            .unwrap(),
        "after a restart",
    );
    broker.shutdown().await;
}
