//! The controller's own APIs, served on the controller listener only: BrokerRegistration,
//! BrokerHeartbeat (with KRaft's controlled shutdown: WantShutDown / ShouldShutDown),
//! AlterPartition and AllocateProducerIds.
//!
//! Contract: each runs on this node's controller; a node that is not the active controller
//! answers NOT_CONTROLLER and the sender retries at the leader it learns from its own quorum view.
//! Errors map to Kafka's codes through `error_code.rs` (STALE_BROKER_EPOCH,
//! BROKER_ID_NOT_REGISTERED, INVALID_UPDATE_VERSION, FENCED_LEADER_EPOCH, INELIGIBLE_REPLICA ...).

use crate::controller::records::BrokerEndpoint;
use crate::controller::{BrokerRegistrationSpec, IsrChange};
use crate::protocol::msg::alter_partition_response;
use crate::protocol::msg::{
    AllocateProducerIdsRequest, AllocateProducerIdsResponse, AlterPartitionRequest,
    AlterPartitionResponse, BrokerHeartbeatRequest, BrokerHeartbeatResponse,
    BrokerRegistrationRequest, BrokerRegistrationResponse,
};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[
    (ApiKey::BrokerRegistration, VersionRange::new(0, 4)),
    (ApiKey::BrokerHeartbeat, VersionRange::new(0, 1)),
    (ApiKey::AlterPartition, VersionRange::new(2, 3)),
    (ApiKey::AllocateProducerIds, VersionRange::new(0, 0)),
];

pub async fn broker_registration(
    broker: &Broker,
    request: BrokerRegistrationRequest,
) -> BrokerRegistrationResponse {
    let mut response = BrokerRegistrationResponse::default();
    let image = broker.image();
    if request.cluster_id.as_str() != image.cluster_id {
        response.error_code = code::INCONSISTENT_CLUSTER_ID;
        response.broker_epoch = -1;
        return response;
    }
    let spec = BrokerRegistrationSpec {
        broker_id: request.broker_id.0,
        incarnation_id: crate::controller::format_topic_id(crate::model::TopicId(
            *request.incarnation_id.as_bytes(),
        )),
        endpoints: request
            .listeners
            .iter()
            .map(|l| BrokerEndpoint {
                name: l.name.to_string(),
                host: l.host.to_string(),
                port: l.port,
                security_protocol: l.security_protocol,
            })
            .collect(),
        rack: request.rack.map(|r| r.to_string()),
    };
    match broker.controller.register_broker(spec).await {
        Ok(epoch) => response.broker_epoch = epoch,
        Err(e) => {
            response.error_code = error_code(&BrokerError::from(e));
            response.broker_epoch = -1;
        }
    }
    response
}

pub async fn broker_heartbeat(
    broker: &Broker,
    request: BrokerHeartbeatRequest,
) -> BrokerHeartbeatResponse {
    let mut response = BrokerHeartbeatResponse::default();
    match broker
        .controller
        .broker_heartbeat(
            request.broker_id.0,
            request.broker_epoch,
            request.current_metadata_offset,
            request.want_fence,
            request.want_shut_down,
        )
        .await
    {
        Ok(o) => {
            response.is_caught_up = o.is_caught_up;
            response.is_fenced = o.is_fenced;
            response.should_shut_down = o.should_shut_down;
        }
        Err(e) => {
            response.error_code = error_code(&BrokerError::from(e));
            response.is_fenced = true;
        }
    }
    response
}

pub async fn alter_partition(
    broker: &Broker,
    request: AlterPartitionRequest,
    version: i16,
) -> AlterPartitionResponse {
    let mut response = AlterPartitionResponse::default();
    for t in request.topics {
        let mut tr = alter_partition_response::TopicData::default();
        tr.topic_id = t.topic_id;
        let topic_id =
            crate::controller::format_topic_id(crate::model::TopicId(*t.topic_id.as_bytes()));
        for p in t.partitions {
            let new_isr: Vec<i32> = if version >= 3 {
                p.new_isr_with_epochs
                    .iter()
                    .map(|b| b.broker_id.0)
                    .collect()
            } else {
                p.new_isr.iter().map(|b| b.0).collect()
            };
            let mut pr = alter_partition_response::PartitionData::default();
            pr.partition_index = p.partition_index;
            let change = IsrChange {
                topic_id: topic_id.clone(),
                partition: p.partition_index,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                new_isr,
            };
            match broker
                .controller
                .alter_partition(request.broker_id.0, request.broker_epoch, change)
                .await
            {
                Ok(state) => {
                    pr.leader_id = state.leader.into();
                    pr.leader_epoch = state.leader_epoch;
                    pr.isr = state.isr.iter().map(|b| (*b).into()).collect();
                    pr.partition_epoch = state.partition_epoch;
                }
                Err(e) => {
                    let e = BrokerError::from(e);
                    let c = error_code(&e);
                    if c == code::NOT_CONTROLLER {
                        response.error_code = c;
                    }
                    pr.error_code = c;
                }
            }
            tr.partitions.push(pr);
        }
        response.topics.push(tr);
    }
    response
}

pub async fn allocate_producer_ids(
    broker: &Broker,
    request: AllocateProducerIdsRequest,
) -> AllocateProducerIdsResponse {
    let mut response = AllocateProducerIdsResponse::default();
    match broker
        .controller
        .allocate_producer_ids(request.broker_id.0, request.broker_epoch)
        .await
    {
        Ok((start, len)) => {
            response.producer_id_start = start.into();
            response.producer_id_len = len as i32;
        }
        Err(e) => {
            response.error_code = error_code(&BrokerError::from(e));
            response.producer_id_start = (-1).into();
        }
    }
    response
}
