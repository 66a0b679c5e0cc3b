//! Positioning reads: offsets by timestamp, seek, an empty topic.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use rdkafka::message::Timestamp;
use rdkafka::{Offset, TopicPartitionList};

use crate::ensure;
use crate::util::*;

pub async fn offsets_for_times(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("times");
    ctx.create_topic(&topic, 2, &[]).await?;
    let base = now_ms() - 3_600_000;
    // Partition 0: 200 records 10 ms apart, several batches. Partition 1: 20 records 100 ms apart.
    let mut sent: Vec<Out> = (0..200)
        .map(|i| {
            let mut o = Out::kv("k", format!("p0 {i}")).to(0);
            o.timestamp = Some(base + i * 10);
            o
        })
        .collect();
    sent.extend((0..20).map(|i| {
        let mut o = Out::kv("k", format!("p1 {i}")).to(1);
        o.timestamp = Some(base + i * 100);
        o
    }));
    let producer = ctx.producer(&[("linger.ms", "20"), ("batch.num.messages", "30")])?;
    let acks = send_ok(&producer, &topic, &sent).await?;
    let consumer = ctx.consumer(&[])?;
    let lookup = |p: i32, ts: i64| -> Result<Offset, String> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, p, Offset::Offset(ts))
            .or_fail("tpl")?;
        let r = consumer
            .offsets_for_times(tpl, MD)
            .or_fail("offsets_for_times")?;
        let e = r.find_partition(&topic, p).or_fail("partition in answer")?;
        e.error().or_fail(&format!("partition {p} at {ts}"))?;
        Ok(e.offset())
    };
    let cases: &[(i32, i64, Offset)] = &[
        (0, base, Offset::Offset(0)),
        (0, base - 1_000_000, Offset::Offset(0)),
        (0, base + 555, Offset::Offset(56)),
        (0, base + 560, Offset::Offset(56)),
        (0, base + 1990, Offset::Offset(199)),
        (0, base + 1991, Offset::End),
        (0, base + 500_000, Offset::End),
        (1, base + 1, Offset::Offset(1)),
        (1, base + 1900, Offset::Offset(19)),
        (1, base + 1901, Offset::End),
    ];
    for (p, ts, want) in cases {
        let got = lookup(*p, *ts)?;
        ensure!(
            got == *want,
            "partition {p}, timestamp base+{}: offset {got:?}, expected {want:?}",
            ts - base
        );
    }
    // Reading from the offset found gives the first record at or after the timestamp.
    let start = lookup(0, base + 1234)?;
    ensure!(
        start == Offset::Offset(124),
        "base+1234 -> {start:?}, expected 124"
    );
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, start).or_fail("tpl")?;
    consumer.assign(&tpl).or_fail("assign")?;
    let got = poll_n(&consumer, 1, Duration::from_secs(15), Duration::ZERO)?;
    let first = got.first().or_fail("a record at the offset found")?;
    ensure!(
        first.offset == 124
            && first.value.as_deref() == Some(&b"p0 124"[..])
            && first.timestamp == Timestamp::CreateTime(base + 1240),
        "read {first:?} at the offset found"
    );
    consumer.unassign().or_fail("unassign")?;
    // And every record carries the timestamp it was sent with.
    let all = read_assigned(
        &consumer,
        &topic,
        2,
        Offset::Beginning,
        sent.len(),
        Duration::from_secs(20),
        Duration::from_millis(200),
    )?;
    check_same(
        &sent,
        &acks,
        &all,
        Some(&|o: &Out, _| Timestamp::CreateTime(o.timestamp.unwrap())),
    )?;
    pass(format!(
        "{} lookups: first offset at or after each timestamp (record-level within batches), End beyond the last; reading there gives that record",
        cases.len() + 1
    ))
}

