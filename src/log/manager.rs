//! `LogManager`: one log directory (`log.dirs` entry): finds partitions on disk, opens each
//! `PartitionLog` with the right recovery point, writes the log-dir checkpoints, and marks a
//! clean shutdown.
//!
//! On-disk format: `<log_dir>/<topic>-<partition>/` per partition (topic names may contain '-':
//! the partition is after the LAST '-'); `recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint` and `replication-offset-checkpoint` (high watermarks the
//! replication layer hands over; see `checkpoint`); `.kafka_cleanshutdown` exists only between
//! a clean shutdown and the next start (it is removed at open, so a crash after start counts as
//! unclean); `<topic>-<n>.<hex>-delete` directories are partitions being deleted.
//!
//! Invariants: a partition is open at most once (the `logs` map). Checkpoint entries of
//! partitions on disk that were not (yet) opened are kept, so a checkpoint never forgets them.
//! Lock order: `logs` before `checkpoints`, both before any `PartitionLog` lock;
//! `high_watermarks` is taken alone (it serializes writers of its file, which share a tmp name). `open_log` holds
//! `logs` while a log opens (and recovers), so a partition is never opened twice; otherwise the
//! manager never holds its locks while fsyncing a log.
//! Must not import: protocol, `kafka_protocol`, server, `tokio::net`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::LogError;
use super::checkpoint::{
    self, LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, REPLICATION_OFFSET_CHECKPOINT,
};
use super::partition::{PartitionLog, delete_partition_dir};
use super::segment::fsync_dir;
use crate::clock::SharedClock;
use crate::config::TopicSettings;
use crate::model::{Offset, TopicId, TopicPartition};

pub const CLEAN_SHUTDOWN_MARKER: &str = ".kafka_cleanshutdown";
const DELETE_SUFFIX: &str = "-delete";

#[derive(Debug, Default)]
struct Checkpoints {
    recovery_points: HashMap<TopicPartition, i64>,
    log_starts: HashMap<TopicPartition, i64>,
}

#[derive(Debug)]
pub struct LogManager {
    log_dir: PathBuf,
    clock: SharedClock,
    clean_shutdown: bool,
    logs: Mutex<HashMap<TopicPartition, Arc<PartitionLog>>>,
    checkpoints: Mutex<Checkpoints>,
    delete_counter: AtomicU64,
    /// Held while `replication-offset-checkpoint` is written.
    high_watermarks: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Splits `<topic>-<partition>` at the last '-'.
pub fn parse_partition_dir_name(name: &str) -> Option<TopicPartition> {
    let (topic, part) = name.rsplit_once('-')?;
    if topic.is_empty() || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let partition: i32 = part.parse().ok()?;
    Some(TopicPartition::new(topic, partition))
}

impl LogManager {
    pub fn open(log_dir: PathBuf, clock: SharedClock) -> Result<LogManager, LogError> {
        std::fs::create_dir_all(&log_dir)?;
        let marker = log_dir.join(CLEAN_SHUTDOWN_MARKER);
        let clean_shutdown = marker.exists();
        if clean_shutdown {
            std::fs::remove_file(&marker)?;
            fsync_dir(&log_dir)?;
        }
        let read = |name: &str| match checkpoint::read_offset_checkpoint(&log_dir.join(name)) {
            Ok(m) => m,
            Err(e) => {
                // Forgetting a recovery point only costs a longer recovery from offset 0.
                tracing::warn!(dir = %log_dir.display(), "ignoring unreadable {name}: {e}");
                HashMap::new()
            }
        };
        let checkpoints = Checkpoints {
            recovery_points: read(RECOVERY_POINT_CHECKPOINT),
            log_starts: read(LOG_START_OFFSET_CHECKPOINT),
        };
        tracing::info!(dir = %log_dir.display(), clean_shutdown, "opened log dir");
        Ok(LogManager {
            log_dir,
            clock,
            clean_shutdown,
            logs: Mutex::new(HashMap::new()),
            checkpoints: Mutex::new(checkpoints),
            delete_counter: AtomicU64::new(0),
            high_watermarks: Mutex::new(()),
        })
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Whether the previous run ended with a clean shutdown.
    pub fn was_clean_shutdown(&self) -> bool {
        self.clean_shutdown
    }

    fn partition_dir(&self, tp: &TopicPartition) -> PathBuf {
        self.log_dir.join(format!("{}-{}", tp.topic, tp.partition))
    }

    /// Partitions found on disk (directories with a `partition.metadata`); removes leftover
    /// `*-delete` directories on the way.
    pub fn partitions_on_disk(&self) -> Result<Vec<(TopicPartition, TopicId)>, LogError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.log_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.ends_with(DELETE_SUFFIX) {
                tracing::info!(dir = %entry.path().display(), "removing leftover deleted partition");
                delete_partition_dir(&entry.path())?;
                continue;
            }
            let Some(tp) = parse_partition_dir_name(&name) else {
                continue;
            };
            match checkpoint::read_partition_metadata(&entry.path()) {
                Ok(Some(id)) => out.push((tp, id)),
                Ok(None) => {}
                Err(e) => tracing::warn!(dir = %entry.path().display(), "skipping partition: {e}"),
            }
        }
        out.sort();
        Ok(out)
    }

