//! Small text files in Kafka's formats, written atomically (tmp file, fsync, rename, fsync dir).
//!
//! On-disk formats:
//! - `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint` (log-dir level): line
//!   "0" (version), line with the entry count, then "<topic> <partition> <offset>" per entry.
//! - `partition.metadata`: "version: 0\ntopic_id: <id>\n", the id being the 16 bytes as URL-safe
//!   base64 without padding (22 chars), as Kafka's `Uuid.toString`.
//! - `replication-offset-checkpoint` (log-dir level): the high watermarks, in the same format as
//!   the recovery points.
//! - `leader-epoch-checkpoint`: "0\n<count>\n" then "<epoch> <start offset>" per entry.
//!
//! Invariants: readers treat file content as untrusted and return `LogError::Corrupt` for
//! anything malformed; a missing file reads as empty. No locks.
//! Must not import: protocol, `kafka_protocol`, server, `tokio::net`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::LogError;
use super::segment::fsync_dir;
use crate::model::{TopicId, TopicPartition};

pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
pub const PARTITION_METADATA: &str = "partition.metadata";
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Kafka's `Uuid.toString`: URL-safe base64 without padding.
pub fn topic_id_to_string(id: &TopicId) -> String {
    let mut out = String::with_capacity(22);
    for chunk in id.0.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let six = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(B64[six as usize]));
        }
    }
    out
}

/// Parses Kafka's 22-character topic id string.
pub fn topic_id_from_string(s: &str) -> Result<TopicId, LogError> {
    let bad = || LogError::Corrupt(format!("bad topic id {s:?}"));
    if s.len() != 22 {
        return Err(bad());
    }
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(16);
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c).ok_or_else(bad)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    if bits != 0 {
        return Err(bad());
    }
    let arr: [u8; 16] = out.try_into().map_err(|_| bad())?;
    Ok(TopicId(arr))
}

/// Writes `content` to `path` atomically: tmp file, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, content: &[u8]) -> Result<(), LogError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<String>, LogError> {
    match std::fs::read(path) {
        Ok(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| LogError::Corrupt(format!("{} is not UTF-8", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn write_partition_metadata(dir: &Path, id: &TopicId) -> Result<(), LogError> {
    let content = format!("version: 0\ntopic_id: {}\n", topic_id_to_string(id));
    write_atomically(&dir.join(PARTITION_METADATA), content.as_bytes())
}

/// The topic id in `dir/partition.metadata`, or `None` when the file is absent.
pub fn read_partition_metadata(dir: &Path) -> Result<Option<TopicId>, LogError> {
    let path = dir.join(PARTITION_METADATA);
    let Some(text) = read_optional(&path)? else {
        return Ok(None);
    };
    let mut version = None;
    let mut id = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("version:") {
            version = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("topic_id:") {
            id = Some(topic_id_from_string(v.trim())?);
        }
    }
    if version.as_deref() != Some("0") {
        return Err(LogError::Corrupt(format!(
            "{}: unsupported version {version:?}",
            path.display()
        )));
    }
    id.map(Some)
        .ok_or_else(|| LogError::Corrupt(format!("{}: no topic_id", path.display())))
}

/// Writes a Kafka offset checkpoint file, entries sorted for stable output.
pub fn write_offset_checkpoint(
    path: &Path,
    entries: &HashMap<TopicPartition, i64>,
) -> Result<(), LogError> {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort();
    let mut s = format!("0\n{}\n", sorted.len());
    for (tp, off) in sorted {
        s.push_str(&format!("{} {} {}\n", tp.topic, tp.partition, off));
    }
    write_atomically(path, s.as_bytes())
}

/// The entry lines of a Kafka checkpoint file's text: checks the version line ("0") and that
/// the count line matches the number of entry lines that follow.
fn checkpoint_entries<'a>(
    text: &'a str,
    bad: &dyn Fn(&str) -> LogError,
) -> Result<Vec<&'a str>, LogError> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("0") {
        return Err(bad("unsupported version"));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| bad("bad entry count"))?;
    let entries: Vec<&str> = lines.take(count).collect();
    if entries.len() != count {
        return Err(bad("fewer entries than the count says"));
    }
    Ok(entries)
}

/// Reads a Kafka offset checkpoint file; a missing file reads as empty.
pub fn read_offset_checkpoint(path: &Path) -> Result<HashMap<TopicPartition, i64>, LogError> {
    let Some(text) = read_optional(path)? else {
        return Ok(HashMap::new());
    };
    let bad = |why: &str| LogError::Corrupt(format!("{}: {why}", path.display()));
    let entries = checkpoint_entries(&text, &bad)?;
    let mut out = HashMap::new();
    for line in &entries {
        let mut parts = line.split(' ');
        let (Some(topic), Some(part), Some(off), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("bad entry line"));
        };
        let partition: i32 = part.parse().map_err(|_| bad("bad partition"))?;
        let offset: i64 = off.parse().map_err(|_| bad("bad offset"))?;
        out.insert(TopicPartition::new(topic, partition), offset);
    }
    if out.len() != entries.len() {
        return Err(bad("the same partition twice"));
    }
    Ok(out)
}

