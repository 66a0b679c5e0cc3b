//! DescribeCluster: the live brokers at the endpoints of the listener asked (as Metadata), the
//! active controller as the controller when it is a live broker (else, as Kafka's KRaft
//! brokers answer, some live broker), and the cluster's authorized operations
//! (`server::authz`) when the client asks for them.
//!
//! Contract: as Kafka's `AuthHelper.computeDescribeClusterResponse` on a broker listener: an
//! endpoint type other than "brokers" is an error (INVALID_REQUEST at v0, else
//! MISMATCHED_ENDPOINT_TYPE for "controllers" and UNSUPPORTED_ENDPOINT_TYPE for unknown types).

use super::str_bytes;
use crate::protocol::msg::describe_cluster_response::DescribeClusterBroker;
use crate::protocol::msg::{DescribeClusterRequest, DescribeClusterResponse};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError, authz};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::DescribeCluster, VersionRange::new(0, 2))];

/// Kafka's endpoint types (KIP-919).
const ENDPOINT_TYPE_BROKERS: i8 = 1;
const ENDPOINT_TYPE_CONTROLLERS: i8 = 2;
pub fn handle(
    broker: &Broker,
    request: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default();
    let refusal = match request.endpoint_type {
        ENDPOINT_TYPE_BROKERS => None,
        ENDPOINT_TYPE_CONTROLLERS => Some(BrokerError::MismatchedEndpointType),
        other => Some(BrokerError::UnsupportedEndpointType(other)),
    };
    if let Some(e) = refusal {
        response.error_code = if version == 0 {
            code::INVALID_REQUEST
        } else {
            error_code(&e)
        };
        response.error_message = Some(str_bytes(&e.to_string()));
        return response;
    }
    response.cluster_id = str_bytes(&broker.image().cluster_id);
    let live = super::metadata::live_brokers(broker);
    let active = broker.controller.active_controller();
    response.controller_id = active
        .filter(|c| live.iter().any(|b| b.0 == *c))
        .or_else(|| live.first().map(|b| b.0))
        .unwrap_or(broker.node_id.0)
        .into();
    response.endpoint_type = ENDPOINT_TYPE_BROKERS;
    response.cluster_authorized_operations = authz::if_requested(
        request.include_cluster_authorized_operations,
        authz::cluster_operations,
    );
    response.brokers = live
        .into_iter()
        .map(|(id, host, port, rack)| {
            let mut b = DescribeClusterBroker::default();
            b.broker_id = id.into();
            b.host = str_bytes(&host);
            b.port = port;
            b.rack = rack.as_deref().map(str_bytes);
            b
        })
        .collect();
    response
}
