//! DescribeQuorum (KIP-595, KIP-853): the metadata quorum, which is this node alone until the
//! cluster exists.
//!
//! Contract, as Kafka 4.1's `KafkaRaftClient.handleDescribeQuorumRequest` on the leader: the
//! request must name exactly `__cluster_metadata` partition 0, else every partition it names gets
//! UNKNOWN_TOPIC_OR_PARTITION. This node leads in epoch 1 (the single-node controller keeps no
//! epoch and no metadata log, so the high watermark and its log end offset are 0); it is the one
//! voter, caught up and fetched "now" as a leader reports itself, with no directory id; there are
//! no observers. From v2 the nodes list gives the voter's endpoint: a further listener named in
//! `controller.listener.names` if one is configured, else the listener this node serves, at the
//! address it advertises (Kafka requires a separate controller listener on a combined node; Gregor
//! serves the quorum's API and the clients on one).

use super::str_bytes;
use crate::protocol::msg::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use crate::protocol::msg::{DescribeQuorumRequest, DescribeQuorumResponse, TopicName};
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::DescribeQuorum, VersionRange::new(0, 2))];

/// KRaft's metadata log, the one partition this API describes.
const METADATA_TOPIC: &str = "__cluster_metadata";
/// The leader epoch of a quorum that has never held an election.
const LEADER_EPOCH: i32 = 1;
/// The metadata log's end: the single-node controller persists its image as one file, not a log.
const METADATA_LOG_END: i64 = 0;

pub fn handle(
    broker: &Broker,
    request: DescribeQuorumRequest,
    version: i16,
) -> DescribeQuorumResponse {
    let mut response = DescribeQuorumResponse::default();
    let valid = matches!(request.topics.as_slice(),
        [t] if t.topic_name.as_str() == METADATA_TOPIC
            && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0));
    if !valid {
        let error = error_code(&BrokerError::UnknownTopicOrPartition);
        response.topics = request
            .topics
            .into_iter()
            .map(|t| {
                let mut out = TopicData::default();
                out.topic_name = t.topic_name;
                out.partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let mut d = PartitionData::default();
                        d.partition_index = p.partition_index;
                        d.error_code = error;
                        d
                    })
                    .collect();
                out
            })
            .collect();
        return response;
    }
    let node = broker.node_id.0;
    let now_ms = broker.clock.now_ms();
    let mut voter = ReplicaState::default();
    voter.replica_id = node.into();
    voter.replica_directory_id = Uuid::nil();
    voter.log_end_offset = METADATA_LOG_END;
    voter.last_fetch_timestamp = now_ms;
    voter.last_caught_up_timestamp = now_ms;
    let mut partition = PartitionData::default();
    partition.partition_index = 0;
    partition.leader_id = node.into();
    partition.leader_epoch = LEADER_EPOCH;
    partition.high_watermark = METADATA_LOG_END;
    partition.current_voters = vec![voter];
    partition.observers = Vec::new();
    let mut topic = TopicData::default();
    topic.topic_name = TopicName(str_bytes(METADATA_TOPIC));
    topic.partitions = vec![partition];
    response.topics = vec![topic];
    if version >= 2 {
        let mut n = Node::default();
        n.node_id = node.into();
        n.listeners = vec![controller_listener(broker)];
        response.nodes = vec![n];
    }
    response
}

fn controller_listener(broker: &Broker) -> Listener {
    let config = &broker.config;
    let controller_names: Vec<&str> = config
        .controller_listener_names
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let mut out = Listener::default();
    // The listener clients use is reached where this node advertises itself.
    out.host = str_bytes(&broker.advertised_host);
    out.port = u16::try_from(broker.advertised_port).unwrap_or(0);
    if let Some(served) = config.listeners.first() {
        out.name = str_bytes(&served.name);
    }
    let separate = config.listeners.iter().skip(1).find(|l| {
        controller_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&l.name))
    });
    if let Some(l) = separate {
        out.name = str_bytes(&l.name);
        out.port = l.port;
        if !matches!(l.host.as_str(), "" | "0.0.0.0" | "::") {
            out.host = str_bytes(&l.host);
        }
    }
    out
}
