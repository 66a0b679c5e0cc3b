//! Request dispatch. One file per API family, each declaring the versions it serves beside its
//! code (`VERSIONS`); `version_table` gathers them into the one `ApiVersionTable` that both the
//! version gate and the ApiVersions response read. The ranges include the versions Kafka 4
//! removed that Gregor still serves (`protocol::legacy::SERVED`, KIP-896); with
//! `gregor.legacy.api.versions.enable=false` the table is exactly Kafka 4.1's.
//!
//! Contract: a handler turns a decoded request into a response (or none, for acks=0 produce); it
//! never fails as a whole: errors become Kafka codes through `error_code.rs` at the level the API
//! reports them (request, topic or partition).

pub mod api_versions;
pub mod cluster;
pub mod config_resources;
pub mod configs;
pub mod controller_apis;
pub mod describe_topic_partitions;
pub mod fetch;
pub mod groups;
pub mod leader_epoch;
pub mod leader_hint;
pub mod list_offsets;
pub mod log_dirs;
pub mod metadata;
pub mod partition_admin;
pub mod produce;
pub mod producer_id;
pub mod quorum;
pub mod replica_fetch;
pub mod topics;

use std::sync::Arc;

use super::Broker;
use crate::config::BrokerConfig;
use crate::protocol::legacy;
use crate::protocol::msg::StrBytes;
use crate::protocol::{ApiKey, ApiVersionTable, Request, RequestFrame, Response, VersionRange};

/// Per-connection state that outlives one request.
#[derive(Debug, Default)]
pub struct ConnectionState {
    pub requests_handled: u64,
    /// The client id of the latest request (what group APIs report as a member's client id).
    pub client_id: String,
    pub peer: Option<std::net::SocketAddr>,
}

impl ConnectionState {
    pub fn new(peer: std::net::SocketAddr) -> Self {
        ConnectionState {
            peer: Some(peer),
            ..Default::default()
        }
    }

    /// The client's host as Kafka reports it: "/" and the address.
    pub fn client_host(&self) -> String {
        self.peer
            .map(|p| format!("/{}", p.ip()))
            .unwrap_or_default()
    }
}

pub fn version_table(config: &BrokerConfig) -> ApiVersionTable {
    let families: [&[(ApiKey, VersionRange)]; 16] = [
        api_versions::VERSIONS,
        metadata::VERSIONS,
        produce::VERSIONS,
        fetch::VERSIONS,
        list_offsets::VERSIONS,
        topics::VERSIONS,
        producer_id::VERSIONS,
        configs::VERSIONS,
        cluster::VERSIONS,
        groups::VERSIONS,
        leader_epoch::VERSIONS,
        describe_topic_partitions::VERSIONS,
        config_resources::VERSIONS,
        log_dirs::VERSIONS,
        quorum::VERSIONS,
        partition_admin::VERSIONS,
    ];
    let table = ApiVersionTable::new(families.into_iter().flatten().copied());
    if config.legacy_api_versions_enable {
        table
    } else {
        table.without(legacy::SERVED)
    }
}

/// What the controller listener serves: ApiVersions, the controller's own APIs, and the admin
/// requests brokers forward to the active controller.
pub fn controller_version_table() -> ApiVersionTable {
    let forwarded = [
        (ApiKey::CreateTopics, VersionRange::new(2, 7)),
        (ApiKey::DeleteTopics, VersionRange::new(1, 6)),
        (ApiKey::CreatePartitions, VersionRange::new(0, 3)),
        (ApiKey::IncrementalAlterConfigs, VersionRange::new(0, 1)),
        (ApiKey::ElectLeaders, VersionRange::new(0, 2)),
        (ApiKey::AlterPartitionReassignments, VersionRange::new(0, 1)),
        (ApiKey::ListPartitionReassignments, VersionRange::new(0, 0)),
    ];
    ApiVersionTable::new(
        api_versions::VERSIONS
            .iter()
            .chain(controller_apis::VERSIONS)
            .chain(quorum::VERSIONS)
            .copied()
            .chain(forwarded),
    )
}

