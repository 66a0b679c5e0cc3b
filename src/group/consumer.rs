//! KIP-848 consumer groups: the `ConsumerGroupHeartbeat` state machine (group.protocol=consumer).
//!
//! Contract: `ConsumerGroup` is a state machine `(state, request, now) -> (effects, response)`;
//! it reads no clock (every call takes `now_ms`) and does no I/O. Its durable part is
//! `ConsumerGroupSnapshot`; `Effects::persist` says when that changed and must be written.
//!
//! The model is Kafka 4.1's (`GroupMetadataManager.consumerGroupHeartbeat`,
//! `CurrentAssignmentBuilder`, `ConsumerGroup`):
//! - The *group epoch* bumps when membership or subscriptions change, or when the subscribed
//!   topics change (created, deleted, more partitions: `subscribed_topics` is compared at every
//!   heartbeat). A bump recomputes the *target assignment* with the group's assignor and sets the
//!   *assignment epoch* to the group epoch.
//! - Each member converges to its target on its own heartbeats. Member states:
//!   `Stable` (reconciled to its epoch; goes to reconciliation when the assignment epoch moves),
//!   `UnrevokedPartitions` (was told to drop partitions; stays at its old epoch until the owned
//!   partitions it reports no longer contain them, or is fenced after `rebalance_timeout_ms`),
//!   `UnreleasedPartitions` (at the new epoch, waiting for partitions other members still hold;
//!   each heartbeat adds those released meanwhile).
//! - Invariant: a partition is in at most one member's `assigned ∪ pending_revocation`
//!   (`owners` indexes it), so it is never given to two members at once.
//! - Session expiry (`consumer_session_timeout_ms` after the last heartbeat) and the rebalance
//!   timeout remove the member, bump the group epoch and recompute the target (from the cached
//!   `subscribed_topics`, as `tick` sees no `TopicView`).
//!
//! - Classic members (KIP-848 online migration, Kafka's `classicGroup*ToConsumerGroup`): a
//!   member with `classic` metadata speaks JoinGroup/SyncGroup/Heartbeat/LeaveGroup. Its JoinGroup
//!   is answered at once (generation = member epoch, no leader): the subscription sets its topics,
//!   the owned partitions it lists say what it still holds, and it is reconciled like any member.
//!   SyncGroup returns its assigned partitions as a ConsumerProtocolAssignment; Heartbeat answers
//!   REBALANCE_IN_PROGRESS while it must rejoin (and it is removed if it does not rejoin within
//!   its rebalance timeout). Its session timeout is its own, not the group's. `from_classic`
//!   builds a group from a classic one; `only_classic_members`/`migrating_members` let the shell
//!   convert back.
//!
//! Group states (`state_name`): Empty (no members) -> Assigning (group epoch ahead of the
//! assignment epoch; transient here, as targets are computed at once) -> Reconciling (some
//! member not yet at the assignment epoch, or not Stable) -> Stable; Dead after `mark_dead`.
//!
//! Must not import: protocol, server, replication, log, controller.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use regex::Regex;

use super::assignor::{self, AssignorMember, MemberAssignment};
use super::classic::{
    JoinRequest, JoinResponse, MigratingMember, SyncRequest, SyncResponse, join_error,
};
use super::consumer_protocol;
use super::{GroupConfig, GroupError, TopicView};
use crate::model::TopicId;

/// `MemberEpoch` of a member leaving the group.
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// `MemberEpoch` of a static member leaving temporarily: it keeps its assignment until its
/// session times out or a new instance with the same instance id takes over.
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;
/// Longest accepted `SubscribedTopicRegex`, in bytes.
pub const REGEX_BYTES_MAX: usize = 4096;
/// Compiled size limit handed to the regex crate, in bytes.
const REGEX_COMPILED_BYTES_MAX: usize = 1 << 20;

/// A decoded ConsumerGroupHeartbeat request (the server fills client_id and client_host).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeartbeatRequest {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged since the last request.
    pub rebalance_timeout_ms: i32,
    /// None: unchanged.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// None: unchanged; `Some("")` clears it.
    pub subscribed_topic_regex: Option<String>,
    /// None: unchanged.
    pub server_assignor: Option<String>,
    /// None: unchanged since the last request.
    pub owned: Option<Vec<(TopicId, Vec<i32>)>>,
    pub client_id: String,
    pub client_host: String,
}

/// The successful ConsumerGroupHeartbeat response.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatResponse {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// None: unchanged since the last response.
    pub assignment: Option<Vec<(TopicId, Vec<i32>)>>,
}

/// What the caller must do after a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// The durable state (`snapshot()`) changed and must be written.
    pub persist: bool,
}

/// Kafka's `MemberState` (the reconciliation state of one member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Stable,
    UnrevokedPartitions,
    UnreleasedPartitions,
}

impl MemberState {
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Stable => "stable",
            MemberState::UnrevokedPartitions => "unrevoked_partitions",
            MemberState::UnreleasedPartitions => "unreleased_partitions",
        }
    }
}

/// The durable part of a member (Kafka's member metadata + current assignment records).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberSnapshot {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    /// Sorted, without duplicates.
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub state: MemberState,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    /// What the member may consume now.
    pub assigned: MemberAssignment,
    /// What it was told to give up and has not yet confirmed.
    pub pending_revocation: MemberAssignment,
    /// Set for a member speaking the classic protocol (JoinGroup/SyncGroup/Heartbeat) inside this
    /// group (KIP-848 online migration; Kafka's `ClassicMemberMetadata`).
    pub classic: Option<ClassicMetadata>,
}

/// What a classic member of a consumer group keeps from its last JoinGroup.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassicMetadata {
    pub session_timeout_ms: i32,
    /// (protocol name, ConsumerProtocol subscription) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
}

impl ClassicMetadata {
    /// The protocol the member prefers (Kafka answers classic members with the first one).
    fn first(&self) -> (&str, &[u8]) {
        self.protocols
            .first()
            .map(|(n, m)| (n.as_str(), m.as_ref()))
            .unwrap_or(("", &[]))
    }
}

impl MemberSnapshot {
    fn new(member_id: String) -> Self {
        MemberSnapshot {
            member_id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: 0,
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            server_assignor: None,
            state: MemberState::Stable,
            member_epoch: 0,
            previous_member_epoch: 0,
            assigned: MemberAssignment::new(),
            pending_revocation: MemberAssignment::new(),
            classic: None,
        }
    }

    /// The member's session timeout: its own for a classic member, the group's otherwise.
    fn session_timeout_ms(&self, cfg: &GroupConfig) -> i64 {
        match &self.classic {
            Some(c) => i64::from(c.session_timeout_ms.max(0)),
            None => i64::from(cfg.consumer_session_timeout_ms),
        }
    }
}

/// Everything a consumer group must persist to be rebuilt after a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerGroupSnapshot {
    pub group_id: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: Vec<MemberSnapshot>,
    pub target_assignment: BTreeMap<String, MemberAssignment>,
    /// Subscribed topic name -> (id, partition count) when the target was last computed, so a
    /// restart does not look like a metadata change.
    pub subscribed_topics: BTreeMap<String, (TopicId, i32)>,
}

/// One member in ConsumerGroupDescribe.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub assignment: Vec<(TopicId, Vec<i32>)>,
    pub target_assignment: Vec<(TopicId, Vec<i32>)>,
    /// Speaks the classic protocol (ConsumerGroupDescribe v1 member type 0).
    pub classic: bool,
}

/// A group in ConsumerGroupDescribe.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerGroupDescription {
    pub group_id: String,
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    pub members: Vec<ConsumerMemberDescription>,
}

#[derive(Debug, Clone)]
struct Member {
    p: MemberSnapshot,
    /// None only for members restored from a snapshot and not yet seen by `tick`.
    session_deadline_ms: Option<i64>,
    /// (deadline, the member epoch it applies to) while in UnrevokedPartitions.
    rebalance_deadline: Option<(i64, i32)>,
    /// The owned partitions last reported, for requests that say "unchanged".
    last_owned: Option<MemberAssignment>,
}

/// A KIP-848 consumer group. See the module doc for its states and invariants.
#[derive(Debug, Clone)]
pub struct ConsumerGroup {
    group_id: String,
    group_epoch: i32,
    assignment_epoch: i32,
    members: BTreeMap<String, Member>,
    /// instance id -> member id
    static_members: BTreeMap<String, String>,
    target: BTreeMap<String, MemberAssignment>,
    subscribed_topics: BTreeMap<String, (TopicId, i32)>,
    /// partition -> the member holding it (assigned or pending revocation)
    owners: BTreeMap<(TopicId, i32), String>,
    regex_cache: BTreeMap<String, Regex>,
    restored_at_ms: Option<i64>,
    dead: bool,
    member_seq: u64,
    /// `consumer_assignors[0]` of the last config seen, for `describe`.
    default_assignor: String,
}

type Tp = (TopicId, i32);

fn to_wire(a: &MemberAssignment) -> Vec<(TopicId, Vec<i32>)> {
    a.iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(t, ps)| (*t, ps.iter().copied().collect()))
        .collect()
}

fn from_wire(v: &[(TopicId, Vec<i32>)]) -> MemberAssignment {
    let mut out = MemberAssignment::new();
    for (t, ps) in v {
        if !ps.is_empty() {
            out.entry(*t).or_default().extend(ps.iter().copied());
        }
    }
    out
}

fn partitions_of(a: &MemberAssignment) -> impl Iterator<Item = Tp> + '_ {
    a.iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
}

fn is_subset(owned: &MemberAssignment, of: &MemberAssignment) -> bool {
    owned
        .iter()
        .all(|(t, ps)| ps.is_empty() || of.get(t).is_some_and(|o| ps.is_subset(o)))
}

fn intersects(a: &MemberAssignment, b: &MemberAssignment) -> bool {
    a.iter()
        .any(|(t, ps)| b.get(t).is_some_and(|o| !ps.is_disjoint(o)))
}

/// The protocol type of classic consumers (ConsumerProtocol metadata).
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Topic names to ids through the metadata; unknown topics are dropped.
fn by_id(parts: &[(String, Vec<i32>)], topics: &dyn TopicView) -> MemberAssignment {
    let mut out = MemberAssignment::new();
    for (name, ps) in parts {
        if let Some((id, _)) = topics.topic(name)
            && !ps.is_empty()
        {
            out.entry(id).or_default().extend(ps.iter().copied());
        }
    }
    out
}

fn compile_regex(pattern: &str) -> Result<Regex, GroupError> {
    if pattern.len() > REGEX_BYTES_MAX {
        return Err(GroupError::InvalidRegularExpression(format!(
            "longer than {REGEX_BYTES_MAX} bytes"
        )));
    }
    // Kafka (RE2J) matches the whole topic name.
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_COMPILED_BYTES_MAX)
        .build()
        .map_err(|e| GroupError::InvalidRegularExpression(e.to_string()))
}

fn normalize_names(names: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = names.iter().filter(|n| !n.is_empty()).collect();
    set.into_iter().cloned().collect()
}

impl ConsumerGroup {
    pub fn new(group_id: String) -> Self {
        ConsumerGroup {
            group_id,
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscribed_topics: BTreeMap::new(),
            owners: BTreeMap::new(),
            regex_cache: BTreeMap::new(),
            restored_at_ms: None,
            dead: false,
            member_seq: 0,
            default_assignor: "uniform".to_string(),
        }
    }

