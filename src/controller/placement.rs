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
//! - `elect` is ElectLeaders per partition (KIP-460, Kafka's `ReplicationControlManager
//!   .electLeader`): PREFERRED moves leadership to the first replica when it is in the ISR and
//!   unfenced (ELECTION_NOT_NEEDED when it already leads, PREFERRED_LEADER_NOT_AVAILABLE when it
//!   cannot and a leader exists; a leaderless partition takes any clean candidate); UNCLEAN acts
//!   only on a leaderless partition, electing a clean candidate if there is one, else the first
//!   unfenced replica with the ISR reset to it (ELIGIBLE_LEADERS_NOT_AVAILABLE when none is).
//!   Brokers in controlled shutdown are never elected (KIP-841).
//! - `imbalanced_leader_changes` is `auto.leader.rebalance.enable`'s periodic pass: for every
//!   broker whose share of preferred partitions led elsewhere exceeds
//!   `leader.imbalance.per.broker.percentage`, the preferred elections that can be made. (Kafka's
//!   ZooKeeper controller applied the percentage; its KRaft controller ignores it and moves every
//!   imbalanced partition: Gregor keeps the percentage, which with 0 behaves as KRaft.)
//!   Partitions under reassignment are left alone.
//! - Reassignment (KIP-455 as KRaft keeps it): `reassign` turns `replicas` into the target
//!   followed by the current replicas not in it, with `adding_replicas` = target minus the
//!   original replicas and `removing_replicas` = current minus target; the ISR and the leader
//!   stay. `complete_reassignment` finishes it once every adding replica is in the ISR:
//!   replicas = target, ISR minus the removing replicas (never empty, else it waits), the leader
//!   kept if it stays, else the first target replica in the new ISR; naming the leader again
//!   bumps the leader epoch so that removed followers stop. A reassignment whose adding replicas
//!   are already in the ISR (a pure shrink or reorder) completes in the same record.
//!   `cancel_reassignment` reverts to the original replicas (ISR minus the adding ones).
//!
//! Lock order: none (pure functions). Must not import: protocol, server, group, replication.

use std::collections::BTreeSet;

use super::MetadataImage;
use super::records::{NO_LEADER, PartitionChangeRecord};
use super::state_machine::PartitionState;

/// Kafka's ElectionType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// 0: the first replica.
    Preferred,
    /// 1: any live replica when the partition has no leader.
    Unclean,
}

impl ElectionType {
    /// Kafka's wire value; `None` for an unknown one.
    pub fn from_kafka(v: i8) -> Option<ElectionType> {
        match v {
            0 => Some(ElectionType::Preferred),
            1 => Some(ElectionType::Unclean),
            _ => None,
        }
    }
}

/// Why ElectLeaders or a reassignment changes nothing for one partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElectionError {
    #[error("Leader election not needed for topic partition.")]
    NotNeeded,
    #[error("The preferred leader was not available.")]
    PreferredLeaderNotAvailable,
    #[error("Eligible topic partition leaders are not available.")]
    EligibleLeadersNotAvailable,
    #[error("The replication factor is changed from {from} to {to}")]
    ReplicationFactorChange { from: usize, to: usize },
    #[error("No reassignment is in progress for topic partition.")]
    NoReassignmentInProgress,
}

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
                    ..Default::default()
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
                ..Default::default()
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
                    ..Default::default()
                });
            }
        }
    }
    out
}

