//! Config APIs: DescribeConfigs for topics (every topic config, with its effective value and
//! source), this broker (the properties Gregor knows, read-only) and groups (Kafka 4's dynamic
//! group configs, served for any group id as Kafka does), and IncrementalAlterConfigs for topics
//! and groups.
//!
//! Contract: IncrementalAlterConfigs applies each resource's operations (SET, DELETE, APPEND,
//! SUBTRACT) to its current overrides, validates the result as a whole, and persists it through
//! the controller before answering; a resource that fails changes nothing, and the other
//! resources of the request are independent. Dynamic broker configs are refused with
//! INVALID_REQUEST until they exist (the broker's properties are static today).
//!
//! DescribeConfigs v0 (removed in Kafka 4, served unless `gregor.legacy.api.versions.enable=false`)
//! has no config source and no synonyms: `protocol::legacy` reports `is_default` for the
//! DEFAULT_CONFIG source, and the request decodes with `include_synonyms=false`.

use std::collections::BTreeMap;

use super::str_bytes;
use crate::config::{BrokerConfig, ConfigEntry};
use crate::protocol::msg::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use crate::protocol::msg::incremental_alter_configs_response::AlterConfigsResourceResponse;
use crate::protocol::msg::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[
    (ApiKey::DescribeConfigs, VersionRange::new(0, 4)),
    (ApiKey::IncrementalAlterConfigs, VersionRange::new(0, 1)),
];

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const RESOURCE_GROUP: i8 = 32;

/// IncrementalAlterConfigs operations (Kafka's `AlterConfigOp.OpType`).
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

pub fn describe(
    broker: &Broker,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    let with_docs = version >= 3 && request.include_documentation;
    for r in request.resources {
        // Kafka leaves a described resource's error message at the schema default: "".
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
            RESOURCE_GROUP if name.is_empty() => Err(BrokerError::InvalidRequest(
                "a group resource needs a group id".into(),
            )),
            RESOURCE_GROUP => {
                let image = broker.image();
                let none = BTreeMap::new();
                Ok(broker
                    .config
                    .describe_group_configs(image.group_configs(&name).unwrap_or(&none)))
            }
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
                        if version >= 3 {
                            c.config_type = e.config_type.kafka_code();
                            c.documentation = if with_docs {
                                e.documentation.map(str_bytes)
                            } else {
                                None
                            };
                        }
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

/// A LIST config's items (Kafka splits on commas and trims).
fn list_items(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Applies one resource's operations to its current overrides. `default_of` gives a LIST
/// config's current effective value when the resource has no override (APPEND/SUBTRACT start
/// from it, as Kafka's do).
fn apply_ops(
    current: &BTreeMap<String, String>,
    ops: &[(String, i8, Option<String>)],
    is_list: impl Fn(&str) -> bool,
    default_of: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, BrokerError> {
    let mut next = current.clone();
    let mut seen = std::collections::BTreeSet::new();
    for (name, op, value) in ops {
        if !seen.insert(name.clone()) {
            return Err(BrokerError::InvalidRequest(format!(
                "config {name} appears more than once"
            )));
        }
        match *op {
            OP_SET => {
                let v = value.clone().ok_or_else(|| {
                    BrokerError::InvalidRequest(format!("SET of {name} needs a value"))
                })?;
                next.insert(name.clone(), v);
            }
            OP_DELETE => {
                next.remove(name);
            }
            OP_APPEND | OP_SUBTRACT => {
                if !is_list(name) {
                    return Err(BrokerError::InvalidRequest(format!(
                        "{} is only for LIST configs; {name} is not one",
                        if *op == OP_APPEND {
                            "APPEND"
                        } else {
                            "SUBTRACT"
                        }
                    )));
                }
                let base = next
                    .get(name)
                    .cloned()
                    .or_else(|| default_of(name))
                    .unwrap_or_default();
                let mut items = list_items(&base);
                let given = list_items(value.as_deref().unwrap_or(""));
                if *op == OP_APPEND {
                    for g in given {
                        if !items.contains(&g) {
                            items.push(g);
                        }
                    }
                } else {
                    items.retain(|i| !given.contains(i));
                }
                next.insert(name.clone(), items.join(","));
            }
            other => {
                return Err(BrokerError::InvalidRequest(format!(
                    "unknown config operation {other}"
                )));
            }
        }
    }
    Ok(next)
}

pub async fn incremental_alter(
    broker: &Broker,
    request: IncrementalAlterConfigsRequest,
    version: i16,
) -> IncrementalAlterConfigsResponse {
    if broker.must_forward() {
        return forward_incremental_alter(broker, request, version).await;
    }
    let mut response = IncrementalAlterConfigsResponse::default();
    for r in request.resources {
        let name = r.resource_name.to_string();
        let ops: Vec<(String, i8, Option<String>)> = r
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.to_string()),
                )
            })
            .collect();
        let result =
            alter_resource(broker, r.resource_type, &name, &ops, request.validate_only).await;
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = r.resource_type;
        out.resource_name = r.resource_name;
        match result {
            Ok(()) => out.error_message = None,
            Err(e) => {
                tracing::debug!(resource = %name, error = %e, "IncrementalAlterConfigs refused");
                out.error_code = error_code(&e);
                out.error_message = Some(str_bytes(&e.to_string()));
            }
        }
        response.responses.push(out);
    }
    response
}