    /// Rebuilds a group from what `snapshot` returned. Restored members get their session (and,
    /// when revoking, rebalance) deadlines counted from `now_ms` at the next `tick`/`heartbeat`,
    /// as Kafka reschedules its timers when it loads a group. A snapshot claiming a partition for
    /// two members keeps it with the first (by member id).
    pub fn from_snapshot(s: ConsumerGroupSnapshot, now_ms: i64) -> Self {
        let mut g = ConsumerGroup::new(s.group_id);
        g.group_epoch = s.group_epoch;
        g.assignment_epoch = s.assignment_epoch;
        g.target = s.target_assignment;
        g.subscribed_topics = s.subscribed_topics;
        for mut p in s.members {
            if g.members.contains_key(&p.member_id) {
                continue;
            }
            for a in [&mut p.assigned, &mut p.pending_revocation] {
                for (t, ps) in a.iter_mut() {
                    ps.retain(|x| !g.owners.contains_key(&(*t, *x)));
                }
                a.retain(|_, ps| !ps.is_empty());
            }
            for tp in partitions_of(&p.assigned).chain(partitions_of(&p.pending_revocation)) {
                g.owners.insert(tp, p.member_id.clone());
            }
            if let Some(i) = &p.instance_id {
                g.static_members
                    .entry(i.clone())
                    .or_insert_with(|| p.member_id.clone());
            }
            let id = p.member_id.clone();
            g.members.insert(
                id,
                Member {
                    p,
                    session_deadline_ms: None,
                    rebalance_deadline: None,
                    last_owned: None,
                },
            );
        }
        g.target.retain(|id, _| g.members.contains_key(id));
        g.restored_at_ms = Some(now_ms);
        g
    }

    /// A group known only by its persisted group epoch (no members): its former members are
    /// answered UNKNOWN_MEMBER_ID and rejoin, and the epoch keeps growing from where it was.
    /// `from_snapshot` restores everything instead.
    pub fn restored(group_id: String, group_epoch: i32) -> Self {
        let mut g = ConsumerGroup::new(group_id);
        g.group_epoch = group_epoch.max(0);
        g.assignment_epoch = g.group_epoch;
        g
    }

    pub fn snapshot(&self) -> ConsumerGroupSnapshot {
        ConsumerGroupSnapshot {
            group_id: self.group_id.clone(),
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            members: self.members.values().map(|m| m.p.clone()).collect(),
            target_assignment: self.target.clone(),
            subscribed_topics: self.subscribed_topics.clone(),
        }
    }

    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    pub fn group_epoch(&self) -> i32 {
        self.group_epoch
    }

    pub fn assignment_epoch(&self) -> i32 {
        self.assignment_epoch
    }

