//! The container image (docker/Dockerfile: one static binary, FROM scratch) under testcontainers:
//! start it with its port published on a host port chosen here and advertised as
//! `127.0.0.1:<that port>`, round-trip keyed records through rdkafka, stop it with SIGTERM and
//! check that the broker shut down cleanly.
//!
//! * No Docker engine reachable: prints `SKIPPED: no Docker engine reachable: ...` and passes.
//! * The image `gregor:test` (or `$GREGOR_TEST_IMAGE`, `name:tag`) is reused when present; when
//!   missing, or when `GREGOR_TEST_IMAGE_REBUILD=1`, the test runs `docker/build-image.sh`, which
//!   builds the static binary and the image. A reused image may be older than the sources:
//!   rebuild after changing the broker.
//! * Every wait is bounded; the container is removed when the test ends, pass or fail
//!   (testcontainers removes it on drop).
//!
//! Limitation: testcontainers publishes mapped ports on all host interfaces (it sets no host IP),
//! so the broker is reachable from the network for the few seconds the test runs.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
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
const PORT: ContainerPort = ContainerPort::Tcp(9092);
const RECORDS: usize = 1000;
const KEYS: usize = 50;
const PARTITIONS: i32 = 3;
const TOPIC: &str = "container-round-trip";

/// `docker info`, `docker image inspect`: the engine answers in well under this or not at all.
const DOCKER_CLI_WAIT: Duration = Duration::from_secs(20);
/// docker/build-image.sh from a cold cache: a full release build of the static binary.
const IMAGE_BUILD_WAIT: Duration = Duration::from_secs(30 * 60);
/// From `docker start` until the broker answers Metadata with the advertised address.
const READY_WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_serves_produce_and_consume() {
    let started = Instant::now();
    if let Err(why) = docker_reachable() {
        println!("SKIPPED: no Docker engine reachable: {why}");
        return;
    }
    let image = std::env::var("GREGOR_TEST_IMAGE").unwrap_or_else(|_| IMAGE_DEFAULT.to_string());
    let (name, tag) = image
        .rsplit_once(':')
        .expect("GREGOR_TEST_IMAGE is name:tag");
    ensure_image(&image);

    // Docker publishes the port on every interface, so the free port is looked for there too.
    // Another process could take it before Docker binds it; then the start fails and says so.
    let host_port = std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .expect("a free host port")
        .port();
    let bootstrap = format!("127.0.0.1:{host_port}");
    let container: ContainerAsync<GenericImage> = GenericImage::new(name, tag)
        .with_exposed_port(PORT)
        .with_mapped_port(host_port, PORT)
        .with_env_var(
            "KAFKA_ADVERTISED_LISTENERS",
            format!("PLAINTEXT://{bootstrap}"),
        )
        .with_env_var("RUST_LOG", "info")
        .with_log_consumer(|frame: &LogFrame| {
            for line in String::from_utf8_lossy(frame.bytes()).lines() {
                eprintln!("[container] {line}");
            }
        })
        .with_startup_timeout(READY_WAIT)
        .start()
        .await
        .expect("the container starts (is the host port still free?)");
    let t_started = started.elapsed();

    wait_until_serving(&container, &bootstrap).await;
    let t_ready = started.elapsed();

    let producer: FutureProducer = client_config(&bootstrap)
        .set("acks", "all")
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let admin: AdminClient<DefaultClientContext> =
        client_config(&bootstrap).create().expect("admin");
    let created = tokio::time::timeout(
        WAIT,
        admin.create_topics(
            &[NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ),
    )
    .await
    .expect("CreateTopics answered in time")
    .expect("CreateTopics");
    for r in created {
        r.expect("topic created");
    }

    // Enqueue everything, then wait for every acknowledgement: (partition, offset) per record.
    let mut deliveries = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let (key, value) = (key_of(i), value_of(i));
        let record = FutureRecord::to(TOPIC).key(&key).payload(&value);
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueued"),
        );
    }
    let mut acked = Vec::with_capacity(RECORDS);
    for (i, d) in deliveries.into_iter().enumerate() {
        let d = tokio::time::timeout(WAIT, d)
            .await
            .expect("acknowledged in time")
            .expect("delivery future not cancelled")
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| panic!("record {i} not delivered: {e}"));
        acked.push((d.partition, d.offset));
    }

    let consumer: BaseConsumer = client_config(&bootstrap)
        .set("group.id", "gregor-container-test") // librdkafka's assign needs one; no group is used
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let got = tokio::task::spawn_blocking(move || read_all(&consumer, TOPIC, PARTITIONS, RECORDS))
        .await
        .expect("reader");
    assert_eq!(got.len(), RECORDS, "every record read back");
    let mut at = std::collections::HashMap::new();
    for g in &got {
        assert!(
            at.insert((g.partition, g.offset), g).is_none(),
            "{}/{} read twice",
            g.partition,
            g.offset
        );
    }
    for (i, (partition, offset)) in acked.iter().enumerate() {
        let g = at
            .get(&(*partition, *offset))
            .unwrap_or_else(|| panic!("record {i} missing at {partition}/{offset}"));
        assert_eq!(
            g.key.as_deref(),
            Some(key_of(i).as_slice()),
            "key of record {i}"
        );
        assert_eq!(
            g.value.as_deref(),
            Some(value_of(i).as_slice()),
            "value of record {i}"
        );
    }
    let mut partition_of_key = std::collections::HashMap::new();
    for (i, (partition, _)) in acked.iter().enumerate() {
        assert_eq!(
            *partition_of_key.entry(i % KEYS).or_insert(*partition),
            *partition,
            "one key, one partition"
        );
    }
    let t_round_trip = started.elapsed();

    // PID 1 in the container is the broker: SIGTERM must lead to a clean shutdown, not a kill.
    let stop = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(20),
        container.stop_with_timeout(Some(10)),
    )
    .await
    .expect("docker stop answered in time")
    .expect("docker stop");
    let stop_took = stop.elapsed();
    let exit = container.exit_code().await.expect("exit code");
    let logs =
        String::from_utf8_lossy(&container.stderr_to_vec().await.expect("logs")).into_owned();
    assert_eq!(
        exit,
        Some(0),
        "the broker exits 0 on SIGTERM; logs:\n{logs}"
    );
    assert!(
        logs.contains("clean shutdown complete"),
        "clean shutdown logged; logs:\n{logs}"
    );
    tokio::time::timeout(Duration::from_secs(20), container.rm())
        .await
        .expect("docker rm answered in time")
        .expect("docker rm");
    println!(
        "container test: started {t_started:?}, serving {t_ready:?}, {RECORDS} records round-tripped {t_round_trip:?}, \
         stopped in {stop_took:?}, total {:?}",
        started.elapsed()
    );
}

