//! CreateTopics, DeleteTopics, CreatePartitions.
//!
//! Contract: each topic in a request succeeds or fails on its own, decided by the active
//! controller (a broker forwards there): a replication factor above the unfenced brokers is
//! INVALID_REPLICATION_FACTOR, a manual assignment must name registered brokers, each once, with
//! equal list lengths (INVALID_REPLICA_ASSIGNMENT). Topic configs are validated against Kafka's
//! names and types before anything is created.
//! CreateTopics v0-1 and DeleteTopics v0 (removed in Kafka 4) decode into the same requests
//! (`protocol::legacy`); their responses are the same results with fewer fields written.

use std::collections::{BTreeMap, HashSet};

use super::{error_message, str_bytes};
use crate::controller::TopicSpec;
use crate::model::TopicId;
use crate::protocol::msg::create_partitions_response::CreatePartitionsTopicResult;
use crate::protocol::msg::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use crate::protocol::msg::delete_topics_response::DeletableTopicResult;
use crate::protocol::msg::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[
    (ApiKey::CreateTopics, VersionRange::new(0, 7)),
    (ApiKey::DeleteTopics, VersionRange::new(0, 6)),
    (ApiKey::CreatePartitions, VersionRange::new(0, 3)),
];

pub async fn create_topics(
    broker: &Broker,
    request: CreateTopicsRequest,
    _version: i16,
) -> CreateTopicsResponse {
    let mut response = CreateTopicsResponse::default();
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = request
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.0.to_string()))
        .map(|t| t.name.0.to_string())
        .collect();
    for t in request.topics {
        let name = t.name.0.to_string();
        let mut out = CreatableTopicResult::default();
        // Kafka's controller answers a created topic with a null message; the schema's
        // default would be "".
        out.error_message = None;
        out.name = t.name.clone();
        let result = if duplicates.contains(&name) {
            Err(BrokerError::InvalidRequest(format!(
                "topic '{name}' appears more than once in the request"
            )))
        } else {
            match plan(broker, &t) {
                Ok(spec) => {
                    let rf = spec
                        .assignments
                        .first()
                        .map(|a| a.len() as i32)
                        .unwrap_or(spec.replication_factor);
                    broker
                        .create_topic(&name, spec, request.validate_only)
                        .await
                        .map(|meta| (meta, rf))
                }
                Err(e) => Err(e),
            }
        };
        match result {
            Ok((meta, rf)) => {
                out.topic_id = Uuid::from_bytes(meta.topic_id().0);
                out.num_partitions = meta.partitions;
                out.replication_factor = rf as i16;
                out.configs = Some(
                    broker
                        .config
                        .describe_topic_configs(&meta.configs)
                        .into_iter()
                        .map(|e| {
                            let mut c = CreatableTopicConfigs::default();
                            c.name = str_bytes(&e.name);
                            c.value = e.value.as_deref().map(str_bytes);
                            c.read_only = e.read_only;
                            c.config_source = e.source.kafka_code();
                            c.is_sensitive = e.sensitive;
                            c
                        })
                        .collect(),
                );
            }
            Err(e) => {
                out.error_code = error_code(&e);
                out.error_message = error_message(&e);
                out.num_partitions = -1;
                out.replication_factor = -1;
            }
        }
        response.topics.push(out);
    }
    response
}

/// A CreateTopics entry as the controller's topic spec: defaults filled in, an explicit
/// assignment checked for numbering (the controller checks the brokers).
fn plan(
    broker: &Broker,
    t: &crate::protocol::msg::create_topics_request::CreatableTopic,
) -> Result<TopicSpec, BrokerError> {
    let mut configs = BTreeMap::new();
    for c in &t.configs {
        if let Some(v) = &c.value {
            configs.insert(c.name.to_string(), v.to_string());
        }
    }
    if t.assignments.is_empty() {
        let rf = if t.replication_factor == -1 {
            broker.config.default_replication_factor
        } else {
            t.replication_factor
        };
        let partitions = if t.num_partitions == -1 {
            broker.config.num_partitions
        } else {
            t.num_partitions
        };
        return Ok(TopicSpec {
            partitions,
            replication_factor: rf as i32,
            assignments: Vec::new(),
            configs,
        });
    }
    if t.num_partitions != -1 || t.replication_factor != -1 {
        return Err(BrokerError::InvalidRequest(
            "both numPartitions or replicationFactor and replicasAssignments were set".into(),
        ));
    }
    let mut sorted: Vec<_> = t.assignments.iter().collect();
    sorted.sort_by_key(|a| a.partition_index);
    if sorted
        .iter()
        .enumerate()
        .any(|(i, a)| a.partition_index != i as i32)
    {
        return Err(BrokerError::InvalidReplicaAssignment(
            "partitions must be numbered 0..n without gaps".into(),
        ));
    }
    Ok(TopicSpec {
        partitions: sorted.len() as i32,
        replication_factor: sorted
            .first()
            .map(|a| a.broker_ids.len() as i32)
            .unwrap_or(0),
        assignments: sorted
            .iter()
            .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
            .collect(),
        configs,
    })
}

pub async fn delete_topics(
    broker: &Broker,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let mut response = DeleteTopicsResponse::default();
    // v6 names topics by name or id in `topics`; earlier versions list names in `topic_names`.
    let targets: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::nil()))
            .collect()
    };
    for (name, id) in targets {
        let mut out = DeletableTopicResult::default();
        let resolved = match &name {
            Some(n) => Ok(n.0.to_string()),
            None => broker
                .image()
                .topic_by_id(TopicId(*id.as_bytes()))
                .map(|m| m.name.clone())
                .ok_or(BrokerError::UnknownTopicId),
        };
        let result = match resolved {
            Ok(n) => broker.delete_topic(&n).await,
            Err(e) => Err(e),
        };
        out.name = name;
        out.topic_id = id;
        match result {
            Ok(meta) => {
                out.name = Some(TopicName(str_bytes(&meta.name)));
                out.topic_id = Uuid::from_bytes(meta.topic_id().0);
            }
            Err(e) => {
                out.error_code = error_code(&e);
                out.error_message = error_message(&e);
            }
        }
        response.responses.push(out);
    }
    response
}

pub async fn create_partitions(
    broker: &Broker,
    request: CreatePartitionsRequest,
    _version: i16,
) -> CreatePartitionsResponse {
    let mut response = CreatePartitionsResponse::default();
    for t in request.topics {
        let mut out = CreatePartitionsTopicResult::default();
        out.name = t.name.clone();
        let assignments: Vec<Vec<i32>> = t
            .assignments
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|x| x.broker_ids.iter().map(|b| b.0).collect())
                    .collect()
            })
            .unwrap_or_default();
        let result = broker
            .create_partitions(&t.name.0, t.count, assignments, request.validate_only)
            .await;
        if let Err(e) = result {
            out.error_code = error_code(&e);
            out.error_message = error_message(&e);
        }
        response.results.push(out);
    }
    response
}
