//! DescribeLogDirs: each configured log directory with the space of its volume and the size of
//! every partition log in it.
//!
//! Contract, as Kafka 4.1's `ReplicaManager.describeLogDirs`: one result per distinct `log.dirs`
//! entry, named by its absolute path; a null topic list asks for every partition; a partition's
//! size is the sum of its segments' log bytes, its offset lag 0 (a leader's high watermark never
//! passes its log end) and it is never a future replica; topics with no asked-for partition are
//! left out. Total and usable bytes (v4) are the volume's, from statvfs, as Java's FileStore
//! reports them. A directory whose volume cannot be read answers KAFKA_STORAGE_ERROR. Gregor keeps
//! every log in the first directory, so any other holds no partitions.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::str_bytes;
use crate::log::LogError;
use crate::model::TopicPartition;
use crate::protocol::msg::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use crate::protocol::msg::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use crate::protocol::{ApiKey, VersionRange};
use crate::server::error_code::error_code;
use crate::server::{Broker, BrokerError};

pub const VERSIONS: &[(ApiKey, VersionRange)] =
    &[(ApiKey::DescribeLogDirs, VersionRange::new(1, 4))];

pub fn handle(
    broker: &Broker,
    request: DescribeLogDirsRequest,
    _version: i16,
) -> DescribeLogDirsResponse {
    let wanted: Option<HashSet<(String, i32)>> = request.topics.map(|topics| {
        topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.to_string(), *p)))
            .collect()
    });
    let logs = broker.replicas.log_manager();
    let home = absolute(logs.log_dir());
    let mut seen = HashSet::new();
    let mut response = DescribeLogDirsResponse::default();
    for dir in &broker.config.log_dirs {
        let dir = absolute(dir);
        if !seen.insert(dir.clone()) {
            continue;
        }
        let mut result = DescribeLogDirsResult::default();
        result.log_dir = str_bytes(&dir.to_string_lossy());
        match volume_space(&dir) {
            Ok((total, usable)) => {
                result.total_bytes = total;
                result.usable_bytes = usable;
                if dir == home {
                    let asked = |tp: &TopicPartition| {
                        wanted
                            .as_ref()
                            .is_none_or(|w| w.contains(&(tp.topic.to_string(), tp.partition)))
                    };
                    result.topics = topics(
                        logs.all_logs()
                            .into_iter()
                            .filter(|(tp, _)| asked(tp))
                            .map(|(tp, log)| (tp, log.size_bytes())),
                    );
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot describe log dir");
                result.error_code = error_code(&BrokerError::Log(LogError::Io(e)));
            }
        }
        response.results.push(result);
    }
    response
}

/// Groups partition sizes by topic, topics by name and partitions by index.
fn topics(sizes: impl Iterator<Item = (TopicPartition, u64)>) -> Vec<DescribeLogDirsTopic> {
    let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for (tp, size) in sizes {
        let mut p = DescribeLogDirsPartition::default();
        p.partition_index = tp.partition;
        p.partition_size = i64::try_from(size).unwrap_or(i64::MAX);
        p.offset_lag = 0;
        p.is_future_key = false;
        by_topic.entry(tp.topic.to_string()).or_default().push(p);
    }
    by_topic
        .into_iter()
        .map(|(name, mut partitions)| {
            partitions.sort_by_key(|p| p.partition_index);
            let mut t = DescribeLogDirsTopic::default();
            t.name = TopicName(str_bytes(&name));
            t.partitions = partitions;
            t
        })
        .collect()
}

/// The path as Java's `Path.toAbsolutePath` gives it: joined to the working directory, not
/// resolved further.
fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Total and usable bytes of the volume holding `dir`, as Java's `FileStore.getTotalSpace` and
/// `getUsableSpace` compute them (blocks, and blocks available to unprivileged users, times the
/// fragment size); a size too large for an i64 is i64::MAX, as Kafka's
/// `adjustForLargeFileSystems` makes it.
fn volume_space(dir: &Path) -> std::io::Result<(i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and `stats` points to
    // writable memory of the struct's size; statvfs writes it whole when it returns 0.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised the struct.
    let stats = unsafe { stats.assume_init() };
    // The field types' widths differ between platforms; all fit a u64.
    #[allow(clippy::unnecessary_cast)]
    let (blocks, available, fragment) = (
        stats.f_blocks as u64,
        stats.f_bavail as u64,
        stats.f_frsize as u64,
    );
    let bytes = |n: u64| i64::try_from(n.saturating_mul(fragment)).unwrap_or(i64::MAX);
    Ok((bytes(blocks), bytes(available)))
}
