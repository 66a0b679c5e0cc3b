//! Producing and reading back: codecs, keys/headers/timestamps, LogAppendTime, acks, the
//! partitioners, idempotence, record size limits.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::Offset;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Timestamp;
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;

use crate::ensure;
use crate::util::*;

/// 1000 keyed records (50 distinct keys, compressible values) through `codec` on a 3-partition
/// topic, read back equal, at their acknowledged offsets, in order per partition.
async fn produce_consume(ctx: Arc<Ctx>, codec: &str) -> R {
    let topic = ctx.name(&format!("codec-{codec}"));
    ctx.create_topic(&topic, 3, &[]).await?;
    let producer = ctx.producer(&[("compression.type", codec), ("linger.ms", "20")])?;
    let sent: Vec<Out> = (0..1000)
        .map(|i| {
            Out::kv(
                format!("key-{}", i % 50),
                format!(
                    "{codec} record {i}: {}",
                    "lorem ipsum dolor ".repeat(i % 7 + 1)
                ),
            )
        })
        .collect();
    let acks = send_ok(&producer, &topic, &sent).await?;
    let consumer = ctx.consumer(&[])?;
    let got = read_assigned(
        &consumer,
        &topic,
        3,
        Offset::Beginning,
        1000,
        Duration::from_secs(30),
        Duration::from_millis(300),
    )?;
    // CreateTime as the producer stamped it (the delivery report carries it).
    check_same(&sent, &acks, &got, Some(&|_, a: &Acked| a.timestamp))?;
    ensure!(
        acks.iter()
            .all(|a| matches!(a.timestamp, Timestamp::CreateTime(_))),
        "delivery timestamps not CreateTime: {:?}",
        acks[0].timestamp
    );
    let per: Vec<usize> = by_partition(&got).values().map(|v| v.len()).collect();
    pass(format!(
        "1000 records ({codec}) read back equal with CreateTime timestamps, order kept per partition {per:?}"
    ))
}

pub async fn produce_consume_none(ctx: Arc<Ctx>) -> R {
    produce_consume(ctx, "none").await
}
pub async fn produce_consume_gzip(ctx: Arc<Ctx>) -> R {
    produce_consume(ctx, "gzip").await
}
pub async fn produce_consume_snappy(ctx: Arc<Ctx>) -> R {
    produce_consume(ctx, "snappy").await
}
pub async fn produce_consume_lz4(ctx: Arc<Ctx>) -> R {
    produce_consume(ctx, "lz4").await
}
pub async fn produce_consume_zstd(ctx: Arc<Ctx>) -> R {
    produce_consume(ctx, "zstd").await
}