/// A change that takes `before` to `after`, or `None` when they are equal. `bump` names the
/// leader even when it stays (a new leader epoch).
fn change_between(
    topic_id: &str,
    partition: i32,
    before: &PartitionState,
    after: &PartitionState,
    bump: bool,
) -> Option<PartitionChangeRecord> {
    let leader_changed = before.leader != after.leader || bump;
    let record = PartitionChangeRecord {
        partition_id: partition,
        topic_id: topic_id.to_string(),
        isr: (before.isr != after.isr).then(|| after.isr.clone()),
        leader: leader_changed.then_some(after.leader),
        replicas: (before.replicas != after.replicas).then(|| after.replicas.clone()),
        adding_replicas: (before.adding_replicas != after.adding_replicas)
            .then(|| after.adding_replicas.clone()),
        removing_replicas: (before.removing_replicas != after.removing_replicas)
            .then(|| after.removing_replicas.clone()),
    };
    let unchanged = record.isr.is_none()
        && record.leader.is_none()
        && record.replicas.is_none()
        && record.adding_replicas.is_none()
        && record.removing_replicas.is_none();
    (!unchanged).then_some(record)
}

/// ElectLeaders for one partition: the change to propose, or why there is none. Brokers in
/// `unavailable` (in controlled shutdown, KIP-841) are never elected.
pub fn elect(
    img: &MetadataImage,
    topic_id: &str,
    partition: i32,
    state: &PartitionState,
    election: ElectionType,
    unavailable: &[i32],
) -> Result<PartitionChangeRecord, ElectionError> {
    let ok = |r: i32| usable(img, r, None) && !unavailable.contains(&r);
    let clean = state
        .replicas
        .iter()
        .copied()
        .find(|r| state.isr.contains(r) && ok(*r));
    let mut next = state.clone();
    match election {
        ElectionType::Preferred => {
            let preferred = state.replicas.first().copied().unwrap_or(NO_LEADER);
            if state.leader == preferred && preferred != NO_LEADER {
                return Err(ElectionError::NotNeeded);
            }
            if state.isr.contains(&preferred) && ok(preferred) {
                next.leader = preferred;
            } else if state.leader != NO_LEADER {
                return Err(ElectionError::PreferredLeaderNotAvailable);
            } else {
                next.leader = clean.ok_or(ElectionError::PreferredLeaderNotAvailable)?;
            }
        }
        ElectionType::Unclean => {
            if state.leader != NO_LEADER {
                return Err(ElectionError::NotNeeded);
            }
            next.leader = clean
                .or_else(|| state.replicas.iter().copied().find(|r| ok(*r)))
                .ok_or(ElectionError::EligibleLeadersNotAvailable)?;
            if !state.isr.contains(&next.leader) {
                // Unclean: the new leader's log is the truth now; it is the whole ISR.
                next.isr = vec![next.leader];
            }
        }
    }
    change_between(topic_id, partition, state, &next, false).ok_or(ElectionError::NotNeeded)
}

/// `auto.leader.rebalance.enable`'s pass: preferred elections for the brokers whose imbalance
/// ratio (preferred partitions led by another broker / preferred partitions) is above
/// `percentage` / 100.
pub fn imbalanced_leader_changes(
    img: &MetadataImage,
    percentage: i32,
    unavailable: &[i32],
) -> Vec<PartitionChangeRecord> {
    use std::collections::BTreeMap;
    /// A broker's preferred partitions: how many, and those led elsewhere.
    type Preferred<'a> = (usize, Vec<(String, i32, &'a PartitionState)>);
    let mut by_broker: BTreeMap<i32, Preferred<'_>> = BTreeMap::new();
    for topic in img.topics() {
        let Some(parts) = img.partitions(topic.topic_id()) else {
            continue;
        };
        for (p, state) in parts {
            if state.is_reassigning() {
                continue;
            }
            let Some(preferred) = state.replicas.first().copied() else {
                continue;
            };
            let entry = by_broker.entry(preferred).or_default();
            entry.0 += 1;
            if state.leader != preferred {
                entry.1.push((topic.id.clone(), *p, state));
            }
        }
    }
    let mut out = Vec::new();
    for (total, imbalanced) in by_broker.values() {
        // ratio > percentage / 100, in integers.
        if imbalanced.len() * 100 <= (percentage.max(0) as usize) * total {
            continue;
        }
        for (topic_id, p, state) in imbalanced {
            if let Ok(change) = elect(
                img,
                topic_id,
                *p,
                state,
                ElectionType::Preferred,
                unavailable,
            ) {
                out.push(change);
            }
        }
    }
    out
}

