//! The metadata log's record kinds, shaped as KRaft's (Kafka's
//! `metadata/src/main/resources/common/metadata/*.json`): one Raft log entry carries one
//! `RecordBatch`, a list of records applied atomically and in order by `state_machine`.
//!
//! Contract: records are facts already decided by the proposer (validation happens before a batch
//! is proposed); applying them is deterministic. Field names follow Kafka's schemas in snake case.
//! On-disk / wire format: serde JSON, externally tagged by record kind (`{"Topic": {...}}`), inside
//! the Raft entry that `raft_store` frames. Adding a field needs `#[serde(default)]` so older logs
//! still decode. Ids are Kafka's: broker ids and partition ids are `i32`, topic ids are the hex of
//! their 16 bytes (as `TopicMeta::id`).
//! Lock order: none (plain data). Must not import: protocol, server, group, replication.

use serde::{Deserialize, Serialize};

/// Kafka's "no leader" sentinel in PartitionRecord.leader.
pub const NO_LEADER: i32 = -1;

/// One Raft log entry's payload: applied all-or-nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RecordBatch {
    pub records: Vec<MetadataRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetadataRecord {
    Cluster(ClusterRecord),
    RegisterBroker(RegisterBrokerRecord),
    FenceBroker(FenceBrokerRecord),
    UnfenceBroker(UnfenceBrokerRecord),
    Topic(TopicRecord),
    Partition(PartitionRecord),
    PartitionChange(PartitionChangeRecord),
    Config(ConfigRecord),
    RemoveTopic(RemoveTopicRecord),
    ProducerIds(ProducerIdsRecord),
}

/// Not a KRaft record (Kafka keeps the cluster id in `meta.properties`): the log's first batch
/// names the cluster so that a node restored from the log alone knows it. Written once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    pub cluster_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerEndpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Kafka's SecurityProtocol id (0 = PLAINTEXT).
    pub security_protocol: i16,
}

/// RegisterBrokerRecord: a broker (re)registers with a new epoch; it starts fenced unless said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterBrokerRecord {
    pub broker_id: i32,
    /// Hex of the broker process's 16-byte incarnation id.
    pub incarnation_id: String,
    pub broker_epoch: i64,
    pub endpoints: Vec<BrokerEndpoint>,
    #[serde(default)]
    pub rack: Option<String>,
    #[serde(default = "default_true")]
    pub fenced: bool,
}

fn default_true() -> bool {
    true
}

/// FenceBrokerRecord: applies only if `epoch` is the broker's current epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FenceBrokerRecord {
    pub id: i32,
    pub epoch: i64,
}

/// UnfenceBrokerRecord: applies only if `epoch` is the broker's current epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnfenceBrokerRecord {
    pub id: i32,
    pub epoch: i64,
}

/// TopicRecord: a topic's name and id; its partitions follow as PartitionRecords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicRecord {
    pub name: String,
    pub topic_id: String,
}

/// PartitionRecord: a partition's full state (creation, or a reassignment written whole).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PartitionRecord {
    pub partition_id: i32,
    pub topic_id: String,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// `NO_LEADER` when none.
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// KIP-455: replicas being added by an ongoing reassignment (a subset of `replicas`).
    /// Absent in logs written before reassignments existed: empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    /// KIP-455: replicas an ongoing reassignment removes once it completes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

/// PartitionChangeRecord: the fields that changed (`None` = unchanged, Kafka's -2/null). A new
/// leader bumps the leader epoch (so does naming the same leader again: a reassignment that
/// removes replicas does that, as Kafka's `PartitionChangeBuilder`, so that removed followers
/// stop fetching); any change bumps the partition epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PartitionChangeRecord {
    pub partition_id: i32,
    pub topic_id: String,
    #[serde(default)]
    pub isr: Option<Vec<i32>>,
    #[serde(default)]
    pub leader: Option<i32>,
    #[serde(default)]
    pub replicas: Option<Vec<i32>>,
    /// KIP-455: the reassignment's adding replicas (`Some(vec![])` clears them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adding_replicas: Option<Vec<i32>>,
    /// KIP-455: the reassignment's removing replicas (`Some(vec![])` clears them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removing_replicas: Option<Vec<i32>>,
}

/// Kafka's ConfigResource.Type, as in ConfigRecord.resource_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigResourceType {
    /// Kafka's id 2.
    Topic,
    /// Kafka's id 4.
    Broker,
    /// Kafka's id 32.
    Group,
}

/// ConfigRecord: sets (`value: Some`) or deletes (`None`) one dynamic config key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigRecord {
    pub resource_type: ConfigResourceType,
    pub resource_name: String,
    pub name: String,
    pub value: Option<String>,
}

/// RemoveTopicRecord: the topic, its partitions and its config overrides go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveTopicRecord {
    pub topic_id: String,
}

/// ProducerIdsRecord: a broker took the block ending before `next_producer_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProducerIdsRecord {
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// The first id of the next block.
    pub next_producer_id: i64,
}