    /// Handles one ConsumerGroupHeartbeat (join, heartbeat, leave). Expired members are removed
    /// first, as if `tick(now_ms)` had run.
    pub fn heartbeat(
        &mut self,
        req: HeartbeatRequest,
        topics: &dyn TopicView,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (Result<HeartbeatResponse, GroupError>, Effects) {
        let mut fx = self.tick(now_ms, cfg);
        let res = self.heartbeat_inner(req, topics, now_ms, cfg, &mut fx);
        (res, fx)
    }

    fn heartbeat_inner(
        &mut self,
        req: HeartbeatRequest,
        topics: &dyn TopicView,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> Result<HeartbeatResponse, GroupError> {
        validate_request(&req, cfg)?;
        if let Some(rx) = req.subscribed_topic_regex.as_deref()
            && !rx.is_empty()
            && !self.regex_cache.contains_key(rx)
        {
            let compiled = compile_regex(rx)?;
            self.regex_cache.insert(rx.to_string(), compiled);
        }

        if self.dead {
            if req.member_epoch != 0 {
                return Err(GroupError::GroupIdNotFound);
            }
            // A join re-creates a deleted group, as Kafka creates a new one in its place.
            *self = ConsumerGroup::new(std::mem::take(&mut self.group_id));
        }

        if req.member_epoch == LEAVE_GROUP_MEMBER_EPOCH
            || req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH
        {
            return self.leave(&req, cfg, fx);
        }

        let mut member_id = req.member_id.clone();
        if self.members.len() >= cfg.consumer_group_size_max
            && (member_id.is_empty() || !self.members.contains_key(&member_id))
        {
            return Err(GroupError::GroupMaxSizeReached);
        }
        if member_id.is_empty() {
            member_id = self.generate_member_id(now_ms);
        }

        // Find the member this request speaks for, or the one it creates or replaces.
        let existing: Option<MemberSnapshot>;
        let mut replaces: Option<String> = None;
        match &req.instance_id {
            Some(iid) => match self.static_members.get(iid).cloned() {
                None => {
                    if req.member_epoch != 0 {
                        return Err(GroupError::UnknownMemberId);
                    }
                    existing = self.members.get(&member_id).map(|m| m.p.clone());
                    if let Some(m) = &existing {
                        check_epoch(m, req.member_epoch, req.owned.as_deref())?;
                    }
                }
                Some(held_by) if held_by == member_id => {
                    // Also a join retried with the same member id (Kafka would answer
                    // UNRELEASED_INSTANCE_ID until the session expires).
                    let m = self.members.get(&member_id).map(|m| m.p.clone());
                    let Some(m) = m else {
                        return Err(GroupError::UnknownMemberId);
                    };
                    check_epoch(&m, req.member_epoch, req.owned.as_deref())?;
                    existing = Some(m);
                }
                Some(held_by) => {
                    if req.member_epoch != 0 {
                        return Err(GroupError::FencedInstanceId(iid.clone()));
                    }
                    let Some(old) = self.members.get(&held_by).map(|m| m.p.clone()) else {
                        return Err(GroupError::UnknownMemberId);
                    };
                    if old.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                        return Err(GroupError::UnreleasedInstanceId(iid.clone()));
                    }
                    if self.members.contains_key(&member_id) {
                        return Err(GroupError::InvalidRequest(
                            "member id already used by another member".into(),
                        ));
                    }
                    // The new instance takes the old one's place and assignment.
                    let mut copy = old;
                    copy.member_id = member_id.clone();
                    copy.member_epoch = 0;
                    copy.previous_member_epoch = 0;
                    existing = Some(copy);
                    replaces = Some(held_by);
                }
            },
            None => match self.members.get(&member_id) {
                Some(m) => {
                    check_epoch(&m.p, req.member_epoch, req.owned.as_deref())?;
                    existing = Some(m.p.clone());
                }
                None => {
                    if req.member_epoch != 0 {
                        return Err(GroupError::UnknownMemberId);
                    }
                    existing = None;
                }
            },
        }

        // 1. Create or update the member; bump the group epoch if its subscription changed.
        let is_new = existing.is_none();
        let before = existing.unwrap_or_else(|| MemberSnapshot::new(member_id.clone()));
        let mut p = before.clone();
        if let Some(i) = &req.instance_id {
            p.instance_id = Some(i.clone());
        }
        if let Some(r) = &req.rack_id {
            p.rack_id = Some(r.clone());
        }
        if req.rebalance_timeout_ms >= 0 {
            p.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if let Some(a) = &req.server_assignor {
            p.server_assignor = Some(a.clone());
        }
        if let Some(names) = &req.subscribed_topic_names {
            p.subscribed_topic_names = normalize_names(names);
        }
        if let Some(rx) = &req.subscribed_topic_regex {
            p.subscribed_topic_regex = if rx.is_empty() {
                None
            } else {
                Some(rx.clone())
            };
        }
        p.client_id = req.client_id.clone();
        p.client_host = req.client_host.clone();

        let owned = req.owned.as_deref().map(from_wire);
        self.upsert_and_reconcile(&before, p, is_new, replaces, owned, topics, now_ms, cfg, fx);
        let assigned_before = before.assigned.clone();
        let Some(m) = self.members.get(&member_id) else {
            return Err(GroupError::UnknownMemberId);
        };

        // Kafka sends the assignment on full requests (joins, and requests after an error carry
        // every field) and whenever it changed.
        let full_request = req.member_epoch == 0
            || (req.rebalance_timeout_ms >= 0
                && req.subscribed_topic_names.is_some()
                && req.owned.is_some());
        let assignment = if full_request || m.p.assigned != assigned_before {
            Some(to_wire(&m.p.assigned))
        } else {
            None
        };
        Ok(HeartbeatResponse {
            member_id,
            member_epoch: m.p.member_epoch,
            heartbeat_interval_ms: cfg.consumer_heartbeat_interval_ms,
            assignment,
        })
    }

    /// The steps both protocols share once the request's member is known (Kafka's
    /// consumerGroupHeartbeat and classicGroupJoinToConsumerGroup steps 1-3): store `p` in place
    /// of `before` (or of the static member `replaces`), bump the group epoch if membership or
    /// subscriptions changed, recompute the target, restart the member's session and move it
    /// towards its target given what it says it `owned` (None: unchanged).
    #[allow(clippy::too_many_arguments)]
    fn upsert_and_reconcile(
        &mut self,
        before: &MemberSnapshot,
        p: MemberSnapshot,
        is_new: bool,
        replaces: Option<String>,
        owned: Option<MemberAssignment>,
        topics: &dyn TopicView,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) {
        let member_id = p.member_id.clone();
        let subscription_changed = p.subscribed_topic_names != before.subscribed_topic_names
            || p.subscribed_topic_regex != before.subscribed_topic_regex;
        let mut bump = self.group_epoch == 0 || subscription_changed || is_new;
        let member_changed = is_new || replaces.is_some() || p != *before;

        if let Some(old_id) = &replaces {
            self.remove_member(old_id);
            if let Some(t) = self.target.remove(old_id) {
                self.target.insert(member_id.clone(), t);
            }
        }
        let prior_state = self.members.remove(&member_id);
        let (session_deadline_ms, rebalance_deadline, last_owned) = match prior_state {
            Some(m) => {
                unindex(&mut self.owners, &m.p);
                (m.session_deadline_ms, m.rebalance_deadline, m.last_owned)
            }
            None => (None, None, None),
        };
        index(&mut self.owners, &p);
        if let Some(i) = &p.instance_id {
            self.static_members.insert(i.clone(), member_id.clone());
        }
        self.members.insert(
            member_id.clone(),
            Member {
                p,
                session_deadline_ms,
                rebalance_deadline,
                last_owned,
            },
        );

        // 2. Refresh what the subscriptions resolve to; any change bumps the group epoch.
        let resolved = self.resolve_subscriptions(topics);
        if resolved != self.subscribed_topics {
            self.subscribed_topics = resolved;
            bump = true;
        }
        let epochs_before = (self.group_epoch, self.assignment_epoch);
        if bump {
            self.group_epoch = self.group_epoch.saturating_add(1);
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target(cfg);
        }

        // 3. Move this member towards its target.
        let persisted_before = self.members.get(&member_id).map(|m| m.p.clone());
        let Some(m) = self.members.get_mut(&member_id) else {
            return;
        };
        if owned.is_some() {
            m.last_owned = owned;
        }
        m.session_deadline_ms = Some(now_ms.saturating_add(m.p.session_timeout_ms(cfg)));
        self.reconcile(&member_id, now_ms);

        let changed = self
            .members
            .get(&member_id)
            .is_none_or(|m| persisted_before.as_ref() != Some(&m.p));
        if member_changed || epochs_before != (self.group_epoch, self.assignment_epoch) || changed {
            fx.persist = true;
        }
    }

    fn leave(
        &mut self,
        req: &HeartbeatRequest,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> Result<HeartbeatResponse, GroupError> {
        let member_id = match &req.instance_id {
            Some(iid) => {
                let Some(held_by) = self.static_members.get(iid).cloned() else {
                    return Err(GroupError::UnknownMemberId);
                };
                if held_by != req.member_id {
                    return Err(GroupError::FencedInstanceId(iid.clone()));
                }
                held_by
            }
            None => {
                if !self.members.contains_key(&req.member_id) {
                    return Err(GroupError::UnknownMemberId);
                }
                req.member_id.clone()
            }
        };
        if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // The static member keeps its place and partitions until its session expires or a
            // new instance replaces it; nothing is rebalanced.
            if let Some(m) = self.members.get_mut(&member_id)
                && m.p.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH
            {
                m.p.previous_member_epoch = m.p.member_epoch;
                m.p.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
                m.rebalance_deadline = None;
                fx.persist = true;
            }
        } else {
            self.fence(std::slice::from_ref(&member_id), cfg);
            fx.persist = true;
        }
        Ok(HeartbeatResponse {
            member_id,
            member_epoch: req.member_epoch,
            heartbeat_interval_ms: cfg.consumer_heartbeat_interval_ms,
            assignment: None,
        })
    }

    /// Session expiry and rebalance timeouts. Call at `next_deadline_ms`.
    pub fn tick(&mut self, now_ms: i64, cfg: &GroupConfig) -> Effects {
        self.default_assignor = default_assignor(cfg);
        if self.dead {
            return Effects::default();
        }
        if let Some(t0) = self.restored_at_ms.take() {
            for m in self.members.values_mut() {
                if m.session_deadline_ms.is_none() {
                    m.session_deadline_ms = Some(t0.saturating_add(m.p.session_timeout_ms(cfg)));
                }
                if m.p.state == MemberState::UnrevokedPartitions && m.rebalance_deadline.is_none() {
                    m.rebalance_deadline = Some((
                        t0.saturating_add(i64::from(m.p.rebalance_timeout_ms)),
                        m.p.member_epoch,
                    ));
                }
            }
        }
        let mut expired = Vec::new();
        for (id, m) in self.members.iter_mut() {
            let session_over = m.session_deadline_ms.is_some_and(|d| d <= now_ms);
            let rebalance_over = match m.rebalance_deadline {
                Some((d, epoch)) if d <= now_ms => {
                    if epoch == m.p.member_epoch {
                        true
                    } else {
                        m.rebalance_deadline = None;
                        false
                    }
                }
                _ => false,
            };
            if session_over || rebalance_over {
                expired.push(id.clone());
            }
        }
        if expired.is_empty() {
            return Effects::default();
        }
        self.fence(&expired, cfg);
        Effects { persist: true }
    }

    /// When `tick` must next run, if ever.
    pub fn next_deadline_ms(&self) -> Option<i64> {
        if self.dead {
            return None;
        }
        let deadlines = self.members.values().flat_map(|m| {
            m.session_deadline_ms
                .into_iter()
                .chain(m.rebalance_deadline.map(|(d, _)| d))
        });
        deadlines.chain(self.restored_at_ms).min()
    }

    /// OffsetCommit (v9+) checks, as Kafka 4.1's `ConsumerGroup.validateOffsetCommit`: a commit
    /// without a member (epoch < 0) is allowed only while the group has no members; otherwise the
    /// member must exist (UnknownMemberId) and the epoch must equal its current one exactly
    /// (StaleMemberEpoch, whether older or newer).
    /// Kafka's ConsumerGroup.validateOffsetCommit: a commit without a member (negative epoch)
    /// is accepted only while the group is empty; a consumer-protocol member must use an
    /// OffsetCommit version that knows member epochs (`modern_version`, v9+), and its epoch must
    /// be current (newer: FENCED_MEMBER_EPOCH, older: STALE_MEMBER_EPOCH); a classic member's
    /// epoch is its generation (ILLEGAL_GENERATION).
    pub fn validate_offset_commit(
        &mut self,
        member_id: &str,
        member_epoch: i32,
        modern_version: bool,
        _now_ms: i64,
    ) -> Result<(), GroupError> {
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let m = self
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        let current = m.p.member_epoch;
        if m.p.classic.is_some() {
            if member_epoch != current {
                return Err(GroupError::IllegalGeneration {
                    current,
                    got: member_epoch,
                });
            }
            return Ok(());
        }
        if !modern_version {
            return Err(GroupError::UnsupportedVersion(
                "OffsetCommit version 9 or above must be used by members using the modern group \
                 protocol"
                    .into(),
            ));
        }
        if member_epoch > current {
            return Err(GroupError::FencedMemberEpoch {
                current,
                got: member_epoch,
            });
        }
        if member_epoch < current {
            return Err(GroupError::StaleMemberEpoch {
                current,
                got: member_epoch,
            });
        }
        Ok(())
    }

    // ----- classic members (KIP-848 online migration) -----

    /// Kafka's `ConsumerGroup.fromClassicGroup`: the classic group's members become members of
    /// a new consumer group at epoch `generation`, Stable, each with its last classic assignment
    /// as both its current and its target assignment (a classic group that was rebalancing has
    /// its members rejoin, as the next group epoch is higher). A subscription or assignment that
    /// does not parse refuses the conversion (GROUP_ID_NOT_FOUND, as Kafka).
    pub fn from_classic(
        group_id: String,
        generation: i32,
        protocol_name: Option<&str>,
        members: Vec<MigratingMember>,
        topics: &dyn TopicView,
        now_ms: i64,
    ) -> Result<ConsumerGroup, GroupError> {
        let refuse = |e: consumer_protocol::CodecError| {
            tracing::info!(error = %e, "a classic group whose metadata does not parse stays classic");
            GroupError::GroupIdNotFound
        };
        let mut snapshot = ConsumerGroupSnapshot {
            group_id,
            group_epoch: generation,
            assignment_epoch: generation,
            members: Vec::with_capacity(members.len()),
            target_assignment: BTreeMap::new(),
            subscribed_topics: BTreeMap::new(),
        };
        for m in members {
            let metadata = m
                .protocols
                .iter()
                .find(|(n, _)| Some(n.as_str()) == protocol_name)
                .or(m.protocols.first())
                .map(|(_, meta)| meta.clone())
                .unwrap_or_default();
            let sub = consumer_protocol::decode_subscription(&metadata).map_err(refuse)?;
            let assigned = by_id(
                &consumer_protocol::decode_assignment(&m.assignment).map_err(refuse)?,
                topics,
            );
            snapshot
                .target_assignment
                .insert(m.member_id.clone(), assigned.clone());
            snapshot.members.push(MemberSnapshot {
                member_id: m.member_id,
                instance_id: m.group_instance_id,
                rack_id: sub.rack_id,
                client_id: m.client_id,
                client_host: m.client_host,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                subscribed_topic_names: normalize_names(&sub.topics),
                subscribed_topic_regex: None,
                server_assignor: None,
                state: MemberState::Stable,
                member_epoch: generation,
                previous_member_epoch: generation,
                assigned,
                pending_revocation: MemberAssignment::new(),
                classic: Some(ClassicMetadata {
                    session_timeout_ms: m.session_timeout_ms,
                    protocols: m.protocols,
                }),
            });
        }
        let mut g = ConsumerGroup::from_snapshot(snapshot, now_ms);
        g.subscribed_topics = g.resolve_subscriptions(topics);
        Ok(g)
    }

    /// True when members remain and every one speaks the classic protocol: the group may become
    /// a classic group again (Kafka's `allMembersUseClassicProtocolExcept` after a fence).
    pub fn only_classic_members(&self) -> bool {
        !self.members.is_empty() && self.members.values().all(|m| m.p.classic.is_some())
    }

    /// The members as `ClassicGroup::from_consumer` takes them, each with its target assignment
    /// by topic name.
    pub fn migrating_members(&self) -> Vec<(MigratingMember, Vec<(String, Vec<i32>)>)> {
        let empty = MemberAssignment::new();
        self.members
            .values()
            .filter_map(|m| {
                let c = m.p.classic.as_ref()?;
                let target = self.target.get(&m.p.member_id).unwrap_or(&empty);
                Some((
                    MigratingMember {
                        member_id: m.p.member_id.clone(),
                        group_instance_id: m.p.instance_id.clone(),
                        client_id: m.p.client_id.clone(),
                        client_host: m.p.client_host.clone(),
                        rebalance_timeout_ms: m.p.rebalance_timeout_ms,
                        session_timeout_ms: c.session_timeout_ms,
                        protocols: c.protocols.clone(),
                        assignment: Bytes::new(),
                    },
                    self.by_name(target),
                ))
            })
            .collect()
    }

    /// JoinGroup from a classic member (Kafka's `classicGroupJoinToConsumerGroup`): answered at
    /// once with the member's epoch as the generation and no leader (the broker assigns). The
    /// subscription drives the member's topics; the owned partitions it lists tell what it has
    /// revoked.
    pub fn classic_join(
        &mut self,
        req: JoinRequest,
        topics: &dyn TopicView,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (JoinResponse, Effects) {
        let mut fx = self.tick(now_ms, cfg);
        let requested = req.member_id.clone();
        let response = match self.classic_join_inner(req, topics, now_ms, cfg, &mut fx) {
            Ok(r) => r,
            Err((e, member_id)) => join_error(&member_id.unwrap_or(requested), e),
        };
        (response, fx)
    }

    fn classic_join_inner(
        &mut self,
        req: JoinRequest,
        topics: &dyn TopicView,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> Result<JoinResponse, (GroupError, Option<String>)> {
        if req.session_timeout_ms < cfg.session_timeout_ms_min
            || req.session_timeout_ms > cfg.session_timeout_ms_max
        {
            return Err((
                GroupError::InvalidSessionTimeout(req.session_timeout_ms),
                None,
            ));
        }
        self.check_classic_protocols(&req.protocol_type, &req.protocols)
            .map_err(|e| (e, None))?;
        let unknown = req.member_id.is_empty();
        let member_id = if unknown {
            self.generate_member_id(now_ms)
        } else {
            req.member_id.clone()
        };
        if !self.members.contains_key(&member_id)
            && self.members.len() >= cfg.consumer_group_size_max
        {
            return Err((GroupError::GroupMaxSizeReached, None));
        }
        if unknown && req.require_known_member_id && req.group_instance_id.is_none() {
            return Err((GroupError::MemberIdRequired, Some(member_id)));
        }
        let (protocol_name, metadata) = req
            .protocols
            .first()
            .map(|(n, m)| (n.clone(), m.clone()))
            .unwrap_or_default();
        let sub = consumer_protocol::decode_subscription(&metadata).map_err(|e| {
            (
                GroupError::InconsistentGroupProtocol(format!("unreadable subscription: {e}")),
                None,
            )
        })?;

        let mut replaces = None;
        let existing = match &req.group_instance_id {
            None => match self.members.get(&member_id) {
                Some(m) if m.p.classic.is_none() => {
                    return Err((GroupError::UnknownMemberId, None));
                }
                Some(m) => Some(m.p.clone()),
                None => None,
            },
            Some(iid) => match self.static_members.get(iid).cloned() {
                None if unknown => None,
                None => return Err((GroupError::UnknownMemberId, None)),
                Some(held_by) if unknown => {
                    let Some(old) = self.members.get(&held_by).map(|m| m.p.clone()) else {
                        return Err((GroupError::UnknownMemberId, None));
                    };
                    // A classic instance closes without leaving: its new instance replaces it.
                    // A consumer-protocol one must have left temporarily first.
                    if old.classic.is_none() && old.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH
                    {
                        return Err((GroupError::UnreleasedInstanceId(iid.clone()), None));
                    }
                    let mut copy = old;
                    copy.member_id = member_id.clone();
                    copy.member_epoch = 0;
                    copy.previous_member_epoch = 0;
                    replaces = Some(held_by);
                    Some(copy)
                }
                Some(held_by) if held_by != member_id => {
                    return Err((GroupError::FencedInstanceId(iid.clone()), None));
                }
                Some(held_by) => match self.members.get(&held_by) {
                    Some(m) if m.p.classic.is_some() => Some(m.p.clone()),
                    _ => return Err((GroupError::UnknownMemberId, None)),
                },
            },
        };

        let is_new = existing.is_none();
        let before = existing.unwrap_or_else(|| MemberSnapshot::new(member_id.clone()));
        let mut p = before.clone();
        if let Some(i) = &req.group_instance_id {
            p.instance_id = Some(i.clone());
        }
        if let Some(r) = &sub.rack_id {
            p.rack_id = Some(r.clone());
        }
        p.rebalance_timeout_ms = req.rebalance_timeout_ms;
        p.subscribed_topic_names = normalize_names(&sub.topics);
        p.client_id = req.client_id.clone();
        p.client_host = req.client_host.clone();
        p.classic = Some(ClassicMetadata {
            session_timeout_ms: req.session_timeout_ms,
            protocols: req.protocols,
        });
        let owned = by_id(&sub.owned_partitions, topics);
        self.upsert_and_reconcile(
            &before,
            p,
            is_new,
            replaces,
            Some(owned),
            topics,
            now_ms,
            cfg,
            fx,
        );
        let m = self
            .members
            .get_mut(&member_id)
            .ok_or((GroupError::UnknownMemberId, None))?;
        // The join answers the rejoin a heartbeat asked for (Kafka cancels its join timeout); a
        // member still revoking keeps the deadline reconciliation set.
        if m.p.state != MemberState::UnrevokedPartitions {
            m.rebalance_deadline = None;
        }
        let epoch = m.p.member_epoch;
        Ok(JoinResponse {
            error: None,
            generation_id: epoch,
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name: Some(protocol_name),
            leader: String::new(),
            skip_assignment: false,
            member_id,
            members: Vec::new(),
        })
    }

    /// SyncGroup from a classic member (Kafka's `classicGroupSyncToConsumerGroup`): its current
    /// assignment, in the ConsumerProtocol version of its subscription. REBALANCE_IN_PROGRESS
    /// when the group moved on and the member must rejoin first.
    pub fn classic_sync(
        &mut self,
        req: &SyncRequest,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (Result<SyncResponse, GroupError>, Effects) {
        let fx = self.tick(now_ms, cfg);
        (self.classic_sync_inner(req, now_ms, cfg), fx)
    }

    fn classic_sync_inner(
        &mut self,
        req: &SyncRequest,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> Result<SyncResponse, GroupError> {
        let id = self.classic_member(&req.member_id, req.group_instance_id.as_deref())?;
        let group_epoch = self.group_epoch;
        let Some(m) = self.members.get_mut(&id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if req.generation_id != m.p.member_epoch {
            return Err(GroupError::IllegalGeneration {
                current: m.p.member_epoch,
                got: req.generation_id,
            });
        }
        let (first_name, first_meta) =
            m.p.classic
                .as_ref()
                .map(|c| c.first())
                .map(|(n, meta)| (n.to_string(), consumer_protocol::version_of(meta)))
                .unwrap_or_default();
        if req
            .protocol_type
            .as_deref()
            .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE)
            || req
                .protocol_name
                .as_deref()
                .is_some_and(|n| n != first_name)
        {
            return Err(GroupError::InconsistentGroupProtocol(
                "protocol type or name differs from the member's join".into(),
            ));
        }
        // A member in UnrevokedPartitions already rejoined: it first gets its reduced assignment.
        if group_epoch > m.p.member_epoch && m.p.state != MemberState::UnrevokedPartitions {
            return Err(GroupError::RebalanceInProgress);
        }
        m.session_deadline_ms = Some(now_ms.saturating_add(m.p.session_timeout_ms(cfg)));
        let assigned = m.p.assigned.clone();
        Ok(SyncResponse {
            error: None,
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name: Some(first_name),
            assignment: consumer_protocol::encode_assignment(first_meta, &self.by_name(&assigned)),
        })
    }

    /// Heartbeat from a classic member (Kafka's `classicGroupHeartbeatToConsumerGroup`):
    /// REBALANCE_IN_PROGRESS when its assignment must change (the group epoch moved, it must
    /// finish revoking, or partitions it waits for were released).
    pub fn classic_heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (Result<(), GroupError>, Effects) {
        let fx = self.tick(now_ms, cfg);
        let res = (|| {
            let id = self.classic_member(member_id, instance_id)?;
            let waiting = self.waiting_on_unreleased(&id);
            let group_epoch = self.group_epoch;
            let m = self
                .members
                .get_mut(&id)
                .ok_or(GroupError::UnknownMemberId)?;
            if generation_id != m.p.member_epoch {
                return Err(GroupError::IllegalGeneration {
                    current: m.p.member_epoch,
                    got: generation_id,
                });
            }
            m.session_deadline_ms = Some(now_ms.saturating_add(m.p.session_timeout_ms(cfg)));
            if m.p.member_epoch < group_epoch
                || m.p.state == MemberState::UnrevokedPartitions
                || (m.p.state == MemberState::UnreleasedPartitions && !waiting)
            {
                // Kafka's join timeout: a member told to rejoin that does not within its
                // rebalance timeout is removed (`tick`), so it cannot hold partitions forever.
                if m.rebalance_deadline.is_none() {
                    m.rebalance_deadline = Some((
                        now_ms.saturating_add(i64::from(m.p.rebalance_timeout_ms.max(0))),
                        m.p.member_epoch,
                    ));
                }
                return Err(GroupError::RebalanceInProgress);
            }
            Ok(())
        })();
        (res, fx)
    }

    /// LeaveGroup of classic members (Kafka's `classicGroupLeaveToConsumerGroup`): one result
    /// per entry; an empty member id with an instance id removes that static member.
    pub fn classic_leave(
        &mut self,
        members: Vec<(String, Option<String>)>,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (Vec<Result<(), GroupError>>, Effects) {
        let mut fx = self.tick(now_ms, cfg);
        let mut leaving = Vec::new();
        let results = members
            .into_iter()
            .map(|(member_id, instance)| {
                let id = match instance.as_deref() {
                    Some(iid) if member_id.is_empty() => self
                        .static_members
                        .get(iid)
                        .cloned()
                        .ok_or(GroupError::UnknownMemberId)?,
                    _ => self.classic_member(&member_id, instance.as_deref())?,
                };
                leaving.push(id);
                Ok(())
            })
            .collect();
        if !leaving.is_empty() {
            self.fence(&leaving, cfg);
            fx.persist = true;
        }
        (results, fx)
    }

    /// Kafka's `validateConsumerGroupMember` + `throwIfMemberDoesNotUseClassicProtocol`.
    fn classic_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<String, GroupError> {
        if let Some(iid) = instance_id {
            match self.static_members.get(iid) {
                None => return Err(GroupError::UnknownMemberId),
                Some(held_by) if held_by != member_id => {
                    return Err(GroupError::FencedInstanceId(iid.to_string()));
                }
                Some(_) => {}
            }
        }
        match self.members.get(member_id) {
            Some(m) if m.p.classic.is_some() => Ok(member_id.to_string()),
            _ => Err(GroupError::UnknownMemberId),
        }
    }

    /// Kafka's `supportsClassicProtocols`: type "consumer", and (with classic members) one
    /// protocol every classic member supports.
    fn check_classic_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> Result<(), GroupError> {
        let refuse = |why: &str| Err(GroupError::InconsistentGroupProtocol(why.to_string()));
        if protocol_type != CONSUMER_PROTOCOL_TYPE {
            return refuse("a consumer group only takes the \"consumer\" protocol type");
        }
        if protocols.is_empty() {
            return refuse("no protocols");
        }
        let classic: Vec<&ClassicMetadata> = self
            .members
            .values()
            .filter_map(|m| m.p.classic.as_ref())
            .collect();
        let shared = protocols.iter().any(|(name, _)| {
            classic
                .iter()
                .all(|c| c.protocols.iter().any(|(n, _)| n == name))
        });
        if shared {
            Ok(())
        } else {
            refuse("no protocol in common with the group's classic members")
        }
    }

    /// Kafka's `waitingOnUnreleasedPartition`: some partition of the member's target is still
    /// held by another member.
    fn waiting_on_unreleased(&self, member_id: &str) -> bool {
        let Some(target) = self.target.get(member_id) else {
            return false;
        };
        partitions_of(target).any(|tp| self.owners.get(&tp).is_some_and(|o| o != member_id))
    }

    /// Topic ids to names through the cached subscribed topics, sorted by name.
    fn by_name(&self, a: &MemberAssignment) -> Vec<(String, Vec<i32>)> {
        self.subscribed_topics
            .iter()
            .filter_map(|(name, (id, _))| {
                let ps = a.get(id).filter(|ps| !ps.is_empty())?;
                Some((name.clone(), ps.iter().copied().collect()))
            })
            .collect()
    }

    pub fn describe(&self, topics: &dyn TopicView) -> ConsumerGroupDescription {
        let exists = |a: &MemberAssignment| -> Vec<(TopicId, Vec<i32>)> {
            to_wire(a)
                .into_iter()
                .filter(|(t, _)| topics.topic_by_id(*t).is_some())
                .collect()
        };
        let empty = MemberAssignment::new();
        ConsumerGroupDescription {
            group_id: self.group_id.clone(),
            state: self.state_name(),
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            assignor_name: self
                .preferred_assignor()
                .unwrap_or_else(|| self.default_assignor.clone()),
            members: self
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member_id: m.p.member_id.clone(),
                    instance_id: m.p.instance_id.clone(),
                    rack_id: m.p.rack_id.clone(),
                    member_epoch: m.p.member_epoch,
                    client_id: m.p.client_id.clone(),
                    client_host: m.p.client_host.clone(),
                    subscribed_topic_names: m.p.subscribed_topic_names.clone(),
                    subscribed_topic_regex: m.p.subscribed_topic_regex.clone(),
                    assignment: exists(&m.p.assigned),
                    target_assignment: exists(self.target.get(&m.p.member_id).unwrap_or(&empty)),
                    classic: m.p.classic.is_some(),
                })
                .collect(),
        }
    }

    /// Kafka's ConsumerGroupState name.
    pub fn state_name(&self) -> &'static str {
        if self.dead {
            "Dead"
        } else if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch > self.assignment_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.p.state != MemberState::Stable || m.p.member_epoch != self.assignment_epoch)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Every topic name the group subscribes to: the names given and the existing topics its
    /// regexes match.
    pub fn subscribed_topic_names(&self, topics: &dyn TopicView) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        let mut regexes: Vec<Regex> = Vec::new();
        for m in self.members.values() {
            out.extend(m.p.subscribed_topic_names.iter().cloned());
            if let Some(rx) = &m.p.subscribed_topic_regex
                && let Some(r) = self.regex(rx)
            {
                regexes.push(r);
            }
        }
        if !regexes.is_empty() {
            for name in topics.topic_names() {
                if regexes.iter().any(|r| r.is_match(&name)) {
                    out.insert(name);
                }
            }
        }
        out
    }

    /// The group was deleted: it forgets everything; a later join starts a new group.
    pub fn mark_dead(&mut self) {
        let id = std::mem::take(&mut self.group_id);
        *self = ConsumerGroup::new(id);
        self.dead = true;
    }

    // ----- internals -----

    fn generate_member_id(&mut self, now_ms: i64) -> String {
        loop {
            self.member_seq = self.member_seq.wrapping_add(1);
            let id = format!("gregor-{:016x}-{:08x}", now_ms, self.member_seq);
            if !self.members.contains_key(&id) {
                return id;
            }
        }
    }

    fn regex(&self, pattern: &str) -> Option<Regex> {
        match self.regex_cache.get(pattern) {
            Some(r) => Some(r.clone()),
            None => compile_regex(pattern).ok(),
        }
    }

    /// Subscribed topic name -> (id, partitions), over the topics that exist now.
    fn resolve_subscriptions(
        &mut self,
        topics: &dyn TopicView,
    ) -> BTreeMap<String, (TopicId, i32)> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut patterns: BTreeSet<String> = BTreeSet::new();
        for m in self.members.values() {
            names.extend(m.p.subscribed_topic_names.iter().cloned());
            if let Some(rx) = &m.p.subscribed_topic_regex {
                patterns.insert(rx.clone());
            }
        }
        // Only regexes in use stay compiled.
        self.regex_cache.retain(|k, _| patterns.contains(k));
        let mut regexes = Vec::new();
        for pat in &patterns {
            if let Some(r) = self.regex(pat) {
                self.regex_cache.insert(pat.clone(), r.clone());
                regexes.push(r);
            }
        }
        if !regexes.is_empty() {
            for name in topics.topic_names() {
                if regexes.iter().any(|r| r.is_match(&name)) {
                    names.insert(name);
                }
            }
        }
        names
            .into_iter()
            .filter_map(|n| {
                let t = topics.topic(&n)?;
                Some((n, t))
            })
            .collect()
    }

    /// The topic ids a member subscribes to, by the cached `subscribed_topics`.
    fn member_topic_ids(&self, p: &MemberSnapshot) -> BTreeSet<TopicId> {
        let mut out: BTreeSet<TopicId> = p
            .subscribed_topic_names
            .iter()
            .filter_map(|n| self.subscribed_topics.get(n).map(|(id, _)| *id))
            .collect();
        if let Some(rx) = &p.subscribed_topic_regex
            && let Some(r) = self.regex(rx)
        {
            for (name, (id, _)) in &self.subscribed_topics {
                if r.is_match(name) {
                    out.insert(*id);
                }
            }
        }
        out
    }

    /// The assignor most members asked for (ties to the smallest name), as Kafka.
    fn preferred_assignor(&self) -> Option<String> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.p.server_assignor {
                *counts.entry(a.as_str()).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, n) in counts {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((name, n));
            }
        }
        best.map(|(n, _)| n.to_string())
    }

