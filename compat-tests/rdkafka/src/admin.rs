//! DescribeConfigs for a topic (overrides and defaults) and for the broker.

use std::sync::Arc;

use rdkafka::admin::{ConfigSource, ResourceSpecifier};
use rdkafka::consumer::Consumer;
use rdkafka::types::RDKafkaErrorCode;

use crate::ensure;
use crate::util::*;

pub async fn admin_configs(ctx: Arc<Ctx>) -> R {
    let topic = ctx.name("configs");
    ctx.create_topic(
        &topic,
        1,
        &[
            ("retention.ms", "7200000"),
            ("max.message.bytes", "2000000"),
        ],
    )
    .await?;
    let consumer = ctx.consumer(&[])?;
    let md = consumer.fetch_metadata(None, MD).or_fail("metadata")?;
    let broker_id = md.brokers().first().or_fail("a broker")?.id();
    let missing = ctx.name("no-such-topic");
    let admin = ctx.admin()?;
    let res = admin
        .describe_configs(
            &[
                ResourceSpecifier::Topic(&topic),
                ResourceSpecifier::Broker(broker_id),
                ResourceSpecifier::Topic(&missing),
            ],
            &opts(),
        )
        .await
        .or_fail("describe_configs")?;
    ensure!(res.len() == 3, "{} resources answered", res.len());
    let mut it = res.into_iter();
    let t = it.next().unwrap().or_fail("topic configs")?;
    let b = it.next().unwrap().or_fail("broker configs")?;
    let m = it.next().unwrap();

    // Topic: the overrides as dynamic topic configs, the rest as defaults.
    for (name, value) in [
        ("retention.ms", "7200000"),
        ("max.message.bytes", "2000000"),
    ] {
        let e = t.get(name).or_fail(name)?;
        ensure!(
            e.value.as_deref() == Some(value)
                && !e.is_default
                && e.source == ConfigSource::DynamicTopic,
            "{name}: {e:?}, expected the override {value} from DYNAMIC_TOPIC_CONFIG"
        );
    }
    for (name, value) in [
        ("segment.bytes", "1073741824"),
        ("cleanup.policy", "delete"),
        ("message.timestamp.type", "CreateTime"),
        ("retention.bytes", "-1"),
        ("min.insync.replicas", "1"),
        ("compression.type", "producer"),
    ] {
        let e = t.get(name).or_fail(&format!("topic config {name}"))?;
        ensure!(
            e.value.as_deref() == Some(value) && e.is_default && e.source == ConfigSource::Default,
            "topic {name}: {e:?}, expected default {value}"
        );
    }
    let topic_count = t.entries.len();
    ensure!(
        topic_count >= 20,
        "only {topic_count} topic configs described"
    );

    // Broker: the defaults, and what the broker was started with.
    let port = ctx
        .bootstrap
        .rsplit_once(':')
        .map(|x| x.1)
        .unwrap_or_default();
    for (name, value) in [
        ("num.partitions", "1"),
        ("log.retention.hours", "168"),
        ("message.max.bytes", "1048588"),
        ("auto.create.topics.enable", "true"),
        ("default.replication.factor", "1"),
    ] {
        let e = b.get(name).or_fail(&format!("broker config {name}"))?;
        ensure!(
            e.value.as_deref() == Some(value),
            "broker {name}: {:?}, expected {value}",
            e.value
        );
    }
    let l = b.get("listeners").or_fail("broker config listeners")?;
    ensure!(
        l.value
            .as_deref()
            .is_some_and(|v| v.contains(&format!(":{port}"))),
        "listeners {:?} does not name port {port}",
        l.value
    );
    ensure!(
        l.source == ConfigSource::StaticBroker && !l.is_default,
        "listeners described as {:?} (default {}), expected STATIC_BROKER_CONFIG",
        l.source,
        l.is_default
    );
    let broker_count = b.entries.len();
    // Kafka 4.1 describes every broker config it has (hundreds); Gregor the ones it uses.
    ensure!(
        broker_count >= 20,
        "only {broker_count} broker configs described"
    );

    // A topic that does not exist: the broker answers UNKNOWN_TOPIC_OR_PARTITION for that
    // resource, but rdkafka 0.39 never reads a resource's error
    // (`rd_kafka_ConfigResource_error`), so it shows up as a resource with no entries.
    match m {
        Err(RDKafkaErrorCode::UnknownTopicOrPartition) => {}
        Ok(r) if r.entries.is_empty() => {}
        other => {
            return Err(format!(
                "describing a missing topic answered {:?} entries, expected UnknownTopicOrPartition or none",
                other.map(|r| r.entries.len())
            ));
        }
    }
    pass(format!(
        "topic: overrides retention.ms/max.message.bytes as DYNAMIC_TOPIC_CONFIG, {topic_count} entries with defaults; broker {broker_id}: {broker_count} entries incl. listeners (static); a missing topic has no entries"
    ))
}

