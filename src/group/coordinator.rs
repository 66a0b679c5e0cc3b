//! The group coordinator: the groups of this broker, their committed offsets, and the shell that
//! turns the pure state machines (`classic`, `consumer`) into answered requests.
//!
//! Contract:
//! - State changes happen under one mutex (never held across an await); the records they produce
//!   are appended to `__consumer_offsets` through `GroupStore` before anyone is answered, so an
//!   answered commit or assignment is durable.
//! - A JoinGroup or SyncGroup the state machine cannot answer yet is parked on a oneshot channel;
//!   whichever later call (or `tick`) completes the phase answers it.
//! - A group lives in partition `abs(java_hash(group_id)) % offsets.topic.num.partitions` of the
//!   offsets topic, as in Kafka. While a partition is being replayed at start-up its groups answer
//!   COORDINATOR_LOAD_IN_PROGRESS; replay applies the same records the live path writes.
//! - Offsets of a group that has no members expire `offsets.retention.minutes` after their commit.
//! - Online migration (`group.consumer.migration.policy`): a ConsumerGroupHeartbeat join into a
//!   classic group with members converts it when the policy allows upgrades (else
//!   GROUP_ID_NOT_FOUND); the conversion stands only if that join succeeds, parked classic
//!   requests are answered REBALANCE_IN_PROGRESS, and a classic tombstone plus the consumer
//!   group's record are written. Classic requests to a consumer group with members go to its
//!   classic members. After any change to a consumer group, if only classic members remain and
//!   the policy allows downgrades, it becomes a rebalancing classic group (consumer tombstone plus
//!   the classic group's record). A tombstone keeps the group's offsets on replay. Consumer groups
//!   persist only their epoch, so after a restart a converted group's members rejoin.
//! Lock order: `inner` is a leaf.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::classic::{
    self, ClassicGroup, JoinRequest, JoinResponse, Outcome, SyncRequest, SyncResponse,
};
use super::consumer::{self, ConsumerGroup};
use super::records::{self, OffsetValue, Record};
use super::{ConsumerGroupOverrides, GroupConfig, GroupError, TopicView};
use crate::clock::SharedClock;

/// Kafka's `offset.metadata.max.bytes` default.
pub const OFFSET_METADATA_BYTES_MAX: usize = 4096;
/// The newest OffsetCommit version served (what `commit_offsets` assumes).
pub const OFFSET_COMMIT_VERSION_LATEST: i16 = 9;
/// From this OffsetCommit version a missing group is GROUP_ID_NOT_FOUND and consumer-protocol
/// members may commit.
const OFFSET_COMMIT_VERSION_GROUP_ID_NOT_FOUND: i16 = 9;
/// The offsets topic's name.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One record for the offsets topic; a `None` value is a tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRecord {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

pub type StoreFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Durable storage of coordinator records: implemented by the server over the offsets topic.
pub trait GroupStore: Send + Sync + std::fmt::Debug {
    /// Appends `records` to `partition` of the offsets topic; resolves once they are durable.
    fn append(&self, partition: i32, records: Vec<StoreRecord>) -> StoreFuture<'_>;
}

#[derive(Debug)]
enum Kind {
    Classic(ClassicGroup),
    Consumer(ConsumerGroup),
}

#[derive(Debug)]
struct Group {
    kind: Kind,
    offsets: BTreeMap<(String, i32), OffsetValue>,
    joins: HashMap<String, oneshot::Sender<JoinResponse>>,
    syncs: HashMap<String, oneshot::Sender<SyncResponse>>,
}

impl Group {
    fn classic(id: &str, now_ms: i64) -> Group {
        Group {
            kind: Kind::Classic(ClassicGroup::new(id.to_string(), now_ms)),
            offsets: BTreeMap::new(),
            joins: HashMap::new(),
            syncs: HashMap::new(),
        }
    }

    fn has_members(&self) -> bool {
        match &self.kind {
            Kind::Classic(g) => !g.is_empty(),
            Kind::Consumer(g) => !g.is_empty(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Classic(_) => "classic",
            Kind::Consumer(_) => "consumer",
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    groups: HashMap<String, Group>,
    loading: HashSet<i32>,
    /// The offsets-topic partitions this broker leads: only their groups are served here.
    /// `None` (a coordinator on its own, as in unit tests) serves every partition.
    owned: Option<HashSet<i32>>,
    /// Dynamic group configs (`consumer.session.timeout.ms`, `consumer.heartbeat.interval.ms`)
    /// by group id; they outlive the group, as Kafka's group configs do.
    overrides: HashMap<String, ConsumerGroupOverrides>,
}

/// The coordinator's settings for one group: the broker's, with the group's dynamic configs
/// (borrowed as they are for the many groups without any, which every tick visits).
fn effective_config<'a>(
    cfg: &'a GroupConfig,
    overrides: &HashMap<String, ConsumerGroupOverrides>,
    group_id: &str,
) -> std::borrow::Cow<'a, GroupConfig> {
    let Some(o) = overrides.get(group_id) else {
        return std::borrow::Cow::Borrowed(cfg);
    };
    let mut c = cfg.clone();
    if let Some(ms) = o.session_timeout_ms {
        c.consumer_session_timeout_ms = ms;
    }
    if let Some(ms) = o.heartbeat_interval_ms {
        c.consumer_heartbeat_interval_ms = ms;
    }
    std::borrow::Cow::Owned(c)
}

/// Answers parked by a state change, sent once its records are durable.
#[derive(Default)]
struct Deliveries {
    joins: Vec<(oneshot::Sender<JoinResponse>, JoinResponse)>,
    syncs: Vec<(oneshot::Sender<SyncResponse>, SyncResponse)>,
}

impl Deliveries {
    fn send(self) {
        for (tx, r) in self.joins {
            let _ = tx.send(r);
        }
        for (tx, r) in self.syncs {
            let _ = tx.send(r);
        }
    }
}

/// A partition to commit, as the coordinator sees it.
#[derive(Debug, Clone)]
pub struct CommitPartition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
    pub group_type: String,
}

/// A classic group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct ClassicDescription {
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<classic::MemberDescription>,
}

#[derive(Debug)]
pub struct GroupCoordinator {
    cfg: GroupConfig,
    clock: SharedClock,
    store: Arc<dyn GroupStore>,
    partitions: i32,
    offsets_retention_ms: i64,
    inner: Mutex<Inner>,
}

/// Java's `String.hashCode`, over UTF-16 code units, as Kafka hashes group ids.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

