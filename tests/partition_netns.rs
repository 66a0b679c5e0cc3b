//! A real network partition: three `gregor` processes, each in its own Linux network namespace,
//! and the leader of a partition cut off from its two peers by a firewall while clients still
//! reach it. The real-network twin of tests/cluster.rs
//! `isolated_leader_stops_acknowledging_and_truncates_on_return` (which cuts an injected
//! in-process transport instead).
//!
//! `isolated_leader_stops_acknowledging_and_majority_moves_on` shows, for topic `netcut` (one
//! partition, RF 3, `min.insync.replicas` 2, `replica.lag.time.max.ms` 4000):
//!
//! 1. Before the cut, acks=all writes through any node are acknowledged; partition 0's ISR is
//!    all three nodes.
//! 2. The cut: a producer that knows only the leader's address (acks=all, no idempotence, no
//!    retries, `message.timeout.ms` 4000) sends a record every 100 ms from one second before
//!    the cut to seven seconds after it. No acknowledgement reaches it later than
//!    `replica.lag.time.max.ms` + 2 s after the cut, every acknowledged record is found later,
//!    at its acknowledged offset, on the healed cluster (so nothing was acknowledged by the
//!    isolated node alone), and the isolated node did append the records sent after the cut
//!    (its partition 0 log grew) without acknowledging them.
//! 3. The majority (Metadata asked of each of the two other nodes, by their own addresses) elects
//!    a new leader for partition 0 and drops the old one from the ISR within 20 s, and
//!    acknowledges acks=all writes.
//! 4. Heal: the old leader learns the new leader, truncates what only it had and is back in the
//!    ISR within 30 s (Metadata of all three nodes agrees); the three replicas' `.log` bytes of
//!    partition 0 become equal; every acknowledged record is read back exactly once, at its
//!    acknowledged offset; no record sent to the isolated node after the cut (never
//!    acknowledged) survives.
//!
//! The network (names unique per run, from the test's PID `<pid>`; everything on this machine,
//! in the private subnet 10.213.`<x>`.0/24 with `<x>` one not yet routed here):
//!
//! * namespaces `gregor-<pid>-1..3`, one node each at 10.213.`<x>`.1..3, client listener on
//!   port 9092 and CONTROLLER listener on 9093 (each namespace has its own ports), `lo` up;
//! * a namespace `gregor-<pid>-sw` holding the bridge `gbr<pid>` that every node's veth pair
//!   (`gv<pid>n<i>` in the node, `gv<pid>s<i>` on the bridge) plugs into;
//! * a veth pair `gv<pid>r` (root namespace, 10.213.`<x>`.254/24) / `gv<pid>h` (on the bridge),
//!   through which the test, in the root namespace, reaches every node.
//!
//!   The bridge is not in the root namespace because there it would forward through the root
//!   namespace's iptables FORWARD chain (`br_netfilter` with `bridge-nf-call-iptables`=1, as
//!   Docker sets it up, with policy DROP): the test would have to change the host's firewall.
//!   The root namespace only sends to and receives from its own address, which no FORWARD
//!   rule sees.
//!
//! The cut: in the leader's namespace, `iptables -A INPUT -s <peer> -j DROP` and
//! `iptables -A OUTPUT -d <peer> -j DROP` for each of the two peers (packets dropped silently,
//! open connections stall as in a real partition); the heal deletes these four rules.
//!
//! Needs: root, `ip` (iproute2) and `iptables` (or `iptables-legacy`) working in a namespace.
//! Otherwise (not root, `ip netns add` fails, or neither iptables works in a namespace) it prints
//! `SKIPPED: <reason>` and passes, as tests/container_cluster.rs does without a Docker engine.
//!
//! Every wait is bounded, every `ip`/`iptables` command too (10 s). Cleanup always runs, on
//! panic as well (`Lab`'s drop): the gregor children are killed (SIGKILL by PID, reaped) first,
//! then the namespaces are deleted, which removes their veths, the bridge and the firewall rules;
//! the root-side veth is deleted explicitly. Every rdkafka client is dropped before the
//! namespaces go: once the subnet's route is gone, a client still retrying the nodes' addresses
//! would send to the default gateway, off this machine. For the same reason a blackhole route
//! for the subnet (metric 4242, below the veth's connected route) exists from before the veths
//! to after them, deleted last. `GREGOR_KEEP_TEST_DIR=1` keeps the data and the
//! nodes' logs. The whole test takes about 15 s (13 s of it after the network is up).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use common::partition_log_bytes;
use common::process::BrokerProcess;
use common::read_all;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Short sessions (as tests/cluster.rs and tests/cluster_process.rs use) so that a cut-off node
/// is fenced and its leaderships move within seconds.
const FAST: &[(&str, &str)] = &[
    ("broker.session.timeout.ms", "3000"),
    ("broker.heartbeat.interval.ms", "300"),
    ("replica.lag.time.max.ms", "4000"),
    ("replica.fetch.wait.max.ms", "200"),
    ("offsets.topic.replication.factor", "3"),
    ("offsets.topic.num.partitions", "3"),
    ("min.insync.replicas", "2"),
];
/// `replica.lag.time.max.ms` above.
const LAG: Duration = Duration::from_millis(4000);
/// How much later than `LAG` after the cut the last acknowledgement may reach the client.
const ACK_SLACK: Duration = Duration::from_secs(2);
/// How long the producer bound to the isolated node goes on sending after the cut.
const POST_CUT_SENDING: Duration = Duration::from_secs(7);
const READY_WAIT: Duration = Duration::from_secs(60);
const ELECT_WAIT: Duration = Duration::from_secs(20);
const REJOIN_WAIT: Duration = Duration::from_secs(30);
/// Bound on any one `ip` / `iptables` command.
const COMMAND_WAIT: Duration = Duration::from_secs(10);
const CLIENT_PORT: u16 = 9092;
const CONTROLLER_PORT: u16 = 9093;
const TOPIC: &str = "netcut";

