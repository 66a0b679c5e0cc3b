//! ListOffsets: earliest (-2, and -4 earliest-local), latest (-1), max timestamp (-3), and the first
//! offset at or after a timestamp, found through the time index and then the batch's records.
//!
//! v0 (removed in Kafka 4, served here unless `gregor.legacy.api.versions.enable=false`) answers
//! a list of offsets instead of one offset and timestamp; `protocol::legacy` writes the one offset
//! found here as that list (empty where there is none). For latest and earliest that is what
//! Kafka answers a client asking for one offset; for a timestamp Kafka 3.9 answered segment base
//! offsets by file modification time, which Gregor does not keep, so v0 gets the v1 answer.

use crate::model::TopicPartition;
use crate::protocol::msg::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use crate::protocol::msg::{ListOffsetsRequest, ListOffsetsResponse};
use crate::protocol::records::{first_record_at_or_after, max_timestamp_record};
use crate::protocol::{ApiKey, VersionRange};
use crate::replication::Partition;
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[(ApiKey::ListOffsets, VersionRange::new(0, 10))];

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub fn handle(broker: &Broker, request: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    let mut response = ListOffsetsResponse::default();
    for t in request.topics {
        let mut out = ListOffsetsTopicResponse::default();
        out.name = t.name.clone();
        for p in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            let result = broker
                .replicas
                .get(&TopicPartition::new(t.name.0.as_str(), p.partition_index))
                .ok_or(BrokerError::UnknownTopicOrPartition)
                .and_then(|partition| {
                    // KIP-320: the epoch the client believes current is checked from v4.
                    if version >= 4 {
                        partition.check_current_leader_epoch(p.current_leader_epoch)?;
                    }
                    lookup(&partition, p.timestamp).map(|r| (r, partition.leader_epoch().0))
                });
            match result {
                Ok(((offset, timestamp), epoch)) => {
                    pr.offset = offset;
                    pr.timestamp = timestamp;
                    // The leader epoch exists from v4; older versions must leave it unset.
                    pr.leader_epoch = if offset >= 0 && version >= 4 {
                        epoch
                    } else {
                        -1
                    };
                }
                Err(e) => {
                    pr.error_code = error_code(&e);
                    pr.offset = -1;
                    pr.timestamp = -1;
                    pr.leader_epoch = -1;
                }
            }
            out.partitions.push(pr);
        }
        response.topics.push(out);
    }
    response
}

/// (offset, timestamp); (-1, -1) where there is no such record, as Kafka answers.
fn lookup(partition: &Partition, timestamp: i64) -> Result<(i64, i64), BrokerError> {
    let none = (-1, -1);
    let decode = |r: anyhow::Result<Option<(i64, i64)>>| {
        r.map_err(|e| {
            BrokerError::Log(crate::log::LogError::Corrupt(format!(
                "stored batch: {e:#}"
            )))
        })
    };
    Ok(match timestamp {
        LATEST => (partition.high_watermark().0, -1),
        EARLIEST | EARLIEST_LOCAL => (partition.log_start_offset().0, -1),
        LATEST_TIERED => none,
        MAX_TIMESTAMP => match partition.log().batch_with_max_timestamp()? {
            Some(batch) => decode(max_timestamp_record(batch))?.unwrap_or(none),
            None => none,
        },
        ts if ts >= 0 => match partition.log().batch_for_timestamp(ts)? {
            Some(batch) => decode(first_record_at_or_after(batch, ts))?.unwrap_or(none),
            None => none,
        },
        other => {
            return Err(BrokerError::InvalidRequest(format!(
                "unknown timestamp {other}"
            )));
        }
    })
}