/// The state a reassignment to `target` (checked by `check_assignment`) leads to, completed at
/// once when its adding replicas are already in sync.
pub fn reassign(
    img: &MetadataImage,
    topic_id: &str,
    partition: i32,
    state: &PartitionState,
    target: &[i32],
    allow_replication_factor_change: bool,
) -> Result<Option<PartitionChangeRecord>, ElectionError> {
    let original = state.original_replicas();
    if !allow_replication_factor_change && original.len() != target.len() {
        return Err(ElectionError::ReplicationFactorChange {
            from: original.len(),
            to: target.len(),
        });
    }
    let mut next = state.clone();
    next.replicas = target.to_vec();
    next.replicas.extend(
        state
            .replicas
            .iter()
            .copied()
            .filter(|r| !target.contains(r)),
    );
    next.adding_replicas = target
        .iter()
        .copied()
        .filter(|r| !original.contains(r))
        .collect();
    next.removing_replicas = state
        .replicas
        .iter()
        .copied()
        .filter(|r| !target.contains(r))
        .collect();
    let mut bump = false;
    if let Some(done) = complete_reassignment(img, &next) {
        bump = !next.removing_replicas.is_empty();
        next = done;
    } else if !next.is_reassigning() {
        // Only the order changed (or nothing): the target is the assignment now.
        next.replicas = target.to_vec();
    }
    Ok(change_between(topic_id, partition, state, &next, bump))
}

/// The completed reassignment, once every adding replica is in the ISR; `None` while it must
/// wait (or when none is ongoing).
pub fn complete_reassignment(
    img: &MetadataImage,
    state: &PartitionState,
) -> Option<PartitionState> {
    if !state.is_reassigning() || state.adding_replicas.iter().any(|r| !state.isr.contains(r)) {
        return None;
    }
    let target = state.target_replicas();
    let isr: Vec<i32> = state
        .isr
        .iter()
        .copied()
        .filter(|r| !state.removing_replicas.contains(r))
        .collect();
    if isr.is_empty() || target.is_empty() {
        return None;
    }
    let mut next = PartitionState {
        replicas: target,
        isr,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
        ..state.clone()
    };
    if !next.isr.contains(&next.leader) || !usable(img, next.leader, None) {
        let leader = elect_leader(img, &next, &next.isr, None, false);
        if leader == NO_LEADER && state.leader != NO_LEADER {
            // Moving on would leave it leaderless: wait for a target replica to be usable.
            return None;
        }
        next.leader = leader;
    }
    Some(next)
}

/// The change that completes `state`'s reassignment if it can complete (see
/// `complete_reassignment`).
pub fn reassignment_completion(
    img: &MetadataImage,
    topic_id: &str,
    partition: i32,
    state: &PartitionState,
) -> Option<PartitionChangeRecord> {
    let done = complete_reassignment(img, state)?;
    change_between(topic_id, partition, state, &done, true)
}