    fn compute_target(&mut self, cfg: &GroupConfig) {
        let name = self
            .preferred_assignor()
            .unwrap_or_else(|| default_assignor(cfg));
        // A configured name Gregor lacks falls back to uniform (requests naming it are refused).
        let assignor: &dyn assignor::Assignor =
            assignor::by_name(&name).unwrap_or(&assignor::UniformAssignor);
        let subs: Vec<(String, BTreeSet<TopicId>)> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), self.member_topic_ids(&m.p)))
            .collect();
        let empty = MemberAssignment::new();
        let views: Vec<AssignorMember<'_>> = subs
            .iter()
            .map(|(id, s)| AssignorMember {
                member_id: id,
                subscribed: s,
                current: self.target.get(id).unwrap_or(&empty),
            })
            .collect();
        let partitions: BTreeMap<TopicId, i32> = self.subscribed_topics.values().copied().collect();
        let target = assignor.assign(&views, &partitions);
        self.target = target;
        self.assignment_epoch = self.group_epoch;
    }

    /// Removes a member and everything indexed under it (not its target entry).
    fn remove_member(&mut self, member_id: &str) {
        if let Some(m) = self.members.remove(member_id) {
            unindex(&mut self.owners, &m.p);
            if let Some(i) = &m.p.instance_id
                && self.static_members.get(i).is_some_and(|x| x == member_id)
            {
                self.static_members.remove(i);
            }
        }
    }

    /// Removes members (leave, session expiry, rebalance timeout), bumping the group epoch for
    /// each, and recomputes the target from the cached topic metadata.
    fn fence(&mut self, ids: &[String], cfg: &GroupConfig) {
        for id in ids {
            if self.members.contains_key(id) {
                self.remove_member(id);
                self.target.remove(id);
                self.group_epoch = self.group_epoch.saturating_add(1);
            }
        }
        // Forget topics nobody subscribes to any more.
        let mut keep: BTreeSet<String> = BTreeSet::new();
        let mut regexes = Vec::new();
        for m in self.members.values() {
            keep.extend(m.p.subscribed_topic_names.iter().cloned());
            if let Some(rx) = &m.p.subscribed_topic_regex
                && let Some(r) = self.regex(rx)
            {
                regexes.push(r);
            }
        }
        self.subscribed_topics
            .retain(|n, _| keep.contains(n) || regexes.iter().any(|r| r.is_match(n)));
        if self.group_epoch > self.assignment_epoch {
            self.compute_target(cfg);
        }
    }

    /// Kafka's CurrentAssignmentBuilder for one member.
    fn reconcile(&mut self, member_id: &str, now_ms: i64) {
        let Some(m) = self.members.get(member_id) else {
            return;
        };
        if m.p.state == MemberState::Stable && m.p.member_epoch == self.assignment_epoch {
            return;
        }
        if m.p.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            return;
        }
        let owned = m.last_owned.as_ref();
        // None: the member never said what it owns, so it may still own anything.
        let owns_any = |revoked: &MemberAssignment| owned.is_none_or(|o| intersects(o, revoked));
        if m.p.state == MemberState::UnrevokedPartitions && owns_any(&m.p.pending_revocation) {
            return;
        }

        let subscribed = self.member_topic_ids(&m.p);
        let empty = MemberAssignment::new();
        let target = self.target.get(member_id).unwrap_or(&empty);
        let mut topics: BTreeSet<TopicId> = target.keys().copied().collect();
        topics.extend(m.p.assigned.keys().copied());

        let mut assigned = MemberAssignment::new();
        let mut revoke = MemberAssignment::new();
        let mut to_assign = MemberAssignment::new();
        let mut unreleased = false;
        let no_partitions = BTreeSet::new();
        for t in topics {
            let tgt = if subscribed.contains(&t) {
                target.get(&t).unwrap_or(&no_partitions)
            } else {
                &no_partitions
            };
            let cur = m.p.assigned.get(&t).unwrap_or(&no_partitions);
            let keep: BTreeSet<i32> = cur.intersection(tgt).copied().collect();
            let gone: BTreeSet<i32> = cur.difference(&keep).copied().collect();
            let mut add = BTreeSet::new();
            for p in tgt.difference(&keep) {
                match self.owners.get(&(t, *p)) {
                    Some(owner) if owner != member_id => unreleased = true,
                    _ => {
                        add.insert(*p);
                    }
                }
            }
            if !keep.is_empty() {
                assigned.insert(t, keep);
            }
            if !gone.is_empty() {
                revoke.insert(t, gone);
            }
            if !add.is_empty() {
                to_assign.insert(t, add);
            }
        }

        let old = m.p.clone();
        let mut p = m.p.clone();
        if !revoke.is_empty() && owns_any(&revoke) {
            // Revoke first; the epoch stays until the member confirms.
            p.state = MemberState::UnrevokedPartitions;
            p.assigned = assigned;
            p.pending_revocation = revoke;
        } else {
            for (t, ps) in to_assign {
                assigned.entry(t).or_default().extend(ps);
            }
            p.state = if unreleased {
                MemberState::UnreleasedPartitions
            } else {
                MemberState::Stable
            };
            if p.member_epoch != self.assignment_epoch {
                p.previous_member_epoch = p.member_epoch;
                p.member_epoch = self.assignment_epoch;
            }
            p.assigned = assigned;
            p.pending_revocation = MemberAssignment::new();
        }
        if p == old {
            return;
        }
        unindex(&mut self.owners, &old);
        index(&mut self.owners, &p);
        let Some(m) = self.members.get_mut(member_id) else {
            return;
        };
        if p.state == MemberState::UnrevokedPartitions {
            m.rebalance_deadline = Some((
                now_ms.saturating_add(i64::from(p.rebalance_timeout_ms)),
                p.member_epoch,
            ));
        } else {
            m.rebalance_deadline = None;
        }
        m.p = p;
    }
}

