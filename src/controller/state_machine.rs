//! Metadata records -> `MetadataImage`: in quorum mode the only writer of the image.
//!
//! Contract: `apply_batch(image, batch)` is pure and deterministic: the same image and batch give
//! the same result on every node. A batch applies all-or-nothing: if one record does not fit the
//! image (unknown topic id, stale broker epoch ...), the whole batch is skipped and the reason is
//! returned, identically everywhere, so the proposer learns it and the images stay equal.
//! A snapshot is the image serialised (`encode_image`): replaying the log from the start, or
//! decoding a snapshot and replaying what follows it, gives the same image.
//! On-disk format (inside `raft_store`'s snapshot file): JSON of `ImageSnapshot`, topics sorted by
//! name, maps ordered, so equal images encode to equal bytes.
//! Lock order: none (pure functions). Must not import: protocol, server, group, replication.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::records::{BrokerEndpoint, ConfigResourceType, MetadataRecord, RecordBatch};
use super::{MetadataImage, TopicMeta, parse_topic_id};
use crate::model::TopicId;

/// Bumped when `ImageSnapshot` changes shape incompatibly.
const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// A registered broker, as the last RegisterBrokerRecord and fence changes left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub broker_id: i32,
    pub incarnation_id: String,
    pub epoch: i64,
    pub endpoints: Vec<BrokerEndpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
}

/// One partition's assignment and leadership.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PartitionState {
    /// During a reassignment: the target replicas followed by the ones being removed.
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// `records::NO_LEADER` when none.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// KIP-455: replicas an ongoing reassignment adds (empty when none is ongoing). Snapshots
    /// written before reassignments existed decode with both lists empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    /// KIP-455: replicas an ongoing reassignment removes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

impl PartitionState {
    /// Whether a reassignment is in progress.
    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }

    /// The replicas a reassignment moves to: `replicas` without the removing ones.
    pub fn target_replicas(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.removing_replicas.contains(r))
            .collect()
    }

    /// The replicas before the reassignment: `replicas` without the adding ones.
    pub fn original_replicas(&self) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|r| !self.adding_replicas.contains(r))
            .collect()
    }
}

/// What applying one log entry did, returned to the proposer by openraft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ApplyOutcome {
    /// `Some(reason)` when the batch was skipped whole.
    pub rejected: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ApplyError {
    #[error("topic id {0} is not a 32-digit hex id")]
    BadTopicId(String),
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    #[error("topic id {0} is already taken")]
    TopicIdTaken(String),
    #[error("unknown topic id {0}")]
    UnknownTopicId(String),
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),
    #[error("partition {partition} of topic id {topic_id} does not exist")]
    UnknownPartition { topic_id: String, partition: i32 },
    #[error("partition id {0} is negative")]
    BadPartitionId(i32),
    #[error("broker {0} is not registered")]
    UnknownBroker(i32),
    #[error("broker {id} has epoch {current}, the record names {given}")]
    StaleBrokerEpoch { id: i32, current: i64, given: i64 },
    #[error("producer ids go backwards: next is {current}, the record says {given}")]
    ProducerIdsBackwards { current: i64, given: i64 },
    #[error("the cluster id is {current} and cannot change to {given}")]
    ClusterIdChange { current: String, given: String },
    #[error("snapshot does not decode: {0}")]
    BadSnapshot(String),
    #[error("image does not encode: {0}")]
    Encode(String),
}

/// Applies `batch` to a copy of `image`; on error `image` is what stands.
pub fn apply_batch(
    image: &MetadataImage,
    batch: &RecordBatch,
) -> Result<MetadataImage, ApplyError> {
    let mut next = image.clone();
    for record in &batch.records {
        apply_record(&mut next, record)?;
    }
    Ok(next)
}

fn topic_id(hex: &str) -> Result<TopicId, ApplyError> {
    parse_topic_id(hex).ok_or_else(|| ApplyError::BadTopicId(hex.to_string()))
}

fn topic_mut<'a>(
    img: &'a mut MetadataImage,
    id: TopicId,
    hex: &str,
) -> Result<&'a mut TopicMeta, ApplyError> {
    let name = img
        .ids
        .get(&id)
        .ok_or_else(|| ApplyError::UnknownTopicId(hex.to_string()))?;
    img.topics
        .get_mut(name)
        .map(Arc::make_mut)
        .ok_or_else(|| ApplyError::UnknownTopicId(hex.to_string()))
}

