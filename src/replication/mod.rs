//! Partition roles, the high watermark, waiting for data, and durable acknowledgement.
//!
//! Contract: `ReplicaManager` owns one `Partition` per hosted topic-partition. A `Partition` has
//! the role the metadata image gives it (`apply_metadata`): a leader appends clients' batches
//! through its `PartitionLog`, tracks each follower's log end from its fetches, advances the
//! high watermark to the smallest log end of the ISR, and proposes ISR changes (expansion when a
//! follower catches up, shrink after `replica.lag.time.max.ms`) that the broker sends to the
//! controller as AlterPartition; acks=all waits for the high watermark. A follower appends what
//! it fetched (`append_replicated`) and takes the leader's high watermark; `fetcher` runs that
//! loop. Reads for consumers stop at the high watermark, for followers at the log end. A leader
//! whose ISR is itself alone ("solo", the single-node case) has high watermark = log end with no
//! bookkeeping. Parked fetches wake after every append and high watermark advance.
//! Invariant: `log_start <= high_watermark <= log_end`.
//! Durable acks: when a topic's `flush.messages` is 1, an append is acknowledged only after an
//! fsync covering it; concurrent appends share one fsync (group commit, `DurableSync`), run on a
//! blocking thread, never on the runtime's workers.
//! Lock order: `ReplicaManager.partitions` (dashmap shard) before `Partition.waiters`.
//! Must not import: protocol, server, group.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::{Notify, watch};

use crate::config::TopicSettings;
use crate::log::{AppendResult, LogError, LogManager, PartitionLog, ReadResult};
use crate::model::{LeaderEpoch, NodeId, Offset, PartitionKey, TopicId, TopicPartition};

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
    #[error("this broker is not the leader of {tp} (the leader is {leader})")]
    NotLeader { tp: TopicPartition, leader: i32 },
    #[error("{tp} has {isr} in-sync replicas, below min.insync.replicas {min}")]
    NotEnoughReplicas {
        tp: TopicPartition,
        isr: usize,
        min: i32,
    },
    #[error("{tp} shrank to {isr} in-sync replicas (min.insync.replicas {min}) after the append")]
    NotEnoughReplicasAfterAppend {
        tp: TopicPartition,
        isr: usize,
        min: i32,
    },
    #[error(
        "the in-sync replicas of {tp} did not acknowledge offset {offset} within {timeout_ms} ms"
    )]
    AckTimeout {
        tp: TopicPartition,
        offset: i64,
        timeout_ms: i64,
    },
}

/// This broker's role for one partition, as the metadata image says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower {
        leader: i32,
    },
    /// No leader is known (or the image names a broker that is gone).
    Offline,
}

/// What the leader knows of one follower (Kafka's `Replica` state).
#[derive(Debug, Clone, Copy, Default)]
struct FollowerProgress {
    log_end: i64,
    last_fetch_ms: i64,
    last_caught_up_ms: i64,
    leader_end_at_last_fetch: i64,
}

/// The replication state of a partition (guarded by `Partition.state`).
#[derive(Debug)]
struct ReplicaState {
    role: Role,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    partition_epoch: i32,
    followers: std::collections::HashMap<i32, FollowerProgress>,
    /// An AlterPartition is in flight: no other ISR change is proposed until it is answered.
    isr_change_pending: bool,
}

/// An ISR change the leader wants the controller to make (AlterPartition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    pub tp: TopicPartition,
    pub topic_id: TopicId,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

/// How a produce waits (Kafka's `acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// acks=0 or 1: the leader's append.
    Leader,
    /// acks=all: every ISR member, at least `min_insync` of them, within `timeout_ms`.
    All { min_insync: i32, timeout_ms: i64 },
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
    node_id: i32,
    log: Arc<PartitionLog>,
    leader_epoch: AtomicI32,
    /// Leader whose ISR is itself alone: the high watermark is the log end, no bookkeeping (the
    /// single-node path).
    solo: AtomicBool,
    high_watermark: AtomicI64,
    /// Publishes high watermark advances to acks=all waiters.
    hw_watch: watch::Sender<i64>,
    state: Mutex<ReplicaState>,
    fsync_before_ack: bool,
    waiters: Mutex<Vec<Arc<Notify>>>,
    durable: DurableSync,
}