pub async fn keys_headers_timestamps(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("khts");
    ctx.create_topic(&topic, 1, &[]).await?;
    let base = now_ms() - 3_600_000;
    let h = |pairs: &[(&str, Option<&[u8]>)]| -> Vec<(String, Option<Vec<u8>>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(|v| v.to_vec())))
            .collect()
    };
    let mut sent = vec![
        Out {
            partition: Some(0),
            key: Some(b"k1".to_vec()),
            value: Some(b"v1".to_vec()),
            headers: h(&[
                ("a", Some(b"1")),
                ("a", Some(b"2")),
                ("null", None),
                ("empty", Some(b"")),
                ("a", Some(b"3")),
            ]),
            timestamp: Some(base),
        },
        Out {
            partition: Some(0),
            key: None,
            value: Some(b"no key".to_vec()),
            headers: vec![],
            timestamp: Some(base + 1),
        },
        Out {
            partition: Some(0),
            key: Some(b"tombstone".to_vec()),
            value: None,
            headers: h(&[("bin", Some(&[0u8, 255, 1, 0, 128][..]))]),
            timestamp: Some(base + 2),
        },
        Out {
            partition: Some(0),
            key: Some("ключ-🔑".as_bytes().to_vec()),
            value: Some("значение ✓".as_bytes().to_vec()),
            headers: h(&[("ünïcode-header", Some("wert".as_bytes()))]),
            // Earlier than the record before it: CreateTime is kept as sent, not reordered.
            timestamp: Some(base - 50_000),
        },
        Out {
            partition: Some(0),
            key: Some(vec![0u8, 1, 2, 3, 255]),
            value: Some(vec![7u8; 3000]),
            headers: (0..20)
                .map(|i| (format!("h{i}"), Some(format!("value {i}").into_bytes())))
                .collect(),
            timestamp: Some(base + 1000),
        },
        Out {
            partition: Some(0),
            key: Some(vec![]),
            value: Some(vec![]),
            headers: h(&[("", Some(b"empty name"))]),
            timestamp: Some(base + 1001),
        },
        Out {
            partition: Some(0),
            key: None,
            value: None,
            headers: vec![],
            timestamp: Some(base + 1002),
        },
    ];
    // A batch of many records with distinct timestamps and headers.
    for i in 0..50 {
        sent.push(Out {
            partition: Some(0),
            key: Some(format!("batch-{i}").into_bytes()),
            value: Some(format!("batched value {i}").into_bytes()),
            headers: h(&[("i", Some(format!("{i}").as_bytes())), ("same", Some(b"x"))]),
            timestamp: Some(base + 2000 + i * 7),
        });
    }
    let producer = ctx.producer(&[("linger.ms", "50")])?;
    let acks = send_ok(&producer, &topic, &sent).await?;
    let consumer = ctx.consumer(&[])?;
    let got = read_assigned(
        &consumer,
        &topic,
        1,
        Offset::Beginning,
        sent.len(),
        Duration::from_secs(20),
        Duration::from_millis(300),
    )?;
    check_same(
        &sent,
        &acks,
        &got,
        Some(&|o: &Out, _| Timestamp::CreateTime(o.timestamp.unwrap())),
    )?;
    pass(format!(
        "{} records: null key, tombstone, empty key and value, null key and value, binary/unicode keys, repeated/null/empty header values, 20 headers, explicit CreateTime timestamps (one out of order) all read back equal",
        sent.len()
    ))
}

pub async fn log_append_time(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("lat");
    ctx.create_topic(&topic, 1, &[("message.timestamp.type", "LogAppendTime")])
        .await?;
    let producer = ctx.producer(&[])?;
    let before = now_ms();
    let sent: Vec<Out> = (0..10)
        .map(|i| {
            let mut o = Out::kv(format!("k{i}"), format!("v{i}")).to(0);
            o.timestamp = Some(42 + i as i64);
            o
        })
        .collect();
    let acks = send_ok(&producer, &topic, &sent).await?;
    let after = now_ms();
    let consumer = ctx.consumer(&[])?;
    let got = read_assigned(
        &consumer,
        &topic,
        1,
        Offset::Beginning,
        10,
        Duration::from_secs(15),
        Duration::from_millis(200),
    )?;
    check_same(&sent, &acks, &got, None)?;
    for g in &got {
        match g.timestamp {
            Timestamp::LogAppendTime(ts) => ensure!(
                ts >= before - 1000 && ts <= after + 1000,
                "offset {}: LogAppendTime {ts} not within the produce window {before}..{after}",
                g.offset
            ),
            other => {
                return Err(format!(
                    "offset {}: timestamp {other:?}, expected LogAppendTime",
                    g.offset
                ));
            }
        }
    }
    // The produce response carries the broker's time (log_append_time_ms), which librdkafka
    // reports in the delivery report.
    for (a, g) in acks.iter().zip(&got) {
        ensure!(
            a.timestamp == g.timestamp,
            "offset {}: delivery report timestamp {:?}, record read back with {:?}",
            g.offset,
            a.timestamp,
            g.timestamp
        );
    }
    pass(
        "10 records sent with CreateTime 42.. read back as LogAppendTime within the produce window, delivery reports carry the same time",
    )
}

