//! Fetch from a follower (the request names a replica id): the leader's side of replication.
//!
//! Contract: only the partition's leader answers (else NOT_LEADER_OR_FOLLOWER, or the epoch
//! errors of KIP-320 for a stale or future `current_leader_epoch`). A follower whose
//! `last_fetched_epoch` ends elsewhere in the leader's log gets a diverging epoch (the leader's
//! end offset of the largest epoch at or below it) and no records, so it truncates first. Else its
//! `fetch_offset` is its log end: the leader records it (high watermark, ISR expansion, sent to
//! the controller in the background) and returns whole batches up to the leader's log end, not the
//! high watermark, with the high watermark in the answer. With nothing to send the fetch parks
//! for up to `max_wait_ms` (bounded) until an append. No fetch sessions for followers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::model::{Offset, TopicId};
use crate::protocol::msg::fetch_response::{EpochEndOffset, FetchableTopicResponse, PartitionData};
use crate::protocol::msg::{FetchRequest, FetchResponse};
use crate::replication::{Partition, Role};
use crate::server::Broker;
use crate::server::error_code::{code, error_code};

/// A bound on how long a replica fetch may park.
const REPLICA_FETCH_WAIT_MS_MAX: u64 = 10_000;

struct Wanted {
    topic_id: TopicId,
    partition: i32,
    found: Option<Arc<Partition>>,
    fetch_offset: i64,
    last_fetched_epoch: i32,
    current_leader_epoch: i32,
    max_bytes: i32,
}

pub async fn handle(broker: &Arc<Broker>, replica: i32, request: FetchRequest) -> FetchResponse {
    let image = broker.image();
    let mut wanted: Vec<Wanted> = Vec::new();
    for t in &request.topics {
        let id = TopicId(*t.topic_id.as_bytes());
        let name = image.topic_by_id(id).map(|m| m.name.clone());
        for p in &t.partitions {
            let found = name
                .as_ref()
                .and_then(|n| broker.partition(n, p.partition).ok());
            wanted.push(Wanted {
                topic_id: id,
                partition: p.partition,
                found,
                fetch_offset: p.fetch_offset,
                last_fetched_epoch: p.last_fetched_epoch,
                current_leader_epoch: p.current_leader_epoch,
                max_bytes: p.partition_max_bytes,
            });
        }
    }
    let now = broker.clock.monotonic_ms();
    let eligible = image.broker(replica).is_some_and(|b| !b.fenced);
    // Progress first: the follower's fetch offset is its log end.
    for w in &wanted {
        let Some(p) = &w.found else { continue };
        if p.is_leader() && !diverges(p, w) {
            if let Some(proposal) = p.record_follower_fetch(replica, w.fetch_offset, now, eligible)
            {
                tracing::info!(partition = %p.tp, isr = ?proposal.new_isr, "expanding the ISR");
                super::super::lifecycle::spawn_isr_change(broker, p.clone(), proposal);
            }
        }
    }
    let max_wait_ms = (request.max_wait_ms.max(0) as u64).min(REPLICA_FETCH_WAIT_MS_MAX);
    let min_bytes = request.min_bytes.max(0) as usize;
    let deadline = tokio::time::sleep(Duration::from_millis(max_wait_ms));
    tokio::pin!(deadline);
    let mut timed_out = false;
    loop {
        let notify = Arc::new(Notify::new());
        for w in &wanted {
            if let Some(p) = &w.found {
                p.register_waiter(notify.clone());
            }
        }
        let results: Vec<PartitionData> = wanted
            .iter()
            .map(|w| read_one(w, request.max_bytes))
            .collect();
        let bytes: usize = results
            .iter()
            .map(|r| r.records.as_ref().map_or(0, Bytes::len))
            .sum();
        let any_error = results
            .iter()
            .any(|r| r.error_code != code::NONE || r.diverging_epoch.epoch >= 0);
        if timed_out || bytes >= min_bytes.max(1) || any_error || max_wait_ms == 0 {
            return respond(&wanted, results);
        }
        tokio::select! {
            _ = &mut deadline => timed_out = true,
            _ = notify.notified() => {}
        }
    }
}

fn diverges(p: &Partition, w: &Wanted) -> bool {
    if w.last_fetched_epoch < 0 {
        return false;
    }
    let (epoch, end) = p.end_offset_for_epoch(w.last_fetched_epoch);
    epoch != w.last_fetched_epoch || end < w.fetch_offset
}

fn read_one(w: &Wanted, response_max: i32) -> PartitionData {
    let mut pd = PartitionData::default();
    pd.partition_index = w.partition;
    pd.high_watermark = -1;
    pd.last_stable_offset = -1;
    pd.log_start_offset = -1;
    pd.records = Some(Bytes::new());
    let Some(p) = &w.found else {
        pd.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
        return pd;
    };
    if p.role() != Role::Leader {
        pd.error_code = code::NOT_LEADER_OR_FOLLOWER;
        return pd;
    }
    if let Err(e) = p.check_current_leader_epoch(w.current_leader_epoch) {
        pd.error_code = error_code(&crate::server::BrokerError::from(e));
        return pd;
    }
    pd.high_watermark = p.high_watermark().0;
    pd.last_stable_offset = pd.high_watermark;
    pd.log_start_offset = p.log_start_offset().0;
    if diverges(p, w) {
        let (epoch, end) = p.end_offset_for_epoch(w.last_fetched_epoch);
        let mut d = EpochEndOffset::default();
        d.epoch = epoch;
        d.end_offset = end;
        pd.diverging_epoch = d;
        return pd;
    }
    let limit = if response_max <= 0 {
        w.max_bytes.max(0)
    } else {
        w.max_bytes.max(0).min(response_max)
    } as usize;
    match p.read_for_replica(Offset(w.fetch_offset), limit) {
        Ok(r) => pd.records = Some(r.records),
        Err(e) => pd.error_code = error_code(&e.into()),
    }
    pd
}

fn respond(wanted: &[Wanted], results: Vec<PartitionData>) -> FetchResponse {
    let mut response = FetchResponse::default();
    for (w, pd) in wanted.iter().zip(results) {
        let same = response
            .responses
            .last()
            .is_some_and(|t: &FetchableTopicResponse| t.topic_id.as_bytes() == &w.topic_id.0);
        if !same {
            let mut t = FetchableTopicResponse::default();
            t.topic_id = crate::protocol::Uuid::from_bytes(w.topic_id.0);
            response.responses.push(t);
        }
        if let Some(t) = response.responses.last_mut() {
            t.partitions.push(pd);
        }
    }
    response
}
