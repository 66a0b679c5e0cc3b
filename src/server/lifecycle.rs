//! A broker's life in the cluster: registration and heartbeats with the active controller,
//! applying each new metadata image to the hosted partitions, the leader's ISR upkeep, high
//! watermark checkpoints, and controlled shutdown.
//!
//! Contract:
//! - `join_cluster` registers (BrokerRegistration), heartbeats until the controller unfences the
//!   broker, and publishes the image; `run` keeps heartbeating every
//!   `broker.heartbeat.interval.ms` (re-registering after STALE_BROKER_EPOCH or an unknown
//!   broker), applies every image change, ticks the local controller, shrinks lagging ISRs every
//!   half `replica.lag.time.max.ms`, and checkpoints high watermarks. Every exchange with the
//!   controller is bounded (`CONTROLLER_CALL_DEADLINE_MS`).
//! - `apply_image` is the only place partitions gain or lose roles: it hosts every partition this
//!   broker is a replica of, gives it the leader, epoch, replicas and ISR of the image, assigns
//!   followers to the replica fetcher of their leader, takes or gives up the group coordinator's
//!   `__consumer_offsets` partitions with their leadership (replaying a partition on taking it),
//!   and applies topic and group configs. Logs are deleted only once the broker is caught up
//!   (unfenced): those of topics the image no longer has, or whose replicas no longer include
//!   this broker. A reassignment (KIP-455) needs nothing more: a replica it adds is in
//!   `replicas` from its start, so it is hosted with an empty log and follows the leader; a
//!   replica it removes stays in `replicas` (following, in the ISR) until the controller
//!   completes it, and is then unhosted and its log deleted here.
//! - `controlled_shutdown` heartbeats with WantShutDown until the controller answers
//!   ShouldShutDown (its leaderships moved) or `CONTROLLED_SHUTDOWN_MS_MAX` passes.
//!
//! Lock order: `Broker.publish_lock` (async) is the only lock held across awaits here.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use tokio::sync::watch;

use super::peer::{self, Answer};
use super::{Broker, BrokerError, CONTROLLER_CALL_DEADLINE_MS, PublishState, Registration};
use crate::controller::records::BrokerEndpoint;
use crate::controller::{BrokerRegistrationSpec, HeartbeatOutcome, IsrChange, MetadataImage};
use crate::group::coordinator::OFFSETS_TOPIC;
use crate::model::TopicPartition;
use crate::protocol::msg::{
    AlterPartitionRequest, AlterPartitionResponse, BrokerHeartbeatRequest, BrokerHeartbeatResponse,
    BrokerRegistrationRequest, BrokerRegistrationResponse,
};
use crate::protocol::{ApiKey, Uuid};
use crate::replication::{IsrProposal, Partition, Role};
use crate::server::error_code::code;

/// The longest a controlled shutdown waits for the controller to move leaderships.
pub const CONTROLLED_SHUTDOWN_MS_MAX: u64 = 15_000;
/// Heartbeat pace before the broker is unfenced (Kafka heartbeats fast while starting too).
const STARTING_HEARTBEAT_MS: u64 = 50;
/// How often high watermarks are checkpointed (Kafka's
/// `replica.high.watermark.checkpoint.interval.ms` default).
const HW_CHECKPOINT_INTERVAL_MS: u64 = 5_000;
/// The controller's own periodic work (fencing expired sessions).
const CONTROLLER_TICK_MS: u64 = 250;

fn endpoints(broker: &Broker) -> Vec<BrokerEndpoint> {
    let mut out: Vec<BrokerEndpoint> = broker
        .config
        .advertised_listeners
        .iter()
        .filter(|l| {
            broker
                .config
                .controller_listener()
                .is_none_or(|c| c.name != l.name)
        })
        .map(|l| BrokerEndpoint {
            name: l.name.clone(),
            host: match l.host.as_str() {
                "" | "0.0.0.0" | "::" => broker.advertised_host.clone(),
                h => h.to_string(),
            },
            port: if l.port == 0 {
                broker.advertised_port as u16
            } else {
                l.port
            },
            security_protocol: 0,
        })
        .collect();
    if out.is_empty() {
        out.push(BrokerEndpoint {
            name: "PLAINTEXT".into(),
            host: broker.advertised_host.clone(),
            port: broker.advertised_port as u16,
            security_protocol: 0,
        });
    }
    out
}

