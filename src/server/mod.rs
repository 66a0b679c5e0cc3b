//! Sockets, dispatch and handlers: the only layer that sees both the wire and the broker engine.
//!
//! Contract: `start` opens the data directory (recovering after an unclean stop), hosts every
//! known topic, binds the listener and serves until `BrokerHandle::shutdown` (or SIGINT/SIGTERM in
//! main.rs): then it stops accepting, lets each connection finish the request in hand, flushes
//! every log and writes the clean-shutdown marker. Handlers map every domain error to a Kafka code
//! through `error_code.rs` only. Nothing depends on this module but main.rs and embedded.rs.
//! Lock order: `Broker.topic_ops` before anything in controller or replication.

pub mod authz;
pub mod connection;
pub mod error_code;
pub mod fetch_session;
pub mod group_store;
pub mod handlers;
pub mod lifecycle;
pub mod listener;
pub mod peer;
pub mod replica_fetcher;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::{BrokerConfig, TopicSettings};
use crate::controller::{Controller, ControllerSettings, MetadataImage, TopicMeta, TopicSpec};
use crate::group::coordinator::{GroupCoordinator, OFFSETS_TOPIC};
use crate::links::PeerLinks;
use crate::log::LogManager;
use crate::model::NodeId;
use crate::protocol::{ApiKey, ApiVersionTable};
use crate::replication::{Partition, ReplicaManager};

pub use error_code::BrokerError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no log directory configured (log.dirs)")]
    NoLogDir,
    #[error("no listener configured (listeners)")]
    NoListener,
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot open the data directory: {0}")]
    Storage(#[from] BrokerError),
    #[error("controller quorum: {0}")]
    Quorum(String),
}

/// What a request knows of the connection it came in on, beyond its own bytes.
#[derive(Clone, Debug)]
pub struct ConnectionScope {
    /// The request came in on the controller listener: the operation runs on this node's
    /// controller and is never forwarded again (a node that is no longer active answers
    /// NOT_CONTROLLER and the sender retries elsewhere).
    pub on_controller_listener: bool,
    /// The name of the listener the request came in on (Metadata and FindCoordinator answer
    /// with every broker's endpoint of that listener, as Kafka does).
    pub listener: Arc<str>,
}

tokio::task_local! {
    /// Set around a connection's whole life when it differs from the default (a client
    /// listener, the node's only one); read through `request_listener_name` and
    /// `on_controller_listener`.
    pub static CONNECTION_SCOPE: ConnectionScope;
}

/// Whether a connection of `listener` (a controller one or not) needs `CONNECTION_SCOPE` set:
/// unset, requests are taken as from a client on the first client listener.
pub(crate) fn needs_connection_scope(broker: &Broker, listener: &str, controller: bool) -> bool {
    controller
        || broker
            .config
            .client_listeners()
            .first()
            .is_none_or(|l| l.name != listener)
}

/// The listener the request in hand came in on, else the first client listener.
pub(crate) fn request_listener_name(broker: &Broker) -> Arc<str> {
    CONNECTION_SCOPE
        .try_with(|c| c.listener.clone())
        .unwrap_or_else(|_| {
            broker
                .config
                .client_listeners()
                .first()
                .map(|l| Arc::from(l.name.as_str()))
                .unwrap_or_else(|| Arc::from(""))
        })
}

fn on_controller_listener() -> bool {
    CONNECTION_SCOPE
        .try_with(|c| c.on_controller_listener)
        .unwrap_or(false)
}

/// How long a broker waits for the active controller before failing an operation.
pub const CONTROLLER_CALL_DEADLINE_MS: u64 = 30_000;
/// How long a broker waits for its own image to show what the controller committed.
const IMAGE_CATCH_UP_MS: u64 = 5_000;

/// This broker's registration with the controller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Registration {
    /// The broker epoch the controller gave; -1 before registration.
    pub epoch: i64,
    pub unfenced: bool,
}