impl Partition {
    pub fn log(&self) -> &Arc<PartitionLog> {
        &self.log
    }

    pub fn leader_epoch(&self) -> LeaderEpoch {
        LeaderEpoch(self.leader_epoch.load(Ordering::Acquire))
    }

    pub fn high_watermark(&self) -> Offset {
        if self.solo.load(Ordering::Acquire) {
            return self.log.log_end_offset();
        }
        Offset(self.high_watermark.load(Ordering::Acquire))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ReplicaState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn role(&self) -> Role {
        self.state().role
    }

    pub fn is_leader(&self) -> bool {
        self.role() == Role::Leader
    }

    pub fn isr(&self) -> Vec<i32> {
        self.state().isr.clone()
    }

    pub fn replicas(&self) -> Vec<i32> {
        self.state().replicas.clone()
    }

    /// Wakes the acks=all waits so that they see this replica no longer leads.
    fn end_acks_waits(&self) {
        self.hw_watch.send_modify(|_| {});
    }

    /// Stops leading or following, for a broker that is stopping: the partition is offline
    /// here, and its acks=all waits end at once with NOT_LEADER_OR_FOLLOWER (Kafka's purgatory
    /// shutdown) instead of holding the stop up until their timeouts.
    pub fn resign(&self) {
        self.solo.store(false, Ordering::Release);
        {
            let mut st = self.state();
            st.role = Role::Offline;
            st.followers.clear();
        }
        self.end_acks_waits();
        self.wake_waiters();
    }

    /// Moves the high watermark forward (never back) and wakes whoever waits on it.
    fn advance_high_watermark(&self, hw: i64) {
        let leo = self.log.log_end_offset().0;
        let hw = hw.min(leo);
        let prev = self.high_watermark.fetch_max(hw, Ordering::AcqRel);
        if hw > prev {
            self.hw_watch.send_replace(hw);
            self.wake_waiters();
        }
    }

    /// Applies the image's view of this partition: leadership, epoch, replicas and ISR. Returns
    /// the role this broker now has. A new leader epoch is recorded in the epoch cache at the
    /// log end (Kafka's become-leader), so OffsetForLeaderEpoch and followers' divergence checks
    /// see where it starts.
    pub fn apply_metadata(
        &self,
        leader: i32,
        leader_epoch: i32,
        replicas: &[i32],
        isr: &[i32],
        partition_epoch: i32,
        now_ms: i64,
    ) -> Result<Role, ReplicationError> {
        let role = if leader == self.node_id {
            Role::Leader
        } else if leader >= 0 {
            Role::Follower { leader }
        } else {
            Role::Offline
        };
        let mut st = self.state();
        let epoch_changed = self.leader_epoch.load(Ordering::Acquire) != leader_epoch;
        if role == Role::Leader && (epoch_changed || st.role != Role::Leader) {
            self.log.assign_epoch_start(LeaderEpoch(leader_epoch))?;
            let leo = self.log.log_end_offset().0;
            st.followers = replicas
                .iter()
                .filter(|r| **r != self.node_id)
                .map(|r| {
                    let known = st.followers.get(r).copied().unwrap_or_default();
                    (
                        *r,
                        FollowerProgress {
                            // An ISR member counts as caught up from now (Kafka's rule).
                            last_caught_up_ms: if isr.contains(r) {
                                now_ms
                            } else {
                                known.last_caught_up_ms
                            },
                            leader_end_at_last_fetch: leo,
                            ..known
                        },
                    )
                })
                .collect();
        }
        if role != Role::Leader {
            st.followers.clear();
        }
        st.role = role;
        st.replicas = replicas.to_vec();
        st.isr = isr.to_vec();
        st.partition_epoch = partition_epoch;
        st.isr_change_pending = false;
        self.leader_epoch.store(leader_epoch, Ordering::Release);
        let solo = role == Role::Leader && isr.len() <= 1;
        if self.solo.swap(solo, Ordering::AcqRel) && !solo {
            // Leaving the solo path: the log end was the high watermark until now.
            self.high_watermark
                .fetch_max(self.log.log_end_offset().0, Ordering::AcqRel);
        }
        drop(st);
        if role == Role::Leader && !solo {
            self.recompute_high_watermark();
        } else if role != Role::Leader {
            self.end_acks_waits();
        }
        self.wake_waiters();
        Ok(role)
    }

    /// The leader's high watermark: the smallest log end among the ISR (its own included).
    fn recompute_high_watermark(&self) {
        let hw = {
            let st = self.state();
            if st.role != Role::Leader {
                return;
            }
            let mut hw = self.log.log_end_offset().0;
            for r in &st.isr {
                if *r == self.node_id {
                    continue;
                }
                let end = st.followers.get(r).map(|f| f.log_end).unwrap_or(0);
                hw = hw.min(end);
            }
            hw
        };
        self.advance_high_watermark(hw);
    }

    /// A follower fetched at `fetch_offset` (its log end): update its progress and the high
    /// watermark. Returns an ISR expansion to propose when it has caught up and is
    /// `isr_eligible` (registered and unfenced in the image, as Kafka's leader checks before
    /// asking: the controller would refuse a fenced broker anyway).
    pub fn record_follower_fetch(
        &self,
        replica: i32,
        fetch_offset: i64,
        now_ms: i64,
        isr_eligible: bool,
    ) -> Option<IsrProposal> {
        let leo = self.log.log_end_offset().0;
        let proposal = {
            let mut st = self.state();
            if st.role != Role::Leader || !st.replicas.contains(&replica) {
                return None;
            }
            let f = st.followers.entry(replica).or_default();
            if fetch_offset >= leo {
                f.last_caught_up_ms = now_ms;
            } else if fetch_offset >= f.leader_end_at_last_fetch {
                f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
            }
            f.log_end = fetch_offset;
            f.last_fetch_ms = now_ms;
            f.leader_end_at_last_fetch = leo;
            let hw = self.high_watermark.load(Ordering::Acquire);
            let epoch_start = self
                .log
                .leader_epochs()
                .last()
                .map(|(_, o)| o.0)
                .unwrap_or(0);
            let joins = isr_eligible
                && !st.isr.contains(&replica)
                && !st.isr_change_pending
                && fetch_offset >= hw.max(epoch_start);
            if joins {
                st.isr_change_pending = true;
                let mut new_isr = st.isr.clone();
                new_isr.push(replica);
                Some(IsrProposal {
                    tp: self.tp.clone(),
                    topic_id: self.topic_id,
                    leader_epoch: self.leader_epoch.load(Ordering::Acquire),
                    partition_epoch: st.partition_epoch,
                    new_isr,
                })
            } else {
                None
            }
        };
        self.recompute_high_watermark();
        proposal
    }

    /// ISR members that have not caught up for `lag_max_ms`: the shrink to propose, if any.
    pub fn isr_shrink(&self, now_ms: i64, lag_max_ms: i64) -> Option<IsrProposal> {
        let mut st = self.state();
        if st.role != Role::Leader || st.isr_change_pending {
            return None;
        }
        let lagging: Vec<i32> = st
            .isr
            .iter()
            .copied()
            .filter(|r| *r != self.node_id)
            .filter(|r| {
                st.followers
                    .get(r)
                    .is_none_or(|f| now_ms - f.last_caught_up_ms > lag_max_ms)
            })
            .collect();
        if lagging.is_empty() {
            return None;
        }
        st.isr_change_pending = true;
        let new_isr = st
            .isr
            .iter()
            .copied()
            .filter(|r| !lagging.contains(r))
            .collect();
        Some(IsrProposal {
            tp: self.tp.clone(),
            topic_id: self.topic_id,
            leader_epoch: self.leader_epoch.load(Ordering::Acquire),
            partition_epoch: st.partition_epoch,
            new_isr,
        })
    }

    /// The controller answered an ISR proposal: apply its state (or just allow the next one).
    pub fn isr_change_done(&self, accepted: Option<(Vec<i32>, i32)>) {
        {
            let mut st = self.state();
            st.isr_change_pending = false;
            if let Some((isr, partition_epoch)) = accepted
                && partition_epoch >= st.partition_epoch
            {
                st.isr = isr;
                st.partition_epoch = partition_epoch;
            }
        }
        let solo = {
            let st = self.state();
            st.role == Role::Leader && st.isr.len() <= 1
        };
        if self.solo.swap(solo, Ordering::AcqRel) && !solo {
            self.high_watermark
                .fetch_max(self.log.log_end_offset().0, Ordering::AcqRel);
        }
        self.recompute_high_watermark();
        self.wake_waiters();
    }

    /// Follower side: appends batches fetched from the leader as they are and takes the
    /// leader's high watermark (bounded by what this replica holds).
    pub fn append_replicated(
        &self,
        records: Bytes,
        leader_hw: i64,
    ) -> Result<(), ReplicationError> {
        if !records.is_empty() {
            self.log.append_replicated(records)?;
        }
        self.advance_high_watermark(leader_hw);
        Ok(())
    }

    /// Follower side: cuts the log back to `offset` (divergence from the new leader).
    pub fn truncate_to(&self, offset: i64) -> Result<(), ReplicationError> {
        self.log.truncate_to(Offset(offset))?;
        let leo = self.log.log_end_offset().0;
        self.high_watermark.fetch_min(leo, Ordering::AcqRel);
        Ok(())
    }

    /// Follower side: the leader's log starts above ours: start over at `offset`.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), ReplicationError> {
        self.log.truncate_fully_and_start_at(Offset(offset))?;
        self.high_watermark.store(offset, Ordering::Release);
        Ok(())
    }

