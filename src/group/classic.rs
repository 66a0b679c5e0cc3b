//! The classic consumer-group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) as a pure
//! state machine: `(group, request, now_ms) -> (response or Pending, Effects)`.
//!
//! Purpose: behave as Apache Kafka 4.1's group coordinator does for classic groups. The client-side
//! leader computes the assignment; the coordinator only runs the rebalance barrier, stores the
//! assignment and fences stale members.
//!
//! No I/O, no clock reads, no randomness: time is the `now_ms` argument (a monotonic millisecond
//! clock), member ids are generated from `now_ms` and a counter. Requests that Kafka answers later
//! (a JoinGroup while the group rebalances, a follower's SyncGroup before the leader's) return
//! `Outcome::Pending(member_id)`; their answers come out, keyed by that member id, in the
//! `Effects` of whichever later call completes the phase (another member's join, the leader's sync,
//! a leave, or `tick` when a timer fires). A second join (or sync) by a member that is already
//! parked replaces the first: the shell keeps one responder per member id and kind, and drops (or
//! fails) the superseded one, as Kafka does.
//!
//! States (Kafka's `ClassicGroupState`), what each does and where it goes:
//! * `Empty`: no members (pending member-id-required joiners may exist). Offsets may be committed
//!   with generation -1. A join adds the member and goes to `PreparingRebalance` (with the initial
//!   rebalance delay when `group.initial.rebalance.delay.ms > 0`, else the join completes at once).
//!   `mark_dead` -> `Dead`.
//! * `PreparingRebalance`: waits for every member to rejoin. Joins are parked. Completes when all
//!   members are parked and no member-id-required joiner is outstanding (not when coming from
//!   `Empty`: then only the initial-delay timer completes it), or at the join deadline (rebalance
//!   timeout), when dynamic members that did not rejoin are removed (static ones stay, and the
//!   deadline is re-armed if no member rejoined at all). Completion bumps the generation, chooses
//!   the protocol by vote, answers every parked join (the leader gets the member list) and goes to
//!   `CompletingRebalance`, or to `Empty` (persisting) if no member is left.
//! * `CompletingRebalance`: waits for the leader's SyncGroup. Followers' syncs are parked. The
//!   leader's sync stores the assignment (persist), answers all parked syncs, -> `Stable`. A
//!   member leaving or expiring, or a member rejoining with changed metadata, or the leader not
//!   syncing within the rebalance timeout (members that never synced are removed) ->
//!   `PreparingRebalance`, parked syncs are failed with REBALANCE_IN_PROGRESS.
//! * `Stable`: syncs answer the stored assignment, heartbeats keep members alive. A new member, the
//!   leader rejoining, a follower rejoining with changed metadata, a leave, a session expiry, or a
//!   member never syncing within the rebalance timeout -> `PreparingRebalance`. A static member
//!   rejoining under a new member id replaces the old one without a rebalance (persist) unless the
//!   chosen protocol would change.
//! * `Dead`: deleted; every request gets COORDINATOR_NOT_AVAILABLE. No way out (the shell makes a
//!   new group).
//!
//! Online migration (KIP-848): `migrating_members` hands the members to a consumer group that
//! replaces this one; `from_consumer` builds a `Stable` group from a consumer group's classic
//! members and sends it to `PreparingRebalance` at once, so that they rejoin and their leader
//! assigns again.
//!
//! Invariants: every member id in `static_members` is a member; `leader_id` is a member iff there
//! are members; `pending_sync` and parked joins/syncs only name members; the generation only grows.
//! Persistence: when `Effects::persist` is set the shell writes `snapshot()` (Kafka's
//! GroupMetadataValue: generation, protocol, leader, members with their chosen-protocol metadata and
//! assignment) to `__consumer_offsets`; `from_snapshot` is the replay. Like Kafka, a snapshot is
//! written when an assignment is stored, when the group becomes empty, and when a static member is
//! replaced in `Stable`; not when a rebalance merely starts or the join phase completes.
//! Lock order: none (the shell owns the group exclusively). Must not import: protocol, server,
//! replication, log, controller.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::{GroupConfig, GroupError, consumer_protocol};

/// Kafka's `group.classic.new.member.join.timeout` (internal, 5 minutes): a new member parked in
/// JoinGroup cannot heartbeat, so its join is failed after this long and it is removed.
const NEW_MEMBER_JOIN_TIMEOUT_MS: i64 = 300_000;

