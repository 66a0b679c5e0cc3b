//! Metadata and topic administration: listing, create, delete, grow, unknown topics, many
//! partitions.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::Offset;
use rdkafka::admin::{NewPartitions, ResourceSpecifier};
use rdkafka::consumer::Consumer;
use rdkafka::types::RDKafkaErrorCode;

use crate::ensure;
use crate::util::*;

pub async fn metadata(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("meta");
    ctx.create_topic(&topic, 2, &[]).await?;
    let consumer = ctx.consumer(&[])?;
    let md = eventually("topic listed", Duration::from_secs(10), || {
        let md = consumer
            .fetch_metadata(None, MD)
            .or_fail("metadata (all topics)")?;
        ensure!(
            md.topics().iter().any(|t| t.name() == topic),
            "topic {topic} not in the listing"
        );
        Ok(md)
    })
    .await?;
    let (host, port) = ctx
        .bootstrap
        .rsplit_once(':')
        .or_fail("bootstrap host:port")?;
    let brokers: Vec<_> = md
        .brokers()
        .iter()
        .map(|b| (b.id(), b.host().to_string(), b.port()))
        .collect();
    ensure!(brokers.len() == 1, "expected one broker, got {brokers:?}");
    let (id, bhost, bport) = &brokers[0];
    ensure!(
        bhost == host && bport.to_string() == port,
        "broker advertised as {bhost}:{bport}, expected {}",
        ctx.bootstrap
    );
    let t = md.topics().iter().find(|t| t.name() == topic).unwrap();
    ensure!(t.error().is_none(), "topic error {:?}", t.error());
    let mut parts: Vec<_> = t
        .partitions()
        .iter()
        .map(|p| (p.id(), p.leader()))
        .collect();
    parts.sort();
    ensure!(
        parts == vec![(0, *id), (1, *id)],
        "partitions (id, leader) {parts:?}, expected 0 and 1 led by {id}"
    );
    for p in t.partitions() {
        ensure!(
            p.replicas() == [*id] && p.isr() == [*id],
            "partition {}: replicas {:?} isr {:?}",
            p.id(),
            p.replicas(),
            p.isr()
        );
    }
    ensure!(
        !md.topics()
            .iter()
            .any(|t| t.name() == "__consumer_offsets" && t.error().is_some()),
        "internal topic listed with an error"
    );
    let cluster = consumer.client().fetch_cluster_id(MD);
    let cluster = cluster.or_fail("cluster id")?;
    ensure!(!cluster.is_empty(), "empty cluster id");
    let names = md.topics().len();
    pass(format!(
        "broker {id} at {bhost}:{bport}, cluster id {cluster}, {names} topics listed incl. {topic} (2 partitions)"
    ))
}

