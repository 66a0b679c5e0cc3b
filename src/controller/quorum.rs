//! The controller quorum: one node of the Raft group (openraft) that keeps the metadata log, with
//! its storage (`raft_store`), its RPCs (`network`) and the published image (`state_machine`).
//!
//! Contract: `Quorum::start` opens the node's metadata dir (`<log.dirs>/__cluster_metadata-0/`),
//! starts answering peers and, on a pristine node, forms the group from the static voters
//! (Kafka's `controller.quorum.voters`; every voter doing so with the same set is safe). Only the
//! leader accepts `propose`: it returns the batch's log index once committed and applied locally,
//! and a follower answers `NotLeader` with the leader it knows (no forwarding). Every node's
//! `image()` is the image after the entries it has applied, in log order. A proposal that times
//! out has an unknown outcome (it may still commit), as Kafka's REQUEST_TIMED_OUT.
//! `status()` is DescribeQuorum's view: the leader's term, commit point and each voter's progress
//! as the leader sees it (a follower knows only the leader and its own log).
//! Lock order: none of its own (see `raft_store`, `network`). Must not import: protocol, server,
//! group, replication.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::MetadataImage;
use super::network::{Network, RpcTimeouts, SNAPSHOT_CHUNK_BYTES_MAX, serve};
use super::raft_store::{
    LogStore, METADATA_DIR_NAME, NodeId, Published, RaftStoreError, StateMachineStore, TypeConfig,
};
use super::records::{MetadataRecord, RecordBatch};
use crate::clock::{SharedClock, SystemClock};
use crate::links::PeerLinks;

/// Kafka's default `controller.quorum.request.timeout.ms`.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 2000;
/// Kafka's default `controller.quorum.election.timeout.ms`.
pub const ELECTION_TIMEOUT_MS_DEFAULT: u64 = 1000;
/// Kafka's default `controller.quorum.fetch.timeout.ms`.
pub const FETCH_TIMEOUT_MS_DEFAULT: u64 = 2000;
/// Entries between snapshots (openraft's policy; KRaft counts bytes instead).
pub const SNAPSHOT_INTERVAL_ENTRIES_DEFAULT: u64 = 5000;

#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("invalid controller.quorum.voters '{value}': {reason}")]
    InvalidVoters { value: String, reason: String },
    #[error("node {0} is not among the voters")]
    NotAVoter(NodeId),
    #[error("this controller is not the leader; the leader is {leader:?}")]
    NotLeader { leader: Option<NodeId> },
    #[error("the batch at log index {index} was not applied: {reason}")]
    Rejected { index: u64, reason: String },
    #[error("no answer within {0:?}; the proposal's outcome is unknown")]
    Timeout(Duration),
    #[error("controller listener {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] RaftStoreError),
    #[error("raft: {0}")]
    Raft(String),
}

