//! A broker inside the calling process, for Rust tests: `EmbeddedBroker::start()` binds
//! 127.0.0.1 on a free port with a fresh temporary data directory (or one you give it) and
//! returns the bootstrap address; `shutdown` stops it cleanly; dropping the handle without
//! shutdown behaves like a crash of the process's broker (nothing is flushed or marked clean).
//!
//! Contract: the broker is the same code as the binary's; only where it listens and keeps its
//! data differ. Must not be used by anything in `src/` but tests and examples; outside `src/`,
//! the fault schedules (`chaos/`) drive `EmbeddedCluster` with a `SteppedClock`.

use std::path::{Path, PathBuf};

use crate::clock::{SharedClock, SystemClock};
use crate::config::BrokerConfig;
use crate::server::{self, BrokerHandle, StartError};

#[derive(Debug)]
pub struct EmbeddedBroker {
    handle: BrokerHandle,
    data_dir: PathBuf,
}

impl EmbeddedBroker {
    /// Starts a broker on 127.0.0.1:0 with its data in `data_dir` and extra `key=value` properties.
    pub async fn start_in(
        data_dir: &Path,
        properties: &[(&str, &str)],
    ) -> Result<EmbeddedBroker, StartError> {
        Self::start_with_clock(data_dir, properties, SystemClock::shared()).await
    }

