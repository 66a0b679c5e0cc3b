//! Produce: append each partition's batches through its `Partition`, answer with base offsets.
//!
//! Contract: v3+ served (v13 addresses topics by id); v0-2 are advertised, as Kafka 4 does, so
//! that librdkafka keeps compression on, and answered with UNSUPPORTED_VERSION. acks must be
//! -1, 0 or 1; acks=0 gets no response. Record bytes are passed to the log as the client sent
//! them: no decompression, no per-record work.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{leader_hint, str_bytes};
use crate::config::TimestampType;
use crate::controller::TopicMeta;
use crate::log::{BatchIter, batch};
use crate::model::TopicId;
use crate::protocol::codec::{LegacyProduce, LegacyProduceResponse};
use crate::protocol::msg::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use crate::protocol::msg::{ProduceRequest, ProduceResponse};
use crate::protocol::records::max_timestamp_record;
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[(ApiKey::Produce, VersionRange::new(0, 13))];

/// Produce v13 and later name topics by id only.
const TOPIC_ID_VERSION_MIN: i16 = 13;

pub async fn handle(
    broker: &Broker,
    request: ProduceRequest,
    version: i16,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let mut response = ProduceResponse::default();
    let hints = version >= leader_hint::PRODUCE_VERSION_MIN;
    let mut hinted_leaders = BTreeSet::new();
    for topic in request.topic_data {
        // A topic that cannot be resolved fails each of its partitions with the same code.
        let resolved: Result<Arc<TopicMeta>, (i16, String)> = if version >= TOPIC_ID_VERSION_MIN {
            let id = TopicId(*topic.topic_id.as_bytes());
            broker
                .image()
                .topic_by_id(id)
                .cloned()
                .ok_or_else(|| failure(BrokerError::UnknownTopicId))
        } else {
            broker
                .topic_or_auto_create(&topic.name, true)
                .await
                .map_err(failure)
        };
        let mut out = TopicProduceResponse::default();
        out.name = topic.name.clone();
        out.topic_id = topic.topic_id;
        for p in topic.partition_data {
            let result = match &resolved {
                _ if !matches!(acks, -1..=1) => {
                    Err(failure(BrokerError::InvalidRequiredAcks(acks)))
                }
                Err(f) => Err(f.clone()),
                Ok(meta) => append(
                    broker,
                    &meta.name,
                    p.index,
                    p.records,
                    version,
                    acks,
                    request.timeout_ms,
                )
                .await
                .map_err(failure),
            };
            let mut pr = PartitionProduceResponse::default();
            pr.index = p.index;
            match result {
                Ok(r) => {
                    if r.duplicate {
                        tracing::debug!(topic = %topic.name.0, partition = p.index, base_offset = r.base_offset.0, "duplicate batch acknowledged again");
                    }
                    pr.base_offset = r.base_offset.0;
                    pr.log_append_time_ms = r.log_append_time_ms;
                    pr.log_start_offset = r.log_start_offset.0;
                }
                Err((error_code, message)) => {
                    tracing::debug!(topic = %topic.name.0, partition = p.index, acks, %message, "produce failed");
                    pr.error_code = error_code;
                    pr.base_offset = -1;
                    pr.log_append_time_ms = -1;
                    pr.log_start_offset = -1;
                    pr.error_message = Some(str_bytes(&message));
                    if hints && leader_hint::wants_hint(error_code) {
                        if let Ok(meta) = &resolved {
                            if let Some((leader, epoch)) =
                                leader_hint::current_leader(broker, &meta.name, p.index)
                            {
                                let mut l = LeaderIdAndEpoch::default();
                                l.leader_id = leader.into();
                                l.leader_epoch = epoch;
                                pr.current_leader = l;
                                hinted_leaders.insert(leader);
                            }
                        }
                    }
                }
            }
            out.partition_responses.push(pr);
        }
        response.responses.push(out);
    }
    response.node_endpoints = crate::node_endpoints!(broker, &hinted_leaders, NodeEndpoint);
    (acks != 0).then_some(response)
}

