//! The controller: the metadata operations of KRaft's `QuorumController` over the Raft quorum,
//! and the broker lifecycle (registration, heartbeats, fencing, controlled shutdown).
//!
//! Contract: every operation is decided on the active controller (the Raft leader) against its
//! current image, under one async lock (`ops`), and proposed as one batch of records; it returns
//! once the batch is committed and applied here, so the caller's next `image()` shows it. On any
//! other node an operation answers `ControllerError::NotController` with the leader it knows (the
//! broker layer forwards it there over the controller listener). A single node is a quorum of one:
//! the same code, no forwarding.
//! Broker liveness lives in memory on the active controller only: a broker that has not
//! heartbeated for `broker.session.timeout.ms` is fenced (FenceBrokerRecord) and loses its
//! leaderships and ISR places (`placement::changes_for_fenced_broker`). A controller that just
//! became active gives every broker a full session before fencing anyone. A broker is unfenced
//! by its first heartbeat that reports having applied the metadata log up to its registration.
//! Start-up: a node whose image has no cluster id yet, once active, bootstraps the log: with a
//! pre-quorum store (`gregor-metadata.json`, the single-node format) it migrates that store into
//! records and renames the file `.migrated`; else it writes the cluster id.
//! Leadership balance (`auto.leader.rebalance.enable`): every
//! `leader.imbalance.check.interval.seconds` of the injected clock (counted from becoming
//! active), `tick` proposes the preferred elections of `placement::imbalanced_leader_changes`.
//! ElectLeaders and AlterPartitionReassignments decide every partition of a request against one
//! image and propose the changes as one batch; an AlterPartition that brings the last adding
//! replica into the ISR completes its reassignment in the same record (KIP-455).
//! Lock order: `ops` (async) before `liveness`; `liveness` is never held across an await.
//! Must not import: protocol, server, group, replication.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::placement::{self, PlacementError};
use super::quorum::{Quorum, QuorumConfig, QuorumError};
use super::raft_store::Published;
use super::records::*;
use super::state_machine::{self, PartitionState};
use super::{
    ControllerError, MetadataImage, PRODUCER_ID_BLOCK_SIZE, TopicMeta, format_topic_id,
    new_cluster_id, new_topic_id, parse_topic_id, validate_topic_name,
};
use crate::clock::SharedClock;

/// The name of the pre-quorum single-node store in the log dir.
pub const LEGACY_STORE_FILE: &str = "gregor-metadata.json";

/// What the controller needs from the broker's configuration.
#[derive(Debug, Clone)]
pub struct ControllerSettings {
    pub node_id: i32,
    /// `controller.quorum.voters`, parsed; a single node lists itself.
    pub voters: BTreeMap<u64, String>,
    pub log_dir: PathBuf,
    /// `gregor.cluster.id` for a fresh log.
    pub cluster_id: Option<String>,
    pub request_timeout_ms: u64,
    pub election_timeout_ms: u64,
    pub fetch_timeout_ms: u64,
    /// `broker.session.timeout.ms`.
    pub broker_session_timeout_ms: i64,
    /// The broker default of `unclean.leader.election.enable`.
    pub unclean_leader_election_default: bool,
    /// `auto.leader.rebalance.enable`.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, in ms.
    pub leader_imbalance_check_interval_ms: i64,
    /// `leader.imbalance.per.broker.percentage`.
    pub leader_imbalance_per_broker_percentage: i32,
    /// Fault injection shared with the broker (Raft traffic fails while cut).
    pub links: std::sync::Arc<crate::links::PeerLinks>,
}

/// A new topic's shape.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub partitions: i32,
    pub replication_factor: i32,
    /// Explicit replica lists by partition index (all partitions), or empty for placement.
    pub assignments: Vec<Vec<i32>>,
    pub configs: BTreeMap<String, String>,
}

/// A broker's registration request, as BrokerRegistration carries it.
#[derive(Debug, Clone)]
pub struct BrokerRegistrationSpec {
    pub broker_id: i32,
    pub incarnation_id: String,
    pub endpoints: Vec<BrokerEndpoint>,
    pub rack: Option<String>,
}