pub async fn seek(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("seek");
    ctx.create_topic(&topic, 1, &[]).await?;
    let producer = ctx.producer(&[("linger.ms", "20")])?;
    let sent: Vec<Out> = (0..100)
        .map(|i| Out::kv(format!("k{i}"), format!("value {i}")).to(0))
        .collect();
    let acks = send_ok(&producer, &topic, &sent).await?;
    let consumer = ctx.consumer(&[])?;
    // Read the first 10, then seek back into the middle of a batch.
    let first = read_assigned(
        &consumer,
        &topic,
        1,
        Offset::Beginning,
        10,
        Duration::from_secs(15),
        Duration::ZERO,
    )?;
    ensure!(
        first.len() >= 10 && first[0].offset == 0,
        "first reads: {} records from {:?}",
        first.len(),
        first.first().map(|r| r.offset)
    );
    consumer
        .seek(&topic, 0, Offset::Offset(50), Duration::from_secs(10))
        .or_fail("seek to 50")?;
    let after = poll_n(
        &consumer,
        50,
        Duration::from_secs(15),
        Duration::from_millis(300),
    )?;
    // librdkafka may still deliver records fetched before the seek? It must not: the seek purges.
    ensure!(
        after.first().map(|r| r.offset) == Some(50),
        "first record after seek(50) at offset {:?}",
        after.first().map(|r| r.offset)
    );
    check_same(&sent[50..], &acks[50..], &after, None)
        .map_err(|e| format!("after seek(50): {e}"))?;
    // Seek backwards, to an offset inside a batch already consumed.
    consumer
        .seek(&topic, 0, Offset::Offset(37), Duration::from_secs(10))
        .or_fail("seek to 37")?;
    let back = poll_n(&consumer, 3, Duration::from_secs(15), Duration::ZERO)?;
    ensure!(
        back.iter().take(3).map(|r| r.offset).collect::<Vec<_>>() == vec![37, 38, 39]
            && back[0].value.as_deref() == Some(&b"value 37"[..]),
        "after seek(37): {:?}",
        back.iter()
            .take(3)
            .map(|r| (r.offset, short(&r.value)))
            .collect::<Vec<_>>()
    );
    drop(consumer);
    // A fresh assignment at an explicit offset starts exactly there.
    let consumer = ctx.consumer(&[])?;
    let from73 = read_assigned(
        &consumer,
        &topic,
        1,
        Offset::Offset(73),
        27,
        Duration::from_secs(15),
        Duration::from_millis(300),
    )?;
    check_same(&sent[73..], &acks[73..], &from73, None)
        .map_err(|e| format!("assign at 73: {e}"))?;
    pass(
        "seek(50) then reads 50..99 exactly, seek back to 37 reads 37.., assign at 73 reads 73..99",
    )
}

pub async fn empty_topic(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("empty");
    ctx.create_topic(&topic, 2, &[]).await?;
    let consumer = ctx.consumer(&[])?;
    for p in 0..2 {
        let wm = consumer
            .fetch_watermarks(&topic, p, MD)
            .or_fail("watermarks")?;
        ensure!(wm == (0, 0), "partition {p}: watermarks {wm:?}");
    }
    // Beginning and end both resolve; nothing comes, no error.
    let got = read_assigned(
        &consumer,
        &topic,
        2,
        Offset::Beginning,
        0,
        Duration::ZERO,
        Duration::from_secs(3),
    )?;
    ensure!(got.is_empty(), "records from an empty topic: {got:?}");
    let pos = consumer.position().or_fail("position")?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::End)
        .or_fail("tpl")?;
    consumer.assign(&tpl).or_fail("assign at End")?;
    let got = poll_n(&consumer, 0, Duration::ZERO, Duration::from_secs(1))?;
    ensure!(
        got.is_empty(),
        "records from an empty topic at End: {got:?}"
    );
    // A partition EOF is reported when asked for, at offset 0.
    let eof = ctx.consumer(&[("enable.partition.eof", "true")])?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 1, Offset::Beginning)
        .or_fail("tpl")?;
    eof.assign(&tpl).or_fail("assign")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let eof_seen = loop {
        match eof.poll(Duration::from_millis(100)) {
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => break p,
            Some(Err(e)) => return Err(format!("error on an empty topic: {e}")),
            Some(Ok(m)) => {
                return Err(format!(
                    "a record from an empty topic at offset {}",
                    rdkafka::Message::offset(&m)
                ));
            }
            None if std::time::Instant::now() > deadline => {
                return Err("no partition EOF within 10 s".into());
            }
            None => {}
        }
    };
    ensure!(eof_seen == 1, "EOF for partition {eof_seen}");
    pass(format!(
        "watermarks (0, 0) on both partitions, no records and no error in 3 s (positions {:?}), EOF reported when enabled",
        pos.elements()
            .iter()
            .map(|e| e.offset())
            .collect::<Vec<_>>()
    ))
}
