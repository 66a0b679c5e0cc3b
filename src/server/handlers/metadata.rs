//! Metadata: brokers, the controller, and topics with their partitions, leaders and ids;
//! creates requested topics when auto-creation is allowed, answering them as KRaft Kafka does
//! (UNKNOWN_TOPIC_OR_PARTITION in the response that created them). Authorized operations (v8+)
//! come from `server::authz`: the cluster's only for v8-10 (v11 dropped the field), a topic's for
//! every topic entry named in the response except topics asked for by an unknown id, as Kafka
//! does.

use super::str_bytes;
use crate::controller::TopicMeta;
use crate::model::TopicId;
use crate::protocol::msg::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::msg::{MetadataRequest, MetadataResponse, TopicName};
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError, authz};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[(ApiKey::Metadata, VersionRange::new(0, 13))];

/// The live (unfenced) brokers at the endpoint named like the listener clients use here.
pub(crate) fn live_brokers(broker: &Broker) -> Vec<(i32, String, i32, Option<String>)> {
    let image = broker.image();
    let listener = crate::server::request_listener_name(broker);
    let mut out: Vec<(i32, String, i32, Option<String>)> = image
        .brokers()
        .values()
        .filter(|b| !b.fenced)
        .filter_map(|b| {
            let ep = b
                .endpoints
                .iter()
                .find(|e| *e.name == *listener)
                .or_else(|| b.endpoints.first())?;
            Some((b.broker_id, ep.host.clone(), ep.port as i32, b.rack.clone()))
        })
        .collect();
    if !out.iter().any(|b| b.0 == broker.node_id.0) {
        // Not registered (or fenced) yet: clients still need this node to talk to.
        out.push((
            broker.node_id.0,
            broker.advertised_host.clone(),
            broker.advertised_port,
            broker.config.broker_rack.clone(),
        ));
        out.sort_by_key(|b| b.0);
    }
    out
}

pub async fn handle(broker: &Broker, request: MetadataRequest, version: i16) -> MetadataResponse {
    let mut response = MetadataResponse::default();
    response.brokers = live_brokers(broker)
        .into_iter()
        .map(|(id, host, port, rack)| {
            let mut b = MetadataResponseBroker::default();
            b.node_id = id.into();
            b.host = str_bytes(&host);
            b.port = port;
            b.rack = rack.as_deref().map(str_bytes);
            b
        })
        .collect();
    response.cluster_id = Some(str_bytes(&broker.image().cluster_id));
    response.controller_id = broker.controller.active_controller().unwrap_or(-1).into();
    if (8..=10).contains(&version) {
        response.cluster_authorized_operations = authz::if_requested(
            request.include_cluster_authorized_operations,
            authz::cluster_operations,
        );
    }
    let topic_ops = version >= 8 && request.include_topic_authorized_operations;
    // Before v4 a client could not say no to auto-creation.
    let allow_auto_create = version < 4 || request.allow_auto_topic_creation;
    let requested = match request.topics {
        Some(t) if !(version == 0 && t.is_empty()) => t,
        _ => {
            let image = broker.image();
            let mut all: Vec<_> = image.topics().cloned().collect();
            all.sort_by(|a, b| a.name.cmp(&b.name));
            response.topics = all
                .iter()
                .map(|t| with_operations(topic_entry(broker, t), topic_ops))
                .collect();
            return response;
        }
    };
    for t in requested {
        let entry = match t.name {
            Some(name) => with_operations(
                match broker.image().topic(&name) {
                    Some(meta) => topic_entry(broker, meta),
                    // As KRaft Kafka's AutoTopicCreationManager: the request that starts the
                    // creation is answered UNKNOWN_TOPIC_OR_PARTITION with no partitions; the
                    // client's next Metadata sees the topic.
                    None => match broker.topic_or_auto_create(&name, allow_auto_create).await {
                        Ok(_) => error_entry(
                            Some(name),
                            Uuid::nil(),
                            &BrokerError::UnknownTopicOrPartition,
                        ),
                        Err(e) => error_entry(Some(name), Uuid::nil(), &e),
                    },
                },
                topic_ops,
            ),
            None => match broker.image().topic_by_id(TopicId(*t.topic_id.as_bytes())) {
                Some(meta) => with_operations(topic_entry(broker, meta), topic_ops),
                None => error_entry(None, t.topic_id, &BrokerError::UnknownTopicId),
            },
        };
        response.topics.push(entry);
    }
    response
}

/// Kafka's `Topic.isInternal`: the coordinators' own topics.
pub(crate) fn is_internal_topic(name: &str) -> bool {
    matches!(
        name,
        crate::group::coordinator::OFFSETS_TOPIC | "__transaction_state" | "__share_group_state"
    )
}

fn with_operations(mut t: MetadataResponseTopic, requested: bool) -> MetadataResponseTopic {
    if requested {
        let name = t.name.as_ref().map(|n| n.as_str()).unwrap_or_default();
        t.topic_authorized_operations = authz::topic_operations(name);
    }
    t
}

fn error_entry(name: Option<TopicName>, id: Uuid, e: &BrokerError) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.error_code = error_code(e);
    t.name = name;
    t.topic_id = id;
    t
}

fn topic_entry(broker: &Broker, meta: &TopicMeta) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(TopicName(str_bytes(&meta.name)));
    t.topic_id = Uuid::from_bytes(meta.topic_id().0);
    t.is_internal = is_internal_topic(&meta.name);
    let image = broker.image();
    let parts = image.partitions(meta.topic_id());
    t.partitions = (0..meta.partitions)
        .map(|p| {
            let mut e = MetadataResponsePartition::default();
            e.partition_index = p;
            match parts.and_then(|ps| ps.get(&p)) {
                Some(state) => {
                    e.leader_id = state.leader.into();
                    e.leader_epoch = state.leader_epoch;
                    e.replica_nodes = state.replicas.iter().map(|r| (*r).into()).collect();
                    e.isr_nodes = state.isr.iter().map(|r| (*r).into()).collect();
                    e.offline_replicas = state
                        .replicas
                        .iter()
                        .filter(|r| image.broker(**r).is_none_or(|b| b.fenced))
                        .map(|r| (*r).into())
                        .collect();
                    if state.leader < 0 {
                        e.error_code = code::LEADER_NOT_AVAILABLE;
                    }
                }
                None => {
                    e.error_code = code::LEADER_NOT_AVAILABLE;
                    e.leader_id = (-1).into();
                }
            }
            e
        })
        .collect();
    t
}
