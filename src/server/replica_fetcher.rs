//! Replica fetchers: one task per source broker, fetching every partition this broker follows
//! from that leader with Kafka's Fetch (v15: ReplicaState carries this broker's id and epoch).
//!
//! Contract: a fetch names, per partition, the follower's log end as `fetch_offset`, the latest
//! epoch in its log as `last_fetched_epoch` and the leader epoch it knows as
//! `current_leader_epoch`. The answer's batches are appended as they are
//! (`Partition::append_replicated`) with the leader's high watermark; a diverging epoch
//! (KIP-595 style) truncates the follower to the divergence point before it fetches again;
//! OFFSET_OUT_OF_RANGE below the leader's log start starts the follower's log over there.
//! Errors that say the metadata moved (NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH,
//! UNKNOWN_TOPIC) wait for the next image, which reassigns the partition. Connection failures back
//! off `replica.fetch.backoff.ms` and reconnect. Each exchange is bounded by
//! `replica.socket.timeout.ms`; the leader parks a fetch at most `replica.fetch.wait.max.ms`.
//! This lives in `server` rather than `replication` because it speaks the wire protocol;
//! `replication` only sees the partitions' operations (noted in DESIGN's cluster section).
//! Lock order: `ReplicaFetchers.by_leader`, then a fetcher's `partitions`; neither is held across
//! an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tracing::Instrument;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::Broker;
use super::peer::PeerConn;
use crate::model::TopicPartition;
use crate::protocol::msg::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use crate::protocol::msg::{FetchRequest, FetchResponse};
use crate::protocol::{ApiKey, Uuid};
use crate::replication::Partition;
use crate::server::error_code::code;

/// The Fetch version followers send (ReplicaState, topic ids, diverging epochs).
const REPLICA_FETCH_VERSION: i16 = 15;

type Assigned = Arc<Mutex<BTreeMap<TopicPartition, Arc<Partition>>>>;

#[derive(Debug)]
struct Fetcher {
    partitions: Assigned,
    changed: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The fetchers of one broker, by leader.
#[derive(Debug, Default)]
pub struct ReplicaFetchers {
    by_leader: Mutex<HashMap<i32, Fetcher>>,
    /// Which leader each followed partition is assigned to.
    leader_of: Mutex<HashMap<TopicPartition, i32>>,
}

impl ReplicaFetchers {
    /// Follows `partition` from `leader` (moving it from another leader's fetcher if need be).
    pub fn assign(&self, broker: &Broker, leader: i32, partition: Arc<Partition>) {
        let tp = partition.tp.clone();
        {
            let mut leader_of = self.leader_of.lock().unwrap_or_else(|p| p.into_inner());
            if leader_of.get(&tp) == Some(&leader) {
                return;
            }
            if let Some(old) = leader_of.insert(tp.clone(), leader) {
                self.remove_from(old, &tp);
            }
        }
        let Some(me) = broker.self_arc() else { return };
        let mut by_leader = self.by_leader.lock().unwrap_or_else(|p| p.into_inner());
        let fetcher = by_leader.entry(leader).or_insert_with(|| {
            let partitions: Assigned = Arc::default();
            let changed = Arc::new(Notify::new());
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(
                run(
                    Arc::downgrade(&me),
                    leader,
                    partitions.clone(),
                    changed.clone(),
                    stop_rx,
                )
                .in_current_span(),
            );
            Fetcher {
                partitions,
                changed,
                stop,
                task,
            }
        });
        fetcher
            .partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tp, partition);
        fetcher.changed.notify_one();
    }

    /// Stops following `tp`.
    pub fn unassign(&self, tp: &TopicPartition) {
        let old = self
            .leader_of
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tp);
        if let Some(old) = old {
            self.remove_from(old, tp);
        }
    }

    fn remove_from(&self, leader: i32, tp: &TopicPartition) {
        let by_leader = self.by_leader.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = by_leader.get(&leader) {
            f.partitions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(tp);
        }
    }

    /// Stops every fetcher and waits for them.
    pub async fn stop_all(&self) {
        let fetchers: Vec<Fetcher> = self
            .by_leader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, f)| f)
            .collect();
        self.leader_of
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        for f in fetchers {
            let _ = f.stop.send(true);
            f.changed.notify_one();
            f.task.abort();
            let _ = f.task.await;
        }
    }
}

fn leader_address(broker: &Broker, leader: i32) -> Option<String> {
    let img = broker.image();
    let reg = img.broker(leader)?;
    let wanted = broker
        .config
        .inter_broker_listener()
        .map(|l| l.name.clone());
    let ep = reg
        .endpoints
        .iter()
        .find(|e| Some(&e.name) == wanted.as_ref())
        .or_else(|| reg.endpoints.first())?;
    Some(if ep.host.contains(':') {
        format!("[{}]:{}", ep.host, ep.port)
    } else {
        format!("{}:{}", ep.host, ep.port)
    })
}