/// BrokerHeartbeat's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatOutcome {
    pub is_caught_up: bool,
    pub is_fenced: bool,
    pub should_shut_down: bool,
}

/// One partition's ISR change asked by its leader (AlterPartition).
#[derive(Debug, Clone)]
pub struct IsrChange {
    pub topic_id: String,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

#[derive(Debug, Default)]
struct Liveness {
    /// Whether this node was the active controller at the last tick.
    active: bool,
    /// Monotonic ms of each broker's last heartbeat.
    last_heartbeat_ms: HashMap<i32, i64>,
    /// Brokers in controlled shutdown (want_shutdown seen).
    shutting_down: HashMap<i32, i64>,
    /// Monotonic ms of the last leader-imbalance check (or of becoming active).
    last_rebalance_ms: i64,
}

/// One partition's outcome in ElectLeaders or AlterPartitionReassignments.
pub type PartitionOutcome = (String, i32, Result<(), ControllerError>);

/// The controller of one node.
pub struct Controller {
    settings: ControllerSettings,
    quorum: Quorum,
    clock: SharedClock,
    ops: tokio::sync::Mutex<()>,
    liveness: Mutex<Liveness>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("node_id", &self.settings.node_id)
            .field("voters", &self.settings.voters)
            .finish()
    }
}

fn quorum_err(e: QuorumError) -> ControllerError {
    match e {
        QuorumError::NotLeader { leader } => ControllerError::NotController {
            leader: leader.map(|l| l as i32),
        },
        QuorumError::Rejected { reason, .. } => ControllerError::Rejected(reason),
        QuorumError::Timeout(d) => ControllerError::Timeout(d.as_millis() as u64),
        other => ControllerError::Quorum(other.to_string()),
    }
}

impl Controller {
    /// Opens the metadata log and joins the quorum; peers reach it through `serve_peer`.
    pub async fn start(
        settings: ControllerSettings,
        clock: SharedClock,
    ) -> Result<Controller, ControllerError> {
        let mut qc = QuorumConfig::new(
            settings.node_id as u64,
            settings.voters.clone(),
            settings.log_dir.clone(),
        );
        qc.request_timeout_ms = settings.request_timeout_ms;
        qc.election_timeout_ms = settings.election_timeout_ms;
        qc.fetch_timeout_ms = settings.fetch_timeout_ms;
        qc.links = settings.links.clone();
        qc.clock = clock.clone();
        let quorum = Quorum::start_shared(qc).await.map_err(quorum_err)?;
        Ok(Controller {
            settings,
            quorum,
            clock,
            ops: tokio::sync::Mutex::new(()),
            liveness: Mutex::new(Liveness::default()),
        })
    }

    pub fn node_id(&self) -> i32 {
        self.settings.node_id
    }

    pub fn voters(&self) -> &BTreeMap<u64, String> {
        &self.settings.voters
    }

    pub fn quorum(&self) -> &Quorum {
        &self.quorum
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        self.quorum.image()
    }

    pub fn applied_index(&self) -> Option<u64> {
        self.quorum.applied_index()
    }

    pub fn subscribe(&self) -> watch::Receiver<Published> {
        self.quorum.subscribe()
    }

    /// The active controller this node knows of.
    pub fn active_controller(&self) -> Option<i32> {
        self.quorum.leader_id().map(|l| l as i32)
    }

    pub fn is_active(&self) -> bool {
        self.active_controller() == Some(self.settings.node_id)
    }

    /// Serves one openraft peer connection (handed in by the controller listener).
    pub fn serve_peer(
        &self,
        stream: tokio::net::TcpStream,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.quorum.serve_peer(stream)
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.quorum.shutdown().await {
            tracing::warn!(error = %e, "controller quorum shutdown failed");
        }
    }

    fn check_active(&self) -> Result<(), ControllerError> {
        if self.is_active() {
            Ok(())
        } else {
            Err(ControllerError::NotController {
                leader: self.active_controller(),
            })
        }
    }

