//! A disk that fills up: the broker's log directory on a small tmpfs, filled by the test until
//! a write cannot land.
//!
//! `full_disk_refuses_writes_with_storage_error_and_keeps_what_was_acknowledged` shows, for topic
//! `full` (one partition, small segments so that rolls happen on the full disk too):
//!
//! 1. Writes go on until the disk is full, and the write that does not fit is refused with
//!    KAFKA_STORAGE_ERROR (librdkafka with retries off reports the broker's own code). Later
//!    writes are refused the same way; the broker keeps running and serving reads.
//! 2. Every acknowledged record reads back at its acknowledged offset, offsets gapless from 0:
//!    a refused write took no offset and left nothing half-written behind.
//! 3. Once space is freed, writes are accepted again (Gregor does not take the directory
//!    offline, as Kafka does: a test broker that can go on is worth more than one that halts),
//!    at the next offset.
//! 4. After `kill -9` and a restart on the same directory, everything acknowledged is still
//!    there and nothing else is. The broker logged the failure once and the recovery once.
//!
//! Needs root (mounting a tmpfs); otherwise it prints `SKIPPED: <reason>` and passes, as
//! tests/partition_netns.rs does. The mount is removed at the end (and on a failing test), after
//! the broker, which is this test's own child, is killed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::process::{BrokerProcess, free_port};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "full";
/// The tmpfs, and what the test leaves free of it before producing.
const DISK_BYTES: u64 = 16 << 20;
const LEFT_FREE_BYTES: u64 = 1 << 20;
const VALUE_BYTES: usize = 8 << 10;
/// More records than the free space holds, so the disk fills before they are all sent.
const SENDS_MAX: usize = 4 * (LEFT_FREE_BYTES as usize) / VALUE_BYTES;
const WAIT: Duration = Duration::from_secs(30);

/// The tmpfs mount; unmounted on drop (lazily, should anything still hold it).
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path) -> Result<Mount, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (mounting a tmpfs needs root)".into());
        }
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let size = format!("size={DISK_BYTES}");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "gregor-disk-full"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Mount(at.to_path_buf()))
    }

    fn free_bytes(&self) -> u64 {
        let path = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: statvfs writes into the zeroed struct we own; the path is NUL-terminated.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
        assert_eq!(rc, 0, "statvfs {}", self.0.display());
        st.f_bavail as u64 * st.f_frsize as u64
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4");
    c
}

