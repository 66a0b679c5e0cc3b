//! Cluster metadata: topics, their ids, partition counts and config overrides, the cluster id, and
//! producer-id blocks, published to the broker as an immutable `MetadataImage`.
//!
//! Contract: the metadata log (a Raft quorum of the controllers, openraft: `quorum`, `raft_store`,
//! `network`) holds KRaft-shaped records (`records`); every node applies them in log order into an
//! immutable `MetadataImage` (`state_machine`, its only writer) that readers take as an `Arc` and
//! never block on. `service::Controller` decides changes on the active controller; `placement`
//! holds its placement and election rules. A single node is a quorum of one. The pre-quorum
//! single-node store (`<log.dirs>/gregor-metadata.json`) is only read, to migrate it.
//! Lock order: see `service`. Must not import: protocol, server, group, replication.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::TopicId;

pub mod network;
pub mod placement;
pub mod quorum;
pub mod raft_store;
pub mod records;
pub mod service;
pub mod state_machine;

pub use service::{
    BrokerRegistrationSpec, Controller, ControllerSettings, HeartbeatOutcome, IsrChange, TopicSpec,
};
pub use state_machine::{BrokerRegistration, PartitionState};

/// How many producer ids one persisted allocation hands out before the next write.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;
/// Kafka's limit on topic name length.
pub const TOPIC_NAME_LEN_MAX: usize = 249;

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("Topic '{0}' already exists.")]
    TopicAlreadyExists(String),
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopicName { name: String, reason: &'static str },
    #[error("topic '{topic}' has {current} partitions; {requested} is not more")]
    InvalidPartitionCount {
        topic: String,
        current: i32,
        requested: i32,
    },
    #[error("metadata store {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metadata store {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("this node is not the active controller (the active controller is {leader:?})")]
    NotController { leader: Option<i32> },
    #[error("the metadata log refused the change: {0}")]
    Rejected(String),
    #[error("the metadata quorum did not commit the change within {0} ms")]
    Timeout(u64),
    #[error("metadata quorum: {0}")]
    Quorum(String),
    #[error(transparent)]
    Placement(#[from] placement::PlacementError),
    #[error(transparent)]
    Election(#[from] placement::ElectionError),
    #[error("partition {partition} of topic '{topic}' does not exist")]
    UnknownPartition { topic: String, partition: i32 },
    #[error("broker {0} is not registered")]
    BrokerNotRegistered(i32),
    #[error("broker {broker} has epoch {current}, the request names {given}")]
    StaleBrokerEpoch {
        broker: i32,
        current: i64,
        given: i64,
    },
    #[error("the requester is not the partition's leader")]
    NotLeaderOrFollower,
    #[error("the request's leader epoch is older than the partition's")]
    FencedLeaderEpoch,
    #[error("the request's partition epoch or leader epoch is not the partition's current one")]
    InvalidUpdateVersion,
    #[error("broker {0} cannot join the ISR: it is not a live replica")]
    IneligibleReplica(i32),
    #[error("{0}")]
    InvalidRequest(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicMeta {
    pub name: String,
    /// Hex of the 16 id bytes.
    pub id: String,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
}

impl TopicMeta {
    pub fn topic_id(&self) -> TopicId {
        parse_topic_id(&self.id).unwrap_or(TopicId::ZERO)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Persisted {
    cluster_id: String,
    next_producer_id: i64,
    topics: Vec<TopicMeta>,
    /// Dynamic group configs (IncrementalAlterConfigs on GROUP resources), by group id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    group_configs: BTreeMap<String, BTreeMap<String, String>>,
}

/// One published version of the cluster's metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataImage {
    pub cluster_id: String,
    topics: HashMap<String, Arc<TopicMeta>>,
    ids: HashMap<TopicId, String>,
    next_producer_id: i64,
    group_configs: BTreeMap<String, BTreeMap<String, String>>,
    /// Quorum mode only (written by `state_machine`): dynamic broker configs by broker name.
    broker_configs: BTreeMap<String, BTreeMap<String, String>>,
    /// Quorum mode only: registered brokers by id.
    brokers: BTreeMap<i32, BrokerRegistration>,
    /// Quorum mode only: per-partition replicas, leader, ISR and epochs, by topic id.
    partitions: HashMap<TopicId, BTreeMap<i32, PartitionState>>,
}

impl MetadataImage {
    fn from_persisted(p: Persisted) -> Self {
        let mut image = MetadataImage {
            cluster_id: p.cluster_id,
            next_producer_id: p.next_producer_id,
            group_configs: p.group_configs,
            ..Default::default()
        };
        for t in p.topics {
            image.ids.insert(t.topic_id(), t.name.clone());
            image.topics.insert(t.name.clone(), Arc::new(t));
        }
        image
    }
    pub fn topic(&self, name: &str) -> Option<&Arc<TopicMeta>> {
        self.topics.get(name)
    }
    pub fn topic_by_id(&self, id: TopicId) -> Option<&Arc<TopicMeta>> {
        self.ids.get(&id).and_then(|n| self.topics.get(n))
    }
    pub fn topics(&self) -> impl Iterator<Item = &Arc<TopicMeta>> {
        self.topics.values()
    }
    /// The dynamic configs set on a group (empty when none are).
    pub fn group_configs(&self, group_id: &str) -> Option<&BTreeMap<String, String>> {
        self.group_configs.get(group_id)
    }
    /// Every group with dynamic configs.
    pub fn all_group_configs(&self) -> &BTreeMap<String, BTreeMap<String, String>> {
        &self.group_configs
    }
    /// The first producer id not yet handed out in a block.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }
    /// A broker's dynamic configs (quorum mode), by its resource name.
    pub fn broker_configs(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.broker_configs.get(name)
    }
    /// Registered brokers by id (quorum mode).
    pub fn brokers(&self) -> &BTreeMap<i32, BrokerRegistration> {
        &self.brokers
    }
    pub fn broker(&self, id: i32) -> Option<&BrokerRegistration> {
        self.brokers.get(&id)
    }
    /// A topic's partitions by index (quorum mode; `None` for an unknown topic).
    pub fn partitions(&self, topic: TopicId) -> Option<&BTreeMap<i32, PartitionState>> {
        self.partitions.get(&topic)
    }
    pub fn partition(&self, topic: TopicId, partition: i32) -> Option<&PartitionState> {
        self.partitions.get(&topic)?.get(&partition)
    }
}

/// Checks a topic name as Kafka does: 1..=249 chars of [a-zA-Z0-9._-], not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), ControllerError> {
    let bad = |reason| {
        Err(ControllerError::InvalidTopicName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not allowed");
    }
    if name.len() > TOPIC_NAME_LEN_MAX {
        return bad("it is longer than 249 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

pub fn format_topic_id(id: TopicId) -> String {
    id.0.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn parse_topic_id(hex: &str) -> Option<TopicId> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(TopicId(out))
}

/// Reads the pre-quorum single-node store (`gregor-metadata.json`), if there is one, as an image:
/// what `Controller::bootstrap` migrates into the metadata log on first start.
pub fn read_legacy_store(path: &Path) -> Result<Option<MetadataImage>, ControllerError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let p = serde_json::from_slice::<Persisted>(&bytes).map_err(|e| {
                ControllerError::Corrupt {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            })?;
            Ok(Some(MetadataImage::from_persisted(p)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ControllerError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Kafka's `meta.properties`, so Kafka's tools recognise the directory.
pub fn write_meta_properties(
    dir: &Path,
    cluster_id: &str,
    node_id: i32,
) -> Result<(), ControllerError> {
    let text = format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n");
    let path = dir.join("meta.properties");
    std::fs::write(&path, text).map_err(|source| ControllerError::Io { path, source })
}

fn new_topic_id(taken: impl Fn(TopicId) -> bool) -> TopicId {
    loop {
        let id = TopicId(*uuid::Uuid::new_v4().as_bytes());
        // Kafka reserves the zero id and ids starting with '-' in base64 (the top bit pattern 0xf8).
        if !id.is_zero() && id.0[0] & 0xfc != 0xf8 && !taken(id) {
            return id;
        }
    }
}

fn new_cluster_id() -> String {
    base64_url(uuid::Uuid::new_v4().as_bytes())
}

/// URL-safe base64 without padding, as Kafka prints ids.
pub fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_kafka_uuid_strings() {
        assert_eq!(base64_url(&[0u8; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(base64_url(&[0xff; 3]), "____");
    }
}
