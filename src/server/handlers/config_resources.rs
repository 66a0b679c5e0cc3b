//! ListConfigResources (KIP-1142; v0 is KIP-714's ListClientMetricsResources): the resources an
//! admin client can describe or alter configs of.
//!
//! Contract, as Kafka 4.1's `KafkaApis.handleListConfigResources`: v0 knows client-metrics
//! resources only, v1 topics, the broker, broker loggers, client metrics and groups; an empty type
//! list means every type the version knows, and a type it does not know fails the whole request
//! with UNSUPPORTED_VERSION. Resources are listed type by type in Kafka's order: groups, client
//! metrics, broker loggers, brokers, topics. Groups and client metrics are those with configs of
//! their own (Kafka's group config manager and client-metrics subscriptions): groups set through
//! IncrementalAlterConfigs, sorted by id; Gregor has no client metrics yet. This broker is the
//! only broker (and broker logger); topics come sorted by name.

use super::str_bytes;
use crate::protocol::msg::list_config_resources_response::ConfigResource;
use crate::protocol::msg::{ListConfigResourcesRequest, ListConfigResourcesResponse};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::ListConfigResources, VersionRange::new(0, 1))];

/// Kafka's `ConfigResource.Type` ids.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;
const CLIENT_METRICS: i8 = 16;
const GROUP: i8 = 32;

fn supported_types(version: i16) -> &'static [i8] {
    if version == 0 {
        &[CLIENT_METRICS]
    } else {
        &[TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP]
    }
}

pub fn handle(
    broker: &Broker,
    request: ListConfigResourcesRequest,
    version: i16,
) -> ListConfigResourcesResponse {
    let supported = supported_types(version);
    let wanted: Vec<i8> = if request.resource_types.is_empty() {
        supported.to_vec()
    } else {
        request.resource_types
    };
    let mut response = ListConfigResourcesResponse::default();
    if let Some(unknown) = wanted.iter().find(|t| !supported.contains(t)) {
        response.error_code = error_code(&BrokerError::UnsupportedVersion);
        tracing::debug!(
            resource_type = unknown,
            version,
            "unsupported config resource type"
        );
        return response;
    }
    let resource = |resource_type: i8, name: &str| {
        let mut r = ConfigResource::default();
        r.resource_name = str_bytes(name);
        r.resource_type = resource_type;
        r
    };
    let node = broker.node_id.0.to_string();
    let image = broker.image();
    // Kafka's order: groups with configs of their own, client metrics (Gregor has none), broker
    // loggers, brokers, topics.
    if wanted.contains(&GROUP) {
        response
            .config_resources
            .extend(image.all_group_configs().keys().map(|g| resource(GROUP, g)));
    }
    for t in [BROKER_LOGGER, BROKER] {
        if wanted.contains(&t) {
            response.config_resources.push(resource(t, &node));
        }
    }
    if wanted.contains(&TOPIC) {
        let mut names: Vec<&str> = image.topics().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        response
            .config_resources
            .extend(names.into_iter().map(|n| resource(TOPIC, n)));
    }
    response
}