/// The protocol type whose metadata is Kafka's ConsumerProtocol subscription.
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Kafka's `ClassicGroupState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassicState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl ClassicState {
    /// Kafka's names, as DescribeGroups and ListGroups show them.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassicState::Empty => "Empty",
            ClassicState::PreparingRebalance => "PreparingRebalance",
            ClassicState::CompletingRebalance => "CompletingRebalance",
            ClassicState::Stable => "Stable",
            ClassicState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request for this group.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRequest {
    /// "" for a member that does not have an id yet.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    /// JoinGroup v0 has none: the shell passes the session timeout, as Kafka does.
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    /// (protocol name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a member without an id is first answered MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinResponse {
    pub error: Option<GroupError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub member_id: String,
    /// Only for the leader.
    pub members: Vec<JoinedMember>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// A response now, or later through `Effects` under `member_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Done(T),
    /// Parked: the response comes in a later call's `Effects`, keyed by this member id (for a new
    /// member, the id the group generated for it).
    Pending(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation_id: i32,
    /// SyncGroup v5+; None = not checked.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// (member id, assignment), only meaningful from the leader.
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncResponse {
    pub error: Option<GroupError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

/// Responses to parked requests that a call completed, and whether the group must be persisted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    pub joins: Vec<(String, JoinResponse)>,
    pub syncs: Vec<(String, SyncResponse)>,
    /// Group metadata changed: the shell writes `snapshot()`.
    pub persist: bool,
}

/// The durable form of a group (Kafka's GroupMetadataValue).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    pub group_id: String,
    pub protocol_type: Option<String>,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    /// Time of the last state change, on the clock the group was driven with (`now_ms`).
    pub state_timestamp_ms: i64,
    pub members: Vec<MemberSnapshot>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberSnapshot {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// The chosen protocol's metadata.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// One member as DescribeGroups shows it; metadata and assignment are empty unless `Stable`
/// (Kafka's `describeNoMetadata`).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A member moving between a classic group and a consumer group (KIP-848 online migration).
#[derive(Debug, Clone, PartialEq)]
pub struct MigratingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// Every (protocol name, metadata) of its last JoinGroup, in its order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// Its classic assignment (ConsumerProtocol bytes); empty when going the other way.
    pub assignment: Bytes,
}

#[derive(Debug, Clone)]
struct Member {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    rebalance_timeout_ms: i32,
    session_timeout_ms: i32,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    /// Has a parked JoinGroup.
    awaiting_join: bool,
    /// Has a parked SyncGroup.
    awaiting_sync: bool,
    /// Added in this rebalance and not yet answered: its join times out after
    /// NEW_MEMBER_JOIN_TIMEOUT_MS instead of being kept alive by the parked join.
    is_new: bool,
    /// Session (heartbeat) deadline.
    deadline_ms: i64,
}

impl Member {
    fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    /// Kafka's `hasSatisfiedHeartbeat` inverted: may the session deadline remove this member?
    /// A parked join or sync keeps an old member alive; a new member's join does not.
    fn expirable(&self) -> bool {
        self.is_new || !(self.awaiting_join || self.awaiting_sync)
    }

    fn refresh(&mut self, now_ms: i64) {
        self.deadline_ms = now_ms.saturating_add(i64::from(self.session_timeout_ms.max(0)));
    }
}

/// The initial rebalance delay (Kafka's InitialDelayedJoin): each time it fires, if a new member
/// joined meanwhile and time remains, it waits again.
#[derive(Debug, Clone, Copy)]
struct InitialDelay {
    delay_ms: i64,
    remaining_ms: i64,
    new_member_added: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Timer {
    Pending(String),
    Session(String),
    Join,
    Sync,
}

enum JoinStep {
    Respond(JoinResponse),
    Wait(String),
}

/// One classic group. See the module doc for its states.
#[derive(Debug, Clone)]
pub struct ClassicGroup {
    group_id: String,
    state: ClassicState,
    previous_state: ClassicState,
    state_timestamp_ms: i64,
    generation_id: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader_id: Option<String>,
    /// In join order (the leader fallback takes the first).
    members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pending_members: BTreeMap<String, i64>,
    /// group.instance.id -> member id.
    static_members: BTreeMap<String, String>,
    /// Members of this generation that have not sent SyncGroup yet.
    pending_sync: BTreeSet<String>,
    /// PreparingRebalance's deadline (initial delay or rebalance timeout).
    join_deadline_ms: Option<i64>,
    initial_delay: Option<InitialDelay>,
    /// (deadline, generation): members still in `pending_sync` then are removed.
    sync_deadline: Option<(i64, i32)>,
    id_counter: u64,
}

/// A JoinGroup answer carrying only an error (and the member id it concerns).
pub fn join_error(member_id: &str, error: GroupError) -> JoinResponse {
    JoinResponse {
        error: Some(error),
        generation_id: -1,
        protocol_type: None,
        protocol_name: None,
        leader: String::new(),
        skip_assignment: false,
        member_id: member_id.to_string(),
        members: Vec::new(),
    }
}

/// A SyncGroup answer carrying only an error.
pub fn sync_error(error: GroupError) -> SyncResponse {
    SyncResponse {
        error: Some(error),
        protocol_type: None,
        protocol_name: None,
        assignment: Bytes::new(),
    }
}

fn deadline(now_ms: i64, timeout_ms: i64) -> i64 {
    now_ms.saturating_add(timeout_ms.max(0))
}

/// The topics of a ConsumerProtocol subscription (any version: version i16, topics [string],
/// ...). Stops at the first thing that does not parse and returns what did.
fn parse_subscription_topics(metadata: &[u8], out: &mut BTreeSet<String>) {
    let mut buf = metadata;
    let mut take = |n: usize| -> Option<&[u8]> {
        if buf.len() < n {
            return None;
        }
        let (head, tail) = buf.split_at(n);
        buf = tail;
        Some(head)
    };
    let Some(version) = take(2) else { return };
    if i16::from_be_bytes([version[0], version[1]]) < 0 {
        return;
    }
    let Some(count) = take(4) else { return };
    let count = i32::from_be_bytes([count[0], count[1], count[2], count[3]]);
    for _ in 0..count.max(0) {
        let Some(len) = take(2) else { return };
        let len = i16::from_be_bytes([len[0], len[1]]);
        let Ok(len) = usize::try_from(len) else {
            return;
        };
        let Some(name) = take(len) else { return };
        match std::str::from_utf8(name) {
            Ok(name) => {
                out.insert(name.to_string());
            }
            Err(_) => return,
        }
    }
}

impl ClassicGroup {
    /// A new group, `Empty`.
    pub fn new(group_id: String, now_ms: i64) -> Self {
        ClassicGroup {
            group_id,
            state: ClassicState::Empty,
            previous_state: ClassicState::Empty,
            state_timestamp_ms: now_ms,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: Vec::new(),
            pending_members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            join_deadline_ms: None,
            initial_delay: None,
            sync_deadline: None,
            id_counter: 0,
        }
    }

    /// Replays a snapshot: `Stable` with its members (sessions start at `now_ms`), else `Empty`.
    pub fn from_snapshot(s: GroupSnapshot, now_ms: i64) -> Self {
        let mut group = ClassicGroup::new(s.group_id, now_ms);
        group.generation_id = s.generation_id;
        group.protocol_type = s.protocol_type;
        group.protocol_name = s.protocol_name;
        let protocol_name = group.protocol_name.clone().unwrap_or_default();
        for m in s.members {
            if group.member_index(&m.member_id).is_some() {
                continue;
            }
            group.push_settled(
                MigratingMember {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    protocols: vec![(protocol_name.clone(), m.subscription)],
                    assignment: m.assignment,
                },
                now_ms,
            );
        }
        // A static id listed twice keeps the last member; drop members it no longer names.
        let statics = group.static_members.clone();
        group.members.retain(|m| match &m.group_instance_id {
            Some(instance) => statics.get(instance) == Some(&m.member_id),
            None => true,
        });
        group.leader_id = match s.leader_id {
            Some(leader) if group.member_index(&leader).is_some() => Some(leader),
            _ => group.members.first().map(|m| m.member_id.clone()),
        };
        if group.members.is_empty() {
            group.state = ClassicState::Empty;
        } else {
            group.state = ClassicState::Stable;
            if group.protocol_name.is_none() {
                group.protocol_name = Some(protocol_name);
            }
        }
        group.previous_state = group.state;
        group.state_timestamp_ms = s.state_timestamp_ms;
        group
    }

    pub fn snapshot(&self) -> GroupSnapshot {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        GroupSnapshot {
            group_id: self.group_id.clone(),
            protocol_type: self.protocol_type.clone(),
            generation_id: self.generation_id,
            protocol_name: self.protocol_name.clone(),
            leader_id: self.leader_id.clone(),
            state_timestamp_ms: self.state_timestamp_ms,
            members: self
                .members
                .iter()
                .map(|m| MemberSnapshot {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata(protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    // ----- JoinGroup -----

    /// JoinGroup. Done with an error, MEMBER_ID_REQUIRED, or an immediate answer (a follower or
    /// replaced static member in a stable group, or a join that completed the phase itself);
    /// otherwise Pending until the join phase completes.
    pub fn join(
        &mut self,
        req: JoinRequest,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (Outcome<JoinResponse>, Effects) {
        let mut fx = Effects::default();
        if req.session_timeout_ms < cfg.session_timeout_ms_min
            || req.session_timeout_ms > cfg.session_timeout_ms_max
        {
            let err = GroupError::InvalidSessionTimeout(req.session_timeout_ms);
            return (Outcome::Done(join_error(&req.member_id, err)), fx);
        }
        if !self.accept_joining_member(&req.member_id, cfg) {
            // Kafka drops an existing member it turns away (its parked requests, if any, cannot
            // exist: a member awaiting join is always accepted).
            if self.member_index(&req.member_id).is_some() {
                self.remove_member(&req.member_id);
            }
            return (
                Outcome::Done(join_error("", GroupError::GroupMaxSizeReached)),
                fx,
            );
        }
        let step = if req.member_id.is_empty() {
            self.join_new_member(req, now_ms, cfg, &mut fx)
        } else {
            self.join_existing_member(req, now_ms, cfg, &mut fx)
        };
        let outcome = match step {
            JoinStep::Respond(response) => Outcome::Done(response),
            JoinStep::Wait(member_id) => match fx.joins.iter().position(|(m, _)| *m == member_id) {
                Some(i) => Outcome::Done(fx.joins.remove(i).1),
                None => Outcome::Pending(member_id),
            },
        };
        (outcome, fx)
    }

    /// Kafka's `acceptJoiningMember` (group.max.size).
    fn accept_joining_member(&self, member_id: &str, cfg: &GroupConfig) -> bool {
        let max = cfg.classic_group_size_max;
        let member = self.member(member_id);
        match self.state {
            ClassicState::Empty | ClassicState::Dead => true,
            // Counting parked joins (not members) lets the last rejoiners be turned away when
            // the group is over a lowered max size.
            ClassicState::PreparingRebalance => {
                member.is_some_and(|m| m.awaiting_join) || self.num_awaiting_join() < max
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                member.is_some() || self.members.len() < max
            }
        }
    }

    fn join_new_member(
        &mut self,
        req: JoinRequest,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> JoinStep {
        if self.state == ClassicState::Dead {
            return JoinStep::Respond(join_error("", GroupError::CoordinatorNotAvailable));
        }
        if let Err(e) = self.check_protocols(&req.protocol_type, &req.protocols) {
            return JoinStep::Respond(join_error("", e));
        }
        match req.group_instance_id.clone() {
            Some(instance) => {
                let new_id = self.generate_member_id(&instance, now_ms);
                match self.static_members.get(&instance).cloned() {
                    Some(old_id) => self.replace_static_member_and_join(
                        req, &instance, &old_id, new_id, now_ms, cfg, fx,
                    ),
                    None => self.add_member_and_join(req, new_id, now_ms, cfg, fx),
                }
            }
            None => {
                let new_id = self.generate_member_id(&req.client_id, now_ms);
                if req.require_known_member_id {
                    let expiry = deadline(now_ms, i64::from(req.session_timeout_ms));
                    self.pending_members.insert(new_id.clone(), expiry);
                    JoinStep::Respond(join_error(&new_id, GroupError::MemberIdRequired))
                } else {
                    self.add_member_and_join(req, new_id, now_ms, cfg, fx)
                }
            }
        }
    }

    fn join_existing_member(
        &mut self,
        req: JoinRequest,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> JoinStep {
        let member_id = req.member_id.clone();
        if self.state == ClassicState::Dead {
            return JoinStep::Respond(join_error(&member_id, GroupError::CoordinatorNotAvailable));
        }
        if let Err(e) = self.check_protocols(&req.protocol_type, &req.protocols) {
            return JoinStep::Respond(join_error(&member_id, e));
        }
        if self.pending_members.contains_key(&member_id) {
            // Pending ids are only handed to dynamic members (Kafka: IllegalStateException).
            if req.group_instance_id.is_some() {
                let e = GroupError::InvalidRequest(
                    "a member id handed to a dynamic member was used with a group instance id"
                        .into(),
                );
                return JoinStep::Respond(join_error(&member_id, e));
            }
            return self.add_member_and_join(req, member_id, now_ms, cfg, fx);
        }
        if let Err(e) = self.validate_existing_member(&member_id, req.group_instance_id.as_deref())
        {
            return JoinStep::Respond(join_error(&member_id, e));
        }
        let Some(member) = self.member_mut(&member_id) else {
            return JoinStep::Respond(join_error(&member_id, GroupError::UnknownMemberId));
        };
        member.refresh(now_ms);
        let matches = member.protocols == req.protocols;
        match self.state {
            ClassicState::PreparingRebalance => {
                self.update_member_and_rebalance(&req, now_ms, cfg, fx)
            }
            ClassicState::CompletingRebalance => {
                if matches {
                    // It probably lost the JoinGroup response: answer the current generation again.
                    let members = if self.is_leader(&member_id) {
                        self.joined_members()
                    } else {
                        Vec::new()
                    };
                    JoinStep::Respond(self.current_join_response(&member_id, members, false))
                } else {
                    self.update_member_and_rebalance(&req, now_ms, cfg, fx)
                }
            }
            ClassicState::Stable => {
                // The leader's join forces a rebalance: it lets the leader react to changes that
                // do not show in member metadata (e.g. new partitions).
                if self.is_leader(&member_id) || !matches {
                    self.update_member_and_rebalance(&req, now_ms, cfg, fx)
                } else {
                    JoinStep::Respond(self.current_join_response(&member_id, Vec::new(), false))
                }
            }
            ClassicState::Empty | ClassicState::Dead => {
                JoinStep::Respond(join_error(&member_id, GroupError::UnknownMemberId))
            }
        }
    }

    /// Kafka's `supportsProtocols`: an empty group takes any non-empty type and protocol list;
    /// otherwise the type must match and one protocol must be supported by every member.
    fn check_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> Result<(), GroupError> {
        if protocol_type.is_empty() || protocols.is_empty() {
            return Err(GroupError::InconsistentGroupProtocol(
                "protocol type and protocols must not be empty".into(),
            ));
        }
        if self.state == ClassicState::Empty {
            return Ok(());
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return Err(GroupError::InconsistentGroupProtocol(format!(
                "protocol type '{protocol_type}' is not the group's '{}'",
                self.protocol_type.as_deref().unwrap_or("")
            )));
        }
        let shared = protocols
            .iter()
            .any(|(name, _)| self.members.iter().all(|m| m.supports(name)));
        if shared {
            Ok(())
        } else {
            Err(GroupError::InconsistentGroupProtocol(
                "no protocol in common with the group's members".into(),
            ))
        }
    }

    fn add_member_and_join(
        &mut self,
        req: JoinRequest,
        member_id: String,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> JoinStep {
        if self.state == ClassicState::PreparingRebalance
            && self.previous_state == ClassicState::Empty
            && let Some(delay) = &mut self.initial_delay
        {
            delay.new_member_added = true;
        }
        self.pending_members.remove(&member_id);
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member_id.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            self.static_members
                .insert(instance.clone(), member_id.clone());
        }
        self.members.push(Member {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: true,
            awaiting_sync: false,
            is_new: true,
            // A parked new member cannot heartbeat; bound its wait instead.
            deadline_ms: deadline(now_ms, NEW_MEMBER_JOIN_TIMEOUT_MS),
        });
        self.maybe_prepare_rebalance_or_complete_join(now_ms, cfg, fx);
        JoinStep::Wait(member_id)
    }

    /// A known member (re)joins: new protocols and timeouts, park its join, rebalance.
    fn update_member_and_rebalance(
        &mut self,
        req: &JoinRequest,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> JoinStep {
        if let Some(member) = self.member_mut(&req.member_id) {
            member.protocols = req.protocols.clone();
            member.rebalance_timeout_ms = req.rebalance_timeout_ms;
            member.session_timeout_ms = req.session_timeout_ms;
            member.awaiting_join = true;
        }
        self.maybe_prepare_rebalance_or_complete_join(now_ms, cfg, fx);
        JoinStep::Wait(req.member_id.clone())
    }

    /// A static member rejoins without its member id: the new id takes the old member's place
    /// and the old id is fenced (its parked requests fail with FENCED_INSTANCE_ID).
    #[allow(clippy::too_many_arguments)]
    fn replace_static_member_and_join(
        &mut self,
        req: JoinRequest,
        instance: &str,
        old_id: &str,
        new_id: String,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) -> JoinStep {
        let fenced = GroupError::FencedInstanceId(instance.to_string());
        let Some(old) = self.member_mut(old_id) else {
            return JoinStep::Respond(join_error("", GroupError::UnknownMemberId));
        };
        if old.awaiting_join {
            fx.joins
                .push((old_id.to_string(), join_error(old_id, fenced.clone())));
        }
        if old.awaiting_sync {
            fx.syncs.push((old_id.to_string(), sync_error(fenced)));
        }
        old.member_id = new_id.clone();
        old.awaiting_join = false;
        old.awaiting_sync = false;
        old.is_new = false;
        old.protocols = req.protocols.clone();
        old.rebalance_timeout_ms = req.rebalance_timeout_ms;
        old.session_timeout_ms = req.session_timeout_ms;
        old.refresh(now_ms);
        if self.leader_id.as_deref() == Some(old_id) {
            self.leader_id = Some(new_id.clone());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        self.static_members
            .insert(instance.to_string(), new_id.clone());

        match self.state {
            ClassicState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    // Nothing the assignment depends on changed: keep the generation. The leader
                    // gets the members with skip_assignment (JoinGroup v9+, KIP-814) so it learns
                    // the group without reassigning; a follower just syncs for its assignment.
                    fx.persist = true;
                    let is_leader = self.is_leader(&new_id);
                    let members = if is_leader {
                        self.joined_members()
                    } else {
                        Vec::new()
                    };
                    JoinStep::Respond(self.current_join_response(&new_id, members, is_leader))
                } else {
                    self.set_awaiting_join(&new_id);
                    self.maybe_prepare_rebalance_or_complete_join(now_ms, cfg, fx);
                    JoinStep::Wait(new_id)
                }
            }
            // The leader may already be assigning to the old id: rebalance so that the new id
            // gets an assignment.
            ClassicState::CompletingRebalance => {
                self.set_awaiting_join(&new_id);
                self.prepare_rebalance(now_ms, cfg, fx);
                JoinStep::Wait(new_id)
            }
            ClassicState::PreparingRebalance => {
                self.set_awaiting_join(&new_id);
                self.maybe_complete_join_phase(now_ms, fx);
                JoinStep::Wait(new_id)
            }
            ClassicState::Empty | ClassicState::Dead => {
                JoinStep::Respond(join_error("", GroupError::UnknownMemberId))
            }
        }
    }

    fn set_awaiting_join(&mut self, member_id: &str) {
        if let Some(m) = self.member_mut(member_id) {
            m.awaiting_join = true;
        }
    }

    fn current_join_response(
        &self,
        member_id: &str,
        members: Vec<JoinedMember>,
        skip_assignment: bool,
    ) -> JoinResponse {
        JoinResponse {
            error: None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader_id.clone().unwrap_or_default(),
            skip_assignment,
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Every member with its metadata for the chosen protocol: the leader's JoinGroup answer.
    fn joined_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        self.members
            .iter()
            .map(|m| JoinedMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    // ----- rebalance machinery -----

    fn transition(&mut self, to: ClassicState, now_ms: i64) {
        self.previous_state = self.state;
        self.state = to;
        self.state_timestamp_ms = now_ms;
    }

    fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms.max(0)))
            .max()
            .unwrap_or(0)
    }

    fn num_awaiting_join(&self) -> usize {
        self.members.iter().filter(|m| m.awaiting_join).count()
    }

    /// Kafka's `hasAllMembersJoined`.
    fn has_all_members_joined(&self) -> bool {
        self.members.iter().all(|m| m.awaiting_join) && self.pending_members.is_empty()
    }

    fn maybe_prepare_rebalance_or_complete_join(
        &mut self,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) {
        match self.state {
            ClassicState::Empty | ClassicState::Stable | ClassicState::CompletingRebalance => {
                self.prepare_rebalance(now_ms, cfg, fx)
            }
            ClassicState::PreparingRebalance => self.maybe_complete_join_phase(now_ms, fx),
            ClassicState::Dead => {}
        }
    }

    /// Completes the join phase early once everyone rejoined; never for the initial rebalance
    /// (coming from Empty), which waits out its delay for more members.
    fn maybe_complete_join_phase(&mut self, now_ms: i64, fx: &mut Effects) {
        if self.state == ClassicState::PreparingRebalance
            && self.has_all_members_joined()
            && self.previous_state != ClassicState::Empty
        {
            self.complete_join(now_ms, fx);
        }
    }

    /// -> PreparingRebalance, failing parked syncs and arming the join deadline.
    fn prepare_rebalance(&mut self, now_ms: i64, cfg: &GroupConfig, fx: &mut Effects) {
        if self.state == ClassicState::CompletingRebalance {
            for m in &mut self.members {
                m.assignment = Bytes::new();
            }
            self.propagate_assignment(Some(GroupError::RebalanceInProgress), now_ms, fx);
        }
        self.sync_deadline = None;
        let initial = self.state == ClassicState::Empty;
        self.transition(ClassicState::PreparingRebalance, now_ms);
        if initial {
            let delay_ms = i64::from(cfg.initial_rebalance_delay_ms.max(0));
            if delay_ms == 0 {
                self.complete_join(now_ms, fx);
            } else {
                self.initial_delay = Some(InitialDelay {
                    delay_ms,
                    remaining_ms: (self.rebalance_timeout_ms() - delay_ms).max(0),
                    new_member_added: false,
                });
                self.join_deadline_ms = Some(deadline(now_ms, delay_ms));
            }
        } else {
            self.initial_delay = None;
            if self.has_all_members_joined() {
                self.complete_join(now_ms, fx);
            } else {
                self.join_deadline_ms = Some(deadline(now_ms, self.rebalance_timeout_ms()));
            }
        }
    }

    /// Kafka's `completeClassicGroupJoin`.
    fn complete_join(&mut self, now_ms: i64, fx: &mut Effects) {
        if self.state != ClassicState::PreparingRebalance {
            return;
        }
        let not_rejoined: Vec<String> = self
            .members
            .iter()
            .filter(|m| !m.awaiting_join && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in &not_rejoined {
            self.remove_member(id);
        }
        if !self.members.is_empty() && !self.elect_joined_leader() {
            // Only static members that did not rejoin are left: wait for them to rejoin or for
            // their sessions to expire.
            self.join_deadline_ms = Some(deadline(now_ms, self.rebalance_timeout_ms()));
            return;
        }
        self.join_deadline_ms = None;
        self.initial_delay = None;
        self.pending_sync.clear();
        self.generation_id = self.generation_id.wrapping_add(1).max(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition(ClassicState::Empty, now_ms);
            fx.persist = true;
            return;
        }
        self.protocol_name = self.select_protocol();
        self.transition(ClassicState::CompletingRebalance, now_ms);
        let leader_members = self.joined_members();
        let base = self.current_join_response("", Vec::new(), false);
        let leader = self.leader_id.clone();
        for m in &mut self.members {
            if m.awaiting_join {
                let mut response = base.clone();
                response.member_id = m.member_id.clone();
                if leader.as_deref() == Some(m.member_id.as_str()) {
                    response.members = leader_members.clone();
                }
                fx.joins.push((m.member_id.clone(), response));
                m.awaiting_join = false;
            }
            m.is_new = false;
            m.refresh(now_ms);
            self.pending_sync.insert(m.member_id.clone());
        }
        self.sync_deadline = Some((
            deadline(now_ms, self.rebalance_timeout_ms()),
            self.generation_id,
        ));
    }

    /// Keeps the leader if it rejoined, else picks the first member that did; false if none did.
    fn elect_joined_leader(&mut self) -> bool {
        if let Some(leader) = self.leader_id.as_deref()
            && self.member(leader).is_some_and(|m| m.awaiting_join)
        {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join) {
            Some(m) => {
                self.leader_id = Some(m.member_id.clone());
                true
            }
            None => false,
        }
    }

    /// The protocol every member supports that most members list first among those (ties: the
    /// smallest name). None without members or common protocol.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| self.members.iter().all(|m| m.supports(name)))
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.members {
            if let Some((name, _)) = m
                .protocols
                .iter()
                .find(|(name, _)| candidates.contains(&name.as_str()))
            {
                *votes.entry(name.as_str()).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, count) in votes {
            if best.is_none_or(|(_, c)| count > c) {
                best = Some((name, count));
            }
        }
        best.map(|(name, _)| name.to_string())
    }

    /// Answers every parked sync with its assignment (or the error) and restarts its session.
    fn propagate_assignment(&mut self, error: Option<GroupError>, now_ms: i64, fx: &mut Effects) {
        let (protocol_type, protocol_name) = match error {
            None => (self.protocol_type.clone(), self.protocol_name.clone()),
            Some(_) => (None, None),
        };
        for m in &mut self.members {
            if m.awaiting_sync {
                m.awaiting_sync = false;
                fx.syncs.push((
                    m.member_id.clone(),
                    SyncResponse {
                        error: error.clone(),
                        protocol_type: protocol_type.clone(),
                        protocol_name: protocol_name.clone(),
                        assignment: m.assignment.clone(),
                    },
                ));
                m.refresh(now_ms);
            }
        }
    }

    /// Removes a member from every index; the leader passes to the first remaining member.
    /// Parked requests must have been answered by the caller.
    fn remove_member(&mut self, member_id: &str) {
        if let Some(index) = self.member_index(member_id) {
            let removed = self.members.remove(index);
            if let Some(instance) = &removed.group_instance_id
                && self.static_members.get(instance).map(String::as_str) == Some(member_id)
            {
                self.static_members.remove(instance);
            }
        }
        self.pending_sync.remove(member_id);
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self.members.first().map(|m| m.member_id.clone());
        }
    }

    /// Kafka's `removeMemberAndUpdateClassicGroup`: a parked join is answered UNKNOWN_MEMBER_ID
    /// (the client retries if it is alive), then the group rebalances.
    fn remove_member_and_rebalance(
        &mut self,
        member_id: &str,
        now_ms: i64,
        cfg: &GroupConfig,
        fx: &mut Effects,
    ) {
        self.fail_parked(member_id, fx);
        self.remove_member(member_id);
        match self.state {
            ClassicState::Stable | ClassicState::CompletingRebalance => {
                self.prepare_rebalance(now_ms, cfg, fx)
            }
            ClassicState::PreparingRebalance => self.maybe_complete_join_phase(now_ms, fx),
            ClassicState::Empty | ClassicState::Dead => {}
        }
    }

    fn fail_parked(&mut self, member_id: &str, fx: &mut Effects) {
        if let Some(m) = self.member_mut(member_id) {
            if m.awaiting_join {
                m.awaiting_join = false;
                fx.joins.push((
                    member_id.to_string(),
                    join_error("", GroupError::UnknownMemberId),
                ));
            }
            if m.awaiting_sync {
                m.awaiting_sync = false;
                fx.syncs.push((
                    member_id.to_string(),
                    sync_error(GroupError::UnknownMemberId),
                ));
            }
        }
    }

    // ----- SyncGroup -----

    /// SyncGroup. A follower in CompletingRebalance is Pending until the leader syncs.
    pub fn sync(
        &mut self,
        req: SyncRequest,
        now_ms: i64,
        _cfg: &GroupConfig,
    ) -> (Outcome<SyncResponse>, Effects) {
        let mut fx = Effects::default();
        if self.state == ClassicState::Dead {
            return (
                Outcome::Done(sync_error(GroupError::CoordinatorNotAvailable)),
                fx,
            );
        }
        if let Err(e) =
            self.validate_existing_member(&req.member_id, req.group_instance_id.as_deref())
        {
            return (Outcome::Done(sync_error(e)), fx);
        }
        if req.generation_id != self.generation_id {
            let e = GroupError::IllegalGeneration {
                current: self.generation_id,
                got: req.generation_id,
            };
            return (Outcome::Done(sync_error(e)), fx);
        }
        let inconsistent = |given: &Option<String>, ours: &Option<String>| matches!((given, ours), (Some(g), Some(o)) if g != o);
        if inconsistent(&req.protocol_type, &self.protocol_type)
            || inconsistent(&req.protocol_name, &self.protocol_name)
        {
            let e = GroupError::InconsistentGroupProtocol(
                "protocol type or name is not the group's".into(),
            );
            return (Outcome::Done(sync_error(e)), fx);
        }
        match self.state {
            ClassicState::PreparingRebalance => (
                Outcome::Done(sync_error(GroupError::RebalanceInProgress)),
                fx,
            ),
            ClassicState::CompletingRebalance => {
                self.pending_sync.remove(&req.member_id);
                if let Some(m) = self.member_mut(&req.member_id) {
                    m.awaiting_sync = true;
                    m.refresh(now_ms);
                }
                if !self.is_leader(&req.member_id) {
                    return (Outcome::Pending(req.member_id), fx);
                }
                let mut given: BTreeMap<String, Bytes> = BTreeMap::new();
                for (member_id, assignment) in req.assignments {
                    given.insert(member_id, assignment);
                }
                for m in &mut self.members {
                    m.assignment = given.remove(&m.member_id).unwrap_or_default();
                }
                self.transition(ClassicState::Stable, now_ms);
                fx.persist = true;
                self.propagate_assignment(None, now_ms, &mut fx);
                let outcome = match fx.syncs.iter().position(|(m, _)| *m == req.member_id) {
                    Some(i) => Outcome::Done(fx.syncs.remove(i).1),
                    None => Outcome::Pending(req.member_id),
                };
                (outcome, fx)
            }
            ClassicState::Stable => {
                self.pending_sync.remove(&req.member_id);
                let Some(m) = self.member_mut(&req.member_id) else {
                    return (Outcome::Done(sync_error(GroupError::UnknownMemberId)), fx);
                };
                m.refresh(now_ms);
                let assignment = m.assignment.clone();
                let response = SyncResponse {
                    error: None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment,
                };
                (Outcome::Done(response), fx)
            }
            ClassicState::Empty | ClassicState::Dead => {
                (Outcome::Done(sync_error(GroupError::UnknownMemberId)), fx)
            }
        }
    }

    // ----- Heartbeat, OffsetCommit, LeaveGroup -----

    /// Heartbeat: restarts the member's session. REBALANCE_IN_PROGRESS tells it to rejoin.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
        _cfg: &GroupConfig,
    ) -> (Result<(), GroupError>, Effects) {
        (
            self.heartbeat_inner(member_id, group_instance_id, generation_id, now_ms),
            Effects::default(),
        )
    }

    fn heartbeat_inner(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Result<(), GroupError> {
        if self.state == ClassicState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        self.validate_existing_member(member_id, group_instance_id)?;
        if generation_id != self.generation_id {
            return Err(GroupError::IllegalGeneration {
                current: self.generation_id,
                got: generation_id,
            });
        }
        let state = self.state;
        let Some(m) = self.member_mut(member_id) else {
            return Err(GroupError::UnknownMemberId);
        };
        match state {
            ClassicState::Empty | ClassicState::Dead => Err(GroupError::UnknownMemberId),
            ClassicState::PreparingRebalance => {
                m.refresh(now_ms);
                Err(GroupError::RebalanceInProgress)
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                m.refresh(now_ms);
                Ok(())
            }
        }
    }

    /// Kafka's `ClassicGroup.validateOffsetCommit` (non-transactional): generation < 0 on an
    /// Empty group is a "simple" commit; otherwise member and generation must be current, and
    /// CompletingRebalance answers REBALANCE_IN_PROGRESS. A valid member's session restarts.
    pub fn validate_offset_commit(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Result<(), GroupError> {
        if self.state == ClassicState::Dead {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.state == ClassicState::Empty {
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
            self.validate_existing_member(member_id, group_instance_id)?;
            if generation_id != self.generation_id {
                return Err(GroupError::IllegalGeneration {
                    current: self.generation_id,
                    got: generation_id,
                });
            }
        } else if self.state != ClassicState::Empty {
            return Err(GroupError::UnknownMemberId);
        }
        if self.state == ClassicState::CompletingRebalance {
            return Err(GroupError::RebalanceInProgress);
        }
        if let Some(m) = self.member_mut(member_id) {
            m.refresh(now_ms);
        }
        Ok(())
    }

    /// LeaveGroup for several members (member id "" with an instance id removes that static
    /// member). One result per entry, in order; the group then rebalances.
    pub fn leave(
        &mut self,
        members: Vec<(String, Option<String>)>,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (Vec<Result<(), GroupError>>, Effects) {
        let mut fx = Effects::default();
        if self.state == ClassicState::Dead {
            return (
                members
                    .iter()
                    .map(|_| Err(GroupError::CoordinatorNotAvailable))
                    .collect(),
                fx,
            );
        }
        let mut results = Vec::with_capacity(members.len());
        let mut any_left = false;
        for (member_id, instance) in members {
            let result = if member_id.is_empty() {
                match instance
                    .as_ref()
                    .and_then(|i| self.static_members.get(i))
                    .cloned()
                {
                    Some(id) => {
                        self.fail_parked(&id, &mut fx);
                        self.remove_member(&id);
                        Ok(())
                    }
                    None => Err(GroupError::UnknownMemberId),
                }
            } else if self.pending_members.remove(&member_id).is_some() {
                Ok(())
            } else {
                match self.validate_existing_member(&member_id, instance.as_deref()) {
                    Ok(()) => {
                        self.fail_parked(&member_id, &mut fx);
                        self.remove_member(&member_id);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            };
            any_left |= result.is_ok();
            results.push(result);
        }
        if any_left {
            match self.state {
                ClassicState::Stable | ClassicState::CompletingRebalance => {
                    self.prepare_rebalance(now_ms, cfg, &mut fx)
                }
                ClassicState::PreparingRebalance => self.maybe_complete_join_phase(now_ms, &mut fx),
                ClassicState::Empty | ClassicState::Dead => {}
            }
        }
        (results, fx)
    }

    /// Kafka's `validateExistingMember`: a static member is known by its instance id, and an
    /// instance id naming another member id means this one was replaced (fenced).
    fn validate_existing_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        match group_instance_id {
            None => match self.member(member_id) {
                Some(_) => Ok(()),
                None => Err(GroupError::UnknownMemberId),
            },
            Some(instance) => match self.static_members.get(instance) {
                None => Err(GroupError::UnknownMemberId),
                Some(current) if current != member_id => {
                    Err(GroupError::FencedInstanceId(instance.to_string()))
                }
                Some(_) => match self.member(member_id) {
                    Some(_) => Ok(()),
                    None => Err(GroupError::UnknownMemberId),
                },
            },
        }
    }

    // ----- timers -----

    /// Fires every timer due at `now_ms`, earliest first: session expiry, pending (member id
    /// required) expiry, the join deadline (initial delay or rebalance timeout) and the sync
    /// deadline (members that never sent SyncGroup are removed).
    pub fn tick(&mut self, now_ms: i64, cfg: &GroupConfig) -> Effects {
        let mut fx = Effects::default();
        // Every firing removes something or moves a deadline; the cap only guards a zero
        // rebalance timeout re-arming the join deadline at `now_ms`.
        let cap = self.members.len() + self.pending_members.len() + 8;
        for _ in 0..cap {
            let Some((at, timer)) = self.earliest_timer() else {
                break;
            };
            if at > now_ms {
                break;
            }
            self.fire(timer, at, now_ms, cfg, &mut fx);
        }
        fx
    }

    /// The earliest armed timer, so the shell can sleep until then.
    pub fn next_deadline_ms(&self) -> Option<i64> {
        self.earliest_timer().map(|(at, _)| at)
    }

    fn earliest_timer(&self) -> Option<(i64, Timer)> {
        if self.state == ClassicState::Dead {
            return None;
        }
        let mut best: Option<(i64, Timer)> = None;
        let mut consider = |at: i64, timer: Timer| {
            if best.as_ref().is_none_or(|(b, _)| at < *b) {
                best = Some((at, timer));
            }
        };
        for (id, at) in &self.pending_members {
            consider(*at, Timer::Pending(id.clone()));
        }
        for m in self.members.iter().filter(|m| m.expirable()) {
            consider(m.deadline_ms, Timer::Session(m.member_id.clone()));
        }
        if self.state == ClassicState::PreparingRebalance
            && let Some(at) = self.join_deadline_ms
        {
            consider(at, Timer::Join);
        }
        if let Some((at, _)) = self.sync_deadline {
            consider(at, Timer::Sync);
        }
        best
    }

    /// `at` is when the timer was due: the initial delay extends from there, as Kafka's timer
    /// would have if fired on time, so a late tick does not stretch the delay.
    fn fire(&mut self, timer: Timer, at: i64, now_ms: i64, cfg: &GroupConfig, fx: &mut Effects) {
        match timer {
            Timer::Pending(id) => {
                self.pending_members.remove(&id);
                self.maybe_complete_join_phase(now_ms, fx);
            }
            Timer::Session(id) => self.remove_member_and_rebalance(&id, now_ms, cfg, fx),
            Timer::Join => {
                self.join_deadline_ms = None;
                match self.initial_delay {
                    Some(d) if d.new_member_added && d.remaining_ms > 0 => {
                        let delay_ms = d.delay_ms.min(d.remaining_ms);
                        self.initial_delay = Some(InitialDelay {
                            delay_ms: d.delay_ms,
                            remaining_ms: (d.remaining_ms - d.delay_ms).max(0),
                            new_member_added: false,
                        });
                        self.join_deadline_ms = Some(deadline(at, delay_ms));
                    }
                    _ => self.complete_join(now_ms, fx),
                }
            }
            Timer::Sync => {
                let Some((_, generation)) = self.sync_deadline.take() else {
                    return;
                };
                let syncing = matches!(
                    self.state,
                    ClassicState::CompletingRebalance | ClassicState::Stable
                );
                if generation == self.generation_id && syncing && !self.pending_sync.is_empty() {
                    let missing: Vec<String> = self.pending_sync.iter().cloned().collect();
                    for id in &missing {
                        self.fail_parked(id, fx);
                        self.remove_member(id);
                    }
                    self.prepare_rebalance(now_ms, cfg, fx);
                }
            }
        }
    }

    // ----- queries -----

    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    pub fn state(&self) -> ClassicState {
        self.state
    }

    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// The largest rebalance timeout among members (0 without members): how long a parked
    /// request may wait at most, give or take one phase.
    pub fn rebalance_timeout_ms_max(&self) -> i32 {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
            .max(0)
    }

    pub fn leader_id(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    /// For DescribeGroups; metadata and assignment only in `Stable`, as Kafka shows them.
    pub fn members(&self) -> Vec<MemberDescription> {
        let stable = self.state == ClassicState::Stable;
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        self.members
            .iter()
            .map(|m| MemberDescription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata(protocol)
                } else {
                    Bytes::new()
                },
                assignment: if stable {
                    m.assignment.clone()
                } else {
                    Bytes::new()
                },
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Topics the members subscribe to when the protocol type is "consumer" (for OffsetDelete's
    /// GROUP_SUBSCRIBED_TO_TOPIC); None for other protocol types.
    pub fn subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        let mut topics = BTreeSet::new();
        let Some(protocol) = self.protocol_name.as_deref() else {
            return Some(topics);
        };
        for m in &self.members {
            parse_subscription_topics(&m.metadata(protocol), &mut topics);
        }
        Some(topics)
    }

    /// Adds a member that is neither joining nor syncing (restored or converted), its session
    /// starting at `now_ms`.
    fn push_settled(&mut self, m: MigratingMember, now_ms: i64) {
        if let Some(instance) = &m.group_instance_id {
            self.static_members
                .insert(instance.clone(), m.member_id.clone());
        }
        let mut member = Member {
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            rebalance_timeout_ms: m.rebalance_timeout_ms,
            session_timeout_ms: m.session_timeout_ms,
            protocols: m.protocols,
            assignment: m.assignment,
            awaiting_join: false,
            awaiting_sync: false,
            is_new: false,
            deadline_ms: now_ms,
        };
        member.refresh(now_ms);
        self.members.push(member);
    }

    /// Kafka's `usesConsumerGroupProtocol`: members, and the "consumer" protocol type (only such
    /// a group can become a consumer group).
    pub fn uses_consumer_protocol(&self) -> bool {
        !self.members.is_empty()
            && self.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
            && self.state != ClassicState::Dead
    }

    /// The members as `ConsumerGroup::from_classic` takes them.
    pub fn migrating_members(&self) -> Vec<MigratingMember> {
        self.members
            .iter()
            .map(|m| MigratingMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                protocols: m.protocols.clone(),
                assignment: m.assignment.clone(),
            })
            .collect()
    }

    /// Kafka's `ClassicGroup.fromConsumerGroup` followed by the rebalance a leaving member
    /// triggers: the classic members of a consumer group form a `Stable` classic group at
    /// generation `generation` (the group epoch), with the protocol they all support and each
    /// member's target assignment encoded in the version of its metadata; then the group goes to
    /// `PreparingRebalance` so that every member rejoins and its leader assigns. The returned
    /// effects ask for the snapshot to be written.
    pub fn from_consumer(
        group_id: String,
        generation: i32,
        members: Vec<(MigratingMember, Vec<(String, Vec<i32>)>)>,
        now_ms: i64,
        cfg: &GroupConfig,
    ) -> (ClassicGroup, Effects) {
        let mut g = ClassicGroup::new(group_id, now_ms);
        g.generation_id = generation.max(0);
        g.protocol_type = Some(CONSUMER_PROTOCOL_TYPE.to_string());
        let mut targets = Vec::with_capacity(members.len());
        for (m, target) in members {
            if g.member_index(&m.member_id).is_some() {
                continue;
            }
            g.push_settled(m, now_ms);
            targets.push(target);
        }
        g.leader_id = g.members.first().map(|m| m.member_id.clone());
        g.protocol_name = g.select_protocol();
        let protocol = g.protocol_name.clone().unwrap_or_default();
        for (m, target) in g.members.iter_mut().zip(targets) {
            let version = consumer_protocol::version_of(&m.metadata(&protocol));
            m.assignment = consumer_protocol::encode_assignment(version, &target);
        }
        let mut fx = Effects::default();
        if g.members.is_empty() {
            return (g, fx);
        }
        g.state = ClassicState::Stable;
        g.previous_state = ClassicState::Stable;
        g.prepare_rebalance(now_ms, cfg, &mut fx);
        fx.persist = true;
        (g, fx)
    }

    /// DeleteGroups on an empty group.
    pub fn mark_dead(&mut self) {
        self.previous_state = self.state;
        self.state = ClassicState::Dead;
        self.join_deadline_ms = None;
        self.initial_delay = None;
        self.sync_deadline = None;
        self.pending_members.clear();
    }

    // ----- helpers -----

    fn member_index(&self, member_id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.member_id == member_id)
    }

    fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.member_id == member_id)
    }

    fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.member_id == member_id)
    }

    fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// `<prefix>-<uuid-shaped>`, like Kafka's `<client id or instance id>-<uuid>`, built from
    /// the clock and a counter (no randomness) and unique within the group.
    fn generate_member_id(&mut self, prefix: &str, now_ms: i64) -> String {
        loop {
            self.id_counter = self.id_counter.wrapping_add(1);
            let t = now_ms as u64;
            let c = self.id_counter;
            let id = format!(
                "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                (t >> 16) as u32,
                (t & 0xffff) as u16,
                (c >> 60) as u16 | 0x4000,
                ((c >> 48) & 0x0fff) as u16 | 0x8000,
                c & 0xffff_ffff_ffff
            );
            let taken = self.member(&id).is_some()
                || self.pending_members.contains_key(&id)
                || self.static_members.values().any(|m| *m == id);
            if !taken {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &str = "g";
    const SESSION: i32 = 10_000;
    const REBALANCE: i32 = 30_000;

    fn cfg() -> GroupConfig {
        GroupConfig::default()
    }

    fn new_group() -> ClassicGroup {
        ClassicGroup::new(GROUP.into(), 0)
    }

    fn join_req(member_id: &str, protocols: &[(&str, &'static [u8])]) -> JoinRequest {
        JoinRequest {
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|(n, m)| (n.to_string(), Bytes::from_static(m)))
                .collect(),
            require_known_member_id: false,
            reason: None,
        }
    }

    fn range(member_id: &str) -> JoinRequest {
        join_req(member_id, &[("range", b"meta")])
    }

    fn static_req(member_id: &str, instance: &str, meta: &'static [u8]) -> JoinRequest {
        let mut r = join_req(member_id, &[("range", meta)]);
        r.group_instance_id = Some(instance.into());
        r
    }

    fn sync_req(
        member_id: &str,
        generation_id: i32,
        assignments: &[(&str, &'static [u8])],
    ) -> SyncRequest {
        SyncRequest {
            member_id: member_id.into(),
            group_instance_id: None,
            generation_id,
            protocol_type: None,
            protocol_name: None,
            assignments: assignments
                .iter()
                .map(|(m, a)| (m.to_string(), Bytes::from_static(a)))
                .collect(),
        }
    }

    fn done<T: std::fmt::Debug>(o: Outcome<T>) -> T {
        match o {
            Outcome::Done(t) => t,
            Outcome::Pending(member_id) => panic!("expected Done, got Pending for {member_id}"),
        }
    }

    fn pending<T: std::fmt::Debug>(o: Outcome<T>) -> String {
        match o {
            Outcome::Done(t) => panic!("expected Pending, got {t:?}"),
            Outcome::Pending(member_id) => member_id,
        }
    }

    fn find<'a, T>(v: &'a [(String, T)], id: &str) -> &'a T {
        &v.iter()
            .find(|(m, _)| m == id)
            .unwrap_or_else(|| panic!("no response for {id}"))
            .1
    }

    /// A one-member Stable group; returns the member id.
    fn stable_one(g: &mut ClassicGroup, now: i64) -> String {
        let (o, _) = g.join(range(""), now, &cfg());
        let r = done(o);
        let (o, _) = g.sync(
            sync_req(&r.member_id, r.generation_id, &[(&r.member_id, b"a1")]),
            now,
            &cfg(),
        );
        assert_eq!(done(o).assignment, Bytes::from_static(b"a1"));
        r.member_id
    }

    /// A two-member Stable group (leader first); returns (leader, follower).
    fn stable_two(g: &mut ClassicGroup) -> (String, String) {
        let a = stable_one(g, 0);
        let (o, _) = g.join(range(""), 100, &cfg());
        let b = pending(o);
        let (o, fx) = g.join(range(&a), 200, &cfg());
        let ra = done(o);
        let rb = find(&fx.joins, &b).clone();
        assert_eq!(ra.generation_id, 2);
        let (o, _) = g.sync(sync_req(&b, 2, &[]), 300, &cfg());
        pending(o);
        let (o, fx) = g.sync(sync_req(&a, 2, &[(&a, b"A"), (&b, b"B")]), 300, &cfg());
        assert_eq!(done(o).assignment, Bytes::from_static(b"A"));
        assert_eq!(find(&fx.syncs, &b).assignment, Bytes::from_static(b"B"));
        assert_eq!(rb.leader, a);
        assert_eq!(g.state(), ClassicState::Stable);
        (a, b)
    }

    #[test]
    fn state_names_are_kafkas() {
        assert_eq!(
            ClassicState::PreparingRebalance.as_str(),
            "PreparingRebalance"
        );
        assert_eq!(
            ClassicState::CompletingRebalance.as_str(),
            "CompletingRebalance"
        );
        assert_eq!(ClassicState::Empty.as_str(), "Empty");
        assert_eq!(ClassicState::Stable.as_str(), "Stable");
        assert_eq!(ClassicState::Dead.as_str(), "Dead");
    }

    #[test]
    fn empty_to_preparing_to_completing_to_stable() {
        let mut g = new_group();
        assert_eq!(g.state(), ClassicState::Empty);
        let mut c = cfg();
        c.initial_rebalance_delay_ms = 1_000;
        let (o, fx) = g.join(range(""), 0, &c);
        let id = pending(o);
        assert!(id.starts_with("client-"));
        assert!(fx.joins.is_empty() && !fx.persist);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        assert_eq!(g.next_deadline_ms(), Some(1_000));
        assert!(g.tick(999, &c).joins.is_empty());
        let fx = g.tick(1_000, &c);
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        let r = find(&fx.joins, &id);
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader, id);
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
        assert_eq!(r.members.len(), 1);
        assert_eq!(g.heartbeat(&id, None, 1, 1_100, &c).0, Ok(()));
        let (o, fx) = g.sync(sync_req(&id, 1, &[(&id, b"x")]), 1_200, &c);
        let s = done(o);
        assert_eq!(s.error, None);
        assert_eq!(s.assignment, Bytes::from_static(b"x"));
        assert_eq!(s.protocol_name.as_deref(), Some("range"));
        assert!(fx.persist);
        assert_eq!(g.state(), ClassicState::Stable);
        assert_eq!(g.heartbeat(&id, None, 1, 1_300, &c).0, Ok(()));
    }

    #[test]
    fn first_join_completes_at_once_without_initial_delay() {
        let mut g = new_group();
        let (o, fx) = g.join(range(""), 0, &cfg());
        let r = done(o);
        assert!(fx.joins.is_empty());
        assert_eq!(r.generation_id, 1);
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        assert_eq!(g.rebalance_timeout_ms_max(), REBALANCE);
    }

    #[test]
    fn second_member_joining_stable_group_rebalances() {
        let mut g = new_group();
        let a = stable_one(&mut g, 0);
        let (o, _) = g.join(range(""), 100, &cfg());
        let b = pending(o);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        assert_eq!(
            g.heartbeat(&a, None, 1, 150, &cfg()).0,
            Err(GroupError::RebalanceInProgress)
        );
        let (o, fx) = g.join(range(&a), 200, &cfg());
        let ra = done(o);
        let rb = find(&fx.joins, &b);
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
        assert_eq!(ra.leader, a);
        assert_eq!(rb.leader, a);
        assert_eq!(ra.members.len(), 2);
        assert!(rb.members.is_empty());
    }

    #[test]
    fn member_id_required_flow() {
        let mut g = new_group();
        let mut req = range("");
        req.require_known_member_id = true;
        let (o, _) = g.join(req.clone(), 0, &cfg());
        let r = done(o);
        assert_eq!(r.error, Some(GroupError::MemberIdRequired));
        assert!(r.member_id.starts_with("client-"));
        assert_eq!(g.state(), ClassicState::Empty);
        assert_eq!(g.next_deadline_ms(), Some(i64::from(SESSION)));
        // A heartbeat with the pending id is not a member's.
        assert_eq!(
            g.heartbeat(&r.member_id, None, 0, 1, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
        req.member_id = r.member_id.clone();
        let (o, _) = g.join(req, 10, &cfg());
        let r2 = done(o);
        assert_eq!(r2.error, None);
        assert_eq!(r2.member_id, r.member_id);
        assert_eq!(r2.generation_id, 1);
    }

    #[test]
    fn pending_member_expires_and_unblocks_rebalance() {
        let mut g = new_group();
        let (a, b) = stable_two(&mut g);
        let mut req = range("");
        req.require_known_member_id = true;
        let (o, _) = g.join(req, 1_000, &cfg());
        let pending_id = done(o).member_id;
        // Both members rejoin, but the pending member id keeps the phase open.
        let (o, _) = g.join(range(&a), 1_100, &cfg());
        pending(o);
        let (o, _) = g.join(range(&b), 1_100, &cfg());
        pending(o);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        let fx = g.tick(1_000 + i64::from(SESSION), &cfg());
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        assert_eq!(fx.joins.len(), 2);
        let (o, _) = g.join(
            {
                let mut r = range(&pending_id);
                r.require_known_member_id = true;
                r
            },
            20_000,
            &cfg(),
        );
        assert_eq!(done(o).error, Some(GroupError::UnknownMemberId));
    }

    #[test]
    fn leader_gets_member_metadata_followers_do_not() {
        let mut g = new_group();
        let mut c = cfg();
        c.initial_rebalance_delay_ms = 100;
        let (o, _) = g.join(join_req("", &[("range", b"ma")]), 0, &c);
        let a = pending(o);
        let (o, _) = g.join(join_req("", &[("range", b"mb")]), 10, &c);
        let b = pending(o);
        let fx = g.tick(100, &c);
        assert!(fx.joins.is_empty(), "delay extended by the new member");
        let fx = g.tick(200, &c);
        let ra = find(&fx.joins, &a);
        let rb = find(&fx.joins, &b);
        assert_eq!(ra.leader, a);
        assert_eq!(
            ra.members,
            vec![
                JoinedMember {
                    member_id: a.clone(),
                    group_instance_id: None,
                    metadata: Bytes::from_static(b"ma")
                },
                JoinedMember {
                    member_id: b.clone(),
                    group_instance_id: None,
                    metadata: Bytes::from_static(b"mb")
                },
            ]
        );
        assert!(rb.members.is_empty());
        assert!(!ra.skip_assignment && !rb.skip_assignment);
    }

    #[test]
    fn sync_delivers_assignments_to_waiting_followers() {
        let mut g = new_group();
        let a = stable_one(&mut g, 0);
        let (o, _) = g.join(range(""), 100, &cfg());
        let b = pending(o);
        let (o, _) = g.join(range(""), 100, &cfg());
        let c = pending(o);
        let (o, _) = g.join(range(&a), 200, &cfg());
        done(o);
        // Followers park.
        let (o, fx) = g.sync(sync_req(&b, 2, &[]), 300, &cfg());
        assert_eq!(pending(o), b);
        assert!(fx.syncs.is_empty());
        let (o, _) = g.sync(sync_req(&c, 2, &[]), 300, &cfg());
        pending(o);
        // The leader's assignment omits c: c gets an empty assignment; unknown ids are ignored.
        let (o, fx) = g.sync(
            sync_req(&a, 2, &[(&a, b"A"), (&b, b"B"), ("ghost", b"G")]),
            400,
            &cfg(),
        );
        assert_eq!(done(o).assignment, Bytes::from_static(b"A"));
        assert!(fx.persist);
        assert_eq!(fx.syncs.len(), 2);
        assert_eq!(find(&fx.syncs, &b).assignment, Bytes::from_static(b"B"));
        assert_eq!(find(&fx.syncs, &c).assignment, Bytes::new());
        assert_eq!(find(&fx.syncs, &b).error, None);
        // In Stable a sync answers the stored assignment at once.
        let (o, _) = g.sync(sync_req(&b, 2, &[]), 500, &cfg());
        assert_eq!(done(o).assignment, Bytes::from_static(b"B"));
        let snap = g.snapshot();
        assert_eq!(snap.members.len(), 3);
    }

    #[test]
    fn sync_checks_member_generation_protocol_and_state() {
        let mut g = new_group();
        let (a, _b) = stable_two(&mut g);
        assert_eq!(
            done(g.sync(sync_req("nobody", 2, &[]), 1, &cfg()).0).error,
            Some(GroupError::UnknownMemberId)
        );
        let mut r = sync_req(&a, 2, &[]);
        r.protocol_name = Some("roundrobin".into());
        assert!(matches!(
            done(g.sync(r, 1, &cfg()).0).error,
            Some(GroupError::InconsistentGroupProtocol(_))
        ));
        let mut r = sync_req(&a, 2, &[]);
        r.protocol_type = Some("consumer".into());
        r.protocol_name = Some("range".into());
        assert_eq!(done(g.sync(r, 1, &cfg()).0).error, None);
        let (o, _) = g.join(range(""), 2, &cfg());
        pending(o);
        assert_eq!(
            done(g.sync(sync_req(&a, 2, &[]), 3, &cfg()).0).error,
            Some(GroupError::RebalanceInProgress)
        );
    }

    #[test]
    fn session_expiry_removes_member_and_rebalances() {
        let mut g = new_group();
        let (a, b) = stable_two(&mut g);
        // Only a heartbeats.
        for t in (1_000..=9_000).step_by(1_000) {
            assert_eq!(g.heartbeat(&a, None, 2, t, &cfg()).0, Ok(()));
            assert!(g.tick(t, &cfg()).joins.is_empty());
        }
        assert_eq!(g.next_deadline_ms(), Some(300 + i64::from(SESSION)));
        let fx = g.tick(300 + i64::from(SESSION), &cfg());
        assert!(fx.joins.is_empty());
        assert_eq!(g.member_count(), 1);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        assert_eq!(
            g.heartbeat(&b, None, 2, 10_400, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
        assert_eq!(
            g.heartbeat(&a, None, 2, 10_400, &cfg()).0,
            Err(GroupError::RebalanceInProgress)
        );
        let (o, _) = g.join(range(&a), 10_500, &cfg());
        let r = done(o);
        assert_eq!(r.generation_id, 3);
        assert_eq!(r.members.len(), 1);
    }

    #[test]
    fn parked_join_keeps_member_alive_past_its_session() {
        let mut g = new_group();
        let (a, b) = stable_two(&mut g);
        let (o, _) = g.join(range(&a), 1_000, &cfg());
        pending(o);
        // a is parked: no session expiry for it, b keeps heartbeating.
        for t in (2_000..=20_000).step_by(2_000) {
            assert_eq!(
                g.heartbeat(&b, None, 2, t, &cfg()).0,
                Err(GroupError::RebalanceInProgress)
            );
            g.tick(t, &cfg());
        }
        assert_eq!(g.member_count(), 2);
        let (o, fx) = g.join(range(&b), 21_000, &cfg());
        assert_eq!(done(o).generation_id, 3);
        assert_eq!(find(&fx.joins, &a).generation_id, 3);
    }

    #[test]
    fn rebalance_timeout_removes_members_that_did_not_rejoin() {
        let mut g = new_group();
        let (a, b) = stable_two(&mut g);
        let (o, _) = g.join(range(""), 1_000, &cfg());
        let c = pending(o);
        let (o, _) = g.join(range(&b), 1_100, &cfg());
        pending(o);
        // a keeps heartbeating but never rejoins.
        for t in (2_000..31_000).step_by(3_000) {
            assert_eq!(
                g.heartbeat(&a, None, 2, t, &cfg()).0,
                Err(GroupError::RebalanceInProgress)
            );
            assert!(g.tick(t, &cfg()).joins.is_empty());
        }
        assert_eq!(g.next_deadline_ms(), Some(1_000 + i64::from(REBALANCE)));
        let fx = g.tick(31_000, &cfg());
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        assert_eq!(g.member_count(), 2);
        let rb = find(&fx.joins, &b);
        let rc = find(&fx.joins, &c);
        assert_eq!(rb.generation_id, 3);
        // a was the leader and left: the first rejoined member leads.
        assert_eq!(rb.leader, b);
        assert_eq!(rb.members.len(), 2);
        assert!(rc.members.is_empty());
        assert_eq!(
            g.heartbeat(&a, None, 3, 31_001, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
    }

    #[test]
    fn static_member_not_rejoined_is_kept_at_rebalance_timeout() {
        let mut g = new_group();
        let (o, _) = g.join(static_req("", "i1", b"m"), 0, &cfg());
        let s = done(o).member_id;
        assert!(s.starts_with("i1-"));
        g.sync(sync_req(&s, 1, &[]), 0, &cfg());
        let (o, _) = g.join(range(""), 100, &cfg());
        let d = pending(o);
        // s stays alive by heartbeats but does not rejoin.
        for t in (5_000..=30_000).step_by(5_000) {
            assert_eq!(
                g.heartbeat(&s, Some("i1"), 1, t, &cfg()).0,
                Err(GroupError::RebalanceInProgress)
            );
            g.tick(t, &cfg());
        }
        let fx = g.tick(100 + i64::from(REBALANCE), &cfg());
        assert_eq!(g.member_count(), 2);
        let rd = find(&fx.joins, &d);
        assert_eq!(
            rd.leader, d,
            "the static leader did not rejoin: a joined member leads"
        );
        assert_eq!(rd.members.len(), 2);
    }

    #[test]
    fn stale_generation_is_rejected() {
        let mut g = new_group();
        let (a, b) = stable_two(&mut g);
        let stale = GroupError::IllegalGeneration { current: 2, got: 1 };
        assert_eq!(g.heartbeat(&b, None, 1, 400, &cfg()).0, Err(stale.clone()));
        assert_eq!(
            done(g.sync(sync_req(&b, 1, &[]), 400, &cfg()).0).error,
            Some(stale.clone())
        );
        assert_eq!(g.validate_offset_commit(&a, None, 1, 400), Err(stale));
        assert_eq!(g.validate_offset_commit(&a, None, 2, 400), Ok(()));
        assert_eq!(
            g.validate_offset_commit("x", None, 2, 400),
            Err(GroupError::UnknownMemberId)
        );
        // A "simple" commit (no member, generation -1) only on an empty group.
        assert_eq!(
            g.validate_offset_commit("", None, -1, 400),
            Err(GroupError::UnknownMemberId)
        );
        let mut e = new_group();
        assert_eq!(e.validate_offset_commit("", None, -1, 0), Ok(()));
    }

    #[test]
    fn offset_commit_in_completing_rebalance_and_refreshes_session() {
        let mut g = new_group();
        let (o, _) = g.join(range(""), 0, &cfg());
        let a = done(o).member_id;
        assert_eq!(
            g.validate_offset_commit(&a, None, 1, 0),
            Err(GroupError::RebalanceInProgress)
        );
        g.sync(sync_req(&a, 1, &[]), 0, &cfg());
        assert_eq!(g.validate_offset_commit(&a, None, 1, 9_000), Ok(()));
        assert_eq!(g.next_deadline_ms(), Some(9_000 + i64::from(SESSION)));
    }

    #[test]
    fn static_member_replacement_without_rebalance_fences_old_id() {
        let mut g = new_group();
        let (o, _) = g.join(static_req("", "leader-i", b"m"), 0, &cfg());
        let l = done(o).member_id;
        g.sync(sync_req(&l, 1, &[(&l, b"L")]), 0, &cfg());
        let (o, _) = g.join(static_req("", "f-i", b"m"), 100, &cfg());
        let f_old = pending(o);
        let (o, _) = g.join(static_req(&l, "leader-i", b"m"), 200, &cfg());
        done(o);
        g.sync(sync_req(&f_old, 2, &[]), 300, &cfg());
        let (_, _) = g.sync(sync_req(&l, 2, &[(&l, b"L"), (&f_old, b"F")]), 300, &cfg());
        assert_eq!(g.state(), ClassicState::Stable);

        // The follower restarts without its member id.
        let (o, fx) = g.join(static_req("", "f-i", b"m"), 1_000, &cfg());
        let r = done(o);
        assert!(fx.persist);
        assert_ne!(r.member_id, f_old);
        assert_eq!(r.generation_id, 2);
        assert_eq!(r.leader, l);
        assert!(r.members.is_empty() && !r.skip_assignment);
        assert_eq!(g.state(), ClassicState::Stable);
        let (o, _) = g.sync(
            {
                let mut s = sync_req(&r.member_id, 2, &[]);
                s.group_instance_id = Some("f-i".into());
                s
            },
            1_100,
            &cfg(),
        );
        assert_eq!(done(o).assignment, Bytes::from_static(b"F"));
        assert_eq!(
            g.heartbeat(&f_old, Some("f-i"), 2, 1_200, &cfg()).0,
            Err(GroupError::FencedInstanceId("f-i".into()))
        );
        assert_eq!(
            g.heartbeat(&f_old, None, 2, 1_200, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
        assert_eq!(
            g.heartbeat(&r.member_id, Some("f-i"), 2, 1_200, &cfg()).0,
            Ok(())
        );
        let (o, _) = g.join(static_req(&f_old, "f-i", b"m"), 1_300, &cfg());
        assert_eq!(
            done(o).error,
            Some(GroupError::FencedInstanceId("f-i".into()))
        );
        let snap = g.snapshot();
        assert!(snap.members.iter().any(|m| m.member_id == r.member_id));
        assert!(!snap.members.iter().any(|m| m.member_id == f_old));
    }

    #[test]
    fn static_leader_replacement_gets_skip_assignment() {
        let mut g = new_group();
        let (o, _) = g.join(static_req("", "i", b"m"), 0, &cfg());
        let old = done(o).member_id;
        g.sync(sync_req(&old, 1, &[(&old, b"A")]), 0, &cfg());
        let (o, fx) = g.join(static_req("", "i", b"m"), 100, &cfg());
        let r = done(o);
        assert!(fx.persist);
        assert!(r.skip_assignment);
        assert_eq!(r.leader, r.member_id);
        assert_eq!(r.members.len(), 1);
        assert_eq!(r.generation_id, 1);
        let (o, _) = g.sync(sync_req(&r.member_id, 1, &[]), 200, &cfg());
        assert_eq!(done(o).assignment, Bytes::from_static(b"A"));
    }

    #[test]
    fn static_replacement_fences_parked_old_requests() {
        let mut g = new_group();
        let (o, _) = g.join(static_req("", "i", b"m"), 0, &cfg());
        let l = done(o).member_id;
        g.sync(sync_req(&l, 1, &[]), 0, &cfg());
        let (o, _) = g.join(static_req("", "j", b"m"), 10, &cfg());
        let j_old = pending(o);
        // j's new incarnation arrives while the old one's join is parked.
        let (o, fx) = g.join(static_req("", "j", b"m"), 20, &cfg());
        let j_new = pending(o);
        assert_eq!(
            find(&fx.joins, &j_old).error,
            Some(GroupError::FencedInstanceId("j".into()))
        );
        let (o, fx) = g.join(static_req(&l, "i", b"m"), 30, &cfg());
        done(o);
        assert_eq!(find(&fx.joins, &j_new).generation_id, 2);
    }

    #[test]
    fn static_member_rejoin_with_changed_metadata_triggers_rebalance() {
        let mut g = new_group();
        let (a, _) = stable_two(&mut g);
        let (o, _) = g.join(static_req("", "s", b"m"), 1_000, &cfg());
        let s = pending(o);
        let (o, _) = g.join(range(&a), 1_000, &cfg());
        pending(o);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        let fx = g.tick(1_000 + i64::from(REBALANCE), &cfg());
        let gen_ = find(&fx.joins, &s).generation_id;
        g.sync(sync_req(&a, gen_, &[]), 31_001, &cfg());
        g.sync(sync_req(&s, gen_, &[]), 31_001, &cfg());
        assert_eq!(g.state(), ClassicState::Stable);
        // Known member id, same metadata, follower: no rebalance.
        let (o, _) = g.join(static_req(&s, "s", b"m"), 31_100, &cfg());
        assert_eq!(done(o).generation_id, gen_);
        assert_eq!(g.state(), ClassicState::Stable);
        // Changed metadata: rebalance.
        let (o, _) = g.join(static_req(&s, "s", b"m2"), 31_200, &cfg());
        pending(o);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
    }

    #[test]
    fn static_replacement_changing_protocol_triggers_rebalance() {
        let mut g = new_group();
        let (o, _) = g.join(
            {
                let mut r = join_req("", &[("range", b"m"), ("rr", b"m")]);
                r.group_instance_id = Some("i".into());
                r
            },
            0,
            &cfg(),
        );
        let old = done(o).member_id;
        g.sync(sync_req(&old, 1, &[]), 0, &cfg());
        assert_eq!(g.protocol_name(), Some("range"));
        let mut r = join_req("", &[("rr", b"m"), ("range", b"m")]);
        r.group_instance_id = Some("i".into());
        let (o, _) = g.join(r, 10, &cfg());
        // The only member's join completed the phase at once.
        let resp = done(o);
        assert_eq!(resp.generation_id, 2);
        assert_eq!(resp.protocol_name.as_deref(), Some("rr"));
    }

    #[test]
    fn follower_in_stable_with_same_metadata_gets_current_generation_leader_rebalances() {
        let mut g = new_group();
        let (a, b) = stable_two(&mut g);
        let (o, _) = g.join(range(&b), 1_000, &cfg());
        let r = done(o);
        assert_eq!((r.generation_id, r.leader.as_str()), (2, a.as_str()));
        assert!(r.members.is_empty());
        assert_eq!(g.state(), ClassicState::Stable);
        let (o, _) = g.join(range(&a), 1_100, &cfg());
        pending(o);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
    }

    #[test]
    fn rejoin_in_completing_rebalance_with_same_metadata_is_answered_again() {
        let mut g = new_group();
        let a = stable_one(&mut g, 0);
        let (o, _) = g.join(range(""), 100, &cfg());
        let b = pending(o);
        g.join(range(&a), 200, &cfg());
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        let (o, _) = g.join(range(&a), 300, &cfg());
        let r = done(o);
        assert_eq!(r.generation_id, 2);
        assert_eq!(r.members.len(), 2);
        let (o, _) = g.join(range(&b), 300, &cfg());
        assert!(done(o).members.is_empty());
        // Changed metadata: rebalance, parked syncs are failed.
        let (o, _) = g.sync(sync_req(&b, 2, &[]), 400, &cfg());
        pending(o);
        let (o, fx) = g.join(join_req(&a, &[("range", b"new")]), 500, &cfg());
        pending(o);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        assert_eq!(
            find(&fx.syncs, &b).error,
            Some(GroupError::RebalanceInProgress)
        );
    }

    #[test]
    fn group_max_size() {
        let mut c = cfg();
        c.classic_group_size_max = 2;
        let mut g = new_group();
        let (o, _) = g.join(range(""), 0, &c);
        let a = done(o).member_id;
        g.sync(sync_req(&a, 1, &[]), 0, &c);
        let (o, _) = g.join(range(""), 10, &c);
        let b = pending(o);
        let (o, _) = g.join(range(&a), 20, &c);
        done(o);
        g.sync(sync_req(&a, 2, &[]), 30, &c);
        assert_eq!(g.state(), ClassicState::Stable);
        // Stable and full: a new member is turned away.
        let (o, _) = g.join(range(""), 40, &c);
        let r = done(o);
        assert_eq!(r.error, Some(GroupError::GroupMaxSizeReached));
        assert_eq!(r.member_id, "");
        assert_eq!(g.member_count(), 2);
        // While rebalancing, parked joins are counted: the leader's rejoin parks one, a new
        // member parks the second, and b, rejoining last, is turned away and dropped.
        let (o, _) = g.join(range(&a), 50, &c);
        pending(o);
        let (o, _) = g.join(range(""), 60, &c);
        let d = pending(o);
        assert_eq!(g.member_count(), 3);
        let (o, _) = g.join(range(&b), 70, &c);
        assert_eq!(done(o).error, Some(GroupError::GroupMaxSizeReached));
        assert_eq!(g.member_count(), 2);
        // An already parked member is still accepted; its join finds everyone parked and
        // completes the phase (dropping b did not complete it by itself, as in Kafka).
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        let (o, fx) = g.join(range(&d), 80, &c);
        assert_eq!(done(o).generation_id, 3);
        assert_eq!(find(&fx.joins, &a).members.len(), 2);
    }

    #[test]
    fn inconsistent_protocols_are_rejected() {
        let mut g = new_group();
        let mut r = range("");
        r.protocol_type = String::new();
        assert!(matches!(
            done(g.join(r, 0, &cfg()).0).error,
            Some(GroupError::InconsistentGroupProtocol(_))
        ));
        assert!(matches!(
            done(g.join(join_req("", &[]), 0, &cfg()).0).error,
            Some(GroupError::InconsistentGroupProtocol(_))
        ));
        stable_one(&mut g, 0);
        let mut r = range("");
        r.protocol_type = "connect".into();
        assert!(matches!(
            done(g.join(r, 1, &cfg()).0).error,
            Some(GroupError::InconsistentGroupProtocol(_))
        ));
        let r = join_req("", &[("roundrobin", b"m")]);
        assert!(matches!(
            done(g.join(r, 1, &cfg()).0).error,
            Some(GroupError::InconsistentGroupProtocol(_))
        ));
        assert_eq!(g.member_count(), 1);
        assert_eq!(g.state(), ClassicState::Stable);
        // Sharing one protocol is enough.
        let (o, _) = g.join(
            join_req("", &[("roundrobin", b"m"), ("range", b"m")]),
            2,
            &cfg(),
        );
        pending(o);
    }

    #[test]
    fn invalid_session_timeout_and_dead_group() {
        let mut g = new_group();
        let mut r = range("");
        r.session_timeout_ms = 10;
        assert_eq!(
            done(g.join(r, 0, &cfg()).0).error,
            Some(GroupError::InvalidSessionTimeout(10))
        );
        let mut r = range("");
        r.session_timeout_ms = cfg().session_timeout_ms_max + 1;
        assert!(matches!(
            done(g.join(r, 0, &cfg()).0).error,
            Some(GroupError::InvalidSessionTimeout(_))
        ));
        g.mark_dead();
        assert_eq!(g.state(), ClassicState::Dead);
        assert_eq!(
            done(g.join(range(""), 0, &cfg()).0).error,
            Some(GroupError::CoordinatorNotAvailable)
        );
        assert_eq!(
            g.heartbeat("x", None, 0, 0, &cfg()).0,
            Err(GroupError::CoordinatorNotAvailable)
        );
        assert_eq!(g.next_deadline_ms(), None);
    }

    #[test]
    fn leave_of_last_member_empties_group_with_persist() {
        let mut g = new_group();
        let a = stable_one(&mut g, 0);
        let (results, fx) = g.leave(
            vec![(a.clone(), None), ("nobody".into(), None)],
            100,
            &cfg(),
        );
        assert_eq!(results, vec![Ok(()), Err(GroupError::UnknownMemberId)]);
        assert!(fx.persist);
        assert_eq!(g.state(), ClassicState::Empty);
        assert_eq!(g.generation_id(), 2);
        assert!(g.is_empty());
        assert_eq!(g.protocol_name(), None);
        assert_eq!(g.snapshot().members, vec![]);
        assert_eq!(g.next_deadline_ms(), None);
        // The group can start over.
        let (o, _) = g.join(range(""), 200, &cfg());
        assert_eq!(done(o).generation_id, 3);
    }

    #[test]
    fn leave_static_member_by_instance_id_and_fenced_leave() {
        let mut g = new_group();
        let (o, _) = g.join(static_req("", "i", b"m"), 0, &cfg());
        let old = done(o).member_id;
        g.sync(sync_req(&old, 1, &[]), 0, &cfg());
        let (o, _) = g.join(static_req("", "i", b"m"), 10, &cfg());
        let new = done(o).member_id;
        let (results, fx) = g.leave(
            vec![
                (old.clone(), Some("i".into())),
                (String::new(), Some("nope".into())),
                (String::new(), Some("i".into())),
            ],
            20,
            &cfg(),
        );
        assert_eq!(
            results,
            vec![
                Err(GroupError::FencedInstanceId("i".into())),
                Err(GroupError::UnknownMemberId),
                Ok(())
            ]
        );
        assert!(fx.persist);
        assert_eq!(g.state(), ClassicState::Empty);
        assert_eq!(
            g.heartbeat(&new, Some("i"), 1, 30, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
    }

    #[test]
    fn leave_during_rebalance_completes_join_and_fails_parked_join() {
        let mut g = new_group();
        let (a, b) = stable_two(&mut g);
        let (o, _) = g.join(range(&a), 1_000, &cfg());
        pending(o);
        let (results, fx) = g.leave(vec![(b.clone(), None)], 1_100, &cfg());
        assert_eq!(results, vec![Ok(())]);
        assert_eq!(find(&fx.joins, &a).generation_id, 3);
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        // A member leaving while parked gets UNKNOWN_MEMBER_ID for its join.
        let (o, _) = g.join(range(""), 1_200, &cfg());
        let c = pending(o);
        let (_, fx) = g.leave(vec![(c.clone(), None)], 1_300, &cfg());
        assert_eq!(find(&fx.joins, &c).error, Some(GroupError::UnknownMemberId));
    }

    #[test]
    fn initial_rebalance_delay_is_extended_by_new_members_up_to_rebalance_timeout() {
        let mut c = cfg();
        c.initial_rebalance_delay_ms = 3_000;
        let mut g = new_group();
        let mut req = range("");
        req.rebalance_timeout_ms = 7_000;
        let (o, _) = g.join(req.clone(), 0, &c);
        let a = pending(o);
        assert_eq!(g.next_deadline_ms(), Some(3_000));
        // Everyone has joined, but the initial rebalance waits for its delay.
        let (o, _) = g.join(req.clone(), 1_000, &c);
        pending(o);
        assert!(g.tick(3_000, &c).joins.is_empty());
        assert_eq!(g.next_deadline_ms(), Some(6_000));
        g.join(req.clone(), 4_000, &c);
        assert!(g.tick(6_000, &c).joins.is_empty());
        // remaining time was 7000 - 3000 - 3000 = 1000.
        assert_eq!(g.next_deadline_ms(), Some(7_000));
        g.join(req, 6_500, &c);
        let fx = g.tick(7_000, &c);
        assert_eq!(fx.joins.len(), 4);
        assert_eq!(find(&fx.joins, &a).members.len(), 4);
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
    }

    #[test]
    fn completing_rebalance_timeout_rebalances_again() {
        let mut g = new_group();
        let a = stable_one(&mut g, 0);
        let (o, _) = g.join(range(""), 100, &cfg());
        let b = pending(o);
        g.join(range(&a), 200, &cfg());
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        let (o, _) = g.sync(sync_req(&b, 2, &[]), 300, &cfg());
        pending(o);
        // Nobody heartbeats the leader; b is parked in sync. The leader's session expires first
        // (10 s) and already sends the group back to PreparingRebalance.
        let fx = g.tick(200 + i64::from(SESSION), &cfg());
        assert_eq!(
            find(&fx.syncs, &b).error,
            Some(GroupError::RebalanceInProgress)
        );
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        assert_eq!(g.member_count(), 1);
    }

    #[test]
    fn leader_never_syncing_removes_it_at_rebalance_timeout() {
        let mut g = new_group();
        let a = stable_one(&mut g, 0);
        let (o, _) = g.join(range(""), 100, &cfg());
        let b = pending(o);
        g.join(range(&a), 200, &cfg());
        let (o, _) = g.sync(sync_req(&b, 2, &[]), 300, &cfg());
        pending(o);
        // The leader heartbeats but never syncs.
        let mut t = 1_000;
        while t < 200 + i64::from(REBALANCE) {
            assert_eq!(g.heartbeat(&a, None, 2, t, &cfg()).0, Ok(()));
            assert!(g.tick(t, &cfg()).syncs.is_empty());
            t += 3_000;
        }
        let fx = g.tick(200 + i64::from(REBALANCE), &cfg());
        assert_eq!(
            find(&fx.syncs, &b).error,
            Some(GroupError::RebalanceInProgress)
        );
        assert_eq!(
            g.heartbeat(&a, None, 2, 30_300, &cfg()).0,
            Err(GroupError::UnknownMemberId)
        );
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
        let (o, _) = g.join(range(&b), 30_400, &cfg());
        let r = done(o);
        assert_eq!((r.generation_id, r.leader.as_str()), (3, b.as_str()));
    }

    #[test]
    fn new_member_join_times_out() {
        let mut g = new_group();
        let mut r = range("");
        r.rebalance_timeout_ms = 600_000;
        let (o, _) = g.join(r, 0, &cfg());
        let a = done(o).member_id;
        g.sync(sync_req(&a, 1, &[]), 0, &cfg());
        let (o, _) = g.join(range(""), 1_000, &cfg());
        let c = pending(o);
        // The rebalance lasts up to 600 s; a keeps heartbeating, c is parked and cannot.
        let mut t = 1_000;
        while t < 1_000 + NEW_MEMBER_JOIN_TIMEOUT_MS {
            assert_eq!(
                g.heartbeat(&a, None, 1, t, &cfg()).0,
                Err(GroupError::RebalanceInProgress)
            );
            assert!(g.tick(t, &cfg()).joins.is_empty());
            t += 5_000;
        }
        let fx = g.tick(1_000 + NEW_MEMBER_JOIN_TIMEOUT_MS, &cfg());
        assert_eq!(find(&fx.joins, &c).error, Some(GroupError::UnknownMemberId));
        assert_eq!(g.member_count(), 1);
        assert_eq!(g.state(), ClassicState::PreparingRebalance);
    }

    #[test]
    fn snapshot_round_trip() {
        let mut g = new_group();
        let (o, _) = g.join(static_req("", "i", b"meta-s"), 0, &cfg());
        let s = done(o).member_id;
        g.sync(sync_req(&s, 1, &[]), 0, &cfg());
        let (o, _) = g.join(join_req("", &[("range", b"meta-d")]), 100, &cfg());
        let d = pending(o);
        g.join(static_req(&s, "i", b"meta-s"), 200, &cfg());
        g.sync(sync_req(&d, 2, &[]), 300, &cfg());
        let (_, fx) = g.sync(sync_req(&s, 2, &[(&s, b"S"), (&d, b"D")]), 300, &cfg());
        assert!(fx.persist);
        let snap = g.snapshot();
        assert_eq!(snap.generation_id, 2);
        assert_eq!(snap.leader_id.as_deref(), Some(s.as_str()));
        assert_eq!(snap.protocol_name.as_deref(), Some("range"));
        assert_eq!(snap.members[1].subscription, Bytes::from_static(b"meta-d"));

        let mut r = ClassicGroup::from_snapshot(snap.clone(), 50_000);
        assert_eq!(r.snapshot(), snap);
        assert_eq!(r.state(), ClassicState::Stable);
        assert_eq!(r.generation_id(), 2);
        assert_eq!(r.next_deadline_ms(), Some(50_000 + i64::from(SESSION)));
        assert_eq!(r.heartbeat(&d, None, 2, 50_001, &cfg()).0, Ok(()));
        assert_eq!(
            done(r.sync(sync_req(&d, 2, &[]), 50_002, &cfg()).0).assignment,
            Bytes::from_static(b"D")
        );
        // The static mapping survives: a restart of "i" replaces s without a rebalance.
        let (o, _) = r.join(static_req("", "i", b"meta-s"), 50_003, &cfg());
        let resp = done(o);
        assert!(resp.skip_assignment);
        assert_eq!(r.state(), ClassicState::Stable);
        // A follower rejoining with the same metadata is not a change.
        let (o, _) = r.join(join_req(&d, &[("range", b"meta-d")]), 50_004, &cfg());
        assert_eq!(done(o).generation_id, 2);

        let empty = ClassicGroup::from_snapshot(ClassicGroup::new("e".into(), 0).snapshot(), 1);
        assert_eq!(empty.state(), ClassicState::Empty);
        assert_eq!(empty.next_deadline_ms(), None);
    }

    #[test]
    fn protocol_selection_by_votes() {
        let mut c = cfg();
        c.initial_rebalance_delay_ms = 10;
        let mut g = new_group();
        g.join(
            join_req("", &[("range", b"1"), ("rr", b"1"), ("sticky", b"1")]),
            0,
            &c,
        );
        g.join(join_req("", &[("rr", b"2"), ("range", b"2")]), 1, &c);
        g.join(
            join_req("", &[("rr", b"3"), ("range", b"3"), ("sticky", b"3")]),
            2,
            &c,
        );
        g.tick(100, &c);
        // Candidates: range, rr. Votes: range 1, rr 2.
        assert_eq!(g.protocol_name(), Some("rr"));
        let leader = g.leader_id().unwrap_or_default().to_string();
        let (o, _) = g.sync(sync_req(&leader, 1, &[]), 200, &c);
        assert_eq!(done(o).protocol_name.as_deref(), Some("rr"));
        let m = g.members();
        assert_eq!(m[1].metadata, Bytes::from_static(b"2"));

        // A tie breaks to the smallest name.
        let mut g = new_group();
        g.join(join_req("", &[("b", b"1"), ("a", b"1")]), 0, &c);
        g.join(join_req("", &[("a", b"2"), ("b", b"2")]), 1, &c);
        g.tick(100, &c);
        assert_eq!(g.protocol_name(), Some("a"));
    }

    fn subscription(
        version: i16,
        topics: &[&str],
        user_data: Option<&[u8]>,
        owned: &[(&str, &[i32])],
    ) -> Bytes {
        let mut b = Vec::new();
        b.extend_from_slice(&version.to_be_bytes());
        b.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for t in topics {
            b.extend_from_slice(&(t.len() as i16).to_be_bytes());
            b.extend_from_slice(t.as_bytes());
        }
        match user_data {
            None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(u) => {
                b.extend_from_slice(&(u.len() as i32).to_be_bytes());
                b.extend_from_slice(u);
            }
        }
        if version >= 1 {
            b.extend_from_slice(&(owned.len() as i32).to_be_bytes());
            for (t, ps) in owned {
                b.extend_from_slice(&(t.len() as i16).to_be_bytes());
                b.extend_from_slice(t.as_bytes());
                b.extend_from_slice(&(ps.len() as i32).to_be_bytes());
                for p in *ps {
                    b.extend_from_slice(&p.to_be_bytes());
                }
            }
        }
        Bytes::from(b)
    }

    #[test]
    fn subscribed_topics_parses_consumer_protocol() {
        let v0 = subscription(0, &["orders", "payments"], None, &[]);
        let v1 = subscription(1, &["orders", "audit"], Some(b"ud"), &[("orders", &[0, 1])]);
        let mut g = new_group();
        assert_eq!(g.subscribed_topics(), None);
        let mut c = cfg();
        c.initial_rebalance_delay_ms = 10;
        let mut r0 = range("");
        r0.protocols = vec![("range".into(), v0)];
        let mut r1 = range("");
        r1.protocols = vec![("range".into(), v1)];
        let mut garbage = range("");
        // A truncated subscription: one topic parses, then the bytes end.
        let mut bad = subscription(0, &["tail", "lost"], None, &[]).to_vec();
        bad.truncate(2 + 4 + 2 + 4 + 1);
        garbage.protocols = vec![("range".into(), Bytes::from(bad))];
        g.join(r0, 0, &c);
        g.join(r1, 0, &c);
        g.join(garbage, 0, &c);
        g.tick(100, &c);
        assert_eq!(g.state(), ClassicState::CompletingRebalance);
        let topics: Vec<String> = g
            .subscribed_topics()
            .unwrap_or_default()
            .into_iter()
            .collect();
        assert_eq!(topics, vec!["audit", "orders", "payments", "tail"]);

        let mut other = new_group();
        let mut r = range("");
        r.protocol_type = "connect".into();
        other.join(r, 0, &cfg());
        assert_eq!(other.subscribed_topics(), None);

        let mut out = BTreeSet::new();
        parse_subscription_topics(&[0, 0, 0x7f, 0xff, 0xff, 0xff], &mut out);
        parse_subscription_topics(&[], &mut out);
        parse_subscription_topics(&[0, 0, 0, 0, 0, 1, 0xff, 0xff], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn describe_shows_metadata_only_when_stable() {
        let mut g = new_group();
        let (o, _) = g.join(range(""), 0, &cfg());
        let a = done(o).member_id;
        let m = g.members();
        assert_eq!((m.len(), m[0].metadata.len()), (1, 0));
        g.sync(sync_req(&a, 1, &[(&a, b"A")]), 0, &cfg());
        let m = g.members();
        assert_eq!(m[0].metadata, Bytes::from_static(b"meta"));
        assert_eq!(m[0].assignment, Bytes::from_static(b"A"));
        assert_eq!(m[0].client_id, "client");
    }

    #[test]
    fn generated_member_ids_are_unique() {
        let mut g = new_group();
        let mut ids = BTreeSet::new();
        for _ in 0..100 {
            let mut r = range("");
            r.require_known_member_id = true;
            ids.insert(done(g.join(r, 5, &cfg()).0).member_id);
        }
        assert_eq!(ids.len(), 100);
    }
}
