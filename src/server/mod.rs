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
pub mod listener;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::{BrokerConfig, TopicSettings};
use crate::controller::{Controller, MetadataImage, TopicMeta};
use crate::group::coordinator::{GroupCoordinator, OFFSETS_TOPIC};
use crate::log::LogManager;
use crate::model::{NodeId, TopicPartition};
use crate::protocol::ApiVersionTable;
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
}

/// Shared state of one broker: configuration, metadata, partitions and protocol tables.
#[derive(Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub clock: SharedClock,
    pub controller: Controller,
    pub replicas: ReplicaManager,
    pub versions: ApiVersionTable,
    pub fetch_sessions: fetch_session::FetchSessionCache,
    pub groups: GroupCoordinator,
    pub node_id: NodeId,
    pub advertised_host: String,
    pub advertised_port: i32,
    topic_ops: Mutex<()>,
    /// Serialises IncrementalAlterConfigs on groups (read, change, write).
    group_config_ops: Mutex<()>,
    producer_ids: Mutex<(i64, i64)>,
}

impl Broker {
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    pub fn topic_settings(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<TopicSettings, BrokerError> {
        Ok(self.config.topic_settings(configs)?)
    }

    /// Creates a topic and hosts its partitions. `validate_only` checks without creating.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Arc<TopicMeta>, BrokerError> {
        crate::controller::validate_topic_name(name)?;
        if partitions < 1 {
            return Err(BrokerError::InvalidPartitionCount(partitions));
        }
        let settings = self.topic_settings(&configs)?;
        let _ops = self.topic_ops.lock().unwrap_or_else(|p| p.into_inner());
        if validate_only {
            if self.image().topic(name).is_some() {
                return Err(crate::controller::ControllerError::TopicAlreadyExists(
                    name.to_string(),
                )
                .into());
            }
            return Ok(Arc::new(TopicMeta {
                name: name.to_string(),
                id: String::new(),
                partitions,
                configs,
            }));
        }
        let meta = self.controller.create_topic(name, partitions, configs)?;
        self.replicas
            .host_topic(name, meta.topic_id(), partitions, &settings)
            .map_err(BrokerError::from)?;
        tracing::info!(topic = name, partitions, "created topic");
        Ok(meta)
    }

    /// The topic, created with the broker defaults if it is absent and auto-creation is enabled.
    pub fn topic_or_auto_create(
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
        match self.create_topic(name, self.config.num_partitions, BTreeMap::new(), false) {
            Ok(t) => Ok(t),
            Err(BrokerError::Controller(
                crate::controller::ControllerError::TopicAlreadyExists(_),
            )) => self
                .image()
                .topic(name)
                .cloned()
                .ok_or(BrokerError::UnknownTopicOrPartition),
            Err(e) => Err(e),
        }
    }

