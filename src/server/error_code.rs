//! The one place where a domain error becomes a Kafka error code.
//!
//! Contract: every error a handler can meet is a `BrokerError`; `error_code` maps each variant (and
//! each variant of the module errors it wraps) in one exhaustive `match`, so adding an error
//! anywhere fails to compile until it has a code here. Codes are Kafka's (`errors.Errors`).

use crate::config::ConfigError;
use crate::controller::ControllerError;
use crate::controller::placement::{ElectionError, PlacementError};
use crate::group::GroupError;
use crate::log::LogError;
use crate::replication::ReplicationError;

/// Kafka's numeric error codes used by this broker.
pub mod code {
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
    pub const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
    pub const TOPIC_DELETION_DISABLED: i16 = 73;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub const FENCED_INSTANCE_ID: i16 = 82;
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
    pub const FENCED_MEMBER_EPOCH: i16 = 110;
    pub const UNRELEASED_INSTANCE_ID: i16 = 111;
    pub const UNSUPPORTED_ASSIGNOR: i16 = 112;
    pub const STALE_MEMBER_EPOCH: i16 = 113;
    pub const INVALID_REGULAR_EXPRESSION: i16 = 128;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const MISMATCHED_ENDPOINT_TYPE: i16 = 114;
    pub const UNSUPPORTED_ENDPOINT_TYPE: i16 = 115;
    pub const INCONSISTENT_TOPIC_ID: i16 = 103;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    pub const NOT_CONTROLLER: i16 = 41;
    pub const STALE_BROKER_EPOCH: i16 = 77;
    pub const BROKER_ID_NOT_REGISTERED: i16 = 102;
    pub const INELIGIBLE_REPLICA: i16 = 107;
    pub const INVALID_UPDATE_VERSION: i16 = 108;
    pub const INCONSISTENT_CLUSTER_ID: i16 = 104;
    pub const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
    pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
    pub const ELECTION_NOT_NEEDED: i16 = 84;
    pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    #[error(transparent)]
    Controller(#[from] ControllerError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    #[error("unknown topic id")]
    UnknownTopicId,
    #[error("replication factor {0} is not possible with one broker")]
    InvalidReplicationFactor(i32),
    #[error("invalid replica assignment: {0}")]
    InvalidReplicaAssignment(String),
    #[error("invalid partition count {0}")]
    InvalidPartitionCount(i32),
    #[error("acks must be -1, 0 or 1, not {0}")]
    InvalidRequiredAcks(i16),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("topic deletion is disabled (delete.topic.enable=false)")]
    TopicDeletionDisabled,
    #[error("fetch session {0} not found")]
    FetchSessionIdNotFound(i32),
    #[error("fetch session epoch {got} does not follow {expected}")]
    InvalidFetchSessionEpoch { expected: i32, got: i32 },
    #[error(
        "transactions are not supported by this version of Gregor yet; only idempotent \
         producers are (answered as TRANSACTIONAL_ID_AUTHORIZATION_FAILED so that clients fail \
         at once instead of retrying)"
    )]
    TransactionsUnsupported,
    #[error("this version is not supported")]
    UnsupportedVersion,
    #[error(
        "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type \
         CONTROLLER"
    )]
    MismatchedEndpointType,
    #[error("Unsupported endpoint type {0}")]
    UnsupportedEndpointType(i8),
    #[error("zstd compression needs Produce v7 or later")]
    UnsupportedCompressionType,
    /// Another node answered with this code (a forwarded request).
    #[error("{message}")]
    Remote { code: i16, message: String },
    #[error("the active controller could not be reached: {0}")]
    ControllerUnavailable(String),
}