/// Shared state of one broker: configuration, metadata, partitions and protocol tables.
#[derive(Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub clock: SharedClock,
    pub controller: Controller,
    pub channel: peer::ControllerChannel,
    pub replicas: ReplicaManager,
    pub fetchers: replica_fetcher::ReplicaFetchers,
    pub versions: ApiVersionTable,
    /// What the controller listener serves.
    pub controller_versions: ApiVersionTable,
    pub fetch_sessions: fetch_session::FetchSessionCache,
    pub groups: GroupCoordinator,
    pub node_id: NodeId,
    pub advertised_host: String,
    pub advertised_port: i32,
    /// Hex of this process's 16-byte incarnation id (BrokerRegistration).
    pub incarnation_id: String,
    /// Fault injection: while cut, every exchange with the other nodes fails (`crate::links`).
    pub links: Arc<PeerLinks>,
    registration: Mutex<Registration>,
    weak_self: std::sync::OnceLock<std::sync::Weak<Broker>>,
    /// Serialises applying images to the hosted partitions.
    publish_lock: tokio::sync::Mutex<PublishState>,
    topic_ops: tokio::sync::Mutex<()>,
    /// Serialises IncrementalAlterConfigs on groups (read, change, write).
    group_config_ops: tokio::sync::Mutex<()>,
    producer_ids: tokio::sync::Mutex<(i64, i64)>,
}

/// What the publisher remembers between images.
#[derive(Debug, Default)]
struct PublishState {
    /// Topic ids seen in the last applied image (a topic that disappears was deleted).
    known_topics: std::collections::HashSet<crate::model::TopicId>,
    /// Stray logs (of topics the image does not know) were removed once caught up.
    strays_checked: bool,
    /// `meta.properties` was written with the cluster id (once it is known).
    meta_written: bool,
}

impl Broker {
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    /// The broker as an `Arc` (for tasks it spawns); `None` while it is being dropped.
    pub fn self_arc(&self) -> Option<Arc<Broker>> {
        self.weak_self.get().and_then(std::sync::Weak::upgrade)
    }

    /// After a forwarded change: wait (briefly, bounded) for this node's image to move, then
    /// apply it.
    pub async fn catch_up_with_controller(&self) {
        let mut rx = self.controller.subscribe();
        let _ =
            tokio::time::timeout(Duration::from_millis(IMAGE_CATCH_UP_MS / 10), rx.changed()).await;
        self.publish().await;
    }

    pub fn registration(&self) -> Registration {
        *self.registration.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_registration(&self, r: Registration) {
        *self.registration.lock().unwrap_or_else(|p| p.into_inner()) = r;
    }

    /// Whether a controller operation must be sent to another node.
    pub fn must_forward(&self) -> bool {
        !on_controller_listener() && !self.controller.is_active()
    }

    pub fn topic_settings(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<TopicSettings, BrokerError> {
        Ok(self.config.topic_settings(configs)?)
    }

    /// Creates a topic (on the active controller, forwarding there if need be) and hosts its
    /// partitions here. `validate_only` checks without creating.
    pub async fn create_topic(
        &self,
        name: &str,
        spec: TopicSpec,
        validate_only: bool,
    ) -> Result<Arc<TopicMeta>, BrokerError> {
        crate::controller::validate_topic_name(name)?;
        if spec.assignments.is_empty() && spec.partitions < 1 {
            return Err(BrokerError::InvalidPartitionCount(spec.partitions));
        }
        self.topic_settings(&spec.configs)?;
        if self.must_forward() {
            return self.forward_create_topic(name, spec, validate_only).await;
        }
        let _ops = self.topic_ops.lock().await;
        let meta = self
            .controller
            .create_topic(name, spec, validate_only)
            .await?;
        if !validate_only {
            self.publish().await;
            tracing::info!(topic = name, partitions = meta.partitions, "created topic");
        }
        Ok(meta)
    }

    async fn forward_create_topic(
        &self,
        name: &str,
        spec: TopicSpec,
        validate_only: bool,
    ) -> Result<Arc<TopicMeta>, BrokerError> {
        use crate::protocol::msg::create_topics_request::{
            CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
        };
        let mut t = CreatableTopic::default();
        t.name = crate::protocol::msg::TopicName(handlers::str_bytes(name));
        if spec.assignments.is_empty() {
            t.num_partitions = spec.partitions;
            t.replication_factor = spec.replication_factor as i16;
        } else {
            t.num_partitions = -1;
            t.replication_factor = -1;
            t.assignments = spec
                .assignments
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut a = CreatableReplicaAssignment::default();
                    a.partition_index = i as i32;
                    a.broker_ids = r.iter().map(|b| (*b).into()).collect();
                    a
                })
                .collect();
        }
        t.configs = spec
            .configs
            .iter()
            .map(|(k, v)| {
                let mut c = CreatableTopicConfig::default();
                c.name = handlers::str_bytes(k);
                c.value = Some(handlers::str_bytes(v));
                c
            })
            .collect();
        let mut req = crate::protocol::msg::CreateTopicsRequest::default();
        req.topics = vec![t];
        req.timeout_ms = CONTROLLER_CALL_DEADLINE_MS as i32;
        req.validate_only = validate_only;
        let resp: crate::protocol::msg::CreateTopicsResponse = self
            .channel
            .call(
                self,
                ApiKey::CreateTopics,
                7,
                &req,
                CONTROLLER_CALL_DEADLINE_MS,
                |r: &crate::protocol::msg::CreateTopicsResponse| {
                    peer::classify(r.topics.first().map(|t| t.error_code))
                },
            )
            .await?;
        let t = resp
            .topics
            .into_iter()
            .next()
            .ok_or_else(|| BrokerError::InvalidRequest("empty CreateTopics answer".into()))?;
        if t.error_code != error_code::code::NONE {
            return Err(BrokerError::Remote {
                code: t.error_code,
                message: t.error_message.map(|m| m.to_string()).unwrap_or_default(),
            });
        }
        let id = crate::controller::format_topic_id(crate::model::TopicId(*t.topic_id.as_bytes()));
        if validate_only {
            return Ok(Arc::new(TopicMeta {
                name: name.to_string(),
                id,
                partitions: t.num_partitions,
                configs: spec.configs,
            }));
        }
        let meta = self
            .await_image(|img| img.topic(name).filter(|m| m.id == id).cloned())
            .await
            .ok_or(BrokerError::UnknownTopicOrPartition)?;
        self.publish().await;
        Ok(meta)
    }

