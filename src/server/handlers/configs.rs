//! DescribeConfigs for topics (every topic config, with its effective value and source) and for
//! this broker (the properties Gregor knows, read-only).
//!
//! v0 (removed in Kafka 4, served unless `gregor.legacy.api.versions.enable=false`) has no config
//! source and no synonyms: `protocol::legacy` reports `is_default` for the DEFAULT_CONFIG source,
//! and the request decodes with `include_synonyms=false`, so nothing here depends on the version.

use super::str_bytes;
use crate::config::ConfigEntry;
use crate::protocol::msg::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use crate::protocol::msg::{DescribeConfigsRequest, DescribeConfigsResponse};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::DescribeConfigs, VersionRange::new(0, 4))];

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

pub fn describe(
    broker: &Broker,
    request: DescribeConfigsRequest,
    _version: i16,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    for r in request.resources {
        let mut out = DescribeConfigsResult::default();
        out.resource_type = r.resource_type;
        out.resource_name = r.resource_name.clone();
        let name = r.resource_name.to_string();
        let entries: Result<Vec<ConfigEntry>, BrokerError> = match r.resource_type {
            RESOURCE_TOPIC => broker
                .image()
                .topic(&name)
                .map(|t| broker.config.describe_topic_configs(&t.configs))
                .ok_or(BrokerError::UnknownTopicOrPartition),
            RESOURCE_BROKER if name.is_empty() || name == broker.node_id.0.to_string() => {
                Ok(broker.config.describe_broker_configs())
            }
            RESOURCE_BROKER => Err(BrokerError::InvalidRequest(format!(
                "this is broker {}, not {name}",
                broker.node_id.0
            ))),
            other => Err(BrokerError::InvalidRequest(format!(
                "resource type {other} is not supported"
            ))),
        };
        match entries {
            Ok(entries) => {
                // No keys, or an empty list, means every config, as in Kafka.
                let wanted = r
                    .configuration_keys
                    .filter(|k| !k.is_empty())
                    .map(|k| k.iter().map(|s| s.to_string()).collect::<Vec<_>>());
                out.configs = entries
                    .into_iter()
                    .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(&e.name)))
                    .map(|e| {
                        let mut c = DescribeConfigsResourceResult::default();
                        c.name = str_bytes(&e.name);
                        c.value = if e.sensitive {
                            None
                        } else {
                            e.value.as_deref().map(str_bytes)
                        };
                        c.read_only = e.read_only;
                        c.config_source = e.source.kafka_code();
                        c.is_sensitive = e.sensitive;
                        c
                    })
                    .collect();
            }
            Err(e) => {
                out.error_code = error_code(&e);
                out.error_message = Some(str_bytes(&e.to_string()));
                if out.error_code == code::NONE {
                    out.error_code = code::INVALID_REQUEST;
                }
            }
        }
        response.results.push(out);
    }
    response
}