/// The Kafka error code for `e`.
pub fn error_code(e: &BrokerError) -> i16 {
    use code::*;
    match e {
        BrokerError::Log(l) => log_code(l),
        BrokerError::Replication(r) => match r {
            ReplicationError::Log(l) => log_code(l),
            ReplicationError::UnknownPartition(_) => UNKNOWN_TOPIC_OR_PARTITION,
            ReplicationError::SyncTask(_) => KAFKA_STORAGE_ERROR,
            ReplicationError::FencedLeaderEpoch { .. } => FENCED_LEADER_EPOCH,
            ReplicationError::UnknownLeaderEpoch { .. } => UNKNOWN_LEADER_EPOCH,
            ReplicationError::NotLeader { .. } => NOT_LEADER_OR_FOLLOWER,
            ReplicationError::NotEnoughReplicas { .. } => NOT_ENOUGH_REPLICAS,
            ReplicationError::NotEnoughReplicasAfterAppend { .. } => {
                NOT_ENOUGH_REPLICAS_AFTER_APPEND
            }
            ReplicationError::AckTimeout { .. } => REQUEST_TIMED_OUT,
        },
        BrokerError::Controller(c) => match c {
            ControllerError::TopicAlreadyExists(_) => TOPIC_ALREADY_EXISTS,
            ControllerError::UnknownTopic(_) => UNKNOWN_TOPIC_OR_PARTITION,
            ControllerError::InvalidTopicName { .. } => INVALID_TOPIC_EXCEPTION,
            ControllerError::InvalidPartitionCount { .. } => INVALID_PARTITIONS,
            ControllerError::Io { .. } | ControllerError::Corrupt { .. } => KAFKA_STORAGE_ERROR,
            ControllerError::NotController { .. } => NOT_CONTROLLER,
            ControllerError::Rejected(_) | ControllerError::Quorum(_) => UNKNOWN_SERVER_ERROR,
            ControllerError::Timeout(_) => REQUEST_TIMED_OUT,
            ControllerError::Placement(p) => match p {
                PlacementError::ReplicationFactor { .. } | PlacementError::NonPositive => {
                    INVALID_REPLICATION_FACTOR
                }
                PlacementError::Assignment(_) => INVALID_REPLICA_ASSIGNMENT,
            },
            ControllerError::Election(e) => match e {
                ElectionError::NotNeeded => ELECTION_NOT_NEEDED,
                ElectionError::PreferredLeaderNotAvailable => PREFERRED_LEADER_NOT_AVAILABLE,
                ElectionError::EligibleLeadersNotAvailable => ELIGIBLE_LEADERS_NOT_AVAILABLE,
                ElectionError::ReplicationFactorChange { .. } => INVALID_REPLICATION_FACTOR,
                ElectionError::NoReassignmentInProgress => NO_REASSIGNMENT_IN_PROGRESS,
            },
            ControllerError::UnknownPartition { .. } => UNKNOWN_TOPIC_OR_PARTITION,
            ControllerError::BrokerNotRegistered(_) => BROKER_ID_NOT_REGISTERED,
            ControllerError::StaleBrokerEpoch { .. } => STALE_BROKER_EPOCH,
            ControllerError::NotLeaderOrFollower => NOT_LEADER_OR_FOLLOWER,
            ControllerError::FencedLeaderEpoch => FENCED_LEADER_EPOCH,
            ControllerError::InvalidUpdateVersion => INVALID_UPDATE_VERSION,
            ControllerError::IneligibleReplica(_) => INELIGIBLE_REPLICA,
            ControllerError::InvalidRequest(_) => INVALID_REQUEST,
        },
        BrokerError::Config(_) => INVALID_CONFIG,
        BrokerError::Group(g) => group_code(g),
        BrokerError::UnknownTopicOrPartition => UNKNOWN_TOPIC_OR_PARTITION,
        BrokerError::UnknownTopicId => UNKNOWN_TOPIC_ID,
        BrokerError::InvalidReplicationFactor(_) => INVALID_REPLICATION_FACTOR,
        BrokerError::InvalidReplicaAssignment(_) => INVALID_REPLICA_ASSIGNMENT,
        BrokerError::InvalidPartitionCount(_) => INVALID_PARTITIONS,
        BrokerError::InvalidRequiredAcks(_) => INVALID_REQUIRED_ACKS,
        BrokerError::InvalidRequest(_) => INVALID_REQUEST,
        BrokerError::TopicDeletionDisabled => TOPIC_DELETION_DISABLED,
        BrokerError::FetchSessionIdNotFound(_) => FETCH_SESSION_ID_NOT_FOUND,
        BrokerError::InvalidFetchSessionEpoch { .. } => INVALID_FETCH_SESSION_EPOCH,
        // Not retriable in any client (COORDINATOR_NOT_AVAILABLE left producers retrying
        // without end); the transaction coordinator replaces this.
        BrokerError::TransactionsUnsupported => TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        BrokerError::UnsupportedVersion => UNSUPPORTED_VERSION,
        BrokerError::UnsupportedCompressionType => UNSUPPORTED_COMPRESSION_TYPE,
        BrokerError::MismatchedEndpointType => MISMATCHED_ENDPOINT_TYPE,
        BrokerError::UnsupportedEndpointType(_) => UNSUPPORTED_ENDPOINT_TYPE,
        BrokerError::Remote { code, .. } => *code,
        BrokerError::ControllerUnavailable(_) => REQUEST_TIMED_OUT,
    }
}