/// Parses Kafka's `controller.quorum.voters`: `id@host:port,id@host:port,...`.
pub fn parse_voters(value: &str) -> Result<BTreeMap<NodeId, String>, QuorumError> {
    let bad = |reason: String| QuorumError::InvalidVoters {
        value: value.to_string(),
        reason,
    };
    let mut out = BTreeMap::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('@')
            .ok_or_else(|| bad(format!("'{part}' is not id@host:port")))?;
        let id: NodeId = id
            .parse()
            .map_err(|_| bad(format!("'{id}' is not a node id")))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad(format!("'{addr}' has no port")))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad(format!("'{addr}' is not host:port")));
        }
        if out.insert(id, addr.to_string()).is_some() {
            return Err(bad(format!("node {id} is listed twice")));
        }
    }
    if out.is_empty() {
        return Err(bad("no voters".into()));
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct QuorumConfig {
    /// `node.id`.
    pub node_id: NodeId,
    /// `controller.quorum.voters`, parsed.
    pub voters: BTreeMap<NodeId, String>,
    /// The first of `log.dirs`: the metadata log lives in its `__cluster_metadata-0/`.
    pub log_dir: PathBuf,
    pub request_timeout_ms: u64,
    pub election_timeout_ms: u64,
    pub fetch_timeout_ms: u64,
    pub snapshot_interval_entries: u64,
    /// Fault injection: while cut, Raft traffic with the peers fails both ways.
    pub links: Arc<PeerLinks>,
    /// Times the voters' progress (`status`).
    pub clock: SharedClock,
}

impl QuorumConfig {
    pub fn new(
        node_id: NodeId,
        voters: BTreeMap<NodeId, String>,
        log_dir: PathBuf,
    ) -> QuorumConfig {
        QuorumConfig {
            node_id,
            voters,
            log_dir,
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            election_timeout_ms: ELECTION_TIMEOUT_MS_DEFAULT,
            fetch_timeout_ms: FETCH_TIMEOUT_MS_DEFAULT,
            snapshot_interval_entries: SNAPSHOT_INTERVAL_ENTRIES_DEFAULT,
            links: Arc::default(),
            clock: SystemClock::shared(),
        }
    }

    fn raft_config(&self) -> Result<Config, QuorumError> {
        let election = self.election_timeout_ms.max(10);
        let config = Config {
            cluster_name: "gregor-metadata".into(),
            // KRaft picks a random election timeout in [timeout, 2 * timeout].
            election_timeout_min: election,
            election_timeout_max: election.saturating_mul(2),
            // Several heartbeats per election timeout so one lost packet doesn't start an election.
            heartbeat_interval: (election / 5).max(1),
            install_snapshot_timeout: self.request_timeout_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_interval_entries),
            snapshot_max_chunk_size: SNAPSHOT_CHUNK_BYTES_MAX,
            max_in_snapshot_log_to_keep: self.snapshot_interval_entries,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| QuorumError::Raft(e.to_string()))
    }
}

/// One voter's replication progress, as this node (when leader) sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct VoterStatus {
    pub id: NodeId,
    /// The offset after the last entry known to be on the voter; `None` when unknown.
    pub log_end: Option<u64>,
    /// How long ago the voter last acknowledged progress, and last was caught up with the
    /// leader's log; `None` when never seen (or this node is not the leader).
    pub since_progress: Option<Duration>,
    pub since_caught_up: Option<Duration>,
}

/// The quorum as this node knows it (DescribeQuorum).
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumStatus {
    pub leader: Option<NodeId>,
    /// The Raft term, KRaft's leader epoch.
    pub term: u64,
    /// The offset after the last committed-and-applied entry (Kafka's high watermark).
    pub high_watermark: u64,
    /// Whether this node is the leader (only then is the voters' progress known).
    pub is_leader: bool,
    pub voters: Vec<VoterStatus>,
}

/// When each follower last made progress and was last caught up, on the leader.
#[derive(Debug, Default)]
struct Progress {
    /// id -> (matched index last seen, when it last advanced, when it was last caught up), on
    /// the clock's monotonic milliseconds.
    voters: BTreeMap<NodeId, (Option<u64>, i64, Option<i64>)>,
}

/// One running controller of the quorum.
pub struct Quorum {
    id: NodeId,
    raft: Raft<TypeConfig>,
    published: watch::Receiver<Published>,
    /// The listener task when the quorum owns its listener (`start`); `None` when the broker's
    /// controller listener hands peer connections in (`start_shared`, `serve_peer`).
    server: Option<JoinHandle<()>>,
    timeouts: RpcTimeouts,
    propose_timeout: Duration,
    links: Arc<PeerLinks>,
    progress: Arc<Mutex<Progress>>,
    /// Watches the Raft metrics into `progress`.
    tracker: JoinHandle<()>,
    clock: SharedClock,
}