/// Kafka 4.1's group configs (`GroupConfig`).
const GROUP_CONFIGS: [&str; 10] = [
    "consumer.heartbeat.interval.ms",
    "consumer.session.timeout.ms",
    "share.auto.offset.reset",
    "share.heartbeat.interval.ms",
    "share.isolation.level",
    "share.record.lock.duration.ms",
    "share.session.timeout.ms",
    "streams.heartbeat.interval.ms",
    "streams.num.standby.replicas",
    "streams.session.timeout.ms",
];

pub async fn describe_group_configs(ctx: Arc<Ctx>) -> R {
    let group = ctx.name("gcfg");
    let consumer = ctx.consumer(&[])?;
    let md = consumer.fetch_metadata(None, MD).or_fail("metadata")?;
    let broker_id = md.brokers().first().or_fail("a broker")?.id();
    let admin = ctx.admin()?;
    let res = admin
        .describe_configs(
            &[
                ResourceSpecifier::Broker(broker_id),
                ResourceSpecifier::Group(&group),
            ],
            &opts(),
        )
        .await
        .or_fail("describe_configs")?;
    let mut it = res.into_iter();
    let b = it.next().or_fail("broker")?.or_fail("broker configs")?;
    let g = it.next().or_fail("group")?.or_fail("group configs")?;
    let missing: Vec<&str> = GROUP_CONFIGS
        .iter()
        .copied()
        .filter(|n| g.get(n).is_none())
        .collect();
    ensure!(
        missing.is_empty(),
        "group configs missing: {missing:?} (got {:?})",
        g.entries.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    // Kafka's defaults for consumer.* are the broker's group.consumer.* values.
    let broker_value = |n: &str| b.get(n).and_then(|e| e.value.clone());
    let session = broker_value("group.consumer.session.timeout.ms")
        .or_fail("broker group.consumer.session.timeout.ms")?;
    let heartbeat = broker_value("group.consumer.heartbeat.interval.ms")
        .or_fail("broker group.consumer.heartbeat.interval.ms")?;
    for (name, value) in [
        ("consumer.session.timeout.ms", session.as_str()),
        ("consumer.heartbeat.interval.ms", heartbeat.as_str()),
        ("share.auto.offset.reset", "latest"),
        ("share.isolation.level", "read_uncommitted"),
        ("share.record.lock.duration.ms", "30000"),
        ("streams.num.standby.replicas", "0"),
    ] {
        let e = g.get(name).or_fail(name)?;
        ensure!(
            e.value.as_deref() == Some(value) && e.is_default && e.source == ConfigSource::Default,
            "group {name}: {e:?}, expected default {value}"
        );
    }
    pass(format!(
        "{} group configs with their defaults (consumer.session.timeout.ms {session}, consumer.heartbeat.interval.ms {heartbeat}: the broker's); not altered: rdkafka 0.39 binds no IncrementalAlterConfigs, and its ConfigSource has no GROUP_CONFIG (8) (extract_config_source refuses it)",
        g.entries.len()
    ))
}

pub async fn authorized_operations(_ctx: Arc<Ctx>) -> R {
    Ok(Outcome::Unsupported(
        "rdkafka 0.39 binds none of librdkafka's DescribeTopics, DescribeCluster and DescribeConsumerGroups, the calls that take include_authorized_operations".into(),
    ))
}
