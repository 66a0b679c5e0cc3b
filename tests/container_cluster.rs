//! A three-node Gregor cluster in containers (the image of docker/Dockerfile) on a private Docker
//! network, driven through rdkafka from the host: a topic with 6 partitions and 3 replicas,
//! 1,000 records produced with acks=all and read back, then the leader of partition 0 stopped
//! and acks=all produce checked to go on within a bound, with no acknowledged record lost.
//!
//! [`ContainerCluster`] is the helper: N containers, each a broker and a controller configured
//! only through the apache/kafka image's `KAFKA_*` variables, on a network made for the test.
//! Each node has three listeners:
//!
//! * `INTERNAL://<container name>:9092`: replication between the brokers, on the private network;
//! * `CONTROLLER://<container name>:9093`: the controller quorum (`controller.quorum.voters`);
//! * `EXTERNAL://127.0.0.1:<host port>`: clients on the host. A container's advertised address
//!   has to be known before it starts, so the host ports are chosen here (free ports, found by
//!   binding port 0) and mapped explicitly; inside the container the listener binds 9094.
//!
//! * No Docker engine reachable: prints `SKIPPED: no Docker engine reachable: ...` and passes.
//! * The image is `gregor:test` (or `$GREGOR_TEST_IMAGE`, `name:tag`), shared with
//!   tests/container.rs: reused when present; when missing, or when
//!   `GREGOR_TEST_IMAGE_REBUILD=1`, docker/build-image.sh builds it. A reused image may be older
//!   than the sources: rebuild after changing the broker.
//! * Every wait is bounded. Containers are removed when the test ends, pass or fail
//!   (testcontainers removes them on drop), and the network with the last of them.
//!
//! Limitation: testcontainers publishes mapped ports on all host interfaces (it sets no host IP),
//! so the brokers are reachable from the network while the test runs.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{WAIT, read_all};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use testcontainers::core::ContainerPort;
use testcontainers::core::logs::LogFrame;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

const IMAGE_DEFAULT: &str = "gregor:test";
const NODES: usize = 3;
const PARTITIONS: i32 = 6;
const REPLICAS: usize = 3;
const RECORDS: usize = 1000;
const KEYS: usize = 60;
const TOPIC: &str = "container-cluster";
/// Records produced after the leader of partition 0 is stopped: two per partition.
const RECORDS_AFTER_STOP: usize = 2 * PARTITIONS as usize;

/// Container-side ports of the three listeners.
const INTERNAL_PORT: u16 = 9092;
const CONTROLLER_PORT: u16 = 9093;
const EXTERNAL_PORT: u16 = 9094;
/// One id for the whole cluster, as the apache/kafka image requires (Kafka's docs' example).
const CLUSTER_ID: &str = "MkU3OEVBNTcwNTJENDM2Qg";