fn failure(e: BrokerError) -> (i16, String) {
    (error_code(&e), e.to_string())
}

async fn append(
    broker: &Broker,
    topic: &str,
    partition: i32,
    records: Option<Bytes>,
    version: i16,
    acks: i16,
    timeout_ms: i32,
) -> Result<crate::log::AppendResult, BrokerError> {
    let partition = broker.partition(topic, partition)?;
    // Kafka answers NOT_LEADER_OR_FOLLOWER before it looks at the records: a refusal of the
    // records is only given by the leader (the role is checked again by the append itself, so
    // the hot path takes the replica's lock once).
    let checked = records
        .filter(|r| !r.is_empty())
        .ok_or_else(|| BrokerError::InvalidRequest("no records".into()))
        .and_then(|records| {
            // The topic's timestamp type is looked up only for the rare batch that needs it.
            let log_append_time = || {
                partition.log().settings().message_timestamp_type == TimestampType::LogAppendTime
            };
            normalize(records, version, log_append_time)
        });
    let records = match checked {
        Ok(records) => records,
        Err(e) => {
            partition.ensure_leader()?;
            return Err(e);
        }
    };
    let acks = if acks == -1 {
        crate::replication::Acks::All {
            min_insync: partition.log().settings().min_insync_replicas,
            timeout_ms: i64::from(timeout_ms.max(0)),
        }
    } else {
        crate::replication::Acks::Leader
    };
    Ok(partition.append(records, acks).await?)
}

/// zstd needs Produce v7 or later (Kafka answers UNSUPPORTED_COMPRESSION_TYPE).
const ZSTD_VERSION_MIN: i16 = 7;
const CODEC_ZSTD: u8 = 4;

/// Kafka's produce-time checks that need more than the log's: zstd only from Produce v7, and a
/// CreateTime batch whose max timestamp the client left unset (-1, as old Sarama does) gets it
/// computed from its records, as Kafka's validator does, so time lookups work. Only that rare
/// batch is copied and decoded; everything else passes through untouched. A batch whose CRC is
/// already wrong is left for the log to refuse.
fn normalize(
    records: Bytes,
    version: i16,
    log_append_time: impl Fn() -> bool,
) -> Result<Bytes, BrokerError> {
    let mut unset = Vec::new();
    for b in BatchIter::new(&records) {
        let Ok(b) = b else { return Ok(records) };
        if version < ZSTD_VERSION_MIN && b.header.compression_codec() == CODEC_ZSTD {
            return Err(BrokerError::UnsupportedCompressionType);
        }
        if b.header.max_timestamp < 0 && !log_append_time() {
            unset.push(b.range);
        }
    }
    if unset.is_empty() {
        return Ok(records);
    }
    let mut out = BytesMut::from(&records[..]);
    for range in unset {
        let original = records.slice(range.clone());
        if batch::verify_crc(&original).is_err() {
            return Ok(records);
        }
        let max = max_timestamp_record(original)
            .map_err(|e| {
                BrokerError::Log(crate::log::LogError::Corrupt(format!(
                    "undecodable batch: {e:#}"
                )))
            })?
            .map_or(-1, |(_, ts)| ts);
        let Some(bytes) = out.get_mut(range) else {
            return Ok(records);
        };
        if let Some(field) = bytes.get_mut(batch::MAX_TIMESTAMP_POS..batch::MAX_TIMESTAMP_POS + 8) {
            field.copy_from_slice(&max.to_be_bytes());
        }
        batch::rewrite_crc(bytes)?;
    }
    Ok(out.freeze())
}

/// Produce v0-2: refused as Kafka 4 refuses them.
pub fn handle_legacy(request: LegacyProduce) -> LegacyProduceResponse {
    tracing::debug!(acks = request.acks, "refusing Produce v0-2");
    LegacyProduceResponse {
        error_code: code::UNSUPPORTED_VERSION,
        topics: request.topics,
    }
}