fn broker_mut(
    img: &mut MetadataImage,
    id: i32,
    epoch: i64,
) -> Result<&mut BrokerRegistration, ApplyError> {
    let broker = img
        .brokers
        .get_mut(&id)
        .ok_or(ApplyError::UnknownBroker(id))?;
    if broker.epoch != epoch {
        return Err(ApplyError::StaleBrokerEpoch {
            id,
            current: broker.epoch,
            given: epoch,
        });
    }
    Ok(broker)
}

fn apply_record(img: &mut MetadataImage, record: &MetadataRecord) -> Result<(), ApplyError> {
    match record {
        MetadataRecord::Cluster(r) => {
            if !img.cluster_id.is_empty() && img.cluster_id != r.cluster_id {
                return Err(ApplyError::ClusterIdChange {
                    current: img.cluster_id.clone(),
                    given: r.cluster_id.clone(),
                });
            }
            img.cluster_id = r.cluster_id.clone();
        }
        MetadataRecord::RegisterBroker(r) => {
            img.brokers.insert(
                r.broker_id,
                BrokerRegistration {
                    broker_id: r.broker_id,
                    incarnation_id: r.incarnation_id.clone(),
                    epoch: r.broker_epoch,
                    endpoints: r.endpoints.clone(),
                    rack: r.rack.clone(),
                    fenced: r.fenced,
                },
            );
        }
        MetadataRecord::FenceBroker(r) => broker_mut(img, r.id, r.epoch)?.fenced = true,
        MetadataRecord::UnfenceBroker(r) => broker_mut(img, r.id, r.epoch)?.fenced = false,
        MetadataRecord::Topic(r) => {
            let id = topic_id(&r.topic_id)?;
            if img.topics.contains_key(&r.name) {
                return Err(ApplyError::TopicExists(r.name.clone()));
            }
            if img.ids.contains_key(&id) || id.is_zero() {
                return Err(ApplyError::TopicIdTaken(r.topic_id.clone()));
            }
            img.ids.insert(id, r.name.clone());
            img.topics.insert(
                r.name.clone(),
                Arc::new(TopicMeta {
                    name: r.name.clone(),
                    id: r.topic_id.clone(),
                    partitions: 0,
                    configs: BTreeMap::new(),
                }),
            );
            img.partitions.insert(id, BTreeMap::new());
        }
        MetadataRecord::Partition(r) => {
            if r.partition_id < 0 {
                return Err(ApplyError::BadPartitionId(r.partition_id));
            }
            let id = topic_id(&r.topic_id)?;
            let meta = topic_mut(img, id, &r.topic_id)?;
            meta.partitions = meta.partitions.max(r.partition_id.saturating_add(1));
            img.partitions.entry(id).or_default().insert(
                r.partition_id,
                PartitionState {
                    replicas: r.replicas.clone(),
                    isr: r.isr.clone(),
                    leader: r.leader,
                    leader_epoch: r.leader_epoch,
                    partition_epoch: r.partition_epoch,
                    adding_replicas: r.adding_replicas.clone(),
                    removing_replicas: r.removing_replicas.clone(),
                },
            );
        }
        MetadataRecord::PartitionChange(r) => {
            let id = topic_id(&r.topic_id)?;
            let unknown = || ApplyError::UnknownPartition {
                topic_id: r.topic_id.clone(),
                partition: r.partition_id,
            };
            let p = img
                .partitions
                .get_mut(&id)
                .and_then(|ps| ps.get_mut(&r.partition_id))
                .ok_or_else(unknown)?;
            let mut changed = false;
            if let Some(isr) = &r.isr {
                p.isr = isr.clone();
                changed = true;
            }
            if let Some(replicas) = &r.replicas {
                p.replicas = replicas.clone();
                changed = true;
            }
            if let Some(adding) = &r.adding_replicas {
                p.adding_replicas = adding.clone();
                changed = true;
            }
            if let Some(removing) = &r.removing_replicas {
                p.removing_replicas = removing.clone();
                changed = true;
            }
            if let Some(leader) = r.leader {
                // Kafka bumps the leader epoch on every leader change, "no leader" included.
                p.leader = leader;
                p.leader_epoch = p.leader_epoch.saturating_add(1);
                changed = true;
            }
            if changed {
                p.partition_epoch = p.partition_epoch.saturating_add(1);
            }
        }
        MetadataRecord::Config(r) => {
            let map = match r.resource_type {
                ConfigResourceType::Topic => {
                    let meta = img
                        .topics
                        .get_mut(&r.resource_name)
                        .map(Arc::make_mut)
                        .ok_or_else(|| ApplyError::UnknownTopic(r.resource_name.clone()))?;
                    &mut meta.configs
                }
                ConfigResourceType::Group => img
                    .group_configs
                    .entry(r.resource_name.clone())
                    .or_default(),
                ConfigResourceType::Broker => img
                    .broker_configs
                    .entry(r.resource_name.clone())
                    .or_default(),
            };
            match &r.value {
                Some(v) => {
                    map.insert(r.name.clone(), v.clone());
                }
                None => {
                    map.remove(&r.name);
                }
            }
            // An entity without configs is not listed (as today's group configs).
            match r.resource_type {
                ConfigResourceType::Group if map.is_empty() => {
                    img.group_configs.remove(&r.resource_name);
                }
                ConfigResourceType::Broker if map.is_empty() => {
                    img.broker_configs.remove(&r.resource_name);
                }
                _ => {}
            }
        }
        MetadataRecord::RemoveTopic(r) => {
            let id = topic_id(&r.topic_id)?;
            let name = img
                .ids
                .remove(&id)
                .ok_or_else(|| ApplyError::UnknownTopicId(r.topic_id.clone()))?;
            img.topics.remove(&name);
            img.partitions.remove(&id);
        }
        MetadataRecord::ProducerIds(r) => {
            if r.next_producer_id < img.next_producer_id {
                return Err(ApplyError::ProducerIdsBackwards {
                    current: img.next_producer_id,
                    given: r.next_producer_id,
                });
            }
            img.next_producer_id = r.next_producer_id;
        }
    }
    Ok(())
}

