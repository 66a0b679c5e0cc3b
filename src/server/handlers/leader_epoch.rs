//! OffsetForLeaderEpoch (KIP-101/279/320): for each partition, the end offset of a leader epoch
//! and the largest epoch at or below it, answered by the leader for consumers validating their
//! position after a leader change and (with replication) for followers finding where to truncate.
//!
//! Contract: `current_leader_epoch` is checked first (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH,
//! -1 skips the check); an epoch the log knows nothing at or above answers NONE with epoch and
//! offset -1, as Kafka does. Versions 0-1 were removed in Kafka 4 (KIP-896).

use crate::model::TopicPartition;
use crate::protocol::msg::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use crate::protocol::msg::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use crate::protocol::{ApiKey, VersionRange};
use crate::replication::EPOCH_UNDEFINED;
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::OffsetForLeaderEpoch, VersionRange::new(2, 4))];

pub fn handle(
    broker: &Broker,
    request: OffsetForLeaderEpochRequest,
    _version: i16,
) -> OffsetForLeaderEpochResponse {
    let mut response = OffsetForLeaderEpochResponse::default();
    for t in request.topics {
        let mut out = OffsetForLeaderTopicResult::default();
        for p in t.partitions {
            let mut e = EpochEndOffset::default();
            e.partition = p.partition;
            e.leader_epoch = EPOCH_UNDEFINED;
            e.end_offset = -1;
            let result = broker
                .replicas
                .get(&TopicPartition::new(t.topic.0.as_str(), p.partition))
                .ok_or(BrokerError::UnknownTopicOrPartition)
                .and_then(|partition| {
                    partition.check_current_leader_epoch(p.current_leader_epoch)?;
                    Ok(partition.end_offset_for_epoch(p.leader_epoch))
                });
            match result {
                Ok((epoch, end)) => {
                    e.leader_epoch = epoch;
                    e.end_offset = end;
                }
                Err(err) => e.error_code = error_code(&err),
            }
            out.partitions.push(e);
        }
        out.topic = t.topic;
        response.topics.push(out);
    }
    response
}