    async fn propose(&self, records: Vec<MetadataRecord>) -> Result<u64, ControllerError> {
        if records.is_empty() {
            return Ok(self.applied_index().unwrap_or(0));
        }
        self.quorum.propose(records).await.map_err(quorum_err)
    }

    fn unclean_allowed(&self, img: &MetadataImage, topic_id: &str) -> bool {
        parse_topic_id(topic_id)
            .and_then(|id| img.topic_by_id(id))
            .and_then(|t| t.configs.get("unclean.leader.election.enable"))
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or(self.settings.unclean_leader_election_default)
    }

    /// Writes the log's first batch if this node is active and the log has none: the migrated
    /// pre-quorum store, or the cluster id. Idempotent.
    pub async fn bootstrap(&self) -> Result<(), ControllerError> {
        if !self.image().cluster_id.is_empty() || !self.is_active() {
            return Ok(());
        }
        let _ops = self.ops.lock().await;
        if !self.image().cluster_id.is_empty() {
            return Ok(());
        }
        let legacy = self.settings.log_dir.join(LEGACY_STORE_FILE);
        let records = match super::read_legacy_store(&legacy)? {
            Some(img) => {
                tracing::info!(path = %legacy.display(), topics = img.topics().count(),
                    "migrating the single-node metadata store into the metadata log");
                state_machine::records_for_image(&img, self.settings.node_id)
            }
            None => vec![MetadataRecord::Cluster(ClusterRecord {
                cluster_id: self
                    .settings
                    .cluster_id
                    .clone()
                    .unwrap_or_else(new_cluster_id),
            })],
        };
        self.propose(records).await?;
        if legacy.exists() {
            let done = legacy.with_extension("json.migrated");
            std::fs::rename(&legacy, &done).map_err(|source| ControllerError::Io {
                path: legacy.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Creates a topic: its id, its partitions placed on the unfenced brokers (or as assigned),
    /// and its config overrides, in one batch. `validate_only` decides without proposing.
    pub async fn create_topic(
        &self,
        name: &str,
        spec: TopicSpec,
        validate_only: bool,
    ) -> Result<Arc<TopicMeta>, ControllerError> {
        validate_topic_name(name)?;
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let img = self.image();
        if img.topic(name).is_some() {
            return Err(ControllerError::TopicAlreadyExists(name.to_string()));
        }
        let assignments = if spec.assignments.is_empty() {
            let brokers = placement::usable_brokers(&img);
            let start = img.topics().count();
            placement::place(&brokers, 0, spec.partitions, spec.replication_factor, start)?
        } else {
            let first_len = spec.assignments.first().map(Vec::len);
            for a in &spec.assignments {
                placement::check_assignment(&img, a, first_len)?;
            }
            spec.assignments.clone()
        };
        let id = new_topic_id(|id| img.topic_by_id(id).is_some());
        let meta = Arc::new(TopicMeta {
            name: name.to_string(),
            id: format_topic_id(id),
            partitions: assignments.len() as i32,
            configs: spec.configs.clone(),
        });
        if validate_only {
            return Ok(meta);
        }
        let mut records = vec![MetadataRecord::Topic(TopicRecord {
            name: name.to_string(),
            topic_id: meta.id.clone(),
        })];
        records.extend(config_records(
            ConfigResourceType::Topic,
            name,
            &BTreeMap::new(),
            &spec.configs,
        ));
        records.extend(partition_records(&img, &meta.id, 0, &assignments));
        self.propose(records).await?;
        Ok(self.image().topic(name).cloned().unwrap_or(meta))
    }

    pub async fn delete_topic(&self, name: &str) -> Result<Arc<TopicMeta>, ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let meta = self
            .image()
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        self.propose(vec![MetadataRecord::RemoveTopic(RemoveTopicRecord {
            topic_id: meta.id.clone(),
        })])
        .await?;
        Ok(meta)
    }

    /// Grows a topic to `count` partitions, placed like the first ones (or as assigned).
    pub async fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Vec<Vec<i32>>,
        validate_only: bool,
    ) -> Result<(), ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let img = self.image();
        let meta = img
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        if count <= meta.partitions {
            return Err(ControllerError::InvalidPartitionCount {
                topic: name.to_string(),
                current: meta.partitions,
                requested: count,
            });
        }
        let rf = img
            .partition(meta.topic_id(), 0)
            .map(|p| p.replicas.len() as i32)
            .unwrap_or(1);
        let added = count - meta.partitions;
        let new = if assignments.is_empty() {
            let brokers = placement::usable_brokers(&img);
            placement::place(&brokers, meta.partitions, added, rf, 0)?
        } else {
            if assignments.len() != added as usize {
                return Err(PlacementError::Assignment(format!(
                    "Attempted to add {added} additional partition(s), but only {} assignment(s) were specified.",
                    assignments.len()
                ))
                .into());
            }
            for a in &assignments {
                placement::check_assignment(&img, a, None)?;
            }
            assignments
        };
        if validate_only {
            return Ok(());
        }
        let records = partition_records(&img, &meta.id, meta.partitions, &new);
        self.propose(records).await?;
        Ok(())
    }

    /// Replaces a topic's config overrides (validated by the caller) with the difference as
    /// ConfigRecords.
    pub async fn set_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<TopicMeta>, ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let meta = self
            .image()
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))?;
        let records = config_records(ConfigResourceType::Topic, name, &meta.configs, &configs);
        self.propose(records).await?;
        self.image()
            .topic(name)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(name.to_string()))
    }

    /// Replaces a group's dynamic configs (validated by the caller); empty removes them.
    pub async fn set_group_configs(
        &self,
        group_id: &str,
        configs: BTreeMap<String, String>,
    ) -> Result<(), ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let none = BTreeMap::new();
        let img = self.image();
        let current = img.group_configs(group_id).unwrap_or(&none);
        let records = config_records(ConfigResourceType::Group, group_id, current, &configs);
        self.propose(records).await?;
        Ok(())
    }

    /// Hands out the next block of producer ids: `[start, start + PRODUCER_ID_BLOCK_SIZE)`.
    pub async fn allocate_producer_ids(
        &self,
        broker_id: i32,
        broker_epoch: i64,
    ) -> Result<(i64, i64), ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let start = self.image().next_producer_id();
        self.propose(vec![MetadataRecord::ProducerIds(ProducerIdsRecord {
            broker_id,
            broker_epoch,
            next_producer_id: start + PRODUCER_ID_BLOCK_SIZE,
        })])
        .await?;
        Ok((start, PRODUCER_ID_BLOCK_SIZE))
    }

    /// Registers (or re-registers) a broker, fenced; returns its new broker epoch. A broker that
    /// comes back with a new incarnation while still registered restarted uncleanly: as Kafka's
    /// `handleBrokerUncleanShutdown`, its leaderships and ISR places move now rather than after
    /// its old session times out.
    pub async fn register_broker(
        &self,
        spec: BrokerRegistrationSpec,
    ) -> Result<i64, ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let img = self.image();
        let epoch = self.applied_index().unwrap_or(0) as i64 + 1;
        let mut records = Vec::new();
        if let Some(old) = img.broker(spec.broker_id)
            && old.incarnation_id != spec.incarnation_id
        {
            records.extend(
                placement::changes_for_fenced_broker(&img, spec.broker_id, |t| {
                    self.unclean_allowed(&img, t)
                })
                .into_iter()
                .map(MetadataRecord::PartitionChange),
            );
        }
        records.push(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: spec.broker_id,
            incarnation_id: spec.incarnation_id,
            broker_epoch: epoch,
            endpoints: spec.endpoints,
            rack: spec.rack,
            fenced: true,
        }));
        self.propose(records).await?;
        let now = self.clock.monotonic_ms();
        let mut l = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
        l.last_heartbeat_ms.insert(spec.broker_id, now);
        l.shutting_down.remove(&spec.broker_id);
        Ok(epoch)
    }

    /// A broker's heartbeat: keeps its session, unfences it once it has applied the log up to
    /// its registration, and runs its controlled shutdown when it asks for one.
    pub async fn broker_heartbeat(
        &self,
        broker_id: i32,
        broker_epoch: i64,
        metadata_offset: i64,
        want_fence: bool,
        want_shutdown: bool,
    ) -> Result<HeartbeatOutcome, ControllerError> {
        self.check_active()?;
        let img = self.image();
        let reg = img
            .broker(broker_id)
            .ok_or(ControllerError::BrokerNotRegistered(broker_id))?;
        if reg.epoch != broker_epoch {
            return Err(ControllerError::StaleBrokerEpoch {
                broker: broker_id,
                current: reg.epoch,
                given: broker_epoch,
            });
        }
        {
            let now = self.clock.monotonic_ms();
            let mut l = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
            l.last_heartbeat_ms.insert(broker_id, now);
            if want_shutdown {
                l.shutting_down.entry(broker_id).or_insert(now);
            }
        }
        let caught_up = metadata_offset >= broker_epoch;
        if want_shutdown {
            let _ops = self.ops.lock().await;
            let img = self.image();
            let mut records: Vec<MetadataRecord> =
                placement::changes_for_fenced_broker(&img, broker_id, |t| {
                    self.unclean_allowed(&img, t)
                })
                .into_iter()
                .map(MetadataRecord::PartitionChange)
                .collect();
            // Once its leaderships have moved, fence it in the same batch (as Kafka does when a
            // controlled shutdown completes): the broker stops heartbeating after this answer,
            // and unfenced it could rejoin ISRs from its still-running fetchers.
            let after = state_machine::apply_batch(
                &img,
                &RecordBatch {
                    records: records.clone(),
                },
            )
            .map_err(|e| ControllerError::Rejected(e.to_string()))?;
            if !leads_any(&after, broker_id) && !reg.fenced {
                records.push(MetadataRecord::FenceBroker(FenceBrokerRecord {
                    id: broker_id,
                    epoch: broker_epoch,
                }));
            }
            if !records.is_empty() {
                self.propose(records).await?;
            }
            let img = self.image();
            return Ok(HeartbeatOutcome {
                is_caught_up: caught_up,
                is_fenced: img.broker(broker_id).is_some_and(|b| b.fenced),
                should_shut_down: !leads_any(&img, broker_id),
            });
        }
        if reg.fenced && caught_up && !want_fence {
            let _ops = self.ops.lock().await;
            let img = self.image();
            if img
                .broker(broker_id)
                .is_some_and(|b| b.fenced && b.epoch == broker_epoch)
            {
                let mut records = vec![MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
                    id: broker_id,
                    epoch: broker_epoch,
                })];
                // Elect against the image as it will be once the broker is unfenced.
                let after = state_machine::apply_batch(
                    &img,
                    &RecordBatch {
                        records: records.clone(),
                    },
                )
                .map_err(|e| ControllerError::Rejected(e.to_string()))?;
                records.extend(
                    placement::changes_for_unfenced_broker(&after, broker_id, |t| {
                        self.unclean_allowed(&after, t)
                    })
                    .into_iter()
                    .map(MetadataRecord::PartitionChange),
                );
                self.propose(records).await?;
                tracing::info!(broker = broker_id, "broker unfenced");
            }
        }
        let fenced = self.image().broker(broker_id).is_some_and(|b| b.fenced);
        Ok(HeartbeatOutcome {
            is_caught_up: caught_up,
            is_fenced: fenced,
            should_shut_down: false,
        })
    }

    /// AlterPartition: the leader of a partition changes its ISR. The leader epoch and partition
    /// epoch must be current, every new member registered and unfenced, the leader among them.
    pub async fn alter_partition(
        &self,
        broker_id: i32,
        broker_epoch: i64,
        change: IsrChange,
    ) -> Result<PartitionState, ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let img = self.image();
        match img.broker(broker_id) {
            Some(b) if b.epoch == broker_epoch || broker_epoch < 0 => {}
            Some(b) => {
                return Err(ControllerError::StaleBrokerEpoch {
                    broker: broker_id,
                    current: b.epoch,
                    given: broker_epoch,
                });
            }
            None => return Err(ControllerError::BrokerNotRegistered(broker_id)),
        }
        let id = parse_topic_id(&change.topic_id)
            .ok_or_else(|| ControllerError::UnknownTopic(change.topic_id.clone()))?;
        let state = img
            .partition(id, change.partition)
            .cloned()
            .ok_or_else(|| ControllerError::UnknownTopic(change.topic_id.clone()))?;
        if state.leader != broker_id {
            return Err(ControllerError::NotLeaderOrFollower);
        }
        if change.leader_epoch < state.leader_epoch {
            return Err(ControllerError::FencedLeaderEpoch);
        }
        if change.leader_epoch > state.leader_epoch
            || change.partition_epoch != state.partition_epoch
        {
            return Err(ControllerError::InvalidUpdateVersion);
        }
        if !change.new_isr.contains(&broker_id) {
            return Err(ControllerError::InvalidRequest(
                "the new ISR must contain the leader".into(),
            ));
        }
        // KIP-841: a fenced broker, or one in controlled shutdown, may not join an ISR.
        let shutting_down: Vec<i32> = {
            let l = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
            l.shutting_down.keys().copied().collect()
        };
        for r in &change.new_isr {
            let joining = !state.isr.contains(r);
            if !state.replicas.contains(r)
                || img.broker(*r).is_none_or(|b| b.fenced)
                || (joining && shutting_down.contains(r))
            {
                return Err(ControllerError::IneligibleReplica(*r));
            }
        }
        if change.new_isr != state.isr {
            let after = PartitionState {
                isr: change.new_isr.clone(),
                ..state.clone()
            };
            // KIP-455: the last adding replica in sync completes the reassignment at once.
            let record = placement::reassignment_completion(
                &img,
                &change.topic_id,
                change.partition,
                &after,
            )
            .map(|mut done| {
                done.isr = Some(done.isr.unwrap_or_else(|| change.new_isr.clone()));
                done
            })
            .unwrap_or_else(|| PartitionChangeRecord {
                partition_id: change.partition,
                topic_id: change.topic_id.clone(),
                isr: Some(change.new_isr.clone()),
                ..Default::default()
            });
            if record.replicas.is_some() {
                tracing::info!(topic_id = %change.topic_id, partition = change.partition,
                    replicas = ?record.replicas, "reassignment complete");
            }
            self.propose(vec![MetadataRecord::PartitionChange(record)])
                .await?;
        }
        self.image()
            .partition(id, change.partition)
            .cloned()
            .ok_or(ControllerError::UnknownTopic(change.topic_id))
    }

    /// Periodic work on the active controller: bootstrap, fencing of brokers whose session
    /// expired, and the leader-imbalance check when it is due. Cheap on other nodes.
    pub async fn tick(&self) -> Result<(), ControllerError> {
        let active = self.is_active();
        let now = self.clock.monotonic_ms();
        let (expired, rebalance): (Vec<(i32, i64)>, bool) = {
            let img = self.image();
            let mut l = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
            if active && !l.active {
                // Newly active: every broker gets a full session from now.
                l.last_heartbeat_ms = img.brokers().keys().map(|id| (*id, now)).collect();
                l.last_rebalance_ms = now;
            }
            l.active = active;
            if !active {
                return Ok(());
            }
            let rebalance = self.settings.auto_leader_rebalance_enable
                && now - l.last_rebalance_ms >= self.settings.leader_imbalance_check_interval_ms;
            if rebalance {
                l.last_rebalance_ms = now;
            }
            let expired = img
                .brokers()
                .values()
                .filter(|b| !b.fenced)
                .filter(|b| {
                    let last = *l.last_heartbeat_ms.entry(b.broker_id).or_insert(now);
                    now - last > self.settings.broker_session_timeout_ms
                })
                .map(|b| (b.broker_id, b.epoch))
                .collect();
            (expired, rebalance)
        };
        self.bootstrap().await?;
        for (broker, epoch) in expired {
            self.fence(broker, epoch).await?;
        }
        if rebalance {
            let moved = self.rebalance_leaders().await?;
            if moved > 0 {
                tracing::info!(
                    partitions = moved,
                    "moved leaderships back to preferred replicas"
                );
            }
        }
        Ok(())
    }

    async fn fence(&self, broker: i32, epoch: i64) -> Result<(), ControllerError> {
        let _ops = self.ops.lock().await;
        let img = self.image();
        if img
            .broker(broker)
            .is_none_or(|b| b.fenced || b.epoch != epoch)
        {
            return Ok(());
        }
        let after = state_machine::apply_batch(
            &img,
            &RecordBatch {
                records: vec![MetadataRecord::FenceBroker(FenceBrokerRecord {
                    id: broker,
                    epoch,
                })],
            },
        )
        .map_err(|e| ControllerError::Rejected(e.to_string()))?;
        let mut records = vec![MetadataRecord::FenceBroker(FenceBrokerRecord {
            id: broker,
            epoch,
        })];
        records.extend(
            placement::changes_for_fenced_broker(&after, broker, |t| {
                self.unclean_allowed(&after, t)
            })
            .into_iter()
            .map(MetadataRecord::PartitionChange),
        );
        tracing::warn!(
            broker,
            "broker session expired: fencing it and moving its leaderships"
        );
        self.propose(records).await?;
        Ok(())
    }

    /// Brokers in controlled shutdown: never elected (KIP-841).
    fn shutting_down(&self) -> Vec<i32> {
        let l = self.liveness.lock().unwrap_or_else(|p| p.into_inner());
        l.shutting_down.keys().copied().collect()
    }

    /// One leader-imbalance pass (`auto.leader.rebalance.enable`): preferred elections for the
    /// brokers above `leader.imbalance.per.broker.percentage`. Returns how many moved.
    pub async fn rebalance_leaders(&self) -> Result<usize, ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let changes = placement::imbalanced_leader_changes(
            &self.image(),
            self.settings.leader_imbalance_per_broker_percentage,
            &self.shutting_down(),
        );
        let n = changes.len();
        self.propose(
            changes
                .into_iter()
                .map(MetadataRecord::PartitionChange)
                .collect(),
        )
        .await?;
        Ok(n)
    }

    /// ElectLeaders: `partitions` by topic name, or `None` for every partition (whose results
    /// then leave out the partitions that needed no election, as Kafka does).
    pub async fn elect_leaders(
        &self,
        election: placement::ElectionType,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<PartitionOutcome>, ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let img = self.image();
        let unavailable = self.shutting_down();
        let all = partitions.is_none();
        let wanted: Vec<(String, i32)> = match partitions {
            Some(ps) => {
                let mut seen = std::collections::BTreeSet::new();
                ps.into_iter().filter(|p| seen.insert(p.clone())).collect()
            }
            None => {
                let mut out: Vec<(String, i32)> = img
                    .topics()
                    .flat_map(|t| {
                        img.partitions(t.topic_id())
                            .into_iter()
                            .flat_map(|ps| ps.keys().map(|p| (t.name.clone(), *p)))
                    })
                    .collect();
                out.sort();
                out
            }
        };
        let mut results = Vec::with_capacity(wanted.len());
        let mut records = Vec::new();
        for (topic, p) in wanted {
            let outcome = partition_of(&img, &topic, p).and_then(|(id, state)| {
                Ok(placement::elect(
                    &img,
                    &id,
                    p,
                    state,
                    election,
                    &unavailable,
                )?)
            });
            match outcome {
                Ok(change) => {
                    records.push(MetadataRecord::PartitionChange(change));
                    results.push((topic, p, Ok(())));
                }
                Err(ControllerError::Election(placement::ElectionError::NotNeeded)) if all => {}
                Err(e) => results.push((topic, p, Err(e))),
            }
        }
        self.propose(records).await?;
        Ok(results)
    }

    /// AlterPartitionReassignments: each `(topic, partition, target)` starts (or replaces) a
    /// reassignment to `target`, or with `None` cancels the ongoing one. The partitions are
    /// decided in order against the image as the earlier ones leave it.
    pub async fn alter_partition_reassignments(
        &self,
        items: Vec<(String, i32, Option<Vec<i32>>)>,
        allow_replication_factor_change: bool,
    ) -> Result<Vec<PartitionOutcome>, ControllerError> {
        self.check_active()?;
        let _ops = self.ops.lock().await;
        let mut img = (*self.image()).clone();
        let mut results = Vec::with_capacity(items.len());
        let mut records = Vec::new();
        for (topic, p, target) in items {
            let decided = partition_of(&img, &topic, p).and_then(|(id, state)| match &target {
                Some(target) => {
                    placement::check_assignment(&img, target, None)?;
                    Ok(placement::reassign(
                        &img,
                        &id,
                        p,
                        state,
                        target,
                        allow_replication_factor_change,
                    )?)
                }
                None => Ok(Some(placement::cancel_reassignment(&img, &id, p, state)?)),
            });
            match decided {
                Ok(change) => {
                    if let Some(change) = change {
                        let record = MetadataRecord::PartitionChange(change);
                        img = state_machine::apply_batch(
                            &img,
                            &RecordBatch {
                                records: vec![record.clone()],
                            },
                        )
                        .map_err(|e| ControllerError::Rejected(e.to_string()))?;
                        records.push(record);
                    }
                    results.push((topic, p, Ok(())));
                }
                Err(e) => results.push((topic, p, Err(e))),
            }
        }
        self.propose(records).await?;
        Ok(results)
    }
}