async fn acks(ctx: Arc<Ctx>, acks: &str) -> R {
    let topic = ctx.name(&format!("acks{acks}"));
    ctx.create_topic(&topic, 2, &[]).await?;
    let producer = ctx.producer(&[("acks", acks)])?;
    let sent: Vec<Out> = (0..200)
        .map(|i| Out::kv(format!("key-{}", i % 10), format!("acks={acks} value {i}")))
        .collect();
    let acked = send_ok(&producer, &topic, &sent).await?;
    if acks == "0" {
        ensure!(
            acked.iter().all(|a| a.offset < 0),
            "acks=0 delivery reports carry offsets? {:?}",
            acked[0]
        );
    } else {
        ensure!(
            acked.iter().all(|a| a.offset >= 0),
            "acks={acks}: a delivery report without an offset: {:?}",
            acked.iter().find(|a| a.offset < 0)
        );
    }
    let consumer = ctx.consumer(&[])?;
    let got = read_assigned(
        &consumer,
        &topic,
        2,
        Offset::Beginning,
        200,
        Duration::from_secs(20),
        Duration::from_millis(300),
    )?;
    check_same(&sent, &acked, &got, None)?;
    if acks == "0" {
        pass(
            "200 records with acks=0 (no offsets reported) all read back equal, in send order per partition",
        )
    } else {
        pass(format!(
            "200 records with acks={acks} read back equal at their acknowledged offsets"
        ))
    }
}

pub async fn acks_0(ctx: Arc<Ctx>) -> R {
    acks(ctx, "0").await
}
pub async fn acks_1(ctx: Arc<Ctx>) -> R {
    acks(ctx, "1").await
}
pub async fn acks_all(ctx: Arc<Ctx>) -> R {
    acks(ctx, "all").await
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    let seed: u32 = 0x9747_b28c;
    let m: u32 = 0x5bd1_e995;
    let r = 24;
    let len = data.len();
    let mut h: u32 = seed ^ (len as u32);
    for c in data.chunks_exact(4) {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> r;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let tail = &data[len & !3..];
    if tail.len() == 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(m);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h as i32
}

/// CRC-32 (IEEE 802.3, zlib's crc32), what librdkafka's `consistent_random` hashes keys with.
pub fn crc32(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    h.finalize()
}

const PARTITIONS: i32 = 7;

fn crc32_place(k: &[u8]) -> i32 {
    (crc32(k) % PARTITIONS as u32) as i32
}

fn murmur2_place(k: &[u8]) -> i32 {
    (murmur2(k) & 0x7fff_ffff) % PARTITIONS
}

pub async fn partitioner(ctx: Arc<Ctx>) -> R {
    // The hash functions themselves, against published vectors (Kafka's UtilsTest, CRC-32 check).
    ensure!(crc32(b"123456789") == 0xcbf4_3926, "crc32 self-check");
    for (k, want) in [
        (&b"21"[..], -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107),
    ] {
        ensure!(
            murmur2(k) == want,
            "murmur2 self-check on {:?}",
            String::from_utf8_lossy(k)
        );
    }
    let n = PARTITIONS;
    let keys: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("user-{i}").into_bytes())
        .chain((0..50u32).map(|i| (i.wrapping_mul(2_654_435_761)).to_be_bytes().to_vec()))
        .collect();
    let mut summary = Vec::new();
    for (name, extra, place) in [
        (
            "consistent_random (default)",
            None,
            crc32_place as fn(&[u8]) -> i32,
        ),
        ("murmur2_random", Some("murmur2_random"), murmur2_place),
    ] {
        let topic = ctx.name(&format!("part-{}", extra.unwrap_or("default")));
        ctx.create_topic(&topic, n, &[]).await?;
        let mut cfg = vec![];
        if let Some(p) = extra {
            cfg.push(("partitioner", p));
        }
        let producer = ctx.producer(&cfg)?;
        let sent: Vec<Out> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Out::kv(k.clone(), format!("value {i}")))
            .collect();
        let acks = send_ok(&producer, &topic, &sent).await?;
        let mut wrong = Vec::new();
        for (k, a) in keys.iter().zip(&acks) {
            let want = place(k);
            if a.partition != want {
                wrong.push(format!(
                    "{:?}: {} (expected {want})",
                    String::from_utf8_lossy(k),
                    a.partition
                ));
            }
        }
        ensure!(
            wrong.is_empty(),
            "{name}: {} of {} keys misplaced, e.g. {:?}",
            wrong.len(),
            keys.len(),
            &wrong[..wrong.len().min(3)]
        );
        let consumer = ctx.consumer(&[])?;
        let got = read_assigned(
            &consumer,
            &topic,
            n,
            Offset::Beginning,
            sent.len(),
            Duration::from_secs(20),
            Duration::from_millis(300),
        )?;
        check_same(&sent, &acks, &got, None).map_err(|e| format!("{name}: {e}"))?;
        let used = by_partition(&got).len();
        summary.push(format!(
            "{name}: {} keys on {used}/{n} partitions",
            keys.len()
        ));
    }
    pass(format!(
        "every key where crc32(key) % 7 / (murmur2(key) & 0x7fffffff) % 7 puts it, and read back there: {}",
        summary.join("; ")
    ))
}