/// A broker that is not the active controller sends the whole request there (as Kafka forwards
/// it), then waits until its own image has caught up with the changes.
async fn forward_incremental_alter(
    broker: &Broker,
    request: IncrementalAlterConfigsRequest,
    version: i16,
) -> IncrementalAlterConfigsResponse {
    let names: Vec<String> = request
        .resources
        .iter()
        .map(|r| r.resource_name.to_string())
        .collect();
    let result = broker
        .channel
        .call(
            broker,
            ApiKey::IncrementalAlterConfigs,
            version.clamp(0, 1),
            &request,
            crate::server::CONTROLLER_CALL_DEADLINE_MS,
            |r: &IncrementalAlterConfigsResponse| {
                crate::server::peer::classify(r.responses.first().map(|x| x.error_code))
            },
        )
        .await;
    match result {
        Ok(resp) => {
            broker.catch_up_with_controller().await;
            resp
        }
        Err(e) => {
            let mut response = IncrementalAlterConfigsResponse::default();
            for (r, name) in request.resources.into_iter().zip(names) {
                let mut out = AlterConfigsResourceResponse::default();
                out.resource_type = r.resource_type;
                out.resource_name = r.resource_name;
                out.error_code = error_code(&e);
                out.error_message = Some(str_bytes(&format!("{name}: {e}")));
                response.responses.push(out);
            }
            response
        }
    }
}

async fn alter_resource(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    ops: &[(String, i8, Option<String>)],
    validate_only: bool,
) -> Result<(), BrokerError> {
    match resource_type {
        RESOURCE_TOPIC => {
            for (n, _, _) in ops {
                if !crate::config::TopicConfigs::is_known(n) {
                    return Err(
                        crate::config::ConfigError::UnknownTopicConfig { name: n.clone() }.into(),
                    );
                }
            }
            let change = |topic: &crate::controller::TopicMeta| {
                let described = broker.config.describe_topic_configs(&topic.configs);
                let effective = |n: &str| {
                    described
                        .iter()
                        .find(|e| e.name == n)
                        .and_then(|e| e.value.clone())
                };
                let is_list = |n: &str| {
                    described
                        .iter()
                        .any(|e| e.name == n && e.config_type == crate::config::ConfigType::List)
                };
                apply_ops(&topic.configs, ops, is_list, effective)
            };
            broker
                .alter_topic_configs(name, change, validate_only)
                .await
        }
        RESOURCE_GROUP => {
            for (n, _, _) in ops {
                if !BrokerConfig::is_group_config(n) {
                    return Err(
                        crate::config::ConfigError::UnknownGroupConfig { name: n.clone() }.into(),
                    );
                }
            }
            // No group config is a LIST.
            let change =
                |current: &BTreeMap<String, String>| apply_ops(current, ops, |_| false, |_| None);
            broker
                .alter_group_configs(name, change, validate_only)
                .await
        }
        RESOURCE_BROKER => Err(BrokerError::InvalidRequest(
            "dynamic broker configs are not supported yet: Gregor's broker properties are static"
                .into(),
        )),
        other => Err(BrokerError::InvalidRequest(format!(
            "resource type {other} is not supported"
        ))),
    }
}
