//! `PartitionLog`: one partition's log directory: an ordered list of segments (the last is the
//! active one), offset assignment, idempotence, reads, timestamp lookups, flushing, retention,
//! and the follower's side of replication (`append_replicated`, `truncate_to`,
//! `truncate_fully_and_start_at`, `assign_epoch_start`).
//!
//! Invariants: `log_start_offset <= recovery_point <= log_end_offset` (asserted when they
//! move); the segment list is never empty and is sorted by base offset; only the last segment is
//! appended to; a batch is visible to readers only once fully written (segment `size_bytes`).
//! Reads take the lock briefly to snapshot `(Arc<File>, positions, committed size)` and do their
//! `pread`s with no lock held. Appends hold the lock while writing (appends are serialized), but
//! fsyncs triggered by `flush.messages` / `flush.ms` and `flush()` run outside it. Truncations
//! are the one way bytes below a committed size go away: they bump `truncations` first, and a
//! lock-free read that overlapped one reads again. The leader epochs (epoch, first offset)
//! ascend in both; the in-memory list is what `leader-epoch-checkpoint` holds once written, and
//! at open the file is merged with what the batch headers show (`merge_epochs`).
//!
//! On-disk format: `<dir>/<20-digit base>.log|.index|.timeindex` (see `segment`, `index`),
//! `partition.metadata` and `leader-epoch-checkpoint` (see `checkpoint`).
//!
//! Lock order: `inner` is the only lock; never held across another lock. It is held across a
//! blocking fsync only by the rare operations that must not interleave with appends:
//! truncations, and writes of `leader-epoch-checkpoint` (only when the epochs changed).
//! Must not import: protocol, `kafka_protocol`, server, `tokio::net`.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::LogError;
use super::batch::{self, BatchHeader, BatchIter};
use super::checkpoint;
use super::page_cache::{self, CacheAdvice};
use super::producer_state::{ProducerEntry, ProducerStateManager, SequenceCheck};
use super::read_ahead::ReadAhead;
use super::segment::{self, ScanReader, Segment};
use crate::clock::SharedClock;
use crate::config::{TimestampType, TopicSettings};
use crate::model::{LeaderEpoch, Offset, TopicId};

/// Read-ahead for header walks on the read path (one index interval usually fits).
const READ_SCAN_CHUNK_BYTES: usize = 16 * 1024;
/// Attempts of a lock-free read that keeps overlapping truncations before it gives up (returns
/// nothing); truncations are rare (a follower's, after a leader change), so one retry is usual.
const READ_ATTEMPTS_MAX: usize = 4;

/// What `append` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    pub base_offset: Offset,
    pub last_offset: Offset,
    /// The broker's timestamp when the topic uses LogAppendTime, else -1.
    pub log_append_time_ms: i64,
    pub log_start_offset: Offset,
    /// The batch was already in the log (idempotent retry); nothing was written.
    pub duplicate: bool,
}

/// What `read` returns: whole batches as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    pub records: Bytes,
    pub log_start_offset: Offset,
    pub log_end_offset: Offset,
}

#[derive(Debug)]
struct Inner {
    settings: TopicSettings,
    segments: Vec<Segment>,
    log_start_offset: i64,
    log_end_offset: i64,
    recovery_point: i64,
    producers: ProducerStateManager,
    /// (leader epoch, first offset written in it), ascending.
    leader_epochs: Vec<(i32, i64)>,
    unflushed_records: i64,
    last_flush_mono_ms: i64,
    closed: bool,
    /// A segment was created since the directory was last fsynced (rolls do not sync it).
    dir_dirty: bool,
    /// Whether the last write failed (a full disk, say): logged once when writes start failing
    /// and once when they succeed again, not on every refused append.
    writes_failing: bool,
    /// `leader_epochs` changed since `leader-epoch-checkpoint` was last written.
    epochs_dirty: bool,
}

impl Inner {
    fn active(&self) -> Result<&Segment, LogError> {
        self.segments
            .last()
            .ok_or_else(|| LogError::Corrupt("log has no segment".into()))
    }

    fn active_mut(&mut self) -> Result<&mut Segment, LogError> {
        self.segments
            .last_mut()
            .ok_or_else(|| LogError::Corrupt("log has no segment".into()))
    }

    fn check_invariants(&self) {
        assert!(
            self.log_start_offset <= self.log_end_offset,
            "log start {} > log end {}",
            self.log_start_offset,
            self.log_end_offset
        );
        assert!(
            self.recovery_point <= self.log_end_offset,
            "recovery point {} > log end {}",
            self.recovery_point,
            self.log_end_offset
        );
        assert!(!self.segments.is_empty(), "log without segments");
    }

    /// Index of the segment holding `offset`: the last one whose base is <= offset.
    fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }
}

/// A snapshot of one segment for lock-free reading.
#[derive(Debug, Clone)]
struct SegmentView {
    file: Arc<std::fs::File>,
    start_position: u64,
    committed_bytes: u64,
    /// Bytes below this were dropped from the page cache (`page_cache`): reads of them go
    /// through `direct` when there is one, and are advised out again afterwards.
    dropped_bytes: u64,
    /// The segment's O_DIRECT descriptor, for a read starting below `dropped_bytes`.
    direct: Option<Arc<std::fs::File>>,
}

/// One partition's log.
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    topic_id: TopicId,
    clock: SharedClock,
    inner: Mutex<Inner>,
    /// Read-ahead of dropped bytes for a consumer that is behind (`read_ahead`).
    read_ahead: ReadAhead,
    /// Fetch reads served with O_DIRECT, and how many of them came from the read-ahead.
    direct_reads: AtomicU64,
    read_ahead_hits: AtomicU64,
    /// Bumped (under `inner`, before any file is cut) by every truncation. A lock-free read
    /// snapshots it with its segment views and discards what it read when it changed meanwhile,
    /// so no reader is handed bytes a truncation removed (`without_truncation`).
    truncations: AtomicU64,
}

fn overflow(what: &str) -> LogError {
    LogError::Overflow(what.to_owned())
}

/// Splits `records` into batches and checks each one: at most `max_bytes` (when given), at
/// least `records_min` records, a last offset delta that covers its records, a good CRC.
fn parse_and_verify(
    records: &Bytes,
    max_bytes: Option<usize>,
    records_min: i32,
) -> Result<Vec<(BatchHeader, std::ops::Range<usize>)>, LogError> {
    let mut parsed = Vec::new();
    for item in BatchIter::new(records) {
        let b = item?;
        let (h, range) = (b.header, b.range);
        let bytes = records
            .get(range.clone())
            .ok_or_else(|| LogError::Corrupt("batch out of buffer".into()))?;
        if let Some(max_bytes) = max_bytes
            && bytes.len() > max_bytes
        {
            return Err(LogError::MessageTooLarge {
                size_bytes: bytes.len(),
                max_bytes,
            });
        }
        if h.record_count < records_min {
            return Err(LogError::Corrupt(format!(
                "batch has record count {}",
                h.record_count
            )));
        }
        if h.last_offset_delta < h.record_count - 1 {
            return Err(LogError::Corrupt(format!(
                "last offset delta {} too small for {} records",
                h.last_offset_delta, h.record_count
            )));
        }
        batch::verify_crc(bytes)?;
        parsed.push((h, range));
    }
    if parsed.is_empty() {
        return Err(LogError::Corrupt("no record batch in append".into()));
    }
    Ok(parsed)
}