/// `docker info`, `docker image inspect`: the engine answers in well under this or not at all.
const DOCKER_CLI_WAIT: Duration = Duration::from_secs(20);
/// docker/build-image.sh from a cold cache: a full release build of the static binary.
const IMAGE_BUILD_WAIT: Duration = Duration::from_secs(30 * 60);
/// From the first `docker start` until Metadata lists every broker at its advertised address.
const CLUSTER_READY_WAIT: Duration = Duration::from_secs(60);
/// From CreateTopics until every partition has a leader and a full ISR.
const TOPIC_READY_WAIT: Duration = Duration::from_secs(30);
/// `docker stop` (SIGTERM, then SIGKILL after its own 10 s) and `docker rm`.
const DOCKER_STOP_WAIT: Duration = Duration::from_secs(30);
/// From the stop of a leader until acks=all produce to every partition has succeeded again.
const FAILOVER_WAIT: Duration = Duration::from_secs(45);
/// From then until Metadata stops listing the stopped node: broker.session.timeout.ms (9 s)
/// and a margin.
const UNLISTED_WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_containers_replicate_and_survive_a_stopped_leader() {
    let started = Instant::now();
    if let Err(why) = docker_answers() {
        println!("SKIPPED: no Docker engine reachable: {why}");
        return;
    }
    let image = std::env::var("GREGOR_TEST_IMAGE").unwrap_or_else(|_| IMAGE_DEFAULT.to_string());
    image_present_or_built(&image);

    let mut cluster = ContainerCluster::start(&image, NODES).await;
    cluster.wait_until_formed().await;
    let t_formed = started.elapsed();
    let bootstrap = cluster.bootstrap();

    let admin: AdminClient<DefaultClientContext> =
        client_config(&bootstrap).create().expect("admin");
    let created = tokio::time::timeout(
        WAIT,
        admin.create_topics(
            &[NewTopic::new(
                TOPIC,
                PARTITIONS,
                TopicReplication::Fixed(REPLICAS as i32),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ),
    )
    .await
    .expect("CreateTopics answered in time")
    .expect("CreateTopics");
    for r in created {
        r.expect("topic created");
    }
    let layout = wait_for_full_isr(&bootstrap).await;
    let leaders: BTreeSet<i32> = layout.values().map(|p| p.leader).collect();
    assert!(
        leaders.len() > 1,
        "leaders spread over more than one broker: {layout:?}"
    );
    let t_topic = started.elapsed();

    let producer: FutureProducer = client_config(&bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", &FAILOVER_WAIT.as_millis().to_string())
        .create()
        .expect("producer");
    let mut acked: Vec<(usize, i32, i64)> = Vec::with_capacity(RECORDS + RECORDS_AFTER_STOP);
    let mut pending = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let (key, value) = (key_of(i), value_of(i));
        let record = FutureRecord::to(TOPIC).key(&key).payload(&value);
        let d = producer
            .send_result(record)
            .map_err(|(e, _)| e)
            .expect("enqueued");
        pending.push((i, d));
    }
    for (i, d) in pending {
        let d = tokio::time::timeout(WAIT, d)
            .await
            .expect("acknowledged in time")
            .expect("delivery future not cancelled")
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| panic!("record {i} not delivered: {e}"));
        acked.push((i, d.partition, d.offset));
    }
    check_read_back(&bootstrap, &acked, RECORDS).await;
    let t_round_trip = started.elapsed();

    // Stop the leader of partition 0 (SIGTERM: a controlled shutdown), then produce to every
    // partition again, partition 0 first, with the producer that knew the old leader.
    let stopped = layout[&0].leader;
    let stop = Instant::now();
    cluster.stop(stopped).await;
    let stop_took = stop.elapsed();
    let deadline = Instant::now() + FAILOVER_WAIT;
    for n in 0..RECORDS_AFTER_STOP {
        let i = RECORDS + n;
        let partition = (n % PARTITIONS as usize) as i32;
        let (key, value) = (key_of(i), value_of(i));
        let record = FutureRecord::to(TOPIC)
            .key(&key)
            .payload(&value)
            .partition(partition);
        let left = deadline.saturating_duration_since(Instant::now());
        let d = tokio::time::timeout(left, producer.send(record, left))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "acks=all produce to partition {partition} not acknowledged within \
                     {FAILOVER_WAIT:?} of node {stopped} stopping"
                )
            })
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| {
                panic!(
                    "acks=all produce to partition {partition} {:?} after node {stopped} stopped: {e}",
                    stop.elapsed()
                )
            });
        acked.push((i, d.partition, d.offset));
    }
    let failover_took = stop.elapsed() - stop_took;

    // The survivors hold every acknowledged record, and partition 0 has moved.
    let survivors = cluster.bootstrap();
    check_read_back(&survivors, &acked, RECORDS + RECORDS_AFTER_STOP).await;
    let after = partition_layout(&survivors)
        .await
        .expect("metadata from the survivors");
    let p0 = &after[&0];
    assert_ne!(
        p0.leader, stopped,
        "partition 0 has a new leader: {after:?}"
    );
    assert!(p0.leader > 0, "partition 0 has a leader: {after:?}");
    wait_until_unlisted(&survivors, stopped).await;

    cluster.remove().await;
    println!(
        "container cluster test: {NODES} nodes formed {t_formed:?}, topic ready {t_topic:?}, \
         {RECORDS} records round-tripped {t_round_trip:?}, leader {stopped} stopped in \
         {stop_took:?}, acks=all produce to every partition {failover_took:?} after it, \
         total {:?}",
        started.elapsed()
    );
}

/// N Gregor containers on a private Docker network, each a broker and a controller, each
/// client listener published on a host port chosen before the container starts.
struct ContainerCluster {
    nodes: Vec<ClusterNode>,
}

struct ClusterNode {
    id: i32,
    /// The container's name: its DNS name on the private network.
    name: String,
    /// Published host port of the EXTERNAL listener, advertised as `127.0.0.1:<host_port>`.
    host_port: u16,
    /// None once removed.
    container: Option<ContainerAsync<GenericImage>>,
    running: bool,
}

