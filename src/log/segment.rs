//! One log segment: `<20-digit base offset>.log` holding record batches verbatim, plus its
//! `.index` and `.timeindex` (formats in `index`), and the scan used at open and in recovery.
//!
//! Invariants: `size_bytes` is the committed size: every byte below it belongs to a whole,
//! validated batch, and the file never keeps bytes above it after a failed write (they are cut
//! off), so O_APPEND writes always land at `size_bytes`. `next_offset` is the last offset + 1
//! (the base offset while empty). Relative offsets and positions fit u32. Committed bytes only
//! go away through `cut_at` (a follower's truncation), which replaces the segment's descriptors.
//! Readers share `log` through an `Arc<File>` and `pread` below a snapshotted committed size.
//!
//! Lock order: none here; the owning `PartitionLog` holds its lock around every mutation.
//! Must not import: protocol, `kafka_protocol`, server, `tokio::net`.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::LogError;
use super::batch::{self, BatchHeader};
use super::index::{self, OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use super::page_cache::DropBehind;
use crate::config::TopicSettings;

/// Read-ahead used when scanning batch headers of a file.
pub const SCAN_CHUNK_BYTES: usize = 64 * 1024;

pub fn log_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}.log")
}

/// Parses `<20 digits>.log` into its base offset.
pub fn parse_log_file_name(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()
}