/// One cluster at a time (the tests/cluster_process.rs discipline): several on 2 cores starve
/// each other's heartbeats within these short sessions.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `program args` with a bound; `Ok(stdout)` when it exits 0, else what it said.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let shown = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let deadline = Instant::now() + COMMAND_WAIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown}: still running after {COMMAND_WAIT:?}"));
            }
            Err(e) => return Err(format!("{shown}: {e}")),
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if status.success() {
        Ok(out)
    } else {
        Err(format!("{shown}: {status}: {}", err.trim()))
    }
}

fn ip(args: &[&str]) -> Result<String, String> {
    run("ip", args)
}

/// What the test created in the network, removed again on drop (namespaces last-in first-out).
struct Net {
    pid: u32,
    /// The third octet of the test subnet 10.213.x.0/24.
    x: u8,
    namespaces: Vec<String>,
    root_links: Vec<String>,
    /// A blackhole route for the subnet (a higher metric than the veth's), so that nothing
    /// sent to the nodes' addresses while the veth is gone (set-up, clean-up) can take the
    /// default route off this machine. Deleted last.
    blackhole: Option<String>,
    /// The iptables program that works inside a namespace here.
    iptables: String,
}

impl Net {
    fn node_ns(&self, id: i32) -> String {
        format!("gregor-{}-{id}", self.pid)
    }

