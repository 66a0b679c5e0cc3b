//! Metadata: brokers, the controller, and topics with their partitions, leaders and ids;
//! creates requested topics when auto-creation is allowed, answering them as KRaft Kafka does
//! (UNKNOWN_TOPIC_OR_PARTITION in the response that created them).

use super::str_bytes;
use crate::controller::TopicMeta;
use crate::model::TopicId;
use crate::protocol::msg::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::msg::{MetadataRequest, MetadataResponse, TopicName};
use crate::protocol::{ApiKey, Uuid, VersionRange};
use crate::server::error_code::{code, error_code};
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] = &[(ApiKey::Metadata, VersionRange::new(0, 13))];

pub fn handle(broker: &Broker, request: MetadataRequest, version: i16) -> MetadataResponse {
    let mut response = MetadataResponse::default();
    let mut b = MetadataResponseBroker::default();
    b.node_id = broker.node_id.0.into();
    b.host = str_bytes(&broker.advertised_host);
    b.port = broker.advertised_port;
    response.brokers = vec![b];
    response.cluster_id = Some(str_bytes(&broker.image().cluster_id));
    response.controller_id = broker.node_id.0.into();
    // Before v4 a client could not say no to auto-creation.
    let allow_auto_create = version < 4 || request.allow_auto_topic_creation;
    let requested = match request.topics {
        Some(t) if !(version == 0 && t.is_empty()) => t,
        _ => {
            let image = broker.image();
            let mut all: Vec<_> = image.topics().cloned().collect();
            all.sort_by(|a, b| a.name.cmp(&b.name));
            response.topics = all.iter().map(|t| topic_entry(broker, t)).collect();
            return response;
        }
    };
    for t in requested {
        let entry = match t.name {
            Some(name) => match broker.image().topic(&name) {
                Some(meta) => topic_entry(broker, meta),
                // As KRaft Kafka's AutoTopicCreationManager: the request that starts the
                // creation is answered UNKNOWN_TOPIC_OR_PARTITION with no partitions; the
                // client's next Metadata sees the topic.
                None => match broker.topic_or_auto_create(&name, allow_auto_create) {
                    Ok(_) => error_entry(
                        Some(name),
                        Uuid::nil(),
                        &BrokerError::UnknownTopicOrPartition,
                    ),
                    Err(e) => error_entry(Some(name), Uuid::nil(), &e),
                },
            },
            None => match broker.image().topic_by_id(TopicId(*t.topic_id.as_bytes())) {
                Some(meta) => topic_entry(broker, meta),
                None => error_entry(None, t.topic_id, &BrokerError::UnknownTopicId),
            },
        };
        response.topics.push(entry);
    }
    response
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
    t.is_internal = meta.name == crate::group::coordinator::OFFSETS_TOPIC;
    t.partitions = (0..meta.partitions)
        .map(|p| {
            let mut e = MetadataResponsePartition::default();
            e.partition_index = p;
            match broker.partition(&meta.name, p) {
                Ok(partition) => {
                    e.leader_id = broker.node_id.0.into();
                    e.leader_epoch = partition.leader_epoch().0;
                    e.replica_nodes = vec![broker.node_id.0.into()];
                    e.isr_nodes = vec![broker.node_id.0.into()];
                }
                Err(_) => {
                    e.error_code = code::LEADER_NOT_AVAILABLE;
                    e.leader_id = (-1).into();
                }
            }
            e
        })
        .collect();
    t
}