    pub fn delete_topic(&self, name: &str) -> Result<Arc<TopicMeta>, BrokerError> {
        if !self.config.delete_topic_enable {
            return Err(BrokerError::TopicDeletionDisabled);
        }
        let _ops = self.topic_ops.lock().unwrap_or_else(|p| p.into_inner());
        let meta = self.controller.delete_topic(name)?;
        self.fetch_sessions.forget_topic(name);
        self.replicas
            .remove_topic(name, meta.partitions)
            .map_err(BrokerError::from)?;
        tracing::info!(topic = name, "deleted topic");
        Ok(meta)
    }

    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let _ops = self.topic_ops.lock().unwrap_or_else(|p| p.into_inner());
        let current = self
            .image()
            .topic(name)
            .cloned()
            .ok_or(BrokerError::UnknownTopicOrPartition)?;
        if count <= current.partitions {
            return Err(crate::controller::ControllerError::InvalidPartitionCount {
                topic: name.to_string(),
                current: current.partitions,
                requested: count,
            }
            .into());
        }
        if validate_only {
            return Ok(());
        }
        let settings = self.topic_settings(&current.configs)?;
        let meta = self.controller.create_partitions(name, count)?;
        self.replicas
            .host_topic(name, meta.topic_id(), count, &settings)
            .map_err(BrokerError::from)?;
        Ok(())
    }

    /// Changes a topic's config overrides (IncrementalAlterConfigs): `change` maps the current
    /// overrides to the next ones under the topic lock (so concurrent alterations never lose
    /// one another's changes); the result is validated as a whole, persisted through the
    /// controller, then applied to the open logs without a restart.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        change: impl FnOnce(&TopicMeta) -> Result<BTreeMap<String, String>, BrokerError>,
        validate_only: bool,
    ) -> Result<(), BrokerError> {
        let _ops = self.topic_ops.lock().unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        let topic = image
            .topic(name)
            .ok_or(BrokerError::UnknownTopicOrPartition)?;
        let configs = crate::config::TopicConfigs::validate_all(&change(topic)?)?;
        let settings = self.topic_settings(&configs)?;
        if validate_only {
            return Ok(());
        }
        let meta = self.controller.set_topic_configs(name, configs)?;
        let logs = self.replicas.log_manager();
        for p in 0..meta.partitions {
            logs.update_settings(&TopicPartition::new(name, p), settings.clone());
        }
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    /// Changes a group's dynamic configs (IncrementalAlterConfigs on a GROUP resource):
    /// `change` maps the current configs (empty when none) to the next ones under the group
    /// config lock; the result is validated as Kafka's GroupConfig does, persisted through the
    /// controller, and applied to the group's members from their next heartbeat.
    pub fn alter_group_configs(
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
        let _ops = self
            .group_config_ops
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let image = self.image();
        let none = BTreeMap::new();
        let current = image.group_configs(group_id).unwrap_or(&none);
        let configs = self.config.validate_group_configs(&change(current)?)?;
        if validate_only {
            return Ok(());
        }
        let overrides = crate::group::ConsumerGroupOverrides::from_configs(&configs);
        self.controller.set_group_configs(group_id, configs)?;
        self.groups.set_consumer_overrides(group_id, overrides);
        tracing::info!(group = group_id, "altered group configs");
        Ok(())
    }

    /// The partition if this broker hosts it.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>, BrokerError> {
        self.replicas
            .get(&TopicPartition::new(topic, partition))
            .ok_or(BrokerError::UnknownTopicOrPartition)
    }

    /// Creates `__consumer_offsets` on first use, as Kafka does: `offsets.topic.num.partitions`
    /// partitions, compacted.
    pub fn ensure_offsets_topic(&self) -> Result<(), BrokerError> {
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
        match self.create_topic(
            OFFSETS_TOPIC,
            self.groups.offsets_partitions(),
            configs,
            false,
        ) {
            Ok(_)
            | Err(BrokerError::Controller(
                crate::controller::ControllerError::TopicAlreadyExists(_),
            )) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Topics as the group coordinator sees them.
    pub fn topic_view(&self) -> group_store::ImageTopicView {
        group_store::ImageTopicView(self.image())
    }

    /// A fresh producer id; ids come from blocks reserved durably through the controller.
    pub fn next_producer_id(&self) -> Result<i64, BrokerError> {
        let mut ids = self.producer_ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.0 >= ids.1 {
            let start = self.controller.allocate_producer_id_block()?;
            *ids = (start, start + crate::controller::PRODUCER_ID_BLOCK_SIZE);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }
}

/// A running broker: its address, and the way to stop it.
#[derive(Debug)]
pub struct BrokerHandle {
    pub broker: Arc<Broker>,
    local_addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl BrokerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `host:port` as clients should use it.
    pub fn bootstrap(&self) -> String {
        format!(
            "{}:{}",
            self.broker.advertised_host, self.broker.advertised_port
        )
    }

    /// Stops accepting, lets connections finish their request in hand, flushes and marks the data
    /// directory clean.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let logs = self.broker.replicas.log_manager().clone();
        match tokio::task::spawn_blocking(move || logs.shutdown()).await {
            Ok(Ok(())) => tracing::info!("clean shutdown complete"),
            Ok(Err(e)) => tracing::error!(error = %e, "flushing logs at shutdown failed"),
            Err(e) => tracing::error!(error = %e, "shutdown task failed"),
        }
    }
}

/// Opens storage, hosts known topics, binds the first listener and starts serving.
pub async fn start(config: BrokerConfig, clock: SharedClock) -> Result<BrokerHandle, StartError> {
    let log_dir = config
        .log_dirs
        .first()
        .cloned()
        .ok_or(StartError::NoLogDir)?;
    let listener_cfg = config
        .listeners
        .first()
        .cloned()
        .ok_or(StartError::NoListener)?;
    let bind_addr = listener_cfg.address();
    let listener = TcpListener::bind(&bind_addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: bind_addr.clone(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: bind_addr,
        source,
    })?;

    let (logs, controller) = {
        let clock = clock.clone();
        let cluster_id = config.cluster_id.clone();
        let dir = log_dir.clone();
        tokio::task::spawn_blocking(move || -> Result<_, BrokerError> {
            let logs = LogManager::open(dir.clone(), clock)?;
            let controller = Controller::open(&dir, cluster_id.as_deref())?;
            Ok((logs, controller))
        })
        .await
        .map_err(|e| BrokerError::InvalidRequest(e.to_string()))??
    };
    let logs = Arc::new(logs);
    let node_id = NodeId(config.node_id);
    let replicas = ReplicaManager::new(node_id, logs.clone());
    let image = controller.image();
    let known: std::collections::HashSet<(String, i32)> = image
        .topics()
        .flat_map(|t| (0..t.partitions).map(move |p| (t.name.clone(), p)))
        .collect();
    for (tp, _) in logs.partitions_on_disk().map_err(BrokerError::from)? {
        if !known.contains(&(tp.topic.to_string(), tp.partition)) {
            tracing::warn!(partition = %tp, "removing the log of a topic that no longer exists");
            logs.remove_log(&tp).map_err(BrokerError::from)?;
        }
    }
    for t in image.topics() {
        let settings = config
            .topic_settings(&t.configs)
            .map_err(BrokerError::from)?;
        replicas
            .host_topic(&t.name, t.topic_id(), t.partitions, &settings)
            .map_err(BrokerError::from)?;
    }

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
    for (group_id, configs) in image.all_group_configs() {
        groups.set_consumer_overrides(
            group_id,
            crate::group::ConsumerGroupOverrides::from_configs(configs),
        );
    }
    let offsets_partitions = image
        .topic(OFFSETS_TOPIC)
        .map(|t| t.partitions)
        .unwrap_or(0);
    for p in 0..offsets_partitions {
        groups.begin_loading(p);
    }
    let broker = Arc::new(Broker {
        fetch_sessions: fetch_session::FetchSessionCache::new(fetch_session::SESSIONS_MAX),
        groups,
        versions: handlers::version_table(&config),
        config,
        clock,
        controller,
        replicas,
        node_id,
        advertised_host,
        advertised_port,
        topic_ops: Mutex::new(()),
        group_config_ops: Mutex::new(()),
        producer_ids: Mutex::new((0, 0)),
    });
    store.bind(&broker);
    if offsets_partitions > 0 {
        let b = broker.clone();
        tokio::task::spawn_blocking(move || group_store::replay_offsets_topic(&b));
    }
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let accept = tokio::spawn(listener::serve(
        broker.clone(),
        listener,
        shutdown_rx.clone(),
    ));
    let housekeeping = tokio::spawn(housekeeping(broker.clone(), shutdown_rx));
    tracing::info!(%local_addr, node_id = node_id.0, "Gregor is serving");
    Ok(BrokerHandle {
        broker,
        local_addr,
        shutdown_tx,
        tasks: vec![accept, housekeeping],
    })
}

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
