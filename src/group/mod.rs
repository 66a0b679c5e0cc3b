//! Consumer groups and committed offsets.
//!
//! Contract: groups are state machines driven by requests and by the injected clock
//! (`(state, request, now) -> (records, response)`); their durable state (committed offsets and
//! group metadata) is written as records to the internal topic `__consumer_offsets` through the
//! `GroupStore` trait and rebuilt at start-up by replaying those records through the same code.
//! Two protocols: the classic one (`classic`: JoinGroup/SyncGroup/Heartbeat/LeaveGroup, assignment
//! on the client) and KIP-848's (`consumer`: ConsumerGroupHeartbeat, assignment on the broker
//! through `assignor`). A group is one or the other. A consumer group may hold classic members
//! (KIP-848's online migration, `group.consumer.migration.policy`): a consumer-protocol member
//! joining a classic group converts it (`ConsumerGroup::from_classic`), and a consumer group left
//! with only classic members converts back (`ClassicGroup::from_consumer`). `consumer_protocol`
//! decodes and encodes the ConsumerProtocol subscription and assignment such conversions read.
//! Must not import: protocol, server, replication, log, controller (topics are seen through
//! `TopicView`, storage through `GroupStore`).

pub mod assignor;
pub mod classic;
pub mod consumer;
pub mod consumer_protocol;
pub mod coordinator;
pub mod error;
pub mod records;

pub use error::GroupError;

use crate::model::TopicId;

/// Settings of the coordinator, from the broker's `group.*` properties.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`
    pub session_timeout_ms_min: i32,
    /// `group.max.session.timeout.ms`
    pub session_timeout_ms_max: i32,
    /// `group.initial.rebalance.delay.ms` (Gregor's default: 0)
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`
    pub classic_group_size_max: usize,
    /// `group.consumer.session.timeout.ms`
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`
    pub consumer_group_size_max: usize,
    /// `group.consumer.assignors`, the first being the default.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.migration.policy`
    pub migration_policy: MigrationPolicy,
}

/// Kafka's `ConsumerGroupMigrationPolicy`: which online conversions between a classic group and
/// a consumer (KIP-848) group are allowed. Replacing an empty group of the other type is always
/// allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrationPolicy {
    Disabled,
    Upgrade,
    Downgrade,
    #[default]
    Bidirectional,
}

impl MigrationPolicy {
    /// The property's value as Kafka spells it; anything else is the default.
    pub fn parse(name: &str) -> MigrationPolicy {
        match name.to_ascii_lowercase().as_str() {
            "disabled" => MigrationPolicy::Disabled,
            "upgrade" => MigrationPolicy::Upgrade,
            "downgrade" => MigrationPolicy::Downgrade,
            _ => MigrationPolicy::Bidirectional,
        }
    }

    /// A non-empty classic group may become a consumer group when a consumer-protocol member joins.
    pub fn upgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Upgrade | MigrationPolicy::Bidirectional
        )
    }

    /// A consumer group left with only classic members may become a classic group.
    pub fn downgrade_enabled(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Downgrade | MigrationPolicy::Bidirectional
        )
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            session_timeout_ms_min: 6_000,
            session_timeout_ms_max: 1_800_000,
            initial_rebalance_delay_ms: 0,
            classic_group_size_max: i32::MAX as usize,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_group_size_max: i32::MAX as usize,
            consumer_assignors: vec!["uniform".into(), "range".into()],
            migration_policy: MigrationPolicy::Bidirectional,
        }
    }
}

/// What a group's dynamic configs (IncrementalAlterConfigs on a GROUP resource, validated by
/// the broker's config module) change for a consumer-protocol group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerGroupOverrides {
    /// `consumer.session.timeout.ms`
    pub session_timeout_ms: Option<i32>,
    /// `consumer.heartbeat.interval.ms`
    pub heartbeat_interval_ms: Option<i32>,
}

impl ConsumerGroupOverrides {
    /// Reads Kafka's group config names from a group's (validated) dynamic configs.
    pub fn from_configs(configs: &std::collections::BTreeMap<String, String>) -> Self {
        let get = |n: &str| configs.get(n).and_then(|v| v.parse::<i32>().ok());
        ConsumerGroupOverrides {
            session_timeout_ms: get("consumer.session.timeout.ms"),
            heartbeat_interval_ms: get("consumer.heartbeat.interval.ms"),
        }
    }
}

/// What the coordinator may know of topics: implemented by the server over the metadata image.
pub trait TopicView {
    /// The id and partition count of a topic by name.
    fn topic(&self, name: &str) -> Option<(TopicId, i32)>;
    /// The name and partition count of a topic by id.
    fn topic_by_id(&self, id: TopicId) -> Option<(String, i32)>;
    /// Every topic's name (for regex subscriptions), internal topics excluded.
    fn topic_names(&self) -> Vec<String>;
}