/// fsync a directory so that file creations, renames and removals in it are durable.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Buffered positional reads over a file for header walks: few syscalls, no shared cursor.
#[derive(Debug)]
pub struct ScanReader<'a> {
    file: &'a File,
    limit_bytes: u64,
    chunk_bytes: usize,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a> ScanReader<'a> {
    /// Reads never go at or past `limit_bytes` (the committed size or the file length).
    pub fn new(file: &'a File, limit_bytes: u64, chunk_bytes: usize) -> Self {
        ScanReader {
            file,
            limit_bytes,
            chunk_bytes,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    /// `len` bytes at `pos`, or `None` when they reach past the limit.
    pub fn get(&mut self, pos: u64, len: usize) -> std::io::Result<Option<&[u8]>> {
        let Some(end) = pos.checked_add(len as u64) else {
            return Ok(None);
        };
        if end > self.limit_bytes {
            return Ok(None);
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || end > buf_end {
            let want = (len.max(self.chunk_bytes) as u64).min(self.limit_bytes - pos);
            self.buf.resize(want as usize, 0);
            self.file.read_exact_at(&mut self.buf, pos)?;
            self.buf_start = pos;
        }
        let from = (pos - self.buf_start) as usize;
        Ok(self.buf.get(from..from + len))
    }
}

/// Computes the index entries a batch adds; shared by append and by rebuilds so both produce
/// identical indexes.
#[derive(Debug, Clone, Default)]
pub struct IndexPolicy {
    pub bytes_since_entry: u64,
    pub max_timestamp_ms: i64,
}

impl IndexPolicy {
    pub fn new() -> Self {
        IndexPolicy {
            bytes_since_entry: 0,
            max_timestamp_ms: -1,
        }
    }

    /// Kafka's rule: an offset entry once more than `index_interval_bytes` were written since the
    /// last one; a time entry whenever the batch raises the segment's max timestamp.
    pub fn observe(
        &mut self,
        base_offset: i64,
        header: &BatchHeader,
        position: u64,
        index_interval_bytes: u64,
    ) -> (Option<OffsetEntry>, Option<TimeEntry>) {
        let rel = u32::try_from(header.last_offset() - base_offset).ok();
        let pos = u32::try_from(position).ok();
        let mut off = None;
        if self.bytes_since_entry > index_interval_bytes {
            if let (Some(rel), Some(pos)) = (rel, pos) {
                off = Some((rel, pos));
            }
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += header.total_size_bytes() as u64;
        let mut time = None;
        if header.max_timestamp > self.max_timestamp_ms {
            self.max_timestamp_ms = header.max_timestamp;
            if let Some(rel) = rel {
                time = Some((header.max_timestamp, rel));
            }
        }
        (off, time)
    }
}

#[derive(Debug)]
pub struct Segment {
    pub base_offset: i64,
    pub log: Arc<File>,
    pub log_path: PathBuf,
    pub index_path: PathBuf,
    pub time_index_path: PathBuf,
    /// Committed size: readers may read below it.
    pub size_bytes: u64,
    /// Size covered by the last fsync.
    pub flushed_size_bytes: u64,
    pub next_offset: i64,
    pub offset_index: OffsetIndex,
    pub time_index: TimeIndex,
    pub policy: IndexPolicy,
    /// When the first batch arrived (clock ms at append, or its max timestamp after a reopen);
    /// `segment.ms` rolling counts from here.
    pub first_batch_time_ms: Option<i64>,
    /// Clock ms of the last append (the open time for segments found on disk): the age used by
    /// time retention when no batch carries a timestamp (Kafka uses the file's mtime).
    pub last_modified_ms: i64,
    /// Page-cache drop-behind progress (`page_cache`).
    pub drop_behind: DropBehind,
    /// A second, O_DIRECT descriptor for reads of dropped bytes, opened on first need (`None`
    /// inside when the file system refuses O_DIRECT).
    pub direct_log: std::sync::OnceLock<Option<Arc<File>>>,
}

/// What opening a segment found.
#[derive(Debug)]
pub struct OpenOutcome {
    pub segment: Segment,
    /// The file held a bad or incomplete batch and was cut there.
    pub truncated: bool,
}

fn paths(dir: &Path, base_offset: i64) -> (PathBuf, PathBuf, PathBuf) {
    let stem = format!("{base_offset:020}");
    (
        dir.join(format!("{stem}.log")),
        dir.join(format!("{stem}.index")),
        dir.join(format!("{stem}.timeindex")),
    )
}

fn max_entries(settings: &TopicSettings, entry_bytes: usize) -> usize {
    usize::try_from(settings.segment_index_bytes / entry_bytes as u64)
        .unwrap_or(usize::MAX)
        .max(1)
}

impl Segment {
    /// Creates an empty segment, replacing any files of the same name.
    /// Creates an empty segment. With `sync_dir` the directory entry is made durable at once;
    /// a roll on the produce path passes false and leaves that to the partition's next flush.
    pub fn create(
        dir: &Path,
        base_offset: i64,
        settings: &TopicSettings,
        sync_dir: bool,
    ) -> Result<Segment, LogError> {
        let (log_path, index_path, time_index_path) = paths(dir, base_offset);
        let log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .truncate(false)
            .open(&log_path)?;
        log.set_len(0)?;
        let offset_file = index::sync_file_content(&index_path, &[])?;
        let time_file = index::sync_file_content(&time_index_path, &[])?;
        if sync_dir {
            fsync_dir(dir)?;
        }
        Ok(Segment {
            base_offset,
            log: Arc::new(log),
            log_path,
            index_path,
            time_index_path,
            size_bytes: 0,
            flushed_size_bytes: 0,
            next_offset: base_offset,
            offset_index: OffsetIndex {
                entries: Vec::new(),
                file: offset_file,
                max_entries: max_entries(settings, index::OFFSET_ENTRY_BYTES),
            },
            time_index: TimeIndex {
                entries: Vec::new(),
                file: time_file,
                max_entries: max_entries(settings, index::TIME_ENTRY_BYTES),
            },
            policy: IndexPolicy::new(),
            first_batch_time_ms: None,
            last_modified_ms: 0,
            drop_behind: DropBehind::default(),
            direct_log: std::sync::OnceLock::new(),
        })
    }

    /// Opens an existing segment by scanning its batch headers (and, when `verify_crc`, checking
    /// every batch's CRC). Cuts the file at the first malformed, out-of-order or incomplete batch.
    /// Index files are rewritten when they differ from what the scan derives. `visit` sees every
    /// valid batch header in order (producer state is rebuilt from it).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        settings: &TopicSettings,
        verify_crc: bool,
        now_ms: i64,
        visit: &mut dyn FnMut(&BatchHeader),
    ) -> Result<OpenOutcome, LogError> {
        let (log_path, index_path, time_index_path) = paths(dir, base_offset);
        let log = OpenOptions::new().read(true).append(true).open(&log_path)?;
        let file_len = log.metadata()?.len();
        let mut reader = ScanReader::new(&log, file_len, SCAN_CHUNK_BYTES);
        let mut pos = 0u64;
        let mut next_offset = base_offset;
        let mut policy = IndexPolicy::new();
        let mut offsets = Vec::new();
        let mut times = Vec::new();
        let mut first_batch_time_ms = None;
        let mut problem: Option<String> = None;
        while pos < file_len {
            let header = match reader.get(pos, batch::HEADER_BYTES)? {
                None => {
                    problem = Some(format!("incomplete batch header at position {pos}"));
                    break;
                }
                Some(h) => match BatchHeader::parse(h) {
                    Ok(h) => h,
                    Err(e) => {
                        problem = Some(format!("at position {pos}: {e}"));
                        break;
                    }
                },
            };
            let size = header.total_size_bytes();
            if header.base_offset < next_offset
                || header.last_offset() - base_offset > u32::MAX as i64
            {
                problem = Some(format!(
                    "batch at position {pos} has out-of-order offset {}",
                    header.base_offset
                ));
                break;
            }
            if pos + size as u64 > u32::MAX as u64 + 1 {
                problem = Some(format!(
                    "batch at position {pos} passes the 4 GiB segment limit"
                ));
                break;
            }
            if verify_crc {
                match reader.get(pos, size)? {
                    None => {
                        problem = Some(format!("incomplete batch at position {pos}"));
                        break;
                    }
                    Some(bytes) => {
                        if let Err(e) = batch::verify_crc(bytes) {
                            problem = Some(format!("at position {pos}: {e}"));
                            break;
                        }
                    }
                }
            } else if pos + size as u64 > file_len {
                problem = Some(format!("incomplete batch at position {pos}"));
                break;
            }
            let (o, t) = policy.observe(base_offset, &header, pos, settings.index_interval_bytes);
            offsets.extend(o);
            times.extend(t);
            if first_batch_time_ms.is_none() {
                first_batch_time_ms = Some(if header.max_timestamp >= 0 {
                    header.max_timestamp
                } else {
                    now_ms
                });
            }
            visit(&header);
            next_offset = header.next_offset();
            pos += size as u64;
        }
        let truncated = problem.is_some();
        if let Some(p) = &problem {
            tracing::warn!(segment = %log_path.display(), valid_bytes = pos, file_bytes = file_len,
                "truncating segment: {p}");
            log.set_len(pos)?;
            log.sync_all()?;
        }
        let offset_file =
            index::sync_file_content(&index_path, &index::encode_offset_entries(&offsets))?;
        let time_file =
            index::sync_file_content(&time_index_path, &index::encode_time_entries(&times))?;
        Ok(OpenOutcome {
            segment: Segment {
                base_offset,
                log: Arc::new(log),
                log_path,
                index_path,
                time_index_path,
                size_bytes: pos,
                flushed_size_bytes: pos,
                next_offset,
                offset_index: OffsetIndex {
                    entries: offsets,
                    file: offset_file,
                    max_entries: max_entries(settings, index::OFFSET_ENTRY_BYTES),
                },
                time_index: TimeIndex {
                    entries: times,
                    file: time_file,
                    max_entries: max_entries(settings, index::TIME_ENTRY_BYTES),
                },
                policy,
                first_batch_time_ms,
                last_modified_ms: now_ms,
                drop_behind: DropBehind::default(),
                direct_log: std::sync::OnceLock::new(),
            },
            truncated,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.size_bytes == 0
    }

    /// Largest max timestamp of the segment's batches; -1 when none carries one.
    pub fn max_timestamp_ms(&self) -> i64 {
        self.policy.max_timestamp_ms
    }

    /// The timestamp time retention compares: the largest record timestamp, or the last append
    /// time when no batch carries a timestamp.
    pub fn retention_timestamp_ms(&self) -> i64 {
        if self.policy.max_timestamp_ms >= 0 {
            self.policy.max_timestamp_ms
        } else {
            self.last_modified_ms
        }
    }

    /// Whether a batch of `batch_bytes` ending at `last_offset` must go to a new segment.
    pub fn should_roll(
        &self,
        batch_bytes: u64,
        last_offset: i64,
        now_ms: i64,
        settings: &TopicSettings,
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        let new_size = self.size_bytes.saturating_add(batch_bytes);
        let aged = self
            .first_batch_time_ms
            .is_some_and(|t| now_ms.saturating_sub(t) > settings.segment_ms);
        new_size > settings.segment_bytes
            || new_size > u32::MAX as u64
            || aged
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || last_offset.saturating_sub(self.base_offset) > u32::MAX as i64
    }

    /// Appends `parts` (one batch) at the end of the file with vectored writes. On failure the
    /// file is cut back to the committed size. Does not commit; see `commit_batch`.
    pub fn write_parts(&mut self, parts: &[&[u8]]) -> Result<u64, LogError> {
        let position = self.size_bytes;
        let mut slices: Vec<IoSlice<'_>> = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| IoSlice::new(p))
            .collect();
        let mut remaining: &mut [IoSlice<'_>] = &mut slices;
        let result: std::io::Result<()> = (|| {
            let mut file: &File = &self.log;
            while !remaining.is_empty() {
                match file.write_vectored(remaining) {
                    Ok(0) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::WriteZero,
                            "wrote 0 bytes",
                        ));
                    }
                    Ok(n) => IoSlice::advance_slices(&mut remaining, n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            if let Err(e2) = self.log.set_len(self.size_bytes) {
                tracing::error!(segment = %self.log_path.display(), "cannot cut failed write: {e2}");
            }
            return Err(e.into());
        }
        Ok(position)
    }

    /// Makes a written batch visible: size, next offset, indexes. `header` carries the assigned
    /// offsets and final timestamps.
    pub fn commit_batch(
        &mut self,
        header: &BatchHeader,
        position: u64,
        now_ms: i64,
        settings: &TopicSettings,
    ) {
        self.size_bytes = position + header.total_size_bytes() as u64;
        self.next_offset = header.next_offset();
        self.last_modified_ms = now_ms;
        if self.first_batch_time_ms.is_none() {
            self.first_batch_time_ms = Some(now_ms);
        }
        let (o, t) = self.policy.observe(
            self.base_offset,
            header,
            position,
            settings.index_interval_bytes,
        );
        // A missing sparse entry only costs a longer scan; the log bytes are what matter.
        if let Some((rel, pos)) = o
            && let Err(e) = self.offset_index.append(rel, pos)
        {
            tracing::warn!(index = %self.index_path.display(), "offset index append failed: {e}");
        }
        if let Some((ts, rel)) = t
            && let Err(e) = self.time_index.append(ts, rel)
        {
            tracing::warn!(index = %self.time_index_path.display(), "time index append failed: {e}");
        }
    }

    /// fsync the log and both indexes.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.log.sync_data()?;
        self.offset_index.file.sync_data()?;
        self.time_index.file.sync_data()?;
        self.flushed_size_bytes = self.size_bytes;
        Ok(())
    }

    /// Removes the segment's files; readers holding the `Arc<File>` keep reading the unlinked file.
    pub fn delete_files(&self) -> std::io::Result<()> {
        for p in [&self.log_path, &self.index_path, &self.time_index_path] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The O_DIRECT descriptor for reads of dropped bytes, opened on first use. A file system
    /// that refuses O_DIRECT is remembered; a transient failure (no descriptors left) is tried
    /// again next time.
    pub fn direct_log(&self) -> Option<Arc<File>> {
        if let Some(known) = self.direct_log.get() {
            return known.clone();
        }
        match super::page_cache::open_direct(&self.log_path) {
            Ok(f) => Some(self.direct_log.get_or_init(|| Some(f)).clone()?),
            Err(e) => {
                tracing::debug!(segment = %self.log_path.display(), "no O_DIRECT reads: {e}");
                if super::page_cache::is_permanent_refusal(&e) {
                    let _ = self.direct_log.set(None);
                }
                None
            }
        }
    }

    /// Calls `visit` with the header of every batch below the committed size, in order: a
    /// header walk reading the file in `SCAN_CHUNK_BYTES` chunks (no CRC check).
    pub fn visit_headers(&self, visit: &mut dyn FnMut(&BatchHeader)) -> Result<(), LogError> {
        self.walk_headers(0, &mut |_, h| {
            visit(h);
            true
        })
    }

    /// Walks batch headers below the committed size from `pos` (a batch boundary) while `f`
    /// returns true; `f` gets each batch's position and header.
    fn walk_headers(
        &self,
        mut pos: u64,
        f: &mut dyn FnMut(u64, &BatchHeader) -> bool,
    ) -> Result<(), LogError> {
        let mut reader = ScanReader::new(&self.log, self.size_bytes, SCAN_CHUNK_BYTES);
        while let Some(hb) = reader.get(pos, batch::HEADER_BYTES)? {
            let h = BatchHeader::parse(hb)?;
            if !f(pos, &h) {
                break;
            }
            pos = pos
                .checked_add(h.total_size_bytes() as u64)
                .ok_or_else(|| LogError::Overflow("segment position".into()))?;
        }
        Ok(())
    }

    /// Where the batch holding `offset` (or, in a gap, the first batch after it) starts:
    /// (file position, its base offset); `None` when every batch ends below `offset`.
    pub fn batch_start_for(&self, offset: i64) -> Result<Option<(u64, i64)>, LogError> {
        let rel = u32::try_from(offset.saturating_sub(self.base_offset).max(0)).unwrap_or(u32::MAX);
        // An index entry names the last offset of the batch at its position, so the entry found
        // points at a batch ending at or before `offset`: the walk starts at or before the one.
        let from = u64::from(self.offset_index.lookup(rel));
        let mut found = None;
        self.walk_headers(from, &mut |pos, h| {
            if h.last_offset() >= offset {
                found = Some((pos, h.base_offset));
                false
            } else {
                true
            }
        })?;
        Ok(found)
    }

    /// Cuts the segment at `position` (a batch boundary): the log file is shortened and
    /// fsynced, then the segment is opened again, which rebuilds (and rewrites, fsynced) both
    /// indexes from the kept batches and gives fresh descriptors, so nothing keyed on the old
    /// ones (a read-ahead) is ever served for the new content. Costs a header walk of the kept
    /// part.
    pub fn cut_at(
        &mut self,
        dir: &Path,
        position: u64,
        settings: &TopicSettings,
        now_ms: i64,
    ) -> Result<(), LogError> {
        assert!(
            position <= self.size_bytes,
            "cut at {position} past the committed size {}",
            self.size_bytes
        );
        self.log.set_len(position)?;
        self.log.sync_all()?;
        let outcome = Segment::open(dir, self.base_offset, settings, false, now_ms, &mut |_| {})?;
        if outcome.truncated {
            // The bytes below a committed size were whole batches when written.
            return Err(LogError::Corrupt(format!(
                "{}: bad batch below the cut at {position}",
                self.log_path.display()
            )));
        }
        *self = outcome.segment;
        Ok(())
    }

    /// Reads `len` bytes at `pos` of a segment file with one pread.
    pub fn read_at(file: &File, pos: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, pos)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(log_file_name(42), "00000000000000000042.log");
        assert_eq!(parse_log_file_name("00000000000000000042.log"), Some(42));
        assert_eq!(parse_log_file_name("0042.log"), None);
        assert_eq!(parse_log_file_name("00000000000000000042.index"), None);
    }

    #[test]
    fn scan_reader_respects_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, (0u8..100).collect::<Vec<_>>()).unwrap();
        let f = File::open(&p).unwrap();
        let mut r = ScanReader::new(&f, 50, 16);
        assert_eq!(r.get(10, 3).unwrap().unwrap(), &[10, 11, 12]);
        assert_eq!(r.get(40, 10).unwrap().unwrap()[9], 49);
        assert!(r.get(45, 10).unwrap().is_none());
        assert!(r.get(u64::MAX, 10).unwrap().is_none());
    }
}