/// The records that rebuild `img` from an empty log, in an order `apply_batch` accepts: how a
/// node's JSON store (`Controller`) moves into the quorum on first start. Partitions the image has
/// no state for (the JSON store keeps only counts) are placed on `broker_id` alone, as a single
/// node serves them today.
pub fn records_for_image(img: &MetadataImage, broker_id: i32) -> Vec<MetadataRecord> {
    use super::records::*;
    let mut out = vec![MetadataRecord::Cluster(ClusterRecord {
        cluster_id: img.cluster_id.clone(),
    })];
    for b in img.brokers.values() {
        out.push(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: b.broker_id,
            incarnation_id: b.incarnation_id.clone(),
            broker_epoch: b.epoch,
            endpoints: b.endpoints.clone(),
            rack: b.rack.clone(),
            fenced: b.fenced,
        }));
    }
    let mut topics: Vec<&Arc<TopicMeta>> = img.topics.values().collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    for t in topics {
        out.push(MetadataRecord::Topic(TopicRecord {
            name: t.name.clone(),
            topic_id: t.id.clone(),
        }));
        for (key, value) in &t.configs {
            out.push(MetadataRecord::Config(ConfigRecord {
                resource_type: ConfigResourceType::Topic,
                resource_name: t.name.clone(),
                name: key.clone(),
                value: Some(value.clone()),
            }));
        }
        let known = img.partitions.get(&t.topic_id());
        for p in 0..t.partitions {
            let state = known
                .and_then(|ps| ps.get(&p))
                .cloned()
                .unwrap_or(PartitionState {
                    replicas: vec![broker_id],
                    isr: vec![broker_id],
                    leader: broker_id,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    ..Default::default()
                });
            out.push(MetadataRecord::Partition(PartitionRecord {
                partition_id: p,
                topic_id: t.id.clone(),
                replicas: state.replicas,
                isr: state.isr,
                leader: state.leader,
                leader_epoch: state.leader_epoch,
                partition_epoch: state.partition_epoch,
                adding_replicas: state.adding_replicas,
                removing_replicas: state.removing_replicas,
            }));
        }
    }
    let configs = [
        (ConfigResourceType::Group, &img.group_configs),
        (ConfigResourceType::Broker, &img.broker_configs),
    ];
    for (resource_type, by_name) in configs {
        for (resource_name, map) in by_name {
            for (key, value) in map {
                out.push(MetadataRecord::Config(ConfigRecord {
                    resource_type,
                    resource_name: resource_name.clone(),
                    name: key.clone(),
                    value: Some(value.clone()),
                }));
            }
        }
    }
    out.push(MetadataRecord::ProducerIds(ProducerIdsRecord {
        broker_id,
        broker_epoch: -1,
        next_producer_id: img.next_producer_id,
    }));
    out
}

/// The serialised image: a snapshot's data.
#[derive(Debug, Serialize, Deserialize)]
struct ImageSnapshot {
    version: u32,
    cluster_id: String,
    next_producer_id: i64,
    topics: Vec<TopicMeta>,
    group_configs: BTreeMap<String, BTreeMap<String, String>>,
    broker_configs: BTreeMap<String, BTreeMap<String, String>>,
    brokers: BTreeMap<i32, BrokerRegistration>,
    /// By topic id hex, then partition index.
    partitions: BTreeMap<String, BTreeMap<i32, PartitionState>>,
}

