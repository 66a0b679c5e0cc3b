//! Newtypes shared by every layer: offsets, epochs, ids and partition names.
//!
//! Contract: plain values with no behaviour beyond construction and display; this module imports
//! nothing from the crate (it is a leaf, see DESIGN.md's layering table).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A record's position in a partition log. `-1` is Kafka's "none" in many places; keep it at edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Offset(pub i64);

impl Offset {
    pub const NONE: Offset = Offset(-1);
    pub fn value(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The epoch of a partition's leader; batches carry it in their header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LeaderEpoch(pub i32);

/// A broker's `node.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub i32);

/// An idempotent or transactional producer's id, handed out by InitProducerId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ProducerId(pub i64);

/// A producer id's epoch; bumped to fence older instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ProducerEpoch(pub i16);

/// A topic's 128-bit id (KIP-516), kept as its 16 big-endian bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TopicId(pub [u8; 16]);

impl TopicId {
    pub const ZERO: TopicId = TopicId([0; 16]);
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

/// A topic name and a partition index: the unit of storage and of leadership.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: i32,
}

/// A partition named by its parts, so that a map keyed by `TopicPartition` can be looked up
/// from a borrowed name without building (and allocating) a key:
/// `map.get(&("orders", 0) as &dyn PartitionKey)`. Hashes and compares as `TopicPartition` does.
pub trait PartitionKey {
    fn parts(&self) -> (&str, i32);
}

impl PartitionKey for TopicPartition {
    fn parts(&self) -> (&str, i32) {
        (&self.topic, self.partition)
    }
}

impl PartitionKey for (&str, i32) {
    fn parts(&self) -> (&str, i32) {
        *self
    }
}

impl<'a> Borrow<dyn PartitionKey + 'a> for TopicPartition {
    fn borrow(&self) -> &(dyn PartitionKey + 'a) {
        self
    }
}

impl Hash for dyn PartitionKey + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state)
    }
}

impl PartialEq for dyn PartitionKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn PartitionKey + '_ {}

/// The same hash as its `PartitionKey` (Borrow's rule for map lookups).
impl Hash for TopicPartition {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state)
    }
}

impl TopicPartition {
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_borrowed_partition_key_finds_what_its_owned_key_stored() {
        let mut map = HashMap::new();
        for (topic, partition) in [("orders", 0), ("orders", 1), ("order", 10), ("", 0)] {
            map.insert(TopicPartition::new(topic, partition), (topic, partition));
        }
        for (topic, partition) in [("orders", 0), ("orders", 1), ("order", 10), ("", 0)] {
            let key: &dyn PartitionKey = &(topic, partition);
            assert_eq!(map.get(key), Some(&(topic, partition)));
        }
        for (topic, partition) in [("orders", 2), ("order", 1), ("orders1", 0), ("Orders", 0)] {
            let key: &dyn PartitionKey = &(topic, partition);
            assert_eq!(map.get(key), None, "{topic}-{partition}");
        }
    }
}
