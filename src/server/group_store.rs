//! The group coordinator's storage and view of topics, over this broker's partitions.
//!
//! Contract: coordinator records become uncompressed record batches appended to
//! `__consumer_offsets` like any produce (and are as durable as that topic's settings make
//! them, with acks=all); when this broker becomes the leader of a partition of that topic, the
//! partition is read from its log start to its log end and replayed into the coordinator,
//! which answers COORDINATOR_LOAD_IN_PROGRESS for that partition's groups until its replay is
//! done (and NOT_COORDINATOR for partitions it does not lead).

use std::sync::{Arc, OnceLock, Weak};

use crate::controller::MetadataImage;
use crate::group::coordinator::{GroupStore, OFFSETS_TOPIC, StoreFuture, StoreRecord};
use crate::group::{GroupConfig, TopicView};
use crate::log::BatchIter;
use crate::model::{Offset, TopicId};
use crate::protocol::records::{decode_key_values, encode_key_values};

use super::Broker;

/// Bytes read per step while replaying a partition.
const REPLAY_READ_BYTES_MAX: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct OffsetsTopicStore {
    broker: OnceLock<Weak<Broker>>,
}

impl OffsetsTopicStore {
    pub fn bind(&self, broker: &Arc<Broker>) {
        let _ = self.broker.set(Arc::downgrade(broker));
    }
}

impl GroupStore for OffsetsTopicStore {
    fn append(&self, partition: i32, records: Vec<StoreRecord>) -> StoreFuture<'_> {
        Box::pin(async move {
            let broker = self
                .broker
                .get()
                .and_then(Weak::upgrade)
                .ok_or("the broker is shutting down")?;
            broker
                .ensure_offsets_topic()
                .await
                .map_err(|e| e.to_string())?;
            let target = broker
                .partition(OFFSETS_TOPIC, partition)
                .map_err(|e| e.to_string())?;
            let pairs: Vec<_> = records.into_iter().map(|r| (r.key, r.value)).collect();
            let batch =
                encode_key_values(&pairs, broker.clock.now_ms()).map_err(|e| format!("{e:#}"))?;
            // Kafka writes coordinator records with acks=all (offsets.commit.required.acks).
            let acks = crate::replication::Acks::All {
                min_insync: target.log().settings().min_insync_replicas,
                timeout_ms: OFFSETS_COMMIT_TIMEOUT_MS,
            };
            target
                .append(batch, acks)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Kafka's `offsets.commit.timeout.ms` default.
const OFFSETS_COMMIT_TIMEOUT_MS: i64 = 5_000;

/// Replays one partition of the offsets topic into the coordinator, from its log start to its
/// log end (blocking reads; run it on a blocking thread). The caller marked it loading.
///
/// To the log end, not the high watermark, as Kafka's coordinator loads: a new leader's high
/// watermark lags until its followers fetch again, and the records above it were acknowledged
/// (acks=all) by the old leader, so stopping at the high watermark forgot offsets committed
/// just before a failover. A leader never truncates its own log, so they commit as it goes on.
pub fn replay_partition(broker: &Broker, partition: &crate::replication::Partition) {
    let p = partition.tp.partition;
    let mut replayed = 0usize;
    let mut next = partition.log_start_offset();
    let end = partition.log().log_end_offset();
    while next < end {
        let chunk = match partition.log().read(next, REPLAY_READ_BYTES_MAX, end, true) {
            Ok(r) if !r.records.is_empty() => r.records,
            Ok(_) => break,
            Err(e) => {
                tracing::error!(partition = p, error = %e, "reading the offsets topic failed");
                break;
            }
        };
        for batch in BatchIter::new(&chunk) {
            let Ok(batch) = batch else { break };
            next = Offset(batch.header.last_offset() + 1);
            let Some(bytes) = chunk.get(batch.range.clone()) else {
                break;
            };
            match decode_key_values(chunk.slice_ref(bytes)) {
                Ok(records) => {
                    for (offset, key, value) in records {
                        if offset < partition.log_start_offset().0 {
                            continue;
                        }
                        let Some(key) = key else { continue };
                        match broker.groups.replay(&key, value.as_deref()) {
                            Ok(()) => replayed += 1,
                            Err(e) => {
                                tracing::warn!(partition = p, offset, error = %e, "skipping a record")
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(partition = p, error = %e, "skipping an undecodable batch")
                }
            }
        }
    }
    if replayed > 0 {
        tracing::info!(
            partition = p,
            records = replayed,
            "loaded group coordinator state"
        );
    }
}

/// Topics as the coordinator sees them: one metadata image, internal topics hidden.
pub struct ImageTopicView(pub Arc<MetadataImage>);

impl TopicView for ImageTopicView {
    fn topic(&self, name: &str) -> Option<(TopicId, i32)> {
        self.0.topic(name).map(|t| (t.topic_id(), t.partitions))
    }
    fn topic_by_id(&self, id: TopicId) -> Option<(String, i32)> {
        self.0
            .topic_by_id(id)
            .map(|t| (t.name.clone(), t.partitions))
    }
    fn topic_names(&self) -> Vec<String> {
        self.0
            .topics()
            .filter(|t| !t.name.starts_with("__"))
            .map(|t| t.name.clone())
            .collect()
    }
}

/// The coordinator's settings from the broker's properties.
pub fn group_config(c: &crate::config::BrokerConfig) -> GroupConfig {
    GroupConfig {
        session_timeout_ms_min: c.group_min_session_timeout_ms,
        session_timeout_ms_max: c.group_max_session_timeout_ms,
        initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
        classic_group_size_max: c.group_max_size.max(1) as usize,
        consumer_session_timeout_ms: c.group_consumer_session_timeout_ms,
        consumer_heartbeat_interval_ms: c.group_consumer_heartbeat_interval_ms,
        consumer_group_size_max: c.group_consumer_max_size.max(1) as usize,
        consumer_assignors: c.group_consumer_assignors.clone(),
        migration_policy: crate::group::MigrationPolicy::parse(&c.group_consumer_migration_policy),
    }
}