fn default_assignor(cfg: &GroupConfig) -> String {
    cfg.consumer_assignors
        .first()
        .cloned()
        .unwrap_or_else(|| "uniform".to_string())
}

/// Kafka's `throwIfConsumerGroupHeartbeatRequestIsInvalid`, less what needs the group.
fn validate_request(req: &HeartbeatRequest, cfg: &GroupConfig) -> Result<(), GroupError> {
    let invalid = |s: &str| Err(GroupError::InvalidRequest(s.to_string()));
    if req.member_epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH {
        return invalid("MemberEpoch is invalid.");
    }
    if req.member_epoch != 0 && req.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    if req.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if req.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH && req.instance_id.is_none() {
        return invalid("InstanceId can't be null.");
    }
    if req.member_epoch == 0 {
        if req.rebalance_timeout_ms < 0 {
            return invalid("RebalanceTimeoutMs must be provided in first request.");
        }
        let has_regex = req
            .subscribed_topic_regex
            .as_deref()
            .is_some_and(|r| !r.is_empty());
        if req.subscribed_topic_names.is_none() && !has_regex {
            return invalid(
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
            );
        }
        if req
            .owned
            .as_ref()
            .is_some_and(|o| o.iter().any(|(_, ps)| !ps.is_empty()))
        {
            return invalid("TopicPartitions must be empty when (re-)joining.");
        }
    }
    if let Some(a) = &req.server_assignor
        && !cfg.consumer_assignors.iter().any(|x| x == a)
    {
        return Err(GroupError::UnsupportedAssignor(a.clone()));
    }
    Ok(())
}

/// Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`: a newer epoch is fenced; an older one is
/// accepted only if it is the previous epoch and the member owns a subset of its assignment (the
/// response that moved it on may have been lost).
fn check_epoch(
    m: &MemberSnapshot,
    got: i32,
    owned: Option<&[(TopicId, Vec<i32>)]>,
) -> Result<(), GroupError> {
    let current = m.member_epoch;
    if got > current {
        return Err(GroupError::FencedMemberEpoch { current, got });
    }
    if got < current {
        let subset = owned.is_some_and(|o| is_subset(&from_wire(o), &m.assigned));
        if got != m.previous_member_epoch || !subset {
            return Err(GroupError::FencedMemberEpoch { current, got });
        }
    }
    Ok(())
}

