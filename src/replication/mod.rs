//! Partition roles, the high watermark, waiting for data, and durable acknowledgement.
//!
//! Contract: `ReplicaManager` owns one `Partition` per hosted topic-partition. A `Partition`
//! appends through its `PartitionLog`, serves reads bounded by its high watermark, and wakes parked
//! fetches after every append. With a single replica the high watermark is the log end offset;
//! replication to followers (ISR, follower fetch) will move it here and nowhere else.
//! Invariant: `log_start <= high_watermark <= log_end`.
//! Durable acks: when a topic's `flush.messages` is 1, an append is acknowledged only after an
//! fsync covering it; concurrent appends share one fsync (group commit, `DurableSync`), run on a
//! blocking thread, never on the runtime's workers.
//! Lock order: `ReplicaManager.partitions` (dashmap shard) before `Partition.waiters`.
//! Must not import: protocol, server, group.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::Notify;

use crate::config::TopicSettings;
use crate::log::{AppendResult, LogError, LogManager, PartitionLog, ReadResult};
use crate::model::{LeaderEpoch, NodeId, Offset, TopicId, TopicPartition};

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("partition {0} is not hosted here")]
    UnknownPartition(TopicPartition),
    #[error("fsync task failed: {0}")]
    SyncTask(String),
    #[error("leader epoch {requested} of {tp} is older than the current {current}")]
    FencedLeaderEpoch {
        tp: TopicPartition,
        requested: i32,
        current: i32,
    },
    #[error("leader epoch {requested} of {tp} is newer than the current {current}")]
    UnknownLeaderEpoch {
        tp: TopicPartition,
        requested: i32,
        current: i32,
    },
}

/// Kafka's "no epoch" (UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET).
pub const EPOCH_UNDEFINED: i32 = -1;

/// Group commit of fsyncs for one partition: callers wait until the flushed offset passes theirs.
#[derive(Debug, Default)]
struct DurableSync {
    flushed_end: AtomicI64,
    lock: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
pub struct Partition {
    pub tp: TopicPartition,
    pub topic_id: TopicId,
    log: Arc<PartitionLog>,
    leader_epoch: LeaderEpoch,
    fsync_before_ack: bool,
    waiters: Mutex<Vec<Arc<Notify>>>,
    durable: DurableSync,
}

impl Partition {
    pub fn log(&self) -> &Arc<PartitionLog> {
        &self.log
    }

    pub fn leader_epoch(&self) -> LeaderEpoch {
        self.leader_epoch
    }

    pub fn high_watermark(&self) -> Offset {
        self.log.log_end_offset()
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log.log_start_offset()
    }

    /// Checks the leader epoch a client believes current (KIP-320's `current_leader_epoch`;
    /// -1 means "no check"): older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
    pub fn check_current_leader_epoch(&self, requested: i32) -> Result<(), ReplicationError> {
        let current = self.leader_epoch.0;
        if requested == EPOCH_UNDEFINED || requested == current {
            return Ok(());
        }
        let tp = self.tp.clone();
        Err(if requested < current {
            ReplicationError::FencedLeaderEpoch {
                tp,
                requested,
                current,
            }
        } else {
            ReplicationError::UnknownLeaderEpoch {
                tp,
                requested,
                current,
            }
        })
    }

    /// OffsetForLeaderEpoch (KIP-101/279): the largest epoch at or below `requested` and the end
    /// offset of `requested` (the start of the next higher epoch, or the log end offset for the
    /// current epoch); (-1, -1) when the log knows nothing at or above it. As Kafka's leader
    /// records its epoch at the log end when it takes over, the current epoch counts as known
    /// even before anything was appended in it.
    pub fn end_offset_for_epoch(&self, requested: i32) -> (i32, i64) {
        let epochs: Vec<(i32, i64)> = self
            .log
            .leader_epochs()
            .into_iter()
            .map(|(e, o)| (e.0, o.0))
            .collect();
        end_offset_for(
            &epochs,
            self.leader_epoch.0,
            self.log.log_end_offset().0,
            requested,
        )
    }

    /// Appends a client's batches; returns once the append is as durable as the topic requires.
    pub async fn append(&self, records: Bytes) -> Result<AppendResult, ReplicationError> {
        let log = self.log.clone();
        let epoch = self.leader_epoch;
        let result = log.append(records, epoch)?;
        self.wake_waiters();
        if self.fsync_before_ack && !result.duplicate {
            self.sync_through(result.last_offset).await?;
        }
        Ok(result)
    }

    async fn sync_through(&self, last: Offset) -> Result<(), ReplicationError> {
        loop {
            if self.durable.flushed_end.load(Ordering::Acquire) > last.0 {
                return Ok(());
            }
            let _turn = self.durable.lock.lock().await;
            if self.durable.flushed_end.load(Ordering::Acquire) > last.0 {
                return Ok(()); // an fsync that ran while we queued covered this append
            }
            let log = self.log.clone();
            let flushed = tokio::task::spawn_blocking(move || log.flush())
                .await
                .map_err(|e| ReplicationError::SyncTask(e.to_string()))??;
            self.durable
                .flushed_end
                .fetch_max(flushed.0, Ordering::AcqRel);
        }
    }