impl Quorum {
    /// Binds this node's address from the voters and starts it.
    pub async fn bind_and_start(config: QuorumConfig) -> Result<Quorum, QuorumError> {
        let addr = config
            .voters
            .get(&config.node_id)
            .ok_or(QuorumError::NotAVoter(config.node_id))?
            .clone();
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| QuorumError::Listen { addr, source })?;
        Quorum::start(config, listener).await
    }

    /// Starts the node answering peers on `listener` (already bound to its voter address).
    pub async fn start(config: QuorumConfig, listener: TcpListener) -> Result<Quorum, QuorumError> {
        Quorum::start_inner(config, Some(listener)).await
    }

    /// Starts the node without a listener of its own: the caller accepts peer connections on the
    /// controller listener and hands each to `serve_peer`.
    pub async fn start_shared(config: QuorumConfig) -> Result<Quorum, QuorumError> {
        Quorum::start_inner(config, None).await
    }

    /// Serves one openraft peer connection until it closes.
    pub fn serve_peer(
        &self,
        stream: tokio::net::TcpStream,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let raft = self.raft.clone();
        let timeouts = self.timeouts;
        let links = self.links.clone();
        async move {
            if let Err(e) = super::network::serve_connection(stream, raft, timeouts, links).await {
                tracing::debug!(error = %e, "controller peer connection closed");
            }
        }
    }

    async fn start_inner(
        config: QuorumConfig,
        listener: Option<TcpListener>,
    ) -> Result<Quorum, QuorumError> {
        if !config.voters.contains_key(&config.node_id) {
            return Err(QuorumError::NotAVoter(config.node_id));
        }
        let raft_config = Arc::new(config.raft_config()?);
        let dir = config.log_dir.join(METADATA_DIR_NAME);
        let log = LogStore::open(&dir)?;
        let (sm, published) = StateMachineStore::open(&dir)?;
        let timeouts = RpcTimeouts {
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            fetch_timeout: Duration::from_millis(config.fetch_timeout_ms),
        };
        let network = Network::new(config.node_id, timeouts, config.links.clone());
        let raft = Raft::new(config.node_id, raft_config, network, log, sm)
            .await
            .map_err(|e| QuorumError::Raft(e.to_string()))?;
        let server = listener.map(|l| {
            tokio::spawn(serve(l, raft.clone(), timeouts, config.links.clone()).in_current_span())
        });
        let progress = Arc::new(Mutex::new(Progress::default()));
        let tracker = tokio::spawn(
            track_progress(raft.clone(), progress.clone(), config.clock.clone()).in_current_span(),
        );
        let quorum = Quorum {
            id: config.node_id,
            raft,
            published,
            server,
            timeouts,
            propose_timeout: timeouts.request_timeout,
            links: config.links.clone(),
            progress,
            tracker,
            clock: config.clock.clone(),
        };
        let members: BTreeMap<NodeId, BasicNode> = config
            .voters
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        // A restart finds its log or vote on disk: initialising again would only be refused.
        let formed = quorum.raft.is_initialized().await.unwrap_or(false);
        match if formed {
            Ok(())
        } else {
            quorum.raft.initialize(members).await
        } {
            Ok(()) => {}
            // Already formed (a restart, or a peer's initialisation reached us first).
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
            Err(e) => {
                if let Some(s) = &quorum.server {
                    s.abort();
                }
                quorum.tracker.abort();
                let _ = quorum.raft.shutdown().await;
                return Err(QuorumError::Raft(e.to_string()));
            }
        }
        Ok(quorum)
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Appends `records` as one batch; the log index once it is committed and applied here.
    pub async fn propose(&self, records: Vec<MetadataRecord>) -> Result<u64, QuorumError> {
        let write = self.raft.client_write(RecordBatch { records });
        let result = tokio::time::timeout(self.propose_timeout, write)
            .await
            .map_err(|_| QuorumError::Timeout(self.propose_timeout))?;
        match result {
            Ok(resp) => match resp.data.rejected {
                Some(reason) => Err(QuorumError::Rejected {
                    index: resp.log_id.index,
                    reason,
                }),
                None => Ok(resp.log_id.index),
            },
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(QuorumError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(e) => Err(QuorumError::Raft(e.to_string())),
        }
    }

    /// The image after every entry this node has applied.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.published.borrow().image.clone()
    }

    /// The index of the last entry applied to `image()`.
    pub fn applied_index(&self) -> Option<u64> {
        self.published.borrow().applied_index
    }

    /// Changes of the published image, for those who wait on them.
    pub fn subscribe(&self) -> watch::Receiver<Published> {
        self.published.clone()
    }

    /// The leader this node knows of, itself included.
    pub fn leader_id(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// The quorum as this node sees it now.
    pub fn status(&self) -> QuorumStatus {
        let m = self.raft.metrics().borrow().clone();
        let is_leader = m.current_leader == Some(self.id);
        let last_log = m.last_log_index;
        let now = self.clock.monotonic_ms();
        let ago = |at: i64| Duration::from_millis(u64::try_from(now - at).unwrap_or(0));
        let progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let voters = m
            .membership_config
            .membership()
            .voter_ids()
            .map(|id| {
                if id == self.id {
                    return VoterStatus {
                        id,
                        log_end: Some(last_log.map_or(0, |i| i + 1)),
                        since_progress: Some(Duration::ZERO),
                        since_caught_up: Some(Duration::ZERO),
                    };
                }
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id).copied().flatten())
                    .map(|l| l.index);
                let seen = progress.voters.get(&id).filter(|_| is_leader);
                VoterStatus {
                    id,
                    log_end: matched.map(|i| i + 1).filter(|_| is_leader),
                    since_progress: seen.map(|(_, at, _)| ago(*at)),
                    since_caught_up: seen.and_then(|(_, _, c)| c.map(ago)),
                }
            })
            .collect();
        QuorumStatus {
            leader: m.current_leader,
            term: m.current_term,
            high_watermark: m.last_applied.map_or(0, |l| l.index + 1),
            is_leader,
            voters,
        }
    }

    /// Stops the Raft node and the listener; the disk state is already durable.
    pub async fn shutdown(&self) -> Result<(), QuorumError> {
        self.tracker.abort();
        if let Some(s) = &self.server {
            s.abort();
        }
        self.raft
            .shutdown()
            .await
            .map_err(|e| QuorumError::Raft(e.to_string()))
    }
}