/// Cancels `state`'s reassignment: back to the original replicas.
pub fn cancel_reassignment(
    img: &MetadataImage,
    topic_id: &str,
    partition: i32,
    state: &PartitionState,
) -> Result<PartitionChangeRecord, ElectionError> {
    if !state.is_reassigning() {
        return Err(ElectionError::NoReassignmentInProgress);
    }
    let original = state.original_replicas();
    let mut isr: Vec<i32> = state
        .isr
        .iter()
        .copied()
        .filter(|r| !state.adding_replicas.contains(r))
        .collect();
    if isr.is_empty() {
        // Only adding replicas were in sync: Kafka reverts uncleanly to the original replicas.
        isr = original.clone();
    }
    let mut next = PartitionState {
        replicas: original,
        isr,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
        ..state.clone()
    };
    if !next.isr.contains(&next.leader) {
        next.leader = elect_leader(img, &next, &next.isr, None, false);
    }
    let bump = state
        .adding_replicas
        .iter()
        .any(|r| state.replicas.contains(r));
    change_between(topic_id, partition, state, &next, bump)
        .ok_or(ElectionError::NoReassignmentInProgress)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::controller::records::*;
    use crate::controller::state_machine::apply_batch;

    const T: &str = "0102030405060708090a0b0c0d0e0f10";

    /// Brokers `(id, fenced)` and one topic "t" whose partitions have `(replicas, isr, leader)`.
    fn image(brokers: &[(i32, bool)], parts: &[(&[i32], &[i32], i32)]) -> MetadataImage {
        let mut records = vec![MetadataRecord::Cluster(ClusterRecord {
            cluster_id: "c".into(),
        })];
        for (id, fenced) in brokers {
            records.push(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
                broker_id: *id,
                incarnation_id: "aa".into(),
                broker_epoch: 1,
                endpoints: vec![],
                rack: None,
                fenced: *fenced,
            }));
        }
        records.push(MetadataRecord::Topic(TopicRecord {
            name: "t".into(),
            topic_id: T.into(),
        }));
        for (i, (replicas, isr, leader)) in parts.iter().enumerate() {
            records.push(MetadataRecord::Partition(PartitionRecord {
                partition_id: i as i32,
                topic_id: T.into(),
                replicas: replicas.to_vec(),
                isr: isr.to_vec(),
                leader: *leader,
                ..Default::default()
            }));
        }
        apply_batch(&MetadataImage::default(), &RecordBatch { records }).unwrap()
    }

    fn state(img: &MetadataImage, p: i32) -> PartitionState {
        img.partition(crate::controller::parse_topic_id(T).unwrap(), p)
            .unwrap()
            .clone()
    }

    fn apply(img: &MetadataImage, change: PartitionChangeRecord) -> MetadataImage {
        apply_batch(
            img,
            &RecordBatch {
                records: vec![MetadataRecord::PartitionChange(change)],
            },
        )
        .unwrap()
    }

    const LIVE3: &[(i32, bool)] = &[(1, false), (2, false), (3, false)];

    #[test]
    fn preferred_election_rules() {
        let img = image(
            &[(1, false), (2, false), (3, true)],
            &[
                (&[1, 2], &[1, 2], 2),      // preferred in sync, not leading: moves
                (&[1, 2], &[1, 2], 1),      // already preferred
                (&[1, 2], &[2], 2),         // preferred out of the ISR
                (&[3, 2], &[3, 2], 2),      // preferred fenced
                (&[3, 2], &[2], NO_LEADER), // leaderless: a clean candidate leads
                (&[3], &[3], NO_LEADER),    // nobody usable
            ],
        );
        let e = |p| elect(&img, T, p, &state(&img, p), ElectionType::Preferred, &[]);
        let moved = e(0).unwrap();
        assert_eq!((moved.leader, moved.isr.clone()), (Some(1), None));
        let after = apply(&img, moved);
        assert_eq!(state(&after, 0).leader, 1);
        assert_eq!(state(&after, 0).leader_epoch, 1, "a new leader epoch");
        assert_eq!(e(1), Err(ElectionError::NotNeeded));
        assert_eq!(e(2), Err(ElectionError::PreferredLeaderNotAvailable));
        assert_eq!(e(3), Err(ElectionError::PreferredLeaderNotAvailable));
        assert_eq!(e(4).unwrap().leader, Some(2));
        assert_eq!(e(5), Err(ElectionError::PreferredLeaderNotAvailable));
        // A preferred replica in controlled shutdown is not elected.
        assert_eq!(
            elect(&img, T, 0, &state(&img, 0), ElectionType::Preferred, &[1]),
            Err(ElectionError::PreferredLeaderNotAvailable)
        );
        assert!(
            imbalanced_leader_changes(&img, 0, &[1])
                .iter()
                .all(|c| c.leader != Some(1))
        );
    }

    #[test]
    fn unclean_election_rules() {
        let img = image(
            &[(1, true), (2, false), (3, true)],
            &[
                (&[1, 2], &[1, 2], 1),         // has a leader
                (&[1, 2], &[1], NO_LEADER),    // only an out-of-ISR replica is live
                (&[1, 2], &[1, 2], NO_LEADER), // a clean candidate exists
                (&[1, 3], &[1], NO_LEADER),    // nobody live
            ],
        );
        let e = |p| elect(&img, T, p, &state(&img, p), ElectionType::Unclean, &[]);
        assert_eq!(e(0), Err(ElectionError::NotNeeded));
        let unclean = e(1).unwrap();
        assert_eq!(
            (unclean.leader, unclean.isr.clone()),
            (Some(2), Some(vec![2]))
        );
        let clean = e(2).unwrap();
        assert_eq!((clean.leader, clean.isr), (Some(2), None));
        assert_eq!(e(3), Err(ElectionError::EligibleLeadersNotAvailable));
    }

    #[test]
    fn imbalance_ratio_decides_which_brokers_move() {
        // Broker 1 prefers 4 partitions and leads 3 (25% imbalanced); broker 2 prefers 1 and
        // leads none (100%).
        let img = image(
            LIVE3,
            &[
                (&[1, 2], &[1, 2], 1),
                (&[1, 2], &[1, 2], 1),
                (&[1, 2], &[1, 2], 1),
                (&[1, 3], &[1, 3], 3),
                (&[2, 3], &[2, 3], 3),
            ],
        );
        let moved = |pct| {
            let mut v: Vec<i32> = imbalanced_leader_changes(&img, pct, &[])
                .into_iter()
                .map(|c| c.partition_id)
                .collect();
            v.sort();
            v
        };
        assert_eq!(moved(10), vec![3, 4]);
        assert_eq!(moved(25), vec![4], "25% is not above 25%");
        assert_eq!(moved(100), Vec::<i32>::new());
        assert_eq!(moved(0), vec![3, 4]);
    }

    #[test]
    fn a_reassignment_adds_then_completes_when_the_new_replica_is_in_sync() {
        let img = image(LIVE3, &[(&[1, 2], &[1, 2], 1)]);
        let s0 = state(&img, 0);
        let start = reassign(&img, T, 0, &s0, &[2, 3], false).unwrap().unwrap();
        let img = apply(&img, start);
        let s1 = state(&img, 0);
        assert_eq!(s1.replicas, vec![2, 3, 1]);
        assert_eq!(s1.adding_replicas, vec![3]);
        assert_eq!(s1.removing_replicas, vec![1]);
        assert_eq!(
            (s1.leader, s1.isr.clone()),
            (1, vec![1, 2]),
            "ISR and leader stay"
        );
        assert!(s1.is_reassigning());
        assert_eq!(s1.original_replicas(), vec![2, 1]);
        assert_eq!(s1.target_replicas(), vec![2, 3]);
        assert_eq!(
            reassignment_completion(&img, T, 0, &s1),
            None,
            "3 is not in sync yet"
        );
        // The leader adds 3 to the ISR: that completes it.
        let joined = PartitionState {
            isr: vec![1, 2, 3],
            ..s1.clone()
        };
        let done = reassignment_completion(&img, T, 0, &joined).unwrap();
        assert_eq!(done.replicas, Some(vec![2, 3]));
        assert_eq!(done.isr, Some(vec![2, 3]));
        assert_eq!(
            done.leader,
            Some(2),
            "the removed leader hands over to the first target"
        );
        assert_eq!(done.adding_replicas, Some(vec![]));
        assert_eq!(done.removing_replicas, Some(vec![]));
        let img = apply(&img, done);
        let s2 = state(&img, 0);
        assert!(!s2.is_reassigning());
        assert_eq!((s2.replicas, s2.leader), (vec![2, 3], 2));
    }

    #[test]
    fn shrinks_complete_at_once_and_rf_changes_need_permission() {
        let img = image(LIVE3, &[(&[1, 2, 3], &[1, 2, 3], 1)]);
        let s0 = state(&img, 0);
        assert_eq!(
            reassign(&img, T, 0, &s0, &[1, 2], false),
            Err(ElectionError::ReplicationFactorChange { from: 3, to: 2 })
        );
        let shrink = reassign(&img, T, 0, &s0, &[2, 1], true).unwrap().unwrap();
        assert_eq!(shrink.replicas, Some(vec![2, 1]));
        assert_eq!(shrink.isr, Some(vec![1, 2]));
        assert_eq!(shrink.leader, Some(1), "the leader stays, with a new epoch");
        assert_eq!(shrink.adding_replicas, None);
        // The same assignment again changes nothing.
        assert_eq!(reassign(&img, T, 0, &s0, &[1, 2, 3], false), Ok(None));
    }

    #[test]
    fn cancelling_reverts_and_needs_a_reassignment() {
        let img = image(LIVE3, &[(&[1, 2], &[1, 2], 1)]);
        let s0 = state(&img, 0);
        assert_eq!(
            cancel_reassignment(&img, T, 0, &s0),
            Err(ElectionError::NoReassignmentInProgress)
        );
        let img = apply(
            &img,
            reassign(&img, T, 0, &s0, &[2, 3], false).unwrap().unwrap(),
        );
        let s1 = state(&img, 0);
        let img = apply(&img, cancel_reassignment(&img, T, 0, &s1).unwrap());
        let s2 = state(&img, 0);
        assert_eq!(
            (s2.replicas.clone(), s2.isr.clone(), s2.leader),
            (vec![2, 1], vec![1, 2], 1)
        );
        assert!(!s2.is_reassigning());
        // A reassignment to somewhere else replaces one in progress; the original stays the base.
        let img2 = image(LIVE3, &[(&[1, 2], &[1, 2], 1)]);
        let a = state(&img2, 0);
        let img2 = apply(
            &img2,
            reassign(&img2, T, 0, &a, &[2, 3], false).unwrap().unwrap(),
        );
        let b = state(&img2, 0);
        let img2 = apply(
            &img2,
            reassign(&img2, T, 0, &b, &[3, 1], false).unwrap().unwrap(),
        );
        let c = state(&img2, 0);
        assert_eq!(c.replicas, vec![3, 1, 2]);
        assert_eq!(c.adding_replicas, vec![3]);
        assert_eq!(c.removing_replicas, vec![2]);
    }

    #[test]
    fn partition_records_without_reassignment_fields_still_decode() {
        let old = r#"{"partition_id":0,"topic_id":"0102030405060708090a0b0c0d0e0f10","replicas":[1],"isr":[1],"leader":1,"leader_epoch":0,"partition_epoch":0}"#;
        let r: PartitionRecord = serde_json::from_str(old).unwrap();
        assert!(r.adding_replicas.is_empty() && r.removing_replicas.is_empty());
        assert_eq!(serde_json::to_string(&r).unwrap(), old, "encodes as before");
        let change = r#"{"partition_id":0,"topic_id":"x","isr":[1],"leader":null,"replicas":null}"#;
        let c: PartitionChangeRecord = serde_json::from_str(change).unwrap();
        assert_eq!((c.adding_replicas, c.removing_replicas), (None, None));
        let st = r#"{"replicas":[1],"isr":[1],"leader":1,"leader_epoch":0,"partition_epoch":0}"#;
        let s: PartitionState = serde_json::from_str(st).unwrap();
        assert!(!s.is_reassigning());
    }

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