impl GroupCoordinator {
    pub fn new(
        cfg: GroupConfig,
        clock: SharedClock,
        store: Arc<dyn GroupStore>,
        partitions: i32,
        offsets_retention_ms: i64,
    ) -> Self {
        GroupCoordinator {
            cfg,
            clock,
            store,
            partitions: partitions.max(1),
            offsets_retention_ms,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.cfg
    }

    /// Sets a group's dynamic configs; members see them from their next heartbeat.
    pub fn set_consumer_overrides(&self, group_id: &str, overrides: ConsumerGroupOverrides) {
        let mut inner = self.lock();
        if overrides == ConsumerGroupOverrides::default() {
            inner.overrides.remove(group_id);
        } else {
            inner.overrides.insert(group_id.to_string(), overrides);
        }
    }

    /// The offsets-topic partition that holds `group_id`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        (java_string_hash(group_id) & 0x7fff_ffff) % self.partitions
    }

    pub fn offsets_partitions(&self) -> i32 {
        self.partitions
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.clock.monotonic_ms()
    }

    fn check(&self, inner: &Inner, group_id: &str) -> Result<(), GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let p = self.partition_for(group_id);
        if inner.owned.as_ref().is_some_and(|o| !o.contains(&p)) {
            return Err(GroupError::NotCoordinator);
        }
        if inner.loading.contains(&p) {
            return Err(GroupError::CoordinatorLoadInProgress);
        }
        Ok(())
    }

    /// This broker became the leader of offsets-topic partition `partition`: its groups are
    /// served here once it is replayed (`finish_loading`).
    pub fn take_partition(&self, partition: i32) {
        let mut inner = self.lock();
        inner
            .owned
            .get_or_insert_with(HashSet::new)
            .insert(partition);
        inner.loading.insert(partition);
    }

    /// From now on only partitions taken with `take_partition` are served (a broker calls this
    /// before it learns which offsets-topic partitions it leads).
    pub fn serve_owned_partitions_only(&self) {
        self.lock().owned.get_or_insert_with(HashSet::new);
    }

    /// This broker no longer leads `partition`: its groups are dropped here (the new leader
    /// replays them) and answered NOT_COORDINATOR.
    pub fn release_partition(&self, partition: i32) {
        let mut inner = self.lock();
        inner
            .owned
            .get_or_insert_with(HashSet::new)
            .remove(&partition);
        inner.loading.remove(&partition);
        let partitions = self.partitions;
        inner
            .groups
            .retain(|id, _| (java_string_hash(id) & 0x7fff_ffff) % partitions != partition);
    }

    // ---- loading -------------------------------------------------------------------------

    pub fn begin_loading(&self, partition: i32) {
        self.lock().loading.insert(partition);
    }

    pub fn finish_loading(&self, partition: i32) {
        self.lock().loading.remove(&partition);
    }

    /// Applies one record read back from the offsets topic.
    pub fn replay(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), records::RecordError> {
        let now = self.now();
        let mut inner = self.lock();
        match records::decode(key, value)? {
            None => {}
            Some(Record::Offset {
                group,
                topic,
                partition,
                value,
            }) => {
                let g = inner
                    .groups
                    .entry(group.clone())
                    .or_insert_with(|| Group::classic(&group, now));
                match value {
                    Some(v) => {
                        g.offsets.insert((topic, partition), v);
                    }
                    None => {
                        g.offsets.remove(&(topic, partition));
                    }
                }
            }
            Some(Record::ClassicGroup { group, value }) => match value {
                Some(snapshot) => {
                    let offsets = inner
                        .groups
                        .remove(&group)
                        .map(|g| g.offsets)
                        .unwrap_or_default();
                    let mut g = Group::classic(&group, now);
                    g.kind = Kind::Classic(ClassicGroup::from_snapshot(snapshot, now));
                    g.offsets = offsets;
                    inner.groups.insert(group, g);
                }
                None => Self::replay_tombstone(&mut inner, &group, now),
            },
            Some(Record::ConsumerGroup { group, epoch }) => match epoch {
                Some(epoch) => {
                    let offsets = inner
                        .groups
                        .remove(&group)
                        .map(|g| g.offsets)
                        .unwrap_or_default();
                    let mut g = Group::classic(&group, now);
                    g.kind = Kind::Consumer(ConsumerGroup::restored(group.clone(), epoch));
                    g.offsets = offsets;
                    inner.groups.insert(group, g);
                }
                None => Self::replay_tombstone(&mut inner, &group, now),
            },
        }
        Ok(())
    }

    /// A group metadata tombstone ends the group but not its offsets (their own tombstones do
    /// that): a group converted between protocols writes one for its old type and keeps them.
    fn replay_tombstone(inner: &mut Inner, group: &str, now: i64) {
        let Some(g) = inner.groups.get_mut(group) else {
            return;
        };
        if g.offsets.is_empty() {
            inner.groups.remove(group);
        } else {
            g.kind = Kind::Classic(ClassicGroup::new(group.to_string(), now));
        }
    }

    // ---- classic protocol ----------------------------------------------------------------

    fn classic_mut<'a>(
        &self,
        inner: &'a mut Inner,
        group_id: &str,
        create: bool,
    ) -> Result<&'a mut Group, GroupError> {
        let now = self.now();
        let exists = inner.groups.contains_key(group_id);
        if !exists && !create {
            return Err(GroupError::UnknownMemberId);
        }
        let g = inner
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::classic(group_id, now));
        if let Kind::Consumer(cg) = &g.kind {
            if !cg.is_empty() {
                return Err(GroupError::InconsistentGroupProtocol(
                    "the group uses the consumer protocol (KIP-848)".into(),
                ));
            }
            if !create {
                return Err(GroupError::UnknownMemberId);
            }
            // An empty consumer-protocol group becomes a classic one; its offsets stay.
            g.kind = Kind::Classic(ClassicGroup::new(group_id.to_string(), now));
        }
        Ok(g)
    }

    /// Collects what a classic state change requires: responders to answer, records to write.
    fn classic_effects(
        &self,
        group_id: &str,
        g: &mut Group,
        effects: classic::Effects,
        out: &mut Deliveries,
        records: &mut Vec<StoreRecord>,
    ) {
        for (member, r) in effects.joins {
            if let Some(tx) = g.joins.remove(&member) {
                out.joins.push((tx, r));
            }
        }
        for (member, r) in effects.syncs {
            if let Some(tx) = g.syncs.remove(&member) {
                out.syncs.push((tx, r));
            }
        }
        if effects.persist
            && let Kind::Classic(cg) = &g.kind
        {
            records.push(StoreRecord {
                key: records::group_key(group_id),
                value: Some(records::group_value(&cg.snapshot())),
            });
        }
    }

    /// Kafka's `validateOnlineUpgrade`: the policy allows it, the group speaks the "consumer"
    /// protocol type, and its members fit `group.consumer.max.size`.
    fn upgrade_allowed(&self, cg: &ClassicGroup) -> bool {
        self.cfg.migration_policy.upgrade_enabled()
            && cg.uses_consumer_protocol()
            && cg.member_count() <= self.cfg.consumer_group_size_max
    }

    /// Is `group_id` a consumer group with members? Classic requests then go to its classic
    /// members (KIP-848 online migration) instead of turning it into a classic group.
    fn is_mixed(inner: &Inner, group_id: &str) -> bool {
        matches!(
            inner.groups.get(group_id).map(|g| &g.kind),
            Some(Kind::Consumer(cg)) if !cg.is_empty()
        )
    }

    /// Records what a consumer-group state change requires, then converts the group back to a
    /// classic one if only classic members are left and the policy allows it.
    fn consumer_effects(
        &self,
        group_id: &str,
        g: &mut Group,
        effects: consumer::Effects,
        now: i64,
        records: &mut Vec<StoreRecord>,
    ) {
        if let Kind::Consumer(cg) = &g.kind
            && effects.persist
        {
            records.push(StoreRecord {
                key: records::consumer_group_key(group_id),
                value: Some(records::consumer_group_value(cg.group_epoch())),
            });
        }
        self.maybe_downgrade(group_id, g, now, records);
    }

    /// Kafka's `validateOnlineDowngradeWithFencedMembers` + `convertToClassicGroup`: a consumer
    /// group whose remaining members all speak the classic protocol becomes a classic group
    /// (which then rebalances), when `group.consumer.migration.policy` allows downgrades and the
    /// members fit `group.max.size`. Written as a consumer-group tombstone and the classic
    /// group's metadata, which is what a replay rebuilds.
    fn maybe_downgrade(
        &self,
        group_id: &str,
        g: &mut Group,
        now: i64,
        records: &mut Vec<StoreRecord>,
    ) {
        let Kind::Consumer(cg) = &g.kind else {
            return;
        };
        if !self.cfg.migration_policy.downgrade_enabled()
            || !cg.only_classic_members()
            || cg.member_count() > self.cfg.classic_group_size_max
        {
            return;
        }
        let (classic, _) = ClassicGroup::from_consumer(
            group_id.to_string(),
            cg.group_epoch(),
            cg.migrating_members(),
            now,
            &self.cfg,
        );
        tracing::info!(
            group = group_id,
            generation = classic.generation_id(),
            members = classic.member_count(),
            "consumer group downgraded to a classic group"
        );
        records.push(StoreRecord {
            key: records::consumer_group_key(group_id),
            value: None,
        });
        records.push(StoreRecord {
            key: records::group_key(group_id),
            value: Some(records::group_value(&classic.snapshot())),
        });
        g.kind = Kind::Classic(classic);
    }

    async fn persist(&self, group_id: &str, records: Vec<StoreRecord>) -> Result<(), GroupError> {
        if records.is_empty() {
            return Ok(());
        }
        let partition = self.partition_for(group_id);
        self.store.append(partition, records).await.map_err(|e| {
            tracing::warn!(group = group_id, error = %e, "writing to the offsets topic failed");
            GroupError::Store(e)
        })
    }

    pub async fn join(
        &self,
        group_id: &str,
        req: JoinRequest,
        topics: &(dyn TopicView + Sync),
    ) -> JoinResponse {
        let error = |e: GroupError, member_id: String| classic::join_error(&member_id, e);
        let wait_ms = req.rebalance_timeout_ms.max(req.session_timeout_ms).max(0) as u64 + 5_000;
        let requested_member = req.member_id.clone();
        let mut deliveries = Deliveries::default();
        let mut records = Vec::new();
        let (outcome, mixed) = {
            let mut inner = self.lock();
            if let Err(e) = self.check(&inner, group_id) {
                return error(e, requested_member);
            }
            let now = self.now();
            if Self::is_mixed(&inner, group_id)
                && let Some(g) = inner.groups.get_mut(group_id)
                && let Kind::Consumer(cg) = &mut g.kind
            {
                // Classic members of a consumer group are answered at once.
                let (response, effects) = cg.classic_join(req, topics, now, &self.cfg);
                self.consumer_effects(group_id, g, effects, now, &mut records);
                (Ok(response), true)
            } else {
                let g = match self.classic_mut(&mut inner, group_id, true) {
                    Ok(g) => g,
                    Err(e) => return error(e, requested_member),
                };
                let Kind::Classic(cg) = &mut g.kind else {
                    return error(GroupError::CoordinatorNotAvailable, requested_member);
                };
                let (outcome, effects) = cg.join(req, now, &self.cfg);
                let outcome = match outcome {
                    Outcome::Done(r) => Ok(r),
                    Outcome::Pending(member_id) => {
                        let (tx, rx) = oneshot::channel();
                        g.joins.insert(member_id.clone(), tx);
                        Err((member_id, rx))
                    }
                };
                self.classic_effects(group_id, g, effects, &mut deliveries, &mut records);
                (outcome, false)
            }
        };
        let stored = self.persist(group_id, records).await;
        deliveries.send();
        match outcome {
            Ok(r) => match stored {
                Err(e) if mixed => error(e, r.member_id),
                _ => r,
            },
            Err((member_id, rx)) => {
                match tokio::time::timeout(Duration::from_millis(wait_ms), rx).await {
                    Ok(Ok(r)) => r,
                    _ => error(
                        stored.err().unwrap_or(GroupError::RebalanceInProgress),
                        member_id,
                    ),
                }
            }
        }
    }

    pub async fn sync(&self, group_id: &str, req: SyncRequest) -> SyncResponse {
        let error = classic::sync_error;
        let member_id = req.member_id.clone();
        let mut deliveries = Deliveries::default();
        let mut records = Vec::new();
        let (outcome, wait_ms) = {
            let mut inner = self.lock();
            if let Err(e) = self.check(&inner, group_id) {
                return error(e);
            }
            let now = self.now();
            if Self::is_mixed(&inner, group_id)
                && let Some(g) = inner.groups.get_mut(group_id)
                && let Kind::Consumer(cg) = &mut g.kind
            {
                let (response, effects) = cg.classic_sync(&req, now, &self.cfg);
                self.consumer_effects(group_id, g, effects, now, &mut records);
                (Ok(response.unwrap_or_else(error)), 0)
            } else {
                let g = match self.classic_mut(&mut inner, group_id, false) {
                    Ok(g) => g,
                    Err(e) => return error(e),
                };
                let Kind::Classic(cg) = &mut g.kind else {
                    return error(GroupError::UnknownMemberId);
                };
                let wait_ms = cg.rebalance_timeout_ms_max().max(0) as u64 + 5_000;
                let (outcome, effects) = cg.sync(req, now, &self.cfg);
                let outcome = match outcome {
                    Outcome::Done(r) => Ok(r),
                    Outcome::Pending(_) => {
                        let (tx, rx) = oneshot::channel();
                        g.syncs.insert(member_id.clone(), tx);
                        Err(rx)
                    }
                };
                self.classic_effects(group_id, g, effects, &mut deliveries, &mut records);
                (outcome, wait_ms)
            }
        };
        let stored = self.persist(group_id, records).await;
        if let Err(e) = stored {
            // The assignment is not durable: nobody may act on it.
            for (tx, _) in deliveries.syncs.drain(..) {
                let _ = tx.send(error(e.clone()));
            }
            deliveries.send();
            return error(e);
        }
        deliveries.send();
        match outcome {
            Ok(r) => r,
            Err(rx) => match tokio::time::timeout(Duration::from_millis(wait_ms), rx).await {
                Ok(Ok(r)) => r,
                _ => error(GroupError::RebalanceInProgress),
            },
        }
    }

    pub async fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), GroupError> {
        let mut deliveries = Deliveries::default();
        let mut records = Vec::new();
        let result = {
            let mut inner = self.lock();
            self.check(&inner, group_id)?;
            let now = self.now();
            if Self::is_mixed(&inner, group_id)
                && let Some(g) = inner.groups.get_mut(group_id)
                && let Kind::Consumer(cg) = &mut g.kind
            {
                let (result, effects) =
                    cg.classic_heartbeat(member_id, instance_id, generation_id, now, &self.cfg);
                self.consumer_effects(group_id, g, effects, now, &mut records);
                result
            } else {
                let g = self.classic_mut(&mut inner, group_id, false)?;
                let Kind::Classic(cg) = &mut g.kind else {
                    return Err(GroupError::UnknownMemberId);
                };
                let (result, effects) =
                    cg.heartbeat(member_id, instance_id, generation_id, now, &self.cfg);
                self.classic_effects(group_id, g, effects, &mut deliveries, &mut records);
                result
            }
        };
        let _ = self.persist(group_id, records).await;
        deliveries.send();
        result
    }

    pub async fn leave(
        &self,
        group_id: &str,
        members: Vec<(String, Option<String>)>,
    ) -> Result<Vec<Result<(), GroupError>>, GroupError> {
        let mut deliveries = Deliveries::default();
        let mut records = Vec::new();
        let results = {
            let mut inner = self.lock();
            self.check(&inner, group_id)?;
            let now = self.now();
            if Self::is_mixed(&inner, group_id)
                && let Some(g) = inner.groups.get_mut(group_id)
                && let Kind::Consumer(cg) = &mut g.kind
            {
                let (results, effects) = cg.classic_leave(members, now, &self.cfg);
                self.consumer_effects(group_id, g, effects, now, &mut records);
                results
            } else {
                let g = self.classic_mut(&mut inner, group_id, false)?;
                let Kind::Classic(cg) = &mut g.kind else {
                    return Err(GroupError::UnknownMemberId);
                };
                let (results, effects) = cg.leave(members, now, &self.cfg);
                self.classic_effects(group_id, g, effects, &mut deliveries, &mut records);
                results
            }
        };
        let _ = self.persist(group_id, records).await;
        deliveries.send();
        Ok(results)
    }

    // ---- consumer protocol (KIP-848) -----------------------------------------------------

    pub async fn consumer_heartbeat(
        &self,
        group_id: &str,
        req: consumer::HeartbeatRequest,
        topics: &(dyn TopicView + Sync),
    ) -> Result<consumer::HeartbeatResponse, GroupError> {
        let mut records = Vec::new();
        let result = {
            let mut inner = self.lock();
            self.check(&inner, group_id)?;
            let now = self.now();
            let cfg = effective_config(&self.cfg, &inner.overrides, group_id);
            let g = inner
                .groups
                .entry(group_id.to_string())
                .or_insert_with(|| Group {
                    kind: Kind::Consumer(ConsumerGroup::new(group_id.to_string())),
                    offsets: BTreeMap::new(),
                    joins: HashMap::new(),
                    syncs: HashMap::new(),
                });
            let upgraded = if let Kind::Classic(cg) = &g.kind {
                if cg.is_empty() {
                    // An empty classic group is simply replaced, whatever the policy.
                    if cg.generation_id() > 0 || !g.offsets.is_empty() {
                        records.push(StoreRecord {
                            key: records::group_key(group_id),
                            value: None,
                        });
                    }
                    g.kind = Kind::Consumer(ConsumerGroup::new(group_id.to_string()));
                    None
                } else {
                    // Kafka's getOrMaybeCreateConsumerGroup: only a join may upgrade a classic group.
                    if req.member_epoch != 0 || !self.upgrade_allowed(cg) {
                        return Err(GroupError::GroupIdNotFound);
                    }
                    let mut converted = ConsumerGroup::from_classic(
                        group_id.to_string(),
                        cg.generation_id(),
                        cg.protocol_name(),
                        cg.migrating_members(),
                        topics,
                        now,
                    )?;
                    // The conversion stands only with the join that asked for it.
                    let (result, effects) = converted.heartbeat(req.clone(), topics, now, &cfg);
                    let response = result?;
                    tracing::info!(
                        group = group_id,
                        generation = cg.generation_id(),
                        members = cg.member_count(),
                        "classic group upgraded to a consumer group"
                    );
                    // Parked classic requests are answered as Kafka does when it converts.
                    for (_, tx) in g.joins.drain() {
                        let _ = tx.send(classic::join_error("", GroupError::RebalanceInProgress));
                    }
                    for (_, tx) in g.syncs.drain() {
                        let _ = tx.send(classic::sync_error(GroupError::RebalanceInProgress));
                    }
                    records.push(StoreRecord {
                        key: records::group_key(group_id),
                        value: None,
                    });
                    g.kind = Kind::Consumer(converted);
                    // The converted group is new in the log whatever the join changed.
                    let _ = effects;
                    let persist = consumer::Effects { persist: true };
                    self.consumer_effects(group_id, g, persist, now, &mut records);
                    Some(Ok(response))
                }
            } else {
                None
            };
            match upgraded {
                Some(result) => result,
                None => {
                    let Kind::Consumer(cg) = &mut g.kind else {
                        return Err(GroupError::CoordinatorNotAvailable);
                    };
                    let (result, effects) = cg.heartbeat(req, topics, now, &cfg);
                    self.consumer_effects(group_id, g, effects, now, &mut records);
                    result
                }
            }
        };
        self.persist(group_id, records).await?;
        result
    }

    pub fn describe_consumer(
        &self,
        group_id: &str,
        topics: &dyn TopicView,
    ) -> Result<consumer::ConsumerGroupDescription, GroupError> {
        let inner = self.lock();
        self.check(&inner, group_id)?;
        match inner.groups.get(group_id).map(|g| &g.kind) {
            Some(Kind::Consumer(cg)) => Ok(cg.describe(topics)),
            _ => Err(GroupError::GroupIdNotFound),
        }
    }

    // ---- offsets -------------------------------------------------------------------------

    /// OffsetCommit: validates the committer, writes the offsets, then makes them visible.
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_or_epoch: i32,
        partitions: Vec<CommitPartition>,
    ) -> Result<Vec<Result<(), GroupError>>, GroupError> {
        self.commit_offsets_at(
            OFFSET_COMMIT_VERSION_LATEST,
            group_id,
            member_id,
            instance_id,
            generation_or_epoch,
            partitions,
        )
        .await
    }

    /// OffsetCommit at a given request version: from v9 a member commit to a missing group is
    /// GROUP_ID_NOT_FOUND (ILLEGAL_GENERATION before), and a consumer-protocol member must use
    /// v9 or later (UNSUPPORTED_VERSION), as Kafka's OffsetMetadataManager decides.
    pub async fn commit_offsets_at(
        &self,
        api_version: i16,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation_or_epoch: i32,
        partitions: Vec<CommitPartition>,
    ) -> Result<Vec<Result<(), GroupError>>, GroupError> {
        let commit_ts = self.clock.now_ms();
        let mut results = Vec::with_capacity(partitions.len());
        let mut records = Vec::new();
        let mut accepted = Vec::new();
        {
            let mut inner = self.lock();
            self.check(&inner, group_id)?;
            let now = self.now();
            // Kafka's OffsetMetadataManager.validateOffsetCommit: a commit with a negative
            // generation (or member epoch) to a group that does not exist comes from a client
            // without group management (an admin client, or a consumer that assigns its own
            // partitions; librdkafka's KIP-848 consumer sends its own member id then): it
            // creates a simple, empty classic group, whatever the member id.
            if !inner.groups.contains_key(group_id) {
                if generation_or_epoch >= 0 {
                    return Err(if api_version >= OFFSET_COMMIT_VERSION_GROUP_ID_NOT_FOUND {
                        GroupError::GroupIdNotFound
                    } else {
                        GroupError::IllegalGeneration {
                            current: -1,
                            got: generation_or_epoch,
                        }
                    });
                }
                inner
                    .groups
                    .insert(group_id.to_string(), Group::classic(group_id, now));
            }
            let g = inner
                .groups
                .get_mut(group_id)
                .ok_or(GroupError::GroupIdNotFound)?;
            match &mut g.kind {
                Kind::Classic(cg) => {
                    cg.validate_offset_commit(member_id, instance_id, generation_or_epoch, now)?
                }
                Kind::Consumer(cg) => cg.validate_offset_commit(
                    member_id,
                    generation_or_epoch,
                    api_version >= OFFSET_COMMIT_VERSION_GROUP_ID_NOT_FOUND,
                    now,
                )?,
            }
            for p in partitions {
                let metadata = p.metadata.unwrap_or_default();
                if metadata.len() > OFFSET_METADATA_BYTES_MAX {
                    results.push(Err(GroupError::OffsetMetadataTooLarge(
                        OFFSET_METADATA_BYTES_MAX,
                    )));
                    continue;
                }
                let value = OffsetValue {
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata,
                    commit_timestamp_ms: commit_ts,
                };
                records.push(StoreRecord {
                    key: records::offset_key(group_id, &p.topic, p.partition),
                    value: Some(records::offset_value(&value)),
                });
                accepted.push((results.len(), (p.topic, p.partition), value));
                results.push(Ok(()));
            }
        }
        if let Err(e) = self.persist(group_id, records).await {
            for (i, _, _) in &accepted {
                results[*i] = Err(e.clone());
            }
            return Ok(results);
        }
        let mut inner = self.lock();
        if let Some(g) = inner.groups.get_mut(group_id) {
            for (_, key, value) in accepted {
                g.offsets.insert(key, value);
            }
        }
        Ok(results)
    }

    /// OffsetFetch: the committed offsets of `topics` (all, when `None`); an unknown group has
    /// none and is no error, as in Kafka.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<(String, i32, Option<OffsetValue>)>, GroupError> {
        let inner = self.lock();
        self.check(&inner, group_id)?;
        let offsets = inner.groups.get(group_id).map(|g| &g.offsets);
        Ok(match topics {
            Some(topics) => topics
                .into_iter()
                .flat_map(|(t, parts)| {
                    parts.into_iter().map(move |p| {
                        let v = offsets.and_then(|o| o.get(&(t.clone(), p))).cloned();
                        (t.clone(), p, v)
                    })
                })
                .collect(),
            None => offsets
                .map(|o| {
                    o.iter()
                        .map(|((t, p), v)| (t.clone(), *p, Some(v.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// OffsetDelete: removes committed offsets of partitions the group does not consume.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        partitions: Vec<(String, i32)>,
        topics: &(dyn TopicView + Sync),
    ) -> Result<Vec<(String, i32, Result<(), GroupError>)>, GroupError> {
        let mut out = Vec::new();
        let mut records = Vec::new();
        {
            let mut inner = self.lock();
            self.check(&inner, group_id)?;
            let g = inner
                .groups
                .get_mut(group_id)
                .ok_or(GroupError::GroupIdNotFound)?;
            let subscribed: BTreeSet<String> = match &g.kind {
                Kind::Classic(cg) if !cg.is_empty() => cg.subscribed_topics().unwrap_or_default(),
                Kind::Consumer(cg) if !cg.is_empty() => cg.subscribed_topic_names(topics),
                _ => BTreeSet::new(),
            };
            for (topic, partition) in partitions {
                if subscribed.contains(&topic) {
                    out.push((topic, partition, Err(GroupError::GroupSubscribedToTopic)));
                    continue;
                }
                if g.offsets.remove(&(topic.clone(), partition)).is_some() {
                    records.push(StoreRecord {
                        key: records::offset_key(group_id, &topic, partition),
                        value: None,
                    });
                }
                out.push((topic, partition, Ok(())));
            }
        }
        self.persist(group_id, records).await?;
        Ok(out)
    }

    /// DeleteGroups: only groups without members; their offsets go with them.
    pub async fn delete_group(&self, group_id: &str) -> Result<(), GroupError> {
        let records = {
            let mut inner = self.lock();
            self.check(&inner, group_id)?;
            let g = inner
                .groups
                .get(group_id)
                .ok_or(GroupError::GroupIdNotFound)?;
            if g.has_members() {
                return Err(GroupError::NonEmptyGroup);
            }
            let mut records: Vec<StoreRecord> = g
                .offsets
                .keys()
                .map(|(t, p)| StoreRecord {
                    key: records::offset_key(group_id, t, *p),
                    value: None,
                })
                .collect();
            records.push(StoreRecord {
                key: match g.kind {
                    Kind::Classic(_) => records::group_key(group_id),
                    Kind::Consumer(_) => records::consumer_group_key(group_id),
                },
                value: None,
            });
            inner.groups.remove(group_id);
            records
        };
        self.persist(group_id, records).await
    }

    pub fn list_groups(&self, states: &[String], types: &[String]) -> Vec<GroupListing> {
        let inner = self.lock();
        let mut out: Vec<GroupListing> = inner
            .groups
            .iter()
            .filter(|(id, _)| {
                let p = self.partition_for(id);
                !inner.loading.contains(&p) && inner.owned.as_ref().is_none_or(|o| o.contains(&p))
            })
            .map(|(id, g)| {
                let (protocol_type, state) = match &g.kind {
                    Kind::Classic(cg) => (
                        cg.protocol_type().unwrap_or("").to_string(),
                        cg.state().as_str().to_string(),
                    ),
                    Kind::Consumer(cg) => ("consumer".to_string(), cg.state_name().to_string()),
                };
                GroupListing {
                    group_id: id.clone(),
                    protocol_type,
                    state,
                    group_type: g.type_name().to_string(),
                }
            })
            .filter(|l| {
                states.is_empty() || states.iter().any(|s| s.eq_ignore_ascii_case(&l.state))
            })
            .filter(|l| {
                types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(&l.group_type))
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DescribeGroups of a classic group; `None` when the group does not exist.
    pub fn describe_classic(
        &self,
        group_id: &str,
    ) -> Result<Option<ClassicDescription>, GroupError> {
        let inner = self.lock();
        self.check(&inner, group_id)?;
        // As Kafka's `classicGroup` lookup: a consumer-protocol group (converted or not) is not
        // described by the classic API.
        match inner.groups.get(group_id).map(|g| &g.kind) {
            None => Ok(None),
            Some(Kind::Classic(cg)) => Ok(Some(ClassicDescription {
                state: cg.state().as_str().to_string(),
                protocol_type: cg.protocol_type().unwrap_or("").to_string(),
                protocol: cg.protocol_name().unwrap_or("").to_string(),
                members: cg.members(),
            })),
            Some(Kind::Consumer(_)) => Err(GroupError::NotClassicGroup(group_id.to_string())),
        }
    }

    // ---- time ----------------------------------------------------------------------------

    /// Fires due timers of every group and expires old offsets of groups without members.
    pub async fn tick(&self) {
        let now = self.now();
        let wall_now = self.clock.now_ms();
        let mut per_group: Vec<(String, Vec<StoreRecord>)> = Vec::new();
        let mut deliveries = Deliveries::default();
        {
            let mut inner = self.lock();
            let ids: Vec<String> = inner.groups.keys().cloned().collect();
            for id in ids {
                let cfg = effective_config(&self.cfg, &inner.overrides, &id);
                let Some(g) = inner.groups.get_mut(&id) else {
                    continue;
                };
                let mut records = Vec::new();
                match &mut g.kind {
                    Kind::Classic(cg) => {
                        let effects = cg.tick(now, &cfg);
                        self.classic_effects(&id, g, effects, &mut deliveries, &mut records);
                    }
                    Kind::Consumer(cg) => {
                        let effects = cg.tick(now, &cfg);
                        self.consumer_effects(&id, g, effects, now, &mut records);
                        if let Kind::Classic(cg) = &mut g.kind {
                            // Downgraded: its timers start now.
                            let effects = cg.tick(now, &cfg);
                            self.classic_effects(&id, g, effects, &mut deliveries, &mut records);
                        }
                    }
                }
                if !g.has_members() && self.offsets_retention_ms > 0 {
                    let expired: Vec<(String, i32)> = g
                        .offsets
                        .iter()
                        .filter(|(_, v)| {
                            wall_now.saturating_sub(v.commit_timestamp_ms)
                                > self.offsets_retention_ms
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    for (t, p) in expired {
                        g.offsets.remove(&(t.clone(), p));
                        records.push(StoreRecord {
                            key: records::offset_key(&id, &t, p),
                            value: None,
                        });
                    }
                }
                if !records.is_empty() {
                    per_group.push((id, records));
                }
            }
        }
        for (id, records) in per_group {
            let _ = self.persist(&id, records).await;
        }
        deliveries.send();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::group::MigrationPolicy;
    use crate::group::classic::JoinRequest;
    use crate::model::TopicId;

    /// Keeps appended records in memory, per partition, in order; can be told to fail.
    #[derive(Debug, Default)]
    struct MemoryStore {
        records: Mutex<Vec<(i32, StoreRecord)>>,
        fail: std::sync::atomic::AtomicBool,
    }

    impl GroupStore for MemoryStore {
        fn append(&self, partition: i32, records: Vec<StoreRecord>) -> StoreFuture<'_> {
            Box::pin(async move {
                if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err("disk full".to_string());
                }
                self.records
                    .lock()
                    .unwrap()
                    .extend(records.into_iter().map(|r| (partition, r)));
                Ok(())
            })
        }
    }

    struct NoTopics;
    impl TopicView for NoTopics {
        fn topic(&self, _: &str) -> Option<(TopicId, i32)> {
            None
        }
        fn topic_by_id(&self, _: TopicId) -> Option<(String, i32)> {
            None
        }
        fn topic_names(&self) -> Vec<String> {
            Vec::new()
        }
    }

    const RETENTION_MS: i64 = 60_000;

    fn coordinator(store: Arc<MemoryStore>, clock: Arc<ManualClock>) -> GroupCoordinator {
        GroupCoordinator::new(GroupConfig::default(), clock, store, 50, RETENTION_MS)
    }

    fn commit(p: i32, offset: i64) -> CommitPartition {
        CommitPartition {
            topic: "t".into(),
            partition: p,
            offset,
            leader_epoch: 7,
            metadata: Some(format!("m{p}")),
        }
    }

    fn replay_into(c: &GroupCoordinator, store: &MemoryStore) {
        for (_, r) in store.records.lock().unwrap().iter() {
            c.replay(&r.key, r.value.as_deref()).unwrap();
        }
    }

    fn join(member: &str) -> JoinRequest {
        JoinRequest {
            member_id: member.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
            require_known_member_id: false,
            reason: None,
        }
    }

    #[test]
    fn java_hash_places_groups_as_kafka_does() {
        // Java's "my-group".hashCode() is -1906497762 (s[0]*31^(n-1) + ... in wrapping i32);
        // Kafka's Utils.abs masks the sign bit: (-1906497762 & 0x7fffffff) % 50 = 36.
        assert_eq!(java_string_hash("my-group"), -1_906_497_762);
        assert_eq!(java_string_hash("test-group"), 627_841_412);
        assert_eq!(java_string_hash(""), 0);
        let c = coordinator(Arc::default(), Arc::new(ManualClock::new(0)));
        assert_eq!(c.partition_for("my-group"), 36);
    }

    #[tokio::test]
    async fn commits_are_stored_then_replayed_into_a_fresh_coordinator() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::new(1_000));
        let c = coordinator(store.clone(), clock.clone());
        // A simple (group-less) commit creates the group; an unknown group's fetch is no error.
        assert_eq!(
            c.fetch_offsets("g", Some(vec![("t".into(), vec![0])]))
                .unwrap(),
            vec![("t".into(), 0, None)]
        );
        let r = c
            .commit_offsets("g", "", None, -1, vec![commit(0, 10), commit(1, 20)])
            .await
            .unwrap();
        assert!(r.iter().all(|r| r.is_ok()));
        let big = CommitPartition {
            metadata: Some("x".repeat(OFFSET_METADATA_BYTES_MAX + 1)),
            ..commit(2, 1)
        };
        let r = c
            .commit_offsets("g", "", None, -1, vec![big])
            .await
            .unwrap();
        assert_eq!(
            r[0],
            Err(GroupError::OffsetMetadataTooLarge(
                OFFSET_METADATA_BYTES_MAX
            ))
        );
        // A member commit to a group that does not exist is refused: GROUP_ID_NOT_FOUND from
        // v9, ILLEGAL_GENERATION before.
        let err = c
            .commit_offsets("nope", "m", None, 3, vec![commit(0, 1)])
            .await
            .unwrap_err();
        assert_eq!(err, GroupError::GroupIdNotFound);
        let err = c
            .commit_offsets_at(8, "nope", "m", None, 3, vec![commit(0, 1)])
            .await
            .unwrap_err();
        assert!(matches!(err, GroupError::IllegalGeneration { .. }));

        // Recovery is replay: the same records give the same offsets, metadata and epochs.
        let fresh = coordinator(store.clone(), clock.clone());
        let p = fresh.partition_for("g");
        fresh.begin_loading(p);
        assert_eq!(
            fresh.fetch_offsets("g", None),
            Err(GroupError::CoordinatorLoadInProgress)
        );
        replay_into(&fresh, &store);
        fresh.finish_loading(p);
        let all = fresh.fetch_offsets("g", None).unwrap();
        assert_eq!(all.len(), 2);
        let v = all[0].2.clone().unwrap();
        assert_eq!(
            (
                v.offset,
                v.leader_epoch,
                v.metadata.as_str(),
                v.commit_timestamp_ms
            ),
            (10, 7, "m0", 1_000)
        );
        assert!(
            store
                .records
                .lock()
                .unwrap()
                .iter()
                .all(|(part, _)| *part == p),
            "one group, one partition"
        );
    }

    /// Kafka accepts a commit with a negative generation or epoch into a missing or empty group
    /// whatever the member id (librdkafka's KIP-848 consumer sends its own id with epoch -1).
    #[tokio::test]
    async fn simple_commits_carry_any_member_id_into_missing_or_empty_groups() {
        let store = Arc::new(MemoryStore::default());
        let c = coordinator(store.clone(), Arc::new(ManualClock::new(0)));
        let id = "Z3lGwVx4QkqJtZ2cPmTnAw";
        let r = c
            .commit_offsets("g", id, None, -1, vec![commit(0, 10)])
            .await
            .unwrap();
        assert_eq!(r, vec![Ok(())]);
        let r = c
            .commit_offsets("g", id, None, -1, vec![commit(0, 11)])
            .await
            .unwrap();
        assert_eq!(r, vec![Ok(())], "the simple group is empty: accepted again");
        // An empty consumer group accepts it too.
        let hb = consumer::HeartbeatRequest {
            member_id: "m".into(),
            member_epoch: 0,
            rebalance_timeout_ms: 1000,
            subscribed_topic_names: Some(vec!["t".into()]),
            ..Default::default()
        };
        c.consumer_heartbeat("cg", hb.clone(), &NoTopics)
            .await
            .unwrap();
        assert!(matches!(
            c.commit_offsets("cg", id, None, -1, vec![commit(0, 1)])
                .await,
            Err(GroupError::UnknownMemberId)
        ));
        let mut leave = hb;
        leave.member_epoch = -1;
        c.consumer_heartbeat("cg", leave, &NoTopics).await.unwrap();
        let r = c
            .commit_offsets("cg", id, None, -1, vec![commit(0, 1)])
            .await
            .unwrap();
        assert_eq!(r, vec![Ok(())]);
        // A group with members refuses an unknown member, as Kafka's ClassicGroup does.
        let joined = c.join("busy", join(""), &NoTopics).await;
        assert_eq!(joined.error, None);
        assert!(matches!(
            c.commit_offsets("busy", id, None, -1, vec![commit(0, 1)])
                .await,
            Err(GroupError::UnknownMemberId)
        ));
    }

    /// One topic "t" with two partitions.
    struct OneTopic;
    impl TopicView for OneTopic {
        fn topic(&self, name: &str) -> Option<(TopicId, i32)> {
            (name == "t").then_some((TopicId([1; 16]), 2))
        }
        fn topic_by_id(&self, id: TopicId) -> Option<(String, i32)> {
            (id == TopicId([1; 16])).then(|| ("t".to_string(), 2))
        }
        fn topic_names(&self) -> Vec<String> {
            vec!["t".into()]
        }
    }

    /// A classic group "g" with one stable member owning both partitions of "t".
    async fn stable_classic_member(c: &GroupCoordinator) -> (String, i32) {
        use crate::group::consumer_protocol as cp;
        let mut req = join("");
        req.protocols = vec![(
            "range".into(),
            cp::encode_subscription(&cp::Subscription {
                topics: vec!["t".into()],
                ..Default::default()
            }),
        )];
        let r = c.join("g", req, &OneTopic).await;
        assert_eq!(r.error, None);
        let s = c
            .sync(
                "g",
                SyncRequest {
                    member_id: r.member_id.clone(),
                    group_instance_id: None,
                    generation_id: r.generation_id,
                    protocol_type: None,
                    protocol_name: None,
                    assignments: vec![(
                        r.member_id.clone(),
                        cp::encode_assignment(0, &[("t".into(), vec![0, 1])]),
                    )],
                },
            )
            .await;
        assert_eq!(s.error, None);
        (r.member_id, r.generation_id)
    }

    fn consumer_join(member: &str) -> consumer::HeartbeatRequest {
        consumer::HeartbeatRequest {
            member_id: member.into(),
            member_epoch: 0,
            rebalance_timeout_ms: 1000,
            subscribed_topic_names: Some(vec!["t".into()]),
            owned: Some(vec![]),
            ..Default::default()
        }
    }

    fn group_type(c: &GroupCoordinator) -> Vec<String> {
        c.list_groups(&[], &[])
            .into_iter()
            .map(|l| l.group_type)
            .collect()
    }

    #[tokio::test]
    async fn a_consumer_join_upgrades_a_classic_group_durably_and_the_last_leave_downgrades_it() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::new(0));
        let c = coordinator(store.clone(), clock.clone());
        let (member, generation) = stable_classic_member(&c).await;
        let ok = c
            .commit_offsets("g", &member, None, generation, vec![commit(0, 5)])
            .await
            .unwrap();
        assert_eq!(ok, vec![Ok(())]);

        let r = c
            .consumer_heartbeat("g", consumer_join("k"), &OneTopic)
            .await
            .unwrap();
        assert_eq!(r.member_epoch, generation + 1);
        assert_eq!(
            r.assignment,
            Some(vec![]),
            "the classic member still holds both"
        );
        assert_eq!(group_type(&c), vec!["consumer"]);
        let d = c.describe_consumer("g", &OneTopic).unwrap();
        assert_eq!(d.members.iter().filter(|m| m.classic).count(), 1);
        // The classic member is told to rejoin; its commits still need its generation.
        assert_eq!(
            c.heartbeat("g", &member, None, generation).await,
            Err(GroupError::RebalanceInProgress)
        );
        assert!(matches!(
            c.commit_offsets("g", &member, None, generation + 7, vec![commit(0, 6)])
                .await,
            Err(GroupError::IllegalGeneration { .. })
        ));
        // A restart replays a consumer group (its members rejoin) with the offsets kept.
        let fresh = coordinator(store.clone(), clock.clone());
        replay_into(&fresh, &store);
        assert_eq!(group_type(&fresh), vec!["consumer"]);
        assert_eq!(fresh.fetch_offsets("g", None).unwrap().len(), 1);

        // The consumer member leaves: a classic group again, rebalancing, and durable as such.
        let mut leave = consumer_join("k");
        leave.member_epoch = consumer::LEAVE_GROUP_MEMBER_EPOCH;
        c.consumer_heartbeat("g", leave, &OneTopic).await.unwrap();
        assert_eq!(group_type(&c), vec!["classic"]);
        let d = c.describe_classic("g").unwrap().unwrap();
        assert_eq!(
            (d.state.as_str(), d.members.len()),
            ("PreparingRebalance", 1)
        );
        let fresh = coordinator(store.clone(), clock.clone());
        replay_into(&fresh, &store);
        assert_eq!(group_type(&fresh), vec!["classic"]);
        assert_eq!(fresh.fetch_offsets("g", None).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_policy_without_upgrade_refuses_the_consumer_join() {
        for policy in [MigrationPolicy::Disabled, MigrationPolicy::Downgrade] {
            let cfg = GroupConfig {
                migration_policy: policy,
                ..GroupConfig::default()
            };
            let store = Arc::new(MemoryStore::default());
            let c =
                GroupCoordinator::new(cfg, Arc::new(ManualClock::new(0)), store, 50, RETENTION_MS);
            stable_classic_member(&c).await;
            assert_eq!(
                c.consumer_heartbeat("g", consumer_join("k"), &OneTopic)
                    .await
                    .unwrap_err(),
                GroupError::GroupIdNotFound
            );
            assert_eq!(group_type(&c), vec!["classic"]);
        }
    }

    #[tokio::test]
    async fn a_failed_write_is_not_visible() {
        let store = Arc::new(MemoryStore::default());
        let c = coordinator(store.clone(), Arc::new(ManualClock::new(0)));
        store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let r = c
            .commit_offsets("g", "", None, -1, vec![commit(0, 10)])
            .await
            .unwrap();
        assert!(matches!(r[0], Err(GroupError::Store(_))));
        assert_eq!(c.fetch_offsets("g", None).unwrap(), vec![]);
    }

    #[tokio::test]
    async fn offsets_of_empty_groups_expire_after_retention_with_tombstones() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::new(0));
        let c = coordinator(store.clone(), clock.clone());
        c.commit_offsets("g", "", None, -1, vec![commit(0, 10)])
            .await
            .unwrap();
        clock.advance_ms(RETENTION_MS);
        c.tick().await;
        assert_eq!(c.fetch_offsets("g", None).unwrap().len(), 1, "not yet");
        clock.advance_ms(1);
        c.tick().await;
        assert_eq!(c.fetch_offsets("g", None).unwrap(), vec![]);
        let fresh = coordinator(store.clone(), clock.clone());
        replay_into(&fresh, &store);
        assert_eq!(
            fresh.fetch_offsets("g", None).unwrap(),
            vec![],
            "the tombstone replays too"
        );
    }

    #[tokio::test]
    async fn groups_with_members_keep_offsets_refuse_deletion_and_protocols_do_not_mix() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::new(0));
        let c = coordinator(store.clone(), clock.clone());
        let r = c.join("g", join(""), &NoTopics).await;
        assert_eq!(r.error, None);
        let member = r.member_id.clone();
        let s = c
            .sync(
                "g",
                SyncRequest {
                    member_id: member.clone(),
                    group_instance_id: None,
                    generation_id: r.generation_id,
                    protocol_type: None,
                    protocol_name: None,
                    assignments: vec![(member.clone(), Bytes::from_static(b"asg"))],
                },
            )
            .await;
        assert_eq!((s.error, s.assignment), (None, Bytes::from_static(b"asg")));
        let ok = c
            .commit_offsets("g", &member, None, r.generation_id, vec![commit(0, 5)])
            .await
            .unwrap();
        assert!(ok[0].is_ok());
        let stale = c
            .commit_offsets("g", &member, None, r.generation_id + 1, vec![commit(0, 6)])
            .await;
        assert!(matches!(stale, Err(GroupError::IllegalGeneration { .. })));
        assert_eq!(c.delete_group("g").await, Err(GroupError::NonEmptyGroup));
        // A KIP-848 join cannot upgrade a classic group whose metadata is no ConsumerProtocol
        // subscription: refused as Kafka does.
        let hb = consumer::HeartbeatRequest {
            member_id: "x".into(),
            member_epoch: 0,
            instance_id: None,
            rack_id: None,
            rebalance_timeout_ms: 1000,
            subscribed_topic_names: Some(vec!["t".into()]),
            subscribed_topic_regex: None,
            server_assignor: None,
            owned: None,
            client_id: "c".into(),
            client_host: "h".into(),
        };
        assert_eq!(
            c.consumer_heartbeat("g", hb.clone(), &NoTopics)
                .await
                .unwrap_err(),
            GroupError::GroupIdNotFound
        );
        // Members keep offsets from expiring.
        clock.advance_ms(RETENTION_MS + 1);
        c.heartbeat("g", &member, None, r.generation_id)
            .await
            .unwrap();
        c.tick().await;
        assert_eq!(c.fetch_offsets("g", None).unwrap().len(), 1);
        // The classic group's metadata was stored: a fresh coordinator knows its generation.
        let fresh = coordinator(store.clone(), clock.clone());
        replay_into(&fresh, &store);
        let d = fresh.describe_classic("g").unwrap().unwrap();
        assert_eq!(d.members.len(), 1);
        // After leaving, deletion works and writes tombstones; a consumer group for the same
        // id then refuses a classic join whose metadata is no ConsumerProtocol subscription.
        c.leave("g", vec![(member, None)]).await.unwrap();
        c.delete_group("g").await.unwrap();
        assert_eq!(c.list_groups(&[], &[]), vec![]);
        c.consumer_heartbeat("g", hb, &NoTopics).await.unwrap();
        let refused = c.join("g", join(""), &NoTopics).await;
        assert!(matches!(
            refused.error,
            Some(GroupError::InconsistentGroupProtocol(_))
        ));
        let listed = c.list_groups(&[], &["consumer".into()]);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].group_type, "consumer");
    }
}
