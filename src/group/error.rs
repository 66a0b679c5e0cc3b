//! The group coordinator's typed errors; `server/error_code.rs` maps each to its Kafka code.

/// Every error a group API can answer with. Each variant names the Kafka error it becomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// GROUP_ID_NOT_FOUND (69) for DescribeGroups on a group of another type (Kafka's text).
    #[error("Group {0} is not a classic group.")]
    NotClassicGroup(String),
    /// UNSUPPORTED_VERSION (35): a request version the group's protocol cannot use.
    #[error("{0}")]
    UnsupportedVersion(String),
    /// UNKNOWN_MEMBER_ID (25)
    #[error("unknown member id")]
    UnknownMemberId,
    /// ILLEGAL_GENERATION (22)
    #[error("generation {got} is not the group's generation {current}")]
    IllegalGeneration { current: i32, got: i32 },
    /// REBALANCE_IN_PROGRESS (27)
    #[error("the group is rebalancing")]
    RebalanceInProgress,
    /// FENCED_INSTANCE_ID (82)
    #[error("static member '{0}' was replaced by a newer instance")]
    FencedInstanceId(String),
    /// GROUP_MAX_SIZE_REACHED (81)
    #[error("the group has reached its maximum size")]
    GroupMaxSizeReached,
    /// INCONSISTENT_GROUP_PROTOCOL (23)
    #[error("inconsistent group protocol: {0}")]
    InconsistentGroupProtocol(String),
    /// MEMBER_ID_REQUIRED (79): the response carries the member id to rejoin with.
    #[error("a member id is required to join")]
    MemberIdRequired,
    /// INVALID_SESSION_TIMEOUT (26)
    #[error("session timeout {0} ms is outside the broker's allowed range")]
    InvalidSessionTimeout(i32),
    /// COORDINATOR_LOAD_IN_PROGRESS (14)
    #[error("the group coordinator is still loading")]
    CoordinatorLoadInProgress,
    /// COORDINATOR_NOT_AVAILABLE (15)
    #[error("the group coordinator is not available")]
    CoordinatorNotAvailable,
    /// NOT_COORDINATOR (16)
    #[error("this broker is not the coordinator of the group")]
    NotCoordinator,
    /// NON_EMPTY_GROUP (68)
    #[error("the group is not empty")]
    NonEmptyGroup,
    /// GROUP_ID_NOT_FOUND (69)
    #[error("group not found")]
    GroupIdNotFound,
    /// INVALID_GROUP_ID (24)
    #[error("invalid group id")]
    InvalidGroupId,
    /// FENCED_MEMBER_EPOCH (110)
    #[error("member epoch {got} is fenced (current {current})")]
    FencedMemberEpoch { current: i32, got: i32 },
    /// STALE_MEMBER_EPOCH (113)
    #[error("member epoch {got} is stale (current {current})")]
    StaleMemberEpoch { current: i32, got: i32 },
    /// UNRELEASED_INSTANCE_ID (111)
    #[error("static member '{0}' has not been released by its previous instance")]
    UnreleasedInstanceId(String),
    /// UNSUPPORTED_ASSIGNOR (112)
    #[error("assignor '{0}' is not supported")]
    UnsupportedAssignor(String),
    /// INVALID_REGULAR_EXPRESSION (128)
    #[error("invalid regular expression: {0}")]
    InvalidRegularExpression(String),
    /// GROUP_SUBSCRIBED_TO_TOPIC (86)
    #[error("the group is subscribed to the topic")]
    GroupSubscribedToTopic,
    /// UNKNOWN_TOPIC_OR_PARTITION (3)
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// OFFSET_METADATA_TOO_LARGE (12)
    #[error("offset metadata is longer than {0} bytes")]
    OffsetMetadataTooLarge(usize),
    /// INVALID_REQUEST (42)
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// UNKNOWN_SERVER_ERROR (-1) when the offsets topic cannot be written.
    #[error("storing group state failed: {0}")]
    Store(String),
}
