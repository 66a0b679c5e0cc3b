//! The controller quorum (openraft) over real sockets on 127.0.0.1: commits, elections, a crashed
//! leader, and a restarted node catching up from its disk. Each node runs on its own tokio runtime
//! so that a crash is the runtime torn down with no shutdown step of ours. Every wait is bounded
//! (`wait_for`); topic ids come from a seeded generator whose seed is printed
//! (`GREGOR_TEST_SEED` replays one). Invariant checked: every node's image ends up identical.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gregor::controller::quorum::{Quorum, QuorumConfig, QuorumError};
use gregor::controller::records::*;
use gregor::controller::{MetadataImage, parse_topic_id};
use tokio::runtime::Runtime;

const WAIT_STEP: Duration = Duration::from_millis(50);
/// 20 s at most for anything to happen.
const WAIT_STEPS_MAX: u32 = 400;

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..WAIT_STEPS_MAX {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(WAIT_STEP);
    }
    panic!("timed out waiting for {what}");
}

struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        // The quorum's own log lines (elections aside), shown for a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("gregor=info")
            .with_test_writer()
            .try_init();
        let seed = std::env::var("GREGOR_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_2026_1202);
        println!("seed: {seed} (GREGOR_TEST_SEED={seed} replays it)");
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn topic_id(&mut self) -> String {
        let hex = format!("{:016x}{:016x}", self.next(), self.next());
        // Kafka reserves ids whose first byte looks like 0xf8..0xfb; keep clear of them and zero.
        format!("1{}", &hex[1..])
    }
}

fn create_topic(
    rng: &mut Rng,
    name: &str,
    partitions: i32,
    replicas: &[i32],
) -> Vec<MetadataRecord> {
    let topic_id = rng.topic_id();
    let mut out = vec![MetadataRecord::Topic(TopicRecord {
        name: name.into(),
        topic_id: topic_id.clone(),
    })];
    for p in 0..partitions {
        out.push(MetadataRecord::Partition(PartitionRecord {
            partition_id: p,
            topic_id: topic_id.clone(),
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            leader: replicas[p as usize % replicas.len()],
            leader_epoch: 0,
            partition_epoch: 0,
            ..Default::default()
        }));
    }
    out
}

struct Node {
    id: u64,
    dir: PathBuf,
    voters: BTreeMap<u64, String>,
    snapshot_interval_entries: u64,
    rt: Option<Runtime>,
    quorum: Option<Quorum>,
}

impl Node {
    fn start(
        id: u64,
        dir: &Path,
        voters: &BTreeMap<u64, String>,
        listener: Option<std::net::TcpListener>,
        snapshot_interval_entries: u64,
    ) -> Node {
        let mut node = Node {
            id,
            dir: dir.to_path_buf(),
            voters: voters.clone(),
            snapshot_interval_entries,
            rt: None,
            quorum: None,
        };
        node.boot(listener);
        node
    }

    fn boot(&mut self, listener: Option<std::net::TcpListener>) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut config = QuorumConfig::new(self.id, self.voters.clone(), self.dir.clone());
        config.election_timeout_ms = 500;
        config.request_timeout_ms = 1000;
        config.fetch_timeout_ms = 1000;
        config.snapshot_interval_entries = self.snapshot_interval_entries;
        let addr = self.voters[&self.id].clone();
        let quorum = rt.block_on(async move {
            let listener = match listener {
                Some(l) => {
                    l.set_nonblocking(true).unwrap();
                    tokio::net::TcpListener::from_std(l).unwrap()
                }
                // A restart: the port was ours; the old socket may take a moment to go.
                None => {
                    let mut tries = 0;
                    loop {
                        match tokio::net::TcpListener::bind(&addr).await {
                            Ok(l) => break l,
                            Err(e) if tries < 100 => {
                                tries += 1;
                                eprintln!("rebind {addr}: {e}");
                                tokio::time::sleep(WAIT_STEP).await;
                            }
                            Err(e) => panic!("rebind {addr}: {e}"),
                        }
                    }
                }
            };
            Quorum::start(config, listener).await
        });
        self.quorum = Some(quorum.unwrap());
        self.rt = Some(rt);
    }

    /// Tears the node's runtime down mid-flight: no shutdown step of ours runs.
    fn crash(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        self.quorum = None;
    }

    fn alive(&self) -> bool {
        self.quorum.is_some()
    }

    fn q(&self) -> &Quorum {
        self.quorum.as_ref().unwrap()
    }

    fn image(&self) -> Arc<MetadataImage> {
        self.q().image()
    }

    fn propose(&self, records: Vec<MetadataRecord>) -> Result<u64, QuorumError> {
        let rt = self.rt.as_ref().unwrap();
        let q = self.q();
        rt.block_on(q.propose(records))
    }
}

