//! Sparse per-segment indexes in Kafka's file formats, kept in memory for lookups and appended
//! to their files as entries are added (files are not preallocated).
//!
//! On-disk format: `.index` = 8-byte entries (offset relative to the segment's base offset u32
//! BE, file position u32 BE); `.timeindex` = 12-byte entries (timestamp i64 BE, relative offset
//! u32 BE). Like Kafka, an offset-index entry names the last offset of the batch starting at the
//! position; a time-index entry names the last offset of the batch that raised the segment's max
//! timestamp.
//!
//! Invariants: entries are strictly increasing in offset (and positions / timestamps
//! non-decreasing); the in-memory copy equals the file's entries once written. Files are
//! untrusted: `load_*` returns `None` for anything that is not a sane index, and the caller
//! rebuilds it. No locks of its own (the owning `PartitionLog` lock guards mutation).
//! Must not import: protocol, `kafka_protocol`, server, `tokio::net`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

pub const OFFSET_ENTRY_BYTES: usize = 8;
pub const TIME_ENTRY_BYTES: usize = 12;

/// (relative offset, file position)
pub type OffsetEntry = (u32, u32);
/// (timestamp ms, relative offset)
pub type TimeEntry = (i64, u32);

pub fn encode_offset_entries(entries: &[OffsetEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * OFFSET_ENTRY_BYTES);
    for (rel, pos) in entries {
        out.extend_from_slice(&rel.to_be_bytes());
        out.extend_from_slice(&pos.to_be_bytes());
    }
    out
}

pub fn encode_time_entries(entries: &[TimeEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * TIME_ENTRY_BYTES);
    for (ts, rel) in entries {
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&rel.to_be_bytes());
    }
    out
}

/// Decodes an `.index` file's bytes; `None` when the length is not a whole number of entries.
pub fn decode_offset_entries(buf: &[u8]) -> Option<Vec<OffsetEntry>> {
    if !buf.len().is_multiple_of(OFFSET_ENTRY_BYTES) {
        return None;
    }
    buf.chunks_exact(OFFSET_ENTRY_BYTES)
        .map(|c| {
            let rel = u32::from_be_bytes(c.get(0..4)?.try_into().ok()?);
            let pos = u32::from_be_bytes(c.get(4..8)?.try_into().ok()?);
            Some((rel, pos))
        })
        .collect()
}

/// Decodes a `.timeindex` file's bytes; `None` when the length is not a whole number of entries.
pub fn decode_time_entries(buf: &[u8]) -> Option<Vec<TimeEntry>> {
    if !buf.len().is_multiple_of(TIME_ENTRY_BYTES) {
        return None;
    }
    buf.chunks_exact(TIME_ENTRY_BYTES)
        .map(|c| {
            let ts = i64::from_be_bytes(c.get(0..8)?.try_into().ok()?);
            let rel = u32::from_be_bytes(c.get(8..12)?.try_into().ok()?);
            Some((ts, rel))
        })
        .collect()
}

fn read_all(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut buf)?;
            Ok(buf)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(buf),
        Err(e) => Err(e),
    }
}

/// Overwrites `path` with `bytes` when its current content differs (a clean open then costs one
/// read and no write). Returns the file opened for appending.
pub fn sync_file_content(path: &Path, bytes: &[u8]) -> std::io::Result<File> {
    let current = read_all(path)?;
    if current != bytes {
        let mut f = File::create(path)?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
}

/// In-memory offset index with its file.
#[derive(Debug)]
pub struct OffsetIndex {
    pub entries: Vec<OffsetEntry>,
    pub file: File,
    pub max_entries: usize,
}

impl OffsetIndex {
    /// Position to start scanning from to find `rel_offset`: the position of the last entry whose
    /// offset is <= `rel_offset`, else 0.
    pub fn lookup(&self, rel_offset: u32) -> u32 {
        let idx = self.entries.partition_point(|(rel, _)| *rel <= rel_offset);
        idx.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .map_or(0, |(_, pos)| *pos)
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    pub fn append(&mut self, rel_offset: u32, position: u32) -> std::io::Result<()> {
        if let Some((last_rel, _)) = self.entries.last()
            && *last_rel >= rel_offset
        {
            return Ok(());
        }
        self.file
            .write_all(&encode_offset_entries(&[(rel_offset, position)]))?;
        self.entries.push((rel_offset, position));
        Ok(())
    }
}

/// In-memory time index with its file.
#[derive(Debug)]
pub struct TimeIndex {
    pub entries: Vec<TimeEntry>,
    pub file: File,
    pub max_entries: usize,
}

impl TimeIndex {
    /// The last entry whose timestamp is < `ts_ms`: every batch up to and including its offset has
    /// a max timestamp below `ts_ms`, so a scan for `ts_ms` may start at that batch.
    pub fn last_below(&self, ts_ms: i64) -> Option<TimeEntry> {
        let idx = self.entries.partition_point(|(ts, _)| *ts < ts_ms);
        idx.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .copied()
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    pub fn append(&mut self, ts_ms: i64, rel_offset: u32) -> std::io::Result<()> {
        if let Some((last_ts, _)) = self.entries.last()
            && *last_ts >= ts_ms
        {
            return Ok(());
        }
        self.file
            .write_all(&encode_time_entries(&[(ts_ms, rel_offset)]))?;
        self.entries.push((ts_ms, rel_offset));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_lookup_and_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let entries = vec![(4, 100), (9, 250), (20, 900)];
        let file = sync_file_content(&path, &encode_offset_entries(&entries)).unwrap();
        let mut idx = OffsetIndex {
            entries: entries.clone(),
            file,
            max_entries: 4,
        };
        assert_eq!(idx.lookup(0), 0);
        assert_eq!(idx.lookup(4), 100);
        assert_eq!(idx.lookup(8), 100);
        assert_eq!(idx.lookup(9), 250);
        assert_eq!(idx.lookup(1000), 900);
        idx.append(25, 1000).unwrap();
        assert!(idx.is_full());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(decode_offset_entries(&bytes).unwrap(), idx.entries);
        assert!(decode_offset_entries(&bytes[..5]).is_none());
    }

    #[test]
    fn time_index_lookup_and_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.timeindex");
        let file = sync_file_content(&path, &[]).unwrap();
        let mut idx = TimeIndex {
            entries: vec![],
            file,
            max_entries: 10,
        };
        idx.append(100, 0).unwrap();
        idx.append(200, 5).unwrap();
        idx.append(150, 6).unwrap(); // not a new max: ignored
        assert_eq!(idx.entries, vec![(100, 0), (200, 5)]);
        assert_eq!(idx.last_below(100), None);
        assert_eq!(idx.last_below(101), Some((100, 0)));
        assert_eq!(idx.last_below(1000), Some((200, 5)));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(decode_time_entries(&bytes).unwrap(), idx.entries);
    }
}