    /// Waits (bounded) until this node's image satisfies `f`.
    async fn await_image<T>(&self, f: impl Fn(&MetadataImage) -> Option<T>) -> Option<T> {
        let mut rx = self.controller.subscribe();
        let wait = async {
            loop {
                if let Some(v) = f(&rx.borrow_and_update().image) {
                    return Some(v);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(Duration::from_millis(IMAGE_CATCH_UP_MS), wait)
            .await
            .ok()
            .flatten()
    }

    /// The topic, created with the broker defaults if it is absent and auto-creation is enabled.
    pub async fn topic_or_auto_create(
        &self,
        name: &str,
        allow_auto_create: bool,
    ) -> Result<Arc<TopicMeta>, BrokerError> {
        if let Some(t) = self.image().topic(name) {
            return Ok(t.clone());
        }
        if !(allow_auto_create && self.config.auto_create_topics_enable) {
            crate::controller::validate_topic_name(name)?;
            return Err(BrokerError::UnknownTopicOrPartition);
        }
        let spec = TopicSpec {
            partitions: self.config.num_partitions,
            replication_factor: self.config.default_replication_factor as i32,
            assignments: Vec::new(),
            configs: BTreeMap::new(),
        };
        match self.create_topic(name, spec, false).await {
            Ok(t) => Ok(t),
            Err(e) if error_code::error_code(&e) == error_code::code::TOPIC_ALREADY_EXISTS => self
                .await_image(|img| img.topic(name).cloned())
                .await
                .ok_or(BrokerError::UnknownTopicOrPartition),
            Err(e) => Err(e),
        }
    }

    pub async fn delete_topic(&self, name: &str) -> Result<Arc<TopicMeta>, BrokerError> {
        if !self.config.delete_topic_enable {
            return Err(BrokerError::TopicDeletionDisabled);
        }
        if self.must_forward() {
            let meta = self
                .image()
                .topic(name)
                .cloned()
                .ok_or(BrokerError::UnknownTopicOrPartition)?;
            let mut req = crate::protocol::msg::DeleteTopicsRequest::default();
            let mut t = crate::protocol::msg::delete_topics_request::DeleteTopicState::default();
            t.name = Some(crate::protocol::msg::TopicName(handlers::str_bytes(name)));
            req.topics = vec![t];
            req.timeout_ms = CONTROLLER_CALL_DEADLINE_MS as i32;
            let resp: crate::protocol::msg::DeleteTopicsResponse = self
                .channel
                .call(
                    self,
                    ApiKey::DeleteTopics,
                    6,
                    &req,
                    CONTROLLER_CALL_DEADLINE_MS,
                    |r: &crate::protocol::msg::DeleteTopicsResponse| {
                        peer::classify(r.responses.first().map(|t| t.error_code))
                    },
                )
                .await?;
            if let Some(t) = resp.responses.first()
                && t.error_code != error_code::code::NONE
            {
                return Err(BrokerError::Remote {
                    code: t.error_code,
                    message: t
                        .error_message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                });
            }
            self.await_image(|img| img.topic(name).is_none().then_some(()))
                .await;
            self.publish().await;
            return Ok(meta);
        }
        let _ops = self.topic_ops.lock().await;
        let meta = self.controller.delete_topic(name).await?;
        self.fetch_sessions.forget_topic(name);
        self.publish().await;
        tracing::info!(topic = name, "deleted topic");
        Ok(meta)
    }

    pub async fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Vec<Vec<i32>>,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        if self.must_forward() {
            use crate::protocol::msg::create_partitions_request::{
                CreatePartitionsAssignment, CreatePartitionsTopic,
            };
            let mut t = CreatePartitionsTopic::default();
            t.name = crate::protocol::msg::TopicName(handlers::str_bytes(name));
            t.count = count;
            if !assignments.is_empty() {
                t.assignments = Some(
                    assignments
                        .iter()
                        .map(|r| {
                            let mut a = CreatePartitionsAssignment::default();
                            a.broker_ids = r.iter().map(|b| (*b).into()).collect();
                            a
                        })
                        .collect(),
                );
            }
            let mut req = crate::protocol::msg::CreatePartitionsRequest::default();
            req.topics = vec![t];
            req.timeout_ms = CONTROLLER_CALL_DEADLINE_MS as i32;
            req.validate_only = validate_only;
            let resp: crate::protocol::msg::CreatePartitionsResponse = self
                .channel
                .call(
                    self,
                    ApiKey::CreatePartitions,
                    3,
                    &req,
                    CONTROLLER_CALL_DEADLINE_MS,
                    |r: &crate::protocol::msg::CreatePartitionsResponse| {
                        peer::classify(r.results.first().map(|t| t.error_code))
                    },
                )
                .await?;
            if let Some(t) = resp.results.first()
                && t.error_code != error_code::code::NONE
            {
                return Err(BrokerError::Remote {
                    code: t.error_code,
                    message: t
                        .error_message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                });
            }
            if !validate_only {
                self.await_image(|img| {
                    img.topic(name)
                        .filter(|t| t.partitions >= count)
                        .map(|_| ())
                })
                .await;
                self.publish().await;
            }
            return Ok(());
        }
        let _ops = self.topic_ops.lock().await;
        self.controller
            .create_partitions(name, count, assignments, validate_only)
            .await?;
        if !validate_only {
            self.publish().await;
        }
        Ok(())
    }

    /// Changes a topic's config overrides (IncrementalAlterConfigs, on the active controller):
    /// `change` maps the current overrides to the next ones under the topic lock (so concurrent
    /// alterations never lose one another's changes); the result is validated as a whole,
    /// committed to the metadata log, then applied to the open logs without a restart.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        change: impl FnOnce(&TopicMeta) -> Result<BTreeMap<String, String>, BrokerError>,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let _ops = self.topic_ops.lock().await;
        let image = self.image();
        let topic = image
            .topic(name)
            .ok_or(BrokerError::UnknownTopicOrPartition)?;
        let configs = crate::config::TopicConfigs::validate_all(&change(topic)?)?;
        self.topic_settings(&configs)?;
        if validate_only {
            return Ok(());
        }
        self.controller.set_topic_configs(name, configs).await?;
        self.publish().await;
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    /// Changes a group's dynamic configs (IncrementalAlterConfigs on a GROUP resource, on the
    /// active controller): `change` maps the current configs (empty when none) to the next ones
    /// under the group config lock; the result is validated as Kafka's GroupConfig does,
    /// committed, and applied to the group's members from their next heartbeat.
    pub async fn alter_group_configs(
        &self,
        group_id: &str,
        change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, BrokerError>,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        if group_id.is_empty() {
            return Err(BrokerError::InvalidRequest(
                "a group resource needs a group id".into(),
            ));
        }
        let _ops = self.group_config_ops.lock().await;
        let image = self.image();
        let none = BTreeMap::new();
        let current = image.group_configs(group_id).unwrap_or(&none);
        let configs = self.config.validate_group_configs(&change(current)?)?;
        if validate_only {
            return Ok(());
        }
        self.controller.set_group_configs(group_id, configs).await?;
        self.publish().await;
        tracing::info!(group = group_id, "altered group configs");
        Ok(())
    }

    /// The partition if this broker hosts it.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>, BrokerError> {
        self.replicas
            .get_by_name(topic, partition)
            .ok_or(BrokerError::UnknownTopicOrPartition)
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does: `offsets.topic.num.partitions`
    /// partitions, `offsets.topic.replication.factor` replicas (fewer while fewer brokers are
    /// up, as Kafka allows), compacted.
    pub async fn ensure_offsets_topic(&self) -> Result<(), BrokerError> {
        if self.image().topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let configs = BTreeMap::from([
            ("cleanup.policy".to_string(), "compact".to_string()),
            (
                "segment.bytes".to_string(),
                OFFSETS_TOPIC_SEGMENT_BYTES.to_string(),
            ),
        ]);
        let live = crate::controller::placement::usable_brokers(&self.image())
            .len()
            .max(1);
        let rf = (self.config.offsets_topic_replication_factor.max(1) as usize).min(live) as i32;
        let spec = TopicSpec {
            partitions: self.groups.offsets_partitions(),
            replication_factor: rf,
            assignments: Vec::new(),
            configs,
        };
        match self.create_topic(OFFSETS_TOPIC, spec, false).await {
            Ok(_) => Ok(()),
            Err(e) if error_code::error_code(&e) == error_code::code::TOPIC_ALREADY_EXISTS => {
                self.await_image(|img| img.topic(OFFSETS_TOPIC).map(|_| ()))
                    .await;
                self.publish().await;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Topics as the group coordinator sees them.
    pub fn topic_view(&self) -> group_store::ImageTopicView {
        group_store::ImageTopicView(self.image())
    }

    /// A fresh producer id; ids come from blocks the controller hands out (AllocateProducerIds).
    pub async fn next_producer_id(&self) -> Result<i64, BrokerError> {
        let mut ids = self.producer_ids.lock().await;
        if ids.0 >= ids.1 {
            let epoch = self.registration().epoch;
            let (start, len) = if self.must_forward() {
                let mut req = crate::protocol::msg::AllocateProducerIdsRequest::default();
                req.broker_id = self.node_id.0.into();
                req.broker_epoch = epoch;
                let resp: crate::protocol::msg::AllocateProducerIdsResponse = self
                    .channel
                    .call(
                        self,
                        ApiKey::AllocateProducerIds,
                        0,
                        &req,
                        CONTROLLER_CALL_DEADLINE_MS,
                        |r: &crate::protocol::msg::AllocateProducerIdsResponse| {
                            peer::classify(Some(r.error_code))
                        },
                    )
                    .await?;
                if resp.error_code != error_code::code::NONE {
                    return Err(BrokerError::Remote {
                        code: resp.error_code,
                        message: "AllocateProducerIds failed".into(),
                    });
                }
                (resp.producer_id_start.0, resp.producer_id_len as i64)
            } else {
                self.controller
                    .allocate_producer_ids(self.node_id.0, epoch)
                    .await?
            };
            *ids = (start, start + len);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }

    /// Applies the current image to this broker: hosts the partitions it is a replica of, gives
    /// each its role, starts or stops replica fetchers, loads or unloads the group coordinator's
    /// partitions, applies topic and group configs, and removes the logs of deleted topics.
    pub async fn publish(&self) {
        let mut st = self.publish_lock.lock().await;
        let image = self.image();
        if let Err(e) = lifecycle::apply_image(self, &image, &mut st).await {
            tracing::error!(error = %e, "applying the metadata image failed");
        }
    }
}

/// A running broker: its address, and the way to stop it.
#[derive(Debug)]
pub struct BrokerHandle {
    pub broker: Arc<Broker>,
    local_addr: SocketAddr,
    controller_addr: Option<SocketAddr>,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The node's log span (`node{id}` for an in-process node, none for one alone in its
    /// process), over its stop too.
    span: tracing::Span,
}

impl BrokerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The controller listener's address, when this node has one of its own.
    pub fn controller_addr(&self) -> Option<SocketAddr> {
        self.controller_addr
    }

    /// `host:port` as clients should use it.
    pub fn bootstrap(&self) -> String {
        format!(
            "{}:{}",
            self.broker.advertised_host, self.broker.advertised_port
        )
    }

    /// Controlled shutdown: moves this broker's leaderships away (bounded by
    /// `controlled.shutdown` settings), stops accepting, lets connections finish their request
    /// in hand, flushes and marks the data directory clean.
    pub async fn shutdown(self) {
        let controlled = self.broker.config.controlled_shutdown_enable;
        self.stop(controlled).await
    }

    /// A clean stop without moving leaderships first.
    pub async fn shutdown_uncontrolled(self) {
        self.stop(false).await
    }

    async fn stop(self, controlled: bool) {
        let span = self.span.clone();
        self.stop_in_span(controlled).instrument(span).await
    }

    async fn stop_in_span(self, controlled: bool) {
        if controlled {
            lifecycle::controlled_shutdown(&self.broker).await;
        }
        let _ = self.shutdown_tx.send(true);
        // Requests parked on acks=all answer NOT_LEADER_OR_FOLLOWER now, so their connections
        // see the stop instead of holding it up until the requests' timeouts.
        for p in self.broker.replicas.all() {
            p.resign();
        }
        let clock = self.broker.clock.clone();
        let started = clock.monotonic_ms();
        let node = self.broker.node_id.0;
        let step = |what: &str| {
            tracing::debug!(
                node,
                ms = clock.monotonic_ms() - started,
                "stopping: {what}"
            );
        };
        for t in self.tasks {
            let _ = t.await;
        }
        step("tasks ended");
        self.broker.fetchers.stop_all().await;
        step("replica fetchers stopped");
        if let Err(e) = lifecycle::checkpoint_high_watermarks(&self.broker).await {
            tracing::warn!(error = %e, "writing high watermarks at shutdown failed");
        }
        self.broker.controller.shutdown().await;
        step("controller stopped");
        let logs = self.broker.replicas.log_manager().clone();
        match tokio::task::spawn_blocking(move || logs.shutdown()).await {
            Ok(Ok(())) => tracing::info!("clean shutdown complete"),
            Ok(Err(e)) => tracing::error!(error = %e, "flushing logs at shutdown failed"),
            Err(e) => tracing::error!(error = %e, "shutdown task failed"),
        }
    }

    /// Stops everything at once without flushing or marking anything clean: as close to
    /// `kill -9` as one process can do to a broker inside it (tests).
    pub async fn kill(self) {
        let _ = self.shutdown_tx.send(true);
        for t in &self.tasks {
            t.abort();
        }
        self.broker.fetchers.stop_all().await;
        self.broker.controller.shutdown().await;
    }
}

async fn bind(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Opens storage and the metadata quorum, binds the listeners and starts serving. A node that is
/// the whole quorum returns once it is registered and serving its partitions; a node of a larger
/// quorum returns at once and joins the cluster in the background.
pub async fn start(config: BrokerConfig, clock: SharedClock) -> Result<BrokerHandle, StartError> {
    start_in_span(config, clock, Arc::default()).await
}

/// `start` for a node that shares its process with others (the in-process cluster): everything
/// it logs, from every task it spawns, carries a `node{id}` span, and its links to its peers
/// are `links` (kept by the caller across restarts, so a cut outlives a reboot as a cut cable
/// does). Each poll enters the span, so a node alone in its process does without.
pub async fn start_in_process(
    config: BrokerConfig,
    clock: SharedClock,
    links: Arc<PeerLinks>,
) -> Result<BrokerHandle, StartError> {
    let span = tracing::info_span!("node", id = config.node_id);
    start_in_span(config, clock, links).instrument(span).await
}

async fn start_in_span(
    config: BrokerConfig,
    clock: SharedClock,
    links: Arc<PeerLinks>,
) -> Result<BrokerHandle, StartError> {
    let log_dir = config
        .log_dirs
        .first()
        .cloned()
        .ok_or(StartError::NoLogDir)?;
    // Every client listener (PLAINTEXT, an INTERNAL/EXTERNAL pair, ...); the first is the one
    // `local_addr` reports and the one an ephemeral advertised port is taken from.
    let mut client_listeners = Vec::new();
    for l in config.client_listeners() {
        client_listeners.push((Arc::<str>::from(l.name.as_str()), bind(&l.address()).await?));
    }
    let listener_cfg = config
        .client_listeners()
        .first()
        .map(|l| (*l).clone())
        .ok_or(StartError::NoListener)?;
    let local_addr = client_listeners
        .first()
        .ok_or(StartError::NoListener)?
        .1
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: listener_cfg.address(),
            source,
        })?;
    // The controller listener: Kafka's CONTROLLER listener, else (a single node without quorum
    // settings) a private loopback port of its own.
    let controller_listener = match config.controller_listener() {
        Some(l) => bind(&l.address()).await?,
        None => bind("127.0.0.1:0").await?,
    };
    let controller_addr = controller_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: "controller listener".into(),
            source,
        })?;
    let node_id = NodeId(config.node_id);
    let voters = match &config.controller_quorum_voters {
        Some(v) => crate::controller::quorum::parse_voters(v)
            .map_err(|e| StartError::Quorum(e.to_string()))?,
        None => BTreeMap::from([(config.node_id as u64, controller_addr.to_string())]),
    };
    if !voters.contains_key(&(config.node_id as u64)) {
        return Err(StartError::Quorum(format!(
            "node.id {} is not among controller.quorum.voters (brokers without a controller role are not supported yet)",
            config.node_id
        )));
    }
    let single = voters.len() == 1;

    let logs = {
        let clock = clock.clone();
        let dir = log_dir.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| LogManager::open(dir, clock)))
            .await
            .map_err(|e| BrokerError::InvalidRequest(e.to_string()))?
            .map_err(BrokerError::from)?
    };
    let logs = Arc::new(logs);
    let settings = ControllerSettings {
        node_id: config.node_id,
        voters,
        log_dir: log_dir.clone(),
        cluster_id: config.cluster_id.clone(),
        request_timeout_ms: config.controller_quorum_request_timeout_ms.max(1) as u64,
        election_timeout_ms: config.controller_quorum_election_timeout_ms.max(1) as u64,
        fetch_timeout_ms: config.controller_quorum_fetch_timeout_ms.max(1) as u64,
        broker_session_timeout_ms: config.broker_session_timeout_ms as i64,
        unclean_leader_election_default: config.default_unclean_leader_election_enable,
        auto_leader_rebalance_enable: config.auto_leader_rebalance_enable,
        leader_imbalance_check_interval_ms: config
            .leader_imbalance_check_interval_seconds
            .saturating_mul(1000),
        leader_imbalance_per_broker_percentage: config.leader_imbalance_per_broker_percentage,
        links: links.clone(),
    };
    let controller = Controller::start(settings, clock.clone())
        .await
        .map_err(BrokerError::from)?;
    let replicas = ReplicaManager::new(node_id, logs.clone());