fn voters_on_loopback(n: u64) -> (BTreeMap<u64, String>, Vec<std::net::TcpListener>) {
    let mut voters = BTreeMap::new();
    let mut listeners = Vec::new();
    for id in 1..=n {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        voters.insert(id, l.local_addr().unwrap().to_string());
        listeners.push(l);
    }
    (voters, listeners)
}

/// The leader all live nodes agree on.
fn agreed_leader(nodes: &[Node]) -> usize {
    wait_for("one leader all live nodes agree on", || {
        let mut leaders = nodes
            .iter()
            .filter(|n| n.alive())
            .map(|n| n.q().leader_id());
        let first = leaders.next()??;
        if !leaders.all(|l| l == Some(first)) {
            return None;
        }
        nodes.iter().position(|n| n.id == first && n.alive())
    })
}

/// Proposes on the leader, following NOT_LEADER answers while an election settles.
fn propose(nodes: &[Node], records: Vec<MetadataRecord>) -> u64 {
    wait_for("a leader to accept the proposal", || {
        let leader = agreed_leader(nodes);
        match nodes[leader].propose(records.clone()) {
            Ok(index) => Some(index),
            Err(QuorumError::NotLeader { leader }) => {
                eprintln!("not leader (leader is {leader:?}); retrying");
                None
            }
            Err(e) => panic!("proposal failed: {e}"),
        }
    })
}

/// Waits until every live node has applied the same entries to the same image.
fn converged(nodes: &[Node]) -> Arc<MetadataImage> {
    wait_for("identical images on every live node", || {
        let live: Vec<&Node> = nodes.iter().filter(|n| n.alive()).collect();
        let first = live.first()?;
        let (index, image) = (first.q().applied_index(), first.image());
        live.iter()
            .all(|n| n.q().applied_index() == index && *n.image() == *image)
            .then_some(image)
    })
}

#[test]
fn one_node_commits_and_its_image_survives_a_crash() {
    let mut rng = Rng::from_env();
    let dir = tempfile::tempdir().unwrap();
    let (voters, mut listeners) = voters_on_loopback(1);
    let mut nodes = vec![Node::start(1, dir.path(), &voters, listeners.pop(), 1000)];
    let first = propose(
        &nodes,
        vec![MetadataRecord::Cluster(ClusterRecord {
            cluster_id: "one-node".into(),
        })],
    );
    let second = propose(&nodes, create_topic(&mut rng, "orders", 3, &[1]));
    assert!(second > first);
    let rejected = nodes[0].propose(create_topic(&mut rng, "orders", 1, &[1]));
    assert!(
        matches!(rejected, Err(QuorumError::Rejected { .. })),
        "{rejected:?}"
    );
    let before = nodes[0].image();
    let orders = before.topic("orders").unwrap().clone();
    assert_eq!(orders.partitions, 3);
    assert_eq!(before.partition(orders.topic_id(), 2).unwrap().leader, 1);
    assert!(parse_topic_id(&orders.id).is_some());

    nodes[0].crash();
    nodes[0].boot(None);
    let after = wait_for("the reopened node to re-apply its log", || {
        let img = nodes[0].image();
        (img.topic("orders").is_some()).then_some(img)
    });
    assert_eq!(*after, *before);
    assert_eq!(after.cluster_id, "one-node");
    propose(&nodes, create_topic(&mut rng, "more", 1, &[1]));
    assert!(nodes[0].image().topic("more").is_some());
}