pub async fn create_topic(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("created");
    ctx.create_topic(&topic, 3, &[("retention.ms", "3600000")])
        .await?;
    let consumer = ctx.consumer(&[])?;
    let n = eventually(
        "metadata shows 3 partitions",
        Duration::from_secs(10),
        || {
            let n = topic_partitions(&consumer, &topic)?;
            ensure!(n == 3, "{n} partitions");
            Ok(n)
        },
    )
    .await?;
    let admin = ctx.admin()?;
    let res = admin
        .describe_configs(&[ResourceSpecifier::Topic(&topic)], &opts())
        .await
        .or_fail("describe_configs")?;
    let cfg = res
        .into_iter()
        .next()
        .or_fail("a config resource")?
        .or_fail("topic configs")?;
    let r = cfg.get("retention.ms").or_fail("retention.ms")?;
    ensure!(
        r.value.as_deref() == Some("3600000") && !r.is_default,
        "retention.ms {:?} (default {}), expected the override 3600000",
        r.value,
        r.is_default
    );
    // Creating it again is refused as Kafka refuses it.
    let again = admin
        .create_topics(
            &[rdkafka::admin::NewTopic::new(
                &topic,
                3,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &opts(),
        )
        .await
        .or_fail("create_topics again")?;
    match &again[0] {
        Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
        other => return Err(format!("creating it again answered {other:?}")),
    }
    pass(format!(
        "{n} partitions, retention.ms=3600000 described as an override, re-create refused TOPIC_ALREADY_EXISTS"
    ))
}

pub async fn delete_topic(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("deleted");
    ctx.create_topic(&topic, 3, &[]).await?;
    {
        let producer = ctx.producer(&[])?;
        let old: Vec<Out> = (0..9)
            .map(|i| Out::kv("k", format!("old-{i}")).to(i % 3))
            .collect();
        send_ok(&producer, &topic, &old).await?;
    }
    let admin = ctx.admin()?;
    let res = admin
        .delete_topics(&[&topic], &opts())
        .await
        .or_fail("delete_topics")?;
    res[0].clone().or_fail("delete topic")?;
    let consumer = ctx.consumer(&[("allow.auto.create.topics", "false")])?;
    eventually("metadata stops listing it", Duration::from_secs(15), || {
        let md = consumer.fetch_metadata(None, MD).or_fail("metadata")?;
        ensure!(
            !md.topics().iter().any(|t| t.name() == topic),
            "still listed"
        );
        Ok(())
    })
    .await?;
    let res = admin
        .delete_topics(&[&topic], &opts())
        .await
        .or_fail("delete_topics again")?;
    match &res[0] {
        Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
        other => return Err(format!("deleting it again answered {other:?}")),
    }
    drop(consumer);
    // Re-create with another partition count; only new records are there.
    ctx.create_topic(&topic, 2, &[]).await?;
    let consumer = ctx.consumer(&[])?;
    eventually(
        "re-created topic has 2 partitions",
        Duration::from_secs(10),
        || {
            let n = topic_partitions(&consumer, &topic)?;
            ensure!(n == 2, "{n} partitions");
            Ok(())
        },
    )
    .await?;
    let producer = ctx.producer(&[])?;
    let new: Vec<Out> = (0..4)
        .map(|i| Out::kv("k", format!("new-{i}")).to(i % 2))
        .collect();
    let acks = send_ok(&producer, &topic, &new).await?;
    let got = read_assigned(
        &consumer,
        &topic,
        2,
        Offset::Beginning,
        4,
        Duration::from_secs(15),
        Duration::from_millis(500),
    )?;
    check_same(&new, &acks, &got, None)?;
    ensure!(
        acks.iter().all(|a| a.offset < 2),
        "re-created topic's offsets start at 0: {acks:?}"
    );
    pass(
        "deleted (second delete: UNKNOWN_TOPIC_OR_PARTITION), gone from metadata, re-created with 2 partitions holding only new records from offset 0",
    )
}

pub async fn create_partitions(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("grown");
    ctx.create_topic(&topic, 3, &[]).await?;
    let admin = ctx.admin()?;
    let res = admin
        .create_partitions(&[NewPartitions::new(&topic, 5)], &opts())
        .await
        .or_fail("create_partitions")?;
    res[0].clone().or_fail("grow to 5")?;
    let consumer = ctx.consumer(&[])?;
    eventually(
        "metadata shows 5 partitions",
        Duration::from_secs(10),
        || {
            let n = topic_partitions(&consumer, &topic)?;
            ensure!(n == 5, "{n} partitions");
            Ok(())
        },
    )
    .await?;
    // Shrinking is refused.
    let res = admin
        .create_partitions(&[NewPartitions::new(&topic, 4)], &opts())
        .await
        .or_fail("create_partitions (shrink)")?;
    match &res[0] {
        Err((_, RDKafkaErrorCode::InvalidPartitions)) => {}
        other => return Err(format!("shrinking to 4 answered {other:?}")),
    }
    // The new partitions take records.
    let producer = ctx.producer(&[])?;
    let sent: Vec<Out> = (0..5)
        .map(|p| Out::kv("k", format!("p{p}")).to(p))
        .collect();
    let acks = send_ok(&producer, &topic, &sent).await?;
    let got = read_assigned(
        &consumer,
        &topic,
        5,
        Offset::Beginning,
        5,
        Duration::from_secs(15),
        Duration::from_millis(300),
    )?;
    check_same(&sent, &acks, &got, None)?;
    pass(
        "3 -> 5 partitions, metadata shows 5, shrink refused INVALID_PARTITIONS, all 5 partitions take records",
    )
}

pub async fn nonexistent_topic(ctx: Arc<Ctx>) -> R {
    let missing = ctx.name("never-created");
    let consumer = ctx.consumer(&[("allow.auto.create.topics", "false")])?;
    let md = consumer
        .fetch_metadata(Some(&missing), MD)
        .or_fail("metadata for the missing topic")?;
    let t = md.topics().first().or_fail("topic entry")?;
    let err = t.error().map(RDKafkaErrorCode::from);
    ensure!(
        err == Some(RDKafkaErrorCode::UnknownTopicOrPartition),
        "topic error {err:?}, expected UnknownTopicOrPartition"
    );
    let all = consumer
        .fetch_metadata(None, MD)
        .or_fail("metadata (all)")?;
    ensure!(
        !all.topics().iter().any(|t| t.name() == missing),
        "the missing topic was auto-created by a metadata request that did not allow it"
    );
    // Watermarks of a missing topic fail cleanly.
    let wm = consumer.fetch_watermarks(&missing, 0, Duration::from_secs(5));
    ensure!(wm.is_err(), "watermarks of a missing topic: {wm:?}");
    // The client stays usable: the same consumer reads a real topic.
    let topic = ctx.name("exists");
    ctx.create_topic(&topic, 1, &[]).await?;
    let producer = ctx.producer(&[])?;
    let sent = vec![Out::kv("k", "still usable").to(0)];
    let acks = send_ok(&producer, &topic, &sent).await?;
    let got = read_assigned(
        &consumer,
        &topic,
        1,
        Offset::Beginning,
        1,
        Duration::from_secs(15),
        Duration::from_millis(200),
    )?;
    check_same(&sent, &acks, &got, None)?;
    pass(format!(
        "UNKNOWN_TOPIC_OR_PARTITION for the missing topic, not auto-created; watermarks failed ({}); the same client then read a real topic",
        wm.unwrap_err()
    ))
}

pub async fn many_partitions(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("hundred");
    ctx.create_topic(&topic, 100, &[]).await?;
    let consumer = ctx.consumer(&[])?;
    eventually(
        "metadata shows 100 partitions",
        Duration::from_secs(10),
        || {
            let n = topic_partitions(&consumer, &topic)?;
            ensure!(n == 100, "{n} partitions");
            Ok(())
        },
    )
    .await?;
    let producer = ctx.producer(&[])?;
    let sent: Vec<Out> = (0..100)
        .map(|p| Out::kv(format!("key-{p}"), format!("value for partition {p}")).to(p))
        .collect();
    let acks = send_ok(&producer, &topic, &sent).await?;
    for (p, a) in acks.iter().enumerate() {
        ensure!(
            a.partition == p as i32 && a.offset == 0,
            "record for partition {p} acknowledged at {}/{}",
            a.partition,
            a.offset
        );
    }
    let got = read_assigned(
        &consumer,
        &topic,
        100,
        Offset::Beginning,
        100,
        Duration::from_secs(30),
        Duration::from_millis(300),
    )?;
    check_same(&sent, &acks, &got, None)?;
    pass("100 partitions, one record each at offset 0, all 100 read back equal")
}