async fn register(broker: &Broker) -> Result<i64, BrokerError> {
    let spec = BrokerRegistrationSpec {
        broker_id: broker.node_id.0,
        incarnation_id: broker.incarnation_id.clone(),
        endpoints: endpoints(broker),
        rack: broker.config.broker_rack.clone(),
    };
    if !broker.must_forward() {
        return Ok(broker.controller.register_broker(spec).await?);
    }
    let mut req = BrokerRegistrationRequest::default();
    req.broker_id = spec.broker_id.into();
    req.cluster_id = super::handlers::str_bytes(&broker.image().cluster_id);
    req.incarnation_id = crate::controller::parse_topic_id(&spec.incarnation_id)
        .map(|id| Uuid::from_bytes(id.0))
        .unwrap_or_else(Uuid::nil);
    req.listeners = spec
        .endpoints
        .iter()
        .map(|e| {
            let mut l = crate::protocol::msg::broker_registration_request::Listener::default();
            l.name = super::handlers::str_bytes(&e.name);
            l.host = super::handlers::str_bytes(&e.host);
            l.port = e.port;
            l.security_protocol = e.security_protocol;
            l
        })
        .collect();
    req.rack = spec.rack.as_deref().map(super::handlers::str_bytes);
    req.previous_broker_epoch = broker.registration().epoch;
    let resp: BrokerRegistrationResponse = broker
        .channel
        .call(
            broker,
            ApiKey::BrokerRegistration,
            4,
            &req,
            CONTROLLER_CALL_DEADLINE_MS,
            |r: &BrokerRegistrationResponse| peer::classify(Some(r.error_code)),
        )
        .await?;
    if resp.error_code != code::NONE {
        return Err(BrokerError::Remote {
            code: resp.error_code,
            message: "BrokerRegistration refused".into(),
        });
    }
    Ok(resp.broker_epoch)
}

async fn heartbeat(
    broker: &Broker,
    epoch: i64,
    want_shutdown: bool,
) -> Result<HeartbeatOutcome, BrokerError> {
    let offset = broker
        .controller
        .applied_index()
        .map(|i| i as i64)
        .unwrap_or(-1);
    if !broker.must_forward() {
        return Ok(broker
            .controller
            .broker_heartbeat(broker.node_id.0, epoch, offset, false, want_shutdown)
            .await?);
    }
    let mut req = BrokerHeartbeatRequest::default();
    req.broker_id = broker.node_id.0.into();
    req.broker_epoch = epoch;
    req.current_metadata_offset = offset;
    req.want_shut_down = want_shutdown;
    let deadline_ms = broker.config.broker_session_timeout_ms.max(1) as u64;
    let resp: BrokerHeartbeatResponse = broker
        .channel
        .call(
            broker,
            ApiKey::BrokerHeartbeat,
            1,
            &req,
            deadline_ms,
            |r: &BrokerHeartbeatResponse| peer::classify(Some(r.error_code)),
        )
        .await?;
    if resp.error_code != code::NONE {
        return Err(BrokerError::Remote {
            code: resp.error_code,
            message: "BrokerHeartbeat refused".into(),
        });
    }
    Ok(HeartbeatOutcome {
        is_caught_up: resp.is_caught_up,
        is_fenced: resp.is_fenced,
        should_shut_down: resp.should_shut_down,
    })
}

/// One step of registration and heartbeating; returns whether the broker is unfenced.
async fn step(broker: &Broker) -> Result<bool, BrokerError> {
    if let Err(e) = broker.controller.tick().await {
        tracing::debug!(error = %e, "controller tick");
    }
    if broker.image().cluster_id.is_empty() {
        return Ok(false);
    }
    let reg = broker.registration();
    if reg.epoch < 0 {
        let epoch = register(broker).await?;
        tracing::info!(broker_epoch = epoch, "registered with the controller");
        broker.set_registration(Registration {
            epoch,
            unfenced: false,
        });
        return Ok(false);
    }
    match heartbeat(broker, reg.epoch, false).await {
        Ok(outcome) => {
            let unfenced = !outcome.is_fenced;
            if unfenced != reg.unfenced {
                broker.set_registration(Registration {
                    epoch: reg.epoch,
                    unfenced,
                });
                if unfenced {
                    tracing::info!("the controller unfenced this broker");
                } else {
                    tracing::warn!("the controller fenced this broker");
                }
            }
            Ok(unfenced)
        }
        Err(e) => {
            let c = super::error_code::error_code(&e);
            if c == code::STALE_BROKER_EPOCH || c == code::BROKER_ID_NOT_REGISTERED {
                tracing::warn!(error = %e, "registering again");
                broker.set_registration(Registration {
                    epoch: -1,
                    unfenced: false,
                });
            }
            Err(e)
        }
    }
}