    pub async fn start_with_clock(
        data_dir: &Path,
        properties: &[(&str, &str)],
        clock: SharedClock,
    ) -> Result<EmbeddedBroker, StartError> {
        let mut overrides = vec![
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            format!("log.dirs={}", data_dir.display()),
        ];
        overrides.extend(properties.iter().map(|(k, v)| format!("{k}={v}")));
        let config = BrokerConfig::load(None, &overrides, &[])
            .map_err(|e| StartError::Storage(server::BrokerError::Config(e)))?;
        let handle = server::start(config, clock).await?;
        Ok(EmbeddedBroker {
            handle,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// `host:port` for clients' `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.handle.bootstrap()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn handle(&self) -> &BrokerHandle {
        &self.handle
    }

    pub async fn shutdown(self) {
        self.handle.shutdown().await
    }
}

/// One node's fixed addresses in an `EmbeddedCluster` (kept across restarts).
#[derive(Debug, Clone)]
struct NodeSpec {
    id: i32,
    client_port: u16,
    controller_port: u16,
    data_dir: PathBuf,
    /// The node's links to its peers, the same across its restarts.
    links: std::sync::Arc<crate::links::PeerLinks>,
}

/// An N-node cluster inside the calling process, for Rust tests: every node is a combined
/// broker and controller (`process.roles=broker,controller`) on 127.0.0.1 with its own client and
/// controller ports and data directory, configured with Kafka's KRaft settings. Nodes can be
/// killed (tasks aborted, nothing flushed or marked clean), shut down (controlled) and restarted
/// on the same ports and data.
#[derive(Debug)]
pub struct EmbeddedCluster {
    specs: Vec<NodeSpec>,
    nodes: Vec<Option<BrokerHandle>>,
    properties: Vec<(String, String)>,
    clock: SharedClock,
}

/// Failure detection in seconds instead of Kafka's defaults, for tests and fault schedules on an
/// `EmbeddedCluster`: a killed or cut-off node is fenced, and its leaderships move, within about
/// `broker.session.timeout.ms`; `__consumer_offsets` is small and replicated on every node.
pub const FAST_FAILOVER_PROPERTIES: &[(&str, &str)] = &[
    ("broker.session.timeout.ms", "3000"),
    ("broker.heartbeat.interval.ms", "300"),
    ("replica.lag.time.max.ms", "4000"),
    ("replica.fetch.wait.max.ms", "200"),
    ("offsets.topic.num.partitions", "3"),
    ("offsets.topic.replication.factor", "3"),
];

/// Lowest port `free_port` hands out.
const NODE_PORT_MIN: u16 = 10_000;
/// Where the kernel's ephemeral range starts when /proc does not say.
const EPHEMERAL_PORT_MIN_DEFAULT: u16 = 32_768;

/// A port free now, below the kernel's ephemeral range. A port found by binding port 0 comes
/// from that range, where any outgoing connection (a client of another node, say) can take it
/// before the node binds it (seen: AddrInUse at a cluster's start); below it, only another
/// explicit bind can.
fn free_port() -> Result<u16, StartError> {
    free_port_on(std::net::Ipv4Addr::LOCALHOST.into())
}

/// A port free on `ip` now, below the kernel's ephemeral range (see `free_port`): for tests
/// that start nodes as processes.
pub fn free_port_on(ip: std::net::IpAddr) -> Result<u16, StartError> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let ephemeral_min = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(EPHEMERAL_PORT_MIN_DEFAULT);
    let span = u32::from(ephemeral_min.saturating_sub(NODE_PORT_MIN));
    if span > 0 {
        // Processes start at different places (their pid), and calls walk on from there.
        let base = std::process::id().wrapping_mul(2_654_435_761);
        for _ in 0..span.min(1_000) {
            let step = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let port = NODE_PORT_MIN + (base.wrapping_add(step.wrapping_mul(7_919)) % span) as u16;
            if std::net::TcpListener::bind((ip, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let bind_error = |source| StartError::Bind {
        addr: format!("{ip}:0"),
        source,
    };
    let l = std::net::TcpListener::bind((ip, 0)).map_err(bind_error)?;
    l.local_addr().map(|a| a.port()).map_err(bind_error)
}

impl EmbeddedCluster {
    /// Starts `n` nodes (ids 1..=n) with their data under `data_root/node-<id>` and extra
    /// `key=value` properties for every node; returns once every node is registered and unfenced
    /// in every node's metadata (bounded by `ready_timeout`).
    pub async fn start(
        n: usize,
        data_root: &Path,
        properties: &[(&str, &str)],
        ready_timeout: std::time::Duration,
    ) -> Result<EmbeddedCluster, StartError> {
        Self::start_with_clock(
            n,
            data_root,
            properties,
            ready_timeout,
            SystemClock::shared(),
        )
        .await
    }

    /// `start` with every node reading time from `clock` (one clock for the whole cluster, as
    /// one machine's), kept across restarts: a fault schedule steps it.
    pub async fn start_with_clock(
        n: usize,
        data_root: &Path,
        properties: &[(&str, &str)],
        ready_timeout: std::time::Duration,
        clock: SharedClock,
    ) -> Result<EmbeddedCluster, StartError> {
        let mut specs = Vec::with_capacity(n);
        for i in 1..=n {
            specs.push(NodeSpec {
                id: i as i32,
                client_port: free_port()?,
                controller_port: free_port()?,
                data_dir: data_root.join(format!("node-{i}")),
                links: Default::default(),
            });
        }
        let mut cluster = EmbeddedCluster {
            nodes: (0..n).map(|_| None).collect(),
            specs,
            properties: properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            clock,
        };
        let starts: Vec<_> = cluster
            .specs
            .iter()
            .map(|s| {
                Self::start_node(
                    cluster.config_for(s)?,
                    cluster.clock.clone(),
                    s.links.clone(),
                )
            })
            .collect::<Result<_, StartError>>()?;
        // A node of a larger quorum returns from `start` at once, so starting them in turn is
        // as good as starting them together.
        for (slot, start) in cluster.nodes.iter_mut().zip(starts) {
            *slot = Some(start.await?);
        }
        cluster.wait_ready(ready_timeout).await?;
        Ok(cluster)
    }

    fn config_for(&self, s: &NodeSpec) -> Result<BrokerConfig, StartError> {
        let voters: Vec<String> = self
            .specs
            .iter()
            .map(|v| format!("{}@127.0.0.1:{}", v.id, v.controller_port))
            .collect();
        let mut overrides = vec![
            format!("node.id={}", s.id),
            "process.roles=broker,controller".to_string(),
            format!(
                "listeners=PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                s.client_port, s.controller_port
            ),
            format!(
                "advertised.listeners=PLAINTEXT://127.0.0.1:{}",
                s.client_port
            ),
            "controller.listener.names=CONTROLLER".to_string(),
            "inter.broker.listener.name=PLAINTEXT".to_string(),
            format!("controller.quorum.voters={}", voters.join(",")),
            format!("log.dirs={}", s.data_dir.display()),
        ];
        overrides.extend(self.properties.iter().map(|(k, v)| format!("{k}={v}")));
        BrokerConfig::load(None, &overrides, &[])
            .map_err(|e| StartError::Storage(server::BrokerError::Config(e)))
    }

    fn start_node(
        config: BrokerConfig,
        clock: SharedClock,
        links: std::sync::Arc<crate::links::PeerLinks>,
    ) -> Result<impl std::future::Future<Output = Result<BrokerHandle, StartError>>, StartError>
    {
        Ok(server::start_in_process(config, clock, links))
    }

    /// Every node's client address, comma-separated (`bootstrap.servers`).
    pub fn bootstrap(&self) -> String {
        self.specs
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `id`'s client address (`host:port`), running or not.
    pub fn client_address(&self, id: i32) -> Option<String> {
        let s = &self.specs[self.index(id)?];
        Some(format!("127.0.0.1:{}", s.client_port))
    }

    /// Cuts node `id` off from every other node, both ways (its clients still reach it): see
    /// `gregor::links`. Lasts until `heal`, across the node's restarts (a cut cable stays cut
    /// when the machine reboots).
    pub fn isolate(&self, id: i32) {
        self.set_links(id, true, true);
    }

    /// Sets exactly which of node `id`'s links are cut (see `gregor::links`): `outbound`, its
    /// own connections to the other nodes (its replica fetches, heartbeats and Raft messages);
    /// `inbound`, theirs to it. Running, stopping or down: the node's links are the same across
    /// its restarts, so the setting lasts until changed or `heal`.
    pub fn set_links(&self, id: i32, outbound: bool, inbound: bool) {
        if let Some(i) = self.index(id) {
            self.specs[i].links.set(outbound, inbound);
        }
    }

    /// Restores node `id`'s links to the other nodes, both ways.
    pub fn heal(&self, id: i32) {
        self.set_links(id, false, false);
    }

    /// The ids of the nodes that are running.
    pub fn running(&self) -> Vec<i32> {
        self.specs
            .iter()
            .zip(&self.nodes)
            .filter(|(_, n)| n.is_some())
            .map(|(s, _)| s.id)
            .collect()
    }

    fn index(&self, id: i32) -> Option<usize> {
        self.specs.iter().position(|s| s.id == id)
    }

    /// A running node's broker.
    pub fn broker(&self, id: i32) -> Option<&std::sync::Arc<server::Broker>> {
        self.nodes.get(self.index(id)?)?.as_ref().map(|h| &h.broker)
    }

    pub fn data_dir(&self, id: i32) -> Option<&Path> {
        self.index(id).map(|i| self.specs[i].data_dir.as_path())
    }

    /// The active controller as the running nodes see it.
    pub fn active_controller(&self) -> Option<i32> {
        self.nodes
            .iter()
            .flatten()
            .find_map(|h| h.broker.controller.active_controller())
    }

    /// Stops node `id` abruptly (nothing flushed, no controlled shutdown).
    pub async fn kill(&mut self, id: i32) {
        if let Some(i) = self.index(id)
            && let Some(h) = self.nodes[i].take()
        {
            h.kill().await;
        }
    }

    /// Stops node `id` as SIGTERM does: controlled shutdown, then a clean stop.
    pub async fn stop(&mut self, id: i32) {
        if let Some(i) = self.index(id)
            && let Some(h) = self.nodes[i].take()
        {
            h.shutdown().await;
        }
    }

    /// Takes running node `id` out of the cluster without stopping it: the caller stops it
    /// (`shutdown`, `kill`) in its own time, for instance concurrently with other faults, and
    /// calls `restart` only once that has returned (the node's ports and data are its until
    /// then).
    pub fn detach(&mut self, id: i32) -> Option<BrokerHandle> {
        let i = self.index(id)?;
        self.nodes[i].take()
    }

    /// Starts node `id` again on its ports and data.
    pub async fn restart(&mut self, id: i32) -> Result<(), StartError> {
        let Some(i) = self.index(id) else {
            return Ok(());
        };
        if self.nodes[i].is_some() {
            return Ok(());
        }
        let config = self.config_for(&self.specs[i])?;
        let links = self.specs[i].links.clone();
        self.nodes[i] = Some(server::start_in_process(config, self.clock.clone(), links).await?);
        Ok(())
    }

    /// Waits until every running node is registered and unfenced in every running node's image.
    pub async fn wait_ready(&self, timeout: std::time::Duration) -> Result<(), StartError> {
        let step = std::time::Duration::from_millis(50);
        let mut waited = std::time::Duration::ZERO;
        let running = self.running();
        loop {
            let ready = self.nodes.iter().flatten().all(|h| {
                let img = h.broker.image();
                h.broker.registration().unfenced
                    && running
                        .iter()
                        .all(|id| img.broker(*id).is_some_and(|b| !b.fenced))
            });
            if ready {
                return Ok(());
            }
            if waited > timeout {
                return Err(StartError::Quorum(format!(
                    "the cluster was not ready within {timeout:?}"
                )));
            }
            tokio::time::sleep(step).await;
            waited += step;
        }
    }

    /// Stops every running node cleanly (flushed, marked clean), without controlled shutdown:
    /// the last nodes would have no quorum to move leaderships with.
    pub async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            if let Some(h) = self.nodes[i].take() {
                h.shutdown_uncontrolled().await;
            }
        }
    }
}