    let advertised = config
        .advertised_listeners
        .first()
        .cloned()
        .unwrap_or(listener_cfg.clone());
    let advertised_host = match advertised.host.as_str() {
        "" | "0.0.0.0" | "::" => local_addr.ip().to_string(),
        h => h.to_string(),
    };
    // Port 0 means "any free port": advertise the one we got.
    let advertised_port = if advertised.port == 0 {
        local_addr.port()
    } else {
        advertised.port
    } as i32;
    for name in &config.ignored {
        tracing::info!(property = %name, "Kafka property accepted but not used by Gregor");
    }
    let store = Arc::new(group_store::OffsetsTopicStore::default());
    let groups = GroupCoordinator::new(
        group_store::group_config(&config),
        clock.clone(),
        store.clone(),
        config.offsets_topic_num_partitions,
        i64::from(config.offsets_retention_minutes).saturating_mul(60_000),
    );
    groups.serve_owned_partitions_only();
    let broker = Arc::new(Broker {
        fetch_sessions: fetch_session::FetchSessionCache::new(fetch_session::SESSIONS_MAX),
        groups,
        versions: handlers::version_table(&config),
        controller_versions: handlers::controller_version_table(),
        config,
        clock,
        controller,
        channel: peer::ControllerChannel::default(),
        replicas,
        fetchers: replica_fetcher::ReplicaFetchers::default(),
        node_id,
        advertised_host,
        advertised_port,
        incarnation_id: crate::controller::format_topic_id(crate::model::TopicId(
            *uuid::Uuid::new_v4().as_bytes(),
        )),
        links,
        registration: Mutex::new(Registration {
            epoch: -1,
            unfenced: false,
        }),
        weak_self: std::sync::OnceLock::new(),
        publish_lock: tokio::sync::Mutex::new(PublishState::default()),
        topic_ops: tokio::sync::Mutex::new(()),
        group_config_ops: tokio::sync::Mutex::new(()),
        producer_ids: tokio::sync::Mutex::new((0, 0)),
    });
    store.bind(&broker);
    let _ = broker.weak_self.set(Arc::downgrade(&broker));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let controller_accept = tokio::spawn(
        listener::serve_controller(broker.clone(), controller_listener, shutdown_rx.clone())
            .in_current_span(),
    );
    if single {
        // A quorum of one: be registered and serving before the first client connects.
        lifecycle::join_cluster(&broker, Duration::from_millis(START_READY_MS_MAX))
            .await
            .map_err(|e| StartError::Quorum(e.to_string()))?;
    }
    let lifecycle_task =
        tokio::spawn(lifecycle::run(broker.clone(), shutdown_rx.clone()).in_current_span());
    let mut tasks: Vec<JoinHandle<()>> = client_listeners
        .into_iter()
        .map(|(name, l)| {
            tokio::spawn(
                listener::serve(broker.clone(), l, name, shutdown_rx.clone()).in_current_span(),
            )
        })
        .collect();
    let housekeeping = tokio::spawn(housekeeping(broker.clone(), shutdown_rx).in_current_span());
    tracing::info!(%local_addr, %controller_addr, node_id = node_id.0, "Gregor is serving");
    Ok(BrokerHandle {
        broker,
        local_addr,
        controller_addr: Some(controller_addr),
        shutdown_tx,
        tasks: {
            tasks.extend([housekeeping, lifecycle_task, controller_accept]);
            tasks
        },
        span: tracing::Span::current(),
    })
}