    fn node_ip(&self, id: i32) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.x, id as u8)
    }

    /// Builds the namespaces, bridge and veths of the module doc. `Err` means: skip the test.
    /// A later failure (the kernel took `ip netns add` but refuses a veth) panics; whatever was
    /// made by then is removed by the drop.
    fn build(nodes: i32) -> Result<Net, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (network namespaces and iptables need root)".into());
        }
        let pid = std::process::id();
        let x = free_subnet()?;
        let mut net = Net {
            pid,
            x,
            namespaces: Vec::new(),
            root_links: Vec::new(),
            blackhole: None,
            iptables: String::new(),
        };
        let subnet = format!("10.213.{x}.0/24");
        ip(&["route", "add", "blackhole", &subnet, "metric", "4242"])
            .map_err(|e| format!("ip route add blackhole failed: {e}"))?;
        net.blackhole = Some(subnet);
        let sw = format!("gregor-{pid}-sw");
        ip(&["netns", "add", &sw]).map_err(|e| format!("ip netns add failed: {e}"))?;
        net.namespaces.push(sw.clone());
        let bridge = format!("gbr{pid}");
        let must = |r: Result<String, String>| {
            r.unwrap_or_else(|e| panic!("network set-up: {e}"));
        };
        must(ip(&["-n", &sw, "link", "set", "lo", "up"]));
        must(ip(&["-n", &sw, "link", "add", &bridge, "type", "bridge"]));
        must(ip(&["-n", &sw, "link", "set", &bridge, "up"]));
        for id in 1..=nodes {
            let ns = net.node_ns(id);
            ip(&["netns", "add", &ns]).map_err(|e| format!("ip netns add failed: {e}"))?;
            net.namespaces.push(ns.clone());
            let inside = format!("gv{pid}n{id}");
            let port = format!("gv{pid}s{id}");
            must(ip(&[
                "link", "add", &inside, "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &sw,
            ]));
            must(ip(&["-n", &sw, "link", "set", &port, "master", &bridge]));
            must(ip(&["-n", &sw, "link", "set", &port, "up"]));
            let addr = format!("{}/24", net.node_ip(id));
            must(ip(&["-n", &ns, "addr", "add", &addr, "dev", &inside]));
            must(ip(&["-n", &ns, "link", "set", &inside, "up"]));
            must(ip(&["-n", &ns, "link", "set", "lo", "up"]));
        }
        let root = format!("gv{pid}r");
        let host_port = format!("gv{pid}h");
        must(ip(&[
            "link", "add", &root, "type", "veth", "peer", "name", &host_port, "netns", &sw,
        ]));
        net.root_links.push(root.clone());
        must(ip(&[
            "-n", &sw, "link", "set", &host_port, "master", &bridge,
        ]));
        must(ip(&["-n", &sw, "link", "set", &host_port, "up"]));
        must(ip(&[
            "addr",
            "add",
            &format!("10.213.{x}.254/24"),
            "dev",
            &root,
        ]));
        must(ip(&["link", "set", &root, "up"]));

        // A rule on an address nobody uses, added and deleted: does iptables work in there?
        let probe = format!("10.213.{x}.253");
        let mut tried = Vec::new();
        for program in ["iptables", "iptables-legacy"] {
            let rule = |op: &str| {
                run(
                    "ip",
                    &[
                        "netns",
                        "exec",
                        &net.node_ns(1),
                        program,
                        "-w",
                        "5",
                        op,
                        "INPUT",
                        "-s",
                        &probe,
                        "-j",
                        "DROP",
                    ],
                )
            };
            match rule("-A").and_then(|_| rule("-D")) {
                Ok(_) => {
                    net.iptables = program.into();
                    break;
                }
                Err(e) => tried.push(e),
            }
        }
        if net.iptables.is_empty() {
            return Err(format!("iptables does not work in a namespace: {tried:?}"));
        }
        Ok(net)
    }

    /// Adds (`-A`) or deletes (`-D`) the rules that drop all traffic between `id` and `peers`,
    /// in `id`'s namespace.
    fn firewall(&self, op: &str, id: i32, peers: &[i32]) {
        let ns = self.node_ns(id);
        for p in peers {
            let peer = self.node_ip(*p).to_string();
            for (chain, dir) in [("INPUT", "-s"), ("OUTPUT", "-d")] {
                run(
                    "ip",
                    &[
                        "netns",
                        "exec",
                        &ns,
                        &self.iptables,
                        "-w",
                        "5",
                        op,
                        chain,
                        dir,
                        &peer,
                        "-j",
                        "DROP",
                    ],
                )
                .unwrap_or_else(|e| panic!("firewall {op} {chain} on node {id}: {e}"));
            }
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for link in &self.root_links {
            let _ = ip(&["link", "del", link]);
        }
        while let Some(ns) = self.namespaces.pop() {
            if let Err(e) = ip(&["netns", "del", &ns]) {
                eprintln!("cleanup: {e}");
            }
        }
        if let Some(subnet) = self.blackhole.take() {
            if let Err(e) = ip(&["route", "del", "blackhole", &subnet, "metric", "4242"]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// A third octet x such that nothing on this machine has an address or route in 10.213.x.0/24,
/// starting from one derived from the PID (so that concurrent runs are likely to differ).
fn free_subnet() -> Result<u8, String> {
    let used = format!(
        "{}\n{}",
        ip(&["-4", "-o", "addr", "show"]).map_err(|e| format!("ip addr: {e}"))?,
        ip(&["-4", "route", "show", "table", "all"]).map_err(|e| format!("ip route: {e}"))?
    );
    let start = std::process::id() % 250;
    (0..250)
        .map(|i| ((start + i) % 250 + 1) as u8)
        .find(|x| !used.contains(&format!("10.213.{x}.")))
        .ok_or_else(|| "no free 10.213.x.0/24 subnet".into())
}

struct Node {
    id: i32,
    addr: SocketAddr,
    data_dir: PathBuf,
    process: BrokerProcess,
}

/// The nodes, then the network (fields drop in order: the children die before their namespaces
/// go), then the data directory.
struct Lab {
    nodes: Vec<Node>,
    net: Net,
    _dir: Option<tempfile::TempDir>,
}

impl Lab {
    fn start(net: Net, n: i32) -> Lab {
        let dir = tempfile::tempdir().expect("temp dir");
        let voters: Vec<String> = (1..=n)
            .map(|id| format!("{id}@{}:{CONTROLLER_PORT}", net.node_ip(id)))
            .collect();
        let mut nodes = Vec::new();
        for id in 1..=n {
            let ip = net.node_ip(id);
            let data_dir = dir.path().join(format!("node-{id}"));
            let mut overrides = common::cluster::kraft_overrides(
                id,
                SocketAddr::V4(SocketAddrV4::new(ip, CLIENT_PORT)),
                SocketAddr::V4(SocketAddrV4::new(ip, CONTROLLER_PORT)),
                &voters.join(","),
                &data_dir,
            );
            overrides.extend(FAST.iter().map(|(k, v)| format!("{k}={v}")));
            let addr = SocketAddr::V4(SocketAddrV4::new(ip, CLIENT_PORT));
            let launcher = vec![
                "ip".to_string(),
                "netns".into(),
                "exec".into(),
                net.node_ns(id),
            ];
            let process = BrokerProcess::spawn_via(
                launcher,
                overrides,
                addr,
                dir.path().join(format!("node-{id}.log")),
            );
            nodes.push(Node {
                id,
                addr,
                data_dir,
                process,
            });
        }
        let dir = if std::env::var_os("GREGOR_KEEP_TEST_DIR").is_some() {
            eprintln!("keeping {}", dir.path().display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let mut lab = Lab {
            nodes,
            net,
            _dir: dir,
        };
        for n in &mut lab.nodes {
            n.process.wait_accepting();
        }
        lab
    }

    fn node(&self, id: i32) -> &Node {
        self.nodes.iter().find(|n| n.id == id).expect("node id")
    }

    fn bootstrap(&self, ids: &[i32]) -> String {
        ids.iter()
            .map(|id| self.node(*id).addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    fn logs(&self) -> String {
        self.nodes.iter().map(|n| n.process.log_tail()).collect()
    }

    /// Partition 0 of `TOPIC` as node `id` itself answers Metadata.
    fn view(&self, id: i32) -> Result<PartitionView, String> {
        partition_view(self.node(id).addr)
    }

    /// The view every node in `ids` answers, when they all answer and agree.
    fn agreed_view(&self, ids: &[i32]) -> Option<PartitionView> {
        let views: Vec<PartitionView> = ids.iter().filter_map(|id| self.view(*id).ok()).collect();
        (!views.is_empty() && views.len() == ids.len() && views.windows(2).all(|w| w[0] == w[1]))
            .then(|| views[0].clone())
    }

    /// Polls every 100 ms until `f` answers, at most `bound`; panics with the nodes' logs.
    fn wait<T>(&self, what: &str, bound: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(t) = f() {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {bound:?}; views: {:?}\n{}",
                self.ids()
                    .iter()
                    .map(|id| (*id, self.view(*id)))
                    .collect::<Vec<_>>(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct PartitionView {
    error_code: i16,
    leader: i32,
    leader_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
}

/// One Metadata v12 request for `TOPIC` to exactly `addr` (rdkafka would ask whichever broker it
/// likes), over a fresh connection, every step bounded.
fn metadata(addr: SocketAddr) -> Result<MetadataResponse, String> {
    const VERSION: i16 = 12;
    let bound = Duration::from_secs(3);
    let io = |e: std::io::Error| format!("{addr}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, bound).map_err(io)?;
    stream.set_read_timeout(Some(bound)).map_err(io)?;
    stream.set_write_timeout(Some(bound)).map_err(io)?;
    let mut request = MetadataRequest::default();
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(StrBytes::from_static_str(TOPIC)));
    request.topics = Some(vec![t]);
    // The schema's default is true: asking before CreateTopics would create the topic.
    request.allow_auto_topic_creation = false;
    let mut header = RequestHeader::default();
    header.request_api_key = MetadataRequest::KEY;
    header.request_api_version = VERSION;
    header.correlation_id = 7;
    header.client_id = Some(StrBytes::from_static_str("partition-netns"));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, MetadataRequest::header_version(VERSION))
        .map_err(|e| e.to_string())?;
    request
        .encode(&mut body, VERSION)
        .map_err(|e| e.to_string())?;
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.put_slice(&body);
    stream.write_all(&frame).map_err(io)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(io)?;
    let len = i32::from_be_bytes(len);
    if !(0..16 << 20).contains(&len) {
        return Err(format!("{addr}: response length {len}"));
    }
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf).map_err(io)?;
    let mut buf = Bytes::from(buf);
    let h = ResponseHeader::decode(&mut buf, MetadataResponse::header_version(VERSION))
        .map_err(|e| e.to_string())?;
    if h.correlation_id != 7 {
        return Err(format!("{addr}: correlation id {}", h.correlation_id));
    }
    let response = MetadataResponse::decode(&mut buf, VERSION).map_err(|e| e.to_string())?;
    if buf.has_remaining() {
        return Err(format!(
            "{addr}: {} bytes after the response",
            buf.remaining()
        ));
    }
    Ok(response)
}

/// Partition 0 of `TOPIC` as the node at `addr` answers Metadata.
fn partition_view(addr: SocketAddr) -> Result<PartitionView, String> {
    let response = metadata(addr)?;
    let topic = response
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| &*n.0 == TOPIC))
        .ok_or_else(|| format!("{addr}: {TOPIC} not in Metadata"))?;
    if topic.error_code != 0 {
        return Err(format!("{addr}: {TOPIC}: error {}", topic.error_code));
    }
    let p = topic
        .partitions
        .iter()
        .find(|p| p.partition_index == 0)
        .ok_or_else(|| format!("{addr}: no partition 0"))?;
    Ok(PartitionView {
        error_code: p.error_code,
        leader: p.leader_id.0,
        leader_epoch: p.leader_epoch,
        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
    })
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    if let Ok(d) = std::env::var("GREGOR_TEST_RDKAFKA_DEBUG") {
        c.set("debug", d);
    }
    c
}

/// acks=all, no idempotence, no retries: one delivery report per send, nothing resent.
fn strict_producer(bootstrap: &str, message_timeout_ms: &str) -> FutureProducer {
    client(bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("retries", "0")
        .set("linger.ms", "0")
        .set("message.timeout.ms", message_timeout_ms)
        .create()
        .expect("producer")
}

fn record<'a>(v: &'a str) -> FutureRecord<'a, str, str> {
    FutureRecord::to(TOPIC).key("k").payload(v).partition(0)
}

/// Sends `count` records named `<prefix>-<i>`, one at a time, each acknowledged; returns
/// offset -> value.
async fn send_acked(producer: &FutureProducer, prefix: &str, count: usize) -> HashMap<i64, String> {
    let mut acked = HashMap::new();
    for i in 0..count {
        let v = format!("{prefix}-{i}");
        let d = producer
            .send(record(&v), Duration::from_secs(30))
            .await
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| panic!("{v} not acknowledged: {e}"));
        assert!(
            acked.insert(d.offset, v).is_none(),
            "offset acknowledged twice"
        );
    }
    acked
}

/// One record sent to the isolated node: its value, whether it was sent after the cut was in
/// place, and its delivery report with the time it arrived.
struct Sent {
    value: String,
    after_cut: bool,
    report: tokio::task::JoinHandle<(Result<i64, String>, Instant)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_leader_stops_acknowledging_and_majority_moves_on() {
    common::init_tracing();
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let net = match Net::build(3) {
        Ok(net) => net,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    eprintln!(
        "network: namespaces gregor-{}-{{1,2,3,sw}}, subnet 10.213.{}.0/24, {}",
        net.pid, net.x, net.iptables
    );
    // Declared before every rdkafka client, so dropped after all of them (see the end).
    let lab = Lab::start(net, 3);
    let everyone = lab.bootstrap(&lab.ids());

    // 1. A replicated partition, acks=all writes acknowledged, every node in the ISR.
    lab.wait(
        "3 brokers and one controller in every node's Metadata",
        READY_WAIT,
        || {
            let answers: Vec<(usize, i32)> = lab
                .nodes
                .iter()
                .filter_map(|n| metadata(n.addr).ok())
                .map(|m| (m.brokers.len(), m.controller_id.0))
                .collect();
            (answers.len() == 3
                && answers
                    .iter()
                    .all(|a| a.0 == 3 && a.1 > 0 && a.1 == answers[0].1))
            .then_some(())
        },
    );
    let admin: AdminClient<DefaultClientContext> = client(&everyone).create().expect("admin");
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(20)))
        .request_timeout(Some(Duration::from_secs(25)));
    let created = tokio::time::timeout(
        Duration::from_secs(30),
        admin.create_topics(
            &[NewTopic::new(TOPIC, 1, TopicReplication::Fixed(3))],
            &options,
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("create_topics not answered in 30 s\n{}", lab.logs()))
    .unwrap_or_else(|e| panic!("create_topics: {e}\n{}", lab.logs()));
    for r in created {
        r.unwrap_or_else(|e| panic!("topic not created: {e:?}\n{}", lab.logs()));
    }
    let before = lab.wait("full ISR, one leader in every view", READY_WAIT, || {
        lab.agreed_view(&lab.ids())
            .filter(|v| v.leader > 0 && v.isr.len() == 3)
    });
    let mut acked = send_acked(&strict_producer(&everyone, "30000"), "before", 30).await;
    let leader = before.leader;
    let peers: Vec<i32> = lab.ids().into_iter().filter(|id| *id != leader).collect();
    eprintln!(
        "partition 0: leader {leader} (epoch {}), {} records acknowledged; cutting node {leader} \
         off from {peers:?} ({:?} since start)",
        before.leader_epoch,
        acked.len(),
        started.elapsed()
    );

    // 2. A producer that knows only the leader, sending before and after the cut.
    let to_isolated = strict_producer(&lab.bootstrap(&[leader]), "4000");
    let cut_done: Arc<Mutex<Option<Instant>>> = Arc::default();
    let sender = {
        let (producer, cut_done) = (to_isolated.clone(), cut_done.clone());
        tokio::spawn(async move {
            let mut sent = Vec::new();
            // At most 200 records (20 s of sending), whatever the clock does.
            for i in 0..200 {
                let cut = *cut_done.lock().unwrap();
                if cut.is_some_and(|c| c.elapsed() > POST_CUT_SENDING) {
                    break;
                }
                let value = format!("{}-{i}", if cut.is_some() { "cut" } else { "pre" });
                let delivery = producer
                    .send_result(record(&value))
                    .map_err(|(e, _)| e)
                    .expect("enqueued");
                let report = tokio::spawn(async move {
                    let r = match delivery.await {
                        Ok(Ok(d)) => Ok(d.offset),
                        Ok(Err((e, _))) => Err(e.to_string()),
                        Err(_) => Err("delivery report dropped".into()),
                    };
                    (r, Instant::now())
                });
                sent.push(Sent {
                    value,
                    after_cut: cut.is_some(),
                    report,
                });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let old_leader = lab.node(leader);
    lab.net.firewall("-A", leader, &peers);
    let cut_at = Instant::now();
    *cut_done.lock().unwrap() = Some(cut_at);
    let log_at_cut = partition_log_bytes(&old_leader.data_dir, TOPIC, 0).len();

    // 3. The majority elects a new leader without the old one, and acknowledges acks=all.
    let after = lab.wait("a new leader in the majority's views", ELECT_WAIT, || {
        lab.agreed_view(&peers)
            .filter(|v| peers.contains(&v.leader) && !v.isr.contains(&leader))
    });
    eprintln!(
        "majority: new leader {} (epoch {}, ISR {:?}) {:?} after the cut",
        after.leader,
        after.leader_epoch,
        after.isr,
        cut_at.elapsed()
    );
    let majority = strict_producer(&lab.bootstrap(&peers), "30000");
    for (o, v) in send_acked(&majority, "majority", 30).await {
        assert!(
            acked.insert(o, v).is_none(),
            "offset {o} acknowledged twice"
        );
    }
    eprintln!(
        "majority acknowledged 30 acks=all writes {:?} after the cut",
        cut_at.elapsed()
    );

    // The isolated side: no acknowledgement later than the lag bound, records appended there.
    let sent = tokio::time::timeout(Duration::from_secs(30), sender)
        .await
        .expect("sender done in time")
        .expect("sender task");
    let mut from_isolated: HashMap<i64, String> = HashMap::new();
    let mut never_acked_after_cut = Vec::new();
    let (mut ok_before, mut ok_after, mut failed_before, mut failed_after) = (0, 0, 0, 0);
    let mut last_ack = None;
    let mut first_error = None;
    for s in sent {
        let (r, at) = tokio::time::timeout(Duration::from_secs(20), s.report)
            .await
            .expect("delivery reported in time (message.timeout.ms 4000)")
            .expect("report task");
        match r {
            Ok(offset) => {
                if s.after_cut {
                    ok_after += 1;
                } else {
                    ok_before += 1;
                }
                if at > cut_at {
                    last_ack = Some(at - cut_at);
                }
                assert!(
                    at <= cut_at + LAG + ACK_SLACK,
                    "{} acknowledged at offset {offset} {:?} after the cut (bound: \
                     replica.lag.time.max.ms {LAG:?} + {ACK_SLACK:?})\n{}",
                    s.value,
                    at - cut_at,
                    lab.logs()
                );
                assert!(from_isolated.insert(offset, s.value).is_none());
            }
            Err(e) => {
                if s.after_cut {
                    failed_after += 1;
                    never_acked_after_cut.push(s.value);
                } else {
                    failed_before += 1;
                }
                first_error.get_or_insert(e);
            }
        }
    }
    eprintln!(
        "producer bound to the isolated node: before the cut {ok_before} acknowledged, \
         {failed_before} failed; after it {ok_after} acknowledged, {failed_after} failed \
         (first error: {first_error:?}); last acknowledgement {last_ack:?} after the cut"
    );
    assert!(
        failed_after > 0,
        "the isolated node went on acknowledging every acks=all write"
    );
    let log_later = partition_log_bytes(&old_leader.data_dir, TOPIC, 0).len();
    assert!(
        log_later > log_at_cut,
        "the isolated node appended the writes sent to it ({log_at_cut} -> {log_later} bytes)"
    );
    eprintln!(
        "isolated node's own view: {:?}; its partition 0 log {log_at_cut} -> {log_later} bytes",
        lab.view(leader)
    );

    // 4. Heal: the old leader follows the new one, truncates, and rejoins the ISR.
    lab.net.firewall("-D", leader, &peers);
    let healed_at = Instant::now();
    let healed = lab.wait(
        "the old leader back in the ISR in every view",
        REJOIN_WAIT,
        || {
            lab.agreed_view(&lab.ids())
                .filter(|v| v.leader == after.leader && v.isr.len() == 3)
        },
    );
    eprintln!(
        "healed: node {leader} back in the ISR {:?} after the heal ({healed:?})",
        healed_at.elapsed()
    );
    lab.wait("identical replicas of partition 0", REJOIN_WAIT, || {
        let logs: Vec<Vec<u8>> = lab
            .nodes
            .iter()
            .map(|n| partition_log_bytes(&n.data_dir, TOPIC, 0))
            .collect();
        (logs.windows(2).all(|w| w[0] == w[1]) && !logs[0].is_empty()).then_some(())
    });

    // Every acknowledged record once at its offset; nothing sent after the cut survives.
    for (o, v) in from_isolated {
        assert!(
            acked.insert(o, v.clone()).is_none(),
            "offset {o} acknowledged by the isolated node ({v}) and by the majority"
        );
    }
    let consumer: BaseConsumer = client(&everyone)
        .set("group.id", "netcut-check")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let (_, high) = consumer
        .fetch_watermarks(TOPIC, 0, Duration::from_secs(10))
        .expect("watermarks");
    let got = read_all(&consumer, TOPIC, 1, high as usize);
    assert_eq!(got.len() as i64, high, "read the whole partition");
    let mut values: HashMap<i64, String> = HashMap::new();
    let mut count: HashMap<String, usize> = HashMap::new();
    for g in got {
        let v = String::from_utf8(g.value.unwrap_or_default()).expect("utf-8 value");
        *count.entry(v.clone()).or_default() += 1;
        assert!(
            values.insert(g.offset, v).is_none(),
            "offset {} read twice",
            g.offset
        );
    }
    for (o, v) in &acked {
        assert_eq!(values.get(o), Some(v), "acknowledged record at offset {o}");
        assert_eq!(count[v], 1, "{v} read more than once");
    }
    for v in &never_acked_after_cut {
        assert!(
            !count.contains_key(v),
            "{v}, sent to the isolated node after the cut and never acknowledged, survived"
        );
    }
    // A record whose acknowledgement never came may still be there (a follower had fetched
    // it before the cut): allowed, as in Kafka, and shown.
    let mut unacknowledged: Vec<(&i64, &String)> = values
        .iter()
        .filter(|(o, v)| acked.get(*o) != Some(*v))
        .collect();
    unacknowledged.sort();
    eprintln!("never acknowledged but on the healed cluster: {unacknowledged:?}");
    eprintln!(
        "{} acknowledged records read back at their offsets (high watermark {high}); test took {:?}",
        acked.len(),
        started.elapsed()
    );
    // `lab` goes last: every client above drops before the namespaces do. (A client outliving
    // them would chase the nodes' addresses through the default route, off this machine.)
}