    /// The latest epoch in this replica's log (what a follower sends as `last_fetched_epoch`).
    pub fn latest_epoch(&self) -> i32 {
        self.log
            .leader_epochs()
            .last()
            .map(|(e, _)| e.0)
            .unwrap_or(EPOCH_UNDEFINED)
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log.log_start_offset()
    }

    /// Checks the leader epoch a client believes current (KIP-320's `current_leader_epoch`;
    /// -1 means "no check"): older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
    pub fn check_current_leader_epoch(&self, requested: i32) -> Result<(), ReplicationError> {
        let current = self.leader_epoch.load(Ordering::Acquire);
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
            self.leader_epoch.load(Ordering::Acquire),
            self.log.log_end_offset().0,
            requested,
        )
    }

    /// NOT_LEADER_OR_FOLLOWER (naming the leader it knows) unless this replica leads: the
    /// first check of every write, before the request's own contents are looked at.
    pub fn ensure_leader(&self) -> Result<(), ReplicationError> {
        let role = self.state().role;
        self.leader_only(role)
    }

    fn leader_only(&self, role: Role) -> Result<(), ReplicationError> {
        let leader = match role {
            Role::Leader => return Ok(()),
            Role::Follower { leader } => leader,
            Role::Offline => -1,
        };
        Err(ReplicationError::NotLeader {
            tp: self.tp.clone(),
            leader,
        })
    }

    /// Appends a client's batches as leader; returns once the append is as durable as the topic
    /// requires and, for acks=all, once every ISR member holds it (the high watermark passed it).
    pub async fn append(
        &self,
        records: Bytes,
        acks: Acks,
    ) -> Result<AppendResult, ReplicationError> {
        let (role, isr_len) = {
            let st = self.state();
            (st.role, st.isr.len())
        };
        self.leader_only(role)?;
        if let Acks::All { min_insync, .. } = acks
            && (isr_len as i32) < min_insync
        {
            return Err(ReplicationError::NotEnoughReplicas {
                tp: self.tp.clone(),
                isr: isr_len,
                min: min_insync,
            });
        }
        let log = self.log.clone();
        let epoch = self.leader_epoch();
        let result = log.append(records, epoch)?;
        self.wake_waiters();
        if self.fsync_before_ack && !result.duplicate {
            self.sync_through(result.last_offset).await?;
        }
        if let Acks::All {
            min_insync,
            timeout_ms,
        } = acks
            && !self.solo.load(Ordering::Acquire)
        {
            self.recompute_high_watermark();
            let target = result.last_offset.0 + 1;
            let mut rx = self.hw_watch.subscribe();
            // Kafka's delayed produce: done when the ISR has the records, or (with
            // NOT_LEADER_OR_FOLLOWER) as soon as this replica stops leading, not at the timeout.
            let wait = rx.wait_for(|hw| *hw >= target || !self.is_leader());
            let waited = tokio::time::timeout(
                std::time::Duration::from_millis(timeout_ms.max(0) as u64),
                wait,
            )
            .await;
            if self.high_watermark().0 < target {
                self.ensure_leader()?;
                if !matches!(waited, Ok(Ok(_))) {
                    return Err(ReplicationError::AckTimeout {
                        tp: self.tp.clone(),
                        offset: result.last_offset.0,
                        timeout_ms,
                    });
                }
            }
            let isr_len = self.state().isr.len();
            if (isr_len as i32) < min_insync {
                return Err(ReplicationError::NotEnoughReplicasAfterAppend {
                    tp: self.tp.clone(),
                    isr: isr_len,
                    min: min_insync,
                });
            }
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

    /// Reads whole batches at `offset` for a follower: up to the log end.
    pub fn read_for_replica(
        &self,
        offset: Offset,
        bytes_max: usize,
    ) -> Result<ReadResult, ReplicationError> {
        let leo = self.log.log_end_offset();
        Ok(self.log.read(offset, bytes_max, leo, true)?)
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
    /// High watermarks from the replication-offset-checkpoint read at start.
    initial_high_watermarks: std::collections::HashMap<TopicPartition, i64>,
}

impl ReplicaManager {
    pub fn new(node_id: NodeId, logs: Arc<LogManager>) -> Self {
        let initial_high_watermarks = match logs.read_high_watermarks() {
            Ok(m) => m.into_iter().map(|(tp, o)| (tp, o.0)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "replication-offset-checkpoint unreadable; high watermarks start at 0");
                Default::default()
            }
        };
        ReplicaManager {
            node_id,
            logs,
            partitions: DashMap::new(),
            initial_high_watermarks,
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

    /// `get` from a borrowed topic name (no key is built: the produce path's lookup).
    pub fn get_by_name(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        let key: &dyn PartitionKey = &(topic, partition);
        self.partitions.get(key).map(|p| p.clone())
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
            self.host_partition(&tp, topic_id, &log_settings, fsync_before_ack)?;
        }
        Ok(())
    }

    /// Hosts one partition (opening or creating its log), with no role until the metadata says.
    /// An already hosted partition of the same topic id is returned as it is.
    pub fn host(
        &self,
        tp: &TopicPartition,
        topic_id: TopicId,
        settings: &TopicSettings,
    ) -> Result<Arc<Partition>, ReplicationError> {
        if let Some(existing) = self.partitions.get(tp)
            && existing.topic_id == topic_id
        {
            return Ok(existing.clone());
        }
        let fsync_before_ack = settings.flush_messages <= 1;
        let mut log_settings = settings.clone();
        if fsync_before_ack {
            log_settings.flush_messages = i64::MAX;
        }
        self.host_partition(tp, topic_id, &log_settings, fsync_before_ack)
    }

    fn host_partition(
        &self,
        tp: &TopicPartition,
        topic_id: TopicId,
        log_settings: &TopicSettings,
        fsync_before_ack: bool,
    ) -> Result<Arc<Partition>, ReplicationError> {
        let log = self.logs.open_log(tp, topic_id, log_settings.clone())?;
        let leo = log.log_end_offset().0;
        let hw = self
            .initial_high_watermarks
            .get(tp)
            .map(|h| (*h).min(leo))
            .unwrap_or(0);
        let partition = Arc::new(Partition {
            tp: tp.clone(),
            topic_id,
            node_id: self.node_id.0,
            log,
            leader_epoch: AtomicI32::new(0),
            solo: AtomicBool::new(false),
            high_watermark: AtomicI64::new(hw),
            hw_watch: watch::Sender::new(hw),
            state: Mutex::new(ReplicaState {
                role: Role::Offline,
                replicas: Vec::new(),
                isr: Vec::new(),
                partition_epoch: -1,
                followers: std::collections::HashMap::new(),
                isr_change_pending: false,
            }),
            fsync_before_ack,
            waiters: Mutex::new(Vec::new()),
            durable: DurableSync::default(),
        });
        self.partitions.insert(tp.clone(), partition.clone());
        Ok(partition)
    }

    /// Stops hosting one partition; `delete` also removes its data.
    pub fn remove_partition(
        &self,
        tp: &TopicPartition,
        delete: bool,
    ) -> Result<(), ReplicationError> {
        if let Some((_, partition)) = self.partitions.remove(tp) {
            partition.resign();
        }
        if delete {
            self.logs.remove_log(tp)?;
        }
        Ok(())
    }

    /// Every hosted partition's high watermark, for the replication-offset-checkpoint.
    pub fn high_watermarks(&self) -> Vec<(TopicPartition, Offset)> {
        self.partitions
            .iter()
            .map(|e| (e.key().clone(), e.value().high_watermark()))
            .collect()
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
    use super::*;
    use crate::log::test_util;

    /// Node 1 leading partition t-0 with replicas {1, 2}, both in the ISR.
    fn leader_of_two(dir: &std::path::Path) -> (ReplicaManager, Arc<Partition>) {
        let (_, clock) = test_util::manual_clock(1_000);
        let logs = Arc::new(LogManager::open(dir.to_path_buf(), clock).unwrap());
        let replicas = ReplicaManager::new(NodeId(1), logs);
        let tp = TopicPartition::new("t", 0);
        let p = replicas
            .host(&tp, TopicId([1; 16]), &test_util::small_settings(1 << 20))
            .unwrap();
        p.apply_metadata(1, 1, &[1, 2], &[1, 2], 1, 1_000).unwrap();
        (replicas, p)
    }

    const ALL: Acks = Acks::All {
        min_insync: 2,
        timeout_ms: 60_000,
    };

    /// An acks=all append of `records` records to `p`, waiting (50 ms on) for its follower.
    async fn parked_append(
        p: &Arc<Partition>,
        records: usize,
    ) -> tokio::task::JoinHandle<Result<AppendResult, ReplicationError>> {
        let waiting = tokio::spawn({
            let p = p.clone();
            async move { p.append(test_util::simple(records), ALL).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "waits for the follower");
        waiting
    }

    /// The append's answer, which must come well before its 60 s timeout.
    async fn answer(
        waiting: tokio::task::JoinHandle<Result<AppendResult, ReplicationError>>,
    ) -> Result<AppendResult, ReplicationError> {
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("answered at once, not at the 60 s timeout")
            .unwrap()
    }

    #[tokio::test]
    async fn an_acks_all_wait_ends_when_leadership_moves() {
        let dir = tempfile::tempdir().unwrap();
        let (_replicas, p) = leader_of_two(dir.path());
        let waiting = parked_append(&p, 3).await;
        p.apply_metadata(2, 2, &[1, 2], &[1, 2], 2, 1_000).unwrap();
        let got = answer(waiting).await;
        assert!(
            matches!(got, Err(ReplicationError::NotLeader { leader: 2, .. })),
            "{got:?}"
        );
    }

    #[tokio::test]
    async fn a_resigned_partition_ends_its_acks_all_waits() {
        let dir = tempfile::tempdir().unwrap();
        let (_replicas, p) = leader_of_two(dir.path());
        let waiting = parked_append(&p, 1).await;
        p.resign();
        let got = answer(waiting).await;
        assert!(
            matches!(got, Err(ReplicationError::NotLeader { leader: -1, .. })),
            "{got:?}"
        );
        // A follower that caught up first still gets its acknowledgement.
        let dir = tempfile::tempdir().unwrap();
        let (_replicas, p) = leader_of_two(dir.path());
        let waiting = parked_append(&p, 2).await;
        p.record_follower_fetch(2, 2, 1_000, true);
        assert_eq!(answer(waiting).await.unwrap().last_offset, Offset(1));
    }

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