/// Registers and heartbeats until unfenced, then publishes the image (bounded by `timeout`).
pub async fn join_cluster(broker: &Arc<Broker>, timeout: Duration) -> Result<(), BrokerError> {
    let started = broker.clock.monotonic_ms();
    // Where joining stands: the cluster id known, then the registration's epoch.
    let progress = || {
        (
            broker.image().cluster_id.is_empty(),
            broker.registration().epoch,
        )
    };
    let mut images = broker.controller.subscribe();
    loop {
        let before = progress();
        match step(broker).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "joining the cluster"),
        }
        if broker.clock.monotonic_ms() - started > timeout.as_millis() as i64 {
            return Err(BrokerError::ControllerUnavailable(format!(
                "not registered and unfenced within {timeout:?}"
            )));
        }
        // A step that moved on (bootstrapped, registered) is followed at once, and a wait for
        // the metadata (unfencing needs this node to have applied its registration) ends when
        // the image moves: a single node starts without sleeping.
        if progress() == before {
            let pace = Duration::from_millis(STARTING_HEARTBEAT_MS);
            if let Ok(Err(_)) = tokio::time::timeout(pace, images.changed()).await {
                tokio::time::sleep(pace).await; // the quorum is gone: keep the pace
            }
        }
    }
    broker.publish().await;
    Ok(())
}

/// The broker's background life (see the module doc).
pub async fn run(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let mut images = broker.controller.subscribe();
    let heartbeat_every =
        Duration::from_millis(broker.config.broker_heartbeat_interval_ms.max(1) as u64);
    let mut beat = tokio::time::interval(Duration::from_millis(STARTING_HEARTBEAT_MS * 4));
    let mut last_beat_ms = i64::MIN / 2;
    let mut tick = tokio::time::interval(Duration::from_millis(CONTROLLER_TICK_MS));
    let lag_max_ms = broker.config.replica_lag_time_max_ms.max(1);
    let mut isr_check =
        tokio::time::interval(Duration::from_millis((lag_max_ms as u64 / 2).max(50)));
    let mut hw_checkpoint = tokio::time::interval(Duration::from_millis(HW_CHECKPOINT_INTERVAL_MS));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            changed = images.changed() => {
                if changed.is_err() {
                    return;
                }
                broker.publish().await;
            }
            _ = beat.tick() => {
                let now = broker.clock.monotonic_ms();
                if broker.registration().unfenced
                    && now - last_beat_ms < heartbeat_every.as_millis() as i64
                {
                    continue;
                }
                last_beat_ms = now;
                let unfenced_before = broker.registration().unfenced;
                let ok = step(&broker).await;
                let unfenced = matches!(ok, Ok(true));
                if let Err(e) = &ok {
                    tracing::debug!(error = %e, "heartbeat failed");
                }
                if unfenced && !unfenced_before {
                    broker.publish().await;
                }
            }
            _ = tick.tick() => {
                if let Err(e) = broker.controller.tick().await {
                    tracing::debug!(error = %e, "controller tick");
                }
            }
            _ = isr_check.tick() => {
                let now = broker.clock.monotonic_ms();
                for p in broker.replicas.all() {
                    if let Some(proposal) = p.isr_shrink(now, lag_max_ms) {
                        tracing::info!(partition = %p.tp, isr = ?proposal.new_isr, "shrinking the ISR");
                        spawn_isr_change(&broker, p.clone(), proposal);
                    }
                }
            }
            _ = hw_checkpoint.tick() => {
                if let Err(e) = checkpoint_high_watermarks(&broker).await {
                    tracing::warn!(error = %e, "high watermark checkpoint failed");
                }
            }
        }
    }
}