fn group_code(e: &GroupError) -> i16 {
    use code::*;
    match e {
        GroupError::UnknownMemberId => UNKNOWN_MEMBER_ID,
        GroupError::IllegalGeneration { .. } => ILLEGAL_GENERATION,
        GroupError::RebalanceInProgress => REBALANCE_IN_PROGRESS,
        GroupError::FencedInstanceId(_) => FENCED_INSTANCE_ID,
        GroupError::GroupMaxSizeReached => GROUP_MAX_SIZE_REACHED,
        GroupError::InconsistentGroupProtocol(_) => INCONSISTENT_GROUP_PROTOCOL,
        GroupError::MemberIdRequired => MEMBER_ID_REQUIRED,
        GroupError::InvalidSessionTimeout(_) => INVALID_SESSION_TIMEOUT,
        GroupError::CoordinatorLoadInProgress => COORDINATOR_LOAD_IN_PROGRESS,
        GroupError::CoordinatorNotAvailable | GroupError::Store(_) => COORDINATOR_NOT_AVAILABLE,
        GroupError::NotCoordinator => NOT_COORDINATOR,
        GroupError::NonEmptyGroup => NON_EMPTY_GROUP,
        GroupError::GroupIdNotFound | GroupError::NotClassicGroup(_) => GROUP_ID_NOT_FOUND,
        GroupError::InvalidGroupId => INVALID_GROUP_ID,
        GroupError::FencedMemberEpoch { .. } => FENCED_MEMBER_EPOCH,
        GroupError::StaleMemberEpoch { .. } => STALE_MEMBER_EPOCH,
        GroupError::UnreleasedInstanceId(_) => UNRELEASED_INSTANCE_ID,
        GroupError::UnsupportedAssignor(_) => UNSUPPORTED_ASSIGNOR,
        GroupError::InvalidRegularExpression(_) => INVALID_REGULAR_EXPRESSION,
        GroupError::GroupSubscribedToTopic => GROUP_SUBSCRIBED_TO_TOPIC,
        GroupError::UnknownTopicOrPartition => UNKNOWN_TOPIC_OR_PARTITION,
        GroupError::OffsetMetadataTooLarge(_) => OFFSET_METADATA_TOO_LARGE,
        GroupError::InvalidRequest(_) => INVALID_REQUEST,
        GroupError::UnsupportedVersion(_) => UNSUPPORTED_VERSION,
    }
}

fn log_code(e: &LogError) -> i16 {
    use code::*;
    match e {
        LogError::Corrupt(_) => CORRUPT_MESSAGE,
        LogError::MessageTooLarge { .. } => MESSAGE_TOO_LARGE,
        LogError::OffsetOutOfRange { .. } => OFFSET_OUT_OF_RANGE,
        LogError::OutOfOrderSequence { .. } => OUT_OF_ORDER_SEQUENCE_NUMBER,
        LogError::OutOfOrderReplica { .. } => UNKNOWN_SERVER_ERROR,
        LogError::InvalidProducerEpoch { .. } => INVALID_PRODUCER_EPOCH,
        LogError::InconsistentTopicId { .. } => INCONSISTENT_TOPIC_ID,
        LogError::Overflow(_) => KAFKA_STORAGE_ERROR,
        LogError::Closed => NOT_LEADER_OR_FOLLOWER,
        LogError::Io(_) => KAFKA_STORAGE_ERROR,
    }
}

/// `error_code` of an optional error; NONE for success.
pub fn code_of<T>(r: &Result<T, BrokerError>) -> i16 {
    match r {
        Ok(_) => code::NONE,
        Err(e) => error_code(e),
    }
}
