//! Fetch: whole stored batches, as they are on disk, bounded by the high watermark, with long
//! polling (`max_wait_ms`, `min_bytes`), response and partition byte limits, and fetch sessions.
//!
//! Contract: the first partition with data returns at least one whole batch even if it is larger
//! than the limits (KIP-74), so consumers always progress. A fetch that has less than `min_bytes`
//! parks on the partitions' notifiers until an append or `max_wait_ms`; the wait is a tokio timer,
//! so tests can pause time. From v13 topics are named by id.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::model::{Offset, TopicId, TopicPartition};
use crate::protocol::msg::fetch_response::{
    FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use crate::protocol::msg::{FetchRequest, FetchResponse, TopicName};
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::fetch_session::{SessionMode, SessionPartition, Wanted};
use crate::server::{Broker, BrokerError};

use super::{leader_hint, str_bytes};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[(ApiKey::Fetch, VersionRange::new(4, 18))];

const TOPIC_ID_VERSION_MIN: i16 = 13;
const FETCH_SESSION_VERSION_MIN: i16 = 7;
/// A bound on how long one fetch may park, whatever the client asks.
const FETCH_WAIT_MS_MAX: u64 = 30_000;

struct PartitionResult {
    tp: TopicPartition,
    topic_id: TopicId,
    error_code: i16,
    high_watermark: i64,
    log_start_offset: i64,
    records: Bytes,
}

/// Fetch v15 moved the replica id into ReplicaState.
const REPLICA_STATE_VERSION_MIN: i16 = 15;

pub async fn handle(broker: &Arc<Broker>, request: FetchRequest, version: i16) -> FetchResponse {
    let replica = if version >= REPLICA_STATE_VERSION_MIN {
        request.replica_state.replica_id.0
    } else {
        request.replica_id.0
    };
    if replica >= 0 && version >= TOPIC_ID_VERSION_MIN {
        return super::replica_fetch::handle(broker, replica, request).await;
    }
    let by_id = version >= TOPIC_ID_VERSION_MIN;
    let image = broker.image();
    let mut unresolved: Vec<PartitionResult> = Vec::new();
    let mut wanted: Vec<Wanted> = Vec::new();
    for t in &request.topics {
        let (name, id) = if by_id {
            match image.topic_by_id(TopicId(*t.topic_id.as_bytes())) {
                Some(meta) => (meta.name.clone(), meta.topic_id()),
                None => {
                    for p in &t.partitions {
                        unresolved.push(PartitionResult {
                            tp: TopicPartition::new("", p.partition),
                            topic_id: TopicId(*t.topic_id.as_bytes()),
                            error_code: code::UNKNOWN_TOPIC_ID,
                            high_watermark: -1,
                            log_start_offset: -1,
                            records: Bytes::new(),
                        });
                    }
                    continue;
                }
            }
        } else {
            let name = t.topic.0.to_string();
            let id = image
                .topic(&name)
                .map(|m| m.topic_id())
                .unwrap_or(TopicId::ZERO);
            (name, id)
        };
        for p in &t.partitions {
            wanted.push((
                TopicPartition::new(name.as_str(), p.partition),
                id,
                p.fetch_offset,
                p.partition_max_bytes,
            ));
        }
    }
    let forgotten: Vec<TopicPartition> = request
        .forgotten_topics_data
        .iter()
        .flat_map(|t| {
            let name = if by_id {
                image
                    .topic_by_id(TopicId(*t.topic_id.as_bytes()))
                    .map(|m| m.name.clone())
                    .unwrap_or_default()
            } else {
                t.topic.0.to_string()
            };
            t.partitions
                .iter()
                .map(move |p| TopicPartition::new(name.as_str(), *p))
        })
        .collect();

    let mut response = FetchResponse::default();
    // Sessions exist from v7; older requests are always session-less.
    let (session_id, session_epoch) = if version >= FETCH_SESSION_VERSION_MIN {
        (request.session_id, request.session_epoch)
    } else {
        (0, -1)
    };
    let (mode, parts) =
        match broker
            .fetch_sessions
            .begin(session_id, session_epoch, wanted, forgotten)
        {
            Ok(x) => x,
            Err(e) => {
                response.error_code = error_code(&e);
                return response;
            }
        };

    let max_wait_ms = (request.max_wait_ms.max(0) as u64).min(FETCH_WAIT_MS_MAX);
    let min_bytes = request.min_bytes.max(0) as usize;
    let response_bytes_max = if request.max_bytes <= 0 {
        usize::MAX
    } else {
        request.max_bytes as usize
    };
    let may_wait = max_wait_ms > 0 && min_bytes > 0 && unresolved.is_empty();
    let deadline = tokio::time::sleep(Duration::from_millis(max_wait_ms));
    tokio::pin!(deadline);
    let mut timed_out = false;
    let results = loop {
        let notify = Arc::new(Notify::new());
        if may_wait && !timed_out {
            for p in &parts {
                if let Some(partition) = broker.replicas.get(&p.tp) {
                    partition.register_waiter(notify.clone());
                }
            }
        }
        let results = read_all(broker, &parts, response_bytes_max);
        let bytes: usize = results.iter().map(|r| r.records.len()).sum();
        let any_error = results.iter().any(|r| r.error_code != code::NONE);
        if !may_wait || timed_out || bytes >= min_bytes || any_error {
            break results;
        }
        tokio::select! {
            _ = &mut deadline => timed_out = true,
            _ = notify.notified() => {}
        }
    };

    let session_id = match mode {
        SessionMode::Sessionless => 0,
        SessionMode::New(id) | SessionMode::Incremental(id) => id,
    };
    response.session_id = session_id;
    let incremental = matches!(mode, SessionMode::Incremental(_));
    let mut included: Vec<PartitionResult> = Vec::with_capacity(results.len());
    for (r, p) in results.into_iter().zip(parts.iter()) {
        let changed = !r.records.is_empty()
            || r.error_code != code::NONE
            || r.high_watermark != p.last_high_watermark
            || r.log_start_offset != p.last_log_start_offset;
        if incremental && !changed {
            continue;
        }
        if session_id != 0 {
            broker
                .fetch_sessions
                .reported(session_id, &r.tp, r.high_watermark, r.log_start_offset);
        }
        included.push(r);
    }
    included.extend(unresolved);
    let hints = version >= leader_hint::FETCH_VERSION_MIN;
    let mut hinted_leaders = BTreeSet::new();
    for r in included {
        let same_topic = response
            .responses
            .last()
            .is_some_and(|t: &FetchableTopicResponse| {
                if by_id {
                    t.topic_id == Uuid::from_bytes(r.topic_id.0)
                } else {
                    t.topic.0.as_str() == &*r.tp.topic
                }
            });
        if !same_topic {
            let mut t = FetchableTopicResponse::default();
            if by_id {
                t.topic_id = Uuid::from_bytes(r.topic_id.0);
            } else {
                t.topic = TopicName(str_bytes(&r.tp.topic));
            }
            response.responses.push(t);
        }
        let mut pd = PartitionData::default();
        pd.partition_index = r.tp.partition;
        pd.error_code = r.error_code;
        pd.high_watermark = r.high_watermark;
        pd.last_stable_offset = r.high_watermark;
        pd.log_start_offset = r.log_start_offset;
        pd.records = Some(r.records);
        if hints && leader_hint::wants_hint(r.error_code) {
            if let Some((leader, epoch)) =
                leader_hint::current_leader(broker, &r.tp.topic, r.tp.partition)
            {
                let mut l = LeaderIdAndEpoch::default();
                l.leader_id = leader.into();
                l.leader_epoch = epoch;
                pd.current_leader = l;
                hinted_leaders.insert(leader);
            }
        }
        if let Some(t) = response.responses.last_mut() {
            t.partitions.push(pd);
        }
    }
    response.node_endpoints = crate::node_endpoints!(broker, &hinted_leaders, NodeEndpoint);
    response
}

fn read_all(
    broker: &Broker,
    parts: &[SessionPartition],
    response_bytes_max: usize,
) -> Vec<PartitionResult> {
    let mut remaining = response_bytes_max;
    let mut total = 0usize;
    parts
        .iter()
        .map(|p| {
            let mut r = PartitionResult {
                tp: p.tp.clone(),
                topic_id: p.topic_id,
                error_code: code::NONE,
                high_watermark: -1,
                log_start_offset: -1,
                records: Bytes::new(),
            };
            let partition = match broker.replicas.get(&p.tp) {
                Some(partition) => partition,
                None => {
                    r.error_code = error_code(&BrokerError::UnknownTopicOrPartition);
                    return r;
                }
            };
            if !partition.is_leader() {
                r.error_code = code::NOT_LEADER_OR_FOLLOWER;
                return r;
            }
            let limit = (p.partition_max_bytes.max(0) as usize).min(remaining);
            match partition.read(Offset(p.fetch_offset), limit, total == 0) {
                Ok(read) => {
                    remaining = remaining.saturating_sub(read.records.len());
                    total += read.records.len();
                    r.records = read.records;
                    r.high_watermark = partition.high_watermark().0;
                    r.log_start_offset = read.log_start_offset.0;
                }
                Err(e) => {
                    r.error_code = error_code(&BrokerError::from(e));
                    r.high_watermark = partition.high_watermark().0;
                    r.log_start_offset = partition.log_start_offset().0;
                }
            }
            r
        })
        .collect()
}
