//! Helpers for the multi-node tests: rdkafka clients and topic creation against a cluster, a
//! bounded wait, one cluster at a time, and the KRaft properties of a combined broker/controller
//! node. Every wait is bounded.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic};
use rdkafka::client::DefaultClientContext;

/// One cluster at a time within a test binary: several on 2 cores starve each other's
/// heartbeats within the short sessions the tests use, and a fencing that the test did not
/// cause would be noise.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// How long a cluster may take to be ready, or a state the tests wait for to come.
pub const READY: Duration = Duration::from_secs(30);

/// An rdkafka client config for `bootstrap` (IPv4 only: the nodes listen on 127.0.0.x).
pub fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    c
}

/// Creates `topic` through any node (forwarded to the active controller); panics unless created.
pub async fn create_topic(bootstrap: &str, topic: NewTopic<'_>) {
    let admin: AdminClient<DefaultClientContext> = client(bootstrap).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    for r in admin.create_topics(&[topic], &options).await.unwrap() {
        r.expect("topic created");
    }
}

/// Polls `f` every 50 ms until it holds; panics after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !f() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `--override` properties of node `id`, a broker and a controller with Kafka's KRaft
/// settings: clients on `PLAINTEXT://client` (also advertised), the quorum on
/// `CONTROLLER://controller`, `voters` as `controller.quorum.voters`, data in `data_dir`.
pub fn kraft_overrides(
    id: i32,
    client: SocketAddr,
    controller: SocketAddr,
    voters: &str,
    data_dir: &Path,
) -> Vec<String> {
    vec![
        format!("node.id={id}"),
        "process.roles=broker,controller".into(),
        format!("listeners=PLAINTEXT://{client},CONTROLLER://{controller}"),
        format!("advertised.listeners=PLAINTEXT://{client}"),
        "controller.listener.names=CONTROLLER".into(),
        "inter.broker.listener.name=PLAINTEXT".into(),
        format!("controller.quorum.voters={voters}"),
        format!("log.dirs={}", data_dir.display()),
    ]
}