pub fn encode_image(img: &MetadataImage) -> Result<Vec<u8>, ApplyError> {
    let mut topics: Vec<TopicMeta> = img.topics.values().map(|t| (**t).clone()).collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let partitions = img
        .partitions
        .iter()
        .map(|(id, ps)| (super::format_topic_id(*id), ps.clone()))
        .collect();
    let snap = ImageSnapshot {
        version: SNAPSHOT_FORMAT_VERSION,
        cluster_id: img.cluster_id.clone(),
        next_producer_id: img.next_producer_id,
        topics,
        group_configs: img.group_configs.clone(),
        broker_configs: img.broker_configs.clone(),
        brokers: img.brokers.clone(),
        partitions,
    };
    serde_json::to_vec(&snap).map_err(|e| ApplyError::Encode(e.to_string()))
}

pub fn decode_image(bytes: &[u8]) -> Result<MetadataImage, ApplyError> {
    let snap: ImageSnapshot =
        serde_json::from_slice(bytes).map_err(|e| ApplyError::BadSnapshot(e.to_string()))?;
    if snap.version != SNAPSHOT_FORMAT_VERSION {
        return Err(ApplyError::BadSnapshot(format!(
            "format version {}",
            snap.version
        )));
    }
    let mut img = MetadataImage {
        cluster_id: snap.cluster_id,
        next_producer_id: snap.next_producer_id,
        group_configs: snap.group_configs,
        broker_configs: snap.broker_configs,
        brokers: snap.brokers,
        ..Default::default()
    };
    for t in snap.topics {
        let id = topic_id(&t.id)?;
        img.ids.insert(id, t.name.clone());
        img.topics.insert(t.name.clone(), Arc::new(t));
    }
    let mut partitions = HashMap::new();
    for (hex, ps) in snap.partitions {
        partitions.insert(topic_id(&hex)?, ps);
    }
    img.partitions = partitions;
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::super::records::*;
    use super::*;

    const T1: &str = "0102030405060708090a0b0c0d0e0f10";

    fn batches() -> Vec<RecordBatch> {
        let b = |records| RecordBatch { records };
        vec![
            b(vec![MetadataRecord::Cluster(ClusterRecord {
                cluster_id: "c1".into(),
            })]),
            b(vec![MetadataRecord::RegisterBroker(RegisterBrokerRecord {
                broker_id: 1,
                incarnation_id: "aa".into(),
                broker_epoch: 7,
                endpoints: vec![BrokerEndpoint {
                    name: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092,
                    security_protocol: 0,
                }],
                rack: None,
                fenced: true,
            })]),
            b(vec![MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
                id: 1,
                epoch: 7,
            })]),
            b(vec![
                MetadataRecord::Topic(TopicRecord {
                    name: "orders".into(),
                    topic_id: T1.into(),
                }),
                MetadataRecord::Config(ConfigRecord {
                    resource_type: ConfigResourceType::Topic,
                    resource_name: "orders".into(),
                    name: "retention.ms".into(),
                    value: Some("1000".into()),
                }),
                MetadataRecord::Partition(PartitionRecord {
                    partition_id: 0,
                    topic_id: T1.into(),
                    replicas: vec![1],
                    isr: vec![1],
                    leader: 1,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    ..Default::default()
                }),
                MetadataRecord::Partition(PartitionRecord {
                    partition_id: 1,
                    topic_id: T1.into(),
                    replicas: vec![1],
                    isr: vec![1],
                    leader: 1,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    ..Default::default()
                }),
            ]),
            b(vec![MetadataRecord::PartitionChange(
                PartitionChangeRecord {
                    partition_id: 1,
                    topic_id: T1.into(),
                    isr: Some(vec![]),
                    leader: Some(NO_LEADER),
                    replicas: None,
                    ..Default::default()
                },
            )]),
            b(vec![MetadataRecord::Config(ConfigRecord {
                resource_type: ConfigResourceType::Group,
                resource_name: "g".into(),
                name: "consumer.session.timeout.ms".into(),
                value: Some("45000".into()),
            })]),
            b(vec![MetadataRecord::ProducerIds(ProducerIdsRecord {
                broker_id: 1,
                broker_epoch: 7,
                next_producer_id: 1000,
            })]),
        ]
    }

    fn replay(from: &MetadataImage, bs: &[RecordBatch]) -> MetadataImage {
        bs.iter()
            .fold(from.clone(), |img, b| apply_batch(&img, b).unwrap_or(img))
    }

    #[test]
    fn records_build_the_image_today_code_reads() {
        let img = replay(&MetadataImage::default(), &batches());
        assert_eq!(img.cluster_id, "c1");
        let t = img.topic("orders").unwrap();
        assert_eq!(t.partitions, 2);
        assert_eq!(
            t.configs.get("retention.ms").map(String::as_str),
            Some("1000")
        );
        assert_eq!(img.topic_by_id(t.topic_id()).unwrap().name, "orders");
        let p1 = img.partition(t.topic_id(), 1).unwrap();
        assert_eq!(
            (p1.leader, p1.leader_epoch, p1.partition_epoch),
            (NO_LEADER, 1, 1)
        );
        assert!(p1.isr.is_empty());
        assert!(!img.broker(1).unwrap().fenced);
        assert_eq!(img.next_producer_id(), 1000);
        assert!(img.group_configs("g").is_some());
    }

    #[test]
    fn replay_is_deterministic_and_snapshots_resume_it() {
        let all = batches();
        let a = replay(&MetadataImage::default(), &all);
        let b = replay(&MetadataImage::default(), &all);
        assert_eq!(a, b);
        assert_eq!(encode_image(&a).unwrap(), encode_image(&b).unwrap());
        for cut in 0..=all.len() {
            let head = replay(&MetadataImage::default(), &all[..cut]);
            let restored = decode_image(&encode_image(&head).unwrap()).unwrap();
            assert_eq!(restored, head, "cut {cut}");
            assert_eq!(replay(&restored, &all[cut..]), a, "cut {cut}");
        }
    }

    #[test]
    fn the_json_store_migrates_into_records_that_rebuild_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gregor-metadata.json");
        // The single-node store as Gregor wrote it before the quorum.
        std::fs::write(
            &path,
            r#"{"cluster_id":"abcdefghijklmnopqrstuv","next_producer_id":1000,
               "topics":[{"name":"a","id":"0123456789abcdef0123456789abcdef","partitions":2,
                          "configs":{"cleanup.policy":"compact"}},
                         {"name":"b","id":"1123456789abcdef0123456789abcdef","partitions":1,
                          "configs":{}}],
               "group_configs":{"g":{"k":"v"}}}"#,
        )
        .unwrap();
        let json = super::super::read_legacy_store(&path).unwrap().unwrap();
        assert_eq!(
            json.topic("a")
                .unwrap()
                .configs
                .get("cleanup.policy")
                .unwrap(),
            "compact"
        );
        let batch = RecordBatch {
            records: records_for_image(&json, 1),
        };
        let img = apply_batch(&MetadataImage::default(), &batch).unwrap();
        assert_eq!(img.cluster_id, json.cluster_id);
        for t in json.topics() {
            assert_eq!(img.topic(&t.name), Some(t));
            for p in 0..t.partitions {
                let state = img.partition(t.topic_id(), p).unwrap();
                assert_eq!((state.leader, state.replicas.as_slice()), (1, &[1][..]));
            }
        }
        assert_eq!(img.topics().count(), 2);
        assert_eq!(img.all_group_configs(), json.all_group_configs());
        assert_eq!(img.next_producer_id(), json.next_producer_id());
        // And a quorum image's own records rebuild it exactly.
        let again = apply_batch(
            &MetadataImage::default(),
            &RecordBatch {
                records: records_for_image(&img, 1),
            },
        )
        .unwrap();
        assert_eq!(again, img);
    }

    #[test]
    fn a_bad_record_skips_its_whole_batch() {
        let img = replay(&MetadataImage::default(), &batches());
        let bad = RecordBatch {
            records: vec![
                MetadataRecord::Config(ConfigRecord {
                    resource_type: ConfigResourceType::Group,
                    resource_name: "h".into(),
                    name: "k".into(),
                    value: Some("v".into()),
                }),
                MetadataRecord::FenceBroker(FenceBrokerRecord { id: 1, epoch: 6 }),
            ],
        };
        assert_eq!(
            apply_batch(&img, &bad),
            Err(ApplyError::StaleBrokerEpoch {
                id: 1,
                current: 7,
                given: 6
            })
        );
        let remove = RecordBatch {
            records: vec![MetadataRecord::RemoveTopic(RemoveTopicRecord {
                topic_id: T1.into(),
            })],
        };
        let after = apply_batch(&img, &remove).unwrap();
        assert!(after.topic("orders").is_none());
        assert!(after.partitions(parse_topic_id(T1).unwrap()).is_none());
        assert!(decode_image(b"{not json").is_err());
    }
}