fn key_of(i: usize) -> Vec<u8> {
    format!("key-{}", i % KEYS).into_bytes()
}

fn value_of(i: usize) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat(i % 100)).into_bytes()
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    c
}

/// Polls Metadata until the broker answers and advertises `bootstrap`, within READY_WAIT.
/// A TCP connect alone proves nothing: Docker's port proxy accepts before the broker listens.
async fn wait_until_serving(container: &ContainerAsync<GenericImage>, bootstrap: &str) {
    let deadline = Instant::now() + READY_WAIT;
    let probe: BaseConsumer = client_config(bootstrap).create().expect("metadata client");
    let probe = std::sync::Arc::new(probe);
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if !container.is_running().await.unwrap_or(false) {
            let logs = container.stderr_to_vec().await.unwrap_or_default();
            panic!(
                "the container exited before serving; logs:\n{}",
                String::from_utf8_lossy(&logs)
            );
        }
        let p = probe.clone();
        let answer = tokio::task::spawn_blocking(move || {
            p.fetch_metadata(None, Duration::from_secs(2)).map(|m| {
                m.brokers()
                    .iter()
                    .map(|b| format!("{}:{}", b.host(), b.port()))
                    .collect::<Vec<_>>()
            })
        })
        .await
        .expect("metadata probe");
        match answer {
            Ok(brokers) if brokers == [bootstrap] => return,
            Ok(brokers) => panic!("the broker advertises {brokers:?}, not [{bootstrap}]"),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the broker did not answer Metadata at {bootstrap} within {READY_WAIT:?}: {last}");
}

/// `docker info` answers: the CLI is installed and an engine is reachable with the same settings
/// (DOCKER_HOST, context) testcontainers uses.
fn docker_reachable() -> Result<(), String> {
    let mut cmd = Command::new("docker");
    cmd.args(["info", "--format", "{{.ServerVersion}}"]);
    let (ok, output) =
        run_bounded(&mut cmd, DOCKER_CLI_WAIT, true).map_err(|e| format!("`docker info`: {e}"))?;
    if ok {
        Ok(())
    } else {
        Err(format!("`docker info` failed: {}", output.trim()))
    }
}

/// Reuses the image when present (unless GREGOR_TEST_IMAGE_REBUILD=1), else builds it with
/// docker/build-image.sh. Panics when the build fails: the engine is there, so that is a failure.
fn ensure_image(image: &str) {
    let rebuild = std::env::var("GREGOR_TEST_IMAGE_REBUILD").is_ok_and(|v| v == "1");
    if !rebuild {
        let mut inspect = Command::new("docker");
        inspect.args([
            "image",
            "inspect",
            "--format",
            "{{.Created}} {{.Size}}",
            image,
        ]);
        match run_bounded(&mut inspect, DOCKER_CLI_WAIT, true) {
            Ok((true, out)) => {
                println!(
                    "reusing image {image} (created, bytes: {}); GREGOR_TEST_IMAGE_REBUILD=1 rebuilds it",
                    out.trim()
                );
                return;
            }
            Ok((false, _)) => {
                println!("image {image} not found: building it with docker/build-image.sh")
            }
            Err(e) => panic!("`docker image inspect {image}`: {e}"),
        }
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/build-image.sh");
    let t = Instant::now();
    let mut build = Command::new("sh");
    build
        .arg(script)
        .arg(image)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match run_bounded(&mut build, IMAGE_BUILD_WAIT, false) {
        Ok((true, _)) => println!("built image {image} in {:?}", t.elapsed()),
        Ok((false, _)) => panic!("docker/build-image.sh {image} failed (its output is above)"),
        Err(e) => panic!("docker/build-image.sh {image}: {e}"),
    }
}

/// Runs `cmd`, killing it after `wait`. Returns (exit status success, captured stdout+stderr);
/// with `capture` false the output goes to the test's own stdout/stderr (long builds show progress).
fn run_bounded(cmd: &mut Command, wait: Duration, capture: bool) -> Result<(bool, String), String> {
    let (out, err) = if capture {
        (Stdio::piped(), Stdio::piped())
    } else {
        (Stdio::inherit(), Stdio::inherit())
    };
    // Its own process group, so a timeout kills the whole tree (the build script's cargo too).
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| e.to_string())?;
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + wait;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                // SAFETY: kill(2) on the child's own process group; no memory is involved.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                let _ = child.wait();
                return Err(format!("no answer within {wait:?}; killed"));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let text = format!(
        "{}{}",
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default()
    );
    Ok((status.success(), text))
}