fn index(owners: &mut BTreeMap<Tp, String>, p: &MemberSnapshot) {
    for tp in partitions_of(&p.assigned).chain(partitions_of(&p.pending_revocation)) {
        let prev = owners.insert(tp, p.member_id.clone());
        debug_assert!(
            prev.is_none() || prev.as_deref() == Some(p.member_id.as_str()),
            "partition {tp:?} given to {} while {prev:?} holds it",
            p.member_id
        );
    }
}

fn unindex(owners: &mut BTreeMap<Tp, String>, p: &MemberSnapshot) {
    for tp in partitions_of(&p.assigned).chain(partitions_of(&p.pending_revocation)) {
        if owners.get(&tp).is_some_and(|o| *o == p.member_id) {
            owners.remove(&tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Topics by name; ids are derived from a counter so a re-created topic gets a new id.
    #[derive(Default)]
    struct Topics {
        by_name: RefCell<BTreeMap<String, (TopicId, i32)>>,
        next: RefCell<u8>,
    }

    impl Topics {
        fn with(list: &[(&str, i32)]) -> Self {
            let t = Topics::default();
            for (n, c) in list {
                t.create(n, *c);
            }
            t
        }
        fn create(&self, name: &str, count: i32) -> TopicId {
            let mut n = self.next.borrow_mut();
            *n += 1;
            let mut b = [0u8; 16];
            b[15] = *n;
            let id = TopicId(b);
            self.by_name.borrow_mut().insert(name.into(), (id, count));
            id
        }
        fn grow(&self, name: &str, count: i32) {
            if let Some(e) = self.by_name.borrow_mut().get_mut(name) {
                e.1 = count;
            }
        }
        fn id(&self, name: &str) -> TopicId {
            self.by_name.borrow()[name].0
        }
    }

    impl TopicView for Topics {
        fn topic(&self, name: &str) -> Option<(TopicId, i32)> {
            self.by_name.borrow().get(name).copied()
        }
        fn topic_by_id(&self, id: TopicId) -> Option<(String, i32)> {
            self.by_name
                .borrow()
                .iter()
                .find(|(_, (i, _))| *i == id)
                .map(|(n, (_, c))| (n.clone(), *c))
        }
        fn topic_names(&self) -> Vec<String> {
            self.by_name.borrow().keys().cloned().collect()
        }
    }

    fn cfg() -> GroupConfig {
        GroupConfig::default()
    }

    fn join(id: &str, topics: &[&str]) -> HeartbeatRequest {
        HeartbeatRequest {
            member_id: id.into(),
            member_epoch: 0,
            rebalance_timeout_ms: 30_000,
            subscribed_topic_names: Some(topics.iter().map(|s| s.to_string()).collect()),
            owned: Some(vec![]),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            ..Default::default()
        }
    }

    fn count(a: &[(TopicId, Vec<i32>)]) -> usize {
        a.iter().map(|(_, p)| p.len()).sum()
    }

    /// A client that does what it is told at once: drops revoked partitions, takes new ones, and
    /// reports what it owns on every heartbeat.
    struct Client {
        id: String,
        epoch: i32,
        owned: MemberAssignment,
        topics: Vec<String>,
        instance: Option<String>,
        revokes: bool,
    }

    impl Client {
        fn new(id: &str, topics: &[&str]) -> Self {
            Client {
                id: id.into(),
                epoch: 0,
                owned: MemberAssignment::new(),
                topics: topics.iter().map(|s| s.to_string()).collect(),
                instance: None,
                revokes: true,
            }
        }

        fn request(&self) -> HeartbeatRequest {
            let mut r = join(&self.id, &[]);
            r.instance_id = self.instance.clone();
            r.member_epoch = self.epoch;
            if self.epoch == 0 {
                r.subscribed_topic_names = Some(self.topics.clone());
            } else {
                r.subscribed_topic_names = None;
                r.rebalance_timeout_ms = -1;
                r.owned = Some(to_wire(&self.owned));
            }
            r
        }

        fn hb(&mut self, g: &mut ConsumerGroup, t: &Topics, now: i64) -> HeartbeatResponse {
            let (res, _) = g.heartbeat(self.request(), t, now, &cfg());
            let resp = res.expect("heartbeat");
            self.epoch = resp.member_epoch;
            if let Some(a) = &resp.assignment {
                let a = from_wire(a);
                if self.revokes {
                    self.owned = a;
                } else {
                    // Takes new partitions but never gives any up.
                    for (t, ps) in a {
                        self.owned.entry(t).or_default().extend(ps);
                    }
                }
            }
            resp
        }
    }

    fn assert_disjoint(clients: &[Client]) {
        let mut seen = BTreeSet::new();
        for c in clients {
            for tp in partitions_of(&c.owned) {
                assert!(seen.insert(tp), "{tp:?} owned by two clients at once");
            }
        }
    }

    fn total(c: &Client) -> usize {
        c.owned.values().map(|s| s.len()).sum()
    }

    #[test]
    fn single_member_join_gets_all_partitions_in_first_response() {
        let t = Topics::with(&[("a", 3), ("b", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let (res, fx) = g.heartbeat(join("m1", &["a", "b", "missing"]), &t, 0, &cfg());
        let r = res.unwrap();
        assert!(fx.persist);
        assert_eq!(r.member_epoch, 1);
        assert_eq!(
            r.heartbeat_interval_ms,
            cfg().consumer_heartbeat_interval_ms
        );
        assert_eq!(count(r.assignment.as_ref().unwrap()), 5);
        assert_eq!(g.state_name(), "Stable");
        // A plain heartbeat afterwards carries no assignment and persists nothing.
        let mut c = Client::new("m1", &["a"]);
        c.epoch = 1;
        c.owned = from_wire(r.assignment.as_ref().unwrap());
        let (res, fx) = g.heartbeat(c.request(), &t, 1_000, &cfg());
        let r = res.unwrap();
        assert_eq!(r.assignment, None);
        assert_eq!(r.member_epoch, 1);
        assert!(!fx.persist);
    }

    #[test]
    fn empty_member_id_is_generated() {
        let t = Topics::with(&[("a", 1)]);
        let mut g = ConsumerGroup::new("g".into());
        let r1 = g.heartbeat(join("", &["a"]), &t, 7, &cfg()).0.unwrap();
        let r2 = g.heartbeat(join("", &["a"]), &t, 7, &cfg()).0.unwrap();
        assert!(!r1.member_id.is_empty());
        assert_ne!(r1.member_id, r2.member_id);
        assert_eq!(g.member_count(), 2);
    }

    /// Runs heartbeats round-robin until nothing changes, checking exclusive ownership after
    /// every single one.
    fn converge(g: &mut ConsumerGroup, t: &Topics, clients: &mut [Client], now: &mut i64) {
        for _ in 0..20 {
            for i in 0..clients.len() {
                *now += 100;
                clients[i].hb(g, t, *now);
                assert_disjoint(clients);
            }
        }
    }

    #[test]
    fn three_members_converge_without_double_ownership() {
        let t = Topics::with(&[("a", 6)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut now = 0;
        let mut clients = vec![Client::new("m1", &["a"])];
        clients[0].hb(&mut g, &t, now);
        assert_eq!(total(&clients[0]), 6);
        clients.push(Client::new("m2", &["a"]));
        clients.push(Client::new("m3", &["a"]));
        // The newcomers join while m1 still holds everything: they get nothing yet.
        for i in 1..3 {
            now += 10;
            let r = clients[i].hb(&mut g, &t, now);
            assert_eq!(r.assignment, Some(vec![]));
            assert_disjoint(&clients);
        }
        assert_eq!(g.state_name(), "Reconciling");
        converge(&mut g, &t, &mut clients, &mut now);
        for c in &clients {
            assert_eq!(total(c), 2, "{}", c.id);
            assert_eq!(c.epoch, g.group_epoch());
        }
        assert_eq!(g.state_name(), "Stable");
        let d = g.describe(&t);
        assert_eq!(d.members.len(), 3);
        for m in &d.members {
            assert_eq!(m.assignment, m.target_assignment);
        }
    }

    #[test]
    fn member_leave_gives_partitions_to_others() {
        let t = Topics::with(&[("a", 4)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut now = 0;
        let mut clients = vec![Client::new("m1", &["a"]), Client::new("m2", &["a"])];
        converge(&mut g, &t, &mut clients, &mut now);
        let epoch = g.group_epoch();
        let mut leave = clients[1].request();
        leave.member_epoch = LEAVE_GROUP_MEMBER_EPOCH;
        let (res, fx) = g.heartbeat(leave, &t, now, &cfg());
        assert_eq!(res.unwrap().member_epoch, -1);
        assert!(fx.persist);
        assert_eq!(g.group_epoch(), epoch + 1);
        clients.truncate(1);
        let r = clients[0].hb(&mut g, &t, now + 1);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 4);
        assert_eq!(g.member_count(), 1);
        // Leaving again: unknown.
        let mut again = join("m2", &["a"]);
        again.member_epoch = -1;
        assert_eq!(
            g.heartbeat(again, &t, now, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
    }

    #[test]
    fn session_expiry_via_tick() {
        let t = Topics::with(&[("a", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let c = cfg();
        let mut now = 0;
        let mut clients = vec![Client::new("m1", &["a"]), Client::new("m2", &["a"])];
        converge(&mut g, &t, &mut clients, &mut now);
        let last = now;
        // m1 keeps heartbeating; m2 goes silent.
        let deadline = g.next_deadline_ms().unwrap();
        assert!(deadline <= last + i64::from(c.consumer_session_timeout_ms));
        let mut at = last;
        while at < last + i64::from(c.consumer_session_timeout_ms) + 1_000 {
            at += 1_000;
            clients[0].hb(&mut g, &t, at);
            g.tick(at, &c);
        }
        assert_eq!(g.member_count(), 1);
        clients[0].hb(&mut g, &t, at + 1);
        assert_eq!(total(&clients[0]), 2);
        // Nobody left: tick does nothing, and an empty group has no deadline.
        assert_eq!(g.tick(at + 2, &c), Effects::default());
        let fx = g.tick(at + 1 + i64::from(c.consumer_session_timeout_ms), &c);
        assert!(fx.persist);
        assert!(g.is_empty());
        assert_eq!(g.state_name(), "Empty");
        assert_eq!(g.next_deadline_ms(), None);
    }

    #[test]
    fn rebalance_timeout_fences_member_that_never_revokes() {
        let t = Topics::with(&[("a", 4)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut now = 0;
        let mut stubborn = Client::new("m1", &["a"]);
        stubborn.revokes = false;
        let mut clients = vec![stubborn];
        clients[0].hb(&mut g, &t, now);
        clients.push(Client::new("m2", &["a"]));
        clients[1].hb(&mut g, &t, now + 1);
        now += 10;
        clients[0].hb(&mut g, &t, now); // told to revoke 2 partitions; keeps them
        assert_eq!(
            g.snapshot().members[0].state,
            MemberState::UnrevokedPartitions
        );
        assert_eq!(g.next_deadline_ms(), Some(now + 30_000));
        // Still heartbeating (session fine), still not revoking.
        for _ in 0..3 {
            now += 5_000;
            clients[0].hb(&mut g, &t, now);
            clients[1].hb(&mut g, &t, now);
            assert_eq!(
                total(&clients[1]),
                0,
                "m2 must not get partitions m1 still owns"
            );
        }
        let fx = g.tick(10 + 30_000, &cfg());
        assert!(fx.persist);
        assert_eq!(g.member_count(), 1);
        let (res, _) = g.heartbeat(clients[0].request(), &t, 30_011, &cfg());
        assert_eq!(res, Err(GroupError::UnknownMemberId));
        let r = clients[1].hb(&mut g, &t, 30_012);
        assert_eq!(count(r.assignment.as_ref().unwrap()), 4);
    }

    #[test]
    fn fenced_and_stale_epochs() {
        let t = Topics::with(&[("a", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut c1 = Client::new("m1", &["a"]);
        c1.hb(&mut g, &t, 0);
        assert_eq!(c1.epoch, 1);
        // Ahead of the coordinator.
        let mut r = c1.request();
        r.member_epoch = 5;
        assert_eq!(
            g.heartbeat(r, &t, 1, &cfg()).0,
            Err(GroupError::FencedMemberEpoch { current: 1, got: 5 })
        );
        // m2 joins: m1 moves to epoch 2 after revoking one partition.
        let mut c2 = Client::new("m2", &["a"]);
        c2.hb(&mut g, &t, 2);
        c1.hb(&mut g, &t, 3);
        c1.hb(&mut g, &t, 4);
        assert_eq!(c1.epoch, 2);
        // The response carrying epoch 2 was "lost": the previous epoch with a subset is fine...
        let mut r = c1.request();
        r.member_epoch = 1;
        assert!(g.heartbeat(r.clone(), &t, 5, &cfg()).0.is_ok());
        // ...but not with partitions it no longer has, nor with an older epoch.
        r.owned = Some(vec![(t.id("a"), vec![0, 1])]);
        assert!(matches!(
            g.heartbeat(r.clone(), &t, 6, &cfg()).0,
            Err(GroupError::FencedMemberEpoch { .. })
        ));
        r.owned = Some(vec![]);
        r.member_epoch = 0;
        r.rebalance_timeout_ms = 30_000;
        r.subscribed_topic_names = Some(vec!["a".into()]);
        assert!(matches!(
            g.heartbeat(r, &t, 7, &cfg()).0,
            Err(GroupError::FencedMemberEpoch { current: 2, got: 0 })
        ));
        // Offset commits need the exact epoch (Kafka's validateMemberEpoch) and v9+.
        assert_eq!(g.validate_offset_commit("m1", 2, true, 8), Ok(()));
        assert_eq!(
            g.validate_offset_commit("m1", 1, true, 8),
            Err(GroupError::StaleMemberEpoch { current: 2, got: 1 })
        );
        assert_eq!(
            g.validate_offset_commit("m1", 3, true, 8),
            Err(GroupError::FencedMemberEpoch { current: 2, got: 3 })
        );
        assert!(matches!(
            g.validate_offset_commit("m1", 2, false, 8),
            Err(GroupError::UnsupportedVersion(_))
        ));
        assert_eq!(
            g.validate_offset_commit("nobody", 2, true, 8),
            Err(GroupError::UnknownMemberId)
        );
        assert_eq!(
            g.validate_offset_commit("", -1, true, 8),
            Err(GroupError::UnknownMemberId)
        );
        let empty = &mut ConsumerGroup::new("e".into());
        assert_eq!(empty.validate_offset_commit("", -1, false, 8), Ok(()));
    }

    #[test]
    fn unknown_member() {
        let t = Topics::with(&[("a", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut r = join("ghost", &["a"]);
        r.member_epoch = 3;
        assert_eq!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
        let mut r = join("ghost", &["a"]);
        r.member_epoch = 3;
        r.instance_id = Some("i".into());
        assert_eq!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
        let mut r = join("", &["a"]);
        r.member_epoch = 3;
        assert!(matches!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::InvalidRequest(_))
        ));
    }

    #[test]
    fn regex_subscription_picks_up_topic_created_later() {
        let t = Topics::with(&[("orders-eu", 2), ("payments", 3)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut c = Client::new("m1", &[]);
        let mut r = join("m1", &[]);
        r.subscribed_topic_names = None;
        r.subscribed_topic_regex = Some("orders-.*".into());
        let resp = g.heartbeat(r, &t, 0, &cfg()).0.unwrap();
        assert_eq!(resp.assignment, Some(vec![(t.id("orders-eu"), vec![0, 1])]));
        c.epoch = resp.member_epoch;
        c.owned = from_wire(resp.assignment.as_ref().unwrap());
        let epoch = g.group_epoch();
        // Anchored: "xorders-us" does not match.
        t.create("orders-us", 1);
        t.create("xorders-us", 1);
        let resp = c.hb(&mut g, &t, 100);
        assert_eq!(g.group_epoch(), epoch + 1);
        assert_eq!(count(resp.assignment.as_ref().unwrap()), 3);
        assert!(c.owned.contains_key(&t.id("orders-us")));
        assert!(!c.owned.contains_key(&t.id("xorders-us")));
        let names = g.subscribed_topic_names(&t);
        assert_eq!(
            names,
            ["orders-eu", "orders-us"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
        let d = g.describe(&t);
        assert_eq!(
            d.members[0].subscribed_topic_regex.as_deref(),
            Some("orders-.*")
        );
        // A bad regex is refused.
        let mut bad = join("m2", &[]);
        bad.subscribed_topic_regex = Some("orders-(".into());
        assert!(matches!(
            g.heartbeat(bad, &t, 200, &cfg()).0,
            Err(GroupError::InvalidRegularExpression(_))
        ));
    }

    #[test]
    fn partition_count_increase_bumps_epoch_and_assigns() {
        let t = Topics::with(&[("a", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut c = Client::new("m1", &["a"]);
        c.hb(&mut g, &t, 0);
        let epoch = g.group_epoch();
        let r = c.hb(&mut g, &t, 10);
        assert_eq!(r.assignment, None);
        assert_eq!(g.group_epoch(), epoch);
        t.grow("a", 5);
        let r = c.hb(&mut g, &t, 20);
        assert_eq!(g.group_epoch(), epoch + 1);
        assert_eq!(r.member_epoch, epoch + 1);
        assert_eq!(r.assignment, Some(vec![(t.id("a"), vec![0, 1, 2, 3, 4])]));
    }

    #[test]
    fn static_member_rejoin_keeps_assignment() {
        let t = Topics::with(&[("a", 4)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut now = 0;
        let mut s1 = Client::new("s1", &["a"]);
        s1.instance = Some("inst".into());
        let mut clients = vec![s1, Client::new("d1", &["a"])];
        converge(&mut g, &t, &mut clients, &mut now);
        let kept = clients[0].owned.clone();
        assert_eq!(total(&clients[0]), 2);
        let epoch = g.group_epoch();

        // A second instance with the same id cannot join while the first is there.
        let mut other = join("s2", &["a"]);
        other.instance_id = Some("inst".into());
        assert_eq!(
            g.heartbeat(other.clone(), &t, now, &cfg()).0,
            Err(GroupError::UnreleasedInstanceId("inst".into()))
        );
        // Static leave: no rebalance, partitions stay reserved.
        let mut leave = clients[0].request();
        leave.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
        let r = g.heartbeat(leave, &t, now, &cfg()).0.unwrap();
        assert_eq!(r.member_epoch, -2);
        assert_eq!(g.group_epoch(), epoch);
        clients[1].hb(&mut g, &t, now + 1);
        assert_eq!(total(&clients[1]), 2);

        // The restarted instance (new member id) takes the old one's place and partitions.
        let r = g.heartbeat(other, &t, now + 2, &cfg()).0.unwrap();
        assert_eq!(r.member_id, "s2");
        assert_eq!(r.member_epoch, epoch);
        assert_eq!(from_wire(r.assignment.as_ref().unwrap()), kept);
        assert_eq!(g.group_epoch(), epoch);
        assert_eq!(g.member_count(), 2);
        // The old member id is fenced for that instance.
        let mut stale = join("s1", &["a"]);
        stale.member_epoch = epoch;
        stale.instance_id = Some("inst".into());
        assert_eq!(
            g.heartbeat(stale, &t, now + 3, &cfg()).0,
            Err(GroupError::FencedInstanceId("inst".into()))
        );
        // A static member that left and never came back is dropped after its session.
        let mut leave = join("s2", &["a"]);
        leave.instance_id = Some("inst".into());
        leave.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
        g.heartbeat(leave, &t, now + 4, &cfg()).0.unwrap();
        let mut at = now + 4;
        for _ in 0..50 {
            at += 1_000;
            clients[1].hb(&mut g, &t, at);
        }
        assert_eq!(g.member_count(), 1);
        assert_eq!(total(&clients[1]), 4);
    }

    #[test]
    fn unsupported_assignor_invalid_request_and_group_max_size() {
        let t = Topics::with(&[("a", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut r = join("m1", &["a"]);
        r.server_assignor = Some("sticky".into());
        assert_eq!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::UnsupportedAssignor("sticky".into()))
        );
        let mut r = join("m1", &["a"]);
        r.subscribed_topic_names = None;
        assert!(matches!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::InvalidRequest(_))
        ));
        let mut r = join("m1", &["a"]);
        r.rebalance_timeout_ms = -1;
        assert!(matches!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::InvalidRequest(_))
        ));
        let mut r = join("m1", &["a"]);
        r.owned = Some(vec![(t.id("a"), vec![0])]);
        assert!(matches!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::InvalidRequest(_))
        ));
        let mut r = join("m1", &["a"]);
        r.member_epoch = -3;
        assert!(matches!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::InvalidRequest(_))
        ));
        let mut r = join("m1", &["a"]);
        r.member_epoch = -2;
        assert!(matches!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::InvalidRequest(_))
        ));
        assert!(g.is_empty());

        let small = GroupConfig {
            consumer_group_size_max: 1,
            ..cfg()
        };
        assert!(g.heartbeat(join("m1", &["a"]), &t, 0, &small).0.is_ok());
        assert_eq!(
            g.heartbeat(join("m2", &["a"]), &t, 0, &small).0,
            Err(GroupError::GroupMaxSizeReached)
        );
        // The member already in is still served.
        let mut r = join("m1", &["a"]);
        r.member_epoch = 1;
        assert!(g.heartbeat(r, &t, 1, &small).0.is_ok());
    }

    #[test]
    fn range_assignor_when_members_ask_for_it() {
        let t = Topics::with(&[("a", 5)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut now = 0;
        let mut clients = vec![Client::new("m1", &["a"]), Client::new("m2", &["a"])];
        let mut r = clients[0].request();
        r.server_assignor = Some("range".into());
        let resp = g.heartbeat(r, &t, 0, &cfg()).0.unwrap();
        clients[0].epoch = resp.member_epoch;
        clients[0].owned = from_wire(resp.assignment.as_ref().unwrap());
        converge(&mut g, &t, &mut clients, &mut now);
        assert_eq!(g.describe(&t).assignor_name, "range");
        assert_eq!(to_wire(&clients[0].owned), vec![(t.id("a"), vec![0, 1, 2])]);
        assert_eq!(to_wire(&clients[1].owned), vec![(t.id("a"), vec![3, 4])]);
    }

    #[test]
    fn snapshot_round_trip() {
        let t = Topics::with(&[("a", 6), ("b", 1)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut now = 0;
        let mut clients = vec![Client::new("m1", &["a", "b"]), Client::new("m2", &["a"])];
        clients[0].hb(&mut g, &t, now);
        clients[1].hb(&mut g, &t, now);
        clients[0].hb(&mut g, &t, now); // m1 now revoking
        let snap = g.snapshot();
        let restored_at = 1_000_000;
        let mut h = ConsumerGroup::from_snapshot(snap.clone(), restored_at);
        assert_eq!(h.snapshot(), snap);
        assert_eq!(h.state_name(), g.state_name());
        assert_eq!(h.describe(&t), g.describe(&t));
        assert_eq!(h.next_deadline_ms(), Some(restored_at));
        // Timers restart from the restore time, not from before.
        assert_eq!(h.tick(restored_at, &cfg()), Effects::default());
        assert_eq!(h.next_deadline_ms(), Some(restored_at + 30_000));
        // And it carries on as before: no spurious epoch bump, convergence continues.
        let epoch = h.group_epoch();
        now = restored_at;
        converge(&mut h, &t, &mut clients, &mut now);
        assert_eq!(h.group_epoch(), epoch);
        assert_eq!(h.state_name(), "Stable");
        assert_eq!(total(&clients[0]) + total(&clients[1]), 7);
        // Dead groups answer nothing but a new join.
        h.mark_dead();
        assert_eq!(h.state_name(), "Dead");
        let (res, _) = h.heartbeat(clients[0].request(), &t, now, &cfg());
        assert_eq!(res, Err(GroupError::GroupIdNotFound));
        assert!(h.heartbeat(join("m9", &["a"]), &t, now, &cfg()).0.is_ok());
        assert_eq!(h.state_name(), "Stable");
    }

    #[test]
    fn restored_from_epoch_only_makes_members_rejoin() {
        let t = Topics::with(&[("a", 2)]);
        let mut g = ConsumerGroup::restored("g".into(), 7);
        assert_eq!(g.state_name(), "Empty");
        let mut r = join("m1", &["a"]);
        r.member_epoch = 7;
        assert_eq!(
            g.heartbeat(r, &t, 0, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
        let resp = g.heartbeat(join("m1", &["a"]), &t, 0, &cfg()).0.unwrap();
        assert_eq!(resp.member_epoch, 8);
        assert_eq!(count(resp.assignment.as_ref().unwrap()), 2);
    }

    fn subscription(topics: &[&str], owned: Vec<(String, Vec<i32>)>) -> Bytes {
        consumer_protocol::encode_subscription(&consumer_protocol::Subscription {
            version: 1,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned_partitions: owned,
            ..Default::default()
        })
    }

    fn classic_join_req(member_id: &str, owned: Vec<(String, Vec<i32>)>) -> JoinRequest {
        JoinRequest {
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), subscription(&["a"], owned))],
            require_known_member_id: true,
            reason: None,
        }
    }

    /// An eager classic client (librdkafka's "range"): on REBALANCE_IN_PROGRESS it drops
    /// everything, rejoins, and takes what SyncGroup gives.
    struct ClassicClient {
        id: String,
        generation: i32,
        owned: Vec<(String, Vec<i32>)>,
    }

    impl ClassicClient {
        fn step(&mut self, g: &mut ConsumerGroup, t: &Topics, now: i64) {
            let hb = g
                .classic_heartbeat(&self.id, None, self.generation, now, &cfg())
                .0;
            if hb.is_ok() {
                return;
            }
            assert_eq!(hb, Err(GroupError::RebalanceInProgress), "{}", self.id);
            self.owned.clear();
            let (joined, _) = g.classic_join(classic_join_req(&self.id, vec![]), t, now, &cfg());
            assert_eq!(joined.error, None);
            assert_eq!(joined.leader, "", "the broker assigns");
            self.generation = joined.generation_id;
            let sync = SyncRequest {
                member_id: self.id.clone(),
                group_instance_id: None,
                generation_id: self.generation,
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                assignments: vec![],
            };
            let (synced, _) = g.classic_sync(&sync, now, &cfg());
            match synced {
                Ok(r) => {
                    self.owned = consumer_protocol::decode_assignment(&r.assignment).unwrap();
                    assert_eq!(consumer_protocol::version_of(&r.assignment), 1);
                }
                Err(e) => assert_eq!(e, GroupError::RebalanceInProgress),
            }
        }

        fn count(&self) -> usize {
            self.owned.iter().map(|(_, p)| p.len()).sum()
        }
    }

    /// What the broker has handed out must never overlap.
    fn assert_broker_disjoint(g: &ConsumerGroup, t: &Topics) {
        let mut seen = BTreeSet::new();
        for m in g.describe(t).members {
            for (topic, ps) in m.assignment {
                for p in ps {
                    assert!(seen.insert((topic, p)), "{p} given twice");
                }
            }
        }
    }

    #[test]
    fn a_converted_classic_group_shares_partitions_with_a_consumer_member_and_can_go_back() {
        let t = Topics::with(&[("a", 6)]);
        let migrating = |id: &str, parts: Vec<i32>| MigratingMember {
            member_id: id.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            rebalance_timeout_ms: 30_000,
            session_timeout_ms: 10_000,
            protocols: vec![("range".into(), subscription(&["a"], vec![]))],
            assignment: consumer_protocol::encode_assignment(1, &[("a".into(), parts)]),
        };
        let members = vec![
            migrating("c1", vec![0, 1, 2]),
            migrating("c2", vec![3, 4, 5]),
        ];
        let mut g =
            ConsumerGroup::from_classic("g".into(), 5, Some("range"), members, &t, 0).unwrap();
        assert_eq!((g.group_epoch(), g.state_name()), (5, "Stable"));
        assert!(g.only_classic_members());
        assert!(g.describe(&t).members.iter().all(|m| m.classic));
        // Classic members keep working as they were.
        assert_eq!(g.classic_heartbeat("c1", None, 5, 1, &cfg()).0, Ok(()));
        assert_eq!(
            g.classic_heartbeat("c1", None, 4, 1, &cfg()).0,
            Err(GroupError::IllegalGeneration { current: 5, got: 4 })
        );
        assert_eq!(
            g.validate_offset_commit("c1", 4, false, 1),
            Err(GroupError::IllegalGeneration { current: 5, got: 4 })
        );

        let mut k = Client::new("k1", &["a"]);
        let r = k.hb(&mut g, &t, 10);
        assert_eq!(r.member_epoch, 6);
        assert_eq!(r.assignment, Some(vec![]), "everything is still held");
        assert!(!g.only_classic_members());
        let mut classic = vec![
            ClassicClient {
                id: "c1".into(),
                generation: 5,
                owned: vec![],
            },
            ClassicClient {
                id: "c2".into(),
                generation: 5,
                owned: vec![],
            },
        ];
        let mut now = 10;
        for _ in 0..10 {
            for c in classic.iter_mut() {
                now += 100;
                c.step(&mut g, &t, now);
                assert_broker_disjoint(&g, &t);
            }
            now += 100;
            k.hb(&mut g, &t, now);
            assert_broker_disjoint(&g, &t);
        }
        assert_eq!(g.state_name(), "Stable");
        assert_eq!(
            (classic[0].count(), classic[1].count(), total(&k)),
            (2, 2, 2)
        );
        // A member id the group never handed out, with JoinGroup v4+: MEMBER_ID_REQUIRED first.
        let (r, _) = g.classic_join(classic_join_req("", vec![]), &t, now, &cfg());
        assert_eq!(r.error, Some(GroupError::MemberIdRequired));
        assert!(!r.member_id.is_empty());
        // Another protocol type cannot join.
        let mut other = classic_join_req("x", vec![]);
        other.protocol_type = "connect".into();
        assert!(matches!(
            g.classic_join(other, &t, now, &cfg()).0.error,
            Some(GroupError::InconsistentGroupProtocol(_))
        ));

        // The consumer member leaves: only classic members remain, as a classic group would.
        let mut leave = k.request();
        leave.member_epoch = LEAVE_GROUP_MEMBER_EPOCH;
        g.heartbeat(leave, &t, now, &cfg()).0.unwrap();
        assert!(g.only_classic_members());
        let (classic_group, fx) = super::super::classic::ClassicGroup::from_consumer(
            "g".into(),
            g.group_epoch(),
            g.migrating_members(),
            now,
            &cfg(),
        );
        assert!(fx.persist);
        assert_eq!(classic_group.generation_id(), g.group_epoch());
        assert_eq!(classic_group.protocol_name(), Some("range"));
        assert_eq!(classic_group.member_count(), 2);
        assert_eq!(
            classic_group.state(),
            super::super::classic::ClassicState::PreparingRebalance,
            "every member rejoins"
        );
        // Each member's stored assignment is its target, in its subscription's version.
        let snap = classic_group.snapshot();
        let mut all: Vec<i32> = snap
            .members
            .iter()
            .flat_map(|m| consumer_protocol::decode_assignment(&m.assignment).unwrap())
            .flat_map(|(_, ps)| ps)
            .collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
        // Classic members leave by LeaveGroup; the last one empties the group.
        let (res, fx) = g.classic_leave(
            vec![("c1".into(), None), ("nobody".into(), None)],
            now,
            &cfg(),
        );
        assert_eq!(res, vec![Ok(()), Err(GroupError::UnknownMemberId)]);
        assert!(fx.persist);
        assert_eq!(g.member_count(), 1);
    }

    #[test]
    fn a_classic_member_that_never_rejoins_is_removed_after_its_rebalance_timeout() {
        let t = Topics::with(&[("a", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let (r, _) = g.classic_join(classic_join_req("c1", vec![]), &t, 0, &cfg());
        assert_eq!((r.error, r.generation_id), (None, 1));
        let mut k = Client::new("k1", &["a"]);
        k.hb(&mut g, &t, 10);
        // c1 keeps heartbeating (its session is fine) but never rejoins.
        let mut now = 10;
        while now < 30_000 {
            now += 3_000;
            assert_eq!(
                g.classic_heartbeat("c1", None, 1, now, &cfg()).0,
                Err(GroupError::RebalanceInProgress)
            );
            k.hb(&mut g, &t, now);
        }
        assert_eq!(g.member_count(), 2, "not before the rebalance timeout");
        now += 3_000;
        k.hb(&mut g, &t, now);
        assert_eq!(g.member_count(), 1);
        k.hb(&mut g, &t, now + 1);
        assert_eq!(total(&k), 2);
    }

    #[test]
    fn unparsable_classic_metadata_refuses_the_upgrade() {
        let t = Topics::with(&[("a", 1)]);
        let m = MigratingMember {
            member_id: "c1".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            rebalance_timeout_ms: 1,
            session_timeout_ms: 1,
            protocols: vec![("range".into(), Bytes::from_static(b"\xff\xff"))],
            assignment: Bytes::new(),
        };
        assert_eq!(
            ConsumerGroup::from_classic("g".into(), 1, Some("range"), vec![m], &t, 0).err(),
            Some(GroupError::GroupIdNotFound)
        );
    }

    #[test]
    fn unsubscribing_from_a_topic_revokes_it() {
        let t = Topics::with(&[("a", 2), ("b", 2)]);
        let mut g = ConsumerGroup::new("g".into());
        let mut c = Client::new("m1", &["a", "b"]);
        c.hb(&mut g, &t, 0);
        assert_eq!(total(&c), 4);
        let mut r = c.request();
        r.subscribed_topic_names = Some(vec!["a".into()]);
        let resp = g.heartbeat(r, &t, 10, &cfg()).0.unwrap();
        assert_eq!(resp.assignment, Some(vec![(t.id("a"), vec![0, 1])]));
        c.owned = from_wire(resp.assignment.as_ref().unwrap());
        c.epoch = resp.member_epoch;
        c.hb(&mut g, &t, 20);
        assert_eq!(g.state_name(), "Stable");
    }
}
