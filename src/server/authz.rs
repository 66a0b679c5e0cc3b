//! Authorized operations: the bit sets that Metadata, DescribeTopicPartitions, DescribeCluster,
//! DescribeGroups and ConsumerGroupDescribe report when a client asks for them (KIP-430).
//!
//! Contract: bit `i` of a set stands for the ACL operation whose code is `i` (Kafka's
//! `AclOperation`: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
//! DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12). Gregor has no authorizer yet, so
//! every principal may do everything, and Kafka without an authorizer answers with every operation
//! that applies to the resource type (`AclEntry.supportedOperations`): that is what these
//! functions return. When ACLs arrive they will narrow these sets per principal and resource, here
//! and nowhere else. A response whose request did not ask for the operations carries
//! `NOT_REQUESTED` (the schemas' default, INT32_MIN).

/// What a response carries when its request did not ask for authorized operations.
pub const NOT_REQUESTED: i32 = i32::MIN;

const READ: u8 = 3;
const WRITE: u8 = 4;
const CREATE: u8 = 5;
const DELETE: u8 = 6;
const ALTER: u8 = 7;
const DESCRIBE: u8 = 8;
const CLUSTER_ACTION: u8 = 9;
const DESCRIBE_CONFIGS: u8 = 10;
const ALTER_CONFIGS: u8 = 11;
const IDEMPOTENT_WRITE: u8 = 12;

const fn bits(ops: &[u8]) -> i32 {
    let mut set = 0i32;
    let mut i = 0;
    while i < ops.len() {
        set |= 1 << ops[i];
        i += 1;
    }
    set
}

const TOPIC_OPERATIONS: i32 = bits(&[
    READ,
    WRITE,
    CREATE,
    DELETE,
    ALTER,
    DESCRIBE,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
]);
const GROUP_OPERATIONS: i32 = bits(&[READ, DESCRIBE, DELETE, DESCRIBE_CONFIGS, ALTER_CONFIGS]);
const CLUSTER_OPERATIONS: i32 = bits(&[
    CREATE,
    CLUSTER_ACTION,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
    IDEMPOTENT_WRITE,
    ALTER,
    DESCRIBE,
]);

/// The operations the client may perform on the topic `_name`.
pub fn topic_operations(_name: &str) -> i32 {
    TOPIC_OPERATIONS
}

/// The operations the client may perform on the group `_group_id`.
pub fn group_operations(_group_id: &str) -> i32 {
    GROUP_OPERATIONS
}

/// The operations the client may perform on the cluster.
pub fn cluster_operations() -> i32 {
    CLUSTER_OPERATIONS
}

/// `operations` if the request asked for them, else `NOT_REQUESTED`.
pub fn if_requested(requested: bool, operations: impl FnOnce() -> i32) -> i32 {
    if requested {
        operations()
    } else {
        NOT_REQUESTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_kafkas() {
        // The values a Kafka 4.1 broker without an authorizer sends.
        assert_eq!(topic_operations("t"), 3576);
        assert_eq!(group_operations("g"), 3400);
        assert_eq!(cluster_operations(), 8096);
        assert_eq!(if_requested(false, cluster_operations), i32::MIN);
    }
}