/// Writes `leader-epoch-checkpoint` with (epoch, start offset) entries.
pub fn write_leader_epoch_checkpoint(dir: &Path, entries: &[(i32, i64)]) -> Result<(), LogError> {
    let mut s = format!("0\n{}\n", entries.len());
    for (epoch, start) in entries {
        s.push_str(&format!("{epoch} {start}\n"));
    }
    write_atomically(&dir.join(LEADER_EPOCH_CHECKPOINT), s.as_bytes())
}

/// Reads `dir/leader-epoch-checkpoint`: (epoch, start offset) entries, checked to be ascending
/// in epoch and non-decreasing in start offset, both non-negative. A missing file reads as empty.
pub fn read_leader_epoch_checkpoint(dir: &Path) -> Result<Vec<(i32, i64)>, LogError> {
    let path = dir.join(LEADER_EPOCH_CHECKPOINT);
    let Some(text) = read_optional(&path)? else {
        return Ok(Vec::new());
    };
    let bad = |why: &str| LogError::Corrupt(format!("{}: {why}", path.display()));
    let mut out: Vec<(i32, i64)> = Vec::new();
    for line in checkpoint_entries(&text, &bad)? {
        let mut parts = line.split(' ');
        let (Some(epoch), Some(start), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("bad entry line"));
        };
        let epoch: i32 = epoch.parse().map_err(|_| bad("bad epoch"))?;
        let start: i64 = start.parse().map_err(|_| bad("bad start offset"))?;
        if epoch < 0 || start < 0 {
            return Err(bad("negative epoch or start offset"));
        }
        if out.last().is_some_and(|(e, s)| epoch <= *e || start < *s) {
            return Err(bad("entries out of order"));
        }
        out.push((epoch, start));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_id_string_roundtrip_matches_kafka() {
        // Kafka: new Uuid(0L, 1L).toString() == "AAAAAAAAAAAAAAAAAAAAAQ"
        let mut b = [0u8; 16];
        b[15] = 1;
        assert_eq!(topic_id_to_string(&TopicId(b)), "AAAAAAAAAAAAAAAAAAAAAQ");
        let id = TopicId([
            0xfb, 0xff, 0x01, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0xff,
        ]);
        let s = topic_id_to_string(&id);
        assert_eq!(s.len(), 22);
        assert!(s.starts_with("-_8B"));
        assert_eq!(topic_id_from_string(&s).unwrap(), id);
        assert!(topic_id_from_string("short").is_err());
        assert!(topic_id_from_string("AAAAAAAAAAAAAAAAAAAAA!").is_err());
        assert!(topic_id_from_string("AAAAAAAAAAAAAAAAAAAAAR").is_err()); // stray low bits
    }

    #[test]
    fn partition_metadata_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let id = TopicId([7; 16]);
        assert_eq!(read_partition_metadata(dir.path()).unwrap(), None);
        write_partition_metadata(dir.path(), &id).unwrap();
        let text = std::fs::read_to_string(dir.path().join(PARTITION_METADATA)).unwrap();
        assert_eq!(
            text,
            format!("version: 0\ntopic_id: {}\n", topic_id_to_string(&id))
        );
        assert_eq!(read_partition_metadata(dir.path()).unwrap(), Some(id));
    }

    #[test]
    fn offset_checkpoint_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT);
        let mut m = HashMap::new();
        m.insert(TopicPartition::new("my-topic", 3), 42);
        m.insert(TopicPartition::new("a", 0), 7);
        write_offset_checkpoint(&path, &m).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n2\na 0 7\nmy-topic 3 42\n"
        );
        assert_eq!(read_offset_checkpoint(&path).unwrap(), m);
        std::fs::write(&path, "0\n3\na 0 7\n").unwrap();
        assert!(read_offset_checkpoint(&path).is_err());
        std::fs::write(&path, "1\n0\n").unwrap();
        assert!(read_offset_checkpoint(&path).is_err());
        assert!(
            read_offset_checkpoint(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn leader_epoch_checkpoint_roundtrip_and_untrusted_content() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_leader_epoch_checkpoint(dir.path()).unwrap().is_empty());
        write_leader_epoch_checkpoint(dir.path(), &[(0, 0), (3, 17), (4, 17)]).unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n3\n0 0\n3 17\n4 17\n"
        );
        assert_eq!(
            read_leader_epoch_checkpoint(dir.path()).unwrap(),
            vec![(0, 0), (3, 17), (4, 17)]
        );
        for bad in [
            "1\n0\n",
            "0\n2\n1 0\n",
            "0\n2\n3 10\n2 20\n",
            "0\n2\n2 10\n3 5\n",
            "0\n1\n-1 0\n",
            "0\n1\n1 x\n",
            "0\n1\n1 2 3\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(read_leader_epoch_checkpoint(dir.path()).is_err(), "{bad:?}");
        }
    }
}