    /// Opens (once) the log of `tp`, recovering it when the last shutdown was not clean.
    pub fn open_log(
        &self,
        tp: &TopicPartition,
        topic_id: TopicId,
        settings: TopicSettings,
    ) -> Result<Arc<PartitionLog>, LogError> {
        let mut logs = lock(&self.logs);
        if let Some(log) = logs.get(tp) {
            return Ok(log.clone());
        }
        let (recover_from, log_start) = {
            let cp = lock(&self.checkpoints);
            let rp = if self.clean_shutdown {
                None
            } else {
                Some(Offset(cp.recovery_points.get(tp).copied().unwrap_or(0)))
            };
            (rp, cp.log_starts.get(tp).copied())
        };
        let log = PartitionLog::open(
            &self.partition_dir(tp),
            topic_id,
            settings,
            self.clock.clone(),
            recover_from,
        )?;
        if let Some(start) = log_start {
            log.advance_log_start_offset(Offset(start));
        }
        let log = Arc::new(log);
        logs.insert(tp.clone(), log.clone());
        Ok(log)
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        lock(&self.logs).get(tp).cloned()
    }

    pub fn all_logs(&self) -> Vec<(TopicPartition, Arc<PartitionLog>)> {
        let mut v: Vec<_> = lock(&self.logs)
            .iter()
            .map(|(tp, l)| (tp.clone(), l.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Applies new settings to an open log (no-op when it is not open).
    pub fn update_settings(&self, tp: &TopicPartition, settings: TopicSettings) {
        if let Some(log) = self.get(tp) {
            log.update_settings(settings);
        }
    }

    /// Closes and deletes a partition: rename to `<topic>-<n>.<hex>-delete` (atomic from a reader
    /// of the directory's point of view), then remove it.
    pub fn remove_log(&self, tp: &TopicPartition) -> Result<(), LogError> {
        let log = lock(&self.logs).remove(tp);
        {
            let mut cp = lock(&self.checkpoints);
            cp.recovery_points.remove(tp);
            cp.log_starts.remove(tp);
        }
        let dir = self.partition_dir(tp);
        if let Some(log) = &log {
            // Mark closed so concurrent appends fail instead of writing into a vanishing dir.
            log.mark_closed();
        }
        if !dir.exists() {
            return Ok(());
        }
        let n = self.delete_counter.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{:x}{:04x}", self.clock.now_ms(), n);
        let doomed = self.log_dir.join(format!(
            "{}-{}.{tag}{DELETE_SUFFIX}",
            tp.topic, tp.partition
        ));
        std::fs::rename(&dir, &doomed)?;
        fsync_dir(&self.log_dir)?;
        delete_partition_dir(&doomed)
    }

    /// Writes both log-dir checkpoints from every open log (plus remembered entries of
    /// partitions not opened in this run).
    pub fn checkpoint(&self) -> Result<(), LogError> {
        let logs = self.all_logs();
        // Rolled segments are synced here, off the produce path, so the recovery point follows
        // the log and an unclean start rescans little more than the active segment.
        for (tp, log) in &logs {
            log.sweep_read_ahead();
            let flushed = log.flush_if_due().and_then(|_| log.flush_rolled());
            if let Err(e) = flushed {
                tracing::warn!(partition = %tp, error = %e, "flushing rolled segments failed");
            }
        }
        let (rps, starts) = {
            let mut cp = lock(&self.checkpoints);
            for (tp, log) in &logs {
                cp.recovery_points
                    .insert(tp.clone(), log.recovery_point().0);
                cp.log_starts.insert(tp.clone(), log.log_start_offset().0);
            }
            (cp.recovery_points.clone(), cp.log_starts.clone())
        };
        checkpoint::write_offset_checkpoint(&self.log_dir.join(RECOVERY_POINT_CHECKPOINT), &rps)?;
        checkpoint::write_offset_checkpoint(
            &self.log_dir.join(LOG_START_OFFSET_CHECKPOINT),
            &starts,
        )?;
        Ok(())
    }

    /// Replaces `<log dir>/replication-offset-checkpoint` with these high watermarks (Kafka's
    /// offset checkpoint format, written atomically: tmp file, fsync, rename, fsync dir). The
    /// caller passes every partition of this log dir it wants kept; a partition given twice
    /// keeps its last offset.
    pub fn write_high_watermarks(&self, hws: &[(TopicPartition, Offset)]) -> Result<(), LogError> {
        let entries: HashMap<TopicPartition, i64> =
            hws.iter().map(|(tp, hw)| (tp.clone(), hw.0)).collect();
        let _writer = lock(&self.high_watermarks);
        checkpoint::write_offset_checkpoint(
            &self.log_dir.join(REPLICATION_OFFSET_CHECKPOINT),
            &entries,
        )
    }

    /// The high watermarks last written by `write_high_watermarks`; a missing file is an empty
    /// map, a malformed one `Corrupt`.
    pub fn read_high_watermarks(&self) -> Result<HashMap<TopicPartition, Offset>, LogError> {
        let entries =
            checkpoint::read_offset_checkpoint(&self.log_dir.join(REPLICATION_OFFSET_CHECKPOINT))?;
        Ok(entries
            .into_iter()
            .map(|(tp, hw)| (tp, Offset(hw)))
            .collect())
    }

    /// Runs retention on every open log; returns the number of segments deleted.
    pub fn apply_retention_all(&self) -> Result<usize, LogError> {
        let mut total = 0;
        for (tp, log) in self.all_logs() {
            match log.apply_retention() {
                Ok(n) => total += n,
                Err(e) => tracing::warn!(partition = %tp, "retention failed: {e}"),
            }
        }
        Ok(total)
    }

    /// Flushes every open log, then checkpoints the recovery points.
    pub fn flush_all(&self) -> Result<(), LogError> {
        for (_, log) in self.all_logs() {
            log.flush()?;
        }
        self.checkpoint()
    }

    /// Closes every log, writes the checkpoints, then the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), LogError> {
        for (_, log) in self.all_logs() {
            log.close()?;
        }
        self.checkpoint()?;
        let marker = self.log_dir.join(CLEAN_SHUTDOWN_MARKER);
        checkpoint::write_atomically(&marker, b"")?;
        tracing::info!(dir = %self.log_dir.display(), "log dir shut down cleanly");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::{manual_clock, simple, small_settings};
    use crate::model::LeaderEpoch;

    #[test]
    fn dir_names_split_at_last_dash() {
        assert_eq!(
            parse_partition_dir_name("my-topic-12"),
            Some(TopicPartition::new("my-topic", 12))
        );
        assert_eq!(
            parse_partition_dir_name("t-0"),
            Some(TopicPartition::new("t", 0))
        );
        assert_eq!(parse_partition_dir_name("t-x"), None);
        assert_eq!(parse_partition_dir_name("-3"), None);
        assert_eq!(parse_partition_dir_name("t-0.abc-delete"), None);
    }

    #[test]
    fn lifecycle_checkpoints_and_clean_marker() {
        let tmp = tempfile::tempdir().unwrap();
        let (_c, clock) = manual_clock(1_000_000);
        let tp = TopicPartition::new("my-topic", 1);
        let id = TopicId([3; 16]);
        {
            let m = LogManager::open(tmp.path().to_path_buf(), clock.clone()).unwrap();
            assert!(!m.was_clean_shutdown());
            let log = m.open_log(&tp, id, small_settings(1 << 20)).unwrap();
            for _ in 0..3 {
                log.append(simple(2), LeaderEpoch(0)).unwrap();
            }
            m.shutdown().unwrap();
        }
        assert!(tmp.path().join(CLEAN_SHUTDOWN_MARKER).exists());
        let rp = std::fs::read_to_string(tmp.path().join(RECOVERY_POINT_CHECKPOINT)).unwrap();
        assert_eq!(rp, "0\n1\nmy-topic 1 6\n");
        let ls = std::fs::read_to_string(tmp.path().join(LOG_START_OFFSET_CHECKPOINT)).unwrap();
        assert_eq!(ls, "0\n1\nmy-topic 1 0\n");

        // Leftover delete dir is cleaned; partitions are found.
        std::fs::create_dir_all(tmp.path().join("gone-0.abc-delete")).unwrap();
        let m = LogManager::open(tmp.path().to_path_buf(), clock.clone()).unwrap();
        assert!(m.was_clean_shutdown());
        assert!(!tmp.path().join(CLEAN_SHUTDOWN_MARKER).exists());
        assert_eq!(m.partitions_on_disk().unwrap(), vec![(tp.clone(), id)]);
        assert!(!tmp.path().join("gone-0.abc-delete").exists());
        let log = m.open_log(&tp, id, small_settings(1 << 20)).unwrap();
        assert_eq!(log.log_end_offset(), Offset(6));
        assert!(Arc::ptr_eq(&log, &m.get(&tp).unwrap()));
        assert_eq!(m.all_logs().len(), 1);
        m.flush_all().unwrap();
        assert_eq!(m.apply_retention_all().unwrap(), 0);
        drop(m);

        // No marker now: unclean open recovers from the checkpointed point.
        let m = LogManager::open(tmp.path().to_path_buf(), clock.clone()).unwrap();
        assert!(!m.was_clean_shutdown());
        let log = m.open_log(&tp, id, small_settings(1 << 20)).unwrap();
        assert_eq!(log.log_end_offset(), Offset(6));
        m.remove_log(&tp).unwrap();
        assert!(m.get(&tp).is_none());
        assert!(!tmp.path().join("my-topic-1").exists());
        assert!(m.partitions_on_disk().unwrap().is_empty());
        assert!(matches!(
            log.append(simple(1), LeaderEpoch(0)),
            Err(LogError::Closed)
        ));
    }

    #[test]
    fn high_watermark_checkpoint_roundtrip() {
        let tmp = tempfile::tempdir().unwrap();
        let (_c, clock) = manual_clock(1_000_000);
        let m = LogManager::open(tmp.path().to_path_buf(), clock.clone()).unwrap();
        assert!(m.read_high_watermarks().unwrap().is_empty(), "no file yet");
        let a = TopicPartition::new("my-topic", 0);
        let b = TopicPartition::new("other", 7);
        m.write_high_watermarks(&[(a.clone(), Offset(42)), (b.clone(), Offset(0))])
            .unwrap();
        let path = tmp.path().join(REPLICATION_OFFSET_CHECKPOINT);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n2\nmy-topic 0 42\nother 7 0\n"
        );
        assert!(
            !tmp.path()
                .join(format!("{REPLICATION_OFFSET_CHECKPOINT}.tmp"))
                .exists()
        );
        let hws = m.read_high_watermarks().unwrap();
        assert_eq!(hws.len(), 2);
        assert_eq!(hws[&a], Offset(42));
        assert_eq!(hws[&b], Offset(0));
        // A later write replaces the file; a reopened manager reads the same.
        m.write_high_watermarks(&[(a.clone(), Offset(50))]).unwrap();
        drop(m);
        let m = LogManager::open(tmp.path().to_path_buf(), clock).unwrap();
        let hws = m.read_high_watermarks().unwrap();
        assert_eq!(hws.into_iter().collect::<Vec<_>>(), vec![(a, Offset(50))]);
        std::fs::write(&path, "0\n2\nmy-topic 0 42\n").unwrap();
        assert!(matches!(
            m.read_high_watermarks(),
            Err(LogError::Corrupt(_))
        ));
    }
}