fn producer(bootstrap: &str) -> FutureProducer {
    config(bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("retries", "0")
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer")
}

fn value(seq: usize) -> Vec<u8> {
    let mut v = format!("full-{seq}-").into_bytes();
    v.resize(VALUE_BYTES, b'.');
    v
}

/// Sends `seq`'s record: its offset, or the error librdkafka reports.
async fn send(p: &FutureProducer, seq: usize) -> Result<i64, KafkaError> {
    let v = value(seq);
    let r = FutureRecord::<(), _>::to(TOPIC).partition(0).payload(&v);
    p.send(r, WAIT).await.map(|d| d.offset).map_err(|(e, _)| e)
}

/// Every record of the partition from the beginning, until `count` have come (within `WAIT`):
/// (offset, value). librdkafka's assign needs a group, whose coordinator lookup creates the
/// offsets topic: the test reads once before it fills the disk, so that is not written on it.
fn read_all(bootstrap: &str, count: usize) -> Vec<(i64, Vec<u8>)> {
    let c: BaseConsumer = config(bootstrap)
        .set("group.id", "disk-full-check")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)
        .expect("tpl");
    c.assign(&tpl).expect("assign");
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push((m.offset(), m.payload().unwrap_or_default().to_vec())),
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

/// The partition's high watermark, as a client sees it.
fn high_watermark(bootstrap: &str) -> i64 {
    let c: BaseConsumer = config(bootstrap).create().expect("consumer");
    c.fetch_watermarks(TOPIC, 0, WAIT).expect("watermarks").1
}

fn assert_reads_back(bootstrap: &str, acked: &[(usize, i64)]) {
    let got = read_all(bootstrap, acked.len());
    assert_eq!(
        got.len(),
        acked.len(),
        "every acknowledged record reads back"
    );
    for ((seq, offset), (o, v)) in acked.iter().zip(&got) {
        assert_eq!(o, offset, "send {seq} at its acknowledged offset");
        assert!(*v == value(*seq), "send {seq}'s bytes at offset {o}");
    }
    assert_eq!(
        high_watermark(bootstrap),
        acked.len() as i64,
        "nothing else"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_writes_with_storage_error_and_keeps_what_was_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = match Mount::new(&dir.path().join("disk")) {
        Ok(m) => m,
        Err(reason) => {
            println!("SKIPPED: {reason}");
            return;
        }
    };
    let data = mount.0.join("data");
    let port = free_port();
    let mut broker = BrokerProcess::spawn(
        vec![
            format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
            format!("log.dirs={}", data.display()),
            "log.segment.bytes=262144".into(),
            "offsets.topic.num.partitions=1".into(),
        ],
        ([127, 0, 0, 1], port).into(),
        dir.path().join("broker.log"),
    );
    broker.wait_accepting();
    let bootstrap = broker.bootstrap();
    let admin: AdminClient<DefaultClientContext> = config(&bootstrap).create().expect("admin");
    let options = AdminOptions::new().operation_timeout(Some(WAIT));
    for r in admin
        .create_topics(
            &[NewTopic::new(TOPIC, 1, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .expect("create_topics")
    {
        r.expect("topic created");
    }
    let p = producer(&bootstrap);
    let mut acked: Vec<(usize, i64)> = Vec::new();
    acked.push((
        0,
        send(&p, 0).await.expect("a first write on an empty disk"),
    ));
    assert_reads_back(&bootstrap, &acked);

    // Fill the disk but for LEFT_FREE_BYTES.
    let filler = mount.0.join("filler");
    let fill = mount.free_bytes().saturating_sub(LEFT_FREE_BYTES);
    std::fs::write(&filler, vec![0u8; fill as usize]).expect("filler");

    // 1. Writes until one does not fit.
    let mut refused = None;
    for seq in 1..SENDS_MAX {
        match send(&p, seq).await {
            Ok(offset) => acked.push((seq, offset)),
            Err(e) => {
                refused = Some((seq, e));
                break;
            }
        }
    }
    let (seq, e) = refused.unwrap_or_else(|| {
        panic!(
            "{SENDS_MAX} writes of {VALUE_BYTES} bytes fit in {LEFT_FREE_BYTES} free bytes \
             ({} left)",
            mount.free_bytes()
        )
    });
    assert!(
        matches!(
            e,
            KafkaError::MessageProduction(RDKafkaErrorCode::KafkaStorageError)
        ),
        "send {seq} refused with KAFKA_STORAGE_ERROR, got {e:?}\n{}",
        broker.log_tail()
    );
    assert!(acked.len() > 10, "the free space took records first");
    println!(
        "{} records acknowledged, send {seq} refused: {e}",
        acked.len()
    );
    for later in seq + 1..seq + 4 {
        let e = send(&p, later).await.expect_err("the disk is still full");
        assert!(
            matches!(
                e,
                KafkaError::MessageProduction(RDKafkaErrorCode::KafkaStorageError)
            ),
            "send {later}: {e:?}"
        );
    }
    assert_eq!(
        broker.has_exited(),
        None,
        "the broker runs on with a full disk"
    );

    // 2. What was acknowledged reads back, gapless from 0.
    assert!(
        acked.iter().enumerate().all(|(i, a)| a.1 == i as i64),
        "acknowledged offsets are 0.. without gaps"
    );
    assert_reads_back(&bootstrap, &acked);

    // 3. Space again: writes go on at the next offset.
    std::fs::remove_file(&filler).expect("remove filler");
    let next = acked.len() as i64;
    for seq in SENDS_MAX..SENDS_MAX + 5 {
        let offset = send(&p, seq).await.unwrap_or_else(|e| {
            panic!(
                "send {seq} after space was freed: {e:?}\n{}",
                broker.log_tail()
            )
        });
        assert_eq!(offset, next + (seq - SENDS_MAX) as i64);
        acked.push((seq, offset));
    }
    assert_reads_back(&bootstrap, &acked);
    let log = broker.log();
    let failed = "write failed (appends fail with KAFKA_STORAGE_ERROR while this lasts)";
    assert!(
        log.matches(failed).count() == 1 && log.matches("writes succeed again").count() == 1,
        "the broker logged the failure and the recovery once each:\n{log}"
    );

    // 4. kill -9 and restart: all of it still there, nothing else.
    drop(p);
    broker.kill9();
    broker.respawn();
    broker.wait_accepting();
    assert_reads_back(&broker.bootstrap(), &acked);
    drop(broker);
    drop(mount);
}