    /// Reads whole batches at `offset`, never past the high watermark.
    pub fn read(
        &self,
        offset: Offset,
        bytes_max: usize,
        min_one_batch: bool,
    ) -> Result<ReadResult, ReplicationError> {
        let hw = self.high_watermark();
        Ok(self.log.read(offset, bytes_max, hw, min_one_batch)?)
    }

    /// Parks a fetch: `notify` is woken (once) by the next append to this partition.
    pub fn register_waiter(&self, notify: Arc<Notify>) {
        let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        w.retain(|n| Arc::strong_count(n) > 1);
        w.push(notify);
    }

    fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        for w in waiters {
            w.notify_one();
        }
    }
}

/// Kafka's LeaderEpochFileCache.endOffsetFor over (epoch, start offset) pairs, ascending, with
/// the leader's current epoch taken to start at the log end if no batch carries it yet.
fn end_offset_for(epochs: &[(i32, i64)], current: i32, log_end: i64, requested: i32) -> (i32, i64) {
    let undefined = (EPOCH_UNDEFINED, -1);
    if requested == EPOCH_UNDEFINED {
        return undefined;
    }
    let latest = epochs.last().map(|(e, _)| *e).filter(|e| *e >= current);
    if latest.unwrap_or(current) == requested {
        return (requested, log_end);
    }
    let current_entry = latest.is_none().then_some((current, log_end));
    let all = epochs.iter().copied().chain(current_entry);
    let Some((_, higher_start)) = all.clone().find(|(e, _)| *e > requested) else {
        return undefined;
    };
    match all.filter(|(e, _)| *e <= requested).last() {
        Some((floor, _)) => (floor, higher_start),
        None => (requested, higher_start),
    }
}

/// The partitions this broker hosts.
#[derive(Debug)]
pub struct ReplicaManager {
    node_id: NodeId,
    logs: Arc<LogManager>,
    partitions: DashMap<TopicPartition, Arc<Partition>>,
}

impl ReplicaManager {
    pub fn new(node_id: NodeId, logs: Arc<LogManager>) -> Self {
        ReplicaManager {
            node_id,
            logs,
            partitions: DashMap::new(),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn log_manager(&self) -> &Arc<LogManager> {
        &self.logs
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<Partition>> {
        self.partitions.get(tp).map(|p| p.clone())
    }

    /// Opens (creating if needed) the log of each partition `0..count` of a topic and hosts it.
    pub fn host_topic(
        &self,
        topic: &str,
        topic_id: TopicId,
        count: i32,
        settings: &TopicSettings,
    ) -> Result<(), ReplicationError> {
        // flush.messages=1 is served by the group commit here rather than an fsync per append.
        let fsync_before_ack = settings.flush_messages <= 1;
        let mut log_settings = settings.clone();
        if fsync_before_ack {
            log_settings.flush_messages = i64::MAX;
        }
        for p in 0..count {
            let tp = TopicPartition::new(topic, p);
            if let Some(existing) = self.partitions.get(&tp)
                && existing.topic_id == topic_id
            {
                continue;
            }
            let log = self.logs.open_log(&tp, topic_id, log_settings.clone())?;
            let partition = Partition {
                tp: tp.clone(),
                topic_id,
                log,
                leader_epoch: LeaderEpoch(0),
                fsync_before_ack,
                waiters: Mutex::new(Vec::new()),
                durable: DurableSync::default(),
            };
            self.partitions.insert(tp, Arc::new(partition));
        }
        Ok(())
    }

    /// Stops hosting a topic and deletes its data.
    pub fn remove_topic(&self, topic: &str, count: i32) -> Result<(), ReplicationError> {
        for p in 0..count {
            let tp = TopicPartition::new(topic, p);
            if let Some((_, partition)) = self.partitions.remove(&tp) {
                partition.wake_waiters();
            }
            self.logs.remove_log(&tp)?;
        }
        Ok(())
    }

    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions.iter().map(|e| e.value().clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::end_offset_for;

    #[test]
    fn end_offsets_follow_kafkas_epoch_cache() {
        // Epoch 1 from offset 0, epoch 3 from 10, epoch 4 from 25; log end 30; current epoch 4.
        let epochs = [(1, 0), (3, 10), (4, 25)];
        assert_eq!(end_offset_for(&epochs, 4, 30, 4), (4, 30));
        assert_eq!(end_offset_for(&epochs, 4, 30, 3), (3, 25));
        // An epoch between known ones ends where the next higher starts; the floor is reported.
        assert_eq!(end_offset_for(&epochs, 4, 30, 2), (1, 10));
        assert_eq!(end_offset_for(&epochs, 4, 30, 1), (1, 10));
        // Below every known epoch: the requested epoch, ending where the first one starts.
        assert_eq!(end_offset_for(&epochs, 4, 30, 0), (0, 0));
        // Above every known epoch, or undefined: nothing.
        assert_eq!(end_offset_for(&epochs, 4, 30, 9), (-1, -1));
        assert_eq!(end_offset_for(&epochs, 4, 30, -1), (-1, -1));
        // A leader whose epoch no batch carries yet: it starts at the log end.
        assert_eq!(end_offset_for(&epochs, 6, 30, 6), (6, 30));
        assert_eq!(end_offset_for(&epochs, 6, 30, 5), (4, 30));
        assert_eq!(end_offset_for(&[], 0, 0, 0), (0, 0));
        assert_eq!(end_offset_for(&[], 2, 0, 1), (1, 0));
    }
}
