//! Replica placement and leader election rules: pure functions over the image, so every decision
//! the active controller proposes can be tested without a quorum.
//!
//! Contract:
//! - `place` spreads a new topic's replicas over the unfenced brokers as Kafka's striped placer
//!   does without racks: partition p gets brokers `start + p, start + p + 1, ...` (mod n), so
//!   leaders (the first replica) rotate over the brokers and no broker holds two replicas of one
//!   partition. `start` rotates with the topic count so that many one-partition topics do not all
//!   lead on the same broker.
//! - `elect_leader` picks a partition's leader as Kafka's `PartitionChangeBuilder`: the first
//!   replica (in assignment order, so the preferred leader wins ties) that is in the ISR and
//!   unfenced; with unclean election allowed and no such replica, the first unfenced replica.
//! - `changes_for_fenced_broker` is KRaft's `handleBrokerFenced`: the broker leaves every ISR it is
//!   in (an ISR never becomes empty: the last member stays, as Kafka keeps it) and every partition
//!   it led gets a new leader, or none.
//! - `changes_for_unfenced_broker`: partitions without a leader whose ISR holds the broker elect it.
//!
//! Lock order: none (pure functions). Must not import: protocol, server, group, replication.

use std::collections::BTreeSet;

use super::MetadataImage;
use super::records::{NO_LEADER, PartitionChangeRecord};
use super::state_machine::PartitionState;

/// Why a placement is impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("Replication factor: {requested} larger than available brokers: {available}.")]
    ReplicationFactor { requested: i32, available: usize },
    #[error("Replication factor must be larger than 0, or -1 to use the default value.")]
    NonPositive,
    #[error("{0}")]
    Assignment(String),
}

/// The unfenced brokers, by id.
pub fn usable_brokers(img: &MetadataImage) -> Vec<i32> {
    img.brokers()
        .values()
        .filter(|b| !b.fenced)
        .map(|b| b.broker_id)
        .collect()
}

/// Replica lists for partitions `first..first + count` of a topic.
pub fn place(
    brokers: &[i32],
    first: i32,
    count: i32,
    replication_factor: i32,
    start: usize,
) -> Result<Vec<Vec<i32>>, PlacementError> {
    if replication_factor < 1 {
        return Err(PlacementError::NonPositive);
    }
    let n = brokers.len();
    if replication_factor as usize > n {
        return Err(PlacementError::ReplicationFactor {
            requested: replication_factor,
            available: n,
        });
    }
    let mut out = Vec::with_capacity(count.max(0) as usize);
    for p in first..first.saturating_add(count) {
        let base = start.wrapping_add(p as usize);
        let replicas = (0..replication_factor as usize)
            .filter_map(|k| brokers.get(base.wrapping_add(k) % n).copied())
            .collect();
        out.push(replicas);
    }
    Ok(out)
}

/// Checks an explicit assignment: every list the same length, no duplicates, known brokers.
pub fn check_assignment(
    img: &MetadataImage,
    replicas: &[i32],
    expected_len: Option<usize>,
) -> Result<(), PlacementError> {
    let bad = |m: String| Err(PlacementError::Assignment(m));
    if replicas.is_empty() {
        return bad("The manual partition assignment includes an empty replica list.".into());
    }
    let unique: BTreeSet<i32> = replicas.iter().copied().collect();
    if unique.len() != replicas.len() {
        return bad(format!(
            "The manual partition assignment includes the broker {} more than once.",
            replicas
                .iter()
                .find(|r| replicas.iter().filter(|x| x == r).count() > 1)
                .copied()
                .unwrap_or(-1)
        ));
    }
    if let Some(missing) = replicas.iter().find(|r| img.broker(**r).is_none()) {
        return bad(format!(
            "The manual partition assignment includes broker {missing}, but no such broker is registered."
        ));
    }
    if let Some(len) = expected_len
        && len != replicas.len()
    {
        return bad(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this is inconsistent with previous partitions, which have {len} replica(s).",
            replicas.len()
        ));
    }
    Ok(())
}

fn usable(img: &MetadataImage, id: i32, excluded: Option<i32>) -> bool {
    Some(id) != excluded && img.broker(id).is_some_and(|b| !b.fenced)
}

/// The leader a partition should have, `NO_LEADER` when no replica qualifies.
pub fn elect_leader(
    img: &MetadataImage,
    state: &PartitionState,
    isr: &[i32],
    excluded: Option<i32>,
    unclean_allowed: bool,
) -> i32 {
    if let Some(r) = state
        .replicas
        .iter()
        .find(|r| isr.contains(r) && usable(img, **r, excluded))
    {
        return *r;
    }
    if unclean_allowed && let Some(r) = state.replicas.iter().find(|r| usable(img, **r, excluded)) {
        return *r;
    }
    NO_LEADER
}