impl ContainerCluster {
    /// Starts `count` nodes with ids 1..=count, all of them voters. `docker start` returns at
    /// once; [`ContainerCluster::wait_until_formed`] waits for the cluster.
    async fn start(image: &str, count: usize) -> ContainerCluster {
        let (repository, tag) = image
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("image {image:?} is name:tag"));
        let ports = free_host_ports(count);
        // Names unique to this run (a free port is not in use by another run), so parallel or
        // leftover runs never collide.
        let run = format!("gregor-cc-{}-{}", std::process::id(), ports[0]);
        let network = run.clone();
        let names: Vec<String> = (1..=count).map(|id| format!("{run}-{id}")).collect();
        let voters = names
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{}@{name}:{CONTROLLER_PORT}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::with_capacity(count);
        for (i, (name, host_port)) in names.into_iter().zip(ports).enumerate() {
            let id = i as i32 + 1;
            let label = format!("node {id}");
            let container = GenericImage::new(repository, tag)
                .with_exposed_port(ContainerPort::Tcp(EXTERNAL_PORT))
                .with_network(network.clone())
                .with_container_name(name.clone())
                .with_hostname(name.clone())
                .with_mapped_port(host_port, ContainerPort::Tcp(EXTERNAL_PORT))
                .with_env_var("KAFKA_NODE_ID", id.to_string())
                .with_env_var("KAFKA_PROCESS_ROLES", "broker,controller")
                .with_env_var("KAFKA_CONTROLLER_QUORUM_VOTERS", voters.clone())
                .with_env_var(
                    "KAFKA_LISTENERS",
                    format!(
                        "INTERNAL://0.0.0.0:{INTERNAL_PORT},CONTROLLER://0.0.0.0:{CONTROLLER_PORT},\
                         EXTERNAL://0.0.0.0:{EXTERNAL_PORT}"
                    ),
                )
                .with_env_var(
                    "KAFKA_ADVERTISED_LISTENERS",
                    format!("INTERNAL://{name}:{INTERNAL_PORT},EXTERNAL://127.0.0.1:{host_port}"),
                )
                .with_env_var(
                    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                    "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
                )
                .with_env_var("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
                .with_env_var("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL")
                .with_env_var("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", count.to_string())
                .with_env_var("CLUSTER_ID", CLUSTER_ID)
                .with_env_var("RUST_LOG", "info,openraft=warn")
                .with_log_consumer(move |frame: &LogFrame| {
                    for line in String::from_utf8_lossy(frame.bytes()).lines() {
                        eprintln!("[{label}] {line}");
                    }
                })
                .with_startup_timeout(CLUSTER_READY_WAIT)
                .start()
                .await
                .unwrap_or_else(|e| {
                    panic!("container {name} starts (is host port {host_port} still free?): {e}")
                });
            nodes.push(ClusterNode {
                id,
                name,
                host_port,
                container: Some(container),
                running: true,
            });
        }
        ContainerCluster { nodes }
    }

