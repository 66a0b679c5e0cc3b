//! Cluster metadata: topics, their ids, partition counts and config overrides, the cluster id, and
//! producer-id blocks, published to the broker as an immutable `MetadataImage`.
//!
//! Contract: every change is applied to a copy of the current image, persisted (write to a temp
//! file, fsync, rename, fsync the directory) and only then published, so a crash leaves either the
//! old image or the new one. Readers take an `Arc<MetadataImage>` and never block writers.
//! Today the quorum is this single node and the image is persisted as one file
//! (`<log.dirs>/gregor-metadata.json`); the Raft quorum (KRaft's shape, an existing Raft crate)
//! replaces the persistence, not the image.
//! Lock order: `write_lock` before `image`. Must not import: protocol, server, group, replication.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::model::TopicId;

pub mod network;
pub mod quorum;
pub mod raft_store;
pub mod records;
pub mod state_machine;

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
    fn to_persisted(&self) -> Persisted {
        let mut topics: Vec<TopicMeta> = self.topics.values().map(|t| (**t).clone()).collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Persisted {
            cluster_id: self.cluster_id.clone(),
            next_producer_id: self.next_producer_id,
            topics,
            group_configs: self.group_configs.clone(),
        }
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

/// The single-node controller: the only writer of the metadata image.
#[derive(Debug)]
pub struct Controller {
    path: PathBuf,
    write_lock: Mutex<()>,
    image: RwLock<Arc<MetadataImage>>,
}

impl Controller {
    /// Loads the image from `dir`, creating an empty one (with a fresh cluster id) if absent.
    pub fn open(
        dir: &Path,
        cluster_id_override: Option<&str>,
    ) -> Result<Controller, ControllerError> {
        let path = dir.join("gregor-metadata.json");
        let io = |source| ControllerError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let persisted = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Persisted>(&bytes).map_err(|e| {
                ControllerError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Persisted {
                cluster_id: cluster_id_override
                    .map(str::to_string)
                    .unwrap_or_else(new_cluster_id),
                next_producer_id: 0,
                topics: Vec::new(),
                group_configs: BTreeMap::new(),
            },
            Err(e) => return Err(io(e)),
        };
        let controller = Controller {
            path,
            write_lock: Mutex::new(()),
            image: RwLock::new(Arc::new(MetadataImage::from_persisted(persisted))),
        };
        controller.write_meta_properties(dir)?;
        Ok(controller)
    }

    /// Kafka's `meta.properties`, so Kafka's tools recognise the directory.
    fn write_meta_properties(&self, dir: &Path) -> Result<(), ControllerError> {
        let image = self.image();
        let text = format!("version=1\ncluster.id={}\nnode.id=1\n", image.cluster_id);
        let path = dir.join("meta.properties");
        std::fs::write(&path, text).map_err(|source| ControllerError::Io { path, source })
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        match self.image.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn update<T>(
        &self,
        f: impl FnOnce(&mut MetadataImage) -> Result<T, ControllerError>,
    ) -> Result<T, ControllerError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = (*self.image()).clone();
        let out = f(&mut next)?;
        self.persist(&next)?;
        *self.image.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        Ok(out)
    }

    fn persist(&self, image: &MetadataImage) -> Result<(), ControllerError> {
        let io = |source| ControllerError::Io {
            path: self.path.clone(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(&image.to_persisted()).map_err(|e| {
            ControllerError::Corrupt {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        })?;
        let tmp = self.path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(parent) = self.path.parent() {
            std::fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<TopicMeta>, ControllerError> {
        validate_topic_name(name)?;
        self.update(|img| {
            if img.topics.contains_key(name) {
                return Err(ControllerError::TopicAlreadyExists(name.to_string()));
            }
            let id = new_topic_id(|id| img.ids.contains_key(&id));
            let meta = Arc::new(TopicMeta {
                name: name.to_string(),
                id: format_topic_id(id),
                partitions,
                configs,
            });
            img.ids.insert(id, name.to_string());
            img.topics.insert(name.to_string(), meta.clone());
            Ok(meta)
        })
    }

    pub fn delete_topic(&self, name: &str) -> Result<Arc<TopicMeta>, ControllerError> {
        self.update(|img| {
            let meta = img
                .topics
                .remove(name)
                .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
            img.ids.remove(&meta.topic_id());
            Ok(meta)
        })
    }

    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
    ) -> Result<Arc<TopicMeta>, ControllerError> {
        self.update_topic(name, |meta| {
            if count <= meta.partitions {
                return Err(ControllerError::InvalidPartitionCount {
                    topic: name.to_string(),
                    current: meta.partitions,
                    requested: count,
                });
            }
            meta.partitions = count;
            Ok(())
        })
    }

    /// Applies `f` to a copy of an existing topic's metadata and publishes the result.
    fn update_topic(
        &self,
        name: &str,
        f: impl FnOnce(&mut TopicMeta) -> Result<(), ControllerError>,
    ) -> Result<Arc<TopicMeta>, ControllerError> {
        self.update(|img| {
            let mut meta = img
                .topics
                .get(name)
                .map(|t| (**t).clone())
                .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
            f(&mut meta)?;
            let meta = Arc::new(meta);
            img.topics.insert(name.to_string(), meta.clone());
            Ok(meta)
        })
    }

    /// Replaces a topic's config overrides (already validated by the caller).
    pub fn set_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<TopicMeta>, ControllerError> {
        self.update_topic(name, |meta| {
            meta.configs = configs;
            Ok(())
        })
    }

    /// Replaces a group's dynamic configs (already validated); an empty map removes them.
    pub fn set_group_configs(
        &self,
        group_id: &str,
        configs: BTreeMap<String, String>,
    ) -> Result<(), ControllerError> {
        self.update(|img| {
            if configs.is_empty() {
                img.group_configs.remove(group_id);
            } else {
                img.group_configs.insert(group_id.to_string(), configs);
            }
            Ok(())
        })
    }

    /// Reserves the next block of producer ids: `[start, start + PRODUCER_ID_BLOCK_SIZE)`.
    pub fn allocate_producer_id_block(&self) -> Result<i64, ControllerError> {
        self.update(|img| {
            let start = img.next_producer_id;
            img.next_producer_id = start + PRODUCER_ID_BLOCK_SIZE;
            Ok(start)
        })
    }
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
    fn topics_survive_reopen_and_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let c = Controller::open(dir.path(), None).unwrap();
        let cluster = c.image().cluster_id.clone();
        let t = c
            .create_topic(
                "orders",
                3,
                BTreeMap::from([("retention.ms".into(), "1000".into())]),
            )
            .unwrap();
        assert!(matches!(
            c.create_topic("orders", 1, BTreeMap::new()),
            Err(ControllerError::TopicAlreadyExists(_))
        ));
        assert!(matches!(
            c.create_topic("bad name", 1, BTreeMap::new()),
            Err(ControllerError::InvalidTopicName { .. })
        ));
        assert!(matches!(
            c.create_partitions("orders", 2),
            Err(ControllerError::InvalidPartitionCount { .. })
        ));
        c.create_partitions("orders", 5).unwrap();
        let block = c.allocate_producer_id_block().unwrap();
        drop(c);
        let c = Controller::open(dir.path(), None).unwrap();
        let img = c.image();
        assert_eq!(img.cluster_id, cluster);
        let again = img.topic("orders").unwrap();
        assert_eq!(again.partitions, 5);
        assert_eq!(again.id, t.id);
        assert_eq!(img.topic_by_id(t.topic_id()).unwrap().name, "orders");
        assert_eq!(
            c.allocate_producer_id_block().unwrap(),
            block + PRODUCER_ID_BLOCK_SIZE
        );
        c.delete_topic("orders").unwrap();
        assert!(c.image().topic("orders").is_none());
    }

    #[test]
    fn base64_matches_kafka_uuid_strings() {
        assert_eq!(base64_url(&[0u8; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(base64_url(&[0xff; 3]), "____");
    }
}