impl Drop for Quorum {
    fn drop(&mut self) {
        // Without this the listener task would outlive the node and keep answering peers.
        if let Some(s) = &self.server {
            s.abort();
        }
        self.tracker.abort();
    }
}

/// Follows the leader's replication metrics: a follower whose matched index moves made progress
/// then; one whose matched index is the leader's last log entry is caught up then. Openraft
/// reports a change only when something moves, so an idle follower that is caught up stays
/// "caught up" as of the last append it acknowledged.
async fn track_progress(
    raft: Raft<TypeConfig>,
    progress: Arc<Mutex<Progress>>,
    clock: SharedClock,
) {
    let mut rx = raft.metrics();
    loop {
        {
            let m = rx.borrow_and_update();
            let now = clock.monotonic_ms();
            let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
            match &m.replication {
                None => p.voters.clear(),
                Some(r) => {
                    for (id, matched) in r.iter() {
                        let matched = matched.map(|l| l.index);
                        let caught_up = matched.is_some() && matched == m.last_log_index;
                        let e = p.voters.entry(*id).or_insert((matched, now, None));
                        if e.0 != matched {
                            e.0 = matched;
                            e.1 = now;
                        }
                        if caught_up {
                            e.1 = now;
                            e.2 = Some(now);
                        }
                    }
                }
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voters_parse_as_kafka_writes_them() {
        let v = parse_voters("1@127.0.0.1:9093, 2@localhost:9094,3@[::1]:9095").unwrap();
        assert_eq!(v.get(&1).map(String::as_str), Some("127.0.0.1:9093"));
        assert_eq!(v.get(&3).map(String::as_str), Some("[::1]:9095"));
        for bad in [
            "",
            "1@",
            "x@h:1",
            "1@h",
            "1@h:99999",
            "1@h:1,1@h:2",
            "1:h:1",
        ] {
            assert!(parse_voters(bad).is_err(), "{bad}");
        }
    }
}