    /// `bootstrap.servers` of the running nodes.
    fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.running)
            .map(|n| format!("127.0.0.1:{}", n.host_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Polls Metadata until it lists every node at its advertised host address, within
    /// CLUSTER_READY_WAIT. Panics with the nodes' logs when a container exits first.
    async fn wait_until_formed(&self) {
        let want: BTreeMap<i32, String> = self
            .nodes
            .iter()
            .map(|n| (n.id, format!("127.0.0.1:{}", n.host_port)))
            .collect();
        let bootstrap = self.bootstrap();
        let deadline = Instant::now() + CLUSTER_READY_WAIT;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            for n in &self.nodes {
                let c = n.container.as_ref().expect("not removed");
                if !c.is_running().await.unwrap_or(false) {
                    let logs = c.stderr_to_vec().await.unwrap_or_default();
                    panic!(
                        "container {} (node {}) exited before the cluster formed; its logs:\n{}",
                        n.name,
                        n.id,
                        String::from_utf8_lossy(&logs)
                    );
                }
            }
            match brokers(&bootstrap).await {
                Ok(got) if got == want => return,
                Ok(got) => last = format!("brokers {got:?}"),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "Metadata did not list the brokers {want:?} within {CLUSTER_READY_WAIT:?}; last: {last}"
        );
    }

    /// `docker stop` on node `id` (SIGTERM, SIGKILL after 10 s). The container stays, stopped,
    /// until [`ContainerCluster::remove`] or drop.
    async fn stop(&mut self, id: i32) {
        let n = self
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"));
        let c = n.container.as_ref().expect("not removed");
        tokio::time::timeout(DOCKER_STOP_WAIT, c.stop_with_timeout(Some(10)))
            .await
            .expect("docker stop answered in time")
            .expect("docker stop");
        n.running = false;
    }

    /// Removes every container (the network goes with the last one).
    async fn remove(mut self) {
        for n in &mut self.nodes {
            if let Some(c) = n.container.take() {
                tokio::time::timeout(DOCKER_STOP_WAIT, c.rm())
                    .await
                    .expect("docker rm answered in time")
                    .expect("docker rm");
            }
        }
    }
}

/// `count` distinct free TCP ports. Docker publishes on every interface, so they are looked for
/// there; all are held open together so they differ. Another process could take one before
/// Docker binds it: then the container's start fails and says so.
fn free_host_ports(count: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("0.0.0.0:0").expect("a free host port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("bound address").port())
        .collect()
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    c
}

fn key_of(i: usize) -> Vec<u8> {
    format!("key-{}", i % KEYS).into_bytes()
}

fn value_of(i: usize) -> Vec<u8> {
    format!("value-{i}-{}", "y".repeat(i % 64)).into_bytes()
}

/// One partition as Metadata reports it.
#[derive(Debug, Clone)]
struct PartitionState {
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
}

/// One Metadata request, answered on a blocking thread (rdkafka's call blocks).
async fn metadata<T: Send + 'static>(
    bootstrap: &str,
    topic: Option<&'static str>,
    read: impl FnOnce(&rdkafka::metadata::Metadata) -> T + Send + 'static,
) -> Result<T, String> {
    let client: BaseConsumer = client_config(bootstrap)
        .create()
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        client
            .fetch_metadata(topic, Duration::from_secs(3))
            .map(|m| read(&m))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Broker id -> `host:port`, as Metadata lists them.
async fn brokers(bootstrap: &str) -> Result<BTreeMap<i32, String>, String> {
    metadata(bootstrap, None, |m| {
        m.brokers()
            .iter()
            .map(|b| (b.id(), format!("{}:{}", b.host(), b.port())))
            .collect()
    })
    .await
}

/// Waits until Metadata no longer lists broker `id` (Kafka fences a broker once its controlled
/// shutdown completes; at the latest its session expires), within UNLISTED_WAIT.
async fn wait_until_unlisted(bootstrap: &str, id: i32) {
    let deadline = Instant::now() + UNLISTED_WAIT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match brokers(bootstrap).await {
            Ok(listed) if !listed.contains_key(&id) => return,
            Ok(listed) => last = format!("brokers {listed:?}"),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("Metadata still lists the stopped broker {id} after {UNLISTED_WAIT:?}; last: {last}");
}

/// The test topic's partitions, or why they could not be read.
async fn partition_layout(bootstrap: &str) -> Result<BTreeMap<i32, PartitionState>, String> {
    metadata(bootstrap, Some(TOPIC), |m| {
        let t = m
            .topics()
            .iter()
            .find(|t| t.name() == TOPIC)
            .ok_or_else(|| format!("{TOPIC} not in Metadata"))?;
        if let Some(e) = t.error() {
            return Err(format!("{TOPIC}: {e:?}"));
        }
        Ok(t.partitions()
            .iter()
            .map(|p| {
                (
                    p.id(),
                    PartitionState {
                        leader: p.leader(),
                        replicas: p.replicas().to_vec(),
                        isr: p.isr().to_vec(),
                    },
                )
            })
            .collect())
    })
    .await?
}

/// Waits until Metadata shows every partition with a leader, REPLICAS distinct replicas on the
/// cluster's brokers and all of them in the ISR (followers join the ISR once caught up).
async fn wait_for_full_isr(bootstrap: &str) -> BTreeMap<i32, PartitionState> {
    let all: BTreeSet<i32> = (1..=NODES as i32).collect();
    let deadline = Instant::now() + TOPIC_READY_WAIT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match partition_layout(bootstrap).await {
            Ok(layout) => {
                let full = layout.len() == PARTITIONS as usize
                    && layout.values().all(|p| {
                        let replicas: BTreeSet<i32> = p.replicas.iter().copied().collect();
                        let isr: BTreeSet<i32> = p.isr.iter().copied().collect();
                        p.replicas.len() == REPLICAS
                            && replicas.len() == REPLICAS
                            && replicas.is_subset(&all)
                            && isr == replicas
                            && replicas.contains(&p.leader)
                    });
                if full {
                    return layout;
                }
                last = format!("{layout:?}");
            }
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "{TOPIC} did not reach {PARTITIONS} partitions with {REPLICAS} replicas in sync within \
         {TOPIC_READY_WAIT:?}; last: {last}"
    );
}

/// Reads the topic from the beginning through `bootstrap` and checks that every acknowledged
/// record is there once, at its offset, with its key and value, and one key kept one partition.
async fn check_read_back(bootstrap: &str, acked: &[(usize, i32, i64)], expected: usize) {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "gregor-container-cluster-test") // assign needs one; no group is used
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let got = tokio::task::spawn_blocking(move || read_all(&consumer, TOPIC, PARTITIONS, expected))
        .await
        .expect("reader");
    assert_eq!(got.len(), expected, "every acknowledged record read back");
    let mut at = HashMap::with_capacity(got.len());
    for g in &got {
        assert!(
            at.insert((g.partition, g.offset), g).is_none(),
            "{}/{} read twice",
            g.partition,
            g.offset
        );
    }
    let mut partition_of_key: HashMap<usize, i32> = HashMap::new();
    for &(i, partition, offset) in acked {
        let g = at
            .get(&(partition, offset))
            .unwrap_or_else(|| panic!("acknowledged record {i} missing at {partition}/{offset}"));
        assert_eq!(g.key, Some(key_of(i)), "key of record {i}");
        assert_eq!(g.value, Some(value_of(i)), "value of record {i}");
        if i < RECORDS {
            // Only the keyed-partitioner records: the later ones name their partition.
            assert_eq!(
                *partition_of_key.entry(i % KEYS).or_insert(partition),
                partition,
                "one key, one partition"
            );
        }
    }
}

/// The docker CLI is installed and `docker info` reaches an engine with the settings
/// (DOCKER_HOST, context) testcontainers uses too.
fn docker_answers() -> Result<(), String> {
    let out = output_within(
        Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        DOCKER_CLI_WAIT,
    )
    .map_err(|e| format!("`docker info`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`docker info` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The image as tests/container.rs treats it: reused when `docker image inspect` finds it and
/// GREGOR_TEST_IMAGE_REBUILD is not 1, else built by docker/build-image.sh (its output shown).
fn image_present_or_built(image: &str) {
    let rebuild = std::env::var("GREGOR_TEST_IMAGE_REBUILD").as_deref() == Ok("1");
    if !rebuild {
        let found = output_within(
            Command::new("docker")
                .args([
                    "image",
                    "inspect",
                    "--format",
                    "{{.Id}} {{.Created}}",
                    image,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
            DOCKER_CLI_WAIT,
        )
        .unwrap_or_else(|e| panic!("`docker image inspect {image}`: {e}"));
        if found.status.success() {
            println!(
                "reusing image {image} ({}); GREGOR_TEST_IMAGE_REBUILD=1 rebuilds it",
                String::from_utf8_lossy(&found.stdout).trim()
            );
            return;
        }
        println!("image {image} not found: building it with docker/build-image.sh");
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let began = Instant::now();
    let mut build = Command::new("sh");
    build
        .arg(format!("{root}/docker/build-image.sh"))
        .arg(image)
        .current_dir(root)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let out = output_within(&mut build, IMAGE_BUILD_WAIT)
        .unwrap_or_else(|e| panic!("docker/build-image.sh {image}: {e}"));
    assert!(
        out.status.success(),
        "docker/build-image.sh {image} failed ({}; its output is above)",
        out.status
    );
    println!("built image {image} in {:?}", began.elapsed());
}

/// Runs `cmd` to completion on a helper thread, in a process group of its own; past `wait` the
/// whole group (a build's cargo and rustc too) is killed and this returns an error. What the
/// caller pipes is captured; what it leaves alone goes to the test's own output.
fn output_within(cmd: &mut Command, wait: Duration) -> Result<Output, String> {
    let child = cmd
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    let group = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(wait) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => {
            // SAFETY: kill(2) on the process group this function started; no memory involved.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            Err(format!("no answer within {wait:?}; killed"))
        }
    }
}