pub async fn idempotent_producer(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("idem");
    ctx.create_topic(&topic, 2, &[]).await?;
    let producer = ctx.producer(&[
        ("enable.idempotence", "true"),
        ("max.in.flight.requests.per.connection", "5"),
        ("linger.ms", "2"),
        ("batch.num.messages", "50"),
    ])?;
    let sent: Vec<Out> = (0..1000)
        .map(|i| Out::kv(format!("key-{i}"), format!("idempotent {i}")).to(i % 2))
        .collect();
    let acks = send_ok(&producer, &topic, &sent).await?;
    for p in 0..2 {
        let offsets: Vec<i64> = acks
            .iter()
            .filter(|a| a.partition == p)
            .map(|a| a.offset)
            .collect();
        ensure!(
            offsets == (0..500).collect::<Vec<i64>>(),
            "partition {p}: acknowledged offsets are not 0..500 in send order: first {:?}",
            &offsets[..offsets.len().min(10)]
        );
    }
    let fatal = producer.client().fatal_error();
    ensure!(fatal.is_none(), "producer fatal error {fatal:?}");
    let consumer = ctx.consumer(&[])?;
    let got = read_assigned(
        &consumer,
        &topic,
        2,
        Offset::Beginning,
        1000,
        Duration::from_secs(20),
        Duration::from_millis(500),
    )?;
    check_same(&sent, &acks, &got, None)?;
    pass(
        "1000 records from an idempotent producer (5 in flight) at offsets 0..500 per partition in send order, each read back once",
    )
}

pub async fn large_records(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("large");
    ctx.create_topic(&topic, 1, &[]).await?;
    // librdkafka's own limit (message.max.bytes, 1,000,000 by default) is raised, so the broker's
    // limit (max.message.bytes = 1,048,588 per batch) is the one that decides.
    let producer = ctx.producer(&[("message.max.bytes", "2000000"), ("linger.ms", "0")])?;
    let mut rng = Rng(0x5eed_1234_5678_9abc);
    let big = vec![Out::kv("big", rng.bytes(1_000_000)).to(0)];
    let acks = send_ok(&producer, &topic, &big).await?;
    let too_big = vec![Out::kv("too big", rng.bytes(1_100_000)).to(0)];
    let refused = send_all(&producer, &topic, &too_big).await;
    match &refused[0] {
        Err(e)
            if e == &format!(
                "{:?}",
                KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
            ) => {}
        other => {
            return Err(format!(
                "a 1,100,000-byte record answered {other:?}, expected MessageSizeTooLarge"
            ));
        }
    }
    let consumer = ctx.consumer(&[])?;
    let got = read_assigned(
        &consumer,
        &topic,
        1,
        Offset::Beginning,
        1,
        Duration::from_secs(20),
        Duration::from_millis(1000),
    )?;
    check_same(&big, &acks, &got, None)?;
    let wm = consumer
        .fetch_watermarks(&topic, 0, MD)
        .or_fail("watermarks")?;
    ensure!(
        wm == (0, 1),
        "watermarks {wm:?}, expected (0, 1): the refused record was stored?"
    );
    pass(
        "a 1,000,000-byte value round-trips; a 1,100,000-byte one is refused MESSAGE_TOO_LARGE by the broker and not stored",
    )
}