/// The epoch cache at open: `leader-epoch-checkpoint` (an unreadable one is ignored) without
/// entries past the log end (their batches were lost to an unclean stop), then every epoch the
/// batch headers (`from_headers`, found by the scan) show beyond it. An entry starting exactly
/// at the log end is kept: it is an epoch assigned before its first batch (`assign_epoch_start`).
/// Truncations rewrite the file before they cut the data, and other writes only add to its end,
/// so the file never holds an epoch the kept batches contradict.
fn merge_epochs(dir: &Path, from_headers: Vec<(i32, i64)>, log_end: i64) -> Vec<(i32, i64)> {
    let mut epochs = match checkpoint::read_leader_epoch_checkpoint(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "rebuilding leader epochs from batches: {e}");
            Vec::new()
        }
    };
    epochs.retain(|(_, start)| *start <= log_end);
    for (epoch, start) in from_headers {
        assign_epoch(&mut epochs, epoch, start);
    }
    epochs
}

/// Kafka's `LeaderEpochFileCache.assign` as its appends use it: only an epoch greater than the
/// latest is recorded; entries starting at or after `start` go first (an epoch that got no
/// batch before the next one began). A negative epoch (none) is ignored. Returns whether the
/// cache changed. Appends, replicated appends, `assign_epoch_start` and the rebuild at open
/// all go through here, so they agree.
fn assign_epoch(epochs: &mut Vec<(i32, i64)>, epoch: i32, start: i64) -> bool {
    if epoch < 0 || epochs.last().is_some_and(|(e, _)| epoch <= *e) {
        return false;
    }
    while epochs.last().is_some_and(|(_, s)| *s >= start) {
        epochs.pop();
    }
    epochs.push((epoch, start));
    true
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`. `recover_from = None`: the last shutdown was clean,
    /// trust the files (a torn tail is still cut). `Some(point)`: CRC-check every batch of every
    /// segment holding offsets >= point, cut at the first bad one and drop later segments.
    pub fn open(
        dir: &Path,
        topic_id: TopicId,
        settings: TopicSettings,
        clock: SharedClock,
        recover_from: Option<Offset>,
    ) -> Result<PartitionLog, LogError> {
        std::fs::create_dir_all(dir)?;
        match checkpoint::read_partition_metadata(dir)? {
            Some(found) if found != topic_id && !topic_id.is_zero() && !found.is_zero() => {
                return Err(LogError::InconsistentTopicId {
                    expected: checkpoint::topic_id_to_string(&topic_id),
                    found: checkpoint::topic_id_to_string(&found),
                });
            }
            Some(_) => {}
            None => checkpoint::write_partition_metadata(dir, &topic_id)?,
        }

        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if let Some(base) = name.to_str().and_then(segment::parse_log_file_name) {
                bases.push(base);
            }
        }
        bases.sort_unstable();

        let now_ms = clock.now_ms();
        let mut producers = ProducerStateManager::new();
        let mut leader_epochs: Vec<(i32, i64)> = Vec::new();
        let mut segments: Vec<Segment> = Vec::new();
        let mut cut_at: Option<usize> = None;
        for (i, base) in bases.iter().enumerate() {
            let next_base = bases.get(i + 1).copied();
            let verify = match recover_from {
                None => false,
                Some(p) => next_base.is_none_or(|nb| nb > p.0),
            };
            let mut visit = |h: &BatchHeader| {
                producers.load_batch(h);
                assign_epoch(&mut leader_epochs, h.partition_leader_epoch, h.base_offset);
            };
            let outcome = Segment::open(dir, *base, &settings, verify, now_ms, &mut visit)?;
            if verify {
                tracing::info!(dir = %dir.display(), base_offset = base, "recovered segment");
            }
            let truncated = outcome.truncated;
            segments.push(outcome.segment);
            if truncated {
                cut_at = Some(i + 1);
                break;
            }
        }
        if let Some(from) = cut_at {
            for base in bases.get(from..).unwrap_or_default() {
                tracing::warn!(dir = %dir.display(), base_offset = base, "deleting segment after a truncated one");
                for ext in ["log", "index", "timeindex"] {
                    let p = dir.join(format!("{base:020}.{ext}"));
                    if let Err(e) = std::fs::remove_file(&p)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        return Err(e.into());
                    }
                }
            }
        }
        // Drop empty segments that are not the last one: they hold nothing and would shadow
        // nothing, but keep the list simple (only the active segment may be empty).
        let mut kept: Vec<Segment> = Vec::with_capacity(segments.len());
        let count = segments.len();
        for (i, s) in segments.into_iter().enumerate() {
            if s.is_empty() && i + 1 < count {
                s.delete_files()?;
            } else {
                kept.push(s);
            }
        }
        let mut segments = kept;
        if segments.is_empty() {
            segments.push(Segment::create(dir, 0, &settings, true)?);
        }
        let first_base = segments.first().map_or(0, |s| s.base_offset);
        let log_end = segments.last().map_or(0, |s| s.next_offset);
        if recover_from.is_some() {
            for s in segments.iter_mut() {
                s.flush()?;
            }
        }
        let leader_epochs = merge_epochs(dir, leader_epochs, log_end);
        checkpoint::write_leader_epoch_checkpoint(dir, &leader_epochs)?;
        let inner = Inner {
            settings,
            segments,
            log_start_offset: first_base,
            log_end_offset: log_end,
            recovery_point: log_end,
            producers,
            leader_epochs,
            unflushed_records: 0,
            last_flush_mono_ms: clock.monotonic_ms(),
            closed: false,
            dir_dirty: false,
            writes_failing: false,
            epochs_dirty: false,
        };
        inner.check_invariants();
        Ok(PartitionLog {
            dir: dir.to_path_buf(),
            topic_id,
            clock,
            inner: Mutex::new(inner),
            read_ahead: ReadAhead::default(),
            direct_reads: AtomicU64::new(0),
            read_ahead_hits: AtomicU64::new(0),
            truncations: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock only happens on a failed invariant assert; the state
        // it guards is still the best we have, so keep serving rather than cascade panics.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn topic_id(&self) -> TopicId {
        self.topic_id
    }

    pub fn log_start_offset(&self) -> Offset {
        Offset(self.lock().log_start_offset)
    }

    pub fn log_end_offset(&self) -> Offset {
        Offset(self.lock().log_end_offset)
    }

    /// Offsets below this are known to be on stable storage.
    pub fn recovery_point(&self) -> Offset {
        Offset(self.lock().recovery_point)
    }

    pub fn settings(&self) -> TopicSettings {
        self.lock().settings.clone()
    }

    /// Replaces the topic settings; they apply from the next append, roll or retention pass.
    pub fn update_settings(&self, settings: TopicSettings) {
        self.lock().settings = settings;
    }

    /// (leader epoch, start offset) pairs seen in this log, ascending (for OffsetForLeaderEpoch).
    pub fn leader_epochs(&self) -> Vec<(LeaderEpoch, Offset)> {
        self.lock()
            .leader_epochs
            .iter()
            .map(|(e, o)| (LeaderEpoch(*e), Offset(*o)))
            .collect()
    }

    /// Number of segments (the active one included).
    pub fn segment_count(&self) -> usize {
        self.lock().segments.len()
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.lock().segments.iter().map(|s| s.size_bytes).sum()
    }

    /// Appends one or more client batches. Validates everything first and writes nothing when
    /// any batch is bad.
    pub fn append(
        &self,
        records: Bytes,
        leader_epoch: LeaderEpoch,
    ) -> Result<AppendResult, LogError> {
        let max_bytes = {
            let inner = self.lock();
            if inner.closed {
                return Err(LogError::Closed);
            }
            inner.settings.max_message_bytes as usize
        };
        // CRCs are checked without the lock: appends to other batches' CPU work need not wait.
        let parsed = parse_and_verify(&records, Some(max_bytes), 1)?;

        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Closed);
        }
        let now_ms = self.clock.now_ms();
        let log_append_time = inner.settings.message_timestamp_type == TimestampType::LogAppendTime;
        // Assign offsets and check sequences, staging producer state until the write succeeds.
        let mut next = inner.log_end_offset;
        let mut staged: Vec<(i64, ProducerEntry)> = Vec::new();
        let mut planned: Vec<(BatchHeader, std::ops::Range<usize>)> =
            Vec::with_capacity(parsed.len());
        let single = parsed.len() == 1;
        for (h, range) in &parsed {
            let mut h = *h;
            h.base_offset = next;
            h.partition_leader_epoch = leader_epoch.0;
            if log_append_time {
                h.max_timestamp = now_ms;
                h.attributes |= batch::ATTR_LOG_APPEND_TIME;
            }
            let current = staged
                .iter()
                .rev()
                .find(|(pid, _)| *pid == h.producer_id)
                .map(|(_, e)| e)
                .or_else(|| inner.producers.entry(h.producer_id));
            match ProducerStateManager::check(current, &h)? {
                SequenceCheck::NotIdempotent => {}
                SequenceCheck::Accept(entry) => staged.push((h.producer_id, entry)),
                SequenceCheck::Duplicate(meta) if single => {
                    return Ok(AppendResult {
                        base_offset: Offset(meta.base_offset),
                        last_offset: Offset(meta.last_offset),
                        log_append_time_ms: if log_append_time {
                            meta.timestamp_ms
                        } else {
                            -1
                        },
                        log_start_offset: Offset(inner.log_start_offset),
                        duplicate: true,
                    });
                }
                SequenceCheck::Duplicate(meta) => {
                    // A retry can only be recognised as a whole; a duplicate inside a larger
                    // append is out of order for what follows.
                    return Err(LogError::OutOfOrderSequence {
                        producer_id: h.producer_id,
                        expected: meta.last_seq.checked_add(1).unwrap_or(0),
                        got: h.base_sequence,
                    });
                }
            }
            next = h
                .last_offset()
                .checked_add(1)
                .ok_or_else(|| overflow("log end offset"))?;
            planned.push((h, range.clone()));
        }

        let base_offset = planned
            .first()
            .map_or(inner.log_end_offset, |(h, _)| h.base_offset);
        let mut last_offset = base_offset;
        let mut records_written: i64 = 0;
        let settings = inner.settings.clone();
        for (h, range) in &planned {
            let original = records
                .get(range.clone())
                .ok_or_else(|| LogError::Corrupt("batch out of buffer".into()))?;
            let mut prefix = [0u8; 16];
            prefix[0..8].copy_from_slice(&h.base_offset.to_be_bytes());
            prefix[8..12].copy_from_slice(&h.batch_length.to_be_bytes());
            prefix[12..16].copy_from_slice(&h.partition_leader_epoch.to_be_bytes());
            let rest = original
                .get(16..)
                .ok_or_else(|| LogError::Corrupt("batch shorter than header".into()))?;
            if log_append_time {
                let mut copy = Vec::with_capacity(original.len());
                copy.extend_from_slice(&prefix);
                copy.extend_from_slice(rest);
                if let Some(a) = copy.get_mut(batch::ATTRIBUTES_POS..batch::ATTRIBUTES_POS + 2) {
                    a.copy_from_slice(&h.attributes.to_be_bytes());
                }
                if let Some(t) =
                    copy.get_mut(batch::MAX_TIMESTAMP_POS..batch::MAX_TIMESTAMP_POS + 8)
                {
                    t.copy_from_slice(&h.max_timestamp.to_be_bytes());
                }
                batch::rewrite_crc(&mut copy)?;
                self.write_batch_locked(&mut inner, h, &[&copy], now_ms, &settings)?;
            } else {
                self.write_batch_locked(&mut inner, h, &[&prefix, rest], now_ms, &settings)?;
            }
            if assign_epoch(&mut inner.leader_epochs, leader_epoch.0, h.base_offset) {
                // Written by the next flush, off the produce path: the epochs are rebuilt from
                // batch headers at open too, so a lost write costs nothing.
                inner.epochs_dirty = true;
            }
            last_offset = h.last_offset();
            records_written += i64::from(h.record_count);
        }
        for (pid, entry) in staged {
            inner.producers.commit(pid, entry);
        }
        let result = AppendResult {
            base_offset: Offset(base_offset),
            last_offset: Offset(last_offset),
            log_append_time_ms: if log_append_time { now_ms } else { -1 },
            log_start_offset: Offset(inner.log_start_offset),
            duplicate: false,
        };
        self.finish_append(inner, records_written, result)
    }

    /// Rolls when the batch does not fit the active segment, writes `parts` (one whole batch
    /// whose header is `h`) and makes it visible. Caller holds the lock.
    fn write_batch_locked(
        &self,
        inner: &mut Inner,
        h: &BatchHeader,
        parts: &[&[u8]],
        now_ms: i64,
        settings: &TopicSettings,
    ) -> Result<(), LogError> {
        let size = h.total_size_bytes() as u64;
        let written = (|| {
            if inner
                .active()?
                .should_roll(size, h.last_offset(), now_ms, settings)
            {
                self.roll_locked(inner)?;
            }
            inner.active_mut()?.write_parts(parts)
        })();
        let position = match written {
            Ok(position) => {
                if std::mem::take(&mut inner.writes_failing) {
                    tracing::info!(dir = %self.dir.display(), "writes succeed again");
                }
                position
            }
            Err(e) => {
                if !std::mem::replace(&mut inner.writes_failing, true) {
                    tracing::error!(
                        dir = %self.dir.display(),
                        error = %e,
                        "write failed (appends fail with KAFKA_STORAGE_ERROR while this lasts)"
                    );
                }
                return Err(e);
            }
        };
        let active = inner.active_mut()?;
        active.commit_batch(h, position, now_ms, settings);
        inner.log_end_offset = h.next_offset();
        Ok(())
    }

    /// The common end of an append once its batches are visible: flush accounting, page-cache
    /// drop-behind, and (with the lock released) the flush that `flush.messages` / `flush.ms`
    /// ask for.
    fn finish_append(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        records_written: i64,
        result: AppendResult,
    ) -> Result<AppendResult, LogError> {
        inner.unflushed_records = inner.unflushed_records.saturating_add(records_written);
        inner.check_invariants();
        let settings = inner.settings.clone();
        let cache_advice = match settings.drop_behind_bytes {
            0 => None,
            window => {
                let active = inner.active_mut()?;
                active
                    .drop_behind
                    .plan(&active.log, active.size_bytes, window)
            }
        };
        let mono = self.clock.monotonic_ms();
        let flush_due = inner.unflushed_records >= settings.flush_messages
            || mono.saturating_sub(inner.last_flush_mono_ms) >= settings.flush_ms;
        drop(inner);
        if let Some(advice) = cache_advice {
            advice.apply_in_background();
        }
        if flush_due {
            self.flush()?;
        }
        Ok(result)
    }

    /// Starts a new empty active segment at the log end. Caller holds the lock.
    fn roll_locked(&self, inner: &mut Inner) -> Result<(), LogError> {
        let base = inner.log_end_offset;
        if inner.active()?.base_offset == base {
            return Ok(()); // already an empty segment at the log end
        }
        let seg = Segment::create(&self.dir, base, &inner.settings, false)?;
        inner.dir_dirty = true;
        tracing::debug!(dir = %self.dir.display(), base_offset = base, "rolled segment");
        inner.segments.push(seg);
        Ok(())
    }

    /// Forces a new active segment when the current one is non-empty.
    pub fn roll(&self) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.active()?.is_empty() {
            return Ok(());
        }
        self.roll_locked(&mut inner)
    }

    /// Appends batches a follower fetched from its leader, as they are: base offsets and
    /// partition leader epochs are kept, not assigned. Checks every CRC; the first batch must
    /// start at the log end and each next one right after the previous one, else
    /// `OutOfOrderReplica` and nothing is written (a compacted leader log, whose batches leave
    /// gaps, is not replicated yet). No `max.message.bytes` check (Kafka's followers make none)
    /// and empty batches are allowed (compaction keeps them for producer state). The caller
    /// skips fetch responses without records (they are `Corrupt` here, as for `append`).
    ///
    /// An empty log (log start = log end) whose start lies inside the first batch (the leader's
    /// log start was moved inside a batch by DeleteRecords) starts again at that batch's base
    /// offset, keeping its log start, as Kafka's `Partition.appendRecordsToFollowerOrFutureReplica`.
    ///
    /// Producer state follows each batch as a reopen would rebuild it
    /// (`ProducerStateManager::load_batch`): no sequence or epoch check rejects a batch (the
    /// leader decided), and a follower that becomes leader detects retries and gaps as the old
    /// leader did. A batch whose epoch is greater than the latest adds (epoch, base offset) to
    /// the leader epochs. Flushing, page-cache drop-behind and visibility are as for `append`.
    pub fn append_replicated(&self, records: Bytes) -> Result<AppendResult, LogError> {
        if self.lock().closed {
            return Err(LogError::Closed);
        }
        let parsed = parse_and_verify(&records, None, 0)?;
        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Closed);
        }
        let (first, last) = match (parsed.first(), parsed.last()) {
            (Some((first, _)), Some((last, _))) => (*first, *last),
            _ => return Err(LogError::Corrupt("no record batch in append".into())),
        };
        let log_end = inner.log_end_offset;
        let restart_from = (inner.log_start_offset == log_end
            && first.base_offset < log_end
            && first.last_offset() >= log_end)
            .then_some(log_end);
        let mut expected = if restart_from.is_some() {
            first.base_offset
        } else {
            log_end
        };
        for (h, _) in &parsed {
            if h.base_offset != expected {
                return Err(LogError::OutOfOrderReplica {
                    expected,
                    got: h.base_offset,
                });
            }
            expected = h
                .last_offset()
                .checked_add(1)
                .ok_or_else(|| overflow("log end offset"))?;
        }
        if restart_from.is_some() {
            tracing::info!(dir = %self.dir.display(), log_start = log_end, base_offset = first.base_offset,
                "first replicated batch starts below the log start: starting the log at its base offset");
            self.truncations.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = self.start_over_locked(&mut inner, first.base_offset) {
                inner.closed = true;
                return Err(e);
            }
        }
        let now_ms = self.clock.now_ms();
        let settings = inner.settings.clone();
        let mut records_written: i64 = 0;
        for (h, range) in &parsed {
            let bytes = records
                .get(range.clone())
                .ok_or_else(|| LogError::Corrupt("batch out of buffer".into()))?;
            self.write_batch_locked(&mut inner, h, &[bytes], now_ms, &settings)?;
            inner.producers.load_batch(h);
            if assign_epoch(
                &mut inner.leader_epochs,
                h.partition_leader_epoch,
                h.base_offset,
            ) {
                inner.epochs_dirty = true;
            }
            records_written += i64::from(h.record_count);
        }
        if let Some(start) = restart_from {
            inner.log_start_offset = start.min(inner.log_end_offset);
            inner.recovery_point = inner.recovery_point.max(inner.log_start_offset);
        }
        let result = AppendResult {
            base_offset: Offset(first.base_offset),
            last_offset: Offset(last.last_offset()),
            log_append_time_ms: -1,
            log_start_offset: Offset(inner.log_start_offset),
            duplicate: false,
        };
        self.finish_append(inner, records_written, result)
    }

    /// Removes every batch at and above `offset` (a follower dropping what its new leader does
    /// not have). Kafka truncates at batch boundaries: when `offset` falls inside a batch, that
    /// whole batch goes too, so the log end becomes its base offset (read it with
    /// `log_end_offset`). No-op when `offset >= log end`; `OffsetOutOfRange` below the log start
    /// (the log start drops to the new end if the cut batch began below it).
    ///
    /// Later segments are deleted, the segment holding the point is cut and its indexes rebuilt;
    /// leader epochs starting at or after the new end are dropped (Kafka's `truncateFromEnd`),
    /// and `leader-epoch-checkpoint` is rewritten first, so a crash midway leaves either the old
    /// log or the new one with epochs that match. Every kept segment is fsynced, so the recovery
    /// point is the new end and a reopen, clean or not, finds the same log end, epochs and
    /// producer state. Producer state is rebuilt by a header walk of every kept segment: one
    /// read per batch header (in 64 KiB chunks), so proportional to the log's size; Kafka
    /// avoids it with producer snapshots, which this log does not keep yet.
    ///
    /// Holds the partition lock throughout (including the fsyncs): truncations are rare and
    /// appends must not interleave. A read that overlapped it reads again (`without_truncation`),
    /// so no reader is handed removed bytes. After an I/O error midway the log is closed
    /// (refuses appends); reopening it recovers a consistent log from disk.
    pub fn truncate_to(&self, offset: Offset) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Closed);
        }
        if offset.0 >= inner.log_end_offset {
            // No batch to cut, but an epoch this replica started as leader at its log end and
            // wrote nothing in must still go (Kafka does the same): a follower that kept it
            // would send it as its last fetched epoch forever, and the leader, which never had
            // it, would answer with the same divergence forever.
            let end = inner.log_end_offset;
            if inner.leader_epochs.iter().any(|(_, start)| *start >= end) {
                self.truncate_epochs_locked(&mut inner, end)?;
            }
            return Ok(());
        }
        if offset.0 < inner.log_start_offset {
            return Err(LogError::OffsetOutOfRange {
                requested: offset.0,
                log_start: inner.log_start_offset,
                log_end: inner.log_end_offset,
            });
        }
        self.truncations.fetch_add(1, Ordering::SeqCst);
        let result = self.truncate_locked(&mut inner, offset.0);
        if result.is_err() {
            inner.closed = true;
        }
        drop(inner);
        // Read-aheads of cut segments are keyed on their old descriptors and never match again;
        // clearing frees their buffers now.
        self.read_ahead.clear();
        result
    }

    fn truncate_locked(&self, inner: &mut Inner, offset: i64) -> Result<(), LogError> {
        let i = inner.segment_index_for(offset);
        let seg = inner
            .segments
            .get(i)
            .ok_or_else(|| LogError::Corrupt("log has no segment".into()))?;
        let (cut_position, planned_end) = seg
            .batch_start_for(offset)?
            .unwrap_or((seg.size_bytes, seg.next_offset));
        tracing::info!(dir = %self.dir.display(), requested = offset, new_end = planned_end, "truncating log");
        self.truncate_epochs_locked(inner, planned_end)?;

        let removed: Vec<Segment> = inner.segments.drain(i + 1..).collect();
        // Highest first: a crash midway leaves a shorter but gap-free log.
        for s in removed.iter().rev() {
            s.delete_files()?;
        }
        let now_ms = self.clock.now_ms();
        let settings = inner.settings.clone();
        inner
            .active_mut()?
            .cut_at(&self.dir, cut_position, &settings, now_ms)?;
        // The end the kept batches give (as a reopen computes it); below the planned one only
        // when batches left a gap before the cut batch.
        let new_end = inner.active()?.next_offset;
        if new_end < planned_end {
            self.truncate_epochs_locked(inner, new_end)?;
        }
        for s in inner.segments.iter_mut() {
            if s.flushed_size_bytes < s.size_bytes {
                s.flush()?;
            }
        }
        super::segment::fsync_dir(&self.dir)?;
        inner.dir_dirty = false;

        let mut producers = ProducerStateManager::new();
        for s in &inner.segments {
            s.visit_headers(&mut |h| producers.load_batch(h))?;
        }
        inner.producers = producers;
        inner.log_end_offset = new_end;
        inner.log_start_offset = inner.log_start_offset.min(new_end);
        inner.recovery_point = new_end;
        inner.unflushed_records = 0;
        inner.last_flush_mono_ms = self.clock.monotonic_ms();
        inner.check_invariants();
        Ok(())
    }

    /// Kafka's `truncateFromEnd`: drops epochs starting at or after `end`, and rewrites
    /// `leader-epoch-checkpoint` (fsynced) right away.
    fn truncate_epochs_locked(&self, inner: &mut Inner, end: i64) -> Result<(), LogError> {
        let mut epochs = inner.leader_epochs.clone();
        epochs.retain(|(_, start)| *start < end);
        checkpoint::write_leader_epoch_checkpoint(&self.dir, &epochs)?;
        inner.leader_epochs = epochs;
        inner.epochs_dirty = false;
        Ok(())
    }

    /// Deletes every segment and starts an empty log at `offset` (log start = log end =
    /// `offset`): the follower's log ends below its leader's log start. Leader epochs and
    /// producer state are cleared. `leader-epoch-checkpoint` is emptied first, then the old
    /// segments are deleted, then the new one is created and the directory fsynced; a crash
    /// midway leaves a gap-free rest of the old log (or none) for the follower to truncate again.
    /// Readers and errors as for `truncate_to`. `OffsetOutOfRange` for a negative `offset`.
    pub fn truncate_fully_and_start_at(&self, offset: Offset) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Closed);
        }
        if offset.0 < 0 {
            return Err(LogError::OffsetOutOfRange {
                requested: offset.0,
                log_start: inner.log_start_offset,
                log_end: inner.log_end_offset,
            });
        }
        tracing::info!(dir = %self.dir.display(), offset = offset.0, "truncating the whole log");
        self.truncations.fetch_add(1, Ordering::SeqCst);
        let result = self.start_over_locked(&mut inner, offset.0);
        if result.is_err() {
            inner.closed = true;
        }
        drop(inner);
        self.read_ahead.clear();
        result
    }

    /// `truncate_fully_and_start_at` with the lock held and the truncation count bumped.
    fn start_over_locked(&self, inner: &mut Inner, offset: i64) -> Result<(), LogError> {
        checkpoint::write_leader_epoch_checkpoint(&self.dir, &[])?;
        inner.leader_epochs.clear();
        inner.epochs_dirty = false;
        for s in inner.segments.iter().rev() {
            s.delete_files()?;
        }
        let fresh = Segment::create(&self.dir, offset, &inner.settings, true)?;
        inner.segments = vec![fresh];
        inner.dir_dirty = false;
        inner.producers = ProducerStateManager::new();
        inner.log_start_offset = offset;
        inner.log_end_offset = offset;
        inner.recovery_point = offset;
        inner.unflushed_records = 0;
        inner.last_flush_mono_ms = self.clock.monotonic_ms();
        inner.check_invariants();
        Ok(())
    }

    /// A replica becoming leader in `epoch` records (epoch, log end) when `epoch` is greater
    /// than the latest epoch known (Kafka's `LeaderEpochFileCache.assign` at become-leader), so
    /// `leader_epochs` reports it before any batch of it is written; an entry of an earlier epoch
    /// starting at the log end (which got no batch) is replaced. Later `append`s in `epoch` add
    /// nothing (not greater). `leader-epoch-checkpoint` is written (fsynced) before this returns
    /// and a reopen keeps the entry. An epoch not greater than the latest (or negative) is a no-op.
    pub fn assign_epoch_start(&self, epoch: LeaderEpoch) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(LogError::Closed);
        }
        let log_end = inner.log_end_offset;
        if !assign_epoch(&mut inner.leader_epochs, epoch.0, log_end) {
            return Ok(());
        }
        if let Err(e) = checkpoint::write_leader_epoch_checkpoint(&self.dir, &inner.leader_epochs) {
            inner.epochs_dirty = true;
            return Err(e);
        }
        inner.epochs_dirty = false;
        Ok(())
    }

    /// Reads whole batches starting at the one holding `offset`, from one segment, up to
    /// `max_bytes` (or one whole batch when `min_one_batch` and the first is larger), never a
    /// batch whose base offset is >= `max_offset`.
    pub fn read(
        &self,
        offset: Offset,
        max_bytes: usize,
        max_offset: Offset,
        min_one_batch: bool,
    ) -> Result<ReadResult, LogError> {
        self.without_truncation(|generation| {
            self.read_once(offset, max_bytes, max_offset, min_one_batch, generation)
        })
        .unwrap_or_else(|| {
            // Truncated under every attempt: nothing now, the fetch comes back.
            let inner = self.lock();
            Ok(ReadResult {
                records: Bytes::new(),
                log_start_offset: Offset(inner.log_start_offset),
                log_end_offset: Offset(inner.log_end_offset),
            })
        })
    }

    /// Runs a lock-free read `f` until no truncation ran while it did: `f` stores the
    /// truncation count it saw under the lock, with its segment views, into its argument.
    /// `None` after `READ_ATTEMPTS_MAX` attempts that each overlapped a truncation.
    fn without_truncation<T>(
        &self,
        mut f: impl FnMut(&mut u64) -> Result<T, LogError>,
    ) -> Option<Result<T, LogError>> {
        for _ in 0..READ_ATTEMPTS_MAX {
            let mut generation = u64::MAX;
            let result = f(&mut generation);
            // A truncation bumps the count before it cuts a file, so a read that saw a cut
            // file (or bytes appended after the cut) sees the new count here.
            if self.truncations.load(Ordering::SeqCst) == generation {
                return Some(result);
            }
        }
        None
    }

    fn read_once(
        &self,
        offset: Offset,
        max_bytes: usize,
        max_offset: Offset,
        min_one_batch: bool,
        generation: &mut u64,
    ) -> Result<ReadResult, LogError> {
        let (views, log_start, log_end) = {
            let inner = self.lock();
            *generation = self.truncations.load(Ordering::SeqCst);
            let (start, end) = (inner.log_start_offset, inner.log_end_offset);
            if offset.0 < start || offset.0 > end {
                return Err(LogError::OffsetOutOfRange {
                    requested: offset.0,
                    log_start: start,
                    log_end: end,
                });
            }
            let mut views = Vec::new();
            if offset.0 < end {
                let first = inner.segment_index_for(offset.0);
                for (i, s) in inner.segments.iter().enumerate().skip(first) {
                    if s.next_offset <= offset.0 || s.is_empty() {
                        continue; // offset lies past this segment's last batch
                    }
                    let start_position = if i == first {
                        let rel = u32::try_from(offset.0.saturating_sub(s.base_offset).max(0))
                            .unwrap_or(u32::MAX);
                        u64::from(s.offset_index.lookup(rel))
                    } else {
                        0
                    };
                    views.push(SegmentView {
                        file: s.log.clone(),
                        start_position,
                        committed_bytes: s.size_bytes,
                        dropped_bytes: s.drop_behind.dropped_bytes,
                        direct: if start_position < s.drop_behind.dropped_bytes {
                            s.direct_log()
                        } else {
                            None
                        },
                    });
                    break;
                }
            }
            (views, start, end)
        };
        let empty = ReadResult {
            records: Bytes::new(),
            log_start_offset: Offset(log_start),
            log_end_offset: Offset(log_end),
        };
        let Some(view) = views.into_iter().next() else {
            return Ok(empty);
        };

        // A consumer going on from its previous fetch finds its bytes read ahead, and where they
        // start: no header walk (which would read dropped bytes back through the page cache).
        let mut ahead = view
            .direct
            .as_ref()
            .and_then(|direct| self.read_ahead.take(direct, offset.0));
        let found = ahead.as_ref().and_then(|(p, bytes)| {
            let h = BatchHeader::parse(bytes.get(..batch::HEADER_BYTES)?).ok()?;
            (h.base_offset <= offset.0 && h.last_offset() >= offset.0).then_some((*p, h))
        });
        let walked = found.is_none();
        let (pos, first) = match found {
            Some(found) => found,
            None => {
                ahead = None;
                // Walk headers to the first batch whose last offset >= offset.
                let mut reader =
                    ScanReader::new(&view.file, view.committed_bytes, READ_SCAN_CHUNK_BYTES);
                let mut pos = view.start_position;
                loop {
                    let Some(hb) = reader.get(pos, batch::HEADER_BYTES)? else {
                        return Ok(empty);
                    };
                    let h = BatchHeader::parse(hb)?;
                    if h.last_offset() >= offset.0 {
                        break (pos, h);
                    }
                    pos = pos
                        .checked_add(h.total_size_bytes() as u64)
                        .ok_or_else(|| overflow("position"))?;
                }
            }
        };
        if first.base_offset >= max_offset.0 {
            return Ok(empty);
        }
        let available = view.committed_bytes.saturating_sub(pos);
        let first_size = first.total_size_bytes();
        let want = if first_size > max_bytes {
            if !min_one_batch {
                return Ok(empty);
            }
            first_size
        } else {
            max_bytes
        };
        let want = (want as u64).min(available) as usize;
        let mut direct_read = None;
        let records = match &view.direct {
            // Dropped bytes come from the device straight into the buffer (read ahead when the
            // previous fetch ended here); the read stops at the dropped mark (when the first
            // batch allows) so it never forces back recent pages.
            Some(direct) if pos < view.dropped_bytes => {
                let below = usize::try_from(view.dropped_bytes - pos).unwrap_or(usize::MAX);
                let len = if below >= first_size {
                    want.min(below)
                } else {
                    want
                };
                direct_read = Some((direct.clone(), len));
                self.direct_reads.fetch_add(1, Ordering::Relaxed);
                match ahead {
                    Some((_, b)) if b.len() >= first_size => {
                        self.read_ahead_hits.fetch_add(1, Ordering::Relaxed);
                        b.slice(..b.len().min(len))
                    }
                    _ => match page_cache::read_direct(direct, pos, len) {
                        Ok(b) => b,
                        Err(e) => {
                            direct_read = None;
                            tracing::debug!(dir = %self.dir.display(), "direct read failed, reading through the page cache: {e}");
                            Self::read_buffered(&view, pos, want)?
                        }
                    },
                }
            }
            _ => Self::read_buffered(&view, pos, want)?,
        };
        if (walked || direct_read.is_none()) && view.start_position < view.dropped_bytes {
            // The header walk (and a buffered read) put dropped bytes back in the page cache.
            let end = pos
                .saturating_add(records.len().max(READ_SCAN_CHUNK_BYTES) as u64)
                .min(view.dropped_bytes);
            CacheAdvice::drop_range(view.file.clone(), view.start_position, end)
                .apply_in_background();
        }
        // Trim to whole batches below max_offset.
        let mut keep = 0usize;
        let mut next_offset = offset.0;
        for item in BatchIter::new(&records) {
            let Ok(b) = item else { break };
            if b.header.base_offset >= max_offset.0 {
                break;
            }
            keep = b.range.end;
            next_offset = b.header.next_offset();
        }
        if let Some((direct, len)) = direct_read {
            // The consumer's next fetch starts right after these batches.
            let next = pos.saturating_add(keep as u64);
            let ahead = view.dropped_bytes.saturating_sub(next).min(len as u64) as usize;
            if keep > 0 && ahead > 0 {
                self.read_ahead.start(direct, next, ahead, next_offset);
            }
        }
        Ok(ReadResult {
            records: records.slice(..keep),
            log_start_offset: Offset(log_start),
            log_end_offset: Offset(log_end),
        })
    }

    /// `len` bytes at `pos` through the page cache.
    fn read_buffered(view: &SegmentView, pos: u64, len: usize) -> Result<Bytes, LogError> {
        let mut buf = vec![0u8; len];
        view.file.read_exact_at(&mut buf, pos)?;
        Ok(Bytes::from(buf))
    }

    /// (fetch reads served with O_DIRECT, of those served from the read-ahead) since open.
    pub fn read_path_counts(&self) -> (u64, u64) {
        (
            self.direct_reads.load(Ordering::Relaxed),
            self.read_ahead_hits.load(Ordering::Relaxed),
        )
    }

    /// Periodic (`LogManager::checkpoint`): discards a read-ahead nobody took since the last
    /// sweep (`read_ahead::ReadAhead::sweep`).
    pub fn sweep_read_ahead(&self) {
        self.read_ahead.sweep();
    }

    /// fsyncs every segment with unflushed data and its indexes; returns the offset flushed up
    /// to (exclusive), which becomes the recovery point.
    pub fn flush(&self) -> Result<Offset, LogError> {
        self.flush_segments(true)
    }

    /// fsyncs the segments before the active one (as Kafka does after a roll), so the recovery
    /// point reaches the active segment's base offset without syncing the segment being written.
    pub fn flush_rolled(&self) -> Result<Offset, LogError> {
        self.flush_segments(false)
    }

    /// Flushes when `flush.ms` has passed since the last flush and something is unflushed:
    /// the periodic half of `flush.ms` (appends check it too).
    pub fn flush_if_due(&self) -> Result<Option<Offset>, LogError> {
        let due = {
            let inner = self.lock();
            inner.unflushed_records > 0
                && self
                    .clock
                    .monotonic_ms()
                    .saturating_sub(inner.last_flush_mono_ms)
                    >= inner.settings.flush_ms
        };
        if due {
            self.flush().map(Some)
        } else {
            Ok(None)
        }
    }

    fn flush_segments(&self, include_active: bool) -> Result<Offset, LogError> {
        let (files, target, sync_dir, generation, active_base, drop_rolled) = {
            let mut inner = self.lock();
            let generation = self.truncations.load(Ordering::SeqCst);
            let active_base = inner.active()?.base_offset;
            let sync_dir = std::mem::take(&mut inner.dir_dirty);
            let target = if include_active {
                inner.log_end_offset
            } else {
                active_base
            };
            let mut files = Vec::new();
            for s in inner
                .segments
                .iter()
                .filter(|s| s.flushed_size_bytes < s.size_bytes)
                .filter(|s| include_active || s.base_offset < active_base)
            {
                files.push((
                    s.log.clone(),
                    s.offset_index.file.try_clone()?,
                    s.time_index.file.try_clone()?,
                    s.base_offset,
                    s.size_bytes,
                ));
            }
            if include_active {
                inner.unflushed_records = 0;
                inner.last_flush_mono_ms = self.clock.monotonic_ms();
            }
            let drop_rolled = inner.settings.drop_behind_bytes > 0;
            (
                files,
                target,
                sync_dir,
                generation,
                active_base,
                drop_rolled,
            )
        };
        for (log, idx, tidx, base, size) in &files {
            log.sync_data()?;
            idx.sync_data()?;
            tidx.sync_data()?;
            if drop_rolled && *base < active_base {
                // Written back by the fsync: a rolled segment leaves the page cache whole.
                CacheAdvice::drop_range(log.clone(), 0, *size).apply();
            }
        }
        if sync_dir && let Err(e) = super::segment::fsync_dir(&self.dir) {
            self.lock().dir_dirty = true;
            return Err(e.into());
        }
        let mut inner = self.lock();
        if inner.epochs_dirty {
            // Under the lock (only when the epochs changed, so rarely): a list copied before a
            // truncation could otherwise overwrite the truncation's rewrite.
            match checkpoint::write_leader_epoch_checkpoint(&self.dir, &inner.leader_epochs) {
                Ok(()) => inner.epochs_dirty = false,
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), "leader-epoch-checkpoint write failed: {e}")
                }
            }
        }
        if self.truncations.load(Ordering::SeqCst) != generation {
            // A truncation ran meanwhile: it synced what it kept itself, and the sizes synced
            // here may belong to batches it removed.
            return Ok(Offset(inner.recovery_point));
        }
        for (_, _, _, base, size) in &files {
            if let Some(s) = inner.segments.iter_mut().find(|s| s.base_offset == *base) {
                s.flushed_size_bytes = s.flushed_size_bytes.max(*size);
                if drop_rolled && *base < active_base {
                    s.drop_behind.writeback_started_bytes = *size;
                    s.drop_behind.dropped_bytes = *size;
                }
            }
        }
        inner.recovery_point = inner.recovery_point.max(target).min(inner.log_end_offset);
        inner.check_invariants();
        Ok(Offset(inner.recovery_point))
    }

    /// Snapshots of segments from the first one whose max timestamp is >= `ts_ms`, each with
    /// the position a scan for `ts_ms` may start at.
    fn timestamp_views(&self, ts_ms: i64, generation: &mut u64) -> Vec<SegmentView> {
        let inner = self.lock();
        *generation = self.truncations.load(Ordering::SeqCst);
        let mut views = Vec::new();
        for s in inner
            .segments
            .iter()
            .filter(|s| !s.is_empty() && s.max_timestamp_ms() >= ts_ms)
        {
            let start_position = s
                .time_index
                .last_below(ts_ms)
                .map_or(0, |(_, rel)| u64::from(s.offset_index.lookup(rel)));
            views.push(SegmentView {
                file: s.log.clone(),
                start_position,
                committed_bytes: s.size_bytes,
                dropped_bytes: s.drop_behind.dropped_bytes,
                direct: None,
            });
        }
        views
    }

    fn scan_for(
        view: &SegmentView,
        pred: impl Fn(&BatchHeader) -> bool,
    ) -> Result<Option<Bytes>, LogError> {
        let mut reader = ScanReader::new(&view.file, view.committed_bytes, READ_SCAN_CHUNK_BYTES);
        let mut pos = view.start_position;
        while let Some(hb) = reader.get(pos, batch::HEADER_BYTES)? {
            let h = BatchHeader::parse(hb)?;
            let size = h.total_size_bytes();
            if pred(&h) {
                return Ok(reader.get(pos, size)?.map(Bytes::copy_from_slice));
            }
            pos = pos
                .checked_add(size as u64)
                .ok_or_else(|| overflow("position"))?;
        }
        Ok(None)
    }

    /// The first batch whose max timestamp is >= `ts_ms` (ListOffsets by timestamp); the caller
    /// decodes its records to find the exact record.
    pub fn batch_for_timestamp(&self, ts_ms: i64) -> Result<Option<Bytes>, LogError> {
        self.without_truncation(|generation| {
            for view in self.timestamp_views(ts_ms, generation) {
                if let Some(b) = Self::scan_for(&view, |h| h.max_timestamp >= ts_ms)? {
                    return Ok(Some(b));
                }
            }
            Ok(None)
        })
        .unwrap_or(Ok(None))
    }

    /// The batch holding the log's largest max timestamp (the first such batch).
    pub fn batch_with_max_timestamp(&self) -> Result<Option<Bytes>, LogError> {
        self.without_truncation(|generation| self.batch_with_max_timestamp_once(generation))
            .unwrap_or(Ok(None))
    }

    fn batch_with_max_timestamp_once(
        &self,
        generation: &mut u64,
    ) -> Result<Option<Bytes>, LogError> {
        let (view, max_ts) = {
            let inner = self.lock();
            *generation = self.truncations.load(Ordering::SeqCst);
            let mut best: Option<&Segment> = None;
            for s in inner.segments.iter().filter(|s| !s.is_empty()) {
                if best.is_none_or(|b| s.max_timestamp_ms() > b.max_timestamp_ms()) {
                    best = Some(s);
                }
            }
            let Some(s) = best else { return Ok(None) };
            let max_ts = s.max_timestamp_ms();
            let start_position = s
                .time_index
                .last_below(max_ts)
                .map_or(0, |(_, rel)| u64::from(s.offset_index.lookup(rel)));
            (
                SegmentView {
                    file: s.log.clone(),
                    start_position,
                    committed_bytes: s.size_bytes,
                    dropped_bytes: s.drop_behind.dropped_bytes,
                    direct: None,
                },
                max_ts,
            )
        };
        Self::scan_for(&view, |h| h.max_timestamp >= max_ts)
    }

    /// Raises the log start offset (DeleteRecords, or a checkpointed value), at most to the log end.
    pub fn advance_log_start_offset(&self, offset: Offset) -> Offset {
        let mut inner = self.lock();
        let target = offset.0.min(inner.log_end_offset);
        if target > inner.log_start_offset {
            inner.log_start_offset = target;
            inner.recovery_point = inner.recovery_point.max(target);
        }
        inner.check_invariants();
        Offset(inner.log_start_offset)
    }

    /// Deletes whole segments past `retention.ms` or beyond `retention.bytes`; returns how many.
    pub fn apply_retention(&self) -> Result<usize, LogError> {
        let now_ms = self.clock.now_ms();
        let removed: Vec<Segment> = {
            let mut inner = self.lock();
            let settings = inner.settings.clone();
            let mut count = 0usize;
            if settings.retention_ms >= 0 {
                let cutoff = now_ms.saturating_sub(settings.retention_ms);
                count = inner
                    .segments
                    .iter()
                    .take_while(|s| !s.is_empty() && s.retention_timestamp_ms() < cutoff)
                    .count();
                if count == inner.segments.len() {
                    // Everything expired: keep an empty active segment at the log end.
                    self.roll_locked(&mut inner)?;
                }
            }
            if settings.retention_bytes >= 0 {
                let limit = settings.retention_bytes as u64;
                let mut total: u64 = inner
                    .segments
                    .iter()
                    .skip(count)
                    .map(|s| s.size_bytes)
                    .sum();
                let last = inner.segments.len() - 1;
                while count < last {
                    let Some(s) = inner.segments.get(count) else {
                        break;
                    };
                    if total.saturating_sub(s.size_bytes) >= limit && total >= s.size_bytes {
                        total -= s.size_bytes;
                        count += 1;
                    } else {
                        break;
                    }
                }
            }
            let count = count.min(inner.segments.len() - 1);
            let removed: Vec<Segment> = inner.segments.drain(..count).collect();
            if !removed.is_empty() {
                let first_base = inner
                    .segments
                    .first()
                    .map_or(inner.log_end_offset, |s| s.base_offset);
                inner.log_start_offset = inner
                    .log_start_offset
                    .max(first_base)
                    .min(inner.log_end_offset);
                inner.recovery_point = inner.recovery_point.max(inner.log_start_offset);
                let start = inner.log_start_offset;
                // Kafka's truncateFromStart: epochs that began before the new start now begin there.
                let keep_from = inner
                    .leader_epochs
                    .iter()
                    .rposition(|(_, o)| *o <= start)
                    .unwrap_or(0);
                inner.leader_epochs.drain(..keep_from);
                if let Some(first) = inner.leader_epochs.first_mut() {
                    first.1 = first.1.max(start);
                }
                if let Err(e) =
                    checkpoint::write_leader_epoch_checkpoint(&self.dir, &inner.leader_epochs)
                {
                    tracing::warn!(dir = %self.dir.display(), "leader-epoch-checkpoint write failed: {e}");
                }
            }
            inner.check_invariants();
            removed
        };
        if !removed.is_empty() {
            // A read ahead may hold a deleted segment's descriptor (and so its disk space).
            self.read_ahead.clear();
        }
        for s in &removed {
            tracing::info!(segment = %s.log_path.display(), "deleting segment by retention");
            s.delete_files()?;
        }
        Ok(removed.len())
    }

    /// Flushes everything and refuses further appends.
    pub fn close(&self) -> Result<(), LogError> {
        self.flush()?;
        let mut inner = self.lock();
        for s in inner.segments.iter_mut() {
            s.flush()?;
        }
        inner.closed = true;
        Ok(())
    }

    /// Refuses further appends without flushing (the log is being deleted).
    pub fn mark_closed(&self) {
        self.lock().closed = true;
    }

    /// Closes the log (no flush) and removes its directory.
    pub fn delete(&self) -> Result<(), LogError> {
        self.lock().closed = true;
        delete_partition_dir(&self.dir)
    }
}

/// Removes a partition directory and everything in it.
pub fn delete_partition_dir(dir: &Path) -> Result<(), LogError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "partition/follower/tests.rs"]
mod follower_tests;