/// Writes every hosted partition's high watermark to `replication-offset-checkpoint`.
pub async fn checkpoint_high_watermarks(broker: &Arc<Broker>) -> Result<(), BrokerError> {
    let hws = broker.replicas.high_watermarks();
    let logs = broker.replicas.log_manager().clone();
    tokio::task::spawn_blocking(move || logs.write_high_watermarks(&hws))
        .await
        .map_err(|e| BrokerError::InvalidRequest(e.to_string()))??;
    Ok(())
}

/// Sends an ISR change to the controller in the background and applies its answer.
pub fn spawn_isr_change(broker: &Arc<Broker>, partition: Arc<Partition>, proposal: IsrProposal) {
    let broker = broker.clone();
    tokio::spawn(
        async move {
            let answer = alter_partition(&broker, &proposal).await;
            match answer {
                Ok(accepted) => partition.isr_change_done(Some(accepted)),
                Err(e) => {
                    tracing::info!(partition = %proposal.tp, error = %e, "AlterPartition not applied");
                    partition.isr_change_done(None);
                }
            }
        }
        .in_current_span(),
    );
}

async fn alter_partition(broker: &Broker, p: &IsrProposal) -> Result<(Vec<i32>, i32), BrokerError> {
    let epoch = broker.registration().epoch;
    let topic_id = crate::controller::format_topic_id(p.topic_id);
    if !broker.must_forward() {
        let state = broker
            .controller
            .alter_partition(
                broker.node_id.0,
                epoch,
                IsrChange {
                    topic_id,
                    partition: p.tp.partition,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                    new_isr: p.new_isr.clone(),
                },
            )
            .await?;
        return Ok((state.isr, state.partition_epoch));
    }
    use crate::protocol::msg::alter_partition_request::{BrokerState, PartitionData, TopicData};
    let mut pd = PartitionData::default();
    pd.partition_index = p.tp.partition;
    pd.leader_epoch = p.leader_epoch;
    pd.partition_epoch = p.partition_epoch;
    pd.new_isr_with_epochs = p
        .new_isr
        .iter()
        .map(|b| {
            let mut s = BrokerState::default();
            s.broker_id = (*b).into();
            s.broker_epoch = -1;
            s
        })
        .collect();
    let mut td = TopicData::default();
    td.topic_id = Uuid::from_bytes(p.topic_id.0);
    td.partitions = vec![pd];
    let mut req = AlterPartitionRequest::default();
    req.broker_id = broker.node_id.0.into();
    req.broker_epoch = epoch;
    req.topics = vec![td];
    let resp: AlterPartitionResponse = broker
        .channel
        .call(
            broker,
            ApiKey::AlterPartition,
            3,
            &req,
            CONTROLLER_CALL_DEADLINE_MS,
            |r: &AlterPartitionResponse| {
                if r.error_code == code::NOT_CONTROLLER {
                    Answer::NotController
                } else {
                    Answer::Done
                }
            },
        )
        .await?;
    let part = resp
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| BrokerError::Remote {
            code: resp.error_code,
            message: "AlterPartition answered no partition".into(),
        })?;
    let c = if resp.error_code != code::NONE {
        resp.error_code
    } else {
        part.error_code
    };
    if c != code::NONE {
        return Err(BrokerError::Remote {
            code: c,
            message: "AlterPartition refused".into(),
        });
    }
    Ok((part.isr.iter().map(|b| b.0).collect(), part.partition_epoch))
}

/// Moves this broker's leaderships away before it stops (bounded).
pub async fn controlled_shutdown(broker: &Arc<Broker>) {
    let started = broker.clock.monotonic_ms();
    let reg = broker.registration();
    if reg.epoch < 0 || broker.controller.voters().len() == 1 {
        return;
    }
    let limit = Duration::from_millis(CONTROLLED_SHUTDOWN_MS_MAX);
    let elapsed = || Duration::from_millis((broker.clock.monotonic_ms() - started).max(0) as u64);
    while elapsed() < limit {
        let left = limit.saturating_sub(elapsed());
        let Ok(answer) = tokio::time::timeout(left, heartbeat(broker, reg.epoch, true)).await
        else {
            break;
        };
        match answer {
            Ok(o) if o.should_shut_down => {
                tracing::info!("controlled shutdown: leaderships moved");
                return;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "controlled shutdown heartbeat"),
        }
        tokio::time::sleep(Duration::from_millis(STARTING_HEARTBEAT_MS * 2)).await;
    }
    tracing::warn!("controlled shutdown did not complete in time; stopping anyway");
}