pub async fn handle(
    broker: &Arc<Broker>,
    state: &mut ConnectionState,
    frame: RequestFrame,
) -> Option<Response> {
    state.requests_handled += 1;
    if let Some(id) = &frame.client_id
        && id.as_str() != state.client_id
    {
        state.client_id = id.to_string();
    }
    let v = frame.version;
    if matches!(
        frame.api_key,
        ApiKey::JoinGroup
            | ApiKey::SyncGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::OffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::DescribeGroups
            | ApiKey::DeleteGroups
            | ApiKey::OffsetDelete
            | ApiKey::ConsumerGroupDescribe
    ) {
        // Group state lives in `__consumer_offsets`: make it exist (and its partitions led
        // here be served) before the coordinator answers, as a client may skip FindCoordinator.
        if let Err(e) = broker.ensure_offsets_topic().await {
            tracing::debug!(error = %e, "the offsets topic is not available");
        }
    }
    Some(match frame.request {
        Request::ApiVersions(r) => Response::ApiVersions(api_versions::handle(broker, r, v)),
        Request::Metadata(r) => Response::Metadata(metadata::handle(broker, r, v).await),
        Request::Produce(r) => return produce::handle(broker, r, v).await.map(Response::Produce),
        Request::ProduceLegacy(r) => Response::ProduceLegacy(produce::handle_legacy(r)),
        Request::Fetch(r) => Response::Fetch(fetch::handle(broker, r, v).await),
        Request::ListOffsets(r) => Response::ListOffsets(list_offsets::handle(broker, r, v)),
        Request::OffsetForLeaderEpoch(r) => {
            Response::OffsetForLeaderEpoch(leader_epoch::handle(broker, r, v))
        }
        Request::CreateTopics(r) => {
            Response::CreateTopics(topics::create_topics(broker, r, v).await)
        }
        Request::DeleteTopics(r) => {
            Response::DeleteTopics(topics::delete_topics(broker, r, v).await)
        }
        Request::CreatePartitions(r) => {
            Response::CreatePartitions(topics::create_partitions(broker, r, v).await)
        }
        Request::InitProducerId(r) => {
            Response::InitProducerId(producer_id::handle(broker, r, v).await)
        }
        Request::BrokerRegistration(r) => {
            Response::BrokerRegistration(controller_apis::broker_registration(broker, r).await)
        }
        Request::BrokerHeartbeat(r) => {
            Response::BrokerHeartbeat(controller_apis::broker_heartbeat(broker, r).await)
        }
        Request::AlterPartition(r) => {
            Response::AlterPartition(controller_apis::alter_partition(broker, r, v).await)
        }
        Request::AllocateProducerIds(r) => {
            Response::AllocateProducerIds(controller_apis::allocate_producer_ids(broker, r).await)
        }
        Request::DescribeConfigs(r) => Response::DescribeConfigs(configs::describe(broker, r, v)),
        Request::IncrementalAlterConfigs(r) => {
            Response::IncrementalAlterConfigs(configs::incremental_alter(broker, r, v).await)
        }
        Request::DescribeCluster(r) => Response::DescribeCluster(cluster::handle(broker, r, v)),
        Request::DescribeTopicPartitions(r) => {
            Response::DescribeTopicPartitions(describe_topic_partitions::handle(broker, r, v))
        }
        Request::ListConfigResources(r) => {
            Response::ListConfigResources(config_resources::handle(broker, r, v))
        }
        Request::DescribeLogDirs(r) => Response::DescribeLogDirs(log_dirs::handle(broker, r, v)),
        Request::DescribeQuorum(r) => Response::DescribeQuorum(quorum::handle(broker, r, v).await),
        Request::ElectLeaders(r) => {
            Response::ElectLeaders(partition_admin::elect_leaders(broker, r, v).await)
        }
        Request::AlterPartitionReassignments(r) => Response::AlterPartitionReassignments(
            partition_admin::alter_partition_reassignments(broker, r, v).await,
        ),
        Request::ListPartitionReassignments(r) => Response::ListPartitionReassignments(
            partition_admin::list_partition_reassignments(broker, r, v).await,
        ),
        Request::FindCoordinator(r) => {
            Response::FindCoordinator(groups::find_coordinator(broker, r, v).await)
        }
        Request::JoinGroup(r) => Response::JoinGroup(groups::join_group(broker, state, r, v).await),
        Request::SyncGroup(r) => Response::SyncGroup(groups::sync_group(broker, r, v).await),
        Request::Heartbeat(r) => Response::Heartbeat(groups::heartbeat(broker, r, v).await),
        Request::LeaveGroup(r) => Response::LeaveGroup(groups::leave_group(broker, r, v).await),
        Request::OffsetCommit(r) => {
            Response::OffsetCommit(groups::offset_commit(broker, r, v).await)
        }
        Request::OffsetFetch(r) => Response::OffsetFetch(groups::offset_fetch(broker, r, v).await),
        Request::DescribeGroups(r) => {
            Response::DescribeGroups(groups::describe_groups(broker, r, v))
        }
        Request::ListGroups(r) => Response::ListGroups(groups::list_groups(broker, r, v)),
        Request::DeleteGroups(r) => {
            Response::DeleteGroups(groups::delete_groups(broker, r, v).await)
        }
        Request::OffsetDelete(r) => {
            Response::OffsetDelete(groups::offset_delete(broker, r, v).await)
        }
        Request::ConsumerGroupHeartbeat(r) => Response::ConsumerGroupHeartbeat(
            groups::consumer_group_heartbeat(broker, state, r, v).await,
        ),
        Request::ConsumerGroupDescribe(r) => {
            Response::ConsumerGroupDescribe(groups::consumer_group_describe(broker, r, v))
        }
    })
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// The error message Kafka would attach, for a non-success code.
pub(crate) fn error_message(e: &super::BrokerError) -> Option<StrBytes> {
    Some(str_bytes(&e.to_string()))
}
