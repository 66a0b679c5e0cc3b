//! DescribeCluster: this broker as the whole cluster, and as its controller.

use super::str_bytes;
use crate::protocol::msg::describe_cluster_response::DescribeClusterBroker;
use crate::protocol::msg::{DescribeClusterRequest, DescribeClusterResponse};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::Broker;

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::DescribeCluster, VersionRange::new(0, 2))];

/// Kafka's endpoint types (KIP-919): brokers, or controllers.
const ENDPOINT_TYPE_BROKERS: i8 = 1;
const UNSUPPORTED_ENDPOINT_TYPE: i16 = 119;

pub fn handle(
    broker: &Broker,
    request: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default();
    response.cluster_id = str_bytes(&broker.image().cluster_id);
    response.controller_id = broker.node_id.0.into();
    if version >= 1 {
        response.endpoint_type = request.endpoint_type;
    }
    if request.endpoint_type != ENDPOINT_TYPE_BROKERS {
        response.error_code = UNSUPPORTED_ENDPOINT_TYPE;
        response.error_message = Some(str_bytes("only the broker endpoint type is served"));
        return response;
    }
    let mut b = DescribeClusterBroker::default();
    b.broker_id = broker.node_id.0.into();
    b.host = str_bytes(&broker.advertised_host);
    b.port = broker.advertised_port;
    response.brokers = vec![b];
    response
}