async fn run(
    broker: Weak<Broker>,
    leader: i32,
    partitions: Assigned,
    changed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn: Option<PeerConn> = None;
    // Whether the last exchange failed: the first failure after a success is a warning, the
    // repeats are debug lines (a dead leader is retried every backoff until the image moves on).
    let mut failing = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let Some(b) = broker.upgrade() else { return };
        let backoff = Duration::from_millis(b.config.replica_fetch_backoff_ms.max(1) as u64);
        let assigned: Vec<Arc<Partition>> = partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        if assigned.is_empty() {
            drop(b);
            tokio::select! {
                _ = changed.notified() => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let socket_timeout =
            Duration::from_millis(b.config.replica_socket_timeout_ms.max(1) as u64);
        if conn.is_none() {
            let Some(addr) = leader_address(&b, leader) else {
                drop(b);
                tokio::time::sleep(backoff).await;
                continue;
            };
            match PeerConn::connect(&addr, socket_timeout, "gregor-replica-fetcher", &b.links).await
            {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(leader, %addr, error = %e, "replica fetcher cannot connect");
                    drop(b);
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            }
        }
        let request = build_request(&b, &assigned);
        let Some(c) = conn.as_mut() else { continue };
        let exchange = c.call::<FetchRequest, FetchResponse>(
            ApiKey::Fetch,
            REPLICA_FETCH_VERSION,
            &request,
            socket_timeout,
        );
        let result = tokio::select! {
            r = exchange => r,
            _ = stop.changed() => return,
        };
        match result {
            Ok(response) => {
                failing = false;
                let backoff_needed = handle_response(&b, &assigned, response);
                if backoff_needed {
                    drop(b);
                    tokio::time::sleep(backoff).await;
                }
            }
            Err(e) => {
                if failing {
                    tracing::debug!(leader, error = %e, "replica fetch failed");
                } else {
                    tracing::warn!(leader, error = %e, "replica fetch failed");
                }
                failing = true;
                conn = None;
                drop(b);
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

fn build_request(broker: &Broker, assigned: &[Arc<Partition>]) -> FetchRequest {
    let mut by_topic: BTreeMap<[u8; 16], Vec<FetchPartition>> = BTreeMap::new();
    let partition_max_bytes = broker.config.replica_fetch_max_bytes;
    for p in assigned {
        let mut fp = FetchPartition::default();
        fp.partition = p.tp.partition;
        fp.current_leader_epoch = p.leader_epoch().0;
        fp.fetch_offset = p.log().log_end_offset().0;
        fp.last_fetched_epoch = p.latest_epoch();
        fp.log_start_offset = p.log_start_offset().0;
        fp.partition_max_bytes = partition_max_bytes;
        by_topic.entry(p.topic_id.0).or_default().push(fp);
    }
    let mut req = FetchRequest::default();
    let mut rs = ReplicaState::default();
    rs.replica_id = broker.node_id.0.into();
    rs.replica_epoch = broker.registration().epoch;
    // v15 names the follower in ReplicaState only (the top-level replica_id is v0-14).
    req.replica_state = rs;
    req.max_wait_ms = broker.config.replica_fetch_wait_max_ms;
    req.min_bytes = broker.config.replica_fetch_min_bytes;
    req.max_bytes = broker.config.replica_fetch_response_max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    req.topics = by_topic
        .into_iter()
        .map(|(id, partitions)| {
            let mut t = FetchTopic::default();
            t.topic_id = Uuid::from_bytes(id);
            t.partitions = partitions;
            t
        })
        .collect();
    req
}

/// Applies one fetch answer; returns whether the fetcher should back off before the next one.
fn handle_response(broker: &Broker, assigned: &[Arc<Partition>], response: FetchResponse) -> bool {
    if response.error_code != code::NONE {
        tracing::debug!(code = response.error_code, "replica fetch refused");
        return true;
    }
    let mut backoff = false;
    for t in response.responses {
        for pd in t.partitions {
            let Some(p) = assigned.iter().find(|p| {
                p.topic_id.0 == *t.topic_id.as_bytes() && p.tp.partition == pd.partition_index
            }) else {
                continue;
            };
            if let Err(e) = apply_partition(broker, p, pd) {
                tracing::warn!(partition = %p.tp, error = %e, "replica fetch not applied");
                backoff = true;
            }
        }
    }
    backoff
}

fn apply_partition(
    broker: &Broker,
    p: &Arc<Partition>,
    pd: crate::protocol::msg::fetch_response::PartitionData,
) -> Result<(), super::BrokerError> {
    match pd.error_code {
        code::NONE => {}
        code::OFFSET_OUT_OF_RANGE => {
            let leo = p.log().log_end_offset().0;
            if pd.log_start_offset > leo {
                tracing::info!(partition = %p.tp, leader_log_start = pd.log_start_offset,
                    "the leader's log starts above this replica's end: starting over there");
                p.truncate_fully_and_start_at(pd.log_start_offset)?;
            } else if pd.high_watermark >= 0 && pd.high_watermark < leo {
                p.truncate_to(pd.high_watermark)?;
            }
            return Ok(());
        }
        other => {
            return Err(super::BrokerError::Remote {
                code: other,
                message: format!("leader answered error {other}"),
            });
        }
    }
    if pd.diverging_epoch.epoch >= 0 || pd.diverging_epoch.end_offset >= 0 {
        // Truncate to the smaller of the leader's end of that epoch and our own (KIP-595).
        let (own_epoch, own_end) = p.end_offset_for_epoch(pd.diverging_epoch.epoch);
        let target = if own_epoch == pd.diverging_epoch.epoch {
            own_end.min(pd.diverging_epoch.end_offset)
        } else {
            pd.diverging_epoch.end_offset.min(own_end.max(0))
        };
        let target = target.max(p.log_start_offset().0);
        tracing::info!(partition = %p.tp, epoch = pd.diverging_epoch.epoch,
            leader_end = pd.diverging_epoch.end_offset, truncate_to = target,
            "log diverged from the leader's: truncating");
        p.truncate_to(target)?;
        return Ok(());
    }
    let records = pd.records.unwrap_or_default();
    p.append_replicated(records, pd.high_watermark)?;
    let _ = broker;
    Ok(())
}