/// How long a single node may take to become its own controller and register at start.
const START_READY_MS_MAX: u64 = 30_000;

/// Kafka's `offsets.topic.segment.bytes` default.
const OFFSETS_TOPIC_SEGMENT_BYTES: u64 = 104_857_600;
const GROUP_TICK_MS: u64 = 100;

/// Periodic work: group timers, (`log.retention.check.interval.ms`) and recovery-point checkpoints.
async fn housekeeping(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let retention_every =
        Duration::from_millis(broker.config.log_retention_check_interval_ms.max(1) as u64);
    // Kafka's log.flush.offset.checkpoint.interval.ms; also when rolled segments are synced.
    const CHECKPOINT_INTERVAL_MS: u64 = 60_000;
    let mut retention = tokio::time::interval(retention_every);
    let mut checkpoint = tokio::time::interval(Duration::from_millis(CHECKPOINT_INTERVAL_MS));
    // Group timers (session and rebalance timeouts) are seconds long; a 100 ms tick is precise
    // enough and costs one pass over the groups.
    let mut group_timers = tokio::time::interval(Duration::from_millis(GROUP_TICK_MS));
    retention.tick().await;
    checkpoint.tick().await;
    loop {
        let logs = broker.replicas.log_manager().clone();
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = retention.tick() => {
                let r = tokio::task::spawn_blocking(move || logs.apply_retention_all()).await;
                if let Ok(Err(e)) = r { tracing::warn!(error = %e, "retention pass failed") }
            }
            _ = group_timers.tick() => broker.groups.tick().await,
            _ = checkpoint.tick() => {
                let r = tokio::task::spawn_blocking(move || logs.checkpoint()).await;
                if let Ok(Err(e)) = r { tracing::warn!(error = %e, "checkpoint failed") }
            }
        }
    }
}
