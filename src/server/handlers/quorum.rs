//! DescribeQuorum (KIP-595, KIP-853): the metadata quorum (openraft) as its leader sees it.
//!
//! Contract, as Kafka 4.1's `KafkaRaftClient.handleDescribeQuorumRequest`: the request must name
//! exactly `__cluster_metadata` partition 0, else every partition it names gets
//! UNKNOWN_TOPIC_OR_PARTITION. A broker that is not the quorum's leader forwards the request to
//! it (as Kafka's brokers forward to the controller); a request on the controller listener of a
//! node that is not the leader gets NOT_LEADER_OR_FOLLOWER with the leader it knows. The leader
//! answers its Raft term as the leader epoch, the offset after its last applied entry as the high
//! watermark, and every voter with the log end the leader knows for it (-1 when unknown) and
//! when it last made progress and was last caught up (-1 when never seen since this node became
//! leader; the leader itself is fetched "now"). There are no observers (every node is a voter)
//! and no directory ids. From v2 the nodes list gives each voter's controller endpoint: this
//! node's from its listeners (`controller.listener.names`, else the one it serves clients on),
//! the others' from `controller.quorum.voters`.

use super::str_bytes;
use crate::protocol::msg::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use crate::protocol::msg::{DescribeQuorumRequest, DescribeQuorumResponse, TopicName};
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::peer::{self, Answer};
use crate::server::{Broker, BrokerError, CONTROLLER_CALL_DEADLINE_MS};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::DescribeQuorum, VersionRange::new(0, 2))];

/// KRaft's metadata log, the one partition this API describes.
const METADATA_TOPIC: &str = "__cluster_metadata";

pub async fn handle(
    broker: &Broker,
    request: DescribeQuorumRequest,
    version: i16,
) -> DescribeQuorumResponse {
    let valid = matches!(request.topics.as_slice(),
        [t] if t.topic_name.as_str() == METADATA_TOPIC
            && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0));
    if !valid {
        return unknown_partitions(request);
    }
    let status = broker.controller.quorum().status();
    if !status.is_leader && broker.must_forward() {
        let forwarded = broker
            .channel
            .call(
                broker,
                ApiKey::DescribeQuorum,
                version,
                &request,
                CONTROLLER_CALL_DEADLINE_MS,
                |r: &DescribeQuorumResponse| {
                    let not_leader = r
                        .topics
                        .iter()
                        .flat_map(|t| &t.partitions)
                        .any(|p| p.error_code == code::NOT_LEADER_OR_FOLLOWER);
                    if not_leader {
                        Answer::NotController
                    } else {
                        peer::classify(Some(r.error_code))
                    }
                },
            )
            .await;
        match forwarded {
            Ok(r) => return r,
            Err(e) => {
                let mut response = DescribeQuorumResponse::default();
                response.error_code = error_code(&e);
                response.error_message = Some(str_bytes(&e.to_string()));
                return response;
            }
        }
    }
    let mut partition = PartitionData::default();
    partition.partition_index = 0;
    partition.leader_id = status.leader.map_or(-1, |l| l as i32).into();
    partition.leader_epoch = i32::try_from(status.term).unwrap_or(i32::MAX);
    if !status.is_leader {
        partition.error_code = code::NOT_LEADER_OR_FOLLOWER;
        partition.high_watermark = -1;
    } else {
        let now_ms = broker.clock.now_ms();
        let ago = |d: Option<std::time::Duration>| {
            d.map_or(-1, |d| {
                now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX).min(now_ms)
            })
        };
        partition.high_watermark = i64::try_from(status.high_watermark).unwrap_or(i64::MAX);
        partition.current_voters = status
            .voters
            .iter()
            .map(|v| {
                let mut r = ReplicaState::default();
                r.replica_id = (v.id as i32).into();
                r.replica_directory_id = Uuid::nil();
                r.log_end_offset = v
                    .log_end
                    .map_or(-1, |e| i64::try_from(e).unwrap_or(i64::MAX));
                r.last_fetch_timestamp = ago(v.since_progress);
                r.last_caught_up_timestamp = ago(v.since_caught_up);
                r
            })
            .collect();
    }
    let mut topic = TopicData::default();
    topic.topic_name = TopicName(str_bytes(METADATA_TOPIC));
    topic.partitions = vec![partition];
    let mut response = DescribeQuorumResponse::default();
    response.topics = vec![topic];
    if version >= 2 && status.is_leader {
        response.nodes = status
            .voters
            .iter()
            .filter_map(|v| {
                let mut n = Node::default();
                n.node_id = (v.id as i32).into();
                n.listeners = vec![if v.id == broker.node_id.0 as u64 {
                    controller_listener(broker)
                } else {
                    voter_listener(broker, v.id)?
                }];
                Some(n)
            })
            .collect();
    }
    response
}

fn unknown_partitions(request: DescribeQuorumRequest) -> DescribeQuorumResponse {
    let error = error_code(&BrokerError::UnknownTopicOrPartition);
    let mut response = DescribeQuorumResponse::default();
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
    response
}

/// Another voter's endpoint, from `controller.quorum.voters`, named like this node's
/// controller listener.
fn voter_listener(broker: &Broker, id: u64) -> Option<Listener> {
    let addr = broker.controller.voters().get(&id)?.clone();
    let (host, port) = addr.rsplit_once(':')?;
    let mut out = Listener::default();
    out.name = controller_listener(broker).name;
    out.host = str_bytes(host.trim_start_matches('[').trim_end_matches(']'));
    out.port = port.parse().ok()?;
    Some(out)
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