/// A partition's topic id and state, by topic name.
fn partition_of<'a>(
    img: &'a MetadataImage,
    topic: &str,
    partition: i32,
) -> Result<(String, &'a PartitionState), ControllerError> {
    let meta = img
        .topic(topic)
        .ok_or_else(|| ControllerError::UnknownTopic(topic.to_string()))?;
    let state = img.partition(meta.topic_id(), partition).ok_or_else(|| {
        ControllerError::UnknownPartition {
            topic: topic.to_string(),
            partition,
        }
    })?;
    Ok((meta.id.clone(), state))
}

fn leads_any(img: &MetadataImage, broker: i32) -> bool {
    img.topics().any(|t| {
        img.partitions(t.topic_id())
            .is_some_and(|ps| ps.values().any(|p| p.leader == broker))
    })
}

fn partition_records(
    img: &MetadataImage,
    topic_id: &str,
    first: i32,
    assignments: &[Vec<i32>],
) -> Vec<MetadataRecord> {
    assignments
        .iter()
        .enumerate()
        .map(|(i, replicas)| {
            // The ISR starts as the live replicas; the leader is the first of them.
            let isr: Vec<i32> = replicas
                .iter()
                .copied()
                .filter(|r| img.broker(*r).is_some_and(|b| !b.fenced))
                .collect();
            let isr = if isr.is_empty() {
                replicas.clone()
            } else {
                isr
            };
            let leader = isr.first().copied().unwrap_or(NO_LEADER);
            MetadataRecord::Partition(PartitionRecord {
                partition_id: first + i as i32,
                topic_id: topic_id.to_string(),
                replicas: replicas.clone(),
                isr,
                leader,
                leader_epoch: 0,
                partition_epoch: 0,
                ..Default::default()
            })
        })
        .collect()
}

fn config_records(
    resource_type: ConfigResourceType,
    name: &str,
    current: &BTreeMap<String, String>,
    next: &BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let record = |key: &String, value: Option<String>| {
        MetadataRecord::Config(ConfigRecord {
            resource_type,
            resource_name: name.to_string(),
            name: key.clone(),
            value,
        })
    };
    let mut out: Vec<MetadataRecord> = next
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| record(k, Some(v.clone())))
        .collect();
    out.extend(
        current
            .keys()
            .filter(|k| !next.contains_key(*k))
            .map(|k| record(k, None)),
    );
    out
}