/// Applies `img` to the hosted partitions (see the module doc).
pub(super) async fn apply_image(
    broker: &Broker,
    img: &MetadataImage,
    st: &mut PublishState,
) -> Result<(), BrokerError> {
    let me = broker.node_id.0;
    let now = broker.clock.monotonic_ms();
    let mut wanted: HashSet<TopicPartition> = HashSet::new();
    let logs = broker.replicas.log_manager();
    if !st.meta_written && !img.cluster_id.is_empty() {
        // Kafka's tools (and operators) read the cluster and node id of a log dir here.
        crate::controller::write_meta_properties(logs.log_dir(), &img.cluster_id, me)?;
        st.meta_written = true;
    }
    for topic in img.topics() {
        let settings = match broker.config.topic_settings(&topic.configs) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(topic = %topic.name, error = %e, "topic configs invalid; using defaults");
                broker.config.topic_settings(&Default::default())?
            }
        };
        let Some(parts) = img.partitions(topic.topic_id()) else {
            continue;
        };
        for (p, state) in parts {
            if !state.replicas.contains(&me) {
                continue;
            }
            let tp = TopicPartition::new(topic.name.as_str(), *p);
            wanted.insert(tp.clone());
            let partition = broker.replicas.host(&tp, topic.topic_id(), &settings)?;
            if partition.log().settings() != settings {
                logs.update_settings(&tp, settings.clone());
            }
            let before = partition.role();
            let role = partition.apply_metadata(
                state.leader,
                state.leader_epoch,
                &state.replicas,
                &state.isr,
                state.partition_epoch,
                now,
            )?;
            match role {
                Role::Follower { leader } => {
                    broker.fetchers.assign(broker, leader, partition.clone())
                }
                _ => broker.fetchers.unassign(&tp),
            }
            if topic.name == OFFSETS_TOPIC && role != before {
                if role == Role::Leader {
                    take_coordinator_partition(broker, partition.clone());
                } else if before == Role::Leader {
                    broker.groups.release_partition(*p);
                }
            }
        }
    }
    for (group_id, configs) in img.all_group_configs() {
        broker.groups.set_consumer_overrides(
            group_id,
            crate::group::ConsumerGroupOverrides::from_configs(configs),
        );
    }
    let caught_up = broker.registration().unfenced;
    if !caught_up {
        return Ok(());
    }
    for partition in broker.replicas.all() {
        if wanted.contains(&partition.tp) {
            continue;
        }
        broker.fetchers.unassign(&partition.tp);
        if &*partition.tp.topic == OFFSETS_TOPIC && partition.role() == Role::Leader {
            broker.groups.release_partition(partition.tp.partition);
        }
        tracing::info!(partition = %partition.tp, "removing a partition this broker no longer hosts");
        broker.fetch_sessions.forget_topic(&partition.tp.topic);
        broker.replicas.remove_partition(&partition.tp, true)?;
    }
    if !st.strays_checked {
        st.strays_checked = true;
        for (tp, id) in logs.partitions_on_disk()? {
            if !wanted.contains(&tp) && img.topic_by_id(id).is_none_or(|t| *t.name != *tp.topic) {
                tracing::warn!(partition = %tp, "removing the log of a topic that no longer exists");
                logs.remove_log(&tp)?;
            }
        }
    }
    st.known_topics = img.topics().map(|t| t.topic_id()).collect();
    Ok(())
}

/// Takes a `__consumer_offsets` partition for the group coordinator: its groups answer
/// COORDINATOR_LOAD_IN_PROGRESS until the partition is replayed (on a blocking thread).
fn take_coordinator_partition(broker: &Broker, partition: Arc<Partition>) {
    let p = partition.tp.partition;
    broker.groups.take_partition(p);
    // To the log end, not the high watermark (see `replay_partition`): a follower that just
    // became leader may not have learned that its last records are committed.
    if partition.log_start_offset() >= partition.log().log_end_offset() {
        // Nothing to replay (a new offsets topic): serve its groups at once.
        broker.groups.finish_loading(p);
        return;
    }
    let Some(b) = broker.self_arc() else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        super::group_store::replay_partition(&b, &partition);
        b.groups.finish_loading(p);
    });
}