/// The changes that take `broker` out of every ISR and leadership (fencing or controlled
/// shutdown). `unclean_allowed(topic_id)` says whether the topic allows unclean election.
pub fn changes_for_fenced_broker(
    img: &MetadataImage,
    broker: i32,
    unclean_allowed: impl Fn(&str) -> bool,
) -> Vec<PartitionChangeRecord> {
    let mut out = Vec::new();
    for topic in img.topics() {
        let Some(parts) = img.partitions(topic.topic_id()) else {
            continue;
        };
        for (p, state) in parts {
            if !state.replicas.contains(&broker) {
                continue;
            }
            let mut isr: Vec<i32> = state.isr.iter().copied().filter(|r| *r != broker).collect();
            let isr_changed = isr.len() != state.isr.len() && !isr.is_empty();
            if isr.is_empty() {
                isr = state.isr.clone();
            }
            let leader = if state.leader == broker {
                let next = elect_leader(img, state, &isr, Some(broker), unclean_allowed(&topic.id));
                if next != NO_LEADER && !isr.contains(&next) {
                    // Unclean: the new leader's log is the truth now; it is the whole ISR.
                    isr = vec![next];
                }
                Some(next)
            } else {
                None
            };
            if isr_changed || leader.is_some() {
                out.push(PartitionChangeRecord {
                    partition_id: *p,
                    topic_id: topic.id.clone(),
                    isr: (isr != state.isr).then_some(isr),
                    leader,
                    replicas: None,
                });
            }
        }
    }
    out
}

/// Leaderless partitions that `broker` (now unfenced) can lead.
pub fn changes_for_unfenced_broker(
    img: &MetadataImage,
    broker: i32,
    unclean_allowed: impl Fn(&str) -> bool,
) -> Vec<PartitionChangeRecord> {
    let mut out = Vec::new();
    for topic in img.topics() {
        let Some(parts) = img.partitions(topic.topic_id()) else {
            continue;
        };
        for (p, state) in parts {
            if state.leader != NO_LEADER || !state.replicas.contains(&broker) {
                continue;
            }
            let clean = state.isr.contains(&broker);
            if !clean && !unclean_allowed(&topic.id) {
                continue;
            }
            out.push(PartitionChangeRecord {
                partition_id: *p,
                topic_id: topic.id.clone(),
                isr: (!clean).then(|| vec![broker]),
                leader: Some(broker),
                replicas: None,
            });
        }
    }
    out
}

/// Partitions whose preferred leader (first replica) is in the ISR, unfenced, and not leading:
/// `auto.leader.rebalance.enable`'s and ElectLeaders(PREFERRED)'s moves.
pub fn preferred_leader_changes(img: &MetadataImage) -> Vec<PartitionChangeRecord> {
    let mut out = Vec::new();
    for topic in img.topics() {
        let Some(parts) = img.partitions(topic.topic_id()) else {
            continue;
        };
        for (p, state) in parts {
            let Some(preferred) = state.replicas.first().copied() else {
                continue;
            };
            if state.leader != preferred
                && state.isr.contains(&preferred)
                && usable(img, preferred, None)
            {
                out.push(PartitionChangeRecord {
                    partition_id: *p,
                    topic_id: topic.id.clone(),
                    isr: None,
                    leader: Some(preferred),
                    replicas: None,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_spreads_leaders_and_never_repeats_a_broker() {
        let brokers = [1, 2, 3];
        let p = place(&brokers, 0, 6, 3, 0).unwrap();
        let leaders: Vec<i32> = p.iter().map(|r| r[0]).collect();
        assert_eq!(leaders, vec![1, 2, 3, 1, 2, 3]);
        for r in &p {
            let set: BTreeSet<_> = r.iter().collect();
            assert_eq!(set.len(), 3);
        }
        assert_eq!(place(&brokers, 0, 2, 1, 1).unwrap(), vec![vec![2], vec![3]]);
        assert_eq!(
            place(&brokers, 0, 1, 4, 0),
            Err(PlacementError::ReplicationFactor {
                requested: 4,
                available: 3
            })
        );
        assert_eq!(
            place(&brokers, 0, 1, 0, 0),
            Err(PlacementError::NonPositive)
        );
        assert_eq!(
            place(&[], 0, 1, 1, 0).unwrap_err(),
            PlacementError::ReplicationFactor {
                requested: 1,
                available: 0
            }
        );
    }
}