#[test]
fn three_nodes_elect_replicate_survive_a_leader_crash_and_catch_up() {
    let mut rng = Rng::from_env();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (voters, listeners) = voters_on_loopback(3);
    // Snapshots every few entries, so the node that was down must be sent one.
    let mut nodes: Vec<Node> = listeners
        .into_iter()
        .zip(&dirs)
        .enumerate()
        .map(|(i, (l, d))| Node::start(i as u64 + 1, d.path(), &voters, Some(l), 5))
        .collect();

    let leader = agreed_leader(&nodes);
    println!("first leader: node {}", nodes[leader].id);
    let follower = (leader + 1) % 3;
    match nodes[follower].propose(create_topic(&mut rng, "nope", 1, &[1])) {
        Err(QuorumError::NotLeader { leader: Some(l) }) => assert_eq!(l, nodes[leader].id),
        other => panic!("a follower should answer NotLeader, got {other:?}"),
    }
    propose(
        &nodes,
        vec![MetadataRecord::Cluster(ClusterRecord {
            cluster_id: "three".into(),
        })],
    );
    for i in 0..3 {
        propose(
            &nodes,
            create_topic(&mut rng, &format!("t{i}"), 2, &[1, 2, 3]),
        );
    }
    let image = converged(&nodes);
    assert_eq!(image.topics().count(), 3);
    assert_eq!(image.cluster_id, "three");

    // The leader crashes; the other two elect a new one and keep committing.
    let crashed = leader;
    nodes[crashed].crash();
    let new_leader = agreed_leader(&nodes);
    assert_ne!(new_leader, crashed);
    println!("after the crash: node {} leads", nodes[new_leader].id);
    for i in 3..15 {
        propose(
            &nodes,
            create_topic(&mut rng, &format!("t{i}"), 1, &[1, 2, 3]),
        );
    }
    let tid = nodes[new_leader].image().topic("t3").unwrap().id.clone();
    propose(
        &nodes,
        vec![
            MetadataRecord::PartitionChange(PartitionChangeRecord {
                partition_id: 0,
                topic_id: tid.clone(),
                isr: Some(vec![1, 2]),
                leader: Some(2),
                replicas: None,
                ..Default::default()
            }),
            MetadataRecord::Config(ConfigRecord {
                resource_type: ConfigResourceType::Topic,
                resource_name: "t3".into(),
                name: "retention.ms".into(),
                value: Some("60000".into()),
            }),
        ],
    );
    propose(
        &nodes,
        vec![MetadataRecord::RemoveTopic(RemoveTopicRecord {
            topic_id: nodes[new_leader].image().topic("t0").unwrap().id.clone(),
        })],
    );
    let two = converged(&nodes);
    assert_eq!(two.topics().count(), 14);

    // The crashed node comes back from its disk and catches up to the same image.
    nodes[crashed].boot(None);
    let all = converged(&nodes);
    assert_eq!(all.topics().count(), 14);
    assert!(all.topic("t0").is_none());
    let t3 = all.topic("t3").unwrap();
    assert_eq!(
        t3.configs.get("retention.ms").map(String::as_str),
        Some("60000")
    );
    let p = all.partition(t3.topic_id(), 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 1));
    // And it takes part: one more commit reaches all three.
    propose(&nodes, create_topic(&mut rng, "last", 1, &[1, 2, 3]));
    let last = converged(&nodes);
    assert!(last.topic("last").is_some());
    for n in &mut nodes {
        n.crash();
    }
}
